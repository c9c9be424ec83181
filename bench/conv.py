# PyTorch side of bench/conv.c: LeNet-5's conv1 and conv2 at batch 64, forward and forward+backward.
# Usage: python3 conv.py [threads]
import sys, time
import torch, torch.nn.functional as F
torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
torch.manual_seed(0)
def run(name, xs, ws, pad, xgrad, reps=50):
    x = torch.randn(*xs, requires_grad=xgrad); w = torch.randn(*ws, requires_grad=True)
    b = torch.randn(ws[0], requires_grad=True)
    bf = bb = 1e30
    for r in range(4):
        t = time.perf_counter()
        with torch.no_grad():
            for _ in range(reps): F.conv2d(x, w, b, padding=pad)
        if r: bf = min(bf, (time.perf_counter() - t) / reps)
        t = time.perf_counter()
        for _ in range(reps):
            w.grad = b.grad = x.grad = None
            y = F.conv2d(x, w, b, padding=pad); y.backward(torch.ones_like(y))
        if r: bb = min(bb, (time.perf_counter() - t) / reps)
    print(f"conv {name} threads={torch.get_num_threads()} fwd_ms={bf*1e3:.3f} fwdbwd_ms={bb*1e3:.3f}", flush=True)
run("conv1", (64, 1, 28, 28), (6, 1, 5, 5), 2, False)
run("conv2", (64, 6, 14, 14), (16, 6, 5, 5), 0, True)
