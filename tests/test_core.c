/* tests/test_core.c - semantics the PyTorch oracle cannot see: references and scopes, storage
   sharing of views, borrowed buffers, strides and offsets, element access, half-precision
   conversions, dtype helpers and the live-object counters. Expected values come from
   PyTorch 1.13 (/usr/bin/python3) and NumPy where noted. */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include "harness.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define F32 TL_F32
#define F64 TL_F64
#define I64 TL_I64

static long live_t(void) { return tl_debug_live_tensors(); }
static long live_s(void) { return tl_debug_live_storages(); }

static double get1(const tl_tensor *t, int64_t i) { return tl_get(t, &i); }
static double get2(const tl_tensor *t, int64_t i, int64_t j) {
    int64_t idx[2];
    idx[0] = i;
    idx[1] = j;
    return tl_get(t, idx);
}
static tl_status set2(tl_tensor *t, int64_t i, int64_t j, double v) {
    int64_t idx[2];
    idx[0] = i;
    idx[1] = j;
    return tl_set(t, idx, v);
}

/* ===== references and scopes ================================================================= */

TEST(new_reference_and_release) {
    long t0 = live_t(), s0 = live_s();
    tl_tensor *t = tl_zeros(TL_SHAPE(2, 3), F32);
    REQUIRE(t != NULL);
    CHECK_EQ_INT(live_t(), t0 + 1);
    CHECK_EQ_INT(live_s(), s0 + 1);
    tl_release(t);
    CHECK_EQ_INT(live_t(), t0);
    CHECK_EQ_INT(live_s(), s0);
}

TEST(retain_adds_a_reference) {
    tl_tensor *t = tl_ones(TL_SHAPE(4), F32), *r;
    REQUIRE(t != NULL);
    r = tl_retain(t);
    CHECK(r == t);
    tl_release(t);
    CHECK_EQ_INT(live_t(), 1); /* still alive through r */
    CHECK_NEAR(get1(r, 3), 1.0, 0);
    tl_release(r);
    CHECK_EQ_INT(live_t(), 0);
    CHECK(tl_retain(NULL) == NULL);
    tl_release(NULL);
    CHECK_EQ_INT(tl_last_status(), TL_OK);
}

TEST(scope_releases_everything_created_inside) {
    tl_scope s = tl_scope_begin();
    tl_tensor *a = tl_arange(0, 6, 1, F32);
    tl_tensor *b = tl_view(a, TL_SHAPE(2, 3));
    tl_tensor *y = tl_sum(tl_mul(b, b), 1, 0);
    REQUIRE(y != NULL);
    CHECK_NEAR(get1(y, 0), 5.0, 0);
    CHECK_NEAR(get1(y, 1), 50.0, 0);
    CHECK_EQ_INT(live_t(), 4); /* arange, view, mul, sum */
    tl_scope_end(s);
    CHECK_EQ_INT(live_t(), 0);
    CHECK_EQ_INT(live_s(), 0);
}

TEST(keep_moves_to_parent_scope) {
    tl_scope outer = tl_scope_begin();
    tl_tensor *kept, *tmp;
    {
        tl_scope inner = tl_scope_begin();
        tmp = tl_zeros(TL_SHAPE(3), F32);
        kept = tl_keep(tl_full(TL_SHAPE(2), 7.0, F32));
        CHECK(tmp != NULL && kept != NULL);
        CHECK_EQ_INT(live_t(), 2);
        tl_scope_end(inner);
    }
    CHECK_EQ_INT(live_t(), 1); /* tmp died, kept lives in the outer scope */
    CHECK_NEAR(get1(kept, 1), 7.0, 0);
    tl_scope_end(outer);
    CHECK_EQ_INT(live_t(), 0);
    CHECK_EQ_INT(live_s(), 0);
}

TEST(keep_outside_any_scope_hands_to_caller) {
    tl_tensor *t;
    tl_scope s = tl_scope_begin();
    t = tl_keep(tl_arange(0, 4, 1, I64));
    tl_scope_end(s);
    REQUIRE(t != NULL);
    CHECK_EQ_INT(live_t(), 1);
    {
        tl_tensor *e = tl_select(t, 0, 3); /* outside scopes: the caller owns it */
        CHECK_EQ_INT(live_t(), 2);
        CHECK_EQ_INT(tl_item_i64(e), 3);
        tl_release(e);
    }
    CHECK_EQ_INT(live_t(), 1);
    tl_release(t);
    CHECK_EQ_INT(live_t(), 0);
    CHECK(tl_keep(NULL) == NULL);
}

TEST(keep_through_two_levels) {
    tl_scope s1 = tl_scope_begin();
    tl_tensor *t;
    {
        tl_scope s2 = tl_scope_begin();
        {
            tl_scope s3 = tl_scope_begin();
            t = tl_keep(tl_ones(TL_SHAPE(2, 2), F64));
            tl_scope_end(s3);
        }
        CHECK_EQ_INT(live_t(), 1);
        CHECK(tl_keep(t) == t); /* from s2 to s1 */
        tl_scope_end(s2);
    }
    CHECK_EQ_INT(live_t(), 1);
    CHECK_NEAR(get2(t, 1, 1), 1.0, 0);
    tl_scope_end(s1);
    CHECK_EQ_INT(live_t(), 0);
}

TEST(ending_outer_scope_ends_inner_ones) {
    tl_scope outer = tl_scope_begin();
    tl_scope inner, after;
    tl_tensor *a = tl_zeros(TL_SHAPE(2), F32);
    inner = tl_scope_begin();
    CHECK(inner.depth > outer.depth);
    CHECK(tl_ones(TL_SHAPE(3), F32) != NULL);
    CHECK(tl_add_scalar(a, 1) != NULL);
    (void)tl_scope_begin(); /* a third level, never ended explicitly */
    CHECK(tl_zeros(TL_SHAPE(5), I64) != NULL);
    CHECK_EQ_INT(live_t(), 4);
    tl_scope_end(outer);
    CHECK_EQ_INT(live_t(), 0);
    CHECK_EQ_INT(live_s(), 0);
    /* the next scope starts at the outer depth again */
    after = tl_scope_begin();
    CHECK_EQ_INT(after.depth, outer.depth);
    tl_scope_end(after);
}

TEST(retain_inside_scope_is_owned_by_scope) {
    tl_tensor *t = tl_zeros(TL_SHAPE(2), F32); /* caller-owned */
    tl_scope s = tl_scope_begin();
    tl_tensor *r = tl_retain(t);
    CHECK(r == t);
    tl_scope_end(s); /* drops the retained reference */
    CHECK_EQ_INT(live_t(), 1);
    CHECK_NEAR(get1(t, 0), 0.0, 0);
    tl_release(t);
    CHECK_EQ_INT(live_t(), 0);
}

TEST(views_in_scope_outlive_released_base) {
    tl_scope s = tl_scope_begin();
    tl_tensor *base = tl_keep(tl_arange(0, 6, 1, F32)); /* caller-owned */
    tl_tensor *v;
    tl_scope_end(s);
    v = tl_view(base, TL_SHAPE(3, 2));
    tl_release(base);
    CHECK_EQ_INT(live_t(), 2); /* the view keeps its base alive, like torch's v._base */
    CHECK_EQ_INT(live_s(), 1);
    CHECK_NEAR(get2(v, 2, 1), 5.0, 0);
    tl_release(v);
    CHECK_EQ_INT(live_s(), 0);
}

/* ===== views share storage =================================================================== */

TEST(view_writes_are_seen_by_base) {
    tl_scope s = tl_scope_begin();
    tl_tensor *base = tl_arange(0, 6, 1, F32);
    tl_tensor *v = tl_view(base, TL_SHAPE(2, 3));
    REQUIRE(v != NULL);
    CHECK(tl_same_storage(base, v));
    CHECK(tl_data_ptr(base) == tl_data_ptr(v));
    CHECK_EQ_INT(set2(v, 1, 2, 42.0), TL_OK);
    CHECK_NEAR(get1(base, 5), 42.0, 0);
    CHECK_EQ_INT(tl_set(base, (const int64_t[]){0}, -1.0), TL_OK);
    CHECK_NEAR(get2(v, 0, 0), -1.0, 0);
    CHECK(!tl_same_storage(base, tl_arange(0, 6, 1, F32)));
    tl_scope_end(s);
}

