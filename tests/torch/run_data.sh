#!/bin/sh
# PyTorch/numpy oracle for >>data: builds tests/torch/data_runner.c and checks it against real
# torch 1.13 and numpy with tests/torch/test_data.py (loader/split/sampler index streams, Fashion-MNIST
# read pixel for pixel, .npy/.npz/CSV/gzip-IDX round trips):
#   - gcc -std=c99 strict -O2                        (every group)
#   - gcc -std=c99 -O1 -fsanitize=address,undefined (every group but mnist, which is slow there)
# Without an importable torch/numpy: SKIP (exit 0), except when CI=true, where it FAILS. Without the
# Fashion-MNIST files the mnist group says SKIP with the reason (a failure when CI=true).
# Environment: PY (default /usr/bin/python3), TL_DATA_QUICK=1 (only the -O2 build),
# TL_DATA_ARGS (extra arguments for test_data.py, e.g. "--only order -v").
# The last line is "N passed, N failed".
set -u
. "$(dirname "$0")/common.sh"
require_torch test-data-torch
runners_init test-data-torch data_runner build/data
build_runner runner_gcc gcc -std=c99 $STRICT -O2
if [ "${TL_DATA_QUICK:-0}" != "1" ]; then
    build_runner runner_asan gcc -std=c99 $STRICT -O1 -g -fsanitize=address,undefined \
        -fno-sanitize-recover=undefined -fno-omit-frame-pointer
fi
runners_built
# shellcheck disable=SC2086
"$PY" tests/torch/test_data.py $runners --extra-failed "$broken" ${TL_DATA_ARGS:-}
