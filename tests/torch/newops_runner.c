/* newops_runner.c - runs the cases of tests/torch/test_newops.py (the ops of issue 13) through
   tensorlite. The case and result files, the input recipes (views, grad leaves) and the backward
   of L = sum(out * W) are functional_runner.c's, included here; this file only maps op names to
   calls. A second output (sort/topk indices) goes to *idx; allclose/equal report their int result
   as a 0-dim int64 tensor.

   usage: newops_runner CASES.bin RESULTS.bin [FIRST_CASE] */
#define FUNCTIONAL_RUNNER_EXTRA
#include "functional_runner.c"

#define D(k) (c->dbls[k])
#define IS(op_) (strcmp(c->op, op_) == 0)

/* ---- the layers of issue 13 (Conv1d, ConvTranspose2d, GroupNorm, Upsample): "modp:KIND" gives
   the float32 bits of their state_dict values in order as int32 (compared exactly), "modm:KIND" the
   bytes "key,key,...|repr" as uint8, "modf:KIND" the forward on input 0. ints[0] is the seed given
   to tl_manual_seed before construction; the rest configure the layer (see layer_new). */
static tl_module *layer_new(const char *kind, const case_t *c) {
    int64_t a[MAX_ARGS];
    int k;
    for (k = 0; k < MAX_ARGS; k++) a[k] = k < c->ni ? c->ints[k] : 0;
    tl_manual_seed((uint64_t)a[0]);
    if (strcmp(kind, "conv1d") == 0) { /* in, out, k, stride, padding, dilation, groups, bias, padding_same */
        tl_conv1d_opts o;
        o.stride = (int)a[4];
        o.padding = (int)a[5];
        o.dilation = (int)a[6];
        o.groups = (int)a[7];
        o.padding_same = (int)a[9];
        return tl_nn_conv1d(a[1], a[2], (int)a[3], &o, (int)a[8]);
    }
    if (strcmp(kind, "conv_transpose2d") == 0) { /* in, out, kh, kw, sh, sw, ph, pw, oph, opw, dh, dw, groups, bias */
        tl_conv_transpose2d_opts o;
        for (k = 0; k < 2; k++) {
            o.stride[k] = (int)a[5 + k];
            o.padding[k] = (int)a[7 + k];
            o.output_padding[k] = (int)a[9 + k];
            o.dilation[k] = (int)a[11 + k];
        }
        o.groups = (int)a[13];
        return tl_nn_conv_transpose2d(a[1], a[2], (int)a[3], (int)a[4], &o, (int)a[14]);
    }
    if (strcmp(kind, "group_norm") == 0) return tl_nn_group_norm(a[1], a[2], c->dbls[0], (int)a[3]); /* G, C, affine */
    if (strcmp(kind, "upsample") == 0) /* out_h, out_w (0: scale_factor dbls[0]), mode, align_corners */
        return tl_nn_upsample(a[1], a[2], c->dbls[0], (tl_interp_mode)a[3], (int)a[4]);
    return NULL;
}
static tl_tensor *layer_op(const case_t *c, tl_tensor **ins) {
    const char *kind = strchr(c->op, ':') + 1;
    tl_module *m = layer_new(kind, c);
    tl_tensor *r = NULL;
    if (!m) return NULL;
    if (c->op[3] == 'f') {
        r = tl_module_forward(m, ins[0]);
    } else {
        tl_value *sd = tl_module_state_dict(m);
        size_t i, n = sd ? tl_value_len(sd) : 0;
        if (c->op[3] == 'm') { /* "weight,bias|Conv1d(...)" */
            static char buf[4096];
            size_t len = 0;
            int64_t sh;
            for (i = 0; i < n; i++)
                len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? "," : "",
                                        tl_value_as_string(tl_value_key(sd, i), NULL));
            buf[len++] = '|';
            len += (size_t)tl_module_to_string(m, buf + len, sizeof buf - len);
            sh = (int64_t)len;
            if (sd && len < sizeof buf) r = tl_from_data(buf, 1, &sh, TL_U8);
        } else { /* every value's float32 bits, in state_dict order */
            static int32_t bits[1 << 16];
            int64_t len = 0, j;
            for (i = 0; i < n; i++) {
                tl_tensor *t = tl_contiguous(tl_value_tensor_of(tl_value_item(sd, i)));
                const float *f = t ? (const float *)tl_data_ptr(t) : NULL;
                if (!f || tl_dtype_of(t) != TL_F32 || len + tl_numel(t) > (int64_t)(sizeof bits / sizeof bits[0]))
                    break;
                for (j = 0; j < tl_numel(t); j++) memcpy(&bits[len++], &f[j], 4);
            }
            if (sd && i == n) r = tl_from_data(bits, 1, &len, TL_I32);
        }
        tl_value_free(sd);
    }
    tl_module_free(m);
    return r;
}

