#!/usr/bin/python3
"""tests/torch/test_optim.py - real PyTorch 1.13 as the oracle for tensorlite's >>optim.

Usage (run_optim.sh does this): test_optim.py --runner build/optim_runner [--work DIR] [-v]
                                [--only opt,sched,interop]

The runner (tests/torch/optim_runner.c) is the C side; this script writes every case's inputs
(initial parameters, the whole gradient sequence, hyperparameters) with torch.save, runs the runner
once (restarting after a crash), reads what it wrote with torch.load and compares with torch.optim
doing the same thing (foreach=False, torch 1.13's default on CPU).

opt      every optimizer (SGD, Adam, AdamW, RMSprop, Adagrad) with every option: each boolean both
         ways (nesterov, maximize, amsgrad, centered), nonzero momentum / dampening / weight decay /
         lr_decay / initial_accumulator_value / betas / eps, several param groups with different
         options (the later ones through add_param_group), a parameter whose .grad is None at some
         steps; float32 and float64; 200 steps. The parameters and every state tensor of the final
         state_dict must equal torch's within 1e-6 relative (float32; see TOL) / 1e-12 (float64), and
         the state_dict's keys, 'step' values and param_groups must equal torch's.
sched    StepLR, MultiStepLR (a repeated milestone), ExponentialLR, CosineAnnealingLR (several
         cycles and one), LinearLR (warm-up and decay), LambdaLR, OneCycleLR (cos and linear,
         three_phase, momentum and Adam's beta1 cycled), ReduceLROnPlateau (min/rel and max/abs
         with cooldown and min_lr, fed the same metric sequence): the lr of every group after each
         of 100 epochs equals torch's within 1e-12 relative; the scheduler's state_dict has torch's
         keys and values (milestones and anneal_func excepted: see the header).
clip     clip_grad_norm_ (p = 2, inf, 1, 3; a max_norm that never clips) and clip_grad_value_ before
         each SGD step for 50 steps: the returned total norms and the parameters equal torch's
         within the tolerance below.
interop  tensorlite writes a checkpoint dict {"params", "optim": state_dict, "sched": state_dict}
         after 30 steps with tl_save; torch.load + optimizer.load_state_dict +
         scheduler.load_state_dict continue 20 steps, which must equal tensorlite's next 20 steps.
         And the other way: torch runs 30 steps and saves its state_dicts; tensorlite loads them
         (tl_load, tl_optim_load_state_dict, tl_scheduler_load_state_dict) and its next 20 steps
         must equal torch's. SGD with momentum, Adam with amsgrad, AdamW, RMSprop centered with
         momentum, Adagrad; each with a scheduler.

Tolerance: float64 |got - ref| <= 1e-12 * max(|ref|, 1) elementwise; float32 |got - ref| <=
1e-6 * max(|ref|, 1) (TOL; "relative" to the parameters' scale, which is about 1 here: an element
that crosses zero has no meaningful relative error). Learning rates: 1e-12 * |ref|.

Ends with one line per section and then exactly "N passed, N failed".
"""
import argparse
import math
import os
import shutil
import subprocess
import sys

import torch

STEPS = 200
TOL = {torch.float32: 1e-6, torch.float64: 1e-12}
RESULTS = {}
RUN_NORMS = [[]]  # the clip_grad_norm_ results of the last torch_run
VERBOSE = False


def check(sec, ok, what, detail=""):
    p, f = RESULTS.get(sec, (0, 0))
    RESULTS[sec] = (p + 1, f) if ok else (p, f + 1)
    if not ok or VERBOSE:
        print(("ok   " if ok else "FAIL ") + sec + " " + what + ((": " + detail) if detail and not ok else ""))
        sys.stdout.flush()


def worst(got, ref, tol):
    """max |got - ref| / (tol * max(|ref|, 1)); <= 1 passes."""
    got = got.double()
    ref = ref.double()
    if got.shape != ref.shape:
        return float("inf")
    if ref.numel() == 0:
        return 0.0
    return float(((got - ref).abs() / (tol * ref.abs().clamp(min=1.0))).max())


SHAPES = [(4, 3), (3,), (2, 2, 2)]


