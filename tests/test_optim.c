/* tests/test_optim.c - >>optim without torch: defaults, errors naming the call, no allocation after
   the first step (counted through the allocator hook), state_dict round trips through tl_save /
   tl_load, mismatching loads leaving the optimizer unchanged, schedulers, clip_grad, printing.
   The numbers themselves are checked against torch in tests/torch/test_optim.py. */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include "harness.h"
#include "fail_alloc.h"

/* A parameter [n] of dtype dt filled with base + 0.1 * i. */
static tl_tensor *param(int64_t n, tl_dtype dt, double base) {
    tl_tensor *t = tl_zeros(TL_SHAPE(n), dt);
    int64_t i;
    for (i = 0; i < n; i++) tl_set(t, (const int64_t[]){i}, base + 0.1 * (double)i);
    tl_requires_grad_(t, 1);
    return t;
}
/* .grad = a deterministic vector depending on the step. */
static void set_grads(tl_tensor **ps, int n, int step) {
    int k;
    for (k = 0; k < n; k++) {
        int64_t i, m = tl_numel(ps[k]);
        tl_tensor *g = tl_zeros(1, tl_shape(ps[k]), tl_dtype_of(ps[k]));
        for (i = 0; i < m; i++) tl_set(g, (const int64_t[]){i}, sin(0.3 * step + 0.7 * (double)i + k));
        tl_set_grad(ps[k], g);
        tl_release(g);
    }
}
static int same_values(const tl_tensor *a, const tl_tensor *b) {
    int64_t i, n = tl_numel(a);
    if (n != tl_numel(b)) return 0;
    for (i = 0; i < n; i++)
        if (tl_get(a, (const int64_t[]){i}) != tl_get(b, (const int64_t[]){i})) return 0;
    return 1;
}

TEST(defaults_are_torchs) {
    tl_sgd_desc s = tl_sgd_desc_default();
    tl_adam_desc a = tl_adam_desc_default();
    tl_adamw_desc w = tl_adamw_desc_default();
    tl_rmsprop_desc r = tl_rmsprop_desc_default();
    tl_adagrad_desc g = tl_adagrad_desc_default();
    tl_onecycle_desc oc = tl_onecycle_desc_default();
    tl_plateau_desc pl = tl_plateau_desc_default();
    CHECK(s.lr == 1e-3 && s.momentum == 0 && s.dampening == 0 && s.weight_decay == 0 && !s.nesterov && !s.maximize);
    CHECK(a.lr == 1e-3 && a.beta1 == 0.9 && a.beta2 == 0.999 && a.eps == 1e-8 && a.weight_decay == 0 && !a.amsgrad);
    CHECK(w.lr == 1e-3 && w.weight_decay == 0.01 && w.beta2 == 0.999);
    CHECK(r.lr == 0.01 && r.alpha == 0.99 && r.eps == 1e-8 && r.momentum == 0 && !r.centered);
    CHECK(g.lr == 0.01 && g.lr_decay == 0 && g.eps == 1e-10 && g.initial_accumulator_value == 0);
    CHECK(oc.pct_start == 0.3 && oc.cycle_momentum && oc.base_momentum == 0.85 && oc.max_momentum == 0.95 &&
          oc.div_factor == 25 && oc.final_div_factor == 1e4 && !oc.three_phase && !oc.anneal_linear);
    CHECK(pl.factor == 0.1 && pl.patience == 10 && pl.threshold == 1e-4 && pl.eps == 1e-8 && !pl.mode_max);
}

