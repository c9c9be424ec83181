/* grad_runner.c - runs the autograd programs written by tests/torch/test_autograd.py through
   tensorlite and writes the loss and every leaf's gradient back for comparison with PyTorch.

   usage: grad_runner PROGRAMS.txt RESULTS.txt [FIRST_PROGRAM]

   PROGRAMS.txt is whitespace-separated text, one item per line:
     P id mode                       starts program `id` (mode: see run_program)
     L rg ndim shape... values...    a float32 leaf (next register); rg: requires grad
     I op flags nr regs... ni ints... nd doubles...
                                     an instruction; out-of-place ops append a register, in-place
                                     ops (names ending in '_') modify register regs[0]. flags bit 0:
                                     run the instruction under tl_no_grad_begin/end.
     O n reg...                      the output registers out_0 .. out_n-1
     W ndim shape... values...       n of them, float32 weights: loss = sum_k sum(out_k * W_k)
     V ndim shape... values...       n of them (mode 1): loss2 = sum_k sum(out_k * V_k)
     A n leaf...                     the leaves passed to tl_autograd_grad (modes 2 and 4)
     E                               ends the program: the runner executes it and writes its result
   Floats are written so that strtod gives the exact float32/double value.

   RESULTS.txt, per program (flushed after each one, so a crash loses only the crashing program):
     G leaf none | G leaf dtype ndim shape... values...      .grad of every leaf after the run
     Q k none | Q k dtype ndim shape... values...           tl_autograd_grad results (modes 2, 4)
     R id status where live_delta storage_delta loss
         status 0 = ok; else the failing tl_status (or -100: NULL/failure without an error);
         where = index of the failing item (L/I line), -1 for the loss/backward/autograd_grad,
         -3 when every call succeeded but an error was left pending, -2 otherwise
     M message                       only when status != 0
     Z                               end of the program's result
*/
#define TL_IMPLEMENTATION
#include "tensorlite.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REG 256
#define MAX_INSTR 256
#define MAX_LEAF 64
#define MAX_ARGS 512
#define MAX_RARGS 8
#define MAX_OUT 4
#define RS_NULL_NO_ERROR (-100)

typedef struct instr_t {
    char op[32];
    int flags, nr, ni, nd;
    int r[MAX_RARGS];
    int64_t iv[MAX_ARGS];
    double dv[8];
} instr_t;

typedef struct arr_t {
    int ndim;
    int64_t shape[TL_MAX_DIMS];
    int64_t n;
    float *v;
} arr_t;

typedef struct item_t {
    int is_leaf; /* 1: leaf (index into leaves), 0: instruction */
    int idx;
} item_t;

typedef struct prog_t {
    int id, mode, nitems, nleaves, ninstr, nout, nw, nv, nA;
    item_t items[MAX_INSTR + MAX_LEAF];
    arr_t leaf[MAX_LEAF];
    int leaf_rg[MAX_LEAF];
    instr_t ins[MAX_INSTR];
    int out[MAX_OUT];
    arr_t w[MAX_OUT], v[MAX_OUT];
    int A[MAX_LEAF];
} prog_t;

static prog_t g_p;
static FILE *g_in, *g_res;

static void die(const char *msg) {
    fprintf(stderr, "grad_runner: %s\n", msg);
    exit(2);
}

/* ---------------------------------------------------------------- reading */

static int rd_tok(char *buf, size_t cap) {
    int c, n = 0;
    do {
        c = fgetc(g_in);
    } while (c == ' ' || c == '\n' || c == '\t' || c == '\r');
    if (c == EOF) return 0;
    while (c != EOF && c != ' ' && c != '\n' && c != '\t' && c != '\r') {
        if ((size_t)n + 1 >= cap) die("token too long");
        buf[n++] = (char)c;
        c = fgetc(g_in);
    }
    buf[n] = 0;
    return 1;
}
static long long rd_ll(void) {
    char b[64], *e;
    long long v;
    if (!rd_tok(b, sizeof b)) die("unexpected end of file");
    v = strtoll(b, &e, 10);
    if (*e) die("bad integer");
    return v;
}
static double rd_d(void) {
    char b[64], *e;
    double v;
    if (!rd_tok(b, sizeof b)) die("unexpected end of file");
    v = strtod(b, &e);
    if (*e) die("bad number");
    return v;
}
static void rd_arr(arr_t *a) {
    int i;
    a->ndim = (int)rd_ll();
    if (a->ndim < 0 || a->ndim > TL_MAX_DIMS) die("bad ndim");
    a->n = 1;
    for (i = 0; i < a->ndim; i++) {
        a->shape[i] = rd_ll();
        a->n *= a->shape[i];
    }
    a->v = (float *)malloc(sizeof(float) * (size_t)(a->n > 0 ? a->n : 1));
    if (!a->v) die("out of memory");
    for (i = 0; i < a->n; i++) a->v[i] = (float)rd_d();
}

