#!/bin/sh
# make bench: each workload in tensorlite and in PyTorch, in one run, with the ratio.
set -e
mkdir -p build
${CC:-gcc} -std=c99 -O2 -march=native -I. bench/tiny_mlp.c -o build/bench_tiny_mlp -lm
t=$(./build/bench_tiny_mlp 20000)
echo "$t"
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  p=$(OMP_NUM_THREADS=1 /usr/bin/python3 bench/tiny_mlp.py 2000)
  echo "$p"
  tv=$(echo "$t" | sed -E 's/.*us_per_step=([0-9.]+).*/\1/'); pv=$(echo "$p" | sed -E 's/.*us_per_step=([0-9.]+).*/\1/')
  awk -v a="$tv" -v b="$pv" 'BEGIN { printf "tiny-mlp: tensorlite is %.1fx faster per step than PyTorch (%.2f us vs %.2f us)\n", b / a, a, b }'
else
  echo "PyTorch not importable with /usr/bin/python3: no comparison"
fi
