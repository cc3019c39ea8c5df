//! Git LFS contents, as Nix >= 2.27 puts them in a fetchGit tree with `lfs = true`
//! (`src/libfetchers/git-lfs-fetch.cc`): every file (and symlink) whose `filter` attribute is
//! `lfs` and whose blob is a valid pointer is replaced by the object the pointer names, fetched
//! through the LFS batch API and checked against the pointer's `oid` (SHA-256) and `size`.
//! [`LfsFetcher`] is the [`crate::export::Smudge`] hook the export calls for those files.
//!
//! Nix's rules, kept exactly because they decide the NAR:
//! - a blob of 1024 bytes or more is kept as it is (with a warning), and so is one that is not a
//!   pointer: it must start with `version https://git-lfs.github.com/spec/v1`, and its
//!   `\n`-separated lines give `oid sha256:<64 hex digits>` and `size <digits>` (the last of
//!   each wins; other lines are extensions and ignored; a `\r` makes the line invalid);
//! - an oid in upper-case hex never matches the lower-case digest Nix computes: an error;
//! - the server's `oid`/`size` for the object must be the pointer's.
//!
//! Objects are cached per oid under `$XDG_CACHE_HOME/fetchgit-date/v1/lfs/`, written to a
//! temporary file while hashed and renamed into place only once size and digest match. A cached
//! object is re-hashed before use (a corrupt one is removed and fetched again), and hashed again
//! while it is streamed into the NAR, so the bytes exported are always the pointer's. Memory is
//! one buffer, whatever the object's size.
//!
//! The endpoint, first found wins (git-lfs's order): `lfs.url` in the repository's git
//! configuration; `lfs.url` in the commit's `.lfsconfig`; the remote URL (a remote fetch's URL, or
//! a local repository's `remote.origin.url`) with `.git/info/lfs` appended as Nix does
//! (`https://host/owner/repo` → `https://host/owner/repo.git/info/lfs`). For `ssh://` and
//! `user@host:path` remotes, `ssh [user@]host git-lfs-authenticate PATH download` gives the
//! endpoint and its `Authorization` header. Credentials in an http(s) URL are sent as HTTP Basic
//! authentication to the batch API; downloads send the headers the batch response names.
//!
//! ### Deviation
//! - Nix appends `/info/lfs` to `lfs.url` too (and reads no `.lfsconfig`); we use `lfs.url` as the
//!   endpoint itself, as git-lfs does. Where objects come from never changes the result: every
//!   object is checked against its pointer.
//! - Nix sends only the `Authorization` header of a download action; we send all its headers, as
//!   the LFS API specifies.
//! - Nix caches objects per (path, oid) and does not re-check them; we cache per oid and re-check.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use gix::bstr::BStr;
use sha2::{Digest, Sha256};

use crate::export::{Smudge, Smudged, SmudgedContentError, MAX_SMUDGE_INPUT};

/// Blobs this long or longer are never pointers (Nix's limit): all the export hands a smudge.
pub const MAX_POINTER_SIZE: usize = MAX_SMUDGE_INPUT;

/// How long a network read or the ssh handshake may stall.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A Git LFS pointer: which object replaces the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    /// The object's SHA-256, 64 hex digits as written in the pointer.
    pub oid: String,
    /// The object's size in bytes.
    pub size: u64,
}

/// What a blob with `filter=lfs` turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PointerParse {
    /// A pointer: the file becomes the object.
    Pointer(Pointer),
    /// 1024 bytes or more: kept as it is.
    TooLarge,
    /// Not a pointer: kept as it is.
    Invalid,
}

