/* tests/test_newops.c - the ops of issue 13: values (special values, dtypes, broadcasting,
   non-contiguous inputs), finite-difference gradchecks (tests/gradcheck.h) and error cases.
   torch 1.13 comparisons of the same ops: tests/torch/test_newops.py. */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include "harness.h"
#include "gradcheck.h"

#define S(...) TL_SHAPE(__VA_ARGS__)
static tl_tensor *f64(int nd, const int64_t *shape, const double *v) { return tl_from_data(v, nd, shape, TL_F64); }
static tl_tensor *i64(int nd, const int64_t *shape, const int64_t *v) { return tl_from_data(v, nd, shape, TL_I64); }
/* every element of t (any dtype, any strides) equals want[] in C order */
static int same(const tl_tensor *t, const double *want, int64_t n) {
    double buf[256];
    int64_t i;
    if (!t || tl_numel(t) != n || n > 256) return 0;
    if (tl_copy_to_buffer(t, buf, TL_F64) != TL_OK) return 0;
    for (i = 0; i < n; i++) {
        if (want[i] != want[i]) {
            if (buf[i] == buf[i]) return 0;
        } else if (fabs(buf[i] - want[i]) > 1e-12 * (1 + fabs(want[i]))) {
            printf("  element %lld: %.17g, want %.17g\n", (long long)i, buf[i], want[i]);
            return 0;
        }
    }
    return 1;
}
#define SAME(t, ...) same((t), (const double[]){__VA_ARGS__}, (int64_t)(sizeof((const double[]){__VA_ARGS__}) / sizeof(double)))
static int failed_with(tl_status st, const char *needle) {
    int ok = tl_last_status() == st && strstr(tl_last_error(), needle) != NULL;
    if (!ok) printf("  error was %s: %s\n", tl_status_str(tl_last_status()), tl_last_error());
    tl_clear_error();
    return ok;
}

