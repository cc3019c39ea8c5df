#!/usr/bin/env bash
# The warm path (issue 15, section 1): `fetchgit-date fetch --no-store --rev HEAD --date D` on a
# big history with our cache filled, median of 5 whole processes, against
# `git rev-list -1 --before=D HEAD` measured in the same run; target: at most 10 ms.
#
#   bench/warm.sh [REPO] [DATE]
# REPO: a repository with a big history (the issue measured a clone of git/git, 82k commits);
# without one, a linear 80,000-commit history with fixed dates is generated with
# `git fast-import` under $FETCHGIT_DATE_BENCH_DIR (default ~/.cache/fetchgit-date-bench).
# DATE: default @1500000000 (git/git: 34k commits after it). BENCH_BIN: the binary to time
# (default: target/release/fetchgit-date, built here). Prints the load average around the run:
# the machine may be shared.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${FETCHGIT_DATE_BENCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fetchgit-date-bench}
DATE=${2:-@1500000000}
RUNS=5
TARGET_MS=10
for tool in hyperfine git python3; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 2; }
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fetchgit-date-warm.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export XDG_CACHE_HOME=$WORK/cache   # our cache only; never the user's

if [ $# -ge 1 ]; then
    REPO=$1
else
    REPO=$BENCH_DIR/linear-80000-v1.git
    if [ ! -f "$REPO/.complete" ]; then
        rm -rf "$REPO"; mkdir -p "$BENCH_DIR"; git init -q --bare "$REPO"
        # Commit i: one file changed, committed at 2010-01-01 + i * 30 min (fixed, linear).
        python3 - <<'PY' | git -C "$REPO" fast-import --quiet
import sys
out = sys.stdout.buffer
base = 1262304000
for i in range(80000):
    data = f"commit {i}\n".encode()
    msg = f"commit {i}\n".encode()
    t = base + i * 1800
    out.write(b"commit refs/heads/main\n")
    out.write(f"committer C <c@example.org> {t} +0000\n".encode())
    out.write(b"data %d\n%s" % (len(msg), msg))
    # No `from`: each commit continues the branch (its parent is the previous one).
    out.write(b"M 100644 inline file%d.txt\ndata %d\n%s\n" % (i % 100, len(data), data))
PY
        git -C "$REPO" symbolic-ref HEAD refs/heads/main
        touch "$REPO/.complete"
    fi
    DATE=${2:-@1350000000}
fi

BIN=${BENCH_BIN:-}
if [ -z "$BIN" ]; then
    (cd "$ROOT" && cargo build --release --quiet -p fetchgit-date-cli)
    BIN=$ROOT/target/release/fetchgit-date
fi
HEAD_REV=$(git -C "$REPO" rev-parse HEAD)
EXPECTED=$(git -C "$REPO" rev-list -1 --before="$DATE" HEAD)
AFTER=$(git -C "$REPO" rev-list --count --since="$DATE" HEAD)
GRAPH=no
[ -e "$REPO/objects/info/commit-graph" ] || [ -d "$REPO/objects/info/commit-graphs" ] || [ -e "$REPO/.git/objects/info/commit-graph" ] && GRAPH=yes

ours=("$BIN" fetch --no-store -q --url "$REPO" --rev "$HEAD_REV" --date "$DATE")
rev_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["rev"])'; }
cold=$("${ours[@]}" | rev_of)      # fills the cache
warm=$("${ours[@]}" | rev_of)
[ "$cold" = "$EXPECTED" ] && [ "$warm" = "$EXPECTED" ] || {
    echo "bench: wrong answer: cold $cold, warm $warm, git $EXPECTED" >&2; exit 1; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$WORK/h.json" \
    -n ours "${ours[*]}" \
    -n git "git -C $REPO rev-list -1 --before=$DATE HEAD" >&2
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$WORK/h.json" "$TARGET_MS" "$REPO" "$DATE" "$AFTER" "$GRAPH" "$load_before" "$load_after" "$(nproc)" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
target, repo, date, after, graph, before, after_load, cpus = sys.argv[2:]
ours, git = results["ours"]["median"] * 1000, results["git"]["median"] * 1000
print(f"repository {repo}: {after} commits after {date}; commit-graph: {graph}")
print(f"load average before {before}, after {after_load} ({cpus} CPUs)")
print(f"warm fetch --no-store, median of 5 processes: {ours:.1f} ms (min {results['ours']['min']*1000:.1f}, max {results['ours']['max']*1000:.1f})")
print(f"  its CPU time (user + system, mean): {(results['ours']['user'] + results['ours']['system']) * 1000:.1f} ms (wall time above includes waiting for a loaded CPU)")
print(f"git rev-list -1 --before, median of 5:       {git:.1f} ms (ratio {ours/git:.2f})")
print(f"{'PASS' if ours <= float(target) else 'MISS'}: warm {ours:.1f} ms against a target of at most {target} ms")
PY
