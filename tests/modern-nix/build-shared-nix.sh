#!/usr/bin/env bash
# build-shared-nix.sh [--check] [DIR]
#
# Builds a shared-library Nix 2.26 from Debian trixie's own source package, in a trixie
# chroot at DIR (default /var/tmp/nix-shared-2.26), and installs it at /opt/nix-2.26 inside
# the chroot: nix-instantiate, nix-store, nix-daemon, ... linked against libnix*.so, with
# headers (include/nix) and pkg-config files (nix-expr.pc, nix-store.pc, ...). Debian
# trixie's own nix-bin is a static build, into which no plugin can load.
#
# Then it makes the chroot able to evaluate (a store at /nix, /etc/nix/nix.conf, git) and
# checks that nix-instantiate evaluates, that builtins.fetchGit of a local repository works
# and that nix-daemon serves a client.
#
#   --check   also compile a minimal C++ plugin against the installed headers
#             (pkg-config nix-expr), load it with --option plugin-files into
#             nix-instantiate and nix-daemon, and on success write DIR/READY (prefix,
#             PATH, pkg-config path, compiler flags, how to run test-plugin.sh).
#
# Needs root and Debian's registry. The first run takes about 35 minutes on 2 idle cores
# (debootstrap ~3 min, build-dep ~2 min, ninja ~27 min). Every step is skipped once it
# has succeeded, so re-running is quick and a failed run resumes where it stopped.
# Environment: JOBS (ninja -j, default 2), DEBIAN_MIRROR, NIX_DEB_VERSION (the source
# version to build, default trixie's candidate nix-bin version).
set -euo pipefail
# The whole script is one compound command, parsed before it runs: editing this file while
# a long build is running cannot change what the running copy does.
{
usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
check=0
dir=
while [ $# -gt 0 ]; do
  case $1 in
    --check) check=1 ;;
    -h|--help) usage ;;
    -*) echo "build-shared-nix.sh: unknown option $1" >&2; usage ;;
    *) [ -z "$dir" ] || usage; dir=$1 ;;
  esac
  shift
