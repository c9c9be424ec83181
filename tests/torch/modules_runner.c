/* tests/torch/modules_runner.c - the C side of tests/torch/test_modules.py (>>modules vs PyTorch).

     modules_runner layers DIR [FIRST]   every line "<case> <layer spec...>" of DIR/layers.txt
     modules_runner models DIR [FIRST]   every line "<case> <model>" of DIR/models.txt
     modules_runner loadsd DIR [FIRST]   every line "<case> <model> <strict>" of DIR/loadsd.txt
     modules_runner init   DIR [FIRST]   every line "<case> <seed> <item>" of DIR/init.txt

   FIRST (default 0) skips the first lines, so the Python side can restart after a crash. Before
   each case the runner prints "CASE <name>" (flushed); a case that fails writes DIR/<case>.err
   with tl_last_error() instead of its output. Outputs are written with tl_save as dicts that
   torch.load reads:

   layers: builds the layer from its spec, loads torch's state_dict DIR/<case>.sd.pt (tl_load +
     tl_module_load_state_dict, strict), reads DIR/<case>.in.pt = {"xs": [x...], "gy": g,
     "train": 0 eval / 1 train / 2 train then eval for the last x, "seed": s}, tl_manual_seed(s),
     runs forward on every x (only the last one is a leaf requiring grad, for floating x),
     backward of the last output with gy.
     DIR/<case>.out.pt = {"repr", "y", "gx", "grad.<param>"..., "sd.<key>"... (after the steps)}.
   models: builds a SEED_NOTES model, saves its own state_dict to DIR/<case>.tl_sd.pt, then
     loads torch's DIR/<case>.sd.pt (strict) and, when DIR/<case>.in.pt exists ({"x", "gy" or
     None, "train", "bufs": {path: tensor}} (bufs: non-persistent buffers such as rand_weight,
     which torch keeps as plain attributes), runs forward and backward.
     DIR/<case>.out.pt = {"repr", "params": [names], "buffers": [names], "modules": [names],
     "num_parameters", "y", "gx", "grad.<param>"..., "sd.<key>"...}.
   loadsd: builds <model>, loads DIR/<case>.base.pt strictly (torch's initial weights), then
     DIR/<case>.sd.pt with <strict>. DIR/<case>.out.pt = {"status", "error" (the text after
     "tl_module_load_state_dict: "), "missing", "unexpected", "missing_keys", "unexpected_keys",
     "sd.<key>"... (the model's state after the attempt)}.
   init: tl_manual_seed(<seed>) then <item> (a layer, a model, nn.init calls, a training step);
     DIR/<case>.out.pt holds the resulting tensors.
   Build: gcc -std=c99 -I. tests/torch/modules_runner.c -lm (from the repo root). */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../seed_models.h"

/* ===== the SEED_NOTES models (the others are in tests/seed_models.h) ============================= */

static tl_tensor *fwd_child(tl_module *m, const char *path, const tl_tensor *x) {
    return tl_module_forward(tl_module_child(m, path), x);
}

static tl_module *seq_of(int n, tl_module **mods) { return tl_nn_sequential(n, mods); }

/* nn.Sequential(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10)) */
static tl_module *m_mlp_seq(void) {
    tl_module *m[3];
    m[0] = tl_nn_linear(20, 256, 1);
    m[1] = tl_nn_relu();
    m[2] = tl_nn_linear(256, 10, 1);
    return seq_of(3, m);
}

static tl_module *m_mysequential(void) {
    tl_module *m[3];
    m[0] = tl_nn_linear(20, 256, 1);
    m[1] = tl_nn_relu();
    m[2] = tl_nn_linear(256, 10, 1);
    return my_sequential(3, m);
}

static tl_tensor *nest_forward(tl_module *self, const tl_tensor *x) {
    tl_scope s = tl_scope_begin();
    tl_tensor *y = tl_keep(fwd_child(self, "linear", fwd_child(self, "net", x)));
    tl_scope_end(s);
    return y;
}
static tl_module *m_nestmlp(void) {
    tl_module *m = tl_module_new("NestMLP", nest_forward), *l[4];
    l[0] = tl_nn_linear(20, 64, 1);
    l[1] = tl_nn_relu();
    l[2] = tl_nn_linear(64, 32, 1);
    l[3] = tl_nn_relu();
    if (tl_module_add_module(m, "net", seq_of(4, l)) != TL_OK ||
        tl_module_add_module(m, "linear", tl_nn_linear(32, 16, 1)) != TL_OK) {
        tl_module_free(m);
        return NULL;
    }
    return m;
}
static tl_module *m_chimera(void) {
    tl_module *l[3];
    l[0] = m_nestmlp();
    l[1] = tl_nn_linear(16, 20, 1);
    l[2] = fixed_hidden_mlp(0);
    return seq_of(3, l);
}

