#!/bin/sh
# PyTorch oracle for nn.LSTM, nn.GRU and nn.MultiheadAttention (>>modules): builds
# tests/torch/rnn_runner.c and runs test_rnn.py with real torch (seeded init, state_dict keys,
# repr, forward and every gradient). Run from anywhere.
# Without an importable torch: SKIP (exit 0), except when CI=true, where it FAILS.
# Environment: PY (default /usr/bin/python3), CC_TORCH (default gcc), TL_TORCH_ARGS (e.g. "-v" or
# "--work build/rnn_work").
set -u
. "$(dirname "$0")/common.sh"
require_torch test-rnn-torch "torch"
# shellcheck disable=SC2086
run_oracle test-rnn-torch rnn_runner test_rnn.py "the FAIL lines above" ${TL_TORCH_ARGS:-}
