/* 03_modules.c - nn.Module in C: nn.Sequential, custom modules with a forward function, a
   hand-written Sequential, constant weights and control flow in forward, nesting, add_module and
   print(net), indexing into nested blocks, tied (shared) layers, net.apply with init functions,
   and state_dict keys.

   Build and run from the repository root:
       gcc -std=c99 -O2 -I. examples/03_modules.c -o build/03_modules -lm && ./build/03_modules

   Each section calls tl_manual_seed(0) first, like torch.manual_seed(0) before the Python version
   (quoted in each section's comment); layers are initialised as torch initialises them, so every
   printed number is the one PyTorch 1.13 prints.

   Three C-specific habits:
   - A forward function gets (self, input) and returns a NEW reference. Open a scope for the
     temporaries and tl_keep the result, so only the output reaches the caller's scope.
   - Constructors (tl_nn_linear, ...) draw their initial weights from the random stream. C leaves the
     evaluation order of the items in an initializer list unspecified, so build layers in separate
     statements (in torch's order) before putting them in a tl_nn_sequential list.
   - Modules are refcounted, not scoped: tl_module_free the ones you own. tl_nn_sequential and
     tl_module_add_module take the reference you pass. */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include <stdio.h>
#include <string.h>

/* Prints the output of a forward pass, or the error that stopped it. */
static void show_output(const char *label, const tl_tensor *y) {
    printf("%s\n", label);
    if (y) tl_print(y);
    else printf("error: %s\n", tl_last_error());
}

/* Prints "  name [d0, d1, ...]". */
static void show_shape(const char *name, const tl_tensor *t) {
    int d;
    printf("  %-14s [", name);
    for (d = 0; d < tl_ndim(t); d++) printf("%s%lld", d ? ", " : "", (long long)tl_size(t, d));
    printf("]\n");
}

/* named_parameters(): name and shape of each parameter, each shared parameter once. */
static void show_named_parameters(const tl_module *net) {
    tl_named_tensors *list = tl_module_named_parameters(net);
    int i;
    for (i = 0; list && i < list->n; i++) show_shape(list->names[i], list->tensors[i]);
    tl_named_tensors_free(list);
}

/* ---- class MLP(nn.Module): hidden = Linear(20, 256); out = Linear(256, 10) ---- */
/* def forward(self, X): return self.out(F.relu(self.hidden(X))) */
static tl_tensor *mlp_forward(tl_module *self, const tl_tensor *X) {
    tl_scope s = tl_scope_begin();
    tl_tensor *h = tl_relu(tl_module_forward(tl_module_child(self, "hidden"), X));
    tl_tensor *out = tl_keep(tl_module_forward(tl_module_child(self, "out"), h));
    tl_scope_end(s); /* h dies here; out moved to the caller's scope */
    return out;
}
static tl_module *mlp_new(void) {
    tl_module *m = tl_module_new("MLP", mlp_forward);
    tl_module_add_module(m, "hidden", tl_nn_linear(20, 256, 1)); /* self.hidden = nn.Linear(20, 256) */
    tl_module_add_module(m, "out", tl_nn_linear(256, 10, 1));
    return m;
}

/* ---- class MySequential(nn.Module): children "0", "1", ... in insertion order ---- */
/* for block in self._modules.values(): X = block(X) */
static tl_tensor *my_sequential_forward(tl_module *self, const tl_tensor *X) {
    tl_scope s = tl_scope_begin();
    tl_tensor *out = (tl_tensor *)X;
    int i;
    for (i = 0; i < tl_module_len(self); i++) out = tl_module_forward(tl_module_at(self, i), out);
    out = tl_keep(out);
    tl_scope_end(s);
    return out;
}
static tl_module *my_sequential_new(int n, tl_module *const *mods) {
    tl_module *m = tl_module_new("MySequential", my_sequential_forward);
    char name[32];
    int i;
    for (i = 0; i < n; i++) { /* self._modules[str(idx)] = module */
        snprintf(name, sizeof name, "%d", i);
        tl_module_add_module(m, name, mods[i]);
    }
    return m;
}

