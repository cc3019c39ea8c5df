//! Fetch a git repository rolled back to the last commit before a date or a repeating time
//! boundary, hashed exactly as Nix's `builtins.fetchGit` would.
//!
//! The pieces, in the order a fetch uses them: [`location`] parses the URL, [`resolve`] opens the
//! repository and finds the start commit, [`history`] truncates (as `git rev-list -1 --before`)
//! and counts commits, [`remote`] keeps a cache repository per remote URL up to date, [`export`] turns a tree into a NAR the way each Nix generation does,
//! [`cache`] remembers immutable results, and [`fetch`] ties them together. [`verify`] explains
//! why a given `narHash` does or does not reproduce.
//!
//! ```no_run
//! use fetchgit_date::{cache::Cache, export::{ExportOptions, Generation}, fetch::{Fetcher, Selector, TruncateTo}};
//! let fetcher = Fetcher::open("/path/to/repo", Cache::from_environment())?;
//! let selector = Selector { truncate: Some(TruncateTo::Interval("1d".parse()?)), ..Selector::default() };
//! let export = ExportOptions { generation: Generation::Modern, export_ignore: true, lfs: false, submodules: false };
//! let name = nixstore::store_path::StorePathName::new("source")?;
//! let fetched = fetcher.fetch(&selector, export, &name, nixstore::store_path::DEFAULT_STORE_DIR)?;
//! println!("{}", fetched.attrs.nar_hash);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod cache;
pub mod cache_trust;
pub mod commit;
pub mod commits_only;
pub mod date;
pub mod dirty;
pub mod export;
pub mod fetch;
pub mod history;
pub mod input_check;
pub mod lfs;
pub mod location;
pub mod nix_expr;
pub mod no_exec;
pub mod nix_version;
pub mod ownership;
pub mod partial_clone;
pub mod progress;
pub mod recheck;
pub mod remote;
pub mod request;
pub mod repo_config;
pub mod repo_files;
pub mod repo_format;
pub mod resolve;
pub mod signature;
pub mod submodules;
pub mod transport;
pub mod verify;

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
