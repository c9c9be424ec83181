"""fashion_mnist.py - examples/fashion_mnist.c in PyTorch: LeNet-5 on Fashion-MNIST, SGD(lr, momentum=0.9)
with CosineAnnealingLR(T_max=epochs), batch 64, shuffled, the same normalisation.

With the same --seed the two programs start from the same weights (tensorlite draws torch's random
numbers) and see the same batches in the same order (its DataLoader draws what torch's draws), so
their losses coincide up to float rounding. Run with a Python that has torch (Debian python3-torch):

    /usr/bin/python3 examples/fashion_mnist.py --epochs 1
    /usr/bin/python3 examples/fashion_mnist.py --eval build/demo/lenet.pt       # tensorlite's weights
    /usr/bin/python3 examples/fashion_mnist.py --resume build/demo/checkpoint.pt --epochs 12

--resume continues a checkpoint written by the C program (or by this script) with torch.optim.SGD;
--save-state-dict FILE writes the trained weights for `fashion_mnist --eval FILE`.
"""
import argparse, gzip, os, struct, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD = 0.2860, 0.3530


def idx(path):
    with gzip.open(path) as f:
        data = f.read()
    magic, n = struct.unpack(">II", data[:8])
    if magic == 2051:
        r, c = struct.unpack(">II", data[8:16])
        return torch.frombuffer(bytearray(data[16:]), dtype=torch.uint8).reshape(n, 1, r, c)
    return torch.frombuffer(bytearray(data[8:]), dtype=torch.uint8).long()


def dataset(root, train, limit=0, dtype=torch.float32):
    p = "train" if train else "t10k"
    x = idx(os.path.join(root, p + "-images-idx3-ubyte.gz"))
    y = idx(os.path.join(root, p + "-labels-idx1-ubyte.gz"))
    if limit:  # the first `limit` images, as the C program's --train-limit / --test-limit
        x, y = x[:limit], y[:limit]
    x = (x.to(dtype).div(255.0) - MEAN) / STD  # ToTensor + Normalize, in float32 (float64 with --double)
    return torch.utils.data.TensorDataset(x, y)


class TheModelClass(nn.Module):  # SEED_NOTES.md's LeNet-5, adapted to 1x28x28 input
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def evaluate(net, ds):
    net.eval()
    total, correct = 0.0, 0
    with torch.no_grad():
        for xb, yb in torch.utils.data.DataLoader(ds, batch_size=1000):  # draws a base seed, as the C loader
            out = net(xb)
            total += F.cross_entropy(out, yb, reduction="sum").item()
            correct += (out.argmax(1) == yb).sum().item()
    net.train()
    return total / len(ds), correct / len(ds)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--resume", help="a checkpoint.pt written by examples/fashion_mnist.c (or by this script)")
    ap.add_argument("--eval", help="evaluate a state_dict and exit")
    ap.add_argument("--train-limit", type=int, default=0, help="use only the first N training images")
    ap.add_argument("--test-limit", type=int, default=0, help="use only the first N test images")
    ap.add_argument("--double", action="store_true", help="train in float64 (net.double())")
    ap.add_argument("--max-batches", type=int, default=0, help="stop after this many batches (0: all)")
    ap.add_argument("--print-losses", type=int, default=0, help="print the first N batch losses")
    ap.add_argument("--save-state-dict", help="write the trained state_dict here")
    ap.add_argument("--save-checkpoint", help="write a checkpoint at the end")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    net = TheModelClass()
    dt = torch.float64 if a.double else torch.float32
    train, test = dataset(a.data, True, a.train_limit, dt), dataset(a.data, False, a.test_limit, dt)
    if a.double:  # the C program's --double: model and images in float64
        net.double()
    if a.eval:
        net.load_state_dict(torch.load(a.eval, weights_only=True), strict=True)
        loss, acc = evaluate(net, test)
        print("test loss %.4f\naccuracy %.4f" % (loss, acc))
        return 0
    opt = torch.optim.SGD(net.parameters(), lr=a.lr, momentum=0.9)
    sch = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=a.epochs)
    start = 0
    if a.resume:
        ck = torch.load(a.resume, weights_only=False)  # holds Python floats: 1.13's weights_only refuses them
        net.load_state_dict(ck["model_state_dict"], strict=True)
        opt.load_state_dict(ck["optimizer_state_dict"])
        sch.load_state_dict(ck["scheduler_state_dict"])
        torch.set_rng_state(ck["rng_state"])
        start = ck["epoch"]
        pos = ck.get("loader_position", {})
        if pos.get("batch", 0) not in (0, None) and pos.get("epoch") == start and pos.get("started"):
            print("note: the checkpoint is mid-epoch; PyTorch starts the next epoch afresh")
            start += 1
        print("resumed %s at epoch %d (lr %.5f)" % (a.resume, start + 1, opt.param_groups[0]["lr"]))
    loader = torch.utils.data.DataLoader(train, batch_size=a.batch_size, shuffle=True)
    done = 0
    losses = []
    for epoch in range(start, a.epochs):
        t0, s, n = time.time(), 0.0, 0
        for xb, yb in loader:
            opt.zero_grad()
            loss = F.cross_entropy(net(xb), yb)
            loss.backward()
            opt.step()
            s += loss.item(); n += 1; done += 1
            losses.append(loss.item())
            if done <= a.print_losses:
                print("batch %d loss %.17g" % (done, loss.item()))
            if a.max_batches and done >= a.max_batches:
                break
        sch.step()
        tl, ta = evaluate(net, test)
        print("epoch %d/%d: train loss %.4f  test loss %.4f  test accuracy %.4f  (%.1f s)" %
              (epoch + 1, a.epochs, s / max(n, 1), tl, ta, time.time() - t0), flush=True)
        if a.max_batches and done >= a.max_batches:
            break
    if a.save_state_dict:
        torch.save(net.state_dict(), a.save_state_dict)
    if a.save_checkpoint:
        torch.save({"epoch": epoch + 1, "model_state_dict": net.state_dict(), "optimizer_state_dict": opt.state_dict(),
                    "loss": losses[-1] if losses else 0.0, "scheduler_state_dict": sch.state_dict(),
                    "rng_state": torch.get_rng_state()}, a.save_checkpoint)
    return 0


if __name__ == "__main__":
    sys.exit(main())