TEST(errors_name_the_call) {
    tl_tensor *p = param(3, TL_F32, 1), *q = param(2, TL_F32, 0);
    tl_sgd_desc d = tl_sgd_desc_default();
    tl_optim *o;
    tl_clear_error();
    CHECK(tl_optim_sgd(NULL, NULL) == NULL);
    CHECK(strstr(tl_last_error(), "tl_optim_sgd") != NULL);
    tl_clear_error();
    CHECK(tl_optim_adam(tl_param_list_new(0, NULL), NULL) == NULL);
    CHECK(strstr(tl_last_error(), "tl_optim_adam: optimizer got an empty parameter list") != NULL);
    tl_clear_error();
    d.lr = -1;
    CHECK(tl_optim_sgd(tl_param_list_new(1, &p), &d) == NULL);
    CHECK(strstr(tl_last_error(), "tl_optim_sgd: Invalid learning rate: -1") != NULL);
    tl_clear_error();
    d = tl_sgd_desc_default();
    d.nesterov = 1;
    CHECK(tl_optim_sgd(tl_param_list_new(1, &p), &d) == NULL);
    CHECK(strstr(tl_last_error(), "Nesterov momentum requires a momentum and zero dampening") != NULL);
    tl_clear_error();
    {
        tl_adam_desc a = tl_adam_desc_default();
        a.beta2 = 1.0;
        CHECK(tl_optim_adam(tl_param_list_new(1, &p), &a) == NULL);
        CHECK(strstr(tl_last_error(), "Invalid beta parameter at index 1") != NULL);
        tl_clear_error();
    }
    {
        tl_tensor *i = tl_zeros(TL_SHAPE(2), TL_I64);
        CHECK(tl_optim_rmsprop(tl_param_list_new(1, &i), NULL) == NULL);
        CHECK(strstr(tl_last_error(), "tl_optim_rmsprop: parameter 0 is int64") != NULL);
        tl_clear_error();
        tl_release(i);
    }
    o = tl_optim_sgd(tl_param_list_new(1, &p), NULL);
    REQUIRE(o != NULL);
    CHECK(tl_optim_add_param_group(o, tl_param_list_new(1, &p), NULL) != TL_OK);
    CHECK(strstr(tl_last_error(), "some parameters appear in more than one parameter group") != NULL);
    tl_clear_error();
    CHECK(tl_optim_add_param_group(o, tl_param_list_new(1, &q), NULL) == TL_OK);
    CHECK_EQ_INT(tl_optim_num_groups(o), 2);
    CHECK(tl_optim_get_lr(o, 1) == 1e-3);
    CHECK(isnan(tl_optim_get_lr(o, 2)));
    CHECK(strstr(tl_last_error(), "tl_optim_get_lr: group 2 out of range") != NULL);
    tl_clear_error();
    CHECK(tl_optim_set_lr(o, 0, -0.5) != TL_OK);
    tl_clear_error();
    CHECK(tl_optim_set_lr(o, 1, 0.25) == TL_OK && tl_optim_get_lr(o, 1) == 0.25);
    CHECK(tl_scheduler_step(NULL) != TL_OK);
    tl_clear_error();
    CHECK(tl_step_lr(o, 0, 0.1) == NULL);
    CHECK(strstr(tl_last_error(), "tl_step_lr: step_size must be positive") != NULL);
    tl_clear_error();
    tl_optim_free(o);
    tl_release(p);
    tl_release(q);
}

TEST(parameters_of_a_module_and_zero_grad) {
    tl_module *net = tl_nn_sequential(2, (tl_module *[]){tl_nn_linear(3, 4, 1), tl_nn_linear(4, 2, 0)});
    tl_param_list *l = tl_parameters(net);
    tl_optim *o;
    REQUIRE(l != NULL);
    CHECK_EQ_INT(l->n, 3); /* 0.weight, 0.bias, 1.weight */
    CHECK_EQ_INT(tl_numel(l->tensors[2]), 8);
    o = tl_optim_sgd(l, NULL); /* consumes l */
    REQUIRE(o != NULL);
    {
        tl_tensor *w = tl_module_get(net, "0.weight"), *g = tl_ones_like(w);
        tl_tensor *got;
        tl_set_grad(w, g);
        got = tl_grad(w);
        CHECK(got != NULL);
        tl_release(got);
        CHECK_EQ_INT(tl_optim_zero_grad(o), TL_OK);
        CHECK(tl_grad(w) == NULL);
        tl_release(g);
        tl_release(w);
    }
    tl_optim_free(o);
    tl_module_free(net);
}

