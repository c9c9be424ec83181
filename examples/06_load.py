"""06_load.py - PyTorch's side of examples/06_save_values.c: torch.load what the C program saved.

    ./build/06_save_values                 # writes build/values.pt
    /usr/bin/python3 examples/06_load.py   # or: 06_load.py PATH

Checks every value against the Python the C program mirrors and exits 1 if one differs.
"""
import sys

import torch

path = sys.argv[1] if len(sys.argv) > 1 else "build/values.pt"
# torch 1.13's weights_only loader refuses Python floats (2.x accepts them): see 06_save_values.c
major, minor = (int(v) for v in torch.__version__.split(".")[:2])
obj = torch.load(path, weights_only=(major, minor) >= (2, 0))
print(obj)
x = torch.arange(12.).reshape(3, 4)
want = {'name': 'run-7', 'step': 1200, 'lr': 0.001, 'done': False, 'note': None,
        'x': x, 'row': x[1], 'ids': torch.tensor([3, 1, 4]), 'mask': x > 5, 'shape': (3, 4),
        'losses': [0.9, 0.5, 0.25], 'nested': {'a': {'b': [1, 'two', 3.0]}}}
ok = list(obj) == list(want)
for k, v in want.items():
    got = obj.get(k)
    same = (torch.is_tensor(v) and torch.is_tensor(got) and got.dtype == v.dtype and torch.equal(got, v)) or \
           (not torch.is_tensor(v) and type(got) is type(v) and got == v)
    print(f"{k:7s} {'ok' if same else 'DIFFERS: %r' % (got,)}")
    ok &= same
shares = obj['row'].untyped_storage().data_ptr() == obj['x'].untyped_storage().data_ptr() \
    if hasattr(obj['x'], 'untyped_storage') else obj['row'].storage().data_ptr() == obj['x'].storage().data_ptr()
print("'row' shares 'x''s storage after torch.load:", shares)
ok &= shares
print("all values match" if ok else "SOME VALUES DIFFER")
sys.exit(0 if ok else 1)
