#!/bin/sh
# PyTorch oracle for the ops of issue 13: builds tests/torch/newops_runner.c (functional_runner.c
# plus the new ops) and runs test_newops.py, which compares outputs, indices and gradients with
# torch 1.13 in float32 and float64. Exit status non-zero on any failure.
# Without an importable torch: SKIP (exit 0), except when CI=true, where it FAILS.
# The last line is always "N passed, N failed".
# Environment: PY, CC_TORCH (common.sh), TL_NEWOPS_ARGS (e.g. "--only sort,topk -v").
set -u
. "$(dirname "$0")/common.sh"
BUILD=build
require_torch test-newops

mkdir -p "$BUILD" || exit 1
echo "test-newops: building $BUILD/newops_runner"
if ! "$CC_TORCH" -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -I. -Itests/torch \
    tests/torch/newops_runner.c -o "$BUILD/newops_runner" -lm; then
    echo "test-newops: FAIL: newops_runner did not compile"
    echo "0 passed, 1 failed"
    exit 1
fi

log="$BUILD/newops_oracle.log"
# shellcheck disable=SC2086
"$PY" tests/torch/test_newops.py --runner "$BUILD/newops_runner" ${TL_NEWOPS_ARGS:-} > "$log" 2>&1
rc=$?
last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
if [ $rc -ne 0 ] || [ -z "$last" ]; then
    cat "$log"
    echo "test-newops: FAIL (exit $rc; every failure: $BUILD/newops_failures.txt)"
    [ -n "$last" ] || last="0 passed, 1 failed"
    echo "$last"
    exit 1
fi
grep -v -E '^[0-9]+ passed, [0-9]+ failed$' "$log"
echo "test-newops: ok"
echo "$last"
