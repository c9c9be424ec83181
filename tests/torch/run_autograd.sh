#!/bin/sh
# PyTorch oracle for autograd: builds tests/torch/grad_runner.c and runs test_autograd.py, which
# compares the loss and every leaf's gradient of random composite programs with torch's.
# Run from anywhere (it changes to the repo root). Exit status non-zero on any failure.
# Without an importable torch: SKIP (exit 0), except when CI=true, where it FAILS.
# Environment: PY (default /usr/bin/python3), CC_TORCH (default gcc), TL_AUTOGRAD_ARGS (extra
# arguments for test_autograd.py, e.g. "--only composite,inplace -v").
set -u
. "$(dirname "$0")/common.sh"
BUILD=build
require_torch test-autograd

mkdir -p "$BUILD" || exit 1
echo "test-autograd: building $BUILD/grad_runner"
"$CC_TORCH" -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -I. \
    tests/torch/grad_runner.c -o "$BUILD/grad_runner" -lm || {
    echo "test-autograd: FAIL: grad_runner did not compile" >&2
    exit 1
}

# shellcheck disable=SC2086
"$PY" tests/torch/test_autograd.py --runner "$BUILD/grad_runner" ${TL_AUTOGRAD_ARGS:-}
rc=$?
if [ $rc -ne 0 ]; then
    echo "test-autograd: FAIL (see $BUILD/autograd_failures.txt)" >&2
    exit 1
fi
echo "test-autograd: ok"
