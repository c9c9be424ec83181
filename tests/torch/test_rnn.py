#!/usr/bin/python3
"""tests/torch/test_rnn.py - real PyTorch 1.13 as the oracle for tl_nn_lstm, tl_nn_gru and
tl_nn_multihead_attention (tensorlite's >>modules).

Usage (run_rnn.sh does this): test_rnn.py --runner build/rnn_runner [--work DIR] [-v]

For every case the runner (tests/torch/rnn_runner.c) builds the layer after tl_manual_seed(seed);
torch builds it after torch.manual_seed(seed). Checked:
  init   the seeded parameters equal torch's bit for bit; state_dict keys and their order equal
         torch's; the repr equals repr(torch module).
  fwd    with torch's state_dict loaded (tl_load, strict): output, h_n, c_n (LSTM/GRU) or the
         attention weights (MHA) equal torch's, and so do the gradients of
         loss = sum(out*gy) + sum(h_n*gh) + sum(c_n*gc) (MHA: sum(out*gy) + sum(w*gw)) w.r.t. the
         input(s), h0/c0 and every parameter.
Cases: LSTM and GRU with batch_first, bidirectional, 2 layers, no bias, unbatched input, given or
zero h0/c0, float32 and float64; MultiheadAttention self- and cross-attention, batch_first,
unbatched, no bias, bool/float/uint8 attn_mask (2-D and 3-D), bool/float key_padding_mask, both
masks, need_weights off, per-head weights, float32 and float64.
Tolerance: |got - ref| <= rtol * (|ref| + max|ref|), rtol 1e-5 for float32 and 1e-10 for float64
(the second term: sums in another order differ by ulps of the largest terms). Init is exact.

Ends with exactly "N passed, N failed".
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import warnings

import torch
import torch.nn as nn

warnings.filterwarnings("ignore")
torch.set_num_threads(1)
VERBOSE = False
PASSED, FAILED = [0], [0]
G = torch.Generator().manual_seed(1313)


def report(ok, what, why=""):
    (PASSED if ok else FAILED)[0] += 1
    if not ok:
        print("FAIL %s%s" % (what, ("\n     " + why) if why else ""))
    elif VERBOSE:
        print("ok   %s" % what)


def agree(got, ref, rtol, exact=False):
    """'' when got matches ref, else why not."""
    if not isinstance(got, torch.Tensor):
        return "missing (got %r)" % (got,)
    if got.dtype != ref.dtype or got.shape != ref.shape:
        return "got %s %s, want %s %s" % (got.dtype, list(got.shape), ref.dtype, list(ref.shape))
    if exact:
        return "" if torch.equal(got, ref) else "not bit-identical: %d of %d differ" % (int((got != ref).sum()),
                                                                                   ref.numel())
    g, r = got.double(), ref.double()
    lim = rtol * (r.abs() + (r.abs().max().item() if r.numel() else 0.0))
    off = ~((g - r).abs() <= lim)
    if not off.any():
        return ""
    i = int(((g - r).abs() - lim).nan_to_num(float("inf")).argmax())
    return "%d of %d off; worst flat %d: got %.12g want %.12g" % (int(off.sum()), r.numel(), i,
                                                                  g.flatten()[i].item(), r.flatten()[i].item())


def rnd(*shape, dtype=torch.float32):
    return torch.randn(*shape, generator=G, dtype=torch.float64).to(dtype)


# ---------------------------------------------------------------- case construction

def rnn_case(kind, inp, hid, layers, bias, bf, bidir, bits, seed, batch, length, with_h0):
    """(spec, torch module builder, inputs)"""
    dt = torch.float64 if bits == 64 else torch.float32
    D = 2 if bidir else 1
    xs = ([batch, length] if bf else [length, batch]) if batch else [length]
    x = rnd(*(xs + [inp]), dtype=dt)
    hs = [D * layers, batch, hid] if batch else [D * layers, hid]
    ys = xs + [D * hid]
    data = {"x": x, "h0": rnd(*hs, dtype=dt) if with_h0 else None,
            "c0": rnd(*hs, dtype=dt) if with_h0 and kind == "lstm" else None,
            "gy": rnd(*ys, dtype=dt), "gh": rnd(*hs, dtype=dt), "gc": rnd(*hs, dtype=dt) if kind == "lstm" else None}
    spec = "%s %d %d %d %d %d %d %d %d" % (kind, inp, hid, layers, bias, bf, bidir, bits, seed)

    def make():
        cls = nn.LSTM if kind == "lstm" else nn.GRU
        return cls(inp, hid, num_layers=layers, bias=bool(bias), batch_first=bool(bf), bidirectional=bool(bidir))
    return spec, make, data


def leaf(t):
    return t.clone().requires_grad_() if t is not None else None


def backward_and_record(outs, grads, leaves):
    """loss = sum of (out * grad).sum() over the outputs that exist; backward; {name: tensor} of
    the outputs (detached) and the leaves' gradients."""
    loss = sum((o * grads[n]).sum() for n, o in outs.items() if o is not None)
    loss.backward()
    res = {n: o.detach() for n, o in outs.items() if o is not None}
    res.update({n: t.grad for n, t in leaves.items() if t is not None})
    return res


