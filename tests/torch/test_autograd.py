#!/usr/bin/python3
"""PyTorch oracle for tensorlite's autograd.

Generates random programs (fixed seed) for a small register machine: leaves are random float32
tensors with random shapes (some requiring grad), instructions apply ops (broadcasting arithmetic,
scalar forms, unary math and activations, views, cat/stack, index_select/gather, where/masked_fill,
reductions with random dims and keepdim, matmul variants, in-place ops on intermediates, some under
no_grad). Each program ends in a scalar loss = sum_k sum(out_k * W_k) over one to three output
registers with fixed random weights W_k.
tests/torch/grad_runner.c executes the same program with tensorlite inside a tl_scope, runs backward
and writes the loss and every leaf's .grad; this script runs the program in torch and compares:

  * loss: |got - ref| <= 1e-5 * |ref| + 1e-5 * max(1, sum_k sum|out_k * W_k|)  (a sum's rounding floor)
  * every leaf's grad: None exactly where torch's is None; otherwise same shape, dtype float32 and
    |got - ref| <= 1e-5 * |ref| + 1e-5 * max(1, max|ref grad|)   (elementwise, per leaf)
  * when torch raises in backward (e.g. a saved tensor was modified in place, or the output does
    not require grad), tensorlite must fail there too (a negative tl_status from backward). One
    exception: for torch's "modified by an inplace operation" error, tensorlite may instead succeed
    if its loss and gradients equal torch's with every saved tensor snapshotted at save time
    (saved_tensors_hooks with clone). Which tensors torch saves is partly an implementation detail;
    torch 1.13's MeanBackward1, for one, saves its whole input.
  * after every program the live tensor/storage counts are back at their starting values

Programs are only kept when float32 is well-conditioned for them: finite values below 60, no
argument within 1e-4 of a kink (relu/abs/clamp/max ties ...) unless exactly on it, log/sqrt/div
only on positive inputs, and torch float32 agreeing with torch float64 within a fifth of the
tolerance above (so the 1e-5 comparison measures tensorlite, not float32 noise).

Groups: composite (mode 0: loss.backward()), shared_leaf (few leaves used many times), inplace
(random in-place ops on intermediates), inplace_saved (a tensor saved for backward is then modified
in place: torch either errors or not; tensorlite must agree), inplace_alias (a base modified in place
after it or a view of it was used), accumulate (backward with retain_graph then a second backward:
grads accumulate), autograd_grad (tl_autograd_grad vs torch.autograd.grad, with and without
grad_outputs; no .grad may change), backward_gradient (out.backward(W) for non-scalar out),
inplace_view (an in-place op on a view of an intermediate or of a buffer without history: torch
rebases the base's history, so its gradient flows through the in-place op), kinks (inputs exactly
on a kink or a tie: relu/abs/clamp at the kink, maximum/max_all ties, norm and prod at zeros - torch's
convention decides; these skip the near-kink filter, which only rejects values NEAR a kink).

Each group uses its own random stream, so --only does not change the programs of a group. Program ids
are global (the order of GROUPS). Known tensorlite bugs behind failures: wip/bugs_autograd.md.

Usage: /usr/bin/python3 tests/torch/test_autograd.py [--runner PATH] [--only GROUP[,GROUP]] [-v]
       [--seed N] [--dump ID] [--counts]
  --dump ID   print program ID (listing, torch's result, the runner input) and exit
  --counts    print how many times each op occurs in the generated programs and exit
  -v          print every failure in full (default: the first 3 per group)
Exit status 1 on any failure. Failure details go to stdout and build/autograd_failures.txt.
Normally run through tests/torch/run_autograd.sh, which builds build/grad_runner first.
"""
import argparse
import contextlib
import math
import os
import random
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F

warnings.filterwarnings("ignore")
torch.set_num_threads(1)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.join(ROOT, "build")

TL_END = 2 ** 63 - 1
F32, F64 = 0, 1
MAXNUMEL = 240
MAXABS = 60.0
RTOL = 1e-5
KINK = 1e-4

# (group, number of programs); the mode of each group is set in make_program
GROUPS = [
    ("composite", 250),
    ("shared_leaf", 25),
    ("inplace", 40),
    ("inplace_saved", 30),
    ("inplace_alias", 30),
    ("inplace_view", 12),
    ("kinks", 28),
    ("accumulate", 25),
    ("autograd_grad", 25),
    ("backward_gradient", 15),
]


# Ops that may return a view. They never run under no_grad here: torch 1.13 gives a view made under
# no_grad of a tensor that requires grad requires_grad=True but no grad_fn. That changes which later
# ops are recorded (and so torch's "does not require grad" / version errors) but never a gradient value.
VIEW_OPS = {"transpose", "t", "permute", "narrow", "select", "slice", "expand", "expand_as", "squeeze",
            "squeeze_dim", "unsqueeze", "flatten", "unflatten", "view", "reshape", "split", "chunk",
            "contiguous", "to"}


class Reject(Exception):
    """This instruction (or program) is not usable; try another."""


class Broken(Exception):
    """The program state is unusable (torch refused an in-place op after partly applying it)."""


def f32(x):
    return float(np.float32(x))


# ================================================================= the interpreter (torch side)

class Ctx:
    def __init__(self, dt):
        self.dt = dt
        self.leaves = []


def _slice(R, r, i, d, c):
    t = R[r[0]]
    dim = i[0] % t.dim()
    end = None if i[2] == TL_END else i[2]
    return t[(slice(None),) * dim + (slice(i[1], end, i[3]),)]


def _gather(R, r, i, d, c):
    nd = i[1]
    idx = torch.tensor(i[2 + nd:], dtype=torch.int64).reshape(i[2:2 + nd])
    return torch.gather(R[r[0]], i[0], idx)


def _to(R, r, i, d, c):
    if c.dt == torch.float64:
        return R[r[0]].to(torch.float64)
    return R[r[0]].to(torch.float64 if i[0] == F64 else torch.float32)


