/* tests/test_reliability.c - regression tests for the memory-safety defects of the reliability
   audit (issue 12): size computations that overflow, a wild free and a leak on out-of-memory, and a
   failing-allocator sweep over a whole training step (forward, cross-entropy, backward, an Adam
   step, model and optimizer state_dicts, save, load, load_state_dict) in which the k-th allocation fails, for every k. */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include "harness.h"
#include "fail_alloc.h"

#define F32 TL_F32
static const int64_t BIG = (int64_t)1 << 31;

/* ===== overflowing size computations ========================================================= */

/* A stride-0 view of 2^62 elements: every reduction over it must fail cleanly (its lane buffer
   would need 2^65 bytes; the old code computed that size in a wrapping size_t and overflowed a
   zero-byte heap block). */
TEST(reductions_over_huge_expanded_views_fail_cleanly) {
    tl_scope s = tl_scope_begin();
    tl_tensor *one = tl_ones(TL_SHAPE(1, 1), F32);
    tl_tensor *x = tl_expand(one, TL_SHAPE(BIG, BIG));
    tl_tensor *lane = tl_expand(one, TL_SHAPE(2, (int64_t)1 << 61));
    REQUIRE(x && lane);
    CHECK_EQ_INT(tl_numel(x), (int64_t)1 << 62);
    CHECK(tl_sum_all(x) == NULL);
    CHECK_EQ_INT(tl_last_status(), TL_ERR_OOM);
    CHECK(strstr(tl_last_error(), "tl_sum_all") != NULL);
    CHECK(strstr(tl_last_error(), "[2147483648, 2147483648]") != NULL);
    tl_clear_error();
    CHECK(tl_sum(lane, 1, 0) == NULL); /* output [2], lanes of 2^61 elements */
    CHECK_EQ_INT(tl_last_status(), TL_ERR_OOM);
    CHECK(strstr(tl_last_error(), "tl_sum") != NULL);
    tl_clear_error();
    CHECK(tl_mean(lane, 1, 0) == NULL);
    CHECK_EQ_INT(tl_last_status(), TL_ERR_OOM);
    tl_clear_error();
    CHECK(tl_max(lane, 1, 0, NULL) == NULL);
    CHECK_EQ_INT(tl_last_status(), TL_ERR_OOM);
    tl_clear_error();
    CHECK(tl_prod_all(x) == NULL);
    CHECK_EQ_INT(tl_last_status(), TL_ERR_OOM);
    tl_clear_error();
    CHECK(tl_cumsum(lane, 1) == NULL); /* needs a 2^63-element output: refused up front */
    CHECK(tl_last_status() == TL_ERR_OOM || tl_last_status() == TL_ERR_SHAPE);
    tl_clear_error();
    CHECK(tl_contiguous(x) == NULL); /* 2^64 bytes */
    CHECK(tl_last_status() == TL_ERR_OOM || tl_last_status() == TL_ERR_SHAPE);
    tl_clear_error();
    tl_scope_end(s);
}

/* The same tensor through a checkpoint: a tiny file whose one tensor is such a view loads (torch
   accepts it too) and reducing it is an error, not a heap overflow. */
TEST(huge_stride0_tensor_from_a_file_reduces_cleanly) {
    tl_scope s = tl_scope_begin();
    tl_tensor *x = tl_expand(tl_ones(TL_SHAPE(1, 1), F32), TL_SHAPE(BIG, BIG)), *y;
    tl_value *v = tl_value_tensor(x), *back;
    void *buf = NULL;
    size_t n = 0;
    REQUIRE(v != NULL);
    REQUIRE(tl_save_to_buffer(v, &buf, &n) == TL_OK);
    tl_value_free(v);
    CHECK(n < 2048); /* one 4-byte storage */
    back = tl_load_from_buffer(buf, n);
    tl_free_buffer(buf);
    REQUIRE(back != NULL);
    y = tl_value_tensor_of(back);
    REQUIRE(y != NULL);
    CHECK_EQ_INT(tl_size(y, 0), BIG);
    CHECK_EQ_INT(tl_stride(y)[1], 0);
    CHECK(tl_sum_all(y) == NULL);
    CHECK_EQ_INT(tl_last_status(), TL_ERR_OOM);
    tl_clear_error();
    tl_value_free(back);
    tl_scope_end(s);
}