TEST(transposed_view_writes_through) {
    tl_scope s = tl_scope_begin();
    tl_tensor *m = tl_view(tl_arange(0, 6, 1, F32), TL_SHAPE(2, 3));
    tl_tensor *mt = tl_t(m);
    REQUIRE(mt != NULL);
    CHECK(tl_same_storage(m, mt));
    CHECK_NEAR(get2(mt, 2, 1), 5.0, 0);
    CHECK_EQ_INT(set2(mt, 2, 0, 9.0), TL_OK);
    CHECK_NEAR(get2(m, 0, 2), 9.0, 0);
    tl_scope_end(s);
}

TEST(release_base_keeps_view_valid) {
    tl_tensor *base = tl_arange(0, 12, 1, F64);
    tl_tensor *mid = tl_view(base, TL_SHAPE(3, 4));
    tl_tensor *v = tl_narrow(mid, 1, 1, 2);
    REQUIRE(mid != NULL && v != NULL);
    CHECK_EQ_INT(live_t(), 3);
    CHECK_EQ_INT(live_s(), 1);
    tl_release(base);
    tl_release(mid);
    CHECK_EQ_INT(live_t(), 2); /* v and its base (torch's v._base is the root base, not mid) */
    CHECK_EQ_INT(live_s(), 1);
    CHECK_NEAR(get2(v, 2, 1), 10.0, 0);
    CHECK_EQ_INT(set2(v, 0, 0, -5), TL_OK);
    CHECK_NEAR(get2(v, 0, 0), -5.0, 0);
    tl_release(v);
    CHECK_EQ_INT(live_t(), 0);
    CHECK_EQ_INT(live_s(), 0);
}

TEST(inplace_op_on_view_changes_base) {
    tl_scope s = tl_scope_begin();
    tl_tensor *base = tl_zeros(TL_SHAPE(3, 4), F32);
    tl_tensor *col = tl_select(base, 1, 2);   /* base[:, 2] */
    tl_tensor *row = tl_narrow(base, 0, 1, 1); /* base[1:2] */
    REQUIRE(col && row);
    CHECK_EQ_INT(tl_add_scalar_(col, 5), TL_OK);
    CHECK_EQ_INT(tl_fill_(row, 1), TL_OK);
    CHECK_NEAR(get2(base, 0, 2), 5.0, 0);
    CHECK_NEAR(get2(base, 2, 2), 5.0, 0);
    CHECK_NEAR(get2(base, 1, 2), 1.0, 0);
    CHECK_NEAR(get2(base, 1, 0), 1.0, 0);
    CHECK_NEAR(get2(base, 0, 0), 0.0, 0);
    CHECK_EQ_INT(tl_copy_(tl_slice(base, 1, 0, TL_END, 2), tl_full(TL_SHAPE(2), 3, F32)), TL_OK);
    CHECK_NEAR(get2(base, 2, 0), 3.0, 0);
    CHECK_NEAR(get2(base, 2, 2), 3.0, 0);
    CHECK_NEAR(get2(base, 2, 1), 0.0, 0);
    tl_scope_end(s);
}

/* ===== borrowed and copied buffers =========================================================== */

static int g_release_calls;
static void *g_release_data, *g_release_user;
static void count_release(void *data, void *user) {
    g_release_calls++;
    g_release_data = data;
    g_release_user = user;
}

TEST(from_buffer_borrows_without_copy) {
    float buf[6] = {1, 2, 3, 4, 5, 6};
    int token = 0;
    tl_tensor *t, *v;
    g_release_calls = 0;
    t = tl_from_buffer(buf, TL_SHAPE(2, 3), F32, count_release, &token);
    REQUIRE(t != NULL);
    CHECK(tl_data_ptr(t) == (void *)buf);
    buf[4] = 50;
    CHECK_NEAR(get2(t, 1, 1), 50.0, 0);
    CHECK_EQ_INT(set2(t, 0, 0, -1), TL_OK);
    CHECK_NEAR(buf[0], -1.0, 0);
    v = tl_narrow(t, 1, 1, 2);
    REQUIRE(v != NULL);
    CHECK(tl_data_ptr(v) == (void *)(buf + 1));
    tl_release(t);
    CHECK_EQ_INT(g_release_calls, 0); /* the view still uses the buffer */
    CHECK_NEAR(get2(v, 1, 1), 6.0, 0);
    tl_release(v);
    CHECK_EQ_INT(g_release_calls, 1);
    CHECK(g_release_data == (void *)buf);
    CHECK(g_release_user == (void *)&token);
    CHECK_EQ_INT(live_s(), 0);
}

TEST(from_buffer_release_once_with_many_views) {
    int64_t buf[4] = {1, 2, 3, 4};
    tl_scope s = tl_scope_begin();
    tl_tensor *t;
    g_release_calls = 0;
    t = tl_from_buffer(buf, TL_SHAPE(4), I64, count_release, NULL);
    REQUIRE(t != NULL);
    CHECK(tl_view(t, TL_SHAPE(2, 2)) != NULL);
    CHECK(tl_expand(tl_unsqueeze(t, 0), TL_SHAPE(3, 4)) != NULL);
    CHECK(tl_retain(t) == t);
    CHECK_EQ_INT(tl_item_i64(tl_sum_all(t)), 10);
    tl_scope_end(s);
    CHECK_EQ_INT(g_release_calls, 1);
}

TEST(from_buffer_null_release) {
    double buf[3] = {0.5, 1.5, 2.5};
    tl_tensor *t = tl_from_buffer(buf, TL_SHAPE(3), F64, NULL, NULL);
    REQUIRE(t != NULL);
    CHECK(tl_data_ptr(t) == (void *)buf);
    CHECK_NEAR(get1(t, 2), 2.5, 0);
    tl_release(t);
    CHECK_NEAR(buf[1], 1.5, 0); /* untouched */
}

TEST(from_data_copies) {
    int32_t src[4] = {1, 2, 3, 4};
    tl_scope s = tl_scope_begin();
    tl_tensor *t = tl_from_data(src, TL_SHAPE(2, 2), TL_I32);
    REQUIRE(t != NULL);
    CHECK(tl_data_ptr(t) != (void *)src);
    src[0] = 100;
    CHECK_NEAR(get2(t, 0, 0), 1.0, 0);
    CHECK_EQ_INT(set2(t, 1, 1, -4), TL_OK);
    CHECK_EQ_INT(src[3], 4);
    CHECK_EQ_INT(tl_dtype_of(t), TL_I32);
    CHECK(tl_is_contiguous(t));
    tl_scope_end(s);
}

/* ===== reshape / contiguous copy only when they must ========================================= */

TEST(reshape_of_contiguous_is_a_view) {
    tl_scope s = tl_scope_begin();
    tl_tensor *a = tl_arange(0, 12, 1, F32);
    tl_tensor *r = tl_reshape(a, TL_SHAPE(3, -1));
    REQUIRE(r != NULL);
    CHECK(has_shape(r, TL_SHAPE(3, 4)));
    CHECK(tl_same_storage(a, r));
    CHECK(tl_same_storage(a, tl_reshape(r, TL_SHAPE(-1))));
    CHECK(tl_same_storage(a, tl_flatten(r, 0, -1)));
    tl_scope_end(s);
}

TEST(reshape_of_transposed_copies) {
    tl_scope s = tl_scope_begin();
    tl_tensor *a = tl_view(tl_arange(0, 12, 1, F32), TL_SHAPE(3, 4));
    tl_tensor *r = tl_reshape(tl_t(a), TL_SHAPE(12));
    const double want[12] = {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11};
    int i;
    REQUIRE(r != NULL);
    CHECK(!tl_same_storage(a, r));
    CHECK(tl_is_contiguous(r));
    for (i = 0; i < 12; i++) CHECK_NEAR(get1(r, i), want[i], 0);
    CHECK(!tl_same_storage(a, tl_reshape(tl_t(a), TL_SHAPE(2, 6))));
    /* a transposed tensor still reshapes as a view when the strides allow it (torch: strides
       (2, 1, 4) and (1, 4, 4)) */
    CHECK(tl_same_storage(a, tl_reshape(tl_t(a), TL_SHAPE(2, 2, 3))));
    CHECK(has_stride(tl_reshape(tl_t(a), TL_SHAPE(2, 2, 3)), STRIDES(2, 1, 4)));
    CHECK(tl_same_storage(a, tl_reshape(tl_t(a), TL_SHAPE(4, 3, 1))));
    tl_scope_end(s);
}

