/* tests/test_rnn.c - nn.LSTM, nn.GRU and nn.MultiheadAttention without torch: float64 gradient
   checks (tests/gradcheck.h) w.r.t. inputs, initial states and every parameter; the errors for
   bad shapes (naming the layer and the shapes); reprs; ownership inside and outside scopes.
   (tests/torch/test_rnn.py compares the same layers with PyTorch 1.13.) */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include "harness.h"
#include "gradcheck.h"

/* a contiguous float64 leaf requiring grad, filled from gk_u */
static tl_tensor *leaf(int nd, const int64_t *shape) {
    double v[512];
    int64_t i, n = 1;
    int d;
    for (d = 0; d < nd; d++) n *= shape[d];
    for (i = 0; i < n && i < 512; i++) v[i] = gk_u();
    return gk_leaf(nd, shape, v);
}
static tl_tensor *flat(tl_tensor *t) { return tl_flatten(t, 0, -1); }

/* The module under check and its parameters appended as gradcheck leaves after the inputs. */
typedef struct rnn_ctx {
    tl_module *m;
    int lstm, nin; /* nin: how many leading leaves are inputs (x, h0, c0 or q, k, v) */
    const tl_tensor *kpm, *am;
} rnn_ctx;

static tl_tensor *f_rnn(tl_tensor *const *x, const void *vctx) {
    const rnn_ctx *c = (const rnn_ctx *)vctx;
    tl_tensor *hn = NULL, *cn = NULL, *y, *parts[3];
    if (c->lstm) {
        y = tl_lstm_forward(c->m, x[0], c->nin > 1 ? x[1] : NULL, c->nin > 2 ? x[2] : NULL, &hn, &cn);
        parts[0] = flat(y), parts[1] = flat(hn), parts[2] = flat(cn);
        return tl_cat(3, parts, 0);
    }
    y = tl_gru_forward(c->m, x[0], c->nin > 1 ? x[1] : NULL, &hn);
    parts[0] = flat(y), parts[1] = flat(hn);
    return tl_cat(2, parts, 0);
}
static tl_tensor *f_mha(tl_tensor *const *x, const void *vctx) {
    const rnn_ctx *c = (const rnn_ctx *)vctx;
    tl_tensor *w = NULL, *y, *parts[2];
    y = tl_mha_forward(c->m, x[0], c->nin > 1 ? x[1] : NULL, c->nin > 2 ? x[2] : NULL, c->kpm, 1, c->am, 0, &w);
    parts[0] = flat(y), parts[1] = flat(w);
    return tl_cat(2, parts, 0);
}

/* gradcheck of f over the nin inputs and every parameter of m (converted to float64); frees m */
static int check_module(tl_module *m, int lstm, gk_fn f, tl_tensor **in, int nin, const tl_tensor *kpm,
                        const tl_tensor *am, const char *what) {
    tl_tensor *leaves[40];
    tl_named_tensors *ps = NULL;
    rnn_ctx c;
    int i, n = nin, ok = m && tl_module_to_dtype(m, TL_F64) == TL_OK && (ps = tl_module_named_parameters(m)) != NULL;
    c.m = m, c.lstm = lstm, c.nin = nin, c.kpm = kpm, c.am = am;
    for (i = 0; ok && i < nin; i++) leaves[i] = in[i];
    for (i = 0; ok && i < ps->n && n < 40; i++) leaves[n++] = ps->tensors[i];
    ok = ok && gk_check(what, f, &c, n, leaves, 1e-6, __FILE__, __LINE__);
    tl_named_tensors_free(ps);
    tl_module_free(m);
    return ok;
}
#define SH3(a, b, c) 3, (const int64_t[]){a, b, c}
#define SH2(a, b) 2, (const int64_t[]){a, b}

