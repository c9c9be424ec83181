#!/bin/sh
# PyTorch oracle for the tensor core: builds tests/torch/ops_runner.c and runs test_ops.py.
# Run from the repo root (make test-torch does). Exit status non-zero on any failure.
# Without an importable torch: SKIP (exit 0), except when CI=true, where it FAILS.
# Environment: PY (default /usr/bin/python3), CC (default gcc), TL_TORCH_ARGS (extra arguments
# for test_ops.py, e.g. "--only reduce -v").
set -u
. "$(dirname "$0")/common.sh"
BUILD=build
require_torch test-torch

mkdir -p "$BUILD" || exit 1
echo "test-torch: building $BUILD/ops_runner"
"$CC_TORCH" -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -I. \
    tests/torch/ops_runner.c -o "$BUILD/ops_runner" -lm || {
    echo "test-torch: FAIL: ops_runner did not compile" >&2
    exit 1
}

# shellcheck disable=SC2086
"$PY" tests/torch/test_ops.py --runner "$BUILD/ops_runner" ${TL_TORCH_ARGS:-}
rc=$?
if [ $rc -ne 0 ]; then
    echo "test-torch: FAIL (see $BUILD/torch_failures.txt)" >&2
    exit 1
fi
echo "test-torch: ok"
