#!/usr/bin/env bash
# Benchmark of fetchgit-date against git (and nix-hash), measured in the same run.
# See docs/benchmarks.md. Environment:
#   FETCHGIT_DATE_BENCH_DIR  where generated repositories are cached (default ~/.cache/fetchgit-date-bench)
#   BENCH_COMMITS, BENCH_FILES  size of the main repository (default 82000, 5200: like git/git)
#   BENCH_RUNS               hyperfine runs per cold measurement (default 5)
#   BENCH_SKIP_2X=1          skip the 2x repository (memory scaling)
#   BENCH_SKIP_NIX_EVAL=1    skip the Nix evaluation benchmark (bench/nix-eval.sh)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${FETCHGIT_DATE_BENCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fetchgit-date-bench}
COMMITS=${BENCH_COMMITS:-82000}
FILES=${BENCH_FILES:-5200}
RUNS=${BENCH_RUNS:-5}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fetchgit-date-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export XDG_CACHE_HOME=$WORK/cache   # our cache only; never the user's
RESULTS=$WORK/results.tsv
: >"$RESULTS"

for tool in hyperfine git python3 nix-hash tar; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 2; }
done
if [ ! -x /usr/bin/time ]; then
    apt-get install -y time >/dev/null
fi

# --- repositories -------------------------------------------------------------------------------
generate() { # generate COMMITS FILES -> prints the path of the (cached) bare repository
    local repo=$BENCH_DIR/repo-c$1-f$2-v1.git
    if [ ! -f "$repo/.complete" ]; then
        rm -rf "$repo"
        mkdir -p "$BENCH_DIR"
        git init -q --bare "$repo"
        local start=$SECONDS
        python3 "$ROOT/bench/genrepo.py" "$1" "$2" | git -C "$repo" -c core.compression=1 fast-import --quiet
        git -C "$repo" symbolic-ref HEAD refs/heads/main
        echo "bench: generated $repo in $((SECONDS - start)) s" >&2
        touch "$repo/.complete"
    fi
    echo "$repo"
}
set_graph() { # set_graph REPO yes|no
    rm -rf "$1/objects/info/commit-graph" "$1/objects/info/commit-graphs"
    if [ "$2" = yes ]; then git -C "$1" commit-graph write --reachable --no-progress; fi
}

REPO=$(generate "$COMMITS" "$FILES")

# --- binary -------------------------------------------------------------------------------------
(cd "$ROOT" && cargo build --release --quiet)
BIN=$ROOT/target/release/fetchgit-date

# --- helpers ------------------------------------------------------------------------------------
stat_of() { # stat_of JSON INDEX FIELD
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]; print(r[sys.argv[3]])' "$@"
}
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"; } # scenario, measure, value, target, verdict
verdict() { python3 -c 'import sys; print("PASS" if float(sys.argv[1]) <= float(sys.argv[2]) else "MISS")' "$1" "$2"; }
ratio() { python3 -c 'import sys; print(f"{float(sys.argv[1]) / float(sys.argv[2]):.3f}")' "$1" "$2"; }
ms() { python3 -c 'import sys; print(f"{float(sys.argv[1]) * 1000:.1f}")' "$1"; }

tree_stats() { # tree_stats REPO REV -> "files total_bytes largest_bytes"
    git -C "$1" ls-tree -r -l "$2" | awk '$4 != "-" {n++; s += $4; if ($4 > m) m = $4} END {print n, s, m}'
}

# The git pipeline a fetch replaces, as Nix <= 2.19 runs it (rev-list, archive | tar, hash, count).
cat >"$WORK/git-pipeline.sh" <<'EOF'
#!/usr/bin/env bash
set -euo pipefail
repo=$1 head=$2 date=$3 out=$4
rev=$(git -C "$repo" rev-list -1 --before="$date" "$head")
rm -rf "$out"; mkdir -p "$out"
git -C "$repo" archive "$rev" | tar -x -C "$out"
nix-hash --type sha256 "$out"
git -C "$repo" rev-list --count "$rev"
EOF
chmod +x "$WORK/git-pipeline.sh"