static tl_tensor *extra_op(const case_t *c, tl_tensor **ins, tl_tensor **idx, int *unknown) {
    int dims[TL_MAX_DIMS], k;
    int64_t v[MAX_ARGS];
    *unknown = 0;
    for (k = 0; k < c->ni && k < MAX_ARGS; k++) {
        v[k] = c->ints[k];
        if (k < TL_MAX_DIMS) dims[k] = (int)c->ints[k];
    }
    if (IS("floor")) return tl_floor(T(0));
    if (IS("ceil")) return tl_ceil(T(0));
    if (IS("round")) return tl_round(T(0));
    if (IS("trunc")) return tl_trunc(T(0));
    if (IS("remainder")) return tl_remainder(T(0), T(1));
    if (IS("fmod")) return tl_fmod(T(0), T(1));
    if (IS("remainder_scalar")) return tl_remainder_scalar(T(0), D(0));
    if (IS("fmod_scalar")) return tl_fmod_scalar(T(0), D(0));
    if (IS("isnan")) return tl_isnan(T(0));
    if (IS("isinf")) return tl_isinf(T(0));
    if (IS("isfinite")) return tl_isfinite(T(0));
    if (IS("nan_to_num")) return tl_nan_to_num(T(0), D(0), D(1), D(2));
    if (IS("any")) return tl_any(T(0), I(0), I(1));
    if (IS("all")) return tl_all(T(0), I(0), I(1));
    if (IS("any_all")) return tl_any_all(T(0));
    if (IS("all_all")) return tl_all_all(T(0));
    if (IS("isclose")) return tl_isclose(T(0), T(1), D(0), D(1), I(0));
    if (IS("allclose") || IS("equal")) {
        int r = IS("equal") ? tl_equal(T(0), T(1)) : tl_allclose(T(0), T(1), D(0), D(1), I(0));
        return r < 0 ? NULL : tl_scalar_tensor(r, TL_I64);
    }
    if (IS("clamp_tensor")) return tl_clamp_tensor(T(0), T(1), T(2));
    if (IS("addcmul")) return tl_addcmul(T(0), T(1), T(2), D(0));
    if (IS("addcdiv")) return tl_addcdiv(T(0), T(1), T(2), D(0));
    if (IS("lerp")) return tl_lerp(T(0), T(1), D(0));
    if (IS("lerp_tensor")) return tl_lerp_tensor(T(0), T(1), T(2));
    if (IS("new_ones")) return tl_new_ones(T(0), c->ni, v);
    if (IS("new_zeros")) return tl_new_zeros(T(0), c->ni, v);
    if (IS("new_full")) return tl_new_full(T(0), c->ni, v, D(0));
    /* sort: dim, descending; topk: k, dim, largest */
    if (IS("sort")) return tl_sort(T(0), I(0), I(1), idx);
    if (IS("argsort")) return tl_argsort(T(0), I(0), I(1));
    if (IS("topk")) return tl_topk(T(0), c->ints[0], I(1), I(2), 1, idx);
    if (IS("cumprod")) return tl_cumprod(T(0), I(0));
    if (IS("flip")) return tl_flip(T(0), c->ni, dims);
    if (IS("roll")) { /* ints: n, shifts[n], dims (the rest) */
        int n = I(0), nd = c->ni - 1 - n, rd[TL_MAX_DIMS];
        for (k = 0; k < nd; k++) rd[k] = (int)c->ints[1 + n + k];
        return tl_roll(T(0), n, v + 1, nd, rd);
    }
    if (IS("repeat")) return tl_repeat(T(0), c->ni, v);
    if (IS("tile")) return tl_tile(T(0), c->ni, v);
    if (IS("tril")) return tl_tril(T(0), c->ints[0]);
    if (IS("triu")) return tl_triu(T(0), c->ints[0]);
    /* scatter family: ins self, index, src; ints[0] dim */
    if (IS("scatter")) return tl_scatter(T(0), I(0), T(1), T(2));
    if (IS("scatter_value")) return tl_scatter_value(T(0), I(0), T(1), D(0));
    if (IS("scatter_add")) return tl_scatter_add(T(0), I(0), T(1), T(2));
    if (IS("index_add")) return tl_index_add(T(0), I(0), T(1), T(2), D(0));
    if (IS("one_hot")) return tl_one_hot(T(0), c->ints[0]);
    if (IS("pad")) return tl_pad(T(0), c->ni - 1, v + 1, (tl_pad_mode)I(0), D(0)); /* ints: mode, pad... */
    if (strncmp(c->op, "einsum:", 7) == 0) return tl_einsum(c->op + 7, c->nt, ins); /* "einsum:EQUATION" */
    if (IS("interpolate")) return tl_interpolate(T(0), c->ints[1], c->ints[2], (tl_interp_mode)I(0), I(3));
    /* conv1d ints: stride, padding, dilation, groups, padding_same; conv_transpose2d ints: stride h w,
       padding h w, output_padding h w, dilation h w, groups; ins x, weight, bias (or None) */
    if (IS("conv1d")) {
        tl_conv1d_opts o;
        o.stride = I(0);
        o.padding = I(1);
        o.dilation = I(2);
        o.groups = I(3);
        o.padding_same = I(4);
        return tl_conv1d(T(0), T(1), T(2), &o);
    }
    if (IS("conv_transpose2d")) {
        tl_conv_transpose2d_opts o;
        for (k = 0; k < 2; k++) {
            o.stride[k] = I(k);
            o.padding[k] = I(2 + k);
            o.output_padding[k] = I(4 + k);
            o.dilation[k] = I(6 + k);
        }
        o.groups = I(8);
        return tl_conv_transpose2d(T(0), T(1), T(2), &o);
    }
    /* max_pool1d / avg_pool1d ints: kernel, stride, padding, dilation, ceil_mode, count_include_pad */
    if (IS("max_pool1d") || IS("avg_pool1d")) {
        tl_pool1d_opts o = tl_pool1d_opts_default(I(0));
        o.stride = I(1);
        o.padding = I(2);
        o.dilation = I(3);
        o.ceil_mode = I(4);
        o.count_include_pad = I(5);
        if (IS("avg_pool1d")) return tl_avg_pool1d(T(0), &o);
        return tl_max_pool1d(T(0), &o, idx);
    }
    if (IS("group_norm")) return tl_group_norm(T(0), c->ints[0], T(1), T(2), D(0)); /* ints: num_groups; dbls: eps */
    if (strncmp(c->op, "mod", 3) == 0 && strchr(c->op, ':')) return layer_op(c, ins);
    *unknown = 1;
    return NULL;
}
