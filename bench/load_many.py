"""bench/load_many.py - torch.load of a checkpoint with 100,000 one-element tensors, each with its own
storage (the worst case for per-storage bookkeeping). Writes the file with torch.save first.
usage: load_many.py PATH   prints "load_many torch weights_only=W seconds=S tensors=N" for W True (once) and False (best of 3)"""
import sys, time

import torch

path = sys.argv[1]
torch.save({"t%d" % k: torch.full((1,), float(k)) for k in range(100000)}, path)
for wo in (True, False):  # 1.13's weights_only unpickler is pure Python: much slower than the default
    best = 1e9
    for _ in range(1 if wo else 3):
        t0 = time.perf_counter()
        d = torch.load(path, weights_only=wo)
        best = min(best, time.perf_counter() - t0)
    assert len(d) == 100000 and d["t99999"].item() == 99999.0
    print("load_many torch weights_only=%s seconds=%.3f tensors=%d" % (wo, best, len(d)))