OPS = {
    # elementwise
    "add": lambda R, r, i, d, c: torch.add(R[r[0]], R[r[1]]),
    "sub": lambda R, r, i, d, c: torch.sub(R[r[0]], R[r[1]]),
    "mul": lambda R, r, i, d, c: torch.mul(R[r[0]], R[r[1]]),
    "div": lambda R, r, i, d, c: torch.div(R[r[0]], R[r[1]]),
    "pow": lambda R, r, i, d, c: torch.pow(R[r[0]], R[r[1]]),
    "maximum": lambda R, r, i, d, c: torch.maximum(R[r[0]], R[r[1]]),
    "minimum": lambda R, r, i, d, c: torch.minimum(R[r[0]], R[r[1]]),
    "add_alpha": lambda R, r, i, d, c: torch.add(R[r[0]], R[r[1]], alpha=d[0]),
    "sub_alpha": lambda R, r, i, d, c: torch.sub(R[r[0]], R[r[1]], alpha=d[0]),
    "add_scalar": lambda R, r, i, d, c: R[r[0]] + d[0],
    "sub_scalar": lambda R, r, i, d, c: R[r[0]] - d[0],
    "rsub_scalar": lambda R, r, i, d, c: d[0] - R[r[0]],
    "mul_scalar": lambda R, r, i, d, c: R[r[0]] * d[0],
    "div_scalar": lambda R, r, i, d, c: R[r[0]] / d[0],
    "pow_scalar": lambda R, r, i, d, c: torch.pow(R[r[0]], d[0]),
    "neg": lambda R, r, i, d, c: torch.neg(R[r[0]]),
    "abs": lambda R, r, i, d, c: torch.abs(R[r[0]]),
    "sign": lambda R, r, i, d, c: torch.sign(R[r[0]]),
    "exp": lambda R, r, i, d, c: torch.exp(R[r[0]]),
    "log": lambda R, r, i, d, c: torch.log(R[r[0]]),
    "log1p": lambda R, r, i, d, c: torch.log1p(R[r[0]]),
    "sqrt": lambda R, r, i, d, c: torch.sqrt(R[r[0]]),
    "rsqrt": lambda R, r, i, d, c: torch.rsqrt(R[r[0]]),
    "sin": lambda R, r, i, d, c: torch.sin(R[r[0]]),
    "cos": lambda R, r, i, d, c: torch.cos(R[r[0]]),
    "tanh": lambda R, r, i, d, c: torch.tanh(R[r[0]]),
    "sigmoid": lambda R, r, i, d, c: torch.sigmoid(R[r[0]]),
    "relu": lambda R, r, i, d, c: torch.relu(R[r[0]]),
    "silu": lambda R, r, i, d, c: F.silu(R[r[0]]),
    "leaky_relu": lambda R, r, i, d, c: F.leaky_relu(R[r[0]], d[0]),
    "gelu": lambda R, r, i, d, c: F.gelu(R[r[0]], approximate="tanh" if i[0] else "none"),
    "softplus": lambda R, r, i, d, c: F.softplus(R[r[0]], d[0], d[1]),
    "clamp": lambda R, r, i, d, c: torch.clamp(R[r[0]], d[0], d[1]),
    # views and copies
    "transpose": lambda R, r, i, d, c: R[r[0]].transpose(i[0], i[1]),
    "t": lambda R, r, i, d, c: R[r[0]].t(),
    "permute": lambda R, r, i, d, c: R[r[0]].permute(*i),
    "narrow": lambda R, r, i, d, c: R[r[0]].narrow(i[0], i[1], i[2]),
    "select": lambda R, r, i, d, c: R[r[0]].select(i[0], i[1]),
    "slice": _slice,
    "expand": lambda R, r, i, d, c: R[r[0]].expand(*i),
    "expand_as": lambda R, r, i, d, c: R[r[0]].expand_as(R[r[1]]),
    "squeeze": lambda R, r, i, d, c: R[r[0]].squeeze(),
    "squeeze_dim": lambda R, r, i, d, c: R[r[0]].squeeze(i[0]),
    "unsqueeze": lambda R, r, i, d, c: R[r[0]].unsqueeze(i[0]),
    "flatten": lambda R, r, i, d, c: R[r[0]].flatten(i[0], i[1]),
    "unflatten": lambda R, r, i, d, c: R[r[0]].unflatten(i[0], tuple(i[1:])),
    "view": lambda R, r, i, d, c: R[r[0]].view(*i),
    "reshape": lambda R, r, i, d, c: R[r[0]].reshape(*i),
    "contiguous": lambda R, r, i, d, c: R[r[0]].contiguous(),
    "clone": lambda R, r, i, d, c: R[r[0]].clone(),
    "detach": lambda R, r, i, d, c: R[r[0]].detach(),
    "to": _to,
    "split": lambda R, r, i, d, c: torch.split(R[r[0]], i[0], i[1])[i[2]],
    "chunk": lambda R, r, i, d, c: torch.chunk(R[r[0]], i[0], i[1])[i[2]],
    "cat": lambda R, r, i, d, c: torch.cat([R[k] for k in r], i[0]),
    "stack": lambda R, r, i, d, c: torch.stack([R[k] for k in r], i[0]),
    "index_select": lambda R, r, i, d, c: R[r[0]].index_select(
        i[0], torch.tensor(i[2:2 + i[1]], dtype=torch.int64)),
    "gather": _gather,
    "where_gt": lambda R, r, i, d, c: torch.where(R[r[0]] > R[r[1]], R[r[2]], R[r[3]]),
    "masked_fill_gt": lambda R, r, i, d, c: R[r[0]].masked_fill(R[r[1]] > d[0], d[1]),
    # reductions
    "sum": lambda R, r, i, d, c: R[r[0]].sum(i[0], keepdim=bool(i[1])),
    "sum_dims": lambda R, r, i, d, c: R[r[0]].sum(list(i[1:]), keepdim=bool(i[0])),
    "sum_all": lambda R, r, i, d, c: R[r[0]].sum(),
    "mean": lambda R, r, i, d, c: R[r[0]].mean(i[0], keepdim=bool(i[1])),
    "mean_dims": lambda R, r, i, d, c: R[r[0]].mean(list(i[1:]), keepdim=bool(i[0])),
    "mean_all": lambda R, r, i, d, c: R[r[0]].mean(),
    "var": lambda R, r, i, d, c: R[r[0]].var(i[0], unbiased=bool(i[1]), keepdim=bool(i[2])),
    "var_all": lambda R, r, i, d, c: R[r[0]].var(unbiased=bool(i[0])),
    "std": lambda R, r, i, d, c: R[r[0]].std(i[0], unbiased=bool(i[1]), keepdim=bool(i[2])),
    "std_all": lambda R, r, i, d, c: R[r[0]].std(unbiased=bool(i[0])),
    "prod": lambda R, r, i, d, c: R[r[0]].prod(i[0], keepdim=bool(i[1])),
    "prod_all": lambda R, r, i, d, c: R[r[0]].prod(),
    "max": lambda R, r, i, d, c: R[r[0]].max(i[0], keepdim=bool(i[1]))[0],
    "min": lambda R, r, i, d, c: R[r[0]].min(i[0], keepdim=bool(i[1]))[0],
    "max_all": lambda R, r, i, d, c: R[r[0]].max(),
    "min_all": lambda R, r, i, d, c: R[r[0]].min(),
    "norm": lambda R, r, i, d, c: torch.norm(R[r[0]], p=d[0], dim=i[0], keepdim=bool(i[1])),
    "norm_dims": lambda R, r, i, d, c: torch.norm(R[r[0]], p=d[0], dim=list(i[1:]), keepdim=bool(i[0])),
    "norm_all": lambda R, r, i, d, c: torch.norm(R[r[0]], p=d[0]),
    "logsumexp": lambda R, r, i, d, c: torch.logsumexp(R[r[0]], i[0], keepdim=bool(i[1])),
    "softmax": lambda R, r, i, d, c: torch.softmax(R[r[0]], i[0]),
    "log_softmax": lambda R, r, i, d, c: torch.log_softmax(R[r[0]], i[0]),
    "cumsum": lambda R, r, i, d, c: torch.cumsum(R[r[0]], i[0]),
    # linalg
    "matmul": lambda R, r, i, d, c: torch.matmul(R[r[0]], R[r[1]]),
    "mm": lambda R, r, i, d, c: torch.mm(R[r[0]], R[r[1]]),
    "mv": lambda R, r, i, d, c: torch.mv(R[r[0]], R[r[1]]),
    "bmm": lambda R, r, i, d, c: torch.bmm(R[r[0]], R[r[1]]),
    "dot": lambda R, r, i, d, c: torch.dot(R[r[0]], R[r[1]]),
    "outer": lambda R, r, i, d, c: torch.outer(R[r[0]], R[r[1]]),
    # in place: modify register r[0]
    "add_": lambda R, r, i, d, c: R[r[0]].add_(R[r[1]]),
    "sub_": lambda R, r, i, d, c: R[r[0]].sub_(R[r[1]]),
    "mul_": lambda R, r, i, d, c: R[r[0]].mul_(R[r[1]]),
    "div_": lambda R, r, i, d, c: R[r[0]].div_(R[r[1]]),
    "add_alpha_": lambda R, r, i, d, c: R[r[0]].add_(R[r[1]], alpha=d[0]),
    "add_scalar_": lambda R, r, i, d, c: R[r[0]].add_(d[0]),
    "sub_scalar_": lambda R, r, i, d, c: R[r[0]].sub_(d[0]),
    "mul_scalar_": lambda R, r, i, d, c: R[r[0]].mul_(d[0]),
    "div_scalar_": lambda R, r, i, d, c: R[r[0]].div_(d[0]),
    "pow_scalar_": lambda R, r, i, d, c: R[r[0]].pow_(d[0]),
    "neg_": lambda R, r, i, d, c: R[r[0]].neg_(),
    "abs_": lambda R, r, i, d, c: R[r[0]].abs_(),
    "exp_": lambda R, r, i, d, c: R[r[0]].exp_(),
    "log_": lambda R, r, i, d, c: R[r[0]].log_(),
    "sqrt_": lambda R, r, i, d, c: R[r[0]].sqrt_(),
    "tanh_": lambda R, r, i, d, c: R[r[0]].tanh_(),
    "sigmoid_": lambda R, r, i, d, c: R[r[0]].sigmoid_(),
    "relu_": lambda R, r, i, d, c: torch.relu_(R[r[0]]),
    "clamp_": lambda R, r, i, d, c: R[r[0]].clamp_(d[0], d[1]),
    "fill_": lambda R, r, i, d, c: R[r[0]].fill_(d[0]),
    "zero_": lambda R, r, i, d, c: R[r[0]].zero_(),
    "copy_": lambda R, r, i, d, c: R[r[0]].copy_(R[r[1]]),
    "masked_fill_gt_": lambda R, r, i, d, c: R[r[0]].masked_fill_(R[r[1]] > d[0], d[1]),
}

# out-of-place twin of each in-place op (used to check the result before mutating anything)
TWIN = {op: OPS[op[:-1]] for op in OPS if op.endswith("_") and op[:-1] in OPS}
TWIN["fill_"] = lambda R, r, i, d, c: torch.full_like(R[r[0]], d[0])
TWIN["zero_"] = lambda R, r, i, d, c: torch.zeros_like(R[r[0]])
TWIN["copy_"] = lambda R, r, i, d, c: torch.broadcast_to(R[r[1]], R[r[0]].shape).to(R[r[0]].dtype)


def apply(R, item, ctx):
    """Executes one program item on the register list R (torch)."""
    if item[0] == "L":
        _, rg, shape, data = item
        t = torch.tensor(np.asarray(data, dtype=np.float32).reshape(shape), dtype=ctx.dt)
        if rg:
            t.requires_grad_(True)
        R.append(t)
        ctx.leaves.append(t)
        return t
    _, op, flags, r, iv, dv = item
    with (torch.no_grad() if flags & 1 else contextlib.nullcontext()):
        res = OPS[op](R, r, iv, dv, ctx)
    if op.endswith("_"):
        return R[r[0]]
    R.append(res)
    return res


class Program:
    def __init__(self, pid, group, mode, items, outs, W, V=None, A=None):
        """outs: output registers; W (and V for mode 1): one weight per output."""
        self.pid, self.group, self.mode = pid, group, mode
        self.items, self.outs, self.W, self.V, self.A = items, outs, W, V, A
        self.ref = None
        self.alt = None  # where torch raises a version error: its result with snapshot-saved tensors

    def nleaves(self):
        return sum(1 for it in self.items if it[0] == "L")

    def text(self):
        def num(x):
            return repr(float(x))

        def arr(a):
            a = np.asarray(a, dtype=np.float32)
            return " ".join([str(a.ndim)] + [str(s) for s in a.shape] + [num(v) for v in a.reshape(-1)])

        lines = ["P %d %d" % (self.pid, self.mode)]
        for it in self.items:
            if it[0] == "L":
                lines.append("L %d %s" % (it[1], arr(np.asarray(it[3], np.float32).reshape(it[2]))))
            else:
                _, op, flags, r, iv, dv = it
                lines.append("I %s %d %d %s %d %s %d %s" % (
                    op, flags, len(r), " ".join(map(str, r)), len(iv), " ".join(map(str, iv)),
                    len(dv), " ".join(num(x) for x in dv)))
        lines.append("O %d %s" % (len(self.outs), " ".join(map(str, self.outs))))
        for w in self.W:
            lines.append("W " + arr(w))
        for v in self.V or []:
            lines.append("V " + arr(v))
        if self.A is not None:
            lines.append("A %d %s" % (len(self.A), " ".join(map(str, self.A))))
        lines.append("E")
        return "\n".join(lines) + "\n"

    def pretty(self):
        """Human-readable listing (for failure reports and wip/bugs_autograd.md)."""
        out, reg, leaf = [], 0, 0
        for it in self.items:
            if it[0] == "L":
                a = np.asarray(it[3], np.float32).reshape(it[2])
                out.append("r%d = leaf%d %s requires_grad=%s  %s" % (
                    reg, leaf, list(it[2]), bool(it[1]), np.array2string(a.reshape(-1)[:6], precision=4)))
                reg += 1
                leaf += 1
            else:
                _, op, flags, r, iv, dv = it
                args = ", ".join(["r%d" % k for k in r] + [str(x) for x in iv] + [repr(x) for x in dv])
                ng = "  [no_grad]" if flags & 1 else ""
                if op.endswith("_"):
                    out.append("r%d.%s(%s)%s" % (r[0], op, args, ng))
                else:
                    out.append("r%d = %s(%s)%s" % (reg, op, args, ng))
                    reg += 1
        what = {0: "loss.backward()", 1: "loss.backward(retain_graph=True); sum(r * V...).backward()",
                2: "torch.autograd.grad(loss, leaves %s)" % self.A, 3: "r%d.backward(W0)" % self.outs[0],
                4: "torch.autograd.grad(%s, leaves %s, grad_outputs=W...)" % (
                    ["r%d" % k for k in self.outs], self.A)}[self.mode]
        out.append("loss = %s; %s" % (" + ".join("sum(r%d * W%d)" % (k, i) for i, k in enumerate(self.outs)), what))
        return "\n".join(out)


