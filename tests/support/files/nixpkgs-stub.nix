{
  # A stand-in for nixpkgs with just what fetchgit-date's flake uses, built from
  # `derivation` alone, so the flake's outputs can be evaluated offline.
  outputs = { self }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      pkgsFor = system:
        let
          pkgs = {
            lib.licenses = { mit = "MIT"; asl20 = "Apache-2.0"; };
            lib.platforms = { linux = [ ]; darwin = [ ]; };
            git = derivation { name = "git-stub"; inherit system; builder = "/bin/sh"; args = [ "-c" "echo > $out" ]; };
            nix = derivation { name = "nix-stub"; inherit system; builder = "/bin/sh"; args = [ "-c" "echo > $out" ]; };
            # Named as nixpkgs names it: nix/plugin.nix tells Lix by its name.
            lix = derivation { name = "lix-2.93.3"; inherit system; builder = "/bin/sh"; args = [ "-c" "echo > $out" ]; };
            pkg-config = pkgs.git;
            boost = pkgs.git;
            nlohmann_json = pkgs.git;
            boehmgc = pkgs.git;
            capnproto = pkgs.git;
            callPackage = fn: overrides:
              let f = import fn; in f (builtins.intersectAttrs (builtins.functionArgs f) pkgs // overrides);
            runCommand = name: env: script:
              derivation (env // { inherit name system; builder = "/bin/sh"; args = [ "-c" script ]; });
            rustPlatform.buildRustPackage = args:
              assert builtins.pathExists args.cargoLock.lockFile;
              derivation {
                name = "${args.pname}-${args.version}";
                inherit system;
                builder = "/bin/sh";
                args = [ "-c" "echo stub > $out" ];
                src = args.src;
              } // { inherit (args) meta; };
          };
        in
        pkgs;
    in
    { legacyPackages = builtins.listToAttrs (map (system: { name = system; value = pkgsFor system; }) systems); };
}
