/* tests/test_modules.c - the >>modules registry in C: what nn.Module does in PyTorch 1.13.

   Covered: register_parameter (replace keeps the position, None parameters, non-leaf / integer
   tensors refused), register_buffer (persistent and not, None), add_module (replace keeps the
   position), name clashes between parameters, buffers and children (torch: KeyError "attribute 'w'
   already exists"), named_parameters / named_buffers / named_modules / num_parameters with a shared
   parameter and a module shared under two names (reported once, while state_dict lists both
   names), apply order (children first, each child once per parent as torch's children() dedups),
   train/eval recursion and what it switches in Dropout and BatchNorm, requires_grad_, zero_grad,
   tl_module_at with negative indices, tl_module_get/child by dotted path, custom modules with user
   data (CenteredLayer, MyLinear, FixedHiddenMLP with a constant weight as a non-persistent buffer
   and, in a second version, in user data; MySequential built with add_module "0", "1", ...),
   state_dict keys/_metadata and a C-to-C load round trip, torch's repr of rgnet, and errors
   (names with '.', NULL children, missing paths, forward without a function) whose messages name
   the call. The harness fails a test that leaks tensors or storages; ASan (make test-asan) catches
   leaked modules.

   Expected values were taken from PyTorch 1.13 (/usr/bin/python3); where tensorlite disagrees the
   case stays and wip/bugs_modules.md has the repro. */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ===== helpers ================================================================================= */

static int err_starts(const char *prefix) {
    const char *e = tl_last_error();
    int ok = strncmp(e, prefix, strlen(prefix)) == 0;
    if (!ok) printf("   error text: \"%s\" (wanted it to start with \"%s\")\n", e, prefix);
    return ok;
}
static int err_contains(const char *needle) {
    int ok = strstr(tl_last_error(), needle) != NULL;
    if (!ok) printf("   error text: \"%s\" (wanted \"%s\" in it)\n", tl_last_error(), needle);
    return ok;
}

/* max |a - b| over all elements (shapes must match: else +inf). */
static double maxdiff(const tl_tensor *a, const tl_tensor *b) {
    int64_t n, i;
    double *x, *y, d = 0;
    if (!a || !b || tl_ndim(a) != tl_ndim(b)) return INFINITY;
    if (tl_ndim(a) && memcmp(tl_shape(a), tl_shape(b), sizeof(int64_t) * (size_t)tl_ndim(a))) return INFINITY;
    n = tl_numel(a);
    x = (double *)malloc(sizeof(double) * (size_t)(n ? n : 1));
    y = (double *)malloc(sizeof(double) * (size_t)(n ? n : 1));
    if (!x || !y || tl_copy_to_buffer(a, x, TL_F64) != TL_OK || tl_copy_to_buffer(b, y, TL_F64) != TL_OK) d = INFINITY;
    for (i = 0; i < n && d != INFINITY; i++)
        if (fabs(x[i] - y[i]) > d) d = fabs(x[i] - y[i]);
    free(x);
    free(y);
    return d;
}

static int names_are(const tl_named_tensors *l, int n, const char *const *names) {
    int i, ok = l && l->n == n;
    for (i = 0; ok && i < n; i++) ok = strcmp(l->names[i], names[i]) == 0;
    if (!ok) {
        printf("   got %d names:", l ? l->n : -1);
        for (i = 0; l && i < l->n; i++) printf(" '%s'", l->names[i]);
        printf("\n");
    }
    return ok;
}
static int modnames_are(const tl_named_modules *l, int n, const char *const *names) {
    int i, ok = l && l->n == n;
    for (i = 0; ok && i < n; i++) ok = strcmp(l->names[i], names[i]) == 0;
    if (!ok) {
        printf("   got %d module names:", l ? l->n : -1);
        for (i = 0; l && i < l->n; i++) printf(" '%s'", l->names[i]);
        printf("\n");
    }
    return ok;
}
static int sd_keys_are(const tl_value *sd, int n, const char *const *keys) {
    int i, ok = sd && (int)tl_value_len(sd) == n;
    for (i = 0; ok && i < n; i++) ok = strcmp(tl_value_as_string(tl_value_key(sd, (size_t)i), NULL), keys[i]) == 0;
    if (!ok) {
        printf("   got %d state_dict keys:", sd ? (int)tl_value_len(sd) : -1);
        for (i = 0; sd && i < (int)tl_value_len(sd); i++)
            printf(" '%s'", tl_value_as_string(tl_value_key(sd, (size_t)i), NULL));
        printf("\n");
    }
    return ok;
}
#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* The tensor of state_dict[key] (new reference) or NULL. */
static tl_tensor *sd_tensor(const tl_value *sd, const char *key) {
    const tl_value *v = tl_value_get(sd, key);
    return v ? tl_value_tensor_of(v) : NULL;
}

#include "seed_models.h" /* the SEED_NOTES models: rgnet, shared_net, mlp, MyLinear, FixedHiddenMLP, ... */

/* ===== registry ================================================================================ */

TEST(register_parameter_replace_keeps_position) {
    tl_scope s = tl_scope_begin();
    tl_module *m = tl_module_new("M", NULL);
    tl_tensor *w = tl_ones(TL_SHAPE(2, 3), TL_F32), *b = tl_zeros(TL_SHAPE(3), TL_F32);
    tl_tensor *w2 = tl_full(TL_SHAPE(4), 7, TL_F32), *got;
    tl_named_tensors *l;
    static const char *const names[] = {"w", "b"};
    REQUIRE(m != NULL);
    CHECK(!tl_requires_grad(w));
    CHECK_EQ_INT(tl_module_register_parameter(m, "w", w), TL_OK);
    CHECK(tl_requires_grad(w)); /* nn.Parameter(w) requires grad */
    CHECK_EQ_INT(tl_module_register_parameter(m, "b", b), TL_OK);
    CHECK_EQ_INT(tl_module_register_parameter(m, "w", w2), TL_OK); /* replaces, same position */
    l = tl_module_named_parameters(m);
    CHECK(names_are(l, N_OF(names), names));
    if (l && l->n == 2) {
        CHECK(l->tensors[0] == w2);
        CHECK(l->tensors[1] == b);
    }
    tl_named_tensors_free(l);
    got = tl_module_get(m, "w");
    CHECK(got == w2);
    CHECK_EQ_INT(tl_numel(got), 4);
    CHECK_EQ_INT(tl_module_num_parameters(m), 4 + 3);
    /* the module holds its own reference: the tensor outlives the caller's */
    tl_module_free(m);
    CHECK_EQ_INT(tl_last_status(), TL_OK);
    tl_scope_end(s);
}

TEST(register_parameter_refuses_nonleaf_and_integers) {
    tl_scope s = tl_scope_begin();
    tl_module *m = tl_module_new("M", NULL);
    tl_tensor *x = tl_ones(TL_SHAPE(3), TL_F32), *y, *i;
    tl_requires_grad_(x, 1);
    y = tl_mul_scalar(x, 2);
    CHECK(tl_module_register_parameter(m, "y", y) != TL_OK);
    CHECK(err_starts("tl_module_register_parameter:"));
    tl_clear_error();
    i = tl_arange(0, 3, 1, TL_I64);
    CHECK_EQ_INT(tl_module_register_parameter(m, "i", i), TL_ERR_DTYPE);
    CHECK(err_starts("tl_module_register_parameter:"));
    tl_clear_error();
    CHECK_EQ_INT(tl_module_len(m), 0);
    CHECK_EQ_INT(tl_module_num_parameters(m), 0);
    tl_module_free(m);
    tl_scope_end(s);
}