TEST(lstm_gradchecks) {
    tl_scope s = tl_scope_begin();
    tl_tensor *in[3];
    in[0] = leaf(SH3(3, 2, 3)), in[1] = leaf(SH3(4, 2, 2)), in[2] = leaf(SH3(4, 2, 2));
    CHECK(check_module(tl_nn_lstm(3, 2, 2, 1, 0, 1), 1, f_rnn, in, 3, NULL, NULL,
                       "LSTM(3, 2, num_layers=2, bidirectional=True) wrt x, h0, c0, parameters"));
    in[0] = leaf(SH3(2, 4, 2));
    CHECK(check_module(tl_nn_lstm(2, 3, 1, 0, 1, 0), 1, f_rnn, in, 1, NULL, NULL,
                       "LSTM(2, 3, bias=False, batch_first=True) wrt x, parameters (zero state)"));
    in[0] = leaf(SH2(3, 2)), in[1] = leaf(SH2(1, 3)), in[2] = leaf(SH2(1, 3));
    CHECK(check_module(tl_nn_lstm(2, 3, 1, 1, 0, 0), 1, f_rnn, in, 3, NULL, NULL, "LSTM(2, 3) unbatched"));
    tl_scope_end(s);
}

TEST(gru_gradchecks) {
    tl_scope s = tl_scope_begin();
    tl_tensor *in[2];
    in[0] = leaf(SH2(4, 3)), in[1] = leaf(SH2(4, 2)); /* unbatched [L, H_in], [D*layers, H] */
    CHECK(check_module(tl_nn_gru(3, 2, 2, 1, 1, 1), 0, f_rnn, in, 2, NULL, NULL,
                       "GRU(3, 2, num_layers=2, batch_first=True, bidirectional=True) unbatched"));
    in[0] = leaf(SH3(3, 2, 2)), in[1] = leaf(SH3(1, 2, 3));
    CHECK(check_module(tl_nn_gru(2, 3, 1, 1, 0, 0), 0, f_rnn, in, 2, NULL, NULL, "GRU(2, 3) wrt x, h0, parameters"));
    tl_scope_end(s);
}

TEST(mha_gradchecks_with_masks) {
    tl_scope s = tl_scope_begin();
    tl_tensor *in[3], *kpm = tl_zeros(TL_SHAPE(2, 5), TL_BOOL);
    tl_set(kpm, (const int64_t[]){0, 4}, 1);
    tl_set(kpm, (const int64_t[]){1, 3}, 1);
    in[0] = leaf(SH3(2, 3, 4)), in[1] = leaf(SH3(2, 5, 4)), in[2] = leaf(SH3(2, 5, 4)); /* batch_first */
    CHECK(check_module(tl_nn_multihead_attention(4, 2, 1, 1), 0, f_mha, in, 3, kpm,
                       tl_mul_scalar(tl_rand(TL_SHAPE(3, 5), TL_F64), 0.5),
                       "MultiheadAttention(4, 2, batch_first) wrt q, k, v, parameters, both masks"));
    in[0] = leaf(SH2(3, 4));
    CHECK(check_module(tl_nn_multihead_attention(4, 4, 0, 0), 0, f_mha, in, 1, NULL,
                       tl_triu(tl_ones(TL_SHAPE(3, 3), TL_BOOL), 1),
                       "MultiheadAttention(4, 4, bias=False) unbatched, causal"));
    tl_scope_end(s);
}

/* error text contains every piece */
static int err_has(const char *a, const char *b, const char *c) {
    const char *e = tl_last_error();
    int ok = strstr(e, a) && (!b || strstr(e, b)) && (!c || strstr(e, c));
    if (!ok) printf("    error was: %s\n", e);
    tl_clear_error();
    return ok;
}

