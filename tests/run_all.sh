#!/bin/sh
# The whole suite (make test): installs what it needs (tests/deps.sh), then the strict compile
# matrix, README snippets, every tests/test_*.c plain, under ASan+UBSan and on AArch64 under qemu,
# the threaded tests under ThreadSanitizer, the fuzz targets briefly, examples, then the PyTorch
# oracles. Ends with one "N passed, N failed, N skipped" line that sums the counts every stage printed; a stage that says
# SKIP (a missing tool, no torch) counts as skipped and is named, so a skip is never silent.
# TL_NO_TORCH2=1 skips the PyTorch 2.x stages (their venv is a ~5 GB download, cached after once).
set -u
B=build
mkdir -p $B/asan
STRICT="-std=c99 -Wall -Wextra -Wpedantic -Werror"
SAN="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
pass=0; fail=0; skip=0; skipped=""
log=$B/suite.log; : > $log
t_start=$(date +%s)

sh tests/deps.sh test

stage() { # name, command...: runs it, adds its "N passed, N failed" line (or 1/0 by exit code)
  name=$1; shift
  echo "== $name"
  out=$B/stage.out
  "$@" > $out 2>&1; rc=$?
  cat $out; cat $out >> $log
  line=$(grep -E '^([A-Za-z_]+: )?[0-9]+ passed, [0-9]+ failed' $out | tail -n 1)
  if [ $rc -eq 0 ] && grep -qE '(^|[ :(])SKIP([ :)]|$)|-- skipped' $out; then
    skip=$((skip + 1)); skipped="$skipped
  - $name: $(grep -E '(^|[ :(])SKIP([ :)]|$)|-- skipped' $out | head -n 1)"
  elif [ -n "$line" ]; then
    p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
    f=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
    pass=$((pass + p)); fail=$((fail + f))
    [ $rc -ne 0 ] && [ "$f" -eq 0 ] && { fail=$((fail + 1)); echo "!! $name exited $rc"; }
  elif [ $rc -eq 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "!! $name FAILED (exit $rc)"; fi
}

# build_tests DIR LIBS CC FLAGS...: every tests/test_*.c into DIR/<name>, two compilers at a time
# (the machines have 2 cores; compiling is most of the suite's time); DIR/<name>.err keeps what each printed
build_tests() {
  d=$1; libs=$2; shift 2
  mkdir -p $d
  ls tests/test_*.c | xargs -P 2 -I{} sh -c 'n=$(basename {} .c); rm -f "$0/$n"; "$@" {} -o "$0/$n" '"$libs"' > "$0/$n.err" 2>&1' $d "$@"
}
# built DIR NAME LABEL: is DIR/NAME there? if not, print why and count a failure
built() {
  [ -x $1/$2 ] && return 0
  cat $1/$2.err; fail=$((fail + 1)); echo "!! $3 does not compile"; return 1
}

printf '#define TL_IMPLEMENTATION\n#include "tensorlite.h"\nint main(void){return 0;}\n' > $B/impl.c
cp $B/impl.c $B/impl.cpp
stage "gcc -std=c99 strict"  gcc $STRICT -O2 -I. -c $B/impl.c -o $B/impl_gcc.o
stage "clang -std=c99 strict" clang $STRICT -O2 -I. -c $B/impl.c -o $B/impl_clang.o
stage "g++ -std=c++11 strict" g++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -O2 -I. -c $B/impl.cpp -o $B/impl_cpp.o
stage "clang++ -std=c++11 strict" clang++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -O1 -I. -c $B/impl.cpp -o $B/impl_clangpp.o
stage "TL_STATIC TL_NO_STDIO TL_NO_THREAD_LOCALS" gcc $STRICT -O1 -I. -DTL_STATIC -DTL_NO_STDIO -DTL_NO_THREAD_LOCALS -c $B/impl.c -o $B/impl_static.o
stage "tensorlite.c" gcc $STRICT -O1 -I. -c tensorlite.c -o $B/tensorlite.o
stage "README snippets" sh tests/readme_snippets.sh $B/readme
mkdir -p $B/examples
for e in examples/*.c; do
  n=$(basename $e .c)
  stage "example $n" gcc $STRICT -O2 -I. $e -o $B/examples/$n -lm
done
for e in examples/*.cpp; do # C++ callers: ISO C++11, strict
  n=$(basename $e .cpp)
  stage "example $n (g++ -std=c++11 strict)" g++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -O2 -I. $e -o $B/examples/$n
  stage "run example $n" sh -c "./$B/examples/$n > $B/examples/$n.out"
done
for e in examples/[0-9]*.c; do # the flagship (fashion_mnist) has its own stage below
  n=$(basename $e .c)
  stage "run example $n" sh -c "./$B/examples/$n > $B/examples/$n.out"
done
if /usr/bin/python3 -c 'import torch' 2>/dev/null || [ "${CI:-}" = "true" ]; then
  stage "PyTorch loads what examples/04 saved" /usr/bin/python3 examples/04_load.py
  stage "PyTorch loads what examples/06 saved" /usr/bin/python3 examples/06_load.py
fi

build_tests $B -lm gcc $STRICT -O2 -g -I. -Itests
for t in tests/test_*.c; do
  n=$(basename $t .c)
  built $B $n $n && stage "$n" ./$B/$n
done
# the same binaries with the SIMD kernels switched off at run time (the portable C GEMM and update
# loops), capped at AVX2 on machines with AVX-512 (the other x86 level), and the GEMM routed to the
# system BLAS (TL_USE_CBLAS) where libblas-dev is installed
for t in tests/test_*.c; do
  n=$(basename $t .c)
  [ -x $B/$n ] && stage "$n (TL_SIMD=portable)" env TL_SIMD=portable ./$B/$n
done
# and with 2 GEMM threads: the split GEMM, conv, pooling, elementwise and optimizer paths under every test
for t in tests/test_*.c; do
  n=$(basename $t .c)
  [ -x $B/$n ] && stage "$n (TL_NUM_THREADS=2)" env TL_NUM_THREADS=2 ./$B/$n
done
if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
  for t in tests/test_*.c; do
    n=$(basename $t .c)
    [ -x $B/$n ] && stage "$n (TL_SIMD=avx2)" env TL_SIMD=avx2 ./$B/$n
  done
else
  stage "TL_SIMD=avx2 pass" echo "SKIP (no AVX-512F on this machine: the default run above is the AVX2 level)"
fi
if [ -e /usr/lib/x86_64-linux-gnu/libblas.so ] || [ -e /usr/lib/libblas.so ]; then
  for n in test_kernels test_functional test_modules; do
    if gcc $STRICT -O2 -DTL_USE_CBLAS -I. -Itests tests/$n.c -o $B/${n}_cblas -lblas -lm 2>$B/cc.err; then
      stage "$n (TL_USE_CBLAS, -lblas)" ./$B/${n}_cblas
    else cat $B/cc.err; fail=$((fail + 1)); echo "!! $n with TL_USE_CBLAS does not compile"; fi
  done
else
  stage "TL_USE_CBLAS build" echo "SKIP (no libblas.so: apt-get install libblas-dev)"
fi
build_tests $B/asan -lm gcc $STRICT $SAN -I. -Itests
for t in tests/test_*.c; do
  n=$(basename $t .c)
  built $B/asan $n "asan $n" &&
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 stage "asan $n" ./$B/asan/$n
done

# ThreadSanitizer: the tests that run threads (two models training at once, the DataLoader's
# worker threads, the GEMM pool), built with -fsanitize=thread; any report makes the binary exit 66: a failure
for n in test_threads test_data test_kernels; do
  if gcc $STRICT -O1 -g -fsanitize=thread -I. -Itests tests/$n.c -o $B/tsan_$n -lm 2>$B/cc.err; then
    TSAN_OPTIONS="halt_on_error=1 exitcode=66" stage "tsan $n" ./$B/tsan_$n
  else cat $B/cc.err; fail=$((fail + 1)); echo "!! tsan $n does not compile"; fi
done
# AArch64: the NEON micro-kernels (chosen at compile time there), every C test cross-compiled
# static with the strict flags (-O1: half the compile time of -O2) and run under qemu-user;
# test_kernels also with TL_SIMD=portable
if command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 && command -v qemu-aarch64 >/dev/null 2>&1; then
  build_tests $B/arm64 "-lm -lpthread" aarch64-linux-gnu-gcc $STRICT -O1 -static -I. -Itests
  for t in tests/test_*.c; do
    n=$(basename $t .c)
    built $B/arm64 $n "aarch64 $n" && stage "aarch64 NEON $n (qemu-aarch64)" qemu-aarch64 ./$B/arm64/$n
  done
  [ -x $B/arm64/test_kernels ] && stage "aarch64 test_kernels (TL_SIMD=portable, qemu-aarch64)" env TL_SIMD=portable qemu-aarch64 ./$B/arm64/test_kernels
else
  stage "aarch64 NEON build" echo "SKIP (no aarch64-linux-gnu-gcc or qemu-aarch64: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)"
fi
stage "fuzz targets, briefly (tests/fuzz; make fuzz runs them longer)" sh tests/fuzz/run.sh 15
stage "PyTorch oracle: ops (tests/torch)" sh tests/torch/run.sh
stage "PyTorch oracle: autograd (tests/torch)" sh tests/torch/run_autograd.sh
stage "PyTorch oracle: functional (tests/torch)" sh tests/torch/run_functional.sh
stage "PyTorch oracle: new ops (tests/torch)" sh tests/torch/run_newops.sh
stage "PyTorch oracle: nn modules (tests/torch)" sh tests/torch/run_modules.sh
stage "PyTorch oracle: LSTM, GRU, MultiheadAttention (tests/torch)" sh tests/torch/run_rnn.sh
stage "PyTorch oracle: optim (tests/torch)" sh tests/torch/run_optim.sh
stage "PyTorch 1.13 oracle: serialize (tests/torch)" sh tests/torch/run_serialize.sh
stage "PyTorch 1.13 oracle: random streams (tests/torch)" sh tests/torch/run_random.sh
stage "PyTorch 1.13 oracle: data loading and file formats (tests/torch)" sh tests/torch/run_data.sh
stage "flagship: examples/fashion_mnist (tests/torch/run_flagship.sh)" sh tests/torch/run_flagship.sh
if [ "${TL_NO_TORCH2:-}" = "1" ]; then
  stage "PyTorch 2.x oracle: serialize (pip venv, cached)" echo "SKIP (TL_NO_TORCH2=1)"
  stage "PyTorch 2.x oracle: optimizer state_dicts both ways" echo "SKIP (TL_NO_TORCH2=1)"
else
  stage "PyTorch 2.x oracle: serialize (pip venv, cached)" sh tests/torch/torch2_env.sh
  TL_TORCH_ARGS="--only interop --work build/optim_work2" \
    stage "PyTorch 2.x oracle: optimizer state_dicts both ways" sh tests/torch/torch2_env.sh tests/torch/run_optim.sh
fi

echo
[ $skip -gt 0 ] && echo "skipped stages:$skipped"
echo "suite: $pass passed, $fail failed, $skip skipped ($(( $(date +%s) - t_start )) s)"
[ $fail -eq 0 ]
