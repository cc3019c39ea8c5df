#!/usr/bin/env bash
# The plugin (builtins.fetchGitDate) against Nix's own builtins.fetchGit, in the same run:
#  1. one evaluation with N (default 1000) warm calls, one rev and N distinct dates (each
#     truncating to a different commit), vs one evaluation with N builtins.fetchGit calls of
#     the revs those dates resolve to; target: at most 1.5x. Measured in both shapes users meet:
#     a local work tree (`truncate ./.`: Nix's fastest path, `rev` alone) and a bare repository
#     fetched with `ref` (which Nix clones). Also the per-call cost with the in-evaluation memo
#     (N identical calls) and without (N distinct ones).
#  2. a cold fetchGitDate of the large bench repository (bench/run.sh's, generated when missing),
#     in-process, vs the CLI's cold `fetch` of the same commit (both: empty caches, store path
#     deleted before every run, legacy export, NAR added to the store); target: at most 1.0x.
# A benchmark, not a test: it prints ratios and PASS/MISS and never fails on a MISS.
# Environment: FETCHGIT_DATE_BENCH_DIR (repositories, as bench/run.sh), BENCH_PLUGIN_CALLS,
# BENCH_RUNS (hyperfine runs, default 5), BENCH_SKIP_COLD=1. Needs nix-instantiate, nix-store,
# a writable store (root), git, python3, hyperfine, and Nix's headers (tests/install-deps).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${FETCHGIT_DATE_BENCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fetchgit-date-bench}
CALLS=${BENCH_PLUGIN_CALLS:-1000}
RUNS=${BENCH_RUNS:-5}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fetchgit-date-plugin-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export XDG_CACHE_HOME=$WORK/cache

for tool in hyperfine git python3 nix-instantiate nix-store; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 2; }
done

(cd "$ROOT" && cargo build --release --quiet -p fetchgit-date-nix-plugin -p fetchgit-date-cli)
PLUGIN=$ROOT/target/release/libfetchgit_date_nix_plugin.so
BIN=$ROOT/target/release/fetchgit-date
EVAL=(nix-instantiate --option plugin-files "$PLUGIN" --eval --strict)

# --- 1. warm calls ------------------------------------------------------------------------------
# CALLS commits over 40 small files, deterministic.
REPO=$BENCH_DIR/plugin-c$CALLS-v1.git
if [ ! -f "$REPO/.complete" ]; then
    rm -rf "$REPO"; mkdir -p "$BENCH_DIR"; git init -q --bare "$REPO"
    python3 - "$CALLS" <<'EOF' | git -C "$REPO" fast-import --quiet