/* ---------------------------------------------------------------- group 1 */
TEST(rounding_values) {
    tl_scope s = tl_scope_begin();
    tl_tensor *x = f64(S(8), (const double[]){-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.7, NAN});
    CHECK(SAME(tl_round(x), -2, -2, -0.0, 0, 2, 2, 3, NAN));
    CHECK(SAME(tl_floor(x), -3, -2, -1, 0, 1, 2, 2, NAN));
    CHECK(SAME(tl_ceil(x), -2, -1, -0.0, 1, 2, 3, 3, NAN));
    CHECK(SAME(tl_trunc(x), -2, -1, -0.0, 0, 1, 2, 2, NAN));
    CHECK(tl_dtype_of(tl_floor(tl_arange(0, 3, 1, TL_I64))) == TL_I64);
    CHECK(tl_dtype_of(tl_round(tl_to_dtype(x, TL_F32))) == TL_F32);
    CHECK(tl_floor(tl_ones(S(2), TL_BOOL)) == NULL && failed_with(TL_ERR_DTYPE, "tl_floor"));
    tl_scope_end(s);
}
TEST(rounding_grad_is_zero) {
    tl_scope s = tl_scope_begin();
    tl_tensor *x = gk_leaf(S(3), (const double[]){0.3, 1.7, -2.2});
    tl_tensor *y = tl_sum_all(tl_add(tl_floor(x), tl_add(tl_round(x), tl_add(tl_ceil(x), tl_trunc(x)))));
    REQUIRE(tl_backward(y) == TL_OK);
    CHECK(SAME(tl_grad(x), 0, 0, 0));
    CHECK_STR(tl_grad_fn_name(tl_floor(x)), "FloorBackward0");
    tl_scope_end(s);
}
TEST(remainder_fmod_signs) {
    tl_scope s = tl_scope_begin();
    tl_tensor *a = f64(S(4), (const double[]){5, -5, 5, -5}), *b = f64(S(4), (const double[]){3, 3, -3, -3});
    tl_tensor *ai = i64(S(4), (const int64_t[]){5, -5, 5, -5}), *bi = i64(S(4), (const int64_t[]){3, 3, -3, -3});
    CHECK(SAME(tl_remainder(a, b), 2, 1, -1, -2));
    CHECK(SAME(tl_fmod(a, b), 2, -2, 2, -2));
    CHECK(SAME(tl_remainder(ai, bi), 2, 1, -1, -2));
    CHECK(SAME(tl_fmod(ai, bi), 2, -2, 2, -2));
    CHECK(tl_dtype_of(tl_remainder(ai, bi)) == TL_I64);
    CHECK(SAME(tl_remainder_scalar(a, 1.5), 0.5, 1, 0.5, 1));
    CHECK(tl_dtype_of(tl_remainder_scalar(ai, 1.5)) == TL_F32);
    CHECK(SAME(tl_fmod_scalar(ai, 2), 1, -1, 1, -1));
    CHECK(tl_remainder(ai, i64(S(1), (const int64_t[]){0})) == NULL && failed_with(TL_ERR_ARG, "ZeroDivisionError"));
    CHECK(tl_fmod_scalar(ai, 0) == NULL && failed_with(TL_ERR_ARG, "tl_fmod_scalar"));
    CHECK(SAME(tl_fmod_scalar(a, 0), NAN, NAN, NAN, NAN));
    CHECK(tl_remainder(a, f64(S(3), (const double[]){1, 2, 3})) == NULL && failed_with(TL_ERR_SHAPE, "tl_remainder"));
    tl_scope_end(s);
}
static tl_tensor *g_remainder(tl_tensor *const *x, const void *c) { (void)c; return tl_remainder(x[0], tl_t(x[1])); }
static tl_tensor *g_fmod(tl_tensor *const *x, const void *c) { (void)c; return tl_fmod(x[0], x[1]); }
static tl_tensor *g_remainder_s(tl_tensor *const *x, const void *c) { (void)c; return tl_remainder_scalar(x[0], -0.7); }
TEST(remainder_fmod_grad) {
    tl_scope s = tl_scope_begin();
    tl_tensor *a = gk_leaf(S(2, 3), (const double[]){5.3, -5.1, 2.5, -0.4, 7.9, 3.3});
    tl_tensor *b = gk_leaf(S(3, 2), (const double[]){1.7, -2.9, 3.1, 1.3, -1.1, 0.9});
    tl_tensor *b1 = gk_leaf(S(3), (const double[]){1.7, -2.9, 3.1});
    tl_tensor *x2[2] = {a, b}, *x3[2] = {a, b1};
    GK_CHECK(g_remainder, NULL, 2, x2, 1e-6);
    GK_CHECK(g_fmod, NULL, 2, x3, 1e-6);
    GK_CHECK(g_remainder_s, NULL, 1, x2, 1e-6);
    tl_scope_end(s);
}
TEST(isnan_isinf_isfinite_nan_to_num) {
    tl_scope s = tl_scope_begin();
    tl_tensor *x = f64(S(5), (const double[]){1, NAN, INFINITY, -INFINITY, -0.0}), *y;
    CHECK(SAME(tl_isnan(x), 0, 1, 0, 0, 0));
    CHECK(SAME(tl_isinf(x), 0, 0, 1, 1, 0));
    CHECK(SAME(tl_isfinite(x), 1, 0, 0, 0, 1));
    CHECK(tl_dtype_of(tl_isnan(x)) == TL_BOOL);
    CHECK(SAME(tl_isfinite(tl_arange(0, 2, 1, TL_I64)), 1, 1));
    CHECK(SAME(tl_nan_to_num(x, 0, INFINITY, -INFINITY), 1, 0, 1.7976931348623157e308, -1.7976931348623157e308, 0));
    CHECK(SAME(tl_nan_to_num(x, 7, 8, -9), 1, 7, 8, -9, 0));
    y = tl_nan_to_num(tl_to_dtype(x, TL_F32), 0, INFINITY, -INFINITY);
    CHECK(tl_dtype_of(y) == TL_F32 && SAME(y, 1, 0, 3.4028234663852886e38, -3.4028234663852886e38, 0));
    x = gk_leaf(S(5), (const double[]){1, NAN, INFINITY, -INFINITY, 2});
    REQUIRE(tl_backward(tl_sum_all(tl_mul_scalar(tl_nan_to_num(x, 0, 1, -1), 3))) == TL_OK);
    CHECK(SAME(tl_grad(x), 3, 0, 0, 0, 3));
    tl_scope_end(s);
}
TEST(any_all) {
    tl_scope s = tl_scope_begin();
    tl_tensor *x = f64(S(2, 3), (const double[]){0, 0, NAN, 1, 2, 3}), *u;
    CHECK(SAME(tl_any(x, 1, 0), 1, 1));
    CHECK(SAME(tl_all(x, 1, 0), 0, 1));
    CHECK(SAME(tl_all(x, 0, 1), 0, 0, 1));
    CHECK(tl_ndim(tl_all(x, 0, 1)) == 2);
    CHECK(SAME(tl_any(tl_t(x), 0, 0), 1, 1));
    CHECK(SAME(tl_any_all(x), 1) && SAME(tl_all_all(x), 0));
    CHECK(tl_dtype_of(tl_any_all(x)) == TL_BOOL && tl_ndim(tl_any_all(x)) == 0);
    CHECK(SAME(tl_all_all(tl_zeros(S(0), TL_F32)), 1) && SAME(tl_any_all(tl_zeros(S(0), TL_F32)), 0));
    u = tl_ones(S(2), TL_U8);
    CHECK(tl_dtype_of(tl_all_all(u)) == TL_U8);
    CHECK(tl_any(x, 2, 0) == NULL && failed_with(TL_ERR_ARG, "tl_any"));
    tl_scope_end(s);
}
TEST(isclose_allclose_equal) {
    tl_scope s = tl_scope_begin();
    tl_tensor *a = f64(S(4), (const double[]){1, 2, NAN, INFINITY});
    tl_tensor *b = f64(S(4), (const double[]){1 + 1e-9, 2.1, NAN, INFINITY});
    CHECK(SAME(tl_isclose(a, b, 1e-5, 1e-8, 0), 1, 0, 0, 1));
    CHECK(SAME(tl_isclose(a, b, 1e-5, 1e-8, 1), 1, 0, 1, 1));
    CHECK(tl_allclose(a, a, 1e-5, 1e-8, 1) == 1 && tl_allclose(a, a, 1e-5, 1e-8, 0) == 0);
    CHECK(tl_allclose(tl_ones(S(2, 3), TL_F32), tl_ones(S(3), TL_F32), 1e-5, 1e-8, 0) == 1);
    CHECK(tl_allclose(tl_ones(S(2), TL_F32), tl_ones(S(2), TL_F64), 1e-5, 1e-8, 0) == TL_ERR_DTYPE);
    tl_clear_error();
    CHECK(tl_equal(tl_ones(S(2, 2), TL_F32), tl_t(tl_ones(S(2, 2), TL_F32))) == 1);
    CHECK(tl_equal(tl_ones(S(2, 2), TL_F32), tl_ones(S(4), TL_F32)) == 0);
    CHECK(tl_equal(a, a) == 0); /* NaN != NaN */
    CHECK(tl_equal(tl_arange(0, 3, 1, TL_I64), tl_arange(0, 3, 1, TL_I64)) == 1);
    tl_scope_end(s);
}
static tl_tensor *g_clamp_t(tl_tensor *const *x, const void *c) { (void)c; return tl_clamp_tensor(x[0], x[1], x[2]); }
static tl_tensor *g_clamp_min(tl_tensor *const *x, const void *c) { (void)c; return tl_clamp_tensor(tl_t(x[0]), x[1], NULL); }
TEST(clamp_tensor) {
    tl_scope s = tl_scope_begin();
    tl_tensor *x = f64(S(2, 3), (const double[]){-3, 0.5, 9, 1, 2, 3});
    tl_tensor *lo = f64(S(3), (const double[]){-1, 0, 1}), *hi = f64(S(2, 1), (const double[]){2, 2.5});
    tl_tensor *xl, *lol, *hil, *xs[3];
    CHECK(SAME(tl_clamp_tensor(x, lo, hi), -1, 0.5, 2, 1, 2, 2.5));
    CHECK(SAME(tl_clamp_tensor(x, NULL, hi), -3, 0.5, 2, 1, 2, 2.5));
    CHECK(SAME(tl_clamp_tensor(x, lo, NULL), -1, 0.5, 9, 1, 2, 3));
    CHECK(tl_dtype_of(tl_clamp_tensor(tl_arange(0, 3, 1, TL_I64), tl_to_dtype(lo, TL_F32), NULL)) == TL_F32);
    CHECK(tl_clamp_tensor(x, NULL, NULL) == NULL && failed_with(TL_ERR_ARG, "tl_clamp_tensor"));
    xl = gk_leaf(S(2, 3), (const double[]){-3, 0.5, 9, 1, 2.2, 3});
    lol = gk_leaf(S(3), (const double[]){-1, 0.1, 1});
    hil = gk_leaf(S(2, 1), (const double[]){2, 2.5});
    xs[0] = xl; xs[1] = lol; xs[2] = hil;
    GK_CHECK(g_clamp_t, NULL, 3, xs, 1e-6);
    {
        tl_tensor *xt = gk_leaf(S(3, 2), (const double[]){-3, 0.5, 9, 1, 2.2, 3}), *l2 = gk_leaf(S(2), (const double[]){0, 1});
        tl_tensor *y[2] = {xt, l2};
        (void)y;
        lol = gk_leaf(S(2, 3), (const double[]){0, 0, 0, 2, 2, 2});
        y[1] = lol;
        GK_CHECK(g_clamp_min, NULL, 2, y, 1e-6);
    }
    tl_scope_end(s);
}
static tl_tensor *g_addcmul(tl_tensor *const *x, const void *c) { (void)c; return tl_addcmul(x[0], tl_t(x[1]), x[2], 0.7); }
static tl_tensor *g_addcdiv(tl_tensor *const *x, const void *c) { (void)c; return tl_addcdiv(x[0], tl_t(x[1]), x[2], -2); }
static tl_tensor *g_lerp(tl_tensor *const *x, const void *c) { return tl_lerp(x[0], tl_t(x[1]), *(const double *)c); }
static tl_tensor *g_lerp_t(tl_tensor *const *x, const void *c) { (void)c; return tl_lerp_tensor(x[0], tl_t(x[1]), x[2]); }
TEST(addcmul_addcdiv_lerp) {
    tl_scope s = tl_scope_begin();
    tl_tensor *t = gk_leaf(S(3), (const double[]){1, 2, 3});
    tl_tensor *a = gk_leaf(S(3, 2), (const double[]){1, 2, 3, 4, 5, 6});
    tl_tensor *b = gk_leaf(S(2, 3), (const double[]){0.5, 1.5, -2, 1, 2, 3}), *w;
    tl_tensor *xs[3] = {t, a, b};
    double w1 = 0.3, w2 = 0.8;
    CHECK(SAME(tl_addcmul(t, tl_t(a), b, 2), 2, 11, -17, 5, 18, 39));
    CHECK(SAME(tl_addcdiv(t, tl_t(a), b, 1), 3, 4, 0.5, 3, 4, 5));
    CHECK(tl_addcdiv(t, tl_arange(0, 3, 1, TL_I64), tl_arange(1, 4, 1, TL_I64), 1) == NULL &&
          failed_with(TL_ERR_DTYPE, "tl_addcdiv"));
    GK_CHECK(g_addcmul, NULL, 3, xs, 1e-6);
    GK_CHECK(g_addcdiv, NULL, 3, xs, 1e-6);
    CHECK(SAME(tl_lerp(f64(S(2), (const double[]){1, 2}), f64(S(2), (const double[]){3, 6}), 0.25), 1.5, 3));
    CHECK(SAME(tl_lerp(f64(S(2), (const double[]){1, 2}), f64(S(2), (const double[]){3, 6}), 0.75), 2.5, 5));
    GK_CHECK(g_lerp, &w1, 2, xs, 1e-6);
    GK_CHECK(g_lerp, &w2, 2, xs, 1e-6);
    w = gk_leaf(S(2, 3), (const double[]){0.1, 0.9, -0.3, 0.6, 0.4, 1.5});
    xs[2] = w;
    GK_CHECK(g_lerp_t, NULL, 3, xs, 1e-6);
    CHECK(tl_lerp(t, tl_ones(S(3), TL_F32), 0.5) == NULL && failed_with(TL_ERR_DTYPE, "tl_lerp"));
    tl_scope_end(s);
}
TEST(new_full_zeros_ones) {
    tl_scope s = tl_scope_begin();
    tl_tensor *x = tl_ones(S(2), TL_I32), *y = tl_new_ones(x, S(8)), *z = tl_new_full(x, S(2, 2), 7);
    CHECK(tl_dtype_of(y) == TL_I32 && tl_numel(y) == 8 && SAME(y, 1, 1, 1, 1, 1, 1, 1, 1));
    CHECK(tl_dtype_of(z) == TL_I32 && SAME(z, 7, 7, 7, 7));
    CHECK(SAME(tl_new_zeros(tl_ones(S(1), TL_F64), S(2)), 0, 0) && tl_dtype_of(tl_new_zeros(x, S(1))) == TL_I32);
    tl_scope_end(s);
}

