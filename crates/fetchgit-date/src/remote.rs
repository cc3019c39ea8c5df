//! Remote repositories: a bare cache repository per URL, brought up to date with gix's own
//! fetch (no `git` process), under a file lock, with Nix's freshness rules.
//!
//! Layout: `$XDG_CACHE_HOME/fetchgit-date/v1/git/<hex sha256 of the credential-free URL>`
//! (suffix `-shallow` for depth-limited fetches, as Nix keeps shallow clones apart), a lock file
//! `<dir>.lock` beside it, and per-ref fetch stamps in `<dir>/fetchgit-date/`.
//!
//! Locking: an exclusive `flock(2)` on the lock file is held while the cache is checked and
//! updated. The kernel drops it when the holder dies, SIGKILL included, so a crash never leaves
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

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gix::ObjectId;
use sha2::{Digest, Sha256};

use crate::error_chain;

/// A remote repository URL as it will be fetched, with its credential-free form for keys and
/// messages. `Debug` and `Display` show only the credential-free form.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteUrl {
    url: String,
    redacted: String,
    scheme: String,
    secrets: Vec<String>,
}

impl std::fmt::Debug for RemoteUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RemoteUrl").field(&self.redacted).finish()
    }
}

impl std::fmt::Display for RemoteUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted)
    }
}

/// Why a remote URL is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    /// A host, user or path that ssh or git could read as an option.
    #[error("refusing repository URL '{redacted}': its {part} starts with '-' and could be taken as an option by ssh or git")]
    OptionLike {
        /// The URL without credentials.
        redacted: String,
        /// `host`, `user` or `path`.
        part: &'static str,
    },
    /// Whitespace or control characters, which no sane URL has and which could split arguments.
    #[error("refusing repository URL '{0}': it contains whitespace or control characters (percent-encode them)")]
    BadCharacter(String),
    /// No host at all.
    #[error("repository URL '{0}' has no host")]
    NoHost(String),
}