done
dir=${dir:-/var/tmp/nix-shared-2.26}
case $dir in /*) ;; *) dir=$PWD/$dir ;; esac
dir=${dir%/}
case $dir in
  /var/tmp/nix-modern-oracle|/) echo "build-shared-nix.sh: refusing to use $dir (shared with other sessions)" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "build-shared-nix.sh: needs root (debootstrap, chroot)" >&2; exit 2; }

prefix=/opt/nix-2.26            # inside the chroot
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
jobs=${JOBS:-2}
stamps=$dir/var/lib/build-shared-nix
here=$(cd "$(dirname "$0")" && pwd)

step() { printf '==> %s\n' "$*"; }
done_already() { printf '    done already (%s)\n' "$*"; }
stamp() { mkdir -p "$stamps"; date -u +%FT%TZ > "$stamps/$1"; }
has() { [ -e "$stamps/$1" ]; }
# Runs a command in the chroot with a clean environment: nothing of the caller's leaks in.
in_chroot() {
  chroot "$dir" /usr/bin/env -i PATH="$prefix/bin:/usr/sbin:/usr/bin:/sbin:/bin" HOME=/root \
    LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}
# /proc, and a pseudo-terminal instance of its own: Nix 2.26 runs every build on a pty.
mount_fs() {
  mountpoint -q "$dir/proc" || mount -t proc proc "$dir/proc"
  [ ! -d "$dir/dev/pts" ] || mountpoint -q "$dir/dev/pts" \
    || mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$dir/dev/pts"
}
t0=$(date +%s)
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

# ---------------------------------------------------------------------------- chroot
step "trixie chroot at $dir"
if has debootstrap; then done_already debootstrap; else
  command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap; }
  # Re-running debootstrap over a partial tree (after a failure) resumes it.
  s=$(date +%s)
  debootstrap --variant=minbase trixie "$dir" "$mirror"
  stamp debootstrap
  echo "    debootstrap took $(elapsed "$s")"
fi

step "apt sources (deb + deb-src trixie), resolv.conf, /proc, /dev/pts"
sources="Types: deb deb-src
URIs: $mirror
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
if [ "$(cat "$dir/etc/apt/sources.list.d/debian.sources" 2>/dev/null)" != "$sources" ]; then
  printf '%s\n' "$sources" > "$dir/etc/apt/sources.list.d/debian.sources"
  rm -f "$dir/etc/apt/sources.list" "$stamps/apt-base"
fi
cp /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
# No service may start inside the chroot while packages are installed.
printf '#!/bin/sh\nexit 101\n' > "$dir/usr/sbin/policy-rc.d"; chmod 755 "$dir/usr/sbin/policy-rc.d"
mount_fs

step "base packages (dpkg-dev for apt-get source, git, pkgconf, g++)"
if has apt-base; then done_already apt-base; else
  in_chroot apt-get update -q
  in_chroot apt-get install -y -q --no-install-recommends dpkg-dev git ca-certificates pkgconf g++ procps
  stamp apt-base
fi

# ---------------------------------------------------------------------------- source
step "Nix source package"
if has source; then
  read -r deb_version srcdir < "$stamps/source"
  done_already "nix $deb_version in $srcdir"
else
  deb_version=${NIX_DEB_VERSION:-$(in_chroot apt-cache policy nix-bin | awk '/Candidate:/ {print $2}')}
  upstream=${deb_version#*:}; upstream=${upstream%-*}
  case $upstream in
    2.26.*) ;;
    *) echo "build-shared-nix.sh: trixie offers nix $deb_version, not 2.26.x; the meson options and checks here are for 2.26 (set NIX_DEB_VERSION to override)" >&2; exit 1 ;;
  esac
  # A partial extraction from a failed run is removed; downloaded files are reused.
  in_chroot bash -c 'mkdir -p /build && cd /build && find . -maxdepth 1 -type d -name "nix-*" -exec rm -rf {} + && apt-get source --only-source "nix=$1"' _ "$deb_version"
  srcdir=$(cd "$dir/build" && for d in nix-*/; do [ -d "$d/debian" ] && echo "/build/${d%/}"; done | head -n1)
  [ -n "$srcdir" ] || { echo "build-shared-nix.sh: apt-get source left no nix-*/debian in $dir/build" >&2; exit 1; }
  echo "$deb_version $srcdir" > "$stamps/source.tmp" && mv "$stamps/source.tmp" "$stamps/source"
  echo "    nix $deb_version unpacked in $srcdir"
fi

step "build dependencies (apt-get build-dep $srcdir)"
if has build-dep; then done_already build-dep; else
  s=$(date +%s)
  in_chroot apt-get build-dep -y -q --no-install-recommends "$srcdir"
  stamp build-dep
  echo "    build-dep took $(elapsed "$s")"
fi

# ---------------------------------------------------------------------------- build
# Debian builds -Ddefault_library=static; a plugin needs the libraries shared. The other
# options keep the build to what a plugin needs (no Perl bindings, no unit tests, no docs)
# and use what trixie packages (readline, Boehm GC, bash-static as the sandbox shell).
build=$srcdir/build-shared
meson_opts=(--prefix="$prefix" --libdir=lib --localstatedir=/nix/var --sysconfdir=/etc
  --buildtype=plain --wrap-mode=nodownload
  -Ddefault_library=shared -Dbindings=false -Dunit-tests=false -Ddoc-gen=false
  -Dlibcmd:readline-flavor=readline -Dlibexpr:gc=enabled
  -Dlibstore:sandbox-shell=/usr/bin/bash-static)
# -g0: without debug info the build is several times smaller and faster. The rpath lets
# the installed binaries find libnix*.so without LD_LIBRARY_PATH or ldconfig.
build_env=(CFLAGS="-O2 -g0" CXXFLAGS="-O2 -g0" LDFLAGS="-Wl,-rpath,$prefix/lib")
config_id="${meson_opts[*]} ${build_env[*]}"
step "meson setup $build"
if [ -f "$dir$build/build.ninja" ] && [ "$(cat "$stamps/configure" 2>/dev/null)" = "$config_id" ]; then
  done_already "configured with the same options"