/* ---------------------------------------------------------------- group 2 */
TEST(sort_argsort_topk) {
    tl_scope s = tl_scope_begin();
    tl_tensor *x = f64(S(2, 4), (const double[]){3, 1, NAN, 1, -1, 5, 2, 5}), *ix = NULL, *v;
    v = tl_sort(x, 1, 0, &ix);
    CHECK(SAME(v, 1, 1, 3, NAN, -1, 2, 5, 5));
    CHECK(tl_dtype_of(ix) == TL_I64 && SAME(ix, 1, 3, 0, 2, 0, 2, 1, 3)); /* stable */
    v = tl_sort(x, -1, 1, &ix);
    CHECK(SAME(v, NAN, 3, 1, 1, 5, 5, 2, -1) && SAME(ix, 2, 0, 1, 3, 1, 3, 2, 0));
    CHECK(SAME(tl_argsort(tl_t(x), 0, 0), 1, 0, 3, 2, 0, 1, 2, 3));
    v = tl_topk(x, 2, 1, 1, 1, &ix);
    CHECK(SAME(v, NAN, 3, 5, 5) && SAME(ix, 2, 0, 1, 3));
    v = tl_topk(x, 3, 1, 0, 1, &ix);
    CHECK(SAME(v, 1, 1, 3, -1, 2, 5) && SAME(ix, 1, 3, 0, 0, 2, 1));
    CHECK(tl_topk(x, 5, 1, 1, 1, NULL) == NULL && failed_with(TL_ERR_ARG, "tl_topk"));
    v = tl_sort(tl_from_data((const int64_t[]){INT64_MAX, INT64_MAX - 1, -3}, S(3), TL_I64), 0, 0, &ix);
    CHECK(tl_dtype_of(v) == TL_I64 && SAME(ix, 2, 1, 0));
    tl_scope_end(s);
}
static tl_tensor *g_sort(tl_tensor *const *x, const void *c) { (void)c; return tl_sort(tl_t(x[0]), 0, 1, NULL); }
static tl_tensor *g_topk(tl_tensor *const *x, const void *c) { (void)c; return tl_topk(x[0], 2, -1, 0, 1, NULL); }
static tl_tensor *g_cumprod(tl_tensor *const *x, const void *c) { return tl_cumprod(tl_t(x[0]), *(const int *)c); }
TEST(sort_topk_cumprod_grad) {
    tl_scope s = tl_scope_begin();
    tl_tensor *x = gk_leaf(S(3, 4), (const double[]){0.3, -1.2, 2.5, 0.7, 1.1, -0.4, 0.9, 2.2, -2.1, 1.7, 0.2, -0.6});
    tl_tensor *z = gk_leaf(S(3, 4), (const double[]){0.3, 0, 2.5, 0.7, 1.1, -0.4, 0, 0, -2.1, 1.7, 0.2, -0.6});
    int d0 = 0, d1 = 1;
    GK_CHECK(g_sort, NULL, 1, &x, 1e-6);
    GK_CHECK(g_topk, NULL, 1, &x, 1e-6);
    GK_CHECK(g_cumprod, &d0, 1, &x, 1e-6);
    GK_CHECK(g_cumprod, &d1, 1, &x, 1e-6);
    GK_CHECK(g_cumprod, &d0, 1, &z, 1e-6); /* zeros, one and two per lane */
    GK_CHECK(g_cumprod, &d1, 1, &z, 1e-6);
    CHECK(SAME(tl_cumprod(tl_arange(1, 5, 1, TL_I32), 0), 1, 2, 6, 24) &&
          tl_dtype_of(tl_cumprod(tl_arange(1, 5, 1, TL_I32), 0)) == TL_I64);
    CHECK_STR(tl_grad_fn_name(tl_cumprod(x, 0)), "CumprodBackward0");
    tl_scope_end(s);
}
static tl_tensor *g_flip(tl_tensor *const *x, const void *c) { (void)c; return tl_flip(tl_t(x[0]), TL_DIMS(0, -1)); }
static tl_tensor *g_roll(tl_tensor *const *x, const void *c) {
    (void)c;
    return tl_roll(tl_t(x[0]), 2, (const int64_t[]){-1, 5}, TL_DIMS(0, 1));
}
static tl_tensor *g_roll_flat(tl_tensor *const *x, const void *c) { (void)c; return tl_roll(x[0], 1, (const int64_t[]){5}, 0, NULL); }
static tl_tensor *g_repeat(tl_tensor *const *x, const void *c) { (void)c; return tl_repeat(tl_t(x[0]), S(2, 1, 3)); }
static tl_tensor *g_tile(tl_tensor *const *x, const void *c) { (void)c; return tl_tile(x[0], S(2)); }
static tl_tensor *g_tril(tl_tensor *const *x, const void *c) { (void)c; return tl_tril(tl_t(x[0]), -1); }
static tl_tensor *g_triu(tl_tensor *const *x, const void *c) { (void)c; return tl_triu(x[0], 1); }
TEST(flip_roll_repeat_tile_tril_triu) {
    tl_scope s = tl_scope_begin();
    tl_tensor *x = f64(S(2, 3), (const double[]){1, 2, 3, 4, 5, 6});
    tl_tensor *l = gk_leaf(S(3, 4), (const double[]){0.3, -1.2, 2.5, 0.7, 1.1, -0.4, 0.9, 2.2, -2.1, 1.7, 0.2, -0.6});
    CHECK(SAME(tl_flip(x, TL_DIMS(1)), 3, 2, 1, 6, 5, 4));
    CHECK(SAME(tl_flip(x, TL_DIMS(0, 1)), 6, 5, 4, 3, 2, 1));
    CHECK(tl_flip(x, TL_DIMS(1, -1)) == NULL && failed_with(TL_ERR_ARG, "tl_flip"));
    CHECK(SAME(tl_roll(x, 1, (const int64_t[]){1}, TL_DIMS(1)), 3, 1, 2, 6, 4, 5));
    CHECK(SAME(tl_roll(x, 1, (const int64_t[]){-2}, 0, NULL), 3, 4, 5, 6, 1, 2));
    CHECK(SAME(tl_roll(x, 2, (const int64_t[]){1, 4}, TL_DIMS(0, 1)), 6, 4, 5, 3, 1, 2));
    CHECK(tl_roll(x, 2, (const int64_t[]){1, 4}, TL_DIMS(0)) == NULL && failed_with(TL_ERR_ARG, "tl_roll"));
    CHECK(SAME(tl_repeat(f64(S(2), (const double[]){1, 2}), S(2, 2)), 1, 2, 1, 2, 1, 2, 1, 2));
    CHECK(tl_ndim(tl_repeat(x, S(1, 2, 0))) == 3 && tl_numel(tl_repeat(x, S(1, 2, 0))) == 0);
    CHECK(tl_repeat(x, S(2)) == NULL && failed_with(TL_ERR_ARG, "tl_repeat"));
    CHECK(SAME(tl_tile(x, S(2)), 1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6));
    CHECK(SAME(tl_tril(x, 0), 1, 0, 0, 4, 5, 0) && SAME(tl_triu(x, 0), 1, 2, 3, 0, 5, 6));
    CHECK(SAME(tl_triu(x, 1), 0, 2, 3, 0, 0, 6) && SAME(tl_tril(x, -1), 0, 0, 0, 4, 0, 0));
    CHECK(tl_dtype_of(tl_tril(tl_ones(S(2, 2), TL_BOOL), 0)) == TL_BOOL);
    CHECK(tl_tril(tl_ones(S(3), TL_F32), 0) == NULL && failed_with(TL_ERR_SHAPE, "tl_tril"));
    GK_CHECK(g_flip, NULL, 1, &l, 1e-6);
    GK_CHECK(g_roll, NULL, 1, &l, 1e-6);
    GK_CHECK(g_roll_flat, NULL, 1, &l, 1e-6);
    GK_CHECK(g_repeat, NULL, 1, &l, 1e-6);
    GK_CHECK(g_tile, NULL, 1, &l, 1e-6);
    GK_CHECK(g_tril, NULL, 1, &l, 1e-6);
    GK_CHECK(g_triu, NULL, 1, &l, 1e-6);
    tl_scope_end(s);
}

