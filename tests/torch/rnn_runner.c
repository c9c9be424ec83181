/* tests/torch/rnn_runner.c - the C side of tests/torch/test_rnn.py (nn.LSTM, nn.GRU and
   nn.MultiheadAttention vs PyTorch 1.13).

     rnn_runner DIR [FIRST]   every line of DIR/cases.txt from line FIRST on (a restart after a crash)

   A line is "<case> lstm|gru <input> <hidden> <layers> <bias> <batch_first> <bidir> <bits> <seed>" or
   "<case> mha <embed> <heads> <bias> <batch_first> <bits> <seed>" (bits 32 or 64). For each case:
   tl_manual_seed(seed) and the layer is built; its fresh state_dict goes into the result as
   "init.<key>" with the key order in "keys" (torch's seeded init and keys are compared), and its
   repr as "repr". Then (bits 64: after tl_module_to_dtype) torch's DIR/<case>.sd.pt is loaded
   strictly, DIR/<case>.in.pt is read and forward runs:
     RNN: {"x", "h0", "c0" (tensors or None), "gy", "gh", "gc"}: y, h_n, c_n = layer(x, h0, c0);
          loss = sum(y*gy) + sum(h_n*gh) (+ sum(c_n*gc)); results "y", "hn", "cn", "gx", "gh0",
          "gc0", "grad.<param>".
     MHA: {"q", "k", "v" (None: the query / the key), "kpm", "am" (None or a mask), "need_weights",
          "avg", "gy", "gw"}: y, w = mha(q, k, v, ...); loss = sum(y*gy) (+ sum(w*gw));
          results "y", "w", "gq", "gk", "gv", "grad.<param>".
   The results go to DIR/<case>.out.pt (tl_save); a failing case writes DIR/<case>.err with
   tl_last_error(). Before each case "CASE <name>" is printed, after the last one "DONE"; a case
   that leaks tensors prints "LEAK <name>".
   Build: gcc -std=c99 -I. -Itests/torch tests/torch/rnn_runner.c -lm (from the repo root). */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char g_work[1024];

/* DIR/<case><ext> in a buffer of the caller's */
static const char *case_file(char *buf, size_t cap, const char *cas, const char *ext) {
    snprintf(buf, cap, "%s/%s%s", g_work, cas, ext);
    return buf;
}

/* The tensor under key in the input dict, or NULL for None / absent. */
static tl_tensor *input_tensor(const tl_value *in, const char *key) {
    const tl_value *v = tl_value_get(in, key);
    return tl_value_kind_of(v) == TL_VALUE_TENSOR ? tl_value_tensor_of(v) : NULL;
}
/* A leaf copy of an input that requires grad (NULL stays NULL). */
static tl_tensor *leaf_of(tl_tensor *t) {
    tl_tensor *c = t ? tl_clone(t) : NULL;
    if (c) tl_requires_grad_(c, 1);
    return c;
}
/* loss += sum(t * g) when both exist */
static tl_tensor *add_dot(tl_tensor *loss, tl_tensor *t, tl_tensor *g) {
    tl_tensor *d;
    if (!t || !g) return loss;
    d = tl_sum_all(tl_mul(t, g));
    return loss ? tl_add(loss, d) : d;
}
static void record_grad(tl_value *res, const char *key, tl_tensor *leaf) {
    tl_tensor *g = leaf ? tl_grad(leaf) : NULL;
    if (g) tl_value_set(res, key, tl_value_tensor(g));
}