static tl_module *m_centered(void) { return tl_module_new("CenteredLayer", centered_forward); }
static tl_module *m_centered_net(void) {
    tl_module *m[2];
    m[0] = tl_nn_linear(8, 128, 1);
    m[1] = m_centered();
    return seq_of(2, m);
}

static tl_tensor *lenet_forward(tl_module *self, const tl_tensor *x) {
    tl_scope s = tl_scope_begin();
    tl_module *pool = tl_module_child(self, "pool");
    tl_tensor *h = tl_module_forward(pool, tl_relu(fwd_child(self, "conv1", x)));
    h = tl_module_forward(pool, tl_relu(fwd_child(self, "conv2", h)));
    h = tl_view(h, TL_SHAPE(-1, 16 * 5 * 5));
    h = tl_relu(fwd_child(self, "fc1", h));
    h = tl_relu(fwd_child(self, "fc2", h));
    h = tl_keep(fwd_child(self, "fc3", h));
    tl_scope_end(s);
    return h;
}
static tl_module *m_lenet(void) {
    tl_module *m = tl_module_new("TheModelClass", lenet_forward);
    tl_pool2d_opts p = tl_pool2d_opts_default(2, 2);
    if (tl_module_add_module(m, "conv1", tl_nn_conv2d(3, 6, 5, 5, NULL, 1)) != TL_OK ||
        tl_module_add_module(m, "pool", tl_nn_max_pool2d(&p)) != TL_OK ||
        tl_module_add_module(m, "conv2", tl_nn_conv2d(6, 16, 5, 5, NULL, 1)) != TL_OK ||
        tl_module_add_module(m, "fc1", tl_nn_linear(16 * 5 * 5, 120, 1)) != TL_OK ||
        tl_module_add_module(m, "fc2", tl_nn_linear(120, 84, 1)) != TL_OK ||
        tl_module_add_module(m, "fc3", tl_nn_linear(84, 10, 1)) != TL_OK) {
        tl_module_free(m);
        return NULL;
    }
    return m;
}

/* SimpleNet (SEED_NOTES gives only __init__; forward = fc2(relu(bn1(fc1(x))))) */
static tl_tensor *simplenet_forward(tl_module *self, const tl_tensor *x) {
    tl_scope s = tl_scope_begin();
    tl_tensor *y = tl_keep(fwd_child(self, "fc2", tl_relu(fwd_child(self, "bn1", fwd_child(self, "fc1", x)))));
    tl_scope_end(s);
    return y;
}
static tl_module *m_simplenet(void) {
    tl_module *m = tl_module_new("SimpleNet", simplenet_forward);
    if (tl_module_add_module(m, "fc1", tl_nn_linear(10, 20, 1)) != TL_OK ||
        tl_module_add_module(m, "bn1", tl_nn_batch_norm1d(20, 1e-5, 0.1, 1, 1)) != TL_OK ||
        tl_module_add_module(m, "fc2", tl_nn_linear(20, 5, 1)) != TL_OK) {
        tl_module_free(m);
        return NULL;
    }
    return m;
}

/* A module with a 0-dim parameter (torch loads a [1] checkpoint entry into it). */
static tl_module *m_scalenet(void) {
    tl_scope s = tl_scope_begin();
    tl_module *m = tl_module_new("ScaleNet", NULL);
    int ok = tl_module_register_parameter(m, "scale", tl_scalar_tensor(2, TL_F32)) == TL_OK &&
             tl_module_add_module(m, "fc", tl_nn_linear(3, 2, 1)) == TL_OK;
    tl_scope_end(s);
    if (!ok) {
        tl_module_free(m);
        return NULL;
    }
    return m;
}
/* nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Sequential(nn.Linear(4, 2))) */
static tl_module *m_bnseq(void) {
    tl_module *m[3], *inner[1];
    inner[0] = tl_nn_linear(4, 2, 1);
    m[0] = tl_nn_linear(3, 4, 1);
    m[1] = tl_nn_batch_norm1d(4, 1e-5, 0.1, 1, 1);
    m[2] = seq_of(1, inner);
    return seq_of(3, m);
}

