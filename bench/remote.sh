#!/usr/bin/env bash
# Remote fetch benchmark: fetchgit-date over smart HTTP on loopback vs `git clone --bare` and
# Nix 2.8's builtins.fetchGit on the same URL, all cold, measured in the same run; and the bytes
# a truncated (partial-history) resolve transfers vs a full fetch. See docs/benchmarks.md.
# Environment: FETCHGIT_DATE_BENCH_DIR, BENCH_COMMITS, BENCH_FILES (as bench/run.sh),
#   BENCH_RUNS (hyperfine runs per cold measurement, default 3).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${FETCHGIT_DATE_BENCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fetchgit-date-bench}
COMMITS=${BENCH_COMMITS:-82000}
FILES=${BENCH_FILES:-5200}
RUNS=${BENCH_RUNS:-3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fetchgit-date-remote-bench.XXXXXX")
SERVER_PID=
cleanup() { [ -z "$SERVER_PID" ] || kill "$SERVER_PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
RESULTS=$WORK/results.tsv
: >"$RESULTS"

for tool in hyperfine git python3 nix-instantiate; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 2; }
done

# The same generated repository as bench/run.sh (cached, reused).
repo=$BENCH_DIR/repo-c$COMMITS-f$FILES-v1.git
if [ ! -f "$repo/.complete" ]; then
    rm -rf "$repo"; mkdir -p "$BENCH_DIR"; git init -q --bare "$repo"
    python3 "$ROOT/bench/genrepo.py" "$COMMITS" "$FILES" | git -C "$repo" -c core.compression=1 fast-import --quiet
    git -C "$repo" symbolic-ref HEAD refs/heads/main
    touch "$repo/.complete"
fi
# Served as a normally packed repository (what a hosting server has): a clone, repacked.
mkdir -p "$WORK/srv"
git clone -q --bare --no-local "$repo" "$WORK/srv/repo.git"
git -C "$WORK/srv/repo.git" repack -adq
packmb=$(du -sm "$WORK/srv/repo.git/objects/pack" | cut -f1)

(cd "$ROOT" && cargo build --release --quiet)
BIN=$ROOT/target/release/fetchgit-date

LOG=$WORK/http.log
python3 "$ROOT/bench/smart-http.py" "$WORK/srv" "$LOG" >"$WORK/port" &
SERVER_PID=$!
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
URL=http://127.0.0.1:$(cat "$WORK/port")/repo.git

stat_of() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]; print(r[sys.argv[3]])' "$@"; }
record() { printf '%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"; }
ratio() { python3 -c 'import sys; print(f"{float(sys.argv[1]) / float(sys.argv[2]):.3f}")' "$1" "$2"; }
verdict() { python3 -c 'import sys; print("PASS" if float(sys.argv[1]) <= float(sys.argv[2]) else "MISS")' "$1" "$2"; }
sent() { awk '{s += $2} END {print s + 0}' "$LOG"; }

# Correctness gate: same attributes as Nix 2.8 on this URL.
export XDG_CACHE_HOME=$WORK/cache
ours=$("$BIN" fetch -q --no-store --compat legacy --url "$URL" --ref main)
nixhome=$WORK/nixhome-check
mkdir -p "$nixhome"
theirs=$(HOME=$nixhome XDG_CACHE_HOME=$nixhome/.cache nix-instantiate --eval --strict --json -E "removeAttrs (builtins.fetchGit { url = \"$URL\"; ref = \"main\"; }) [\"outPath\"]")
python3 - "$ours" "$theirs" <<'PY' || exit 1
import json, sys
ours, nix = json.loads(sys.argv[1]), json.loads(sys.argv[2])
bad = {k: (ours.get(k), v) for k, v in nix.items() if ours.get(k) != v}
if bad:
    sys.exit(f"bench: fetch disagrees with Nix 2.8: {bad}")
PY

# 1. Cold full fetch: ours (fetch + revCount + narHash, no store) vs git clone --bare vs Nix 2.8.
cat >"$WORK/nix-fetch.sh" <<EOF2
#!/usr/bin/env bash
set -euo pipefail
rm -rf "$WORK/nixhome"; mkdir -p "$WORK/nixhome"
HOME=$WORK/nixhome XDG_CACHE_HOME=$WORK/nixhome/.cache nix-instantiate --eval --strict -E '(builtins.fetchGit { url = "$URL"; ref = "main"; }).narHash' >/dev/null
EOF2
chmod +x "$WORK/nix-fetch.sh"
j=$WORK/cold.json
hyperfine -N --style basic --runs "$RUNS" --export-json "$j" \
    --prepare "rm -rf $WORK/cache $WORK/clone.git" \
    "$BIN fetch -q --no-store --url $URL --ref main" \
    "git clone -q --bare $URL $WORK/clone.git" \
    "$WORK/nix-fetch.sh" >&2
o=$(stat_of "$j" 0 mean); g=$(stat_of "$j" 1 mean); n=$(stat_of "$j" 2 mean)
r=$(ratio "$o" "$g")
record "cold full fetch / git clone --bare ($(printf '%.2f / %.2f s' "$o" "$g"))" "$r" "<= 1.2" "$(verdict "$r" 1.2)"
record "cold full fetch / Nix 2.8 fetchGit ($(printf '%.2f / %.2f s' "$o" "$n"))" "$(ratio "$o" "$n")" "-" "-"
# 2. Bytes: resolve of a one-day window (partial history) vs a full fetch.
head=$(git -C "$WORK/srv/repo.git" rev-parse HEAD)
t=$(git -C "$WORK/srv/repo.git" log -1 --format=%ct HEAD)
date=$((t - 86400))
window=$(git -C "$WORK/srv/repo.git" rev-list --count --since="$date" HEAD)
total=$(git -C "$WORK/srv/repo.git" rev-list --count HEAD)
rm -rf "$WORK/cache"; : >"$LOG"
start=$(date +%s.%N)
got=$("$BIN" resolve -q --url "$URL" --date "$date")
partial_s=$(python3 -c "import time,sys; print(f'{time.time() - float(sys.argv[1]):.2f}')" "$start")
want=$(git -C "$WORK/srv/repo.git" rev-list -1 --before="$date" HEAD)
[ "$got" = "$want" ] || { echo "bench: resolve gave $got, git gave $want" >&2; exit 1; }
partial=$(sent)
rm -rf "$WORK/cache"; : >"$LOG"
"$BIN" fetch -q --no-store --url "$URL" >/dev/null
full=$(sent)
r=$(ratio "$full" "$partial")
record "bytes: full fetch / one-day resolve ($full / $partial bytes; $window of $total commits; resolve took $partial_s s)" "$r" ">= 5" "$(python3 -c "import sys; print('PASS' if float(sys.argv[1]) >= 5 else 'MISS')" "$r")"

echo
echo "fetchgit-date remote benchmark: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), git $(git --version | cut -d' ' -f3), $(nix-instantiate --version)"
echo "repository: $total commits, pack $packmb MiB (repacked), served by bench/smart-http.py (git http-backend) on loopback"
{ printf 'measure\tvalue\ttarget\tresult\n'; cat "$RESULTS"; } | column -t -s $'\t'
