#!/usr/bin/python3
"""tests/torch/test_modules.py - real PyTorch 1.13 as the oracle for tensorlite's >>modules.

Usage (run_modules.sh does this): test_modules.py --runner build/modules_runner [--work DIR] [-v]
                                  [--only bar1,bar2,bar3,bar4]

The runner (tests/torch/modules_runner.c) is the C side; this script writes every case's inputs
with torch.save, runs the runner once per group (restarting after a crash), reads what it wrote with
torch.load and compares with torch doing the same thing.

bar1  layers. For every layer (Linear, Conv2d with stride/padding/'same'/dilation/groups/no bias,
      MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, BatchNorm1d/2d with affine/track_running_stats/
      momentum incl. None, LayerNorm, Dropout, Embedding, Flatten, Identity, ReLU, LeakyReLU,
      Sigmoid, Tanh, GELU, SiLU, Softmax, LogSoftmax) in several configurations: torch's module
      gets random parameters and buffers, torch.save(m.state_dict()) goes to the runner, which
      loads it with tl_load + tl_module_load_state_dict into the layer tensorlite built from the
      same options. Both run in eval mode, train mode (Dropout: the same tl_manual_seed /
      torch.manual_seed, so the mask must be torch's), and for BatchNorm also several train steps
      (running statistics, num_batches_tracked) and train-then-eval. Compared: the output, the
      gradient w.r.t. the input and every parameter (backward with a random gy), and the state_dict
      afterwards. Losses are NOT repeated here: tests/torch/test_functional.py (tl_nll_loss,
      tl_cross_entropy/_ex with class indices, probabilities, weight, ignore_index,
      label_smoothing; mse, l1, smooth_l1, bce, bce_with_logits with pos_weight; every reduction)
      already compares them with torch; cross_entropy appears here in the bar4 training steps.
bar2  the SEED_NOTES models (MLP as Sequential and as a class, MySequential, FixedHiddenMLP,
      NestMLP, chimera, block2, rgnet, the shared-Linear net, CenteredLayer (alone and after a
      Linear), MyLinear, LeNet TheModelClass, SimpleNet with BatchNorm1d in train and eval): the
      state_dict tensorlite saves (tl_save_state_dict) read by torch.load has torch's keys, order,
      shapes, dtypes, requires_grad flags and _metadata (versions); repr equals print(model); the
      names of named_parameters/named_buffers/named_modules and the parameter count equal torch's;
      with torch's weights loaded, forward and backward equal torch's. The repr of every bar1 layer
      is checked here too.
bar3  load_state_dict: the runner loads torch's initial weights, then a modified state_dict with
      strict or not. The error text after "tl_module_load_state_dict: " must equal
      str(RuntimeError) of torch's load_state_dict, success must match, the missing/unexpected
      keys of a successful load must equal torch's, and the model's state afterwards must equal
      torch's (torch copies every matching tensor even when it raises at the end).
bar4  seeded initialisation: after tl_manual_seed(s) / torch.manual_seed(s), Linear, Conv2d
      (with groups, no bias, 'same'), Embedding, BatchNorm2d, LayerNorm, MLP, rgnet, MyLinear,
      FixedHiddenMLP, LeNet and SimpleNet hold exactly torch's weights (bit for bit), nn.init's
      functions fill exactly torch's values, several layers drawn from one stream followed by
      rand/randn match, and a training step (forward, cross_entropy, backward) of seeded LeNet and
      SimpleNet gives torch's logits, loss and gradients (inputs from a file, or drawn from the
      same stream after the init).

Tolerance (float32): |got - ref| <= 1e-5 * |ref| + 1e-5 * max|ref| + slack elementwise; the second
term is relative to the compared tensor's magnitude (float32 sums in a different order differ by a
few ulps of the largest terms, not of each result); slack is 3 * max|torch float32 - torch float64|
on that tensor (torch's own rounding error: it matters only for ill-conditioned results such as the
exactly-zero gradient of a bias that feeds BatchNorm; Dropout cases get none). Integers, seeded
init weights, masks and load_state_dict results are compared exactly.

Ends with one line per bar and then exactly "N passed, N failed".
"""
import argparse
import collections
import copy
import os
import shutil
import subprocess
import sys
import tempfile
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

warnings.filterwarnings("ignore")
torch.set_num_threads(1)

COUNTS = collections.OrderedDict((b, [0, 0]) for b in ("bar1", "bar2", "bar3", "bar4"))
VERBOSE = False
RTOL = 1e-5


def check(bar, ok, what, detail=""):
    COUNTS[bar][0 if ok else 1] += 1
    if not ok:
        print("FAIL [%s] %s%s" % (bar, what, ("\n     " + str(detail).replace("\n", "\n     ")) if detail else ""))
    elif VERBOSE:
        print("ok   [%s] %s" % (bar, what))
    return ok


def close(got, ref, exact=False, slack=0.0):
    """(ok, detail) for two tensors (or None). slack: extra absolute tolerance (see SLACK)."""
    if got is None or ref is None:
        return (got is None and ref is None), "got %s, want %s" % (
            "None" if got is None else "a tensor", "None" if ref is None else "a tensor")
    if not isinstance(got, torch.Tensor):
        return False, "got a %s" % type(got).__name__
    if got.dtype != ref.dtype or tuple(got.shape) != tuple(ref.shape):
        return False, "dtype/shape %s%s, want %s%s" % (got.dtype, list(got.shape), ref.dtype, list(ref.shape))
    if exact or not ref.is_floating_point():
        if torch.equal(got, ref) or (ref.is_floating_point() and torch.equal(got.isnan(), ref.isnan())
                                     and torch.equal(got.nan_to_num(0), ref.nan_to_num(0))):
            return True, ""
        diff = (got.double() - ref.double()).abs()
        i = int(diff.argmax()) if diff.numel() else 0
        return False, "not exactly equal: %d of %d differ, first max at flat %d: got %r want %r" % (
            int((got != ref).sum()), ref.numel(), i, got.flatten()[i].item(), ref.flatten()[i].item())
    g, r = got.double(), ref.double()
    scale = r.abs().max().item() if r.numel() else 0.0
    tol = RTOL * r.abs() + RTOL * scale + slack
    both_nan = g.isnan() & r.isnan()
    bad = ~((g - r).abs() <= tol) & ~both_nan & ~(g == r)
    if not bad.any():
        return True, ""
    i = int(((g - r).abs() - tol).nan_to_num(float("inf")).argmax())
    return False, "%d of %d elements off; worst flat %d: got %.9g want %.9g (|ref| max %.3g, slack %.3g)" % (
        int(bad.sum()), r.numel(), i, g.flatten()[i].item(), r.flatten()[i].item(), scale, slack)