/* ---------------------------------------------------------------- group 3 */
static const int64_t sc_idx[6] = {0, 2, 1, 2, 0, 0};
static tl_tensor *g_scatter(tl_tensor *const *x, const void *c) {
    (void)c;
    return tl_scatter(x[0], 1, tl_from_data((const int64_t[]){0, 2, 1, 0}, S(2, 2), TL_I64), x[1]);
}
static tl_tensor *g_scatter_add(tl_tensor *const *x, const void *c) {
    (void)c;
    return tl_scatter_add(x[0], 0, tl_from_data(sc_idx, S(2, 3), TL_I64), tl_t(x[1]));
}
static tl_tensor *g_index_add(tl_tensor *const *x, const void *c) {
    (void)c;
    return tl_index_add(x[0], 1, tl_from_data((const int64_t[]){2, 0}, S(2), TL_I64), x[1], -1.5);
}
TEST(scatter_scatter_add_index_add) {
    tl_scope s = tl_scope_begin();
    tl_tensor *z = tl_zeros(S(3, 3), TL_F64), *src = f64(S(2, 3), (const double[]){1, 2, 3, 4, 5, 6}), *ix;
    tl_tensor *a, *b, *xs[2];
    ix = i64(S(2, 3), sc_idx);
    CHECK(SAME(tl_scatter(z, 0, ix, src), 1, 5, 6, 0, 0, 3, 4, 2, 0));
    CHECK(SAME(tl_scatter_add(tl_ones(S(3, 3), TL_F64), 0, i64(S(2, 3), (const int64_t[]){0, 0, 1, 0, 2, 1}), src),
               6, 3, 1, 1, 1, 10, 1, 6, 1));
    CHECK(SAME(tl_scatter_value(z, 1, i64(S(3, 1), (const int64_t[]){2, 0, 1}), -1), 0, 0, -1, -1, 0, 0, 0, -1, 0));
    CHECK(SAME(tl_index_add(z, 0, i64(S(2), (const int64_t[]){2, 0}), src, 2), 8, 10, 12, 0, 0, 0, 2, 4, 6));
    CHECK(tl_dtype_of(tl_scatter_add(tl_zeros(S(3), TL_I64), 0, i64(S(2), (const int64_t[]){1, 1}), tl_ones(S(2), TL_I64))) == TL_I64);
    CHECK(tl_scatter(z, 0, i64(S(1, 1), (const int64_t[]){3}), src) == NULL && failed_with(TL_ERR_INDEX, "tl_scatter"));
    CHECK(tl_scatter(z, 0, tl_zeros(S(1, 1), TL_I32), src) == NULL && failed_with(TL_ERR_DTYPE, "int64"));
    CHECK(tl_scatter(z, 0, ix, tl_to_dtype(src, TL_F32)) == NULL && failed_with(TL_ERR_DTYPE, "src.dtype"));
    CHECK(tl_scatter_add(z, 0, i64(S(1, 4), (const int64_t[]){0, 0, 0, 0}), src) == NULL &&
          failed_with(TL_ERR_SHAPE, "tl_scatter_add"));
    CHECK(tl_index_add(z, 0, i64(S(3), (const int64_t[]){0, 1, 2}), src, 1) == NULL &&
          failed_with(TL_ERR_SHAPE, "number of indices"));
    a = gk_leaf(S(3, 3), (const double[]){1, 2, 3, 4, 5, 6, 7, 8, 9});
    b = gk_leaf(S(2, 2), (const double[]){0.5, -1, 2, 3});
    xs[0] = a; xs[1] = b;
    GK_CHECK(g_scatter, NULL, 2, xs, 1e-6);
    b = gk_leaf(S(3, 2), (const double[]){0.5, -1, 2, 3, 4, 5});
    xs[1] = b;
    GK_CHECK(g_scatter_add, NULL, 2, xs, 1e-6);
    b = gk_leaf(S(3, 2), (const double[]){0.5, -1, 2, 3, 4, 5});
    xs[1] = b;
    GK_CHECK(g_index_add, NULL, 2, xs, 1e-6);
    tl_scope_end(s);
}

