#!/bin/sh
# Compiles (strict C99) and runs every ```c block of README.md. A block with main() is used as is;
# any other block is a set of functions, compiled after the implementation with a main() that calls
# the functions it defines that take no arguments.
set -e
out=${1:-build/readme}
rm -rf "$out"; mkdir -p "$out"
awk -v dir="$out" '
  /^```c$/ { n++; f = sprintf("%s/snippet_%02d.c", dir, n); inb = 1; next }
  /^```/   { if (inb) { close(f); inb = 0 }; next }
  inb      { print > f }
' README.md
count=0
for f in "$out"/snippet_*.c; do
  [ -f "$f" ] || continue
  count=$((count + 1))
  if grep -q 'int main' "$f"; then
    cp "$f" "$f.full.c"
  else
    { echo '#define TL_IMPLEMENTATION'; echo '#include "tensorlite.h"'; echo '#include <stdio.h>'; cat "$f"
      echo 'int main(void) {'
      grep -oE '^(void|tl_tensor \*)[ ]*[a-z_]+\((void)\)' "$f" | sed -E 's/.*[ *]([a-z_]+)\(void\)/    \1();/'
      grep -oE '^tl_tensor \*[a-z_]+\(const tl_tensor \*[a-z]+\)' "$f" | sed -E 's/^tl_tensor \*([a-z_]+)\(.*/    { tl_tensor *o = tl_ones(TL_SHAPE(2), TL_F32), *r = \1(o); tl_release(r); tl_release(o); }/'
      echo '    return tl_debug_live_tensors() == 0 ? 0 : 1;'
      echo '}'; } > "$f.full.c"
  fi
  ${CC:-cc} -std=c99 -Wall -Wextra -Wpedantic -Werror -O1 -I. "$f.full.c" -o "$f.bin" -lm
  "$f.bin" > "$f.out"
done
[ "$count" -gt 0 ] || { echo "readme_snippets: no C blocks found in README.md"; exit 1; }
echo "readme snippets: $count compiled and ran"
