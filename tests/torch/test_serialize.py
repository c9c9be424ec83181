"""tests/torch/test_serialize.py - real PyTorch as the oracle for tensorlite's checkpoints.

Usage (run_serialize.sh does this): test_serialize.py --runner build/serialize_runner
                                      [--runner-z64 build/serialize_runner_z64] [--work DIR] [-v]

1. tensorlite -> torch: the runner writes every case; torch.load reads each (weights_only=True when
   the file holds no Python float, as torch 1.13's weights_only unpickler has no BINFLOAT), and the
   loaded object's canonical dump must equal the runner's dump of what it saved (structure, dtypes,
   shapes, strides, offsets, storage sharing and every byte). Views must alias after loading.
   zipfile.testzip() and `unzip -t` must accept every file. The z64 runner (TL__ZIP64_LIMIT=64)
   writes the same cases with ZIP64 fields everywhere.
2. torch -> tensorlite: torch.save writes objects (all dtypes, views, Parameters, state_dicts with
   _metadata, optimizer states, checkpoints, protocol 4, deflated zips); the runner's dump of
   tl_load must equal ours, its repr must equal Python's, and tl_load -> tl_save -> torch.load
   must give the same dump again.
Ends with "N passed, N failed".
"""
import argparse
import collections
import io
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

import warnings

import torch

warnings.filterwarnings("ignore")  # TypedStorage deprecation (2.x), weights_only FutureWarning (2.4+)
TORCH2 = int(torch.__version__.split(".")[0]) >= 2
PASS = 0
FAIL = 0
VERBOSE = False


def check(ok, what, detail=""):
    global PASS, FAIL
    if ok:
        PASS += 1
        if VERBOSE:
            print("ok   " + what)
    else:
        FAIL += 1
        print("FAIL " + what + (("\n     " + detail.replace("\n", "\n     ")) if detail else ""))
    return ok


# ---------------------------------------------------------------- canonical dump (same as the runner's)

def storage_bytes(t):
    s = t.storage()
    full = torch.empty(0, dtype=t.dtype).set_(s, 0, (s.size(),), (1,))
    if full.dtype == torch.bool:
        full = full.view(torch.uint8)
    return full.contiguous().view(torch.uint8).numpy().tobytes() if s.size() else b""


def dump(obj):
    lines = []
    seen = {}

    def rec(o, depth):
        ind = "  " * depth
        if o is None:
            lines.append(ind + "none")
        elif isinstance(o, bool):
            lines.append(ind + "bool %d" % int(o))
        elif isinstance(o, int):
            lines.append(ind + "int %d" % o)
        elif isinstance(o, float):
            lines.append(ind + "float " + struct.pack(">d", o).hex())
        elif isinstance(o, str):
            lines.append(ind + "str " + o.encode("utf-8", "surrogatepass").hex())
        elif isinstance(o, torch.Tensor):
            st = t_storage = o.storage()
            nbytes = t_storage.size() * o.element_size()
            key = (t_storage.data_ptr(), nbytes)
            sid = seen.get(key) if nbytes > 0 else None
            new = sid is None
            if new:
                sid = len(seen) if nbytes > 0 else len(seen)
            lines.append(ind + "tensor dtype=%s shape=%s stride=%s offset=%d rg=%d param=%d storage=%d" % (
                str(o.dtype).replace("torch.", ""), ",".join(str(x) for x in o.shape),
                ",".join(str(x) for x in o.stride()), o.storage_offset(), int(o.requires_grad),
                int(isinstance(o, torch.nn.Parameter)), sid))
            if new:
                lines.append(ind + "storage %d nbytes=%d %s" % (sid, nbytes, storage_bytes(o).hex()))
                seen[key if nbytes > 0 else ("empty", len(seen))] = sid
            del st
        elif isinstance(o, (list, tuple)):
            lines.append(ind + "%s %d" % ("list" if isinstance(o, list) else "tuple", len(o)))
            for x in o:
                rec(x, depth + 1)
        elif isinstance(o, dict):
            od = isinstance(o, collections.OrderedDict)
            lines.append(ind + "%s %d" % ("odict" if od else "dict", len(o)))
            for k, v in o.items():
                rec(k, depth + 1)
                rec(v, depth + 1)
            if od and hasattr(o, "_metadata"):
                lines.append(ind + "meta")
                rec(o._metadata, depth + 1)
        else:
            lines.append(ind + "UNSUPPORTED " + type(o).__name__)

    rec(obj, 0)
    return "\n".join(lines) + "\n"