TEST(one_hot) {
    tl_scope s = tl_scope_begin();
    tl_tensor *t = i64(S(2, 2), (const int64_t[]){0, 2, 1, 2}), *r = tl_one_hot(t, -1);
    CHECK(tl_dtype_of(r) == TL_I64 && tl_ndim(r) == 3 && tl_shape(r)[2] == 3);
    CHECK(SAME(r, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1));
    CHECK(tl_shape(tl_one_hot(t, 5))[2] == 5);
    CHECK(SAME(tl_one_hot(tl_t(t), 3), 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1));
    CHECK(tl_one_hot(t, 2) == NULL && failed_with(TL_ERR_INDEX, "smaller than num_classes"));
    CHECK(tl_one_hot(i64(S(1), (const int64_t[]){-1}), 3) == NULL && failed_with(TL_ERR_INDEX, "non-negative"));
    CHECK(tl_one_hot(tl_ones(S(2), TL_F32), 3) == NULL && failed_with(TL_ERR_DTYPE, "tl_one_hot"));
    tl_scope_end(s);
}
static tl_tensor *g_pad_c(tl_tensor *const *x, const void *c) {
    (void)c;
    return tl_pad(tl_t(x[0]), 4, (const int64_t[]){1, -1, 2, 0}, TL_PAD_CONSTANT, 0.5);
}
static tl_tensor *g_pad_r(tl_tensor *const *x, const void *c) {
    return tl_pad(tl_unsqueeze(x[0], 0), 4, (const int64_t[]){2, 1, 1, 2}, (tl_pad_mode)*(const int *)c, 0);
}
static tl_tensor *g_interp(tl_tensor *const *x, const void *c) {
    const int *m = (const int *)c;
    return tl_interpolate(tl_transpose(tl_view(x[0], S(1, 1, 3, 4)), 2, 3), m[1], m[2], (tl_interp_mode)m[0], m[3]);
}
TEST(pad_interpolate) {
    tl_scope s = tl_scope_begin();
    tl_tensor *x = f64(S(1, 2, 3), (const double[]){1, 2, 3, 4, 5, 6}), *r;
    tl_tensor *l = gk_leaf(S(3, 4), (const double[]){0.3, -1.2, 2.5, 0.7, 1.1, -0.4, 0.9, 2.2, -2.1, 1.7, 0.2, -0.6});
    int reflect = TL_PAD_REFLECT, replicate = TL_PAD_REPLICATE;
    int m_near[4] = {TL_INTERP_NEAREST, 5, 7, 0}, m_bil[4] = {TL_INTERP_BILINEAR, 5, 2, 0}, m_bil_ac[4] = {TL_INTERP_BILINEAR, 7, 5, 1};
    CHECK(SAME(tl_pad(x, 2, (const int64_t[]){1, 2}, TL_PAD_CONSTANT, 9), 9, 1, 2, 3, 9, 9, 9, 4, 5, 6, 9, 9));
    CHECK(SAME(tl_pad(x, 2, (const int64_t[]){-1, 0}, TL_PAD_CONSTANT, 0), 2, 3, 5, 6));
    CHECK(SAME(tl_pad(x, 2, (const int64_t[]){2, 1}, TL_PAD_REFLECT, 0), 3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5));
    CHECK(SAME(tl_pad(x, 2, (const int64_t[]){2, 1}, TL_PAD_REPLICATE, 0), 1, 1, 1, 2, 3, 3, 4, 4, 4, 5, 6, 6));
    r = tl_pad(x, 4, (const int64_t[]){0, 0, 1, 0}, TL_PAD_CONSTANT, 0);
    CHECK(tl_shape(r)[1] == 3 && SAME(r, 0, 0, 0, 1, 2, 3, 4, 5, 6));
    CHECK(tl_pad(x, 2, (const int64_t[]){3, 0}, TL_PAD_REFLECT, 0) == NULL && failed_with(TL_ERR_ARG, "less than"));
    CHECK(tl_pad(x, 3, (const int64_t[]){1, 1, 1}, TL_PAD_CONSTANT, 0) == NULL && failed_with(TL_ERR_ARG, "tl_pad"));
    GK_CHECK(g_pad_c, NULL, 1, &l, 1e-6);
    GK_CHECK(g_pad_r, &reflect, 1, &l, 1e-6);
    GK_CHECK(g_pad_r, &replicate, 1, &l, 1e-6);
    x = f64(S(1, 1, 2, 2), (const double[]){1, 2, 3, 4});
    CHECK(SAME(tl_interpolate(x, 3, 3, TL_INTERP_BILINEAR, 1), 1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4));
    CHECK(SAME(tl_interpolate(x, 4, 4, TL_INTERP_BILINEAR, 0), 1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75,
               3.25, 3.5, 3, 3.25, 3.75, 4));
    CHECK(SAME(tl_interpolate(x, 3, 2, TL_INTERP_NEAREST, 0), 1, 2, 1, 2, 3, 4));
    CHECK(tl_interpolate(tl_ones(S(2, 2), TL_F32), 3, 3, TL_INTERP_NEAREST, 0) == NULL && failed_with(TL_ERR_SHAPE, "4-D"));
    GK_CHECK(g_interp, m_near, 1, &l, 1e-6);
    GK_CHECK(g_interp, m_bil, 1, &l, 1e-6);
    GK_CHECK(g_interp, m_bil_ac, 1, &l, 1e-6);
    tl_scope_end(s);
}

static tl_tensor *g_einsum(tl_tensor *const *x, const void *c) {
    tl_tensor *ops[2];
    ops[0] = tl_transpose(x[0], 0, 2);
    ops[1] = x[1];
    return tl_einsum((const char *)c, 2, ops);
}
TEST(einsum) {
    tl_scope s = tl_scope_begin();
    tl_tensor *a = f64(S(2, 3), (const double[]){1, 2, 3, 4, 5, 6}), *b = f64(S(3, 2), (const double[]){1, 0, 0, 1, 1, 1});
    tl_tensor *ab[2] = {a, b}, *aa[2], *l1, *l2, *xs[2];
    CHECK(SAME(tl_einsum("ij,jk->ik", 2, ab), 4, 5, 10, 11));
    CHECK(SAME(tl_einsum("ij,jk", 2, ab), 4, 5, 10, 11));
    CHECK(SAME(tl_einsum("ij->ji", 1, ab), 1, 4, 2, 5, 3, 6));
    CHECK(SAME(tl_einsum("ij->", 1, ab), 21) && tl_ndim(tl_einsum("ij->", 1, ab)) == 0);
    CHECK(SAME(tl_einsum("ij -> j", 1, ab), 5, 7, 9));
    aa[0] = a;
    aa[1] = a;
    CHECK(SAME(tl_einsum("ij,ij->i", 2, aa), 14, 77));
    CHECK(SAME(tl_einsum("ij,kj->ik", 2, aa), 14, 32, 32, 77));
    CHECK(tl_numel(tl_einsum("ij,kl->ijkl", 2, aa)) == 36);
    CHECK(tl_einsum("ii->i", 1, aa) == NULL && failed_with(TL_ERR_SHAPE, "subscript 'i'"));
    aa[0] = f64(S(2, 2), (const double[]){1, INFINITY, NAN, 4});
    CHECK(SAME(tl_einsum("ii->i", 1, aa), 1, 4) && SAME(tl_einsum("ii", 1, aa), 5));
    aa[0] = a;
    CHECK(tl_einsum("ij,jk->ik", 2, aa) == NULL && failed_with(TL_ERR_SHAPE, "subscript 'j'"));
    CHECK(tl_einsum("ijk->i", 1, aa) == NULL && failed_with(TL_ERR_SHAPE, "number of subscripts"));
    CHECK(tl_einsum("...ij->i", 1, aa) == NULL && failed_with(TL_ERR_ARG, "tl_einsum"));
    l1 = gk_leaf(S(3, 2, 2), (const double[]){0.3, -1.2, 2.5, 0.7, 1.1, -0.4, 0.9, 2.2, -2.1, 1.7, 0.2, -0.6});
    l2 = gk_leaf(S(2, 3, 2), (const double[]){1.3, 0.2, -0.5, 0.7, 2.1, -1.4, 0.9, 0.2, -1.1, 0.7, 0.25, 0.6});
    xs[0] = l1;
    xs[1] = l2;
    GK_CHECK(g_einsum, "jbi,bkj->bik", 2, xs, 1e-6); /* l1 transposed is [2, 2, 3]: labels j b i */
    GK_CHECK(g_einsum, "jbi,bkj->kb", 2, xs, 1e-6);
    tl_scope_end(s);
}

