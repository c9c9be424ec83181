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

# GEMM (float32, square and LeNet's shapes) and LeNet-5 training steps: tensorlite and torch in one
# run, at 1 thread and at 2 (torch with OPENBLAS_NUM_THREADS=1, see ../shared/anchors/README.md).
# torch's GEMM is whatever libblas.so.3 resolves to: Debian's reference BLAS unless OpenBLAS is
# installed (apt-get install libopenblas0-pthread) or its directory is on LD_LIBRARY_PATH.
${CC:-gcc} -std=c99 -O2 -I. bench/gemm.c -o build/bench_gemm -lm
${CC:-gcc} -std=c99 -O2 -I. bench/lenet.c -o build/bench_lenet -lm
LENET_STEPS=${LENET_STEPS:-100}
havetorch=0
/usr/bin/python3 -c 'import torch' 2>/dev/null && havetorch=1
for th in 1 2; do
  t=$(./build/bench_gemm $th)
  if [ $havetorch = 1 ]; then
    p=$(OMP_NUM_THREADS=$th OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/gemm.py $th)
  else p=""; fi
  echo "$t" | while read -r line; do
    name=$(echo "$line" | awk '{print $2}')
    tv=$(echo "$line" | sed -E 's/.*gflops=([0-9.]+).*/\1/')
    pv=$(echo "$p" | grep " $name " | sed -E 's/.*gflops=([0-9.]+).*/\1/')
    if [ -n "$pv" ]; then
      awk -v n="$name" -v a="$tv" -v b="$pv" -v th="$th" 'BEGIN { printf "gemm %-10s threads=%d tensorlite %7.2f GFLOP/s  torch %7.2f GFLOP/s  ratio %.2fx\n", n, th, a, b, a / b }'
    else
      printf "gemm %-10s threads=%d tensorlite %7.2f GFLOP/s  (no torch)\n" "$name" "$th" "$tv"
    fi
  done
done
for th in 1 2; do
  t=$(./build/bench_lenet $LENET_STEPS $th)
  echo "$t"
  if [ $havetorch = 1 ]; then
    p=$(OMP_NUM_THREADS=$th OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/lenet.py $LENET_STEPS $th)
    echo "$p"
    tv=$(echo "$t" | sed -E 's/.*ms_per_step=([0-9.]+).*/\1/'); pv=$(echo "$p" | sed -E 's/.*ms_per_step=([0-9.]+).*/\1/')
    awk -v a="$tv" -v b="$pv" -v th="$th" 'BEGIN { printf "lenet threads=%d: tensorlite %.2f ms/step, torch %.2f ms/step: time ratio %.2f (tensorlite / torch)\n", th, a, b, a / b }'
  fi
done

# tl_load of 100,000 one-element tensors (each its own storage) that torch.save wrote, against torch.load
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  ${CC:-gcc} -std=c99 -O2 -I. bench/load_many.c -o build/bench_load_many -lm
  p=$(/usr/bin/python3 bench/load_many.py build/bench_many.pt)
  echo "$p"
  t=$(./build/bench_load_many build/bench_many.pt)
  echo "$t"
  tv=$(echo "$t" | sed -E 's/.*seconds=([0-9.]+).*/\1/')
  for wo in True False; do
    pv=$(echo "$p" | grep "weights_only=$wo " | sed -E 's/.*seconds=([0-9.]+).*/\1/')
    awk -v a="$tv" -v b="$pv" -v w="$wo" 'BEGIN { printf "load 100k storages: tensorlite %.2f s, torch.load(weights_only=%s) %.2f s: %.1fx\n", a, w, b, b / a }'
  done
fi
