# The demo's project file: a Cabal package built at commit `rev` of the repository `repo`,
# plain (`package`) and incrementally (`incremental`), the incremental build reusing the
# intermediates of the full build of `rev` truncated to the interval boundary (the last commit
# at or before the start of rev's day). It lives outside the package's repository (turtle's
# history has no such file), as a CI configuration would. `fetchgitDate` is fetchgit-date's
# library, `haskell` the package builder (tests/ghc_demo/haskell-builder.nix, in the shape of
# nixpkgs' pkgs.haskell). `configureFlags` go to the commit's build only, not to the full build
# (bench/ghc-demo.sh: what changed GHC flags cost).
{ repo, rev, pname, version, fetchgitDate, haskell, interval ? 86400, configureFlags ? [ ] }:
let
  packageFrom = src: extra: haskell.packages.mkDerivation ({ inherit pname version src; } // extra);
  package = packageFrom (builtins.fetchGit { url = repo; inherit rev; }) { inherit configureFlags; };
in
{
  inherit package;
  incremental = (fetchgitDate.haskellFor haskell.lib).incremental {
    inherit interval;
    makePreviousBuild = truncate: packageFrom (truncate { url = repo; inherit rev; }) { };
  } package;
}
