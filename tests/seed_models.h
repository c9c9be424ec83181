/* seed_models.h - the models of ../shared/SEED_NOTES.md built with tensorlite, shared by
   tests/test_modules.c and tests/torch/modules_runner.c (include after tensorlite.h). Each builder
   draws its initial weights in torch's __init__ order, so after tl_manual_seed(s) it holds what the
   PyTorch class holds after torch.manual_seed(s). Builders return NULL on failure. */
#ifndef SEED_MODELS_H
#define SEED_MODELS_H
#include <stdio.h>
#include <stdlib.h>

static tl_module *block1(void) {
    tl_module *m[4];
    m[0] = tl_nn_linear(4, 8, 1);
    m[1] = tl_nn_relu();
    m[2] = tl_nn_linear(8, 4, 1);
    m[3] = tl_nn_relu();
    return tl_nn_sequential(4, m);
}
static tl_module *block2(void) {
    tl_module *net = tl_nn_sequential(0, NULL);
    int i;
    char name[32];
    for (i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "block %d", i);
        if (tl_module_add_module(net, name, block1()) != TL_OK) {
            tl_module_free(net);
            return NULL;
        }
    }
    return net;
}
static tl_module *rgnet(void) {
    tl_module *m[2];
    m[0] = block2();
    m[1] = tl_nn_linear(4, 1, 1);
    return tl_nn_sequential(2, m);
}
/* net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), shared, nn.ReLU(), shared, nn.ReLU(), nn.Linear(8, 1)) */
static tl_module *shared_net(void) {
    tl_module *shared = tl_nn_linear(8, 8, 1), *m[7];
    m[0] = tl_nn_linear(4, 8, 1);
    m[1] = tl_nn_relu();
    m[2] = tl_module_retain(shared);
    m[3] = tl_nn_relu();
    m[4] = shared; /* our reference goes to the net */
    m[5] = tl_nn_relu();
    m[6] = tl_nn_linear(8, 1, 1);
    return tl_nn_sequential(7, m);
}

/* class MLP: hidden = Linear(20, 256), out = Linear(256, 10); forward out(relu(hidden(X))) */
static tl_tensor *mlp_forward(tl_module *self, const tl_tensor *x) {
    tl_scope s = tl_scope_begin();
    tl_tensor *h = tl_relu(tl_module_forward(tl_module_child(self, "hidden"), x));
    tl_tensor *y = tl_keep(tl_module_forward(tl_module_child(self, "out"), h));
    tl_scope_end(s);
    return y;
}
static tl_module *mlp(void) {
    tl_module *m = tl_module_new("MLP", mlp_forward);
    if (tl_module_add_module(m, "hidden", tl_nn_linear(20, 256, 1)) != TL_OK ||
        tl_module_add_module(m, "out", tl_nn_linear(256, 10, 1)) != TL_OK) {
        tl_module_free(m);
        return NULL;
    }
    return m;
}

/* class CenteredLayer: forward X - X.mean() */
static tl_tensor *centered_forward(tl_module *self, const tl_tensor *x) {
    tl_scope s = tl_scope_begin();
    tl_tensor *y = tl_keep(tl_sub(x, tl_mean_all(x)));
    (void)self;
    tl_scope_end(s);
    return y;
}

/* class MyLinear(in_units, units): weight = randn(in, units), bias = randn(units);
   forward relu(X @ weight.data + bias.data). The sizes live in user data. */
typedef struct my_linear_cfg { int64_t in_units, units; int *freed; } my_linear_cfg;
static void my_linear_free(void *u) {
    my_linear_cfg *c = (my_linear_cfg *)u;
    if (c->freed) (*c->freed)++;
    free(c);
}
static tl_tensor *my_linear_forward(tl_module *self, const tl_tensor *x) {
    tl_scope s = tl_scope_begin();
    my_linear_cfg *c = (my_linear_cfg *)tl_module_user(self);
    tl_tensor *w = tl_detach(tl_module_get(self, "weight")), *b = tl_detach(tl_module_get(self, "bias")), *y;
    if (x && tl_ndim(x) > 0 && tl_size(x, -1) != c->in_units) {
        tl_scope_end(s);
        return NULL; /* tl_matmul would also fail and say why */
    }
    y = tl_keep(tl_relu(tl_add(tl_matmul(x, w), b)));
    tl_scope_end(s);
    return y;
}
static tl_module *my_linear(int64_t in_units, int64_t units, int *freed) {
    tl_module *m = tl_module_new("MyLinear", my_linear_forward);
    my_linear_cfg *c = (my_linear_cfg *)malloc(sizeof *c);
    tl_scope s = tl_scope_begin();
    int ok;
    if (!m || !c) {
        free(c);
        tl_module_free(m);
        tl_scope_end(s);
        return NULL;
    }
    c->in_units = in_units;
    c->units = units;
    c->freed = freed;
    tl_module_set_user(m, c, my_linear_free);
    ok = tl_module_register_parameter(m, "weight", tl_randn(TL_SHAPE(in_units, units), TL_F32)) == TL_OK &&
         tl_module_register_parameter(m, "bias", tl_randn(TL_SHAPE(units), TL_F32)) == TL_OK;
    tl_scope_end(s);
    if (!ok) {
        tl_module_free(m);
        return NULL;
    }
    return m;
}

