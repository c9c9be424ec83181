#!/bin/sh
# PyTorch oracle for the ops of issue 13: builds tests/torch/newops_runner.c (functional_runner.c
# plus the new ops) and runs test_newops.py, which compares outputs, indices and gradients with
# torch 1.13 in float32 and float64. Exit status non-zero on any failure.
# Without an importable torch: SKIP (exit 0), except when CI=true, where it FAILS.
# The last line is always "N passed, N failed".
# Environment: PY, CC_TORCH (common.sh), TL_NEWOPS_ARGS (e.g. "--only sort,topk -v").
set -u
. "$(dirname "$0")/common.sh"
require_torch test-newops
# shellcheck disable=SC2086
run_oracle test-newops newops_runner test_newops.py build/newops_failures.txt ${TL_NEWOPS_ARGS:-}
