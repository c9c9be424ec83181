#!/bin/sh
# make bench: each workload in tensorlite and in real PyTorch (/usr/bin/python3 with python3-torch) in
# one run, with the ratio. The first table is issue 10's: the workloads of ../shared/anchors/torch_ref.py
# and the kernels under them, at 1 and 2 threads (torch with OPENBLAS_NUM_THREADS=1), tensorlite and
# torch interleaved, medians of BENCH_ROUNDS rounds (default 5). Everything is built with plain -O2,
# as a vendored build is: the SIMD kernels are picked at run time.
# torch's GEMM is whatever libblas.so.3 resolves to: install OpenBLAS (apt-get install
# libopenblas0-pthread) to compare with the figures of ../shared/anchors/.
set -e
mkdir -p build
CCB="${CC:-gcc} -std=c99 -O2 -I."
FM=/usr/share/datasets/fashion-mnist
ROUNDS=${BENCH_ROUNDS:-5}
havetorch=0
/usr/bin/python3 -c 'import torch' 2>/dev/null && havetorch=1
[ -z "${BENCH_REPORT_ONLY:-}" ] && for p in train conv gemm save_load tiny_mlp loader optim_step load_many; do
  $CCB bench/$p.c -o build/bench_$p -lm -lpthread
done
if [ $havetorch = 1 ]; then
  echo "torch: $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'), BLAS: $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || echo unknown)"
else
  echo "PyTorch not importable with /usr/bin/python3: tensorlite figures only"
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
R=build/bench_rounds
if [ -z "${BENCH_REPORT_ONLY:-}" ]; then # BENCH_REPORT_ONLY=1: print the table of the last run again
rm -rf $R
mkdir -p $R
# field value from a "key=value" line
val() { echo "$1" | sed -E "s/.*$2=([0-9.]+).*/\1/"; }
rec() { echo "$3" >> "$R/$1.$2"; } # rec WORKLOAD SIDE VALUE
for r in $(seq 1 $ROUNDS); do
  for th in 1 2; do
    T="OMP_NUM_THREADS=$th OPENBLAS_NUM_THREADS=1"
    for w in mlp lenet tiny; do
      if [ "$w" != tiny ] && [ ! -e $FM/train-images-idx3-ubyte.gz ]; then continue; fi
      t=$(./build/bench_train $w $th)
      if [ $w = tiny ]; then rec tiny_$th tl $(val "$t" us_per_step); else
        rec ${w}_$th tl $(val "$t" epoch_s); rec ${w}rss_$th tl $(val "$t" peak_rss_mb)
        rec ${w}acc_$th tl $(val "$t" test_acc); rec ${w}alloc_$th tl $(val "$t" steady_allocs); fi
      if [ $havetorch = 1 ]; then
        p=$(env OMP_NUM_THREADS=$th OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/train.py $w $th)
        if [ $w = tiny ]; then rec tiny_$th pt $(val "$p" us_per_step); else
          rec ${w}_$th pt $(val "$p" epoch_s); rec ${w}rss_$th pt $(val "$p" peak_rss_mb)
          rec ${w}acc_$th pt $(val "$p" test_acc); fi
      fi
    done
    t=$(./build/bench_conv $th)
    [ $havetorch = 1 ] && p=$(env OMP_NUM_THREADS=$th OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/conv.py $th)
    for c in conv1 conv2; do
      for f in fwd fwdbwd; do
        rec ${c}${f}_$th tl $(val "$(echo "$t" | grep "conv $c ")" ${f}_ms)
        [ $havetorch = 1 ] && rec ${c}${f}_$th pt $(val "$(echo "$p" | grep "conv $c ")" ${f}_ms)
      done
    done
    t=$(./build/bench_gemm $th)
    [ $havetorch = 1 ] && p=$(env OMP_NUM_THREADS=$th OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/gemm.py $th)
    for g in sq256 sq512 sq1024 sq2048; do
      rec ${g}_$th tl $(val "$(echo "$t" | grep " $g ")" gflops)
      [ $havetorch = 1 ] && rec ${g}_$th pt $(val "$(echo "$p" | grep " $g ")" gflops)
    done
  done
  t=$(./build/bench_save_load build/bench_sd.pt)
  rec save_1 tl $(val "$t" save_s); rec load_1 tl $(val "$t" load_s); rec savebuf_1 tl $(val "$t" buf_s)
  if [ $havetorch = 1 ]; then
    p=$(/usr/bin/python3 bench/save_load.py build/bench_sd_torch.pt)
    rec save_1 pt $(val "$p" save_s); rec load_1 pt $(val "$p" load_s)
  fi
  echo "round $r of $ROUNDS done"
