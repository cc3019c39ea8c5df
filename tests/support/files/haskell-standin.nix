# A stand-in for the two parts of nixpkgs that haskell.incremental meets, because nixpkgs
# cannot be downloaded here. It is not nixpkgs: it models only the documented contract of
# pkgs/development/haskell-modules (generic-builder.nix, lib/compose.nix):
#   packages.mkDerivation ARGS  stands for haskellPackages.mkDerivation: a derivation made from
#                               the builder arguments, with passthru `compiler` (the GHC, with
#                               `version`); enableSeparateIntermediatesOutput adds the output
#                               `intermediates`, as in generic-builder.nix;
#   lib.compose.overrideCabal F PKG  stands for haskell.lib.compose.overrideCabal: calls F
#                               with PKG's current arguments and re-makes PKG (with PKG's own
#                               GHC) with the result merged over them.
# `lib` is what haskell.incremental is given (nixpkgs' haskell.lib has compose.overrideCabal
# among many other functions; the helper uses nothing else). The stand-in records what it was
# given: `cabalArgs` (the arguments of the last make), `overrides` (the attribute names each
# overrideCabal call set, in order), and every argument in the derivation's environment.
{ ghcVersion ? "9.4.8" }:
rec {
  packages.mkDerivation = args: make [ ] args;

  make = overrides: args:
    let
      outputs = [ "out" ] ++ (if args.enableSeparateIntermediatesOutput or false then [ "intermediates" ] else [ ]);
      drv = derivation ({
        name = "${args.pname}-${args.version}";
        system = builtins.currentSystem;
        builder = "/bin/sh";
        args = [ "-c" "for o in $outputs; do eval \"/bin/mkdir -p \\\${$o}\"; done" ];
        inherit outputs;
      } // removeAttrs args [ "pname" "version" ]);
    in
    drv // {
      # passthru of generic-builder.nix
      inherit (args) pname version;
      compiler = { version = ghcVersion; name = "ghc-${ghcVersion}"; };
      cabalArgs = args;
      inherit overrides;
      # overrideCabal re-makes a package with its own package set (its own GHC), as nixpkgs'
      # does through the package's override.
      remake = make;
    };

  lib.compose.overrideCabal = f: pkg:
    let changes = f pkg.cabalArgs; in
    pkg.remake (pkg.overrides ++ [ (builtins.attrNames changes) ]) (pkg.cabalArgs // changes);
}
