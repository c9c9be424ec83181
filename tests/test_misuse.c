/* tests/test_misuse.c - misuse caught where it happens (issue 13): a second release of a tensor,
   and (TL_DEBUG builds, the default without NDEBUG) a release of a reference the caller does not
   hold, such as one a scope owns, are errors at the tl_release call that name the tensor and the
   call that made it, instead of a use-after-free found 100 frames later at tl_scope_end. Runs
   under ASan in make test: none of these may produce a report. Plus the messages fixed with it. */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include "harness.h"

static int error_says(tl_status st, const char *a, const char *b) {
    int ok = tl_last_status() == st && strstr(tl_last_error(), a) != NULL && (!b || strstr(tl_last_error(), b) != NULL);
    if (!ok) printf("    expected %s with \"%s\"%s%s, got %s: %s\n", tl_status_str(st), a, b ? " and " : "", b ? b : "",
                    tl_status_str(tl_last_status()), tl_last_error());
    tl_clear_error();
    return ok;
}

TEST(second_release_is_an_error_at_the_call) {
    tl_tensor *t = tl_zeros(TL_SHAPE(2, 3), TL_F32);
    REQUIRE(t != NULL);
    tl_release(t);
    tl_release(t); /* the header is dead (in the cache): refused, nothing touched */
    CHECK(error_says(TL_ERR_STATE, "tl_release: the float32 [2, 3] tensor made by tl_zeros was released already", NULL));
}

TEST(releasing_a_scope_owned_tensor_is_refused) {
    tl_scope s = tl_scope_begin();
    tl_tensor *t = tl_matmul(tl_ones(TL_SHAPE(2, 3), TL_F32), tl_ones(TL_SHAPE(3, 4), TL_F32));
    REQUIRE(t != NULL);
    tl_release(t);
#if TL_DEBUG
    CHECK(error_says(TL_ERR_STATE, "[2, 4] tensor made by tl_matmul is not the caller's to release", "tl_scope_end"));
    CHECK_NEAR(tl_item(tl_sum_all(t)), 24.0, 0); /* still alive: the scope releases it */
    tl_scope_end(s);
#else
    tl_scope_end(s); /* NDEBUG: the release went through; the scope notices at its end */
    CHECK(error_says(TL_ERR_STATE, "tl_scope_end: the float32 [2, 4] tensor made by tl_matmul owned by this scope", NULL));
#endif
}

TEST(releasing_a_module_parameter_got_inside_a_scope_is_refused) {
    tl_module *lin = tl_nn_linear(3, 2, 1);
    tl_scope s = tl_scope_begin();
    tl_tensor *w = tl_module_get(lin, "weight");
    REQUIRE(w != NULL);
#if TL_DEBUG
    tl_release(w);
    CHECK(error_says(TL_ERR_STATE, "tl_release: the float32 [2, 3] tensor", "not the caller's to release"));
#endif
    tl_scope_end(s);
    /* the module's parameter is intact */
    s = tl_scope_begin();
    CHECK_EQ_INT(tl_numel(tl_module_get(lin, "weight")), 6);
    tl_scope_end(s);
    tl_module_free(lin);
}

TEST(borrowed_results_inside_scopes_are_refused) {
    tl_tensor *x = tl_ones(TL_SHAPE(3), TL_F32), *g[1] = {NULL}, *y, *only = tl_zeros(TL_SHAPE(5), TL_F32);
    tl_value *v = tl_value_tensor(only); /* the value holds the only reference left */
    tl_scope s;
    tl_tensor *inner;
    tl_release(only);
    s = tl_scope_begin();
    inner = tl_value_tensor_of(v);
    CHECK_EQ_INT(tl_numel(inner), 5);
#if TL_DEBUG
    tl_release(inner);
    CHECK(error_says(TL_ERR_STATE, "[5] tensor made by tl_zeros is not the caller's to release", NULL));
#endif
    REQUIRE(tl_requires_grad_(x, 1) == TL_OK);
    y = tl_sum_all(tl_mul(x, x));
    REQUIRE(tl_autograd_grad(1, &y, 1, &x, NULL, 0, g) == TL_OK);
#if TL_DEBUG
    tl_release(g[0]);
    CHECK(error_says(TL_ERR_STATE, "not the caller's to release", NULL));
#endif
    CHECK_NEAR(tl_get(g[0], (const int64_t[]){0}), 2.0, 0);
    tl_scope_end(s);
    tl_value_free(v);
    tl_release(x);
    CHECK_EQ_INT(tl_last_status(), TL_OK);
}

TEST(the_callers_own_references_release_normally) {
    tl_module *lin = tl_nn_linear(3, 2, 1);
    tl_tensor *w = tl_module_get(lin, "weight"), *r, *k;
    tl_scope s;
    REQUIRE(w != NULL);
    r = tl_retain(w); /* a second caller reference */
    tl_release(w);
    tl_release(r);
    CHECK_EQ_INT(tl_last_status(), TL_OK);
    s = tl_scope_begin();
    k = tl_keep(tl_zeros(TL_SHAPE(4), TL_F32)); /* handed out of the outermost scope: the caller's */
    tl_scope_end(s);
    tl_release(k);
    CHECK_EQ_INT(tl_last_status(), TL_OK);
    tl_module_free(lin);
}

static tl_tensor *silent_forward(tl_module *self, const tl_tensor *input) {
    (void)self;
    (void)input;
    return NULL; /* forgot to record why */
}

TEST(forward_returning_null_silently_names_the_module) {
    tl_module *m = tl_module_new("MyBlock", silent_forward);
    tl_tensor *x = tl_ones(TL_SHAPE(2), TL_F32);
    CHECK(tl_module_forward(m, x) == NULL);
    CHECK(error_says(TL_ERR_STATE, "tl_module_forward: the forward function of MyBlock returned NULL", "[2]"));
    tl_release(x);
    tl_module_free(m);
}

TEST(value_accessor_messages_name_the_wanted_kinds) {
    tl_value *l = tl_value_list();
    CHECK(tl_value_as_float(l) == 0);
    CHECK(error_says(TL_ERR_ARG, "tl_value_as_float: expected a float, int or bool value, got list", NULL));
    CHECK(tl_value_as_int(l) == 0);
    CHECK(error_says(TL_ERR_ARG, "tl_value_as_int: expected an int", "got list"));
    tl_value_free(l);
}

static const th_case tests[] = {
    TH_CASE(second_release_is_an_error_at_the_call),
    TH_CASE(releasing_a_scope_owned_tensor_is_refused),
    TH_CASE(releasing_a_module_parameter_got_inside_a_scope_is_refused),
    TH_CASE(borrowed_results_inside_scopes_are_refused),
    TH_CASE(the_callers_own_references_release_normally),
    TH_CASE(forward_returning_null_silently_names_the_module),
    TH_CASE(value_accessor_messages_name_the_wanted_kinds),
};

int main(void) { return TH_RUN(tests); }
