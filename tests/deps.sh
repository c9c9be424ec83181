#!/bin/sh
# Installs what `make test` (or, with the argument "demo", `make demo`) needs on a Debian machine:
# run as root with network it apt-get installs the missing packages and says which; otherwise it
# says what is missing, and the stages that need it report SKIP (counted in the suite's summary).
# Needs for the suite: compilers (gcc, g++, clang with libFuzzer's runtime), real PyTorch 1.13 and
# numpy (the oracle), python3-venv (the PyTorch 2.x oracle's venv), unzip, the Fashion-MNIST data
# set, gcc-aarch64-linux-gnu and qemu-user (the NEON stage); for the demo: gcc and the data set
# (PyTorch, when present, checks the demo's weights).
set -u
what=${1:-test}
pkgs=""
add() { case " $pkgs " in *" $1 "*) ;; *) pkgs="$pkgs $1" ;; esac; }
have() { command -v "$1" >/dev/null 2>&1; }
PY=/usr/bin/python3

have gcc || { add gcc; add libc6-dev; }
have make || add make
[ -d /usr/share/datasets/fashion-mnist ] || add dataset-fashion-mnist
if [ "$what" = "test" ]; then
  have g++ || add g++
  have clang || add clang
  # libFuzzer: clang's runtime library is only "recommended" by Debian's clang package
  if ! printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n){(void)d;(void)n;return 0;}\n' |
       clang -x c -fsanitize=fuzzer - -o /tmp/tl_fuzz_probe.$$ >/dev/null 2>&1; then add libclang-rt-14-dev; fi
  rm -f /tmp/tl_fuzz_probe.$$
  have awk || add gawk
  # the AArch64 stage: a cross gcc and qemu-user run every C test with the NEON kernels
  have aarch64-linux-gnu-gcc || { add gcc-aarch64-linux-gnu; add libc6-dev-arm64-cross; }
  have qemu-aarch64 || add qemu-user
  have unzip || add unzip
  [ -e /usr/lib/x86_64-linux-gnu/libblas.so ] || [ -e /usr/lib/libblas.so ] || add libblas-dev # the TL_USE_CBLAS stage
  $PY -c 'import torch, numpy' >/dev/null 2>&1 || { add python3-torch; add python3-numpy; }
  $PY -c 'import ensurepip' >/dev/null 2>&1 || add python3-venv
fi
[ -z "$pkgs" ] && { echo "deps: everything $what needs is installed"; exit 0; }
if [ "$(id -u)" = "0" ] && have apt-get; then
  echo "deps: installing with apt-get:$pkgs"
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $pkgs >/dev/null; then
    echo "deps: installed:$pkgs"; exit 0
  fi
  echo "deps: apt-get could not install:$pkgs (no network?); the stages that need them will SKIP"
else
  echo "deps: missing:$pkgs (run as root with network, or install them); the stages that need them will SKIP"
fi
exit 0
