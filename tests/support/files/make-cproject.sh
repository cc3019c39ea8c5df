#!/bin/sh
# make-cproject.sh DIR [FILES [FUNCS]]: a git repository holding a C project of FILES
# (default 200) sources src/fNNNN.c with FUNCS (default 1) small functions each, plus
# src/main.c calling them all; deterministic (fixed dates, identities, no user config).
#   commit 1 "full"   2023-11-14T10:00:00Z  the project
#   commit 2 "change" 2023-11-15T09:00:00Z  one constant in src/f0042.c changed
# So with interval = 86400 commit 2 truncates to commit 1.
set -eu
dir=$1 files=${2:-200} funcs=${3:-1}
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null TZ=UTC
export GIT_AUTHOR_NAME="A U Thor" GIT_AUTHOR_EMAIL=author@example.com
export GIT_COMMITTER_NAME="C O Mitter" GIT_COMMITTER_EMAIL=committer@example.com
mkdir -p "$dir/src" "$dir/include"
cd "$dir"
git init -q -b main
printf '#define SCALE 3\nint combine(int a, int b);\n' > include/common.h
i=0
: > include/funcs.h
while [ "$i" -lt "$files" ]; do
  n=$(printf '%04d' "$i")
  {
    echo '#include "common.h"'
    j=0
    while [ "$j" -lt "$funcs" ]; do
      echo "static int g${n}_$j(int x) { int s = 0; for (int k = 0; k < x % 7 + $j; k++) s = combine(s, k * SCALE + $i); return s; }"
      j=$((j + 1))
    done
    echo "int f$n(int x) { int s = $i;"
    j=0
    while [ "$j" -lt "$funcs" ]; do echo "  s += g${n}_$j(x + $j);"; j=$((j + 1)); done
    echo "  return s; }"
  } > "src/f$n.c"
  echo "int f$n(int x);" >> include/funcs.h
  i=$((i + 1))
done
{
  echo '#include <stdio.h>'
  echo '#include "common.h"'
  echo '#include "funcs.h"'
  echo 'int combine(int a, int b) { return (a * 31 + b) % 1000003; }'
  echo 'int main(void) { long total = 0;'
  i=0
  while [ "$i" -lt "$files" ]; do echo "  total += f$(printf '%04d' "$i")(3);"; i=$((i + 1)); done
  printf '%s\n' '  printf("%ld\n", total); return 0; }'
} > src/main.c
commit() {
  git add -A
  GIT_AUTHOR_DATE="@$1 +0000" GIT_COMMITTER_DATE="@$1 +0000" git commit -q -m "$2"
}
commit 1699956000 full
sed 's/int s = 42;/int s = 4242;/' src/f0042.c > src/f0042.c.new && mv src/f0042.c.new src/f0042.c
commit 1700038800 change
