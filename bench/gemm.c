/* bench/gemm.c - float32 GEMM throughput of tl_matmul: square sizes 64..1024 and LeNet-5's GEMM
   shapes (batch 64). Prints "gemm <name> m n k gflops=<x>" per shape, best of several runs.
   Usage: bench_gemm [threads] */
#include "bench.h" /* tensorlite with its implementation, now_s() */
#include <stdio.h>

/* times a [m,k] @ [k,n] (bt: b given as a transposed [n,k], the linear layer's x @ w.t()) */
static void run(const char *name, int64_t m, int64_t n, int64_t k, int bt) {
    int64_t sa[2], sb[2];
    tl_tensor *a, *b, *bb, *c;
    double best = 1e30, flops = 2.0 * (double)m * (double)n * (double)k, t;
    int reps = (int)(2e9 / flops) + 1, r, it;
    if (reps > 2000) reps = 2000;
    sa[0] = m; sa[1] = k;
    sb[0] = bt ? n : k; sb[1] = bt ? k : n;
    a = tl_randn(2, sa, TL_F32);
    bb = tl_randn(2, sb, TL_F32);
    b = bt ? tl_t(bb) : tl_retain(bb);
    for (r = 0; r < 5; r++) {
        t = now_s();
        for (it = 0; it < reps; it++) {
            c = tl_matmul(a, b);
            tl_release(c);
        }
        t = (now_s() - t) / reps;
        if (t < best) best = t;
    }
    printf("gemm %s m=%lld n=%lld k=%lld gflops=%.2f us=%.1f\n", name, (long long)m, (long long)n, (long long)k,
           flops / best * 1e-9, best * 1e6);
    fflush(stdout);
    tl_release(a);
    tl_release(b);
    tl_release(bb);
}
int main(int argc, char **argv) {
    if (argc > 1) tl_set_num_threads(atoi(argv[1]));
    tl_manual_seed(0);
    run("sq64", 64, 64, 64, 0);
    run("sq256", 256, 256, 256, 0);
    run("sq512", 512, 512, 512, 0);
    run("sq1024", 1024, 1024, 1024, 0);
    run("sq2048", 2048, 2048, 2048, 0);
    /* LeNet, batch 64: conv1/conv2 per image as im2col GEMMs, fc layers as x @ w.t() */
    run("conv1_fwd", 6, 784, 25, 0);
    run("conv2_fwd", 16, 100, 150, 0);
    run("fc1_fwd", 64, 120, 400, 1);
    run("fc2_fwd", 64, 84, 120, 1);
    return 0;
}
