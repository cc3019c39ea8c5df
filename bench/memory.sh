#!/usr/bin/env bash
# Peak memory of an export whose tree holds one 2 GiB file of zeros (2 MB in the object
# database: it compresses), for fetchgit-date (both generations) and Nix 2.8's fetchGit,
# measured in the same run with bench/peakmem.py. Target: fetchgit-date at most 100 MiB.
# Then the same blob repacked as a delta against a second version, under a 1 GiB address-space
# limit: it must be rebuilt in memory, and the error must say "out of memory".
# See docs/benchmarks.md. FETCHGIT_DATE_BENCH_DIR caches the repositories.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${FETCHGIT_DATE_BENCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fetchgit-date-bench}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fetchgit-date-memory.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export XDG_CACHE_HOME=$WORK/cache
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@invalid \
       GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@invalid GIT_AUTHOR_DATE='@1600000000 +0000' GIT_COMMITTER_DATE='@1600000000 +0000'

(cd "$ROOT" && cargo build --release --quiet)
BIN=$ROOT/target/release/fetchgit-date

repo=$BENCH_DIR/zeros-2g-v1
if [ ! -f "$repo/.complete" ]; then
    rm -rf "$repo"
    git init -q -b main "$repo"
    blob=$(head -c 2G /dev/zero | git -C "$repo" hash-object -w --stdin)
    git -C "$repo" update-index --add --cacheinfo "100644,$blob,zeros"
    git -C "$repo" commit -q -m 'a 2 GiB file of zeros'
    touch "$repo/.complete"
fi
rev=$(git -C "$repo" rev-parse HEAD)
echo "repository: $(du -sm "$repo/.git/objects" | cut -f1) MiB of objects, a $(git -C "$repo" cat-file -s "$rev:zeros") byte file" >&2

results=$WORK/results
: >"$results"
peak() { # peak LABEL CMD...
    local label=$1; shift
    read -r maxrss anon file_ <<<"$(python3 "$ROOT/bench/peakmem.py" "$@")"
    printf '%s\t%s\t%s\t%s\n' "$label" "$((maxrss / 1024))" "$((anon / 1024))" "$((file_ / 1024))" >>"$results"
}
for compat in modern legacy; do
    rm -rf "$XDG_CACHE_HOME"
    peak "fetchgit-date fetch --compat $compat --no-store" "$BIN" fetch --url "$repo" --rev "$rev" --compat "$compat" --no-store
done
if command -v nix-instantiate >/dev/null; then
    mkdir -p "$WORK/nix-home"
    peak "Nix 2.8 builtins.fetchGit (git archive | unpack | add to store)" \
        env HOME="$WORK/nix-home" nix-instantiate --eval --strict -E "(builtins.fetchGit { url = \"$repo\"; rev = \"$rev\"; }).narHash"
fi

# A delta must be rebuilt in memory: under a limit, the error says so (512 MiB blob, 400 MiB).
delta=$BENCH_DIR/delta-512m-v1
if [ ! -f "$delta/.complete" ]; then
    rm -rf "$delta"
    git init -q -b main "$delta"
    head -c 512M /dev/zero >"$delta/zeros"
    git -C "$delta" add zeros && git -C "$delta" commit -q -m zeros
    printf 'x' | dd of="$delta/zeros" bs=1 seek=$((256 << 20)) conv=notrunc status=none
    git -C "$delta" commit -q -am 'one byte changed'
    rm "$delta/zeros"
    git -C "$delta" -c pack.window=10 -c core.bigFileThreshold=1g repack -a -d -f -q
    touch "$delta/.complete"
fi
oom=""
for drev in $(git -C "$delta" rev-list main); do
    out=$( (ulimit -v $((400 << 10)); "$BIN" fetch --url "$delta" --rev "$drev" --compat modern --no-store) 2>&1 >/dev/null || true)
    case $out in *"out of memory"*) oom=$out ;; esac
done

echo
echo "peak memory, 2 GiB file of zeros ($(nproc) cores, $(git --version))"
{
    printf 'command\tpeak RSS MiB\theap (RssAnon) MiB\tfile-backed MiB\n'
    cat "$results"
} | column -t -s $'\t'
worst=$(grep '^fetchgit-date' "$results" | cut -f2 | sort -n | tail -1)
if [ "$worst" -le 100 ]; then echo "fetchgit-date peak RSS $worst MiB <= 100 MiB: PASS"; else echo "fetchgit-date peak RSS $worst MiB > 100 MiB: MISS"; fi
echo "deltified 512 MiB blob under ulimit -v 400 MiB: ${oom:-<no out-of-memory error>}"
case $oom in *"out of memory"*) echo "the error says out of memory: PASS" ;; *) echo "the error does not say out of memory: MISS" ;; esac