static void free_prog(prog_t *p) {
    int i;
    for (i = 0; i < p->nleaves; i++) free(p->leaf[i].v);
    for (i = 0; i < p->nw; i++) free(p->w[i].v);
    for (i = 0; i < p->nv; i++) free(p->v[i].v);
}

/* Reads the next program; returns 0 at end of file. */
static int read_prog(prog_t *p) {
    char tok[64];
    int i;
    memset(p, 0, sizeof *p);
    if (!rd_tok(tok, sizeof tok)) return 0;
    if (strcmp(tok, "P") != 0) die("expected P");
    p->id = (int)rd_ll();
    p->mode = (int)rd_ll();
    for (;;) {
        if (!rd_tok(tok, sizeof tok)) die("program not terminated");
        if (!strcmp(tok, "E")) break;
        if (!strcmp(tok, "L")) {
            if (p->nleaves >= MAX_LEAF || p->nitems >= MAX_INSTR + MAX_LEAF) die("too many leaves");
            p->leaf_rg[p->nleaves] = (int)rd_ll();
            rd_arr(&p->leaf[p->nleaves]);
            p->items[p->nitems].is_leaf = 1;
            p->items[p->nitems++].idx = p->nleaves++;
        } else if (!strcmp(tok, "I")) {
            instr_t *in;
            if (p->ninstr >= MAX_INSTR || p->nitems >= MAX_INSTR + MAX_LEAF) die("too many instructions");
            in = &p->ins[p->ninstr];
            if (!rd_tok(in->op, sizeof in->op)) die("missing op");
            in->flags = (int)rd_ll();
            in->nr = (int)rd_ll();
            if (in->nr < 0 || in->nr > MAX_RARGS) die("bad nr");
            for (i = 0; i < in->nr; i++) in->r[i] = (int)rd_ll();
            in->ni = (int)rd_ll();
            if (in->ni < 0 || in->ni > MAX_ARGS) die("bad ni");
            for (i = 0; i < in->ni; i++) in->iv[i] = rd_ll();
            in->nd = (int)rd_ll();
            if (in->nd < 0 || in->nd > 8) die("bad nd");
            for (i = 0; i < in->nd; i++) in->dv[i] = rd_d();
            p->items[p->nitems].is_leaf = 0;
            p->items[p->nitems++].idx = p->ninstr++;
        } else if (!strcmp(tok, "O")) {
            p->nout = (int)rd_ll();
            if (p->nout < 1 || p->nout > MAX_OUT) die("bad O");
            for (i = 0; i < p->nout; i++) p->out[i] = (int)rd_ll();
        } else if (!strcmp(tok, "W")) {
            if (p->nw >= MAX_OUT) die("too many W");
            rd_arr(&p->w[p->nw++]);
        } else if (!strcmp(tok, "V")) {
            if (p->nv >= MAX_OUT) die("too many V");
            rd_arr(&p->v[p->nv++]);
        } else if (!strcmp(tok, "A")) {
            p->nA = (int)rd_ll();
            if (p->nA < 0 || p->nA > MAX_LEAF) die("bad A");
            for (i = 0; i < p->nA; i++) p->A[i] = (int)rd_ll();
        } else {
            die("unknown line kind");
        }
    }
    if (p->nout < 1 || p->nw != p->nout || (p->mode == 1 && p->nv != p->nout)) die("outputs and weights do not match");
    return 1;
}

/* ---------------------------------------------------------------- executing */

static tl_tensor *R[MAX_REG];
static int g_nreg;

static tl_tensor *from_arr(const arr_t *a) { return tl_from_data(a->v, a->ndim, a->shape, TL_F32); }

