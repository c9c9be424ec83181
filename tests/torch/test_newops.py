#!/usr/bin/python3
"""PyTorch 1.13 oracle for the ops of issue 13 (tests/torch/run_newops.sh builds the runner).

Every case runs in float32 and float64 (integer/bool cases once) on contiguous, transposed,
stepped, permuted and expanded inputs and on broadcast shapes; tests/torch/newops_runner.c runs it
through tensorlite and this script compares with torch doing the same:
  * output dtype, shape and values (|got - ref| <= rtol |ref| + rtol max|ref|, rtol 1e-5 for
    float32 and 1e-10 for float64; integers, bools and sort/topk indices exactly; NaN must be NaN),
  * the gradient of L = sum(out * W) (W fixed random) for every input that requires grad, same
    rule, and that a gradient exists exactly where torch's .grad is not None,
  * where torch raises, tensorlite must fail; where torch succeeds, tensorlite must succeed,
  * no tensors or storages left alive after a case.
The case/result files and input recipes are test_functional.py's (imported, not copied).
Output ends with exactly "N passed, N failed". Usage:
  /usr/bin/python3 tests/torch/test_newops.py [--runner build/newops_runner] [--only OP,...] [-v]
"""
import argparse
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_functional as tf  # noqa: E402  (the shared case format, runner driver and comparison)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

F32, F64, I64, BOOL, U8 = 0, 1, 4, 9, 8
tf.TDT.update({BOOL: torch.bool, U8: torch.uint8})
tf.CODE.update({torch.bool: BOOL, torch.uint8: U8})
tf.NP.update({BOOL: "?", U8: "u1"})
tf.DTN.update({BOOL: "bool", U8: "uint8"})
RTOL = {F32: 1e-5, F64: 1e-10}
INF, NAN = float("inf"), float("nan")
make, In, rng = tf.make, tf.In, tf.rng
ST_T, ST_S, ST_E, ST_P = tf.ST_TRANSPOSE, tf.ST_SLICE, tf.ST_EXPAND, tf.ST_PERMUTE


def U(lo, hi):
    return lambda s: tf.U(s, lo, hi)


def I(values):
    return In(torch.tensor(values, dtype=torch.int64))


