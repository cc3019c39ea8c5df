//! Remote repositories: a bare cache repository per URL, brought up to date with gix's own
//! fetch (no `git` process) over the bounded transports of [`crate::transport`], under a file
//! lock, with Nix's freshness rules.
//!
//! Layout: `$XDG_CACHE_HOME/fetchgit-date/v1/git/<key>` ([`RemoteUrl::cache_key`]: a hash of the
//! URL and its credentials) (suffix `-shallow` for depth-limited fetches, as Nix keeps shallow clones apart), a lock file
//! `<dir>.lock` beside it, and per-ref fetch stamps in `<dir>/fetchgit-date/`.
//!
//! Locking: an exclusive `flock(2)` on the lock file is held while the cache is checked and
//! updated (a shared one on a cache we cannot write, which is only read; see [`hold`], which
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

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gix::ObjectId;
use sha2::{Digest, Sha256};

use crate::error_chain;

/// A remote repository URL as it will be fetched, with its credential-free form for keys and
/// messages. `Debug` and `Display` show only the credential-free form.
///
/// The URL is split once, as git's credential code splits it (`credential_from_url_1` in
/// git's `credential.c`): the host ends at the first `/`, `?` or `#`, and what comes before an
/// `@` ahead of that is `user[:password]`, percent-decoded. Everything else is built from those
/// parts, never by searching the text: gix is handed the URL without a password (and for
/// http(s) without the user name: both are given to it as an identity when the server asks), so
/// no message from gix or the server can contain them. A URL that another parser could split
/// differently (two `@` before the host, text after `:` that is not a port while an `@`
/// follows, as in `https://alice:pa/ss@host/r`) is refused with everything before its last `@`
/// hidden.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteUrl {
    fetch_url: String,
    redacted: String,
    scheme: String,
    credentials: Option<Credentials>,
}

/// The user name and password of a URL, percent-decoded as git decodes them.
#[derive(Clone, PartialEq, Eq)]
struct Credentials {
    user: String,
    password: Option<String>,
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

/// Why a remote URL is refused. Every URL in these messages has its credentials removed.
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
    /// Two or more `@` before the host: git takes the first as the end of the user information,
    /// curl and browsers the last.
    #[error("refusing repository URL '{0}': it has more than one '@' before the host; percent-encode '@' in a user name or password as %40")]
    AmbiguousUserInfo(String),
    /// Text after `:` in the host that is not a port, with an `@` later: most likely a password
    /// containing `/`, `?` or `#`, which end the host for git and curl.
    #[error("refusing repository URL '{0}': the text after ':' in its host is not a port number; if it is part of a password containing '/', '?' or '#', percent-encode those as %2F, %3F and %23")]
    PasswordNeedsEncoding(String),
    /// A port that is not a number.
    #[error("refusing repository URL '{redacted}': port '{port}' is not a number from 0 to 65535")]
    BadPort {
        /// The URL without credentials.
        redacted: String,
        /// The text after `:`.
        port: String,
    },
    /// A password in an ssh URL (ssh asks for passwords itself) or user information in a
    /// `git://` URL (the protocol has no authentication).
    #[error("refusing repository URL '{redacted}': {why}")]
    UnusedCredentials {
        /// The URL without credentials.
        redacted: String,
        /// What to do instead.
        why: &'static str,
    },
}

/// `scheme://rest` split like git's `credential_from_url_1`.
struct Split<'a> {
    userinfo: Option<&'a str>,
    hostport: &'a str,
    /// From the first `/`, `?` or `#` on.
    tail: &'a str,
}

fn split(rest: &str) -> Split<'_> {
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].find('@') {
        Some(at) => Split { userinfo: Some(&rest[..at]), hostport: &rest[at + 1..end], tail: &rest[end..] },
        None => Split { userinfo: None, hostport: &rest[..end], tail: &rest[end..] },
    }
}

/// `scheme://` and `rest` with everything up to its last `@` hidden: the form of a URL that is
/// refused before it could be split safely.
fn masked(scheme: &str, rest: &str) -> String {
    match rest.rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => format!("{scheme}://{rest}"),
    }
}

/// The port text of `hostport` when it is not a port number (an empty port is allowed, as git
/// and curl allow it).
fn bad_port(hostport: &str) -> Option<&str> {
    let port = match hostport.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((_, "")) => return None,
            Some((_, after)) => after.strip_prefix(':').unwrap_or(after),
            None => return Some(""),
        },
        None => hostport.split_once(':')?.1,
    };
    let valid = port.is_empty() || port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok();
    (!valid).then_some(port)
}