/* empty and 0-dim inputs: results of torch's shapes, no crash, nothing leaked */
TEST(empty_and_scalar_inputs) {
    tl_scope s = tl_scope_begin();
    tl_tensor *e = tl_zeros(S(2, 0), TL_F32), *z0 = tl_scalar_tensor(3, TL_F64), *ix = NULL, *r;
    r = tl_sort(e, 1, 0, &ix);
    CHECK(r && ix && tl_numel(r) == 0 && tl_dtype_of(ix) == TL_I64);
    r = tl_topk(z0, 1, 0, 1, 1, &ix);
    CHECK(r && tl_ndim(r) == 0 && SAME(r, 3) && SAME(ix, 0));
    CHECK(tl_numel(tl_cumprod(e, 1)) == 0 && SAME(tl_cumprod(z0, 0), 3));
    CHECK(SAME(tl_flip(z0, 0, NULL), 3) && tl_numel(tl_roll(e, 1, (const int64_t[]){3}, 0, NULL)) == 0);
    r = tl_repeat(z0, S(2, 3));
    CHECK(r && tl_ndim(r) == 2 && tl_numel(r) == 6);
    CHECK(SAME(tl_any(e, 1, 0), 0, 0) && SAME(tl_all(e, 1, 0), 1, 1) && SAME(tl_any(z0, 0, 0), 1));
    CHECK(tl_ndim(tl_one_hot(tl_zeros(S(0), TL_I64), 0)) == 2);
    CHECK(tl_one_hot(tl_zeros(S(0), TL_I64), -1) == NULL && failed_with(TL_ERR_ARG, "empty"));
    r = tl_pad(e, 2, (const int64_t[]){1, 1}, TL_PAD_CONSTANT, 2);
    CHECK(r && SAME(r, 2, 2, 2, 2));
    CHECK(SAME(tl_einsum("i,i->", 2, (tl_tensor *[]){tl_zeros(S(0), TL_F32), tl_zeros(S(0), TL_F32)}), 0));
    CHECK(tl_einsum("ij", 1, NULL) == NULL && failed_with(TL_ERR_ARG, "operands is NULL"));
    CHECK(tl_allclose(e, e, 1e-5, 1e-8, 0) == 1 && tl_equal(e, e) == 1);
    CHECK(tl_sort(NULL, 0, 0, &ix) == NULL && ix == NULL && failed_with(TL_ERR_ARG, "tl_sort"));
    tl_scope_end(s);
}

/* ---------------------------------------------------------------- conv1d, conv_transpose2d, 1-D pools,
   group_norm and their layers */
/* n distinct-ish values in [-1.5, 1.5) (a fixed walk, no ties for max_pool1d) */
static const double *ramp(int n) {
    static double v[512];
    int i;
    for (i = 0; i < n && i < 512; i++) v[i] = -1.5 + 3.0 * (double)((i * 37) % n) / n + 0.001 * i;
    return v;
}
/* ctx: stride, padding, dilation, groups; x is seen transposed ([N, L, C] stored) */
static tl_tensor *g_conv1d(tl_tensor *const *x, const void *c) {
    const int *o = (const int *)c;
    tl_conv1d_opts op;
    op.stride = o[0];
    op.padding = o[1];
    op.dilation = o[2];
    op.groups = o[3];
    op.padding_same = o[4];
    return tl_conv1d(tl_transpose(x[0], 1, 2), x[1], x[2], &op);
}
/* ctx: stride h w, padding h w, output_padding h w, dilation h w, groups; x seen as [N, C, H, W]
   from a [N, C, W, H] leaf */