TEST(sgd_step_by_hand) {
    tl_tensor *p = param(2, TL_F64, 1); /* [1, 1.1] */
    tl_sgd_desc d = tl_sgd_desc_default();
    tl_optim *o;
    d.lr = 0.1;
    d.momentum = 0.9;
    o = tl_optim_sgd(tl_param_list_new(1, &p), &d);
    REQUIRE(o != NULL);
    {
        tl_tensor *g = tl_full(TL_SHAPE(2), 1.0, TL_F64);
        tl_set_grad(p, g); /* p holds its own reference */
        tl_release(g);
    }
    CHECK_EQ_INT(tl_optim_step(o), TL_OK); /* buf = 1, p -= 0.1 */
    CHECK_NEAR(tl_get(p, (const int64_t[]){0}), 0.9, 1e-15);
    CHECK_EQ_INT(tl_optim_step(o), TL_OK); /* buf = 1.9, p -= 0.19 */
    CHECK_NEAR(tl_get(p, (const int64_t[]){0}), 0.71, 1e-15);
    tl_optim_zero_grad(o);
    CHECK_EQ_INT(tl_optim_step(o), TL_OK); /* no grad: untouched */
    CHECK_NEAR(tl_get(p, (const int64_t[]){0}), 0.71, 1e-15);
    tl_optim_free(o);
    tl_release(p);
}

static tl_optim *make_kind(int kind, tl_tensor **ps, int n) {
    tl_param_list *l = tl_param_list_new(n, ps);
    switch (kind) {
    case 0: {
        tl_sgd_desc d = tl_sgd_desc_default();
        d.momentum = 0.9, d.nesterov = 1, d.weight_decay = 0.01;
        return tl_optim_sgd(l, &d);
    }
    case 1: {
        tl_adam_desc d = tl_adam_desc_default();
        d.amsgrad = 1, d.weight_decay = 0.1;
        return tl_optim_adam(l, &d);
    }
    case 2: return tl_optim_adamw(l, NULL);
    case 3: {
        tl_rmsprop_desc d = tl_rmsprop_desc_default();
        d.centered = 1, d.momentum = 0.5;
        return tl_optim_rmsprop(l, &d);
    }
    default: {
        tl_adagrad_desc d = tl_adagrad_desc_default();
        d.lr_decay = 0.01;
        return tl_optim_adagrad(l, &d);
    }
    }
}

/* A parameter of 64K+ elements is updated in one range per GEMM thread: every kind, float32 and
   float64, 3 steps with fresh gradients, the same bits at 1, 2 and 3 threads (100003 elements:
   uneven ranges and a vector tail) */
TEST(large_parameters_bit_identical_across_threads) {
    int kind, f64, nt, step;
    int64_t sh[1] = {100003};
    for (kind = 0; kind < 5; kind++)
        for (f64 = 0; f64 < 2; f64++) {
            tl_dtype dt = f64 ? TL_F64 : TL_F32;
            size_t nb = (size_t)sh[0] * (f64 ? 8 : 4);
            void *ref = malloc(nb);
            REQUIRE(ref);
            for (nt = 1; nt <= 3; nt++) {
                tl_tensor *p;
                tl_optim *o;
                tl_manual_seed(7);
                p = tl_randn(1, sh, dt);
                REQUIRE(p);
                tl_requires_grad_(p, 1);
                o = make_kind(kind, &p, 1);
                REQUIRE(o);
                tl_set_num_threads(nt);
                for (step = 0; step < 3; step++) {
                    tl_tensor *g = tl_randn(1, sh, dt);
                    tl_set_grad(p, g);
                    tl_release(g);
                    CHECK_EQ_INT(tl_optim_step(o), TL_OK);
                }
                tl_set_num_threads(1);
                if (nt == 1) memcpy(ref, tl_data_ptr(p), nb);
                else if (memcmp(ref, tl_data_ptr(p), nb) != 0) {
                    printf("  kind %d %s at %d threads: bits differ\n", kind, f64 ? "float64" : "float32", nt);
                    CHECK(0);
                }
                tl_optim_free(o);
                tl_release(p);
            }
            free(ref);
        }
}