/// `scheme://rest` for a message: without its user information when it splits safely, with
/// everything before its last `@` hidden otherwise.
pub(crate) fn redact_parts(scheme: &str, rest: &str) -> String {
    let parts = split(rest);
    if parts.hostport.contains('@') || bad_port(parts.hostport).is_some() && rest.contains('@') {
        return masked(scheme, rest);
    }
    format!("{scheme}://{}{}", parts.hostport, parts.tail)
}

impl RemoteUrl {
    /// Builds a remote URL from `scheme` (lowercase: `http`, `https`, `ssh`, `git`) and the part
    /// after `://`, refusing anything that could become an option to git or ssh, and anything
    /// whose credentials could be read differently by another URL parser.
    pub fn new(scheme: &str, rest: &str) -> Result<RemoteUrl, UrlError> {
        use crate::location::percent_decode;
        if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UrlError::BadCharacter(masked(scheme, rest)));
        }
        let parts = split(rest);
        if parts.hostport.contains('@') {
            return Err(UrlError::AmbiguousUserInfo(masked(scheme, rest)));
        }
        let redacted = format!("{scheme}://{}{}", parts.hostport, parts.tail);
        if let Some(port) = bad_port(parts.hostport) {
            if rest.matches('@').count() > usize::from(parts.userinfo.is_some()) {
                return Err(UrlError::PasswordNeedsEncoding(masked(scheme, rest)));
            }
            return Err(UrlError::BadPort { port: port.to_owned(), redacted });
        }
        let credentials = parts.userinfo.map(|userinfo| {
            let (user, password) = match userinfo.split_once(':') {
                Some((user, password)) => (user, Some(password)),
                None => (userinfo, None),
            };
            (user, Credentials { user: percent_decode(user), password: password.map(percent_decode) })
        });
        if let Some((raw_user, decoded)) = &credentials {
            if raw_user.starts_with('-') || decoded.user.starts_with('-') {
                return Err(UrlError::OptionLike { redacted, part: "user" });
            }
        }
        let hostport = parts.hostport;
        if hostport.is_empty() {
            return Err(UrlError::NoHost(redacted));
        }
        if hostport.starts_with('-') || percent_decode(hostport).starts_with('-') {
            return Err(UrlError::OptionLike { redacted, part: "host" });
        }
        let path_body = parts.tail.trim_start_matches('/');
        if path_body.starts_with('-') || percent_decode(path_body).starts_with('-') || path_body.starts_with("~-") {
            return Err(UrlError::OptionLike { redacted, part: "path" });
        }
        let fetch_url = match (scheme, &credentials) {
            ("ssh", Some((_, Credentials { password: Some(_), .. }))) => {
                let why = "ssh:// URLs cannot carry a password (ssh would have to ask for it, and fetchgit-date never lets it prompt): use an ssh key or agent";
                return Err(UrlError::UnusedCredentials { redacted, why });
            }
            ("ssh", Some((raw_user, _))) => format!("ssh://{raw_user}@{hostport}{}", parts.tail),
            ("git", Some(_)) => {
                let why = "git:// has no authentication, so a user name or password cannot be used: remove it";
                return Err(UrlError::UnusedCredentials { redacted, why });
            }
            _ => redacted.clone(),
        };
        Ok(RemoteUrl { fetch_url, redacted, scheme: scheme.to_owned(), credentials: credentials.map(|(_, c)| c) })
    }

    /// The URL without credentials: what file names, logs and errors use.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// The URL gix is given: without a password (for http(s) without the user name too).
    pub(crate) fn fetch_url(&self) -> &str {
        &self.fetch_url
    }

    /// The transport: `http`, `https`, `ssh` or `git`.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The name of the cache directory: the hex SHA-256 of the credential-free URL, and of the
    /// user name and password too when the URL has them. A URL therefore shares its cache only
    /// with the same URL and the same credentials, as Nix keys its cache (`gitv3/<hash of the
    /// URL>`): a wrong or missing password never reuses what another one fetched.
    pub fn cache_key(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.redacted.as_bytes());
        if let Some(credentials) = &self.credentials {
            for part in ["\0fetchgit-date credentials\0", &credentials.user, "\0"] {
                hasher.update(part.as_bytes());
            }
            match &credentials.password {
                Some(password) => hasher.update(format!("password\0{password}").as_bytes()),
                None => hasher.update(b"no password"),
            }
        }
        hex(&hasher.finalize())
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
    /// The longest wait for the remote (a byte received or accepted, a connection, a name
    /// resolved) before the fetch fails; see [`crate::transport`].
    pub timeout: Duration,
}

