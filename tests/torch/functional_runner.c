/* functional_runner.c - runs the >>functional cases of tests/torch/test_functional.py through
   tensorlite: the forward output (and max_pool2d's indices) and the gradient of
   L = sum(out * W) with respect to every input that requires grad.

   usage: functional_runner CASES.bin RESULTS.bin [FIRST_CASE]

   Everything is little-endian, written and read by test_functional.py.

   CASES.bin  "TLFUNC01" u32 ncases, then per case:
                str op                        (u32 len + bytes)
                u32 ni, i64 ints[ni]          options (see run_op)
                u32 nd, f64 dbls[nd]
                u32 nt, tensors[nt]:
                  i32 dtype (tl_dtype value, or -1 for NULL: an absent bias/weight/pos_weight)
                  i32 ndim, i64 shape[ndim], u64 nbytes, raw C-order data of the contiguous base,
                  i32 leaf_at: -1 = no grad; k >= 0 = the view after the first k recipe steps is
                  made a leaf that requires grad (its base does not) and the later steps are
                  recorded ops on it; its .grad is reported,
                  u32 nsteps, steps: i32 kind, i32 nargs, i64 args[nargs]
                  (the view recipe: transpose, slice, expand, permute, as in ops_runner.c)
                i32 has_w; if 1: i32 ndim, i64 shape[ndim], f64 data (W, converted to the output's
                dtype; L = sum(out * W) is backpropagated when the output requires grad)
   RESULTS.bin per case (flushed after each one, so a crash loses only the crashing case):
                u32 RES_MAGIC, u32 case index, i32 status (0, a tl_status, or -100: failure without
                a pending error), str message,
                u32 nout, outputs (the result, then max_pool2d's indices when asked for):
                  i32 dtype, i32 ndim, i64 shape[], u64 nbytes, C-order data
                i32 backward status, str backward message,
                u32 nt, per input: i32 kind (0: grad not asked for, 1: asked but .grad is NULL,
                  2: tensor follows)
                i32 requires_grad of the output,
                i64 live-tensor delta, i64 live-storage delta (after everything was released),
                u32 RES_END */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#define RUNNER_NAME "functional_runner"
#include "runner_io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RES_MAGIC 0x46534C54u /* "TLSF" */
#define RS_NULL_NO_ERROR (-100)
#define RS_BAD_INPUT (-101)
#define RS_UNKNOWN_OP (-102)
#define MAX_IN 4
#define MAX_ARGS 32

typedef struct case_t {
    char op[64];
    int ni, nd, nt, has_w, w_ndim;
    int64_t ints[MAX_ARGS];
    double dbls[MAX_ARGS];
    in_t in[MAX_IN];
    int64_t w_shape[TL_MAX_DIMS];
    const unsigned char *w_data;
} case_t;

static void read_case(case_t *c) {
    int j;
    rd_case_head(c->op, sizeof c->op, c->ints, &c->ni, c->dbls, &c->nd, MAX_ARGS, c->in, &c->nt, MAX_IN, 1);
    c->has_w = rd_i32();
    if (c->has_w) {
        int64_t numel = 1;
        c->w_ndim = rd_i32();
        if (c->w_ndim < 0 || c->w_ndim > TL_MAX_DIMS) die("bad W ndim");
        for (j = 0; j < c->w_ndim; j++) {
            c->w_shape[j] = rd_i64();
            numel *= c->w_shape[j];
        }
        if (g_pos + (size_t)numel * 8 > g_len) die("truncated W");
        c->w_data = g_buf + g_pos;
        g_pos += (size_t)numel * 8;
    }
}

/* dtype, shape and the values in C order, read element by element through shape/stride/data_ptr */
static void wr_tensor(const tl_tensor *t) {
    int nd = tl_ndim(t), i;
    const int64_t *sh = tl_shape(t), *st = tl_stride(t);
    size_t esz = tl_dtype_size(tl_dtype_of(t));
    int64_t numel = tl_numel(t);
    const unsigned char *base = (const unsigned char *)tl_data_ptr(t);
    wr_i32((int32_t)tl_dtype_of(t));
    wr_i32(nd);
    for (i = 0; i < nd; i++) wr_i64(sh[i]);
    wr_u64((uint64_t)numel * esz);
    if (numel == 0) return;
    wr_strided(base, esz, nd, sh, st);
}


/* The input as the case describes it (NULL for an absent one, with *ok still 1); *leaf receives
   the tensor whose .grad is reported (NULL when none requires grad). */
