#!/bin/sh
# PyTorch oracle for the tensor core: builds tests/torch/ops_runner.c and runs test_ops.py.
# Run from anywhere (it changes to the repo root). Exit status non-zero on any failure.
# Without an importable torch: SKIP (exit 0), except when CI=true, where it FAILS.
# Environment: PY (default /usr/bin/python3), CC_TORCH (default gcc), TL_TORCH_ARGS (extra arguments
# for test_ops.py, e.g. "--only reduce -v").
set -u
. "$(dirname "$0")/common.sh"
require_torch test-torch
# shellcheck disable=SC2086
run_oracle test-torch ops_runner test_ops.py build/torch_failures.txt ${TL_TORCH_ARGS:-}
