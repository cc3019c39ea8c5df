# NixOS module: installs fetchgit-date and loads its plugin into the system's Nix
# (nix.settings.plugin-files), so that every evaluation has builtins.fetchGitDate.
#   imports = [ fetchgit-date.nixosModules.default ];
#   programs.fetchgit-date.enable = true;
self:
{ config, lib, pkgs, ... }:
let
  cfg = config.programs.fetchgit-date;
in
{
  options.programs.fetchgit-date = {
    enable = lib.mkEnableOption "fetchgit-date and its Nix plugin (builtins.fetchGitDate)";
    package = lib.mkOption {
      type = lib.types.package;
      default = pkgs.callPackage ./package.nix { src = self; };
      description = "The fetchgit-date command-line tool.";
    };
    plugin = lib.mkOption {
      type = lib.types.package;
      # Built against the Nix this system runs: a plugin of another release refuses to load.
      default = pkgs.callPackage ./plugin.nix { src = self; nix = config.nix.package; };
      description = "The plugin, built against config.nix.package.";
    };
  };
  config = lib.mkIf cfg.enable {
    environment.systemPackages = [ cfg.package ];
    nix.settings.plugin-files = [ "${cfg.plugin}/lib/libfetchgit_date_nix_plugin.so" ];
  };
}
