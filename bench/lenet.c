/* bench/lenet.c - LeNet-5 training steps (conv1 1->6 5x5 pad 2, max pool 2, conv2 6->16 5x5, max
   pool 2, fc 400-120-84-10, ReLU; cross-entropy; SGD lr 0.05 momentum 0.9) on random 28x28 data,
   batch 64, the model of ../shared/anchors/torch_ref.py. Prints ms per step and the time of a
   938-step epoch (Fashion-MNIST's 60000 / 64) at that rate.
   Usage: bench_lenet [steps [threads]] */
#include "bench.h" /* tensorlite with its implementation, now_s() */
#include <stdio.h>

#define NP 10
#define NB 8 /* distinct random batches, cycled */
static tl_tensor *param(int ndim, const int64_t *shape, int64_t fan_in) {
    tl_tensor *p = tl_empty(ndim, shape, TL_F32);
    double b = 1.0 / sqrt((double)fan_in);
    tl_uniform_(p, -b, b);
    tl_requires_grad_(p, 1);
    return p;
}
int main(int argc, char **argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 100, s, i;
    static const int64_t sw1[4] = {6, 1, 5, 5}, sb1[1] = {6}, sw2[4] = {16, 6, 5, 5}, sb2[1] = {16},
                         sf1[2] = {120, 400}, sbf1[1] = {120}, sf2[2] = {84, 120}, sbf2[1] = {84},
                         sf3[2] = {10, 84}, sbf3[1] = {10}, sx[4] = {64, 1, 28, 28}, sy[1] = {64};
    tl_tensor *p[NP], *buf[NP], *xs[NB], *ys[NB];
    tl_conv2d_opts c1, c2;
    tl_pool2d_opts pool = tl_pool2d_opts_default(2, 2);
    double t0 = 0, dt, first = 0, last = 0;
    if (argc > 2) tl_set_num_threads(atoi(argv[2]));
    tl_manual_seed(0);
    p[0] = param(4, sw1, 25); p[1] = param(1, sb1, 25);
    p[2] = param(4, sw2, 150); p[3] = param(1, sb2, 150);
    p[4] = param(2, sf1, 400); p[5] = param(1, sbf1, 400);
    p[6] = param(2, sf2, 120); p[7] = param(1, sbf2, 120);
    p[8] = param(2, sf3, 84); p[9] = param(1, sbf3, 84);
    for (i = 0; i < NP; i++) buf[i] = tl_zeros(tl_ndim(p[i]), tl_shape(p[i]), TL_F32);
    for (i = 0; i < NB; i++) {
        xs[i] = tl_randn(4, sx, TL_F32);
        ys[i] = tl_randint(0, 10, 1, sy, TL_I64);
    }
    memset(&c1, 0, sizeof c1);
    memset(&c2, 0, sizeof c2);
    c1.padding[0] = c1.padding[1] = 2;
    for (s = -5; s < steps; s++) { /* 5 warm-up steps */
        tl_scope sc = tl_scope_begin();
        tl_tensor *x = xs[(s + 5) % NB], *h, *loss;
        if (s == 0) t0 = now_s();
        for (i = 0; i < NP; i++) tl_set_grad(p[i], NULL); /* opt.zero_grad() */
        h = tl_max_pool2d(tl_relu(tl_conv2d(x, p[0], p[1], &c1)), &pool, NULL);
        h = tl_max_pool2d(tl_relu(tl_conv2d(h, p[2], p[3], &c2)), &pool, NULL);
        h = tl_flatten(h, 1, -1);
        h = tl_relu(tl_linear(h, p[4], p[5]));
        h = tl_relu(tl_linear(h, p[6], p[7]));
        h = tl_linear(h, p[8], p[9]);
        loss = tl_cross_entropy(h, ys[(s + 5) % NB], NULL, -100, TL_REDUCTION_MEAN);
        if (!loss || tl_backward(loss) != TL_OK) {
            fprintf(stderr, "%s\n", tl_last_error());
            return 1;
        }
        tl_no_grad_begin(); /* opt.step(): buf = 0.9 buf + g; p -= 0.05 buf */
        for (i = 0; i < NP; i++) {
            tl_mul_scalar_(buf[i], 0.9);
            tl_add_(buf[i], tl_grad(p[i]));
            tl_add_alpha_(p[i], buf[i], -0.05);
        }
        tl_no_grad_end();
        if (s == 0) first = tl_item(loss);
        if (s == steps - 1) last = tl_item(loss);
        tl_scope_end(sc);
    }
    dt = (now_s() - t0) / steps;
    printf("tensorlite lenet batch64 threads=%d ms_per_step=%.3f epoch938_s=%.2f (loss %.3f -> %.3f)\n",
           tl_get_num_threads(), dt * 1e3, dt * 938, first, last);
    for (i = 0; i < NP; i++) {
        tl_release(p[i]);
        tl_release(buf[i]);
    }
    for (i = 0; i < NB; i++) {
        tl_release(xs[i]);
        tl_release(ys[i]);
    }
    tl_shutdown();
    return tl_debug_live_tensors() == 0 ? 0 : 1;
}
