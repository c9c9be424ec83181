/* bench/tiny_mlp.c - per-step overhead of a tiny MLP training step (16-16(tanh)-1, batch 1, MSE,
   SGD lr 0.01), the workload of ../shared/anchors/torch_ref.py. Prints microseconds per step. */
#include "bench.h" /* tensorlite with its implementation, now_s() */
#include <stdio.h>

static tl_tensor *param(int64_t r, int64_t c, unsigned *seed) {
    int64_t shape[2];
    tl_tensor *p;
    int64_t i, n = c > 0 ? r * c : r;
    float *v = (float *)malloc(sizeof(float) * (size_t)n);
    for (i = 0; i < n; i++) {
        *seed = *seed * 1103515245u + 12345u;
        v[i] = ((float)((*seed >> 8) & 0xffff) / 65535.0f - 0.5f) * 0.5f;
    }
    shape[0] = r;
    shape[1] = c;
    p = c > 0 ? tl_from_data(v, 2, shape, TL_F32) : tl_from_data(v, 1, shape, TL_F32);
    free(v);
    tl_requires_grad_(p, 1);
    return p;
}

int main(int argc, char **argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 2000, s, i;
    unsigned seed = 1;
    tl_tensor *w1 = param(16, 16, &seed), *b1 = param(16, 0, &seed), *w2 = param(1, 16, &seed),
              *b2 = param(1, 0, &seed);
    tl_tensor *ps[4];
    tl_tensor *x = param(1, 16, &seed), *y = param(1, 1, &seed);
    double t0 = 0, t1, first_loss = 0, last_loss = 0;
    ps[0] = w1; ps[1] = b1; ps[2] = w2; ps[3] = b2;
    tl_requires_grad_(x, 0);
    tl_requires_grad_(y, 0);
    for (s = -200; s < steps; s++) { /* 200 warm-up steps fill the caches */
        tl_scope sc;
        tl_tensor *h, *out, *loss;
        if (s == 0) t0 = now_s();
        sc = tl_scope_begin();
        for (i = 0; i < 4; i++) tl_set_grad(ps[i], NULL);                  /* opt.zero_grad() */
        h = tl_tanh(tl_add(tl_matmul(x, tl_t(w1)), b1));                   /* Linear + Tanh */
        out = tl_add(tl_matmul(h, tl_t(w2)), b2);                          /* Linear */
        loss = tl_mean_all(tl_pow_scalar(tl_sub(out, y), 2));              /* F.mse_loss */
        if (tl_backward(loss) != TL_OK) {
            fprintf(stderr, "%s\n", tl_last_error());
            return 1;
        }
        tl_no_grad_begin();                                                 /* opt.step() */
        for (i = 0; i < 4; i++) {
            tl_tensor *g = tl_grad(ps[i]);
            tl_add_alpha_(ps[i], g, -0.01);
        }
        tl_no_grad_end();
        if (s == 0) first_loss = tl_item(loss);
        if (s == steps - 1) last_loss = tl_item(loss);
        tl_scope_end(sc);
    }
    t1 = now_s();
    printf("tensorlite tiny-mlp batch1 us_per_step=%.2f (loss %.5f -> %.5f)\n", (t1 - t0) / steps * 1e6, first_loss,
           last_loss);
    for (i = 0; i < 4; i++) tl_release(ps[i]);
    tl_release(x);
    tl_release(y);
    return tl_debug_live_tensors() == 0 ? 0 : 1;
}
