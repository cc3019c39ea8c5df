//! The helpers of every end-to-end test, one module per concern. A test declares `mod support;`
//! and uses `support::*`; `incremental` is named where it is used.
//!
//! - [`prerequisite`]: the one policy for a missing Nix (or root, or tool): fail under
//!   `CI=true`, otherwise print `SKIPPED: <test>: ...` and check nothing.
//! - [`process`]: running children, checked or with a deadline.
//! - [`isolation`]: the binary under test, the project root, this process's directory and
//!   HOME, and the environment every child gets.
//! - [`fixtures`]: the repositories of `fixtures/make-fixtures.sh`, once per binary.
//! - [`git`]: git with a fixed identity, dated commits, `git rev-list --before` as the oracle.
//! - [`cli`]: running `fetchgit-date` and reading its output.
//! - [`nix`]: Nix as the oracle (`builtins.fetchGit`), and comparing with it.
//! - [`nixlib`]: the Nix library (`nix/`) reached through builtins.exec or the plugin.
//! - [`remote`]: loopback servers and the served repository of the remote tests.
//! - [`outcome`]: one case's outcome in fetchgit-date and in Nix, with declared deviations.
//! - [`incremental`]: repositories and files of the incremental-build tests.
//!
//! Non-Rust files of the tests are in `support/files/`.

// Each test binary uses a part of these helpers.
#![allow(dead_code, unused_imports)]

pub mod cli;
pub mod fixtures;
pub mod git;
pub mod incremental;
pub mod isolation;
pub mod nix;
pub mod nixlib;
pub mod outcome;
pub mod prerequisite;
pub mod process;
pub mod remote;

pub use cli::*;
pub use fixtures::*;
pub use git::*;
pub use isolation::*;
pub use nix::*;
pub use nixlib::*;
pub use outcome::*;
pub use prerequisite::*;
pub use process::*;
pub use remote::*;
