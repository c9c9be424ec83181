#!/bin/sh
# `make valgrind`: every tests/test_*.c (built -O1 -g, no sanitizer) under valgrind memcheck, which
# must report no error and no definite/indirect leak. Slow (tens of minutes), so `make test` does
# not run it; the reliability issue's closing note reports a run. Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 1
command -v valgrind >/dev/null 2>&1 || { echo "valgrind: SKIP (not installed: apt-get install valgrind)"; exit 0; }
B=build/valgrind
mkdir -p $B
pass=0; fail=0
for t in tests/test_*.c; do
    n=$(basename $t .c)
    gcc -std=c99 -O1 -g -I. -Itests $t -o $B/$n -lm || { fail=$((fail + 1)); continue; }
    start=$(date +%s)
    if valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
         --show-leak-kinds=definite,indirect ./$B/$n > $B/$n.log 2>&1; then
        echo "valgrind $n: clean ($(tail -n 1 $B/$n.log), $(( $(date +%s) - start )) s)"; pass=$((pass + 1))
    else
        echo "valgrind $n: FAILED (see $B/$n.log)"; grep -E "==[0-9]+==" $B/$n.log | head -20; fail=$((fail + 1))
    fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