/// Reads a blob as Nix's `parseLfsPointer` does.
pub fn parse_pointer(blob: &[u8]) -> PointerParse {
    if blob.len() >= MAX_POINTER_SIZE {
        return PointerParse::TooLarge;
    }
    let Ok(text) = std::str::from_utf8(blob) else {
        return PointerParse::Invalid;
    };
    if !text.starts_with("version https://git-lfs.github.com/spec/v1") {
        return PointerParse::Invalid;
    }
    let (mut oid, mut size) = ("", "");
    for line in text.split('\n').filter(|line| !line.is_empty()) {
        if let Some(value) = line.strip_prefix("oid sha256:") {
            oid = value;
        } else if let Some(value) = line.strip_prefix("size ") {
            size = value;
        }
    }
    let valid_oid = oid.len() == 64 && oid.bytes().all(|b| b.is_ascii_hexdigit());
    let valid_size = !size.is_empty() && size.bytes().all(|b| b.is_ascii_digit());
    match (valid_oid, valid_size, size.parse::<u64>()) {
        (true, true, Ok(size)) => PointerParse::Pointer(Pointer { oid: oid.to_owned(), size }),
        _ => PointerParse::Invalid,
    }
}

/// Why an LFS object could not be had.
#[derive(Debug, thiserror::Error)]
pub enum LfsError {
    /// No endpoint could be derived.
    #[error("no Git LFS endpoint for this repository: {0}; set lfs.url in its git configuration or .lfsconfig")]
    NoEndpoint(String),
    /// The pointer's size is too large for this Nix (its `stoul`).
    #[error("the pointer's size {0} is out of range")]
    SizeOutOfRange(String),
    /// An upper-case oid: Nix compares it with a lower-case digest, which never matches.
    #[error("the pointer's oid {0} is in upper-case hex; Nix compares it with the lower-case SHA-256 and always reports a hash mismatch")]
    UpperCaseOid(String),
    /// The server or the network failed.
    #[error("{what} {url}: {reason}")]
    Http {
        /// What was asked.
        what: &'static str,
        /// The URL, without credentials.
        url: String,
        /// What happened.
        reason: String,
    },
    /// The batch response is not what the LFS API specifies.
    #[error("bad response from {url}: {reason}")]
    BadResponse {
        /// The batch URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The server describes another object than the pointer's.
    #[error("LFS server returned mismatched oid/size (got oid={got_oid} size={got_size}, expected oid={oid} size={size})")]
    Mismatched {
        /// The pointer's oid.
        oid: String,
        /// The pointer's size.
        size: u64,
        /// The server's oid.
        got_oid: String,
        /// The server's size.
        got_size: u64,
    },
    /// The downloaded object has the wrong size.
    #[error("size mismatch while fetching {url}: expected {expected} but got {actual}")]
    SizeMismatch {
        /// The download URL.
        url: String,
        /// The pointer's size.
        expected: u64,
        /// What arrived.
        actual: u64,
    },
    /// The downloaded object has the wrong digest.
    #[error("hash mismatch while fetching {url}: expected sha256:{expected} but got sha256:{actual}")]
    HashMismatch {
        /// The download URL.
        url: String,
        /// The pointer's oid.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// `git-lfs-authenticate` over ssh failed.
    #[error("git-lfs-authenticate on {host} failed: {reason}")]
    Ssh {
        /// The host.
        host: String,
        /// What happened.
        reason: String,
    },
    /// The object cache cannot be used.
    #[error("cannot store the LFS object in '{}': {reason}", path.display())]
    Cache {
        /// The path.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
}

/// The content of an object changed while it was streamed into the NAR (the cache was modified
/// underneath): the export stops rather than hash bytes that are not the pointer's.
#[derive(Debug, thiserror::Error)]
#[error("the LFS object {oid} changed while it was read (a concurrent change of the cache?): fetch again")]
pub struct ObjectError {
    oid: String,
}

/// Where the LFS API of a repository is, before any request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointSource {
    /// An `lfs.url`: the endpoint itself.
    LfsUrl(String),
    /// A git remote URL: the endpoint is derived from it.
    Remote(String),
}

/// Finds the endpoint source of `repo` for `commit` (see the module documentation); `remote` is
/// the URL a remote fetch used, `None` for a local repository.
pub fn endpoint_source(repo: &gix::Repository, commit: gix::ObjectId, remote: Option<&str>) -> Result<EndpointSource, LfsError> {
    // LFS is Nix >= 2.27: the configuration as libgit2 reads it, includes followed.
    let config = crate::repo_config::RepoConfig::load(repo, crate::repo_config::Reader::Libgit2).unwrap_or_default();
    if let Some(url) = config.string("lfs", None, "url").filter(|u| !u.is_empty()) {
        return Ok(EndpointSource::LfsUrl(url.to_string()));
    }
    if let Some(url) = lfsconfig_url(repo, commit) {
        return Ok(EndpointSource::LfsUrl(url));
    }
    if let Some(remote) = remote {
        return Ok(EndpointSource::Remote(remote.to_owned()));
    }
    match config.string("remote", Some("origin"), "url").filter(|u| !u.is_empty()) {
        Some(url) => Ok(EndpointSource::Remote(url.to_string())),
        None => Err(LfsError::NoEndpoint("a local repository without lfs.url needs a remote 'origin'".into())),
    }
}

fn lfsconfig_url(repo: &gix::Repository, commit: gix::ObjectId) -> Option<String> {
    let tree = repo.find_commit(commit).ok()?.tree().ok()?;
    let entry = tree.find_entry(".lfsconfig")?;
    let blob = entry.object().ok()?;
    let file = gix::config::File::from_bytes_no_includes(&blob.data, gix::config::file::Metadata::api(), Default::default()).ok()?;
    file.string("lfs.url").map(|url| url.to_string()).filter(|u| !u.is_empty())
}

/// The batch API's base URL (…/info/lfs) and how to authenticate to it.
#[derive(Debug, Clone)]
struct Api {
    /// Without credentials.
    endpoint: reqwest::Url,
    basic: Option<(String, String)>,
    headers: Vec<(String, String)>,
}

/// Nix's `getLfsApi` for a plain remote: `.git` added to the last path segment unless present,
/// then `info/lfs`.
fn derive_from_remote(url: &reqwest::Url) -> reqwest::Url {
    let mut segments: Vec<String> = url.path_segments().map(|s| s.map(str::to_owned).collect()).unwrap_or_default();
    while segments.last().is_some_and(|s| s.is_empty()) {
        segments.pop();
    }
    match segments.last_mut() {
        Some(last) if !last.ends_with(".git") => last.push_str(".git"),
        Some(_) => {}
        None => segments.push(".git".to_owned()),
    }
    segments.extend(["info".to_owned(), "lfs".to_owned()]);
    let mut endpoint = url.clone();
    endpoint.set_path(&segments.join("/"));
    endpoint.set_query(None);
    endpoint.set_fragment(None);
    endpoint
}

/// Splits credentials off an http(s) URL.
fn without_credentials(mut url: reqwest::Url) -> (reqwest::Url, Option<(String, String)>) {
    let decode = |s: &str| crate::url::percent_decode(s);
    let basic = (!url.username().is_empty()).then(|| (decode(url.username()), decode(url.password().unwrap_or(""))));
    let _ = url.set_username("");
    let _ = url.set_password(None);
    (url, basic)
}

/// `ssh://[user@]host[:port]/path` or `[user@]host:path`: (login, port, path as Nix passes it).
fn ssh_parts(url: &str) -> Option<(String, Option<u16>, String)> {
    if let Some(rest) = url.strip_prefix("ssh://") {
        let parsed = reqwest::Url::parse(&format!("ssh://{rest}")).ok()?;
        let host = parsed.host_str()?.to_owned();
        let login = if parsed.username().is_empty() { host } else { format!("{}@{host}", parsed.username()) };
        return Some((login, parsed.port(), crate::url::percent_decode(parsed.path())));
    }
    if url.contains("://") {
        return None;
    }
    let (login, path) = url.split_once(':')?;
    (!login.contains('/')).then(|| (login.to_owned(), None, format!("/{}", path.trim_start_matches('/'))))
}

/// Fetches LFS objects for one export: the [`Smudge`] hook.
pub struct LfsFetcher {
    source: Result<EndpointSource, String>,
    api: Option<Api>,
    cache_dir: Option<PathBuf>,
    client: Option<reqwest::blocking::Client>,
    /// Objects downloaded (not taken from the cache).
    pub downloaded: u64,
}

impl LfsFetcher {
    /// A fetcher for objects of the repository whose endpoint `source` gives (an error is
    /// reported only if an object is needed), caching them under `cache`'s directory.
    pub fn new(source: Result<EndpointSource, LfsError>, cache: &crate::cache::Cache) -> LfsFetcher {
        LfsFetcher { source: source.map_err(|err| err.to_string()), api: None, cache_dir: cache.dir().map(|dir| dir.join("lfs")), client: None, downloaded: 0 }
    }

    fn client(&mut self) -> Result<reqwest::blocking::Client, LfsError> {
        if let Some(client) = &self.client {
            return Ok(client.clone());
        }
        let client = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .timeout(IDLE_TIMEOUT)
            .user_agent(concat!("fetchgit-date/", env!("CARGO_PKG_VERSION"), " git-lfs/3"))
            .build()
            .map_err(|err| LfsError::Http { what: "cannot set up HTTP for", url: "Git LFS".into(), reason: crate::error_chain(&err) })?;
        self.client = Some(client.clone());
        Ok(client)
    }

    fn api(&mut self) -> Result<Api, LfsError> {
        if let Some(api) = &self.api {
            return Ok(api.clone());
        }
        let source = self.source.clone().map_err(LfsError::NoEndpoint)?;
        let api = match source {
            EndpointSource::LfsUrl(url) => http_api(&url, false)?,
            EndpointSource::Remote(url) => match ssh_parts(&url) {
                Some((login, port, path)) => ssh_authenticate(&login, port, &path)?,
                None => http_api(&url, true)?,
            },
        };
        self.api = Some(api.clone());
        Ok(api)
    }

    /// The object `pointer` names, from the cache or the server, as a verified file.
    fn object(&mut self, pointer: &Pointer) -> Result<std::fs::File, LfsError> {
        if let Some(path) = self.cache_path(&pointer.oid) {
            match open_verified(&path, pointer) {
                Ok(Some(file)) => return Ok(file),
                Ok(None) => {}
                Err(reason) => {
                    eprintln!("fetchgit-date: warning: cached LFS object {} is corrupt ({reason}); fetching it again", path.display());
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        self.download(pointer)
    }

    fn cache_path(&self, oid: &str) -> Option<PathBuf> {
        Some(self.cache_dir.as_ref()?.join(&oid[..2]).join(oid))
    }

    fn download(&mut self, pointer: &Pointer) -> Result<std::fs::File, LfsError> {
        let api = self.api()?;
        let client = self.client()?;
        let batch_url = format!("{}/objects/batch", api.endpoint.as_str().trim_end_matches('/'));
        let body = serde_json::json!({
            "operation": "download",
            "transfers": ["basic"],
            "objects": [{"oid": pointer.oid, "size": pointer.size}],
        });
        let mut request = client
            .post(&batch_url)
            .header("Accept", "application/vnd.git-lfs+json")
            .header("Content-Type", "application/vnd.git-lfs+json")
            .body(body.to_string());
        if let Some((user, password)) = &api.basic {
            request = request.basic_auth(user, Some(password));
        }
        for (name, value) in &api.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = send(request, "Git LFS batch request to", &batch_url)?;
        let mut text = String::new();
        response.take(1 << 20).read_to_string(&mut text).map_err(|err| LfsError::Http {
            what: "cannot read the batch response of",
            url: batch_url.clone(),
            reason: err.to_string(),
        })?;
        let action = download_action(&text, pointer).map_err(|reason| match reason {
            ActionError::Mismatched(err) => err,
            ActionError::Bad(reason) => LfsError::BadResponse { url: batch_url.clone(), reason },
        })?;
        let mut request = client.get(&action.href);
        for (name, value) in &action.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let href = crate::url::redact(&action.href);
        let mut response = send(request, "cannot download LFS object from", &href)?;
        let (mut file, tmp) = self.temporary(&pointer.oid)?;
        let cache_err = |path: &Path, err: &dyn std::fmt::Display| LfsError::Cache { path: path.to_owned(), reason: err.to_string() };
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut received = 0u64;
        loop {
            let n = match response.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    tmp.discard();
                    return Err(LfsError::Http { what: "download interrupted from", url: href, reason: err.to_string() });
                }
            };
            received += n as u64;
            if received > pointer.size {
                tmp.discard();
                return Err(LfsError::SizeMismatch { url: href, expected: pointer.size, actual: received });
            }
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n]).map_err(|e| cache_err(&tmp.path, &e))?;
        }
        let digest = data_encoding::HEXLOWER.encode(&hasher.finalize());
        if received != pointer.size {
            tmp.discard();
            return Err(LfsError::SizeMismatch { url: href, expected: pointer.size, actual: received });
        }
        if digest != pointer.oid {
            tmp.discard();
            return Err(LfsError::HashMismatch { url: href, expected: pointer.oid.clone(), actual: digest });
        }
        file.sync_data().map_err(|e| cache_err(&tmp.path, &e))?;
        self.downloaded += 1;
        tmp.keep(self.cache_path(&pointer.oid).as_deref()).map_err(|e| cache_err(&tmp.path, &e))?;
        use std::io::Seek;
        file.rewind().map_err(|e| cache_err(&tmp.path, &e))?;
        Ok(file)
    }

    /// A new file for a download: next to its cache entry, or (without a cache) in the
    /// temporary directory, unlinked once done.
    fn temporary(&self, oid: &str) -> Result<(std::fs::File, Temporary), LfsError> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = match self.cache_path(oid) {
            Some(path) => path.parent().expect("cache entries live in a directory").to_owned(),
            None => std::env::temp_dir(),
        };
        std::fs::create_dir_all(&dir).map_err(|err| LfsError::Cache { path: dir.clone(), reason: err.to_string() })?;
        loop {
            let path = dir.join(format!(".tmp-lfs-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)));
            match std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&path) {
                Ok(file) => return Ok((file, Temporary { path })),
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(err) => return Err(LfsError::Cache { path, reason: err.to_string() }),
            }
        }
    }
}

/// A temporary download file: renamed into the cache, or removed.
struct Temporary {
    path: PathBuf,
}

impl Temporary {
    fn discard(&self) {
        let _ = std::fs::remove_file(&self.path);
    }

