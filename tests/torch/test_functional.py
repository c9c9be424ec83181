#!/usr/bin/python3
"""PyTorch oracle for tensorlite's >>functional section.

Generates cases with a fixed seed: tl_linear, tl_conv2d, tl_max_pool2d (with indices), tl_avg_pool2d,
tl_nll_loss, tl_cross_entropy (class indices with weight / ignore_index, class probabilities, and
label smoothing through tl_cross_entropy_ex), tl_mse_loss, tl_l1_loss, tl_smooth_l1_loss, tl_bce_loss
and tl_bce_with_logits with every reduction, on contiguous, transposed, stepped, permuted and
expanded inputs, plus special values (ties, NaN, +-inf, exact kinks, saturated probabilities) and
bad input. tests/torch/functional_runner.c runs each case with tensorlite: the output, max_pool2d's
indices, and the gradient of L = sum(out * W) (W a fixed random weight of the output's shape) for
every input that requires grad. Each case runs in float32 and in float64 (same data, the float32
run sees it rounded to float32), and this script compares with torch 1.13 doing the same:

  * output and gradient dtype and shape equal torch's; a gradient exists exactly where torch's
    .grad is not None; max_pool2d indices are int64 and EXACTLY torch's (ties and NaN included).
  * values: |got - ref| <= rtol * |ref| + atol, with rtol 1e-5 (float32) / 1e-12 (float64) and
        atol = rtol * max(max|ref|, max S)       (over the compared tensor)
    S is the magnitude any correct float implementation's rounding error is proportional to:
      - linear, conv2d, avg_pool2d (linear in each input): the same op on |inputs| with |W|, in
        float64 (output: |x| conv |w| + |b|; gradients: the backward of that), the a-priori bound
        of a sum of products;
      - max_pool2d: none (a selection; gradients sum W's that land on one element: |W| routed);
      - losses, output: the per-element terms' magnitudes before cancellation, reduced like the
        loss (sum, or divided by the element count / the summed class weights for mean):
        nll w*|x_t|; cross_entropy w*(|logsumexp| + |x_t|); mse |d| (|x| + |t|) + d^2;
        l1 |x| + |t|; smooth_l1 (|x| + |t|) (1 + |d| / beta) ; bce |y log p| + |(1-y) log(1-p)|;
        bce_with_logits |(1-y) x| + |1 + (pw-1) y| softplus(-x); loss gradients likewise, with
        g = |W| (divided like the loss for mean): cross_entropy d/dx g (sum_c |w y'| (1 + softmax)
        + |w y'|) (y' the one-hot or probability target after label smoothing), d/dtarget
        g |w| (|x| + |logsumexp|); mse 2 g (|x| + |t|); smooth_l1 g max(1, (|x| + |t|) / beta);
        bce g (|y| / p + |1-y| / (1-p)) and g (|log p| + |log(1-p)|); bce_with_logits
        g (|1-y| + |1 + (pw-1) y|); nll_loss and l1_loss gradients are single products: max|ref|.
    The floor is relative to the data's magnitude, never an absolute 1e-5: values far below the
    tensor's magnitude are only checked to that magnitude's precision, which is all float32
    rounding allows. NaN must be NaN, infinities exact. Nothing is looser than this.
    As a check that the tolerance is attainable, torch's own float32 result is compared with its
    float64 result by the same rule; a miss is reported as a conditioning NOTE (not a failure).
  * where torch raises, tensorlite must fail (NULL, an error pending); where torch succeeds,
    tensorlite must succeed. Left out on purpose: shapes torch only broadcasts with a deprecation
    warning (mse with target [2,3] for input [3]), unbatched 3-D conv2d input (the API takes
    [N,C,H,W]), nll/cross_entropy K-dim inputs [N,C,d1,...] (the API takes [N,C] or [C]), mixed
    float32/float64 in bce_with_logits (torch 1.13 returns float32 for a float64 input there),
    gradients of mixed float32/float64 mse/l1/smooth_l1 (torch's forward promotes, its backward
    raises "Found dtype Double but expected Float"), max_pool2d windows that lie entirely in the
    padding (possible with dilation; torch returns -inf with an index outside the plane), and the
    gradient with respect to the TARGET of bce at probabilities exactly 0 or 1 (torch returns +-inf,
    inconsistent with its own clamped forward).
  * after every case the live tensor and storage counts are back where they started.
  * a crash of the runner fails that case; the runner restarts after it.

Known disagreements: wip/bugs_functional.md. Output ends with exactly "N passed, N failed" (one per
case and dtype). Usage:
  /usr/bin/python3 tests/torch/test_functional.py [--runner build/functional_runner] [--only GROUP,...]
                   [-v] [--counts]
Normally run by tests/torch/run_functional.sh, which builds the runner first.
"""
import argparse
import math
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runner_io  # noqa: E402  (the result reader shared with test_ops.py)

warnings.filterwarnings("ignore")
torch.set_num_threads(1)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.join(ROOT, "build")

F32, F64, I64, I32 = 0, 1, 4, 5
TDT = {F32: torch.float32, F64: torch.float64, I64: torch.int64, I32: torch.int32}
CODE = {v: k for k, v in TDT.items()}
NP = {F32: "<f4", F64: "<f8", I64: "<i8", I32: "<i4"}
DTN = {F32: "float32", F64: "float64", I64: "int64", I32: "int32"}
RTOL = {F32: 1e-5, F64: 1e-12}
RED = ["mean", "sum", "none"]
SEED = 20251122
NAN, INF = float("nan"), float("inf")

ST_TRANSPOSE, ST_SLICE, ST_EXPAND, ST_PERMUTE = 1, 2, 3, 4


# ============================================================================ inputs
class In:
    """A contiguous float64/int64 base, a view recipe, and which view is the grad leaf.

    leaf_at: -1 no grad; k: the view after k steps requires grad (later steps are recorded ops).
    dt: None = the case's dtype for floating bases; or a fixed dtype code."""

    def __init__(self, base, steps=(), leaf_at=-1, dt=None):
        self.base = base.contiguous()
        self.steps = list(steps)
        self.leaf_at = leaf_at
        self.dt = dt

    def dtype_for(self, case_dt):
        if self.dt is not None:
            return self.dt
        if self.base.dtype.is_floating_point:
            return case_dt
        return CODE[self.base.dtype]

    def base_as(self, case_dt):
        return self.base.to(TDT[self.dtype_for(case_dt)])

    def desc(self):
        r = "%s%s" % ({torch.float64: "f", torch.int64: "i64", torch.int32: "i32"}.get(self.base.dtype, "?"),
                      list(self.base.shape))
        for s in self.steps:
            r += ".%s%s" % ({1: "T", 2: "S", 3: "E", 4: "P"}[s[0]], tuple(s[1:]))
        if self.leaf_at >= 0:
            r += "*"
        if self.dt is not None:
            r += ":" + DTN[self.dt]
        return r


def apply_step(t, s):
    k = s[0]
    if k == ST_TRANSPOSE:
        return t.transpose(s[1], s[2])
    if k == ST_SLICE:
        dim, start, end, step = s[1:]
        dim %= t.dim()
        return t[(slice(None),) * dim + (slice(start, end, step),)]
    if k == ST_EXPAND:
        return t.expand(*s[1:])
    if k == ST_PERMUTE:
        return t.permute(*s[1:])
    raise ValueError(k)