/* nn.Sequential(*[nn.Linear(2, 2) for _ in range(40)]): long key lists */
static tl_module *m_wide(void) {
    tl_module *m[40];
    int i;
    for (i = 0; i < 40; i++) m[i] = tl_nn_linear(2, 2, 1);
    return seq_of(40, m);
}

static tl_module *build_model(const char *name) {
    if (!strcmp(name, "wide")) return m_wide();
    if (!strcmp(name, "mlp_seq")) return m_mlp_seq();
    if (!strcmp(name, "mlp")) return mlp();
    if (!strcmp(name, "mysequential")) return m_mysequential();
    if (!strcmp(name, "fixedhidden")) return fixed_hidden_mlp(0);
    if (!strcmp(name, "nestmlp")) return m_nestmlp();
    if (!strcmp(name, "chimera")) return m_chimera();
    if (!strcmp(name, "block2")) return block2();
    if (!strcmp(name, "rgnet")) return rgnet();
    if (!strcmp(name, "shared")) return shared_net();
    if (!strcmp(name, "centered")) return m_centered();
    if (!strcmp(name, "centered_net")) return m_centered_net();
    if (!strcmp(name, "mylinear")) return my_linear(5, 3, NULL); /* MyLinear(5, 3) */
    if (!strcmp(name, "lenet")) return m_lenet();
    if (!strcmp(name, "simplenet")) return m_simplenet();
    if (!strcmp(name, "scalenet")) return m_scalenet();
    if (!strcmp(name, "bnseq")) return m_bnseq();
    fprintf(stderr, "unknown model %s\n", name);
    return NULL;
}

/* ===== layers from a spec ======================================================================= */

static int toks(char *line, char **tok, int max) {
    int n = 0;
    char *p = strtok(line, " \t\r\n");
    while (p && n < max) {
        tok[n++] = p;
        p = strtok(NULL, " \t\r\n");
    }
    return n;
}
#define I(k) atoi(tok[k])
#define D(k) atof(tok[k])

static tl_module *build_layer(char **tok, int n) {
    const char *k = tok[0];
    if (!strcmp(k, "linear") && n == 4) return tl_nn_linear(I(1), I(2), I(3));
    if (!strcmp(k, "conv2d") && n == 14) {
        tl_conv2d_opts o;
        memset(&o, 0, sizeof o);
        o.stride[0] = I(5), o.stride[1] = I(6), o.padding[0] = I(7), o.padding[1] = I(8);
        o.dilation[0] = I(9), o.dilation[1] = I(10), o.groups = I(11), o.padding_same = I(12);
        return tl_nn_conv2d(I(1), I(2), I(3), I(4), &o, I(13));
    }
    if (!strcmp(k, "maxpool2d") && n == 10) {
        tl_pool2d_opts o = tl_pool2d_opts_default(I(1), I(2));
        o.stride[0] = I(3), o.stride[1] = I(4), o.padding[0] = I(5), o.padding[1] = I(6);
        o.dilation[0] = I(7), o.dilation[1] = I(8), o.ceil_mode = I(9);
        return tl_nn_max_pool2d(&o);
    }
    if (!strcmp(k, "avgpool2d") && n == 9) {
        tl_pool2d_opts o = tl_pool2d_opts_default(I(1), I(2));
        o.stride[0] = I(3), o.stride[1] = I(4), o.padding[0] = I(5), o.padding[1] = I(6);
        o.ceil_mode = I(7), o.count_include_pad = I(8);
        return tl_nn_avg_pool2d(&o);
    }
    if (!strcmp(k, "adaptiveavg") && n == 3) return tl_nn_adaptive_avg_pool2d(I(1), I(2));
    if (!strcmp(k, "bn1d") && n == 6) return tl_nn_batch_norm1d(I(1), D(2), D(3), I(4), I(5));
    if (!strcmp(k, "bn2d") && n == 6) return tl_nn_batch_norm2d(I(1), D(2), D(3), I(4), I(5));
    if (!strcmp(k, "layernorm") && n >= 5) {
        int64_t shape[8];
        int i, nd = I(3);
        for (i = 0; i < nd && i < 8; i++) shape[i] = atoll(tok[4 + i]);
        return tl_nn_layer_norm(nd, shape, D(1), I(2));
    }
    if (!strcmp(k, "dropout") && n == 2) return tl_nn_dropout(D(1));
    if (!strcmp(k, "embedding") && n == 3) return tl_nn_embedding(I(1), I(2));
    if (!strcmp(k, "flatten") && n == 3) return tl_nn_flatten(I(1), I(2));
    if (!strcmp(k, "identity")) return tl_nn_identity();
    if (!strcmp(k, "relu")) return tl_nn_relu();
    if (!strcmp(k, "sigmoid")) return tl_nn_sigmoid();
    if (!strcmp(k, "tanh")) return tl_nn_tanh();
    if (!strcmp(k, "silu")) return tl_nn_silu();
    if (!strcmp(k, "leakyrelu") && n == 2) return tl_nn_leaky_relu(D(1));
    if (!strcmp(k, "gelu") && n == 2) return tl_nn_gelu(I(1));
    if (!strcmp(k, "softmax") && n == 2) return tl_nn_softmax(I(1));
    if (!strcmp(k, "logsoftmax") && n == 2) return tl_nn_log_softmax(I(1));
    fprintf(stderr, "bad layer spec %s (%d tokens)\n", k, n);
    return NULL;
}