def reference(prog, dt, snapshot=False):
    """Runs prog in torch. Returns dict(loss, lossabs, grads, q, error, stage).
    snapshot=True: every tensor saved for backward is saved as a copy (saved_tensors_hooks), so backward
    uses the values as they were when each op ran and there are no version-counter errors."""
    if snapshot:
        with torch.autograd.graph.saved_tensors_hooks(lambda t: t.detach().clone(), lambda t: t):
            return reference(prog, dt)
    ctx = Ctx(dt)
    R = []
    res = {"error": None, "stage": None, "loss": None, "lossabs": None, "grads": None, "q": None}
    try:
        for it in prog.items:
            apply(R, it, ctx)
        outs = [R[k] for k in prog.outs]
        Ws = [torch.tensor(w, dtype=dt) for w in prog.W]
        loss = sum((o * w).sum() for o, w in zip(outs, Ws))
        res["loss"] = float(loss)
        res["lossabs"] = float(sum((o * w).abs().sum() for o, w in zip(outs, Ws)))
    except Exception as e:  # noqa: BLE001 - a forward failure means "not a valid program"
        res["error"], res["stage"] = "%s: %s" % (type(e).__name__, e), "forward"
        return res
    leaves = ctx.leaves
    try:
        if prog.mode == 0:
            loss.backward()
        elif prog.mode == 1:
            loss.backward(retain_graph=True)
            loss2 = sum((o * torch.tensor(v, dtype=dt)).sum() for o, v in zip(outs, prog.V))
            loss2.backward()
        elif prog.mode == 2:
            res["q"] = torch.autograd.grad(loss, [leaves[a] for a in prog.A])
        elif prog.mode == 3:
            outs[0].backward(Ws[0])
        elif prog.mode == 4:
            res["q"] = torch.autograd.grad(outs, [leaves[a] for a in prog.A], grad_outputs=Ws)
    except RuntimeError as e:
        res["error"], res["stage"] = str(e).split("\n")[0], "backward"
        return res
    res["grads"] = [None if t.grad is None else t.grad.detach().double().numpy().copy() for t in leaves]
    if res["q"] is not None:
        res["q"] = [g.detach().double().numpy().copy() for g in res["q"]]
    return res


# ================================================================= the generator

def near(x, k=0.0, eps=KINK):
    """True when some element is within eps (relative) of k without being exactly k."""
    x = x.detach().double()
    if x.numel() == 0:
        return False
    dd = (x - k).abs()
    return bool(((dd > 0) & (dd < eps * max(1.0, abs(k)))).any())


def ok_val(t):
    if not isinstance(t, torch.Tensor) or not t.is_floating_point():
        return False
    if t.numel() > MAXNUMEL or t.dim() > 5:
        return False
    if t.numel() == 0:
        return True
    x = t.detach()
    return bool(torch.isfinite(x).all()) and float(x.abs().max()) <= MAXABS


def numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def bshape(a, b):
    try:
        return list(torch.broadcast_shapes(tuple(a), tuple(b)))
    except RuntimeError:
        return None


