#!/bin/sh
# PyTorch oracle for >>serialize: builds tests/torch/serialize_runner.c (plus variants writing ZIP64
# size fields / ZIP64 offsets for every record) and runs test_serialize.py with real torch. Run from anywhere; works in the repo root.
# Without an importable torch: SKIP (exit 0), except when CI=true, where it FAILS.
# Environment: PY (default /usr/bin/python3), CC_TORCH (default gcc), TL_TORCH_ARGS (e.g. -v).
set -u
. "$(dirname "$0")/common.sh"
BUILD=build
require_torch test-serialize-torch
if ! command -v unzip >/dev/null 2>&1; then
    (apt-get install -y -q unzip >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q unzip >/dev/null 2>&1)) ||
        echo "test-serialize-torch: note: unzip not available, 'unzip -t' checks are skipped"
fi

mkdir -p "$BUILD" || exit 1
FLAGS="-std=c99 -Wall -Wextra -Wpedantic -Werror -O1 -g"
"$CC_TORCH" $FLAGS -I. tests/torch/serialize_runner.c -o "$BUILD/serialize_runner" -lm &&
"$CC_TORCH" $FLAGS -DTL__ZIP64_LIMIT=64 -I. tests/torch/serialize_runner.c -o "$BUILD/serialize_runner_z64" -lm &&
"$CC_TORCH" $FLAGS -DTL__ZIP64_OFFSET_LIMIT=64 -I. tests/torch/serialize_runner.c -o "$BUILD/serialize_runner_z64off" -lm || {
    echo "test-serialize-torch: FAIL: serialize_runner did not compile" >&2
    echo "0 passed, 1 failed"
    exit 1
}
# shellcheck disable=SC2086
"$PY" tests/torch/test_serialize.py --runner "$BUILD/serialize_runner" --runner-z64 "$BUILD/serialize_runner_z64" \
    --runner-z64off "$BUILD/serialize_runner_z64off" ${TL_TORCH_ARGS:-}
