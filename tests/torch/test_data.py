#!/usr/bin/python3
"""PyTorch / numpy oracle for >>data (tests/torch/data_runner.c runs the C side).

Groups:
  order   DataLoader(shuffle=True) batch for batch, random_split, RandomSampler,
          WeightedRandomSampler and SubsetRandomSampler index streams equal torch 1.13's for
          several seeds, data set sizes and batch sizes, with and without an explicit generator,
          and the generators' states afterwards (torch.get_rng_state / g.get_state) are equal too.
  mnist   Fashion-MNIST (Debian's dataset-fashion-mnist, /usr/share/datasets/fashion-mnist):
          the four .gz files read by tl_load_idx, and the train/test sets through tl_mnist_dataset
          and a 2-worker loader, equal a plain Python reading (gzip + struct) byte for byte.
          Missing data set: SKIP with the reason (a FAILURE when CI=true).
  npy     numpy.save -> tl_load_npy -> tl_save_npy -> numpy.load for every shared dtype, both byte
          orders, C and Fortran order, format versions 1.0/2.0/3.0; tl_save_npy of fresh tensors
          read by numpy.load; .npz (savez and savez_compressed); CSV written by numpy.savetxt;
          IDX files gzip-compressed by Python at several levels and header flags.

usage: /usr/bin/python3 tests/torch/test_data.py --runner build/data/runner [--runner ...]
                                                 [--only GROUP,...] [-v]
Each runner runs the same script; a runner whose path contains "asan" skips the (slow) mnist group.
Ends with "N passed, N failed" (cases x runners; a runner exiting non-zero adds a failure).
"""
import argparse
import gzip
import io
import os
import struct
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import torch
from torch.utils.data import (DataLoader, RandomSampler, SubsetRandomSampler, WeightedRandomSampler,
                              random_split)

warnings.filterwarnings("ignore")
F32, F64, F16, BF16, I64, I32, I16, I8, U8, BOOL = range(10)
NPCODE = {F32: "f4", F64: "f8", F16: "f2", I64: "i8", I32: "i4", I16: "i2", I8: "i1", U8: "u1", BOOL: "b1"}
FMNIST = os.environ.get("TL_FASHION_MNIST", "/usr/share/datasets/fashion-mnist")


class Script:
    def __init__(self, tmp):
        self.cases = []  # (group, label, command, check(result) -> None or error text)
        self.tmp = tmp
        self.gens = {}
        self.nfile = 0

    def path(self, ext):
        self.nfile += 1
        return os.path.join(self.tmp, "f%05d%s" % (self.nfile, ext))

    def add(self, group, label, cmd, check):
        self.cases.append((group, label, cmd, check))

    def expect(self, group, label, cmd, want):
        self.add(group, label, cmd, lambda got, w=want: None if got == w else "expected %s" % w[:300])

    def gen(self, gid, seed):
        g = torch.Generator()
        g.manual_seed(seed)
        self.gens[gid] = g
        self.expect("order", "gen", "gen %d %d" % (gid, seed), "ok")

    def g(self, gid):
        return None if gid < 0 else self.gens[gid]


def ints(xs):
    return ",".join(str(int(x)) for x in xs)


def state_hex(g):
    s = torch.get_rng_state() if g is None else g.get_state()
    return "ok " + bytes(s.numpy().tolist()).hex()


# ------------------------------------------------------------------------------ order

SEEDS = [0, 1, 7, 42, 1234, 2**32 + 5, 67280421310721]
SIZES = [1, 10, 37, 100, 1000]
BATCHES = [1, 7, 32]