static tl_tensor *g_convt(tl_tensor *const *x, const void *c) {
    const int *o = (const int *)c;
    tl_conv_transpose2d_opts op;
    int k;
    for (k = 0; k < 2; k++) {
        op.stride[k] = o[k];
        op.padding[k] = o[2 + k];
        op.output_padding[k] = o[4 + k];
        op.dilation[k] = o[6 + k];
    }
    op.groups = o[8];
    return tl_conv_transpose2d(tl_transpose(x[0], 2, 3), x[1], x[2], &op);
}
TEST(conv1d_conv_transpose2d_grad) {
    tl_scope s = tl_scope_begin();
    int c1[5] = {2, 1, 2, 2, 0}, c2[5] = {1, 0, 1, 1, 1}, t1[9] = {2, 1, 1, 0, 1, 0, 1, 2, 2}, t2[9] = {1, 2, 0, 1, 0, 1, 1, 2, 1};
    tl_tensor *x = gk_leaf(S(2, 9, 4), ramp(72)), *w = gk_leaf(S(6, 2, 3), ramp(36)), *b = gk_leaf(S(6), ramp(6));
    tl_tensor *w1 = gk_leaf(S(3, 4, 2), ramp(24)), *in1[3] = {x, w, b}, *in2[3] = {x, w1, NULL};
    tl_tensor *xt = gk_leaf(S(2, 4, 2, 3), ramp(48)), *wt = gk_leaf(S(4, 3, 2, 3), ramp(72)), *bt = gk_leaf(S(6), ramp(6));
    tl_tensor *wt1 = gk_leaf(S(4, 2, 3, 1), ramp(24)), *in3[3] = {xt, wt, bt}, *in4[3] = {xt, wt1, NULL}, *r;
    tl_conv1d_opts o1;
    tl_conv_transpose2d_opts ot;
    GK_CHECK(g_conv1d, c1, 3, in1, 1e-6); /* stride 2, padding 1, dilation 2, groups 2, bias */
    GK_CHECK(g_conv1d, c2, 2, in2, 1e-6); /* padding='same' with an even kernel, no bias */
    GK_CHECK(g_convt, t1, 3, in3, 1e-6);  /* stride (2, 1), padding (1, 0), output_padding (1, 0), dilation (1, 2), groups 2 */
    GK_CHECK(g_convt, t2, 2, in4, 1e-6);  /* stride (1, 2), padding (0, 1), output_padding (0, 1), dilation (1, 2) */
    CHECK(tl_conv_transpose2d(xt, wt, bt, NULL) == NULL && failed_with(TL_ERR_SHAPE, "bias must be [3]"));
    memset(&o1, 0, sizeof o1);
    memset(&ot, 0, sizeof ot);
    /* unbatched inputs, and values: a 1x1 kernel of ones sums the input channels */
    r = tl_conv1d(f64(S(2, 3), (const double[]){1, 2, 3, 4, 5, 6}), tl_ones(S(1, 2, 1), TL_F64), NULL, NULL);
    CHECK(r && tl_ndim(r) == 2 && SAME(r, 5, 7, 9));
    r = tl_conv_transpose2d(f64(S(1, 1, 2), (const double[]){1, 2}), tl_ones(S(1, 1, 1, 2), TL_F64), NULL, NULL);
    CHECK(r && tl_ndim(r) == 3 && tl_shape(r)[2] == 3 && SAME(r, 1, 3, 2));
    ot.stride[1] = 2;
    ot.output_padding[1] = 1;
    r = tl_conv_transpose2d(f64(S(1, 1, 1, 2), (const double[]){1, 2}), tl_ones(S(1, 1, 1, 2), TL_F64), NULL, &ot);
    CHECK(r && tl_shape(r)[3] == 5 && SAME(r, 1, 1, 2, 2, 0));
    CHECK_STR(tl_grad_fn_name(tl_conv_transpose2d(xt, wt1, NULL, NULL)), "ConvolutionBackward0");
    CHECK_STR(tl_grad_fn_name(tl_conv1d(tl_transpose(x, 1, 2), w1, NULL, &o1)), "ConvolutionBackward0");
    CHECK_STR(tl_grad_fn_name(tl_conv1d(tl_select(tl_transpose(x, 1, 2), 0, 0), w1, NULL, &o1)), "SqueezeBackward1");
    tl_scope_end(s);
}
TEST(conv1d_conv_transpose2d_errors) {
    tl_scope s = tl_scope_begin();
    tl_tensor *x = tl_ones(S(2, 4, 5), TL_F32), *w = tl_ones(S(6, 2, 3), TL_F32), *x4 = tl_ones(S(1, 4, 3, 3), TL_F32);
    tl_conv1d_opts o;
    tl_conv_transpose2d_opts t;
    memset(&o, 0, sizeof o);
    memset(&t, 0, sizeof t);
    CHECK(tl_conv1d(NULL, w, NULL, NULL) == NULL && failed_with(TL_ERR_ARG, "tl_conv1d"));
    CHECK(tl_conv1d(x, w, NULL, NULL) == NULL && failed_with(TL_ERR_SHAPE, "input channels per group"));
    o.groups = 3;
    CHECK(tl_conv1d(tl_ones(S(2, 4, 5), TL_F32), tl_ones(S(6, 1, 3), TL_F32), NULL, &o) == NULL &&
          failed_with(TL_ERR_SHAPE, "groups 3"));
    o.groups = 2;
    CHECK(tl_conv1d(x, w, tl_ones(S(5), TL_F32), &o) == NULL && failed_with(TL_ERR_SHAPE, "bias must be [6]"));
    CHECK(tl_conv1d(x, tl_ones(S(6, 2, 3, 1), TL_F32), NULL, &o) == NULL && failed_with(TL_ERR_SHAPE, "[6, 2, 3, 1]"));
    CHECK(tl_conv1d(x, tl_ones(S(6, 2, 3), TL_F64), NULL, &o) == NULL && failed_with(TL_ERR_DTYPE, "float64"));
    CHECK(tl_conv1d(tl_ones(S(2, 4, 2), TL_F32), w, NULL, &o) == NULL && failed_with(TL_ERR_SHAPE, "kernel size"));
    o.stride = -1;
    CHECK(tl_conv1d(x, w, NULL, &o) == NULL && failed_with(TL_ERR_ARG, "non-negative"));
    CHECK(tl_conv_transpose2d(x4, NULL, NULL, NULL) == NULL && failed_with(TL_ERR_ARG, "tl_conv_transpose2d"));
    CHECK(tl_conv_transpose2d(x4, tl_ones(S(3, 2, 2, 2), TL_F32), NULL, NULL) == NULL &&
          failed_with(TL_ERR_SHAPE, "[3, 2, 2, 2]"));
    t.groups = 3;
    CHECK(tl_conv_transpose2d(x4, tl_ones(S(4, 2, 2, 2), TL_F32), NULL, &t) == NULL && failed_with(TL_ERR_SHAPE, "groups 3"));
    t.groups = 2;
    CHECK(tl_conv_transpose2d(x4, tl_ones(S(4, 2, 2, 2), TL_F32), tl_ones(S(2), TL_F32), &t) == NULL &&
          failed_with(TL_ERR_SHAPE, "bias must be [4]"));
    t.output_padding[0] = 1;
    CHECK(tl_conv_transpose2d(x4, tl_ones(S(4, 2, 2, 2), TL_F32), NULL, &t) == NULL &&
          failed_with(TL_ERR_ARG, "output padding must be smaller"));
    t.output_padding[0] = 0;
    t.padding[0] = 3;
    CHECK(tl_conv_transpose2d(x4, tl_ones(S(4, 2, 2, 2), TL_F32), NULL, &t) == NULL && failed_with(TL_ERR_SHAPE, "too small"));
    CHECK(tl_conv_transpose2d(tl_ones(S(4, 3), TL_F32), tl_ones(S(4, 2, 2, 2), TL_F32), NULL, NULL) == NULL &&
          failed_with(TL_ERR_SHAPE, "[4, 3]"));
    tl_scope_end(s);
}
/* ctx: max (1) or avg (0), kernel, stride, padding, dilation, ceil_mode, count_include_pad; x seen
   as every other element of its last dim */