def first_diff(a, b):
    al, bl = a.splitlines(), b.splitlines()
    for i in range(max(len(al), len(bl))):
        x = al[i] if i < len(al) else "<end>"
        y = bl[i] if i < len(bl) else "<end>"
        if x != y:
            return "line %d:\n  want %s\n  got  %s" % (i + 1, x[:300], y[:300])
    return ""


def unzip_ok(path):
    if not shutil.which("unzip"):
        return None
    r = subprocess.run(["unzip", "-t", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return r.returncode == 0 and b"No errors detected" in r.stdout


# ---------------------------------------------------------------- 1. tensorlite -> torch

def check_aliasing(name, obj):
    """A write through one loaded view must be seen through the others."""
    if name == "views":
        obj["base"][1, 2] = 77.0
        check(obj["t"][2, 1].item() == 77.0 and obj["slice"][0, 1].item() == 77.0 and obj["step"][1, 1].item() == 77.0,
              "%s: torch.load keeps views aliased (base[1,2] seen via t, slice, step)" % name)
        obj["base"][0, 3] = -1.0
        check(obj["expand"][1, 3].item() == -1.0, "%s: expand (stride 0) aliases base" % name)
    if name == "shared_views_only":
        check(obj[1] is obj[2], "%s: the same tensor saved twice loads as one object" % name)
        obj[0].storage()[4] = 99
        check(obj[1][0].item() == 99, "%s: views of one storage alias after loading" % name)


def tl_to_torch(runner, work, tag, torch_reads=True):
    """torch_reads=False: only zipfile, unzip and tensorlite itself read the files (ZIP64 offsets in
    a small archive: torch's miniz 2.1 rejects them, though real ZIP64 offsets imply > 4 GiB)."""
    d = os.path.join(work, "tl_" + tag)
    os.makedirs(d, exist_ok=True)
    r = subprocess.run([runner, "write", d], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if not check(r.returncode == 0, "[%s] runner write" % tag, r.stdout):
        return
    cases = [l.split() for l in open(os.path.join(d, "manifest.txt")).read().splitlines() if l.strip()]
    check(len(cases) >= 15, "[%s] runner wrote %d cases" % (tag, len(cases)))
    for name, floats in cases:
        path = os.path.join(d, name + ".pt")
        want = open(os.path.join(d, name + ".dump")).read()
        with zipfile.ZipFile(path) as z:
            check(z.testzip() is None, "[%s] %s: zipfile.testzip()" % (tag, name))
            names = z.namelist()
            check(names[0].endswith("/data.pkl") and names[-1].endswith("/version"), "[%s] %s: record order" % (tag, name), str(names))
        u = unzip_ok(path)
        if u is not None:
            check(u, "[%s] %s: unzip -t" % (tag, name))
        wo = floats == "0" or TORCH2  # 1.13's weights_only unpickler has no BINFLOAT; 2.x has
        if not torch_reads:
            r = subprocess.run([runner, "read", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            check(r.returncode == 0 and r.stdout == want, "[%s] %s: tl_load reads it back bit for bit" % (tag, name),
                  first_diff(want, r.stdout))
            continue
        try:
            obj = torch.load(path, weights_only=wo)
        except Exception as e:  # noqa
            check(False, "[%s] %s: torch.load(weights_only=%s)" % (tag, name, wo), repr(e))
            continue
        got = dump(obj)
        check(got == want, "[%s] %s: torch.load(weights_only=%s) gives the saved value bit for bit" % (tag, name, wo),
              first_diff(want, got))
        if TORCH2:  # the default torch.load (weights_only=True since 2.6)
            try:
                got = dump(torch.load(path))
            except Exception as e:  # noqa
                got = repr(e)
            check(got == want, "[%s] %s: default torch.load() gives the saved value" % (tag, name), first_diff(want, got))
        if name == "state_dict":
            m = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
            res = m.load_state_dict(obj, strict=True)
            check(not res.missing_keys and not res.unexpected_keys and m[1].num_batches_tracked.item() == 7,
                  "[%s] state_dict: nn.Sequential(Linear, BatchNorm1d).load_state_dict(strict=True)" % tag)
            check(obj._metadata["1"]["version"] == 2, "[%s] state_dict: _metadata BatchNorm version 2" % tag)
        if name == "checkpoint":
            m = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
            m.load_state_dict(obj["model_state_dict"])
            opt = torch.optim.Adam(m.parameters(), lr=0.5)
            try:
                opt.load_state_dict(obj["optimizer_state_dict"])
                m(torch.ones(4, 3)).sum().backward()
                opt.step()
                ok = opt.param_groups[0]["lr"] == 0.001 and opt.state[m[0].weight]["step"].item() == 3.0
            except Exception as e:  # noqa
                print("     " + repr(e))
                ok = False
            check(ok, "[%s] checkpoint: Adam.load_state_dict + step() work" % tag)
        if name == "parameter_and_grad":
            check(isinstance(obj[0], torch.nn.Parameter) and obj[0].requires_grad and obj[1].requires_grad
                  and not isinstance(obj[1], torch.nn.Parameter), "[%s] %s: Parameter and requires_grad kept" % (tag, name))
        check_aliasing(name, obj)
        if tag == "plain":
            # our data.pkl against torch's own pickling of the object we loaded
            buf = io.BytesIO()
            obj2 = torch.load(path, weights_only=wo)
            torch.save(obj2, buf)
            with zipfile.ZipFile(buf) as zt, zipfile.ZipFile(path) as zo:
                same = zt.read(zt.namelist()[0]) == zo.read(zo.namelist()[0])
            if VERBOSE or not same:
                print("info %s: data.pkl %s torch.save's" % (name, "identical to" if same else "differs from"))


# ---------------------------------------------------------------- 2. torch -> tensorlite

def torch_cases():
    torch.manual_seed(0)
    c = collections.OrderedDict()
    dts = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32, torch.int16,
           torch.int8, torch.uint8, torch.bool]
    c["dtypes"] = {str(dt): (torch.arange(6) * 3 - 5).to(dt) for dt in dts}
    c["special"] = {"f32": torch.tensor([float("inf"), float("-inf"), float("nan"), -0.0, 1e-45]),
                    "half": torch.tensor([65504.0, 6e-8, float("inf"), -0.0], dtype=torch.float16),
                    "bf16": torch.tensor([3.0e38, -1e-38, float("nan")], dtype=torch.bfloat16)}
    base = torch.arange(24.0).reshape(4, 6)
    c["views"] = {"base": base, "t": base.t(), "slice": base[1:3, 2:5], "step": base[:, ::2], "row": base[3],
                  "expand": base[0].expand(3, 6), "diag": base.diagonal()}
    c["views_only"] = [base[1], base[2:, 1:]]
    c["scalar_empty"] = (torch.tensor(2.5), torch.tensor(7), torch.zeros(0), torch.zeros(3, 0, 2, dtype=torch.int64))
    c["parameter"] = torch.nn.Parameter(torch.randn(3, 2))
    c["param_no_grad"] = torch.nn.Parameter(torch.randn(2), requires_grad=False)
    c["requires_grad"] = torch.ones(3, requires_grad=True)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(2 * 4 * 4, 3))
    c["state_dict"] = net.state_dict()
    c["big_state_dict"] = torch.nn.Sequential(*[torch.nn.Linear(2, 2) for _ in range(50)]).state_dict()
    sgd = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    adam_net = torch.nn.Linear(3, 2)
    adam = torch.optim.Adam(adam_net.parameters(), lr=1e-3)
    for _ in range(2):
        sgd.zero_grad()
        net(torch.randn(2, 1, 6, 6)).sum().backward()
        sgd.step()
        adam.zero_grad()
        adam_net(torch.randn(4, 3)).pow(2).sum().backward()
        adam.step()
    c["sgd_state"] = sgd.state_dict()
    c["adam_state"] = adam.state_dict()
    c["checkpoint"] = {"epoch": 7, "model_state_dict": adam_net.state_dict(), "optimizer_state_dict": adam.state_dict(),
                       "loss": 0.3125}
    c["containers"] = {"l": [1, -2, 300, 70000, -(2 ** 31), 2 ** 31, 2 ** 63 - 1, -(2 ** 63), True, None, "h\u00e9\u20ac"],
                       "t": (1,), "t4": (1, 2, 3, 4), 5: {"x": [], "y": {}}, "e": ()}
    c["big_dict"] = {"k%d" % i: i for i in range(2500)}
    shared = torch.arange(5)
    c["same_object_twice"] = [shared, shared, {"again": shared}]
    return c


def torch_to_tl(runner, work):
    d = os.path.join(work, "torch")
    os.makedirs(d, exist_ok=True)
    files = []
    for name, obj in torch_cases().items():
        p = os.path.join(d, name + ".pt")
        torch.save(obj, p)
        files.append((name, p, obj))
    # protocol 4 (FRAME, SHORT_BINUNICODE, MEMOIZE) and a deflated re-zip
    obj = torch_cases()["views"]
    p = os.path.join(d, "protocol4.pt")
    torch.save(obj, p, pickle_protocol=4)
    files.append(("protocol4", p, obj))
    src = os.path.join(d, "state_dict.pt")
    p = os.path.join(d, "deflated.pt")
    with zipfile.ZipFile(src) as zi, zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED) as zo:
        for n in zi.namelist():
            zo.writestr(n, zi.read(n))
    files.append(("deflated", p, torch.load(src)))
    check(len(files) >= 18, "torch wrote %d files" % len(files))
    for name, p, obj in files:
        want = dump(obj)
        r = subprocess.run([runner, "read", p], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        check(r.returncode == 0 and r.stdout == want, "[torch] %s: tl_load bit-exact (structure, views, sharing, bytes)" % name,
              r.stdout[:500] if r.returncode else first_diff(want, r.stdout))
        r = subprocess.run([runner, "repr", p], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        check(r.returncode == 0 and r.stdout == repr(torch.load(p, weights_only=False)) + "\n", "[torch] %s: tl_value_to_string == Python repr" % name,
              first_diff(repr(torch.load(p, weights_only=False)) + "\n", r.stdout))
        out = os.path.join(d, name + ".resaved.pt")
        r = subprocess.run([runner, "resave", p, out], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ok = r.returncode == 0
        if ok:
            try:
                back = torch.load(out)
                ok = dump(back) == want
            except Exception as e:  # noqa
                ok = False
                r.stdout = repr(e)
        check(ok, "[torch] %s: torch.load(tl_save(tl_load(file))) is the same object" % name, r.stdout[:300])


def main():
    global VERBOSE
    ap = argparse.ArgumentParser()
    ap.add_argument("--runner", required=True)
    ap.add_argument("--runner-z64")
    ap.add_argument("--runner-z64off")
    ap.add_argument("--work")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    VERBOSE = a.v
    print("torch %s, python %s" % (torch.__version__, sys.version.split()[0]))
    work = a.work or tempfile.mkdtemp(prefix="tl_serialize_")
    os.makedirs(work, exist_ok=True)
    tl_to_torch(a.runner, work, "plain")
    if a.runner_z64:
        tl_to_torch(a.runner_z64, work, "zip64")
    if a.runner_z64off:
        tl_to_torch(a.runner_z64off, work, "zip64off", torch_reads=False)
    torch_to_tl(a.runner, work)
    if not a.work:
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (PASS, FAIL))
    return 1 if FAIL else 0


if __name__ == "__main__":
    sys.exit(main())
