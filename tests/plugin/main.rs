//! fetchgit-date as a Nix plugin (`builtins.fetchGitDate`, every Nix command loading it with
//! `plugin-files`, builtins.exec disabled):
//!
//! - `behaviour`: the primop itself, against Nix 2.8's `builtins.fetchGit` and recorded
//!   values, in the daemon, in pure and restricted evaluation, and its errors.
//! - `fetch`, `flake`, `signatures`, `incremental_*`: the `nix_lib` target's tests
//!   (tests/nix_lib/), run through the plugin: this target's name is `plugin` (see
//!   `support::nixlib::PLUGIN`).
//!
//! tests/modern-nix/test-plugin.sh runs this target against newer Nix releases.

#[path = "../support/mod.rs"]
mod support;

mod behaviour;

#[path = "../nix_lib/fetch.rs"]
mod fetch;
#[path = "../nix_lib/flake.rs"]
mod flake;
#[path = "../nix_lib/incremental_ccache.rs"]
mod incremental_ccache;
#[path = "../nix_lib/incremental_haskell.rs"]
mod incremental_haskell;
#[path = "../nix_lib/incremental_select.rs"]
mod incremental_select;
#[path = "../nix_lib/signatures.rs"]
mod signatures;
