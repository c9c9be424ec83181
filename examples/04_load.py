"""04_load.py - PyTorch's side of examples/04_save_for_torch.c: load what the C program saved.

Run the C example first, then this script with a Python that has torch (Debian's python3-torch):

    gcc -std=c99 -O2 -I. examples/04_save_for_torch.c -o build/04_save_for_torch -lm
    ./build/04_save_for_torch                      # writes build/lenet.pt, build/ckpt.pt, build/lenet_io.pt
    /usr/bin/python3 examples/04_load.py           # or: 04_load.py STATE_DICT CHECKPOINT IO

It builds the same LeNet-5 after torch.manual_seed(0) and checks that
  - the state_dict tensorlite saved loads with torch.load(weights_only=True) and load_state_dict,
    and equals this model's own seeded initialisation, bit for bit (tensorlite draws torch's
    random numbers);
  - the input the C program used equals torch.randn after the same seed, and the C output
    equals PyTorch's output for that input (up to float rounding: the convolutions sum in a
    different order);
  - the checkpoint dict {'epoch', 'model_state_dict', 'loss'} loads and its loss matches (the C
    program stores the loss as a 0-dim tensor: torch 1.13's weights_only loader rejects any
    Python float in a file, even one torch itself saved).
Exits 1 if a check fails.
"""
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class TheModelClass(nn.Module):  # the PyTorch tutorial's LeNet-5, on 3x32x32 images
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


def check(label, ok):
    print(f"{label}: {'yes' if ok else 'NO'}")
    return ok


def main(argv):
    sd_path = argv[1] if len(argv) > 1 else "build/lenet.pt"
    ckpt_path = argv[2] if len(argv) > 2 else "build/ckpt.pt"
    io_path = argv[3] if len(argv) > 3 else "build/lenet_io.pt"
    print(f"torch {torch.__version__}")
    ok = True

    # The same program as the C example: seed, model, input, labels, in that order.
    torch.manual_seed(0)
    model = TheModelClass()
    x = torch.randn(2, 3, 32, 32)
    labels = torch.randint(0, 10, (2,))

    # torch.load of a tensorlite file; weights_only=True refuses anything but tensors and plain data.
    state_dict = torch.load(sd_path, weights_only=True)
    print(f"loaded {sd_path}: {type(state_dict).__name__} with {len(state_dict)} tensors")
    own = model.state_dict()
    ok &= check("same keys, same order as model.state_dict()", list(state_dict) == list(own))
    ok &= check("every tensor equals torch's own seeded init (torch.equal)",
                all(torch.equal(state_dict[k], own[k]) for k in own))
    clone = TheModelClass()  # different weights until the state_dict is loaded
    print(clone.load_state_dict(state_dict))
    clone.eval()

    # The C program's input and output, saved as torch.save([x, out]) does.
    x_c, out_c = torch.load(io_path, weights_only=True)
    ok &= check("C input equals torch.randn(2, 3, 32, 32) after torch.manual_seed(0)", torch.equal(x_c, x))
    with torch.no_grad():
        out = clone(x)
        loss = F.cross_entropy(out, labels).item()
    print("PyTorch output:")
    print(out)
    diff = (out - out_c).abs().max().item()
    ok &= check(f"C output matches PyTorch's (max |diff| = {diff:.3g})",
                torch.allclose(out, out_c, rtol=1e-4, atol=1e-6))

    # checkpoint = torch.load(PATH); model.load_state_dict(checkpoint['model_state_dict'])
    checkpoint = torch.load(ckpt_path, weights_only=True)
    print(f"loaded {ckpt_path}: keys {list(checkpoint)}, epoch {checkpoint['epoch']}, "
          f"loss {checkpoint['loss']}")
    model2 = TheModelClass()
    model2.load_state_dict(checkpoint["model_state_dict"])
    with torch.no_grad():
        ok &= check("the checkpoint's model gives the same output", torch.equal(model2(x), out))
    ok &= check(f"the checkpoint's loss matches F.cross_entropy in PyTorch ({loss:.7f})",
                abs(checkpoint["loss"].item() - loss) <= 1e-5 * abs(loss))
    print("all checks passed" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