/* ===== outputs ================================================================================== */

static char g_dir[1024];
static char *path_of(const char *cas, const char *suffix) {
    static char p[4][1200];
    static int k;
    k = (k + 1) & 3;
    snprintf(p[k], sizeof p[k], "%s/%s%s", g_dir, cas, suffix);
    return p[k];
}
static int exists(const char *p) {
    FILE *f = fopen(p, "rb");
    if (f) fclose(f);
    return f != NULL;
}
static void write_err(const char *cas, const char *what) {
    FILE *f = fopen(path_of(cas, ".err"), "w");
    if (f) {
        fprintf(f, "%s: %s\n", what, tl_last_error());
        fclose(f);
    }
    tl_clear_error();
}
static tl_value *names_list(int n, char **names) {
    tl_value *l = tl_value_list();
    int i;
    for (i = 0; i < n; i++) tl_value_append(l, tl_value_string(names[i]));
    return l;
}
/* "sd.<key>" for every state_dict entry (copies: later steps must not change them). */
static void put_state(tl_value *out, const tl_module *m) {
    tl_value *sd = tl_module_state_dict(m);
    size_t i;
    char k[600];
    for (i = 0; sd && i < tl_value_len(sd); i++) {
        tl_tensor *t = tl_value_tensor_of(tl_value_item(sd, i));
        snprintf(k, sizeof k, "sd.%s", tl_value_as_string(tl_value_key(sd, i), NULL));
        tl_value_set(out, k, tl_value_tensor(tl_detach(tl_clone(t))));
    }
    tl_value_free(sd);
}
static void put_grads(tl_value *out, const tl_module *m) {
    tl_named_tensors *l = tl_module_named_parameters(m);
    int i;
    char k[600];
    for (i = 0; l && i < l->n; i++) {
        tl_tensor *g = tl_grad(l->tensors[i]);
        snprintf(k, sizeof k, "grad.%s", l->names[i]);
        if (g) tl_value_set(out, k, tl_value_tensor(g));
    }
    tl_named_tensors_free(l);
}
static void put_repr(tl_value *out, const tl_module *m) {
    int n = tl_module_to_string(m, NULL, 0);
    char *b = (char *)malloc((size_t)(n > 0 ? n : 0) + 1);
    if (!b) return;
    tl_module_to_string(m, b, (size_t)n + 1);
    tl_value_set(out, "repr", tl_value_string(b));
    free(b);
}
static int save_out(const char *cas, tl_value *out) {
    tl_status st = tl_save(out, path_of(cas, ".out.pt"));
    tl_value_free(out);
    if (st != TL_OK) {
        write_err(cas, "tl_save");
        return 1;
    }
    return 0;
}

/* Loads DIR/<case><suffix> into m (strict); 0 on success. */
static int load_into(tl_module *m, const char *cas, const char *suffix, int strict) {
    tl_value *sd = tl_load(path_of(cas, suffix));
    tl_status st;
    if (!sd) return 1;
    st = tl_module_load_state_dict(m, sd, strict, NULL);
    tl_value_free(sd);
    return st != TL_OK;
}

