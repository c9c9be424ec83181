#!/bin/sh
# The flagship example (examples/fashion_mnist.c) end to end: builds build/examples/fashion_mnist and
# runs tests/torch/test_flagship.py (short runs on the first Fashion-MNIST images): options, progress
# lines, resume bit for bit (mid-epoch and at an epoch boundary), curves.svg, and with real torch the
# twins' first 50 losses, lenet.pt in PyTorch, --eval of a PyTorch-trained state_dict, PyTorch
# resuming the C checkpoint. Without torch only the torch-free checks run and the stage says SKIP for
# the rest (a failure when CI=true). Without the data set (apt-get install dataset-fashion-mnist): SKIP.
set -u
. "$(dirname "$0")/common.sh"
BUILD=build/examples
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    if [ "${CI:-}" = "true" ]; then echo "test-flagship: FAIL: no Fashion-MNIST data set"; echo "0 passed, 1 failed"; exit 1; fi
    echo "test-flagship: SKIP (no /usr/share/datasets/fashion-mnist: apt-get install dataset-fashion-mnist)"
    echo "0 passed, 0 failed"
    exit 0
fi
mkdir -p "$BUILD" || exit 1
if ! "$CC_TORCH" -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -I. examples/fashion_mnist.c -o "$BUILD/fashion_mnist" -lm; then
    echo "test-flagship: FAIL: examples/fashion_mnist.c did not compile"
    echo "0 passed, 1 failed"
    exit 1
fi
extra=""
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
    if [ "${CI:-}" = "true" ]; then extra="--extra-fail"; else
        echo "test-flagship: SKIP for the PyTorch checks (torch not importable with $PY)"; extra="--no-torch"; fi
fi
# shellcheck disable=SC2086
"$PY" tests/torch/test_flagship.py --bin "$BUILD/fashion_mnist" --work build/flagship $extra