TEST(contiguous_returns_same_when_contiguous) {
    tl_tensor *a = tl_ones(TL_SHAPE(2, 3), F32);
    tl_tensor *c = tl_contiguous(a), *at, *tc;
    REQUIRE(c != NULL);
    CHECK(c == a);
    CHECK(tl_same_storage(a, c));
    CHECK_EQ_INT(live_t(), 1);
    tl_release(c);
    at = tl_t(a);
    tc = tl_contiguous(at);
    REQUIRE(at != NULL && tc != NULL);
    CHECK(tc != at);
    CHECK(!tl_same_storage(a, tc));
    CHECK(has_stride(tc, STRIDES(2, 1)));
    tl_release(tc);
    tl_release(at);
    /* a narrowed row of a contiguous matrix is contiguous too: same storage, same pointer */
    at = tl_narrow(a, 0, 1, 1);
    tc = tl_contiguous(at);
    CHECK(tc == at);
    tl_release(tc);
    tl_release(at);
    tl_release(a);
}

TEST(contiguous_of_transposed_copies_in_c_order) {
    tl_scope s = tl_scope_begin();
    tl_tensor *a = tl_view(tl_arange(0, 6, 1, F32), TL_SHAPE(2, 3));
    tl_tensor *c = tl_contiguous(tl_t(a));
    REQUIRE(c != NULL);
    CHECK(has_shape(c, TL_SHAPE(3, 2)));
    CHECK(has_stride(c, STRIDES(2, 1)));
    CHECK(tl_is_contiguous(c));
    CHECK(!tl_same_storage(a, c));
    CHECK_NEAR(get2(c, 2, 1), 5.0, 0);
    CHECK_NEAR(get2(c, 0, 1), 3.0, 0);
    CHECK_EQ_INT(tl_storage_offset(c), 0);
    tl_scope_end(s);
}

/* ===== strides and offsets =================================================================== */

TEST(contiguous_strides) {
    tl_scope s = tl_scope_begin();
    const int64_t d[4] = {1, 2, 3, 4};
    tl_tensor *m = tl_from_data(d, TL_SHAPE(2, 2), I64); /* torch.tensor([[1,2],[3,4]]) */
    tl_tensor *c = tl_zeros(TL_SHAPE(2, 3, 4), F32);
    CHECK(has_stride(m, STRIDES(2, 1)));
    CHECK(has_stride(c, STRIDES(12, 4, 1)));
    CHECK(tl_is_contiguous(m) && tl_is_contiguous(c));
    CHECK_EQ_INT(tl_numel(c), 24);
    CHECK_EQ_INT(tl_ndim(tl_scalar_tensor(3, F32)), 0);
    CHECK_EQ_INT(tl_numel(tl_scalar_tensor(3, F32)), 1);
    CHECK_EQ_INT(tl_size(c, -1), 4);
    CHECK_EQ_INT(tl_size(c, -3), 2);
    CHECK_EQ_INT(tl_size(c, 1), 3);
    tl_scope_end(s);
}

TEST(transpose_and_permute_strides) {
    tl_scope s = tl_scope_begin();
    tl_tensor *a = tl_view(tl_arange(0, 24, 1, F32), TL_SHAPE(2, 3, 4));
    tl_tensor *t = tl_transpose(a, 0, 2);
    tl_tensor *p = tl_permute(a, TL_DIMS(2, 0, 1));
    tl_tensor *m = tl_t(tl_zeros(TL_SHAPE(2, 3), F32));
    CHECK(has_shape(t, TL_SHAPE(4, 3, 2)) && has_stride(t, STRIDES(1, 4, 12)));
    CHECK(has_shape(p, TL_SHAPE(4, 2, 3)) && has_stride(p, STRIDES(1, 12, 4)));
    CHECK(has_shape(m, TL_SHAPE(3, 2)) && has_stride(m, STRIDES(1, 3)));
    CHECK(!tl_is_contiguous(t) && !tl_is_contiguous(p) && !tl_is_contiguous(m));
    CHECK(has_stride(tl_transpose(a, -1, -2), STRIDES(12, 1, 4)));
    CHECK(has_stride(tl_permute(a, TL_DIMS(-3, -2, -1)), STRIDES(12, 4, 1)));
    CHECK_NEAR(get1(tl_select(tl_select(p, 0, 3), 0, 1), 2), 23.0, 0);
    tl_scope_end(s);
}

TEST(expand_gives_stride_zero) {
    tl_scope s = tl_scope_begin();
    tl_tensor *col = tl_view(tl_arange(0, 3, 1, F32), TL_SHAPE(3, 1));
    tl_tensor *e = tl_expand(col, TL_SHAPE(3, 4));
    tl_tensor *row = tl_arange(0, 3, 1, F32);
    tl_tensor *e2 = tl_expand(row, TL_SHAPE(2, 3));
    tl_tensor *e3 = tl_expand(col, TL_SHAPE(2, -1, 5));
    REQUIRE(e && e2 && e3);
    CHECK(has_shape(e, TL_SHAPE(3, 4)) && has_stride(e, STRIDES(1, 0)));
    CHECK(has_shape(e2, TL_SHAPE(2, 3)) && has_stride(e2, STRIDES(0, 1)));
    CHECK(has_shape(e3, TL_SHAPE(2, 3, 5)) && has_stride(e3, STRIDES(0, 1, 0)));
    CHECK(tl_same_storage(col, e));
    CHECK(!tl_is_contiguous(e));
    CHECK_NEAR(get2(e, 2, 3), 2.0, 0);
    CHECK_NEAR(get2(e2, 1, 2), 2.0, 0);
    CHECK(has_shape(tl_expand_as(row, tl_zeros(TL_SHAPE(4, 3), F32)), TL_SHAPE(4, 3)));
    /* materialised: a contiguous copy with ordinary strides */
    CHECK(has_stride(tl_contiguous(e), STRIDES(4, 1)));
    CHECK_NEAR(tl_item(tl_sum_all(e)), 12.0, 0);
    tl_scope_end(s);
}

TEST(slice_with_step_multiplies_stride) {
    tl_scope s = tl_scope_begin();
    tl_tensor *x = tl_view(tl_arange(0, 24, 1, F32), TL_SHAPE(2, 3, 4));
    tl_tensor *a = tl_slice(x, 1, 0, TL_END, 2);                   /* x[:, ::2] */
    tl_tensor *b = tl_slice(tl_slice(x, 1, 1, TL_END, 1), 2, 0, TL_END, 3); /* x[:, 1:, ::3] */
    REQUIRE(a && b);
    CHECK(has_shape(a, TL_SHAPE(2, 2, 4)) && has_stride(a, STRIDES(12, 8, 1)));
    CHECK_EQ_INT(tl_storage_offset(a), 0);
    CHECK(has_shape(b, TL_SHAPE(2, 2, 2)) && has_stride(b, STRIDES(12, 4, 3)));
    CHECK_EQ_INT(tl_storage_offset(b), 4);
    CHECK(tl_same_storage(x, b));
    {
        int64_t idx[3] = {1, 1, 1};
        CHECK_NEAR(tl_get(b, idx), 23.0, 0); /* x[1, 2, 3] */
    }
    tl_scope_end(s);
}

TEST(slice_python_rules) {
    tl_scope s = tl_scope_begin();
    tl_tensor *v = tl_arange(0, 10, 1, I64);
    tl_tensor *a = tl_slice(v, 0, -3, TL_END, 1); /* v[-3:] */
    tl_tensor *b = tl_slice(v, 0, 2, 100, 3);     /* v[2:100:3] */
    tl_tensor *c = tl_slice(v, 0, 5, 2, 1);       /* v[5:2] */
    tl_tensor *d = tl_slice(v, 0, -100, -8, 1);   /* v[-100:-8] */
    tl_tensor *e = tl_slice(v, -1, 20, 30, 1);    /* v[20:30] */
    REQUIRE(a && b && c && d && e);
    CHECK(has_shape(a, TL_SHAPE(3)));
    CHECK_NEAR(get1(a, 0), 7, 0);
    CHECK_EQ_INT(tl_storage_offset(a), 7);
    CHECK(has_shape(b, TL_SHAPE(3)) && has_stride(b, STRIDES(3)));
    CHECK_NEAR(get1(b, 2), 8, 0);
    CHECK(has_shape(c, TL_SHAPE(0)));
    CHECK(has_shape(d, TL_SHAPE(2)));
    CHECK_NEAR(get1(d, 1), 1, 0);
    CHECK(has_shape(e, TL_SHAPE(0)));
    tl_scope_end(s);
}