/* Executes one instruction. Returns TL_OK or a failure status. */
static int exec_instr(const instr_t *in) {
    const char *op = in->op;
    tl_tensor *a, *b, *res = NULL;
    const int64_t *I = in->iv;
    const double *D = in->dv;
    int st = TL_OK, i, inplace;
    int dims[TL_MAX_DIMS];
    size_t len = strlen(op);
    for (i = 0; i < in->nr; i++)
        if (in->r[i] < 0 || in->r[i] >= g_nreg) die("register out of range");
    a = in->nr > 0 ? R[in->r[0]] : NULL;
    b = in->nr > 1 ? R[in->r[1]] : NULL;
    inplace = len > 1 && op[len - 1] == '_';
    if (in->flags & 1) tl_no_grad_begin();

#define IS(name) (!strcmp(op, name))
    /* ---- elementwise ---- */
    if (IS("add")) res = tl_add(a, b);
    else if (IS("sub")) res = tl_sub(a, b);
    else if (IS("mul")) res = tl_mul(a, b);
    else if (IS("div")) res = tl_div(a, b);
    else if (IS("pow")) res = tl_pow(a, b);
    else if (IS("maximum")) res = tl_maximum(a, b);
    else if (IS("minimum")) res = tl_minimum(a, b);
    else if (IS("add_alpha")) res = tl_add_alpha(a, b, D[0]);
    else if (IS("sub_alpha")) res = tl_sub_alpha(a, b, D[0]);
    else if (IS("add_scalar")) res = tl_add_scalar(a, D[0]);
    else if (IS("sub_scalar")) res = tl_sub_scalar(a, D[0]);
    else if (IS("rsub_scalar")) res = tl_rsub_scalar(a, D[0]);
    else if (IS("mul_scalar")) res = tl_mul_scalar(a, D[0]);
    else if (IS("div_scalar")) res = tl_div_scalar(a, D[0]);
    else if (IS("pow_scalar")) res = tl_pow_scalar(a, D[0]);
    else if (IS("neg")) res = tl_neg(a);
    else if (IS("abs")) res = tl_abs(a);
    else if (IS("sign")) res = tl_sign(a);
    else if (IS("exp")) res = tl_exp(a);
    else if (IS("log")) res = tl_log(a);
    else if (IS("log1p")) res = tl_log1p(a);
    else if (IS("sqrt")) res = tl_sqrt(a);
    else if (IS("rsqrt")) res = tl_rsqrt(a);
    else if (IS("sin")) res = tl_sin(a);
    else if (IS("cos")) res = tl_cos(a);
    else if (IS("tanh")) res = tl_tanh(a);
    else if (IS("sigmoid")) res = tl_sigmoid(a);
    else if (IS("relu")) res = tl_relu(a);
    else if (IS("silu")) res = tl_silu(a);
    else if (IS("leaky_relu")) res = tl_leaky_relu(a, D[0]);
    else if (IS("gelu")) res = tl_gelu(a, (int)I[0]);
    else if (IS("softplus")) res = tl_softplus(a, D[0], D[1]);
    else if (IS("clamp")) res = tl_clamp(a, D[0], D[1]);
    /* ---- views and copies ---- */
    else if (IS("transpose")) res = tl_transpose(a, (int)I[0], (int)I[1]);
    else if (IS("t")) res = tl_t(a);
    else if (IS("permute")) {
        for (i = 0; i < in->ni; i++) dims[i] = (int)I[i];
        res = tl_permute(a, in->ni, dims);
    } else if (IS("narrow")) res = tl_narrow(a, (int)I[0], I[1], I[2]);
    else if (IS("select")) res = tl_select(a, (int)I[0], I[1]);
    else if (IS("slice")) res = tl_slice(a, (int)I[0], I[1], I[2], I[3]);
    else if (IS("expand")) res = tl_expand(a, in->ni, I);
    else if (IS("expand_as")) res = tl_expand_as(a, b);
    else if (IS("squeeze")) res = tl_squeeze(a);
    else if (IS("squeeze_dim")) res = tl_squeeze_dim(a, (int)I[0]);
    else if (IS("unsqueeze")) res = tl_unsqueeze(a, (int)I[0]);
    else if (IS("flatten")) res = tl_flatten(a, (int)I[0], (int)I[1]);
    else if (IS("unflatten")) res = tl_unflatten(a, (int)I[0], in->ni - 1, I + 1);
    else if (IS("view")) res = tl_view(a, in->ni, I);
    else if (IS("reshape")) res = tl_reshape(a, in->ni, I);
    else if (IS("contiguous")) res = tl_contiguous(a);
    else if (IS("clone")) res = tl_clone(a);
    else if (IS("detach")) res = tl_detach(a);
    else if (IS("to")) res = tl_to_dtype(a, (tl_dtype)I[0]);
    else if (IS("split") || IS("chunk")) {
        tl_tensor *parts[64];
        int n = IS("split") ? tl_split(a, I[0], (int)I[1], parts, 64) : tl_chunk(a, (int)I[0], (int)I[1], parts, 64);
        if (n > 0 && I[2] < n) res = parts[I[2]];
        else if (n > 0) st = RS_NULL_NO_ERROR; /* fewer pieces than torch */
        else st = n;
        /* the other pieces belong to the scope */
    } else if (IS("cat") || IS("stack")) {
        tl_tensor *ts[MAX_RARGS];
        for (i = 0; i < in->nr; i++) ts[i] = R[in->r[i]];
        res = IS("cat") ? tl_cat(in->nr, ts, (int)I[0]) : tl_stack(in->nr, ts, (int)I[0]);
    } else if (IS("index_select")) {
        int64_t n = I[1];
        tl_tensor *idx = tl_from_data(I + 2, TL_SHAPE(n), TL_I64);
        res = tl_index_select(a, (int)I[0], idx);
    } else if (IS("gather")) {
        int nd = (int)I[1];
        tl_tensor *idx = tl_from_data(I + 2 + nd, nd, I + 2, TL_I64);
        res = tl_gather(a, (int)I[0], idx);
    } else if (IS("where_gt")) {
        res = tl_where(tl_gt(a, b), R[in->r[2]], R[in->r[3]]);
    } else if (IS("masked_fill_gt")) {
        res = tl_masked_fill(a, tl_gt_scalar(b, D[0]), D[1]);
    }
    /* ---- reductions ---- */
    else if (IS("sum")) res = tl_sum(a, (int)I[0], (int)I[1]);
    else if (IS("sum_dims") || IS("mean_dims")) {
        for (i = 1; i < in->ni; i++) dims[i - 1] = (int)I[i];
        res = IS("sum_dims") ? tl_sum_dims(a, in->ni - 1, dims, (int)I[0])
                             : tl_mean_dims(a, in->ni - 1, dims, (int)I[0]);
    } else if (IS("sum_all")) res = tl_sum_all(a);
    else if (IS("mean")) res = tl_mean(a, (int)I[0], (int)I[1]);
    else if (IS("mean_all")) res = tl_mean_all(a);
    else if (IS("var")) res = tl_var(a, (int)I[0], (int)I[1], (int)I[2]);
    else if (IS("var_all")) res = tl_var_all(a, (int)I[0]);
    else if (IS("std")) res = tl_std(a, (int)I[0], (int)I[1], (int)I[2]);
    else if (IS("std_all")) res = tl_std_all(a, (int)I[0]);
    else if (IS("prod")) res = tl_prod(a, (int)I[0], (int)I[1]);
    else if (IS("prod_all")) res = tl_prod_all(a);
    else if (IS("max")) res = tl_max(a, (int)I[0], (int)I[1], NULL);
    else if (IS("min")) res = tl_min(a, (int)I[0], (int)I[1], NULL);
    else if (IS("max_all")) res = tl_max_all(a);
    else if (IS("min_all")) res = tl_min_all(a);
    else if (IS("norm")) res = tl_norm(a, D[0], (int)I[0], (int)I[1]);
    else if (IS("norm_dims")) {
        for (i = 1; i < in->ni; i++) dims[i - 1] = (int)I[i];
        res = tl_norm_dims(a, D[0], in->ni - 1, dims, (int)I[0]);
    } else if (IS("norm_all")) res = tl_norm_all(a, D[0]);
    else if (IS("logsumexp")) res = tl_logsumexp(a, (int)I[0], (int)I[1]);
    else if (IS("softmax")) res = tl_softmax(a, (int)I[0]);
    else if (IS("log_softmax")) res = tl_log_softmax(a, (int)I[0]);
    else if (IS("cumsum")) res = tl_cumsum(a, (int)I[0]);
    /* ---- linalg ---- */
    else if (IS("matmul")) res = tl_matmul(a, b);
    else if (IS("mm")) res = tl_mm(a, b);
    else if (IS("mv")) res = tl_mv(a, b);
    else if (IS("bmm")) res = tl_bmm(a, b);
    else if (IS("dot")) res = tl_dot(a, b);
    else if (IS("outer")) res = tl_outer(a, b);
    /* ---- in place (modify register r[0]) ---- */
    else if (IS("add_")) st = tl_add_(a, b);
    else if (IS("sub_")) st = tl_sub_(a, b);
    else if (IS("mul_")) st = tl_mul_(a, b);
    else if (IS("div_")) st = tl_div_(a, b);
    else if (IS("add_alpha_")) st = tl_add_alpha_(a, b, D[0]);
    else if (IS("add_scalar_")) st = tl_add_scalar_(a, D[0]);
    else if (IS("sub_scalar_")) st = tl_sub_scalar_(a, D[0]);
    else if (IS("mul_scalar_")) st = tl_mul_scalar_(a, D[0]);
    else if (IS("div_scalar_")) st = tl_div_scalar_(a, D[0]);
    else if (IS("pow_scalar_")) st = tl_pow_scalar_(a, D[0]);
    else if (IS("neg_")) st = tl_neg_(a);
    else if (IS("abs_")) st = tl_abs_(a);
    else if (IS("exp_")) st = tl_exp_(a);
    else if (IS("log_")) st = tl_log_(a);
    else if (IS("sqrt_")) st = tl_sqrt_(a);
    else if (IS("tanh_")) st = tl_tanh_(a);
    else if (IS("sigmoid_")) st = tl_sigmoid_(a);
    else if (IS("relu_")) st = tl_relu_(a);
    else if (IS("clamp_")) st = tl_clamp_(a, D[0], D[1]);
    else if (IS("fill_")) st = tl_fill_(a, D[0]);
    else if (IS("zero_")) st = tl_zero_(a);
    else if (IS("copy_")) st = tl_copy_(a, b);
    else if (IS("masked_fill_gt_")) {
        tl_tensor *m = tl_gt_scalar(b, D[0]);
        st = m ? tl_masked_fill_(a, m, D[1]) : tl_last_status();
    } else {
        fprintf(stderr, "grad_runner: unknown op '%s'\n", op);
        exit(2);
    }
#undef IS

    if (in->flags & 1) tl_no_grad_end();
    if (inplace) {
        if (st == TL_OK) return TL_OK;
    } else if (res) {
        if (g_nreg >= MAX_REG) die("too many registers");
        R[g_nreg++] = res;
        return TL_OK;
    } else if (st == TL_OK) {
        st = tl_last_status();
    }
    if (st == TL_OK) st = RS_NULL_NO_ERROR;
    return st;
}