def make_groups(specs, dtype, seed):
    """specs: list of hyperparameter dicts, one per group. Each group gets len(SHAPES) params."""
    g = torch.Generator().manual_seed(seed)
    groups = []
    for spec in specs:
        params = [torch.randn(*s, generator=g, dtype=torch.float64).to(dtype) for s in SHAPES]
        d = dict(spec)
        d["params"] = params
        groups.append(d)
    return groups


def make_grads(groups, steps, dtype, seed):
    g = torch.Generator().manual_seed(seed + 1000)
    return [torch.randn(steps, *p.shape, generator=g, dtype=torch.float64).to(dtype)
            for grp in groups for p in grp["params"]]


OPTS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
        "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad}


def torch_opt(kind, groups, params):
    """torch optimizer over params (a flat list matching groups' order); later groups added."""
    out, k = [], 0
    for grp in groups:
        n = len(grp["params"])
        d = {key: v for key, v in grp.items() if key != "params"}
        d["params"] = params[k:k + n]
        k += n
        out.append(d)
    first = dict(out[0])
    ps = first.pop("params")
    if kind == "sgd" and "lr" not in first:
        first["lr"] = 1e-3
    if kind == "adagrad" and len(out) > 1:  # torch 1.13's Adagrad makes state only in its constructor
        return OPTS[kind]([{"params": ps}] + out[1:], **first)
    opt = OPTS[kind](ps, **first)  # foreach=None: the single-tensor code on CPU in 1.13
    for d in out[1:]:
        opt.add_param_group(dict(d))
    return opt


def lambda_fn(e):
    return 0.95 ** e


def torch_sched(opt, s):
    if s is None:
        return None
    k = s["kind"]
    S = torch.optim.lr_scheduler
    a = {key: v for key, v in s.items() if key != "kind"}
    if k == "step":
        return S.StepLR(opt, **a)
    if k == "multistep":
        return S.MultiStepLR(opt, **a)
    if k == "exp":
        return S.ExponentialLR(opt, **a)
    if k == "cosine":
        return S.CosineAnnealingLR(opt, **a)
    if k == "linear":
        return S.LinearLR(opt, **a)
    if k == "lambda":
        return S.LambdaLR(opt, lambda_fn)
    if k == "onecycle":
        return S.OneCycleLR(opt, **a)
    if k == "plateau":
        return S.ReduceLROnPlateau(opt, **a)
    raise ValueError(k)


def torch_run(case, params=None, opt_sd=None, sched_sd=None, steps=None, offset=0):
    """Runs torch on a case dict; returns (params, lrs, opt, sched)."""
    groups = case["groups"]
    if params is None:
        params = [p.clone() for grp in groups for p in grp["params"]]
    params = [torch.nn.Parameter(p.clone()) for p in params]
    opt = torch_opt(case["opt"], groups, params)
    sch = torch_sched(opt, case["sched"])
    if opt_sd is not None:
        opt.load_state_dict(opt_sd)
    if sched_sd is not None:
        sch.load_state_dict(sched_sd)
    none = set((s, i) for s, i in case["none"])
    lrs, norms = [], []
    RUN_NORMS[:] = [norms]
    for t in range(case["steps"] if steps is None else steps):
        opt.zero_grad(set_to_none=True)
        for i, p in enumerate(params):
            if (offset + t, i) not in none:
                p.grad = case["grads"][i][offset + t].clone()
        if case.get("clip_norm") is not None:
            norms.append(float(torch.nn.utils.clip_grad_norm_(params, *case["clip_norm"])))
        if case.get("clip_value") is not None:
            torch.nn.utils.clip_grad_value_(params, case["clip_value"])
        opt.step()
        if sch is not None:
            if case.get("metrics") is not None:
                sch.step(case["metrics"][offset + t])
            else:
                sch.step()
        lrs.append([g["lr"] for g in opt.param_groups])
    return [p.detach() for p in params], lrs, opt, sch


