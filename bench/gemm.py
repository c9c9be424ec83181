# PyTorch side of bench/gemm.c: float32 a @ b for the same shapes (square 64..1024, LeNet's GEMMs),
# best of 5 rounds. Usage: python3 gemm.py [threads]
import sys, time
import torch
torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
torch.manual_seed(0)
def run(name, m, n, k, bt):
    a = torch.randn(m, k)
    b = torch.randn(n, k).t() if bt else torch.randn(k, n)
    flops = 2.0 * m * n * k
    reps = min(int(2e9 / flops) + 1, 2000)
    best = 1e30
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(reps):
            c = a @ b
        best = min(best, (time.perf_counter() - t) / reps)
    print(f"gemm {name} m={m} n={n} k={k} gflops={flops / best * 1e-9:.2f} us={best * 1e6:.1f}", flush=True)
run("sq64", 64, 64, 64, 0); run("sq256", 256, 256, 256, 0); run("sq512", 512, 512, 512, 0)
run("sq1024", 1024, 1024, 1024, 0); run("sq2048", 2048, 2048, 2048, 0)
run("conv1_fwd", 6, 784, 25, 0); run("conv2_fwd", 16, 100, 150, 0)
run("fc1_fwd", 64, 120, 400, 1); run("fc2_fwd", 64, 84, 120, 1)