    fn keep(&self, target: Option<&Path>) -> std::io::Result<()> {
        match target {
            Some(target) => std::fs::rename(&self.path, target).inspect_err(|_| self.discard()),
            // No cache: the open file stays readable after the name is gone.
            None => std::fs::remove_file(&self.path),
        }
    }
}

impl Smudge for LfsFetcher {
    fn smudge(&mut self, path: &BStr, blob: &[u8]) -> Result<Option<Smudged>, String> {
        let pointer = match parse_pointer(blob) {
            PointerParse::Pointer(pointer) => pointer,
            PointerParse::TooLarge => {
                eprintln!("fetchgit-date: warning: encountered file '{path}' that should have been a git-lfs pointer, but is too large");
                return Ok(None);
            }
            PointerParse::Invalid => {
                if let Some(size) = oversized_size(blob) {
                    return Err(LfsError::SizeOutOfRange(size).to_string());
                }
                eprintln!("fetchgit-date: warning: encountered file '{path}' that should have been a git-lfs pointer, but is invalid");
                return Ok(None);
            }
        };
        if pointer.oid.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(LfsError::UpperCaseOid(pointer.oid).to_string());
        }
        let file = self.object(&pointer).map_err(|err| err.to_string())?;
        let reader = VerifyingReader { file, hasher: Sha256::new(), read: 0, pointer: pointer.clone(), checked: false };
        Ok(Some(Smudged { size: pointer.size, reader: Box::new(reader) }))
    }
}

