# A small Haskell package builder for the GHC demo (tests/ghc_demo.rs, bench/ghc-demo.sh),
# because nixpkgs' stdenv cannot be bootstrapped here (its bootstrap tools are downloads). It
# builds with the GHC and libghc-*-dev libraries of the Debian chroot it runs in (Nix there has
# `sandbox = false`), and follows nixpkgs' pkgs/development/haskell-modules/generic-builder.nix
# wherever intermediates are concerned:
#   - doInstallIntermediates: after the build, dist/build is copied to
#     <intermediates>/share/haskell/<ghc version>/<pname>-<version>/dist/build, where
#     <intermediates> is the output `intermediates` when enableSeparateIntermediatesOutput is
#     true (it then exists), else `out`;
#   - previousIntermediates (such an output): after `Setup configure` and before `Setup build`,
#     dist/build is replaced by a copy of that directory, every file made writable
#     (chmod u+w) and given one mtime (1970-01-01), exactly as generic-builder.nix's buildPhase;
#   - the configure flags generic-builder.nix passes (prefix $out, libdir, package db, -j,
#     shared and static libraries, split sections, stripping), with profiling, tests, benchmarks
#     and Haddock off (their Debian libraries are not installed; defaults differ from nixpkgs).
# The interface is nixpkgs': packages.mkDerivation ARGS (a derivation with passthru `compiler`,
# whose `version` is the GHC's) and lib.compose.overrideCabal F PKG, which is all that
# fetchgit-date's haskell.incremental uses (nix/default.nix).
#
# ghcVersion: the chroot's `ghc --numeric-version`. It is in every derivation (as nixpkgs'
# builds depend on their GHC's store path), so another GHC makes other derivations.
# salt: put into every derivation, so that a test run builds again instead of finding an
# earlier run's outputs in the chroot's store ("" for none).
{ ghcVersion, salt ? "" }:
rec {
  compiler = { version = ghcVersion; name = "ghc-${ghcVersion}"; };

  packages.mkDerivation = args: make args;

  make =
    {
      pname,
      version,
      src,
      configureFlags ? [ ],
      buildFlags ? [ ],
      buildTarget ? "",
      doCheck ? false,
      doHaddock ? false,
      doInstallIntermediates ? false,
      enableSeparateIntermediatesOutput ? false,
      previousIntermediates ? null,
      ...
    }@args:
    let
      unsupported = builtins.filter (a: args.${a} != false) (builtins.filter (a: args ? ${a}) [ "doCheck" "doHaddock" ]);
      drv = derivation ({
        name = "${pname}-${version}";
        system = builtins.currentSystem;
        builder = "/bin/bash";
        args = [ ./haskell-builder.sh ];
        outputs = [ "out" ] ++ (if enableSeparateIntermediatesOutput then [ "intermediates" ] else [ ]);
        inherit pname version src ghcVersion buildTarget;
        configureFlags = toString configureFlags;
        buildFlags = toString buildFlags;
        intermediatesDir = "share/haskell/${ghcVersion}/${pname}-${version}/dist";
        doInstallIntermediates = if doInstallIntermediates then "1" else "";
        enableSeparateIntermediatesOutput = if enableSeparateIntermediatesOutput then "1" else "";
      } // (if previousIntermediates == null then { } else { inherit previousIntermediates; })
        // (if salt == "" then { } else { inherit salt; }));
    in
    if unsupported != [ ] then
      throw "haskell-builder.nix: ${builtins.head unsupported} = true is not supported (no test or documentation libraries in the chroot)"
    else
      drv // {
        inherit compiler;
        # What overrideCabal re-makes the package from, as nixpkgs keeps them, and with which
        # GHC (its own, as nixpkgs' override keeps the package set).
        cabalArgs = args;
        remake = make;
        inherit pname version;
      };

  lib.compose.overrideCabal = f: pkg: pkg.remake (pkg.cabalArgs // f pkg.cabalArgs);
}
