# Builder of cproject.nix: compile src/*.c one by one through ccache, link bin/cproject.
# ccache is made hash-based and path-independent, so a cache made from one store path of the
# source serves another: no cwd in the hash (CCACHE_NOHASHDIR), paths below the build
# directory rewritten relative (CCACHE_BASEDIR), the compiler identified by its content, and
# file times ignored (sources copied from the store are all "new" to ccache).
set -eu
PATH=/usr/bin:/bin
export CCACHE_DIR="$intermediates/ccache"
export CCACHE_NOHASHDIR=1 CCACHE_COMPILERCHECK=content CCACHE_NOINODECACHE=1
export CCACHE_SLOPPINESS=include_file_mtime,include_file_ctime,time_macros
export CCACHE_BASEDIR="$NIX_BUILD_TOP" CCACHE_CONFIGPATH="$NIX_BUILD_TOP/ccache.conf"
: > "$CCACHE_CONFIGPATH"
mkdir -p "$intermediates" "$out/bin"
if [ -n "${previousIntermediates:-}" ]; then
  cp -R "$previousIntermediates/ccache" "$CCACHE_DIR"
  chmod -R u+w "$CCACHE_DIR"
fi
mkdir "$NIX_BUILD_TOP/build"
cd "$NIX_BUILD_TOP/build"
cp -R "$src"/. .
chmod -R u+w .
mkdir -p obj
/usr/bin/ccache --zero-stats >/dev/null
for f in src/*.c; do
  b=${f#src/}
  /usr/bin/ccache /usr/bin/gcc -O1 -Iinclude -c "$f" -o "obj/${b%.c}.o"
done
/usr/bin/gcc -o "$out/bin/cproject" obj/*.o
# Statistics of this build only (zeroed above), in the intermediates so that `out` depends on
# the sources alone.
/usr/bin/ccache --print-stats > "$intermediates/stats"
rm -rf "$CCACHE_DIR/tmp"
