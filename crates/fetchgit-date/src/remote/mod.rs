//! Remote repositories: a bare cache repository per URL, brought up to date with gix's own
//! fetch (no `git` process) over the bounded transports of [`transport`], under a file
//! lock, with Nix's freshness rules.
//!
//! Layout: `$XDG_CACHE_HOME/fetchgit-date/v1/git/<key>` ([`crate::url::RemoteUrl::cache_key`]: a hash of the
//! URL and its credentials) (suffix `-shallow` for depth-limited fetches, as Nix keeps shallow clones apart), a lock file
//! `<dir>.lock` beside it, and per-ref fetch stamps in `<dir>/fetchgit-date/`.
//!
//! Locking: an exclusive `flock(2)` on the lock file is held while the cache is checked and
//! updated (a shared one on a cache we cannot write, which is only read; see `cache_dir::hold`, which
//! also re-creates a damaged cache repository). The kernel drops it when the holder dies, SIGKILL included, so a crash never leaves
//! a stale lock (gix-lock's create-exclusive lock files would). Processes queued on the lock
//! re-check freshness once they hold it, so concurrent runs on one URL fetch once.
//!
//! Crash safety: the cache repository is created in a temporary directory and renamed into
//! place; gix writes a received pack under a temporary name and renames it (pack, then index)
//! before updating refs through lock files, and the fetch stamp is written last. An interrupted
//! fetch therefore leaves at worst an unreferenced temporary file, and the next run fetches again.
//!
//! History: [`update`] brings the whole history of the fetched ref(s), which `revCount` needs,
//! into `<key>`, or with [`Depth::One`] the tip only into `<key>-shallow`. [`update_partial`]
//! brings only what a truncation walk needs (`resolve`, `fetch --shallow --date`) into
//! `<key>-partial`: a depth-1 refetch there would cut deeper history off (as `git fetch
//! --depth 1` does), so the three are kept apart. `-v` reports the bytes of each received pack.
//!
//! ### Deviation
//! - A `file://` URL (or a path) is read in place, like Nix does for local repositories, and is
//!   not copied into the cache.
//! - With `rev`, Nix >= 2.20 fetches the commit itself; we do too, and fall back to the ref (or
//!   all refs with `all_refs`) when the server refuses.

mod cache_dir;
mod error;
mod filter;
mod full;
mod missing;
mod options;
mod partial;
mod session;
pub mod transport;

pub use cache_dir::cache_root;
pub use error::RemoteError;
pub use full::update;
pub use missing::PartialCache;
pub use options::{Depth, RemoteOptions, Updated, Want, DEFAULT_TIMEOUT, REMOTE_HEAD_REF};
pub use partial::{update_partial, Coverage};
