#!/usr/bin/env bash
# test-plugin.sh [--release RELEASE] [WORKTREE] [-- CARGO_ARGS...]
#
# Builds fetchgit-date's Nix plugin (the cdylib crate under crates/, e.g. crates/nix-plugin)
# of WORKTREE (default: the worktree holding this script) against the shared-library
# Nix 2.26 that build-shared-nix.sh installed in its trixie chroot (or, with --release
# nix-2.35.2 or lix-2.95.3, the one build-shared-release.sh installed at /opt/RELEASE in its
# sid chroot SID_DIR, default /var/tmp/fgd-sid-build), and runs the plugin's
# tests there with that Nix's binaries first on PATH and CI=true (a test needing Nix fails
# instead of skipping). By default it runs:
#   cargo build --locked -p PLUGIN
#   cargo test  --locked -p PLUGIN
#   cargo test  --locked -p PKG --test T    for every [[test]] whose name contains "plugin"
# With "-- CARGO_ARGS..." it runs "cargo CARGO_ARGS..." instead, e.g.
#   test-plugin.sh /work/wt/x -- test --locked -p fetchgit-date --lib
#
# Everything is compiled inside the chroot, by trixie's gcc against trixie's headers: the
# plugin's C++ shim must see exactly the boost, nlohmann-json and Boehm GC headers that Nix
# was built with (the ABI depends on them), which the host (bookworm) does not have.
# Rust comes from the host: the active rustup toolchain of WORKTREE is bind-mounted
# read-only into the chroot (bookworm's rustc runs on trixie's newer glibc), and so is the
# host's cargo registry, after "cargo fetch --locked" on the host has filled it; cargo runs
# offline inside with a private CARGO_HOME and CARGO_TARGET_DIR under the chroot's
# /var/cache/fetchgit-date. WORKTREE is bind-mounted read-only at its own path, so nothing
# the tests do can change it. The mounts are removed on exit.
#
# Environment: NIX_SHARED_DIR (the 2.26 chroot, default /var/tmp/nix-shared-2.26), SID_DIR.
# Needs root. A log of each run is kept in the chroot's /var/log/test-plugin/.
set -euo pipefail
# One compound command, parsed before it runs: editing this file cannot disturb a running copy.
{
usage() { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
worktree=
release=
cargo_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --release) [ $# -ge 2 ] || usage; release=$2; shift ;;
    --) shift; cargo_args=("$@"); [ ${#cargo_args[@]} -gt 0 ] || usage; break ;;
    -h|--help) usage ;;
    -*) echo "test-plugin.sh: unknown option $1" >&2; usage ;;
    *) [ -z "$worktree" ] || usage; worktree=$1 ;;
  esac
  shift
done
here=$(cd "$(dirname "$0")" && pwd)
worktree=$(cd "${worktree:-$here/../..}" && pwd -P)
[ -f "$worktree/Cargo.toml" ] || { echo "test-plugin.sh: $worktree has no Cargo.toml" >&2; exit 2; }
if [ -n "$release" ]; then
  case $release in nix-[0-9]*|lix-[0-9]*) ;; *) echo "test-plugin.sh: --release takes a name like nix-2.35.2 or lix-2.95.3" >&2; exit 2 ;; esac
  dir=${SID_DIR:-/var/tmp/fgd-sid-build}
  prefix=/opt/$release
  builder="tests/modern-nix/build-shared-release.sh $release"
else
  dir=${NIX_SHARED_DIR:-/var/tmp/nix-shared-2.26}
  prefix=/opt/nix-2.26
  builder=tests/modern-nix/build-shared-nix.sh
