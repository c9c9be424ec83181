#!/usr/bin/python3
"""PyTorch oracle for >>random: tensorlite's random streams must equal torch's BIT FOR BIT.

Builds one long script of commands (see tests/torch/random_runner.c for the language), runs the
same operations through torch 1.13 in the same order (so the generator state flows identically,
call after call), then feeds the script to each runner binary given with --runner and compares
every result line exactly: values (raw bytes), dtype and shape. Where torch raises before drawing
anything, the runner must fail too ("err"). After each command the runner reports leaks.

Groups (--only): engine, uniform, normal, integer, bernoulli, exponential, multinomial, stream,
generator, state, init. The float16/bfloat16 cases are included where torch 1.13 implements the
op (it lacks float16 bernoulli_ and float16 multinomial).

usage: /usr/bin/python3 tests/torch/test_random.py --runner build/random_runner [--runner ...]
                                                   [--only GROUP,...] [-v]
Prints failures (the first 5 per group and runner, all with -v) and ends with "N passed, N failed"
(cases x runners; a runner that exits non-zero, e.g. a sanitizer report, adds a failure).
Exit status 1 when anything failed.
"""
import argparse
import math
import os
import random
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import torch

warnings.filterwarnings("ignore")

F32, F64, F16, BF16, I64, I32, I16, I8, U8, BOOL = range(10)
TDT = {F32: torch.float32, F64: torch.float64, F16: torch.float16, BF16: torch.bfloat16,
       I64: torch.int64, I32: torch.int32, I16: torch.int16, I8: torch.int8, U8: torch.uint8,
       BOOL: torch.bool}
CODE = {v: k for k, v in TDT.items()}
NAME = {F32: "f32", F64: "f64", F16: "f16", BF16: "bf16", I64: "i64", I32: "i32", I16: "i16",
        I8: "i8", U8: "u8", BOOL: "bool"}
FLOATS = [F32, F64, F16, BF16]
ALL = list(range(10))

SEEDS = [0, 1, 2, 7, 42, 123, 1234, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**32 + 5, 2**63 - 1,
         2**63, 2**64 - 1, -1, -2, -2**63, 67280421310721]
_r = random.Random(20240613)
SEEDS += [_r.getrandbits(64) for _ in range(6)] + [_r.getrandbits(32) for _ in range(6)]
NP = np.random.RandomState(7)  # input data (probabilities) only; never torch's generator

# ------------------------------------------------------------------------------ encoding


def shape_str(shape):
    return "-" if len(shape) == 0 else ",".join(str(s) for s in shape)


