#!/usr/bin/env bash
# build-shared-release.sh RELEASE [WORKTREE]
#
# Builds one Nix or Lix release from its upstream source tarball (NIX_SRC_DIR/RELEASE.tar.xz,
# e.g. nix-2.35.2, lix-2.95.3; default NIX_SRC_DIR: WORKTREE/../shared/nix-src) as shared libraries, in the
# sid chroot that compile-plugin-all.sh makes (SID_DIR, default /var/tmp/fgd-sid-build), and
# installs it at /opt/RELEASE inside the chroot: nix-instantiate, nix-store, nix-daemon, ...
# linked against libnix*.so, with headers and pkg-config files. This is build-shared-nix.sh
# (Debian's 2.26 source in trixie) for the releases Debian has no source package of.
# Then it makes the chroot able to evaluate (a store at /nix, /etc/nix/nix.conf) and checks
# that the release evaluates, fetches a local repository with builtins.fetchGit and that its
# nix-daemon answers. test-plugin.sh --release RELEASE then runs the plugin's tests on it.
#
# Built with -O0 -g0: the tests need a working Nix, not a fast one, and on 2 shared cores
# -O0 compiles in a fraction of -O2's time.
#
# Lix is built with clang (as its own packaging does) and needs two things Debian lacks:
# its Rust crates (lix-crates.sh hands them to meson from the host's cargo) and troglobit's
# editline >= 1.14 for its REPL. editline 2.0.0 (the tag, checked against its commit; 1.17.1,
# nixpkgs' version, no longer configures with sid's autoconf 2.72, fixed in 2.0.0) is
# built from EDITLINE_GIT_DIR, a clone of https://github.com/troglobit/editline, with the
# configure flags of Lix's package.nix, and installed under /opt/RELEASE with Lix: it is a
# test input of this chroot, nothing of it goes into the project.
#
# Needs root. Every step is skipped once done (ninja resumes a stopped build).
# Environment: NIX_SRC_DIR, SID_DIR, JOBS (ninja -j, default 2), EDITLINE_GIT_DIR (Lix).
set -euo pipefail
# One compound command, parsed before it runs: editing this file cannot disturb a running copy.
{
usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
release=$1
case $release in
  nix-[0-9]*.[0-9]*.[0-9]*) ;;
  -h|--help) usage ;;
  lix-[0-9]*.[0-9]*.[0-9]*) ;;
  *) echo "build-shared-release.sh: RELEASE must name a tarball like nix-2.35.2 or lix-2.95.3" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
worktree=$(cd "${2:-$here/../..}" && pwd -P)
export NIX_SRC_DIR=${NIX_SRC_DIR:-$worktree/../shared/nix-src}
tarball=$NIX_SRC_DIR/$release.tar.xz
[ -f "$tarball" ] || { echo "build-shared-release.sh: no $tarball" >&2; exit 2; }
dir=${SID_DIR:-/var/tmp/fgd-sid-build}
export SID_DIR=$dir
jobs=${JOBS:-2}
prefix=/opt/$release
src=/build/$release
stamps=$dir/var/lib/build-shared-release/$release
[ "$(id -u)" = 0 ] || { echo "build-shared-release.sh: needs root (chroot)" >&2; exit 2; }

step() { printf '==> %s\n' "$*"; }
stamp() { mkdir -p "$stamps"; printf '%s\n' "${2:-$(date -u +%FT%TZ)}" > "$stamps/$1"; }
t0=$(date +%s)
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }
in_chroot() {
  chroot "$dir" /usr/bin/env -i PATH="$prefix/bin:/usr/sbin:/usr/bin:/sbin:/bin" HOME=/root \
    LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}

step "sid chroot with the build dependencies (compile-plugin-all.sh --setup-only)"
"$here/compile-plugin-all.sh" --setup-only "$worktree"
mountpoint -q "$dir/proc" || mount -t proc proc "$dir/proc"
[ ! -d "$dir/dev/pts" ] || mountpoint -q "$dir/dev/pts" \
  || mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$dir/dev/pts"