def build_torch(inp, case_dt, absval=False, up64=False):
    """(final view, leaf or None) in torch. up64: the case dtype's values, computed in float64."""
    if inp is None:
        return None, None
    t = inp.base_as(case_dt).clone()
    if up64 and t.dtype.is_floating_point:
        t = t.double()
    if absval and t.dtype.is_floating_point:
        t = t.abs()
    leaf = None
    for k in range(len(inp.steps) + 1):
        if k == inp.leaf_at:
            t.requires_grad_(True)
            leaf = t
        if k == len(inp.steps):
            break
        t = apply_step(t, inp.steps[k])
    return t, leaf


rng = random.Random(SEED)
torch.manual_seed(SEED)


def U(shape, lo, hi):
    return torch.rand(tuple(shape), dtype=torch.float64) * (hi - lo) + lo


def distinct(shape, lo=-2.0, hi=2.0):
    n = 1
    for s in shape:
        n *= s
    p = torch.randperm(n).double()
    v = lo + (hi - lo) * (p + 0.5 + 0.3 * (torch.rand(n, dtype=torch.float64) - 0.5)) / max(n, 1)
    return v.reshape(tuple(shape))


def make(shape, gen, layout="c", rg=True):
    """An In whose final view has `shape`. layout: c contiguous, t last two dims transposed,
    s every other element of the last dim (offset 1), p dims rotated, e dim 0 expanded from 1."""
    shape = list(shape)
    nd = len(shape)
    if layout == "t" and nd >= 2:
        bs = shape[:-2] + [shape[-1], shape[-2]]
        return In(gen(bs), [(ST_TRANSPOSE, nd - 2, nd - 1)], 1 if rg else -1)
    if layout == "p" and nd >= 2:
        perm = [(i + 1) % nd for i in range(nd)]
        bs = [shape[(i - 1) % nd] for i in range(nd)]
        return In(gen(bs), [(ST_PERMUTE,) + tuple(perm)], 1 if rg else -1)
    if layout == "s" and nd >= 1:
        bs = shape[:-1] + [2 * shape[-1] + 1]
        return In(gen(bs), [(ST_SLICE, nd - 1, 1, 2 ** 63 - 1, 2)], 1 if rg else -1)
    if layout == "e" and nd >= 1 and shape[0] > 1:
        bs = [1] + shape[1:]
        return In(gen(bs), [(ST_EXPAND,) + tuple(shape)], 0 if rg else -1)
    return In(gen(shape), [], 0 if rg else -1)


def targets(vals, stepped=False):
    t = torch.tensor(vals, dtype=torch.int64)
    if stepped and t.dim() == 1:
        b = torch.full((2 * t.numel() + 1,), 777, dtype=torch.int64)
        b[1::2] = t
        return In(b, [(ST_SLICE, 0, 1, 2 ** 63 - 1, 2)])
    return In(t)


# ============================================================================ cases
CASES = []


def add(group, op, ints, dbls, ins, desc, dtypes=(F32, F64)):
    CASES.append(dict(group=group, op=op, ints=list(ints), dbls=list(dbls), ins=ins, desc=desc, dtypes=dtypes))


def lay(nd, choices="ctsp"):
    c = rng.choice(choices)
    if c in "tp" and nd < 2:
        c = "c"
    if c == "s" and nd < 1:
        c = "c"
    return c


def gen_linear():
    g = lambda s: U(s, -1, 1)
    for _ in range(120):
        nd = rng.choice([1, 2, 2, 2, 3, 4])
        fin = rng.choice([1, 2, 3, 5, 8, 12, 33])
        fout = rng.choice([1, 2, 3, 4, 7])
        bshape = [rng.randint(1, 4) for _ in range(nd - 1)]
        xs = bshape + [fin]
        x = make(xs, g, lay(nd, "ctspe" if nd >= 2 else "cs"), rng.random() < 0.9)
        w = make([fout, fin], g, lay(2), rng.random() < 0.85)
        b = None
        if rng.random() < 0.6:
            b = make([fout], g, rng.choice("cs"), rng.random() < 0.85)
            if rng.random() < 0.2:
                b = In(U([1], -1, 1), [(ST_EXPAND, fout)], 0)
        add("linear", "linear", [], [], [x, w, b], "x %s w %s b %s" % (x.desc(), w.desc(), b.desc() if b else None))
    # wide reductions (float32 accumulation over 257 terms)
    x, w, b = make([3, 257], g), make([4, 257], g, "t"), make([4], g)
    add("linear", "linear", [], [], [x, w, b], "in 257")


def conv_torch_args(ints):
    sh, sw, ph, pw, dh, dw, groups, same, nullo = ints
    if nullo:
        return dict()
    return dict(stride=(sh or 1, sw or 1), padding="same" if same else (ph, pw),
                dilation=(dh or 1, dw or 1), groups=groups or 1)


def add_conv(group, xs, ws, bias, ints, lx="c", lw="c", lb="c", rgx=True, rgw=True, rgb=True, note=""):
    g = lambda s: U(s, -1, 1)
    x = make(xs, g, lx, rgx)
    w = make(ws, g, lw, rgw)
    b = make([ws[0]], g, lb, rgb) if bias else None
    add(group, "conv2d", ints, [], [x, w, b],
        "x %s w %s b %s opts %s %s" % (x.desc(), w.desc(), b.desc() if b else None, ints, note))


def gen_conv():
    for _ in range(220):
        gr = rng.choice([1, 1, 1, 2, 3])
        cg, og = rng.randint(1, 3), rng.randint(1, 3)
        kh, kw = rng.randint(1, 4), rng.randint(1, 4)
        dh, dw = rng.choice([1, 1, 2, 3]), rng.choice([1, 1, 2])
        same = rng.random() < 0.15
        if same:  # even total padding only here; odd totals are in conv_same_odd
            if (dh * (kh - 1)) % 2:
                kh += 1
            if (dw * (kw - 1)) % 2:
                kw += 1
            sh = sw = rng.choice([0, 1])
            ph = pw = 0
        else:
            sh, sw = rng.randint(1, 3), rng.randint(1, 3)
            ph, pw = rng.randint(0, 2), rng.randint(0, 2)
        H = max(1, dh * (kh - 1) + 1 - 2 * ph) + rng.randint(0, 4)
        W = max(1, dw * (kw - 1) + 1 - 2 * pw) + rng.randint(0, 4)
        N = rng.randint(1, 3)
        ints = [sh, sw, ph, pw, dh if rng.random() < 0.8 else (0 if dh == 1 else dh), dw, gr, int(same), 0]
        if gr == 1 and rng.random() < 0.3:
            ints[6] = 0
        add_conv("conv2d", [N, gr * cg, H, W], [gr * og, cg, kh, kw], rng.random() < 0.6, ints,
                 lay(4, "ctspe" if N > 1 else "ctsp"), lay(4), rng.choice("cs"),
                 rng.random() < 0.9, rng.random() < 0.9, rng.random() < 0.9)
    d = [0] * 9
    add_conv("conv2d", [2, 3, 5, 5], [4, 3, 3, 3], True, d[:8] + [1], note="NULL opts")
    add_conv("conv2d", [2, 3, 4, 5], [4, 3, 1, 1], True, d, note="1x1")
    add_conv("conv2d", [1, 3, 7, 7], [2, 3, 1, 1], False, [2, 2, 1, 1, 1, 1, 1, 0, 0], note="1x1 stride 2 pad 1")
    add_conv("conv2d", [2, 3, 4, 5], [2, 3, 4, 5], True, d, note="kernel = input")
    add_conv("conv2d", [1, 2, 3, 4], [3, 2, 3, 4], True, [1, 1, 1, 2, 1, 1, 1, 0, 0], note="kernel = input, padded")
    add_conv("conv2d", [3, 2, 1, 1], [4, 2, 1, 1], True, d, note="1x1 image")
    add_conv("conv2d", [2, 4, 6, 6], [4, 1, 3, 3], True, [1, 1, 1, 1, 1, 1, 4, 0, 0], note="depthwise")
    add_conv("conv2d", [2, 4, 6, 6], [8, 1, 3, 3], True, [2, 2, 1, 1, 1, 1, 4, 0, 0], note="depthwise x2")
    add_conv("conv2d", [2, 16, 8, 8], [8, 16, 3, 3], True, [1, 1, 1, 1, 1, 1, 1, 0, 0], note="16 channels")
    add_conv("conv2d", [1, 1, 3, 3], [1, 1, 2, 2], True, [2, 2, 3, 3, 1, 1, 1, 0, 0], note="padding beyond reach")
    add_conv("conv2d", [1, 2, 4, 5], [2, 2, 3, 3], True, [1, 1, 0, 0, 1, 1, 1, 1, 0], lx="t", lw="p",
             note="same 3x3 non-contiguous")
    for ks, dil in (((2, 2), (1, 1)), ((4, 3), (1, 1)), ((2, 3), (1, 2)), ((3, 2), (3, 1)), ((1, 4), (1, 1))):
        add_conv("conv2d_same_odd", [1, 2, 5, 6], [2, 2] + list(ks), True,
                 [1, 1, 0, 0, dil[0], dil[1], 1, 1, 0], note="padding='same', odd total (torch pads right/bottom)")