done
rm -f build/bench_sd.pt build/bench_sd_torch.pt
fi
med() { [ -e "$R/$1.$2" ] && sort -g "$R/$1.$2" | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}' || echo ""; }
# row NAME KEY UNIT KIND TARGET: KIND time (ratio tl/pt, lower is better) or rate (ratio tl/pt, higher is better)
row() {
  a=$(med $2 tl); b=$(med $2 pt)
  [ -z "$a" ] && return 0
  awk -v n="$1" -v a="$a" -v b="$b" -v u="$3" -v k="$4" -v tg="$5" 'BEGIN {
    if (b == "") { printf "| %-34s | %10.3f %-6s | %10s %-6s | %7s | %-12s |\n", n, a, u, "-", "", "-", tg; exit }
    r = a / b
    printf "| %-34s | %10.3f %-6s | %10.3f %-6s | %7.2f | %-12s |\n", n, a, u, b, u, r, tg }'
}
echo
echo "issue 10 workloads (medians of $(wc -l < $R/mlp_1.tl 2>/dev/null || echo 0) interleaved rounds; ratio = tensorlite / PyTorch)"
echo "| workload                           |     tensorlite    |      PyTorch      |   ratio | target       |"
echo "|------------------------------------|-------------------|-------------------|---------|--------------|"
for th in 1 2; do
  row "MLP 784-256-10 epoch, ${th}T"            mlp_$th s time "time <= 0.30"
  row "LeNet-5 epoch, ${th}T"                   lenet_$th s time "time <= 0.30"
  row "tiny MLP step, ${th}T"                   tiny_$th us time "< 1 us"
  row "conv1 fwd, ${th}T"                       conv1fwd_$th ms time ""
  row "conv1 fwd+bwd, ${th}T"                   conv1fwdbwd_$th ms time ""
  row "conv2 fwd, ${th}T"                       conv2fwd_$th ms time ""
  row "conv2 fwd+bwd, ${th}T"                   conv2fwdbwd_$th ms time ""
  for g in 256 512 1024 2048; do
    tg=""; [ $g = 1024 ] && { [ $th = 1 ] && tg="rate >= 0.8" || tg="rate >= 0.7"; }
    row "sgemm $g (GFLOP/s), ${th}T"            sq${g}_$th GF/s rate "$tg"
  done
  row "peak RSS, MLP run, ${th}T"               mlprss_$th MB mem "<= 0.2"
done
row "save 100 MB state_dict (tl: +fsync)"      save_1 s time "<= 1"
row "  tl_save_to_buffer alone"                savebuf_1 s time ""
row "load 100 MB state_dict"                   load_1 s time "<= 1"
for w in mlp lenet; do
  a=$(med ${w}_1 tl); b=$(med ${w}_2 tl)
  [ -n "$a" ] && awk -v w="$w" -v a="$a" -v b="$b" 'BEGIN { printf "%s epoch: 2 threads are %.2fx faster than 1 in tensorlite (target 1.6x)\n", w, a / b }'
  [ -n "$(med ${w}_1 pt)" ] && awk -v w="$w" -v a="$(med ${w}_1 pt)" -v b="$(med ${w}_2 pt)" 'BEGIN { printf "%s epoch: 2 threads are %.2fx faster than 1 in PyTorch\n", w, a / b }'
done
for w in mlp lenet; do
  [ -n "$(med ${w}acc_1 tl)" ] && echo "$w test accuracy after the epoch: tensorlite $(med ${w}acc_1 tl), PyTorch $(med ${w}acc_1 pt); allocator calls in the last 100 steps: $(med ${w}alloc_1 tl) (1T), $(med ${w}alloc_2 tl) (2T)"
done
echo
[ -n "${BENCH_REPORT_ONLY:-}" ] && exit 0

# the same GEMM through TL_USE_CBLAS (the system BLAS behind libblas.so: OpenBLAS when installed)
if [ -e /usr/lib/x86_64-linux-gnu/libblas.so ] && $CCB -DTL_USE_CBLAS bench/gemm.c -o build/bench_gemm_cblas -lblas -lm 2>/dev/null; then
  OPENBLAS_NUM_THREADS=1 ./build/bench_gemm_cblas 1 | grep -E ' sq(1024|2048) ' | sed 's/^/TL_USE_CBLAS 1 thread: /'
else
  echo "TL_USE_CBLAS: no libblas.so to link (apt-get install libblas-dev)"
fi

# tiny MLP through raw ops (bench/tiny_mlp.c, tl_matmul + tl_t): the per-op overhead alone
t=$(./build/bench_tiny_mlp 20000)
echo "$t"
# DataLoader alone: one epoch of Fashion-MNIST (batch 64, shuffled, normalised per sample), 0 and 2
# workers, tensorlite vs torch's DataLoader in the same run; peak memory with the images as uint8
FM=/usr/share/datasets/fashion-mnist
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

# tl_load of 100,000 one-element tensors (each its own storage) that torch.save wrote, against torch.load
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
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
