#!/usr/bin/env bash
# compile-plugin-all.sh [--only NAME]... [--setup-only] [WORKTREE]
#
# Compiles fetchgit-date's Nix plugin (cargo build --locked -p fetchgit-date-nix-plugin) of
# WORKTREE (default: the worktree holding this script) against every Nix and Lix release
# whose source tarball is in NIX_SRC_DIR (default WORKTREE/../shared/nix-src: nix-X.Y.Z.tar.xz,
# lix-X.Y.Z.tar.xz), through the plugin's documented header override
# (FETCHGIT_DATE_NIX_INCLUDE_DIR + FETCHGIT_DATE_NIX_VERSION, lix-X.Y.Z for Lix). Prints one
# line per release ("ok" or "FAILED", with its log) and exits non-zero if any failed.
# Compile only: nothing is linked against or loaded into these releases (test-plugin.sh does
# that for the releases build-shared-nix.sh builds).
#
# Everything happens in a Debian sid chroot at SID_DIR (default /var/tmp/fgd-sid-build),
# which has every build dependency of these releases (apt-get build-dep nix, plus Lix's
# extras): each tarball is unpacked inside it (never next to the tarballs, which may be
# read-only) and configured with `meson setup` (configure only: it writes the generated
# configuration headers a plugin must see, such as nix/expr/config.hh, whose
# NIX_USE_BOEHMGC changes EvalState's layout). Rust comes from the host, as in
# test-plugin.sh: the rustup toolchain of WORKTREE and the host's cargo registry (after
# "cargo fetch --locked" on the host) are bind-mounted read-only; cargo runs offline inside
# with CARGO_TARGET_DIR under the chroot's /var/cache/fetchgit-date, one for all releases; each
# release's plugin is kept in /var/cache/fetchgit-date/plugins/RELEASE/ there.
#
#   --only NAME   compile only against this release (nix-2.35.2, lix-2.95.3); repeatable
#   --setup-only  only make the chroot and install the build dependencies (what
#                 build-shared-release.sh builds a release in), then stop
#
# Needs root and Debian's registry (the first run). Every setup step is stamped in
# SID_DIR/var/lib/compile-plugin-all and skipped once done (a changed tarball is unpacked
# and configured again), so a failed run resumes and a second run only compiles.
# Measured on 2 shared cores: see docs/nix.md ("Compiled against every release line").
# Environment: NIX_SRC_DIR, SID_DIR, DEBIAN_MIRROR.
set -euo pipefail
# One compound command, parsed before it runs: editing this file cannot disturb a running copy.
{
usage() { sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
worktree=
only=()
setup_only=0
while [ $# -gt 0 ]; do
  case $1 in
    --only) [ $# -ge 2 ] || usage; only+=("$2"); shift ;;
    --setup-only) setup_only=1 ;;
    -h|--help) usage ;;
    -*) echo "compile-plugin-all.sh: unknown option $1" >&2; usage ;;
    *) [ -z "$worktree" ] || usage; worktree=$1 ;;
  esac
  shift