# The options of build-shared-nix.sh, for a tree whose top-level options vary by release.
meson_opts=(--prefix="$prefix" --libdir=lib --localstatedir=/nix/var --sysconfdir=/etc
  --buildtype=plain --wrap-mode=nodownload -Ddefault_library=shared)
# Nix with g++ (as Debian builds it), Lix with clang (its meson.build: GCC crashes on its
# coroutines; g++ 16 does, on its headers).
compiler=(CC=cc CXX=c++)
packagecache=/var/cache/fetchgit-date/meson-packagecache
case $release in
  nix-*) meson_opts+=(-Dlibcmd:readline-flavor=readline -Dlibexpr:gc=enabled
    -Dlibstore:sandbox-shell=/usr/bin/busybox) ;;
  lix-*) meson_opts+=(-Dgc=enabled -Dsandbox-shell=/usr/bin/busybox -Denable-tests=false
    -Denable-docs=false -Dinternal-api-docs=disabled -Denable-contrib-plugins=false
    -Dnix-eval-jobs=disabled -Ddtrace-probes=disabled)
    compiler=(CC=clang CXX=clang++) ;;
esac
sum=$(sha256sum "$tarball" | cut -d' ' -f1)
# Lix 2.95.3's unpackTarfile(AsyncInputStream &) (lix/libutil/tarfile.cc), which its fetchGit
# uses for `git archive`, feeds libarchive through a pipe from a reader thread, and joins that
# thread before the pipe's write end goes out of scope: libarchive, which reads ahead to EOF
# when it detects the format of a small archive, then waits for an EOF that never comes, and
# builtins.fetchGit of a one-file repository hangs (seen: the reader in archive_read_open1 ->
# read(), the main thread in std::thread::join). The fix for this test build: the write end
# is closed (its scope ends) before the join. Applied before every ninja run (once: it is
# skipped when there), so ninja recompiles that one file; it alters no hash, only when the
# pipe closes.
lix_unpack_fix() {
  [[ $release == lix-2.95.* ]] || return 0
  python3 - "$dir$src/lix/libutil/tarfile.cc" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
old = "    AsyncFdIoStream sink{std::move(pipe.writeSide)};\n    TRY_AWAIT(source.drainInto(sink));\n    thr.get();\n"
new = "    {\n        AsyncFdIoStream sink{std::move(pipe.writeSide)};\n        TRY_AWAIT(source.drainInto(sink));\n    }\n    thr.get();\n"
if text.count(new) == 1:
    sys.exit(0)
if text.count(old) != 1:
    sys.exit(f"build-shared-release.sh: {path}: the unpackTarfile lines to fix are not there once")
open(path, "w").write(text.replace(old, new))
PY
}

