#!/usr/bin/env bash
# Benchmark (not a test) of an incremental Nix build against a from-scratch build of the same
# commit, measured in the same run: the generated C project of tests/support/files
# (make-cproject.sh: FILES sources of FUNCS functions each, one source changed in the second
# commit), built by cproject.nix (host gcc through ccache, the cache as output
# `intermediates`) either from scratch or with `incremental` reusing the full build of the
# previous day's commit. Each timed run is a fresh derivation (a nonce), so Nix really builds.
# Whole-process wall time of nix-build, evaluation (fetchgit-date calls) included.
# See docs/benchmarks.md. Environment:
#   BENCH_FILES (default 200), BENCH_FUNCS (default 10), BENCH_RUNS (default 3)
#   FETCHGIT_DATE_BIN  the binary (default: cargo build --release, target/release/fetchgit-date)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FILES=${BENCH_FILES:-200}
FUNCS=${BENCH_FUNCS:-10}
RUNS=${BENCH_RUNS:-3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fetchgit-date-bench-incremental.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export XDG_CACHE_HOME=$WORK/cache HOME=$WORK/home
mkdir -p "$HOME"

for tool in git nix-build nix-store /usr/bin/gcc /usr/bin/ccache; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 2; }
done
if [ -z "${FETCHGIT_DATE_BIN:-}" ]; then
    (cd "$ROOT" && cargo build --release --quiet -p fetchgit-date-cli)
    FETCHGIT_DATE_BIN=$ROOT/target/release/fetchgit-date
fi

sh "$ROOT/tests/support/files/make-cproject.sh" "$WORK/repo" "$FILES" "$FUNCS"
REV=$(git -C "$WORK/repo" rev-parse HEAD)
cat >"$WORK/bench.nix" <<NIX
{ nonce }:
let
  lib = import $ROOT/nix { fetchgit-date = "$FETCHGIT_DATE_BIN"; };
  cproject = import $ROOT/tests/support/files/cproject.nix;
  url = "$WORK/repo";
  rev = "$REV";
  current = cproject { src = lib.fetchGitDate { inherit url rev; }; inherit nonce; };
in
{
  incremental = lib.incremental {
    interval = 86400;
    makePreviousBuild = truncate: cproject { src = truncate { inherit url rev; }; };
  } current;
  scratch = current;
}
NIX
nixbuild() { # nixbuild ATTR NONCE -> prints the output path; wall seconds to $WORK/t
    local start end
    start=$(date +%s.%N)
    nix-build --option substituters '' --option allow-unsafe-native-code-during-evaluation true \
        --no-out-link -A "$1" --argstr nonce "$2" "$WORK/bench.nix" 2>"$WORK/log" | tail -n 1
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l >"$WORK/t"
}
ccstat() { grep -P "^$2\t" "$1/stats" | cut -f2; }

# The full build of the previous day's commit, made once (what CI would have in its cache).
nixbuild incremental.previousBuild.out "" >/dev/null
previous=$(nix-build --option substituters '' --option allow-unsafe-native-code-during-evaluation true \
    --no-out-link -A incremental.previousBuild.intermediates --argstr nonce "" "$WORK/bench.nix" 2>/dev/null | tail -n 1)
echo "bench: previous full build ready: $(ccstat "$previous" cache_miss) compilations" >&2

full=() inc=()
for i in $(seq 1 "$RUNS"); do
    n="$$-$i-$(date +%s%N)"
    out_s=$(nixbuild scratch.out "s$n"); full+=("$(cat "$WORK/t")")
    out_i=$(nixbuild incremental.out "i$n"); inc+=("$(cat "$WORK/t")")
    [ "$(nix-store -q --hash "$out_s")" = "$(nix-store -q --hash "$out_i")" ] || { echo "bench: outputs differ" >&2; exit 1; }
done
inter_s=$(nix-build --option substituters '' --option allow-unsafe-native-code-during-evaluation true --no-out-link -A scratch.intermediates --argstr nonce "s$n" "$WORK/bench.nix" 2>/dev/null | tail -n 1)
inter_i=$(nix-build --option substituters '' --option allow-unsafe-native-code-during-evaluation true --no-out-link -A incremental.intermediates --argstr nonce "i$n" "$WORK/bench.nix" 2>/dev/null | tail -n 1)
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
mf=$(median "${full[@]}") mi=$(median "${inc[@]}")
echo "fetchgit-date incremental benchmark: $(nproc) cores, $(gcc --version | sed -n 1p), $(ccache --version | sed -n 1p), $(nix-build --version)"
echo "project: $((FILES + 1)) C sources ($FILES x $FUNCS functions + main.c), one source changed; $RUNS runs each, median wall time of nix-build"
printf '%-12s %10s %14s %s\n' build "median s" compilations "runs (s)"
printf '%-12s %10.2f %14s %s\n' from-scratch "$mf" "$(ccstat "$inter_s" cache_miss)" "${full[*]}"
printf '%-12s %10.2f %14s %s\n' incremental "$mi" "$(ccstat "$inter_i" cache_miss)" "${inc[*]}"
printf 'ratio incremental / from-scratch: %.3f (outputs identical)\n' "$(echo "$mi / $mf" | bc -l)"