/* Steady-state steps allocate nothing: counted through the allocator hook (tl_setup). */
TEST(no_allocation_after_the_first_step) {
    fail_alloc fa;
    int kind;
    fa_reset(&fa);
    REQUIRE(fa_install(&fa) == TL_OK);
    for (kind = 0; kind < 5; kind++) {
        tl_tensor *ps[3];
        tl_optim *o;
        long before;
        int t;
        ps[0] = param(1000, TL_F32, 0.5);
        ps[1] = param(7, TL_F64, -0.5);
        ps[2] = param(33, TL_F32, 2);
        o = make_kind(kind, ps, 3);
        REQUIRE(o != NULL);
        set_grads(ps, 3, 0);
        CHECK_EQ_INT(tl_optim_step(o), TL_OK); /* allocates the state */
        before = fa.calls;
        for (t = 0; t < 20; t++) CHECK_EQ_INT(tl_optim_step(o), TL_OK);
        CHECK_EQ_INT(fa.calls - before, 0);
        before = fa.calls;
        {
            tl_param_list *l = tl_param_list_new(3, ps);
            long mid;
            REQUIRE(l != NULL);
            mid = fa.calls;
            CHECK(tl_clip_grad_norm_(l, 1.0, 2.0) > 0);
            CHECK_EQ_INT(tl_clip_grad_value_(l, 0.1), TL_OK);
            CHECK_EQ_INT(fa.calls - mid, 0); /* clipping allocates nothing either */
            tl_param_list_free(l);
        }
        (void)before;
        tl_optim_free(o);
        for (t = 0; t < 3; t++) tl_release(ps[t]);
    }
    fa_uninstall(&fa);
    CHECK_EQ_INT(fa.bad_frees, 0);
}

/* state_dict -> tl_save_to_buffer -> tl_load_from_buffer -> load_state_dict into a fresh
   optimizer over copies of the parameters: the next steps are identical. */
TEST(state_dict_round_trip_through_save_and_load) {
    int kind;
    for (kind = 0; kind < 5; kind++) {
        tl_tensor *a[2], *b[2];
        tl_optim *oa, *ob;
        tl_value *sd, *back;
        void *buf = NULL;
        size_t size = 0;
        int t, k;
        a[0] = param(5, TL_F32, 1);
        a[1] = param(3, TL_F64, -1);
        oa = make_kind(kind, a, 2);
        REQUIRE(oa != NULL);
        for (t = 0; t < 3; t++) {
            set_grads(a, 2, t);
            CHECK_EQ_INT(tl_optim_step(oa), TL_OK);
        }
        for (k = 0; k < 2; k++) {
            tl_no_grad_begin(); /* a leaf copy */
            b[k] = tl_clone(a[k]);
            tl_no_grad_end();
            tl_requires_grad_(b[k], 1);
        }
        ob = make_kind(kind, b, 2);
        REQUIRE(ob != NULL);
        tl_optim_set_lr(ob, 0, 123.0); /* the load restores the saved lr */
        sd = tl_optim_state_dict(oa);
        REQUIRE(sd != NULL);
        CHECK_EQ_INT(tl_save_to_buffer(sd, &buf, &size), TL_OK);
        back = tl_load_from_buffer(buf, size);
        REQUIRE(back != NULL);
        CHECK_EQ_INT(tl_optim_load_state_dict(ob, back), TL_OK);
        CHECK(tl_optim_get_lr(ob, 0) == tl_optim_get_lr(oa, 0));
        for (t = 3; t < 8; t++) {
            set_grads(a, 2, t);
            set_grads(b, 2, t);
            CHECK_EQ_INT(tl_optim_step(oa), TL_OK);
            CHECK_EQ_INT(tl_optim_step(ob), TL_OK);
        }
        CHECK(same_values(a[0], b[0]) && same_values(a[1], b[1]));
        tl_free_buffer(buf);
        tl_value_free(sd);
        tl_value_free(back);
        tl_optim_free(oa);
        tl_optim_free(ob);
        for (k = 0; k < 2; k++) {
            tl_release(a[k]);
            tl_release(b[k]);
        }
    }
}