TEST(rnn_errors_name_the_layer_and_shapes) {
    tl_scope s = tl_scope_begin();
    tl_module *lstm = tl_nn_lstm(10, 20, 2, 1, 1, 0), *gru = tl_nn_gru(4, 3, 1, 1, 0, 1);
    tl_tensor *hn = NULL, *cn = NULL;
    REQUIRE(lstm && gru);
    CHECK(tl_lstm_forward(lstm, tl_zeros(TL_SHAPE(2, 3, 4, 10), TL_F32), NULL, NULL, &hn, &cn) == NULL);
    CHECK(hn == NULL && cn == NULL);
    CHECK(err_has("tl_lstm_forward: LSTM(10, 20, num_layers=2, batch_first=True)", "2-D or 3-D", "[2, 3, 4, 10]"));
    CHECK(tl_lstm_forward(lstm, tl_zeros(TL_SHAPE(2, 5, 7), TL_F32), NULL, NULL, NULL, NULL) == NULL);
    CHECK(err_has("LSTM(10, 20", "Expected 10, got 7", "[2, 5, 7]"));
    CHECK(tl_module_forward(lstm, tl_zeros(TL_SHAPE(2, 5, 7), TL_F32)) == NULL);
    CHECK(err_has("input.size(-1) must be equal to input_size", "[2, 5, 7]", NULL));
    CHECK(tl_lstm_forward(lstm, tl_zeros(TL_SHAPE(3, 5, 10), TL_F32), tl_zeros(TL_SHAPE(2, 4, 20), TL_F32),
                          tl_zeros(TL_SHAPE(2, 3, 20), TL_F32), &hn, &cn) == NULL);
    CHECK(err_has("expected hidden[0] size [2, 3, 20], got [2, 4, 20]", "LSTM(10, 20", NULL));
    CHECK(tl_lstm_forward(lstm, tl_zeros(TL_SHAPE(3, 5, 10), TL_F32), tl_zeros(TL_SHAPE(2, 3, 20), TL_F32),
                          tl_zeros(TL_SHAPE(2, 3, 21), TL_F32), &hn, &cn) == NULL);
    CHECK(err_has("expected hidden[1] size [2, 3, 20], got [2, 3, 21]", NULL, NULL));
    CHECK(tl_lstm_forward(lstm, tl_zeros(TL_SHAPE(3, 5, 10), TL_F32), tl_zeros(TL_SHAPE(2, 3, 20), TL_F32), NULL,
                          &hn, &cn) == NULL);
    CHECK(err_has("pass both h0 and c0", "[2, 3, 20] and NULL", NULL));
    CHECK(tl_gru_forward(gru, tl_zeros(TL_SHAPE(5, 4), TL_F32), tl_zeros(TL_SHAPE(2, 1, 3), TL_F32), &hn) == NULL);
    CHECK(err_has("tl_gru_forward: GRU(4, 3, bidirectional=True)", "unbatched 2-D input, hx should also be 2-D",
                  "[2, 1, 3]"));
    CHECK(tl_gru_forward(gru, tl_zeros(TL_SHAPE(0, 2, 4), TL_F32), NULL, &hn) == NULL);
    CHECK(err_has("at least one step", "[0, 2, 4]", NULL));
    CHECK(tl_gru_forward(lstm, tl_zeros(TL_SHAPE(5, 4), TL_F32), NULL, &hn) == NULL);
    CHECK(err_has("tl_gru_forward: expected a module made by tl_nn_gru, got LSTM", NULL, NULL));
    CHECK(tl_nn_lstm(3, 0, 1, 1, 0, 0) == NULL);
    CHECK(err_has("tl_nn_lstm: hidden_size must be greater than zero", NULL, NULL));
    CHECK(tl_nn_gru(3, 2, 0, 1, 0, 0) == NULL);
    CHECK(err_has("tl_nn_gru: num_layers must be greater than zero", NULL, NULL));
    tl_module_free(lstm);
    tl_module_free(gru);
    tl_scope_end(s);
}

