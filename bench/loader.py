"""bench/loader.py - torch's DataLoader on the workload of bench/loader.c: one epoch of Fashion-MNIST
training batches (batch 64, shuffled, each uint8 image normalised to float32 per sample, as
ToTensor + Normalize do) with num_workers 0 and 2, and the peak memory (this process and its
workers) with the data set held as uint8. The files are read with gzip + numpy.
usage: python3 bench/loader.py [DIR]"""
import gzip
import resource
import sys
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

DIR = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"


def idx(name):
    with gzip.open("%s/%s" % (DIR, name), "rb") as f:
        raw = f.read()
    nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * nd).reshape(dims)


class FashionMNIST(Dataset):
    def __init__(self):
        self.x = torch.from_numpy(idx("train-images-idx3-ubyte.gz").copy()).unsqueeze(1)  # uint8 [N, 1, 28, 28]
        self.y = torch.from_numpy(idx("train-labels-idx1-ubyte.gz").astype(np.int64))

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return (self.x[i].float() / 255 - 0.2860) / 0.3530, self.y[i]


def cpu_s():
    # this process and its finished children (the workers exit at the end of each epoch)
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def main():
    torch.set_num_threads(1)
    ds = FashionMNIST()
    for w in (0, 2):
        torch.manual_seed(0)
        ld = DataLoader(ds, batch_size=64, shuffle=True, num_workers=w)
        c0 = cpu_s()
        t0 = time.perf_counter()
        n = nb = 0
        check = 0.0
        for xb, yb in ld:
            check += float(xb[0, 0, 0, 0]) + float(yb[0])
            n += len(yb)
            nb += 1
        t1 = time.perf_counter()
        del ld  # its workers exit: their CPU time is counted
        c1 = cpu_s()
        print("loader workers=%d samples_per_s=%.0f seconds=%.3f cpu_seconds=%.3f batches=%d checksum=%.4f" % (
            w, n / (t1 - t0), t1 - t0, c1 - c0, nb, check))
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    print("loader peak_rss_mb=%.1f workers_peak_rss_mb=%.1f" % (own, kids))


if __name__ == "__main__":
    main()