done
here=$(cd "$(dirname "$0")" && pwd)
worktree=$(cd "${worktree:-$here/../..}" && pwd -P)
[ -f "$worktree/Cargo.toml" ] || { echo "compile-plugin-all.sh: $worktree has no Cargo.toml" >&2; exit 2; }
src_dir=${NIX_SRC_DIR:-$worktree/../shared/nix-src}
[ -d "$src_dir" ] || { echo "compile-plugin-all.sh: no release sources at $src_dir (set NIX_SRC_DIR)" >&2; exit 2; }
src_dir=$(cd "$src_dir" && pwd -P)
dir=${SID_DIR:-/var/tmp/fgd-sid-build}
case $dir in /*) ;; *) dir=$PWD/$dir ;; esac
dir=${dir%/}
case $dir in
  /|/var/tmp/nix-modern-oracle|/var/tmp/nix-oracle-sid) echo "compile-plugin-all.sh: refusing to use $dir (shared with other sessions)" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "compile-plugin-all.sh: needs root (debootstrap, chroot, mount)" >&2; exit 2; }
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
stamps=$dir/var/lib/compile-plugin-all
plugin_pkg=fetchgit-date-nix-plugin

# The releases: every tarball, oldest first within Nix, then Lix.
releases=()
for t in "$src_dir"/nix-*.tar.xz "$src_dir"/lix-*.tar.xz; do
  [ -f "$t" ] || continue
  name=$(basename "$t" .tar.xz)
  if [ ${#only[@]} -gt 0 ]; then
    keep=0; for o in "${only[@]}"; do [ "$o" = "$name" ] && keep=1; done
    [ $keep = 1 ] || continue
  fi
  releases+=("$name")
done
releases=($(printf '%s\n' "${releases[@]}" | sort -t- -k1,1r -k2,2V))
[ ${#releases[@]} -gt 0 ] || { echo "compile-plugin-all.sh: no nix-*.tar.xz or lix-*.tar.xz in $src_dir${only[*]:+ named ${only[*]}}" >&2; exit 2; }

step() { printf '==> %s\n' "$*"; }
done_already() { printf '    done already (%s)\n' "$*"; }
stamp() { mkdir -p "$stamps"; printf '%s\n' "${2:-$(date -u +%FT%TZ)}" > "$stamps/$1"; }
has() { [ -e "$stamps/$1" ]; }
t0=$(date +%s)
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }
in_chroot() {
  chroot "$dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@" 9>&-
}

# One run at a time on this chroot, also against test-plugin.sh (same lock): both mount the
# worktree and the Rust toolchain into it.
mkdir -p "$dir/var/lib/build-shared-nix" && exec 9> "$dir/var/lib/build-shared-nix/test-plugin.run.lock"
flock -n 9 || { echo "compile-plugin-all.sh: waiting for another run on $dir (compile-plugin-all.sh or test-plugin.sh)"; flock 9; }

# ---------------------------------------------------------------------------- chroot
step "sid chroot at $dir"
if has debootstrap; then done_already debootstrap; else
  command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap; }
  s=$(date +%s)
  # Re-running debootstrap over a partial tree (after a failure) resumes it.
  nice -n 10 debootstrap --variant=minbase sid "$dir" "$mirror"
  stamp debootstrap
  echo "    debootstrap took $(elapsed "$s")"
fi

sources="Types: deb deb-src
URIs: $mirror
Suites: sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
if [ "$(cat "$dir/etc/apt/sources.list.d/debian.sources" 2>/dev/null)" != "$sources" ]; then
  printf '%s\n' "$sources" > "$dir/etc/apt/sources.list.d/debian.sources"
  rm -f "$dir/etc/apt/sources.list" "$stamps/build-dep"
fi
# The registry's sid index can be older than its Valid-Until date.
echo 'Acquire::Check-Valid-Until "false";' > "$dir/etc/apt/apt.conf.d/99no-valid-until"
cp /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
printf '#!/bin/sh\nexit 101\n' > "$dir/usr/sbin/policy-rc.d"; chmod 755 "$dir/usr/sbin/policy-rc.d"
mountpoint -q "$dir/proc" || mount -t proc proc "$dir/proc"

# Lix needs a few packages that Nix's build-dep does not bring (its meson setup names them;
# and clang: Lix is built with clang, its meson.build says GCC crashes on its coroutines, and
# g++ 16 does, on its headers),
# and Nix 2.24's top-level project configures its test libraries too (rapidcheck).
extra_packages="g++ clang git ca-certificates capnproto libcapnp-dev libedit-dev tao-pegtl-dev python3-yaml rustc cbindgen busybox-static lsof bsdextrautils librapidcheck-dev"
step "build dependencies: apt-get build-dep nix, and Lix's extras"
if [ "$(cat "$stamps/build-dep" 2>/dev/null)" = "$extra_packages" ]; then done_already build-dep; else
  s=$(date +%s)
  in_chroot apt-get update -q
  in_chroot nice -n 10 apt-get build-dep -y -q --no-install-recommends nix
  in_chroot nice -n 10 apt-get install -y -q --no-install-recommends $extra_packages
  stamp build-dep "$extra_packages"
  echo "    build-dep took $(elapsed "$s")"
fi
# Lix generates headers its public headers include (settings, experimental features) from
# Markdown with python-frontmatter, which Debian does not package: the host's pip downloads
# that one pure-Python wheel, unpacked into the chroot's site-packages (PyYAML is from apt).
frontmatter=python_frontmatter-1.3.0-py3-none-any.whl
step "python-frontmatter for Lix's code generation"
if has "$frontmatter"; then done_already "$frontmatter"; else
  mkdir -p "$dir/var/cache/fetchgit-date/wheels"
  [ -f "$dir/var/cache/fetchgit-date/wheels/$frontmatter" ] \
    || pip download --quiet --no-deps --dest "$dir/var/cache/fetchgit-date/wheels" python-frontmatter==1.3.0
  in_chroot bash -c 'site=$(python3 -c "import site; print(site.getsitepackages()[0])") && mkdir -p "$site" &&
    python3 -m zipfile -e "/var/cache/fetchgit-date/wheels/$1" "$site" && python3 -c "import frontmatter"' _ "$frontmatter"
  stamp "$frontmatter"
fi
[ $setup_only = 0 ] || { step "chroot ready (in $(elapsed "$t0"))"; exit 0; }

# ---------------------------------------------------------------------------- sources
# Lix's REPL wants troglobit's editline (>= 1.14), which Debian no longer packages. Only its
# command-line library uses it, and no header the plugin includes: for a configure, a
# pkg-config entry naming BSD libedit stands in for it (nothing is built or linked here).
mkdir -p "$dir/usr/local/lib/pkgconfig"
printf '%s\n' 'Name: libeditline' 'Description: stand-in for configure only (compile-plugin-all.sh): BSD libedit' \
  'Version: 1.17.1' 'Requires: libedit' > "$dir/usr/local/lib/pkgconfig/libeditline.pc"

# Options that keep configure to the libraries (a configure is all this needs), the same
# choices as build-shared-nix.sh: shared libraries, Boehm GC, readline. Top-level options
# come and go between releases: each is passed only where the tree's meson.options has it.
meson_opts() { # NAME
  local root=$dir/src/$1 o opts=(--buildtype=plain --wrap-mode=nodownload)
  case $1 in
    lix-*) opts+=(-Dgc=enabled -Denable-docs=false -Denable-tests=false -Dinternal-api-docs=disabled) ;;
    *)
      opts+=(-Ddefault_library=shared -Dlibcmd:readline-flavor=readline -Dlibexpr:gc=enabled)
      for o in unit-tests doc-gen bindings functional-tests benchmarks json-schema-checks kaitai-struct-checks; do
        grep -q "'$o'" "$root/meson.options" 2>/dev/null && opts+=("-D$o=false")
      done ;;
  esac
  echo "${opts[*]}"
}
configure() { # NAME: unpack and meson setup, unless done for this tarball and these options
  local name=$1 tarball=$src_dir/$1.tar.xz sum opts
  sum=$(sha256sum "$tarball" | cut -d' ' -f1)
  case $name in lix-*) sum="$sum clang" ;; esac
  if [ "$(cat "$stamps/configured-$name" 2>/dev/null)" = "$sum" ] && [ -f "$dir/src/$name/build/build.ninja" ]; then
    echo "    $name: unpacked and configured already"
    return 0
  fi
  rm -rf "${dir:?}/src/$name"; mkdir -p "$dir/src"
  tar -xJf "$tarball" -C "$dir/src"
  [ -d "$dir/src/$name" ] || { echo "$tarball did not unpack into $name/" >&2; return 1; }
  opts=$(meson_opts "$name")
  case $name in lix-*) "$here/lix-crates.sh" "$dir/src/$name" "$dir$cache/meson-packagecache" 9>&- ;; esac
  # Nix 2.24 was built with autotools; its top-level meson.build is, in its own words, "a stub
  # project to include all the others as subprojects for development shell purposes", tests,
  # docs and Perl bindings included (which want doxygen, libperl and a rapidcheck.pc that
  # Debian lacks). Configure its libraries only: the stub up to "# Executables". Each
  # library's own meson.build, which writes its config-*.hh, is untouched.
  if [ ! -f "$dir/src/$name/meson.options" ] && grep -q "stub project" "$dir/src/$name/meson.build"; then
    sed -i '/^# Executables/,$d' "$dir/src/$name/meson.build"
  fi
  echo "    meson setup build $opts"
  in_chroot env MESON_PACKAGE_CACHE_DIR="$cache/meson-packagecache" $(compiler_env "$name") \
    bash -c 'cd "/src/$1" && shift && exec nice -n 10 meson setup build "$@"' _ "$name" $opts
  # Lix's headers include files generated at build time (*.gen.inc: settings, experimental
  # features); generating them is text processing, no compiling.
  case $name in
    lix-*) in_chroot bash -c 'cd "/src/$1/build" && ninja $(ninja -t targets all | grep -o "^[^:]*\.gen\.inc" | sort -u)' _ "$name" ;;
  esac
  stamp "configured-$name" "$sum"
}

# ---------------------------------------------------------------------------- Rust
host_cargo_home=${CARGO_HOME:-$HOME/.cargo}
(cd "$worktree" && cargo fetch --locked --quiet 9>&-)
toolchain=$(cd "$worktree" && dirname "$(dirname "$(rustup which cargo)")")
run=/run/compile-plugin-all
cache=/var/cache/fetchgit-date
cargo_home=$cache/cargo-home
target=$cache/compile-all-target
git_common=$(git -C "$worktree" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
mounted=()
cleanup() {
  local i
  for (( i=${#mounted[@]}-1; i>=0; i-- )); do
    umount "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" || echo "compile-plugin-all.sh: could not unmount ${mounted[$i]}" >&2
  done
}
trap cleanup EXIT
bind_ro() {
  mkdir -p "$2"
  while mountpoint -q "$2"; do umount "$2" || umount -l "$2"; done
  mount -o bind,ro "$1" "$2"
  mounted+=("$2")
  [[ ,$(findmnt -n -o OPTIONS --target "$2"), == *,ro,* ]] || { echo "compile-plugin-all.sh: $2 is not read-only" >&2; exit 1; }
}
mkdir -p "$dir$cargo_home" "$dir$target" "$dir/var/log/compile-plugin-all"
bind_ro "$toolchain" "$dir$run/rust"
bind_ro "$host_cargo_home/registry" "$dir$cargo_home/registry"
[ ! -d "$host_cargo_home/git" ] || bind_ro "$host_cargo_home/git" "$dir$cargo_home/git"
bind_ro "$worktree" "$dir$worktree"
case $git_common in ""|"$worktree"/*) ;; *) bind_ro "$git_common" "$dir$git_common" ;; esac

# The override for one configured tree: its headers' roots, source and generated.
include_dirs() { # NAME
  local root=/src/$1 d dirs=()
  case $1 in
    # Lix: its headers' root, the build directory (lix/config.h), and the build directory of
    # each library, where its generated *.gen.inc are (up to 2.94 included by bare name).
    lix-*)
      dirs=("$root" "$root/build")
      for d in "$dir$root"/build/lix/lib*; do [ -d "$d" ] && dirs+=("${d#"$dir"}"); done ;;
    *)
      for d in "$dir$root"/src/lib*/include "$dir$root"/build/src/lib*/include; do
        [ -d "$d" ] && dirs+=("${d#"$dir"}")
      done
      # Before 2.28 headers sit in src/lib*/ and the generated config-*.hh in build/src/lib*/.
      if [ ${#dirs[@]} = 0 ]; then
        for d in "$dir$root"/src/lib* "$dir$root"/build/src/lib*; do
          [ -d "$d" ] && dirs+=("${d#"$dir"}")
        done
      fi ;;
  esac
  (IFS=:; echo "${dirs[*]}")
}
# The compiler each release builds itself with: Lix with clang, Nix with g++ (for its
# configure; build.rs compiles the shim for Lix with clang++ by itself).
compiler_env() { case $1 in lix-*) echo "CC=clang CXX=clang++" ;; *) echo "CC=cc CXX=c++" ;; esac; }
version_of() { case $1 in lix-*) echo "$1" ;; *) echo "${1#nix-}" ;; esac; }

