#!/bin/sh
# PyTorch oracle for >>modules: builds tests/torch/modules_runner.c and runs test_modules.py with real
# torch (layers vs torch with torch's weights, SEED_NOTES models' state_dict/repr/registry,
# load_state_dict reports, seeded initialisation and a training step). Run from anywhere.
# Without an importable torch: SKIP (exit 0), except when CI=true, where it FAILS.
# Environment: PY (default /usr/bin/python3), CC_TORCH (default gcc), TL_TORCH_ARGS (e.g. "-v" or
# "--only bar3 --work build/modules_work").
set -u
. "$(dirname "$0")/common.sh"
BUILD=build
require_torch test-modules-torch "torch"

mkdir -p "$BUILD" || exit 1
"$CC_TORCH" -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -I. tests/torch/modules_runner.c \
    -o "$BUILD/modules_runner" -lm || {
    echo "test-modules-torch: FAIL: modules_runner did not compile" >&2
    echo "0 passed, 1 failed"
    exit 1
}
# shellcheck disable=SC2086
"$PY" tests/torch/test_modules.py --runner "$BUILD/modules_runner" ${TL_TORCH_ARGS:-}