/* ---------------------------------------------------------------- writing */

static void put_tensor(const char *tag, int k, const tl_tensor *g) {
    int64_t n, i;
    int d;
    double *buf;
    if (!g) {
        fprintf(g_res, "%s %d none\n", tag, k);
        return;
    }
    n = tl_numel(g);
    fprintf(g_res, "%s %d %d %d", tag, k, (int)tl_dtype_of(g), tl_ndim(g));
    for (d = 0; d < tl_ndim(g); d++) fprintf(g_res, " %lld", (long long)tl_shape(g)[d]);
    buf = (double *)malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    if (!buf) die("out of memory");
    if (tl_copy_to_buffer(g, buf, TL_F64) != TL_OK) {
        for (i = 0; i < n; i++) buf[i] = NAN;
        tl_clear_error();
    }
    for (i = 0; i < n; i++) fprintf(g_res, " %.17g", buf[i]);
    fprintf(g_res, "\n");
    free(buf);
}

/* loss = sum_k sum(out_k * w_k) */
static tl_tensor *weighted_loss(int n, tl_tensor *const *outs, const arr_t *w) {
    tl_tensor *loss = tl_sum_all(tl_mul(outs[0], from_arr(&w[0])));
    int k;
    for (k = 1; k < n; k++) loss = tl_add(loss, tl_sum_all(tl_mul(outs[k], from_arr(&w[k]))));
    return loss;
}

