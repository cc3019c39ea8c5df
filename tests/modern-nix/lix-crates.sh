#!/usr/bin/env bash
# lix-crates.sh LIX_TREE PACKAGECACHE
#
# Lix's lix-doc and libutil are Rust: meson makes a wrap for every crate of Lix's Cargo.lock
# and would download it from crates.io. This gives meson those crates instead, as a package
# cache (MESON_PACKAGE_CACHE_DIR=PACKAGECACHE; <name>-<version>.tar.gz is what a .crate is):
# the host's cargo fetches exactly the crates of LIX_TREE/Cargo.lock, checksums checked, into
# the host's registry (CARGO_HOME, default ~/.cargo), and each is copied to PACKAGECACHE.
# meson itself stays offline (--wrap-mode=nodownload). Used by compile-plugin-all.sh and
# build-shared-release.sh. A tree without Cargo.lock (no Rust) needs nothing.
set -euo pipefail
[ $# = 2 ] || { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
tree=$1 packagecache=$2
lock=$tree/Cargo.lock
[ -f "$lock" ] || exit 0
host_cargo_home=${CARGO_HOME:-$HOME/.cargo}
(cd "$tree" && cargo fetch --locked --quiet)
mkdir -p "$packagecache"
for crate in $(awk '/^\[\[package\]\]/ {n = ""; v = ""} /^name = / {gsub(/"/, "", $3); n = $3}
    /^version = / {gsub(/"/, "", $3); v = $3} /^source = "registry\+/ {print n "-" v}' "$lock"); do
  found=$(ls "$host_cargo_home"/registry/cache/*/"$crate.crate" 2>/dev/null | head -n1)
  [ -n "$found" ] || { echo "lix-crates.sh: cargo fetch left no $crate.crate in $host_cargo_home/registry/cache" >&2; exit 1; }
  cp "$found" "$packagecache/$crate.tar.gz"
done
