#!/bin/sh
# PyTorch oracle for the >>functional section: builds tests/torch/functional_runner.c and runs
# test_functional.py, which compares outputs, max_pool2d indices and gradients of linear, conv2d,
# the 2-D pools and every loss with torch in float32 and float64.
# Run from anywhere (it changes to the repo root). Exit status non-zero on any failure.
# Without an importable torch: SKIP (exit 0), except when CI=true, where it FAILS.
# The last line is always "N passed, N failed".
# Environment: PY (default /usr/bin/python3), CC_TORCH (default gcc), TL_FUNCTIONAL_ARGS (extra
# arguments for test_functional.py, e.g. "--only conv2d,max_pool2d -v").
set -u
. "$(dirname "$0")/common.sh"
require_torch test-functional
# shellcheck disable=SC2086
run_oracle test-functional functional_runner test_functional.py build/functional_failures.txt ${TL_FUNCTIONAL_ARGS:-}
