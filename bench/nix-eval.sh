#!/usr/bin/env bash
# Nix integration benchmark: one `nix-instantiate --eval --strict` calling the library's
# fetchGitDate 100 times (100 dates of one generated repository, each truncating to a different
# commit) vs the same evaluation calling builtins.fetchGit with the revs those dates resolve to.
# Both warm: each evaluation runs once before timing, so every store path is valid and every
# cache (ours, Nix's fetcher cache) is filled. See docs/benchmarks.md. Environment:
#   FETCHGIT_DATE_BENCH_DIR  where the generated repository is cached (as in bench/run.sh)
#   BENCH_EVAL_CALLS         calls per evaluation (default 100)
#   BENCH_EVAL_RUNS          hyperfine runs per evaluation (default 5)
#   BENCH_TSV=1              print the result rows tab-separated (bench/run.sh collects them)
# Needs nix-instantiate and a writable Nix store (root single-user, or a running daemon), git,
# python3, hyperfine. fetchGit gets ref = "main": Nix 2.8 fetches a bare repository like a remote
# one (default ref master), into its own cache. It adds CALLS small store paths (~40 KB each) to the store.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${FETCHGIT_DATE_BENCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fetchgit-date-bench}
CALLS=${BENCH_EVAL_CALLS:-100}
RUNS=${BENCH_EVAL_RUNS:-5}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fetchgit-date-nix-eval.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# Our cache and Nix's fetcher cache (both under XDG_CACHE_HOME), private to this run.
export XDG_CACHE_HOME=$WORK/cache

for tool in hyperfine git python3 nix-instantiate; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 2; }
done

# --- repository: 1000 commits over 40 small files, deterministic ------------------------------
REPO=$BENCH_DIR/nix-eval-c1000-v1.git
if [ ! -f "$REPO/.complete" ]; then
    rm -rf "$REPO"
    mkdir -p "$BENCH_DIR"
    git init -q --bare "$REPO"
    python3 - <<'EOF' | git -C "$REPO" fast-import --quiet
