{
  description = "fetchgit-date: builtins.fetchGit rolled back to a date or interval boundary";

  # Only packages and checks use nixpkgs; `lib` and `overlays` evaluate without it.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAllSystems = f: builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);
      pkgsFor = system: nixpkgs.legacyPackages.${system};
      package = pkgs: pkgs.callPackage ./nix/package.nix { src = self; };
    in
    {
      # The Nix library, given the binary (a package, or the executable's path) and optionally
      # nixpkgs' haskell.lib (for haskell.incremental):
      #   (fetchgit-date.lib { fetchgit-date = pkgs.fetchgit-date; }).fetchGitDate { ... }
      #   (fetchgit-date.lib { fetchgit-date = ...; haskellLib = pkgs.haskell.lib; }).haskell.incremental
      # truncate, incremental, haskellFor: docs/incremental.md.
      # Needs allow-unsafe-native-code-during-evaluation = true; see docs/nix.md.
      lib = import ./nix;

      # pkgs.fetchgit-date, and pkgs.fetchgitDateLib = the library using it.
      overlays.default = final: prev: {
        fetchgit-date = package final;
        fetchgitDateLib = import ./nix {
          fetchgit-date = final.fetchgit-date;
          haskellLib = final.haskell.lib or null;
        };
      };

      packages = forAllSystems (system: rec {
        fetchgit-date = package (pkgsFor system);
        default = fetchgit-date;
      });

      checks = forAllSystems (system:
        let
          pkgs = pkgsFor system;
          lib = import ./nix { fetchgit-date = self.packages.${system}.default; };
          failsToEvaluate = x: !(builtins.tryEval (builtins.deepSeq x x)).success;
          # What can be checked at evaluation time without builtins.exec (nix flake check
          # does not enable it): version detection and argument errors.
          libAssertions =
            assert lib.compatFor "2.8.0" == "legacy";
            assert lib.compatFor "2.19.4" == "legacy";
            assert lib.compatFor "2.20.0" == "modern";
            assert lib.compatFor "2.26.3" == "modern";
            assert lib.compatFor "2.18.3-lix" == "legacy";
            assert failsToEvaluate (lib.fetchGitDate { url = "/nonexistent"; date = 1; interval = 1; });
            assert builtins ? exec || failsToEvaluate (lib.fetchGitDate { url = "/nonexistent"; rev = "0000000000000000000000000000000000000000"; });
            # truncate/incremental argument errors (evaluation-time, before builtins.exec).
            assert failsToEvaluate (lib.truncate { interval = 0; } { url = "/nonexistent"; rev = "0000000000000000000000000000000000000000"; });
            assert failsToEvaluate (lib.truncate { url = "/nonexistent"; rev = "0000000000000000000000000000000000000000"; });
            assert failsToEvaluate (lib.truncate { interval = 86400; } self);
            assert failsToEvaluate (lib.incremental { interval = 86400; makePreviousBuild = _: "not a derivation"; } pkgs.git);
            assert failsToEvaluate (lib.haskell.incremental { interval = 86400; makePreviousBuild = _: pkgs.git; } pkgs.git);
            true;
        in
        {
          package = self.packages.${system}.default;
          lib-eval = assert libAssertions; pkgs.runCommand "fetchgit-date-lib-eval" { } "touch $out";
        });
    };
}
