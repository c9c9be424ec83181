#!/bin/sh
# PyTorch oracle for >>optim: builds tests/torch/optim_runner.c and runs test_optim.py with real
# torch 1.13 (every optimizer and option for 200 steps, every LR scheduler for 100 epochs,
# clip_grad_norm_/clip_grad_value_, optimizer+scheduler state_dicts resumed in either framework).
# Run from anywhere.
# Without an importable torch: SKIP (exit 0), except when CI=true, where it FAILS.
# Environment: PY (default /usr/bin/python3), CC_TORCH (default gcc), TL_TORCH_ARGS (e.g. "-v" or
# "--only sched --work build/optim_work").
set -u
cd "$(dirname "$0")/../.." || exit 1

PY="${PY:-/usr/bin/python3}"
CC_TORCH="${CC_TORCH:-gcc}"
BUILD=build

if ! "$PY" -c "import torch" >/dev/null 2>&1; then
    if [ "${CI:-}" = "true" ]; then
        echo "test-optim-torch: FAIL: 'import torch' fails with $PY (CI=true requires the PyTorch oracle)" >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
    echo "test-optim-torch: SKIP (torch not importable with $PY)"
    exit 0
fi

mkdir -p "$BUILD" || exit 1
"$CC_TORCH" -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -I. tests/torch/optim_runner.c \
    -o "$BUILD/optim_runner" -lm || {
    echo "test-optim-torch: FAIL: optim_runner did not compile" >&2
    echo "0 passed, 1 failed"
    exit 1
}
# shellcheck disable=SC2086
"$PY" tests/torch/test_optim.py --runner "$BUILD/optim_runner" ${TL_TORCH_ARGS:-}
