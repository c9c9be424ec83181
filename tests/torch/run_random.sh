#!/bin/sh
# PyTorch oracle for >>random: builds tests/torch/random_runner.c several ways and checks every
# build's streams against real torch bit for bit with tests/torch/test_random.py.
#   - gcc -std=c99 strict -O2                       (the reference build; must compile)
#   - clang -std=c99 strict -O2                     (if clang is installed)
#   - g++ -std=c++11 -x c++ strict -O2              (the header compiled as C++)
#   - gcc -std=gnu99 -O3 -march=native -ffp-contract=fast   (a compiler free to fuse a*b+c)
#   - gcc -std=c99 -O1 -fsanitize=address,undefined (memory errors, UB, leaks)
# Run from anywhere. Without an importable torch: SKIP (exit 0), except when CI=true, where it
# FAILS. Environment: PY (default /usr/bin/python3), TL_RANDOM_QUICK=1 (only the reference build),
# TL_RANDOM_ARGS (extra arguments for test_random.py, e.g. "--only normal -v").
# The last line is "N passed, N failed" (cases x builds; a build that does not compile counts 1).
set -u
. "$(dirname "$0")/common.sh"
require_torch test-random-torch
runners_init test-random-torch random_runner build/random
build_runner runner_gcc gcc -std=c99 $STRICT -O2
if [ "${TL_RANDOM_QUICK:-0}" != "1" ]; then
    if command -v clang >/dev/null 2>&1; then build_runner runner_clang clang -std=c99 $STRICT -O2; fi
    build_runner runner_cxx g++ -std=c++11 $STRICT -O2 -x c++
    build_runner runner_native gcc -std=gnu99 -Wall -Wextra -O3 -march=native -ffp-contract=fast
    build_runner runner_asan gcc -std=c99 $STRICT -O1 -g -fsanitize=address,undefined \
        -fno-sanitize-recover=undefined -fno-omit-frame-pointer
fi
runners_built
# shellcheck disable=SC2086
ASAN_OPTIONS=detect_leaks=1 "$PY" tests/torch/test_random.py $runners --extra-failed "$broken" ${TL_RANDOM_ARGS:-}
rc=$?
[ $rc -ne 0 ] && echo "test-random-torch: FAIL" >&2
exit $rc