/// A pointer that is valid but for a size beyond `u64`: Nix's `std::stoul` throws on it.
fn oversized_size(blob: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(blob).ok()?;
    if !text.starts_with("version https://git-lfs.github.com/spec/v1") {
        return None;
    }
    let size = text.split('\n').filter_map(|l| l.strip_prefix("size ")).next_back()?;
    let oid = text.split('\n').filter_map(|l| l.strip_prefix("oid sha256:")).next_back()?;
    let valid = oid.len() == 64 && oid.bytes().all(|b| b.is_ascii_hexdigit()) && !size.is_empty() && size.bytes().all(|b| b.is_ascii_digit());
    (valid && size.parse::<u64>().is_err()).then(|| size.to_owned())
}

/// Hashes a cached object; `Ok(None)` when there is none, `Err` when it is corrupt.
fn open_verified(path: &Path, pointer: &Pointer) -> Result<Option<std::fs::File>, String> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err.to_string()),
    };
    let mut hasher = Sha256::new();
    let copied = std::io::copy(&mut file, &mut hasher).map_err(|err| err.to_string())?;
    if copied != pointer.size {
        return Err(format!("{copied} bytes instead of {}", pointer.size));
    }
    let digest = data_encoding::HEXLOWER.encode(&hasher.finalize());
    if digest != pointer.oid {
        return Err(format!("sha256 {digest}"));
    }
    use std::io::Seek;
    file.rewind().map_err(|err| err.to_string())?;
    Ok(Some(file))
}