import random, sys
rng = random.Random(7)
out = sys.stdout.buffer
t = 1_500_000_000
files = {f"src/f{i:02}.txt": f"file {i}\n" * rng.randint(20, 400) for i in range(40)}
for n in range(1000):
    t += rng.randint(600, 1800)
    touched = rng.sample(sorted(files), rng.randint(1, 3))
    msg = f"commit {n}\n".encode()
    out.write(b"commit refs/heads/main\n")
    out.write(f"committer Bench <bench@example.invalid> {t} +0000\n".encode())
    out.write(f"data {len(msg)}\n".encode() + msg)
    for path in (sorted(files) if n == 0 else touched):
        files[path] += f"change {n}\n"
        data = files[path].encode()
        out.write(f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n")
EOF
    git -C "$REPO" symbolic-ref HEAD refs/heads/main
    touch "$REPO/.complete"
fi

(cd "$ROOT" && cargo build --release --quiet)
BIN=$ROOT/target/release/fetchgit-date
HEAD_REV=$(git -C "$REPO" rev-parse HEAD)

# CALLS dates: the committer times of CALLS commits spread over the history, so each call
# truncates to a different commit; the revs git selects for them are what fetchGit is given.
mapfile -t DATES < <(git -C "$REPO" log --format=%ct HEAD | awk -v n="$CALLS" 'NR % int(1000 / n) == 0' | head -n "$CALLS")
REVS=()
for d in "${DATES[@]}"; do REVS+=("$(git -C "$REPO" rev-list -1 --before="$d" "$HEAD_REV")"); done
distinct=$(printf '%s\n' "${REVS[@]}" | sort -u | wc -l)
[ "$distinct" = "$CALLS" ] || { echo "bench: $CALLS dates gave $distinct distinct commits" >&2; exit 1; }

nix_list() { printf '%s ' "$@"; }
cat >"$WORK/ours.nix" <<EOF
let
  lib = import $ROOT/nix { fetchgit-date = "$BIN"; };
  results = map (date: lib.fetchGitDate { url = "$REPO"; rev = "$HEAD_REV"; inherit date; }) [ $(nix_list "${DATES[@]}") ];
in builtins.deepSeq (map (r: [ r.outPath r.rev r.narHash ]) results) (map (r: r.outPath) results)
EOF
cat >"$WORK/nix.nix" <<EOF
let
  results = map (rev: builtins.fetchGit { url = "$REPO"; ref = "main"; inherit rev; }) [ $(printf '"%s" ' "${REVS[@]}") ];
in builtins.deepSeq (map (r: [ r.outPath r.rev r.narHash ]) results) (map (r: r.outPath) results)
EOF
EVAL=(nix-instantiate --eval --strict --option allow-unsafe-native-code-during-evaluation true)

# Warm-up, which also checks that both give the same store paths.
"${EVAL[@]}" "$WORK/nix.nix" >"$WORK/nix.out"
"${EVAL[@]}" "$WORK/ours.nix" >"$WORK/ours.out"
cmp -s "$WORK/nix.out" "$WORK/ours.out" || { echo "bench: fetchGitDate and fetchGit disagree:" >&2; diff "$WORK/nix.out" "$WORK/ours.out" | head >&2; exit 1; }

echo "== $CALLS calls per evaluation, warm, $REPO" >&2
j=$WORK/eval.json
hyperfine -N --style basic --warmup 1 --runs "$RUNS" --export-json "$j" \
    "${EVAL[*]} $WORK/ours.nix" "${EVAL[*]} $WORK/nix.nix" >&2
read -r ours theirs < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print(r[0]["mean"], r[1]["mean"])' "$j")

# For the breakdown: the same CALLS fetches run from the shell (one process each), and an
# evaluation that does nothing (nix-instantiate's own start-up).
for d in "${DATES[@]}"; do echo "$BIN fetch --format nix --url $REPO --rev $HEAD_REV --date @$d --compat legacy"; done >"$WORK/calls.sh"
sed 's/$/ --no-store/' "$WORK/calls.sh" >"$WORK/calls-nostore.sh"
hyperfine -N --style basic --warmup 1 --runs "$RUNS" --export-json "$WORK/parts.json" \
    "bash $WORK/calls.sh" "bash $WORK/calls-nostore.sh" "${EVAL[*]} --expr 1" >&2
read -r calls nostore empty < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print(r[0]["mean"], r[1]["mean"], r[2]["mean"])' "$WORK/parts.json")

rows=$(python3 - "$ours" "$theirs" "$calls" "$nostore" "$empty" "$CALLS" <<'EOF'
import sys
ours, theirs, calls, nostore, empty = map(float, sys.argv[1:6])
n = int(sys.argv[6])
ratio = ours / theirs
rows = [
    (f"{n} x fetchGitDate / {n} x builtins.fetchGit in one evaluation, warm ({ours*1000:.0f} / {theirs*1000:.0f} ms)", f"{ratio:.2f}", "<= 2.0", "PASS" if ratio <= 2.0 else "MISS"),
    (f"per call in the evaluation, ms: fetchGitDate (fetchGit {(theirs-empty)/n*1000:.2f}; empty evaluation {empty*1000:.0f} ms)", f"{(ours-empty)/n*1000:.2f}", "-", "-"),
    (f"per process from a shell, ms: fetch with the store (--no-store {nostore/n*1000:.2f})", f"{calls/n*1000:.2f}", "-", "-"),
]
for row in rows:
    print("nix-eval\t" + "\t".join(row))
EOF
)
if [ "${BENCH_TSV:-}" = 1 ]; then
    printf '%s\n' "$rows"
else
    { printf 'scenario\tmeasure\tvalue\ttarget\tresult\n'; printf '%s\n' "$rows"; } | column -t -s $'\t'
fi