/* forward on xs[0..n-2] (outputs discarded), then the last x as a leaf; backward with gy (or of a scalar
   output when gy is None). Adds y, gx and grads to out. */
static int run_forward(tl_module *m, const tl_value *xs, int nxs, const tl_value *gyv, tl_value *out, int mode) {
    tl_scope s = tl_scope_begin();
    tl_tensor *x = NULL, *y = NULL;
    int i, ok = 1;
    /* mode 0: eval, 1: train, 2: train for all but the last input, eval for the last */
    tl_module_train(m, mode != 0);
    for (i = 0; i < nxs && ok; i++) {
        x = tl_value_tensor_of(xs ? tl_value_item(xs, (size_t)i) : NULL);
        if (i == nxs - 1) {
            if (mode == 2) tl_module_eval(m);
            x = tl_clone(x);
            if (x && tl_dtype_is_floating(tl_dtype_of(x))) tl_requires_grad_(x, 1);
        }
        y = tl_module_forward(m, x);
        ok = y != NULL;
    }
    if (ok) {
        tl_tensor *gy = gyv && tl_value_kind_of(gyv) == TL_VALUE_TENSOR ? tl_value_tensor_of(gyv) : NULL;
        tl_value_set(out, "y", tl_value_tensor(tl_detach(y)));
        if (tl_requires_grad(y)) ok = (gy ? tl_backward_ex(y, gy, 0) : tl_backward(y)) == TL_OK;
        if (ok && x && tl_grad(x)) tl_value_set(out, "gx", tl_value_tensor(tl_grad(x)));
        if (ok) put_grads(out, m);
    }
    tl_scope_end(s);
    return ok;
}

/* ===== modes ==================================================================================== */

static int do_layer(const char *cas, char **tok, int n) {
    tl_module *m = build_layer(tok, n);
    tl_value *in = NULL, *out = NULL;
    int ok = m != NULL;
    if (!ok) {
        write_err(cas, "build");
        return 1;
    }
    if (load_into(m, cas, ".sd.pt", 1)) {
        write_err(cas, "load_state_dict");
        tl_module_free(m);
        return 1;
    }
    in = tl_load(path_of(cas, ".in.pt"));
    if (!in) {
        write_err(cas, "tl_load input");
        tl_module_free(m);
        return 1;
    }
    out = tl_value_dict();
    put_repr(out, m);
    tl_manual_seed((uint64_t)tl_value_as_int(tl_value_get(in, "seed")));
    {
        const tl_value *xs = tl_value_get(in, "xs");
        ok = run_forward(m, xs, (int)tl_value_len(xs), tl_value_get(in, "gy"), out,
                         (int)tl_value_as_int(tl_value_get(in, "train")));
    }
    if (!ok) {
        write_err(cas, "forward/backward");
        tl_value_free(out);
    } else {
        put_state(out, m);
        save_out(cas, out);
    }
    tl_value_free(in);
    tl_module_free(m);
    return !ok;
}

static int do_model(const char *cas, const char *model) {
    tl_module *m = build_model(model);
    tl_value *out;
    int ok = 1;
    if (!m) {
        write_err(cas, "build");
        return 1;
    }
    if (tl_save_state_dict(m, path_of(cas, ".tl_sd.pt")) != TL_OK) {
        write_err(cas, "tl_save_state_dict");
        tl_module_free(m);
        return 1;
    }
    out = tl_value_dict();
    put_repr(out, m);
    {
        tl_named_tensors *p = tl_module_named_parameters(m), *b = tl_module_named_buffers(m);
        tl_named_modules *nm = tl_module_named_modules(m);
        if (p) tl_value_set(out, "params", names_list(p->n, p->names));
        if (b) tl_value_set(out, "buffers", names_list(b->n, b->names));
        if (nm) tl_value_set(out, "modules", names_list(nm->n, nm->names));
        tl_named_tensors_free(p);
        tl_named_tensors_free(b);
        tl_named_modules_free(nm);
        tl_value_set(out, "num_parameters", tl_value_int(tl_module_num_parameters(m)));
    }
    if (exists(path_of(cas, ".sd.pt"))) {
        if (load_into(m, cas, ".sd.pt", 1)) {
            write_err(cas, "load torch's state_dict");
            tl_value_free(out);
            tl_module_free(m);
            return 1;
        }
    }
    if (exists(path_of(cas, ".in.pt"))) {
        tl_value *in = tl_load(path_of(cas, ".in.pt")), *xs = tl_value_list();
        const tl_value *bufs = in ? tl_value_get(in, "bufs") : NULL;
        size_t i;
        ok = in != NULL;
        for (i = 0; ok && bufs && i < tl_value_len(bufs); i++) { /* rand_weight & co */
            tl_scope s = tl_scope_begin();
            tl_tensor *dst = tl_module_get(m, tl_value_as_string(tl_value_key(bufs, i), NULL));
            ok = dst && tl_copy_(dst, tl_value_tensor_of(tl_value_item(bufs, i))) == TL_OK;
            tl_scope_end(s);
        }
        if (ok) {
            tl_value_append(xs, tl_value_copy(tl_value_get(in, "x")));
            ok = run_forward(m, xs, 1, tl_value_get(in, "gy"), out, (int)tl_value_as_int(tl_value_get(in, "train")));
        }
        tl_value_free(xs);
        tl_value_free(in);
    }
    if (!ok) {
        write_err(cas, "forward/backward");
        tl_value_free(out);
    } else {
        put_state(out, m);
        save_out(cas, out);
    }
    tl_module_free(m);
    return !ok;
}