/// [`RemoteOptions::timeout`] by default: Nix's `stalled-download-timeout` (300 s).
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
    /// A wait on the remote (or ssh) ran out of time: see [`RemoteOptions::timeout`].
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
    let held = hold(&dir)?;
    let local_ref = match &want.full_ref {
        Some(name) => name.clone(),
        None => REMOTE_HEAD_REF.to_owned(),
    };
    let mut session = Session { url, options, dir: &dir, bytes: 0, fetched: false, writable: held.writable };
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
        && open_cache(&dir).ok().is_some_and(|repo| repo.try_find_reference(local_ref.as_str()).ok().flatten().is_some());
    if fresh || session.stale_but_read_only(&stamp, &local_ref) {
        return Ok(Updated { path: dir, local_ref, fetched: false, bytes_received: 0 });
    }
    match session.fetch_refs(want, &local_ref, &|_| shallow.clone()) {
        Ok(()) => {}
        // Offline, or the server down: Nix goes on with the clone it has ("could not update local
        // clone ...; continuing with the most recent version"). Not when the server answered and
        // refused (credentials, a missing ref): a refetch always authenticates. Not with
        // --refresh, which asks for the network explicitly.
        Err(err @ (RemoteError::Unreachable { .. } | RemoteError::TimedOut { .. })) if !options.refresh && ref_target(&dir, &local_ref).is_some() => {
            crate::progress::warn(&format!(
                "could not update the cache of Git repository '{}' ({}); continuing with the most recent version",
                url.redacted,
                crate::error_chain(&err)
            ));
            return Ok(Updated { path: dir, local_ref, fetched: false, bytes_received: 0 });
        }
        Err(err) => return Err(err),
    }
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
        // Perhaps the full cache, read-only too, has what is needed.
        Err(RemoteError::ReadOnly { .. }) if root.join(url.cache_key()).join("HEAD").is_file() => update(url, want, &full_options, root),
        Err(err) => Err(err),
    }
}

