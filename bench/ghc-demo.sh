#!/usr/bin/env bash
# Benchmark (not a test) of incremental Haskell builds with a real GHC, in the chroot of the GHC
# demo (tests/ghc_demo/setup-chroot.sh: Debian trixie, GHC 9.6.6, Nix 2.26.3 with one job on
# one core, builds as nixbld), through fetchgit-date's haskell.incremental and the demo's
# builder (tests/ghc_demo/haskell-builder.nix, nixpkgs' generic builder where intermediates are
# concerned). Measures, in one run:
#   turtle: the full build of 4bb5cac (the previous build, installing intermediates), the same
#     from scratch without, and the incremental build after `echo >> src/Turtle/Prelude.hs`
#     (committed the next day), also with a changed GHC flag (-O2) for that build only;
#   gen: a generated package of BENCH_MODULES modules (bench/gen-haskell.py: nearly serial
#     imports), full build, from scratch, and incremental builds after a change in the module
#     nothing imports (leaf), of a NOINLINE function's body at the bottom (noinline), and of an
#     inlinable function at the bottom (inline: every importer must be recompiled);
#   what the intermediates cost in the store (NAR sizes);
#   restore: turtle's incremental build with the builder's restore changed: without `chmod u+w`,
#     without the one mtime, and from a NAR (`nix-store --restore`, files in name order) without
#     it, each as the nixbld user.
# For each build: wall seconds of nix-build (that derivation alone: its inputs are built before),
# seconds of `Setup build` inside it, how many library modules GHC compiled, the load average.
# Every run uses a new salt, so Nix builds again. Output: a Markdown table on stdout.
# Environment: BENCH_PARTS (default "turtle gen restore"), BENCH_MODULES (default 300), FGD_GHC_CHROOT (default /var/tmp/fgd-ghc-trixie),
# FETCHGIT_DATE_BIN (default target/debug/fetchgit-date, built if missing), FGD_TURTLE_BUNDLE.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${FGD_GHC_CHROOT:-/var/tmp/fgd-ghc-trixie}
MODULES=${BENCH_MODULES:-300}
PARTS=" ${BENCH_PARTS:-turtle gen restore} "
BUNDLE=${FGD_TURTLE_BUNDLE:-$ROOT/../shared/repos/turtle.bundle}
[ -e "$BUNDLE" ] || BUNDLE=/work/shared/repos/turtle.bundle
C=4bb5cac0d5b5ee946cfd18fe85bfe5693d44967a
NEXT_DAY=1749427200   # 2025-06-09T00:00:00Z, the day after C's

bash "$ROOT/tests/ghc_demo/setup-chroot.sh" "$DIR" >&2
if [ -z "${FETCHGIT_DATE_BIN:-}" ]; then
  (cd "$ROOT" && cargo build --quiet --locked -p fetchgit-date-cli --bin fetchgit-date)
  FETCHGIT_DATE_BIN=$ROOT/target/debug/fetchgit-date