def torch_rnn(m, kind, d):
    x, h0, c0 = leaf(d["x"]), leaf(d["h0"]), leaf(d["c0"])
    if kind == "lstm":
        y, (hn, cn) = m(x, (h0, c0)) if h0 is not None else m(x)
    else:
        y, hn = m(x, h0) if h0 is not None else m(x)
        cn = None
    return backward_and_record({"y": y, "hn": hn, "cn": cn}, {"y": d["gy"], "hn": d["gh"], "cn": d["gc"]},
                               {"gx": x, "gh0": h0, "gc0": c0})


def mha_case(E, nh, bias, bf, bits, seed, batch, L, S, mode, kpm=None, am=None, need=1, avg=1):
    """mode: 'self' (q is k is v), 'kv' (k is v), 'cross' (three tensors)."""
    dt = torch.float64 if bits == 64 else torch.float32

    def seq(n):
        return rnd(*(([batch, n] if bf else [n, batch]) if batch else [n]) + [E], dtype=dt)
    q = seq(L)
    k = None if mode == "self" else seq(S if mode != "self" else L)
    v = seq(S) if mode == "cross" else None
    Ssrc = L if mode == "self" else S
    ys = list(q.shape)
    ws = ([batch] if batch else []) + ([] if avg else [nh]) + [L, Ssrc]
    data = {"q": q, "k": k, "v": v, "kpm": kpm, "am": am, "need_weights": need, "avg": avg,
            "gy": rnd(*ys, dtype=dt), "gw": rnd(*ws, dtype=dt) if need else None}
    spec = "mha %d %d %d %d %d %d" % (E, nh, bias, bf, bits, seed)

    def make():
        return nn.MultiheadAttention(E, nh, bias=bool(bias), batch_first=bool(bf))
    return spec, make, data


def torch_mha(m, d):
    q, k, v = leaf(d["q"]), leaf(d["k"]), leaf(d["v"])
    kk = k if k is not None else q
    vv = v if v is not None else kk
    y, w = m(q, kk, vv, key_padding_mask=d["kpm"], need_weights=bool(d["need_weights"]), attn_mask=d["am"],
             average_attn_weights=bool(d["avg"]))
    return backward_and_record({"y": y, "w": w}, {"y": d["gy"], "w": d["gw"]}, {"gq": q, "gk": k, "gv": v})