# ---------------------------------------------------------------------------- compile
results=()
failed=0
for name in "${releases[@]}"; do
  step "$name: configure, then cargo build --locked -p $plugin_pkg"
  log=/var/log/compile-plugin-all/$name.log
  s=$(date +%s)
  if ! configure "$name" > "$dir$log" 2>&1; then
    tail -n 30 "$dir$log" | sed 's/^/    /'
    results+=("FAILED $name: meson setup (${dir}$log)"); failed=1; continue
  fi
  configured=$(elapsed "$s")
  s=$(date +%s)
  if chroot "$dir" /usr/bin/env -i PATH="$run/rust/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
      HOME=/root LANG=C.UTF-8 CARGO_HOME="$cargo_home" CARGO_TARGET_DIR="$target" \
      CARGO_NET_OFFLINE=true CARGO_INCREMENTAL=0 RUSTC="$run/rust/bin/rustc" \
      FETCHGIT_DATE_NIX_INCLUDE_DIR="$(include_dirs "$name")" \
      FETCHGIT_DATE_NIX_VERSION="$(version_of "$name")" \
      bash -c 'cd "$1" && exec nice -n 10 cargo build --locked -p "$2"' _ "$worktree" "$plugin_pkg" \
      >> "$dir$log" 2>&1 9>&-; then
    results+=("ok     $name (configure $configured, compile $(elapsed "$s"))")
    # Kept per release: test-plugin.sh --release loads the plugins built for other releases
    # into the running one, which must refuse them.
    mkdir -p "$dir$cache/plugins/$name"
    cp "$dir$target/debug/lib${plugin_pkg//-/_}.so" "$dir$cache/plugins/$name/"
  else
    grep -E '^(warning: fetchgit-date|  cargo:warning=)|error' "$dir$log" | grep -v '^\s*$' | head -n 30 | sed 's/^/    /'
    results+=("FAILED $name: cargo build (${dir}$log)"); failed=1
  fi
done

step "plugin compiled against each release (in $(elapsed "$t0"))"
printf '%s\n' "${results[@]}"
exit $failed
}
