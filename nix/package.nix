# The fetchgit-date binary. `src` is the project's source tree (the flake passes `self`).
{ lib, rustPlatform, git, src }:
let
  workspace = (builtins.fromTOML (builtins.readFile "${src}/Cargo.toml")).workspace.package;
in
rustPlatform.buildRustPackage {
  pname = "fetchgit-date";
  inherit (workspace) version;
  inherit src;
  cargoLock.lockFile = "${src}/Cargo.lock";
  cargoBuildFlags = [ "--package" "fetchgit-date-cli" ];
  # Unit tests only: the end-to-end tests in tests/ need a writable Nix store (and a daemon
  # or root), which the build sandbox does not have. They run in the project's CI instead.
  cargoTestFlags = [ "--workspace" "--lib" "--bins" ];
  nativeCheckInputs = [ git ];
  meta = {
    description = "Fetch a git repository rolled back to a date, hashed exactly as builtins.fetchGit";
    license = with lib.licenses; [ mit asl20 ];
    mainProgram = "fetchgit-date";
  };
}
