# PyTorch side of bench/train.c: ../shared/anchors/torch_ref.py's workloads, one per process (so the
# peak RSS is the workload's own). Usage: python3 train.py mlp|lenet|tiny [threads] [data dir]
import gzip, struct, sys, time, resource
import torch, torch.nn as nn, torch.nn.functional as F

w = sys.argv[1] if len(sys.argv) > 1 else "mlp"
th = int(sys.argv[2]) if len(sys.argv) > 2 else 1
D = (sys.argv[3] if len(sys.argv) > 3 else "/usr/share/datasets/fashion-mnist") + "/"
def idx(path):
    with gzip.open(D + path) as f:
        data = f.read()
    magic, n = struct.unpack(">II", data[:8])
    if magic == 2051:
        r, c = struct.unpack(">II", data[8:16])
        return torch.frombuffer(bytearray(data[16:]), dtype=torch.uint8).reshape(n, 1, r, c).float() / 255.0
    return torch.frombuffer(bytearray(data[8:]), dtype=torch.uint8).long()
def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
torch.set_num_threads(th)
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

def run(name, net, opt, bs=64):
    X, Y = idx("train-images-idx3-ubyte.gz"), idx("train-labels-idx1-ubyte.gz")
    Xt, Yt = idx("t10k-images-idx3-ubyte.gz"), idx("t10k-labels-idx1-ubyte.gz")
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, Y), batch_size=bs, shuffle=True)
    t = time.perf_counter()
    net.train()
    for xb, yb in loader:
        opt.zero_grad(); loss = F.cross_entropy(net(xb), yb); loss.backward(); opt.step()
    dt = time.perf_counter() - t
    net.eval()
    with torch.no_grad():
        acc = (net(Xt).argmax(1) == Yt).float().mean().item()
    print(f"{name} threads={th} epoch_s={dt:.3f} test_acc={acc:.4f} peak_rss_mb={rss():.1f}", flush=True)

if w == "mlp":
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    run("mlp784-256-10 adam", net, torch.optim.Adam(net.parameters(), 1e-3))
elif w == "lenet":
    net = LeNet(); run("lenet sgd-momentum", net, torch.optim.SGD(net.parameters(), 0.05, momentum=0.9))
else:
    net = nn.Sequential(nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1)); opt = torch.optim.SGD(net.parameters(), 0.01)
    x = torch.randn(1, 16); y = torch.randn(1, 1)
    for s in range(-200, 2000):
        if s == 0: t = time.perf_counter()
        opt.zero_grad(); l = F.mse_loss(net(x), y); l.backward(); opt.step()
    print(f"tiny-mlp threads={th} us_per_step={(time.perf_counter()-t)/2000*1e6:.2f} peak_rss_mb={rss():.1f}")
