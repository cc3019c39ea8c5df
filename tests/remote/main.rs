//! Fetching from remotes, against loopback servers (smart HTTP, `git daemon`, a fake ssh;
//! `support::remote`) and, where it supports them, Nix 2.8's `builtins.fetchGit`:
//!
//! - `transports`: every transport gives the attributes a local read and Nix give.
//! - `cache`: the remote cache (concurrency, recovery, freshness, injection, errors).
//! - `credentials`: credentials used as git uses them, never leaked or cached across users.
//! - `partial`: truncation over a partial history, equal to `git rev-list -1 --before`.
//! - `partial_clone`: commits only from servers that allow filters, the exported tree after.

#[path = "../support/mod.rs"]
mod support;

mod cache;
mod credentials;
mod partial;
mod partial_clone;
mod transports;