def torch_op(op, ints, dbls, T):
    x = T[0] if T else None
    if op in ("floor", "ceil", "round", "trunc", "isnan", "isinf", "isfinite"):
        return getattr(torch, op)(x), None
    if op == "remainder":
        return torch.remainder(x, T[1]), None
    if op == "fmod":
        return torch.fmod(x, T[1]), None
    if op in ("remainder_scalar", "fmod_scalar"):
        # tensorlite's scalar rule: an integral double acts as a Python int
        s = int(dbls[0]) if dbls[0] == int(dbls[0]) else dbls[0]
        return getattr(torch, op[:-7])(x, s), None
    if op == "nan_to_num":
        return torch.nan_to_num(x, dbls[0], None if dbls[1] == INF else dbls[1], None if dbls[2] == -INF else dbls[2]), None
    if op in ("any", "all"):
        return getattr(torch, op)(x, ints[0], keepdim=bool(ints[1])), None
    if op in ("any_all", "all_all"):
        return getattr(torch, op[:3])(x), None
    if op == "isclose":
        return torch.isclose(x, T[1], dbls[0], dbls[1], bool(ints[0])), None
    if op == "allclose":
        return torch.tensor(int(torch.allclose(x, T[1], dbls[0], dbls[1], bool(ints[0])))), None
    if op == "equal":
        return torch.tensor(int(torch.equal(x, T[1]))), None
    if op == "clamp_tensor":
        return torch.clamp(x, T[1], T[2]), None
    if op in ("addcmul", "addcdiv"):
        return getattr(torch, op)(x, T[1], T[2], value=dbls[0]), None
    if op == "lerp":
        return torch.lerp(x, T[1], dbls[0]), None
    if op == "lerp_tensor":
        return torch.lerp(x, T[1], T[2]), None
    if op in ("new_ones", "new_zeros"):
        return getattr(x, op)(ints), None
    if op == "new_full":
        return x.new_full(ints, dbls[0]), None
    if op == "sort":
        r = torch.sort(x, dim=ints[0], descending=bool(ints[1]), stable=True)
        return r.values, r.indices
    if op == "argsort":
        return torch.sort(x, dim=ints[0], descending=bool(ints[1]), stable=True).indices, None
    if op == "topk":
        r = torch.topk(x, ints[0], dim=ints[1], largest=bool(ints[2]), sorted=True)
        return r.values, r.indices
    if op == "cumprod":
        return torch.cumprod(x, ints[0]), None
    if op == "flip":
        return torch.flip(x, ints), None
    if op == "roll":
        n = ints[0]
        dims = ints[1 + n:]
        return (torch.roll(x, ints[1:1 + n], dims) if dims else torch.roll(x, ints[1])), None
    if op == "repeat":
        return x.repeat(*ints), None
    if op == "tile":
        return torch.tile(x, tuple(ints)), None
    if op in ("tril", "triu"):
        return getattr(torch, op)(x, ints[0]), None
    if op == "scatter":
        return torch.scatter(x, ints[0], T[1], T[2]), None
    if op == "scatter_value":
        return torch.scatter(x, ints[0], T[1], dbls[0]), None
    if op == "scatter_add":
        return torch.scatter_add(x, ints[0], T[1], T[2]), None
    if op == "index_add":
        return torch.index_add(x, ints[0], T[1], T[2], alpha=dbls[0]), None
    if op == "one_hot":
        return F.one_hot(x, ints[0]), None
    if op == "pad":
        if ints[0] == 0:
            return F.pad(x, tuple(ints[1:]), mode="constant", value=dbls[0]), None
        return F.pad(x, tuple(ints[1:]), mode=["constant", "reflect", "replicate"][ints[0]]), None
    if op == "interpolate":
        if ints[0] == 0:
            return F.interpolate(x, size=(ints[1], ints[2]), mode="nearest"), None
        return F.interpolate(x, size=(ints[1], ints[2]), mode="bilinear", align_corners=bool(ints[3])), None
    if op.startswith("einsum:"):
        return torch.einsum(op[7:], *T), None
    if op == "conv1d":
        return F.conv1d(x, T[1], T[2], ints[0], "same" if ints[4] else ints[1], ints[2], ints[3]), None
    if op == "conv_transpose2d":
        return F.conv_transpose2d(x, T[1], T[2], (ints[0], ints[1]), (ints[2], ints[3]), (ints[4], ints[5]), ints[8],
                                  (ints[6], ints[7])), None
    if op == "max_pool1d":
        return F.max_pool1d(x, ints[0], ints[1] or None, ints[2], ints[3], bool(ints[4]), return_indices=True)
    if op == "avg_pool1d":
        return F.avg_pool1d(x, ints[0], ints[1] or None, ints[2], bool(ints[4]), bool(ints[5])), None
    if op == "group_norm":
        return F.group_norm(x, ints[0], T[1], T[2], dbls[0]), None
    if op.startswith("mod"):
        return layer_op(op, ints, dbls, x), None
    raise ValueError(op)


def layer_new(kind, a, dbls):
    """The torch layer newops_runner.c's layer_new builds from the same ints (a[0]: the seed)."""
    a = list(a) + [0] * 16
    torch.manual_seed(a[0])
    if kind == "conv1d":
        return torch.nn.Conv1d(a[1], a[2], a[3], a[4] or 1, "same" if a[9] else a[5], a[6] or 1, a[7] or 1, bool(a[8]))
    if kind == "conv_transpose2d":
        return torch.nn.ConvTranspose2d(a[1], a[2], (a[3], a[4]), (a[5] or 1, a[6] or 1), (a[7], a[8]), (a[9], a[10]),
                                        a[13] or 1, bool(a[14]), (a[11] or 1, a[12] or 1))
    if kind == "group_norm":
        return torch.nn.GroupNorm(a[1], a[2], dbls[0], bool(a[3]))
    if kind == "upsample":
        mode = ["nearest", "bilinear"][a[3]]
        ac = bool(a[4]) if mode == "bilinear" else None
        if a[1] > 0:
            return torch.nn.Upsample(size=(a[1], a[2]), mode=mode, align_corners=ac)
        return torch.nn.Upsample(scale_factor=dbls[0], mode=mode, align_corners=ac)
    raise ValueError(kind)


def layer_op(op, ints, dbls, x):
    """modp: the float32 bits of the state_dict values (int32), modm: b"keys|repr", modf: forward."""
    m = layer_new(op.split(":", 1)[1], ints, dbls)
    if op.startswith("modf"):
        return m(x)
    sd = m.state_dict()
    if op.startswith("modm"):
        return torch.tensor(list((",".join(sd.keys()) + "|" + repr(m)).encode()), dtype=torch.uint8)
    vals = [v.detach().reshape(-1) for v in sd.values()]
    return (torch.cat(vals) if vals else torch.zeros(0)).view(torch.int32).clone()