static tl_tensor *build_input(const in_t *in, int *ok, tl_tensor **leaf) {
    size_t esz;
    int64_t numel = 1;
    int i, k;
    tl_tensor *cur;
    *ok = 1;
    *leaf = NULL;
    if (in->dtype < 0) return NULL;
    esz = tl_dtype_size((tl_dtype)in->dtype);
    for (i = 0; i < in->ndim; i++) numel *= in->shape[i];
    if (esz == 0 || (uint64_t)numel * esz != in->nbytes) die("input byte count does not match its shape");
    cur = tl_from_data(in->data, in->ndim, in->shape, (tl_dtype)in->dtype);
    for (k = 0; cur && k <= in->nsteps; k++) {
        if (k == in->leaf_at) {
            if (tl_requires_grad_(cur, 1) != TL_OK) {
                cur = NULL;
                break;
            }
            *leaf = cur;
        }
        if (k == in->nsteps) break;
        cur = apply_step(cur, &in->steps[k]); /* owned by the case's scope */
    }
    if (!cur) *ok = 0;
    return cur;
}

#define T(k) (ins[k])
#define I(k) ((int)c->ints[k])

#ifdef FUNCTIONAL_RUNNER_EXTRA
/* A runner that includes this file (tests/torch/newops_runner.c) defines extra_op: the ops it
   knows, *unknown = 1 for the rest (which then fall through to the ones below). */
static tl_tensor *extra_op(const case_t *c, tl_tensor **ins, tl_tensor **idx, int *unknown);
#endif

/* The op; *idx receives max_pool2d's indices when the case asks for them. Inside the caller's scope. */
static tl_tensor *run_op(const case_t *c, tl_tensor **ins, tl_tensor **idx, int *unknown) {
    const char *op = c->op;
    *idx = NULL;
    *unknown = 0;
#ifdef FUNCTIONAL_RUNNER_EXTRA
    {
        tl_tensor *r = extra_op(c, ins, idx, unknown);
        if (!*unknown) return r;
        *unknown = 0;
    }
#endif
    if (strcmp(op, "linear") == 0) return tl_linear(T(0), T(1), T(2));
    if (strcmp(op, "conv2d") == 0) {
        /* ints: stride h w, padding h w, dilation h w, groups, padding_same, null_opts */
        tl_conv2d_opts o;
        memset(&o, 0, sizeof o);
        o.stride[0] = I(0); o.stride[1] = I(1);
        o.padding[0] = I(2); o.padding[1] = I(3);
        o.dilation[0] = I(4); o.dilation[1] = I(5);
        o.groups = I(6);
        o.padding_same = I(7);
        return tl_conv2d(T(0), T(1), T(2), I(8) ? NULL : &o);
    }
    if (strcmp(op, "max_pool2d") == 0 || strcmp(op, "avg_pool2d") == 0) {
        /* ints: kernel h w, stride h w, padding h w, dilation h w, ceil_mode, count_include_pad,
           use tl_pool2d_opts_default(kh, kw) only, want indices */
        tl_pool2d_opts o = tl_pool2d_opts_default(I(0), I(1));
        if (!I(10)) {
            o.stride[0] = I(2); o.stride[1] = I(3);
            o.padding[0] = I(4); o.padding[1] = I(5);
            o.dilation[0] = I(6); o.dilation[1] = I(7);
            o.ceil_mode = I(8);
            o.count_include_pad = I(9);
        }
        if (op[0] == 'a') return tl_avg_pool2d(T(0), &o);
        return tl_max_pool2d(T(0), &o, I(11) ? idx : NULL);
    }
    /* losses: ints[0] = reduction */
    if (strcmp(op, "nll_loss") == 0) return tl_nll_loss(T(0), T(1), T(2), c->ints[1], (tl_reduction)I(0));
    if (strcmp(op, "cross_entropy") == 0) return tl_cross_entropy(T(0), T(1), T(2), c->ints[1], (tl_reduction)I(0));
    if (strcmp(op, "cross_entropy_ex") == 0) {
        tl_ce_opts o = tl_ce_opts_default();
        o.weight = T(2);
        o.ignore_index = c->ints[1];
        o.reduction = (tl_reduction)I(0);
        o.label_smoothing = c->dbls[0];
        return tl_cross_entropy_ex(T(0), T(1), &o);
    }
    if (strcmp(op, "mse_loss") == 0) return tl_mse_loss(T(0), T(1), (tl_reduction)I(0));
    if (strcmp(op, "l1_loss") == 0) return tl_l1_loss(T(0), T(1), (tl_reduction)I(0));
    if (strcmp(op, "smooth_l1_loss") == 0) return tl_smooth_l1_loss(T(0), T(1), c->dbls[0], (tl_reduction)I(0));
    if (strcmp(op, "bce_loss") == 0) return tl_bce_loss(T(0), T(1), (tl_reduction)I(0));
    if (strcmp(op, "bce_with_logits") == 0) return tl_bce_with_logits(T(0), T(1), T(2), (tl_reduction)I(0));
    *unknown = 1;
    return NULL;
}