def opt_cases():
    cases = []
    specs = {
        "sgd": [[{"lr": 0.05}], [{"lr": 0.05, "momentum": 0.9}],
                [{"lr": 0.05, "momentum": 0.9, "dampening": 0.1}],
                [{"lr": 0.05, "momentum": 0.9, "nesterov": True}], [{"lr": 0.05, "weight_decay": 0.01}],
                [{"lr": 0.05, "momentum": 0.5, "weight_decay": 0.1, "maximize": True}],
                [{"lr": 0.05, "momentum": 0.9, "nesterov": True},
                 {"lr": 0.01, "weight_decay": 0.1, "maximize": True}, {"momentum": 0.3, "dampening": 0.5, "nesterov": False}]],
        "adam": [[{"lr": 0.01}], [{"lr": 0.01, "amsgrad": True}], [{"lr": 0.01, "weight_decay": 0.1}],
                 [{"lr": 0.01, "maximize": True}], [{"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6}],
                 [{"lr": 0.01, "amsgrad": True, "weight_decay": 0.05, "maximize": True}],
                 [{"lr": 0.01}, {"lr": 0.003, "amsgrad": True, "betas": (0.5, 0.9)},
                  {"weight_decay": 0.2, "maximize": True}]],
        "adamw": [[{"lr": 0.01}], [{"lr": 0.01, "amsgrad": True}], [{"lr": 0.01, "weight_decay": 0.1}],
                  [{"lr": 0.01, "maximize": True}], [{"lr": 0.01, "weight_decay": 0}],
                  [{"lr": 0.01}, {"lr": 0.003, "amsgrad": True, "betas": (0.5, 0.9)},
                   {"weight_decay": 0.2, "maximize": True, "eps": 1e-4}]],
        "rmsprop": [[{}], [{"centered": True}], [{"momentum": 0.9}], [{"centered": True, "momentum": 0.5}],
                    [{"weight_decay": 0.1}], [{"maximize": True, "alpha": 0.9, "eps": 1e-5}],
                    [{"lr": 0.001}, {"centered": True, "momentum": 0.9, "weight_decay": 0.01},
                     {"maximize": True, "lr": 0.02}]],
        "adagrad": [[{"lr": 0.1}], [{"lr": 0.1, "lr_decay": 0.01}], [{"lr": 0.1, "weight_decay": 0.1}],
                    [{"lr": 0.1, "initial_accumulator_value": 0.1}], [{"lr": 0.1, "maximize": True, "eps": 1e-6}],
                    [{"lr": 0.1}, {"lr": 0.05, "lr_decay": 0.1, "weight_decay": 0.01},
                     {"eps": 1e-6, "maximize": True}]],
    }
    seed = 0
    for kind, lst in specs.items():
        for j, spec in enumerate(lst):
            for dtype in (torch.float32, torch.float64):
                seed += 1
                groups = make_groups(spec, dtype, seed)
                name = "opt_%s_%d_%s" % (kind, j, "f32" if dtype == torch.float32 else "f64")
                cases.append((name, {
                    "opt": kind, "groups": groups, "grads": make_grads(groups, STEPS, dtype, seed),
                    "none": [[0, 1], [1, 1], [5, 0], [7, 4]] if len(spec) > 1 else [[3, 2]],
                    "steps": STEPS, "grad_offset": 0, "sched": None, "metrics": None, "save_at": -1,
                    "resume": None, "dtype": dtype}))
    return cases


def sched_cases():
    g = torch.Generator().manual_seed(7)
    metrics = [float(v) for v in (torch.rand(100, generator=g, dtype=torch.float64) +
                                  torch.linspace(2, 0, 100, dtype=torch.float64) ** 2)]
    spec = [
        ("step", "sgd", {"kind": "step", "step_size": 7, "gamma": 0.5}),
        ("multistep", "sgd", {"kind": "multistep", "milestones": [10, 30, 30, 60], "gamma": 0.3}),
        ("exp", "sgd", {"kind": "exp", "gamma": 0.95}),
        ("cosine10", "sgd", {"kind": "cosine", "T_max": 10, "eta_min": 0.001}),
        ("cosine100", "adam", {"kind": "cosine", "T_max": 100}),
        ("cosine7", "sgd", {"kind": "cosine", "T_max": 7, "eta_min": 0.0}),
        ("linear_up", "sgd", {"kind": "linear", "start_factor": 0.25, "end_factor": 1.0, "total_iters": 20}),
        ("linear_down", "rmsprop", {"kind": "linear", "start_factor": 1.0, "end_factor": 0.1, "total_iters": 50}),
        ("linear_default", "sgd", {"kind": "linear"}),
        ("lambda", "sgd", {"kind": "lambda"}),
        ("onecycle", "sgd", {"kind": "onecycle", "max_lr": 0.5, "total_steps": 100}),
        ("onecycle_lin3", "sgd", {"kind": "onecycle", "max_lr": 0.3, "total_steps": 120,
                                  "anneal_strategy": "linear", "three_phase": True, "pct_start": 0.25}),
        ("onecycle_adam", "adam", {"kind": "onecycle", "max_lr": 0.01, "total_steps": 100, "div_factor": 10.0,
                                   "final_div_factor": 100.0, "base_momentum": 0.8, "max_momentum": 0.9}),
        ("onecycle_nomom", "adagrad", {"kind": "onecycle", "max_lr": 0.2, "total_steps": 100,
                                       "cycle_momentum": False}),
        ("plateau_min", "sgd", {"kind": "plateau", "patience": 3, "factor": 0.5}),
        ("plateau_max", "sgd", {"kind": "plateau", "mode": "max", "threshold_mode": "abs", "threshold": 0.01,
                                "cooldown": 2, "patience": 1, "min_lr": 0.004, "factor": 0.7}),
    ]
    cases = []
    for j, (name, kind, s) in enumerate(spec):
        specs = [{"lr": 0.1, "momentum": 0.9} if kind == "sgd" else {"lr": 0.1},
                 {"lr": 0.05, "momentum": 0.5} if kind == "sgd" else {"lr": 0.05}]
        groups = make_groups(specs, torch.float64, 500 + j)
        ms = metrics if s["kind"] == "plateau" else None
        if s["kind"] == "plateau" and s.get("mode") == "max":
            ms = [-m for m in metrics]
        cases.append(("sched_" + name, {
            "opt": kind, "groups": groups, "grads": make_grads(groups, 100, torch.float64, 500 + j),
            "none": [], "steps": 100, "grad_offset": 0, "sched": s, "metrics": ms, "save_at": -1,
            "resume": None, "dtype": torch.float64}))
    return cases


INTEROP = [
    ("sgd", [{"lr": 0.05, "momentum": 0.9, "nesterov": True}, {"lr": 0.02, "momentum": 0.5, "weight_decay": 0.1}],
     {"kind": "step", "step_size": 9, "gamma": 0.5}),
    ("adam", [{"lr": 0.01, "amsgrad": True}, {"lr": 0.005, "weight_decay": 0.1}],
     {"kind": "cosine", "T_max": 15, "eta_min": 0.0001}),
    ("adamw", [{"lr": 0.01}], {"kind": "exp", "gamma": 0.97}),
    ("rmsprop", [{"centered": True, "momentum": 0.9}], {"kind": "linear", "start_factor": 0.5, "total_iters": 40}),
    ("adagrad", [{"lr": 0.1, "lr_decay": 0.01}], {"kind": "lambda"}),
]


def interop_cases():
    cases = []
    for j, (kind, specs, s) in enumerate(INTEROP):
        for dtype in (torch.float32, torch.float64):
            groups = make_groups(specs, dtype, 900 + j)
            base = {"opt": kind, "groups": groups, "grads": make_grads(groups, 50, dtype, 900 + j), "none": [[2, 1]],
                    "sched": s, "metrics": None, "dtype": dtype}
            dn = "f32" if dtype == torch.float32 else "f64"
            c1 = dict(base, steps=50, grad_offset=0, save_at=30, resume=None)
            cases.append(("tl2torch_%s_%s" % (kind, dn), c1))
            # torch runs 30 steps and saves; tensorlite resumes for 20
            ps, _, opt, sch = torch_run(dict(base, steps=30, grad_offset=0))
            c2 = dict(base, steps=20, grad_offset=30, save_at=-1,
                      resume={"params": ps, "optim": opt.state_dict(), "sched": sch.state_dict()})
            if kind == "adagrad":  # LambdaLR's state_dict holds None for a plain function: fine
                pass
            cases.append(("torch2tl_%s_%s" % (kind, dn), c2))
    return cases


def run_runner(runner, work, names):
    with open(os.path.join(work, "cases.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    done, first = set(), 0
    while first < len(names):
        try:
            r = subprocess.run([runner, work, str(first)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=600)
        except subprocess.TimeoutExpired:
            print("runner timed out")
            return
        seen = [ln[5:] for ln in r.stdout.decode().splitlines() if ln.startswith("CASE ")]
        done.update(seen)
        if r.returncode == 0:
            return
        print("runner crashed (rc %d) after %s: %s" % (r.returncode, seen[-1] if seen else "-", r.stderr.decode()[-2000:]))
        first += max(len(seen), 1)


def load_out(work, name, suffix="out"):
    p = os.path.join(work, name + "." + suffix + ".pt")
    if not os.path.exists(p):
        e = os.path.join(work, name + ".err")
        return None, (open(e).read().strip() if os.path.exists(e) else "no output")
    return torch.load(p), None


def compare_state(sec, name, got_sd, ref_sd, tol):
    """The state_dict layout, the step values and the state tensors."""
    ok_groups = True
    detail = ""
    if len(got_sd["param_groups"]) != len(ref_sd["param_groups"]):
        ok_groups, detail = False, "group count"
    for gi, (gg, rg) in enumerate(zip(got_sd["param_groups"], ref_sd["param_groups"])):
        # torch orders an added group's keys as the caller's dict, then the defaults: compare sets
        multi = len(ref_sd["param_groups"]) > 1
        if (sorted(gg.keys()) if multi else list(gg.keys())) != (sorted(rg.keys()) if multi else list(rg.keys())):
            ok_groups, detail = False, "keys %s != %s" % (list(gg.keys()), list(rg.keys()))
            break
        for k in rg:
            a, b = gg[k], rg[k]
            if isinstance(b, float) or isinstance(a, float):
                if not (a == b or abs(a - b) <= 1e-12 * abs(b)):
                    ok_groups, detail = False, "%s: %r != %r" % (k, a, b)
            elif isinstance(b, tuple):
                if len(a) != len(b) or any(abs(x - y) > 1e-12 * abs(y) for x, y in zip(a, b)):
                    ok_groups, detail = False, "%s: %r != %r" % (k, a, b)
            elif a != b or type(a) != type(b):
                ok_groups, detail = False, "%s: %r != %r" % (k, a, b)
    check(sec, ok_groups, name + " param_groups", detail)
    gs, rs = got_sd["state"], ref_sd["state"]
    ok = sorted(gs.keys()) == sorted(rs.keys())
    detail = "" if ok else "state keys %s != %s" % (sorted(gs.keys()), sorted(rs.keys()))
    w = 0.0
    for idx in rs if ok else []:
        if list(gs[idx].keys()) != list(rs[idx].keys()):
            ok, detail = False, "state[%d] keys %s != %s" % (idx, list(gs[idx].keys()), list(rs[idx].keys()))
            break
        for k, rv in rs[idx].items():
            gv = gs[idx][k]
            if k == "step":
                if type(gv) != type(rv) or (torch.is_tensor(rv) and (gv.dtype != rv.dtype or gv.shape != rv.shape
                                                                      or float(gv) != float(rv))) or \
                        (not torch.is_tensor(rv) and gv != rv):
                    ok, detail = False, "state[%d]['step'] %r != %r" % (idx, gv, rv)
            elif rv is None or gv is None:
                if not (rv is None and gv is None):
                    ok, detail = False, "state[%d][%r] %r != %r" % (idx, k, gv, rv)
            else:
                if gv.dtype != rv.dtype:
                    ok, detail = False, "state[%d][%r] dtype %s != %s" % (idx, k, gv.dtype, rv.dtype)
                w = max(w, worst(gv, rv, tol))
    if w > 1:
        ok, detail = False, "state tensors differ: worst %.3g x tolerance" % w
    check(sec, ok, name + " state", detail)
    return w


def sec_opt(runner, work):
    cases = opt_cases()
    for name, c in cases:
        torch.save({k: v for k, v in c.items() if k != "dtype"}, os.path.join(work, name + ".in.pt"))
    run_runner(runner, work, [n for n, _ in cases])
    ws = {torch.float32: 0.0, torch.float64: 0.0}
    for name, c in cases:
        out, err = load_out(work, name)
        if err:
            check("opt", False, name, err)
            continue
        ps, _, opt, _ = torch_run(c)
        tol = TOL[c["dtype"]]
        w = max(worst(a, b, tol) for a, b in zip(out["params"], ps))
        ok = w <= 1 and all(a.dtype == b.dtype for a, b in zip(out["params"], ps))
        check("opt", ok, name + " params after %d steps" % STEPS, "worst %.3g x tolerance %g" % (w, tol))
        w2 = compare_state("opt", name, out["optim"], opt.state_dict(), tol)
        ws[c["dtype"]] = max(ws[c["dtype"]], w, w2)
    print("opt: worst difference / tolerance: float32 %.3g (tol %g), float64 %.3g (tol %g)"
          % (ws[torch.float32], TOL[torch.float32], ws[torch.float64], TOL[torch.float64]))


def sched_sd_compare(name, got, ref):
    ok, detail = True, ""
    skip = {"anneal_func", "milestones"}
    rk = [k for k in ref if k not in skip]
    gk = [k for k in got if k not in skip]
    if rk != gk:
        ok, detail = False, "keys %s != %s" % (gk, rk)
    else:
        for k in rk:
            a, b = got[k], ref[k]
            if isinstance(b, list) and b and isinstance(b[0], dict):
                same = a == b
            elif isinstance(b, list):
                same = len(a) == len(b) and all(
                    (x is None and y is None) or (x is not None and y is not None and
                                                  (x == y or abs(x - y) <= 1e-12 * abs(y))) for x, y in zip(a, b))
            elif isinstance(b, float):
                same = a == b or abs(a - b) <= 1e-12 * abs(b)
            else:
                same = a == b
            if not same:
                ok, detail = False, "%s: %r != %r" % (k, a, b)
                break
    if ok and "milestones" in ref and dict(got["milestones"]) != dict(ref["milestones"]):
        ok, detail = False, "milestones %r != %r" % (got["milestones"], ref["milestones"])
    check("sched", ok, name + " state_dict", detail)


def sec_sched(runner, work):
    cases = sched_cases()
    for name, c in cases:
        torch.save({k: v for k, v in c.items() if k != "dtype"}, os.path.join(work, name + ".in.pt"))
    run_runner(runner, work, [n for n, _ in cases])
    for name, c in cases:
        out, err = load_out(work, name)
        if err:
            check("sched", False, name, err)
            continue
        ps, lrs, opt, sch = torch_run(c)
        bad = [(t, g, a, b) for t, (ra, rb) in enumerate(zip(out["lrs"], lrs)) for g, (a, b) in enumerate(zip(ra, rb))
               if not (a == b or abs(a - b) <= 1e-12 * abs(b))]
        ok = len(out["lrs"]) == len(lrs) and not bad
        check("sched", ok, name + " lr sequence (100 epochs, 2 groups)",
              "epoch %d group %d: %r != %r" % bad[0] if bad else "length")
        w = max(worst(a, b, 1e-12) for a, b in zip(out["params"], ps))
        check("sched", w <= 1, name + " params", "worst %.3g x 1e-12" % w)
        compare_state("sched", name, out["optim"], opt.state_dict(), 1e-12)
        sched_sd_compare(name, out["sched"], sch.state_dict())


def sec_clip(runner, work):
    cases = []
    for j, (cn, cv) in enumerate([([2.0, 2.0], None), ([0.5, float("inf")], None), ([3.0, 1.0], None),
                                  ([1.5, 3.0], None), ([100.0, 2.0], None), (None, 0.5), ([1.0, 2.0], 0.3)]):
        for dtype in (torch.float32, torch.float64):
            groups = make_groups([{"lr": 0.05, "momentum": 0.9}, {"lr": 0.01}], dtype, 700 + j)
            name = "clip_%d_%s" % (j, "f32" if dtype == torch.float32 else "f64")
            cases.append((name, {"opt": "sgd", "groups": groups, "grads": make_grads(groups, 50, dtype, 700 + j),
                                 "none": [[1, 2]], "steps": 50, "grad_offset": 0, "sched": None, "metrics": None,
                                 "save_at": -1, "resume": None, "clip_norm": cn, "clip_value": cv, "dtype": dtype}))
    for name, c in cases:
        torch.save({k: v for k, v in c.items() if k != "dtype"}, os.path.join(work, name + ".in.pt"))
    run_runner(runner, work, [n for n, _ in cases])
    for name, c in cases:
        out, err = load_out(work, name)
        if err:
            check("clip", False, name, err)
            continue
        ps, _, _, _ = torch_run(c)
        tol = TOL[c["dtype"]]
        w = max(worst(a, b, tol) for a, b in zip(out["params"], ps))
        check("clip", w <= 1, name + " params after 50 clipped steps", "worst %.3g x %g" % (w, tol))
        if c["clip_norm"] is not None:
            ref = RUN_NORMS[0]
            bad = [(a, b) for a, b in zip(out["norms"], ref) if not abs(a - b) <= tol * max(abs(b), 1)]
            check("clip", len(out["norms"]) == len(ref) and not bad, name + " total norms returned",
                  "%r != %r" % bad[0] if bad else "count")


def sec_interop(runner, work):
    cases = interop_cases()
    for name, c in cases:
        torch.save({k: v for k, v in c.items() if k != "dtype"}, os.path.join(work, name + ".in.pt"))
    run_runner(runner, work, [n for n, _ in cases])
    for name, c in cases:
        tol = TOL[c["dtype"]]
        out, err = load_out(work, name)
        if err:
            check("interop", False, name, err)
            continue
        if name.startswith("tl2torch"):
            try:
                ck = torch.load(os.path.join(work, name + ".ckpt.pt"))
                ps, lrs, opt, sch = torch_run(c, params=ck["params"], opt_sd=ck["optim"], sched_sd=ck["sched"],
                                              steps=20, offset=30)
            except Exception as e:  # noqa: BLE001 - any failure to resume is the finding
                check("interop", False, name, "torch could not resume: %r" % e)
                continue
            w = max(worst(a, b, tol) for a, b in zip(out["params"], ps))
            lr_ok = all(abs(a - b) <= 1e-12 * abs(b) for ra, rb in zip(out["lrs"][30:], lrs) for a, b in zip(ra, rb))
            check("interop", w <= 1 and lr_ok, name + " torch 1.13 loads tensorlite's checkpoint, next 20 steps",
                  "worst %.3g x %g, lrs %s" % (w, tol, "ok" if lr_ok else "differ"))
        else:
            ps, lrs, opt, sch = torch_run(dict(c, steps=50, grad_offset=0, resume=None))
            w = max(worst(a, b, tol) for a, b in zip(out["params"], ps))
            lr_ok = all(abs(a - b) <= 1e-12 * abs(b) for ra, rb in zip(out["lrs"], lrs[30:]) for a, b in zip(ra, rb))
            check("interop", w <= 1 and lr_ok, name + " tensorlite loads torch's state_dicts, next 20 steps",
                  "worst %.3g x %g, lrs %s" % (w, tol, "ok" if lr_ok else "differ"))
            compare_state("interop", name, out["optim"], opt.state_dict(), tol)


def main():
    global VERBOSE
    ap = argparse.ArgumentParser()
    ap.add_argument("--runner", required=True)
    ap.add_argument("--work", default="build/optim_work")
    ap.add_argument("--only", default="opt,sched,clip,interop")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    VERBOSE = a.v
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    torch.set_num_threads(1)
    secs = a.only.split(",")
    for sec, fn in (("opt", sec_opt), ("sched", sec_sched), ("clip", sec_clip), ("interop", sec_interop)):
        if sec in secs:
            try:
                fn(a.runner, a.work)
            except Exception as e:  # noqa: BLE001 - report, count, go on
                import traceback
                traceback.print_exc()
                check(sec, False, "section raised", repr(e))
    tp = tf = 0
    for sec in ("opt", "sched", "clip", "interop"):
        if sec in RESULTS:
            p, f = RESULTS[sec]
            tp, tf = tp + p, tf + f
            print("%-8s %d passed, %d failed" % (sec, p, f))
    print("%d passed, %d failed" % (tp, tf))
    return 1 if tf else 0


if __name__ == "__main__":
    sys.exit(main())
