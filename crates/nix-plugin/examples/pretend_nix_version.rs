//! The plugin as if built for another Nix release: build.rs links this cdylib with the shim
//! compiled to insist on FETCHGIT_DATE_NIX_PRETEND_VERSION (default 2.7.99-pretend) instead of
//! the headers' release. Only tests/version.rs uses it: loaded into this Nix, it must refuse to
//! register builtins.fetchGitDate, with one line naming both versions.

pub use fetchgit_date_nix_plugin::*;

// The shim compiled to insist on the pretended release, whole: its static constructor is what
// runs at load. Nix's and the C++ runtime's symbols come from the loading Nix process.
#[link(name = "fetchgit_date_nix_shim_pretend", kind = "static", modifiers = "+whole-archive")]
extern "C" {}