TEST(none_parameter_is_skipped_everywhere) {
    tl_scope s = tl_scope_begin();
    tl_module *m = tl_nn_linear(3, 2, 0), *c = tl_module_new("C", NULL);
    tl_named_tensors *l;
    tl_value *sd;
    static const char *const names[] = {"weight"};
    REQUIRE(m != NULL);
    l = tl_module_named_parameters(m);
    CHECK(names_are(l, 1, names));
    tl_named_tensors_free(l);
    sd = tl_module_state_dict(m);
    CHECK(sd_keys_are(sd, 1, names));
    tl_value_free(sd);
    /* self.bias is None: a NULL result WITHOUT an error */
    CHECK(tl_module_get(m, "bias") == NULL);
    CHECK_EQ_INT(tl_last_status(), TL_OK);
    /* a user's None parameter, later given a tensor: it keeps its slot (torch's dict order) */
    CHECK_EQ_INT(tl_module_register_parameter(c, "a", NULL), TL_OK);
    CHECK_EQ_INT(tl_module_register_parameter(c, "b", tl_ones(TL_SHAPE(2), TL_F32)), TL_OK);
    CHECK_EQ_INT(tl_module_register_parameter(c, "a", tl_ones(TL_SHAPE(1), TL_F32)), TL_OK);
    l = tl_module_named_parameters(c);
    {
        static const char *const ab[] = {"a", "b"};
        CHECK(names_are(l, 2, ab));
    }
    tl_named_tensors_free(l);
    CHECK_EQ_INT(tl_module_num_parameters(m), 6);
    tl_module_free(m);
    tl_module_free(c);
    tl_scope_end(s);
}

TEST(buffers_persistent_and_not) {
    tl_scope s = tl_scope_begin();
    tl_module *m = tl_module_new("Schedule", NULL);
    tl_named_tensors *l;
    tl_value *sd;
    tl_tensor *ab = tl_linspace(1, 0.1, 5, TL_F32);
    static const char *const all[] = {"alphas_bar", "tmp", "counter"};
    static const char *const persistent[] = {"alphas_bar", "counter"};
    CHECK_EQ_INT(tl_module_register_buffer(m, "alphas_bar", ab, 1), TL_OK);
    CHECK(!tl_requires_grad(ab)); /* buffers are not parameters */
    CHECK_EQ_INT(tl_module_register_buffer(m, "tmp", tl_zeros(TL_SHAPE(2), TL_F32), 0), TL_OK);
    CHECK_EQ_INT(tl_module_register_buffer(m, "none", NULL, 1), TL_OK); /* None buffer: nowhere */
    CHECK_EQ_INT(tl_module_register_buffer(m, "counter", tl_scalar_tensor(3, TL_I64), 1), TL_OK);
    l = tl_module_named_buffers(m); /* named_buffers lists non-persistent ones too */
    CHECK(names_are(l, 3, all));
    tl_named_tensors_free(l);
    l = tl_module_named_parameters(m);
    CHECK(l && l->n == 0);
    tl_named_tensors_free(l);
    sd = tl_module_state_dict(m);
    CHECK(sd_keys_are(sd, 2, persistent));
    tl_value_free(sd);
    CHECK(tl_module_get(m, "tmp") != NULL);
    CHECK(tl_module_get(m, "none") == NULL);
    CHECK_EQ_INT(tl_last_status(), TL_OK);
    /* re-registering "tmp" as persistent brings it into the state_dict at its old position */
    CHECK_EQ_INT(tl_module_register_buffer(m, "tmp", tl_ones(TL_SHAPE(2), TL_F32), 1), TL_OK);
    sd = tl_module_state_dict(m);
    CHECK(sd_keys_are(sd, 3, all));
    tl_value_free(sd);
    CHECK_EQ_INT(tl_module_num_parameters(m), 0);
    tl_module_free(m);
    tl_scope_end(s);
}

TEST(name_clashes_like_torch) {
    /* torch: KeyError "attribute 'w' already exists" for a buffer, child or parameter reusing a
       name of another kind */
    tl_scope s = tl_scope_begin();
    tl_module *m = tl_module_new("M", NULL);
    tl_named_tensors *l;
    CHECK_EQ_INT(tl_module_register_parameter(m, "w", tl_ones(TL_SHAPE(2), TL_F32)), TL_OK);
    CHECK(tl_module_register_buffer(m, "w", tl_ones(TL_SHAPE(2), TL_F32), 1) != TL_OK);
    CHECK(err_starts("tl_module_register_buffer:"));
    tl_clear_error();
    CHECK(tl_module_add_module(m, "w", tl_nn_relu()) != TL_OK);
    CHECK(err_starts("tl_module_add_module:"));
    tl_clear_error();
    CHECK_EQ_INT(tl_module_add_module(m, "c", tl_nn_relu()), TL_OK);
    CHECK(tl_module_register_parameter(m, "c", NULL) != TL_OK);
    CHECK(err_starts("tl_module_register_parameter:"));
    tl_clear_error();
    CHECK(tl_module_register_buffer(m, "c", tl_ones(TL_SHAPE(1), TL_F32), 1) != TL_OK);
    tl_clear_error();
    l = tl_module_named_buffers(m);
    CHECK(l && l->n == 0);
    tl_named_tensors_free(l);
    CHECK_EQ_INT(tl_module_len(m), 1);
    tl_module_free(m);
    tl_scope_end(s);
}

TEST(add_module_replace_keeps_position) {
    tl_scope s = tl_scope_begin();
    tl_module *m = tl_module_new("M", NULL);
    tl_named_modules *nm;
    static const char *const names[] = {"", "a", "b"};
    CHECK_EQ_INT(tl_module_add_module(m, "a", tl_nn_linear(2, 3, 1)), TL_OK);
    CHECK_EQ_INT(tl_module_add_module(m, "b", tl_nn_relu()), TL_OK);
    CHECK_EQ_INT(tl_module_add_module(m, "a", tl_nn_tanh()), TL_OK); /* the Linear is freed */
    CHECK_EQ_INT(tl_module_len(m), 2);
    CHECK_STR(tl_module_type(tl_module_at(m, 0)), "Tanh");
    CHECK_STR(tl_module_child_name(m, 0), "a");
    CHECK_STR(tl_module_child_name(m, 1), "b");
    CHECK(tl_module_child_name(m, 2) == NULL);
    nm = tl_module_named_modules(m);
    CHECK(modnames_are(nm, 3, names));
    tl_named_modules_free(nm);
    CHECK_EQ_INT(tl_module_num_parameters(m), 0);
    tl_module_free(m);
    tl_scope_end(s);
}

TEST(shared_parameter_once_state_dict_both) {
    /* one tensor registered in two children */
    tl_scope s = tl_scope_begin();
    tl_module *m = tl_module_new("Tied", NULL), *a = tl_module_new("A", NULL), *b = tl_module_new("B", NULL);
    tl_tensor *w = tl_ones(TL_SHAPE(3, 3), TL_F32);
    tl_named_tensors *l;
    tl_value *sd;
    static const char *const pnames[] = {"a.w", "b.own"};
    static const char *const keys[] = {"a.w", "b.w", "b.own"};
    CHECK_EQ_INT(tl_module_register_parameter(a, "w", w), TL_OK);
    CHECK_EQ_INT(tl_module_register_parameter(b, "w", w), TL_OK);
    CHECK_EQ_INT(tl_module_register_parameter(b, "own", tl_ones(TL_SHAPE(2), TL_F32)), TL_OK);
    CHECK_EQ_INT(tl_module_add_module(m, "a", a), TL_OK);
    CHECK_EQ_INT(tl_module_add_module(m, "b", b), TL_OK);
    l = tl_module_named_parameters(m);
    CHECK(names_are(l, 2, pnames));
    tl_named_tensors_free(l);
    CHECK_EQ_INT(tl_module_num_parameters(m), 9 + 2);
    sd = tl_module_state_dict(m);
    CHECK(sd_keys_are(sd, 3, keys));
    {
        /* torch: state_dict values are param.detach(): no grad, sharing the parameter's memory */
        tl_tensor *t0 = sd_tensor(sd, "a.w"), *t1 = sd_tensor(sd, "b.w");
        CHECK(t0 && t1 && tl_same_storage(t0, w) && tl_same_storage(t1, w));
        CHECK(t0 && !tl_requires_grad(t0));
    }
    tl_value_free(sd);
    tl_module_free(m);
    tl_scope_end(s);
}