/* Shapes whose byte size does not fit are refused before any allocation. */
TEST(creation_of_unrepresentable_sizes_is_refused) {
    tl_scope s = tl_scope_begin();
    CHECK(tl_empty(TL_SHAPE((int64_t)1 << 61, 4), F32) == NULL); /* 2^63 elements */
    CHECK(tl_last_status() == TL_ERR_OOM || tl_last_status() == TL_ERR_SHAPE);
    tl_clear_error();
    CHECK(tl_empty(TL_SHAPE((int64_t)1 << 61), TL_F64) == NULL); /* 2^64 bytes */
    CHECK(tl_last_status() == TL_ERR_OOM || tl_last_status() == TL_ERR_SHAPE);
    tl_clear_error();
    CHECK(tl_zeros(TL_SHAPE(BIG, BIG, BIG), F32) == NULL);
    CHECK(tl_last_status() != TL_OK);
    tl_clear_error();
    tl_scope_end(s);
}

/* tl_load on a directory: an I/O error naming the path (it used to ask for 2^63 bytes). */
TEST(load_of_a_directory_is_an_io_error) {
    tl_value *v = tl_load("tests");
    CHECK(v == NULL);
    CHECK_EQ_INT(tl_last_status(), TL_ERR_IO);
    CHECK(strstr(tl_last_error(), "tl_load: cannot read 'tests'") != NULL);
    tl_clear_error();
}

/* ===== allocation failures: one-shot sweeps ================================================= */

/* oom_sweep (tests/fail_alloc.h) runs each of these with every allocation failing in turn. */

/* torch.save of a state_dict with several storages (the key-name array of the writer). */
static tl_status save_several(void *ctx) {
    tl_value *d = tl_value_dict();
    void *buf = NULL;
    size_t n = 0;
    tl_status st;
    int i;
    (void)ctx;
    if (!d) return tl_last_status();
    for (i = 0; i < 12; i++) {
        char key[16];
        tl_tensor *t = tl_full(TL_SHAPE(3), (double)i, F32);
        snprintf(key, sizeof key, "w%d", i);
        if (!t) {
            tl_value_free(d);
            return tl_last_status();
        }
        st = tl_value_set(d, key, tl_value_tensor(t));
        tl_release(t);
        if (st) {
            tl_value_free(d);
            return tl_last_status() ? tl_last_status() : st;
        }
    }
    st = tl_save_to_buffer(d, &buf, &n);
    tl_value_free(d);
    tl_free_buffer(buf);
    return st;
}

TEST(save_to_buffer_survives_every_allocation_failure) {
    long points = 0;
    oom_sweep("tl_save_to_buffer", save_several, NULL, &points);
    CHECK(points > 20);
}

/* m.state_dict() of a nested model (names, module paths and versions grow in parallel arrays). */
static tl_status state_dict_nested(void *ctx) {
    tl_module *net;
    tl_value *sd;
    (void)ctx;
    tl_manual_seed(1);
    net = tl_nn_sequential(4, (tl_module *[]){tl_nn_linear(3, 4, 1), tl_nn_relu(),
                                               tl_nn_sequential(2, (tl_module *[]){tl_nn_linear(4, 4, 1),
                                                                                   tl_nn_batch_norm1d(4, 1e-5, 0.1, 1, 1)}),
                                               tl_nn_linear(4, 2, 0)});
    if (!net) return tl_last_status();
    sd = tl_module_state_dict(net);
    tl_module_free(net);
    if (!sd) return tl_last_status();
    tl_value_free(sd);
    return TL_OK;
}

TEST(module_state_dict_survives_every_allocation_failure) {
    long points = 0;
    oom_sweep("tl_module_state_dict", state_dict_nested, NULL, &points);
    CHECK(points > 20);
}

/* ===== a whole training step under a failing allocator ======================================= */

typedef struct step_ctx {
    tl_tensor *x, *y; /* [8, 1, 12, 12] images and int64 [8] labels, made inside the step */
} step_ctx;

/* A small LeNet: conv(1->3, 3x3, pad 1) - relu - max pool 2 - conv(3->4, 3x3) - relu - flatten -
   linear(64 -> 10). */
static tl_module *small_lenet(void) {
    tl_conv2d_opts pad1, none;
    tl_pool2d_opts pool = tl_pool2d_opts_default(2, 2);
    memset(&pad1, 0, sizeof pad1);
    memset(&none, 0, sizeof none);
    pad1.padding[0] = pad1.padding[1] = 1;
    return tl_nn_sequential(7, (tl_module *[]){tl_nn_conv2d(1, 3, 3, 3, &pad1, 1), tl_nn_relu(),
                                               tl_nn_max_pool2d(&pool), tl_nn_conv2d(3, 4, 3, 3, &none, 1),
                                               tl_nn_relu(), tl_nn_flatten(1, -1), tl_nn_linear(64, 10, 1)});
}

/* forward, cross_entropy, backward, an Adam step (its state is allocated at the first one), the
   checkpoint {'model': state_dict, 'optim': optimizer state_dict} saved to a buffer, loaded, and
   both loaded back with load_state_dict. Returns the first failure. */
