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
    *unknown = 1;
    return NULL;
}