static int do_loadsd(const char *cas, const char *model, int strict) {
    tl_module *m = build_model(model);
    tl_value *sd, *out;
    tl_load_report rep;
    tl_status st;
    const char *prefix = "tl_module_load_state_dict: ";
    if (!m) {
        write_err(cas, "build");
        return 1;
    }
    if (load_into(m, cas, ".base.pt", 1)) {
        write_err(cas, "load base");
        tl_module_free(m);
        return 1;
    }
    sd = tl_load(path_of(cas, ".sd.pt"));
    if (!sd) {
        write_err(cas, "tl_load");
        tl_module_free(m);
        return 1;
    }
    memset(&rep, 0, sizeof rep);
    st = tl_module_load_state_dict(m, sd, strict, &rep);
    out = tl_value_dict();
    tl_value_set(out, "status", tl_value_int(st));
    {
        const char *e = tl_last_error();
        if (strncmp(e, prefix, strlen(prefix)) == 0) e += strlen(prefix);
        tl_value_set(out, "error", tl_value_string(st == TL_OK ? "" : e));
    }
    tl_clear_error();
    tl_value_set(out, "missing", tl_value_int(rep.missing));
    tl_value_set(out, "unexpected", tl_value_int(rep.unexpected));
    tl_value_set(out, "missing_keys", tl_value_string(rep.missing_keys));
    tl_value_set(out, "unexpected_keys", tl_value_string(rep.unexpected_keys));
    put_state(out, m);
    save_out(cas, out);
    tl_value_free(sd);
    tl_module_free(m);
    return 0;
}

/* nn.init calls on fresh tensors, one after another in one stream */
static void init_ops(tl_value *out) {
    tl_scope s = tl_scope_begin();
    tl_tensor *t;
#define FRESH(...) (t = tl_zeros(TL_SHAPE(__VA_ARGS__), TL_F32))
    tl_init_xavier_uniform_(FRESH(5, 7), 1.0);
    tl_value_set(out, "xavier_uniform", tl_value_tensor(t));
    tl_init_xavier_uniform_(FRESH(4, 3, 3, 3), tl_init_calculate_gain("relu", 0));
    tl_value_set(out, "xavier_uniform_relu_conv", tl_value_tensor(t));
    tl_init_xavier_normal_(FRESH(6, 5), 1.0);
    tl_value_set(out, "xavier_normal", tl_value_tensor(t));
    tl_init_kaiming_uniform_(FRESH(8, 6), 0, "fan_in", "leaky_relu");
    tl_value_set(out, "kaiming_uniform", tl_value_tensor(t));
    tl_init_kaiming_uniform_(FRESH(4, 3, 3, 3), 0, "fan_out", "relu");
    tl_value_set(out, "kaiming_uniform_fan_out_relu", tl_value_tensor(t));
    tl_init_kaiming_normal_(FRESH(4, 3, 3, 3), 0, "fan_out", "relu");
    tl_value_set(out, "kaiming_normal_fan_out_relu", tl_value_tensor(t));
    tl_init_kaiming_normal_(FRESH(7, 9), 0.2, "fan_in", "leaky_relu");
    tl_value_set(out, "kaiming_normal_leaky", tl_value_tensor(t));
    tl_init_normal_(FRESH(10, 3), 0, 0.01);
    tl_value_set(out, "normal", tl_value_tensor(t));
    tl_init_uniform_(FRESH(3, 4), -10, 10);
    tl_value_set(out, "uniform", tl_value_tensor(t));
    tl_init_constant_(FRESH(2, 2), 0.5);
    tl_value_set(out, "constant", tl_value_tensor(t));
    tl_init_eye_(FRESH(3, 5));
    tl_value_set(out, "eye", tl_value_tensor(t));
    tl_init_ones_(FRESH(2));
    tl_value_set(out, "ones", tl_value_tensor(t));
    tl_init_zeros_(tl_ones(TL_SHAPE(2), TL_F32));
    tl_init_normal_(FRESH(1000), 1, 2); /* a longer normal_ (torch's vectorised path from 16 on) */
    tl_value_set(out, "normal_long", tl_value_tensor(t));
    tl_init_normal_(tl_zeros(TL_SHAPE(17), TL_F64), 0, 1);
    t = tl_zeros(TL_SHAPE(5), TL_F64);
    tl_init_uniform_(t, 0, 1);
    tl_value_set(out, "uniform_f64_after", tl_value_tensor(t));
    {
        static const char *const nls[] = {"linear", "conv2d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"};
        int i;
        char k[64];
        for (i = 0; i < 7; i++) {
            snprintf(k, sizeof k, "gain.%s", nls[i]);
            tl_value_set(out, k, tl_value_float(tl_init_calculate_gain(nls[i], i == 5 ? 0.2 : NAN)));
        }
    }
#undef FRESH
    tl_scope_end(s);
}