TEST(shared_module_under_two_names) {
    tl_scope s = tl_scope_begin();
    tl_module *net = shared_net();
    tl_named_tensors *l;
    tl_named_modules *nm;
    tl_value *sd;
    static const char *const pnames[] = {"0.weight", "0.bias", "2.weight", "2.bias", "6.weight", "6.bias"};
    static const char *const keys[] = {"0.weight", "0.bias", "2.weight", "2.bias",
                                       "4.weight", "4.bias", "6.weight", "6.bias"};
    static const char *const mnames[] = {"", "0", "1", "2", "3", "5", "6"};
    REQUIRE(net != NULL);
    CHECK(tl_module_at(net, 2) == tl_module_at(net, 4));
    l = tl_module_named_parameters(net);
    CHECK(names_are(l, N_OF(pnames), pnames));
    tl_named_tensors_free(l);
    CHECK_EQ_INT(tl_module_num_parameters(net), 4 * 8 + 8 + 8 * 8 + 8 + 8 + 1);
    sd = tl_module_state_dict(net);
    CHECK(sd_keys_are(sd, N_OF(keys), keys));
    {
        tl_tensor *a = sd_tensor(sd, "2.weight"), *b = sd_tensor(sd, "4.weight");
        CHECK(a && b && tl_same_storage(a, b));
    }
    tl_value_free(sd);
    nm = tl_module_named_modules(net);
    CHECK(modnames_are(nm, N_OF(mnames), mnames));
    tl_named_modules_free(nm);
    /* the shared Linear's gradient sums both uses */
    {
        tl_tensor *x = tl_randn(TL_SHAPE(3, 4), TL_F32), *y = tl_module_forward(net, x);
        tl_tensor *w = tl_module_get(net, "2.weight");
        REQUIRE(y != NULL);
        CHECK_EQ_INT(tl_backward(tl_sum_all(y)), TL_OK);
        CHECK(tl_grad(w) != NULL);
        CHECK(tl_grad(tl_module_get(net, "4.weight")) == tl_grad(w) ||
              maxdiff(tl_grad(tl_module_get(net, "4.weight")), tl_grad(w)) == 0);
    }
    tl_module_free(net);
    tl_scope_end(s);
}

TEST(named_modules_preorder_rgnet) {
    tl_scope s = tl_scope_begin();
    tl_module *net = rgnet();
    tl_named_modules *nm;
    tl_named_tensors *l;
    static const char *const names[] = {
        "", "0", "0.block 0", "0.block 0.0", "0.block 0.1", "0.block 0.2", "0.block 0.3",
        "0.block 1", "0.block 1.0", "0.block 1.1", "0.block 1.2", "0.block 1.3",
        "0.block 2", "0.block 2.0", "0.block 2.1", "0.block 2.2", "0.block 2.3",
        "0.block 3", "0.block 3.0", "0.block 3.1", "0.block 3.2", "0.block 3.3", "1"};
    REQUIRE(net != NULL);
    nm = tl_module_named_modules(net);
    CHECK(modnames_are(nm, N_OF(names), names));
    if (nm && nm->n == N_OF(names)) {
        CHECK(nm->modules[0] == net);
        CHECK(nm->modules[22] == tl_module_at(net, -1));
        CHECK_STR(tl_module_type(nm->modules[3]), "Linear");
    }
    tl_named_modules_free(nm);
    l = tl_module_named_parameters(net);
    REQUIRE(l != NULL);
    CHECK_EQ_INT(l->n, 4 * 4 + 2);
    if (l->n == 18) {
        CHECK_STR(l->names[0], "0.block 0.0.weight");
        CHECK_STR(l->names[3], "0.block 0.2.bias");
        CHECK_STR(l->names[17], "1.bias");
    }
    tl_named_tensors_free(l);
    /* rgnet[0][1][0].bias */
    {
        tl_tensor *b1 = tl_module_get(tl_module_at(tl_module_at(tl_module_at(net, 0), 1), 0), "bias");
        tl_tensor *b2 = tl_module_get(net, "0.block 1.0.bias");
        CHECK(b1 != NULL && b1 == b2);
        CHECK_EQ_INT(tl_numel(b1), 8);
        CHECK(tl_module_child(net, "0.block 1.0") == tl_module_at(tl_module_at(tl_module_at(net, 0), 1), 0));
    }
    CHECK_EQ_INT(tl_module_num_parameters(net), 4 * (4 * 8 + 8 + 8 * 4 + 4) + 4 + 1);
    tl_module_free(net);
    tl_scope_end(s);
}

typedef struct apply_log { int n; const tl_module *mods[64]; char types[64][48]; } apply_log;
static tl_status log_module(tl_module *m, void *user) {
    apply_log *a = (apply_log *)user;
    if (a->n < 64) {
        a->mods[a->n] = m;
        snprintf(a->types[a->n], sizeof a->types[0], "%s", tl_module_type(m));
    }
    a->n++;
    return TL_OK;
}
static tl_status init_weights(tl_module *m, void *user) {
    (void)user;
    if (strcmp(tl_module_type(m), "Linear") == 0) {
        tl_scope s = tl_scope_begin();
        tl_status st = tl_init_normal_(tl_module_get(m, "weight"), 0, 0.01);
        if (st == TL_OK) st = tl_init_zeros_(tl_module_get(m, "bias"));
        tl_scope_end(s);
        return st;
    }
    return TL_OK;
}
static tl_status fail_on_relu(tl_module *m, void *user) {
    (*(int *)user)++;
    if (strcmp(tl_module_type(m), "ReLU") == 0) {
        tl_clear_error();
        return TL_ERR_STATE;
    }
    return TL_OK;
}