# ================================================================ runner plumbing

def run_group(runner, work, mode, names):
    """Runs the runner over DIR/<mode>.txt, restarting after a crash. Returns {case: problem} for
    cases that crashed or leaked."""
    problems = {}
    first = 0
    while first < len(names):
        try:
            r = subprocess.run([runner, mode, work, str(first)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=300)
            out, err, rc = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace"), r.returncode
        except subprocess.TimeoutExpired as e:
            out, err, rc = (e.stdout or b"").decode(errors="replace"), "timeout", -1
        started = [l[5:].strip() for l in out.splitlines() if l.startswith("CASE ")]
        for l in out.splitlines():
            if l.startswith("LEAK "):
                problems[l.split()[1]] = l
        if "DONE" in out.splitlines():
            break
        last = started[-1] if started else names[first]
        problems[last] = "runner crashed (exit %s) in this case: %s" % (rc, err.strip()[-1500:])
        first = names.index(last) + 1
    return problems


def load_out(work, case):
    p = os.path.join(work, case + ".out.pt")
    if os.path.exists(p):
        return torch.load(p), ""
    e = os.path.join(work, case + ".err")
    if os.path.exists(e):
        return None, open(e).read().strip()
    return None, "no output"


def grads_of(m):
    return collections.OrderedDict(("grad." + n, p.grad) for n, p in m.named_parameters() if p.grad is not None)


def state_of(m):
    return collections.OrderedDict(("sd." + k, v.detach().clone()) for k, v in m.state_dict().items())


def own_error(ref32, ref64):
    """SLACK: for every float tensor, SLACK_FACTOR * max|torch float32 - torch float64|, i.e. a few
    times torch's own float32 rounding error on that tensor. It only matters where the result is
    ill-conditioned (a bias feeding BatchNorm has an exactly-zero gradient, so both libraries
    return float32 noise of the size of the cancelled terms); elsewhere it is far below 1e-5."""
    slack = {}
    for k, v in ref32.items():
        w = ref64.get(k) if ref64 else None
        if isinstance(v, torch.Tensor) and v.is_floating_point() and isinstance(w, torch.Tensor) and \
                w.shape == v.shape and v.numel():
            slack[k] = SLACK_FACTOR * (v.double() - w.double()).abs().max().item()
    return slack


SLACK_FACTOR = 3.0


def compare_outputs(bar, case, out, ref, keys=None, slack=None):
    """Every tensor key of ref must be in out and close; out must not have extra grad.* keys."""
    for k, v in ref.items():
        if keys is not None and k not in keys:
            continue
        if not isinstance(v, torch.Tensor):
            continue
        ok, d = close(out.get(k), v, exact=k.startswith("sd.") and not v.is_floating_point(),
                      slack=(slack or {}).get(k, 0.0))
        check(bar, ok, "%s: %s" % (case, k), d)
    extra = [k for k in out if k.startswith("grad.") and k not in ref]
    if extra:
        check(bar, False, "%s: gradients torch does not have" % case, ", ".join(extra))


# ================================================================ models (SEED_NOTES)

class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(20, 256)
        self.out = nn.Linear(256, 10)

    def forward(self, X):
        return self.out(F.relu(self.hidden(X)))


class MySequential(nn.Module):
    def __init__(self, *args):
        super().__init__()
        for idx, module in enumerate(args):
            self._modules[str(idx)] = module

    def forward(self, X):
        for block in self._modules.values():
            X = block(X)
        return X


class FixedHiddenMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.rand_weight = torch.rand((20, 20), requires_grad=False)
        self.linear = nn.Linear(20, 20)

    def forward(self, X):
        X = self.linear(X)
        X = F.relu(torch.mm(X, self.rand_weight) + 1)
        X = self.linear(X)
        while X.abs().sum() > 1:
            X /= 2
        return X.sum()


class NestMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU())
        self.linear = nn.Linear(32, 16)

    def forward(self, X):
        return self.linear(self.net(X))


def block1():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU())


def block2():
    net = nn.Sequential()
    for i in range(4):
        net.add_module(f'block {i}', block1())
    return net


def shared_net():
    shared = nn.Linear(8, 8)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), shared, nn.ReLU(), shared, nn.ReLU(), nn.Linear(8, 1))


class CenteredLayer(nn.Module):
    def forward(self, X):
        return X - X.mean()


class MyLinear(nn.Module):
    def __init__(self, in_units, units):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_units, units))
        self.bias = nn.Parameter(torch.randn(units,))

    def forward(self, X):
        return F.relu(torch.matmul(X, self.weight.data) + self.bias.data)


class TheModelClass(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(-1, 16 * 5 * 5)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class SimpleNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 20)
        self.bn1 = nn.BatchNorm1d(20)
        self.fc2 = nn.Linear(20, 5)

    def forward(self, x):  # SEED_NOTES gives only __init__
        return self.fc2(F.relu(self.bn1(self.fc1(x))))


class ScaleNet(nn.Module):  # a 0-dim parameter
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(2.0))
        self.fc = nn.Linear(3, 2)


MODELS = collections.OrderedDict([
    ("mlp_seq", lambda: nn.Sequential(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10))),
    ("mlp", MLP),
    ("mysequential", lambda: MySequential(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10))),
    ("fixedhidden", FixedHiddenMLP),
    ("nestmlp", NestMLP),
    ("chimera", lambda: nn.Sequential(NestMLP(), nn.Linear(16, 20), FixedHiddenMLP())),
    ("block2", block2),
    ("rgnet", lambda: nn.Sequential(block2(), nn.Linear(4, 1))),
    ("shared", shared_net),
    ("centered", CenteredLayer),
    ("centered_net", lambda: nn.Sequential(nn.Linear(8, 128), CenteredLayer())),
    ("mylinear", lambda: MyLinear(5, 3)),
    ("lenet", TheModelClass),
    ("simplenet", SimpleNet),
    ("scalenet", ScaleNet),
    ("bnseq", lambda: nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Sequential(nn.Linear(4, 2)))),
    ("wide", lambda: nn.Sequential(*[nn.Linear(2, 2) for _ in range(40)])),
])
# plain tensor attributes torch keeps outside the registry; tensorlite holds them as non-persistent buffers
EXTRA_BUFFERS = {"fixedhidden": {"rand_weight": lambda m: m.rand_weight},
                 "chimera": {"2.rand_weight": lambda m: m[2].rand_weight}}

G = torch.Generator().manual_seed(20240611)  # all test data; the global generator is left to the cases


def randn(*shape):
    return torch.randn(*shape, generator=G)