/* Runs program p. Modes:
     0  loss.backward()
     1  loss.backward(retain_graph) then loss2 = sum_k sum(out_k * V_k); loss2.backward() (accumulates)
     2  tl_autograd_grad(loss, leaves A) - no .grad may change
     3  out_0.backward(W_0)
     4  tl_autograd_grad(outs, leaves A, grad_outputs = W) */
static void run_program(const prog_t *p) {
    long live0 = tl_debug_live_tensors(), stor0 = tl_debug_live_storages();
    tl_tensor *leaves[MAX_LEAF], *grads_q[MAX_LEAF];
    int status = TL_OK, where = -2, i, nq = 0;
    double lossv = NAN;
    char msg[1024];
    tl_scope s;
    msg[0] = 0;
    tl_clear_error();
    s = tl_scope_begin();
    g_nreg = 0;
    for (i = 0; i < p->nitems && status == TL_OK; i++) {
        const item_t *it = &p->items[i];
        if (it->is_leaf) {
            tl_tensor *t = from_arr(&p->leaf[it->idx]);
            if (!t) {
                status = tl_last_status();
                where = i;
                break;
            }
            if (p->leaf_rg[it->idx]) tl_requires_grad_(t, 1);
            leaves[it->idx] = t;
            if (g_nreg >= MAX_REG) die("too many registers");
            R[g_nreg++] = t;
        } else {
            status = exec_instr(&p->ins[it->idx]);
            if (status != TL_OK) where = i;
        }
    }
    if (status == TL_OK) {
        tl_tensor *outs[MAX_OUT], *loss, *ws[MAX_OUT];
        for (i = 0; i < p->nout; i++) {
            if (p->out[i] < 0 || p->out[i] >= g_nreg) die("bad output register");
            outs[i] = R[p->out[i]];
        }
        loss = weighted_loss(p->nout, outs, p->w);
        where = -1;
        if (!loss) status = tl_last_status() != TL_OK ? tl_last_status() : RS_NULL_NO_ERROR;
        else lossv = tl_item(loss);
        if (status == TL_OK) {
            switch (p->mode) {
            case 0: status = tl_backward(loss); break;
            case 1:
                status = tl_backward_ex(loss, NULL, 1);
                if (status == TL_OK) {
                    tl_tensor *loss2 = weighted_loss(p->nout, outs, p->v);
                    status = loss2 ? tl_backward(loss2) : tl_last_status();
                }
                break;
            case 3:
                ws[0] = from_arr(&p->w[0]);
                status = ws[0] ? tl_backward_ex(outs[0], ws[0], 0) : tl_last_status();
                break;
            case 2:
            case 4: {
                tl_tensor *ins[MAX_LEAF];
                for (i = 0; i < p->nA; i++) ins[i] = leaves[p->A[i]];
                if (p->mode == 2) {
                    status = tl_autograd_grad(1, &loss, p->nA, ins, NULL, 0, grads_q);
                } else {
                    for (i = 0; i < p->nout; i++) ws[i] = from_arr(&p->w[i]);
                    status = tl_last_status() == TL_OK ? tl_autograd_grad(p->nout, outs, p->nA, ins, ws, 0, grads_q)
                                                       : tl_last_status();
                }
                if (status == TL_OK) nq = p->nA;
                break;
            }
            default: die("bad mode");
            }
            if (status == TL_OK) where = -2;
        }
        if (status == TL_OK && tl_last_status() != TL_OK) { /* a success that left an error behind */
            status = tl_last_status();
            where = -3;
        }
    }
    if (status != TL_OK) {
        snprintf(msg, sizeof msg, "%s", tl_last_error());
        for (i = 0; msg[i]; i++)
            if (msg[i] == '\n') msg[i] = ' ';
    }
    /* gradients, read before the scope ends (the R line follows them: it needs the live counts
       measured after tl_scope_end) */
    for (i = 0; i < p->nleaves; i++) put_tensor("G", i, status == TL_OK ? tl_grad(leaves[i]) : NULL);
    for (i = 0; i < nq; i++) put_tensor("Q", i, grads_q[i]);
    tl_scope_end(s);
    tl_clear_error();
    fprintf(g_res, "R %d %d %d %ld %ld %.17g\n", p->id, status, where, tl_debug_live_tensors() - live0,
            tl_debug_live_storages() - stor0, lossv);
    if (status != TL_OK) fprintf(g_res, "M %s\n", msg);
    fprintf(g_res, "Z\n");
    fflush(g_res);
}

int main(int argc, char **argv) {
    int first = 0;
    if (argc < 3) {
        fprintf(stderr, "usage: grad_runner PROGRAMS.txt RESULTS.txt [FIRST_PROGRAM]\n");
        return 2;
    }
    if (argc > 3) first = atoi(argv[3]);
    g_in = fopen(argv[1], "r");
    if (!g_in) die("cannot open the program file");
    g_res = fopen(argv[2], first > 0 ? "a" : "w");
    if (!g_res) die("cannot open the result file");
    while (read_prog(&g_p)) {
        if (g_p.id >= first) run_program(&g_p);
        free_prog(&g_p);
    }
    fclose(g_in);
    fclose(g_res);
    return 0;
}
