//! Fetch a git repository rolled back to the last commit before a date or a repeating time
//! boundary, hashed exactly as Nix's `builtins.fetchGit` would.
//!
//! A fetch is a pipeline; [`pipeline::run`] is its one entry, which the CLI and the plugin both
//! call. Each stage is a module that the stages before it do not import back (a unit test,
//! `import_graph.rs`, fails on any cycle):
//!
//! | stage | modules |
//! |---|---|
//! | request: the arguments, checked once, and the release to behave like | [`request`], [`nix_version`] (the `CHANGES` table: every release difference) |
//! | locate: where the repository is, brought into the cache if remote | [`url`], [`remote`] (cache, transports, partial history, partial clones) |
//! | resolve: open it, refuse what git or libgit2 refuse, find the start commit | [`resolve`], [`repo_format`], [`ownership`], [`repo_files`] |
//! | truncate: the last commit at or before the boundary, and `revCount` | [`history`], [`date`], [`commit`] |
//! | export: the tree as the release writes it, as a NAR | [`export`], with [`repo_config`] and the hooks [`lfs`], [`submodules`]; [`dirty`] for a work tree read from disk; [`no_exec`] so that nothing configured runs |
//! | hash, check, store | `nixstore` (NAR, hashes, store paths, the daemon), [`input_check`] (a given `narHash`, `lastModified`, `revCount`), [`pipeline::Store`], [`nix_expr`] (the attributes as Nix) |
//!
//! Beside the pipeline: [`fetch`] holds an opened repository between stages ([`fetch::Fetcher`]),
//! [`cache`] remembers what cannot change (checked by [`recheck`], trusted per [`cache_trust`]),
//! [`signature`] checks commit signatures, [`verify`] explains why a `narHash` does or does not
//! reproduce, and [`progress`] reports on stderr or through Nix's logger.
//!
//! ```no_run
//! use fetchgit_date::{cache::Cache, export::ExportOptions, nix_version::Generation, fetch::{Fetcher, Selector}, history::TruncateTo};
//! let fetcher = Fetcher::open("/path/to/repo", Cache::from_environment())?;
//! let selector = Selector { truncate: Some(TruncateTo::Interval("1d".parse()?)), ..Selector::default() };
//! let export = ExportOptions { generation: Generation::Modern, export_ignore: true, lfs: false, submodules: false };
//! let name = nixstore::store_path::StorePathName::new("source")?;
//! let fetched = fetcher.fetch(&selector, export, &name, nixstore::store_path::DEFAULT_STORE_DIR)?;
//! println!("{}", fetched.attrs.nar_hash);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// The request.
pub mod nix_version;
pub mod request;

// Locate.
pub mod remote;
pub mod url;

// Resolve.
pub mod ownership;
pub mod repo_files;
pub mod repo_format;
pub mod resolve;

// Truncate.
pub mod commit;
pub mod date;
pub mod history;

// Export, and what plugs into it.
pub mod dirty;
pub mod export;
pub mod lfs;
pub mod no_exec;
pub mod repo_config;
pub mod submodules;

// Check and store.
pub mod input_check;
pub mod nix_expr;
pub mod pipeline;

// Beside the pipeline.
pub mod cache;
pub mod cache_trust;
pub mod fetch;
pub mod progress;
pub mod recheck;
pub mod signature;
pub mod verify;
pub mod verify_lock;

#[cfg(test)]
mod import_graph;

/// An error and its sources on one line, joined by ": ", as the CLI prints them.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}