def pool_torch(op, ints, x):
    kh, kw, sh, sw, ph, pw, dh, dw, ceil, cip, dflt, want = ints
    if dflt:
        sh, sw, ph, pw, dh, dw, ceil, cip = 0, 0, 0, 0, 1, 1, 0, 1
    stride = (sh or kh, sw or kw)
    if op == "max_pool2d":
        return F.max_pool2d(x, (kh, kw), stride, (ph, pw), (dh or 1, dw or 1), bool(ceil), return_indices=True)
    if (dh or 1) != 1 or (dw or 1) != 1:
        raise RuntimeError("avg_pool2d has no dilation")
    return F.avg_pool2d(x, (kh, kw), stride, (ph, pw), bool(ceil), bool(cip)), None


def pool_out_size(n, k, s, p, d, ceil):
    num = n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)
    o = num // s + 1
    if ceil and (o - 1) * s >= n + p:
        o -= 1
    return o


def every_window_sees_input(n, k, s, p, d, ceil):
    """False when some window of a 1-D pool lies entirely in the padding (possible with dilation):
    torch then returns -inf with an index outside the plane (the first padded position's)."""
    for o in range(max(pool_out_size(n, k, s, p, d, ceil), 0)):
        if not any(0 <= o * s - p + i * d < n for i in range(k)):
            return False
    return True


