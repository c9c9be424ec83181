# PyTorch side of bench/optim_step.c: torch.optim's step alone on the same shapes, foreach=False
# (torch 1.13's CPU default) and foreach=True. prints "optim <opt> <model> <mode> us_per_step=U"
import time
import torch
torch.set_num_threads(1)
LENET = [(6, 1, 5, 5), (6,), (16, 6, 5, 5), (16,), (120, 400), (120,), (84, 120), (84,), (10, 84), (10,)]
BIG = [(1000, 1000)] * 10


def run(model, shapes, kind, foreach, steps):
    ps = [torch.nn.Parameter(torch.randn(*s)) for s in shapes]
    for p in ps:
        p.grad = torch.randn(*p.shape) * 1e-2
    if kind == "adam":
        opt = torch.optim.Adam(ps, foreach=foreach)
    else:
        opt = torch.optim.SGD(ps, lr=0.01, momentum=0.9, foreach=foreach)
    for _ in range(5):
        opt.step()
    t = time.perf_counter()
    for _ in range(steps):
        opt.step()
    us = (time.perf_counter() - t) / steps * 1e6
    print("optim %s %s %s us_per_step=%.2f" % ("adam" if kind == "adam" else "sgd_momentum", model,
                                                "foreach" if foreach else "default", us))


for foreach in (False, True):
    run("lenet", LENET, "adam", foreach, 2000)
    run("lenet", LENET, "sgd", foreach, 2000)
    run("10M", BIG, "adam", foreach, 10)
    run("10M", BIG, "sgd", foreach, 10)