/// Streams an object and fails at its end unless it is still the pointer's.
struct VerifyingReader {
    file: std::fs::File,
    hasher: Sha256,
    read: u64,
    pointer: Pointer,
    checked: bool,
}

impl Read for VerifyingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let changed = || std::io::Error::other(SmudgedContentError(ObjectError { oid: self.pointer.oid.clone() }.to_string()));
        let n = self.file.read(buf)?;
        self.read += n as u64;
        if self.read > self.pointer.size {
            return Err(changed());
        }
        self.hasher.update(&buf[..n]);
        if n == 0 && !self.checked {
            self.checked = true;
            let digest = data_encoding::HEXLOWER.encode(&std::mem::take(&mut self.hasher).finalize());
            if self.read != self.pointer.size || digest != self.pointer.oid {
                return Err(changed());
            }
        }
        Ok(n)
    }
}

fn http_api(url: &str, derive: bool) -> Result<Api, LfsError> {
    let parsed = reqwest::Url::parse(url).map_err(|err| LfsError::NoEndpoint(format!("'{}' is not a URL ({err})", crate::url::redact(url))))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(LfsError::NoEndpoint(format!("'{}' is neither http(s) nor ssh", crate::url::redact(url))));
    }
    let (parsed, basic) = without_credentials(parsed);
    let endpoint = if derive { derive_from_remote(&parsed) } else { parsed };
    Ok(Api { endpoint, basic, headers: Vec::new() })
}

