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
      # The plugin's ABI is one release's: build it against the Nix (or Lix) that loads it.
      pluginFor = pkgs: nix: pkgs.callPackage ./nix/plugin.nix { src = self; inherit nix; };
    in
    {
      # The Nix library, given the binary (a package, or the executable's path) and optionally
      # nixpkgs' haskell.lib (for haskell.incremental):
      #   (fetchgit-date.lib { fetchgit-date = pkgs.fetchgit-date; }).fetchGitDate { ... }
      #   (fetchgit-date.lib { fetchgit-date = ...; haskellLib = pkgs.haskell.lib; }).haskell.incremental
      # truncate, incremental, haskellFor: docs/incremental.md.
      # Uses builtins.fetchGitDate when the plugin is loaded, else builtins.exec (which needs
      # allow-unsafe-native-code-during-evaluation = true); see docs/nix.md.
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
        # builtins.fetchGitDate, built against nixpkgs' nix (load it into that same Nix).
        plugin = pluginFor (pkgsFor system) (pkgsFor system).nix;
        # The same for nixpkgs' Lix (load it into that same Lix).
        plugin-lix = pluginFor (pkgsFor system) (pkgsFor system).lix;
        default = fetchgit-date;
      });

      # programs.fetchgit-date.enable = true: the tool, and the plugin (built against
      # config.nix.package, Nix or Lix) in nix.settings.plugin-files.
      nixosModules.default = import ./nix/module.nix self;

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
            # The plugin's errors, like fetchGit's, are not catchable by tryEval.
            assert lib.backend == "plugin" || failsToEvaluate (lib.fetchGitDate { url = "/nonexistent"; date = 1; interval = 1; });
            assert lib.backend != null || failsToEvaluate (lib.fetchGitDate { url = "/nonexistent"; rev = "0000000000000000000000000000000000000000"; });
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
          # A fetchGitDate call evaluated with the plugin loaded, in a store of the build's own,
          # compared with builtins.fetchGit of the same commit.
          plugin-eval = pkgs.runCommand "fetchgit-date-plugin-eval" { nativeBuildInputs = [ pkgs.nix pkgs.git ]; } ''
            export HOME=$TMPDIR GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_DATE=@1700000000 GIT_COMMITTER_DATE=@1700000000
            git init -q repo && echo hello > repo/README && git -C repo add README
            git -C repo -c user.name=t -c user.email=t@t commit -q -m one
            rev=$(git -C repo rev-parse HEAD)
            nix-instantiate --store "local?root=$TMPDIR/store" --option plugin-files ${self.packages.${system}.plugin}/lib/libfetchgit_date_nix_plugin.so \
              --eval --strict -E "let a = builtins.fetchGitDate { url = $PWD/repo; rev = \"$rev\"; interval = 86400; }; b = builtins.fetchGit { url = $PWD/repo; rev = \"$rev\"; }; in assert a.narHash == b.narHash && a.outPath == b.outPath; a.narHash" > $out
          '';
        });
    };
}