class Gen:
    def __init__(self, rng, group):
        self.rng = rng
        self.np = np.random.RandomState(rng.randrange(2 ** 31))
        self.group = group
        self.items = []
        self.R = []
        self.recent = []
        self.ctx = Ctx(torch.float32)
        self.p_ng = 0.04
        self.p_existing = 0.9 if group == "shared_leaf" else 0.4

    # ---- helpers
    def touch(self, k):
        self.recent.append(k)

    def pick(self, pred=None):
        cands = [k for k, t in enumerate(self.R) if pred is None or pred(t)]
        if not cands:
            raise Reject("no operand")
        rec = [k for k in self.recent[-3:] if k in cands]
        if rec and self.rng.random() < 0.65:
            return self.rng.choice(rec)
        return self.rng.choice(cands)

    def between(self, x):
        """A float32 threshold strictly between two neighbouring values of x (never ON a computed value:
        a value computed by two implementations may differ in the last bit, so an exact tie in torch
        need not be a tie in tensorlite)."""
        v = np.unique(x.detach().double().numpy().reshape(-1))
        if v.size < 2:
            raise Reject("constant")
        i = self.rng.randrange(v.size - 1)
        lo, hi = float(v[i]), float(v[i + 1])
        if hi - lo < 1e-3 * max(1.0, abs(lo)):
            raise Reject("close values")
        return f32((lo + hi) / 2)

    def scalar(self, lo=-2.0, hi=2.0, avoid_zero=0.0):
        while True:
            s = f32(round(self.rng.uniform(lo, hi), 3))
            if abs(s) >= avoid_zero:
                return s

    def rand_shape(self, maxnd=4, maxn=60):
        while True:
            nd = self.rng.choice([0, 1, 1, 2, 2, 2, 3, 3, 3, 4][:{0: 1, 1: 3, 2: 6, 3: 9, 4: 10}[maxnd]])
            shape = [self.rng.choice([1, 2, 2, 3, 3, 4, 5]) for _ in range(nd)]
            if numel(shape) <= maxn:
                return shape

    def new_leaf(self, shape, rg=None, lo=-2.0, hi=2.0, data=None):
        if rg is None:
            rg = self.rng.random() < 0.75
        n = numel(shape)
        if data is None:
            data = self.np.uniform(lo, hi, size=n).astype(np.float32)
        data = np.asarray(data, dtype=np.float32).reshape(-1)
        item = ("L", 1 if rg else 0, list(shape), data)
        apply(self.R, item, self.ctx)
        self.items.append(item)
        self.touch(len(self.R) - 1)
        return len(self.R) - 1

    def emit(self, op, regs=(), ints=(), dbls=(), flags=None):
        if flags is None:
            flags = 1 if self.rng.random() < self.p_ng and op not in VIEW_OPS else 0
        item = ("I", op, flags, list(regs), [int(x) for x in ints], [float(x) for x in dbls])
        if op.endswith("_"):
            tgt = self.R[regs[0]]
            try:
                with torch.no_grad():
                    tmp = TWIN[op](self.R, item[3], item[4], item[5], self.ctx)
            except Exception as e:  # noqa: BLE001
                raise Reject(str(e))
            if tuple(tmp.shape) != tuple(tgt.shape) or tmp.dtype != tgt.dtype or not ok_val(tmp):
                raise Reject("in-place result")
            try:
                apply(self.R, item, self.ctx)
            except Exception as e:  # noqa: BLE001
                raise Broken(str(e))
            self.items.append(item)
            self.touch(regs[0])
            return regs[0]
        try:
            res = apply(self.R, item, self.ctx)
        except Exception as e:  # noqa: BLE001
            raise Reject(str(e))
        if not ok_val(res):
            self.R.pop()
            raise Reject("value")
        self.items.append(item)
        self.touch(len(self.R) - 1)
        return len(self.R) - 1

    def positive(self, k, lo=0.2):
        """A register holding a positive function of register k (k itself when already fine)."""
        x = self.R[k].detach()
        if x.numel() and float(x.min()) >= lo and float(x.max()) < 20:
            return k
        c = self.rng.randrange(5)
        if c == 0 and not near(x):
            return self.emit("add_scalar", [self.emit("abs", [k])], dbls=[0.5])
        if c == 1:
            return self.emit("add_scalar", [self.emit("sigmoid", [k])], dbls=[0.25])
        if c == 2:
            return self.emit("add_scalar", [self.emit("mul", [k, k])], dbls=[0.5])
        if c == 3:
            return self.emit("add_scalar", [self.emit("softplus", [k], dbls=[1.0, 20.0])], dbls=[0.25])
        return self.emit("exp", [self.emit("tanh", [k])])

    def partner(self, shape, into=False, same_dtype=None):
        """A register whose shape broadcasts with `shape` (into=True: broadcasts TO shape)."""
        shape = list(shape)
        if self.rng.random() < self.p_existing:
            cands = []
            for k, t in enumerate(self.R):
                if same_dtype is not None and t.dtype != same_dtype:
                    continue
                b = bshape(t.shape, shape)
                if b is None or numel(b) > MAXNUMEL or (into and b != shape):
                    continue
                cands.append(k)
            if cands:
                rec = [k for k in self.recent[-4:] if k in cands]
                if rec and self.rng.random() < 0.5:
                    return self.rng.choice(rec)
                return self.rng.choice(cands)
        s = list(shape)
        drop = self.rng.choice([0, 0, 0, 1, 2])
        s = s[min(drop, len(s)):]
        s = [1 if self.rng.random() < 0.3 else x for x in s]
        if not into:
            if self.rng.random() < 0.2:
                s = [self.rng.randint(2, 3) if (x == 1 and self.rng.random() < 0.7) else x for x in s]
            if self.rng.random() < 0.1 and len(shape) < 4:
                s = [self.rng.randint(2, 3)] + s
            b = bshape(s, shape)
            if b is None or numel(b) > MAXNUMEL:
                s = [1] * len(s)  # the growth did not fit: plain broadcasting from size-1 dims
        return self.new_leaf(s)

    # ---- op families
    def g_unary(self):
        op = self.rng.choice(["neg", "abs", "sign", "exp", "log", "log1p", "sqrt", "rsqrt", "sin", "cos",
                              "tanh", "sigmoid", "relu", "leaky_relu", "gelu", "silu", "softplus", "clamp",
                              "relu", "tanh", "sigmoid", "exp"])
        k = self.pick()
        x = self.R[k].detach()
        ints, dbls = [], []
        if op in ("abs", "sign", "relu", "leaky_relu") and near(x):
            raise Reject("kink")
        if op == "exp" and x.numel() and float(x.max()) > 3.5:
            k = self.emit("tanh", [k])
        if op in ("log", "sqrt", "rsqrt", "log1p"):
            k = self.positive(k)
        x = self.R[k].detach()
        if op == "leaky_relu":
            dbls = [self.rng.choice([0.01, 0.125, f32(0.2), 0.5])]
        elif op == "gelu":
            ints = [self.rng.randint(0, 1)]
        elif op == "softplus":
            beta = self.rng.choice([1.0, 2.0, 0.5])
            thr = self.rng.choice([20.0, 2.0, 1.0])
            if near(x * beta, thr):
                raise Reject("kink")
            dbls = [beta, thr]
        elif op == "clamp":
            if x.numel() == 0:
                lo, hi = -1.0, 1.0
            else:
                mn, mx, md = float(x.min()), float(x.max()), float(x.median())
                lo = f32(self.rng.uniform(mn - 0.2, md))
                hi = f32(self.rng.uniform(md, mx + 0.2))
                if self.rng.random() < 0.2:
                    lo = -math.inf
                elif self.rng.random() < 0.25:
                    hi = math.inf
                if lo >= hi:
                    raise Reject("bounds")
            for b in (lo, hi):
                if math.isfinite(b) and near(x, b):
                    raise Reject("kink")
            dbls = [lo, hi]
        return self.emit(op, [k], ints, dbls)

    def g_scalar(self):
        op = self.rng.choice(["add_scalar", "sub_scalar", "rsub_scalar", "mul_scalar", "div_scalar", "pow_scalar"])
        k = self.pick()
        s = self.scalar()
        if op == "div_scalar":
            s = self.scalar(avoid_zero=0.25)
        if op == "pow_scalar":
            s = self.rng.choice([2.0, 3.0, 0.5, 1.5, -1.0, -0.5, 0.0, 1.0, 2.0])
            if s != int(s) or s < 0:
                k = self.positive(k, lo=0.3)
        return self.emit(op, [k], dbls=[s])

    def g_binary(self):
        op = self.rng.choice(["add", "sub", "mul", "div", "pow", "maximum", "minimum", "add_alpha", "sub_alpha",
                              "add", "mul", "mul", "sub"])
        k = self.pick()
        j = self.partner(self.R[k].shape)
        if self.rng.random() < 0.5:
            k, j = j, k
        dbls = []
        if op == "div":
            j = self.positive(j, lo=0.3)
            if self.rng.random() < 0.3:
                j = self.emit("neg", [j])
        elif op == "pow":
            k = self.positive(k, lo=0.3)
            y = self.R[j].detach()
            if y.numel() and float(y.abs().max()) > 2.5:
                j = self.emit("tanh", [j])
        elif op in ("maximum", "minimum"):
            d = self.R[k].detach() - self.R[j].detach()
            if near(d):
                raise Reject("tie")
        elif op in ("add_alpha", "sub_alpha"):
            dbls = [self.scalar()]
        return self.emit(op, [k, j], dbls=dbls)

    def g_view(self):
        rng = self.rng
        op = rng.choice(["transpose", "t", "permute", "narrow", "select", "slice", "slice", "expand", "expand_as",
                         "squeeze", "squeeze_dim", "unsqueeze", "flatten", "unflatten", "view", "reshape",
                         "contiguous", "clone", "detach", "split", "chunk", "to", "transpose", "permute",
                         "unsqueeze", "reshape"])
        k = self.pick()
        t = self.R[k]
        nd = t.dim()
        shape = list(t.shape)
        if op == "detach" and rng.random() < 0.5:
            raise Reject("rare")
        if op == "to":
            if rng.random() < 0.5:
                raise Reject("rare")
            return self.emit("to", [k], [F32 if t.dtype == torch.float64 else F64])
        if op in ("contiguous", "clone", "detach", "squeeze"):
            return self.emit(op, [k])
        if op == "t":
            if nd > 2:
                raise Reject("t")
            return self.emit(op, [k])
        if op == "unsqueeze":
            return self.emit(op, [k], [rng.randint(-nd - 1, nd)])
        if op == "flatten":
            if nd == 0:
                return self.emit(op, [k], [0, rng.choice([0, -1])])
            a = rng.randint(0, nd - 1)
            b = rng.randint(a, nd - 1)
            if rng.random() < 0.4:
                a -= nd
            if rng.random() < 0.4:
                b -= nd
            return self.emit(op, [k], [a, b])
        if op in ("view", "reshape"):
            n = numel(shape)
            new = self.factor(n)
            if new and rng.random() < 0.3:
                new[rng.randrange(len(new))] = -1
            return self.emit(op, [k], new)
        if op == "expand":
            new = [(-1 if rng.random() < 0.3 else s) if s != 1 else (rng.randint(2, 4) if rng.random() < 0.6 else 1)
                   for s in shape]
            if rng.random() < 0.4 or new == shape:
                new = [rng.randint(2, 3) for _ in range(rng.randint(1, 2))] + new
            return self.emit(op, [k], new)
        if op == "expand_as":
            new = [s if s != 1 else rng.randint(1, 4) for s in shape]
            if rng.random() < 0.5:
                new = [rng.randint(1, 3)] + new
            if numel(new) > MAXNUMEL:
                raise Reject("big")
            cands = [j for j, u in enumerate(self.R) if list(u.shape) == new]
            j = rng.choice(cands) if cands and rng.random() < 0.5 else self.new_leaf(new)
            return self.emit(op, [k, j])
        if nd == 0:
            raise Reject("0-dim")
        dim = rng.randint(-nd, nd - 1)
        size = shape[dim]
        if op == "transpose":
            return self.emit(op, [k], [dim, rng.randint(-nd, nd - 1)])
        if op == "permute":
            perm = list(range(nd))
            rng.shuffle(perm)
            perm = [p - nd if rng.random() < 0.3 else p for p in perm]
            return self.emit(op, [k], perm)
        if op == "squeeze_dim":
            ones = [i for i, s in enumerate(shape) if s == 1]
            if ones and rng.random() < 0.7:
                dim = rng.choice(ones)
            return self.emit(op, [k], [dim])
        if size == 0:
            raise Reject("empty")
        if op == "narrow":
            st = rng.randint(0, size - 1)
            return self.emit(op, [k], [dim, st, rng.randint(1, size - st)])
        if op == "select":
            return self.emit(op, [k], [dim, rng.randint(-size, size - 1)])
        if op == "slice":
            st = rng.randint(-size - 1, size - 1)
            en = TL_END if rng.random() < 0.4 else rng.randint(-size, size + 2)
            step = rng.choice([1, 1, 2, 3])
            return self.emit(op, [k], [dim, st, en, step])
        if op == "unflatten":
            f = self.factor(size, maxparts=3)
            if f and rng.random() < 0.3:
                f[rng.randrange(len(f))] = -1
            return self.emit(op, [k], [dim] + f)
        if op == "split":
            ss = rng.randint(1, max(1, size))
            n = (size + ss - 1) // ss
            return self.emit(op, [k], [ss, dim, rng.randint(0, n - 1)])
        if op == "chunk":
            ch = rng.randint(1, size + 1)
            n = len(torch.chunk(torch.empty(size), ch))
            return self.emit(op, [k], [ch, dim, rng.randint(0, n - 1)])
        raise Reject(op)

    def factor(self, n, maxparts=4):
        """A random shape with n elements (1-maxparts dims, maybe with size-1 dims)."""
        if n == 0:
            return [0]
        primes, m, p = [], n, 2
        while m > 1:
            while m % p == 0:
                primes.append(p)
                m //= p
            p += 1
        nparts = self.rng.randint(1, maxparts)
        parts = [1] * nparts
        for q in primes:
            parts[self.rng.randrange(nparts)] *= q
        return parts

    def g_join(self):
        rng = self.rng
        op = rng.choice(["cat", "stack", "cat"])
        k = self.pick(lambda t: t.dim() >= 1) if op == "cat" else self.pick()
        t = self.R[k]
        nd = t.dim()
        shape = list(t.shape)
        dim = rng.randint(-nd, nd - 1) if op == "cat" else rng.randint(-nd - 1, nd)
        regs = [k]
        for _ in range(rng.randint(1, 2)):
            r = rng.random()
            if r < 0.25:
                regs.append(k)
                continue
            if op == "cat":
                want = lambda u: u.dim() == nd and u.dtype == t.dtype and all(  # noqa: E731
                    u.shape[i] == shape[i] for i in range(nd) if i != dim % nd)
            else:
                want = lambda u: list(u.shape) == shape and u.dtype == t.dtype  # noqa: E731
            cands = [j for j, u in enumerate(self.R) if want(u)]
            if cands and r < 0.6:
                regs.append(rng.choice(cands))
            else:
                s = list(shape)
                if op == "cat":
                    s[dim] = rng.randint(1, 3)
                regs.append(self.new_leaf(s))
                if t.dtype == torch.float64:
                    regs[-1] = self.emit("to", [regs[-1]], [F64])
        rng.shuffle(regs)
        return self.emit(op, regs, [dim])

    def g_index(self):
        rng = self.rng
        k = self.pick(lambda t: t.dim() >= 1 and t.numel() > 0)
        t = self.R[k]
        nd = t.dim()
        shape = list(t.shape)
        dim = rng.randint(-nd, nd - 1)
        size = shape[dim]
        if rng.random() < 0.5:
            n = rng.randint(1, 5)
            return self.emit("index_select", [k], [dim, n] + [rng.randint(0, size - 1) for _ in range(n)])
        ishape = [rng.randint(1, 4) if i == dim % nd else rng.randint(1, s) for i, s in enumerate(shape)]
        vals = [rng.randint(0, size - 1) for _ in range(numel(ishape))]
        return self.emit("gather", [k], [dim, nd] + ishape + vals)

    def g_where(self):
        rng = self.rng
        k = self.pick()
        shape = list(self.R[k].shape)
        if rng.random() < 0.6:
            j = self.partner(shape)
            c1 = self.partner(shape)
            c2 = self.partner(shape)
            d = self.R[c1].detach() - self.R[c2].detach()
            if near(d):
                raise Reject("tie")
            regs = [c1, c2, k, j] if rng.random() < 0.5 else [c1, c2, j, k]
            return self.emit("where_gt", regs)
        c = self.partner(shape, into=True)
        x = self.R[c].detach()
        thr = self.between(x) if rng.random() < 0.7 else self.scalar()
        if near(x, thr):
            raise Reject("tie")
        return self.emit("masked_fill_gt", [k, c], dbls=[thr, self.scalar()])

    def g_reduce(self):
        rng = self.rng
        op = rng.choice(["sum", "sum_dims", "sum_all", "mean", "mean_dims", "mean_all", "var", "var_all", "std",
                         "std_all", "prod", "prod_all", "max", "min", "max_all", "min_all", "norm", "norm_dims",
                         "norm_all", "logsumexp", "softmax", "log_softmax", "cumsum", "sum", "mean", "softmax",
                         "logsumexp"])
        k = self.pick()
        t = self.R[k]
        x = t.detach()
        nd = t.dim()
        shape = list(t.shape)
        dn = max(nd, 1)
        dim = rng.randint(-dn, dn - 1)
        size = shape[dim] if nd else 1
        keep = rng.randint(0, 1)
        if op in ("sum_dims", "mean_dims", "norm_dims"):
            if nd == 0:
                raise Reject("0-dim")
            dims = rng.sample(range(nd), rng.randint(1, nd))
            dims = [d - nd if rng.random() < 0.3 else d for d in dims]
        if op in ("norm", "norm_dims", "norm_all"):
            p = rng.choice([2.0, 2.0, 1.0, 3.0, math.inf, 1.5, 0.5])
            if p <= 1.0 and near(x):
                raise Reject("kink")
            if p == math.inf:
                ax = x.abs()
                if nd == 0:
                    pass
                elif op == "norm_all":
                    if near(ax, float(ax.max())):
                        raise Reject("tie")
                else:
                    dd = [dim % nd] if op == "norm" else [d % nd for d in dims]
                    m = ax.amax(dim=dd, keepdim=True)
                    if near(ax - m):
                        raise Reject("tie")
            if op == "norm":
                return self.emit(op, [k], [dim, keep], [p])
            if op == "norm_dims":
                return self.emit(op, [k], [keep] + dims, [p])
            return self.emit(op, [k], [], [p])
        if op in ("sum_dims", "mean_dims"):
            return self.emit(op, [k], [keep] + dims)
        if op in ("sum_all", "mean_all"):
            return self.emit(op, [k])
        if op in ("var", "std"):
            if size < 2:
                raise Reject("small")
            unb = rng.randint(0, 1)
            if op == "std" and float(x.var(dim, unbiased=bool(unb)).min()) < 1e-2:
                raise Reject("flat")
            return self.emit(op, [k], [dim, unb, keep])
        if op in ("var_all", "std_all"):
            if x.numel() < 2 or (op == "std_all" and float(x.var()) < 1e-2):
                raise Reject("small")
            return self.emit(op, [k], [rng.randint(0, 1)])
        if op == "prod":
            if size > 5:
                raise Reject("big")
            return self.emit(op, [k], [dim, keep])
        if op == "prod_all":
            if x.numel() > 8:
                raise Reject("big")
            return self.emit(op, [k])
        if op in ("max", "min"):
            if x.numel() == 0:
                raise Reject("empty")
            xx = x if nd else x.reshape(1)
            m = xx.amax(dim % dn, keepdim=True) if op == "max" else xx.amin(dim % dn, keepdim=True)
            if near(xx - m) or int(((xx - m) == 0).sum()) != m.numel():
                raise Reject("tie")
            return self.emit(op, [k], [dim, keep])
        if op in ("max_all", "min_all"):
            if x.numel() == 0:
                raise Reject("empty")
            m = float(x.max()) if op == "max_all" else float(x.min())
            if near(x, m):
                raise Reject("tie")
            return self.emit(op, [k])
        if op in ("sum", "mean", "logsumexp"):
            return self.emit(op, [k], [dim, keep])
        return self.emit(op, [k], [dim])  # softmax, log_softmax, cumsum

    def g_linalg(self):
        rng = self.rng
        op = rng.choice(["matmul", "matmul", "matmul", "mm", "mv", "bmm", "dot", "outer"])
        want = {"mm": 2, "mv": 2, "bmm": 3, "dot": 1, "outer": 1}.get(op)
        k = self.pick(lambda t: t.numel() > 0 and (t.dim() == want if want else 1 <= t.dim() <= 4))
        t = self.R[k]
        shape = list(t.shape)
        left = rng.random() < 0.6  # t is the left operand
        m = rng.randint(1, 4)
        if op == "outer":
            other = [rng.randint(1, 5)]
        elif op == "dot":
            other = shape
        elif op == "mv":
            other = [shape[1]]
            left = True
        elif op == "mm":
            other = [shape[1], m] if left else [m, shape[0]]
        elif op == "bmm":
            other = [shape[0], shape[2], m] if left else [shape[0], m, shape[1]]
        else:
            nd = len(shape)
            if left:
                kk = shape[-1]
                opts = [[kk], [kk, m], [rng.randint(1, 3), kk, m]]
                if nd >= 3:
                    opts.append(shape[:-2] + [kk, m])
                    opts.append([1] * (nd - 2) + [kk, m])
            else:
                kk = shape[0] if nd == 1 else shape[-2]
                opts = [[kk], [m, kk], [rng.randint(1, 3), m, kk]]
                if nd >= 3:
                    opts.append(shape[:-2] + [m, kk])
            other = rng.choice(opts)
        same = [j for j, u in enumerate(self.R) if list(u.shape) == other and u.dtype == t.dtype]
        if same and rng.random() < self.p_existing:
            j = rng.choice(same)
        else:
            j = self.new_leaf(other)
            if t.dtype == torch.float64:
                j = self.emit("to", [j], [F64])
        return self.emit(op, [k, j] if left else [j, k])

    def inplace_target(self, ng):
        def ok(t):
            if t._base is not None or not t.is_floating_point():
                return False
            if t.is_leaf and t.requires_grad and not ng:
                return False
            return True
        k = self.pick(lambda t: ok(t) and not t.is_leaf) if self.rng.random() < 0.85 else self.pick(ok)
        return k

    def g_inplace(self):
        rng = self.rng
        ng = rng.random() < 0.08
        flags = 1 if ng else 0
        k = self.inplace_target(ng)
        t = self.R[k]
        x = t.detach()
        shape = list(t.shape)
        op = rng.choice(["add_", "sub_", "mul_", "div_", "add_alpha_", "add_scalar_", "sub_scalar_", "mul_scalar_",
                         "div_scalar_", "pow_scalar_", "neg_", "abs_", "exp_", "log_", "sqrt_", "tanh_", "sigmoid_",
                         "relu_", "clamp_", "fill_", "zero_", "copy_", "masked_fill_gt_", "mul_", "add_",
                         "mul_scalar_", "relu_", "tanh_"])
        if op in ("fill_", "zero_") and rng.random() < 0.6:
            raise Reject("rare")
        if op in ("add_", "sub_", "mul_", "div_", "add_alpha_", "copy_"):
            j = self.partner(shape, into=True, same_dtype=t.dtype)
            if op == "div_":
                j = self.positive(j, lo=0.3)
            if list(self.R[j].shape) != shape and bshape(self.R[j].shape, shape) != shape:
                raise Reject("shape")
            return self.emit(op, [k, j], dbls=[self.scalar()] if op == "add_alpha_" else [], flags=flags)
        if op == "masked_fill_gt_":
            c = self.partner(shape, into=True)
            cx = self.R[c].detach()
            thr = self.between(cx)
            if near(cx, thr):
                raise Reject("tie")
            return self.emit(op, [k, c], dbls=[thr, self.scalar()], flags=flags)
        if op in ("abs_", "relu_") and near(x):
            raise Reject("kink")
        if op in ("log_", "sqrt_"):
            if x.numel() and float(x.min()) < 0.2:
                if near(x):
                    raise Reject("kink")
                self.emit("abs_", [k], flags=flags)
                self.emit("add_scalar_", [k], dbls=[0.5], flags=flags)
            return self.emit(op, [k], flags=flags)
        if op == "exp_" and x.numel() and float(x.max()) > 3.5:
            raise Reject("big")
        if op == "pow_scalar_":
            e = rng.choice([2.0, 3.0, 0.5, -1.0])
            if (e == 0.5 or e < 0) and x.numel() and float(x.min()) < 0.3:
                raise Reject("domain")
            return self.emit(op, [k], dbls=[e], flags=flags)
        if op == "div_scalar_":
            return self.emit(op, [k], dbls=[self.scalar(avoid_zero=0.25)], flags=flags)
        if op in ("add_scalar_", "sub_scalar_", "mul_scalar_", "fill_"):
            return self.emit(op, [k], dbls=[self.scalar()], flags=flags)
        if op == "clamp_":
            if x.numel() == 0:
                raise Reject("empty")
            md = float(x.median())
            lo = f32(rng.uniform(float(x.min()) - 0.2, md))
            hi = f32(rng.uniform(md, float(x.max()) + 0.2)) if rng.random() < 0.7 else math.inf
            if lo >= hi or near(x, lo) or (math.isfinite(hi) and near(x, hi)):
                raise Reject("kink")
            return self.emit(op, [k], dbls=[lo, hi], flags=flags)
        return self.emit(op, [k], flags=flags)

    # ---- whole programs
    FAMILIES = {
        "default": [("unary", 3), ("scalar", 2), ("binary", 4), ("view", 4), ("join", 1), ("index", 1),
                    ("where", 1), ("reduce", 3), ("linalg", 1.5), ("inplace", 1)],
        "inplace": [("unary", 2), ("scalar", 1), ("binary", 3), ("view", 2), ("join", 0.5), ("index", 0.5),
                    ("where", 0.5), ("reduce", 1.5), ("linalg", 1), ("inplace", 6)],
        "shared_leaf": [("unary", 3), ("scalar", 1), ("binary", 6), ("view", 3), ("join", 1.5), ("index", 0.5),
                        ("where", 1), ("reduce", 2), ("linalg", 1.5), ("inplace", 0.5)],
    }

    def family(self, name):
        return {"unary": self.g_unary, "scalar": self.g_scalar, "binary": self.g_binary, "view": self.g_view,
                "join": self.g_join, "index": self.g_index, "where": self.g_where, "reduce": self.g_reduce,
                "linalg": self.g_linalg, "inplace": self.g_inplace}[name]

    def random_program(self):
        rng = self.rng
        fams = self.FAMILIES.get(self.group, self.FAMILIES["default"])
        names = [f for f, _ in fams]
        weights = [w for _, w in fams]
        nl = 1 if self.group == "shared_leaf" and rng.random() < 0.5 else rng.randint(1, 3)
        for _ in range(nl):
            self.new_leaf(self.rand_shape(), rg=True if self.group == "shared_leaf" else None)
        nops = rng.randint(4, 10)
        done = attempts = 0
        while done < nops and attempts < 80:
            attempts += 1
            f = rng.choices(names, weights)[0]
            try:
                self.family(f)()
                done += 1
            except (Reject, RuntimeError, IndexError, ValueError):
                pass  # (RuntimeError etc.: a value check on operands that do not broadcast together)
        if done < 3:
            raise Reject("too few ops")
        return self.recent[-1]

    def saved_program(self):
        """inplace_saved: an op saves a tensor for backward, then the tensor is modified in place."""
        rng = self.rng
        x = self.new_leaf(self.rand_shape(maxnd=3, maxn=24), rg=True)
        shape = list(self.R[x].shape)
        aop = rng.choice(["mul_scalar", "add_scalar", "tanh", "sigmoid", "exp"])
        a = self.emit(aop, [x], dbls=[self.scalar(avoid_zero=0.3)] if aop.endswith("scalar") else [], flags=0)
        y = self.new_leaf(shape if rng.random() < 0.7 else [1] * len(shape), rg=rng.random() < 0.7)
        kind = rng.choice(["sin", "cos", "exp", "tanh", "sigmoid", "relu", "mul", "div", "add", "mul_scalar",
                           "pow_scalar", "sqrt", "log", "softmax", "logsumexp", "sum", "mean", "mm", "clone",
                           "transpose", "norm_all", "prod_all", "abs", "maximum", "pow"])
        if kind in ("sqrt", "log", "div", "pow"):
            a = self.positive(a, lo=0.3)
            if kind == "div":
                b = self.emit("div", [y, a], flags=0)
            elif kind == "pow":
                b = self.emit("pow", [a, y], flags=0)
            else:
                b = self.emit(kind, [a], flags=0)
        elif kind in ("mul", "add", "maximum"):
            if kind == "maximum" and near(self.R[a].detach() - self.R[y].detach()):
                raise Reject("tie")
            b = self.emit(kind, [a, y], flags=0)
        elif kind in ("mul_scalar", "pow_scalar"):
            b = self.emit(kind, [a], dbls=[2.0 if kind == "pow_scalar" else 1.5], flags=0)
        elif kind in ("softmax", "logsumexp", "sum", "mean"):
            nd = max(1, len(shape))
            b = self.emit(kind, [a], [rng.randint(-nd, nd - 1)] + ([1] if kind != "softmax" else []), flags=0)
        elif kind == "mm":
            m = self.emit("reshape", [a], [-1, 1], flags=0)
            b = self.emit("mm", [m, self.new_leaf([1, 3])], flags=0)
        elif kind == "transpose":
            b = self.emit("clone", [a], flags=0)
            b = self.emit("t", [b], flags=0) if len(shape) <= 2 else b
        elif kind in ("relu", "abs"):
            if near(self.R[a].detach()):
                raise Reject("kink")
            b = self.emit(kind, [a], flags=0)
        elif kind == "prod_all":
            if self.R[a].numel() > 8:
                raise Reject("big")
            b = self.emit(kind, [a], flags=0)
        else:
            b = self.emit(kind, [a], flags=0)
        # now modify a (or b) in place, maybe several times
        target = a if rng.random() < 0.6 else b
        if self.R[target]._base is not None:
            target = a
        if self.R[target]._base is not None or self.R[target].is_leaf:
            raise Reject("view")
        op = rng.choice(["mul_scalar_", "add_scalar_", "add_", "mul_", "relu_", "neg_", "tanh_", "sigmoid_",
                         "exp_", "copy_", "zero_", "clamp_"])
        tx = self.R[target].detach()
        if op == "relu_" and near(tx):
            raise Reject("kink")
        if op in ("add_", "mul_", "copy_"):
            z = self.partner(list(self.R[target].shape), into=True)
            self.emit(op, [target, z], flags=0)
        elif op == "clamp_":
            self.emit(op, [target], dbls=[self.between(tx), math.inf], flags=0)
        elif op == "exp_" and tx.numel() and float(tx.max()) > 3.5:
            raise Reject("big")
        elif op in ("mul_scalar_", "add_scalar_"):
            self.emit(op, [target], dbls=[self.scalar(avoid_zero=0.3)], flags=0)
        else:
            self.emit(op, [target], flags=0)
        # the output uses b and (sometimes) the modified a
        if rng.random() < 0.6 and bshape(self.R[a].shape, self.R[b].shape) is not None:
            return self.emit(rng.choice(["add", "mul"]), [b, a], flags=0)
        return b

    def alias_program(self):
        """inplace_alias: a base (or a tensor whose view was used) is modified in place afterwards.
        Variants: the base has no history yet (a buffer that gets it from the in-place op's source),
        and the in-place op's other operand is the view itself (r.add_(r.view(...)))."""
        rng = self.rng
        x = self.new_leaf(self.rand_shape(maxnd=3, maxn=30) or [3], rg=True)
        if self.R[x].dim() == 0:
            x = self.emit("unsqueeze", [x], [0], flags=0)
        kind = rng.random()
        no_history = kind < 0.25
        if no_history:  # a buffer without history
            a = self.new_leaf(list(self.R[x].shape), rg=False)
        elif kind < 0.6:
            aop = rng.choice(["mul_scalar", "add_scalar", "exp", "tanh"])
            a = self.emit(aop, [x], dbls=[self.scalar(avoid_zero=0.3)] if aop.endswith("scalar") else [], flags=0)
        else:
            a = self.emit("mul", [x, self.new_leaf(list(self.R[x].shape), rg=True)], flags=0)
        nd = self.R[a].dim()
        use_view = rng.random() < 0.7
        if use_view:
            vop = rng.choice(["transpose", "select", "slice", "reshape", "unsqueeze", "expand", "narrow"])
            dim = rng.randint(-nd, nd - 1)
            size = self.R[a].shape[dim]
            if vop == "transpose":
                v = self.emit(vop, [a], [dim, rng.randint(-nd, nd - 1)], flags=0)
            elif vop == "select":
                v = self.emit(vop, [a], [dim, rng.randint(0, size - 1)], flags=0)
            elif vop == "slice":
                v = self.emit(vop, [a], [dim, 0, TL_END, rng.choice([1, 2])], flags=0)
            elif vop == "reshape":
                v = self.emit(vop, [a], [-1], flags=0)
            elif vop == "unsqueeze":
                v = self.emit(vop, [a], [0], flags=0)
            elif vop == "expand":
                v = self.emit(vop, [a], [2] + list(self.R[a].shape), flags=0)
            else:
                v = self.emit(vop, [a], [dim, 0, max(1, size - 1)], flags=0)
        else:
            v = a
        # use v (or a) before the in-place op
        uop = rng.choice(["add_scalar", "mul_scalar", "sum_all", "add", "sin"])
        if uop == "add":
            w = self.emit("add", [v, self.new_leaf(list(self.R[v].shape), rg=True)], flags=0)
        elif uop == "sum_all":
            w = self.emit("sum_all", [v], flags=0)
        elif uop == "sin":
            w = self.emit("sin", [v], flags=0)
        else:
            w = self.emit(uop, [v], dbls=[self.scalar(avoid_zero=0.3)], flags=0)
        # modify the base in place
        op = rng.choice(["mul_scalar_", "add_scalar_", "mul_", "add_", "neg_", "tanh_"])
        if no_history:
            op = rng.choice(["mul_", "add_", "sub_", "copy_"])  # a source with history gives the base history
        self_alias = not no_history and use_view and rng.random() < 0.5 and \
            bshape(self.R[v].shape, self.R[a].shape) == list(self.R[a].shape)
        if self_alias:  # the other operand is a view of the target itself
            self.emit(rng.choice(["add_", "mul_", "sub_"]), [a, v], flags=0)
        elif no_history:
            self.emit(op, [a, x], flags=0)
        elif op in ("mul_", "add_"):
            self.emit(op, [a, self.partner(list(self.R[a].shape), into=True)], flags=0)
        elif op in ("mul_scalar_", "add_scalar_"):
            self.emit(op, [a], dbls=[self.scalar(avoid_zero=0.3)], flags=0)
        else:
            self.emit(op, [a], flags=0)
        # the output combines the earlier use with the modified base (and maybe the view after the op)
        s1 = self.emit("sum_all", [w], flags=0) if self.R[w].dim() else w
        later = v if (use_view and rng.random() < (0.8 if self_alias or no_history else 0.5)) else a
        s2 = self.emit(rng.choice(["sum_all", "mean_all"]), [later], flags=0)
        return self.emit("add", [s1, s2], flags=0)