/// `ssh LOGIN git-lfs-authenticate PATH download`, as Nix runs it; `GIT_SSH` may name the
/// program (run directly, never through a shell).
fn ssh_authenticate(login: &str, port: Option<u16>, path: &str) -> Result<Api, LfsError> {
    let fail = |reason: String| LfsError::Ssh { host: login.to_owned(), reason };
    if login.starts_with('-') || path.starts_with('-') {
        return Err(fail("refusing a host or path that starts with '-'".into()));
    }
    let program = std::env::var_os("GIT_SSH").filter(|p| !p.is_empty()).unwrap_or_else(|| "ssh".into());
    let mut command = std::process::Command::new(program);
    command.args(["-o", "BatchMode=yes"]);
    if let Some(port) = port {
        command.arg(format!("-p{port}"));
    }
    command.args([login, "--", "git-lfs-authenticate", path, "download"]);
    let output = run_bounded(command).map_err(fail)?;
    let reply: serde_json::Value = serde_json::from_slice(&output).map_err(|err| fail(format!("its answer is not JSON ({err})")))?;
    let href = reply.get("href").and_then(|h| h.as_str()).ok_or_else(|| fail("no href in its answer".into()))?;
    let endpoint = reqwest::Url::parse(href).map_err(|err| fail(format!("href is not a URL ({err})")))?;
    let headers = string_map(reply.get("header"));
    if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("authorization")) {
        return Err(fail("no Authorization in its answer".into()));
    }
    Ok(Api { endpoint, basic: None, headers })
}