/* class FixedHiddenMLP: rand_weight = rand(20, 20) (not a parameter), linear = Linear(20, 20);
   forward: X = linear(X); X = relu(X @ rand_weight + 1); X = linear(X);
            while X.abs().sum() > 1: X /= 2;  return X.sum()
   Version "buffer" keeps rand_weight as a non-persistent buffer; version "user" keeps its 400
   floats in user data and wraps them per forward (a tensor reference made inside the caller's
   scope belongs to that scope, so user data holds plain memory, not a tl_tensor*). */
static tl_tensor *fixed_rand_weight(tl_module *self) {
    float *rw = (float *)tl_module_user(self);
    return rw ? tl_from_data(rw, TL_SHAPE(20, 20), TL_F32) : tl_module_get(self, "rand_weight");
}
static tl_tensor *fixed_forward(tl_module *self, const tl_tensor *x) {
    tl_scope s = tl_scope_begin();
    tl_module *lin = tl_module_child(self, "linear");
    tl_tensor *h = tl_module_forward(lin, x), *y;
    h = tl_relu(tl_add_scalar(tl_mm(h, fixed_rand_weight(self)), 1));
    h = tl_module_forward(lin, h);
    while (h && tl_item(tl_sum_all(tl_abs(h))) > 1) h = tl_div_scalar(h, 2);
    y = tl_keep(tl_sum_all(h));
    tl_scope_end(s);
    return y;
}
static tl_module *fixed_hidden_mlp(int in_user_data) {
    tl_scope s = tl_scope_begin();
    tl_module *m = tl_module_new("FixedHiddenMLP", fixed_forward);
    tl_tensor *rw = tl_rand(TL_SHAPE(20, 20), TL_F32);
    int ok = m && rw;
    if (ok && in_user_data) {
        float *data = (float *)malloc(sizeof(float) * 400);
        ok = data && tl_copy_to_buffer(rw, data, TL_F32) == TL_OK;
        if (data) tl_module_set_user(m, data, free);
    } else if (ok) {
        ok = tl_module_register_buffer(m, "rand_weight", rw, 0) == TL_OK;
    }
    ok = ok && tl_module_add_module(m, "linear", tl_nn_linear(20, 20, 1)) == TL_OK;
    tl_scope_end(s);
    if (!ok) {
        tl_module_free(m);
        return NULL;
    }
    return m;
}

/* class MySequential: children in insertion order, forward through each. */
static tl_tensor *myseq_forward(tl_module *self, const tl_tensor *x) {
    tl_scope s = tl_scope_begin();
    const tl_tensor *cur = x;
    int i;
    for (i = 0; i < tl_module_len(self) && cur; i++) cur = tl_module_forward(tl_module_at(self, i), cur);
    cur = cur ? tl_keep(cur == x ? tl_retain((tl_tensor *)x) : (tl_tensor *)cur) : NULL;
    tl_scope_end(s);
    return (tl_tensor *)cur;
}
static tl_module *my_sequential(int n, tl_module *const *mods) {
    tl_module *m = tl_module_new("MySequential", myseq_forward);
    int i;
    char name[16];
    for (i = 0; i < n; i++) {
        snprintf(name, sizeof name, "%d", i);
        if (!m) tl_module_free(mods[i]);
        else if (tl_module_add_module(m, name, mods[i]) != TL_OK) {
            tl_module_free(m);
            m = NULL;
        }
    }
    return m;
}

#endif
