# PyTorch side of bench/lenet.c: LeNet-5 training steps on random 28x28 data, batch 64, SGD lr 0.05
# momentum 0.9 (the model of shared/anchors/torch_ref.py). Usage: python3 lenet.py [steps [threads]]
import sys, time
import torch, torch.nn as nn, torch.nn.functional as F
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 100
if len(sys.argv) > 2: torch.set_num_threads(int(sys.argv[2]))
torch.manual_seed(0)
class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2); self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5); self.fc1 = nn.Linear(16*5*5, 120)
        self.fc2 = nn.Linear(120, 84); self.fc3 = nn.Linear(84, 10)
    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x))); x = self.pool(F.relu(self.conv2(x)))
        x = x.flatten(1); x = F.relu(self.fc1(x)); x = F.relu(self.fc2(x)); return self.fc3(x)
net = LeNet(); opt = torch.optim.SGD(net.parameters(), 0.05, momentum=0.9)
xs = [torch.randn(64, 1, 28, 28) for _ in range(8)]; ys = [torch.randint(0, 10, (64,)) for _ in range(8)]
for s in range(-5, steps):
    if s == 0: t = time.perf_counter()
    opt.zero_grad(); loss = F.cross_entropy(net(xs[(s + 5) % 8]), ys[(s + 5) % 8]); loss.backward(); opt.step()
dt = (time.perf_counter() - t) / steps
print(f"pytorch lenet batch64 threads={torch.get_num_threads()} ms_per_step={dt*1e3:.3f} epoch938_s={dt*938:.2f}")