static tl_status one_step(tl_module *net, tl_optim *opt, const tl_tensor *x, const tl_tensor *y) {
    tl_scope s = tl_scope_begin();
    tl_status st = TL_OK;
    tl_value *ck = NULL, *back = NULL;
    void *buf = NULL;
    size_t n = 0;
    tl_tensor *loss;
    if ((st = tl_optim_zero_grad(opt)) != TL_OK) goto done;
    loss = tl_cross_entropy(tl_module_forward(net, x), y, NULL, -100, TL_REDUCTION_MEAN);
    if (!loss) goto done;
    if ((st = tl_backward(loss)) != TL_OK) goto done;
    if ((st = tl_optim_step(opt)) != TL_OK) goto done;
    ck = tl_value_dict();
    if (!ck || tl_value_set(ck, "model", tl_module_state_dict(net)) != TL_OK ||
        tl_value_set(ck, "optim", tl_optim_state_dict(opt)) != TL_OK)
        goto done;
    if ((st = tl_save_to_buffer(ck, &buf, &n)) != TL_OK) goto done;
    back = tl_load_from_buffer(buf, n);
    if (!back) goto done;
    if ((st = tl_module_load_state_dict(net, tl_value_get(back, "model"), 1, NULL)) != TL_OK) goto done;
    st = tl_optim_load_state_dict(opt, tl_value_get(back, "optim"));
done:
    if (st == TL_OK) st = tl_last_status();
    tl_value_free(ck);
    tl_value_free(back);
    tl_free_buffer(buf);
    tl_scope_end(s);
    return st;
}

static int g_sgd; /* 1: SGD with momentum and nesterov instead of Adam */

/* The model, its optimizer and a batch, made with memory working. 0 on failure. */
static int setup(tl_module **net, tl_optim **opt, tl_tensor **x, tl_tensor **y) {
    tl_sgd_desc sd = tl_sgd_desc_default();
    sd.lr = 0.1;
    sd.momentum = 0.9;
    sd.nesterov = 1;
    tl_manual_seed(0);
    *net = small_lenet();
    *opt = !*net ? NULL : g_sgd ? tl_optim_sgd(tl_parameters(*net), &sd) : tl_optim_adam(tl_parameters(*net), NULL);
    *x = tl_randn(TL_SHAPE(8, 1, 12, 12), F32);
    *y = tl_randint(0, 10, TL_SHAPE(8), TL_I64);
    return *net && *opt && *x && *y;
}
static void teardown(tl_module *net, tl_optim *opt, tl_tensor *x, tl_tensor *y) {
    tl_optim_free(opt);
    tl_module_free(net);
    tl_release(x);
    tl_release(y);
}

static char g_first_error[512]; /* the failed step's message (the recovery step clears it) */

/* Builds the model and data, runs a step, runs a second step with memory working again (it must
   succeed whatever the first one did), and frees everything. */
static tl_status step_then_recover(void *ctx) {
    fail_alloc *fa = (fail_alloc *)ctx;
    long save_fail_at = fa ? fa->fail_at : -1;
    tl_module *net;
    tl_optim *opt;
    tl_tensor *x, *y;
    tl_status st, st2 = TL_OK;
    if (fa) fa->fail_at = -1;
    if (!setup(&net, &opt, &x, &y)) {
        teardown(net, opt, x, y);
        return TL_ERR_STATE; /* setup itself never runs under failure */
    }
    if (fa && save_fail_at >= 0) fa->fail_at = fa->calls + save_fail_at;
    st = one_step(net, opt, x, y);
    if (fa) {
        if (fa->fail_at >= 0 && fa->denied == 0) st2 = TL_ERR_STATE; /* the failure point was never reached */
        fa->fail_at = -1;
    }
    if (st != TL_OK) {
        snprintf(g_first_error, sizeof g_first_error, "%s", tl_last_error());
        tl_clear_error();
        st2 = one_step(net, opt, x, y);
        if (st2 != TL_OK) printf("    the step after a failed one fails too: %s\n", tl_last_error());
    }
    teardown(net, opt, x, y);
    return st2 != TL_OK ? TL_ERR_STATE : st;
}