TEST(mha_errors_name_the_layer_and_shapes) {
    tl_scope s = tl_scope_begin();
    tl_module *m = tl_nn_multihead_attention(8, 2, 1, 0);
    tl_tensor *w = NULL, *q = tl_zeros(TL_SHAPE(4, 3, 8), TL_F32);
    REQUIRE(m != NULL);
    CHECK(tl_mha_forward(m, tl_zeros(TL_SHAPE(4, 3, 6), TL_F32), NULL, NULL, NULL, 1, NULL, 1, &w) == NULL);
    CHECK(w == NULL);
    CHECK(err_has("tl_mha_forward: MultiheadAttention(embed_dim=8, num_heads=2)",
                  "expecting embedding dimension of 8, but got 6", "[4, 3, 6]"));
    CHECK(tl_mha_forward(m, tl_zeros(TL_SHAPE(1, 4, 3, 8), TL_F32), NULL, NULL, NULL, 1, NULL, 1, &w) == NULL);
    CHECK(err_has("unbatched 2D or batched 3D", "4-D query", NULL));
    CHECK(tl_mha_forward(m, q, tl_zeros(TL_SHAPE(5, 3, 8), TL_F32), tl_zeros(TL_SHAPE(6, 3, 8), TL_F32), NULL, 1,
                         NULL, 1, &w) == NULL);
    CHECK(err_has("key shape [5, 3, 8] does not match value shape [6, 3, 8]", NULL, NULL));
    CHECK(tl_mha_forward(m, q, NULL, NULL, tl_zeros(TL_SHAPE(3, 5), TL_BOOL), 1, NULL, 1, &w) == NULL);
    CHECK(err_has("expecting key_padding_mask shape of [3, 4], but got [3, 5]", NULL, NULL));
    CHECK(tl_mha_forward(m, q, NULL, NULL, NULL, 1, tl_zeros(TL_SHAPE(4, 5), TL_BOOL), 1, &w) == NULL);
    CHECK(err_has("the shape of the 2D attn_mask is [4, 5], but should be [4, 4]", NULL, NULL));
    CHECK(tl_mha_forward(m, q, NULL, NULL, NULL, 1, tl_zeros(TL_SHAPE(3, 4, 4), TL_BOOL), 1, &w) == NULL);
    CHECK(err_has("the shape of the 3D attn_mask is [3, 4, 4], but should be [6, 4, 4]", NULL, NULL));
    CHECK(tl_mha_forward(m, q, NULL, NULL, NULL, 1, tl_zeros(TL_SHAPE(4, 4), TL_I64), 1, &w) == NULL);
    CHECK(err_has("only bool, uint8 and floating masks", NULL, NULL));
    CHECK(tl_nn_multihead_attention(6, 4, 1, 0) == NULL);
    CHECK(err_has("embed_dim must be divisible by num_heads", "embed_dim 6, num_heads 4", NULL));
    tl_module_free(m);
    tl_scope_end(s);
}