TEST(apply_children_first) {
    tl_scope s = tl_scope_begin();
    tl_module *net = rgnet();
    apply_log *log = (apply_log *)calloc(1, sizeof(apply_log));
    int i, calls = 0;
    REQUIRE(net && log);
    CHECK_EQ_INT(tl_module_apply(net, log_module, log), TL_OK);
    CHECK_EQ_INT(log->n, 23);
    /* post-order: block 0's four layers, block 0, ..., block 3, the block2 Sequential, Linear, net */
    CHECK_STR(log->types[0], "Linear");
    CHECK_STR(log->types[1], "ReLU");
    CHECK(log->mods[4] == tl_module_child(net, "0.block 0"));
    CHECK(log->mods[20] == tl_module_at(net, 0));
    CHECK(log->mods[21] == tl_module_at(net, 1));
    CHECK(log->mods[22] == net);
    /* net.apply(init_weights): every Linear gets N(0, 0.01) weights and zero biases */
    CHECK_EQ_INT(tl_module_apply(net, init_weights, NULL), TL_OK);
    {
        tl_tensor *b = tl_module_get(net, "0.block 2.2.bias"), *w = tl_module_get(net, "1.weight");
        CHECK_NEAR(tl_item(tl_sum_all(tl_abs(b))), 0, 0);
        CHECK(tl_item(tl_max_all(tl_abs(w))) < 0.1);
    }
    /* stops at the first error */
    CHECK_EQ_INT(tl_module_apply(net, fail_on_relu, &calls), TL_ERR_STATE);
    CHECK_EQ_INT(calls, 2);
    tl_clear_error();
    /* shared net: torch's children() yields the shared Linear once, so apply visits it once:
       ['Linear', 'ReLU', 'Linear', 'ReLU', 'ReLU', 'Linear', 'Sequential'] */
    memset(log, 0, sizeof *log);
    tl_module_free(net);
    net = shared_net();
    CHECK_EQ_INT(tl_module_apply(net, log_module, log), TL_OK);
    CHECK_EQ_INT(log->n, 7);
    for (i = 0; i < log->n && i < 64; i++)
        if (i > 0 && log->mods[i] == log->mods[2]) CHECK(i == 2);
    CHECK_EQ_INT(tl_module_apply(net, NULL, NULL), TL_ERR_ARG);
    CHECK(err_starts("tl_module_apply:"));
    tl_clear_error();
    free(log);
    tl_module_free(net);
    tl_scope_end(s);
}

TEST(train_eval_recursion_dropout_batchnorm) {
    tl_scope s = tl_scope_begin();
    tl_module *m[4], *net;
    tl_named_modules *nm;
    int i;
    m[0] = tl_nn_linear(6, 6, 1);
    m[1] = tl_nn_batch_norm1d(6, 1e-5, 0.1, 1, 1);
    m[2] = tl_nn_dropout(0.5);
    m[3] = block1(); /* a nested container */
    net = tl_nn_sequential(4, m);
    REQUIRE(net != NULL);
    CHECK_EQ_INT(tl_module_training(net), 1); /* modules start in training mode */
    tl_module_eval(net);
    nm = tl_module_named_modules(net);
    REQUIRE(nm != NULL);
    for (i = 0; i < nm->n; i++) CHECK_EQ_INT(tl_module_training(nm->modules[i]), 0);
    tl_module_train(net, 1);
    for (i = 0; i < nm->n; i++) CHECK_EQ_INT(tl_module_training(nm->modules[i]), 1);
    tl_module_train(tl_module_at(net, 3), 0); /* only the subtree */
    CHECK_EQ_INT(tl_module_training(net), 1);
    CHECK_EQ_INT(tl_module_training(tl_module_child(net, "3.2")), 0);
    tl_named_modules_free(nm);

    /* Dropout: train zeroes (about half) and scales by 2; eval is the identity */
    {
        tl_module *d = tl_module_at(net, 2);
        tl_tensor *x = tl_full(TL_SHAPE(1000), 3, TL_F32), *y;
        int64_t zeros = 0, twice = 0, k;
        float buf[1000];
        tl_manual_seed(0);
        y = tl_module_forward(d, x);
        REQUIRE(y != NULL);
        tl_copy_to_buffer(y, buf, TL_F32);
        for (k = 0; k < 1000; k++) {
            zeros += buf[k] == 0;
            twice += buf[k] == 6;
        }
        CHECK_EQ_INT(zeros + twice, 1000);
        CHECK(zeros > 400 && zeros < 600);
        tl_module_eval(d);
        y = tl_module_forward(d, x);
        CHECK(maxdiff(y, x) == 0);
    }
    /* BatchNorm: train uses batch statistics and updates the running stats; eval uses them */
    {
        tl_module *bn = tl_module_at(net, 1);
        tl_tensor *x = tl_add_scalar(tl_mul_scalar(tl_randn(TL_SHAPE(8, 6), TL_F32), 3), 5), *y;
        tl_tensor *rm = tl_module_get(bn, "running_mean"), *rv = tl_module_get(bn, "running_var");
        tl_tensor *nbt = tl_module_get(bn, "num_batches_tracked"), *mean, *var;
        REQUIRE(rm && rv && nbt);
        CHECK_EQ_INT(tl_dtype_of(nbt), TL_I64);
        CHECK_EQ_INT(tl_ndim(nbt), 0);
        tl_module_train(bn, 1);
        y = tl_module_forward(bn, x);
        REQUIRE(y != NULL);
        CHECK(tl_item(tl_max_all(tl_abs(tl_mean(y, 0, 0)))) < 1e-5); /* normalised per feature */
        CHECK_EQ_INT(tl_item_i64(nbt), 1);
        mean = tl_mean(x, 0, 0);
        var = tl_var(x, 0, 1, 0); /* unbiased, as torch's running_var */
        CHECK(maxdiff(rm, tl_mul_scalar(mean, 0.1)) < 1e-5);
        CHECK(maxdiff(rv, tl_add_scalar(tl_mul_scalar(var, 0.1), 0.9)) < 1e-4);
        tl_module_eval(bn);
        y = tl_module_forward(bn, x);
        CHECK_EQ_INT(tl_item_i64(nbt), 1); /* no update in eval */
        {
            /* (x - rm) / sqrt(rv + eps) */
            tl_tensor *ref = tl_div(tl_sub(x, rm), tl_sqrt(tl_add_scalar(rv, 1e-5)));
            CHECK(maxdiff(y, ref) < 1e-5);
        }
    }
    tl_module_free(net);
    tl_scope_end(s);
}

TEST(requires_grad_and_zero_grad) {
    tl_scope s = tl_scope_begin();
    tl_module *net = mlp();
    tl_named_tensors *l;
    tl_tensor *x = tl_randn(TL_SHAPE(2, 20), TL_F32), *y;
    int i;
    REQUIRE(net != NULL);
    CHECK_EQ_INT(tl_module_num_parameters(net), 20 * 256 + 256 + 256 * 10 + 10);
    y = tl_module_forward(net, x);
    REQUIRE(y != NULL);
    CHECK(tl_requires_grad(y));
    CHECK_EQ_INT(tl_backward(tl_sum_all(y)), TL_OK);
    l = tl_module_named_parameters(net);
    REQUIRE(l != NULL);
    for (i = 0; i < l->n; i++) CHECK(tl_grad(l->tensors[i]) != NULL);
    tl_module_zero_grad(net);
    for (i = 0; i < l->n; i++) CHECK(tl_grad(l->tensors[i]) == NULL);
    CHECK_EQ_INT(tl_module_requires_grad_(net, 0), TL_OK);
    for (i = 0; i < l->n; i++) CHECK(!tl_requires_grad(l->tensors[i]));
    y = tl_module_forward(net, x);
    CHECK(y && !tl_requires_grad(y));
    CHECK_EQ_INT(tl_module_requires_grad_(net, 1), TL_OK);
    for (i = 0; i < l->n; i++) CHECK(tl_requires_grad(l->tensors[i]));
    /* gradients accumulate across backward calls until zero_grad */
    CHECK_EQ_INT(tl_backward(tl_sum_all(tl_module_forward(net, x))), TL_OK);
    {
        tl_tensor *g1 = tl_clone(tl_grad(l->tensors[3]));
        CHECK_EQ_INT(tl_backward(tl_sum_all(tl_module_forward(net, x))), TL_OK);
        CHECK(maxdiff(tl_grad(l->tensors[3]), tl_mul_scalar(g1, 2)) < 1e-5);
    }
    tl_named_tensors_free(l);
    tl_module_free(net);
    tl_scope_end(s);
}

