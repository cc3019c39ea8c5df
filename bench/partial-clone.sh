#!/usr/bin/env bash
# Big remotes, only the trees that are needed (issue 15, section 3): a cold
# `fetchgit-date fetch --no-store --ref BRANCH` of a big repository served on loopback by
# `git daemon` (git://) and by `git http-backend` (smart HTTP, bench/smart-http.py), both with
# uploadpack.allowFilter, against `git clone --bare` and against git's own partial clone
# (`git clone --bare --filter=tree:0`, `rev-list --count`, `git archive` fetching the tree on
# demand), all measured in the same run; transferred bytes too. Target: at most 0.3x
# `git clone --bare`.
#
#   bench/partial-clone.sh [REPO] [BRANCH]
# REPO: the repository to serve (the issue measured a clone of git/git, 82k commits; default
# /var/tmp/perf-bench/git). BRANCH: default master. BENCH_RUNS: hyperfine runs per command
# (default 3). BENCH_BIN: the binary to time (default: target/release/fetchgit-date, built here).
# Prints the load average around the run: the machine may be shared.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
REPO=${1:-/var/tmp/perf-bench/git}
BRANCH=${2:-master}
RUNS=${BENCH_RUNS:-3}
TARGET=0.3
for tool in hyperfine git python3; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 2; }
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fetchgit-date-partial-clone.XXXXXX")
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
export XDG_CACHE_HOME=$WORK/cache   # our cache only; never the user's
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null

# Served as a hosting server has it: bare, its packs as they are, filters allowed.
mkdir -p "$WORK/srv"
git clone -q --bare "$REPO" "$WORK/srv/repo.git"
git -C "$WORK/srv/repo.git" config uploadpack.allowFilter true
git -C "$WORK/srv/repo.git" config uploadpack.allowReachableSHA1InWant true
commits=$(git -C "$WORK/srv/repo.git" rev-list --count "$BRANCH")

BIN=${BENCH_BIN:-}
if [ -z "$BIN" ]; then
    (cd "$ROOT" && cargo build --release --quiet -p fetchgit-date-cli)
    BIN=$ROOT/target/release/fetchgit-date
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$(git --exec-path)/git-daemon" --reuseaddr --export-all --listen=127.0.0.1 --port="$port" \
    --base-path="$WORK/srv" "$WORK/srv" 2>"$WORK/daemon.log" &
PIDS+=($!)
python3 "$ROOT/bench/smart-http.py" "$WORK/srv" "$WORK/http.log" >"$WORK/http.port" &
PIDS+=($!)
for _ in $(seq 600); do
    [ -s "$WORK/http.port" ] && git ls-remote "git://127.0.0.1:$port/repo.git" HEAD >/dev/null 2>&1 && break
    sleep 0.1
done
GIT_URL=git://127.0.0.1:$port/repo.git
HTTP_URL=http://127.0.0.1:$(cat "$WORK/http.port")/repo.git

# Correctness gate: the partial clone gives the attributes of the served repository read in place.
reference=$("$BIN" fetch --no-store -q --url "$WORK/srv/repo.git" --ref "$BRANCH")
for url in "$GIT_URL" "$HTTP_URL"; do
    rm -rf "$XDG_CACHE_HOME"
    out=$("$BIN" fetch --no-store -v --url "$url" --ref "$BRANCH" 2>"$WORK/verbose.log")
    [ "$out" = "$reference" ] || { echo "bench: $url gives $out, the repository in place $reference" >&2; exit 1; }
    grep -q "commits only" "$WORK/verbose.log" || { echo "bench: $url was not fetched as a partial clone" >&2; cat "$WORK/verbose.log" >&2; exit 1; }
    # Bytes: every pack received, as -v reports them.
    sed -n 's/.*received \([0-9]*\) bytes of pack.*/\1/p' "$WORK/verbose.log" | awk '{s += $1} END {print s + 0}' >"$WORK/bytes.$(echo "$url" | cut -d: -f1)"
done
rm -rf "$XDG_CACHE_HOME"

pack_bytes() { find "$1" -name '*.pack' -printf '%s\n' | awk '{s += $1} END {print s + 0}'; }
# git's bytes (one cold run each, outside the timing).
for url in "$GIT_URL" "$HTTP_URL"; do
    scheme=$(echo "$url" | cut -d: -f1)
    rm -rf "$WORK/c"; git clone -q --bare "$url" "$WORK/c"; pack_bytes "$WORK/c" >"$WORK/clone-bytes.$scheme"
    rm -rf "$WORK/c"; git clone -q --bare --filter=tree:0 "$url" "$WORK/c"
    git -C "$WORK/c" rev-list --count "$BRANCH" >/dev/null
    git -C "$WORK/c" archive "$BRANCH" >/dev/null
    pack_bytes "$WORK/c" >"$WORK/filter-bytes.$scheme"
done
rm -rf "$WORK/c"

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for url in "$GIT_URL" "$HTTP_URL"; do
    scheme=$(echo "$url" | cut -d: -f1)
    hyperfine -N --runs "$RUNS" --export-json "$WORK/h.$scheme.json" \
        --prepare "rm -rf $XDG_CACHE_HOME $WORK/c" \
        -n ours "$BIN fetch --no-store -q --url $url --ref $BRANCH" \
        -n clone "git clone -q --bare $url $WORK/c" \
        -n filter "sh -c 'git clone -q --bare --filter=tree:0 $url $WORK/c && git -C $WORK/c rev-list --count $BRANCH >/dev/null && git -C $WORK/c archive $BRANCH >/dev/null'" >&2
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$WORK" "$TARGET" "$REPO" "$BRANCH" "$commits" "$load_before" "$load_after" "$(nproc)" "$RUNS" <<'PY'
import json, sys
work, target, repo, branch, commits, before, after, cpus, runs = sys.argv[1:]
print(f"repository {repo} ({branch}: {commits} commits), served on loopback with uploadpack.allowFilter")
print(f"load average before {before}, after {after} ({cpus} CPUs); median of {runs} cold runs")
verdicts = []
for scheme, name in [("git", "git://"), ("http", "smart HTTP")]:
    r = {x["command"]: x for x in json.load(open(f"{work}/h.{scheme}.json"))["results"]}
    mb = lambda f: int(open(f"{work}/{f}.{scheme}").read()) / 1e6
    ours, clone, filt = (r[k]["median"] for k in ("ours", "clone", "filter"))
    ratio = ours / clone
    print(f"{name}:")
    print(f"  fetchgit-date fetch (partial clone): {ours:6.2f} s  {mb('bytes'):7.1f} MB  ratio {ratio:.3f} to git clone --bare")
    print(f"  git clone --bare:                    {clone:6.2f} s  {mb('clone-bytes'):7.1f} MB")
    print(f"  git clone --filter=tree:0 + archive: {filt:6.2f} s  {mb('filter-bytes'):7.1f} MB  ratio {filt / clone:.3f}")
    verdicts.append((name, ratio))
for name, ratio in verdicts:
    print(f"{'PASS' if ratio <= float(target) else 'MISS'}: {name} cold fetch at {ratio:.3f}x git clone --bare (target at most {target}x)")
PY
