//! The Nix library (`nix/`) with real Nix, reaching fetchgit-date through `builtins.exec`.
//! The `plugin` target (tests/plugin/main.rs) runs these same modules through the plugin's
//! `builtins.fetchGitDate` instead; `support::nixlib` tells the two apart by the target's name.
//!
//! - `fetch`: `fetchGitDate` and `truncate` against Nix 2.8's own `builtins.fetchGit`.
//! - `flake`: the flake's outputs and pure evaluation.
//! - `signatures`: `verifyCommit`, `publicKey(s)`, `keytype` and `lfs` passed on to the tool,
//!   against the values Nix 2.26 recorded.
//! - `incremental_select`, `incremental_ccache`, `incremental_haskell`: which full build an
//!   incremental build reuses, and real incremental builds (C with ccache, a Haskell stand-in).

#[path = "../support/mod.rs"]
mod support;

mod fetch;
mod flake;
mod incremental_ccache;
mod incremental_haskell;
mod incremental_select;
mod signatures;