static void sweep_training_step(void) {
    fail_alloc fa;
    long total, k, bad = 0, oom = 0, ok = 0;
    tl_status st;
    /* count the step's own allocations (setup excluded) */
    fa_reset(&fa);
    REQUIRE(fa_install(&fa) == TL_OK);
    {
        tl_module *net;
        tl_optim *opt;
        tl_tensor *x, *y;
        long c0;
        REQUIRE(setup(&net, &opt, &x, &y));
        c0 = fa.calls;
        CHECK_EQ_INT(one_step(net, opt, x, y), TL_OK);
        total = fa.calls - c0;
        teardown(net, opt, x, y);
    }
    CHECK(fa_uninstall(&fa) == TL_OK);
    CHECK_EQ_INT(fa.outstanding, 0);
    CHECK(total > 100);
    for (k = 0; k < total && bad < 5; k++) {
        fa_reset(&fa);
        fa.fail_at = k; /* relative to the step's start, see step_then_recover */
        if (!CHECK(fa_install(&fa) == TL_OK)) break;
        g_first_error[0] = 0;
        st = step_then_recover(&fa);
        if (st == TL_OK) ok++;
        else if (st == TL_ERR_OOM && names_the_call(g_first_error)) oom++;
        else {
            printf("    training step, allocation %ld of %ld fails: status %s: %s\n", k, total, tl_status_str(st),
                   g_first_error[0] ? g_first_error : tl_last_error());
            CHECK(0);
            bad++;
        }
        tl_clear_error();
        if (tl_debug_live_tensors() != 0 || tl_debug_live_storages() != 0) {
            printf("    training step, allocation %ld of %ld fails: %ld tensors, %ld storages left alive\n", k, total,
                   tl_debug_live_tensors(), tl_debug_live_storages());
            CHECK(0);
            break;
        }
        if (!CHECK(fa_uninstall(&fa) == TL_OK)) break;
        if (fa.outstanding != 0 || fa.bad_frees != 0) {
            printf("    training step, allocation %ld of %ld fails (%s): %ld blocks leaked, %ld wild frees\n", k,
                   total, g_first_error, fa.outstanding, fa.bad_frees);
            CHECK(0);
            bad++;
        }
    }
    printf("    training step (%s): %ld allocation points, %ld reported TL_ERR_OOM, %ld absorbed\n",
           g_sgd ? "SGD momentum" : "Adam", total, oom, ok);
    CHECK(oom > total / 2);
}
TEST(training_step_with_adam_survives_every_allocation_failure) {
    g_sgd = 0;
    sweep_training_step();
}
TEST(training_step_with_sgd_survives_every_allocation_failure) {
    g_sgd = 1;
    sweep_training_step();
    g_sgd = 0;
}

/* Prefix mode over the same step: from allocation k on, every allocation fails. */
TEST(training_step_survives_memory_running_out) {
    fail_alloc fa;
    long total, k, bad = 0;
    tl_status st;
    fa_reset(&fa);
    REQUIRE(fa_install(&fa) == TL_OK);
    st = step_then_recover(NULL);
    total = fa.calls;
    CHECK_EQ_INT(st, TL_OK);
    CHECK(fa_uninstall(&fa) == TL_OK);
    for (k = 0; k < total && bad < 5; k += 3) {
        tl_module *net;
        tl_optim *opt;
        tl_tensor *x, *y;
        fa_reset(&fa);
        if (!CHECK(fa_install(&fa) == TL_OK)) break;
        if (setup(&net, &opt, &x, &y)) {
            fa.limit = fa.calls + k;
            st = one_step(net, opt, x, y);
            if (st != TL_OK && st != TL_ERR_OOM) {
                printf("    memory runs out at allocation %ld: status %s: %s\n", k, tl_status_str(st), tl_last_error());
                CHECK(0);
                bad++;
            }
        }
        tl_clear_error();
        teardown(net, opt, x, y);
        if (tl_debug_live_tensors() != 0 || tl_debug_live_storages() != 0) {
            printf("    memory runs out at allocation %ld: %ld tensors left alive\n", k, tl_debug_live_tensors());
            CHECK(0);
            break;
        }
        if (!CHECK(fa_uninstall(&fa) == TL_OK)) break;
        if (fa.outstanding != 0 || fa.bad_frees != 0) {
            printf("    memory runs out at allocation %ld: %ld blocks leaked, %ld wild frees\n", k, fa.outstanding,
                   fa.bad_frees);
            CHECK(0);
            bad++;
        }
    }
}

static const th_case tests[] = {
    TH_CASE(reductions_over_huge_expanded_views_fail_cleanly),
    TH_CASE(huge_stride0_tensor_from_a_file_reduces_cleanly),
    TH_CASE(creation_of_unrepresentable_sizes_is_refused),
    TH_CASE(load_of_a_directory_is_an_io_error),
    TH_CASE(save_to_buffer_survives_every_allocation_failure),
    TH_CASE(module_state_dict_survives_every_allocation_failure),
    TH_CASE(training_step_with_adam_survives_every_allocation_failure),
    TH_CASE(training_step_with_sgd_survives_every_allocation_failure),
    TH_CASE(training_step_survives_memory_running_out),
};

int main(void) { return TH_RUN(tests); }
