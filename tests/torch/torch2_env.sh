#!/bin/sh
# Runs a PyTorch oracle script against current torch 2.x from PyPI: torch2_env.sh [SCRIPT], by
# default tests/torch/run_serialize.sh (the run_optim.sh stage sets TL_TORCH_ARGS="--only interop").
# The virtual environment is created once and cached at ${TL_TORCH2_VENV:-~/.cache/tensorlite/torch2}
# (pip's default Linux wheel is CUDA-enabled: torch alone is ~540 MB and its nvidia-* dependencies
# add a few GB, so keep the cache between CI runs). Without network or pip: SKIP, FAIL on CI=true.
set -u
cd "$(dirname "$0")/../.." || exit 1
VENV="${TL_TORCH2_VENV:-$HOME/.cache/tensorlite/torch2}"
BASEPY="${BASEPY:-/usr/bin/python3}"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import torch, numpy" >/dev/null 2>&1; then
    echo "torch2_env: creating $VENV (pip install torch numpy; several GB, once)"
    mkdir -p "$(dirname "$VENV")"
    if ! { "$BASEPY" -m venv "$VENV" && "$VENV/bin/python" -m pip install -q --upgrade pip &&
           "$VENV/bin/python" -m pip install -q torch numpy; }; then
        if [ "${CI:-}" = "true" ]; then
            echo "torch2_env: FAIL: could not install torch 2.x into $VENV"; echo "0 passed, 1 failed"; exit 1
        fi
        echo "torch2_env: SKIP (could not install torch 2.x into $VENV)"; exit 0
    fi
fi
"$VENV/bin/python" -c "import torch; print('torch2_env: using torch', torch.__version__)"
PY="$VENV/bin/python" sh "${1:-tests/torch/run_serialize.sh}"