else
  rm -rf "${dir:?}$build"
  ( set -x; in_chroot env "${build_env[@]}" meson setup "$build" "$srcdir" "${meson_opts[@]}" ) 
  printf '%s' "$config_id" > "$stamps/configure"
  rm -f "$stamps/installed"
fi

step "ninja -C $build -j$jobs (under nice -n 10; ~27 minutes on 2 idle cores the first time)"
if in_chroot ninja -C "$build" -n 2>/dev/null | grep -q 'no work to do' && has installed; then
  done_already "built and installed"
else
  s=$(date +%s)
  in_chroot nice -n 10 ninja -C "$build" -j"$jobs"
  echo "    ninja took $(elapsed "$s")"
  step "meson install into $prefix (inside the chroot)"
  in_chroot meson install -C "$build" --no-rebuild --quiet
  stamp installed
fi

# ---------------------------------------------------------------------------- runtime
step "store and configuration: /nix, /etc/nix/nix.conf"
mkdir -p "$dir/nix/store" "$dir/nix/var/nix" "$dir/etc/nix"
# Root single-user store without build users; the build sandbox needs namespaces that a
# chroot inside a container may not have; no substituters (offline, no surprises).
conf='build-users-group =
sandbox = false
substituters ='
[ "$(cat "$dir/etc/nix/nix.conf" 2>/dev/null)" = "$conf" ] || printf '%s\n' "$conf" > "$dir/etc/nix/nix.conf"

