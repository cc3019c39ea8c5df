//! One fetch, from a checked [`Request`] to a valid store path: the entry the CLI and the plugin
//! both call, so that they cannot drift apart.
//!
//! 1. locate and resolve: [`open`] parses the URL, opens the repository in place or brings the
//!    remote's cache up to date ([`Fetcher::open_as`]);
//! 2. truncate, export, hash: [`Fetcher::fetch`] picks the commit (`history`) and hashes its
//!    NAR as the release does (`export`, or `dirty` for a work tree);
//! 3. check: the `narHash`, `lastModified` and `revCount` the request gives
//!    ([`Request::check_result`]), before anything reaches a store;
//! 4. store: the caller's [`Store`] makes the path valid, streaming the NAR again only when the
//!    store lacks it.

use std::io::Write;

use nixstore::hash::NixHash;
use nixstore::store_path::StorePath;

use crate::cache::Cache;
use crate::fetch::{FetchError, Fetched, Fetcher};
use crate::input_check::InputMismatch;
use crate::remote::RemoteOptions;
use crate::request::Request;

/// Writes a NAR to the stream it is given. It runs on whichever thread the store reads on, so
/// it holds no repository handle of the caller's: it opens its own.
pub type NarWriter<'a> = dyn FnMut(&mut dyn Write) -> std::io::Result<()> + Send + 'a;

/// Where a fetch's result goes.
pub trait Store {
    /// The store directory paths are computed for (`/nix/store`).
    fn store_dir(&self) -> &str;

    /// Makes `path` valid with the NAR that `write` streams (`nar_hash`, `nar_size` bytes,
    /// already computed), unless it is valid already. Returns whether the NAR was sent. A store
    /// that makes another path than `path` from the NAR is an error.
    fn ensure(&self, path: &StorePath, nar_hash: &NixHash, nar_size: u64, write: &mut NarWriter<'_>) -> Result<bool, String>;
}

/// The store the CLI computes paths for without adding anything (`--no-store`).
pub struct NoStore<'a>(pub &'a str);

impl Store for NoStore<'_> {
    fn store_dir(&self) -> &str {
        self.0
    }

    fn ensure(&self, _: &StorePath, _: &NixHash, _: u64, _: &mut NarWriter<'_>) -> Result<bool, String> {
        Ok(false)
    }
}

/// A Nix daemon, or a local store through `nix-daemon --store` ([`nixstore::daemon`]).
pub struct DaemonStore<'a> {
    /// Which daemon or store.
    pub uri: &'a nixstore::daemon::StoreUri,
    /// The store directory.
    pub store_dir: &'a str,
    /// How long to wait for the daemon's answers.
    pub timeout: std::time::Duration,
}

impl Store for DaemonStore<'_> {
    fn store_dir(&self) -> &str {
        self.store_dir
    }

    fn ensure(&self, path: &StorePath, nar_hash: &NixHash, nar_size: u64, write: &mut NarWriter<'_>) -> Result<bool, String> {
        let mut write = |out: &mut dyn Write| write(out);
        nixstore::daemon::ensure_ca_path_with_timeout(self.uri, self.timeout, path, self.store_dir, nar_hash, nar_size, &mut write)
            .map(|outcome| outcome.sent)
            .map_err(|err| crate::error_chain(&err))
    }
}

/// Why a fetch did not end in a valid store path.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Locating, resolving, truncating or exporting failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// A given `narHash`, `lastModified` or `revCount` is not what the fetch gives.
    #[error(transparent)]
    Mismatch(#[from] InputMismatch),
    /// The store refused or failed.
    #[error("cannot add {path} to the Nix store: {reason}")]
    Store {
        /// The store path.
        path: String,
        /// Why.
        reason: String,
    },
}

/// A fetch that went through.
pub struct Outcome {
    /// What fetchGit's attributes and the export say.
    pub fetched: Fetched,
    /// Whether the store had to be sent the NAR.
    pub added: bool,
}

/// Opens the repository `request` names: in place when local, else its cache brought up to
/// date as `options` say (the request's [`Request::remote_options`], with the caller's own
/// progress and freshness settings).
pub fn open(request: &Request, cache: Cache, options: &RemoteOptions) -> Result<Fetcher, FetchError> {
    Fetcher::open_as(&request.url, cache, &request.selector(), options, &request.nix())
}

/// Fetches what `request` asks of `fetcher` (opened by [`open`] for this request, or for one
/// with the same URL and remote options) and makes it valid in `store`. Warnings (a root-commit
/// fallback, a dirty work tree) go to [`crate::progress::warn`].
pub fn run(request: &Request, fetcher: &Fetcher, store: &dyn Store) -> Result<Outcome, PipelineError> {
    let (export, name) = (request.export_options(), request.store_path_name());
    let mut fetched = fetcher.fetch(&request.selector(), export, &name, store.store_dir())?;
    request.check_result(&mut fetched)?;
    if let Some(info) = &fetched.attrs.truncation {
        info.warn_if_root_fallback(&fetched.attrs.rev);
    }
    if fetched.dirty {
        crate::progress::warn(&format!("Git tree '{}' is dirty", fetcher.path().display()));
    }
    let path = nixstore::store_path::build_ca_path(&name, &fetched.nar_hash, store.store_dir());
    let repo_path = fetcher.path().to_owned();
    // A remote's cache may lack the commit's files (a partial clone): they are fetched only when
    // the store lacks the path, except with LFS, whose endpoint may be in the tree's `.lfsconfig`
    // (then before the LFS fetcher, and the writer need not look again).
    let mut partial = fetcher.partial_cache();
    if let (Some(cache), Some(commit), true) = (&partial, fetched.commit, export.lfs) {
        cache.complete_tree(commit).map_err(FetchError::from)?;
        partial = None;
    }
    let mut lfs = fetched.commit.and_then(|commit| fetcher.lfs_fetcher(commit, export));
    let superproject = fetcher.superproject(export);
    let shared = &fetched;
    let mut write = |out: &mut dyn Write| {
        if let (Some(partial), Some(commit)) = (&partial, shared.commit) {
            partial.complete_tree(commit).map_err(|err| std::io::Error::other(crate::error_chain(&err)))?;
        }
        let repo = crate::resolve::open(&repo_path).map_err(|err| std::io::Error::other(crate::error_chain(&err)))?;
        crate::fetch::write_nar(&repo, shared, export, lfs.as_mut(), superproject.as_ref(), out)
    };
    let added = store
        .ensure(&path, &fetched.nar_hash, fetched.nar_size, &mut write)
        .map_err(|reason| PipelineError::Store { path: path.to_absolute_path(store.store_dir()), reason })?;
    Ok(Outcome { fetched, added })
}