tf.torch_op = torch_op  # tf.run_torch looks it up at call time
CASES = []


def add(op, ints, dbls, ins, dtypes=(F32, F64), desc=""):
    CASES.append(dict(group=op, op=op, ints=list(ints), dbls=list(dbls), ins=ins,
                      desc=desc or " ".join(i.desc() if i is not None else "None" for i in ins), dtypes=dtypes))


def lay(nd):
    return rng.choice("ctsp" if nd >= 2 else "cs") if nd >= 1 else "c"


def shape(nd):
    return [rng.randint(1, 4) for _ in range(nd)]


def gen():
    g = U(-3, 3)
    # ---- elementwise, with special values and integers
    spec = In(torch.tensor([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.7, -0.0, NAN, INF, -INF, 3.49999], dtype=torch.float64))
    for op in ("floor", "ceil", "round", "trunc"):
        add(op, [], [], [spec])
        add(op, [], [], [In(torch.tensor([[-3, 4], [5, -7]]))], dtypes=(F64,))
        for _ in range(3):
            nd = rng.choice([1, 2, 3])
            add(op, [], [], [make(shape(nd), g, lay(nd))])
    for op in ("isnan", "isinf", "isfinite"):
        add(op, [], [], [spec])
        add(op, [], [], [make([3, 2], g, "t", rg=False)])
        add(op, [], [], [I([1, -2, 3])], dtypes=(F64,))
    add("nan_to_num", [], [0.0, INF, -INF], [spec])
    add("nan_to_num", [], [1.5, 7.0, -9.0], [In(spec.base.reshape(3, 4), [(ST_T, 0, 1)], 1)])
    mod_a, mod_b = U(-6, 6), lambda s: (tf.U(s, 0.6, 3) * (torch.randint(0, 2, tuple(s)) * 2 - 1)).double()
    for op in ("remainder", "fmod"):
        add(op, [], [], [In(torch.tensor([5.0, -5, 5, -5, 0, 7.5])), In(torch.tensor([3.0, 3, -3, -3, 2, -2]))])
        add(op, [], [], [I([5, -5, 5, -5, 0, 7]), I([3, 3, -3, -3, 2, -2])], dtypes=(F64,))
        add(op, [], [], [I([5, -5]), I([0, 1])], dtypes=(F64,))  # torch: ZeroDivisionError
        for _ in range(4):
            nd = rng.choice([1, 2, 3])
            s = shape(nd)
            bs = s[rng.randint(0, nd - 1):] if rng.random() < 0.5 else s
            add(op, [], [], [make(s, mod_a, lay(nd)), make(bs, mod_b, lay(len(bs)))])
        add(op + "_scalar", [], [-1.7], [make([3, 4], mod_a, "t")])
        add(op + "_scalar", [], [2.0], [I([5, -5, 7])], dtypes=(F64,))
    for op in ("any", "all"):
        base = torch.tensor([[0, 0, NAN], [1, 2, 3], [0, 1, 0]], dtype=torch.float64)
        for d in (0, 1, -1):
            for kd in (0, 1):
                add(op, [d, kd], [], [In(base, [(ST_T, 0, 1)])])
        add(op, [1, 0], [], [In(torch.tensor([[0, 3], [2, 1]]))], dtypes=(F64,))
        add(op, [0, 0], [], [In(torch.tensor([[True, False], [True, True]]))], dtypes=(F64,))
        add(op, [0, 0], [], [In(torch.tensor([1, 0], dtype=torch.uint8))], dtypes=(F64,))
        add(op, [2, 0], [], [In(base)])  # dim out of range
        add(op + "_all", [], [], [In(base)])
        add(op + "_all", [], [], [In(torch.zeros(0, dtype=torch.float64))])
    a = torch.tensor([1.0, 2, NAN, INF, -INF, 1e-9])
    b = torch.tensor([1 + 1e-7, 2.1, NAN, INF, INF, 0])
    for en in (0, 1):
        add("isclose", [en], [1e-5, 1e-8], [In(a), In(b)])
        add("allclose", [en], [1e-5, 1e-8], [In(a), In(b)])
        add("allclose", [en], [1e-5, 1e-8], [In(a), In(a)])
    add("isclose", [0], [1e-5, 1e-8], [make([2, 3], g, "t", False), make([3], g, "c", False)])
    add("isclose", [0], [1e-5, 1e-8], [make([3], g, "c", False), make([4], g, "c", False)])
    add("allclose", [0], [1e-3, 1e-3], [In(torch.ones(2, 3)), In(torch.ones(3) + 1e-4)])
    add("equal", [], [], [In(torch.ones(2, 2), [(ST_T, 0, 1)]), In(torch.ones(2, 2))])
    add("equal", [], [], [In(torch.ones(2, 2)), In(torch.ones(4))])
    add("equal", [], [], [In(a), In(a)])
    add("equal", [], [], [I([1, 2]), I([1, 3])], dtypes=(F64,))
    # ---- clamp with tensor bounds, addcmul/addcdiv, lerp
    for _ in range(6):
        nd = rng.choice([1, 2, 3])
        s = shape(nd)
        lo = make(s[rng.randint(0, nd - 1):], U(-2, 0), lay(1))
        hi = make(s[rng.randint(0, nd - 1):], U(0.1, 2), lay(1))
        add("clamp_tensor", [], [], [make(s, g, lay(nd)), lo, hi])
        add("clamp_tensor", [], [], [make(s, g, lay(nd)), lo, None])
        add("clamp_tensor", [], [], [make(s, g, lay(nd)), None, hi])
    add("clamp_tensor", [], [], [make([3], g), None, None])
    add("clamp_tensor", [], [], [I([1, -5, 9]), I([0, 0, 0]), I([3, 3, 3])], dtypes=(F64,))
    for op, val in (("addcmul", 0.7), ("addcmul", 1.0), ("addcdiv", -2.0), ("addcdiv", 0.5)):
        for _ in range(3):
            nd = rng.choice([1, 2, 3])
            s = shape(nd)
            t2g = U(0.5, 2) if op == "addcdiv" else g
            add(op, [], [val], [make(s[-1:], g, "c"), make(s, g, lay(nd)), make(s, t2g, lay(nd))])
        add(op, [], [val], [make([3, 1], g, "c"), make([1, 4], g, "c"), make([4], t2g, "s")])
    add("addcdiv", [], [1.0], [make([2], g), I([1, 2]), I([3, 4])], dtypes=(F64,))
    for w in (0.25, 0.5, 0.8, -0.3, 1.4):
        for _ in range(2):
            nd = rng.choice([1, 2, 3])
            s = shape(nd)
            add("lerp", [], [w], [make(s, g, lay(nd)), make(s[rng.randint(0, nd - 1):], g, lay(1))])
    for _ in range(4):
        nd = rng.choice([1, 2, 3])
        s = shape(nd)
        add("lerp_tensor", [], [], [make(s, g, lay(nd)), make(s, g, lay(nd)), make(s[-1:], U(-0.8, 1.6), "c")])
    add("lerp", [], [0.5], [make([3], g), In(torch.ones(3), dt=F64)], dtypes=(F32,))
    for op in ("new_ones", "new_zeros", "new_full"):
        add(op, [8], [3.5], [make([2], g, rg=False)])
        add(op, [2, 3], [-2.0], [I([1, 2])], dtypes=(F64,))
    # ---- sort, argsort, topk, cumprod
    for _ in range(6):
        nd = rng.choice([1, 2, 3])
        s = [rng.randint(1, 6) for _ in range(nd)]
        d = rng.randint(-nd, nd - 1)
        x = make(s, lambda sh: tf.distinct(sh), lay(nd))
        for desc in (0, 1):
            add("sort", [d, desc], [], [x])
            add("argsort", [d, desc], [], [x])
        k = rng.randint(0, s[d])
        add("topk", [k, d, 1], [], [x])
        add("topk", [k, d, 0], [], [x])
    ties = torch.tensor([[3, 1, NAN, 1, 2], [-1, 5, 2, 5, 5]], dtype=torch.float64)
    for desc in (0, 1):
        add("sort", [1, desc], [], [In(ties, [], 0)])
        add("sort", [0, desc], [], [In(ties.t().contiguous(), [(ST_T, 0, 1)], 1)])
    add("sort", [0, 0], [], [I([9, -3, 5, 5, 0])], dtypes=(F64,))
    add("topk", [6, 1, 1], [], [In(ties)])  # k out of range
    for _ in range(6):
        nd = rng.choice([1, 2, 3])
        s = [rng.randint(1, 5) for _ in range(nd)]
        add("cumprod", [rng.randint(-nd, nd - 1)], [], [make(s, U(-1.5, 1.5), lay(nd))])
    z = torch.tensor([[0.5, 0.0, 2.0, 0.7], [1.1, -0.4, 0.0, 0.0], [0.0, 1.7, 0.2, -0.6]], dtype=torch.float64)
    for d in (0, 1):
        add("cumprod", [d], [], [In(z, [], 0)])
        add("cumprod", [d], [], [In(z.t().contiguous(), [(ST_T, 0, 1)], 1)])
    add("cumprod", [0], [], [I([1, 2, 3, -4])], dtypes=(F64,))
    # ---- flip, roll, repeat, tile, tril, triu
    for _ in range(5):
        nd = rng.choice([1, 2, 3])
        s = shape(nd)
        x = make(s, g, lay(nd))
        dims = rng.sample(range(nd), rng.randint(1, nd))
        add("flip", dims, [], [x])
        sh = [rng.randint(-7, 7) for _ in dims]
        add("roll", [len(dims)] + sh + dims, [], [x])
        add("roll", [1, rng.randint(-9, 9)], [], [x])
        reps = [rng.randint(0, 3) for _ in range(nd + rng.randint(0, 1))]
        add("repeat", reps, [], [x])
        add("tile", reps[:rng.randint(1, len(reps))], [], [x])
    add("flip", [0, 0], [], [make([3], g)])
    add("repeat", [2], [], [make([2, 3], g)])
    add("roll", [2, 1, 1, 0], [], [make([2, 3], g)])
    for op in ("tril", "triu"):
        for k in (-2, -1, 0, 1, 3):
            nd = rng.choice([2, 3])
            add(op, [k], [], [make([rng.randint(1, 5) for _ in range(nd)], g, lay(nd))])
        add(op, [0], [], [In(torch.ones(3, 3, dtype=torch.bool))], dtypes=(F64,))
        add(op, [0], [], [make([4], g)])
    # ---- scatter, scatter_add, index_add, one_hot
    for _ in range(4):
        s = [rng.randint(2, 4), rng.randint(2, 4)]
        d = rng.randint(0, 1)
        # a permutation per lane: no duplicate targets, so scatter's result is defined
        n_other = rng.randint(1, s[1 - d])
        perm = torch.stack([torch.randperm(s[d]) for _ in range(n_other)], 1 - d)
        if d == 1:
            perm = perm.t() if perm.shape[0] != n_other else perm
        idx = In(perm.contiguous())
        src = make(list(perm.shape), g, lay(2))
        add("scatter", [d], [], [make(s, g, lay(2)), idx, src])
        add("scatter_value", [d], [-1.25], [make(s, g, lay(2)), idx])
        dup = In(torch.randint(0, s[d], tuple(perm.shape)))
        add("scatter_add", [d], [], [make(s, g, lay(2)), dup, make(list(perm.shape), g, lay(2))])
        n = rng.randint(1, 5)
        ix = In(torch.randint(0, s[d], (n,)))
        ss = list(s)
        ss[d] = n
        add("index_add", [d], [rng.choice([1.0, -1.5, 2.0])], [make(s, g, lay(2)), ix, make(ss, g, lay(2))])
    add("scatter", [0], [], [make([2, 3], g), I([[2, 0, 0]]), make([1, 3], g)])  # out of range
    add("scatter_add", [0], [], [In(torch.zeros(3, dtype=torch.int64)), I([1, 1, 2]), I([5, 6, 7])], dtypes=(F64,))
    add("index_add", [0], [1.0], [make([3, 2], g), I([0, 1, 2]), make([2, 2], g)])  # count mismatch
    for nc in (-1, 5):
        add("one_hot", [nc], [], [I([[0, 2], [1, 3]])], dtypes=(F64,))
    add("one_hot", [2], [], [I([0, 2])], dtypes=(F64,))
    add("one_hot", [3], [], [tf.targets([0, 2, 1], stepped=True)], dtypes=(F64,))
    # ---- pad, interpolate
    for mode in (0, 1, 2):
        for _ in range(4):
            nd = rng.choice([2, 3, 4])
            s = [rng.randint(2, 5) for _ in range(nd)]
            np_ = rng.randint(1, min(3, nd - 1))
            pads = []
            for k in range(np_):
                n = s[nd - 1 - k]
                lo_ = -1 if mode == 0 else 0
                pads += [rng.randint(lo_, n - 1), rng.randint(lo_, n - 1)]
            add("pad", [mode] + pads, [rng.choice([0.0, 1.5])], [make(s, g, lay(nd))])
    add("pad", [1, 3, 0], [0.0], [make([2, 3], g)])  # reflect pad too large
    for mode, ac in ((0, 0), (1, 0), (1, 1)):
        for oh, ow in ((5, 7), (2, 3), (4, 4), (1, 1), (8, 3)):
            add("interpolate", [mode, oh, ow, ac], [], [make([2, 2, rng.randint(1, 4), rng.randint(2, 5)], g,
                                                             rng.choice("ctp"))])
    # ---- einsum (one or two operands); the op name carries the equation
    for eq, shapes in (("ij,jk->ik", ([3, 4], [4, 5])), ("ij,jk", ([2, 3], [3, 2])), ("bij,bjk->bik", ([2, 3, 4], [2, 4, 2])),
                       ("i,i->", ([5], [5])), ("i,j->ij", ([3], [4])), ("ij,kj->ik", ([3, 4], [2, 4])),
                       ("bhqd,bhkd->bhqk", ([2, 2, 3, 4], [2, 2, 5, 4])), ("ij,ij->i", ([3, 4], [3, 4])),
                       ("ijk,jl->lik", ([2, 3, 4], [3, 2])), ("ij,jk->", ([2, 3], [3, 2])), ("ij->ji", ([3, 4],)),
                       ("ijk->j", ([2, 3, 4],)), ("ij", ([2, 3],)), ("ba,ac", ([2, 3], [3, 2])),
                       ("ii->i", ([3, 3],)), ("ii", ([3, 3],)), ("bii,bi->bi", ([2, 3, 3], [2, 3])),
                       ("iji->j", ([3, 2, 3],)), ("ij,jk->ik", ([3, 4], [3, 5]))):
        for _ in range(2):
            add("einsum:" + eq, [], [], [make(s, g, lay(len(s))) for s in shapes])

    gen_layers(g)