TEST(module_at_negative_and_len) {
    tl_scope s = tl_scope_begin();
    tl_module *net = rgnet(), *ml;
    tl_module *mods[3];
    REQUIRE(net != NULL);
    CHECK_EQ_INT(tl_module_len(net), 2);
    CHECK(tl_module_at(net, -1) == tl_module_at(net, 1));
    CHECK(tl_module_at(net, -2) == tl_module_at(net, 0));
    CHECK_STR(tl_module_type(tl_module_at(net, -1)), "Linear");
    CHECK(tl_module_at(tl_module_at(tl_module_at(net, 0), -1), -4) == tl_module_child(net, "0.block 3.0"));
    CHECK(tl_module_at(net, 2) == NULL);
    CHECK_EQ_INT(tl_last_status(), TL_ERR_INDEX);
    CHECK(err_starts("tl_module_at:"));
    tl_clear_error();
    CHECK(tl_module_at(net, -3) == NULL);
    CHECK(err_starts("tl_module_at:"));
    tl_clear_error();
    /* Sequential.append and ModuleList */
    CHECK_EQ_INT(tl_sequential_append(net, tl_nn_sigmoid()), TL_OK);
    CHECK_EQ_INT(tl_module_len(net), 3);
    CHECK_STR(tl_module_child_name(net, 2), "2");
    CHECK_STR(tl_module_type(tl_module_at(net, -1)), "Sigmoid");
    mods[0] = tl_nn_linear(2, 2, 1);
    mods[1] = tl_nn_relu();
    mods[2] = tl_nn_linear(2, 2, 1);
    ml = tl_nn_module_list(3, mods);
    REQUIRE(ml != NULL);
    CHECK_STR(tl_module_type(ml), "ModuleList");
    CHECK_EQ_INT(tl_module_len(ml), 3);
    CHECK_STR(tl_module_type(tl_module_at(ml, -2)), "ReLU");
    CHECK(tl_module_forward(ml, tl_ones(TL_SHAPE(2), TL_F32)) == NULL); /* ModuleList has no forward */
    CHECK(err_starts("tl_module_forward:"));
    tl_clear_error();
    tl_module_free(ml);
    tl_module_free(net);
    tl_scope_end(s);
}

/* ===== custom modules ========================================================================== */

TEST(custom_centered_layer) {
    tl_scope s = tl_scope_begin();
    tl_module *c = tl_module_new("CenteredLayer", centered_forward), *m[2], *net;
    tl_tensor *y;
    tl_value *sd;
    char buf[256];
    REQUIRE(c != NULL);
    y = tl_module_forward(c, tl_arange(1, 6, 1, TL_F32));
    REQUIRE(y != NULL);
    {
        static const float want[] = {-2, -1, 0, 1, 2};
        tl_tensor *w = tl_from_data(want, TL_SHAPE(5), TL_F32);
        CHECK(maxdiff(y, w) == 0);
    }
    sd = tl_module_state_dict(c);
    CHECK(sd && tl_value_len(sd) == 0);
    tl_value_free(sd);
    CHECK(tl_module_to_string(c, buf, sizeof buf) > 0);
    CHECK_STR(buf, "CenteredLayer()");
    /* net = nn.Sequential(nn.Linear(8, 128), CenteredLayer()); Y.mean() is ~0 */
    m[0] = tl_nn_linear(8, 128, 1);
    m[1] = c;
    net = tl_nn_sequential(2, m);
    y = tl_module_forward(net, tl_rand(TL_SHAPE(4, 8), TL_F32));
    REQUIRE(y != NULL);
    CHECK(fabs(tl_item(tl_mean_all(y))) < 1e-6);
    tl_module_free(net);
    tl_scope_end(s);
}

TEST(custom_my_linear_user_data) {
    tl_scope s = tl_scope_begin();
    int freed = 0;
    tl_module *lin = my_linear(5, 3, &freed);
    tl_named_tensors *l;
    tl_value *sd;
    tl_tensor *x, *y, *w, *b, *ref;
    static const char *const names[] = {"weight", "bias"};
    REQUIRE(lin != NULL);
    CHECK(((my_linear_cfg *)tl_module_user(lin))->units == 3);
    l = tl_module_named_parameters(lin);
    CHECK(names_are(l, 2, names));
    tl_named_tensors_free(l);
    sd = tl_module_state_dict(lin);
    CHECK(sd_keys_are(sd, 2, names));
    tl_value_free(sd);
    w = tl_module_get(lin, "weight");
    b = tl_module_get(lin, "bias");
    CHECK_EQ_INT(tl_size(w, 0), 5);
    CHECK_EQ_INT(tl_size(w, 1), 3);
    x = tl_rand(TL_SHAPE(2, 5), TL_F32);
    y = tl_module_forward(lin, x);
    REQUIRE(y != NULL);
    ref = tl_relu(tl_add(tl_matmul(x, w), b));
    CHECK(maxdiff(y, ref) < 1e-6);
    CHECK(!tl_requires_grad(y)); /* weight.data: no history */
    CHECK(tl_module_forward(lin, tl_rand(TL_SHAPE(2, 4), TL_F32)) == NULL);
    tl_clear_error();
    CHECK_EQ_INT(tl_module_num_parameters(lin), 18);
    tl_module_free(lin);
    CHECK_EQ_INT(freed, 1); /* free_user ran once */
    tl_scope_end(s);
}

static void fixed_hidden_check(int in_user_data) {
    tl_scope s = tl_scope_begin();
    tl_module *f = fixed_hidden_mlp(in_user_data);
    tl_named_tensors *l;
    tl_value *sd;
    tl_tensor *x, *y, *rw, *h, *ref;
    static const char *const keys[] = {"linear.weight", "linear.bias"};
    char buf[256];
    REQUIRE(f != NULL);
    sd = tl_module_state_dict(f); /* rand_weight is not saved */
    CHECK(sd_keys_are(sd, 2, keys));
    tl_value_free(sd);
    l = tl_module_named_parameters(f);
    CHECK(names_are(l, 2, keys));
    tl_named_tensors_free(l);
    l = tl_module_named_buffers(f);
    CHECK(l && l->n == (in_user_data ? 0 : 1));
    tl_named_tensors_free(l);
    rw = fixed_rand_weight(f);
    REQUIRE(rw != NULL);
    CHECK(!tl_requires_grad(rw));
    x = tl_rand(TL_SHAPE(2, 20), TL_F32);
    y = tl_module_forward(f, x);
    REQUIRE(y != NULL);
    CHECK_EQ_INT(tl_ndim(y), 0);
    /* the same computation spelled out */
    {
        tl_tensor *W = tl_module_get(f, "linear.weight"), *B = tl_module_get(f, "linear.bias");
        h = tl_linear(x, W, B);
        h = tl_relu(tl_add_scalar(tl_mm(h, rw), 1));
        h = tl_linear(h, W, B);
        while (tl_item(tl_sum_all(tl_abs(h))) > 1) h = tl_div_scalar(h, 2);
        ref = tl_sum_all(h);
        CHECK_NEAR(tl_item(y), tl_item(ref), 1e-6);
        CHECK(fabs(tl_item(y)) <= 1);
        CHECK_EQ_INT(tl_backward(y), TL_OK);
        CHECK(tl_grad(W) != NULL);
        CHECK(tl_grad(rw) == NULL);
    }
    CHECK(tl_module_to_string(f, buf, sizeof buf) > 0);
    CHECK_STR(buf, "FixedHiddenMLP(\n  (linear): Linear(in_features=20, out_features=20, bias=True)\n)");
    tl_module_free(f);
    tl_scope_end(s);
}
TEST(custom_fixed_hidden_mlp_buffer) { fixed_hidden_check(0); }
TEST(custom_fixed_hidden_mlp_user_data) { fixed_hidden_check(1); }

