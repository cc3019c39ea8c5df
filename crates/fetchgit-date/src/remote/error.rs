//! Why a remote could not be brought into the cache: [`RemoteError`].

use std::path::PathBuf;

use gix::ObjectId;

/// Why a remote could not be brought into the cache.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// No cache directory (neither `XDG_CACHE_HOME` nor `HOME` is set).
    #[error("no cache directory for remote repositories: set XDG_CACHE_HOME or HOME")]
    NoCacheDir,
    /// The cache directory or its lock cannot be used.
    #[error("cannot use the cache at '{}': {reason}", path.display())]
    Cache {
        /// The path involved.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The cache cannot be written and does not hold what is needed.
    #[error("the cache at '{}' is read-only and lacks {wanted} of {url}: make it writable, or fill it where it is writable", path.display())]
    ReadOnly {
        /// The cache repository.
        path: PathBuf,
        /// The URL without credentials.
        url: String,
        /// What would have been fetched (refspecs).
        wanted: String,
    },
    /// Connection refused, name not resolved, timed out.
    #[error("cannot reach {url}: {reason}: check the host name and your network")]
    Unreachable {
        /// The URL without credentials.
        url: String,
        /// What the transport reported.
        reason: String,
    },
    /// A wait on the remote (or ssh) ran out of time: see [`super::RemoteOptions::timeout`].
    #[error("timed out after {seconds} s {waiting} {url}: the server (or ssh) stopped answering; check it, or raise --timeout")]
    TimedOut {
        /// The URL without credentials.
        url: String,
        /// What was being waited for ("waiting for data from", "connecting to", ...).
        waiting: &'static str,
        /// The timeout in seconds.
        seconds: u64,
    },
    /// The TLS handshake failed (or no CA certificates could be loaded).
    #[error("TLS failure talking to {url}: {reason}: {hint}")]
    Tls {
        /// The URL without credentials.
        url: String,
        /// What the transport reported.
        reason: String,
        /// What to do about it.
        hint: &'static str,
    },
    /// The server speaks only git's "dumb" HTTP protocol (static files), which gix does not.
    #[error("{url} serves only git's 'dumb' HTTP protocol (static files), which fetchgit-date does not speak: serve it with git http-backend (smart HTTP), or clone it with git and pass the local path")]
    DumbHttp {
        /// The URL without credentials.
        url: String,
    },
    /// The server refused our credentials (or demanded some).
    #[error("authentication failed for {url}: {reason}: check your credentials or ssh keys")]
    Auth {
        /// The URL without credentials.
        url: String,
        /// What the transport reported.
        reason: String,
    },
    /// No repository at that URL.
    #[error("repository not found at {url}: {reason}")]
    NotFound {
        /// The URL without credentials.
        url: String,
        /// What the transport reported.
        reason: String,
    },
    /// The ref does not exist on the remote.
    #[error("ref '{name}' not found on {url}: list the remote's refs with git ls-remote")]
    RefNotFound {
        /// The full ref name.
        name: String,
        /// The URL without credentials.
        url: String,
    },
    /// The rev is on none of the fetched refs.
    #[error("rev {rev} is not on {refs} of {url}: pass --all-refs to fetch every ref, or the --ref that contains it")]
    RevNotFound {
        /// The commit.
        rev: ObjectId,
        /// Which refs were fetched.
        refs: String,
        /// The URL without credentials.
        url: String,
    },
    /// The server does not support shallow fetches ([`super::update`] and [`super::update_partial`] then fetch
    /// the whole history instead).
    #[error("{url} does not support shallow fetches: drop --shallow")]
    NoShallow {
        /// The URL without credentials.
        url: String,
    },
    /// The history in the cache cannot be walked.
    #[error(transparent)]
    History(#[from] crate::history::HistoryError),
    /// Anything else during the fetch.
    #[error("fetching from {url} failed: {reason}")]
    Fetch {
        /// The URL without credentials.
        url: String,
        /// What gix reported.
        reason: String,
    },
}

/// `text` with control characters (raw bytes from a damaged file, terminal escapes) shown as
/// escapes, so that a message stays one printable line.
pub(super) fn printable(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}