/// Runs `command` with no stdin, returning its stdout; fails when it exits non-zero or takes
/// longer than [`IDLE_TIMEOUT`].
fn run_bounded(mut command: std::process::Command) -> Result<Vec<u8>, String> {
    use std::process::Stdio;
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(|err| err.to_string())?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.by_ref().take(1 << 20).read_to_end(&mut bytes);
        bytes
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.by_ref().take(1 << 16).read_to_end(&mut bytes);
        bytes
    });
    let deadline = std::time::Instant::now() + IDLE_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("no answer within {} s", IDLE_TIMEOUT.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).split_whitespace().collect::<Vec<_>>().join(" ");
    if !status.success() {
        return Err(format!("{status}: {stderr}"));
    }
    Ok(stdout)
}

fn send(request: reqwest::blocking::RequestBuilder, what: &'static str, url: &str) -> Result<reqwest::blocking::Response, LfsError> {
    let response = request.send().map_err(|err| LfsError::Http { what, url: url.to_owned(), reason: crate::error_chain(&err) })?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let hint = match status.as_u16() {
        401 | 403 => ": authentication failed; put the credentials in the repository URL or check them",
        404 => ": no such object or endpoint",
        _ => "",
    };
    Err(LfsError::Http { what, url: url.to_owned(), reason: format!("HTTP {status}{hint}") })
}

struct Action {
    href: String,
    headers: Vec<(String, String)>,
}

enum ActionError {
    Mismatched(LfsError),
    Bad(String),
}

/// The download action for `pointer` in a batch response.
fn download_action(text: &str, pointer: &Pointer) -> Result<Action, ActionError> {
    let bad = |reason: &str| ActionError::Bad(reason.to_owned());
    let reply: serde_json::Value = serde_json::from_str(text).map_err(|err| ActionError::Bad(format!("not JSON ({err})")))?;
    let object = reply.get("objects").and_then(|o| o.as_array()).and_then(|o| o.first()).ok_or_else(|| bad("response does not contain 'objects'"))?;
    if let Some(error) = object.get("error") {
        let message = error.get("message").and_then(|m| m.as_str()).unwrap_or("no message");
        let code = error.get("code").map(|c| c.to_string()).unwrap_or_default();
        return Err(ActionError::Bad(format!("object {}: {message} (code {code})", pointer.oid)));
    }
    let got_oid = object.get("oid").and_then(|o| o.as_str()).ok_or_else(|| bad("an object without 'oid'"))?;
    let got_size = object.get("size").and_then(|s| s.as_u64()).ok_or_else(|| bad("an object without 'size'"))?;
    if got_oid != pointer.oid || got_size != pointer.size {
        return Err(ActionError::Mismatched(LfsError::Mismatched { oid: pointer.oid.clone(), size: pointer.size, got_oid: got_oid.to_owned(), got_size }));
    }
    let download = object.pointer("/actions/download").ok_or_else(|| bad("no download action for the object"))?;
    let href = download.get("href").and_then(|h| h.as_str()).ok_or_else(|| bad("a download action without 'href'"))?;
    Ok(Action { href: href.to_owned(), headers: string_map(download.get("header")) })
}