def gen_pools():
    for op in ("max_pool2d", "avg_pool2d"):
        made = 0
        while made < (150 if op == "max_pool2d" else 120):
            kh, kw = rng.randint(1, 4), rng.randint(1, 4)
            sh, sw = rng.choice([0, 1, 2, 3]), rng.choice([0, 1, 2, 3])
            ph, pw = rng.randint(0, kh // 2), rng.randint(0, kw // 2)
            dh, dw = (rng.choice([1, 1, 2]), rng.choice([1, 1, 2])) if op == "max_pool2d" else (1, rng.choice([0, 1]))
            ceil, cip = rng.randint(0, 1), rng.randint(0, 1)
            dflt = int(rng.random() < 0.12)
            H = max(1, dh * (kh - 1) + 1 - 2 * ph) + rng.randint(0, 5)
            W = max(1, dw * (kw - 1) + 1 - 2 * pw) + rng.randint(0, 5)
            if not (every_window_sees_input(H, kh, sh or kh, ph, dh, ceil) and
                    every_window_sees_input(W, kw, sw or kw, pw, dw or 1, ceil)):
                continue
            made += 1
            nd = rng.choice([3, 4, 4])
            shape = ([rng.randint(1, 3)] if nd == 4 else []) + [rng.randint(1, 3), H, W]
            gen = distinct if op == "max_pool2d" else (lambda s: U(s, -2, 2))
            x = make(shape, gen, lay(nd, "ctspe" if shape[0] > 1 else "ctsp"), rng.random() < 0.92)
            ints = [kh, kw, sh, sw, ph, pw, dh, dw, ceil, cip, dflt, int(rng.random() < 0.85)]
            add(op, op, ints, [], [x], "x %s opts %s" % (x.desc(), ints))
    # special values for max_pool2d: ties (torch keeps the first maximum), NaN (torch takes the LAST
    # NaN of a window), -inf only windows, +inf
    for name, gen in (("ties", lambda s: torch.randint(0, 3, tuple(s)).double()),
                      ("ties2", lambda s: torch.randint(0, 2, tuple(s)).double() * 0.5)):
        for ints in ([2, 2, 0, 0, 0, 0, 1, 1, 0, 1, 0, 1], [3, 3, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1],
                     [3, 2, 2, 1, 1, 1, 2, 1, 1, 1, 0, 1]):
            x = make([2, 2, 6, 7], gen, "c")
            add("max_pool2d_special", "max_pool2d", ints, [], [x], "%s x %s opts %s" % (name, x.desc(), ints))

    def with_specials(vals):
        def gen(s):
            t = distinct(s)
            flat = t.view(-1)
            for i in range(flat.numel()):
                r = rng.random()
                if r < 0.25:
                    flat[i] = rng.choice(vals)
            return t
        return gen
    for name, vals in (("nan", [NAN]), ("-inf", [-INF]), ("+inf", [INF]), ("nan+inf", [NAN, INF, -INF])):
        for ints in ([2, 2, 0, 0, 0, 0, 1, 1, 0, 1, 0, 1], [3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1]):
            x = make([1, 2, 6, 6], with_specials(vals), "c")
            add("max_pool2d_special", "max_pool2d", ints, [], [x], "%s x %s opts %s" % (name, x.desc(), ints))
    x = In(torch.full((1, 1, 4, 4), -INF, dtype=torch.float64), [], 0)
    add("max_pool2d_special", "max_pool2d", [2, 2, 0, 0, 0, 0, 1, 1, 0, 1, 0, 1], [], [x], "all -inf")
    x = In(torch.tensor([[[[NAN, 1.0, NAN, 2.0]]]], dtype=torch.float64), [], 0)
    add("max_pool2d_special", "max_pool2d", [1, 4, 0, 0, 0, 0, 1, 1, 0, 1, 0, 1], [], [x],
        "two NaN in one window (torch: index of the last)")


def class_loss_case(group, op, N, C, red, weight, ignore, oned=False, lx="c", stepped_t=False, scale=1.0,
                    all_ignored=False, rg=True, ls=0.0):
    if op == "nll_loss":
        gen = lambda s: torch.log_softmax(U(s, -3, 3) * scale, -1) if rng.random() < 0.5 else U(s, -3, 0)
    else:
        gen = lambda s: U(s, -3, 3) * scale
    shape = [C] if oned else [N, C]
    x = make(shape, gen, lx if not oned else ("s" if lx == "s" else "c"), rg)
    if oned:
        tv = rng.randrange(C)
        if all_ignored or (ignore >= 0 and rng.random() < 0.3):
            tv = ignore
        t = In(torch.tensor(tv, dtype=torch.int64))
    else:
        tv = [rng.randrange(C) for _ in range(N)]
        for i in range(N):
            if all_ignored or rng.random() < 0.25:
                if ignore != -100 or all_ignored or rng.random() < 0.5:
                    tv[i] = ignore
        t = targets(tv, stepped_t)
    w = make([C], lambda s: U(s, 0.2, 2.0), rng.choice("cs"), False) if weight else None
    ints = [RED.index(red), ignore]
    add(group, op, ints, [ls] if op == "cross_entropy_ex" else [], [x, t, w],
        "x %s t %s w %s ignore %d %s%s" % (x.desc(), t.desc(), w.desc() if w else None, ignore, red,
                                           " ls %g" % ls if ls else ""))


def gen_class_losses():
    for op in ("nll_loss", "cross_entropy"):
        for red in RED:
            for _ in range(30):
                N, C = rng.randint(1, 6), rng.randint(1, 7)
                ignore = rng.choice([-100, -100, -1, rng.randrange(C)])
                class_loss_case(op, op, N, C, red, rng.random() < 0.5, ignore, oned=rng.random() < 0.15,
                                lx=lay(2), stepped_t=rng.random() < 0.3, rg=rng.random() < 0.95)
            for oned in (False, True):
                class_loss_case(op, op, 3, 4, red, True, -100, oned=oned, all_ignored=True)
                class_loss_case(op, op, 3, 4, red, False, 2, oned=oned, all_ignored=True)
        if op == "cross_entropy":
            for red in RED:
                class_loss_case(op, op, 4, 5, red, True, -100, scale=30.0)
                class_loss_case(op, op, 3, 6, red, False, -100, scale=400.0)
    # label smoothing with class indices, class-probability targets (with and without smoothing)
    for red in RED:
        for _ in range(6):
            N, C = rng.randint(1, 5), rng.randint(2, 6)
            class_loss_case("cross_entropy_ex", "cross_entropy_ex", N, C, red, rng.random() < 0.5,
                            rng.choice([-100, 1]), oned=rng.random() < 0.2, ls=rng.choice([0.1, 0.3, 1.0]))
        for _ in range(6):
            N, C = rng.randint(1, 5), rng.randint(2, 6)
            oned = rng.random() < 0.2
            shape = [C] if oned else [N, C]
            x = make(shape, lambda s: U(s, -3, 3), lay(len(shape)))
            t = make(shape, lambda s: torch.softmax(U(s, -2, 2), -1), lay(len(shape)), rng.random() < 0.5)
            w = make([C], lambda s: U(s, 0.2, 2.0), "c", False) if rng.random() < 0.5 else None
            ls = rng.choice([0.0, 0.0, 0.2])
            add("cross_entropy_ex", "cross_entropy_ex", [RED.index(red), -100], [ls], [x, t, w],
                "probabilities x %s t %s w %s %s ls %g" % (x.desc(), t.desc(), w.desc() if w else None, red, ls))


def rshape():
    nd = rng.choice([0, 1, 2, 2, 3])
    return [rng.randint(1, 4) for _ in range(nd)]


def gen_pointwise_losses():
    for red in RED:
        for op in ("mse_loss", "l1_loss", "smooth_l1_loss", "bce_loss", "bce_with_logits"):
            for _ in range(20):
                s = rshape()
                nd = len(s)
                if op == "bce_loss":
                    gx, gt = (lambda sh: U(sh, 0.01, 0.99)), (lambda sh: U(sh, 0, 1))
                    if rng.random() < 0.3:
                        gt = lambda sh: torch.randint(0, 2, tuple(sh)).double()
                elif op == "bce_with_logits":
                    sc = rng.choice([1.0, 1.0, 5.0])
                    gx, gt = (lambda sh: U(sh, -4, 4) * sc), (lambda sh: U(sh, 0, 1))
                else:
                    gx = gt = lambda sh: U(sh, -2, 2)
                x = make(s, gx, lay(nd), rng.random() < 0.95)
                t = make(s, gt, lay(nd), rng.random() < 0.5)
                ins, dbls, extra = [x, t], [], ""
                if op == "smooth_l1_loss":
                    dbls = [rng.choice([1.0, 0.5, 2.0, 0.0, 0.05])]
                    extra = " beta %g" % dbls[0]
                if op == "bce_with_logits":
                    pw = None
                    r = rng.random()
                    if r < 0.3 and nd >= 1:
                        pw = make([s[-1]], lambda sh: U(sh, 0.25, 3), "c", False)
                    elif r < 0.45:
                        pw = make(s, lambda sh: U(sh, 0.25, 3), lay(nd), False)
                    elif r < 0.55:
                        pw = make([1], lambda sh: U(sh, 0.25, 3), "c", False)
                    ins.append(pw)
                    extra = " pos_weight %s" % (pw.desc() if pw else None)
                add(op, op, [RED.index(red)], dbls, ins, "x %s t %s %s%s" % (x.desc(), t.desc(), red, extra))
        # broadcasting targets (torch warns, then broadcasts both): [2,3] vs [3], [4,1] vs [1,5], [3] vs [2,3]
        for op in ("mse_loss", "l1_loss", "smooth_l1_loss"):
            for sx, st in (([2, 3], [3]), ([4, 1], [1, 5]), ([3], [2, 3]), ([2, 1, 3], [4, 1])):
                g = lambda sh: U(sh, -2, 2)
                x = make(sx, g, lay(len(sx)), True)
                t = make(st, g, lay(len(st)), rng.random() < 0.5)
                dbls = [1.0] if op == "smooth_l1_loss" else []
                add(op + "_broadcast", op, [RED.index(red)], dbls, [x, t],
                    "x %s t %s %s (broadcast)" % (x.desc(), t.desc(), red))
        # exact kinks: torch's conventions decide (sign(0) = 0; smooth_l1 at |d| = beta is the linear piece)
        base = torch.tensor([[-1.5, 0.25, 2.0, -0.75], [1.0, -2.0, 0.5, 0.0]], dtype=torch.float64)
        d = torch.tensor([[0.0, 0.0, 1.0, -1.0], [0.5, -0.5, 2.0, 0.0]], dtype=torch.float64)
        for op, dbls in (("l1_loss", []), ("smooth_l1_loss", [1.0]), ("smooth_l1_loss", [0.5]),
                         ("smooth_l1_loss", [2.0]), ("smooth_l1_loss", [0.0]), ("mse_loss", [])):
            add(op + "_kinks", op, [RED.index(red)], dbls, [In(base + d, [], 0), In(base.clone(), [], 0)],
                "input - target in {0, +-0.5, +-1, 2} %s %s" % (red, dbls))
        # saturated probabilities and logits
        p = torch.tensor([[0.0, 1.0, 0.0, 1.0, 1e-30, 1 - 1e-7], [0.5, 1e-12, 0.9999, 0.25, 0.0, 1.0]],
                         dtype=torch.float64)
        y = torch.tensor([[1.0, 0.0, 0.0, 1.0, 0.5, 0.3], [0.5, 1.0, 0.0, 0.7, 0.4, 0.6]], dtype=torch.float64)
        add("bce_saturated", "bce_loss", [RED.index(red)], [], [In(p, [], 0), In(y)],
            "probabilities exactly 0 and 1 (input grad only) %s" % red)
        z = torch.zeros(2, 3, dtype=torch.float64)
        yz = U([2, 3], 0, 1)
        add("bce_with_logits_zero", "bce_with_logits", [RED.index(red)], [], [In(z.clone(), [], 0), In(yz, [], 0), None],
            "logits exactly 0 %s" % red)
        add("bce_with_logits_zero", "bce_with_logits", [RED.index(red)], [],
            [In(z.clone(), [], 0), In(yz, [], 0), In(U([3], 0.25, 3))], "logits exactly 0, pos_weight %s" % red)
        big = torch.tensor([[100.0, -100.0, 30.0], [-1e4, 1e4, -30.0]], dtype=torch.float64)
        add("bce_with_logits_large", "bce_with_logits", [RED.index(red)], [],
            [In(big, [], 0), In(U([2, 3], 0, 1), [], 0), None], "large logits %s" % red)
        add("bce_with_logits_large", "bce_with_logits", [RED.index(red)], [],
            [In(big, [], 0), In(U([2, 3], 0, 1), [], 0), In(U([3], 0.25, 3))], "large logits, pos_weight %s" % red)


def gen_promotion_and_errors():
    g = lambda s: U(s, -1, 1)
    # mixed float32/float64 where torch promotes
    for op in ("mse_loss", "l1_loss", "smooth_l1_loss"):
        for a, b in ((F32, F64), (F64, F32)):
            # forward only: torch 1.13's mse/l1/smooth_l1 backward raises "Found dtype Double but
            # expected Float" for mixed inputs
            x, t = make([3, 4], g, rg=False), make([3, 4], g, rg=False)
            x.dt, t.dt = a, b
            add("promotion", op, [0], [1.0] if op == "smooth_l1_loss" else [], [x, t],
                "%s . %s" % (DTN[a], DTN[b]), dtypes=(F64,))

    def err(op, ints, dbls, ins, desc, dtypes=(F32, F64)):
        add("errors", op, ints, dbls, ins, desc, dtypes)

    def c(shape, gen=g, dt=None):
        r = In(gen(shape), [], -1)
        r.dt = dt
        return r
    err("linear", [], [], [c([3, 4]), c([6, 5]), None], "in features 4 vs weight [6,5]")
    err("linear", [], [], [c([2, 4]), c([5, 4]), c([3])], "bias [3] for 5 outputs")
    err("linear", [], [], [c([2, 4], dt=F32), c([5, 4], dt=F64), None], "float32 x, float64 weight", (F64,))
    err("conv2d", [0] * 9, [], [c([1, 3, 5, 5]), c([4, 2, 3, 3]), None], "3 channels, weight expects 2")
    err("conv2d", [0, 0, 0, 0, 0, 0, 2, 0, 0], [], [c([1, 3, 5, 5]), c([4, 1, 3, 3]), None], "groups 2, 3 channels")
    err("conv2d", [0, 0, 0, 0, 0, 0, 2, 0, 0], [], [c([1, 4, 5, 5]), c([3, 2, 3, 3]), None], "groups 2, 3 outputs")
    err("conv2d", [0] * 9, [], [c([1, 2, 5, 5]), c([4, 2, 3, 3]), c([3])], "bias [3] for 4 outputs")
    err("conv2d", [0] * 9, [], [c([1, 2, 2, 2]), c([4, 2, 3, 3]), None], "kernel larger than the input")
    err("conv2d", [0, 0, 0, 0, 3, 0, 1, 0, 0], [], [c([1, 2, 5, 5]), c([4, 2, 3, 3]), None], "dilated kernel too large")
    err("conv2d", [1, 2, 0, 0, 0, 0, 1, 1, 0], [], [c([1, 2, 5, 5]), c([4, 2, 3, 3]), None], "same with stride 2")
    err("conv2d", [0] * 9, [], [c([1, 2, 5, 5], dt=F32), c([4, 2, 3, 3], dt=F64), None], "float32 x, float64 w",
        (F64,))
    err("conv2d", [0] * 9, [], [c([1, 2, 5, 5], dt=F64), c([4, 2, 3, 3], dt=F64), c([4], dt=F32)],
        "float32 bias", (F64,))
    for op in ("max_pool2d", "avg_pool2d"):
        err(op, [3, 3, 0, 0, 0, 2, 1, 1, 0, 1, 0, 1], [], [c([1, 2, 6, 6])], "padding 2 > kernel 3 / 2")
        err(op, [4, 4, 0, 0, 0, 0, 1, 1, 0, 1, 0, 1], [], [c([1, 2, 3, 3])], "kernel 4 on 3x3")
        err(op, [2, 2, 0, 0, 0, 0, 1, 1, 0, 1, 0, 1], [], [c([4, 4])], "2-D input")
    err("max_pool2d", [3, 3, 0, 0, 0, 0, 2, 2, 0, 1, 0, 1], [], [c([1, 2, 4, 6])], "dilated kernel too large")
    err("avg_pool2d", [2, 2, 0, 0, 0, 0, 2, 1, 0, 1, 0, 1], [], [c([1, 2, 6, 6])], "avg_pool2d with dilation")
    t4 = lambda: targets([0, 1, 2, 3])
    for op in ("nll_loss", "cross_entropy"):
        err(op, [0, -100], [], [c([4, 5]), targets([0, 1, 2]), None], "batch 4 vs 3 targets")
        err(op, [1, -100], [], [c([4, 5]), targets([0, 5, 1, 1]), None], "target 5 of 5 classes")
        err(op, [1, -100], [], [c([4, 5]), targets([0, -3, 1, 1]), None], "target -3")
        err(op, [0, -100], [], [c([4, 5]), t4(), c([4])], "weight [4] for 5 classes")
        err(op, [0, -100], [], [c([4, 5]), In(torch.tensor([0, 1, 2, 3], dtype=torch.int32)), None], "int32 target")
        err(op, [0, -100], [], [c([5]), targets([2]), None], "1-D input with a [1] target")
        err(op, [0, -100], [], [c([4, 5], dt=F32), t4(), c([5], dt=F64)], "float32 input, float64 weight", (F64,))
    for op in ("mse_loss", "l1_loss", "smooth_l1_loss", "bce_loss", "bce_with_logits"):
        dbls = [1.0] if op == "smooth_l1_loss" else []
        gen = (lambda s: U(s, 0.1, 0.9))
        ins = [c([3, 4], gen), c([3, 5], gen)] + ([None] if op == "bce_with_logits" else [])
        err(op, [0], dbls, ins, "[3,4] vs [3,5]")
    err("bce_loss", [0], [], [c([3, 4], gen=lambda s: U(s, 0.1, 0.9)), c([4], gen=lambda s: U(s, 0.1, 0.9))],
        "target [4] for input [3,4] (torch: ValueError)")
    err("smooth_l1_loss", [0], [-0.5], [c([3]), c([3])], "beta -0.5")
    err("bce_loss", [0], [], [c([3], gen=lambda s: U(s, 1.1, 2.0)), c([3], gen=lambda s: U(s, 0, 1))], "input > 1")
    err("bce_loss", [2], [], [c([3], gen=lambda s: U(s, -1, -0.1)), c([3], gen=lambda s: U(s, 0, 1))], "input < 0")
    err("bce_with_logits", [0], [], [c([2, 4]), c([2, 4]), c([3])], "pos_weight [3] for [2,4]")


GROUP_GENS = [gen_linear, gen_conv, gen_pools, gen_class_losses, gen_pointwise_losses, gen_promotion_and_errors]


# ============================================================================ torch side
def torch_op(op, ints, dbls, T):
    """(out, indices or None)."""
    if op == "linear":
        return F.linear(T[0], T[1], T[2]), None
    if op == "conv2d":
        return F.conv2d(T[0], T[1], T[2], **conv_torch_args(ints)), None
    if op in ("max_pool2d", "avg_pool2d"):
        return pool_torch(op, ints, T[0])
    red = RED[ints[0]] if ints else "mean"
    if op == "nll_loss":
        return F.nll_loss(T[0], T[1], weight=T[2], ignore_index=ints[1], reduction=red), None
    if op == "cross_entropy":
        return F.cross_entropy(T[0], T[1], weight=T[2], ignore_index=ints[1], reduction=red), None
    if op == "cross_entropy_ex":
        return F.cross_entropy(T[0], T[1], weight=T[2], ignore_index=ints[1], reduction=red,
                               label_smoothing=dbls[0]), None
    if op == "mse_loss":
        # torch warns and broadcasts when the shapes differ (tensorlite follows)
        return F.mse_loss(T[0], T[1], reduction=red), None
    if op == "l1_loss":
        # torch warns and broadcasts when the shapes differ (tensorlite follows)
        return F.l1_loss(T[0], T[1], reduction=red), None
    if op == "smooth_l1_loss":
        # torch warns and broadcasts when the shapes differ (tensorlite follows)
        return F.smooth_l1_loss(T[0], T[1], reduction=red, beta=dbls[0]), None
    if op == "bce_loss":
        return F.binary_cross_entropy(T[0], T[1], reduction=red), None
    if op == "bce_with_logits":
        if T[0].shape != T[1].shape:
            raise ValueError("target size differs from input size")
        return F.binary_cross_entropy_with_logits(T[0], T[1], pos_weight=T[2], reduction=red), None
    raise ValueError(op)


def run_torch(case, dt, W=None, absval=False, up64=False):
    """dict(error | out, idx, grads[k] (None when no leaf / no grad), W)."""
    built = [build_torch(i, dt, absval, up64) for i in case["ins"]]
    T = [b[0] for b in built]
    leaves = [b[1] for b in built]
    try:
        out, idx = torch_op(case["op"], case["ints"], case["dbls"], T)
    except (RuntimeError, ValueError, IndexError) as e:
        return dict(error=str(e).split("\n")[0][:200])
    res = dict(error=None, out=out.detach().clone(), idx=idx, grads=[None] * len(T), W=None, rg=out.requires_grad)
    if out.requires_grad:
        if W is None:
            W = torch.rand(out.shape, dtype=torch.float64) * 2 - 1
            if dt == F32:
                W = W.float().double()
        res["W"] = W
        Wt = (W.abs() if absval else W).to(out.dtype)
        (out * Wt).sum().backward()
        res["grads"] = [l.grad.detach().clone() if (l is not None and l.grad is not None) else None for l in leaves]
    return res


def loss_magnitude(case, dt):
    """Per-element magnitudes reduced like the loss (float64), or None."""
    op, ints, dbls = case["op"], case["ints"], case["dbls"]
    T = [build_torch(i, dt, up64=True)[0] for i in case["ins"]]
    T = [t.detach().double() if t is not None and t.dtype.is_floating_point else (t.detach() if t is not None else None)
         for t in T]
    red = RED[ints[0]]
    with torch.no_grad():
        if op in ("nll_loss", "cross_entropy", "cross_entropy_ex"):
            x, t, w = T
            if x.dim() == 1:
                x = x.unsqueeze(0)
                t = t.reshape(1, -1) if t.dtype.is_floating_point else t.reshape(1)
            C = x.shape[1]
            wv = w if w is not None else torch.ones(C, dtype=torch.float64)
            lse = torch.logsumexp(x, 1)
            ls = dbls[0] if dbls else 0.0
            mag = x.abs() + lse.abs().unsqueeze(1)  # |log_softmax| is bounded by |x| + |lse|
            if t.dtype.is_floating_point:
                m = (wv * (t * (1 - ls) + ls / C).abs() * mag).sum(1)
                div = x.shape[0]
            else:
                valid = t != ints[1]
                tc = torch.where(valid, t, torch.zeros_like(t)).clamp(0, C - 1)
                xt = x.gather(1, tc.unsqueeze(1)).squeeze(1).abs()
                wt = wv[tc] * valid.double()
                if op == "nll_loss":
                    m = wt * xt
                else:
                    m = wt * (lse.abs() + xt) + valid.double() * ls / C * (wv * mag).sum(1)
                div = wt.sum().item()
        else:
            x, t = T[0], T[1]
            if op == "mse_loss":
                d = x - t
                m = d.abs() * (x.abs() + t.abs()) + d * d
            elif op == "l1_loss":
                m = x.abs() + t.abs()
            elif op == "smooth_l1_loss":
                beta = dbls[0]
                d = (x - t).abs()
                m = (x.abs() + t.abs()) * (1 + (d / beta if beta > 0 else 0)) + 0.5 * beta
            elif op == "bce_loss":
                m = (t * torch.log(x).clamp(min=-100)).abs() + ((1 - t) * torch.log1p(-x).clamp(min=-100)).abs()
            elif op == "bce_with_logits":
                pw = T[2] if T[2] is not None else torch.ones(1, dtype=torch.float64)
                m = ((1 - t) * x).abs() + (1 + (pw - 1) * t).abs() * F.softplus(-x) + x.abs() * (1 + (pw - 1).abs())
            else:
                return None
            div = m.numel()
        if red == "none":
            return m
        s = m.sum()
        return s / div if red == "mean" and div > 0 else s


def scales(case, dt, ref):
    """S for the output and for each gradient (float64 tensors or None)."""
    op = case["op"]
    if op in ("linear", "conv2d", "avg_pool2d"):
        a = run_torch(case, dt, W=ref["W"], absval=True, up64=True)
        if a["error"]:
            return None, [None] * len(case["ins"])
        return a["out"].double(), [g.double() if g is not None else None for g in a["grads"]]
    if op == "max_pool2d":
        if ref["W"] is None:
            return None, [None]
        a = run_torch(case, dt, W=ref["W"].abs(), up64=True)
        return None, [g.double() if g is not None else None for g in a["grads"]]
    return loss_magnitude(case, dt), loss_grad_magnitude(case, dt, ref["W"])


def loss_grad_magnitude(case, dt, W):
    """Per-element magnitudes of the loss gradients' terms before cancellation (float64), or None
    for an input whose gradient is a single product (nll_loss, l1_loss)."""
    op, ints, dbls = case["op"], case["ints"], case["dbls"]
    n_in = len(case["ins"])
    if W is None or op in ("nll_loss", "l1_loss"):
        return [None] * n_in
    T = [build_torch(i, dt, up64=True)[0] for i in case["ins"]]
    T = [t.detach() if t is not None else None for t in T]
    red = RED[ints[0]]
    Wa = W.double().abs()
    with torch.no_grad():
        if op in ("cross_entropy", "cross_entropy_ex"):
            x, t, w = T
            oned = x.dim() == 1
            if oned:
                x = x.unsqueeze(0)
                t = t.reshape(1, -1) if t.dtype.is_floating_point else t.reshape(1)
            N, C = x.shape
            ls = dbls[0] if dbls else 0.0
            wv = w.abs() if w is not None else torch.ones(C, dtype=torch.float64)
            lse = torch.logsumexp(x, 1, keepdim=True)
            sm = torch.softmax(x, 1)
            if t.dtype.is_floating_point:
                yw = wv * (t * (1 - ls) + ls / C).abs()        # |w_c y'_ic|
                div = N
            else:
                valid = (t != ints[1]).double().unsqueeze(1)
                tc = torch.where(t != ints[1], t, torch.zeros_like(t)).clamp(0, C - 1)
                onehot = F.one_hot(tc, C).double()
                yw = valid * wv * (onehot * (1 - ls) + ls / C)
                div = (valid.squeeze(1) * wv[tc]).sum().item()
            g = Wa.reshape(N, 1) if red == "none" else Wa.reshape(1, 1).expand(N, 1)
            g = g / div if red == "mean" and div > 0 else g * (0 if red == "mean" else 1)
            sx = g * (yw.sum(1, keepdim=True) * (1 + sm) + yw)
            st = g * wv * (1 - ls) * (x.abs() + lse.abs())
            if oned:
                sx, st = sx.squeeze(0), st.squeeze(0)
            return [sx, st if t.dtype.is_floating_point else None, None]
        x, t = T[0], T[1]
        n = x.numel() if red == "mean" else 1
        G = (Wa if red == "none" else Wa.reshape(())) / max(n, 1)
        if op == "mse_loss":
            sx = 2 * (x.abs() + t.abs()) * G
            return [sx, sx, None][:n_in]
        if op == "smooth_l1_loss":
            beta = dbls[0]
            sx = G * torch.clamp((x.abs() + t.abs()) / beta, min=1.0) if beta > 0 else G * torch.ones_like(x)
            return [sx, sx]
        if op == "bce_loss":
            sp = G * (t.abs() / x.clamp(min=1e-12) + (1 - t).abs() / (1 - x).clamp(min=1e-12))
            st = G * (torch.log(x).clamp(min=-100).abs() + torch.log1p(-x).clamp(min=-100).abs())
            return [sp, st]
        if op == "bce_with_logits":
            pw = T[2] if T[2] is not None else torch.ones(1, dtype=torch.float64)
            sx = G * ((1 - t).abs() + (1 + (pw - 1) * t).abs())
            st = G * (x.abs() + (1 + (pw - 1).abs()) * (F.softplus(-x) + x.abs()))
            return [sx, st, None]
    return [None] * n_in


def finite_max(*ts):
    m = 0.0
    for t in ts:
        if t is None:
            continue
        t = t.double()
        f = t[torch.isfinite(t)]
        if f.numel():
            m = max(m, f.abs().max().item())
    return m


def compare(got, ref, rtol, scale, what):
    """'' or a description of the first differences."""
    if got.dtype != ref.dtype:
        return "%s: dtype %s, torch %s" % (what, got.dtype, ref.dtype)
    if tuple(got.shape) != tuple(ref.shape):
        return "%s: shape %s, torch %s" % (what, list(got.shape), list(ref.shape))
    if not ref.dtype.is_floating_point:
        bad = (got != ref).nonzero()
        if bad.numel():
            i = tuple(bad[0].tolist())
            return "%s: %d of %d differ, first at %s: %s vs torch %s" % (
                what, bad.shape[0], ref.numel(), list(i), got[i].item(), ref[i].item())
        return ""
    g, r = got.double(), ref.double()
    atol = rtol * finite_max(r, scale)
    rn, gn = torch.isnan(r), torch.isnan(g)
    rinf = torch.isinf(r)
    ok = torch.where(rn, gn, torch.where(rinf, g == r, torch.isfinite(g) & ((g - r).abs() <= rtol * r.abs() + atol)))
    if bool(ok.all()):
        return ""
    bad = (~ok).nonzero()
    parts = []
    for row in bad[:3]:
        i = tuple(row.tolist())
        parts.append("%s: %.9g vs torch %.9g" % (list(i), g[i].item(), r[i].item()))
    return "%s: %d of %d differ (rtol %g, atol %.3g): %s" % (what, bad.shape[0], r.numel(), rtol, atol, "; ".join(parts))


# ============================================================================ case file / results
def enc_tensor_in(inp, dt):
    if inp is None:
        return struct.pack("<i", -1)
    code = inp.dtype_for(dt)
    base = inp.base_as(dt)
    data = base.numpy().astype(NP[code]).tobytes()
    b = struct.pack("<ii", code, base.dim()) + b"".join(struct.pack("<q", s) for s in base.shape)
    b += struct.pack("<Q", len(data)) + data + struct.pack("<iI", inp.leaf_at, len(inp.steps))
    for s in inp.steps:
        b += struct.pack("<ii", s[0], len(s) - 1) + b"".join(struct.pack("<q", a) for a in s[1:])
    return b


def enc_case(case, dt, W):
    op = case["op"].encode()
    b = struct.pack("<I", len(op)) + op
    b += struct.pack("<I", len(case["ints"])) + b"".join(struct.pack("<q", v) for v in case["ints"])
    b += struct.pack("<I", len(case["dbls"])) + b"".join(struct.pack("<d", v) for v in case["dbls"])
    b += struct.pack("<I", len(case["ins"])) + b"".join(enc_tensor_in(i, dt) for i in case["ins"])
    if W is None:
        b += struct.pack("<i", 0)
    else:
        b += struct.pack("<ii", 1, W.dim()) + b"".join(struct.pack("<q", s) for s in W.shape)
        b += W.double().contiguous().numpy().tobytes()
    return b


class Reader(runner_io.Reader):
    def tensor(self):
        dt, nd = self.i32(), self.i32()
        shape = [self.i64() for _ in range(nd)]
        raw = self.take(self.u64())
        if dt not in NP:
            return ("bad dtype %d" % dt, shape)
        arr = np.frombuffer(raw, dtype=NP[dt]).copy()
        return torch.from_numpy(arr).reshape(shape)


def read_results(path):
    """{case index: result} and the byte length of the complete records."""
    out = {}
    try:
        data = open(path, "rb").read()
    except OSError:
        return out, 0
    r = Reader(data)
    good = 0
    while True:
        try:
            if r.u32() != 0x46534C54:
                break
            idx = r.u32()
            res = dict(status=r.i32(), msg=r.s())
            res["outs"] = [r.tensor() for _ in range(r.u32())]
            res["bstatus"], res["bmsg"] = r.i32(), r.s()
            grads = []
            for _ in range(r.u32()):
                k = r.i32()
                grads.append(("none",) if k == 0 else ("null",) if k == 1 else r.tensor())
            res["grads"] = grads
            res["out_rg"] = r.i32()
            res["live"] = (r.i64(), r.i64())
            if r.u32() != 0x444E4554:
                break
            out[idx] = res
            good = r.p
        except EOFError:
            break
    return out, good


def run_runner(runner, blob, n):
    with tempfile.TemporaryDirectory() as tmp:
        cpath, rpath = os.path.join(tmp, "cases.bin"), os.path.join(tmp, "results.bin")
        with open(cpath, "wb") as f:
            f.write(b"TLFUNC01" + struct.pack("<I", n) + blob)
        results, crashed, first = {}, {}, 0
        while first < n:
            try:
                p = subprocess.run([runner, cpath, rpath, str(first)], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, timeout=300)
                rc, err = p.returncode, p.stderr.decode(errors="replace")[-300:]
            except subprocess.TimeoutExpired:
                rc, err = -9, "timeout"
            results, good = read_results(rpath)
            nxt = first
            while nxt in results:
                nxt += 1
            if nxt >= n:
                break
            crashed[nxt] = "runner died (exit %s) during this case: %s" % (rc, err.strip())
            first = nxt + 1
            with open(rpath, "ab") as f:  # drop a partly written record; the restart appends
                f.truncate(good)
        return results, crashed


def tally(per, key, res, why, fails, item):
    """Adds a leak (live tensors/storages after the case) to why, then counts the case as passed or
    failed under per[key] and keeps item in fails when it failed."""
    if res is not None and res["live"] != (0, 0):
        why.append("leak: live tensors %+d, storages %+d" % res["live"])
    p = per.setdefault(key, [0, 0])
    p[1 if why else 0] += 1
    if why:
        fails.append(item)


def status_problems(ref, res, crash_msg):
    """[] when tensorlite and torch agree on success/failure, else why: no result (crash_msg), torch
    raises but tensorlite succeeded (or the runner itself failed), or tensorlite failed alone."""
    if res is None:
        return [crash_msg]
    if ref["error"]:
        if res["status"] == 0:
            return ["torch raises (%s) but tensorlite succeeded" % ref["error"]]
        if res["status"] <= -100:
            return ["runner status %d: %s" % (res["status"], res["msg"])]
        return []
    if res["status"] != 0:
        return ["tensorlite failed (status %d: %s); torch succeeds" % (res["status"], res["msg"])]
    return []


def check_idx_and_grads(c, ref, res, why, s_grads, rtol, want_idx):
    """Appends to why what differs from torch after a successful forward: the second output
    (indices, exactly, when want_idx), requires_grad of the output, the backward status, and each
    leaf's gradient (presence, then values with rtol[dtype] and scale s_grads[j])."""
    if want_idx:
        if len(res["outs"]) < 2:
            why.append("no indices returned")
        else:
            e = compare(res["outs"][1], ref["idx"], 0, None, "indices")
            if e:
                why.append(e)
    if bool(res["out_rg"]) != bool(ref["rg"]):
        why.append("output requires_grad %d, torch %d" % (res["out_rg"], ref["rg"]))
    if res["bstatus"] != 0:
        why.append("backward failed (status %d): %s" % (res["bstatus"], res["bmsg"]))
    elif ref["W"] is not None:
        for j, inp in enumerate(c["ins"]):
            if inp is None or inp.leaf_at < 0:
                continue
            rg, gg = ref["grads"][j], res["grads"][j]
            if rg is None and isinstance(gg, tuple):
                continue
            if rg is None:
                why.append("input %d: tensorlite has a grad, torch's is None" % j)
            elif isinstance(gg, tuple):
                why.append("input %d: no grad (%s), torch has one" % (j, gg[0]))
            else:
                e = compare(gg, rg, rtol[F32] if rg.dtype == torch.float32 else rtol[F64], s_grads[j], "grad %d" % j)
                if e:
                    why.append(e)


# ============================================================================ main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runner", default=os.path.join(BUILD, "functional_runner"))
    ap.add_argument("--only", default="")
    ap.add_argument("-v", action="store_true")
    ap.add_argument("--counts", action="store_true")
    a = ap.parse_args()
    t0 = time.time()
    for gfn in GROUP_GENS:
        gfn()
    only = set(x for x in a.only.split(",") if x)
    runs = []  # (case id, case, dtype)
    for ci, c in enumerate(CASES):
        if only and c["group"] not in only and c["op"] not in only:
            continue
        for dt in c["dtypes"]:
            runs.append((ci, c, dt))
    if a.counts:
        counts = {}
        for _, c, _ in runs:
            counts[c["group"]] = counts.get(c["group"], 0) + 1
        for k in sorted(counts):
            print("%-24s %d" % (k, counts[k]))
        print("total %d" % len(runs))
        return 0
    refs, blob = [], []
    for ci, c, dt in runs:
        ref = run_torch(c, dt)
        refs.append(ref)
        blob.append(enc_case(c, dt, ref.get("W")))
    results, crashed = run_runner(a.runner, b"".join(blob), len(runs))
    fails, notes = [], []
    per_group = {}
    for k, (ci, c, dt) in enumerate(runs):
        ref = refs[k]
        res = results.get(k)
        why = status_problems(ref, res, crashed.get(k, "no result (runner crashed earlier?)"))
        if not why and res is not None and not ref["error"]:
            rt = RTOL[F32] if ref["out"].dtype == torch.float32 else RTOL[F64]
            s_out, s_grads = scales(c, dt, ref)
            got = res["outs"][0]
            if isinstance(got, tuple):
                why.append("output: %s" % (got,))
            else:
                e = compare(got, ref["out"], rt, s_out, "output")
                if e:
                    why.append(e)
            # the indices only when the case asked tensorlite for them
            check_idx_and_grads(c, ref, res, why, s_grads, RTOL, ref["idx"] is not None and c["ints"][11])
            # conditioning: torch float32 vs torch float64 under the same rule
            if dt == F32 and not why:
                r64 = run_torch(c, F32, W=ref["W"], up64=True)
                if not r64["error"]:
                    e = compare(ref["out"].double(), r64["out"].double(), RTOL[F32], s_out, "output")
                    for j in range(len(c["ins"])):
                        if not e and ref["grads"][j] is not None and r64["grads"][j] is not None:
                            e = compare(ref["grads"][j].double(), r64["grads"][j].double(), RTOL[F32], s_grads[j],
                                        "grad %d" % j)
                    if e:
                        notes.append("case %d [%s] %s float32: torch float32 vs float64: %s" % (ci, c["group"],
                                                                                                c["desc"], e))
        tally(per_group, c["group"], res, why, fails, (ci, c, dt, ref, why))
    os.makedirs(BUILD, exist_ok=True)
    with open(os.path.join(BUILD, "functional_failures.txt"), "w") as f:
        for ci, c, dt, ref, why in fails:
            f.write("case %d [%s] %s %s %s\n    %s\n" % (ci, c["group"], c["op"], DTN[dt], c["desc"],
                                                         "\n    ".join(why)))
    shown = {}
    for ci, c, dt, ref, why in fails:
        n = shown.get(c["group"], 0)
        shown[c["group"]] = n + 1
        if a.v or n < 3:
            print("FAIL case %d [%s] %s %s: %s" % (ci, c["group"], c["op"], DTN[dt], c["desc"]))
            for w in why:
                print("    " + w)
    for n in notes[:10]:
        print("NOTE " + n)
    print("conditioning notes (torch float32 itself outside the float32 tolerance): %d" % len(notes))
    for gname in sorted(per_group):
        p, f_ = per_group[gname]
        print("  %-24s %4d passed, %4d failed" % (gname, p, f_))
    npass = sum(v[0] for v in per_group.values())
    nfail = sum(v[1] for v in per_group.values())
    print("functional oracle: %d cases x dtypes in %.1f s (details of failures: build/functional_failures.txt)"
          % (len(runs), time.time() - t0))
    print("%d passed, %d failed" % (npass, nfail))
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main())