/* ---- class FixedHiddenMLP(nn.Module) ----
   self.rand_weight = torch.rand((20, 20), requires_grad=False)   # a constant, not a parameter
   self.linear = nn.Linear(20, 20)
   def forward(self, X):
       X = self.linear(X)
       X = F.relu(torch.mm(X, self.rand_weight) + 1)
       X = self.linear(X)                 # the same layer again: its parameters are reused
       while X.abs().sum() > 1:           # ordinary control flow
           X /= 2
       return X.sum()
   The constant is registered as a non-persistent buffer: the module holds a reference to it, it is
   not a parameter (never trained) and stays out of state_dict (torch's register_buffer(...,
   persistent=False); a plain Python attribute does the same in torch). */
static tl_tensor *fixed_hidden_mlp_forward(tl_module *self, const tl_tensor *input) {
    tl_scope s = tl_scope_begin();
    tl_module *linear = tl_module_child(self, "linear");
    tl_tensor *rand_weight = tl_module_get(self, "rand_weight");
    tl_tensor *X = tl_module_forward(linear, input), *out;
    X = tl_relu(tl_add_scalar(tl_mm(X, rand_weight), 1));
    X = tl_module_forward(linear, X);
    while (X && tl_item(tl_sum_all(tl_abs(X))) > 1) tl_div_scalar_(X, 2); /* X /= 2, in place */
    out = tl_keep(tl_sum_all(X));
    tl_scope_end(s);
    return out;
}
static tl_module *fixed_hidden_mlp_new(void) {
    tl_module *m = tl_module_new("FixedHiddenMLP", fixed_hidden_mlp_forward);
    tl_scope s = tl_scope_begin();
    tl_module_register_buffer(m, "rand_weight", tl_rand(TL_SHAPE(20, 20), TL_F32), 0); /* drawn first, as in torch */
    tl_scope_end(s); /* the module keeps its own reference */
    tl_module_add_module(m, "linear", tl_nn_linear(20, 20, 1));
    return m;
}

/* ---- class NestMLP(nn.Module) ----
   self.net = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU())
   self.linear = nn.Linear(32, 16)
   def forward(self, X): return self.linear(self.net(X)) */
static tl_tensor *nest_mlp_forward(tl_module *self, const tl_tensor *X) {
    tl_scope s = tl_scope_begin();
    tl_tensor *h = tl_module_forward(tl_module_child(self, "net"), X);
    tl_tensor *out = tl_keep(tl_module_forward(tl_module_child(self, "linear"), h));
    tl_scope_end(s);
    return out;
}
static tl_module *nest_mlp_new(void) {
    tl_module *m = tl_module_new("NestMLP", nest_mlp_forward);
    tl_module *l1 = tl_nn_linear(20, 64, 1);
    tl_module *l2 = tl_nn_linear(64, 32, 1);
    tl_module_add_module(m, "net", tl_nn_sequential(4, (tl_module *[]){l1, tl_nn_relu(), l2, tl_nn_relu()}));
    tl_module_add_module(m, "linear", tl_nn_linear(32, 16, 1));
    return m;
}

/* ---- block1() / block2(): nn.Sequential built with add_module and custom names ---- */
static tl_module *block1(void) {
    tl_module *l1 = tl_nn_linear(4, 8, 1);
    tl_module *l2 = tl_nn_linear(8, 4, 1);
    return tl_nn_sequential(4, (tl_module *[]){l1, tl_nn_relu(), l2, tl_nn_relu()});
}
static tl_module *block2(void) {
    tl_module *net = tl_nn_sequential(0, NULL); /* net = nn.Sequential() */
    char name[32];
    int i;
    for (i = 0; i < 4; i++) { /* net.add_module(f'block {i}', block1()) */
        snprintf(name, sizeof name, "block %d", i);
        tl_module_add_module(net, name, block1());
    }
    return net;
}

/* ---- init functions for net.apply(fn): fn sees every submodule, children first ---- */
/* def init_normal(m):
       if type(m) == nn.Linear: nn.init.normal_(m.weight, mean=0, std=0.01); nn.init.zeros_(m.bias) */