TEST(mismatching_loads_are_errors_and_change_nothing) {
    tl_tensor *a[2], *c[3], *w;
    tl_optim *oa, *oc;
    tl_value *sd;
    tl_adam_desc d = tl_adam_desc_default();
    int t;
    a[0] = param(4, TL_F32, 1);
    a[1] = param(2, TL_F32, 0);
    c[0] = param(4, TL_F32, 1);
    c[1] = param(2, TL_F32, 0);
    c[2] = param(1, TL_F32, 0);
    w = param(5, TL_F32, 0);
    oa = tl_optim_adam(tl_param_list_new(2, a), NULL);
    d.lr = 0.5;
    oc = tl_optim_adam(tl_param_list_new(3, c), &d);
    REQUIRE(oa && oc);
    set_grads(a, 2, 0);
    tl_optim_step(oa);
    sd = tl_optim_state_dict(oa);
    REQUIRE(sd != NULL);
    /* parameter count */
    CHECK(tl_optim_load_state_dict(oc, sd) != TL_OK);
    CHECK(strstr(tl_last_error(), "doesn't match the size of optimizer's group (param_groups[0] has 2 parameters, "
                                  "the optimizer's 3)") != NULL);
    CHECK(tl_optim_get_lr(oc, 0) == 0.5);
    tl_clear_error();
    /* group count */
    tl_optim_add_param_group(oa, tl_param_list_new(1, &w), NULL);
    {
        tl_value *sd2 = tl_optim_state_dict(oa);
        CHECK(tl_optim_load_state_dict(oc, sd2) != TL_OK);
        CHECK(strstr(tl_last_error(), "different number of parameter groups (2, the optimizer has 1)") != NULL);
        tl_clear_error();
        tl_value_free(sd2);
    }
    /* state shape: the same counts, the second parameter of another size */
    {
        tl_tensor *s[2];
        tl_optim *os;
        s[0] = param(4, TL_F32, 1);
        s[1] = param(3, TL_F32, 0);
        os = tl_optim_adam(tl_param_list_new(2, s), &d);
        CHECK(tl_optim_load_state_dict(os, sd) != TL_OK);
        CHECK(strstr(tl_last_error(), "state[1]['exp_avg'] is float32 [2] but parameter 1 is float32 [3]") != NULL);
        tl_clear_error();
        CHECK(tl_optim_get_lr(os, 0) == 0.5);
        {   /* unchanged: no state was taken, so the state_dict still has none */
            tl_value *e = tl_optim_state_dict(os);
            CHECK_EQ_INT(tl_value_len(tl_value_get(e, "state")), 0);
            tl_value_free(e);
        }
        tl_optim_free(os);
        tl_release(s[0]);
        tl_release(s[1]);
    }
    /* not a state dict */
    {
        tl_value *v = tl_value_int(3);
        CHECK(tl_optim_load_state_dict(oa, v) != TL_OK);
        CHECK(strstr(tl_last_error(), "tl_optim_load_state_dict: expected {'state': dict, 'param_groups': list}") != NULL);
        tl_clear_error();
        tl_value_free(v);
    }
    tl_value_free(sd);
    for (t = 0; t < 2; t++) tl_release(a[t]);
    for (t = 0; t < 3; t++) tl_release(c[t]);
    tl_release(w);
    tl_optim_free(oa);
    tl_optim_free(oc);
}