def gen_layers(g):
    """conv1d, conv_transpose2d, max/avg_pool1d, group_norm and their layers (issue 13)."""
    lays = "ctsp"
    for _ in range(14):  # conv1d: ints stride, padding, dilation, groups, padding_same
        grp = rng.choice([1, 1, 2, 3])
        C, O, k = grp * rng.randint(1, 3), grp * rng.randint(1, 2), rng.randint(1, 4)
        st, dl = rng.randint(1, 3), rng.randint(1, 2)
        same = int(st == 1 and rng.random() < 0.25)
        pad = rng.randint(0, 2)
        L = dl * (k - 1) + 1 + rng.randint(0, 6)
        bias = make([O], g, "c") if rng.random() < 0.7 else None
        xs = [rng.randint(1, 3), C, L] if rng.random() < 0.8 else [C, L]
        add("conv1d", [st, pad, dl, grp, same], [], [make(xs, g, rng.choice(lays)), make([O, C // grp, k], g,
                                                                                           rng.choice("ctp")), bias])
    # large enough for conv2d's per-image thread split (N * O * K * L >= 2e6)
    add("conv1d", [1, 1, 1, 1, 0], [], [make([4, 64, 200], g, "t"), make([48, 64, 5], g), make([48], g)])
    add("conv_transpose2d", [2, 2, 1, 1, 1, 1, 1, 1, 1], [], [make([4, 16, 16, 16], g, "p"), make([16, 8, 3, 3], g),
                                                                make([8], g)])
    add("conv_transpose2d", [1, 1, 0, 0, 0, 0, 1, 1, 2], [], [make([4, 16, 16, 16], g), make([16, 8, 3, 3], g, "t"),
                                                                None])
    add("conv1d", [1, 0, 1, 2, 0], [], [make([2, 3, 5], g), make([4, 1, 2], g), None])  # C not divisible by groups
    add("conv1d", [1, 0, 1, 1, 0], [], [make([2, 3, 2], g), make([4, 3, 3], g), None])  # kernel larger than input
    add("conv1d", [1, 0, 1, 1, 0], [], [make([2, 3, 5], g), make([4, 2, 3], g), None])  # channel mismatch
    for _ in range(16):  # conv_transpose2d: ints stride h w, padding h w, output_padding h w, dilation h w, groups
        grp = rng.choice([1, 1, 2])
        C, Og = grp * rng.randint(1, 3), rng.randint(1, 3)
        kh, kw = rng.randint(1, 3), rng.randint(1, 3)
        s = [rng.randint(1, 3), rng.randint(1, 3)]
        d = [rng.randint(1, 2), rng.randint(1, 2)]
        p = [rng.randint(0, 1), rng.randint(0, 2)]
        op_ = [rng.randint(0, max(s[i], d[i]) - 1) for i in range(2)]
        bias = make([Og * grp], g, "c") if rng.random() < 0.7 else None
        xs = [rng.randint(1, 2), C, rng.randint(1, 4), rng.randint(1, 4)] if rng.random() < 0.8 else [C, 3, 2]
        add("conv_transpose2d", s + p + op_ + d + [grp], [],
            [make(xs, g, rng.choice(lays)), make([C, Og, kh, kw], g, rng.choice("ctp")), bias])
    add("conv_transpose2d", [1, 1, 0, 0, 1, 0, 1, 1, 1], [], [make([1, 2, 3, 3], g), make([2, 2, 2, 2], g), None])  # output_padding too big
    add("conv_transpose2d", [1, 1, 0, 0, 0, 0, 1, 1, 2], [], [make([1, 3, 3, 3], g), make([3, 2, 2, 2], g), None])  # groups
    add("conv_transpose2d", [1, 1, 0, 0, 0, 0, 1, 1, 1], [], [make([1, 3, 3, 3], g), make([2, 2, 2, 2], g), None])  # C mismatch
    add("conv_transpose2d", [1, 1, 3, 3, 0, 0, 1, 1, 1], [], [make([1, 2, 2, 2], g), make([2, 2, 2, 2], g), None])  # output < 1
    for op in ("max_pool1d", "avg_pool1d"):  # ints kernel, stride, padding, dilation, ceil_mode, count_include_pad
        for _ in range(10):
            k = rng.randint(1, 4)
            st = rng.randint(0, 3)
            pad = rng.randint(0, k // 2)
            dl = rng.randint(1, 2) if op == "max_pool1d" else 1
            L = dl * (k - 1) + 1 + rng.randint(0, 6)
            xs = [rng.randint(1, 3), rng.randint(1, 3), L] if rng.random() < 0.8 else [2, L]
            x = make(xs, (lambda sh: tf.distinct(sh)) if op == "max_pool1d" else g, rng.choice(lays))
            add(op, [k, st, pad, dl, rng.randint(0, 1), rng.randint(0, 1)], [], [x])
        add(op, [2, 2, 2, 1, 0, 1], [], [make([1, 2, 5], g)])  # padding more than half the kernel
        add(op, [4, 1, 0, 1, 0, 1], [], [make([1, 2, 3], g)])  # output too small
    for _ in range(10):  # group_norm: ints num_groups; dbls eps
        G = rng.choice([1, 2, 3])
        C = G * rng.randint(1, 3)
        nd = rng.choice([2, 3, 4])
        xs = [rng.randint(1, 3), C] + [rng.randint(1, 4) for _ in range(nd - 2)]
        while C // G * math.prod(xs[2:]) < 4:  # groups of 1-3 values: the gradient is float32 rounding noise
            xs = xs[:1] + [C, 4] + xs[2:] if nd == 2 else xs[:-1] + [xs[-1] + 1]
            nd = len(xs)
        w = make([C], g, "c") if rng.random() < 0.8 else None
        b = make([C], g, "s") if rng.random() < 0.8 else None
        add("group_norm", [G], [rng.choice([1e-5, 1e-3])], [make(xs, g, lay(nd)), w, b])
    add("group_norm", [2], [1e-5], [make([2, 3, 4], g), None, None])  # C not divisible
    add("group_norm", [1], [1e-5], [make([2, 4], g), make([3], g), None])  # weight size
    add("group_norm", [2], [1e-5], [make([2, 4, 3], g), In(torch.ones(4), dt=F32), None], dtypes=(F64,))  # dtypes
    # layers: ints seed, then the configuration of layer_new
    cfg = [("conv1d", [4, 6, 3, 1, 0, 1, 1, 1, 0]), ("conv1d", [4, 6, 3, 2, 1, 2, 2, 0, 0]),
           ("conv1d", [3, 5, 4, 1, 0, 1, 1, 1, 1]),
           ("conv_transpose2d", [4, 6, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1]),
           ("conv_transpose2d", [4, 6, 3, 2, 2, 2, 1, 1, 1, 1, 2, 2, 2, 0]),
           ("conv_transpose2d", [2, 3, 2, 2, 2, 1, 0, 1, 1, 0, 1, 1, 1, 1]),
           ("group_norm", [2, 4, 1]), ("group_norm", [3, 6, 0]),
           ("upsample", [5, 7, 0, 0]), ("upsample", [0, 0, 0, 0]), ("upsample", [4, 3, 1, 1]), ("upsample", [0, 0, 1, 0]),
           ("upsample", [0, 0, 0, 0], 1.5), ("upsample", [0, 0, 0, 0], 2.7), ("upsample", [0, 0, 1, 0], 1.7),
           ("upsample", [0, 0, 1, 1], 2.5), ("upsample", [0, 0, 1, 0], 0.6)]
    for cf in cfg:
        kind, a = cf[0], cf[1]
        dbl = [2.0 if a[0] == 0 else 1e-3] if kind in ("upsample", "group_norm") else [0.0]
        if kind == "upsample" and a[2] == 1 and a[0] == 0:
            dbl = [3.0]
        if len(cf) > 2:
            dbl = [cf[2]]
        for seed in (0, 7):
            add("modp:" + kind, [seed] + a, dbl, [], dtypes=(F32,))
            add("modm:" + kind, [seed] + a, dbl, [], dtypes=(F32,))
        if kind == "conv1d":
            xs = [2, a[0], 9]
        elif kind == "conv_transpose2d":
            xs = [2, a[0], 3, 4]
        elif kind == "group_norm":
            xs = [2, a[1], 3]
        else:
            xs = [2, 2, 3, 4]
        add("modf:" + kind, [3] + a, dbl, [make(xs, g, "t")], dtypes=(F32, F64) if kind == "upsample" else (F32,))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runner", default=os.path.join(tf.BUILD, "newops_runner"))
    ap.add_argument("--only", default="")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    t0 = time.time()
    gen()
    only = set(x for x in a.only.split(",") if x)
    runs = [(ci, c, dt) for ci, c in enumerate(CASES) if not only or c["op"] in only for dt in c["dtypes"]]
    refs, blob = [], []
    for ci, c, dt in runs:
        ref = tf.run_torch(c, dt)
        refs.append(ref)
        blob.append(tf.enc_case(c, dt, ref.get("W")))
    results, crashed = tf.run_runner(a.runner, b"".join(blob), len(runs))
    fails, per = [], {}
    for k, (ci, c, dt) in enumerate(runs):
        ref, res = refs[k], results.get(k)
        why = tf.status_problems(ref, res, crashed.get(k, "no result"))
        if not why and res is not None and not ref["error"]:
            rt = RTOL[F32] if ref["out"].dtype == torch.float32 else RTOL[F64]
            got = res["outs"][0]
            e = ("output: %s" % (got,)) if isinstance(got, tuple) else tf.compare(got, ref["out"], rt, None, "output")
            if e:
                why.append(e)
            tf.check_idx_and_grads(c, ref, res, why, [None] * len(c["ins"]), RTOL, ref["idx"] is not None)
        tf.tally(per, c["op"], res, why, fails, (ci, c, dt, ref, why))
    os.makedirs(tf.BUILD, exist_ok=True)
    with open(os.path.join(tf.BUILD, "newops_failures.txt"), "w") as f:
        for ci, c, dt, ref, why in fails:
            f.write("case %d %s %s %s ints %s dbls %s\n    %s\n" % (ci, c["op"], tf.DTN[dt], c["desc"], c["ints"],
                                                                 c["dbls"], "\n    ".join(why)))
    shown = {}
    for ci, c, dt, ref, why in fails:
        n = shown.get(c["op"], 0)
        shown[c["op"]] = n + 1
        if a.v or n < 3:
            print("FAIL case %d %s %s: %s ints %s dbls %s" % (ci, c["op"], tf.DTN[dt], c["desc"], c["ints"], c["dbls"]))
            for w in why:
                print("    " + w)
    for op in sorted(per):
        print("  %-18s %4d passed, %4d failed" % (op, per[op][0], per[op][1]))
    npass = sum(v[0] for v in per.values())
    nfail = sum(v[1] for v in per.values())
    print("new ops oracle: %d cases x dtypes in %.1f s (failures: build/newops_failures.txt)" % (len(runs), time.time() - t0))
    print("%d passed, %d failed" % (npass, nfail))
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main())