def _view_inplace_program(self):
    """inplace_view: an in-place op on a view (torch rebases the base's history: CopySlices)."""
    rng = self.rng
    shape = [rng.randint(2, 4), rng.randint(2, 4)] + ([rng.randint(1, 3)] if rng.random() < 0.3 else [])
    x = self.new_leaf(shape, rg=True)
    buffer = rng.random() < 0.4
    if buffer:
        base = self.new_leaf(shape, rg=False)  # a buffer without history, written through a view
    else:
        base = self.emit(rng.choice(["mul_scalar", "add_scalar"]), [x], dbls=[self.scalar(avoid_zero=0.3)], flags=0)
    nd = len(shape)
    vop = rng.choice(["select", "slice", "narrow", "transpose", "unsqueeze", "reshape"])
    dim = rng.randint(-nd, nd - 1)
    if vop == "select":
        v = self.emit(vop, [base], [dim, rng.randint(0, shape[dim] - 1)], flags=0)
    elif vop == "slice":
        v = self.emit(vop, [base], [dim, rng.randint(0, 1), TL_END, rng.choice([1, 2])], flags=0)
    elif vop == "narrow":
        v = self.emit(vop, [base], [dim, 1, shape[dim] - 1], flags=0)
    elif vop == "transpose":
        v = self.emit(vop, [base], [0, -1], flags=0)
    elif vop == "unsqueeze":
        v = self.emit(vop, [base], [0], flags=0)
    else:
        v = self.emit(vop, [base], [-1], flags=0)
    op = rng.choice(["mul_scalar_", "add_", "mul_", "copy_", "relu_", "tanh_", "add_scalar_", "masked_fill_gt_"])
    if buffer:
        op = rng.choice(["add_", "mul_", "copy_"])  # a source with history makes the buffer require grad
    vx = self.R[v].detach()
    if op in ("add_", "mul_", "copy_", "masked_fill_gt_"):
        z = self.new_leaf(list(self.R[v].shape), rg=True)
        if op == "masked_fill_gt_":
            zx = self.R[z].detach()
            self.emit(op, [v, z], dbls=[self.between(zx), self.scalar()], flags=0)
        else:
            self.emit(op, [v, z], flags=0)
    elif op == "relu_" and near(vx):
        raise Reject("kink")
    elif op in ("mul_scalar_", "add_scalar_"):
        self.emit(op, [v], dbls=[self.scalar(avoid_zero=0.3)], flags=0)
    else:
        self.emit(op, [v], flags=0)
    # the output reads the base (and maybe the view)
    s1 = self.emit("mul", [base, self.new_leaf(shape, rg=False)], flags=0)
    if rng.random() < 0.5:
        s2 = self.emit("sum_all", [v], flags=0)
        return self.emit("add", [self.emit("sum_all", [s1], flags=0), s2], flags=0)
    return s1