fn string_map(value: Option<&serde_json::Value>) -> Vec<(String, String)> {
    value.and_then(|h| h.as_object()).map(|map| map.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect()).unwrap_or_default()
}

/// The Git LFS pointer files (with `filter=lfs`) a modern `lfs = true` export of `commit`
/// would replace, replacing none and fetching nothing; `None` when the export fails.
pub fn pointer_files(repo: &gix::Repository, commit: gix::ObjectId, export_ignore: bool) -> Option<Vec<gix::bstr::BString>> {
    /// Lists the pointer files it is shown, replacing none.
    struct Probe(Vec<gix::bstr::BString>);
    impl Smudge for Probe {
        fn smudge(&mut self, path: &BStr, blob: &[u8]) -> Result<Option<Smudged>, String> {
            if matches!(parse_pointer(blob), PointerParse::Pointer(_)) {
                self.0.push(path.to_owned());
            }
            Ok(None)
        }
    }
    let mut probe = Probe(Vec::new());
    let options = crate::export::ExportOptions { generation: crate::nix_version::Generation::Modern, export_ignore, lfs: true, submodules: false };
    crate::export::nar_hash_with(repo, commit, options, crate::export::Hooks { smudge: Some(&mut probe), submodules: None }).ok().map(|_| probe.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OID: &str = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393";

    #[test]
    fn pointers_are_read_as_nix_reads_them() {
        let pointer = format!("version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\nsize 12345\n");
        assert_eq!(parse_pointer(pointer.as_bytes()), PointerParse::Pointer(Pointer { oid: OID.into(), size: 12345 }));
        let extended = format!("version https://git-lfs.github.com/spec/v1\next-0-foo sha256:{OID}\n\noid sha256:{OID}\nsize 7");
        assert_eq!(parse_pointer(extended.as_bytes()), PointerParse::Pointer(Pointer { oid: OID.into(), size: 7 }));
        let crlf = pointer.replace('\n', "\r\n");
        assert_eq!(parse_pointer(crlf.as_bytes()), PointerParse::Invalid);
        assert_eq!(parse_pointer(format!("version https://example/v2\noid sha256:{OID}\nsize 1\n").as_bytes()), PointerParse::Invalid);
        assert_eq!(parse_pointer(format!("version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize 1\n", &OID[1..]).as_bytes()), PointerParse::Invalid);
        assert_eq!(parse_pointer(format!("version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\nsize -1\n").as_bytes()), PointerParse::Invalid);
        assert_eq!(parse_pointer(&vec![b'v'; MAX_POINTER_SIZE]), PointerParse::TooLarge);
    }

    #[test]
    fn endpoints_follow_nix_get_lfs_api() {
        let derive = |url: &str| derive_from_remote(&reqwest::Url::parse(url).expect("url")).to_string();
        assert_eq!(derive("https://example.org/NixOS/nix"), "https://example.org/NixOS/nix.git/info/lfs");
        assert_eq!(derive("https://example.org/NixOS/nix/"), "https://example.org/NixOS/nix.git/info/lfs");
        assert_eq!(derive("https://example.org/NixOS/nix.git"), "https://example.org/NixOS/nix.git/info/lfs");
        assert_eq!(derive("http://127.0.0.1:8080/"), "http://127.0.0.1:8080/.git/info/lfs");
        let api = http_api("https://alice:p%2Fss@example.org/r", true).expect("http");
        assert_eq!(api.endpoint.as_str(), "https://example.org/r.git/info/lfs");
        assert_eq!(api.basic, Some(("alice".into(), "p/ss".into())));
        assert_eq!(ssh_parts("git@example.org:owner/repo.git"), Some(("git@example.org".into(), None, "/owner/repo.git".into())));
        assert_eq!(ssh_parts("ssh://git@example.org:2222/owner/repo"), Some(("git@example.org".into(), Some(2222), "/owner/repo".into())));
        assert_eq!(ssh_parts("https://example.org/r"), None);
    }
}