# Lix's build runs its capnp schema compiler through a Python wrapper that imports pycapnp
# (to write a depfile), which Debian does not package: the host's pip downloads the one binary
# wheel for the chroot's Python, unpacked into the chroot's site-packages (as
# compile-plugin-all.sh does with python-frontmatter).
pycapnp=pycapnp==2.2.4
if [[ $release == lix-* ]]; then
  step "$pycapnp for Lix's capnp code generation"
  if [ "$(cat "$stamps/pycapnp" 2>/dev/null)" = "$pycapnp" ] && in_chroot python3 -c "import capnp" 2>/dev/null; then
    echo "    done already"
  else
    wheels=$dir/var/cache/fetchgit-date/wheels
    pyver=$(in_chroot python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    mkdir -p "$wheels/pycapnp-$pyver"
    pip download --quiet --no-deps --only-binary :all: --python-version "$pyver" \
      --platform manylinux_2_28_x86_64 --dest "$wheels/pycapnp-$pyver" "$pycapnp"
    wheel=$(ls "$wheels/pycapnp-$pyver"/*.whl | head -n1)
    in_chroot bash -c 'site=$(python3 -c "import site; print(site.getsitepackages()[0])") && mkdir -p "$site" &&
      python3 -m zipfile -e "$1" "$site" && python3 -c "import capnp"' _ "${wheel#"$dir"}"
    stamp pycapnp "$pycapnp"
  fi
fi

editline_tag=2.0.0
editline_commit=3c92be14b8bb11b85d2edd4ace33d3bf5772bb03
if [[ $release == lix-* ]]; then
  step "troglobit's editline $editline_tag for Lix's REPL, installed at $prefix"
  if [ "$(cat "$stamps/editline" 2>/dev/null)" = "$editline_commit" ] && [ -f "$dir$prefix/lib/pkgconfig/libeditline.pc" ]; then
    echo "    done already"
  else
    [ -n "${EDITLINE_GIT_DIR:-}" ] || { echo "build-shared-release.sh: Lix needs EDITLINE_GIT_DIR, a clone of https://github.com/troglobit/editline" >&2; exit 2; }
    got=$(git --git-dir="$EDITLINE_GIT_DIR" rev-parse --verify "refs/tags/$editline_tag^{commit}") \
      || { echo "build-shared-release.sh: $EDITLINE_GIT_DIR has no tag $editline_tag" >&2; exit 2; }
    [ "$got" = "$editline_commit" ] || { echo "build-shared-release.sh: editline tag $editline_tag is $got, not $editline_commit" >&2; exit 2; }
    rm -rf "${dir:?}/build/editline-$editline_tag"; mkdir -p "$dir/build"
    git --git-dir="$EDITLINE_GIT_DIR" archive --prefix="editline-$editline_tag/" "$editline_commit" | tar -x -C "$dir/build"
    s=$(date +%s)
    # Lix's package.nix: --enable-sigstop --enable-arrow-keys --enable-termcap (ncurses).
    in_chroot bash -euc 'cd "/build/editline-$1" && ./autogen.sh >/dev/null 2>&1 &&
      CC=clang ./configure -q --prefix="$2" --libdir="$2/lib" --enable-sigstop --enable-arrow-keys --enable-termcap &&
      nice -n 10 make -s -j2 && make -s install' _ "$editline_tag" "$prefix"
    grep -q '^Version: *'"$editline_tag"'$' "$dir$prefix/lib/pkgconfig/libeditline.pc" \
      || { echo "build-shared-release.sh: editline did not install libeditline.pc $editline_tag" >&2; exit 1; }
    stamp editline "$editline_commit"
    echo "    editline took $(elapsed "$s")"
  fi
fi
step "unpack and meson setup $src/build-shared"
if [ "$(cat "$stamps/configured" 2>/dev/null)" = "$sum" ] && [ -f "$dir$src/build-shared/build.ninja" ]; then
  echo "    done already"
else
  rm -rf "${dir:?}$src"; mkdir -p "$dir/build"
  tar -xJf "$tarball" -C "$dir/build"
  [[ $release != lix-* ]] || "$here/lix-crates.sh" "$dir$src" "$dir$packagecache"
  for o in unit-tests doc-gen bindings functional-tests benchmarks json-schema-checks kaitai-struct-checks; do
    grep -q "'$o'" "$dir$src/meson.options" 2>/dev/null && meson_opts+=("-D$o=false")
  done
  # PKG_CONFIG_PATH: Lix finds the editline installed under $prefix (before any stand-in).
  ( set -x; in_chroot env "${compiler[@]}" CFLAGS="-O0 -g0" CXXFLAGS="-O0 -g0" LDFLAGS="-Wl,-rpath,$prefix/lib" \
      PKG_CONFIG_PATH="$prefix/lib/pkgconfig" MESON_PACKAGE_CACHE_DIR="$packagecache" \
      meson setup "$src/build-shared" "$src" "${meson_opts[@]}" )
  stamp configured "$sum"
  rm -f "$stamps/installed"
fi

lix_unpack_fix
step "ninja -C $src/build-shared -j$jobs (under nice -n 10)"
if [ -e "$stamps/installed" ] && in_chroot ninja -C "$src/build-shared" -n 2>/dev/null | grep -q 'no work to do'; then
  echo "    built and installed already"
else
  s=$(date +%s)
  in_chroot nice -n 10 ninja -C "$src/build-shared" -j"$jobs"
  echo "    ninja took $(elapsed "$s")"
  in_chroot meson install -C "$src/build-shared" --no-rebuild --quiet
  stamp installed
fi

step "store and configuration: /nix, /etc/nix/nix.conf"
mkdir -p "$dir/nix/store" "$dir/nix/var/nix" "$dir/etc/nix"
conf='build-users-group =
sandbox = false
substituters ='
[ "$(cat "$dir/etc/nix/nix.conf" 2>/dev/null)" = "$conf" ] || printf '%s\n' "$conf" > "$dir/etc/nix/nix.conf"
# Lix's nix-daemon runs each connection's worker by executing /proc/self/exe; run as root it
# has unshared its mount namespace first, and in a chroot that is no mount point the kernel
# then names the binary by its path outside the chroot ($dir/opt/...), which does not exist
# inside. That path is made to lead back to the chroot's root (a symlink, inside the chroot).
if [[ $release == lix-* ]] && [ "$(readlink "$dir$dir" 2>/dev/null)" != / ]; then
  mkdir -p "$(dirname "$dir$dir")" && ln -sfn / "$dir$dir"
fi

step "self-check: shared libraries, evaluation, fetchGit of a local repository, nix-daemon"
case $release in lix-*) lib=liblix expr_pc=lix-expr ;; *) lib=libnixexpr expr_pc=nix-expr ;; esac
in_chroot bash -euo pipefail -c '
  prefix=$1 lib=$2 expr_pc=$3
  libs=$(ldd "$prefix/bin/nix-instantiate")
  grep -q "$lib\.so.* => $prefix/lib/$lib\.so" <<<"$libs" \
    || { echo "nix-instantiate is not linked against $prefix/lib/$lib.so" >&2; exit 1; }
  PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --exists "$expr_pc" || { echo "no $expr_pc.pc" >&2; exit 1; }
  echo "    $(nix-instantiate --version); builtins.nixVersion = $(nix-instantiate --eval -E builtins.nixVersion)"
  w=$(mktemp -d /tmp/build-shared-release-check.XXXXXX)
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
  # From 2.35 the store copy of a fetched tree is lazy (made when a derivation needs it): the
  # NAR hash is checked against the commit checked out elsewhere, not against the store path.
  mkdir "$w/tree" && git -C "$w/repo" archive HEAD | tar -x -C "$w/tree"
  [ "$(nix --extra-experimental-features nix-command hash path "$w/tree")" = "$nar" ] \
    || { echo "fetchGit narHash $nar is not the NAR hash of the commit" >&2; exit 1; }
  echo "    builtins.fetchGit of a local repository: $path $nar"
  path=$(nix-store --add "$w/repo/a.txt")
  sock=$w/daemon.sock
  NIX_DAEMON_SOCKET_PATH=$sock nix-daemon & pid=$!
  trap "kill $pid 2>/dev/null || true; rm -rf $w" EXIT
  for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
  [ "$(nix-store --store "unix://$sock" -q --hash "$path")" = "$(nix-store -q --hash "$path")" ] \
    || { echo "nix-daemon did not answer a path-info query" >&2; exit 1; }
  kill $pid; wait $pid 2>/dev/null || true
  echo "    nix-daemon answered a query on $sock"
' _ "$prefix" "$lib" "$expr_pc"
step "done in $(elapsed "$t0"): test with tests/modern-nix/test-plugin.sh --release $release"
exit 0
}