fi
rm -rf "$DIR/fgd/bench" "$DIR/fgd/bench-files"
mkdir -p "$DIR/fgd/bench" "$DIR/fgd/bench-files/bin" "$DIR/fgd/bench-files/nix" "$DIR/fgd/bench-files/ghc-demo"
cp "$FETCHGIT_DATE_BIN" "$DIR/fgd/bench-files/bin/fetchgit-date"
cp "$ROOT"/nix/*.nix "$DIR/fgd/bench-files/nix/"
cp "$ROOT"/tests/ghc_demo/*.nix "$ROOT"/tests/ghc_demo/*.sh "$DIR/fgd/bench-files/ghc-demo/"
GHC_VERSION=$(chroot "$DIR" ghc --numeric-version)
SALT=bench-$(date +%s)
# The restore variants of the builder (part "restore"), each in a directory of its own.
b=$DIR/fgd/bench-files
for variant in nochmod notouch narnotouch; do
  mkdir -p "$b/builder-$variant"
  cp "$b/ghc-demo/haskell-builder.nix" "$b/builder-$variant/"
done
grep -v 'chmod u+w {}' "$b/ghc-demo/haskell-builder.sh" > "$b/builder-nochmod/haskell-builder.sh"
grep -v 'touch -d' "$b/ghc-demo/haskell-builder.sh" > "$b/builder-notouch/haskell-builder.sh"
grep -v 'touch -d' "$b/ghc-demo/haskell-builder.sh" \
  | sed 's|^  cp -r "$previousIntermediates/$intermediatesDir/build" dist/build$|  nix-store --dump "$previousIntermediates/$intermediatesDir/build" \| nix-store --restore dist/build|' \
  > "$b/builder-narnotouch/haskell-builder.sh"
for variant in nochmod notouch narnotouch; do
  ! cmp -s "$b/ghc-demo/haskell-builder.sh" "$b/builder-$variant/haskell-builder.sh" \
    || { echo "bench: the $variant variant of haskell-builder.sh is unchanged: update its edit" >&2; exit 2; }
done
cat > "$DIR/fgd/bench/bench.nix" <<NIX
{ repo, rev, pname, version, configureFlags ? [ ], builder ? "ghc-demo" }:
import /fgd/bench-files/ghc-demo/package.nix {
  inherit repo rev pname version configureFlags;
  fetchgitDate = import /fgd/bench-files/nix { fetchgit-date = "/fgd/bench-files/bin/fetchgit-date"; };
  haskell = import (/fgd/bench-files + "/\${builder}/haskell-builder.nix") { ghcVersion = "$GHC_VERSION"; salt = "$SALT"; };
}
NIX

inchroot() { chroot "$DIR" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
NIXOPTS=(--option substituters '' --option allow-unsafe-native-code-during-evaluation true)
gitc() { git -c user.name=bench -c user.email=bench@example.com "$@"; }
commit_at() { # commit_at REPO UNIX_SECONDS MESSAGE
  gitc -C "$1" add -A
  GIT_AUTHOR_DATE="@$2 +0000" GIT_COMMITTER_DATE="@$2 +0000" gitc -C "$1" commit -q -m "$3"
}

# build LABEL ATTR REPO REV PNAME VERSION [NIX ARGS...]: instantiates ATTR, builds what it needs
# first, then times the build of ATTR's own derivation; prints a table row.
build() {
  local label=$1 attr=$2 repo=$3 rev=$4 pname=$5 version=$6; shift 6
  local args=(--argstr repo "$repo" --argstr rev "$rev" --argstr pname "$pname" --argstr version "$version" "$@")
  local drv inputs start end log load_before load_after
  drv=$(inchroot nix-instantiate "${NIXOPTS[@]}" /fgd/bench/bench.nix -A "$attr" "${args[@]}" 2>/dev/null)
  inputs=$(inchroot nix-store -q --references "$drv" | grep '\.drv$' || true)
  if [ -n "$inputs" ]; then
    # shellcheck disable=SC2086 # store paths hold no spaces
    inchroot nix-store "${NIXOPTS[@]}" -r $inputs >/dev/null 2>&1
  fi
  load_before=$(cut -d' ' -f1 /proc/loadavg)
  start=$(date +%s.%N)
  local failed=
  if ! inchroot nix-store "${NIXOPTS[@]}" -r "$drv" >/dev/null 2>"$DIR/fgd/bench/last.log"; then
    [ -n "${ALLOW_FAIL:-}" ] || { cat "$DIR/fgd/bench/last.log" >&2; exit 1; }
    failed=$(grep -m 1 -E 'denied|rror' "$DIR/fgd/bench/last.log" | tr '|' '/')
  fi
  end=$(date +%s.%N)
  load_after=$(cut -d' ' -f1 /proc/loadavg)
  log=$(inchroot nix-store --read-log "$drv")
  local compiled setup
  compiled=$(printf '%s\n' "$log" | grep -cE '^\[ *[0-9]+ of [0-9]+\] Compiling .*dist/build/' || true)
  setup=$(printf '%s\n' "$log" | sed -n 's/^builder: Setup build took \(.*\) s$/\1/p')
  local which
  which=$(printf '%s\n' "$log" | grep -E '^\[ *[0-9]+ of [0-9]+\] Compiling .*dist/build/' \
    | sed -E 's/^\[ *[0-9]+ of [0-9]+\] Compiling ([^ ]+) .*\) ?(\[(.*)\])?$/\1 \2/' | awk 'NR <= 3 { sub(/ +$/, ""); printf "%s%s", (NR > 1 ? "; " : ""), $0 }' || true)
  [ "$compiled" -le 3 ] || which="$which; ..."
  [ -z "$failed" ] || which="FAILED: $failed"
  printf '| %s | %.1f | %s | %s | %s | %s -> %s |\n' "$label" "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" \
    "$setup" "$compiled" "$which" "$load_before" "$load_after"
  LAST_DRV=$drv
}
# out_path DRV intermediates|out: that output's store path.
out_path() {
  if [ "$2" = intermediates ]; then inchroot nix-store -q --outputs "$1" | grep -- '-intermediates$'
  else inchroot nix-store -q --outputs "$1" | grep -v -- '-intermediates$'; fi
}
# nar_mb PATH: its NAR size in MB.
nar_mb() { awk -v b="$(inchroot nix-store -q --size "$1")" 'BEGIN { printf "%.1f", b / 1e6 }'; }

echo "Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo); load average at start: $(cut -d' ' -f1-3 /proc/loadavg); GHC $GHC_VERSION, $(inchroot nix --version); salt $SALT"
echo
echo "| build | nix-build s | Setup build s | modules compiled | first modules compiled [reason] | load 1 min before -> after |"
echo "| --- | ---: | ---: | ---: | --- | --- |"

# turtle
repo=/fgd/bench/turtle
git clone -q --no-checkout "$BUNDLE" "$DIR$repo"
gitc -C "$DIR$repo" checkout -q -b bench "$C"
echo >> "$DIR$repo/src/Turtle/Prelude.hs"
commit_at "$DIR$repo" $((NEXT_DAY + 36000)) "echo >> src/Turtle/Prelude.hs"
d1=$(git -C "$DIR$repo" rev-parse HEAD)
if [[ $PARTS == *" turtle "* ]]; then
  build "turtle: full build of C (installs intermediates)" incremental.previousBuild "$repo" "$d1" turtle 1.6.2
  full_drv=$LAST_DRV
  build "turtle: from scratch (no intermediates)" package "$repo" "$d1" turtle 1.6.2
  build "turtle: incremental, one-line change to Turtle.Prelude" incremental "$repo" "$d1" turtle 1.6.2
  build "turtle: incremental, same change, -O2 for this build only" incremental "$repo" "$d1" turtle 1.6.2 \
    --arg configureFlags '[ "--ghc-option=-O2" ]'
  turtle_int=$(out_path "$full_drv" intermediates)
  turtle_out=$(out_path "$full_drv" out)
fi
if [[ $PARTS == *" restore "* ]]; then
  ALLOW_FAIL=1 build "turtle: incremental, restored without chmod u+w" incremental "$repo" "$d1" turtle 1.6.2 --argstr builder builder-nochmod
  build "turtle: incremental, restored by cp -r without the one mtime" incremental "$repo" "$d1" turtle 1.6.2 --argstr builder builder-notouch
  build "turtle: incremental, restored from a NAR without the one mtime" incremental "$repo" "$d1" turtle 1.6.2 --argstr builder builder-narnotouch
fi

# gen: base on day 1, each change on day 2, branched from base.
if [[ $PARTS == *" gen "* ]]; then
repo=/fgd/bench/gen
mkdir -p "$DIR$repo"
gitc -C "$DIR$repo" init -q -b main
python3 "$ROOT/bench/gen-haskell.py" "$DIR$repo" "$MODULES" base
commit_at "$DIR$repo" $((NEXT_DAY + 36000)) base
declare -A rev
for variant in leaf noinline inline; do
  gitc -C "$DIR$repo" checkout -q -B "$variant" main
  python3 "$ROOT/bench/gen-haskell.py" "$DIR$repo" "$MODULES" "$variant"
  commit_at "$DIR$repo" $((NEXT_DAY + 86400 + 36000)) "$variant"
  rev[$variant]=$(git -C "$DIR$repo" rev-parse HEAD)
done
build "gen ($MODULES modules): full build (installs intermediates)" incremental.previousBuild "$repo" "${rev[leaf]}" gen 0.1
gen_drv=$LAST_DRV
build "gen: from scratch (no intermediates)" package "$repo" "${rev[leaf]}" gen 0.1
build "gen: incremental, change in the module nothing imports" incremental "$repo" "${rev[leaf]}" gen 0.1
build "gen: incremental, NOINLINE function's body at the bottom" incremental "$repo" "${rev[noinline]}" gen 0.1
build "gen: incremental, inlinable function at the bottom" incremental "$repo" "${rev[inline]}" gen 0.1
gen_int=$(out_path "$gen_drv" intermediates)
gen_out=$(out_path "$gen_drv" out)
fi

echo
echo "| package | out (NAR MB) | intermediates (NAR MB) |"
echo "| --- | ---: | ---: |"
[ -z "${turtle_out:-}" ] || echo "| turtle | $(nar_mb "$turtle_out") | $(nar_mb "$turtle_int") |"
[ -z "${gen_out:-}" ] || echo "| gen ($MODULES modules) | $(nar_mb "$gen_out") | $(nar_mb "$gen_int") |"
echo
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