run_scenario() { # run_scenario REPO LABEL
    local repo=$1 label=$2
    local head first last date
    head=$(git -C "$repo" rev-parse HEAD)
    first=$(git -C "$repo" log -1 --format=%ct "$(git -C "$repo" rev-list --max-parents=0 HEAD)")
    last=$(git -C "$repo" log -1 --format=%ct)
    date=$((first + (last - first) / 10)) # ~90% of the history back from HEAD

    # Correctness first: same commit as git, same NAR hash as git archive | nix-hash.
    local ours theirs
    ours=$("$BIN" resolve --url "$repo" --rev "$head" --date "$date")
    theirs=$(git -C "$repo" rev-list -1 --before="$date" "$head")
    [ "$ours" = "$theirs" ] || { echo "bench: resolve gave $ours, git gave $theirs" >&2; exit 1; }
    rm -rf "$XDG_CACHE_HOME"
    local attrs expected
    attrs=$("$BIN" fetch --url "$repo" --rev "$head" --date "$date" --compat legacy --no-store)
    expected=$("$WORK/git-pipeline.sh" "$repo" "$head" "$date" "$WORK/out" | sed -n 1p)
    python3 - "$attrs" "$expected" "$(git -C "$repo" rev-list --count "$theirs")" <<'EOF' || exit 1
import base64, json, sys
a = json.loads(sys.argv[1])
got = base64.b64decode(a["narHash"][len("sha256-"):]).hex()
if got != sys.argv[2] or str(a["revCount"]) != sys.argv[3]:
    sys.exit(f"bench: fetch disagrees with git archive | nix-hash: {got} vs {sys.argv[2]}, revCount {a['revCount']} vs {sys.argv[3]}")
EOF
    local revs back
    revs=$(git -C "$repo" rev-list --count "$head")
    back=$(git -C "$repo" rev-list --count "$theirs")
    echo "== $label: $revs commits, truncating to $theirs ($back commits, $((100 - 100 * back / revs))% back), date $date" >&2

    local prep="rm -rf $XDG_CACHE_HOME" j
    # 1. resolve vs git rev-list -1 --before
    j=$WORK/resolve-$label.json
    hyperfine -N --style basic --warmup 2 --runs $((RUNS * 2)) --prepare "$prep" --export-json "$j" \
        "$BIN resolve --url $repo --rev $head --date $date" \
        "git -C $repo rev-list -1 --before=$date $head" >&2
    local r
    r=$(ratio "$(stat_of "$j" 0 mean)" "$(stat_of "$j" 1 mean)")
    record "$label" "resolve / git rev-list -1 --before ($(ms "$(stat_of "$j" 0 mean)") / $(ms "$(stat_of "$j" 1 mean)") ms)" "$r" "<= 1.0" "$(verdict "$r" 1.0)"

    # 2. cold fetch vs the git pipeline, both generations
    for compat in legacy modern; do
        j=$WORK/cold-$compat-$label.json
        hyperfine -N --style basic --warmup 1 --runs "$RUNS" --prepare "$prep" --export-json "$j" \
            "$BIN fetch --url $repo --rev $head --date $date --compat $compat --no-store" \
            "$WORK/git-pipeline.sh $repo $head $date $WORK/out" >&2
        r=$(ratio "$(stat_of "$j" 0 mean)" "$(stat_of "$j" 1 mean)")
        record "$label" "cold fetch $compat / git pipeline ($(ms "$(stat_of "$j" 0 mean)") / $(ms "$(stat_of "$j" 1 mean)") ms)" "$r" "<= 0.5" "$(verdict "$r" 0.5)"
    done

    # 3. warm fetch (cache filled by the runs above)
    j=$WORK/warm-$label.json
    "$BIN" fetch --url "$repo" --rev "$head" --date "$date" --compat legacy --no-store >/dev/null
    hyperfine -N --style basic --warmup 5 --runs 50 --export-json "$j" \
        "$BIN fetch --url $repo --rev $head --date $date --compat legacy --no-store" >&2
    local mean max
    mean=$(ms "$(stat_of "$j" 0 mean)")
    max=$(ms "$(stat_of "$j" 0 max)")
    record "$label" "warm fetch legacy, mean ms (max $max ms)" "$mean" "<= 20 ms" "$(verdict "$mean" 20)"

    # 3b. warm fetch WITH the store (default --store auto), after one add (~65 MB store path)
    if "$BIN" fetch --url "$repo" --rev "$head" --date "$date" --compat legacy >/dev/null 2>"$WORK/store.err"; then
        j=$WORK/warm-store-$label.json
        hyperfine -N --style basic --warmup 5 --runs 50 --export-json "$j" \
            "$BIN fetch --url $repo --rev $head --date $date --compat legacy" >&2
        mean=$(ms "$(stat_of "$j" 0 mean)")
        max=$(ms "$(stat_of "$j" 0 max)")
        record "$label" "warm fetch legacy with the store (--store auto), mean ms (max $max ms)" "$mean" "<= 20 ms" "$(verdict "$mean" 20)"
    else
        record "$label" "warm fetch with the store: not measured ($(head -n 1 "$WORK/store.err"))" "-" "-" "-"
    fi
}