static tl_module *init_layer(const char *item) {
    tl_conv2d_opts o;
    memset(&o, 0, sizeof o);
    if (!strcmp(item, "linear")) return tl_nn_linear(20, 256, 1);
    if (!strcmp(item, "linear_nobias")) return tl_nn_linear(7, 3, 0);
    if (!strcmp(item, "linear_small")) return tl_nn_linear(1, 1, 1);
    if (!strcmp(item, "conv")) return tl_nn_conv2d(3, 6, 5, 5, NULL, 1);
    if (!strcmp(item, "conv_groups")) {
        o.stride[0] = o.stride[1] = 2;
        o.padding[0] = o.padding[1] = 1;
        o.groups = 2;
        return tl_nn_conv2d(4, 8, 3, 3, &o, 0);
    }
    if (!strcmp(item, "conv_same")) {
        o.padding_same = 1;
        o.dilation[0] = o.dilation[1] = 2;
        return tl_nn_conv2d(2, 4, 3, 5, &o, 1);
    }
    if (!strcmp(item, "embedding")) return tl_nn_embedding(10, 3);
    if (!strcmp(item, "bn")) return tl_nn_batch_norm2d(5, 1e-5, 0.1, 1, 1);
    if (!strcmp(item, "layernorm")) return tl_nn_layer_norm(1, (const int64_t[]){6}, 1e-5, 1);
    return build_model(item);
}

/* seeded model, input from DIR/<case>.in.pt (or drawn from the same stream), cross_entropy, backward */
static int train_step(const char *cas, const char *model, int stream, tl_value *out) {
    tl_scope s = tl_scope_begin();
    tl_module *m = build_model(model);
    tl_tensor *x, *y, *logits, *loss;
    tl_value *in = NULL;
    int ok;
    if (stream) { /* x = torch.randn(...); y = torch.randint(0, C, (N,)) after the init */
        int lenet = !strcmp(model, "lenet");
        x = lenet ? tl_randn(TL_SHAPE(4, 3, 32, 32), TL_F32) : tl_randn(TL_SHAPE(8, 10), TL_F32);
        y = tl_randint(0, lenet ? 10 : 5, TL_SHAPE(lenet ? 4 : 8), TL_I64);
        tl_value_set(out, "x", tl_value_tensor(x));
        tl_value_set(out, "target", tl_value_tensor(y));
    } else {
        in = tl_load(path_of(cas, ".in.pt"));
        x = in ? tl_value_tensor_of(tl_value_get(in, "x")) : NULL;
        y = in ? tl_value_tensor_of(tl_value_get(in, "target")) : NULL;
    }
    tl_module_train(m, 1);
    logits = tl_module_forward(m, x);
    loss = tl_cross_entropy(logits, y, NULL, -100, TL_REDUCTION_MEAN);
    ok = loss && tl_backward(loss) == TL_OK;
    if (ok) {
        tl_value_set(out, "logits", tl_value_tensor(tl_detach(logits)));
        tl_value_set(out, "loss", tl_value_tensor(tl_detach(loss)));
        put_grads(out, m);
        put_state(out, m);
    }
    tl_value_free(in);
    tl_module_free(m);
    tl_scope_end(s);
    return ok;
}