TEST(custom_my_sequential_add_module) {
    tl_scope s = tl_scope_begin();
    tl_module *m[3], *ms, *seq;
    tl_value *sd1, *sd2;
    tl_tensor *x, *y1, *y2;
    char b1[512], b2[512];
    static const char *const keys[] = {"0.weight", "0.bias", "2.weight", "2.bias"};
    m[0] = tl_nn_linear(20, 256, 1);
    m[1] = tl_nn_relu();
    m[2] = tl_nn_linear(256, 10, 1);
    ms = my_sequential(3, m);
    REQUIRE(ms != NULL);
    /* nn.Sequential over the same layers (shared): same outputs, keys, and repr but the name */
    m[0] = tl_module_retain(tl_module_at(ms, 0));
    m[1] = tl_module_retain(tl_module_at(ms, 1));
    m[2] = tl_module_retain(tl_module_at(ms, 2));
    seq = tl_nn_sequential(3, m);
    REQUIRE(seq != NULL);
    x = tl_rand(TL_SHAPE(2, 20), TL_F32);
    y1 = tl_module_forward(ms, x);
    y2 = tl_module_forward(seq, x);
    REQUIRE(y1 && y2);
    CHECK(maxdiff(y1, y2) == 0);
    CHECK_EQ_INT(tl_size(y1, 1), 10);
    sd1 = tl_module_state_dict(ms);
    sd2 = tl_module_state_dict(seq);
    CHECK(sd_keys_are(sd1, 4, keys));
    CHECK(sd_keys_are(sd2, 4, keys));
    tl_value_free(sd1);
    tl_value_free(sd2);
    tl_module_to_string(ms, b1, sizeof b1);
    tl_module_to_string(seq, b2, sizeof b2);
    CHECK_STR(b1, "MySequential(\n  (0): Linear(in_features=20, out_features=256, bias=True)\n  (1): ReLU()\n"
                  "  (2): Linear(in_features=256, out_features=10, bias=True)\n)");
    CHECK_STR(b2 + 3, b1 + 5); /* "Sequential(" vs "MySequential(" */
    tl_module_free(ms);
    tl_module_free(seq);
    tl_scope_end(s);
}

/* ===== state_dict, load, repr ================================================================== */

TEST(state_dict_keys_metadata_simplenet) {
    tl_scope s = tl_scope_begin();
    tl_module *net = tl_module_new("SimpleNet", NULL);
    tl_value *sd;
    const tl_value *meta;
    static const char *const keys[] = {"fc1.weight", "fc1.bias", "bn1.weight", "bn1.bias", "bn1.running_mean",
                                       "bn1.running_var", "bn1.num_batches_tracked", "fc2.weight", "fc2.bias"};
    REQUIRE(net != NULL);
    CHECK_EQ_INT(tl_module_add_module(net, "fc1", tl_nn_linear(10, 20, 1)), TL_OK);
    CHECK_EQ_INT(tl_module_add_module(net, "bn1", tl_nn_batch_norm1d(20, 1e-5, 0.1, 1, 1)), TL_OK);
    CHECK_EQ_INT(tl_module_add_module(net, "fc2", tl_nn_linear(20, 5, 1)), TL_OK);
    sd = tl_module_state_dict(net);
    REQUIRE(sd != NULL);
    CHECK(tl_value_is_ordered(sd));
    CHECK(sd_keys_are(sd, N_OF(keys), keys));
    {
        tl_tensor *t = sd_tensor(sd, "fc1.weight"), *n = sd_tensor(sd, "bn1.num_batches_tracked");
        CHECK(t && tl_size(t, 0) == 20 && tl_size(t, 1) == 10);
        CHECK(n && tl_dtype_of(n) == TL_I64 && tl_ndim(n) == 0);
    }
    meta = tl_value_metadata(sd);
    REQUIRE(meta != NULL);
    CHECK_EQ_INT(tl_value_len(meta), 4);
    CHECK_STR(tl_value_as_string(tl_value_key(meta, 0), NULL), "");
    CHECK_STR(tl_value_as_string(tl_value_key(meta, 2), NULL), "bn1");
    CHECK_EQ_INT(tl_value_as_int(tl_value_get(tl_value_get(meta, "bn1"), "version")), 2);
    CHECK_EQ_INT(tl_value_as_int(tl_value_get(tl_value_get(meta, "fc2"), "version")), 1);
    tl_value_free(sd);
    tl_module_free(net);
    tl_scope_end(s);
}

TEST(load_state_dict_round_trip_and_report) {
    tl_scope s = tl_scope_begin();
    tl_module *a = mlp(), *b = mlp();
    tl_value *sd;
    tl_load_report rep;
    tl_tensor *x = tl_randn(TL_SHAPE(3, 20), TL_F32), *bw;
    REQUIRE(a && b);
    bw = tl_module_get(b, "hidden.weight");
    CHECK(maxdiff(tl_module_forward(a, x), tl_module_forward(b, x)) > 0);
    sd = tl_module_state_dict(a);
    memset(&rep, 0x55, sizeof rep);
    CHECK_EQ_INT(tl_module_load_state_dict(b, sd, 1, &rep), TL_OK);
    CHECK_EQ_INT(rep.missing, 0);
    CHECK_EQ_INT(rep.unexpected, 0);
    CHECK_STR(rep.missing_keys, "");
    CHECK(maxdiff(tl_module_forward(a, x), tl_module_forward(b, x)) == 0);
    CHECK(tl_module_get(b, "hidden.weight") == bw); /* copied into the existing tensor */
    CHECK(!tl_same_storage(bw, tl_module_get(a, "hidden.weight")));
    tl_value_free(sd);
    /* a state_dict missing a key and holding an extra one: strict fails, non-strict loads */
    sd = tl_module_state_dict(a);
    {
        tl_value *d = tl_value_ordered_dict();
        size_t i;
        for (i = 0; i < tl_value_len(sd); i++) {
            const char *k = tl_value_as_string(tl_value_key(sd, i), NULL);
            if (strcmp(k, "out.bias") == 0) continue;
            tl_value_set(d, k, tl_value_copy(tl_value_item(sd, i)));
        }
        tl_value_set(d, "extra", tl_value_tensor(tl_zeros(TL_SHAPE(1), TL_F32)));
        CHECK_EQ_INT(tl_module_load_state_dict(b, d, 1, &rep), TL_ERR_STATE);
        CHECK(err_starts("tl_module_load_state_dict: Error(s) in loading state_dict for MLP:"));
        CHECK(err_contains("Missing key(s) in state_dict: \"out.bias\". "));
        CHECK(err_contains("Unexpected key(s) in state_dict: \"extra\". "));
        tl_clear_error();
        CHECK_EQ_INT(rep.missing, 1);
        CHECK_EQ_INT(rep.unexpected, 1);
        CHECK_STR(rep.missing_keys, "\"out.bias\"");
        CHECK_STR(rep.unexpected_keys, "\"extra\"");
        CHECK_EQ_INT(tl_module_load_state_dict(b, d, 0, &rep), TL_OK);
        CHECK_EQ_INT(rep.missing, 1);
        CHECK_EQ_INT(rep.unexpected, 1);
        tl_value_free(d);
    }
    tl_value_free(sd);
    CHECK_EQ_INT(tl_module_load_state_dict(b, NULL, 1, NULL), TL_ERR_ARG);
    CHECK(err_starts("tl_module_load_state_dict:"));
    tl_clear_error();
    tl_module_free(a);
    tl_module_free(b);
    tl_scope_end(s);
}

