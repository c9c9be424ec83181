#!/bin/sh
# PyTorch oracle for autograd: builds tests/torch/grad_runner.c and runs test_autograd.py, which
# compares the loss and every leaf's gradient of random composite programs with torch's.
# Run from anywhere (it changes to the repo root). Exit status non-zero on any failure.
# Without an importable torch: SKIP (exit 0), except when CI=true, where it FAILS.
# Environment: PY (default /usr/bin/python3), CC_TORCH (default gcc), TL_AUTOGRAD_ARGS (extra
# arguments for test_autograd.py, e.g. "--only composite,inplace -v").
set -u
. "$(dirname "$0")/common.sh"
require_torch test-autograd
# shellcheck disable=SC2086
run_oracle test-autograd grad_runner test_autograd.py build/autograd_failures.txt ${TL_AUTOGRAD_ARGS:-}