static tl_module *build(char **a, int n, int *bits) {
    if ((!strcmp(a[0], "lstm") || !strcmp(a[0], "gru")) && n == 9) {
        *bits = atoi(a[7]);
        tl_manual_seed(strtoull(a[8], NULL, 10));
        return (!strcmp(a[0], "lstm") ? tl_nn_lstm : tl_nn_gru)(atoll(a[1]), atoll(a[2]), atoi(a[3]), atoi(a[4]),
                                                               atoi(a[5]), atoi(a[6]));
    }
    if (!strcmp(a[0], "mha") && n == 7) {
        *bits = atoi(a[5]);
        tl_manual_seed(strtoull(a[6], NULL, 10));
        return tl_nn_multihead_attention(atoll(a[1]), atoll(a[2]), atoi(a[3]), atoi(a[4]));
    }
    fprintf(stderr, "rnn_runner: bad case spec %s (%d fields)\n", a[0], n);
    return NULL;
}

/* "init.<key>" copies and the "keys" list of the freshly built layer, and its repr */
static void record_init(tl_value *res, const tl_module *m) {
    tl_value *sd = tl_module_state_dict(m), *keys = tl_value_list();
    char key[300], *repr;
    size_t i;
    int len;
    for (i = 0; sd && i < tl_value_len(sd); i++) {
        const char *k = tl_value_as_string(tl_value_key(sd, i), NULL);
        snprintf(key, sizeof key, "init.%s", k);
        tl_value_set(res, key, tl_value_tensor(tl_clone(tl_value_tensor_of(tl_value_item(sd, i)))));
        tl_value_append(keys, tl_value_string(k));
    }
    tl_value_free(sd);
    tl_value_set(res, "keys", keys);
    len = tl_module_to_string(m, NULL, 0);
    repr = (char *)malloc((size_t)(len > 0 ? len : 0) + 1);
    if (repr && tl_module_to_string(m, repr, (size_t)len + 1) >= 0) tl_value_set(res, "repr", tl_value_string(repr));
    free(repr);
}

/* The shared tail of both kinds: loss = sum_i sum(outs[i] * in[grad_keys[i]]) over the outputs
   that exist, backward, then the outputs (detached) and the leaves' gradients into res. */
typedef struct named { const char *name; tl_tensor *t; } named;
static int backward_and_record(tl_value *res, const tl_value *in, int nout, const named *outs,
                               const char *const *grad_keys, int nleaf, const named *leaves) {
    tl_tensor *loss = NULL;
    int i;
    for (i = 0; i < nout; i++) loss = add_dot(loss, outs[i].t, input_tensor(in, grad_keys[i]));
    if (!loss || tl_backward(loss) != TL_OK) return 0;
    for (i = 0; i < nout; i++)
        if (outs[i].t) tl_value_set(res, outs[i].name, tl_value_tensor(tl_detach(outs[i].t)));
    for (i = 0; i < nleaf; i++) record_grad(res, leaves[i].name, leaves[i].t);
    return 1;
}

static int run_rnn(tl_module *m, int lstm, const tl_value *in, tl_value *res) {
    static const char *const gkeys[] = {"gy", "gh", "gc"};
    named outs[3], leaves[3];
    leaves[0].name = "gx", leaves[0].t = leaf_of(input_tensor(in, "x"));
    leaves[1].name = "gh0", leaves[1].t = leaf_of(input_tensor(in, "h0"));
    leaves[2].name = "gc0", leaves[2].t = lstm ? leaf_of(input_tensor(in, "c0")) : NULL;
    outs[0].name = "y", outs[1].name = "hn", outs[2].name = "cn";
    outs[1].t = outs[2].t = NULL;
    outs[0].t = lstm ? tl_lstm_forward(m, leaves[0].t, leaves[1].t, leaves[2].t, &outs[1].t, &outs[2].t)
                     : tl_gru_forward(m, leaves[0].t, leaves[1].t, &outs[1].t);
    return outs[0].t && backward_and_record(res, in, 3, outs, gkeys, 3, leaves);
}