TEST(select_and_narrow_offsets) {
    tl_scope s = tl_scope_begin();
    tl_tensor *x = tl_view(tl_arange(0, 24, 1, F32), TL_SHAPE(2, 3, 4));
    tl_tensor *sel = tl_select(x, 1, 2);
    tl_tensor *sel_neg = tl_select(x, -1, -1);
    tl_tensor *nar = tl_narrow(x, 2, 1, 2);
    tl_tensor *chain = tl_select(tl_narrow(sel, 1, 1, 3), 0, 1);
    REQUIRE(sel && sel_neg && nar && chain);
    CHECK(has_shape(sel, TL_SHAPE(2, 4)) && has_stride(sel, STRIDES(12, 1)));
    CHECK_EQ_INT(tl_storage_offset(sel), 8);
    CHECK(has_shape(sel_neg, TL_SHAPE(2, 3)) && has_stride(sel_neg, STRIDES(12, 4)));
    CHECK_EQ_INT(tl_storage_offset(sel_neg), 3);
    CHECK(has_shape(nar, TL_SHAPE(2, 3, 2)) && has_stride(nar, STRIDES(12, 4, 1)));
    CHECK_EQ_INT(tl_storage_offset(nar), 1);
    CHECK(has_shape(chain, TL_SHAPE(3)));
    CHECK_EQ_INT(tl_storage_offset(chain), 21); /* x[1, 2, 1:4] */
    CHECK_NEAR(get1(chain, 0), 21.0, 0);
    CHECK(tl_data_ptr(chain) == (void *)((float *)tl_data_ptr(x) + 21));
    CHECK(!tl_is_contiguous(nar));
    CHECK(tl_is_contiguous(sel) == 0);
    CHECK(tl_is_contiguous(tl_select(x, 0, 1)));
    tl_scope_end(s);
}

TEST(squeeze_unsqueeze_flatten_views) {
    tl_scope s = tl_scope_begin();
    tl_tensor *x = tl_zeros(TL_SHAPE(2, 1, 3), F32);
    tl_tensor *m = tl_view(tl_arange(0, 6, 1, F32), TL_SHAPE(2, 3));
    CHECK(has_shape(tl_squeeze(x), TL_SHAPE(2, 3)));
    CHECK(has_stride(tl_squeeze_dim(x, 1), STRIDES(3, 1)));
    CHECK(has_shape(tl_squeeze_dim(x, 0), TL_SHAPE(2, 1, 3))); /* size 2: unchanged */
    CHECK(has_shape(tl_squeeze(tl_zeros(TL_SHAPE(1, 1), F32)), 0, NULL));
    CHECK(has_shape(tl_unsqueeze(m, 1), TL_SHAPE(2, 1, 3)));
    CHECK(has_stride(tl_unsqueeze(m, 1), STRIDES(3, 3, 1)));  /* torch: (3, 3, 1) */
    CHECK(has_stride(tl_unsqueeze(m, -1), STRIDES(3, 1, 1))); /* torch: (3, 1, 1) */
    CHECK(has_shape(tl_unsqueeze(tl_scalar_tensor(1, F32), 0), TL_SHAPE(1)));
    CHECK(has_shape(tl_flatten(tl_zeros(TL_SHAPE(2, 3, 4), F32), 1, 2), TL_SHAPE(2, 12)));
    CHECK(has_shape(tl_flatten(tl_scalar_tensor(1, F32), 0, -1), TL_SHAPE(1)));
    CHECK(has_shape(tl_unflatten(tl_zeros(TL_SHAPE(2, 12), F32), 1, TL_SHAPE(3, -1)),
                    TL_SHAPE(2, 3, 4)));
    CHECK(tl_same_storage(x, tl_squeeze(x)));
    CHECK(tl_same_storage(m, tl_unsqueeze(m, 0)));
    tl_scope_end(s);
}

TEST(view_infers_minus_one) {
    tl_scope s = tl_scope_begin();
    tl_tensor *a = tl_arange(0, 24, 1, F32);
    CHECK(has_shape(tl_view(a, TL_SHAPE(-1, 4)), TL_SHAPE(6, 4)));
    CHECK(has_shape(tl_view(a, TL_SHAPE(2, -1, 3)), TL_SHAPE(2, 4, 3)));
    CHECK(has_shape(tl_view(a, TL_SHAPE(1, -1)), TL_SHAPE(1, 24)));
    CHECK(has_shape(tl_view(tl_zeros(TL_SHAPE(0, 4), F32), TL_SHAPE(2, 0, 2)), TL_SHAPE(2, 0, 2)));
    CHECK(has_shape(tl_view(tl_ones(TL_SHAPE(1), F32), 0, NULL), 0, NULL));
    /* a view of a non-contiguous tensor that the strides allow: x[:, :, 0] has strides (12, 4),
       which merge into one dim of stride 4 (torch: .view(6).stride() == (4,)) */
    {
        tl_tensor *x = tl_view(a, TL_SHAPE(2, 3, 4));
        tl_tensor *v = tl_view(tl_select(x, 2, 0), TL_SHAPE(6));
        CHECK(has_shape(v, TL_SHAPE(6)) && has_stride(v, STRIDES(4)));
        CHECK(tl_same_storage(a, v));
        if (v) CHECK_NEAR(get1(v, 5), 20.0, 0);
        /* x[:, 0, :] has strides (12, 1): not flat, so view fails and reshape copies */
        CHECK(tl_view(tl_select(x, 1, 0), TL_SHAPE(8)) == NULL);
        CHECK_EQ_INT(tl_last_status(), TL_ERR_SHAPE);
        tl_clear_error();
        CHECK(!tl_same_storage(a, tl_reshape(tl_select(x, 1, 0), TL_SHAPE(8))));
    }
    tl_scope_end(s);
}

/* ===== split / chunk ========================================================================= */

TEST(split_counts_and_views) {
    tl_scope s = tl_scope_begin();
    tl_tensor *v = tl_arange(0, 10, 1, F32), *out[8];
    int n = tl_split(v, 3, 0, out, 8), i;
    const int64_t sizes[4] = {3, 3, 3, 1};
    REQUIRE(n == 4);
    for (i = 0; i < 4; i++) {
        CHECK_EQ_INT(tl_size(out[i], 0), sizes[i]);
        CHECK(tl_same_storage(v, out[i]));
        CHECK_EQ_INT(tl_storage_offset(out[i]), 3 * i);
    }
    CHECK_NEAR(get1(out[3], 0), 9.0, 0);
    CHECK_EQ_INT(tl_set(out[1], (const int64_t[]){0}, 100), TL_OK);
    CHECK_NEAR(get1(v, 3), 100.0, 0);
    /* exactly enough room */
    CHECK_EQ_INT(tl_split(v, 5, -1, out, 2), 2);
    CHECK_EQ_INT(tl_split(v, 20, 0, out, 1), 1);
    CHECK_EQ_INT(tl_size(out[0], 0), 10);
    tl_scope_end(s);
}

TEST(split_along_inner_dim) {
    tl_scope s = tl_scope_begin();
    tl_tensor *m = tl_view(tl_arange(0, 12, 1, F32), TL_SHAPE(3, 4)), *out[4];
    int n = tl_split(m, 3, 1, out, 4);
    REQUIRE(n == 2);
    CHECK(has_shape(out[0], TL_SHAPE(3, 3)) && has_stride(out[0], STRIDES(4, 1)));
    CHECK(has_shape(out[1], TL_SHAPE(3, 1)));
    CHECK_EQ_INT(tl_storage_offset(out[1]), 3);
    CHECK_NEAR(get2(out[1], 2, 0), 11.0, 0);
    tl_scope_end(s);
}