static const char *const RGNET_REPR =
    "Sequential(\n"
    "  (0): Sequential(\n"
    "    (block 0): Sequential(\n"
    "      (0): Linear(in_features=4, out_features=8, bias=True)\n"
    "      (1): ReLU()\n"
    "      (2): Linear(in_features=8, out_features=4, bias=True)\n"
    "      (3): ReLU()\n"
    "    )\n"
    "    (block 1): Sequential(\n"
    "      (0): Linear(in_features=4, out_features=8, bias=True)\n"
    "      (1): ReLU()\n"
    "      (2): Linear(in_features=8, out_features=4, bias=True)\n"
    "      (3): ReLU()\n"
    "    )\n"
    "    (block 2): Sequential(\n"
    "      (0): Linear(in_features=4, out_features=8, bias=True)\n"
    "      (1): ReLU()\n"
    "      (2): Linear(in_features=8, out_features=4, bias=True)\n"
    "      (3): ReLU()\n"
    "    )\n"
    "    (block 3): Sequential(\n"
    "      (0): Linear(in_features=4, out_features=8, bias=True)\n"
    "      (1): ReLU()\n"
    "      (2): Linear(in_features=8, out_features=4, bias=True)\n"
    "      (3): ReLU()\n"
    "    )\n"
    "  )\n"
    "  (1): Linear(in_features=4, out_features=1, bias=True)\n"
    ")";

TEST(repr_rgnet_and_truncation) {
    tl_scope s = tl_scope_begin();
    tl_module *net = rgnet();
    char buf[2048], small[16];
    int n;
    REQUIRE(net != NULL);
    n = tl_module_to_string(net, buf, sizeof buf);
    CHECK_EQ_INT(n, (int)strlen(RGNET_REPR));
    CHECK_STR(buf, RGNET_REPR);
    /* cap smaller than the text: truncated, NUL-terminated, full length returned */
    CHECK_EQ_INT(tl_module_to_string(net, small, sizeof small), n);
    CHECK_EQ_INT((int)strlen(small), (int)sizeof small - 1);
    CHECK(strncmp(small, RGNET_REPR, sizeof small - 1) == 0);
    CHECK_EQ_INT(tl_module_to_string(net, NULL, 0), n);
    tl_module_free(net);
    tl_scope_end(s);
}

TEST(repr_extra_repr_and_containers) {
    /* torch: lines = extra_repr.split('\n') + child lines; a single extra line without children
       stays inline, anything else goes one per line, indented by two per level */
    tl_scope s = tl_scope_begin();
    tl_module *m = tl_module_new("M", NULL), *o = tl_module_new("O", NULL), *ml, *mods[2], *empty;
    char buf[512];
    REQUIRE(m && o);
    CHECK_EQ_INT(tl_module_set_extra_repr(m, "a=1\nb=2"), TL_OK);
    tl_module_to_string(m, buf, sizeof buf);
    CHECK_STR(buf, "M(\n  a=1\n  b=2\n)");
    CHECK_EQ_INT(tl_module_set_extra_repr(o, "scale=2"), TL_OK);
    CHECK_EQ_INT(tl_module_add_module(o, "inner", m), TL_OK);
    CHECK_EQ_INT(tl_module_add_module(o, "act", tl_nn_relu()), TL_OK);
    tl_module_to_string(o, buf, sizeof buf);
    CHECK_STR(buf, "O(\n  scale=2\n  (inner): M(\n    a=1\n    b=2\n  )\n  (act): ReLU()\n)");
    mods[0] = tl_nn_linear(2, 2, 1);
    mods[1] = tl_nn_relu();
    ml = tl_nn_module_list(2, mods);
    tl_module_to_string(ml, buf, sizeof buf);
    CHECK_STR(buf, "ModuleList(\n  (0): Linear(in_features=2, out_features=2, bias=True)\n  (1): ReLU()\n)");
    empty = tl_nn_sequential(0, NULL);
    tl_module_to_string(empty, buf, sizeof buf);
    CHECK_STR(buf, "Sequential()");
    tl_module_free(o);
    tl_module_free(ml);
    tl_module_free(empty);
    tl_scope_end(s);
}

/* ===== errors ================================================================================== */

static tl_module *failing_constructor(void) { return tl_nn_linear(-1, 3, 1); }

TEST(errors_name_the_call) {
    tl_scope s = tl_scope_begin();
    tl_module *m = tl_module_new("M", NULL), *net = rgnet();
    tl_tensor *t = tl_ones(TL_SHAPE(2), TL_F32);
    REQUIRE(m && net);
    /* names with '.' or empty */
    CHECK_EQ_INT(tl_module_register_parameter(m, "a.b", t), TL_ERR_ARG);
    CHECK(err_starts("tl_module_register_parameter:"));
    tl_clear_error();
    CHECK_EQ_INT(tl_module_register_buffer(m, "x.y", t, 1), TL_ERR_ARG);
    CHECK(err_starts("tl_module_register_buffer:"));
    tl_clear_error();
    CHECK_EQ_INT(tl_module_register_parameter(m, "", t), TL_ERR_ARG);
    CHECK(err_starts("tl_module_register_parameter:"));
    tl_clear_error();
    CHECK_EQ_INT(tl_module_register_parameter(m, NULL, t), TL_ERR_ARG);
    tl_clear_error();
    CHECK_EQ_INT(tl_module_add_module(m, "blk.0", tl_nn_relu()), TL_ERR_ARG); /* child freed */
    CHECK(err_starts("tl_module_add_module:"));
    tl_clear_error();
    CHECK_EQ_INT(tl_module_add_module(m, "", tl_nn_relu()), TL_ERR_ARG);
    CHECK(err_starts("tl_module_add_module:"));
    tl_clear_error();
    /* NULL child, NULL parent */
    CHECK_EQ_INT(tl_module_add_module(m, "c", NULL), TL_ERR_ARG);
    CHECK(err_starts("tl_module_add_module:"));
    tl_clear_error();
    CHECK_EQ_INT(tl_module_add_module(NULL, "c", tl_nn_relu()), TL_ERR_ARG);
    CHECK(err_starts("tl_module_add_module:"));
    tl_clear_error();
    /* a child whose constructor failed: its error is kept */
    CHECK(tl_module_add_module(m, "c", failing_constructor()) != TL_OK);
    CHECK(err_starts("tl_nn_linear:"));
    tl_clear_error();
    CHECK_EQ_INT(tl_module_len(m), 0);
    CHECK(tl_nn_sequential(1, (tl_module *const[]){failing_constructor()}) == NULL);
    CHECK(err_starts("tl_nn_linear:"));
    tl_clear_error();
    /* missing paths */
    CHECK(tl_module_get(net, "0.block 9.0.weight") == NULL);
    CHECK(err_starts("tl_module_get:"));
    CHECK(err_contains("block 9"));
    tl_clear_error();
    CHECK(tl_module_get(net, "1.nope") == NULL);
    CHECK(err_starts("tl_module_get:"));
    CHECK(err_contains("nope"));
    tl_clear_error();
    CHECK(tl_module_get(net, "") == NULL);
    CHECK(err_starts("tl_module_get:"));
    tl_clear_error();
    CHECK(tl_module_child(net, "0.block 0.7") == NULL);
    CHECK(err_starts("tl_module_child:"));
    tl_clear_error();
    CHECK(tl_module_child(net, "x.y.z") == NULL);
    CHECK(err_starts("tl_module_child:"));
    tl_clear_error();
    CHECK(tl_module_child(net, NULL) == NULL);
    CHECK(err_starts("tl_module_child:"));
    tl_clear_error();
    /* forward without a function, and with bad input */
    CHECK(tl_module_forward(m, t) == NULL);
    CHECK_EQ_INT(tl_last_status(), TL_ERR_STATE);
    CHECK(err_starts("tl_module_forward:"));
    CHECK(err_contains("M"));
    tl_clear_error();
    CHECK(tl_module_forward(net, NULL) == NULL);
    CHECK(err_starts("tl_module_forward:"));
    tl_clear_error();
    CHECK(tl_module_forward(NULL, t) == NULL);
    CHECK(err_starts("tl_module_forward:"));
    tl_clear_error();
    CHECK(tl_module_forward(net, tl_ones(TL_SHAPE(2, 5), TL_F32)) == NULL); /* 5 != in_features 4 */
    CHECK(tl_last_status() == TL_ERR_SHAPE);
    tl_clear_error();
    /* other NULL arguments */
    CHECK(tl_module_state_dict(NULL) == NULL);
    CHECK(err_starts("tl_module_state_dict:"));
    tl_clear_error();
    CHECK(tl_module_named_parameters(NULL) == NULL);
    CHECK(err_starts("tl_module_named_parameters:"));
    tl_clear_error();
    CHECK(tl_module_named_modules(NULL) == NULL);
    CHECK(err_starts("tl_module_named_modules:"));
    tl_clear_error();
    CHECK(tl_module_at(NULL, 0) == NULL);
    CHECK(err_starts("tl_module_at:"));
    tl_clear_error();
    CHECK(tl_module_to_string(NULL, NULL, 0) < 0);
    CHECK(err_starts("tl_module_to_string:"));
    tl_clear_error();
    /* bad layer options */
    CHECK(tl_nn_dropout(1.5) == NULL);
    CHECK(err_starts("tl_nn_dropout:"));
    tl_clear_error();
    CHECK(tl_nn_conv2d(3, 4, 3, 3, &(tl_conv2d_opts){{1, 1}, {0, 0}, {1, 1}, 2, 0}, 1) == NULL); /* 3 % 2 */
    CHECK(err_starts("tl_nn_conv2d:"));
    tl_clear_error();
    CHECK(tl_nn_max_pool2d(NULL) == NULL);
    CHECK(err_starts("tl_nn_max_pool2d:"));
    tl_clear_error();
    /* a BatchNorm1d given 4-D input */
    {
        tl_module *bn = tl_nn_batch_norm1d(3, 1e-5, 0.1, 1, 1);
        CHECK(tl_module_forward(bn, tl_ones(TL_SHAPE(2, 3, 4, 4), TL_F32)) == NULL);
        CHECK(err_starts("tl_module_forward:"));
        tl_clear_error();
        tl_module_free(bn);
    }
    /* the module is untouched by the failed calls */
    CHECK_EQ_INT(tl_module_len(m), 0);
    CHECK_EQ_INT(tl_module_num_parameters(m), 0);
    tl_module_free(m);
    tl_module_free(net);
    tl_module_free(NULL); /* NULL-safe */
    tl_scope_end(s);
}