/// The full cache repository, when it can serve `want` without using the network.
fn full_cache_without_network(url: &RemoteUrl, want: &Want, options: &RemoteOptions, root: &Path) -> Result<Option<Updated>, RemoteError> {
    let dir = root.join(url.cache_key());
    if !dir.join("HEAD").is_file() {
        return Ok(None);
    }
    let _held = hold(&dir)?;
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
    let held = hold(&dir)?;
    let local_ref = want.full_ref.clone().unwrap_or_else(|| REMOTE_HEAD_REF.to_owned());
    let mut session = Session { url, options, dir: &dir, bytes: 0, fetched: false, writable: held.writable };
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
            let usable = fresh || session.stale_but_read_only(&stamp, &local_ref);
            match ref_target(&dir, &local_ref).filter(|_| usable) {
                Some(id) => id,
                None => {
                    // The tip alone, unless it is already here (a depth-1 fetch of a commit we
                    // have would cut its history off, as `git fetch --depth 1` does).
                    let repo = open_cache(&dir).map_err(|e| cache_err(&dir, &error_chain(&e)))?;
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
        let repo = open_cache(&dir).map_err(|e| cache_err(&dir, &error_chain(&e)))?;
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
    let repo = open_cache(&dir).map_err(|e| cache_err(&dir, &error_chain(&e)))?;
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
    // The shallow file lists commit ids; anything but a small regular file is not one.
    let Ok(Some(bytes)) = crate::cache::read_regular_file(&path, 64 << 20) else { return Ok(()) };
    let Ok(text) = String::from_utf8(bytes) else { return Ok(()) };
    let Ok(repo) = open_cache(dir) else { return Ok(()) };
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
    open_cache(dir).ok().is_some_and(|repo| has_commit_in(&repo, rev))
}

fn ref_target(dir: &Path, name: &str) -> Option<ObjectId> {
    let repo = open_cache(dir).ok()?;
    let mut reference = repo.try_find_reference(name).ok().flatten()?;
    let id = reference.peel_to_id().ok()?.detach();
    has_commit_in(&repo, &id).then_some(id)
}

/// What makes a fetch bring the whole history: unshallow a shallow repository, else no change.
fn unshallow(dir: &Path) -> Shallow {
    let shallow = open_cache(dir).ok().and_then(|repo| repo.shallow_commits().ok().flatten()).is_some_and(|c| !c.is_empty());
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
    /// False for a cache that can only be read ([`hold`]): every fetch is refused.
    writable: bool,
}

impl Session<'_> {
    /// For a read-only cache, whether `local_ref`, present but no longer fresh, is used as it is
    /// (with a warning), as Nix goes on with "the most recent version" when it cannot update its
    /// clone. Not with `--refresh`, which asks for the network explicitly.
    fn stale_but_read_only(&self, stamp: &Path, local_ref: &str) -> bool {
        if self.writable || self.options.refresh || ref_target(self.dir, local_ref).is_none() {
            return false;
        }
        let age = stamp_age(stamp).map_or_else(|| "at an unknown time".to_owned(), |age| format!("{} s ago", age.as_secs()));
        eprintln!(
            "fetchgit-date: warning: the cache at {} is read-only: using {local_ref} of {} as fetched {age}",
            self.dir.display(),
            self.url.redacted
        );
        true
    }

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
        if !self.writable {
            return Err(RemoteError::ReadOnly { path: self.dir.to_owned(), url: self.url.redacted.clone(), wanted: specs.join(" ") });
        }
        sanitize_shallow(self.dir).map_err(|e| RemoteError::Cache { path: self.dir.join("shallow"), reason: e.to_string() })?;
        let repo = open_cache(self.dir).map_err(|e| RemoteError::Cache { path: self.dir.to_owned(), reason: printable(&error_chain(&e)) })?;
        let url = self.url;
        let fail = |reason: String| classify(url, reason, None);
        let remote = repo
            .remote_at(url.fetch_url.as_str())
            .map_err(|e| fail(error_chain(&e)))?
            // Tags pointing at what is fetched come along, as `git fetch URL REF:REF` (Nix <= 2.19,
            // Lix) auto-follows them: a legacy export's `$Format:%d$` lists them.
            .with_fetch_tags(gix::remote::fetch::Tags::Included)
            .with_refspecs(specs.iter().map(String::as_str), gix::remote::Direction::Fetch)
            .map_err(|e| fail(error_chain(&e)))?;
        let (gix_url, version) = remote.sanitized_url_and_version(gix::remote::Direction::Fetch).map_err(|e| fail(error_chain(&e)))?;
        if self.options.verbose {
            eprintln!("fetchgit-date: fetching {} from {}", specs.join(" "), url.redacted);
        }
        let started = std::time::Instant::now();
        let (transport, watch) = crate::transport::connect(&repo, gix_url.clone(), version, self.options.timeout).map_err(fail)?;
        let (transport, filter) = crate::commits_only::for_fetch(transport, self.options.depth == Depth::Full);
        let progress = crate::progress::Progress::titled(self.options.progress, &format!("fetchgit-date: fetching {} from {}", specs.join(" "), url.redacted));
        // gix turns `refs/*` into a protocol-v2 `ref-prefix` the server matches no ref with, so
        // `all_refs` asks for the whole ref list and maps it here.
        let all_refs = specs.iter().any(|spec| spec == "+refs/*:refs/*");
        let ref_map_options = gix::remote::ref_map::Options { prefix_from_spec_as_filter_on_remote: !all_refs, ..Default::default() };
        // The connection (and with it an ssh process) ends with this closure.
        let received = (|| -> Result<gix::remote::fetch::Outcome, String> {
            let mut connection = remote.to_connection_with_transport(transport).with_credentials(|action| supply_credentials(&repo, url, action));
            if let Some(options) = crate::transport::http_options(&repo, &gix_url, self.options.timeout)? {
                connection = connection.with_transport_options(options);
            }
            let prepare = connection.prepare_fetch(progress.clone(), ref_map_options).map_err(|e| error_chain(&e))?;
            let mode = shallow(prepare.ref_map());
            prepare.with_shallow(mode).receive(progress.clone(), &AtomicBool::new(false)).map_err(|e| error_chain(&e))
        })();
        progress.finish();
        let stderr = watch.stderr(Duration::from_secs(2));
        let outcome = match received {
            Ok(outcome) => outcome,
            Err(reason) => {
                let reason = if stderr.is_empty() { reason } else { format!("{reason} (ssh: {})", stderr.join("; ")) };
                // reqwest bounds http(s) itself and says "operation timed out".
                let http_stall = || reason.contains("timed out").then_some(crate::transport::Stall { waiting: "waiting for an answer from", after: self.options.timeout });
                return Err(classify(url, reason.clone(), watch.stall().or_else(http_stall)));
            }
        };
        if self.options.verbose {
            for line in &stderr {
                eprintln!("fetchgit-date: ssh: {line}");
            }
        }
        self.fetched = true;
        let mut size = 0;
        if let gix::remote::fetch::Status::Change { write_pack_bundle, .. } = &outcome.status {
            if let Some(keep) = &write_pack_bundle.keep_path {
                let _ = std::fs::remove_file(keep);
            }
            size = write_pack_bundle.data_path.as_ref().and_then(|p| std::fs::metadata(p).ok()).map_or(0, |m| m.len());
            if let Some(pack) = write_pack_bundle.data_path.as_ref().filter(|_| filter.used()) {
                crate::commits_only::mark_promisor(self.dir, pack, url.redacted()).map_err(|e| RemoteError::Cache { path: self.dir.to_owned(), reason: e.to_string() })?;
            }
            self.bytes += size;
        }
        if self.options.verbose {
            let commits_only = if filter.used() { " (commits only: filter tree:0)" } else { "" };
            eprintln!("fetchgit-date: received {size} bytes of pack from {} in {:.2?}{commits_only}", url.redacted, started.elapsed());
        }
        Ok(outcome)
    }
}