TEST(chunk_counts) {
    tl_scope s = tl_scope_begin();
    tl_tensor *out[8];
    int n, i;
    n = tl_chunk(tl_arange(0, 10, 1, F32), 4, 0, out, 8); /* sizes 3, 3, 3, 1 */
    CHECK_EQ_INT(n, 4);
    if (n == 4) CHECK_EQ_INT(tl_size(out[3], 0), 1);
    n = tl_chunk(tl_arange(0, 10, 1, F32), 6, 0, out, 8); /* 5 chunks of 2 */
    CHECK_EQ_INT(n, 5);
    for (i = 0; i < n && i < 8; i++) CHECK_EQ_INT(tl_size(out[i], 0), 2);
    n = tl_chunk(tl_arange(0, 5, 1, F32), 4, 0, out, 8); /* sizes 2, 2, 1 */
    CHECK_EQ_INT(n, 3);
    if (n == 3) CHECK_EQ_INT(tl_size(out[2], 0), 1);
    n = tl_chunk(tl_zeros(TL_SHAPE(2, 6), F32), 3, 1, out, 8);
    CHECK_EQ_INT(n, 3);
    if (n == 3) CHECK(has_shape(out[2], TL_SHAPE(2, 2)) && tl_storage_offset(out[2]) == 4);
    tl_scope_end(s);
}

/* ===== element access ======================================================================== */

TEST(get_set_negative_indices) {
    tl_scope s = tl_scope_begin();
    tl_tensor *m = tl_view(tl_arange(0, 12, 1, F64), TL_SHAPE(3, 4));
    CHECK_NEAR(get2(m, -1, -1), 11.0, 0);
    CHECK_NEAR(get2(m, -3, 1), 1.0, 0);
    CHECK_EQ_INT(set2(m, -2, -4, 0.125), TL_OK);
    CHECK_NEAR(get2(m, 1, 0), 0.125, 0);
    CHECK_NEAR(tl_get(tl_scalar_tensor(2.5, F64), NULL), 2.5, 0);
    {
        tl_tensor *b = tl_zeros(TL_SHAPE(2), TL_BOOL);
        tl_tensor *u = tl_zeros(TL_SHAPE(2), TL_U8);
        CHECK_EQ_INT(tl_set(b, (const int64_t[]){1}, 3.0), TL_OK);
        CHECK_NEAR(get1(b, 1), 1.0, 0); /* bool stores true */
        CHECK_EQ_INT(tl_set(u, (const int64_t[]){0}, 255), TL_OK);
        CHECK_NEAR(get1(u, 0), 255.0, 0);
    }
    CHECK_EQ_INT(tl_last_status(), TL_OK);
    tl_scope_end(s);
}

TEST(item_values) {
    tl_scope s = tl_scope_begin();
    CHECK_NEAR(tl_item(tl_scalar_tensor(-3.5, F32)), -3.5, 0);
    CHECK_NEAR(tl_item(tl_full(TL_SHAPE(1, 1), 4.0, F64)), 4.0, 0);
    CHECK_NEAR(tl_item(tl_scalar_tensor(1, TL_BOOL)), 1.0, 0);
    CHECK_EQ_INT(tl_item_i64(tl_scalar_tensor(-7, TL_I8)), -7);
    CHECK_EQ_INT(tl_item_i64(tl_scalar_tensor(200, TL_U8)), 200);
    CHECK_EQ_INT(tl_last_status(), TL_OK);
    tl_scope_end(s);
}

TEST(item_i64_is_exact_for_large_values) {
    tl_scope s = tl_scope_begin();
    const int64_t big[3] = {((int64_t)1 << 62) + 1, INT64_MIN, INT64_MAX};
    tl_tensor *t = tl_from_data(big, TL_SHAPE(3), I64);
    int64_t back[3];
    REQUIRE(t != NULL);
    CHECK(tl_item_i64(tl_select(t, 0, 0)) == ((int64_t)1 << 62) + 1);
    CHECK(tl_item_i64(tl_select(t, 0, 1)) == INT64_MIN);
    CHECK(tl_item_i64(tl_select(t, 0, -1)) == INT64_MAX);
    CHECK_EQ_INT(tl_copy_to_buffer(t, back, I64), TL_OK);
    CHECK(memcmp(back, big, sizeof big) == 0);
    /* clone and a view keep every bit */
    CHECK(tl_item_i64(tl_select(tl_clone(t), 0, 0)) == ((int64_t)1 << 62) + 1);
    CHECK_EQ_INT(tl_last_status(), TL_OK);
    tl_scope_end(s);
}

TEST(copy_to_buffer_from_views_converts) {
    tl_scope s = tl_scope_begin();
    tl_tensor *m = tl_view(tl_arange(0, 6, 1, F32), TL_SHAPE(2, 3));
    int32_t i32[6];
    double f64[4];
    float f32[4];
    const int32_t want_t[6] = {0, 3, 1, 4, 2, 5};
    int i;
    CHECK_EQ_INT(tl_copy_to_buffer(tl_t(m), i32, TL_I32), TL_OK);
    for (i = 0; i < 6; i++) CHECK_EQ_INT(i32[i], want_t[i]);
    CHECK_EQ_INT(tl_copy_to_buffer(tl_expand(tl_slice(tl_select(m, 0, 1), 0, 0, TL_END, 2),
                                             TL_SHAPE(2, 2)), f64, F64), TL_OK);
    CHECK_NEAR(f64[0], 3, 0);
    CHECK_NEAR(f64[1], 5, 0);
    CHECK_NEAR(f64[2], 3, 0);
    CHECK_NEAR(f64[3], 5, 0);
    {
        const double src[4] = {1.5, -2.5, 300.7, -7.9};
        int64_t i64[4];
        uint8_t b[4];
        tl_tensor *t = tl_from_data(src, TL_SHAPE(4), F64);
        CHECK_EQ_INT(tl_copy_to_buffer(t, i64, I64), TL_OK); /* truncation toward zero */
        CHECK_EQ_INT(i64[0], 1);
        CHECK_EQ_INT(i64[1], -2);
        CHECK_EQ_INT(i64[2], 300);
        CHECK_EQ_INT(i64[3], -7);
        CHECK_EQ_INT(tl_copy_to_buffer(t, b, TL_BOOL), TL_OK);
        CHECK(b[0] == 1 && b[1] == 1 && b[2] == 1 && b[3] == 1);
        CHECK_EQ_INT(tl_copy_to_buffer(t, f32, F32), TL_OK);
        CHECK_NEAR(f32[2], (float)300.7, 0);
    }
    tl_scope_end(s);
}

/* ===== half precision ======================================================================== */

TEST(float16_round_trip) {
    tl_scope s = tl_scope_begin();
    tl_tensor *x = tl_scalar_tensor(1.0 / 3.0, F32);
    tl_tensor *h = tl_to_dtype(x, TL_F16);
    tl_tensor *back = tl_to_dtype(h, F32);
    uint16_t bits = 0;
    REQUIRE(back != NULL);
    CHECK_EQ_INT(tl_dtype_of(h), TL_F16);
    CHECK_EQ_INT(tl_dtype_size(tl_dtype_of(h)), 2);
    CHECK_NEAR(tl_item(back), 0.333251953125, 0); /* numpy.float16(1/3) */
    CHECK_NEAR(tl_item(h), 0.333251953125, 0);
    CHECK_EQ_INT(tl_copy_to_buffer(h, &bits, TL_F16), TL_OK);
    CHECK_EQ_INT(bits, 0x3555);
    /* from float64 directly */
    CHECK_NEAR(tl_item(tl_scalar_tensor(1.0 / 3.0, TL_F16)), 0.333251953125, 0);
    tl_scope_end(s);
}

TEST(float16_special_values) {
    tl_scope s = tl_scope_begin();
    const float src[7] = {70000.0f, 65504.0f, 1e-7f, 65520.0f, -0.0f, 2049.0f, 2051.0f};
    /* torch.tensor(v).half().float() */
    const double want[7] = {INFINITY, 65504.0, 1.1920928955078125e-07, INFINITY, -0.0, 2048.0,
                            2052.0};
    tl_tensor *h = tl_to_dtype(tl_from_data(src, TL_SHAPE(7), F32), TL_F16);
    float back[7];
    int i;
    REQUIRE(h != NULL);
    CHECK_EQ_INT(tl_copy_to_buffer(h, back, F32), TL_OK);
    for (i = 0; i < 7; i++) CHECK_NEAR(back[i], want[i], 0);
    CHECK(signbit(back[4]));
    {
        tl_tensor *n = tl_to_dtype(tl_scalar_tensor(NAN, F32), TL_F16);
        CHECK(isnan(tl_item(n)));
    }
    tl_scope_end(s);
}

