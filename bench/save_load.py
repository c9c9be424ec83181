# PyTorch side of bench/save_load.c: torch.save and torch.load of a 100 MB state_dict (25 float32
# tensors [1000, 1000]), best of 3. Usage: python3 save_load.py PATH
import sys, time, collections
import torch
torch.manual_seed(0)
sd = collections.OrderedDict((f"layers.{i}.weight", torch.randn(1000, 1000)) for i in range(25))
bs = bl = 1e30
for _ in range(3):
    t = time.perf_counter(); torch.save(sd, sys.argv[1]); t1 = time.perf_counter()
    back = torch.load(sys.argv[1], weights_only=True); t2 = time.perf_counter()
    assert len(back) == 25
    bs = min(bs, t1 - t); bl = min(bl, t2 - t1)
print(f"save_load torch save_s={bs:.3f} load_s={bl:.3f} mb=100")