int main(int argc, char **argv) {

    long first = 0;
    uint32_t ncases, ci;
    static case_t cs;
    if (argc < 3) {
        fprintf(stderr, "usage: %s CASES.bin RESULTS.bin [FIRST_CASE]\n", argv[0]);
        return 2;
    }
    if (argc > 3) first = strtol(argv[3], NULL, 10);
    runner_open(argv[1], "TLFUNC01", argv[2], first > 0);
    ncases = rd_u32();

    for (ci = 0; ci < ncases; ci++) {
        tl_tensor *ins[MAX_IN], *leaves[MAX_IN], *out = NULL, *idx = NULL;
        long t0, s0;
        int i, status = 0, bstatus = 0, unknown = 0, out_rg = 0;
        char msg[512], bmsg[512];
        tl_scope sc;
        read_case(&cs);
        if ((long)ci < first) continue;
        tl_clear_error();
        msg[0] = bmsg[0] = 0;
        t0 = tl_debug_live_tensors();
        s0 = tl_debug_live_storages();
        sc = tl_scope_begin();
        for (i = 0; i < cs.nt; i++) {
            int ok;
            ins[i] = build_input(&cs.in[i], &ok, &leaves[i]);
            if (!ok) {
                status = RS_BAD_INPUT;
                snprintf(msg, sizeof msg, "building input %d failed: %.400s", i, tl_last_error());
                break;
            }
        }
        for (; i < MAX_IN; i++) ins[i] = leaves[i] = NULL;
        if (status == 0) {
            tl_clear_error();
            out = run_op(&cs, ins, &idx, &unknown);
            if (unknown) {
                status = RS_UNKNOWN_OP;
                snprintf(msg, sizeof msg, "unknown op '%.60s'", cs.op);
            } else if (!out) {
                status = tl_last_status() != TL_OK ? (int)tl_last_status() : RS_NULL_NO_ERROR;
                snprintf(msg, sizeof msg, "%.500s", status == RS_NULL_NO_ERROR ? "NULL without a pending error"
                                                                                : tl_last_error());
            } else if (tl_last_status() != TL_OK) {
                status = tl_last_status();
                snprintf(msg, sizeof msg, "succeeded but left an error pending: %.440s", tl_last_error());
            }
        }
        wr_u32(RES_MAGIC);
        wr_u32(ci);
        wr_i32(status);
        wr_str(msg);
        if (status == 0) {
            wr_u32(idx ? 2u : 1u);
            wr_tensor(out);
            if (idx) wr_tensor(idx);
            out_rg = tl_requires_grad(out);
            if (cs.has_w && out_rg) {
                tl_tensor *w = tl_from_data(cs.w_data, cs.w_ndim, cs.w_shape, TL_F64);
                tl_tensor *L = tl_sum_all(tl_mul(out, tl_to_dtype(w, tl_dtype_of(out))));
                if (!L) {
                    bstatus = tl_last_status() ? (int)tl_last_status() : RS_NULL_NO_ERROR;
                    snprintf(bmsg, sizeof bmsg, "L = sum(out * W) failed: %.400s", tl_last_error());
                } else if ((bstatus = tl_backward(L)) != TL_OK) {
                    snprintf(bmsg, sizeof bmsg, "%.500s", tl_last_error());
                }
            }
        } else {
            wr_u32(0);
        }
        wr_i32(bstatus);
        wr_str(bmsg);
        wr_u32((uint32_t)cs.nt);
        for (i = 0; i < cs.nt; i++) {
            if (status != 0 || bstatus != 0 || !leaves[i] || !cs.has_w || !out_rg) {
                wr_i32(0);
            } else {
                tl_tensor *g = tl_grad(leaves[i]);
                if (!g) wr_i32(1);
                else {
                    wr_i32(2);
                    wr_tensor(g);
                }
            }
        }
        wr_i32(out_rg);
        tl_scope_end(sc);
        wr_case_end(t0, s0);
    }
    return runner_close();
}
