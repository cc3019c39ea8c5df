//! What a remote update is asked for ([`Want`], [`RemoteOptions`]) and what it gives ([`Updated`]).

use std::path::PathBuf;
use std::time::Duration;

use gix::ObjectId;

/// How much history to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Depth {
    /// Everything reachable (needed for `revCount`).
    #[default]
    Full,
    /// Only the selected commit (`shallow = true`: `revCount` is 0, as Nix reports it).
    One,
    /// Only what a truncation walk needs: the start commit, the history back to the boundary and
    /// the commit the walk lands on ([`super::update_partial`]); `revCount` is 0. [`super::update`] treats it
    /// as [`Depth::One`].
    ToBoundary,
}

/// How to bring the cache up to date.
#[derive(Debug, Clone)]
pub struct RemoteOptions {
    /// Refetch a ref whose last fetch is older than this (Nix's `tarball-ttl`, 3600 s).
    pub ttl: Duration,
    /// Fetch even when the cache is fresh.
    pub refresh: bool,
    /// Fetch `refs/*` instead of a single ref.
    pub all_refs: bool,
    /// How much history to fetch.
    pub depth: Depth,
    /// Print progress on stderr.
    pub progress: bool,
    /// Print what is fetched, and what it cost, on stderr.
    pub verbose: bool,
    /// The longest wait for the remote (a byte received or accepted, a connection, a name
    /// resolved) before the fetch fails; see [`super::transport`].
    pub timeout: Duration,
}

/// [`super::RemoteOptions::timeout`] by default: Nix's `stalled-download-timeout` (300 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

impl Default for RemoteOptions {
    fn default() -> Self {
        RemoteOptions {
            ttl: Duration::from_secs(3600),
            refresh: false,
            all_refs: false,
            depth: Depth::Full,
            progress: false,
            verbose: false,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// What the fetch must make available.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    /// A full ref name (`refs/...`), or `None` for the remote's `HEAD`.
    pub full_ref: Option<String>,
    /// A commit that must be present.
    pub rev: Option<ObjectId>,
}

/// The local ref under which the remote's `HEAD` is kept in the cache repository.
pub const REMOTE_HEAD_REF: &str = "refs/fetchgit-date/remote-HEAD";

/// The cache repository after an update.
#[derive(Debug, Clone)]
pub struct Updated {
    /// The bare cache repository, ready to open.
    pub path: PathBuf,
    /// The local ref that holds the wanted ref's tip (for a ref or `HEAD`).
    pub local_ref: String,
    /// Whether the network was used.
    pub fetched: bool,
    /// Pack bytes received (0 when nothing was fetched).
    pub bytes_received: u64,
}