def g_order(S):
    for si, seed in enumerate(SEEDS):
        for n in SIZES:
            for b in BATCHES:
                for dl in (0, 1):
                    if (si + n + b + dl) % 3 and n != 10:  # a spread of the grid keeps the run short
                        continue
                    for gid in (-1, 0):
                        torch.manual_seed(seed)
                        S.expect("order", "seed", "seed %d" % seed, "ok")
                        if gid >= 0:
                            S.gen(gid, seed + 11)
                        ld = DataLoader(range(n), batch_size=b, shuffle=True, drop_last=bool(dl), generator=S.g(gid))
                        want = "ok"
                        for _ in range(2):
                            want += " |" + ";".join(ints(x.tolist()) for x in ld)
                        S.expect("order", "loader n=%d b=%d drop_last=%d g=%d seed=%d" % (n, b, dl, gid, seed),
                                 "loader %d %d 1 %d %d 2" % (n, b, dl, gid), want)
                        S.expect("order", "default state after loader", "state", state_hex(None))
                        if gid >= 0:
                            S.expect("order", "generator state after loader", "genstate %d" % gid, state_hex(S.g(gid)))
        # a sequential loader still draws its base seed from the default generator
        torch.manual_seed(seed)
        S.expect("order", "seed", "seed %d" % seed, "ok")
        ld = DataLoader(range(23), batch_size=5, shuffle=False)
        want = "ok" + "".join(" |" + ";".join(ints(x.tolist()) for x in ld) for _ in range(2))
        S.expect("order", "sequential loader seed=%d" % seed, "loader 23 5 0 0 -1 2", want)
        S.expect("order", "default state after a sequential loader", "state", state_hex(None))
        # random_split: sample counts and fractions, default and explicit generator
        for n, lens in ((10, [3, 7]), (100, [0.5, 0.3, 0.2]), (37, [0.34, 0.33, 0.33]), (1000, [1, 999]),
                        (7, [0.25, 0.75]), (1, [1.0]), (5, [2, 0, 3])):
            for gid in (-1, 1):
                if gid >= 0:
                    S.gen(gid, seed ^ 0x5A5A)
                parts = random_split(range(n), lens, generator=S.g(gid) if gid >= 0 else torch.default_generator)
                want = "ok " + ";".join(ints(p.indices) for p in parts)
                S.expect("order", "random_split n=%d %s g=%d seed=%d" % (n, lens, gid, seed),
                         "split %d %s %d" % (n, ",".join(repr(float(x)) for x in lens), gid), want)
                S.expect("order", "state after random_split", "state" if gid < 0 else "genstate %d" % gid,
                         state_hex(S.g(gid)))
        # bare samplers
        for n in (1, 10, 37, 100):
            for repl, num in ((0, 0), (0, n // 2 + 1), (0, 2 * n + 3), (1, 0), (1, 45), (1, 3)):
                for gid in (-1, 2):
                    if gid >= 0:
                        S.gen(gid, seed + n)
                    smp = RandomSampler(range(n), replacement=bool(repl), num_samples=num or None, generator=S.g(gid))
                    S.expect("order", "RandomSampler n=%d repl=%d num=%d g=%d seed=%d" % (n, repl, num, gid, seed),
                             "rsampler %d %d %d %d" % (n, repl, num, gid), "ok " + ints(list(smp)))
                    S.expect("order", "state after RandomSampler", "state" if gid < 0 else "genstate %d" % gid,
                             state_hex(S.g(gid)))
        w = [0.5, 2.0, 0.0, 1.0, 3.5, 0.25, 1.0]
        for repl, num in ((1, 20), (0, 7), (0, 3)):
            for gid in (-1, 3):
                if gid >= 0:
                    S.gen(gid, seed + 3)
                smp = WeightedRandomSampler(w, num, replacement=bool(repl), generator=S.g(gid))
                S.expect("order", "WeightedRandomSampler repl=%d num=%d g=%d seed=%d" % (repl, num, gid, seed),
                         "wsampler %s %d %d %d" % (",".join(repr(x) for x in w), num, repl, gid), "ok " + ints(list(smp)))
        idx = [5, 9, 2, 40, 41, 7]
        for gid in (-1, 4):
            if gid >= 0:
                S.gen(gid, seed + 4)
            smp = SubsetRandomSampler(idx, generator=S.g(gid))
            S.expect("order", "SubsetRandomSampler g=%d seed=%d" % (gid, seed), "ssampler %s %d" % (ints(idx), gid),
                     "ok " + ints(list(smp)))
        S.expect("order", "default state at the end", "state", state_hex(None))


# ------------------------------------------------------------------------------ mnist

def read_idx_plain(path):
    """The IDX file as Python reads it: (type code, dims, data bytes)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    zero, code, nd = struct.unpack(">HBB", raw[:4])
    dims = struct.unpack(">%dI" % nd, raw[4:4 + 4 * nd])
    return code, list(dims), raw[4 + 4 * nd:]


def g_mnist(S):
    files = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
             "t10k-labels-idx1-ubyte.gz"]
    missing = [f for f in files if not os.path.exists(os.path.join(FMNIST, f))]
    if missing:
        return "Fashion-MNIST not found in %s (%s missing; install Debian's dataset-fashion-mnist)" % (
            FMNIST, ", ".join(missing))
    plain = {}
    for f in files:
        code, dims, data = read_idx_plain(os.path.join(FMNIST, f))
        plain[f] = (dims, data)
        out = S.path(".raw")

        def check(got, out=out, dims=dims, data=data, code=code):
            want = "ok %d %s" % (U8, ints(dims))
            if code != 8 or got != want:
                return "expected %s (type code %d)" % (want, code)
            with open(out, "rb") as fh:
                mine = fh.read()
            return None if mine == data else "bytes differ (%d vs %d bytes)" % (len(mine), len(data))
        S.add("mnist", "tl_load_idx %s" % f, "idx %s %s" % (os.path.join(FMNIST, f), out), check)
    for train, pre in ((1, "train"), (0, "t10k")):
        ox, oy = S.path(".x"), S.path(".y")
        dims, img = plain["%s-images-idx3-ubyte.gz" % pre]
        _, lab = plain["%s-labels-idx1-ubyte.gz" % pre]

        def check(got, ox=ox, oy=oy, img=img, lab=lab, n=dims[0]):
            if got != "ok %d" % n:
                return "expected ok %d" % n
            with open(ox, "rb") as fh:
                x = fh.read()
            with open(oy, "rb") as fh:
                y = struct.unpack("<%dq" % n, fh.read())
            if x != img:
                return "images differ"
            if list(y) != list(lab):
                return "labels differ"
            return None
        S.add("mnist", "tl_mnist_dataset train=%d through a 2-worker loader" % train,
              "mnist %s %d %s %s" % (FMNIST, train, ox, oy), check)
    return None


# ------------------------------------------------------------------------------ npy, npz, csv, gzip

RNG = np.random.RandomState(20240613)


def sample_array(code, shape):
    n = int(np.prod(shape)) if len(shape) else 1
    dt = np.dtype(code)
    if dt.kind == "b":
        a = RNG.randint(0, 2, n).astype(bool)
    elif dt.kind == "u":
        a = RNG.randint(0, 256, n).astype(dt)
    elif dt.kind == "i":
        info = np.iinfo(dt)
        a = RNG.randint(max(info.min, -2**62), min(info.max, 2**62), n, dtype=np.int64).astype(dt)
        if n >= 2:
            a[0], a[1] = info.min, info.max
    else:
        a = (RNG.randn(n) * 1000).astype(dt)
        special = np.array([np.nan, np.inf, -np.inf, -0.0, 1e-8], dtype=dt)
        a[:min(n, 5)] = special[:min(n, 5)]
    return a.reshape(shape)


def same_array(a, b):
    """dtype (byte order aside), shape and every byte of the native-order values."""
    if a.shape != b.shape or a.dtype.newbyteorder("=") != b.dtype.newbyteorder("="):
        return "got %s %s, expected %s %s" % (b.dtype, b.shape, a.dtype, a.shape)
    an = np.ascontiguousarray(a.astype(a.dtype.newbyteorder("=")))
    bn = np.ascontiguousarray(b.astype(b.dtype.newbyteorder("=")))
    return None if an.tobytes() == bn.tobytes() else "values differ"


def tl_code(dt):
    dt = dt.newbyteorder("=")
    for k, v in NPCODE.items():
        if np.dtype(v).newbyteorder("=") == dt:
            return k
    raise ValueError(dt)


def g_npy(S):
    codes = ["?", "u1", "i1", "<i2", ">i2", "<i4", ">i4", "<i8", ">i8", "<f2", ">f2", "<f4", ">f4", "<f8", ">f8"]
    shapes = [(), (0,), (7,), (3, 4), (2, 3, 4), (2, 0, 3), (1, 1, 5)]
    k = 0
    for code in codes:
        for shape in shapes:
            for order in "CF":
                a = sample_array(code, shape)
                if order == "F":
                    a = np.asfortranarray(a)
                version = [(1, 0), (2, 0), (3, 0)][k % 3]
                k += 1
                src, dst = S.path(".npy"), S.path(".npy")
                with open(src, "wb") as f:
                    np.lib.format.write_array(f, a, version=version)

                def check(got, a=a, dst=dst):
                    want = "ok %d %s" % (tl_code(a.dtype), ints(a.shape) if a.ndim else "-")
                    if got != want:
                        return "expected %s" % want
                    b = np.load(dst)
                    if not b.flags.c_contiguous:
                        return "tl_save_npy wrote a non-C-order array"
                    return same_array(a, b)
                S.add("npy", "numpy %s %s order %s v%d.%d -> tensorlite -> numpy" % (code, shape, order, *version),
                      "npyload %s %s" % (src, dst), check)
    for dt, code in NPCODE.items():
        for shape in [(), (0,), (5,), (4, 3), (2, 3, 2)]:
            dst = S.path(".npy")
            n = int(np.prod(shape)) if len(shape) else 1
            i = np.arange(n, dtype=np.int64)
            vals = (i & 1) if dt == BOOL else ((i * 7919) % 251 - 100)
            want = vals.astype(np.float64).astype(np.dtype(code)).reshape(shape)
            S.add("npy", "tensorlite %s %s -> numpy.load" % (code, shape),
                  "npysave %d %s %s" % (dt, ints(shape) if shape else "-", dst),
                  lambda got, want=want, dst=dst: ("expected ok" if got != "ok" else same_array(want, np.load(dst))))
    # .npz
    arrays = {"x": sample_array("<f4", (3, 5)), "labels": sample_array("<i8", (9,)), "mask": sample_array("?", (2, 2)),
              "fortran": np.asfortranarray(sample_array("<f8", (4, 3))), "empty": np.zeros((0, 2), np.int16)}
    for compressed in (0, 1):
        src = S.path(".npz")
        (np.savez_compressed if compressed else np.savez)(src, **arrays)
        prefix = S.path("_")

        def check(got, prefix=prefix):
            keys = list(arrays)
            if got != "ok " + ",".join(keys):
                return "expected keys %s" % keys
            for i, key in enumerate(keys):
                e = same_array(arrays[key], np.load("%s%d.npy" % (prefix, i)))
                if e:
                    return "%s: %s" % (key, e)
            return None
        S.add("npy", "numpy.%s -> tl_load_npz" % ("savez_compressed" if compressed else "savez"),
              "npz %s %s" % (src, prefix), check)
    # CSV
    for dt, delim, header in ((F64, ",", 1), (F32, ";", 0), (I64, ",", 1), (I32, "\t", 0)):
        if dt in (F64, F32):
            a = (RNG.randn(17, 4) * 100).astype(np.float64 if dt == F64 else np.float32)
            fmt = "%.17g"
        else:
            a = RNG.randint(-2**31 + 1, 2**31 - 1, (17, 4)).astype(np.int64)
            if dt == I64:
                a[0, 0] = 2**53 + 1  # not representable in a double
            fmt = "%d"
        src, dst = S.path(".csv"), S.path(".npy")
        np.savetxt(src, a, fmt=fmt, delimiter=delim, header=delim.join("abcd") if header else "", comments="")
        want = np.loadtxt(src, delimiter=delim, skiprows=header, dtype=np.dtype(NPCODE[dt]))
        if dt == I64:
            want[0, 0] = 2**53 + 1
        S.add("npy", "numpy.savetxt %s delimiter %r header %d -> tl_load_csv" % (NPCODE[dt], delim, header),
              "csv %s %d %d %d %s" % (src, dt, header, ord(delim), dst),
              lambda got, want=want, dst=dst: ("expected ok %s" % got if not got.startswith("ok") else
                                               same_array(want, np.load(dst))))
    # gzip-compressed IDX written by Python
    for code, tcode, shape, level, name in ((8, "u1", (100, 28, 28), 9, None), (0x0C, ">i4", (50, 3), 1, "a.idx"),
                                            (0x0E, ">f8", (10,), 6, None), (0x0B, ">i2", (7, 2, 2, 2), 0, "b"),
                                            (9, "i1", (1,), 9, None), (0x0D, ">f4", (64, 64), 5, "c.idx")):
        a = sample_array(tcode, shape)
        if code == 8:
            a[:50] = (np.arange(50 * 28 * 28) % 7).reshape(50, 28, 28)  # long matches for the decoder
        raw = struct.pack(">HBB", 0, code, len(shape)) + struct.pack(">%dI" % len(shape), *shape) + a.tobytes()
        src, dst = S.path(".gz"), S.path(".raw")
        with open(src, "wb") as f:
            with gzip.GzipFile(filename=name or "", mode="wb", fileobj=f, compresslevel=level, mtime=0) as z:
                z.write(raw)
        tl_dt = {8: U8, 9: I8, 0x0B: I16, 0x0C: I32, 0x0D: F32, 0x0E: F64}[code]

        def check(got, a=a, dst=dst, tl_dt=tl_dt):
            want = "ok %d %s" % (tl_dt, ints(a.shape))
            if got != want:
                return "expected %s" % want
            with open(dst, "rb") as fh:
                mine = fh.read()
            return None if mine == a.astype(a.dtype.newbyteorder("<")).tobytes() else "bytes differ"
        S.add("npy", "gzip level %d name=%r IDX %s %s -> tl_load_idx" % (level, name, tcode, shape),
              "idx %s %s" % (src, dst), check)


# ------------------------------------------------------------------------------ driver

def run(runner, cases):
    script = "".join(c[2] + "\n" for c in cases).encode()
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1")
    p = subprocess.run([runner], input=script, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    lines = p.stdout.decode(errors="replace").split("\n")
    results, i = [], 0
    for _ in cases:
        res = lines[i] if i < len(lines) else "<missing>"
        tail = lines[i + 1] if i + 1 < len(lines) else "<missing>"
        i += 2
        results.append((res, tail))
    return results, p.returncode, p.stderr.decode(errors="replace")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runner", action="append", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--extra-failed", type=int, default=0)
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    only = set(x for x in a.only.split(",") if x)
    passed, failed = 0, a.extra_failed
    with tempfile.TemporaryDirectory() as tmp:
        S = Script(tmp)
        skips = []
        for name, fn in (("order", g_order), ("mnist", g_mnist), ("npy", g_npy)):
            if only and name not in only:
                continue
            why = fn(S)
            if why:
                skips.append((name, why))
        for name, why in skips:
            if os.environ.get("CI") == "true":
                print("test-data: FAIL: %s: %s (CI=true requires it)" % (name, why))
                failed += 1
            else:
                print("test-data: SKIP %s: %s" % (name, why))
        for runner in a.runner:
            cases = [c for c in S.cases if not ("asan" in runner and c[0] == "mnist")]
            results, rc, err = run(runner, cases)
            shown = {}
            for (group, label, cmd, check), (got, tail) in zip(cases, results):
                why = None if got.startswith("ok") or got.startswith("err") else "no result line"
                why = why or check(got)
                if not why and tail != "end":
                    why = "runner reported %r after the command" % tail
                if why:
                    failed += 1
                    shown[group] = shown.get(group, 0) + 1
                    if a.v or shown[group] <= 5:
                        print("FAIL [%s] %s: %s\n    command: %s\n    got: %s" % (runner, label, why, cmd[:200], got[:300]))
                else:
                    passed += 1
            if rc != 0:
                failed += 1
                print("FAIL [%s] exited %d: %s" % (runner, rc, err[-2000:]))
            print("test-data: %s: %d cases" % (runner, len(cases)))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
