#!/bin/sh
# PyTorch oracle for >>optim: builds tests/torch/optim_runner.c and runs test_optim.py with real
# torch 1.13 (every optimizer and option for 200 steps, every LR scheduler for 100 epochs,
# clip_grad_norm_/clip_grad_value_, optimizer+scheduler state_dicts resumed in either framework).
# Run from anywhere.
# Without an importable torch: SKIP (exit 0), except when CI=true, where it FAILS.
# Environment: PY (default /usr/bin/python3), CC_TORCH (default gcc), TL_TORCH_ARGS (e.g. "-v" or
# "--only sched --work build/optim_work").
set -u
. "$(dirname "$0")/common.sh"
require_torch test-optim-torch "torch"
# shellcheck disable=SC2086
run_oracle test-optim-torch optim_runner test_optim.py "the FAIL lines above" ${TL_TORCH_ARGS:-}