impl RemoteUrl {
    /// Builds a remote URL from `scheme` (lowercase: `http`, `https`, `ssh`, `git`) and the part
    /// after `://`, refusing anything that could become an option to git or ssh.
    pub fn new(scheme: &str, rest: &str) -> Result<RemoteUrl, UrlError> {
        let url = format!("{scheme}://{rest}");
        let redacted = crate::location::redact(&url);
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UrlError::BadCharacter(redacted));
        }
        let authority_end = rest.find('/').unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        let path = &rest[authority_end..];
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        let mut secrets = Vec::new();
        if let Some(userinfo) = userinfo {
            let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            if user.starts_with('-') || crate::location::percent_decode(user).starts_with('-') {
                return Err(UrlError::OptionLike { redacted, part: "user" });
            }
            secrets.push(userinfo.to_owned());
            if !password.is_empty() {
                secrets.push(password.to_owned());
                secrets.push(crate::location::percent_decode(password));
            }
        }
        if hostport.is_empty() {
            return Err(UrlError::NoHost(redacted));
        }
        if hostport.starts_with('-') || crate::location::percent_decode(hostport).starts_with('-') {
            return Err(UrlError::OptionLike { redacted, part: "host" });
        }
        let path_body = path.trim_start_matches('/');
        if path_body.starts_with('-') || crate::location::percent_decode(path_body).starts_with('-') || path_body.starts_with("~-") {
            return Err(UrlError::OptionLike { redacted, part: "path" });
        }
        Ok(RemoteUrl { url, redacted, scheme: scheme.to_owned(), secrets })
    }

    /// The URL without credentials: what keys, file names, logs and errors use.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// The transport: `http`, `https`, `ssh` or `git`.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// Hex SHA-256 of the credential-free URL: the cache directory's name.
    pub fn cache_key(&self) -> String {
        hex(&Sha256::digest(self.redacted.as_bytes()))
    }

    /// `text` with every credential of this URL replaced, for messages from git or gix.
    fn scrub(&self, text: &str) -> String {
        let mut text = text.replace(&self.url, &self.redacted);
        for secret in &self.secrets {
            if !secret.is_empty() {
                text = text.replace(secret.as_str(), "***");
            }
        }
        text
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How much history to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Depth {
    /// Everything reachable (needed for `revCount`).
    #[default]
    Full,
    /// Only the selected commit (`shallow = true`: `revCount` is 0, as Nix reports it).
    One,
    /// Only what a truncation walk needs: the start commit, the history back to the boundary and
    /// the commit the walk lands on ([`update_partial`]); `revCount` is 0. [`update`] treats it
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
}

impl Default for RemoteOptions {
    fn default() -> Self {
        RemoteOptions { ttl: Duration::from_secs(3600), refresh: false, all_refs: false, depth: Depth::Full, progress: false, verbose: false }
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
    /// Connection refused, name not resolved, timed out.
    #[error("cannot reach {url}: {reason}: check the host name and your network")]
    Unreachable {
        /// The URL without credentials.
        url: String,
        /// What the transport reported.
        reason: String,
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
    /// The server does not support shallow fetches ([`update`] and [`update_partial`] then fetch
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

/// The cache root for remote repositories under `cache_base` (`.../fetchgit-date/v1`).
pub fn cache_root(cache_base: &Path) -> PathBuf {
    cache_base.join("git")
}

/// Brings the cache repository for `url` up to date for `want`, following Nix's freshness rules,
/// and returns where it is.
///
/// A server without shallow support gets a full fetch into the full cache instead of a shallow
/// one (with a warning): the output is the same, only the transfer is larger.
pub fn update(url: &RemoteUrl, want: &Want, options: &RemoteOptions, root: &Path) -> Result<Updated, RemoteError> {
    match update_at_depth(url, want, options, root) {
        Err(RemoteError::NoShallow { .. }) if options.depth != Depth::Full => {
            warn_no_shallow(url);
            update_at_depth(url, want, &RemoteOptions { depth: Depth::Full, ..options.clone() }, root)
        }
        other => other,
    }
}

fn warn_no_shallow(url: &RemoteUrl) {
    crate::progress::warn(&format!("{} does not support shallow fetches: fetching the whole history instead", url.redacted));
}

fn update_at_depth(url: &RemoteUrl, want: &Want, options: &RemoteOptions, root: &Path) -> Result<Updated, RemoteError> {
    let suffix = if options.depth == Depth::Full { "" } else { "-shallow" };
    let shallow = if options.depth == Depth::Full { Shallow::NoChange } else { Shallow::DepthAtRemote(std::num::NonZeroU32::MIN) };
    let dir = root.join(format!("{}{suffix}", url.cache_key()));
    let cache_err = |path: &Path, err: &dyn std::fmt::Display| RemoteError::Cache { path: path.to_owned(), reason: err.to_string() };
    std::fs::create_dir_all(root).map_err(|e| cache_err(root, &e))?;
    let lock_path = root.join(format!("{}{suffix}.lock", url.cache_key()));
    let _lock = Lock::exclusive(&lock_path).map_err(|e| cache_err(&lock_path, &e))?;
    if !dir.join("HEAD").is_file() {
        init_bare(&dir).map_err(|e| cache_err(&dir, &e))?;
    }
    let local_ref = match &want.full_ref {
        Some(name) => name.clone(),
        None => REMOTE_HEAD_REF.to_owned(),
    };
    let mut session = Session { url, options, dir: &dir, bytes: 0, fetched: false };
    if let Some(rev) = want.rev {
        if has_commit(&dir, &rev) {
            return Ok(Updated { path: dir, local_ref, fetched: false, bytes_received: 0 });
        }
        // Nix >= 2.20: ask for the commit itself; servers that refuse unadvertised objects make
        // this fail, and then the refs are fetched instead.
        let by_rev = session.fetch(&[rev_spec(&rev)], &|_| shallow.clone());
        if by_rev.is_ok() && has_commit(&dir, &rev) {
            return Ok(session.done(local_ref));
        }
        session.fetch_refs(want, &local_ref, &|_| shallow.clone())?;
        if has_commit(&dir, &rev) {
            return Ok(session.done(local_ref));
        }
        let refs = if options.all_refs { "any ref".to_owned() } else { format!("ref '{}'", want.full_ref.as_deref().unwrap_or("HEAD")) };
        return Err(RemoteError::RevNotFound { rev, refs, url: url.redacted.clone() });
    }
    let stamp = stamp_path(&dir, &local_ref, options.all_refs);
    let fresh = !options.refresh
        && stamp_age(&stamp).is_some_and(|age| age < options.ttl)
        && gix::open(&dir).ok().is_some_and(|repo| repo.try_find_reference(local_ref.as_str()).ok().flatten().is_some());
    if fresh {
        return Ok(Updated { path: dir, local_ref, fetched: false, bytes_received: 0 });
    }
    session.fetch_refs(want, &local_ref, &|_| shallow.clone())?;
    write_stamp(&stamp).map_err(|e| cache_err(&stamp, &e))?;
    Ok(session.done(local_ref))
}

/// Whether the history in a partial cache is enough for a truncation, as the walk itself finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// The walk from the start commit found its answer without needing the parents of a shallow
    /// boundary commit: the answer is what the full history gives.
    Complete,
    /// The walk reached a shallow boundary commit first; the history back to `boundary` (Unix
    /// seconds, the truncation boundary) is needed.
    Incomplete {
        /// The truncation boundary.
        boundary: i64,
    },
}

/// How many deepening rounds follow the first `Since`+`Deepen` before the whole history is
/// fetched instead, into the full cache (each round deepens by 4 times more: 4, 16, 64).
const DEEPEN_ROUNDS: u32 = 3;

/// Why [`partial`] gave up on the partial cache: the full cache must serve the request.
enum Partial {
    Done(Updated),
    /// The server has no shallow support, or deepening did not make the walk exact.
    UseFull,
}

/// Brings the partial cache repository for `url` (suffix `-partial`) up to date for a truncation
/// from `want`: the start commit (the rev, or the ref's tip, under Nix's freshness rules), then
/// as much history as `check` needs to find its answer exactly. Returns the cache repository to
/// open, which is the full cache instead when that one already holds what is needed without the
/// network, or when the server cannot serve shallow fetches (then the whole history is fetched
/// into the full cache; the result is the same).
///
/// `check` runs the truncation walk on the repository and reports whether it completed without
/// reaching a shallow boundary. History is fetched in steps:
/// 1. the start commit alone (depth 1), unless it is present;
/// 2. `deepen-since boundary+1` (every commit newer than the boundary on a path of such commits:
///    all the walk visits before its answer), then `deepen 1` relative to the new shallow boundary
///    (the parents of those commits, among them the answer);
/// 3. while the walk still reaches a shallow commit (a server that cuts differently), deepen by
///    4, 16, 64 more commits, then fetch the whole history (`deepen 2147483647`, i.e. unshallow).
///
/// The result never depends on dates being monotonic: only the walk decides when to stop.
pub fn update_partial(
    url: &RemoteUrl,
    want: &Want,
    options: &RemoteOptions,
    root: &Path,
    check: &mut dyn FnMut(&gix::Repository, ObjectId) -> Result<Coverage, RemoteError>,
) -> Result<Updated, RemoteError> {
    let full_options = RemoteOptions { depth: Depth::Full, ..options.clone() };
    if let Some(updated) = full_cache_without_network(url, want, &full_options, root)? {
        return Ok(updated);
    }
    match partial(url, want, options, root, check) {
        Ok(Partial::Done(updated)) => Ok(updated),
        Ok(Partial::UseFull) => update(url, want, &full_options, root),
        Err(RemoteError::NoShallow { .. }) => {
            warn_no_shallow(url);
            update(url, want, &full_options, root)
        }
        Err(err) => Err(err),
    }
}

/// The full cache repository, when it can serve `want` without using the network.
fn full_cache_without_network(url: &RemoteUrl, want: &Want, options: &RemoteOptions, root: &Path) -> Result<Option<Updated>, RemoteError> {
    let dir = root.join(url.cache_key());
    if !dir.join("HEAD").is_file() {
        return Ok(None);
    }
    let lock_path = root.join(format!("{}.lock", url.cache_key()));
    let _lock = Lock::exclusive(&lock_path).map_err(|e| RemoteError::Cache { path: lock_path.clone(), reason: e.to_string() })?;
    let local_ref = want.full_ref.clone().unwrap_or_else(|| REMOTE_HEAD_REF.to_owned());
    let usable = match want.rev {
        Some(rev) => has_commit(&dir, &rev),
        None => !options.refresh && stamp_age(&stamp_path(&dir, &local_ref, options.all_refs)).is_some_and(|age| age < options.ttl) && ref_target(&dir, &local_ref).is_some(),
    };
    Ok(usable.then_some(Updated { path: dir, local_ref, fetched: false, bytes_received: 0 }))
}

fn partial(
    url: &RemoteUrl,
    want: &Want,
    options: &RemoteOptions,
    root: &Path,
    check: &mut dyn FnMut(&gix::Repository, ObjectId) -> Result<Coverage, RemoteError>,
) -> Result<Partial, RemoteError> {
    let name = format!("{}-partial", url.cache_key());
    let dir = root.join(&name);
    let cache_err = |path: &Path, err: &dyn std::fmt::Display| RemoteError::Cache { path: path.to_owned(), reason: err.to_string() };
    std::fs::create_dir_all(root).map_err(|e| cache_err(root, &e))?;
    let lock_path = root.join(format!("{name}.lock"));
    let _lock = Lock::exclusive(&lock_path).map_err(|e| cache_err(&lock_path, &e))?;
    if !dir.join("HEAD").is_file() {
        init_bare(&dir).map_err(|e| cache_err(&dir, &e))?;
    }
    let local_ref = want.full_ref.clone().unwrap_or_else(|| REMOTE_HEAD_REF.to_owned());
    let mut session = Session { url, options, dir: &dir, bytes: 0, fetched: false };
    let tip = Shallow::DepthAtRemote(std::num::NonZeroU32::MIN);
    // 1. The start commit.
    let start = match want.rev {
        Some(rev) => {
            if !has_commit(&dir, &rev) {
                let by_rev = session.fetch(&[rev_spec(&rev)], &|_| tip.clone());
                if let Err(err @ RemoteError::NoShallow { .. }) = by_rev {
                    return Err(err);
                }
                if !(by_rev.is_ok() && has_commit(&dir, &rev)) {
                    // The server hands out no commits by id (protocol v0 without
                    // uploadpack.allowReachableSHA1InWant): only a ref's whole history has it.
                    let undo = unshallow(&dir);
                    session.fetch_refs(want, &local_ref, &|_| undo.clone())?;
                }
                if !has_commit(&dir, &rev) {
                    let refs = if options.all_refs { "any ref".to_owned() } else { format!("ref '{}'", want.full_ref.as_deref().unwrap_or("HEAD")) };
                    return Err(RemoteError::RevNotFound { rev, refs, url: url.redacted.clone() });
                }
            }
            rev
        }
        None => {
            let stamp = stamp_path(&dir, &local_ref, options.all_refs);
            let fresh = !options.refresh && stamp_age(&stamp).is_some_and(|age| age < options.ttl);
            match ref_target(&dir, &local_ref).filter(|_| fresh) {
                Some(id) => id,
                None => {
                    // The tip alone, unless it is already here (a depth-1 fetch of a commit we
                    // have would cut its history off, as `git fetch --depth 1` does).
                    let repo = gix::open(&dir).map_err(|e| cache_err(&dir, &error_chain(&e)))?;
                    let choose = |map: &gix::remote::fetch::RefMap| {
                        let known = map.mappings.iter().filter_map(|m| m.remote.as_id()).all(|id| has_commit_in(&repo, &id.to_owned()));
                        if known { Shallow::NoChange } else { tip.clone() }
                    };
                    session.fetch_refs(want, &local_ref, &choose)?;
                    write_stamp(&stamp).map_err(|e| cache_err(&stamp, &e))?;
                    ref_target(&dir, &local_ref).ok_or_else(|| RemoteError::RefNotFound {
                        name: want.full_ref.clone().unwrap_or_else(|| "HEAD".into()),
                        url: url.redacted.clone(),
                    })?
                }
            }
        }
    };
    // 2. and 3. History until the walk is exact.
    for round in 0..=DEEPEN_ROUNDS {
        let repo = gix::open(&dir).map_err(|e| cache_err(&dir, &error_chain(&e)))?;
        let boundary = match check(&repo, start)? {
            Coverage::Complete => return Ok(Partial::Done(session.done(local_ref))),
            Coverage::Incomplete { boundary } => boundary,
        };
        let steps = match round {
            0 => vec![Shallow::Since { cutoff: gix::date::Time { seconds: boundary.saturating_add(1), offset: 0 } }, Shallow::Deepen(1)],
            r => vec![Shallow::Deepen(4u32.pow(r))],
        };
        for shallow in steps {
            if options.verbose {
                eprintln!("fetchgit-date: history of {start} needed back to {boundary}: fetching with {shallow:?}");
            }
            session.fetch_history(start, want, shallow)?;
        }
    }
    let repo = gix::open(&dir).map_err(|e| cache_err(&dir, &error_chain(&e)))?;
    match check(&repo, start)? {
        Coverage::Complete => Ok(Partial::Done(session.done(local_ref))),
        Coverage::Incomplete { .. } => {
            if options.verbose {
                eprintln!("fetchgit-date: the partial history of {start} is still not enough: fetching the whole history");
            }
            Ok(Partial::UseFull)
        }
    }
}

/// Drops from the `shallow` file the commits that are not in the repository. A server may name a
/// commit as a shallow boundary without sending it (`deepen-since` with clock skew: a commit
/// newer than the cut-off that is reachable only through an older, excluded one; git's own client
/// ends up the same way). Telling the server we have it would make every later deepening skip
/// it, so the boundary is forgotten instead; the commit is fetched when the walk needs it.
fn sanitize_shallow(dir: &Path) -> std::io::Result<()> {
    let path = dir.join("shallow");
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
    let Ok(repo) = gix::open(dir) else { return Ok(()) };
    let kept: Vec<&str> = text
        .lines()
        .filter(|line| ObjectId::from_hex(line.trim().as_bytes()).is_ok_and(|id| repo.has_object(id)))
        .collect();
    if kept.len() == text.lines().count() {
        return Ok(());
    }
    if kept.is_empty() {
        return std::fs::remove_file(&path);
    }
    let tmp = dir.join(format!("shallow.fetchgit-date-{}", std::process::id()));
    std::fs::write(&tmp, kept.iter().map(|l| format!("{l}\n")).collect::<String>())?;
    std::fs::rename(&tmp, &path)
}

fn rev_spec(rev: &ObjectId) -> String {
    format!("+{rev}:refs/fetchgit-date/revs/{rev}")
}

fn has_commit_in(repo: &gix::Repository, rev: &ObjectId) -> bool {
    matches!(repo.try_find_header(*rev), Ok(Some(h)) if h.kind() == gix::objs::Kind::Commit)
}

fn has_commit(dir: &Path, rev: &ObjectId) -> bool {
    gix::open(dir).ok().is_some_and(|repo| has_commit_in(&repo, rev))
}

fn ref_target(dir: &Path, name: &str) -> Option<ObjectId> {
    let repo = gix::open(dir).ok()?;
    let mut reference = repo.try_find_reference(name).ok().flatten()?;
    let id = reference.peel_to_id().ok()?.detach();
    has_commit_in(&repo, &id).then_some(id)
}

/// What makes a fetch bring the whole history: unshallow a shallow repository, else no change.
fn unshallow(dir: &Path) -> Shallow {
    let shallow = gix::open(dir).ok().and_then(|repo| repo.shallow_commits().ok().flatten()).is_some_and(|c| !c.is_empty());
    if shallow {
        Shallow::undo()
    } else {
        Shallow::NoChange
    }
}

type Shallow = gix::remote::fetch::Shallow;

/// Picks the shallow mode of a fetch from the remote's refs.
type ChooseShallow<'a> = &'a dyn Fn(&gix::remote::fetch::RefMap) -> Shallow;

struct Session<'a> {
    url: &'a RemoteUrl,
    options: &'a RemoteOptions,
    dir: &'a Path,
    bytes: u64,
    fetched: bool,
}

impl Session<'_> {
    fn done(self, local_ref: String) -> Updated {
        Updated { path: self.dir.to_owned(), local_ref, fetched: self.fetched, bytes_received: self.bytes }
    }

    /// Deepens the history of `start` as `shallow` says: asking for the commit itself, or, when
    /// the server refuses that, for the wanted ref (whose tip it normally is).
    fn fetch_history(&mut self, start: ObjectId, want: &Want, shallow: Shallow) -> Result<(), RemoteError> {
        match self.fetch(&[rev_spec(&start)], &|_| shallow.clone()) {
            Ok(_) => Ok(()),
            Err(err @ (RemoteError::NoShallow { .. } | RemoteError::Unreachable { .. } | RemoteError::Tls { .. } | RemoteError::Auth { .. })) => Err(err),
            Err(_) => {
                let source = want.full_ref.as_deref().unwrap_or("HEAD");
                self.fetch(&[format!("+{source}:refs/fetchgit-date/revs/{start}")], &|_| shallow.clone()).map(drop)
            }
        }
    }

    /// Fetches the wanted ref (or `HEAD`), plus every ref with `all_refs`; fails when the
    /// wanted ref does not exist on the remote.
    fn fetch_refs(&mut self, want: &Want, local_ref: &str, shallow: ChooseShallow<'_>) -> Result<(), RemoteError> {
        let source = want.full_ref.as_deref().unwrap_or("HEAD");
        let mut specs = vec![format!("+{source}:{local_ref}")];
        if self.options.all_refs {
            specs.push("+refs/*:refs/*".to_owned());
        }
        let not_found = || RemoteError::RefNotFound { name: source.to_owned(), url: self.url.redacted.clone() };
        let outcome = match self.fetch(&specs, shallow) {
            Err(RemoteError::Fetch { reason, .. }) if reason.contains("None of the refspec") => return Err(not_found()),
            other => other?,
        };
        let found = outcome
            .ref_map
            .mappings
            .iter()
            .any(|m| m.spec_index == gix::remote::fetch::refmap::SpecIndex::ExplicitInRemote(0));
        if !found {
            return Err(not_found());
        }
        Ok(())
    }

    /// Fetches `specs`, with the shallow mode `shallow` picks once the remote's refs are known.
    fn fetch(&mut self, specs: &[String], shallow: ChooseShallow<'_>) -> Result<gix::remote::fetch::Outcome, RemoteError> {
        sanitize_shallow(self.dir).map_err(|e| RemoteError::Cache { path: self.dir.join("shallow"), reason: e.to_string() })?;
        let repo = gix::open(self.dir).map_err(|e| RemoteError::Cache { path: self.dir.to_owned(), reason: error_chain(&e) })?;
        let url = self.url;
        let fail = |reason: String| classify(url, reason);
        let remote = repo
            .remote_at(url.url.as_str())
            .map_err(|e| fail(error_chain(&e)))?
            .with_fetch_tags(gix::remote::fetch::Tags::None)
            .with_refspecs(specs.iter().map(String::as_str), gix::remote::Direction::Fetch)
            .map_err(|e| fail(error_chain(&e)))?;
        if self.options.verbose {
            eprintln!("fetchgit-date: fetching {} from {}", specs.join(" "), url.redacted);
        }
        let started = std::time::Instant::now();
        let connection = remote.connect(gix::remote::Direction::Fetch).map_err(|e| fail(error_chain(&e)))?;
        let progress = crate::progress::Progress::titled(self.options.progress, &format!("fetchgit-date: fetching {} from {}", specs.join(" "), url.redacted));
        let prepare = connection.prepare_fetch(progress.clone(), Default::default()).map_err(|e| fail(error_chain(&e)))?;
        let mode = shallow(prepare.ref_map());
        let prepare = prepare.with_shallow(mode);
        let outcome = prepare.receive(progress.clone(), &AtomicBool::new(false)).map_err(|e| fail(error_chain(&e)))?;
        self.fetched = true;
        let mut size = 0;
        if let gix::remote::fetch::Status::Change { write_pack_bundle, .. } = &outcome.status {
            if let Some(keep) = &write_pack_bundle.keep_path {
                let _ = std::fs::remove_file(keep);
            }
            size = write_pack_bundle.data_path.as_ref().and_then(|p| std::fs::metadata(p).ok()).map_or(0, |m| m.len());
            self.bytes += size;
        }
        progress.finish();
        if self.options.verbose {
            eprintln!("fetchgit-date: received {size} bytes of pack from {} in {:.2?}", url.redacted, started.elapsed());
        }
        Ok(outcome)
    }
}

/// Sorts a transport failure into the error the user can act on. Credentials are scrubbed.
fn classify(url: &RemoteUrl, reason: String) -> RemoteError {
    let reason = url.scrub(&reason);
    // Keywords are looked for outside URLs: a port like :42403 or a host named ssl.example.org
    // must not decide the kind of failure.
    let lower = reason
        .split_whitespace()
        .filter(|word| !word.contains("://"))
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    let url = url.redacted.clone();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    if has(&["shallow"]) && has(&["support", "capabilit", "lack feature"]) {
        RemoteError::NoShallow { url }
    } else if has(&["connection refused", "could not resolve", "failed to lookup", "timed out", "network is unreachable"]) {
        RemoteError::Unreachable { url, reason }
    } else if has(&["'dumb' protocol is not supported"]) {
        RemoteError::DumbHttp { url }
    } else if has(&["no ca certificates"]) {
        let hint = "this machine has no CA certificates: install them (Debian: apt-get install ca-certificates), or set SSL_CERT_FILE to a CA bundle";
        RemoteError::Tls { url, reason, hint }
    } else if has(&["certificate", "tls", "ssl"]) {
        let hint = "if the server's certificate comes from a private CA, set SSL_CERT_FILE to a bundle that includes it (it replaces the system's CA list)";
        RemoteError::Tls { url, reason, hint }
    } else if has(&["401", "403", "authentication", "permission denied", "unauthorized", "credentials", "forbidden"]) {
        RemoteError::Auth { url, reason }
    } else if has(&["404", "not found", "does not appear to be a git repository", "no such file", "repository not exported", "not a git repository"]) {
        RemoteError::NotFound { url, reason }
    } else if has(&["connection refused", "could not resolve", "dns", "timed out", "unreachable", "failed to lookup", "connect", "connection reset", "could not read from remote", "eof"]) {
        RemoteError::Unreachable { url, reason }
    } else {
        RemoteError::Fetch { url, reason }
    }
}

/// Creates a bare repository at `dir` atomically: in a sibling temporary directory, then renamed.
fn init_bare(dir: &Path) -> std::io::Result<()> {
    let parent = dir.parent().expect("cache repositories live in the cache root");
    let name = dir.file_name().expect("cache repositories have a name").to_string_lossy().into_owned();
    let tmp = parent.join(format!(".{name}.init-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    gix::init_bare(&tmp).map_err(|e| std::io::Error::other(error_chain(&e)))?;
    let _ = std::fs::remove_dir_all(dir);
    std::fs::rename(&tmp, dir)
}

fn stamp_path(dir: &Path, local_ref: &str, all_refs: bool) -> PathBuf {
    let key = format!("{local_ref}{}", if all_refs { " all-refs" } else { "" });
    dir.join("fetchgit-date").join(format!("fetched-{}", hex(&Sha256::digest(key.as_bytes()))))
}

fn stamp_age(stamp: &Path) -> Option<Duration> {
    let secs: u64 = std::fs::read_to_string(stamp).ok()?.trim().parse().ok()?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(now.saturating_sub(secs)))
}

fn write_stamp(stamp: &Path) -> std::io::Result<()> {
    let dir = stamp.parent().expect("stamps live in a directory");
    std::fs::create_dir_all(dir)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_err(std::io::Error::other)?.as_secs();
    let tmp = dir.join(format!(".tmp-{}", std::process::id()));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(now.to_string().as_bytes())?;
    file.sync_data()?;
    std::fs::rename(&tmp, stamp)
}

/// An exclusive `flock(2)` on a file, released when dropped or when the process dies.
struct Lock {
    _file: std::fs::File,
}

impl Lock {
    fn exclusive(path: &Path) -> std::io::Result<Lock> {
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path)?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive).map_err(std::io::Error::from)?;
        Ok(Lock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_stay_out_of_keys_and_messages() {
        let with = RemoteUrl::new("https", "user:s3cret@example.org/r.git").expect("valid");
        let without = RemoteUrl::new("https", "example.org/r.git").expect("valid");
        assert_eq!(with.cache_key(), without.cache_key());
        assert_eq!(format!("{with:?} {with}"), "RemoteUrl(\"https://example.org/r.git\") https://example.org/r.git");
        let err = classify(&with, "HTTP 401 for https://user:s3cret@example.org/r.git (s3cret)".into());
        assert!(matches!(err, RemoteError::Auth { .. }), "{err:?}");
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    /// Regression: a refused connection to port 42403 was reported as an authentication
    /// failure because the port contains "403".
    #[test]
    fn numbers_and_words_inside_urls_do_not_classify() {
        let url = RemoteUrl::new("https", "ssl.example.org:42403/tools/r.git").expect("valid");
        let err = classify(&url, "error sending request for url (https://ssl.example.org:42403/tools/r.git/info/refs): tcp connect error: Connection refused (os error 111)".into());
        assert!(matches!(err, RemoteError::Unreachable { .. }), "{err:?}");
        let err = classify(&url, "request to https://ssl.example.org:42403/r.git failed with HTTP status 403".into());
        assert!(matches!(err, RemoteError::Auth { .. }), "{err:?}");
    }

    #[test]
    fn option_like_parts_are_refused() {
        for (scheme, rest, part) in [
            ("ssh", "-oProxyCommand=touch%20x/r", "host"),
            ("ssh", "%2DoProxyCommand=x/r", "host"),
            ("ssh", "-u@host/r", "user"),
            ("ssh", "host/-r", "path"),
            ("ssh", "host/--upload-pack=touch", "path"),
        ] {
            match RemoteUrl::new(scheme, rest) {
                Err(UrlError::OptionLike { part: p, .. }) => assert_eq!(p, part, "{rest}"),
                other => panic!("{rest}: {other:?}"),
            }
        }
        assert!(matches!(RemoteUrl::new("ssh", "host/a b"), Err(UrlError::BadCharacter(_))));
        assert!(matches!(RemoteUrl::new("https", "/r"), Err(UrlError::NoHost(_))));
    }

    #[test]
    fn flock_is_exclusive_between_handles() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.lock");
        let held = Lock::exclusive(&path).expect("first lock");
        let other = std::fs::OpenOptions::new().write(true).open(&path).expect("open");
        let busy = rustix::fs::flock(&other, rustix::fs::FlockOperation::NonBlockingLockExclusive);
        assert!(busy.is_err(), "a second exclusive lock must not be granted");
        drop(held);
        rustix::fs::flock(&other, rustix::fs::FlockOperation::NonBlockingLockExclusive).expect("free after drop");
    }
}