step "self-check: shared libraries, evaluation, fetchGit of a local repository, a build, nix-daemon"
in_chroot bash -euo pipefail -c '
  prefix=$1
  for b in nix-instantiate nix-store nix-daemon nix-build; do
    [ -x "$prefix/bin/$b" ] || { echo "missing $prefix/bin/$b" >&2; exit 1; }
  done
  # (Outputs captured first: with pipefail, "grep -q" closing the pipe early fails the check.)
  libs=$(ldd "$prefix/bin/nix-instantiate")
  grep -q "libnixexpr\.so => $prefix/lib/libnixexpr\.so" <<<"$libs" \
    || { echo "nix-instantiate is not linked against $prefix/lib/libnixexpr.so" >&2; echo "$libs" >&2; exit 1; }
  # A plugin resolves its nix:: symbols against these exports (the static build has none).
  syms=$(nm -D --defined-only "$prefix/lib/libnixexpr.so")
  grep -q " _ZN3nix10eBlackHoleE$" <<<"$syms" \
    || { echo "libnixexpr.so does not export nix::eBlackHole" >&2; exit 1; }
  for pc in nix-util nix-store nix-fetchers nix-expr nix-main nix-cmd; do
    PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --exists "$pc" || { echo "no $pc.pc" >&2; exit 1; }
  done
  echo "    $(nix-instantiate --version); libraries in $prefix/lib; headers in $prefix/include/nix"
  v=$(nix-instantiate --eval -E builtins.nixVersion)
  echo "    builtins.nixVersion = $v"

  w=$(mktemp -d /tmp/build-shared-nix-check.XXXXXX)
  trap "rm -rf $w" EXIT
  mkdir "$w/home"
  git init -q "$w/repo"
  printf "hello\n" > "$w/repo/a.txt"
  git -C "$w/repo" add a.txt
  git -C "$w/repo" -c user.name=check -c user.email=check@invalid commit -qm check
  rev=$(git -C "$w/repo" rev-parse HEAD)
  r=$(HOME=$w/home nix-instantiate --eval --strict --raw -E "
    let r = builtins.fetchGit { url = \"$w/repo\"; rev = \"$rev\"; }; in
    assert r.rev == \"$rev\"; assert builtins.readFile (r + \"/a.txt\") == \"hello\n\";
    \"\${r.outPath} \${r.narHash}\"")
  path=${r% *}; nar=${r#* }
  [ "$(nix --extra-experimental-features nix-command hash path "$path")" = "$nar" ] \
    || { echo "fetchGit narHash $nar is not the hash of $path" >&2; exit 1; }
  echo "    builtins.fetchGit of a local repository: $path $nar"

  # A derivation this run has never built (its output names the temporary directory).
  out=$(HOME=$w/home nix-build --no-out-link --argstr nonce "$w" -E "{ nonce }: derivation {
    name = \"build-shared-nix-check\"; system = builtins.currentSystem; builder = \"/bin/sh\";
    args = [ \"-c\" \"echo \${nonce} > \$out\" ]; }" 2>/dev/null)
  [ "$(cat "$out")" = "$w" ] || { echo "nix-build did not build the check derivation" >&2; exit 1; }
  echo "    nix-build of a derivation: $out"

  sock=$w/daemon.sock
  NIX_DAEMON_SOCKET_PATH=$sock nix-daemon & pid=$!
  trap "kill $pid 2>/dev/null || true; rm -rf $w" EXIT
  for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
  [ "$(nix-store --store "unix://$sock" -q --hash "$path")" = "$(nix-store -q --hash "$path")" ] \
    || { echo "nix-daemon did not answer a path-info query" >&2; exit 1; }
  kill $pid; wait $pid 2>/dev/null || true
  echo "    nix-daemon (pid $pid) answered a query on $sock"
' _ "$prefix"

[ $check = 1 ] || { step "done in $(elapsed "$t0"); run with --check to compile and load a plugin"; exit 0; }

# ---------------------------------------------------------------------------- --check
step "--check: a minimal C++ plugin compiled against $prefix/include/nix, loaded with plugin-files"
mkdir -p "$dir/build/plugin-smoke"
cat > "$dir/build/plugin-smoke/smoke.cc" <<'EOF'
// A primop returning a constant: proves a plugin compiled against the installed headers
// loads into this Nix and is called. Not the project's plugin.
#include <primops.hh>

// EvalState's layout depends on HAVE_BOEHMGC (eval.hh), which only config-expr.hh defines:
// compiled without it, the plugin would silently disagree with libnixexpr.so.
#if !HAVE_BOEHMGC
#error "compile with -include config-util.hh -include config-store.hh -include config-expr.hh"
#endif

using namespace nix;

static void prim_sharedNixSmoke(EvalState & state, const PosIdx pos, Value ** args, Value & v)
{
    v.mkInt(42);
}

static RegisterPrimOp rp({
    .name = "__sharedNixSmoke",
    .args = {"x"},
    .doc = "Returns 42 (build-shared-nix.sh's plugin smoke test).",
    .fun = prim_sharedNixSmoke,
});
EOF
in_chroot bash -euo pipefail -c '
  prefix=$1; cd /build/plugin-smoke
  export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
  cflags="$(pkg-config --cflags nix-expr) -include config-util.hh -include config-store.hh -include config-expr.hh"
  libs="$(pkg-config --libs nix-expr)"
  echo "$cflags" > cflags; echo "$libs" > libs
  ( set -x; g++ -shared -fPIC -O2 $cflags -o smoke.so smoke.cc -Wl,-z,defs $libs )
  got=$(nix-instantiate --option plugin-files "$PWD/smoke.so" --eval -E "builtins.sharedNixSmoke null")
  [ "$got" = 42 ] || { echo "the plugin primop returned $got, expected 42" >&2; exit 1; }
  echo "    builtins.sharedNixSmoke null = $got (with --option plugin-files $PWD/smoke.so)"
  if nix-instantiate --eval -E "builtins.sharedNixSmoke null" >/dev/null 2>&1; then
    echo "builtins.sharedNixSmoke exists without the plugin" >&2; exit 1
  fi
  sock=/tmp/plugin-smoke-daemon.sock; rm -f "$sock"
  NIX_DAEMON_SOCKET_PATH=$sock nix-daemon --option plugin-files "$PWD/smoke.so" & pid=$!
  trap "kill $pid 2>/dev/null || true" EXIT
  for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
  p=$(nix-store --store "unix://$sock" --add smoke.cc)
  [ -e "$p" ] || { echo "nix-daemon with the plugin did not add a file" >&2; exit 1; }
  echo "    nix-daemon with the plugin in plugin-files added $p"
' _ "$prefix"

step "--check: builtins.fetchGit of every fixture commit equals fixtures/modern-expected.json (recorded from Debian's static Nix 2.26.3)"
fixtures=$(cd "$here/../../fixtures" && pwd)
rm -rf "$dir/build/fixture-check"; mkdir -p "$dir/build/fixture-check"
cp "$fixtures/make-fixtures.sh" "$fixtures/modern-expected.json" "$dir/build/fixture-check/"
in_chroot bash -euo pipefail -c '
  cd /build/fixture-check
  sh ./make-fixtures.sh repos >/dev/null
  mkdir home
  # One evaluation of every recorded (repo, rev, setting), in the oracle'"'"'s shape.
  python3 - > check.nix <<"PY"
import json
rec = json.load(open("modern-expected.json"))
print("let f = url: rev: extra: let r = builtins.fetchGit ({ inherit url rev; } // extra);")
print("  in removeAttrs r [\"outPath\"] // { storePath = r.outPath; }; in {")
for repo, revs in rec["repos"].items():
    for rev, settings in revs.items():
        for setting in settings:
            attrs = "{ exportIgnore = false; }" if setting == "noExportIgnore" else "{ }"
            print(f"  \"{repo} {rev} {setting}\" = f \"/build/fixture-check/repos/{repo}\" \"{rev}\" {attrs};")
print("}")
PY
  HOME=$PWD/home nix-instantiate --eval --strict --json check.nix > got.json
  python3 - <<"PY"
import json, sys
rec = json.load(open("modern-expected.json")); got = json.load(open("got.json"))
bad = [k for k in got if got[k] != rec["repos"][k.split()[0]][k.split()[1]][k.split()[2]]]
for k in bad:
    print("    differs:", k, json.dumps(got[k]), file=sys.stderr)
print(f"    {len(got) - len(bad)}/{len(got)} fetchGit results equal the recording")
sys.exit(1 if bad or not got else 0)
PY
'

cflags=$(cat "$dir/build/plugin-smoke/cflags"); libs=$(cat "$dir/build/plugin-smoke/libs")
read -r deb_version srcdir < "$stamps/source"
cat > "$dir/READY" <<EOF
Shared-library Nix $(in_chroot nix-instantiate --version | awk '{print $NF}') (Debian source nix $deb_version), built by tests/modern-nix/build-shared-nix.sh
chroot:      $dir   (enter: chroot $dir; build-shared-nix.sh mounts /proc and /dev/pts in it)
prefix:      $prefix   (inside the chroot)
PATH:        $prefix/bin:/usr/sbin:/usr/bin:/sbin:/bin
pkg-config:  PKG_CONFIG_PATH=$prefix/lib/pkgconfig   (nix-util nix-store nix-fetchers nix-expr nix-main nix-cmd ...)
compile:     g++ -shared -fPIC $cflags
link:        $libs   (optional; with -Wl,-z,defs it checks every symbol resolves)
load:        nix-instantiate --option plugin-files /path/to/plugin.so ...
test plugin: tests/modern-nix/test-plugin.sh [WORKTREE] [-- CARGO_ARGS...]   (as root; builds and runs
             the plugin tests inside the chroot, with the host's rustup toolchain and cargo registry
             bind-mounted read-only, CI=true, CARGO_TARGET_DIR under /var/cache/fetchgit-date/target)
checked:     $(date -u +%FT%TZ) by build-shared-nix.sh --check
EOF
step "READY written: $dir/READY"
cat "$dir/READY"
step "done in $(elapsed "$t0")"
exit 0
}