TEST(ownership_outside_scopes) {
    /* a module built and used with no scope open: every reference is released by hand */
    tl_module *net = shared_net();
    tl_tensor *x = tl_randn(TL_SHAPE(2, 4), TL_F32), *y, *w;
    tl_value *sd;
    REQUIRE(net && x);
    y = tl_module_forward(net, x);
    REQUIRE(y != NULL);
    w = tl_module_get(net, "0.weight");
    sd = tl_module_state_dict(net);
    tl_module_free(net); /* the state_dict and w keep their tensors alive */
    CHECK_EQ_INT(tl_value_len(sd), 8);
    CHECK_EQ_INT(tl_numel(w), 32);
    tl_value_free(sd);
    tl_release(w);
    tl_release(y);
    tl_release(x);
}

/* net.double(): parameters, their grads and float buffers become float64 in place (checked against
   torch 1.13: same Parameter object, grad float64, num_batches_tracked int64) */
TEST(module_to_dtype_converts_in_place) {
    tl_scope s = tl_scope_begin();
    tl_module *m[2], *net;
    tl_tensor *w, *x, *y;
    tl_named_tensors *b;
    double before, g12;
    tl_manual_seed(0);
    m[0] = tl_nn_linear(3, 2, 1);
    m[1] = tl_nn_batch_norm1d(2, 1e-5, 0.1, 1, 1);
    net = tl_nn_sequential(2, m);
    w = tl_module_get(net, "0.weight");
    REQUIRE(w != NULL);
    before = tl_get(w, (const int64_t[]){1, 2});
    x = tl_ones(TL_SHAPE(4, 3), TL_F32);
    CHECK(tl_backward(tl_sum_all(tl_module_forward(net, x))) == TL_OK);
    REQUIRE(tl_grad(w) != NULL);
    g12 = tl_get(tl_grad(w), (const int64_t[]){1, 2});
    CHECK_EQ_INT(tl_module_to_dtype(net, TL_F64), TL_OK);
    CHECK_EQ_INT(tl_dtype_of(w), TL_F64);        /* the same tensor object, converted */
    CHECK(tl_get(w, (const int64_t[]){1, 2}) == (double)(float)before);
    CHECK(tl_grad(w) && tl_dtype_of(tl_grad(w)) == TL_F64); /* .grad converted too, as torch's */
    CHECK(tl_get(tl_grad(w), (const int64_t[]){1, 2}) == g12);
    CHECK(tl_requires_grad(w));
    b = tl_module_named_buffers(net);
    REQUIRE(b && b->n == 3);
    CHECK_EQ_INT(tl_dtype_of(b->tensors[0]), TL_F64); /* running_mean */
    CHECK_EQ_INT(tl_dtype_of(b->tensors[2]), TL_I64); /* num_batches_tracked */
    tl_named_tensors_free(b);
    y = tl_module_forward(net, tl_ones(TL_SHAPE(4, 3), TL_F64));
    CHECK(y && tl_dtype_of(y) == TL_F64);
    CHECK(tl_module_to_dtype(net, TL_I64) == TL_ERR_DTYPE);
    tl_clear_error();
    tl_module_free(net);
    tl_scope_end(s);
}

static const th_case tests[] = {
    TH_CASE(register_parameter_replace_keeps_position),
    TH_CASE(register_parameter_refuses_nonleaf_and_integers),
    TH_CASE(none_parameter_is_skipped_everywhere),
    TH_CASE(buffers_persistent_and_not),
    TH_CASE(name_clashes_like_torch),
    TH_CASE(add_module_replace_keeps_position),
    TH_CASE(shared_parameter_once_state_dict_both),
    TH_CASE(shared_module_under_two_names),
    TH_CASE(named_modules_preorder_rgnet),
    TH_CASE(apply_children_first),
    TH_CASE(train_eval_recursion_dropout_batchnorm),
    TH_CASE(requires_grad_and_zero_grad),
    TH_CASE(module_at_negative_and_len),
    TH_CASE(custom_centered_layer),
    TH_CASE(custom_my_linear_user_data),
    TH_CASE(custom_fixed_hidden_mlp_buffer),
    TH_CASE(custom_fixed_hidden_mlp_user_data),
    TH_CASE(custom_my_sequential_add_module),
    TH_CASE(state_dict_keys_metadata_simplenet),
    TH_CASE(load_state_dict_round_trip_and_report),
    TH_CASE(repr_rgnet_and_truncation),
    TH_CASE(repr_extra_repr_and_containers),
    TH_CASE(errors_name_the_call),
    TH_CASE(ownership_outside_scopes),
    TH_CASE(module_to_dtype_converts_in_place),
};

int main(void) { return TH_RUN(tests); }