fi
# Lix's pkg-config name for its evaluator (build.rs looks for nix-expr, then lix-expr).
case $release in lix-*) expr_pc=lix-expr ;; *) expr_pc=nix-expr ;; esac
[ "$(id -u)" = 0 ] || { echo "test-plugin.sh: needs root (chroot, mount)" >&2; exit 2; }
[ -x "$dir$prefix/bin/nix-instantiate" ] && [ -f "$dir$prefix/lib/pkgconfig/$expr_pc.pc" ] \
  || { echo "test-plugin.sh: no shared Nix at $dir$prefix: run $builder first" >&2; exit 2; }

# The plugin crate: the crate under crates/ that builds a cdylib.
plugin_pkg=
if [ ${#cargo_args[@]} -eq 0 ]; then
  for manifest in "$worktree"/crates/nix-plugin/Cargo.toml "$worktree"/crates/*/Cargo.toml; do
    [ -f "$manifest" ] && grep -q '"cdylib"' "$manifest" || continue
    plugin_pkg=$(awk '/^\[/ {s=$0} s=="[package]" && /^name *=/ {gsub(/[" ]/,""); sub(/^name=/,""); print; exit}' "$manifest")
    break
  done
  [ -n "$plugin_pkg" ] || { echo "test-plugin.sh: $worktree has no plugin crate (no crates/*/Cargo.toml with crate-type cdylib); pass '-- CARGO_ARGS' to run something else" >&2; exit 2; }
fi

# One run at a time. Every command below gets "9>&-": a process a test leaves behind (a
# git daemon, say) must not inherit the lock and hold it after this run has ended.
mkdir -p "$dir/var/lib/build-shared-nix"
lock=$dir/var/lib/build-shared-nix/test-plugin.run.lock
exec 9> "$lock"
flock -n 9 || { echo "test-plugin.sh: waiting for another test-plugin.sh run on $dir (holders: $(fuser "$lock" 2>/dev/null || echo unknown))"; flock 9; }

# Fill the host's registry for the lockfile (with the host's own cargo and CARGO_HOME,
# properly locked against other cargo runs): inside, cargo only reads it.
host_cargo_home=${CARGO_HOME:-$HOME/.cargo}
(cd "$worktree" && cargo fetch --locked --quiet 9>&-)
toolchain=$(cd "$worktree" && dirname "$(dirname "$(rustup which cargo)")")
rust_version=$("$toolchain/bin/rustc" --version)

run=/run/test-plugin
cache=/var/cache/fetchgit-date
cargo_home=$cache/cargo-home
# The sid chroot's releases share compile-plugin-all.sh's target directory (dependencies built once).
if [ -n "$release" ]; then target=$cache/compile-all-target; else target=$cache/target/$(printf %s "$worktree" | tr -c 'A-Za-z0-9._-' _); fi
git_common=$(git -C "$worktree" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)

mounted=()
# A process that a test leaves behind inside the chroot can keep a mount busy: it is then
# detached lazily (the orphan keeps its view; nothing stays mounted for the next run).
unmount() {
  umount "$1" 2>/dev/null && return
  echo "test-plugin.sh: $1 is busy (a process left running by a test?); detaching it lazily" >&2
  umount -l "$1" || echo "test-plugin.sh: could not unmount $1" >&2
}
cleanup() {
  local i
  for (( i=${#mounted[@]}-1; i>=0; i-- )); do unmount "${mounted[$i]}"; done
}
trap cleanup EXIT
bind_ro() {
  mkdir -p "$2"
  # Runs are serialized by the lock: a mount already here is a leftover of an earlier run.
  while mountpoint -q "$2"; do unmount "$2"; done
  mount -o bind,ro "$1" "$2"
  mounted+=("$2")
  local options; options=$(findmnt -n -o OPTIONS --target "$2")
  [[ ,$options, == *,ro,* ]] || { echo "test-plugin.sh: $2 is not read-only" >&2; exit 1; }
}
mountpoint -q "$dir/proc" || mount -t proc proc "$dir/proc"
# Nix 2.26 runs every build on a pty (as build-shared-nix.sh sets up).
mountpoint -q "$dir/dev/pts" || mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$dir/dev/pts"
# What the plugin tests run besides Nix (the same tools tests/install-deps gives the host,
# without Debian's nix-bin: the Nix under test is the shared one).
missing=$(chroot "$dir" /bin/sh -c 'for c in git:git python3:python3 ccache:ccache openssl:openssl \
  ssh-keygen:openssh-client; do [ -x "/usr/bin/${c%%:*}" ] || echo "${c#*:}"; done')
if [ -n "$missing" ]; then
  echo "==> installing in the chroot: $missing"
  chroot "$dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" >/dev/null' _ $missing
fi
mkdir -p "$dir$cargo_home" "$dir$target" "$dir/var/log/test-plugin"
bind_ro "$toolchain" "$dir$run/rust"
bind_ro "$host_cargo_home/registry" "$dir$cargo_home/registry"
[ ! -d "$host_cargo_home/git" ] || bind_ro "$host_cargo_home/git" "$dir$cargo_home/git"
bind_ro "$worktree" "$dir$worktree"
# A git worktree's .git points into the main repository's .git: make that visible too.
case $git_common in
  ""|"$worktree"/*) ;;
  *) bind_ro "$git_common" "$dir$git_common" ;;
esac

log=/var/log/test-plugin/$(date -u +%Y%m%dT%H%M%SZ).log
in_chroot() {
  chroot "$dir" /usr/bin/env -i \
    PATH="$run/rust/bin:$prefix/bin:/usr/sbin:/usr/bin:/sbin:/bin" HOME=/root LANG=C.UTF-8 \
    CI=true RUST_BACKTRACE=1 CARGO_HOME="$cargo_home" CARGO_TARGET_DIR="$target" \
    CARGO_NET_OFFLINE=true RUSTC="$run/rust/bin/rustc" PKG_CONFIG_PATH="$prefix/lib/pkgconfig" \
    "$@" 9>&-
}
{
  echo "==> worktree $worktree ($(git -C "$worktree" rev-parse --short HEAD 2>/dev/null || echo 'not a git checkout'))"
  echo "    Nix: $(in_chroot nix-instantiate --version | head -n1), $expr_pc.pc $(in_chroot pkg-config --modversion $expr_pc)"
  echo "    Rust: $rust_version (host toolchain $toolchain, read-only)"
  echo "    CARGO_TARGET_DIR (in the chroot): $target"
} | tee "$dir$log"

status=0
cargo_in_chroot() {
  echo "==> cargo $*" | tee -a "$dir$log"
  local s; s=$(date +%s)
  if in_chroot bash -c 'cd "$1" && shift && exec cargo "$@"' _ "$worktree" "$@" 2>&1 | tee -a "$dir$log"; then
    echo "    ok ($(( $(date +%s) - s ))s): cargo $*" | tee -a "$dir$log"
  else
    echo "    FAILED ($(( $(date +%s) - s ))s): cargo $*" | tee -a "$dir$log"; status=1
  fi
}
if [ ${#cargo_args[@]} -gt 0 ]; then
  cargo_in_chroot "${cargo_args[@]}"
else
  cargo_in_chroot build --locked -p "$plugin_pkg"
  if [ $status = 0 ]; then
    cargo_in_chroot test --locked -p "$plugin_pkg"
    # Every [[test]] target named *plugin*, with the package that declares it.
    for manifest in "$worktree"/crates/*/Cargo.toml; do
      pkg=$(awk '/^\[/ {s=$0} s=="[package]" && /^name *=/ {gsub(/[" ]/,""); sub(/^name=/,""); print; exit}' "$manifest")
      for t in $(awk '/^\[/ {s=$0} s=="[[test]]" && /^name *=/ {gsub(/[" ]/,""); sub(/^name=/,""); print}' "$manifest"); do
        case $t in *plugin*) [ "$pkg" = "$plugin_pkg" ] || cargo_in_chroot test --locked -p "$pkg" --test "$t" ;; esac
      done
    done
  fi
fi
# The ABI refusal across release lines (Value shrank from 24 to 16 bytes in 2.30, and more
# changed since): every plugin compile-plugin-all.sh built for another Nix release, loaded
# into this one, must register nothing, say so in one line, and leave Nix working. Into Lix,
# the plugins built for every other Nix and Lix release: each either refuses in its one line
# ("built for Nix 2.24.15, but this is Nix 2.95.3": the plugin knows only the implementation it
# was built for, and Lix's nix::nixVersion is its own release), or, when Lix lacks a symbol the
# plugin needs at load, Lix itself skips it with its one-line warning ("could not dynamically
# open plugin file ..., skipping it"). Nix instead stops with its own one-line error
# ("could not dynamically open plugin file ...": seen for the plugins of 2.33 and later in
# 2.31.5, whose vtables name nix::Source::skip), which is accepted and reported as such; a
# Nix release is given only the Nix-built plugins.
if [ -n "$release" ] && [ ${#cargo_args[@]} -eq 0 ]; then
  running=${release#*-}
  case $release in lix-*) others=("$dir$cache"/plugins/{nix,lix}-*/lib*.so) ;; *) others=("$dir$cache"/plugins/nix-*/lib*.so) ;; esac
  checked=0
  for so in "${others[@]}"; do
    [ -f "$so" ] || continue
    built=$(basename "$(dirname "$so")")
    [ "$built" != "$release" ] || continue
    built_for=${built#*-}
    case $built in lix-*) impl=Lix ;; *) impl=Nix ;; esac
    checked=$((checked + 1))
    expected="warning: fetchgit-date plugin: built for $impl $built_for, but this is $impl $running: builtins.fetchGitDate is not registered; rebuild the plugin against this Nix"
    skipped="warning: could not dynamically open plugin file '${so#"$dir"}', skipping it: "
    refused="error: could not dynamically open plugin file '\"${so#"$dir"}\"': "
    out=$(in_chroot nix-instantiate --option substituters "" --option plugin-files "${so#"$dir"}" --eval -E 'builtins ? fetchGitDate' 2>"$dir/tmp/refusal.err") && rc=0 || rc=$?
    err=$(grep -v '^[[:space:]]*$' "$dir/tmp/refusal.err" || true)
    if [ $rc = 0 ] && [ "$out" = false ] && [ "$err" = "$expected" ]; then
      echo "    ok: the plugin built for $impl $built_for refuses to register in $release, in one line" | tee -a "$dir$log"
    elif [[ $release == lix-* ]] && [ $rc = 0 ] && [ "$out" = false ] && [ "$(wc -l <<<"$err")" = 1 ] && [[ $err == "$skipped"* ]]; then
      echo "    ok: the plugin built for $impl $built_for is skipped by $release at dlopen, in one line (${err#"$skipped"})" | tee -a "$dir$log"
    elif [[ $release == nix-* ]] && [ $rc != 0 ] && [ -z "$out" ] && [ "$(wc -l <<<"$err")" = 1 ] && [[ $err == "$refused"* ]]; then
      echo "    ok (Nix's own error, exit $rc): $release refuses the plugin built for $impl $built_for at dlopen, in one line (${err#"$refused"})" | tee -a "$dir$log"
    else
      { echo "    FAILED: the plugin built for $impl $built_for, loaded into $release: exit $rc, answer '$out', stderr:"
        sed 's/^/      /' "$dir/tmp/refusal.err"; } | tee -a "$dir$log"
      status=1
    fi
  done
  if [ $checked = 0 ]; then
    echo "    FAILED: no plugin built for another release in $dir$cache/plugins (run compile-plugin-all.sh first)" | tee -a "$dir$log"
    status=1
  fi
fi
echo "==> $( [ $status = 0 ] && echo passed || echo FAILED ); log: $dir$log" | tee -a "$dir$log"
exit $status
}