TEST(prints_like_python) {
    tl_tensor *p[2];
    tl_sgd_desc d = tl_sgd_desc_default();
    tl_optim *o;
    char buf[1024];
    p[0] = param(2, TL_F32, 1);
    p[1] = param(1, TL_F32, 1);
    d.lr = 0.1;
    o = tl_optim_sgd(tl_param_list_new(2, p), &d);
    REQUIRE(o != NULL);
    CHECK(tl_optim_to_string(o, buf, sizeof buf) > 0);
    CHECK_STR(buf, "{'state': {}, 'param_groups': [{'lr': 0.1, 'momentum': 0, 'dampening': 0, 'weight_decay': 0, "
                   "'nesterov': False, 'maximize': False, 'foreach': None, 'differentiable': False, 'params': [0, 1]}]}");
    set_grads(p, 1, 0);
    tl_optim_step(o);
    CHECK(tl_optim_to_string(o, buf, sizeof buf) > 0);
    CHECK(strncmp(buf, "{'state': {0: {'momentum_buffer': None}}, 'param_groups'", 56) == 0);
    tl_optim_free(o);
    tl_release(p[0]);
    tl_release(p[1]);
}

static double half_every_3(int64_t e, void *user) {
    (void)user;
    return pow(0.5, (double)(e / 3));
}

TEST(schedulers_basic) {
    tl_tensor *p = param(2, TL_F64, 0);
    tl_sgd_desc d = tl_sgd_desc_default();
    tl_optim *o;
    tl_scheduler *s;
    tl_value *sd;
    int t;
    d.lr = 1.0;
    o = tl_optim_sgd(tl_param_list_new(1, &p), &d);
    REQUIRE(o != NULL);
    s = tl_step_lr(o, 2, 0.5);
    REQUIRE(s != NULL);
    CHECK(tl_scheduler_get_last_lr(s, 0) == 1.0);
    for (t = 0; t < 4; t++) tl_scheduler_step(s); /* epochs 1..4: 1, .5, .5, .25 */
    CHECK(tl_optim_get_lr(o, 0) == 0.25 && tl_scheduler_get_last_lr(s, 0) == 0.25);
    sd = tl_scheduler_state_dict(s);
    REQUIRE(sd != NULL);
    CHECK_EQ_INT(tl_value_as_int(tl_value_get(sd, "last_epoch")), 4);
    CHECK_EQ_INT(tl_value_as_int(tl_value_get(sd, "_step_count")), 5);
    CHECK_EQ_INT(tl_value_as_int(tl_value_get(sd, "step_size")), 2);
    tl_scheduler_free(s);
    /* a new scheduler resumed from the state dict continues: epoch 5 keeps .25, epoch 6 halves */
    s = tl_step_lr(o, 2, 0.5); /* initial_lr is already set: base_lrs = [1.0] */
    REQUIRE(s != NULL);
    tl_optim_set_lr(o, 0, 0.25);
    CHECK_EQ_INT(tl_scheduler_load_state_dict(s, sd), TL_OK);
    tl_scheduler_step(s);
    CHECK(tl_optim_get_lr(o, 0) == 0.25);
    tl_scheduler_step(s);
    CHECK(tl_optim_get_lr(o, 0) == 0.125);
    tl_value_free(sd);
    tl_scheduler_free(s);
    /* cosine: reaches eta_min at T_max */
    tl_optim_set_lr(o, 0, 1.0);
    {
        tl_optim *o2;
        tl_tensor *q = param(1, TL_F64, 0);
        o2 = tl_optim_sgd(tl_param_list_new(1, &q), &d);
        s = tl_cosine_annealing_lr(o2, 10, 0.1);
        REQUIRE(s != NULL);
        for (t = 0; t < 10; t++) tl_scheduler_step(s);
        CHECK_NEAR(tl_optim_get_lr(o2, 0), 0.1, 1e-15);
        tl_scheduler_free(s);
        s = tl_lambda_lr(o2, half_every_3, NULL);
        REQUIRE(s != NULL);
        for (t = 0; t < 6; t++) tl_scheduler_step(s);
        CHECK(tl_optim_get_lr(o2, 0) == 0.25);
        CHECK(tl_scheduler_step_metric(s, 1.0) == TL_OK); /* any scheduler accepts a metric step */
        tl_scheduler_free(s);
        {
            tl_plateau_desc pd = tl_plateau_desc_default();
            pd.patience = 1;
            tl_optim_set_lr(o2, 0, 1.0);
            s = tl_reduce_lr_on_plateau(o2, &pd);
            REQUIRE(s != NULL);
            CHECK(tl_scheduler_step(s) != TL_OK); /* needs a metric */
            tl_clear_error();
            tl_scheduler_step_metric(s, 5); /* best */
            tl_scheduler_step_metric(s, 5); /* bad 1 */
            CHECK(tl_optim_get_lr(o2, 0) == 1.0);
            tl_scheduler_step_metric(s, 5); /* bad 2 > patience: reduce */
            CHECK_NEAR(tl_optim_get_lr(o2, 0), 0.1, 1e-16);
            tl_scheduler_free(s);
        }
        tl_optim_free(o2);
        tl_release(q);
    }
    tl_optim_free(o);
    tl_release(p);
}