static int run_mha(tl_module *m, const tl_value *in, tl_value *res) {
    static const char *const gkeys[] = {"gy", "gw"};
    named outs[2], leaves[3];
    leaves[0].name = "gq", leaves[0].t = leaf_of(input_tensor(in, "q"));
    leaves[1].name = "gk", leaves[1].t = leaf_of(input_tensor(in, "k"));
    leaves[2].name = "gv", leaves[2].t = leaf_of(input_tensor(in, "v"));
    outs[0].name = "y", outs[1].name = "w", outs[1].t = NULL;
    outs[0].t = tl_mha_forward(m, leaves[0].t, leaves[1].t, leaves[2].t, input_tensor(in, "kpm"),
                               (int)tl_value_as_int(tl_value_get(in, "need_weights")), input_tensor(in, "am"),
                               (int)tl_value_as_int(tl_value_get(in, "avg")), &outs[1].t);
    return outs[0].t && backward_and_record(res, in, 2, outs, gkeys, 3, leaves);
}

static int run_case(const char *cas, char **a, int n) {
    char path[1300];
    int bits = 32, ok;
    tl_module *m = build(a, n, &bits);
    tl_value *res = tl_value_dict(), *sd = NULL, *in = NULL;
    ok = m != NULL;
    if (ok) record_init(res, m);
    if (ok && bits == 64) ok = tl_module_to_dtype(m, TL_F64) == TL_OK;
    if (ok) ok = (sd = tl_load(case_file(path, sizeof path, cas, ".sd.pt"))) != NULL &&
                 tl_module_load_state_dict(m, sd, 1, NULL) == TL_OK;
    if (ok) ok = (in = tl_load(case_file(path, sizeof path, cas, ".in.pt"))) != NULL;
    if (ok) ok = !strcmp(a[0], "mha") ? run_mha(m, in, res) : run_rnn(m, !strcmp(a[0], "lstm"), in, res);
    if (ok) {
        tl_named_tensors *ps = tl_module_named_parameters(m);
        int i;
        for (i = 0; ps && i < ps->n; i++) {
            char key[300];
            snprintf(key, sizeof key, "grad.%s", ps->names[i]);
            record_grad(res, key, ps->tensors[i]);
        }
        tl_named_tensors_free(ps);
        ok = tl_save(res, case_file(path, sizeof path, cas, ".out.pt")) == TL_OK;
    }
    if (!ok) {
        FILE *f = fopen(case_file(path, sizeof path, cas, ".err"), "w");
        if (f) {
            fprintf(f, "%s\n", tl_last_error());
            fclose(f);
        }
        tl_clear_error();
    }
    tl_value_free(res);
    tl_value_free(sd);
    tl_value_free(in);
    tl_module_free(m);
    return ok;
}

int main(int argc, char **argv) {
    char line[1024], path[1100], *a[16];
    FILE *f;
    int lineno = 0, first = argc > 2 ? atoi(argv[2]) : 0;
    if (argc < 2) {
        fprintf(stderr, "usage: rnn_runner DIR [FIRST]\n");
        return 2;
    }
    snprintf(g_work, sizeof g_work, "%s", argv[1]);
    snprintf(path, sizeof path, "%s/cases.txt", g_work);
    if (!(f = fopen(path, "r"))) {
        fprintf(stderr, "rnn_runner: cannot open %s\n", path);
        return 2;
    }
    while (fgets(line, sizeof line, f)) {
        long live = tl_debug_live_tensors();
        int n = 0;
        char *tok;
        tl_scope sc;
        if (lineno++ < first) continue;
        for (tok = strtok(line, " \n"); tok && n < 16; tok = strtok(NULL, " \n")) a[n++] = tok;
        if (n < 2) continue;
        printf("CASE %s\n", a[0]);
        fflush(stdout);
        sc = tl_scope_begin();
        run_case(a[0], a + 1, n - 1);
        tl_scope_end(sc);
        if (tl_debug_live_tensors() != live)
            printf("LEAK %s %ld -> %ld tensors\n", a[0], live, tl_debug_live_tensors());
    }
    fclose(f);
    printf("DONE\n");
    return 0;
}