def masks(batch, L, S, nh, kind):
    """attn_mask / key_padding_mask of a kind, never masking a whole row."""
    B = batch if batch else 1
    if kind == "causal_bool":
        return None, torch.triu(torch.ones(L, S, dtype=torch.bool), 1)
    if kind == "float2d":
        return None, rnd(L, S)
    if kind == "bool3d":
        am = torch.rand(B * nh, L, S, generator=G) < 0.4
        am[..., 0] = False
        return None, am
    if kind == "uint8":
        return None, torch.triu(torch.ones(L, S, dtype=torch.uint8), 1)
    kp = torch.zeros(B, S, dtype=torch.bool)
    kp[:, S - 1] = True
    if B > 1:
        kp[1, S - 2] = True
    kp = kp if batch else kp[0]
    if kind == "kpm_bool":
        return kp, None
    if kind == "kpm_float":
        return rnd(*kp.shape), None
    if kind == "both":
        return kp, rnd(L, S)
    if kind == "both_bool":
        return kp, torch.triu(torch.ones(L, S, dtype=torch.bool), 1)
    raise ValueError(kind)


def all_cases():
    cases = []
    n = [0]

    def add(kind, built):
        n[0] += 1
        cases.append(("%s%03d" % (kind, n[0]),) + built)
    for kind in ("lstm", "gru"):
        for bits in (32, 64):
            # inp, hid, layers, bias, bf, bidir, batch, length, h0
            for cfg in [(4, 5, 1, 1, 0, 0, 3, 6, 0), (4, 5, 1, 1, 0, 0, 3, 6, 1), (3, 4, 2, 1, 0, 0, 2, 5, 1),
                        (3, 4, 1, 1, 1, 0, 2, 5, 1), (3, 4, 1, 1, 0, 1, 2, 5, 1), (3, 4, 2, 1, 1, 1, 3, 4, 1),
                        (3, 4, 2, 0, 0, 1, 2, 4, 0), (5, 3, 2, 1, 0, 1, 0, 6, 1), (5, 3, 1, 1, 1, 0, 0, 4, 0),
                        (6, 7, 1, 1, 0, 0, 1, 1, 1)]:
                inp, hid, layers, bias, bf, bidir, batch, length, h0 = cfg
                seed = 100 + len(cases)
                add(kind, rnn_case(kind, inp, hid, layers, bias, bf, bidir, bits, seed, batch, length, h0))
    for bits in (32, 64):
        # E, nh, bias, bf, batch, L, S, mode, mask kind, need, avg
        for cfg in [(8, 2, 1, 0, 3, 4, 4, "self", None, 1, 1), (8, 2, 1, 1, 3, 4, 5, "cross", None, 1, 0),
                    (6, 3, 1, 0, 2, 3, 5, "kv", None, 1, 1), (8, 4, 0, 0, 2, 4, 4, "self", None, 1, 1),
                    (8, 2, 1, 0, 0, 4, 3, "cross", None, 1, 1), (8, 2, 1, 1, 0, 4, 4, "self", None, 1, 0),
                    (8, 2, 1, 0, 2, 4, 4, "self", None, 0, 1), (8, 2, 1, 0, 2, 4, 4, "self", "causal_bool", 1, 1),
                    (8, 2, 1, 1, 2, 4, 6, "cross", "float2d", 1, 1), (8, 2, 1, 0, 2, 4, 5, "kv", "bool3d", 1, 0),
                    (8, 2, 1, 0, 2, 4, 4, "self", "uint8", 1, 1), (8, 2, 1, 1, 3, 4, 5, "cross", "kpm_bool", 1, 1),
                    (8, 2, 1, 0, 2, 3, 5, "kv", "kpm_float", 1, 1), (8, 2, 1, 0, 2, 4, 4, "self", "both", 1, 0),
                    (8, 2, 1, 0, 2, 4, 4, "self", "both_bool", 1, 1), (8, 2, 1, 0, 0, 4, 5, "kv", "kpm_bool", 1, 1),
                    (4, 1, 1, 0, 2, 3, 3, "self", None, 1, 1)]:
            E, nh, bias, bf, batch, L, S, mode, mk, need, avg = cfg
            Ssrc = L if mode == "self" else S
            kpm, am = masks(batch, L, Ssrc, nh, mk) if mk else (None, None)
            if am is not None and am.is_floating_point():
                am = am.to(torch.float64 if bits == 64 else torch.float32)
            if kpm is not None and kpm.is_floating_point():
                kpm = kpm.to(torch.float64 if bits == 64 else torch.float32)
            seed = 500 + len(cases)
            add("mha", mha_case(E, nh, bias, bf, bits, seed, batch, L, S, mode, kpm, am, need, avg))
    return cases