static tl_tensor *g_pool1d(tl_tensor *const *x, const void *c) {
    const int *o = (const int *)c;
    tl_pool1d_opts p = tl_pool1d_opts_default(o[1]);
    tl_tensor *v = tl_slice(x[0], 2, 0, tl_shape(x[0])[2], 2);
    p.stride = o[2];
    p.padding = o[3];
    p.dilation = o[4];
    p.ceil_mode = o[5];
    p.count_include_pad = o[6];
    return o[0] ? tl_max_pool1d(v, &p, NULL) : tl_avg_pool1d(v, &p);
}
static tl_tensor *g_group_norm(tl_tensor *const *x, const void *c) {
    return tl_group_norm(tl_transpose(x[0], 1, 2), *(const int *)c, x[1], x[2], 1e-5);
}
static tl_tensor *g_group_norm0(tl_tensor *const *x, const void *c) { /* no affine */
    return tl_group_norm(x[0], *(const int *)c, NULL, NULL, 1e-3);
}
TEST(pool1d_group_norm) {
    tl_scope s = tl_scope_begin();
    int mx[7] = {1, 3, 2, 1, 2, 1, 1}, av[7] = {0, 3, 2, 1, 1, 1, 0}, av2[7] = {0, 2, 0, 1, 1, 0, 1}, G = 2;
    tl_tensor *x = gk_leaf(S(2, 3, 14), ramp(84)), *gx = gk_leaf(S(2, 3, 4), ramp(24));
    tl_tensor *gw = gk_leaf(S(4), (const double[]){0.5, -1.2, 2.0, 0.8}), *gb = gk_leaf(S(4), ramp(4));
    tl_tensor *gin[3] = {gx, gw, gb}, *gin0[1] = {gx}, *ix = NULL, *r;
    tl_pool1d_opts p = tl_pool1d_opts_default(2);
    GK_CHECK(g_pool1d, mx, 1, &x, 1e-6); /* kernel 3, stride 2, padding 1, dilation 2, ceil_mode */
    GK_CHECK(g_pool1d, av, 1, &x, 1e-6); /* ceil_mode, count_include_pad = 0 */
    GK_CHECK(g_pool1d, av2, 1, &x, 1e-6); /* stride 0 = kernel, padding, count_include_pad */
    GK_CHECK(g_group_norm, &G, 3, gin, 1e-6);
    G = 1;
    GK_CHECK(g_group_norm0, &G, 1, gin0, 1e-6);
    r = tl_max_pool1d(f64(S(1, 5), (const double[]){1, 5, 2, 4, 3}), &p, &ix);
    CHECK(r && tl_ndim(r) == 2 && SAME(r, 5, 4) && ix && tl_dtype_of(ix) == TL_I64 && SAME(ix, 1, 3));
    p.padding = 1;
    p.count_include_pad = 0;
    CHECK(SAME(tl_avg_pool1d(f64(S(1, 1, 3), (const double[]){1, 2, 3}), &p), 1, 2.5));
    r = tl_group_norm(f64(S(1, 2, 2), (const double[]){1, 3, 10, 20}), 2, NULL, NULL, 0);
    CHECK(SAME(r, -1, 1, -1, 1));
    CHECK_STR(tl_grad_fn_name(tl_group_norm(gx, 3, NULL, NULL, 1e-5)), "NativeGroupNormBackward0");
    CHECK(tl_max_pool1d(x, NULL, NULL) == NULL && failed_with(TL_ERR_ARG, "tl_pool1d_opts_default"));
    CHECK(tl_max_pool1d(NULL, &p, &ix) == NULL && ix == NULL && failed_with(TL_ERR_ARG, "tl_max_pool1d"));
    p.padding = 2;
    CHECK(tl_avg_pool1d(x, &p) == NULL && failed_with(TL_ERR_ARG, "at most half"));
    p = tl_pool1d_opts_default(9);
    CHECK(tl_avg_pool1d(tl_ones(S(1, 1, 4), TL_F32), &p) == NULL && failed_with(TL_ERR_SHAPE, "too small"));
    p = tl_pool1d_opts_default(2);
    p.dilation = 2;
    CHECK(tl_avg_pool1d(x, &p) == NULL && failed_with(TL_ERR_ARG, "no dilation"));
    CHECK(tl_max_pool1d(tl_ones(S(4), TL_F32), &p, NULL) == NULL && failed_with(TL_ERR_SHAPE, "[4]"));
    CHECK(tl_max_pool1d(tl_ones(S(2, 4), TL_I64), &p, NULL) == NULL && failed_with(TL_ERR_DTYPE, "tl_max_pool1d"));
    CHECK(tl_group_norm(gx, 2, NULL, NULL, 1e-5) == NULL && failed_with(TL_ERR_SHAPE, "divisible by num_groups"));
    CHECK(tl_group_norm(gx, 0, NULL, NULL, 1e-5) == NULL && failed_with(TL_ERR_SHAPE, "num_groups=0"));
    CHECK(tl_group_norm(gx, 1, tl_ones(S(4), TL_F64), NULL, 1e-5) == NULL && failed_with(TL_ERR_SHAPE, "[3]"));
    CHECK(tl_group_norm(tl_ones(S(3), TL_F32), 1, NULL, NULL, 1e-5) == NULL && failed_with(TL_ERR_SHAPE, "at least 2"));
    CHECK(tl_group_norm(gx, 1, tl_ones(S(3), TL_F32), NULL, 1e-5) == NULL && failed_with(TL_ERR_DTYPE, "float32"));
    CHECK(tl_group_norm(NULL, 1, NULL, NULL, 1e-5) == NULL && failed_with(TL_ERR_ARG, "tl_group_norm"));
    tl_scope_end(s);
}
TEST(conv1d_conv_transpose2d_group_norm_upsample_layers) {
    char buf[512];
    tl_scope s = tl_scope_begin();
    tl_conv1d_opts o;
    tl_conv_transpose2d_opts t;
    tl_module *m;
    tl_tensor *r, *x;
    memset(&o, 0, sizeof o);
    memset(&t, 0, sizeof t);
    o.stride = 2;
    o.groups = 2;
    m = tl_nn_conv1d(4, 6, 3, &o, 0);
    CHECK(m && tl_module_to_string(m, buf, sizeof buf) > 0);
    CHECK_STR(buf, "Conv1d(4, 6, kernel_size=(3,), stride=(2,), groups=2, bias=False)");
    x = tl_randn(S(2, 4, 9), TL_F32);
    CHECK(tl_requires_grad_(x, 1) == TL_OK);
    r = tl_module_forward(m, x);
    CHECK(r && tl_shape(r)[1] == 6 && tl_shape(r)[2] == 4 && tl_shape(tl_module_get(m, "weight"))[1] == 2);
    tl_module_free(m); /* the graph keeps the parameters alive, as torch's */
    CHECK(tl_backward(tl_sum_all(r)) == TL_OK && tl_grad(x) != NULL);
    t.stride[0] = t.stride[1] = 2;
    t.output_padding[0] = 1;
    m = tl_nn_conv_transpose2d(4, 6, 3, 2, &t, 1);
    CHECK(m && tl_module_to_string(m, buf, sizeof buf) > 0);
    CHECK_STR(buf, "ConvTranspose2d(4, 6, kernel_size=(3, 2), stride=(2, 2), output_padding=(1, 0))");
    CHECK(tl_shape(tl_module_get(m, "weight"))[0] == 4 && tl_shape(tl_module_get(m, "bias"))[0] == 6);
    r = tl_module_forward(m, tl_randn(S(1, 4, 3, 3), TL_F32));
    CHECK(r && tl_shape(r)[2] == 8 && tl_shape(r)[3] == 6);
    tl_module_free(m);
    m = tl_nn_group_norm(2, 4, 1e-5, 1);
    CHECK(m && tl_module_to_string(m, buf, sizeof buf) > 0);
    CHECK_STR(buf, "GroupNorm(2, 4, eps=1e-05, affine=True)");
    CHECK(SAME(tl_module_get(m, "weight"), 1, 1, 1, 1) && SAME(tl_module_get(m, "bias"), 0, 0, 0, 0));
    tl_module_free(m);
    m = tl_nn_upsample(0, 0, 2, TL_INTERP_NEAREST, 0);
    CHECK(m && tl_module_to_string(m, buf, sizeof buf) > 0);
    CHECK_STR(buf, "Upsample(scale_factor=2.0, mode=nearest)");
    CHECK(SAME(tl_module_forward(m, f64(S(1, 1, 1, 2), (const double[]){1, 2})), 1, 1, 2, 2, 1, 1, 2, 2));
    tl_module_free(m);
    m = tl_nn_conv1d(4, 6, 3, NULL, 1);
    CHECK(m && tl_module_to_string(m, buf, sizeof buf) > 0);
    CHECK_STR(buf, "Conv1d(4, 6, kernel_size=(3,), stride=(1,))");
    tl_module_free(m);
    CHECK(tl_nn_conv1d(3, 6, 3, &o, 1) == NULL && failed_with(TL_ERR_ARG, "tl_nn_conv1d"));
    t.output_padding[0] = 2;
    CHECK(tl_nn_conv_transpose2d(4, 6, 3, 3, &t, 1) == NULL && failed_with(TL_ERR_ARG, "output_padding (2, 0)"));
    CHECK(tl_nn_group_norm(3, 4, 1e-5, 1) == NULL && failed_with(TL_ERR_ARG, "divisible"));
    CHECK(tl_nn_upsample(0, 0, 0, TL_INTERP_NEAREST, 0) == NULL && failed_with(TL_ERR_ARG, "scale_factor"));
    CHECK(tl_nn_upsample(4, 4, 0, TL_INTERP_NEAREST, 1) == NULL && failed_with(TL_ERR_ARG, "align_corners"));
    tl_scope_end(s);
}

static const th_case tests[] = {
    TH_CASE(rounding_values), TH_CASE(rounding_grad_is_zero), TH_CASE(remainder_fmod_signs),
    TH_CASE(remainder_fmod_grad), TH_CASE(isnan_isinf_isfinite_nan_to_num), TH_CASE(any_all),
    TH_CASE(isclose_allclose_equal), TH_CASE(clamp_tensor), TH_CASE(addcmul_addcdiv_lerp),
    TH_CASE(new_full_zeros_ones), TH_CASE(sort_argsort_topk), TH_CASE(sort_topk_cumprod_grad),
    TH_CASE(flip_roll_repeat_tile_tril_triu), TH_CASE(scatter_scatter_add_index_add),
    TH_CASE(one_hot), TH_CASE(pad_interpolate), TH_CASE(einsum),
    TH_CASE(empty_and_scalar_inputs),
    TH_CASE(conv1d_conv_transpose2d_grad), TH_CASE(conv1d_conv_transpose2d_errors), TH_CASE(pool1d_group_norm),
    TH_CASE(conv1d_conv_transpose2d_group_norm_upsample_layers),
};
int main(void) { return TH_RUN(tests); }