TEST(clip_grad) {
    tl_tensor *p[2];
    tl_param_list *l;
    double n;
    p[0] = param(2, TL_F32, 0);
    p[1] = param(1, TL_F64, 0);
    {
        tl_tensor *g0 = tl_from_data((const float[]){3, 0}, TL_SHAPE(2), TL_F32);
        tl_tensor *g1 = tl_from_data((const double[]){-4}, TL_SHAPE(1), TL_F64);
        tl_set_grad(p[0], g0);
        tl_set_grad(p[1], g1);
        tl_release(g0);
        tl_release(g1);
    }
    l = tl_param_list_new(2, p);
    REQUIRE(l != NULL);
    n = tl_clip_grad_norm_(l, 10.0, INFINITY); /* max |g| = 4; no clipping */
    CHECK(n == 4.0);
    n = tl_clip_grad_norm_(l, 1.0, 2.0); /* 5 -> scaled by 1 / (5 + 1e-6) */
    CHECK_NEAR(n, 5.0, 1e-12);
    {
        tl_tensor *g = tl_grad(p[1]);
        CHECK_NEAR(tl_get(g, (const int64_t[]){0}), -0.8, 1e-6);
        tl_release(g);
    }
    CHECK_EQ_INT(tl_clip_grad_value_(l, 0.5), TL_OK);
    {
        tl_tensor *g = tl_grad(p[0]);
        CHECK_NEAR(tl_get(g, (const int64_t[]){0}), 0.5, 0);
        tl_release(g);
    }
    CHECK(isnan(tl_clip_grad_norm_(NULL, 1, 2)));
    CHECK(strstr(tl_last_error(), "tl_clip_grad_norm_: params is NULL") != NULL);
    tl_clear_error();
    tl_param_list_free(l);
    tl_release(p[0]);
    tl_release(p[1]);
}

static const th_case tests[] = {
    TH_CASE(defaults_are_torchs),
    TH_CASE(errors_name_the_call),
    TH_CASE(parameters_of_a_module_and_zero_grad),
    TH_CASE(sgd_step_by_hand),
    TH_CASE(no_allocation_after_the_first_step),
    TH_CASE(state_dict_round_trip_through_save_and_load),
    TH_CASE(mismatching_loads_are_errors_and_change_nothing),
    TH_CASE(prints_like_python),
    TH_CASE(schedulers_basic),
    TH_CASE(clip_grad),
    TH_CASE(large_parameters_bit_identical_across_threads),
};
int main(void) { return TH_RUN(tests); }