/// Credentials for an http(s) server that asks for them (gix calls this after a 401). The
/// URL's own user name and password when it has both, as git uses them without asking its
/// helpers; otherwise git's configured credential helpers (`credential.helper`) for the URL and
/// its user name. Never a prompt, neither on the terminal nor through `GIT_ASKPASS`: inside Nix
/// evaluation nobody could answer it. A URL's own credentials are never handed to a helper to
/// store.
pub(crate) fn supply_credentials(
    repo: &gix::Repository,
    url: &RemoteUrl,
    action: gix::credentials::helper::Action,
) -> gix::Result<Option<gix::credentials::protocol::Outcome>> {
    use gix::credentials::helper::Action;
    let missing = || {
        let message = "the server asks for credentials, and neither the URL nor a git credential helper gave them (fetchgit-date never prompts): put them in the URL (https://user:password@host/...) or configure credential.helper";
        gix::Error::from_error(std::io::Error::new(std::io::ErrorKind::PermissionDenied, message))
    };
    let user = url.credentials.as_ref().map(|c| c.user.clone());
    match (url.credentials.as_ref().and_then(|c| c.password.clone()), action) {
        (Some(password), Action::Get(context)) => Ok(Some(gix::credentials::protocol::Outcome {
            identity: gix::sec::identity::Account { username: user.unwrap_or_default(), password, oauth_refresh_token: None },
            next: context.into(),
        })),
        (Some(_), Action::Store(_) | Action::Erase(_)) => Ok(None),
        (None, action) => {
            let mut helper_url = gix::Url::from_bytes(url.fetch_url.as_str().into()).map_err(|_| missing())?;
            helper_url.set_user(user);
            let (mut cascade, _, mut prompt) = repo.config_snapshot().credential_helpers(helper_url.clone()).map_err(|_| missing())?;
            cascade.stderr = false;
            prompt.mode = gix::prompt::Mode::Disable;
            let action = match action {
                Action::Get(mut context) => {
                    context.url = Some(helper_url.to_bstring());
                    Action::Get(context)
                }
                other => other,
            };
            let getting = matches!(action, Action::Get(_));
            match cascade.invoke(action, prompt) {
                Ok(Some(outcome)) => Ok(Some(outcome)),
                _ if getting => Err(missing()),
                _ => Ok(None),
            }
        }
    }
}

