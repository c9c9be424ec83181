#!/bin/sh
# Builds the libFuzzer targets (clang -fsanitize=fuzzer,address,undefined) and runs each for the
# given number of seconds (default 60), seeded with tests/fuzz/seeds/<target>/ (files written by
# real PyTorch) and checkpoints written by tensorlite (tests/fuzz/write_seeds.c). The corpus grows
# in build/fuzz/corpus_<target>/ between runs. `make fuzz` runs this; `make test` runs it briefly.
# Prints "N passed, N failed" (targets). Without clang's libFuzzer: SKIP, or FAIL with CI=true.
set -u
cd "$(dirname "$0")/../.." || exit 1
SECS=${1:-60}
B=build/fuzz
mkdir -p $B
if ! printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n){(void)d;(void)n;return 0;}\n' |
     clang -x c -fsanitize=fuzzer - -o $B/probe 2>/dev/null; then
    if [ "${CI:-}" = "true" ]; then echo "fuzz: FAIL: clang with libFuzzer is missing"; echo "0 passed, 1 failed"; exit 1; fi
    echo "fuzz: SKIP (clang with libFuzzer is missing: apt-get install clang libclang-rt-14-dev)"; exit 0
fi
gcc -std=c99 -O1 -I. tests/fuzz/write_seeds.c -o $B/write_seeds -lm || exit 1
mkdir -p $B/seeds_tl && ./$B/write_seeds $B/seeds_tl > /dev/null || exit 1
pass=0; fail=0
for src in tests/fuzz/fuzz_*.c; do
    t=$(basename $src .c); name=${t#fuzz_}
    if ! clang -std=c99 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I. $src -o $B/$t -lm; then
        echo "fuzz $name: does not build"; fail=$((fail + 1)); continue
    fi
    mkdir -p $B/corpus_$name
    seeds="tests/fuzz/seeds/$name"
    [ "$name" = "load" ] && seeds="$seeds $B/seeds_tl tests/fixtures/hostile"
    [ "$name" = "npy" ] && seeds="$seeds tests/fuzz/seeds/csv tests/fuzz/regressions"
    ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
        ./$B/$t -max_total_time=$SECS -timeout=10 -rss_limit_mb=2048 -max_len=1048576 -print_final_stats=1 \
        $B/corpus_$name $seeds > $B/$t.log 2>&1
    rc=$?
    execs=$(grep -E '^stat::number_of_executed_units' $B/$t.log | grep -oE '[0-9]+$')
    if [ $rc -eq 0 ]; then
        echo "fuzz $name: ${SECS} s, ${execs:-?} executions, 0 crashes (corpus $(ls $B/corpus_$name | wc -l) files)"
        pass=$((pass + 1))
    else
        echo "fuzz $name: FAILED (exit $rc) after ${execs:-?} executions; see $B/$t.log and the crash-* file"
        tail -n 40 $B/$t.log
        fail=$((fail + 1))
    fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