memory() { # memory REPO LABEL
    local repo=$1 label=$2 head first last date rev stats
    head=$(git -C "$repo" rev-parse HEAD)
    first=$(git -C "$repo" log -1 --format=%ct "$(git -C "$repo" rev-list --max-parents=0 HEAD)")
    last=$(git -C "$repo" log -1 --format=%ct)
    date=$((first + (last - first) / 10))
    rev=$(git -C "$repo" rev-list -1 --before="$date" "$head")
    read -r nfiles total largest <<<"$(tree_stats "$repo" "$rev")"
    local commits packmb
    commits=$(git -C "$repo" rev-list --count "$head")
    packmb=$(du -sm "$repo/objects/pack" | cut -f1)
    for compat in legacy modern; do
        rm -rf "$XDG_CACHE_HOME"
        read -r maxrss anon file_ <<<"$(python3 "$ROOT/bench/peakmem.py" "$BIN" fetch --url "$repo" --rev "$head" --date "$date" --compat "$compat" --no-store)"
        record "$label" "cold fetch $compat peak RSS MiB (anon $((anon / 1024)), file-backed $((file_ / 1024)); largest file $((largest / 1048576)) MiB, tree $((total / 1048576)) MiB in $nfiles files, $commits commits, pack $packmb MiB)" "$((maxrss / 1024))" "-" "-"
    done
    read -r maxrss anon file_ <<<"$(python3 "$ROOT/bench/peakmem.py" git -C "$repo" rev-list --count "$head")"
    record "$label" "for scale: git rev-list --count HEAD peak RSS MiB (anon $((anon / 1024)))" "$((maxrss / 1024))" "-" "-"
}

set_graph "$REPO" no
run_scenario "$REPO" no-graph
memory "$REPO" 1x
set_graph "$REPO" yes
run_scenario "$REPO" commit-graph
set_graph "$REPO" no

if [ "${BENCH_SKIP_2X:-}" != 1 ]; then
    REPO2=$(generate $((COMMITS * 2)) $((FILES * 2)))
    set_graph "$REPO2" no
    memory "$REPO2" 2x
fi

# Nix integration: 100 fetchGitDate calls in one evaluation vs builtins.fetchGit (bench/nix-eval.sh)
if [ "${BENCH_SKIP_NIX_EVAL:-}" != 1 ]; then
    FETCHGIT_DATE_BENCH_DIR=$BENCH_DIR BENCH_TSV=1 bash "$ROOT/bench/nix-eval.sh" >>"$RESULTS"
fi

echo
echo "fetchgit-date benchmark: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), git $(git --version | cut -d' ' -f3), $(nix-hash --version | head -1)"
{
    printf 'scenario\tmeasure\tvalue\ttarget\tresult\n'
    cat "$RESULTS"
} | column -t -s $'\t'