TEST(bfloat16_round_trip) {
    tl_scope s = tl_scope_begin();
    const float src[5] = {1.0f / 3.0f, 70000.0f, 65504.0f, 1e-7f, 65520.0f};
    /* torch.tensor(v).bfloat16().float() */
    const double want[5] = {0.333984375, 70144.0, 65536.0, 1.0011717677116394e-07, 65536.0};
    tl_tensor *b = tl_to_dtype(tl_from_data(src, TL_SHAPE(5), F32), TL_BF16);
    float back[5];
    uint16_t bits = 0;
    int i;
    REQUIRE(b != NULL);
    CHECK_EQ_INT(tl_dtype_of(b), TL_BF16);
    CHECK_EQ_INT(tl_copy_to_buffer(b, back, F32), TL_OK);
    for (i = 0; i < 5; i++) CHECK_NEAR(back[i], want[i], 0);
    CHECK_EQ_INT(tl_copy_to_buffer(tl_select(b, 0, 0), &bits, TL_BF16), TL_OK);
    CHECK_EQ_INT(bits, 0x3eab);
    CHECK_NEAR(tl_item(tl_scalar_tensor(1.0 / 3.0, TL_BF16)), 0.333984375, 0);
    tl_scope_end(s);
}

TEST(float_to_integer_conversions) {
    tl_scope s = tl_scope_begin();
    const float src[5] = {1.5f, 2.5f, -1.5f, 300.7f, -7.9f};
    tl_tensor *f = tl_from_data(src, TL_SHAPE(5), F32);
    tl_tensor *i = tl_to_dtype(f, I64);
    tl_tensor *b = tl_to_dtype(tl_from_data((const float[]){0.5f, 0.0f, -2.0f}, TL_SHAPE(3), F32),
                               TL_BOOL);
    int64_t iv[5];
    uint8_t bv[3];
    REQUIRE(i && b);
    CHECK_EQ_INT(tl_copy_to_buffer(i, iv, I64), TL_OK);
    CHECK(iv[0] == 1 && iv[1] == 2 && iv[2] == -1 && iv[3] == 300 && iv[4] == -7);
    CHECK_EQ_INT(tl_copy_to_buffer(b, bv, TL_BOOL), TL_OK);
    CHECK(bv[0] == 1 && bv[1] == 0 && bv[2] == 1);
    tl_scope_end(s);
}

TEST(to_dtype_same_dtype_is_same_tensor) {
    tl_tensor *a = tl_zeros(TL_SHAPE(3), F32);
    tl_tensor *b = tl_to_dtype(a, F32);
    tl_tensor *c = tl_to_dtype(a, F64);
    REQUIRE(b && c);
    CHECK(b == a);
    CHECK(!tl_same_storage(a, c));
    CHECK_EQ_INT(tl_dtype_of(c), F64);
    tl_release(b);
    tl_release(c);
    CHECK_EQ_INT(live_t(), 1);
    tl_release(a);
}

TEST(clone_is_a_contiguous_copy) {
    tl_scope s = tl_scope_begin();
    tl_tensor *m = tl_view(tl_arange(0, 6, 1, TL_I32), TL_SHAPE(2, 3));
    tl_tensor *c = tl_clone(tl_t(m));
    REQUIRE(c != NULL);
    CHECK(!tl_same_storage(m, c));
    CHECK(tl_is_contiguous(c));
    CHECK_EQ_INT(tl_dtype_of(c), TL_I32);
    CHECK(has_shape(c, TL_SHAPE(3, 2)) && has_stride(c, STRIDES(2, 1)));
    CHECK_EQ_INT(set2(c, 0, 0, 99), TL_OK);
    CHECK_NEAR(get2(m, 0, 0), 0, 0);
    tl_scope_end(s);
}

/* ===== dtype helpers ========================================================================= */

TEST(dtype_names_and_sizes) {
    static const char *names[TL_DTYPE_COUNT] = {"float32", "float64", "float16", "bfloat16",
                                                "int64",   "int32",   "int16",   "int8",
                                                "uint8",   "bool"};
    static const size_t sizes[TL_DTYPE_COUNT] = {4, 8, 2, 2, 8, 4, 2, 1, 1, 1};
    static const int floating[TL_DTYPE_COUNT] = {1, 1, 1, 1, 0, 0, 0, 0, 0, 0};
    int d;
    for (d = 0; d < TL_DTYPE_COUNT; d++) {
        CHECK_STR(tl_dtype_name((tl_dtype)d), names[d]);
        CHECK_EQ_INT(tl_dtype_size((tl_dtype)d), sizes[d]);
        CHECK_EQ_INT(tl_dtype_is_floating((tl_dtype)d), floating[d]);
    }
    CHECK_EQ_INT(tl_dtype_size(TL_DTYPE_COUNT), 0);
    CHECK_EQ_INT(tl_dtype_size((tl_dtype)-1), 0);
    CHECK(tl_dtype_name(TL_DTYPE_COUNT) != NULL);
    CHECK(tl_dtype_name((tl_dtype)77) != NULL);
    CHECK_EQ_INT(tl_dtype_is_floating((tl_dtype)77), 0);
}

TEST(promote_types_matches_torch) {
    /* torch.promote_types(row, col), order F32 F64 F16 BF16 I64 I32 I16 I8 U8 BOOL */
#define A_ TL_F32
#define B_ TL_F64
#define C_ TL_F16
#define D_ TL_BF16
#define E_ TL_I64
#define G_ TL_I32
#define H_ TL_I16
#define J_ TL_I8
#define K_ TL_U8
#define L_ TL_BOOL
    static const tl_dtype table[TL_DTYPE_COUNT][TL_DTYPE_COUNT] = {
        {A_, B_, A_, A_, A_, A_, A_, A_, A_, A_}, /* float32 */
        {B_, B_, B_, B_, B_, B_, B_, B_, B_, B_}, /* float64 */
        {A_, B_, C_, A_, C_, C_, C_, C_, C_, C_}, /* float16 */
        {A_, B_, A_, D_, D_, D_, D_, D_, D_, D_}, /* bfloat16 */
        {A_, B_, C_, D_, E_, E_, E_, E_, E_, E_}, /* int64 */
        {A_, B_, C_, D_, E_, G_, G_, G_, G_, G_}, /* int32 */
        {A_, B_, C_, D_, E_, G_, H_, H_, H_, H_}, /* int16 */
        {A_, B_, C_, D_, E_, G_, H_, J_, H_, J_}, /* int8 */
        {A_, B_, C_, D_, E_, G_, H_, H_, K_, K_}, /* uint8 */
        {A_, B_, C_, D_, E_, G_, H_, J_, K_, L_}, /* bool */
    };
#undef A_
#undef B_
#undef C_
#undef D_
#undef E_
#undef G_
#undef H_
#undef J_
#undef K_
#undef L_
    int a, b, bad = 0;
    for (a = 0; a < TL_DTYPE_COUNT; a++)
        for (b = 0; b < TL_DTYPE_COUNT; b++)
            if (tl_promote_types((tl_dtype)a, (tl_dtype)b) != table[a][b]) {
                printf("    promote_types(%s, %s) = %s, torch says %s\n",
                       tl_dtype_name((tl_dtype)a), tl_dtype_name((tl_dtype)b),
                       tl_dtype_name(tl_promote_types((tl_dtype)a, (tl_dtype)b)),
                       tl_dtype_name(table[a][b]));
                bad++;
            }
    CHECK_EQ_INT(bad, 0);
}

/* ===== misc semantics ======================================================================== */