Gen.view_inplace_program = _view_inplace_program


def _kink_program(self):
    """kinks: inputs exactly on a kink or tie (zeros, equal values), where torch's convention decides:
    relu/abs/sign/leaky_relu at 0, clamp at a bound, maximum/minimum and max_all/min_all ties, norm
    at zero entries and at an all-zero slice, prod with one or more zeros, pow at 0."""
    rng = self.rng
    shape = [rng.randint(2, 4), rng.randint(2, 4)]
    n = numel(shape)
    vals = np.round(self.np.uniform(-2, 2, size=n), 1).astype(np.float32)
    vals[self.np.random_sample(n) < 0.3] = 0.0
    ops = ["relu", "abs", "sign", "leaky_relu", "clamp", "maximum", "minimum", "max_all", "min_all", "norm_all",
           "norm", "prod", "prod_all", "pow_scalar"]
    op = ops[self.serial % len(ops)]  # each op twice over the group
    second = (self.serial // len(ops)) % 2
    if op in ("max_all", "min_all"):
        m = vals.max() if op == "max_all" else vals.min()
        vals[rng.sample(range(n), 2)] = m  # at least two elements share the extreme value
    if op == "norm" and rng.random() < 0.5:
        vals.reshape(shape)[0, :] = 0.0  # an all-zero slice
    if op == "prod_all":
        vals = vals[:min(n, 6)]
        shape = [len(vals)]
        n = len(vals)
    x = self.new_leaf(shape, rg=True, data=vals)
    if op in ("relu", "abs", "sign"):
        r = self.emit(op, [x], flags=0)
    elif op == "leaky_relu":
        r = self.emit(op, [x], dbls=[0.125], flags=0)
    elif op == "clamp":
        lo, hi = sorted(rng.sample(sorted(set(vals.tolist())), 2)) if len(set(vals.tolist())) >= 2 else (0.0, 1.0)
        r = self.emit(op, [x], dbls=[lo, hi], flags=0)
    elif op in ("maximum", "minimum"):
        other = np.where(self.np.random_sample(n) < 0.5, vals,
                         np.round(self.np.uniform(-2, 2, size=n), 1)).astype(np.float32)
        y = self.new_leaf(shape, rg=rng.random() < 0.8, data=other)
        r = self.emit(op, [x, y] if rng.random() < 0.5 else [y, x], flags=0)
    elif op in ("max_all", "min_all", "prod_all"):
        r = self.emit(op, [x], flags=0)
    elif op == "norm_all":
        r = self.emit(op, [x], dbls=[math.inf if second else 1.5], flags=0)
    elif op == "norm":
        r = self.emit(op, [x], [rng.choice([0, 1, -1]), rng.randint(0, 1)], [2.0 if second else 0.5], flags=0)
    elif op == "prod":
        r = self.emit(op, [x], [rng.choice([0, 1, -1]), rng.randint(0, 1)], flags=0)
    else:
        r = self.emit(op, [x], dbls=[rng.choice([2.0, 3.0, 1.0])], flags=0)
    if rng.random() < 0.5:  # and something smooth after it
        r = self.emit("mul", [r, self.new_leaf(list(self.R[r].shape), rg=rng.random() < 0.5)], flags=0)
    return r


Gen.kink_program = _kink_program


def make_program(rng, pid, group):
    """Generates one accepted program (regenerating until torch says it is well posed)."""
    mode = {"accumulate": 1, "autograd_grad": rng.choice([2, 4]), "backward_gradient": 3}.get(group, 0)
    for _attempt in range(400):
        g = Gen(rng, group)
        g.serial = pid
        try:
            if group == "inplace_saved":
                out = g.saved_program()
            elif group == "inplace_alias":
                out = g.alias_program()
            elif group == "inplace_view":
                out = g.view_inplace_program()
            elif group == "kinks":
                out = g.kink_program()
            else:
                out = g.random_program()
        except (Reject, Broken, RuntimeError, IndexError, ValueError):
            continue
        t = g.R[out]
        if mode == 3 and t.dim() == 0 and rng.random() < 0.7:
            continue  # out.backward(W) is more interesting for non-scalar out
        outs = [out]
        if mode != 3 and group not in ("inplace_saved", "inplace_alias", "inplace_view", "kinks") and \
                rng.random() < 0.7:
            # more outputs: registers nothing else consumed, so that more leaves reach the loss
            used, reg = set(), 0
            for it in g.items:
                if it[0] == "L" or not it[1].endswith("_"):
                    if it[0] == "L":
                        used.add(reg)  # leaves are not outputs
                    reg += 1
                if it[0] == "I":
                    used.update(it[3][1:] if it[1].endswith("_") else it[3])
            cands = [k for k in range(len(g.R)) if k not in used and k != out]
            if mode == 4:
                cands = [k for k in cands if g.R[k].requires_grad]
            outs += rng.sample(cands, min(len(cands), rng.randint(1, 2)))
        W = [g.np.normal(size=tuple(g.R[k].shape)).astype(np.float32) for k in outs]
        V = [g.np.normal(size=tuple(g.R[k].shape)).astype(np.float32) for k in outs] if mode == 1 else None
        prog = Program(pid, group, mode, g.items, outs, W, V)
        if mode in (2, 4):
            probe = Program(pid, group, 0, g.items, outs, W)
            r0 = reference(probe, torch.float32)
            if r0["error"] or not any(x is not None for x in r0["grads"]):
                continue
            A = [i for i, x in enumerate(r0["grads"]) if x is not None]
            if len(A) > 1 and rng.random() < 0.3:
                A = rng.sample(A, rng.randint(1, len(A)))
            prog.A = A
        ref = reference(prog, torch.float32)
        if ref["error"]:
            if ref["stage"] != "backward":
                continue
            keep = 0.0
            if "modified by an inplace operation" in ref["error"]:
                keep = 1.0 if group == "inplace_saved" else 0.3
            elif "does not require grad" in ref["error"]:
                keep = 0.05
            if rng.random() < keep:
                prog.ref = ref
                if "modified by an inplace operation" in ref["error"]:
                    alt = reference(prog, torch.float32, snapshot=True)
                    alt64 = reference(prog, torch.float64, snapshot=True)
                    if usable(alt, mode) and not alt64["error"] and well_conditioned(alt, alt64):
                        prog.alt = alt
                return prog
            continue
        if not usable(ref, mode):
            continue
        # float32 must be well-conditioned: torch float32 within a fifth of the tolerance of float64
        r64 = reference(prog, torch.float64)
        if r64["error"] or not well_conditioned(ref, r64):
            continue
        prog.ref = ref
        return prog
    raise SystemExit("test_autograd.py: could not generate a program for group %s" % group)


def usable(ref, mode):
    """A successful torch result with finite, moderate gradients."""
    if ref["error"] or not math.isfinite(ref["loss"]):
        return False
    grads = [x for x in ref["grads"] + (ref["q"] or []) if x is not None]
    if not grads or mode in (2, 4) and not ref["q"]:
        return False
    return all(np.isfinite(x).all() and (x.size == 0 or np.abs(x).max() <= 1e4) for x in grads)


def tol_ok(got, ref, floor, frac=1.0):
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    tol = frac * (RTOL * np.abs(ref) + RTOL * max(1.0, floor))
    return bool(np.all(np.abs(got - ref) <= tol))


def well_conditioned(r32, r64):
    if not tol_ok(r32["loss"], r64["loss"], r64["lossabs"], 0.2):
        return False
    for a, b in zip(r32["grads"] + (r32["q"] or []), r64["grads"] + (r64["q"] or [])):
        if (a is None) != (b is None):
            return False
        if a is not None and a.size and not tol_ok(a, b, float(np.abs(b).max()), 0.2):
            return False
    return True


# ================================================================= running and comparing

def parse_results(path):
    res = {}
    if not os.path.exists(path):
        return res
    cur = {"G": {}, "Q": {}}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            tag = line[0]
            if tag in "GQ":
                parts = line.split()
                k = int(parts[1])
                if parts[2] == "none":
                    cur[tag][k] = None
                else:
                    dt, nd = int(parts[2]), int(parts[3])
                    shape = [int(s) for s in parts[4:4 + nd]]
                    vals = np.array([float(v) for v in parts[4 + nd:]], dtype=np.float64)
                    cur[tag][k] = (dt, shape, vals)
            elif tag == "R":
                p = line.split()
                cur.update(id=int(p[1]), status=int(p[2]), where=int(p[3]), live=int(p[4]), storages=int(p[5]),
                           loss=float(p[6]))
            elif tag == "M":
                cur["msg"] = line[2:]
            elif tag == "Z":
                if "id" in cur:
                    res[cur["id"]] = cur
                cur = {"G": {}, "Q": {}}
    return res


def run_runner(runner, progs, tmpdir, timeout=120):
    ppath = os.path.join(tmpdir, "programs.txt")
    rpath = os.path.join(tmpdir, "results.txt")
    with open(ppath, "w") as f:
        for p in progs:
            f.write(p.text())
    ids = [p.pid for p in progs]
    crashes = {}
    first = 0
    deadline = time.time() + timeout
    while True:
        try:
            pr = subprocess.run([runner, ppath, rpath, str(first)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                timeout=max(5, deadline - time.time()))
            rc, err = pr.returncode, pr.stderr.decode(errors="replace")
        except subprocess.TimeoutExpired:
            rc, err = "timeout", ""
        res = parse_results(rpath)
        if rc == 0:
            break
        missing = [i for i in ids if i >= first and i not in res]
        if not missing:
            break
        crashes[missing[0]] = "runner died (exit %s) %s" % (rc, err.strip()[-300:])
        first = missing[0] + 1
        if rc == "timeout" or first > ids[-1]:
            break
    return res, crashes


def fmt(a, n=8):
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    s = np.array2string(a[:n], precision=7, separator=", ", max_line_width=200)
    return s + (" ... (%d values)" % a.size if a.size > n else "")


def check(prog, got):
    """Returns a list of problems (empty = pass)."""
    ref = prog.ref
    errs = []
    if got.get("live", 0) != 0 or got.get("storages", 0) != 0:
        errs.append("leak: live tensors %+d, storages %+d after tl_scope_end" % (got["live"], got["storages"]))
    if ref["error"]:
        if got["status"] == 0:
            if prog.alt is None:
                errs.append("torch raises in backward (%s) but tensorlite succeeded" % ref["error"][:160])
                return errs
            # torch's version check fired. Which tensors torch saves is partly an implementation
            # detail (1.13's MeanBackward1 saves its whole input), so a tensorlite that does not raise
            # passes when its gradients are the ones torch computes with every saved tensor
            # snapshotted (the values each op actually saw).
            ref = prog.alt
        elif got["where"] != -1:
            errs.append("torch raises in backward (%s); tensorlite failed earlier, at item %d: %s"
                        % (ref["error"][:120], got["where"], got.get("msg", "")))
            return errs
        else:
            return errs
    if got["status"] != 0:
        errs.append("tensorlite failed (status %d at %s): %s" % (
            got["status"], "backward" if got["where"] == -1 else "item %d" % got["where"], got.get("msg", "")))
        return errs
    if not tol_ok(got["loss"], ref["loss"], ref["lossabs"]):
        errs.append("loss: tensorlite %.9g, torch %.9g" % (got["loss"], ref["loss"]))

    def cmp(name, g, r, leaf_shape):
        if r is None:
            if g is not None:
                errs.append("%s: torch None, tensorlite has a gradient %s" % (name, fmt(g[2])))
            return
        if g is None:
            errs.append("%s: torch has a gradient, tensorlite None" % name)
            return
        dt, shape, vals = g
        if dt != F32:
            errs.append("%s: dtype code %d, expected float32" % (name, dt))
        if list(shape) != list(r.shape) or (leaf_shape is not None and list(shape) != list(leaf_shape)):
            errs.append("%s: shape %s, torch %s" % (name, shape, list(r.shape)))
            return
        floor = float(np.abs(r).max()) if r.size else 0.0
        if not tol_ok(vals, r.reshape(-1), floor):
            bad = int(np.argmax(np.abs(vals - r.reshape(-1)) - RTOL * np.abs(r.reshape(-1))))
            errs.append("%s: worst element %d: tensorlite %.9g, torch %.9g\n      tensorlite %s\n      torch      %s"
                        % (name, bad, vals[bad], r.reshape(-1)[bad], fmt(vals), fmt(r)))

    leaf_shapes = [it[2] for it in prog.items if it[0] == "L"]
    for i, r in enumerate(ref["grads"]):
        if prog.mode in (2, 4) and got["G"].get(i, "missing") is not None:
            errs.append("leaf %d: .grad changed by tl_autograd_grad" % i)
            continue
        cmp("leaf %d grad" % i, got["G"].get(i), r, leaf_shapes[i])
    if ref["q"] is not None:
        for k, r in enumerate(ref["q"]):
            cmp("autograd_grad[%d] (leaf %d)" % (k, prog.A[k]), got["Q"].get(k), r, leaf_shapes[prog.A[k]])
    return errs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runner", default=os.path.join(BUILD, "grad_runner"))
    ap.add_argument("--only", default="")
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("-v", action="store_true", help="print every failure in full")
    ap.add_argument("--dump", type=int, default=-1, help="print program ID and its torch result, then exit")
    ap.add_argument("--counts", action="store_true", help="print how often each op occurs, then exit")
    args = ap.parse_args()
    t0 = time.time()
    only = set(x for x in args.only.split(",") if x)
    torch.manual_seed(args.seed)
    progs = []
    pid = 0
    for group, n in GROUPS:
        grng = random.Random("%d/%s" % (args.seed, group))  # each group independent of the others
        for _ in range(n):
            if not only or group in only:
                progs.append(make_program(grng, pid, group))
            pid += 1
    if args.dump >= 0:
        for p in progs:
            if p.pid == args.dump:
                print(p.pretty())
                print("torch:", p.ref)
                print(p.text())
        return 0
    if args.counts:
        cnt = {}
        for p in progs:
            for it in p.items:
                if it[0] == "I":
                    cnt[it[1]] = cnt.get(it[1], 0) + 1
        for op in sorted(OPS):
            print("%-16s %d" % (op, cnt.get(op, 0)))
        print("programs %d, modes %s" % (len(progs), {m: sum(1 for p in progs if p.mode == m) for m in range(5)}))
        return 0
    gen_time = time.time() - t0
    with tempfile.TemporaryDirectory() as tmp:
        res, crashes = run_runner(args.runner, progs, tmp)
    failures = []
    stats = {}
    for p in progs:
        st = stats.setdefault(p.group, [0, 0, 0])
        if p.ref["error"]:
            st[2] += 1
        if p.pid in crashes:
            errs = [crashes[p.pid]]
        elif p.pid not in res:
            errs = ["no result from the runner"]
        else:
            errs = check(p, res[p.pid])
        if errs:
            st[1] += 1
            failures.append((p, errs))
        else:
            st[0] += 1
    os.makedirs(BUILD, exist_ok=True)
    with open(os.path.join(BUILD, "autograd_failures.txt"), "w") as f:
        for p, errs in failures:
            f.write("=== program %d (%s)\n%s\n" % (p.pid, p.group, p.pretty()))
            for e in errs:
                f.write("  - %s\n" % e)
            if p.ref["error"]:
                f.write("  torch: %s\n" % p.ref["error"])
            f.write("\n")
    shown = {}
    for p, errs in failures:
        shown[p.group] = shown.get(p.group, 0) + 1
        if not args.v and shown[p.group] > 3:
            continue
        print("FAIL program %d (%s)" % (p.pid, p.group))
        if args.v or shown[p.group] <= 3:
            print("  " + p.pretty().replace("\n", "\n  "))
        for e in errs[:6 if not args.v else None]:
            print("  - " + e)
    total_p = total_f = 0
    for group, _n in GROUPS:
        if group not in stats:
            continue
        p, f, e = stats[group]
        total_p += p
        total_f += f
        extra = " (%d where torch raises in backward)" % e if e else ""
        print("%s: %d passed, %d failed%s" % (group, p, f, extra))
    print("time: %.1f s (generation and torch %.1f s)" % (time.time() - t0, gen_time))
    if failures:
        print("details: build/autograd_failures.txt")
    print("%d passed, %d failed" % (total_p, total_f))
    return 1 if total_f else 0


if __name__ == "__main__":
    sys.exit(main())
