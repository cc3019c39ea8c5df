# fetchgit-date's Nix plugin (builtins.fetchGitDate), built against `nix`: the plugin's ABI is
# that of these exact headers, and it refuses to register in any other Nix release. Use the
# same `nix` the machine runs (the NixOS module passes config.nix.package). `nix` may be Lix
# (pkgs.lix): build.rs then finds `pkg-config lix-expr` and compiles the shim's Lix branch.
{ lib, rustPlatform, pkg-config, nix, boost, nlohmann_json, boehmgc, capnproto ? null, clang ? null, src }:
let
  workspace = (builtins.fromTOML (builtins.readFile "${src}/Cargo.toml")).workspace.package;
  isLix = (builtins.parseDrvName (nix.name or "")).name == "lix";
in
rustPlatform.buildRustPackage {
  pname = "fetchgit-date-nix-plugin" + (if isLix then "-lix" else "");
  inherit (workspace) version;
  inherit src;
  cargoLock.lockFile = "${src}/Cargo.lock";
  cargoBuildFlags = [ "--package" "fetchgit-date-nix-plugin" "--lib" ];
  # build.rs finds the headers with `pkg-config nix-expr` (nix.dev), or `lix-expr` (lix.dev,
  # whose lix-base.pc requires capnproto's kj-async).
  # Lix is compiled with clang (GCC crashes on its coroutine headers; g++ 16 does on ours
  # through them): build.rs compiles the shim for Lix with clang++.
  nativeBuildInputs = [ pkg-config ] ++ (if isLix && clang != null then [ clang ] else [ ]);
  buildInputs = [ (nix.dev or nix) boost nlohmann_json boehmgc ]
    ++ (if isLix && capnproto != null then [ capnproto ] else [ ]);
  # The plugin's tests load it into a Nix with a writable store; they run in the project's CI.
  doCheck = false;
  installPhase = ''
    runHook preInstall
    mkdir -p $out/lib
    cp "$(find target -path '*/release/libfetchgit_date_nix_plugin.so' -not -path '*/deps/*' | head -n1)" $out/lib/
    runHook postInstall
  '';
  passthru = {
    pluginFile = "lib/libfetchgit_date_nix_plugin.so";
    # The Nix or Lix this plugin registers in (and only that release).
    inherit nix;
  };
  meta = {
    description = "builtins.fetchGitDate: builtins.fetchGit rolled back to a date, as a Nix plugin (plugin-files)";
    license = with lib.licenses; [ mit asl20 ];
    platforms = lib.platforms.linux ++ lib.platforms.darwin;
  };
}