def rand(*shape):
    return torch.rand(*shape, generator=G)


def perturb(m):
    """Random parameters and buffers, so that loading matters (LayerNorm/BatchNorm start at 1/0)."""
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "norm" in type(m).__name__.lower() and name.endswith("weight"):
                p.copy_(rand(*p.shape) + 0.5)
            else:
                p.copy_(randn(*p.shape) * 0.5)
        for name, b in m.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(randn(*b.shape) * 0.5)
            elif name.endswith("running_var"):
                b.copy_(rand(*b.shape) * 1.5 + 0.5)
            elif name.endswith("num_batches_tracked"):
                b.fill_(3)


# ================================================================ bar 1: layers

def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def L_conv(cin, cout, k, stride=1, padding=0, dilation=1, groups=1, bias=True):
    kh, kw = pair(k)
    sh, sw = pair(stride)
    dh, dw = pair(dilation)
    same = padding == "same"
    ph, pw = (0, 0) if same else pair(padding)
    spec = "conv2d %d %d %d %d %d %d %d %d %d %d %d %d %d" % (cin, cout, kh, kw, sh, sw, ph, pw, dh, dw, groups,
                                                            int(same), int(bias))
    return spec, lambda: nn.Conv2d(cin, cout, k, stride=stride, padding=padding, dilation=dilation, groups=groups,
                                   bias=bias)


def L_maxpool(k, stride=None, padding=0, dilation=1, ceil_mode=False):
    kh, kw = pair(k)
    sh, sw = pair(stride if stride is not None else k)
    ph, pw = pair(padding)
    dh, dw = pair(dilation)
    spec = "maxpool2d %d %d %d %d %d %d %d %d %d" % (kh, kw, sh, sw, ph, pw, dh, dw, int(ceil_mode))
    return spec, lambda: nn.MaxPool2d(k, stride, padding, dilation, ceil_mode=ceil_mode)