TEST(empty_tensors) {
    tl_scope s = tl_scope_begin();
    tl_tensor *e = tl_zeros(TL_SHAPE(0, 3), F32);
    REQUIRE(e != NULL);
    CHECK_EQ_INT(tl_numel(e), 0);
    CHECK(has_shape(e, TL_SHAPE(0, 3)));
    CHECK(tl_is_contiguous(e));
    CHECK(has_shape(tl_sum(e, 0, 0), TL_SHAPE(3)));
    CHECK_NEAR(tl_item(tl_sum_all(e)), 0.0, 0);
    CHECK_NEAR(tl_item(tl_prod_all(e)), 1.0, 0);
    CHECK(has_shape(tl_arange(5, 5, 1, I64), TL_SHAPE(0)));
    CHECK(has_shape(tl_linspace(0, 1, 0, F32), TL_SHAPE(0)));
    CHECK(has_shape(tl_t(e), TL_SHAPE(3, 0)));
    CHECK_EQ_INT(tl_last_status(), TL_OK);
    tl_scope_end(s);
}

TEST(like_constructors_copy_shape_and_dtype) {
    tl_scope s = tl_scope_begin();
    tl_tensor *src = tl_t(tl_zeros(TL_SHAPE(2, 3), TL_I32));
    tl_tensor *z = tl_zeros_like(src), *o = tl_ones_like(src), *f = tl_full_like(src, 7);
    tl_tensor *e = tl_empty_like(src);
    REQUIRE(z && o && f && e);
    CHECK(has_shape(z, TL_SHAPE(3, 2)) && has_shape(e, TL_SHAPE(3, 2)));
    CHECK_EQ_INT(tl_dtype_of(o), TL_I32);
    CHECK_EQ_INT(tl_dtype_of(e), TL_I32);
    CHECK(!tl_same_storage(src, z));
    CHECK_NEAR(tl_item(tl_sum_all(o)), 6, 0);
    CHECK_NEAR(get2(f, 2, 1), 7, 0);
    CHECK_EQ_INT(tl_item_i64(tl_sum_all(tl_eye(3, 4, I64))), 3);
    CHECK(has_shape(tl_eye(3, -1, F32), TL_SHAPE(3, 3)));
    tl_scope_end(s);
}

TEST(scalar_arguments_follow_python_number_rules) {
    tl_scope s = tl_scope_begin();
    tl_tensor *i = tl_arange(0, 3, 1, I64);
    CHECK_EQ_INT(tl_dtype_of(tl_mul_scalar(i, 2)), I64);
    CHECK_EQ_INT(tl_dtype_of(tl_mul_scalar(i, 0.5)), F32);
    CHECK_EQ_INT(tl_dtype_of(tl_add_scalar(tl_zeros(TL_SHAPE(2), TL_F16), 1.5)), TL_F16);
    CHECK_EQ_INT(tl_dtype_of(tl_div(i, i)), F32);
    CHECK_EQ_INT(tl_dtype_of(tl_sum_all(tl_zeros(TL_SHAPE(2), TL_BOOL))), I64);
    /* a 0-dim tensor of a higher category decides the dtype (torch: float64, not float32) */
    CHECK_EQ_INT(tl_dtype_of(tl_add(i, tl_scalar_tensor(1.5, F64))), F64);
    CHECK_EQ_INT(tl_dtype_of(tl_add(tl_zeros(TL_SHAPE(2), TL_U8), tl_scalar_tensor(300, I64))),
                 TL_U8);
    CHECK_EQ_INT(tl_last_status(), TL_OK);
    tl_scope_end(s);
}

TEST(max_indices_are_new_references) {
    tl_scope s = tl_scope_begin();
    const float d[6] = {1, 5, 2, 7, 0, 3};
    tl_tensor *m = tl_from_data(d, TL_SHAPE(2, 3), F32), *ix = NULL;
    tl_tensor *v = tl_max(m, 1, 0, &ix);
    REQUIRE(v && ix);
    CHECK_EQ_INT(tl_dtype_of(ix), I64);
    CHECK_NEAR(get1(v, 0), 5, 0);
    CHECK_NEAR(get1(v, 1), 7, 0);
    CHECK_NEAR(get1(ix, 0), 1, 0);
    CHECK_NEAR(get1(ix, 1), 0, 0);
    tl_scope_end(s);
}

TEST(to_string_small) {
    tl_scope s = tl_scope_begin();
    char buf[64];
    int n = tl_to_string(tl_arange(0, 3, 1, F32), buf, sizeof buf);
    CHECK_EQ_INT(n, (int)strlen("tensor([0., 1., 2.])"));
    CHECK_STR(buf, "tensor([0., 1., 2.])");
    n = tl_to_string(tl_arange(0, 3, 1, F32), buf, 5); /* truncated, still terminated */
    CHECK_EQ_INT(n, 20);
    CHECK_STR(buf, "tens");
    tl_scope_end(s);
}

TEST(shutdown_keeps_live_tensors_valid) {
    tl_tensor *t = tl_arange(0, 4, 1, F32), *u;
    REQUIRE(t != NULL);
    tl_shutdown();
    CHECK_NEAR(get1(t, 3), 3.0, 0);
    u = tl_add(t, t);
    REQUIRE(u != NULL);
    CHECK_NEAR(get1(u, 3), 6.0, 0);
    tl_release(u);
    tl_release(t);
    tl_shutdown();
    CHECK_EQ_INT(live_t(), 0);
}

TEST(inplace_ops_create_no_reference) {
    tl_scope s = tl_scope_begin();
    tl_tensor *a = tl_ones(TL_SHAPE(2, 3), F32), *b = tl_ones(TL_SHAPE(3), F32);
    long t0 = live_t(), s0 = live_s();
    CHECK_EQ_INT(tl_add_(a, b), TL_OK);
    CHECK_EQ_INT(tl_mul_scalar_(a, 3), TL_OK);
    CHECK_EQ_INT(tl_exp_(a), TL_OK);
    CHECK_EQ_INT(tl_clamp_(a, 0, 100), TL_OK);
    CHECK_EQ_INT(tl_copy_(a, b), TL_OK);
    CHECK_EQ_INT(tl_zero_(a), TL_OK);
    CHECK_EQ_INT(tl_masked_fill_(a, tl_gt_scalar(b, 0), 2), TL_OK); /* the mask is one tensor */
    CHECK_EQ_INT(live_t(), t0 + 1);
    CHECK_EQ_INT(live_s(), s0 + 1);
    CHECK_NEAR(get2(a, 1, 2), 2.0, 0);
    tl_scope_end(s);
}

/* every op returns one new tensor and frees its own temporaries at once (not at scope end) */
TEST(ops_leave_exactly_one_new_tensor) {
    tl_scope s = tl_scope_begin();
    tl_tensor *a = tl_view(tl_arange(0, 12, 1, F32), TL_SHAPE(3, 4));
    tl_tensor *b = tl_full(TL_SHAPE(4, 2), 0.5, F32);
    tl_tensor *v = tl_arange(0, 4, 1, F32);
    tl_tensor *ix = tl_arange(0, 2, 1, I64);
    tl_tensor *list[2];
    long t0, s0;
    int k;
    list[0] = a;
    list[1] = a;
    for (k = 0; k < 22; k++) {
        tl_tensor *r = NULL;
        t0 = live_t();
        s0 = live_s();
        switch (k) {
        case 0: r = tl_matmul(a, b); break;
        case 1: r = tl_matmul(tl_t(b), tl_t(a)); t0++; t0++; s0 += 0; break;
        case 2: r = tl_mv(a, v); break;
        case 3: r = tl_softmax(a, 1); break;
        case 4: r = tl_log_softmax(tl_t(a), 0); t0++; break;
        case 5: r = tl_var(a, 1, 1, 0); break;
        case 6: r = tl_norm_all(a, 2.0); break;
        case 7: r = tl_logsumexp(a, 0, 1); break;
        case 8: r = tl_cat(2, list, 1); break;
        case 9: r = tl_stack(2, list, 0); break;
        case 10: r = tl_index_select(a, 1, ix); break;
        case 11: r = tl_add(tl_t(a), tl_view(v, TL_SHAPE(4, 1))); t0 += 2; break;
        case 12: r = tl_reshape(tl_t(a), TL_SHAPE(12)); t0++; break;
        case 13: r = tl_cumsum(a, 1); break;
        case 14: r = tl_gelu(a, 1); break;
        case 15: r = tl_where(tl_gt_scalar(a, 5), a, tl_scalar_tensor(0, F32)); t0 += 2; s0 += 2; break;
        case 16: r = tl_std_all(a, 1); break;
        case 17: r = tl_mean_dims(a, TL_DIMS(0, 1), 0); break;
        case 18: r = tl_pow_scalar(a, 2.5); break;
        case 19: r = tl_bmm(tl_unsqueeze(a, 0), tl_unsqueeze(b, 0)); t0 += 2; break;
        case 20: r = tl_max_all(tl_t(a)); t0++; break;
        case 21: r = tl_to_dtype(tl_t(a), F64); t0++; break;
        }
        if (!CHECK(r != NULL)) {
            printf("    op %d: %s\n", k, tl_last_error());
            continue;
        }
        if (!CHECK(live_t() == t0 + 1 && live_s() == s0 + 1))
            printf("    op %d: %ld tensors and %ld storages more than expected\n", k,
                   live_t() - (t0 + 1), live_s() - (s0 + 1));
    }
    tl_scope_end(s);
}