# ---------------------------------------------------------------- running and comparing

def run_runner(runner, work, names):
    """{case: problem} for cases the runner crashed in or leaked; restarts after a crash."""
    bad, first = {}, 0
    while first < len(names):
        r = subprocess.run([runner, work, str(first)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
        lines = r.stdout.decode(errors="replace").splitlines()
        for l in lines:
            if l.startswith("LEAK "):
                bad[l.split()[1]] = l
        if "DONE" in lines:
            break
        seen = [l[5:] for l in lines if l.startswith("CASE ")]
        last = seen[-1] if seen else names[first]
        bad[last] = "runner crashed (exit %d): %s" % (r.returncode, r.stderr.decode(errors="replace")[-800:])
        first = names.index(last) + 1
    return bad


def main():
    global VERBOSE
    parser = argparse.ArgumentParser(description="LSTM, GRU and MultiheadAttention vs torch 1.13")
    for flag, kw in (("--runner", {"required": True}), ("--work", {}), ("-v", {"action": "store_true"})):
        parser.add_argument(flag, **kw)
    a = parser.parse_args()
    VERBOSE = a.v
    work = a.work or tempfile.mkdtemp(prefix="tl_rnn_")
    os.makedirs(work, exist_ok=True)
    try:
        cases = all_cases()
        refs = {}
        with open(os.path.join(work, "cases.txt"), "w") as f:
            for name, spec, make, data in cases:
                seed = int(spec.split()[-1])
                bits = int(spec.split()[-2])
                torch.manual_seed(seed)
                m = make()
                init = {k: v.detach().clone() for k, v in m.state_dict().items()}
                keys = list(m.state_dict().keys())
                # random weights for the forward check (the seeded ones are checked exactly above)
                with torch.no_grad():
                    for p in m.parameters():
                        p.copy_(rnd(*p.shape))
                if bits == 64:
                    m = m.double()
                m.train()
                torch.save(m.state_dict(), os.path.join(work, name + ".sd.pt"))
                torch.save(data, os.path.join(work, name + ".in.pt"))
                out = torch_mha(m, data) if spec.startswith("mha") else torch_rnn(m, spec.split()[0], data)
                for n_, p in m.named_parameters():
                    if p.grad is not None:
                        out["grad." + n_] = p.grad
                refs[name] = (spec, init, keys, repr(m), out, 1e-10 if bits == 64 else 1e-5)
                f.write("%s %s\n" % (name, spec))
        bad = run_runner(a.runner, work, [c[0] for c in cases])
        for name, _, _, _ in cases:
            spec, init, keys, rep, ref, rtol = refs[name]
            what = "%s [%s]" % (name, spec)
            if name in bad:
                report(False, what + ": runner", bad[name])
                continue
            p = os.path.join(work, name + ".out.pt")
            if not os.path.exists(p):
                e = os.path.join(work, name + ".err")
                report(False, what + ": no result", open(e).read().strip() if os.path.exists(e) else "")
                continue
            got = torch.load(p)
            report(got.get("keys") == keys, what + ": state_dict keys and order", "got %s want %s" % (got.get("keys"), keys))
            report(got.get("repr") == rep, what + ": repr", "got %r want %r" % (got.get("repr"), rep))
            for k, v in init.items():
                why = agree(got.get("init." + k), v, 0, exact=True)
                report(not why, what + ": seeded init " + k, why)
            for k, v in ref.items():
                why = agree(got.get(k), v, rtol)
                report(not why, what + ": " + k, why)
            extra = [k for k in got if (k.startswith("grad.") or k in ("w", "cn", "gh0", "gc0", "gk", "gv"))
                     and k not in ref]
            report(not extra, what + ": no results torch does not have", ", ".join(extra))
    finally:
        if not a.work:
            shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (PASSED[0], FAILED[0]))
    return 1 if FAILED[0] else 0


if __name__ == "__main__":
    sys.exit(main())