def L_avgpool(k, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    kh, kw = pair(k)
    sh, sw = pair(stride if stride is not None else k)
    ph, pw = pair(padding)
    spec = "avgpool2d %d %d %d %d %d %d %d %d" % (kh, kw, sh, sw, ph, pw, int(ceil_mode), int(count_include_pad))
    return spec, lambda: nn.AvgPool2d(k, stride, padding, ceil_mode=ceil_mode, count_include_pad=count_include_pad)


def L_bn(dim, C, eps=1e-5, momentum=0.1, affine=True, track=True):
    spec = "bn%dd %d %r %r %d %d" % (dim, C, eps, -1.0 if momentum is None else momentum, int(affine), int(track))
    cls = nn.BatchNorm1d if dim == 1 else nn.BatchNorm2d
    return spec, lambda: cls(C, eps=eps, momentum=momentum, affine=affine, track_running_stats=track)


def L_ln(shape, eps=1e-5, affine=True):
    shape = [shape] if isinstance(shape, int) else list(shape)
    spec = "layernorm %r %d %d %s" % (eps, int(affine), len(shape), " ".join(str(s) for s in shape))
    return spec, lambda: nn.LayerNorm(shape, eps=eps, elementwise_affine=affine)


def layer_cases():
    """(name, spec, make, xs (list of inputs), mode (0 eval, 1 train, 2 train then eval), seed)."""
    cases = []

    def add(name, spec_make, xs, modes=(0, 1), seed=0):
        spec, make = spec_make
        for mode in modes:
            cases.append(("%s_%s" % (name, ("eval", "train", "train_eval")[mode]), spec, make, xs, mode, seed))

    def simple(name, spec, make):
        return spec, make

    # Linear
    add("linear_4_3", simple("", "linear 4 3 1", lambda: nn.Linear(4, 3)), [randn(2, 4)])
    add("linear_5_2_nobias_3d", simple("", "linear 5 2 0", lambda: nn.Linear(5, 2, bias=False)), [randn(3, 2, 5)])
    add("linear_1d_input", simple("", "linear 6 4 1", lambda: nn.Linear(6, 4)), [randn(6)])
    add("linear_wide", simple("", "linear 64 33 1", lambda: nn.Linear(64, 33)), [randn(5, 64)])
    # Conv2d
    add("conv_3_6_5", L_conv(3, 6, 5), [randn(2, 3, 12, 12)])
    add("conv_stride2_pad1", L_conv(2, 4, 3, stride=2, padding=1), [randn(2, 2, 9, 7)])
    add("conv_rect_stride_pad", L_conv(3, 2, (3, 2), stride=(2, 1), padding=(1, 2)), [randn(1, 3, 8, 6)])
    add("conv_same_3x5", L_conv(2, 4, (3, 5), padding="same"), [randn(1, 2, 8, 9)])
    add("conv_same_even_dil", L_conv(2, 3, (2, 4), padding="same", dilation=(2, 1)), [randn(2, 2, 6, 7)])
    add("conv_dil2_groups2_nobias", L_conv(4, 6, 3, dilation=2, groups=2, bias=False), [randn(2, 4, 10, 10)])
    add("conv_depthwise", L_conv(3, 3, 3, stride=(1, 2), padding=(2, 1), groups=3), [randn(2, 3, 7, 8)])
    add("conv_1x1", L_conv(5, 7, 1), [randn(2, 5, 4, 3)])
    # MaxPool2d
    add("maxpool_2", L_maxpool(2, 2), [randn(2, 3, 8, 8)])
    add("maxpool_3_s2_p1", L_maxpool(3, 2, 1), [randn(1, 2, 9, 9)])
    add("maxpool_3_s2_ceil", L_maxpool(3, 2, ceil_mode=True), [randn(1, 2, 8, 8)])
    add("maxpool_2_dil2", L_maxpool(2, 1, 0, dilation=2), [randn(1, 1, 9, 9)])
    add("maxpool_rect", L_maxpool((2, 3), (1, 2)), [randn(2, 2, 6, 9)])
    add("maxpool_3d_input", L_maxpool(2, 2), [randn(3, 6, 6)])
    # AvgPool2d
    add("avgpool_2", L_avgpool(2), [randn(2, 3, 8, 8)])
    add("avgpool_3_s2_p1", L_avgpool(3, 2, 1), [randn(1, 2, 9, 9)])
    add("avgpool_3_s2_p1_nocip", L_avgpool(3, 2, 1, count_include_pad=False), [randn(1, 2, 9, 9)])
    add("avgpool_3_s2_p1_ceil", L_avgpool(3, 2, 1, ceil_mode=True), [randn(1, 2, 8, 8)])
    add("avgpool_rect", L_avgpool((2, 3), (2, 1)), [randn(2, 2, 6, 9)])
    # AdaptiveAvgPool2d
    for oh, ow, shape in ((1, 1, (2, 3, 7, 7)), (3, 2, (1, 2, 8, 5)), (4, 4, (1, 1, 10, 10)), (5, 7, (1, 2, 5, 7)),
                          (3, 3, (2, 7, 7))):
        add("adaptive_%dx%d_%s" % (oh, ow, "x".join(map(str, shape))),
            simple("", "adaptiveavg %d %d" % (oh, ow), (lambda oh=oh, ow=ow: nn.AdaptiveAvgPool2d((oh, ow)))),
            [randn(*shape)])
    # BatchNorm1d / 2d: one batch, several train steps (running stats), eval, train then eval
    bn_cfgs = [
        ("bn1d", L_bn(1, 4), (8, 4)),
        ("bn1d_3d", L_bn(1, 3), (6, 3, 5)),
        ("bn1d_mom03_eps1e-3", L_bn(1, 4, eps=1e-3, momentum=0.3), (5, 4)),
        ("bn1d_mom_none", L_bn(1, 4, momentum=None), (6, 4)),
        ("bn1d_noaffine", L_bn(1, 4, affine=False), (7, 4)),
        ("bn1d_notrack", L_bn(1, 4, track=False), (6, 4)),
        ("bn1d_noaffine_notrack", L_bn(1, 3, affine=False, track=False), (4, 3, 2)),
        ("bn2d", L_bn(2, 3), (4, 3, 5, 5)),
        ("bn2d_mom_none", L_bn(2, 3, momentum=None), (2, 3, 4, 4)),
        ("bn2d_noaffine_mom05", L_bn(2, 2, momentum=0.5, affine=False), (3, 2, 3, 4)),
        ("bn2d_notrack", L_bn(2, 3, track=False), (2, 3, 3, 3)),
    ]
    for name, sm, shape in bn_cfgs:
        add(name, sm, [randn(*shape) * 2 + 1], modes=(0, 1))
        add(name + "_4steps", sm, [randn(*shape) * 2 + 1 for _ in range(4)], modes=(1, 2))
    # LayerNorm
    add("layernorm_5", L_ln(5), [randn(3, 5) * 3 + 1])
    add("layernorm_4x5", L_ln((4, 5)), [randn(2, 3, 4, 5)])
    add("layernorm_noaffine_eps1e-3", L_ln(6, eps=1e-3, affine=False), [randn(4, 6)])
    add("layernorm_3x2x2", L_ln((3, 2, 2)), [randn(2, 3, 2, 2)])
    # Dropout: eval is the identity; train must draw torch's mask for the same seed
    add("dropout_05", simple("", "dropout 0.5", lambda: nn.Dropout(0.5)), [randn(4, 6)], modes=(0, 1), seed=0)
    add("dropout_05_seed7", simple("", "dropout 0.5", lambda: nn.Dropout(0.5)), [randn(64)], modes=(1,), seed=7)
    add("dropout_02_seed123", simple("", "dropout 0.2", lambda: nn.Dropout(0.2)), [randn(3, 5, 7)], modes=(1,),
        seed=123)
    add("dropout_09_seed42_big", simple("", "dropout 0.9", lambda: nn.Dropout(0.9)), [randn(50, 40)], modes=(0, 1),
        seed=42)
    add("dropout_02_twice", simple("", "dropout 0.2", lambda: nn.Dropout(0.2)), [randn(5, 5), randn(5, 5)],
        modes=(1,), seed=3)
    add("dropout_0", simple("", "dropout 0.0", lambda: nn.Dropout(0.0)), [randn(3, 4)], modes=(1,))
    add("dropout_p_many_digits", simple("", "dropout 0.123456789", lambda: nn.Dropout(0.123456789)), [randn(6, 7)],
        modes=(0, 1), seed=11)
    add("dropout_1", simple("", "dropout 1.0", lambda: nn.Dropout(1.0)), [randn(3, 4)], modes=(0, 1))
    # Embedding
    add("embedding_10_3", simple("", "embedding 10 3", lambda: nn.Embedding(10, 3)),
        [torch.randint(0, 10, (2, 4), generator=G)])
    add("embedding_repeats", simple("", "embedding 7 5", lambda: nn.Embedding(7, 5)),
        [torch.tensor([0, 3, 3, 6, 1, 3, 0, 2, 6, 6, 5, 4])])
    # Flatten / Identity
    add("flatten", simple("", "flatten 1 -1", lambda: nn.Flatten()), [randn(2, 3, 4, 5)])
    add("flatten_0_-1", simple("", "flatten 0 -1", lambda: nn.Flatten(0, -1)), [randn(2, 3, 4)])
    add("flatten_1_2", simple("", "flatten 1 2", lambda: nn.Flatten(1, 2)), [randn(2, 3, 4, 5)])
    add("flatten_-3_-2", simple("", "flatten -3 -2", lambda: nn.Flatten(-3, -2)), [randn(2, 3, 4, 5)])
    add("identity", simple("", "identity", lambda: nn.Identity()), [randn(3, 4)])
    # activations
    for name, spec, make, shape in (
            ("relu", "relu", nn.ReLU, (3, 5)), ("relu_4d", "relu", nn.ReLU, (2, 3, 2, 2)),
            ("leakyrelu", "leakyrelu 0.01", nn.LeakyReLU, (3, 5)),
            ("leakyrelu_02", "leakyrelu 0.2", lambda: nn.LeakyReLU(0.2), (4, 6)),
            ("leakyrelu_1.0", "leakyrelu 1.0", lambda: nn.LeakyReLU(1.0), (4, 6)),
            ("sigmoid", "sigmoid", nn.Sigmoid, (3, 5)), ("tanh", "tanh", nn.Tanh, (3, 5)),
            ("gelu", "gelu 0", nn.GELU, (3, 5)), ("gelu_tanh", "gelu 1", lambda: nn.GELU("tanh"), (4, 6)),
            ("silu", "silu", nn.SiLU, (3, 5)),
            ("softmax_1", "softmax 1", lambda: nn.Softmax(dim=1), (3, 5)),
            ("softmax_-1_3d", "softmax -1", lambda: nn.Softmax(dim=-1), (2, 3, 4)),
            ("softmax_0", "softmax 0", lambda: nn.Softmax(dim=0), (4, 3)),
            ("logsoftmax_1", "logsoftmax 1", lambda: nn.LogSoftmax(dim=1), (3, 5)),
            ("logsoftmax_2_3d", "logsoftmax 2", lambda: nn.LogSoftmax(dim=2), (2, 3, 4)),
            ("logsoftmax_0", "logsoftmax 0", lambda: nn.LogSoftmax(dim=0), (5, 2))):
        add(name, simple("", spec, make), [randn(*shape) * 2])
    return cases


def torch_layer_ref(m, xs, mode, seed, gy=None, double=False):
    """Runs what the runner runs, on a deep copy (in float64 with double); returns (ref dict, gy)."""
    m = copy.deepcopy(m)
    if double:
        m.double()
        xs = [x.double() if x.is_floating_point() else x for x in xs]
        gy = gy.double()
    m.train(mode != 0)
    torch.manual_seed(seed)
    y = None
    for i, x in enumerate(xs):
        if i == len(xs) - 1:
            if mode == 2:
                m.eval()
            x = x.clone()
            if x.is_floating_point():
                x.requires_grad_(True)
        y = m(x)
    if gy is None:
        gy = randn(*y.shape)
    ref = collections.OrderedDict(y=y.detach().clone())
    if y.requires_grad:
        y.backward(gy)
    if x.grad is not None:
        ref["gx"] = x.grad
    ref.update(grads_of(m))
    ref.update(state_of(m))
    return ref, gy


def bar1(runner, work, reprs):
    cases = layer_cases()
    refs = {}
    with open(os.path.join(work, "layers.txt"), "w") as f:
        for name, spec, make, xs, mode, seed in cases:
            torch.manual_seed(0)
            m = make()
            perturb(m)
            torch.save(m.state_dict(), os.path.join(work, name + ".sd.pt"))
            ref, gy = torch_layer_ref(m, xs, mode, seed)
            slack = {}
            if not isinstance(m, nn.Dropout):  # (float64 draws another mask)
                slack = own_error(ref, torch_layer_ref(m, xs, mode, seed, gy, double=True)[0])
            torch.save({"xs": xs, "gy": gy, "train": mode, "seed": seed}, os.path.join(work, name + ".in.pt"))
            refs[name] = (ref, repr(m), slack)
            f.write("%s %s\n" % (name, spec))
    names = [c[0] for c in cases]
    problems = run_group(runner, work, "layers", names)
    for name in names:
        ref, rep, slack = refs[name]
        if name in problems:
            check("bar1", False, "%s: runner" % name, problems[name])
            continue
        out, err = load_out(work, name)
        if out is None:
            check("bar1", False, "%s: no result" % name, err)
            continue
        compare_outputs("bar1", name, out, ref, slack=slack)
        if rep not in reprs:
            reprs.add(rep)
            check("bar2", out.get("repr") == rep, "%s: repr" % name, "got  %r\nwant %r" % (out.get("repr"), rep))


# ================================================================ bar 2: models

MODEL_CASES = [  # (case, model, input shape or None, gy?, mode)
    ("mlp_seq", "mlp_seq", (2, 20), True, 1),
    ("mlp", "mlp", (2, 20), True, 1),
    ("mysequential", "mysequential", (2, 20), True, 1),
    ("fixedhidden", "fixedhidden", (2, 20), False, 1),
    ("nestmlp", "nestmlp", (2, 20), True, 1),
    ("chimera", "chimera", (2, 20), False, 1),
    ("block2", "block2", (3, 4), True, 1),
    ("rgnet", "rgnet", (3, 4), True, 1),
    ("shared", "shared", (3, 4), True, 1),
    ("centered", "centered", (2, 5), True, 1),
    ("centered_net", "centered_net", (4, 8), True, 1),
    ("mylinear", "mylinear", (2, 5), True, 1),
    ("lenet", "lenet", (4, 3, 32, 32), True, 1),
    ("simplenet_train", "simplenet", (8, 10), True, 1),
    ("simplenet_eval", "simplenet", (8, 10), True, 0),
    ("scalenet", "scalenet", None, False, 1),
    ("bnseq", "bnseq", (6, 3), True, 1),
]


def model_double(m, model):
    m = copy.deepcopy(m).double()
    if model == "fixedhidden":
        m.rand_weight = m.rand_weight.double()
    if model == "chimera":
        m[2].rand_weight = m[2].rand_weight.double()
    return m


def torch_model_ref(m, model, x, gy, mode, double=False):
    r = model_double(m, model) if double else copy.deepcopy(m)
    if double:
        x = x.double()
        gy = gy.double() if gy is not None else None
    r.train(mode != 0)
    xl = x.clone().requires_grad_(True)
    y = r(xl)
    ref = collections.OrderedDict(y=y.detach().clone())
    if y.requires_grad:
        y.backward(gy)
    if xl.grad is not None:
        ref["gx"] = xl.grad
    ref.update(grads_of(r))
    ref.update(state_of(r))
    return ref


def bar2(runner, work):
    refs = {}
    with open(os.path.join(work, "models.txt"), "w") as f:
        for case, model, shape, want_gy, mode in MODEL_CASES:
            torch.manual_seed(1)
            m = MODELS[model]()
            if model == "simplenet":
                perturb(m.bn1)
            sd = m.state_dict()
            torch.save(sd, os.path.join(work, case + ".sd.pt"))
            ref, slack = collections.OrderedDict(), {}
            if shape is not None:
                x = rand(*shape) if model in ("fixedhidden", "chimera") else randn(*shape)
                gy = None
                if want_gy:
                    with torch.no_grad():
                        gy = randn(*copy.deepcopy(m).train(mode != 0)(x).shape)
                ref = torch_model_ref(m, model, x, gy, mode)
                slack = own_error(ref, torch_model_ref(m, model, x, gy, mode, double=True))
                bufs = collections.OrderedDict((k, fn(m)) for k, fn in EXTRA_BUFFERS.get(model, {}).items())
                torch.save({"x": x, "gy": gy, "train": mode, "bufs": bufs}, os.path.join(work, case + ".in.pt"))
            refs[case] = (m, sd, ref, slack)
            f.write("%s %s\n" % (case, model))
    names = [c[0] for c in MODEL_CASES]
    problems = run_group(runner, work, "models", names)
    for case, model, shape, want_gy, mode in MODEL_CASES:
        m, sd, ref, slack = refs[case]
        if case in problems:
            check("bar2", False, "%s: runner" % case, problems[case])
            continue
        # the state_dict tensorlite saved, as torch.load sees it
        p = os.path.join(work, case + ".tl_sd.pt")
        try:
            tsd = torch.load(p)
        except Exception as e:  # noqa: BLE001
            check("bar2", False, "%s: torch.load(tl_save_state_dict file)" % case, repr(e))
            tsd = None
        if tsd is not None:
            check("bar2", type(tsd) is collections.OrderedDict, "%s: state_dict is an OrderedDict" % case,
                  type(tsd).__name__)
            check("bar2", list(tsd.keys()) == list(sd.keys()), "%s: state_dict keys and order" % case,
                  "got  %s\nwant %s" % (list(tsd.keys()), list(sd.keys())))
            shp = lambda d: [(k, tuple(v.shape), str(v.dtype)) for k, v in d.items()]  # noqa: E731
            check("bar2", shp(tsd) == shp(sd), "%s: state_dict shapes and dtypes" % case,
                  "got  %s\nwant %s" % (shp(tsd), shp(sd)))
            flags = lambda d: [(k, v.requires_grad, isinstance(v, nn.Parameter)) for k, v in d.items()]  # noqa
            check("bar2", flags(tsd) == flags(sd), "%s: state_dict requires_grad / Parameter flags" % case,
                  "got  %s\nwant %s" % (flags(tsd), flags(sd)))
            try:  # torch's own model takes the file tensorlite wrote (strict)
                copy.deepcopy(m).load_state_dict(tsd)
                lerr = ""
            except Exception as e:  # noqa: BLE001
                lerr = repr(e)
            check("bar2", lerr == "", "%s: torch's load_state_dict(strict) accepts tensorlite's file" % case, lerr)
            tm = getattr(tsd, "_metadata", None)
            check("bar2", tm is not None and list(tm.items()) == list(sd._metadata.items()),
                  "%s: state_dict _metadata (module paths and versions)" % case,
                  "got  %s\nwant %s" % (tm, sd._metadata))
        out, err = load_out(work, case)
        if out is None:
            check("bar2", False, "%s: no result" % case, err)
            continue
        check("bar2", out.get("repr") == repr(m), "%s: repr equals print(model)" % case,
              "got:\n%s\nwant:\n%s" % (out.get("repr"), repr(m)))
        want_p = [n for n, _ in m.named_parameters()]
        want_b = [n for n, _ in m.named_buffers()] + list(EXTRA_BUFFERS.get(model, {}).keys())
        want_m = [n for n, _ in m.named_modules()]
        check("bar2", out.get("params") == want_p, "%s: named_parameters names" % case,
              "got  %s\nwant %s" % (out.get("params"), want_p))
        check("bar2", sorted(out.get("buffers") or []) == sorted(want_b) and
              [b for b in out.get("buffers") or [] if b in dict(m.named_buffers())] == [n for n, _ in
                                                                                      m.named_buffers()],
              "%s: named_buffers names" % case, "got  %s\nwant %s" % (out.get("buffers"), want_b))
        check("bar2", out.get("modules") == want_m, "%s: named_modules names" % case,
              "got  %s\nwant %s" % (out.get("modules"), want_m))
        nparam = sum(p.numel() for p in m.parameters())
        check("bar2", out.get("num_parameters") == nparam, "%s: num_parameters" % case,
              "got %s want %d" % (out.get("num_parameters"), nparam))
        if ref:
            compare_outputs("bar2", case + " forward/backward", out, ref, slack=slack)


# ================================================================ bar 3: load_state_dict reports

def bump(sd):
    """A copy of sd (keeping _metadata) with every tensor changed."""
    out = collections.OrderedDict()
    for k, v in sd.items():
        out[k] = v + 1 if v.is_floating_point() else v + 5
    if hasattr(sd, "_metadata"):
        out._metadata = copy.deepcopy(sd._metadata)
    return out


def without(*keys):
    def f(sd):
        for k in keys:
            del sd[k]
        return sd
    return f


def adding(**kv):
    def f(sd):
        for k, v in kv.items():
            sd[k.replace("__", ".").replace("_SP_", " ")] = v
        return sd
    return f


def chain(*fs):
    def f(sd):
        for g in fs:
            sd = g(sd)
        return sd
    return f


def setting(key, value):
    def f(sd):
        sd[key] = value
        return sd
    return f


def old_bn_version(sd):
    del sd["bn1.num_batches_tracked"]
    sd._metadata["bn1"]["version"] = 1
    return sd


def plain_dict_no_nbt(sd):
    d = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    return d


def unexpected_in_order(sd):
    for k in ("2.0.zz", "1.extra", "zz", "0.bias_x"):
        sd[k] = torch.zeros(1)
    return sd


def shared_conflict(sd):
    sd["2.weight"] = torch.full((8, 8), 1.5)
    sd["4.weight"] = torch.full((8, 8), -2.5)
    return sd


def to_double(sd):
    out = collections.OrderedDict((k, v.double() if v.is_floating_point() else v) for k, v in sd.items())
    out._metadata = sd._metadata
    return out


def other_model(name):
    def f(sd):
        torch.manual_seed(5)
        return MODELS[name]().state_dict()
    return f


LOAD_CASES = [  # (case, model, strict, mutate)
    ("exact", "mlp", 1, lambda sd: sd),
    ("exact_nonstrict", "simplenet", 0, lambda sd: sd),
    ("missing_one", "mlp", 1, without("out.bias")),
    ("missing_many_bn", "simplenet", 1, without("bn1.running_mean", "bn1.num_batches_tracked", "fc2.weight")),
    ("unexpected_root", "mlp", 1, adding(extra__weight=torch.zeros(2))),
    ("unexpected_child", "rgnet", 1, adding(**{"0__block_SP_1__0__extra": torch.zeros(1), "1__foo": torch.ones(2)})),
    ("unexpected_order", "bnseq", 1, unexpected_in_order),
    ("key_equal_to_child_name", "mlp", 1, adding(hidden=torch.zeros(1), out__x=torch.zeros(1))),
    ("missing_and_unexpected", "mlp", 1, chain(without("hidden.weight", "out.weight"), adding(zz=torch.zeros(3)))),
    ("missing_and_unexpected_nonstrict", "mlp", 0,
     chain(without("hidden.weight", "out.weight"), adding(zz=torch.zeros(3), out__zz=torch.zeros(1)))),
    ("size_mismatch_strict", "mlp", 1, setting("hidden.weight", torch.zeros(256, 21))),
    ("size_mismatch_nonstrict", "mlp", 0, chain(setting("out.weight", torch.zeros(10, 255)), without("out.bias"))),
    ("size_mismatch_two", "lenet", 1, chain(setting("conv1.weight", torch.zeros(6, 3, 3, 3)),
                                            setting("fc3.bias", torch.zeros(11)))),
    ("all_three", "simplenet", 1, chain(without("fc2.bias"), adding(bn2__weight=torch.zeros(20)),
                                        setting("bn1.running_var", torch.ones(21)))),
    ("bn_old_version_no_counter", "simplenet", 1, old_bn_version),
    ("bn_no_metadata_no_counter", "simplenet", 1, plain_dict_no_nbt),
    ("bn_counter_missing_v2", "simplenet", 1, without("bn1.num_batches_tracked")),
    ("shared_missing_second", "shared", 1, without("4.weight", "4.bias")),
    ("shared_conflict", "shared", 1, shared_conflict),
    ("float64_into_float32", "mlp", 1, to_double),
    ("scalar_param_from_1d", "scalenet", 1, setting("scale", torch.tensor([3.5]))),
    ("scalar_param_size_mismatch", "scalenet", 1, setting("scale", torch.tensor([1.0, 2.0]))),
    ("not_a_tensor", "mlp", 1, setting("out.bias", 3)),
    ("other_model_strict", "lenet", 1, other_model("simplenet")),
    ("other_model_nonstrict", "mlp_seq", 0, other_model("mysequential")),
    ("empty_nonstrict", "mlp", 0, lambda sd: collections.OrderedDict()),
    ("empty_strict_80_keys", "wide", 1, lambda sd: collections.OrderedDict()),
    ("unexpected_80_keys_nonstrict", "mlp", 0, other_model("wide")),
    ("empty_into_centered", "centered", 1, lambda sd: collections.OrderedDict()),
    ("into_centered_unexpected", "centered", 1, adding(w=torch.zeros(1))),
]


def bar3(runner, work):
    refs = {}
    with open(os.path.join(work, "loadsd.txt"), "w") as f:
        for case, model, strict, mutate in LOAD_CASES:
            torch.manual_seed(2)
            m = MODELS[model]()
            base = m.state_dict()
            torch.save(base, os.path.join(work, case + ".base.pt"))
            sd = mutate(bump(base))
            torch.save(sd, os.path.join(work, case + ".sd.pt"))
            try:
                res = m.load_state_dict(sd, strict=bool(strict))
                err = ""
            except RuntimeError as e:
                res, err = None, str(e)
            refs[case] = (res, err, state_of(m))
            f.write("%s %s %d\n" % (case, model, strict))
    names = [c[0] for c in LOAD_CASES]
    problems = run_group(runner, work, "loadsd", names)
    for case, model, strict, mutate in LOAD_CASES:
        res, err, after = refs[case]
        if case in problems:
            check("bar3", False, "%s: runner" % case, problems[case])
            continue
        out, e = load_out(work, case)
        if out is None:
            check("bar3", False, "%s: no result" % case, e)
            continue
        ok = (out["status"] == 0) == (err == "")
        check("bar3", ok, "%s: %s like torch" % (case, "fails" if err else "succeeds"),
              "torch: %r\ntensorlite status %d: %r" % (err, out["status"], out["error"]))
        if err:
            check("bar3", out["error"] == err, "%s: error text equals torch's" % case,
                  "got  %r\nwant %r" % (out["error"], err))
        else:
            q = lambda ks: ", ".join('"%s"' % k for k in ks)  # noqa: E731
            got = (out["missing"], out["missing_keys"], out["unexpected"], out["unexpected_keys"])
            want = (len(res.missing_keys), q(res.missing_keys), len(res.unexpected_keys), q(res.unexpected_keys))
            check("bar3", got == want, "%s: missing/unexpected keys reported like torch's" % case,
                  "got  %s\nwant %s" % (got, want))
        bad = []
        for k, v in after.items():
            okk, d = close(out.get(k), v, exact=True)
            if not okk:
                bad.append("%s: %s" % (k, d))
        check("bar3", not bad, "%s: the model's state afterwards equals torch's" % case, "\n".join(bad[:6]))


# ================================================================ bar 4: seeds

SEEDS = [0, 1, 42, 2024, 123456789]
INIT_ITEMS = ["linear", "linear_nobias", "conv", "conv_groups", "conv_same", "embedding", "bn", "layernorm", "mlp",
              "rgnet", "mylinear", "fixedhidden", "lenet", "simplenet", "stream", "init_ops", "train_lenet",
              "train_simplenet", "train_lenet_stream", "train_simplenet_stream"]


def init_layer(item):
    if item == "linear":
        return nn.Linear(20, 256)
    if item == "linear_nobias":
        return nn.Linear(7, 3, bias=False)
    if item == "linear_small":
        return nn.Linear(1, 1)
    if item == "conv":
        return nn.Conv2d(3, 6, 5)
    if item == "conv_groups":
        return nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=2, bias=False)
    if item == "conv_same":
        return nn.Conv2d(2, 4, (3, 5), padding="same", dilation=2)
    if item == "embedding":
        return nn.Embedding(10, 3)
    if item == "bn":
        return nn.BatchNorm2d(5)
    if item == "layernorm":
        return nn.LayerNorm(6)
    return MODELS[item]()


