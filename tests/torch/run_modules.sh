#!/bin/sh
# PyTorch oracle for >>modules: builds tests/torch/modules_runner.c and runs test_modules.py with real
# torch (layers vs torch with torch's weights, SEED_NOTES models' state_dict/repr/registry,
# load_state_dict reports, seeded initialisation and a training step). Run from anywhere.
# Without an importable torch: SKIP (exit 0), except when CI=true, where it FAILS.
# Environment: PY (default /usr/bin/python3), CC_TORCH (default gcc), TL_TORCH_ARGS (e.g. "-v" or
# "--only bar3 --work build/modules_work").
set -u
. "$(dirname "$0")/common.sh"
require_torch test-modules-torch "torch"
# shellcheck disable=SC2086
run_oracle test-modules-torch modules_runner test_modules.py "the FAIL lines above" ${TL_TORCH_ARGS:-}