def raw_hex(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    b = t.numpy().tobytes()
    return b.hex() if b else "-"


def tline(t):
    return "ok %d %s %s" % (CODE[t.dtype], shape_str(tuple(t.shape)), raw_hex(t))


def fmt(x):
    return repr(float(x))


def layout_tensor(layout, dt, shape):
    shape = tuple(shape)
    if layout == "c" or len(shape) == 0:
        return torch.empty(shape, dtype=dt)
    if layout == "t":
        return torch.empty(shape[::-1], dtype=dt).permute(*reversed(range(len(shape))))
    return torch.empty((shape[0] * 2,) + shape[1:], dtype=dt)[::2]


# ------------------------------------------------------------------------------ the script

class Script:
    def __init__(self):
        self.cases = []  # (group, label, command, expected lines or None for "must fail")
        self.gens = {}
        self.group = ""

    def gen_of(self, gid):
        return None if gid is None else self.gens[gid]

    def add(self, label, cmd, fn, gid=None):
        """fn() runs the torch side and returns a list of expected lines (or raises)."""
        if gid is not None:
            cmd += " @%d" % gid
        try:
            exp = fn()
        except (RuntimeError, ValueError, IndexError) as e:
            exp = None
            label += "  [torch: %s]" % str(e).split("\n")[0][:90]
        self.cases.append((self.group, label, cmd, exp))

    # -- commands, each run through torch at once
    def seed(self, s):
        self.add("seed %d" % s, "seed %d" % (s % 2**64), lambda: (torch.manual_seed(s), ["ok"])[1])

    def gen(self, gid, s):
        def f():
            self.gens[gid] = torch.Generator().manual_seed(s)
            return ["ok"]
        self.add("gen %d %d" % (gid, s), "gen %d %d" % (gid, s), f)

    def u32(self, n, gid=None):
        def f():
            v = torch.randint(-2**31, 2**31, (n,), dtype=torch.int32, generator=self.gen_of(gid))
            return ["ok u32 " + "".join("%08x" % ((x + 2**31) % 2**32) for x in v.tolist())]
        self.add("u32 %d" % n, "u32 %d" % n, f, gid)

    def u64(self, n, gid=None):
        def f():
            t = torch.empty(n, dtype=torch.int64).random_(-2**63, None, generator=self.gen_of(gid))
            return ["ok u64 " + "".join("%016x" % (x % 2**64) for x in t.tolist())]
        self.add("u64 %d" % n, "u64 %d" % n, f, gid)

    def state(self, gid=None):
        def f():
            s = torch.get_rng_state() if gid is None else self.gens[gid].get_state()
            return [tline(s)]
        self.add("get_rng_state", "state", f, gid)

    def initial_seed(self, gid=None):
        def f():
            s = torch.initial_seed() if gid is None else self.gens[gid].initial_seed()
            return ["ok u64 %016x" % (s % 2**64)]
        self.add("initial_seed", "initial_seed", f, gid)

    def setstate(self, blob, gid=None):
        def f():
            st = torch.tensor(list(blob), dtype=torch.uint8)
            if gid is None:
                torch.set_rng_state(st)
            else:
                self.gens[gid].set_state(st)
            return ["ok"]
        self.add("set_rng_state(%d bytes)" % len(blob), "setstate " + bytes(blob).hex(), f, gid)

    def rand(self, dt, shape, gid=None):
        self.add("rand %s %s" % (NAME[dt], shape), "rand %d %s" % (dt, shape_str(shape)),
                 lambda: [tline(torch.rand(shape, dtype=TDT[dt], generator=self.gen_of(gid)))], gid)

    def randn(self, dt, shape, gid=None):
        self.add("randn %s %s" % (NAME[dt], shape), "randn %d %s" % (dt, shape_str(shape)),
                 lambda: [tline(torch.randn(shape, dtype=TDT[dt], generator=self.gen_of(gid)))], gid)

    def randint(self, lo, hi, dt, shape, gid=None):
        self.add("randint(%d, %d) %s %s" % (lo, hi, NAME[dt], shape),
                 "randint %d %d %d %s" % (lo, hi, dt, shape_str(shape)),
                 lambda: [tline(torch.randint(lo, hi, shape, dtype=TDT[dt], generator=self.gen_of(gid)))], gid)

    def randperm(self, n, dt, gid=None):
        self.add("randperm(%d) %s" % (n, NAME[dt]), "randperm %d %d" % (n, dt),
                 lambda: [tline(torch.randperm(n, dtype=TDT[dt], generator=self.gen_of(gid)))], gid)

    def inplace(self, op, dt, layout, shape, args, gid=None):
        """op in uniform/normal/bernoulli_/exponential/random; args are floats."""
        def f():
            t = layout_tensor(layout, TDT[dt], shape)
            g = self.gen_of(gid)
            if op == "uniform":
                t.uniform_(args[0], args[1], generator=g)
            elif op == "normal":
                t.normal_(args[0], args[1], generator=g)
            elif op == "bernoulli_":
                t.bernoulli_(args[0], generator=g)
            elif op == "exponential":
                t.exponential_(args[0], generator=g)
            else:
                t.random_(generator=g)
            return [tline(t)]
        self.add("%s_ %s %s %s %s" % (op, NAME[dt], layout, shape, args),
                 "%s %d %s %s %s" % (op, dt, layout, shape_str(shape), " ".join(fmt(a) for a in args)), f, gid)

    def bernoulli_t(self, dt, layout, shape, p, gid=None):
        def f():
            t = layout_tensor(layout, TDT[dt], shape)
            t.bernoulli_(p, generator=self.gen_of(gid))
            return [tline(t)]
        self.add("bernoulli_(p %s %s) %s %s %s" % (NAME[CODE[p.dtype]], tuple(p.shape), NAME[dt], layout, shape),
                 "bernoulli_t %d %s %s %d %s %s" % (dt, layout, shape_str(shape), CODE[p.dtype],
                                                    shape_str(tuple(p.shape)), raw_hex(p)), f, gid)

    def bernoulli(self, p, gid=None):
        self.add("bernoulli(p %s %s)" % (NAME[CODE[p.dtype]], tuple(p.shape)),
                 "bernoulli %d %s %s" % (CODE[p.dtype], shape_str(tuple(p.shape)), raw_hex(p)),
                 lambda: [tline(torch.bernoulli(p, generator=self.gen_of(gid)))], gid)

    def bernoulli_p(self, dt, shape, p, gid=None):
        self.add("bernoulli(t %s %s, %r)" % (NAME[dt], shape, p), "bernoulli_p %d %s %s" % (dt, shape_str(shape), fmt(p)),
                 lambda: [tline(torch.bernoulli(torch.zeros(shape, dtype=TDT[dt]), p, generator=self.gen_of(gid)))], gid)

    def multinomial(self, probs, k, repl, layout="c", gid=None):
        def f():
            p = probs.t().contiguous().t() if layout == "t" else probs
            return [tline(torch.multinomial(p, k, repl, generator=self.gen_of(gid)))]
        self.add("multinomial(%s %s %s, %d, %s)" % (NAME[CODE[probs.dtype]], tuple(probs.shape), layout, k, repl),
                 "multinomial %d %s %s %d %d %s" % (CODE[probs.dtype], layout, shape_str(tuple(probs.shape)), k,
                                                    int(repl), raw_hex(probs)), f, gid)

    def layer(self, kind, dims, bias, gid=None):
        def f():
            if gid is not None:  # modules draw from the default generator: swap states in and out
                saved = torch.get_rng_state()
                torch.set_rng_state(self.gens[gid].get_state())
            if kind == "linear":
                m = torch.nn.Linear(dims[0], dims[1], bias=bool(bias))
            else:
                out, inpg, kh, kw = dims
                m = torch.nn.Conv2d(inpg, out, (kh, kw), bias=bool(bias))
            if gid is not None:
                self.gens[gid].set_state(torch.get_rng_state())
                torch.set_rng_state(saved)
            w = m.weight.detach()
            return [tline(w), tline(m.bias.detach()) if bias else "ok -"]
        cmd = "%s %s %d" % (kind, " ".join(str(d) for d in dims), int(bias))
        self.add("nn.%s%s bias=%d" % ("Linear" if kind == "linear" else "Conv2d[out,in,kh,kw]", dims, bias), cmd, f, gid)


# ------------------------------------------------------------------------------ the groups

SIZES_U = [(), (0,), (1,), (2,), (3,), (15,), (16,), (17,), (100,), (623,), (624,), (625,), (1000,),
           (5000,), (3, 5), (2, 3, 4)]
SIZES_N = [(), (0,)] + [(n,) for n in range(1, 19)] + [(n,) for n in (31, 32, 33, 47, 48, 100, 255, 256, 623,
                                                                       1000, 1023, 4096, 10007)] + \
          [(3, 5), (4, 4), (2, 3, 3), (7, 9), (5, 1, 6)]


def g_engine(S):
    # first commands of the whole script: the lazily seeded default generator behaves like a fresh
    # torch.Generator() (torch's own default generator is seeded from /dev/urandom instead)
    fresh = torch.Generator()
    S.add("initial_seed (unseeded default)", "initial_seed", lambda: ["ok u64 %016x" % fresh.initial_seed()])
    S.add("u32 4 (unseeded default)", "u32 4", lambda: ["ok u32 " + "".join(
        "%08x" % ((x + 2**31) % 2**32) for x in torch.randint(-2**31, 2**31, (4,), dtype=torch.int32,
                                                             generator=fresh).tolist())])
    for s in SEEDS:
        S.seed(s)
        S.initial_seed()
        S.state()
        S.u32(2000)
        S.u64(1500)
        S.state()


def g_uniform(S):
    for s in SEEDS[:20]:
        S.seed(s)
        for dt in FLOATS:
            for sh in SIZES_U:
                S.rand(dt, sh)
        S.state()
    bounds = [(-2.5, 7.25), (0.0, 1.0), (-1.0, 1.0), (1e-3, 1e3), (-1 / 28, 1 / 28), (5.0, 5.0), (-1e30, 1e30),
              (-0.0357142857142857, 0.0357142857142857), (3.0, 3.5), (-100.0, -99.0)]
    for s in SEEDS[:8]:
        S.seed(s)
        for a, b in bounds:
            for dt in FLOATS:
                if dt in (F16,) and abs(b - a) > 6e4:
                    continue
                for layout, sh in (("c", (7,)), ("c", (1000,)), ("t", (4, 6)), ("s", (5, 3)), ("t", (3, 8, 5))):
                    S.inplace("uniform", dt, layout, sh, (a, b))
        S.state()
    # bounds at the edge of float16's range (torch refuses some: then we must too)
    S.seed(3)
    for a, b in ((-32752.0, 32752.0), (-32760.0, 32760.0), (-32768.0, 32767.0), (-65504.0, 0.0), (0.0, 65504.0),
                 (-1.0, 65504.0), (-32744.0, 32760.0), (-32761.0, 32743.0)):
        S.inplace("uniform", F16, "c", (9,), (a, b))
    for a, b in ((-1.7e38, 1.7e38), (-1.8e38, 1.8e38), (-3.3e38, 0.0)):
        S.inplace("uniform", F32, "c", (5,), (a, b))
        S.inplace("uniform", BF16, "c", (5,), (a, b))
    S.state()


def g_normal(S):
    for s in SEEDS[:16]:
        S.seed(s)
        for dt in FLOATS:
            for sh in SIZES_N:
                S.randn(dt, sh)
            S.state()
    S.seed(0)
    S.randn(F32, (256, 784))
    S.randn(F64, (200, 1001))
    pairs = [(0.5, 2.0), (-3.0, 0.01), (0.0, 0.02), (10.0, 1e-3), (0.0, 0.0), (1.0, 1.0), (-0.25, 3.5)]
    for s in SEEDS[:10]:
        S.seed(s)
        for m, sd in pairs:
            for dt in FLOATS:
                for layout, sh in (("c", (48,)), ("c", (15,)), ("c", (33,)), ("s", (40,)), ("t", (6, 8)),
                                   ("t", (3, 7, 5)), ("s", (9, 2)), ("c", ())):
                    S.inplace("normal", dt, layout, sh, (m, sd))
            S.state()
    # the scalar path's cached second value carries over between calls (and into get_rng_state)
    for s in SEEDS[:6]:
        S.seed(s)
        for n in (3, 1, 1, 5, 2, 17, 1, 7):
            S.randn(F64 if n % 2 else F32, (n,))
            S.state()


def g_integer(S):
    ranges = [(0, 1), (0, 2), (0, 3), (0, 10), (-5, 5), (100, 1000), (0, 256), (-128, 128), (0, 2**31),
              (0, 2**32 - 1), (0, 2**32), (-2**31, 2**31), (0, 2**40), (-2**40, 2**40), (-2**63, 2**63 - 1),
              (0, 2**24 + 1), (-2**24, 2**24), (0, 65505)]
    for s in SEEDS[:12]:
        S.seed(s)
        for lo, hi in ranges:
            for dt in ALL:
                S.randint(lo, hi, dt, (7,))
        S.randint(0, 10, I64, (3, 4))
        S.randint(-3, 3, I64, ())
        S.randint(0, 7, I64, (0,))
        S.state()
    for s in SEEDS[:12]:
        S.seed(s)
        for n in (0, 1, 2, 3, 5, 10, 16, 100, 255, 256, 257, 1000, 2049, 2050, 4096, 60000):
            for dt in (I64, I32, I16, I8, U8, F32, F64, F16, BF16, BOOL):
                S.randperm(n, dt)
        S.state()
    for s in SEEDS[:8]:
        S.seed(s)
        for dt in ALL:
            for layout, sh in (("c", (50,)), ("t", (4, 6)), ("s", (5, 3)), ("c", ())):
                S.inplace("random", dt, layout, sh, ())
        S.state()


def g_bernoulli(S):
    ps = [0.0, 0.1, 0.5, 0.9, 1.0, 1 / 3, 0.75]
    for s in SEEDS[:10]:
        S.seed(s)
        for p in ps:
            for dt in ALL:
                if dt == F16:
                    continue  # torch 1.13: "bernoulli_scalar_cpu_" not implemented for 'Half'
                for layout, sh in (("c", (777,)), ("t", (4, 6)), ("s", (5, 3)), ("c", ())):
                    S.inplace("bernoulli_", dt, layout, sh, (p,))
            S.bernoulli_p(F32, (3, 5), p)
        S.state()
    for s in SEEDS[:10]:
        S.seed(s)
        for pdt in (F32, F64, BF16):
            for sh in ((777,), (5, 7), (), (16,)):
                p = torch.tensor(NP.rand(*sh), dtype=TDT[pdt]) if sh else torch.tensor(NP.rand(), dtype=TDT[pdt])
                if sh == (16,):
                    p = torch.tensor([0.0, 1.0] * 8, dtype=TDT[pdt])
                S.bernoulli(p)
            for dt in (F32, F64, I64, U8, BOOL, BF16):
                for psh in ((6,), (4, 1), (1, 6), (4, 6), ()):
                    p = torch.tensor(NP.rand(*psh) if psh else NP.rand(), dtype=TDT[pdt])
                    for layout in ("c", "t"):
                        S.bernoulli_t(dt, layout, (4, 6), p)
        S.state()


def g_exponential(S):
    for s in SEEDS[:10]:
        S.seed(s)
        for lam in (1.0, 0.5, 3.0, 0.0, 100.0):
            for dt in FLOATS:
                for layout, sh in (("c", (100,)), ("t", (4, 6)), ("s", (5, 3))):
                    S.inplace("exponential", dt, layout, sh, (lam,))
        S.state()


def probs(shape, dt, zeros=False):
    a = NP.rand(*shape)
    if zeros:
        a[a < 0.3] = 0
        a[..., 0] = 0.5
    return torch.tensor(a, dtype=TDT[dt])


def g_multinomial(S):
    for s in SEEDS[:15]:
        S.seed(s)
        for dt in (F64, F32, BF16):
            for K in (2, 5, 17, 100):
                for rows in (None, 3):
                    sh = (K,) if rows is None else (rows, K)
                    P = probs(sh, dt)
                    for k in sorted({1, 3, K}):
                        if k <= K:
                            S.multinomial(P, k, False)
                    for k in (1, 2, 10, 200):
                        S.multinomial(P, k, True)
                    if rows is not None:
                        S.multinomial(P, min(3, K), False, layout="t")
                        S.multinomial(P, 4, True, layout="t")
        S.state()
    # exact zeros: without replacement the zero-probability categories come last, lowest index first
    for s in SEEDS[:5]:
        S.seed(s)
        for dt in (F64, F32):
            P = probs((4, 9), dt, zeros=True)
            S.multinomial(P, 9, False)
            S.multinomial(P, 30, True)
        S.multinomial(torch.tensor([1.0, 0, 0]), 3, False)
    # many equal keys (zero probabilities; bfloat16 keys have 8 bits): torch's unstable
    # std::partial_sort / nth_element + sort decide their order, through every code path
    # (partial_sort when k * 64 <= K, introselect, introsort recursion, heap fallbacks)
    for s in SEEDS[:6]:
        S.seed(s)
        for dt in (F32, F64, BF16):
            for K in (20, 100, 1000, 3000):
                a = NP.choice([0.0, 0.0, 0.0, 0.25, 0.5, 1.0], size=K)
                a[0] = 1.0
                P = torch.tensor(a, dtype=TDT[dt])
                for k in sorted({2, 5, 15, 16, 17, 40, K // 2, K - 1, K}):
                    if k <= K:
                        S.multinomial(P, k, False)
        S.state()


def g_stream(S):
    """Random sequences of everything, state compared after every call."""
    rr = random.Random(99)
    for s in SEEDS[:12]:
        S.seed(s)
        for _ in range(40):
            kind = rr.randrange(11)
            dt = rr.choice([F32, F64])
            n = rr.choice([1, 2, 3, 7, 15, 16, 17, 31, 100, 624, 1000])
            if kind == 0:
                S.rand(dt, (n,))
            elif kind == 1:
                S.randn(dt, (n,))
            elif kind == 2:
                S.randint(rr.choice([0, -7]), rr.choice([10, 2**33]), I64, (n,))
            elif kind == 3:
                S.randperm(n, I64)
            elif kind == 4:
                S.inplace("normal", dt, rr.choice("cts"), (n, 2), (rr.uniform(-1, 1), rr.uniform(0, 2)))
            elif kind == 5:
                S.inplace("uniform", dt, rr.choice("cts"), (n,), (-rr.random(), rr.random()))
            elif kind == 6:
                S.inplace("bernoulli_", dt, "c", (n,), (rr.random(),))
            elif kind == 7:
                S.multinomial(probs((n + 1,), dt), min(3, n + 1), bool(rr.randrange(2)))
            elif kind == 8:
                S.inplace("exponential", dt, "c", (n,), (rr.choice([1.0, 2.5]),))
            elif kind == 9:
                S.bernoulli(probs((n,), dt))
            else:
                S.u32(rr.randrange(1, 700))
            S.state()


def g_generator(S):
    """Explicit generators are independent of each other and of the default one."""
    S.gen(1, 67280421310721)
    S.u32(2, gid=1)  # torch.Generator() with its default seed
    for s in SEEDS[:8]:
        S.seed(s)
        S.gen(1, s)
        S.gen(2, (s * 3 + 1) % 2**64)
        S.initial_seed(gid=1)
        S.rand(F32, (5,), gid=1)
        S.rand(F32, (5,))
        S.randn(F32, (20,), gid=2)
        S.randn(F64, (3,), gid=1)
        S.randn(F64, (3,))
        S.randperm(50, I64, gid=2)
        S.randint(0, 100, I64, (9,), gid=1)
        S.inplace("normal", F32, "c", (17,), (0.0, 0.02), gid=2)
        S.inplace("uniform", F64, "t", (3, 4), (-1.0, 2.0), gid=1)
        S.inplace("bernoulli_", F32, "c", (30,), (0.3,), gid=2)
        S.inplace("exponential", F32, "c", (9,), (1.0,), gid=1)
        S.inplace("random", I64, "c", (5,), (), gid=2)
        S.bernoulli(probs((12,), F64), gid=1)
        S.bernoulli_p(F32, (10,), 0.5, gid=2)
        S.multinomial(probs((3, 6), F32), 2, False, gid=1)
        S.multinomial(probs((3, 6), F64), 5, True, gid=2)
        S.layer("linear", (30, 20), 1, gid=1)
        S.state(gid=1)
        S.state(gid=2)
        S.state()


def g_state(S):
    for s in SEEDS[:10]:
        S.seed(s)
        S.randn(F64, (3,))  # leaves a cached normal
        S.rand(F32, (700,))
        blob = None

        def grab():
            nonlocal blob
            blob = bytes(torch.get_rng_state().tolist())
            return [tline(torch.get_rng_state())]
        S.add("get_rng_state (grab)", "state", grab)
        S.randn(F32, (5,))
        S.setstate(blob)  # back to the grabbed state: the cache comes back too
        S.randn(F32, (5,))
        S.randn(F64, (20,))
        S.setstate(blob[:5048])  # torch's legacy size: cache = rho*sin(2*pi*x) = 0
        S.randn(F64, (3,))
        S.state()
        S.gen(3, 5)
        S.setstate(blob, gid=3)
        S.randn(F32, (2,), gid=3)
        S.state(gid=3)
    # invalid states: torch refuses, so must we
    S.seed(0)
    good = bytes(torch.get_rng_state().tolist())
    for off, val in ((8, b"\x00\x00\x00\x00"), (8, (625).to_bytes(4, "little")), (12, b"\x00\x00\x00\x00"),
                     (16, (625).to_bytes(8, "little"))):
        S.setstate(good[:off] + val + good[off + len(val):])
    S.setstate(good[:100])
    S.state()


def g_init(S):
    for s in SEEDS[:15]:
        S.seed(s)
        S.layer("linear", (784, 256), 1)
        S.layer("linear", (784, 128), 1)  # a 784-128-10 MLP, layer by layer
        S.layer("linear", (128, 10), 1)
        S.layer("linear", (50, 20), 0)
        S.layer("linear", (20, 256), 1)
        S.layer("linear", (1, 1), 1)
        S.layer("linear", (3, 7), 1)
        S.layer("conv", (32, 1, 3, 3), 1)
        S.layer("conv", (16, 3, 5, 5), 1)
        S.layer("conv", (64, 32, 3, 3), 1)
        S.layer("conv", (8, 2, 3, 3), 1)  # Conv2d(4, 8, 3, groups=2): weight [8, 2, 3, 3]
        S.layer("conv", (6, 1, 5, 5), 0)
        S.state()


GROUPS = [("engine", g_engine), ("uniform", g_uniform), ("normal", g_normal), ("integer", g_integer),
          ("bernoulli", g_bernoulli), ("exponential", g_exponential), ("multinomial", g_multinomial),
          ("stream", g_stream), ("generator", g_generator), ("state", g_state), ("init", g_init)]

# ------------------------------------------------------------------------------ running


def describe_diff(exp, got):
    """First differing element of two 'ok DT SHAPE HEX' lines."""
    e, g = exp.split(" "), got.split(" ")
    if len(e) != 4 or len(g) != 4 or e[:3] != g[:3]:
        return "expected %.100s | got %.100s" % (exp, got)
    dt = int(e[1])
    esz = {F32: 4, F64: 8, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1}[dt] * 2
    n = len(e[3]) // esz
    bad = [i for i in range(n) if e[3][i * esz:(i + 1) * esz] != g[3][i * esz:(i + 1) * esz]]
    if not bad:
        return "lengths differ"
    i = bad[0]

    def val(h):
        b = bytes.fromhex(h)
        if dt == F32:
            return "%r (%s)" % (np.frombuffer(b, "<f4")[0], h)
        if dt == F64:
            return "%r (%s)" % (np.frombuffer(b, "<f8")[0], h)
        return h
    return "%d of %d elements differ; first at flat index %d: torch %s, tensorlite %s" % (
        len(bad), n, i, val(e[3][i * esz:(i + 1) * esz]), val(g[3][i * esz:(i + 1) * esz]))


def run(runner, cases):
    with tempfile.NamedTemporaryFile("w", suffix=".cmds", delete=False) as f:
        for c in cases:
            f.write(c[2] + "\n")
        path = f.name
    try:
        with open(path) as fin:
            p = subprocess.run([runner], stdin=fin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=1800)
    finally:
        os.unlink(path)
    blocks, cur = [], []
    for ln in p.stdout.decode("latin-1").split("\n"):
        if ln == "end" or ln.startswith("leak "):
            blocks.append((cur, ln))
            cur = []
        elif ln:
            cur.append(ln)
    return blocks, p.returncode, p.stderr.decode("latin-1")[-500:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runner", action="append", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("-v", action="store_true")
    ap.add_argument("--extra-failed", type=int, default=0, help="failures counted before (e.g. builds)")
    a = ap.parse_args()
    only = set(x for x in a.only.split(",") if x)
    S = Script()
    for name, fn in GROUPS:
        if only and name not in only:
            continue
        S.group = name
        fn(S)
    print("test_random: %d commands, torch %s" % (len(S.cases), torch.__version__))
    passed, failed = 0, a.extra_failed
    for runner in a.runner:
        blocks, rc, err = run(runner, S.cases)
        if rc != 0:  # a crash, or a sanitizer's report at exit (leaks)
            failed += 1
            print("FAIL [%s] exited %d: %s" % (os.path.basename(runner), rc, err.strip()[-400:]))
        shown = {}
        rfail = 0
        for i, (group, label, cmd, exp) in enumerate(S.cases):
            why = None
            if i >= len(blocks):
                why = "no output (runner exited %d: %s)" % (rc, err.strip()[-200:])
            else:
                got, tail = blocks[i]
                if tail != "end":
                    why = "leaked (%s)" % tail
                elif exp is None:
                    if not (len(got) == 1 and got[0].startswith("err ")):
                        why = "torch raised but tensorlite did not fail: %.120s" % (got[0] if got else "")
                elif got != exp:
                    if len(got) != len(exp):
                        why = "expected %d lines, got %d: %.200s" % (len(exp), len(got), " / ".join(got))
                    else:
                        why = "; ".join(describe_diff(e, g) for e, g in zip(exp, got) if e != g)
            if why:
                failed += 1
                rfail += 1
                shown[group] = shown.get(group, 0) + 1
                if a.v or shown[group] <= 5:
                    print("FAIL [%s] %s: %s\n     %s" % (os.path.basename(runner), group, label, why))
            else:
                passed += 1
        print("runner %s: %d cases, %d failed" % (runner, len(S.cases), rfail))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