/// `text` with control characters (raw bytes from a damaged file, terminal escapes) shown as
/// escapes, so that a message stays one printable line.
fn printable(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

/// Sorts a transport failure into the error the user can act on. `reason` never holds
/// credentials: gix is never given them in a URL.
pub(crate) fn classify(url: &RemoteUrl, reason: String, stall: Option<crate::transport::Stall>) -> RemoteError {
    let reason = printable(&reason);
    let url = url.redacted.clone();
    if let Some(stall) = stall {
        return RemoteError::TimedOut { url, waiting: stall.waiting, seconds: stall.after.as_secs() };
    }
    // Keywords are looked for outside URLs: a port like :42403 or a host named ssl.example.org
    // must not decide the kind of failure.
    let lower = reason
        .split_whitespace()
        .filter(|word| !word.contains("://"))
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    if has(&["shallow"]) && has(&["support", "capabilit", "lack feature"]) {
        RemoteError::NoShallow { url }
    } else if has(&["connection refused", "could not resolve", "failed to lookup", "network is unreachable"]) {
        RemoteError::Unreachable { url, reason }
    } else if has(&["'dumb' protocol is not supported"]) {
        RemoteError::DumbHttp { url }
    } else if has(&["no ca certificates"]) {
        let hint = "this machine has no CA certificates: install them (Debian: apt-get install ca-certificates), or set SSL_CERT_FILE to a CA bundle";
        RemoteError::Tls { url, reason, hint }
    } else if has(&["certificate", "tls", "ssl"]) {
        let hint = "if the server's certificate comes from a private CA, set SSL_CERT_FILE to a bundle that includes it (it replaces the system's CA list)";
        RemoteError::Tls { url, reason, hint }
    } else if has(&["401", "403", "authentication", "permission denied", "unauthorized", "credentials", "forbidden", "host key verification failed"]) {
        RemoteError::Auth { url, reason }
    } else if has(&["404", "not found", "does not appear to be a git repository", "no such file", "repository not exported", "not a git repository"]) {
        RemoteError::NotFound { url, reason }
    } else if has(&["connection refused", "could not resolve", "dns", "unreachable", "failed to lookup", "connect", "connection reset", "could not read from remote", "eof"]) {
        RemoteError::Unreachable { url, reason }
    } else {
        RemoteError::Fetch { url, reason }
    }
}

/// Opens the cache repository `dir` so that nothing in it or in our environment decides what a
/// fetch does ([`crate::no_exec`]). We create cache repositories and write nothing into their
/// configuration, so their `config` is ignored altogether: a planted `core.sshCommand`,
/// `credential.helper` or `http.*` never applies. The user's and the system's git
/// configuration is read (credential helpers, `core.sshCommand`, `http.proxy`, as git reads them
/// for Nix; `GIT_CONFIG_GLOBAL`, `GIT_CONFIG_SYSTEM` and `GIT_CONFIG_NOSYSTEM` choose those files
/// as for git), but no other `GIT_*` variable (`GIT_SHALLOW_FILE`, `GIT_NAMESPACE`, `GIT_DIR`,
/// `GIT_CONFIG_COUNT`, `GIT_OBJECT_DIRECTORY`, ...) except the three that choose the ssh program
/// (`GIT_SSH_COMMAND`, `GIT_SSH`, `GIT_SSH_VARIANT`), which are the user's as for git.
pub(crate) fn open_cache(dir: &Path) -> gix::Result<gix::Repository> {
    use gix::sec::Permission;
    let mut permissions = gix::open::Permissions::default();
    permissions.env.git_prefix = Permission::Deny;
    permissions.env.objects = Permission::Deny;
    permissions.env.ssh_prefix = Permission::Deny;
    permissions.config = gix::open::permissions::Config { git_binary: false, system: false, git: false, user: false, env: false, includes: true };
    let mut repo = gix::open_opts(dir, gix::open::Options::default().permissions(permissions))?;
    {
        let mut config = repo.config_snapshot_mut();
        let local: Vec<_> = config
            .sections_and_ids()
            .filter(|(section, _)| matches!(section.meta().source, gix::config::Source::Local | gix::config::Source::Worktree))
            .map(|(_, id)| id)
            .collect();
        for id in local {
            config.remove_section_by_id(id);
        }
        if let Some(globals) = user_and_system_config() {
            config.append(globals.clone())?;
        }
        let mut overrides = Vec::new();
        for (var, key) in [("GIT_SSH_COMMAND", "core.sshCommand"), ("GIT_SSH", "gitoxide.ssh.commandWithoutShellFallback"), ("GIT_SSH_VARIANT", "ssh.variant")] {
            if let Some(value) = std::env::var_os(var).filter(|v| !v.is_empty()) {
                let mut setting = gix::bstr::BString::from(format!("{key}="));
                setting.extend_from_slice(value.as_encoded_bytes());
                overrides.push(setting);
            }
        }
        config.append_config(overrides, gix::config::Source::Env)?;
        config.commit()?;
    }
    Ok(repo)
}

/// The user's and the system's git configuration, as git finds it, read once.
fn user_and_system_config() -> Option<&'static gix::config::File> {
    static GLOBALS: std::sync::OnceLock<Option<gix::config::File>> = std::sync::OnceLock::new();
    GLOBALS.get_or_init(|| gix::config::File::from_globals().ok()).as_ref()
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
    let bytes = crate::cache::read_regular_file(stamp, 64).ok()??;
    let secs: u64 = std::str::from_utf8(&bytes).ok()?.trim().parse().ok()?;
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

/// A cache repository held under its lock.
pub(crate) struct Held {
    _lock: Option<Lock>,
    /// False when the cache cannot be written: it is only read.
    pub(crate) writable: bool,
}

/// Files of a bare repository that gix reads when it opens one; none may be anything but a
/// regular file (a FIFO would block, a device never end), and a cache repository never has
/// alternates (they would take objects from elsewhere).
const REPOSITORY_FILES: &[&str] = &["HEAD", "config", "packed-refs", "shallow", "objects/info/alternates", "info/attributes", "info/grafts"];

/// Takes the lock of the cache repository `dir` (`<dir>.lock`) and makes sure `dir` is a bare
/// repository that opens: created when missing, re-created with a warning when damaged
/// (garbage in `config`, a special file where a file should be, alternates), so that one bad
/// file never makes every later run fail. Objects are content-addressed, so re-creating loses
/// nothing but a fetch.
///
/// A cache that cannot be written (a read-only file system, another user's cache) is used for
/// reading only: under a shared lock when its lock file exists, and never fetched into.
pub(crate) fn hold(dir: &Path) -> Result<Held, RemoteError> {
    let cache_err = |path: &Path, reason: String| RemoteError::Cache { path: path.to_owned(), reason: printable(&reason) };
    let root = dir.parent().expect("cache repositories live in the cache root");
    let lock_path = PathBuf::from(format!("{}.lock", dir.display()));
    let held = match std::fs::create_dir_all(root).and_then(|()| Lock::exclusive(&lock_path)) {
        Ok(lock) => Held { _lock: Some(lock), writable: true },
        Err(err) if is_read_only(&err) => Held { _lock: Lock::shared(&lock_path).ok(), writable: false },
        Err(err) => return Err(cache_err(&lock_path, err.to_string())),
    };
    // The cache's top is `fetchgit-date`, two levels above the cache root (`.../v1/git`).
    let top = root.parent().and_then(Path::parent).unwrap_or(root);
    if let Some(reason) = crate::cache_trust::untrusted_chain(top, dir).or_else(|| crate::cache_trust::untrusted_chain(top, &lock_path)) {
        return Err(cache_err(dir, format!("refusing the cache repository: {reason}; {}", crate::cache_trust::HINT)));
    }
    let damage = if dir.join("HEAD").is_file() { repository_damage(dir) } else { Some("it is missing".to_owned()) };
    match (damage, held.writable) {
        (None, _) => Ok(held),
        (Some(damage), true) => {
            if dir.exists() {
                eprintln!("fetchgit-date: warning: the cache repository {} is damaged ({damage}): re-creating it", dir.display());
            }
            init_bare(dir).map_err(|e| cache_err(dir, e.to_string()))?;
            Ok(held)
        }
        (Some(damage), false) => Err(cache_err(dir, format!("the cache is read-only and this repository cannot be used: {damage}"))),
    }
}

/// What is wrong with the cache repository `dir`, if anything.
fn repository_damage(dir: &Path) -> Option<String> {
    for file in REPOSITORY_FILES {
        let Ok(meta) = std::fs::symlink_metadata(dir.join(file)) else { continue };
        if *file == "objects/info/alternates" {
            return Some("it has alternates, which a cache repository never has".to_owned());
        }
        if !meta.file_type().is_file() {
            return Some(format!("'{file}' is not a regular file"));
        }
    }
    // git refuses a directory whose HEAD is not a ref or an id as a repository; gix opens it.
    let head = crate::cache::read_regular_file(&dir.join("HEAD"), 4096).ok().flatten().unwrap_or_default();
    let head = String::from_utf8_lossy(&head);
    let head = head.trim_end();
    if !(head.strip_prefix("ref: refs/").is_some_and(|name| !name.is_empty()) || ObjectId::from_hex(head.as_bytes()).is_ok()) {
        return Some("HEAD is neither a ref nor a commit id".to_owned());
    }
    open_cache(dir).err().map(|e| printable(&error_chain(&e)))
}

fn is_read_only(err: &std::io::Error) -> bool {
    err.kind() == std::io::ErrorKind::PermissionDenied || err.raw_os_error() == Some(rustix::io::Errno::ROFS.raw_os_error())
}

/// A `flock(2)` on a file, released when dropped or when the process dies.
struct Lock {
    _file: std::fs::File,
}

impl Lock {
    /// An exclusive lock, creating the lock file when needed. A lock file that is not a regular
    /// file (a FIFO would block the open) is replaced.
    fn exclusive(path: &Path) -> std::io::Result<Lock> {
        use rustix::fs::{Mode, OFlags};
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let open = || rustix::fs::open(path, flags, Mode::from_raw_mode(0o644)).map(std::fs::File::from);
        let file = match open() {
            Ok(file) if file.metadata()?.is_file() => file,
            Ok(_) | Err(rustix::io::Errno::LOOP | rustix::io::Errno::NXIO | rustix::io::Errno::ISDIR) => {
                match std::fs::symlink_metadata(path) {
                    Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path)?,
                    _ => std::fs::remove_file(path)?,
                }
                open()?
            }
            Err(err) => return Err(err.into()),
        };
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive).map_err(std::io::Error::from)?;
        Ok(Lock { _file: file })
    }

    /// A shared lock on an existing regular lock file, for reading a cache we cannot write.
    fn shared(path: &Path) -> std::io::Result<Lock> {
        use rustix::fs::{Mode, OFlags};
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let file = std::fs::File::from(rustix::fs::open(path, flags, Mode::empty())?);
        if !file.metadata()?.is_file() {
            return Err(std::io::Error::other("the lock file is not a regular file"));
        }
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockShared).map_err(std::io::Error::from)?;
        Ok(Lock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_stay_out_of_urls_messages_and_file_names() {
        let with = RemoteUrl::new("https", "user:s3cret@example.org/r.git").expect("valid");
        let without = RemoteUrl::new("https", "example.org/r.git").expect("valid");
        assert_eq!(format!("{with:?} {with}"), "RemoteUrl(\"https://example.org/r.git\") https://example.org/r.git");
        assert_eq!(with.fetch_url, "https://example.org/r.git", "gix never sees the credentials");
        let decoded = RemoteUrl::new("https", "us%65r:s3%63ret@example.org/r.git").expect("valid");
        assert!(decoded.credentials == with.credentials, "credentials are percent-decoded as git decodes them");
        assert_eq!(decoded.cache_key(), with.cache_key());
        // A URL shares its cache only with the same credentials, as Nix keys its cache.
        let other = RemoteUrl::new("https", "user:other@example.org/r.git").expect("valid");
        let user_only = RemoteUrl::new("https", "user@example.org/r.git").expect("valid");
        let keys = [with.cache_key(), without.cache_key(), other.cache_key(), user_only.cache_key()];
        for (i, a) in keys.iter().enumerate() {
            assert!(!a.contains("s3cret") && a.len() == 64);
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(without.cache_key(), hex(&Sha256::digest(b"https://example.org/r.git")), "caches without credentials keep their names");
        // ssh keeps its user for ssh, never a password; git:// has no authentication.
        let ssh = RemoteUrl::new("ssh", "git@example.org/r.git").expect("valid");
        assert_eq!((ssh.fetch_url.as_str(), ssh.redacted()), ("ssh://git@example.org/r.git", "ssh://example.org/r.git"));
        for (scheme, rest) in [("ssh", "git:pw@example.org/r.git"), ("git", "zorro@example.org/r.git")] {
            match RemoteUrl::new(scheme, rest) {
                Err(err @ UrlError::UnusedCredentials { .. }) => assert!(!err.to_string().contains("pw") && !err.to_string().contains("zorro"), "{err}"),
                other => panic!("{rest}: {other:?}"),
            }
        }
    }

    /// Passwords with characters that end the host for git (`/`, `?`, `#`) or that another parser
    /// splits elsewhere (`@`) never appear in an error, and short secrets are not searched for
    /// in messages at all (which would turn "Transport" into "Trans***ort").
    #[test]
    fn urls_that_split_ambiguously_are_refused_without_their_secret() {
        for (rest, expected) in [
            ("alyx:Zq/9w@host/repo", "https://***@host/repo"),
            ("alyx:Zq?9w@host/repo", "https://***@host/repo"),
            ("alyx:Zq#9w@host/repo", "https://***@host/repo"),
            ("alyx:Zq@9w@host/repo", "https://***@host/repo"),
            ("al@yx:Zq9w@host/repo", "https://***@host/repo"),
        ] {
            let err = RemoteUrl::new("https", rest).expect_err(rest);
            let text = err.to_string();
            assert!(text.contains(&format!("'{expected}'")), "{rest}: {text}");
            for secret in ["Zq", "9w", "alyx", "yx:"] {
                assert!(!text.contains(secret), "{rest}: {text}");
            }
            assert_eq!(crate::location::redact(&format!("https://{rest}")), expected);
        }
        assert!(matches!(RemoteUrl::new("https", "host:12ab/r"), Err(UrlError::BadPort { .. })));
        assert!(matches!(RemoteUrl::new("https", "host:99999/r"), Err(UrlError::BadPort { .. })));
        for ok in ["host:8080/r", "host:/r", "[::1]:8080/r", "[::1]/r", "u:p%2Fq@host/r", "host/path@with/at"] {
            assert!(RemoteUrl::new("https", ok).is_ok(), "{ok}");
        }
        let encoded = RemoteUrl::new("https", "alice:pa%2Fss@host/repo").expect("an encoded '/' is fine");
        assert_eq!(encoded.credentials.as_ref().and_then(|c| c.password.as_deref()), Some("pa/ss"));
        assert_eq!(encoded.redacted(), "https://host/repo");
        let short = RemoteUrl::new("https", "u:p@host/r").expect("valid");
        let err = classify(&short, "Transport error: p".into(), None);
        assert!(err.to_string().contains("Transport error: p"), "messages are not searched for secrets: {err}");
    }

    /// Regression: a refused connection to port 42403 was reported as an authentication
    /// failure because the port contains "403".
    #[test]
    fn numbers_and_words_inside_urls_do_not_classify() {
        let url = RemoteUrl::new("https", "ssl.example.org:42403/tools/r.git").expect("valid");
        let err = classify(&url, "error sending request for url (https://ssl.example.org:42403/tools/r.git/info/refs): tcp connect error: Connection refused (os error 111)".into(), None);
        assert!(matches!(err, RemoteError::Unreachable { .. }), "{err:?}");
        let err = classify(&url, "request to https://ssl.example.org:42403/r.git failed with HTTP status 403".into(), None);
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