TEST(reprs_keys_and_shapes) {
    tl_scope s = tl_scope_begin();
    tl_module *a = tl_nn_lstm(10, 20, 2, 1, 1, 0), *b = tl_nn_gru(3, 4, 1, 0, 0, 1);
    tl_module *m = tl_nn_multihead_attention(8, 2, 1, 1);
    tl_value *sd;
    tl_tensor *hn = NULL, *cn = NULL, *y, *w = NULL;
    char buf[512];
    REQUIRE(a && b && m);
    tl_module_to_string(a, buf, sizeof buf);
    CHECK_STR(buf, "LSTM(10, 20, num_layers=2, batch_first=True)");
    tl_module_to_string(b, buf, sizeof buf);
    CHECK_STR(buf, "GRU(3, 4, bias=False, bidirectional=True)");
    tl_module_to_string(m, buf, sizeof buf);
    CHECK_STR(buf, "MultiheadAttention(\n  (out_proj): NonDynamicallyQuantizableLinear(in_features=8, out_features=8, "
                   "bias=True)\n)");
    sd = tl_module_state_dict(b);
    REQUIRE(sd != NULL);
    CHECK_EQ_INT((long long)tl_value_len(sd), 4);
    CHECK_STR(tl_value_as_string(tl_value_key(sd, 2), NULL), "weight_ih_l0_reverse");
    tl_value_free(sd);
    sd = tl_module_state_dict(m);
    REQUIRE(sd != NULL);
    CHECK_EQ_INT((long long)tl_value_len(sd), 4);
    CHECK_STR(tl_value_as_string(tl_value_key(sd, 1), NULL), "in_proj_bias");
    CHECK_STR(tl_value_as_string(tl_value_key(sd, 2), NULL), "out_proj.weight");
    tl_value_free(sd);
    /* shapes: batch_first [N, L, H_in] -> [N, L, H]; h_n, c_n [layers, N, H] */
    y = tl_lstm_forward(a, tl_randn(TL_SHAPE(3, 5, 10), TL_F32), NULL, NULL, &hn, &cn);
    REQUIRE(y && hn && cn);
    CHECK(tl_ndim(y) == 3 && tl_shape(y)[0] == 3 && tl_shape(y)[1] == 5 && tl_shape(y)[2] == 20);
    CHECK(tl_ndim(hn) == 3 && tl_shape(hn)[0] == 2 && tl_shape(hn)[1] == 3 && tl_shape(cn)[2] == 20);
    y = tl_gru_forward(b, tl_randn(TL_SHAPE(6, 3), TL_F32), NULL, &hn);
    REQUIRE(y && hn);
    CHECK(tl_ndim(y) == 2 && tl_shape(y)[0] == 6 && tl_shape(y)[1] == 8);
    CHECK(tl_ndim(hn) == 2 && tl_shape(hn)[0] == 2 && tl_shape(hn)[1] == 4);
    y = tl_mha_forward(m, tl_randn(TL_SHAPE(2, 4, 8), TL_F32), tl_randn(TL_SHAPE(2, 6, 8), TL_F32), NULL, NULL, 1,
                       NULL, 0, &w);
    REQUIRE(y && w);
    CHECK(tl_ndim(y) == 3 && tl_shape(y)[0] == 2 && tl_shape(y)[1] == 4 && tl_shape(y)[2] == 8);
    CHECK(tl_ndim(w) == 4 && tl_shape(w)[1] == 2 && tl_shape(w)[2] == 4 && tl_shape(w)[3] == 6);
    /* the generic forward: the output alone, equal to the dedicated call's */
    {
        tl_tensor *x = tl_randn(TL_SHAPE(3, 5, 10), TL_F32);
        CHECK(tl_equal(tl_module_forward(a, x), tl_lstm_forward(a, x, NULL, NULL, NULL, NULL)) == 1);
        x = tl_randn(TL_SHAPE(2, 4, 8), TL_F32);
        CHECK(tl_equal(tl_module_forward(m, x), tl_mha_forward(m, x, x, x, NULL, 0, NULL, 1, NULL)) == 1);
    }
    tl_module_free(a);
    tl_module_free(b);
    tl_module_free(m);
    tl_scope_end(s);
}

TEST(outside_a_scope_the_caller_owns_the_results) {
    tl_module *a = tl_nn_lstm(2, 3, 1, 1, 0, 0), *m = tl_nn_multihead_attention(4, 2, 1, 0);
    tl_tensor *x = tl_randn(TL_SHAPE(4, 1, 2), TL_F32), *q = tl_randn(TL_SHAPE(3, 2, 4), TL_F32);
    tl_tensor *hn = NULL, *cn = NULL, *w = NULL, *y;
    REQUIRE(a && m && x && q);
    y = tl_lstm_forward(a, x, NULL, NULL, &hn, &cn);
    CHECK(y && hn && cn);
    tl_release(y);
    tl_release(hn);
    tl_release(cn);
    y = tl_mha_forward(m, q, NULL, NULL, NULL, 1, NULL, 1, &w);
    CHECK(y && w);
    tl_release(y);
    tl_release(w);
    CHECK_STR(tl_last_error(), "");
    tl_release(x);
    tl_release(q);
    tl_module_free(a);
    tl_module_free(m);
}

static const th_case tests[] = {
    TH_CASE(lstm_gradchecks),
    TH_CASE(gru_gradchecks),
    TH_CASE(mha_gradchecks_with_masks),
    TH_CASE(rnn_errors_name_the_layer_and_shapes),
    TH_CASE(mha_errors_name_the_layer_and_shapes),
    TH_CASE(reprs_keys_and_shapes),
    TH_CASE(outside_a_scope_the_caller_owns_the_results),
};
int main(void) { return TH_RUN(tests); }
