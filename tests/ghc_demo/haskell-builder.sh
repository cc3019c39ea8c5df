# Builder of haskell-builder.nix: the phases of nixpkgs' generic-builder.nix that a library
# needs (unpack, setupCompilerEnvironment, compileBuildDriver, configure, build, install,
# installIntermediates), with the chroot's /usr/bin/ghc. Runs as a Nix build user.
set -euo pipefail
PATH=/usr/bin:/bin
: "${NIX_BUILD_CORES:=1}"
[ "$NIX_BUILD_CORES" -gt 0 ] || NIX_BUILD_CORES=1

# Shown in the log, where tests/ghc_demo.rs checks it: a root builder would hide that store
# files are read-only.
echo "builder: running as user $(id -un)"
echo "unpacking $src"
cp -r "$src" "$NIX_BUILD_TOP/source"
chmod -R u+w "$NIX_BUILD_TOP/source"
cd "$NIX_BUILD_TOP/source"
sed -i -e 's/\r$//' ./*.cabal

# setupCompilerEnvironmentPhase: an empty package database of build inputs (the libraries
# are the chroot's, in GHC's global database).
builddir=$(mktemp -d)
packageConfDir="$builddir/package.conf.d"
mkdir -p "$packageConfDir"
ghc-pkg --package-db="$packageConfDir" recache

# compileBuildDriverPhase
setup_hs=
for i in Setup.hs Setup.lhs; do
  if [ -f "$i" ]; then setup_hs=$i; break; fi
done
if [ -z "$setup_hs" ]; then
  setup_hs="$builddir/Setup.hs"
  printf 'import Distribution.Simple\nmain = defaultMain\n' > "$setup_hs"
fi
ghc -threaded --make -o Setup -odir "$builddir" -hidir "$builddir" "$setup_hs"

# configurePhase, with generic-builder.nix's defaultConfigureFlags.
# shellcheck disable=SC2086,SC2016 # word splitting of the flag lists as stdenv does; Cabal expands $prefix etc.
./Setup configure --verbose --prefix="$out" \
  '--libdir=$prefix/lib/$compiler' '--libsubdir=$abi/$libname' \
  --package-db="$packageConfDir" \
  --ghc-option=-j"$NIX_BUILD_CORES" --ghc-option=+RTS --ghc-option=-A64M --ghc-option=-RTS \
  --disable-library-profiling --enable-shared --disable-coverage --enable-static \
  --disable-executable-dynamic --disable-tests --disable-benchmarks --enable-library-vanilla \
  --disable-library-for-ghci --enable-split-sections --enable-library-stripping \
  --enable-executable-stripping $configureFlags 2>&1 | tee "$NIX_BUILD_TOP/cabal-configure.log"

# buildPhase: restore the previous build's dist/build as generic-builder.nix does. Store files
# are read-only (Setup writes into dist/build) and carry mtime 1 in name order of the NAR they
# came from; one mtime for all keeps GHC from finding an object "older" than its interface.
if [ -n "${previousIntermediates:-}" ]; then
  echo "restoring intermediates from $previousIntermediates"
  mkdir -p dist
  rm -r dist/build
  cp -r "$previousIntermediates/$intermediatesDir/build" dist/build
  find dist/build -exec chmod u+w {} +
  find dist/build -exec touch -d '1970-01-01T00:00:00Z' {} +
fi
build_start=$(date +%s.%N)
# shellcheck disable=SC2086
./Setup build $buildTarget $buildFlags
echo "builder: Setup build took $(awk -v a="$build_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"

# installPhase (a library: copy and register)
# shellcheck disable=SC2086
./Setup copy $buildTarget
packageConfDir="$out/lib/ghc-$ghcVersion/package.conf.d"
mkdir -p "$packageConfDir"
./Setup register --gen-pkg-config="$packageConfDir/$pname-$version.conf"

# installIntermediatesPhase
if [ -n "$doInstallIntermediates" ]; then
  if [ -n "$enableSeparateIntermediatesOutput" ]; then
    intermediatesOutput=$intermediates
  else
    intermediatesOutput=$out
  fi
  installIntermediatesDir="$intermediatesOutput/$intermediatesDir"
  mkdir -p "$installIntermediatesDir"
  cp -r dist/build "$installIntermediatesDir"
fi