static int do_init(const char *cas, uint64_t seed, const char *item) {
    tl_value *out = tl_value_dict();
    int ok = 1;
    tl_manual_seed(seed);
    if (!strcmp(item, "init_ops")) {
        init_ops(out);
    } else if (!strcmp(item, "stream")) { /* several layers from one stream, then rand/randn */
        const char *items[] = {"linear_small", "conv", "embedding", "linear_nobias", "mlp"};
        int i;
        char k[600];
        for (i = 0; i < 5 && ok; i++) {
            tl_module *m = init_layer(items[i]);
            tl_value *sd = m ? tl_module_state_dict(m) : NULL;
            size_t j;
            ok = sd != NULL;
            for (j = 0; sd && j < tl_value_len(sd); j++) {
                snprintf(k, sizeof k, "%d.%s", i, tl_value_as_string(tl_value_key(sd, j), NULL));
                tl_value_set(out, k, tl_value_copy(tl_value_item(sd, j)));
            }
            tl_value_free(sd);
            tl_module_free(m);
        }
        {
            tl_scope s = tl_scope_begin();
            tl_value_set(out, "rand", tl_value_tensor(tl_rand(TL_SHAPE(5), TL_F32)));
            tl_value_set(out, "randn", tl_value_tensor(tl_randn(TL_SHAPE(3, 7), TL_F32)));
            tl_scope_end(s);
        }
    } else if (!strncmp(item, "train_", 6)) {
        int stream = strstr(item, "_stream") != NULL;
        char model[64];
        snprintf(model, sizeof model, "%s", item + 6);
        if (stream) model[strlen(model) - 7] = 0;
        ok = train_step(cas, model, stream, out);
    } else {
        tl_module *m = init_layer(item);
        ok = m != NULL;
        if (ok) put_state(out, m);
        tl_module_free(m);
    }
    if (!ok) {
        write_err(cas, item);
        tl_value_free(out);
        return 1;
    }
    return save_out(cas, out);
}

int main(int argc, char **argv) {
    char line[4096], listp[1200];
    char *tok[64];
    FILE *f;
    int lineno = 0, first, n;
    tl_scope sc;
    if (argc < 3) {
        fprintf(stderr, "usage: modules_runner layers|models|loadsd|init DIR [FIRST]\n");
        return 2;
    }
    snprintf(g_dir, sizeof g_dir, "%s", argv[2]);
    first = argc > 3 ? atoi(argv[3]) : 0;
    snprintf(listp, sizeof listp, "%s/%s.txt", g_dir, argv[1]);
    f = fopen(listp, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", listp);
        return 2;
    }
    while (fgets(line, sizeof line, f)) {
        long t0 = tl_debug_live_tensors(), s0 = tl_debug_live_storages();
        if (lineno++ < first) continue;
        n = toks(line, tok, 64);
        if (n < 2) continue;
        printf("CASE %s\n", tok[0]);
        fflush(stdout);
        tl_clear_error();
        sc = tl_scope_begin(); /* owns the references each case makes */
        if (!strcmp(argv[1], "layers")) do_layer(tok[0], tok + 1, n - 1);
        else if (!strcmp(argv[1], "models")) do_model(tok[0], tok[1]);
        else if (!strcmp(argv[1], "loadsd") && n == 3) do_loadsd(tok[0], tok[1], atoi(tok[2]));
        else if (!strcmp(argv[1], "init") && n == 3) do_init(tok[0], (uint64_t)strtoull(tok[1], NULL, 10), tok[2]);
        else fprintf(stderr, "bad line %d in %s\n", lineno, listp);
        tl_scope_end(sc);
        if (tl_debug_live_tensors() != t0 || tl_debug_live_storages() != s0)
            printf("LEAK %s tensors %ld -> %ld storages %ld -> %ld\n", tok[0], t0, tl_debug_live_tensors(), s0,
                   tl_debug_live_storages());
        fflush(stdout);
    }
    fclose(f);
    printf("DONE\n");
    return 0;
}
