//! `incremental_ccache`'s tests with fetchgit-date reached through the plugin (`builtins.fetchGitDate`, every
//! Nix command loading it with `plugin-files`) and builtins.exec disabled: this target's name
//! starts with `plugin_` (see `nix_support::PLUGIN`).

// The helpers at the crate root too: incremental_support refers to them as crate::support,
// while the test file declares its own `mod support` (two copies of plain helper functions).
#![allow(clippy::duplicate_mod)]

#[path = "nix_support/mod.rs"]
mod support;

#[path = "incremental_ccache.rs"]
mod cases;
