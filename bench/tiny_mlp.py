# PyTorch side of bench/tiny_mlp.c: the tiny-op overhead workload of shared/anchors/torch_ref.py.
import sys, time
import torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(1)
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
net = nn.Sequential(nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1))
opt = torch.optim.SGD(net.parameters(), 0.01)
x = torch.randn(1, 16); y = torch.randn(1, 1)
for _ in range(200):
    opt.zero_grad(); l = F.mse_loss(net(x), y); l.backward(); opt.step()
t = time.perf_counter()
for _ in range(steps):
    opt.zero_grad(); l = F.mse_loss(net(x), y); l.backward(); opt.step()
print(f"pytorch tiny-mlp batch1 us_per_step={(time.perf_counter()-t)/steps*1e6:.2f}")
