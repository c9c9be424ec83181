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

# DataLoader alone: one epoch of Fashion-MNIST (batch 64, shuffled, normalised per sample), 0 and 2
# workers, tensorlite vs torch's DataLoader in the same run; peak memory with the images as uint8
FM=/usr/share/datasets/fashion-mnist
${CC:-gcc} -std=c99 -O2 -march=native -I. bench/loader.c -o build/bench_loader -lm
if [ -e $FM/train-images-idx3-ubyte.gz ]; then
  t=$(./build/bench_loader $FM)
  echo "$t" | sed 's/^/tensorlite /'
  if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    p=$(OMP_NUM_THREADS=1 /usr/bin/python3 bench/loader.py $FM)
    echo "$p" | sed 's/^/torch      /'
    for w in 0 2; do
      tv=$(echo "$t" | grep "workers=$w " | sed -E 's/.*samples_per_s=([0-9.]+).*/\1/')
      pv=$(echo "$p" | grep "workers=$w " | sed -E 's/.*samples_per_s=([0-9.]+).*/\1/')
      awk -v a="$tv" -v b="$pv" -v w="$w" 'BEGIN { printf "loader workers=%d: tensorlite %.0f samples/s, torch %.0f samples/s: %.1fx\n", w, a, b, a / b }'
    done
  else
    echo "PyTorch not importable with /usr/bin/python3: no loader comparison"
  fi
else
  echo "loader: SKIP ($FM not found; install Debian's dataset-fashion-mnist)"
fi

# optimizer step alone: Adam and SGD(momentum) over the LeNet-5 parameters and a 10M-parameter model,
# tensorlite vs torch.optim (foreach=False, 1.13's default, and foreach=True) in the same run
${CC:-gcc} -std=c99 -O2 -march=native -I. bench/optim_step.c -o build/bench_optim_step -lm
t=$(./build/bench_optim_step)
echo "$t" | sed 's/^/tensorlite /'
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  p=$(OMP_NUM_THREADS=1 /usr/bin/python3 bench/optim_step.py)
  echo "$p" | sed 's/^/torch      /'
  for c in "adam lenet" "sgd_momentum lenet" "adam 10M" "sgd_momentum 10M"; do
    tv=$(echo "$t" | grep "optim $c " | sed -E 's/.*us_per_step=([0-9.]+).*/\1/')
    for m in default foreach; do
      pv=$(echo "$p" | grep "optim $c $m " | sed -E 's/.*us_per_step=([0-9.]+).*/\1/')
      awk -v a="$tv" -v b="$pv" -v c="$c" -v m="$m" 'BEGIN { printf "optim %s: tensorlite %.1f us, torch %s %.1f us: %.1fx\n", c, a, m, b, b / a }'
    done
  done
else
  echo "PyTorch not importable with /usr/bin/python3: no optimizer comparison"
fi
