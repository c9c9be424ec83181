# Sourced by every tests/torch/run_*.sh: goes to the repository root and sets PY (default
# /usr/bin/python3, Debian's python with real PyTorch 1.13) and CC_TORCH (default gcc).
# require_torch NAME [MODULES]: returns when `import MODULES` (default "torch, numpy") works;
# otherwise prints "NAME: SKIP (...)" and exits 0, or, when CI=true, "NAME: FAIL (...)" and exits 1
# (CI requires the PyTorch oracle). Both print the "N passed, N failed" line run_all.sh sums.
cd "$(dirname "$0")/../.." || exit 1
PY="${PY:-/usr/bin/python3}"
CC_TORCH="${CC_TORCH:-gcc}"
require_torch() {
    mods=${2:-torch, numpy}
    "$PY" -c "import $mods" >/dev/null 2>&1 && return 0
    if [ "${CI:-}" = "true" ]; then
        echo "$1: FAIL: 'import $mods' fails with $PY (CI=true requires the PyTorch oracle)"
        echo "0 passed, 1 failed"
        exit 1
    fi
    echo "$1: SKIP ($mods not importable with $PY)"
    echo "0 passed, 0 failed"
    exit 0
}
# run_oracle NAME RUNNER SCRIPT FAILURES [ARGS...]: builds tests/torch/RUNNER.c (strict C99, -O2)
# into build/RUNNER, runs "$PY" tests/torch/SCRIPT --runner build/RUNNER ARGS with its output in
# build/RUNNER.log, prints that output and ends with its "N passed, N failed" line; exits 1 when
# the build, the script or any case fails (FAILURES: the file the script lists failures in).
run_oracle() {
    name=$1 runner=$2 script=$3 failures=$4
    shift 4
    mkdir -p build || exit 1
    echo "$name: building build/$runner"
    if ! "$CC_TORCH" -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -I. -Itests/torch \
        "tests/torch/$runner.c" -o "build/$runner" -lm; then
        echo "$name: FAIL: $runner did not compile"
        echo "0 passed, 1 failed"
        exit 1
    fi
    log="build/$runner.log"
    "$PY" "tests/torch/$script" --runner "build/$runner" "$@" > "$log" 2>&1
    rc=$?
    last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    if [ $rc -ne 0 ] || [ -z "$last" ]; then
        cat "$log"
        echo "$name: FAIL (exit $rc; every failure: $failures)"
        [ -n "$last" ] || last="0 passed, 1 failed"
        echo "$last"
        exit 1
    fi
    grep -v -E '^[0-9]+ passed, [0-9]+ failed$' "$log"
    echo "$name: ok"
    echo "$last"
    exit 0
}
# One runner built several ways (run_data.sh, run_random.sh), each build passed to the script:
# runners_init LABEL SRC DIR: the runner is tests/torch/SRC.c, builds go to DIR (created);
#   sets BUILD=DIR, STRICT (the warning flags), runners="" and broken=0.
# build_runner NAME COMPILER FLAGS...: builds it into $BUILD/NAME; on success appends
#   "--runner $BUILD/NAME" to $runners, otherwise prints a FAIL line and adds 1 to $broken.
# runners_built: returns when at least one build worked; otherwise "0 passed, N failed", exit 1.
runners_init() {
    runner_label=$1 runner_src=$2 BUILD=$3
    STRICT="-Wall -Wextra -Wpedantic -Werror"
    runners="" broken=0
    mkdir -p "$BUILD" || exit 1
}
build_runner() {
    name=$1
    shift
    echo "$runner_label: building $BUILD/$name"
    if "$@" -I. "tests/torch/$runner_src.c" -o "$BUILD/$name" -lm; then
        runners="$runners --runner $BUILD/$name"
    else
        echo "$runner_label: FAIL: $name did not compile" >&2
        broken=$((broken + 1))
    fi
}
runners_built() {
    [ -n "$runners" ] && return 0
    echo "0 passed, $broken failed"
    exit 1
}