TEST(to_string_sizes) {
    tl_scope s = tl_scope_begin();
    tl_tensor *t = tl_arange(0, 3, 1, I64);
    char small[4];
    int n = tl_to_string(t, NULL, 0); /* just the length */
    CHECK_EQ_INT(n, (int)strlen("tensor([0, 1, 2])"));
    small[0] = 'x';
    CHECK_EQ_INT(tl_to_string(t, small, 1), n);
    CHECK_EQ_INT(small[0], 0);
    tl_scope_end(s);
}

TEST(float16_storage_access) {
    tl_scope s = tl_scope_begin();
    tl_tensor *h = tl_zeros(TL_SHAPE(2, 2), TL_F16);
    tl_tensor *b = tl_full(TL_SHAPE(3), 1.0 / 3.0, TL_BF16);
    REQUIRE(h && b);
    CHECK_EQ_INT(set2(h, 1, 0, 1.0 / 3.0), TL_OK);
    CHECK_NEAR(get2(h, 1, 0), 0.333251953125, 0);
    CHECK_NEAR(get1(b, 2), 0.333984375, 0);
    CHECK_EQ_INT(tl_dtype_of(tl_add(h, h)), TL_F16);
    CHECK_NEAR(get2(tl_add(h, h), 1, 0), 0.66650390625, 0);
    CHECK_EQ_INT(tl_dtype_of(tl_add(h, tl_zeros(TL_SHAPE(2), TL_BF16))), F32);
    tl_scope_end(s);
}

TEST(contiguity_rules_and_stride_zero_views) {
    tl_scope s = tl_scope_begin();
    tl_tensor *x = tl_zeros(TL_SHAPE(2, 3), F32);
    tl_tensor *e = tl_expand(tl_zeros(TL_SHAPE(3, 1), F32), TL_SHAPE(3, 4));
    tl_tensor *v, *a;
    /* torch ignores the strides of size-1 dims */
    CHECK(tl_is_contiguous(tl_narrow(x, 0, 0, 1)));  /* [1, 3] (3, 1): True */
    CHECK(!tl_is_contiguous(tl_narrow(x, 1, 0, 1))); /* [2, 1] (3, 1): False */
    CHECK(tl_is_contiguous(tl_t(tl_zeros(TL_SHAPE(1, 3), F32)))); /* [3, 1] (1, 3): True */
    CHECK(!tl_is_contiguous(tl_slice(x, 1, 0, TL_END, 2)));
    CHECK(has_stride(tl_contiguous(tl_slice(x, 1, 0, TL_END, 2)), STRIDES(2, 1)));
    /* views of stride-0 dims: split keeps stride 0; merging them is impossible */
    v = tl_view(e, TL_SHAPE(3, 2, 2));
    CHECK(has_shape(v, TL_SHAPE(3, 2, 2)) && has_stride(v, STRIDES(1, 0, 0)));
    CHECK(tl_view(e, TL_SHAPE(12)) == NULL);
    CHECK_EQ_INT(tl_last_status(), TL_ERR_SHAPE);
    tl_clear_error();
    CHECK(!tl_same_storage(e, tl_reshape(e, TL_SHAPE(12))));
    CHECK(has_stride(tl_expand(tl_scalar_tensor(5, F32), TL_SHAPE(2, 3)), STRIDES(0, 0)));
    /* an in-place op whose operand is the destination itself */
    a = tl_view(tl_arange(0, 4, 1, F32), TL_SHAPE(2, 2));
    CHECK_EQ_INT(tl_add_(a, a), TL_OK);
    CHECK_NEAR(get2(a, 1, 1), 6.0, 0);
    CHECK_EQ_INT(tl_mul_(a, a), TL_OK);
    CHECK_NEAR(get2(a, 1, 0), 16.0, 0);
    CHECK(has_shape(tl_unflatten(tl_zeros(TL_SHAPE(2, 12), F32), 1, TL_SHAPE(-1, 4)),
                    TL_SHAPE(2, 3, 4)));
    CHECK(has_stride(tl_squeeze(tl_zeros(TL_SHAPE(4, 1, 3), F32)), STRIDES(3, 1)));
    tl_scope_end(s);
}

TEST(live_counters_are_zero_at_the_end) {
    tl_shutdown();
    CHECK_EQ_INT(tl_debug_live_tensors(), 0);
    CHECK_EQ_INT(tl_debug_live_storages(), 0);
}

static const th_case tests[] = {
    TH_CASE(new_reference_and_release),
    TH_CASE(retain_adds_a_reference),
    TH_CASE(scope_releases_everything_created_inside),
    TH_CASE(keep_moves_to_parent_scope),
    TH_CASE(keep_outside_any_scope_hands_to_caller),
    TH_CASE(keep_through_two_levels),
    TH_CASE(ending_outer_scope_ends_inner_ones),
    TH_CASE(retain_inside_scope_is_owned_by_scope),
    TH_CASE(views_in_scope_outlive_released_base),
    TH_CASE(view_writes_are_seen_by_base),
    TH_CASE(transposed_view_writes_through),
    TH_CASE(release_base_keeps_view_valid),
    TH_CASE(inplace_op_on_view_changes_base),
    TH_CASE(from_buffer_borrows_without_copy),
    TH_CASE(from_buffer_release_once_with_many_views),
    TH_CASE(from_buffer_null_release),
    TH_CASE(from_data_copies),
    TH_CASE(reshape_of_contiguous_is_a_view),
    TH_CASE(reshape_of_transposed_copies),
    TH_CASE(contiguous_returns_same_when_contiguous),
    TH_CASE(contiguous_of_transposed_copies_in_c_order),
    TH_CASE(contiguous_strides),
    TH_CASE(transpose_and_permute_strides),
    TH_CASE(expand_gives_stride_zero),
    TH_CASE(slice_with_step_multiplies_stride),
    TH_CASE(slice_python_rules),
    TH_CASE(select_and_narrow_offsets),
    TH_CASE(squeeze_unsqueeze_flatten_views),
    TH_CASE(view_infers_minus_one),
    TH_CASE(split_counts_and_views),
    TH_CASE(split_along_inner_dim),
    TH_CASE(chunk_counts),
    TH_CASE(get_set_negative_indices),
    TH_CASE(item_values),
    TH_CASE(item_i64_is_exact_for_large_values),
    TH_CASE(copy_to_buffer_from_views_converts),
    TH_CASE(float16_round_trip),
    TH_CASE(float16_special_values),
    TH_CASE(bfloat16_round_trip),
    TH_CASE(float_to_integer_conversions),
    TH_CASE(to_dtype_same_dtype_is_same_tensor),
    TH_CASE(clone_is_a_contiguous_copy),
    TH_CASE(dtype_names_and_sizes),
    TH_CASE(promote_types_matches_torch),
    TH_CASE(empty_tensors),
    TH_CASE(like_constructors_copy_shape_and_dtype),
    TH_CASE(scalar_arguments_follow_python_number_rules),
    TH_CASE(max_indices_are_new_references),
    TH_CASE(to_string_small),
    TH_CASE(shutdown_keeps_live_tensors_valid),
    TH_CASE(inplace_ops_create_no_reference),
    TH_CASE(ops_leave_exactly_one_new_tensor),
    TH_CASE(to_string_sizes),
    TH_CASE(float16_storage_access),
    TH_CASE(contiguity_rules_and_stride_zero_views),
    TH_CASE(live_counters_are_zero_at_the_end),
};

int main(void) { return TH_RUN(tests); }
