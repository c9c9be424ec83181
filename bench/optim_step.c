/* bench/optim_step.c - optimizer step time alone (no forward/backward): Adam and SGD with momentum
   over the LeNet-5 parameter set (10 tensors, 61706 floats) and over a 10M-parameter model (10
   tensors of 1M floats), float32, gradients fixed. bench/optim_step.py times torch.optim on the same
   shapes (foreach=False, torch 1.13's CPU default, and foreach=True); bench/run.sh prints the ratios.
   usage: bench_optim_step   prints "optim <opt> <model> us_per_step=U" per case */
#include "bench.h" /* tensorlite with its implementation, now_s() */
#include <stdio.h>


static void run(const char *model, int n, const int64_t shapes[][4], const int *ndims, int adam, int steps) {
    tl_tensor *ps[16];
    tl_optim *o;
    double t0;
    int i, s;
    for (i = 0; i < n; i++) {
        tl_tensor *g;
        ps[i] = tl_randn(ndims[i], shapes[i], TL_F32);
        tl_requires_grad_(ps[i], 1);
        g = tl_mul_scalar(tl_randn(ndims[i], shapes[i], TL_F32), 1e-2);
        tl_set_grad(ps[i], g);
        tl_release(g);
    }
    if (adam) {
        o = tl_optim_adam(tl_param_list_new(n, ps), NULL);
    } else {
        tl_sgd_desc d = tl_sgd_desc_default();
        d.lr = 0.01, d.momentum = 0.9;
        o = tl_optim_sgd(tl_param_list_new(n, ps), &d);
    }
    for (s = 0; s < 5; s++) tl_optim_step(o); /* warm-up, state allocated */
    t0 = now_s();
    for (s = 0; s < steps; s++) tl_optim_step(o);
    printf("optim %s %s us_per_step=%.2f\n", adam ? "adam" : "sgd_momentum", model, (now_s() - t0) / steps * 1e6);
    tl_optim_free(o);
    for (i = 0; i < n; i++) tl_release(ps[i]);
}

int main(void) {
    static const int64_t lenet[10][4] = {{6, 1, 5, 5}, {6}, {16, 6, 5, 5}, {16}, {120, 400}, {120},
                                         {84, 120}, {84}, {10, 84}, {10}};
    static const int lenet_nd[10] = {4, 1, 4, 1, 2, 1, 2, 1, 2, 1};
    static const int64_t big[10][4] = {{1000, 1000}, {1000, 1000}, {1000, 1000}, {1000, 1000}, {1000, 1000},
                                       {1000, 1000}, {1000, 1000}, {1000, 1000}, {1000, 1000}, {1000, 1000}};
    static const int big_nd[10] = {2, 2, 2, 2, 2, 2, 2, 2, 2, 2};
    tl_manual_seed(0);
    run("lenet", 10, lenet, lenet_nd, 1, 20000);
    run("lenet", 10, lenet, lenet_nd, 0, 20000);
    run("10M", 10, big, big_nd, 1, 30);
    run("10M", 10, big, big_nd, 0, 30);
    return 0;
}
