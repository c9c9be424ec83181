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