import random, sys
rng = random.Random(7)
out = sys.stdout.buffer
t = 1_500_000_000
files = {f"src/f{i:02}.txt": f"file {i}\n" * rng.randint(20, 400) for i in range(40)}
for n in range(int(sys.argv[1])):
    t += rng.randint(600, 1800)
    msg = f"commit {n}\n".encode()
    out.write(b"commit refs/heads/main\n")
    out.write(f"committer Bench <bench@example.invalid> {t} +0000\n".encode())
    out.write(f"data {len(msg)}\n".encode() + msg)
    for path in (sorted(files) if n == 0 else rng.sample(sorted(files), rng.randint(1, 3))):
        files[path] += f"change {n}\n"
        data = files[path].encode()
        out.write(f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n")
EOF
    git -C "$REPO" symbolic-ref HEAD refs/heads/main
    touch "$REPO/.complete"
fi
HEAD_REV=$(git -C "$REPO" rev-parse HEAD)
# Every commit's own time: the truncation from HEAD lands on that commit.
mapfile -t DATES < <(git -C "$REPO" log --format=%ct HEAD)
mapfile -t REVS < <(git -C "$REPO" log --format=%H HEAD)

# The work-tree shape: a clone with a checkout, fetched by path with `rev` alone.
TREE=$WORK/tree
git clone -q "$REPO" "$TREE"
cat >"$WORK/ours-tree.nix" <<EOF
let results = map (date: builtins.fetchGitDate { url = "$TREE"; rev = "$HEAD_REV"; inherit date; }) [ ${DATES[*]} ];
in builtins.deepSeq (map (r: [ r.outPath r.rev r.narHash ]) results) (map (r: r.outPath) results)
EOF
cat >"$WORK/nix-tree.nix" <<EOF
let results = map (rev: builtins.fetchGit { url = "$TREE"; inherit rev; }) [ $(printf '"%s" ' "${REVS[@]}") ];
in builtins.deepSeq (map (r: [ r.outPath r.rev r.narHash ]) results) (map (r: r.outPath) results)
EOF
cat >"$WORK/ours.nix" <<EOF
let results = map (date: builtins.fetchGitDate { url = "$REPO"; ref = "main"; rev = "$HEAD_REV"; inherit date; }) [ ${DATES[*]} ];
in builtins.deepSeq (map (r: [ r.outPath r.rev r.narHash ]) results) (map (r: r.outPath) results)
EOF
cat >"$WORK/nix.nix" <<EOF
let results = map (rev: builtins.fetchGit { url = "$REPO"; ref = "main"; inherit rev; }) [ $(printf '"%s" ' "${REVS[@]}") ];
in builtins.deepSeq (map (r: [ r.outPath r.rev r.narHash ]) results) (map (r: r.outPath) results)
EOF
cat >"$WORK/memo.nix" <<EOF
let results = builtins.genList (_: builtins.fetchGitDate { url = "$REPO"; ref = "main"; rev = "$HEAD_REV"; date = ${DATES[0]}; }) $CALLS;
in builtins.deepSeq (map (r: [ r.outPath r.rev r.narHash ]) results) (builtins.length results)
EOF
echo 1 >"$WORK/empty.nix"

# Warm-up (adds the paths, fills both caches) and the check that both give the same paths.
"${EVAL[@]}" "$WORK/nix.nix" >"$WORK/nix.out"
"${EVAL[@]}" "$WORK/ours.nix" >"$WORK/ours.out"
cmp -s "$WORK/nix.out" "$WORK/ours.out" || { echo "bench: fetchGitDate and fetchGit disagree" >&2; diff "$WORK/nix.out" "$WORK/ours.out" | head >&2; exit 1; }
"${EVAL[@]}" "$WORK/nix-tree.nix" >"$WORK/nix-tree.out"
"${EVAL[@]}" "$WORK/ours-tree.nix" >"$WORK/ours-tree.out"
cmp -s "$WORK/nix-tree.out" "$WORK/ours-tree.out" || { echo "bench: fetchGitDate and fetchGit disagree on the work tree" >&2; diff "$WORK/nix-tree.out" "$WORK/ours-tree.out" | head >&2; exit 1; }

echo "== $CALLS calls per evaluation, warm, work tree $TREE" >&2
hyperfine -N --style basic --warmup 1 --runs "$RUNS" --export-json "$WORK/tree.json" \
    "${EVAL[*]} $WORK/ours-tree.nix" "${EVAL[*]} $WORK/nix-tree.nix" >&2
read -r tree_ours tree_theirs tree_ours_cpu tree_theirs_cpu < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print(r[0]["mean"], r[1]["mean"], r[0]["user"] + r[0]["system"], r[1]["user"] + r[1]["system"])' "$WORK/tree.json")

echo "== $CALLS calls per evaluation, warm, $REPO" >&2
hyperfine -N --style basic --warmup 1 --runs "$RUNS" --export-json "$WORK/warm.json" \
    "${EVAL[*]} $WORK/ours.nix" "${EVAL[*]} $WORK/nix.nix" "${EVAL[*]} $WORK/memo.nix" "${EVAL[*]} $WORK/empty.nix" >&2
read -r ours theirs memo empty < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print(*(x["mean"] for x in r))' "$WORK/warm.json")
# CPU time (user + system) too: on a loaded machine wall time mostly measures waiting.
read -r ours_cpu theirs_cpu empty_cpu < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print(*(r[i]["user"] + r[i]["system"] for i in (0, 1, 3)))' "$WORK/warm.json")

# --- 2. cold, large repository ------------------------------------------------------------------
cold_rows=""
if [ "${BENCH_SKIP_COLD:-}" != 1 ]; then
    LARGE=$BENCH_DIR/repo-c82000-f5200-v1.git
    if [ ! -f "$LARGE/.complete" ]; then
        rm -rf "$LARGE"; mkdir -p "$BENCH_DIR"; git init -q --bare "$LARGE"
        python3 "$ROOT/bench/genrepo.py" 82000 5200 | git -C "$LARGE" -c core.compression=1 fast-import --quiet
        git -C "$LARGE" symbolic-ref HEAD refs/heads/main
        touch "$LARGE/.complete"
    fi
    LREV=$(git -C "$LARGE" rev-parse HEAD)
    LPATH=$("$BIN" fetch --no-store --compat legacy --url "$LARGE" --rev "$LREV" | python3 -c 'import json,sys; print(json.load(sys.stdin)["outPath"])')
    # Cold: no cache of ours, the path not in the store (nothing else may refer to it).
    prepare="rm -rf $WORK/cache; nix-store --delete $LPATH >/dev/null 2>&1 || true"
    echo "== cold fetch of $LARGE at HEAD, legacy export, with the store" >&2
    hyperfine -N --style basic --runs 3 --prepare "bash -c '$prepare'" --export-json "$WORK/cold.json" \
        "${EVAL[*]} -E '(builtins.fetchGitDate { url = \"$LARGE\"; rev = \"$LREV\"; }).narHash'" \
        "$BIN fetch --compat legacy --url $LARGE --rev $LREV" >&2
    read -r cold_plugin cold_cli < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print(*(x["mean"] for x in r))' "$WORK/cold.json")
    cold_rows="$cold_plugin $cold_cli"
fi

python3 - "$ours" "$theirs" "$memo" "$empty" "$CALLS" "$ours_cpu" "$theirs_cpu" "$empty_cpu" "$tree_ours" "$tree_theirs" "$tree_ours_cpu" "$tree_theirs_cpu" $cold_rows <<'EOF' | column -t -s $'\t'
import sys
ours, theirs, memo, empty = map(float, sys.argv[1:5])
n = int(sys.argv[5])
ours_cpu, theirs_cpu, empty_cpu = map(float, sys.argv[6:9])
tree_ours, tree_theirs, tree_ours_cpu, tree_theirs_cpu = map(float, sys.argv[9:13])
ratio = ours / theirs
per = lambda t: (t - empty) / n * 1000
tree_ratio = tree_ours / tree_theirs
rows = [("measure", "value", "target", "result"),
        (f"work tree: {n} x fetchGitDate / {n} x builtins.fetchGit (rev), one evaluation, warm ({tree_ours*1000:.0f} / {tree_theirs*1000:.0f} ms)", f"{tree_ratio:.2f}", "<= 1.5", "PASS" if tree_ratio <= 1.5 else "MISS"),
        (f"work tree, CPU time (user + system: {tree_ours_cpu*1000:.0f} / {tree_theirs_cpu*1000:.0f} ms)", f"{tree_ours_cpu/tree_theirs_cpu:.2f}", "<= 1.5", "PASS" if tree_ours_cpu / tree_theirs_cpu <= 1.5 else "MISS"),
        (f"work tree, per call, CPU ms: fetchGitDate / builtins.fetchGit", f"{(tree_ours_cpu-empty_cpu)/n*1000:.3f} / {(tree_theirs_cpu-empty_cpu)/n*1000:.3f}", "-", "-"),
        (f"bare repository with ref: {n} x fetchGitDate / {n} x builtins.fetchGit, one evaluation, warm ({ours*1000:.0f} / {theirs*1000:.0f} ms)", f"{ratio:.2f}", "<= 1.5", "PASS" if ratio <= 1.5 else "MISS"),
        (f"the same, CPU time (user + system: {ours_cpu*1000:.0f} / {theirs_cpu*1000:.0f} ms)", f"{ours_cpu/theirs_cpu:.2f}", "<= 1.5", "PASS" if ours_cpu / theirs_cpu <= 1.5 else "MISS"),
        (f"per call, CPU ms: fetchGitDate / builtins.fetchGit (empty evaluation {empty_cpu*1000:.0f} ms)", f"{(ours_cpu-empty_cpu)/n*1000:.3f} / {(theirs_cpu-empty_cpu)/n*1000:.3f}", "-", "-"),
        (f"per call, ms: fetchGitDate without the memo ({n} distinct dates)", f"{per(ours):.3f}", "-", "-"),
        (f"per call, ms: fetchGitDate answered by the memo ({n} identical calls)", f"{per(memo):.3f}", "-", "-"),
        (f"per call, ms: builtins.fetchGit (empty evaluation {empty*1000:.0f} ms)", f"{per(theirs):.3f}", "-", "-")]
if len(sys.argv) > 13:
    plugin, cli = map(float, sys.argv[13:15])
    rows.append((f"cold large repository: plugin in-process / CLI fetch ({plugin:.2f} / {cli:.2f} s)", f"{plugin/cli:.2f}", "<= 1.0", "PASS" if plugin / cli <= 1.0 else "MISS"))
for row in rows:
    print("\t".join(row))
EOF
