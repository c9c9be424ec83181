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
BUILD=build
require_torch test-functional

mkdir -p "$BUILD" || exit 1
echo "test-functional: building $BUILD/functional_runner"
if ! "$CC_TORCH" -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -I. \
    tests/torch/functional_runner.c -o "$BUILD/functional_runner" -lm; then
    echo "test-functional: FAIL: functional_runner did not compile"
    echo "0 passed, 1 failed"
    exit 1
fi

log="$BUILD/functional_oracle.log"
# shellcheck disable=SC2086
"$PY" tests/torch/test_functional.py --runner "$BUILD/functional_runner" ${TL_FUNCTIONAL_ARGS:-} > "$log" 2>&1
rc=$?
last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
if [ $rc -ne 0 ] || [ -z "$last" ]; then
    cat "$log"
    echo "test-functional: FAIL (exit $rc; every failure: $BUILD/functional_failures.txt)"
    [ -n "$last" ] || last="0 passed, 1 failed"
    echo "$last"
    exit 1
fi
grep -v -E '^[0-9]+ passed, [0-9]+ failed$' "$log"
echo "test-functional: ok"
echo "$last"
