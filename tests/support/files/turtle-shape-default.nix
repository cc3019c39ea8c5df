# The default.nix of the Haskell test repository, in the shape of turtle's incremental-build
# example: `turtle` is the package built from ./., `turtle-incremental` the same package
# reusing the intermediates of the full build of ./. truncated to the interval boundary.
# `haskell` stands for pkgs.haskell (a stand-in here: tests/support/files/haskell-standin.nix)
# and `fetchgitDate` for the fetchgit-date library; `rev` pins the commit being built.
{ interval ? 86400, rev ? null, haskell, fetchgitDate }:
let
  turtle = haskell.packages.mkDerivation {
    pname = "turtle";
    version = "1.6.2";
    src = ./.;
    description = builtins.readFile ./label;
  };
  turtle-incremental = (fetchgitDate.haskellFor haskell.lib).incremental {
    inherit interval;
    makePreviousBuild = truncate: (import (truncate ./.) { inherit haskell fetchgitDate; }).turtle;
    extraFetchGitArgs = if rev == null then { } else { inherit rev; };
  } turtle;
in
{
  inherit turtle turtle-incremental;
}