static tl_status init_normal(tl_module *m, void *user) {
    tl_status st = TL_OK;
    (void)user;
    if (strcmp(tl_module_type(m), "Linear") == 0) {
        tl_scope s = tl_scope_begin(); /* tl_module_get returns new references */
        st = tl_init_normal_(tl_module_get(m, "weight"), 0, 0.01);
        if (st == TL_OK) st = tl_init_zeros_(tl_module_get(m, "bias"));
        tl_scope_end(s);
    }
    return st;
}
/* The user pointer carries the init function's arguments: nn.init.constant_(m.weight, *value). */
static tl_status init_constant(tl_module *m, void *user) {
    tl_status st = TL_OK;
    if (strcmp(tl_module_type(m), "Linear") == 0) {
        tl_scope s = tl_scope_begin();
        st = tl_init_constant_(tl_module_get(m, "weight"), *(const double *)user);
        if (st == TL_OK) st = tl_init_zeros_(tl_module_get(m, "bias"));
        tl_scope_end(s);
    }
    return st;
}

int main(void) {
    tl_scope s = tl_scope_begin(); /* owns every tensor below (modules own their parameters) */
    tl_module *net;

    /* net = nn.Sequential(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10)); X = torch.rand(2, 20) */
    printf("== nn.Sequential ==\n");
    tl_manual_seed(0);
    {
        tl_module *l1 = tl_nn_linear(20, 256, 1), *l2 = tl_nn_linear(256, 10, 1);
        net = tl_nn_sequential(3, (tl_module *[]){l1, tl_nn_relu(), l2});
    }
    tl_module_print(net);
    show_output("net(X)", tl_module_forward(net, tl_rand(TL_SHAPE(2, 20), TL_F32)));
    tl_module_free(net);

    /* The same network as a custom module: same seed, so the same weights and output. */
    printf("\n== a custom module: MLP ==\n");
    tl_manual_seed(0);
    net = mlp_new();
    tl_module_print(net);
    show_output("net(X)", tl_module_forward(net, tl_rand(TL_SHAPE(2, 20), TL_F32)));
    printf("named_parameters():\n");
    show_named_parameters(net);
    tl_module_free(net);

    printf("\n== MySequential ==\n");
    tl_manual_seed(0);
    {
        tl_module *l1 = tl_nn_linear(20, 256, 1), *l2 = tl_nn_linear(256, 10, 1);
        net = my_sequential_new(3, (tl_module *[]){l1, tl_nn_relu(), l2});
    }
    tl_module_print(net);
    show_output("net(X)", tl_module_forward(net, tl_rand(TL_SHAPE(2, 20), TL_F32)));
    tl_module_free(net);

    printf("\n== FixedHiddenMLP: a constant weight, a reused layer, a while loop ==\n");
    tl_manual_seed(0);
    net = fixed_hidden_mlp_new();
    tl_module_print(net);
    show_output("net(X)", tl_module_forward(net, tl_rand(TL_SHAPE(2, 20), TL_F32)));
    printf("named_parameters() (rand_weight is not one):\n");
    show_named_parameters(net);
    tl_module_free(net);

    /* chimera = nn.Sequential(NestMLP(), nn.Linear(16, 20), FixedHiddenMLP()) */
    printf("\n== mixing them: chimera ==\n");
    tl_manual_seed(0);
    {
        tl_module *a = nest_mlp_new(), *b = tl_nn_linear(16, 20, 1), *c = fixed_hidden_mlp_new();
        net = tl_nn_sequential(3, (tl_module *[]){a, b, c});
    }
    tl_module_print(net);
    show_output("chimera(X)", tl_module_forward(net, tl_rand(TL_SHAPE(2, 20), TL_F32)));
    tl_module_free(net);

    /* rgnet = nn.Sequential(block2(), nn.Linear(4, 1)); print(rgnet); rgnet[0][1][0].bias.data */
    printf("\n== nested blocks: rgnet ==\n");
    tl_manual_seed(0);
    {
        tl_module *b2 = block2(), *head = tl_nn_linear(4, 1, 1);
        tl_module *first_linear_of_block1;
        net = tl_nn_sequential(2, (tl_module *[]){b2, head});
        tl_module_print(net); /* print(rgnet): torch's repr */
        show_output("rgnet(X)", tl_module_forward(net, tl_rand(TL_SHAPE(2, 4), TL_F32)));
        /* rgnet[0][1][0]: tl_module_at indexes children like net[i] (borrowed pointers) */
        first_linear_of_block1 = tl_module_at(tl_module_at(tl_module_at(net, 0), 1), 0);
        printf("rgnet[0][1][0] is %s\n", tl_module_type(first_linear_of_block1));
        /* .bias.data: tl_detach gives the values without autograd history (shares storage) */
        show_output("rgnet[0][1][0].bias.data", tl_detach(tl_module_get(first_linear_of_block1, "bias")));
        /* the same parameter by its state_dict path */
        printf("tl_module_get(rgnet, \"0.block 1.0.bias\") is the same tensor: %s\n",
               tl_module_get(net, "0.block 1.0.bias") == tl_module_get(first_linear_of_block1, "bias") ? "yes"
                                                                                                    : "no");
    }
    tl_module_free(net);

    /* shared = nn.Linear(8, 8)
       net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), shared, nn.ReLU(), shared, nn.ReLU(), nn.Linear(8, 1)) */
    printf("\n== tied parameters: one Linear used twice ==\n");
    tl_manual_seed(0);
    {
        tl_module *shared = tl_nn_linear(8, 8, 1);
        tl_module *first = tl_nn_linear(4, 8, 1), *last = tl_nn_linear(8, 1, 1);
        tl_tensor *w2, *w4;
        /* tl_nn_sequential takes one reference per item: retain shared for its second use */
        net = tl_nn_sequential(7, (tl_module *[]){first, tl_nn_relu(), shared, tl_nn_relu(),
                                                  tl_module_retain(shared), tl_nn_relu(), last});
        show_output("net(X)", tl_module_forward(net, tl_rand(TL_SHAPE(2, 4), TL_F32)));
        printf("named_parameters() lists the shared layer once (as \"2.*\"):\n");
        show_named_parameters(net);
        printf("parameters: %lld numbers (4*8+8 + 8*8+8 + 8+1)\n", (long long)tl_module_num_parameters(net));
        w2 = tl_module_get(net, "2.weight");
        w4 = tl_module_get(net, "4.weight");
        printf("net[2].weight is net[4].weight: %s\n", w2 == w4 ? "True" : "False");
        /* net[2].weight.data[0, 0] = 100: one tensor, so net[4] sees it */
        tl_set(tl_detach(w2), (const int64_t[]){0, 0}, 100);
        printf("after net[2].weight.data[0, 0] = 100: net[4].weight[0, 0] = %g\n",
               tl_get(w4, (const int64_t[]){0, 0}));
    }
    tl_module_free(net); /* frees shared too: its last reference was the second use */

    /* net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)); net.apply(init_normal) */
    printf("\n== net.apply(init) and state_dict ==\n");
    tl_manual_seed(0);
    {
        tl_module *l1 = tl_nn_linear(4, 8, 1), *l2 = tl_nn_linear(8, 1, 1);
        double one = 1;
        tl_value *sd;
        size_t i;
        net = tl_nn_sequential(3, (tl_module *[]){l1, tl_nn_relu(), l2});
        tl_module_apply(net, init_normal, NULL);
        show_output("after apply(init_normal): net[0].weight.data[0]",
                    tl_select(tl_detach(tl_module_get(net, "0.weight")), 0, 0));
        show_output("net[0].bias.data[0]", tl_select(tl_detach(tl_module_get(net, "0.bias")), 0, 0));
        tl_module_apply(net, init_constant, &one);
        show_output("after apply(init_constant, 1): net[0].weight.data[0]",
                    tl_select(tl_detach(tl_module_get(net, "0.weight")), 0, 0));

        /* net.state_dict(): parameters (and persistent buffers) by dotted key, in torch's order */
        sd = tl_module_state_dict(net);
        printf("state_dict keys:\n");
        for (i = 0; i < tl_value_len(sd); i++) /* keys and values are borrowed from the tree */
            show_shape(tl_value_as_string(tl_value_key(sd, i), NULL), tl_value_tensor_of(tl_value_item(sd, i)));
        show_output("state_dict()['2.bias']", tl_detach(tl_value_tensor_of(tl_value_get(sd, "2.bias"))));
        tl_value_free(sd);
    }
    tl_module_free(net);

    tl_scope_end(s);
    printf("\nlive tensors at exit: %ld\n", tl_debug_live_tensors());
    return tl_debug_live_tensors() == 0 ? 0 : 1;
}
