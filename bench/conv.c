/* bench/conv.c - LeNet-5's two convolutions at batch 64, forward and forward+backward, the conv
   workloads of issue 10 (bench/conv.py runs the same in PyTorch):
     conv1  x [64, 1, 28, 28], w [6, 1, 5, 5] + bias, padding 2 (x needs no gradient, as LeNet's input)
     conv2  x [64, 6, 14, 14] (needs a gradient), w [16, 6, 5, 5] + bias
   backward is y.backward(ones). Prints "conv <name> threads=T fwd_ms=F fwdbwd_ms=B" (mean of the
   best of 3 runs of REPS). usage: bench_conv [threads] */
#include "bench.h" /* tensorlite with its implementation, now_s() */
#include <stdio.h>

static int run(const char *name, const int64_t *xs, const int64_t *ws, int pad, int xgrad) {
    int64_t bs[1];
    tl_tensor *x, *w, *b;
    tl_conv2d_opts o;
    double best_f = 1e30, best_b = 1e30;
    int round, i, reps = 50;
    bs[0] = ws[0];
    x = tl_randn(4, xs, TL_F32);
    w = tl_randn(4, ws, TL_F32);
    b = tl_randn(1, bs, TL_F32);
    memset(&o, 0, sizeof o);
    o.padding[0] = o.padding[1] = pad;
    tl_requires_grad_(w, 1);
    tl_requires_grad_(b, 1);
    tl_requires_grad_(x, xgrad);
    for (round = 0; round < 4; round++) { /* round 0 warms up */
        double t0 = now_s(), t;
        tl_no_grad_begin();
        for (i = 0; i < reps; i++) {
            tl_scope s = tl_scope_begin();
            if (!tl_conv2d(x, w, b, &o)) return 1;
            tl_scope_end(s);
        }
        tl_no_grad_end();
        t = (now_s() - t0) / reps;
        if (round > 0 && t < best_f) best_f = t;
        t0 = now_s();
        for (i = 0; i < reps; i++) {
            tl_scope s = tl_scope_begin();
            tl_tensor *y = tl_conv2d(x, w, b, &o);
            tl_set_grad(w, NULL);
            tl_set_grad(b, NULL);
            tl_set_grad(x, NULL);
            if (!y || tl_backward_ex(y, tl_ones_like(y), 0) != TL_OK) return 1;
            tl_scope_end(s);
        }
        t = (now_s() - t0) / reps;
        if (round > 0 && t < best_b) best_b = t;
    }
    printf("conv %s threads=%d fwd_ms=%.3f fwdbwd_ms=%.3f\n", name, tl_get_num_threads(), best_f * 1e3, best_b * 1e3);
    fflush(stdout);
    tl_release(x);
    tl_release(w);
    tl_release(b);
    return 0;
}
int main(int argc, char **argv) {
    static const int64_t x1[4] = {64, 1, 28, 28}, w1[4] = {6, 1, 5, 5}, x2[4] = {64, 6, 14, 14}, w2[4] = {16, 6, 5, 5};
    tl_set_num_threads(argc > 1 ? atoi(argv[1]) : 1);
    tl_manual_seed(0);
    if (run("conv1", x1, w1, 2, 0) || run("conv2", x2, w2, 0, 1)) {
        fprintf(stderr, "bench_conv: %s\n", tl_last_error());
        return 1;
    }
    tl_shutdown();
    return 0;
}