def torch_init_ops():
    out = collections.OrderedDict()
    init = nn.init
    t = torch.zeros(5, 7); init.xavier_uniform_(t, 1.0); out["xavier_uniform"] = t  # noqa: E702
    t = torch.zeros(4, 3, 3, 3); init.xavier_uniform_(t, init.calculate_gain("relu")); out["xavier_uniform_relu_conv"] = t  # noqa
    t = torch.zeros(6, 5); init.xavier_normal_(t, 1.0); out["xavier_normal"] = t  # noqa: E702
    t = torch.zeros(8, 6); init.kaiming_uniform_(t, 0, "fan_in", "leaky_relu"); out["kaiming_uniform"] = t  # noqa
    t = torch.zeros(4, 3, 3, 3); init.kaiming_uniform_(t, 0, "fan_out", "relu"); out["kaiming_uniform_fan_out_relu"] = t  # noqa
    t = torch.zeros(4, 3, 3, 3); init.kaiming_normal_(t, 0, "fan_out", "relu"); out["kaiming_normal_fan_out_relu"] = t  # noqa
    t = torch.zeros(7, 9); init.kaiming_normal_(t, 0.2, "fan_in", "leaky_relu"); out["kaiming_normal_leaky"] = t  # noqa
    t = torch.zeros(10, 3); init.normal_(t, 0, 0.01); out["normal"] = t  # noqa: E702
    t = torch.zeros(3, 4); init.uniform_(t, -10, 10); out["uniform"] = t  # noqa: E702
    t = torch.zeros(2, 2); init.constant_(t, 0.5); out["constant"] = t  # noqa: E702
    t = torch.zeros(3, 5); init.eye_(t); out["eye"] = t  # noqa: E702
    t = torch.zeros(2); init.ones_(t); out["ones"] = t  # noqa: E702
    init.zeros_(torch.ones(2))
    t = torch.zeros(1000); init.normal_(t, 1, 2); out["normal_long"] = t  # noqa: E702
    init.normal_(torch.zeros(17, dtype=torch.float64), 0, 1)
    t = torch.zeros(5, dtype=torch.float64); init.uniform_(t, 0, 1); out["uniform_f64_after"] = t  # noqa: E702
    gains = {}
    for i, nl in enumerate(["linear", "conv2d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]):
        gains["gain." + nl] = init.calculate_gain(nl, 0.2 if i == 5 else None)
    return out, gains


def train_step_on(m, x, y):
    out = collections.OrderedDict()
    m.train()
    logits = m(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    out["logits"] = logits.detach()
    out["loss"] = loss.detach()
    out.update(grads_of(m))
    out.update(state_of(m))
    return out


def torch_train_step(model, stream, data):
    m = MODELS[model]()
    out = collections.OrderedDict()
    if stream:
        lenet = model == "lenet"
        x = torch.randn(4, 3, 32, 32) if lenet else torch.randn(8, 10)
        y = torch.randint(0, 10 if lenet else 5, (4 if lenet else 8,))
        out["x"], out["target"] = x, y
    else:
        x, y = data["x"], data["target"]
    m64 = copy.deepcopy(m).double()
    out.update(train_step_on(m, x, y))
    return out, own_error(out, train_step_on(m64, x.double(), y))


def torch_init_item(seed, item, data):
    torch.manual_seed(seed)
    if item == "init_ops":
        return torch_init_ops()
    if item == "stream":
        out = collections.OrderedDict()
        for i, it in enumerate(["linear_small", "conv", "embedding", "linear_nobias", "mlp"]):
            for k, v in init_layer(it).state_dict().items():
                out["%d.%s" % (i, k)] = v
        out["rand"] = torch.rand(5)
        out["randn"] = torch.randn(3, 7)
        return out, {}
    if item.startswith("train_"):
        stream = item.endswith("_stream")
        model = item[6:-7] if stream else item[6:]
        return torch_train_step(model, stream, data)
    return state_of(init_layer(item)), {}


def relu_margin(seed, model, x):
    """min |input of a ReLU| in the seeded model's forward on x: a value within float32 noise of 0
    could switch the ReLU in one library and not the other (a kink, not a bug)."""
    torch.manual_seed(seed)
    m = MODELS[model]().train()
    with torch.no_grad():
        if model == "lenet":
            x1 = m.conv1(x)
            x2 = m.conv2(m.pool(F.relu(x1)))
            a1 = m.fc1(m.pool(F.relu(x2)).view(-1, 400))
            a2 = m.fc2(F.relu(a1))
            pre = (x1, x2, a1, a2)
        else:
            pre = (m.bn1(m.fc1(x)),)
    return min(t.abs().min().item() for t in pre)


def bar4(runner, work):
    refs = {}
    cases = []
    with open(os.path.join(work, "init.txt"), "w") as f:
        for seed in SEEDS:
            for item in INIT_ITEMS:
                case = "init_%d_%s" % (seed, item)
                data = None
                if item in ("train_lenet", "train_simplenet"):
                    lenet = item == "train_lenet"
                    for _ in range(50):  # inputs with every ReLU input away from its kink
                        data = {"x": randn(4, 3, 32, 32) if lenet else randn(8, 10),
                                "target": torch.randint(0, 10 if lenet else 5, (4 if lenet else 8,), generator=G)}
                        if relu_margin(seed, item[6:], data["x"]) > 1e-4:
                            break
                    torch.save(data, os.path.join(work, case + ".in.pt"))
                refs[case] = torch_init_item(seed, item, data)
                cases.append((case, seed, item))
                f.write("%s %d %s\n" % (case, seed, item))
    problems = run_group(runner, work, "init", [c[0] for c in cases])
    for case, seed, item in cases:
        ref, scalars = refs[case]
        if case in problems:
            check("bar4", False, "%s: runner" % case, problems[case])
            continue
        out, err = load_out(work, case)
        if out is None:
            check("bar4", False, "%s: no result" % case, err)
            continue
        train = item.startswith("train_")
        if train:  # weights exactly (seeded init), the step within the tolerance
            keys = [k for k in ref if k.startswith("sd.") or k in ("x", "target")]
            exact = collections.OrderedDict((k, ref[k]) for k in keys)
            for k, v in exact.items():
                ok, d = close(out.get(k), v, exact=True)
                if k.startswith("sd.") and ("running" in k or "num_batches" in k):
                    ok, d = close(out.get(k), v, slack=scalars.get(k, 0.0))  # updated by the training forward
                check("bar4", ok, "%s: %s" % (case, k), d)
            compare_outputs("bar4", case, out, collections.OrderedDict(
                (k, v) for k, v in ref.items() if k not in exact), slack=scalars)
        else:
            missing = [k for k in ref if k not in out]
            extra = [k for k in out if k not in ref and not k.startswith("gain.")]
            check("bar4", not missing and not extra, "%s: the same tensors" % case,
                  "missing %s extra %s" % (missing, extra))
            for k, v in ref.items():
                if k in out:
                    ok, d = close(out[k], v, exact=True)
                    check("bar4", ok, "%s: %s equals torch's exactly" % (case, k), d)
            for k, v in scalars.items():
                check("bar4", out.get(k) is not None and abs(out[k] - v) <= 1e-15 * abs(v),
                      "%s: %s" % (case, k), "got %r want %r" % (out.get(k), v))


def main():
    global VERBOSE
    ap = argparse.ArgumentParser()
    ap.add_argument("--runner", required=True)
    ap.add_argument("--work")
    ap.add_argument("--only", default="bar1,bar2,bar3,bar4")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    VERBOSE = a.v
    work = a.work or tempfile.mkdtemp(prefix="tl_modules_")
    os.makedirs(work, exist_ok=True)
    only = a.only.split(",")
    reprs = set()
    try:
        if "bar1" in only:
            bar1(a.runner, work, reprs)
        if "bar2" in only:
            bar2(a.runner, work)
        if "bar3" in only:
            bar3(a.runner, work)
        if "bar4" in only:
            bar4(a.runner, work)
    finally:
        if not a.work:
            shutil.rmtree(work, ignore_errors=True)
    names = {"bar1": "layers vs torch (forward, grads, state)",
             "bar2": "SEED_NOTES models: state_dict, repr, registry, forward",
             "bar3": "load_state_dict reports and outcomes",
             "bar4": "seeded init and training step"}
    for b, (p, f) in COUNTS.items():
        if p or f:
            print("%s %s: %d passed, %d failed" % (b, names[b], p, f))
    tp = sum(p for p, _ in COUNTS.values())
    tf = sum(f for _, f in COUNTS.values())
    print("%d passed, %d failed" % (tp, tf))
    return 1 if tf else 0


if __name__ == "__main__":
    sys.exit(main())
