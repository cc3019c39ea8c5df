//! A cache of results that can never change once computed: the NAR hash of a tree under an
//! export mode, the commit count of a commit, the outcome of a truncation walk from a commit.
//!
//! Entries live under `$XDG_CACHE_HOME/fetchgit-date/v1/<table>/<key>` (default
//! `~/.cache/fetchgit-date`). Each entry is written to a temporary file in the same directory and
//! renamed into place, so readers never see half an entry and concurrent writers of the same key
//! (who write identical values) cannot corrupt it.
//!
//! The cache must never make an answer wrong, so an entry is only believed when it proves it is
//! whole and was written by this cache: its second line is an HMAC-SHA256 of its table, key and
//! value under the cache's own secret (`<cache>/v1/entry-key`, 32 random bytes, mode 0600,
//! created with the first entry; see [`authenticator`]). An entry that is not a small regular
//! file, is too long, or does not match its authenticator is reported with a warning, removed
//! and recomputed; so is a forged one, even with a correct public checksum (the unkeyed SHA-256
//! of the previous format), and an entry copied from another cache. An entry of the previous
//! format (`sha256:` line) is recomputed silently, so an upgrade does not warn once per entry.
//! Callers check what they can of the value itself at a cost that does not grow with history
//! (a truncation entry against its boundary and start commit, [`crate::recheck`]) and
//! [`Cache::discard`] what fails.
//!
//! Why a secret rather than re-deriving the value: deciding that a truncation entry's commit is
//! where the walk lands needs a walk over the history the entry skips (a commit's ancestry is a
//! hash-linked list: without an index, every commit between start and answer must be read to
//! confirm it), which is the cost the cache exists to save. The secret moves the trust to the
//! writer: only a process that can read the cache's secret (the cache's owner, who already
//! controls the program) can write an entry that is believed.
//!
//! The cache is only an accelerator: an entry that cannot be written is skipped (a read-only
//! cache is read, never written), one that cannot be used is recomputed.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Version of the on-disk layout; bump it when an entry's meaning changes.
const LAYOUT: &str = "v1";

/// Longest entry file read; every value is far shorter (a NAR hash and size is under 100 bytes).
const MAX_ENTRY_BYTES: u64 = 4096;

/// The file, in the versioned cache directory, holding the secret that authenticates entries.
const SECRET_FILE: &str = "entry-key";

/// Bytes of the secret.
const SECRET_BYTES: usize = 32;

/// Handle to the cache directory, or a disabled cache.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: Option<PathBuf>,
    /// The secret once read (shared by clones; never reset once known).
    secret: std::sync::Arc<std::sync::OnceLock<Secret>>,
}

/// The key of the entries' HMAC. Its `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
struct Secret([u8; SECRET_BYTES]);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A group of entries with one kind of key and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// `<narHash SRI> <narSize>` per export key.
    Nar,
    /// Commit count per commit.
    RevCount,
    /// Truncation result per start commit, boundary and walk mode.
    Truncation,
}

impl Table {
    fn dir_name(self) -> &'static str {
        match self {
            Table::Nar => "nar",
            Table::RevCount => "revcount",
            Table::Truncation => "truncation",
        }
    }
}

impl Cache {
    /// The cache at `$XDG_CACHE_HOME/fetchgit-date` or `$HOME/.cache/fetchgit-date`; disabled
    /// when neither variable is set to an absolute path. A relative `XDG_CACHE_HOME` is ignored,
    /// as the XDG Base Directory specification requires; a relative `HOME` is too, so that the
    /// cache never depends on the current directory.
    pub fn from_environment() -> Cache {
        Cache::from_variables(std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME"))
    }

    /// [`Cache::from_environment`] for the given values of `XDG_CACHE_HOME` and `HOME`.
    pub fn from_variables(xdg_cache_home: Option<std::ffi::OsString>, home: Option<std::ffi::OsString>) -> Cache {
        let absolute = |dir: Option<std::ffi::OsString>| dir.map(PathBuf::from).filter(|dir| dir.is_absolute());
        let base = absolute(xdg_cache_home).or_else(|| absolute(home).map(|home| home.join(".cache")));
        Cache { dir: base.map(|base| base.join("fetchgit-date").join(LAYOUT)), secret: Default::default() }
    }

    /// A cache at `dir` (which is created on first write).
    pub fn at(dir: impl Into<PathBuf>) -> Cache {
        Cache { dir: Some(dir.into().join(LAYOUT)), secret: Default::default() }
    }

    /// A cache that stores nothing.
    pub fn disabled() -> Cache {
        Cache { dir: None, secret: Default::default() }
    }

    /// The versioned cache directory (`.../fetchgit-date/v1`), unless the cache is disabled.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The stored value for `key`, if there is a whole one. A damaged entry is reported on
    /// stderr and removed, and `None` is returned so that the value is recomputed.
    pub fn get(&self, table: Table, key: &str) -> Option<String> {
        let path = self.entry_path(table, key)?;
        if !self.believable(&path) {
            return None;
        }
        // Without a secret nothing in the cache can have been written by it: every entry is
        // recomputed (and the first `put` creates the secret).
        let secret = self.secret(false)?;
        match read_entry(&path, &secret, table, key) {
            Ok(value) => value,
            Err(reason) => {
                self.discard(table, key, &reason);
                None
            }
        }
    }

    /// Whether the entry at `path` can only have been written by us ([`crate::cache_trust`]); if
    /// not, the whole cache is ignored, with one warning.
    fn believable(&self, path: &Path) -> bool {
        let Some(dir) = &self.dir else { return false };
        let top = dir.parent().unwrap_or(dir);
        // A directory found ours stays ours for the life of the process (only we, or root, could
        // change its owner or mode): its chain from `top` is checked once, the entry itself every
        // time. Remembered with its `top`, since a chain checked from a deeper top proves less.
        static TRUSTED_DIRS: std::sync::Mutex<Vec<(PathBuf, PathBuf)>> = std::sync::Mutex::new(Vec::new());
        let trusted_dirs = || TRUSTED_DIRS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let parent = path.parent().filter(|parent| parent.starts_with(top));
        let known = parent.is_some_and(|parent| trusted_dirs().iter().any(|(t, p)| t == top && p == parent));
        let untrusted = if known {
            crate::cache_trust::untrusted(path)
        } else {
            let chain = crate::cache_trust::untrusted_chain(top, path);
            if let (None, Some(parent)) = (&chain, parent) {
                trusted_dirs().push((top.to_owned(), parent.to_owned()));
            }
            chain
        };
        let Some(reason) = untrusted else { return true };
        static WARNED: std::sync::Once = std::sync::Once::new();
        WARNED.call_once(|| eprintln!("fetchgit-date: warning: ignoring the cache {}: {reason}; {}", dir.display(), crate::cache_trust::HINT));
        false
    }

    /// Reports the entry for `key` as wrong (`reason`) on stderr and removes it, so that the
    /// caller recomputes it. For values that are whole but fail the caller's own checks.
    pub fn discard(&self, table: Table, key: &str, reason: &str) {
        let Some(path) = self.entry_path(table, key) else { return };
        let removed = match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(&path),
            Ok(_) => std::fs::remove_file(&path),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(err),
        };
        let outcome = match removed {
            Ok(()) => "removed it".to_owned(),
            Err(err) => format!("could not remove it ({err})"),
        };
        eprintln!("fetchgit-date: warning: cache entry {} is corrupt: {reason}; {outcome}, recomputing the value", path.display());
    }

    /// Stores `value` for `key` atomically, with its checksum. Failures are ignored: the value is
    /// recomputed next time.
    pub fn put(&self, table: Table, key: &str, value: &str) {
        debug_assert!(!value.contains('\n'), "cache values are one line");
        let Some(path) = self.entry_path(table, key) else { return };
        let Some(dir) = path.parent() else { return };
        if !self.believable(dir) || std::fs::create_dir_all(dir).is_err() {
            return;
        }
        let Some(secret) = self.secret(true) else { return };
        let entry = format!("{value}\n{}\n", authenticator(&secret, table, key, value));
        let write = || -> std::io::Result<()> {
            let mut tmp = tempfile_in(dir)?;
            tmp.1.write_all(entry.as_bytes())?;
            tmp.1.sync_data()?;
            std::fs::rename(&tmp.0, &path).inspect_err(|_| {
                let _ = std::fs::remove_file(&tmp.0);
            })
        };
        let _ = write();
    }

    /// The cache's secret: read from [`SECRET_FILE`], or (`create`) made when it is missing or is
    /// not a secret (then every entry made with the old one is refused and recomputed). `None`
    /// when there is none and none can be made (a read-only cache without one, or another
    /// user's: its secret is not readable).
    fn secret(&self, create: bool) -> Option<Secret> {
        if let Some(secret) = self.secret.get() {
            return Some(secret.clone());
        }
        let path = self.dir.as_ref()?.join(SECRET_FILE);
        let read = || match read_regular_file(&path, SECRET_BYTES as u64) {
            Ok(Some(bytes)) => bytes.try_into().ok().map(Secret),
            _ => None,
        };
        let secret = match read() {
            Some(secret) => secret,
            None if create => {
                make_secret(&path).ok()?;
                read()?
            }
            None => return None,
        };
        Some(self.secret.get_or_init(|| secret).clone())
    }

    fn entry_path(&self, table: Table, key: &str) -> Option<PathBuf> {
        debug_assert!(key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        Some(self.dir.as_ref()?.join(table.dir_name()).join(key))
    }
}

/// The second line of an entry: `hmac-sha256:` and the hex HMAC-SHA256, under the cache's
/// secret, of the table, key and value, so that a changed, truncated or misplaced (renamed,
/// copied) entry is recognised, and so is one written by anything that does not hold the secret.
/// (Compared as strings, not in constant time: whoever could time our reads of an entry could
/// already write entries, and so read the secret, as the cache's owner.)
fn authenticator(secret: &Secret, table: Table, key: &str, value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret.0).expect("HMAC takes a key of any length");
    for part in ["fetchgit-date cache entry", table.dir_name(), key, value] {
        mac.update(part.as_bytes());
        mac.update(&[0]);
    }
    let tag = mac.finalize().into_bytes();
    format!("hmac-sha256:{}", tag.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Writes a new random secret to `path`: to a private temporary file first, then linked into
/// place so that concurrent writers agree on one secret (the first link wins; a later one only
/// replaces a file that is not a secret).
fn make_secret(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().expect("the secret is in the cache directory");
    std::fs::create_dir_all(dir)?;
    let mut secret = [0u8; SECRET_BYTES];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut secret)?;
    let (tmp, mut file) = tempfile_in(dir)?;
    let written = (|| {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(&secret)?;
        file.sync_data()?;
        match std::fs::hard_link(&tmp, path) {
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                let whole = matches!(read_regular_file(path, SECRET_BYTES as u64), Ok(Some(bytes)) if bytes.len() == SECRET_BYTES);
                if whole {
                    Ok(())
                } else {
                    std::fs::rename(&tmp, path)
                }
            }
            linked => linked,
        }
    })();
    let _ = std::fs::remove_file(&tmp);
    written
}

/// The value of the entry at `path`: `Ok(None)` when there is none, `Err(why)` when the entry
/// is damaged.
fn read_entry(path: &Path, secret: &Secret, table: Table, key: &str) -> Result<Option<String>, String> {
    let bytes = match read_regular_file(path, MAX_ENTRY_BYTES) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Ok(None),
        Err(err) => return Err(err.to_string()),
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| "it is not UTF-8".to_owned())?;
    let (value, sum) =
        text.strip_suffix('\n').and_then(|body| body.split_once('\n')).ok_or_else(|| "it is not a value line followed by a checksum line".to_owned())?;
    if sum.starts_with("sha256:") && sum.len() == "sha256:".len() + 64 {
        // The previous, unkeyed format: anyone could have written it. Recomputed (and
        // overwritten) without a warning, since every cache had them.
        return Ok(None);
    }
    if sum != authenticator(secret, table, key, value) {
        return Err("its authenticator does not match its key and value under this cache's secret (damaged, forged, or copied from another cache)".to_owned());
    }
    Ok(Some(value.to_owned()))
}

/// The contents of the regular file at `path`, at most `max` bytes; `Ok(None)` when nothing is
/// there. Never follows a symbolic link at `path`, never blocks on a FIFO or device, and never
/// reads more than `max + 1` bytes: anything else is an error saying what the path is.
pub(crate) fn read_regular_file(path: &Path, max: u64) -> std::io::Result<Option<Vec<u8>>> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(rustix::io::Errno::LOOP) => return Err(std::io::Error::other("it is a symbolic link, not a regular file")),
        Err(err) => return Err(err.into()),
    };
    let file = std::fs::File::from(fd);
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() { "a directory" } else { "a special file (FIFO, socket or device)" };
        return Err(std::io::Error::other(format!("it is {what}, not a regular file")));
    }
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::other(format!("it is larger than {max} bytes")));
    }
    Ok(Some(bytes))
}

/// A new file next to the final entry, unique to this process and call.
fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(".tmp-{}-{n}", std::process::id()));
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_overwrite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = Cache::at(dir.path());
        assert_eq!(cache.get(Table::RevCount, "abc"), None);
        cache.put(Table::RevCount, "abc", "12");
        assert_eq!(cache.get(Table::RevCount, "abc").as_deref(), Some("12"));
        cache.put(Table::RevCount, "abc", "12");
        assert_eq!(cache.get(Table::RevCount, "abc").as_deref(), Some("12"));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("v1/revcount"))
            .expect("table dir")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left behind: {leftovers:?}");
    }

    #[test]
    fn concurrent_writers_leave_a_whole_entry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let value = "x".repeat(1000);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    let cache = Cache::at(dir.path());
                    for _ in 0..20 {
                        cache.put(Table::Nar, "key", &value);
                        let read = cache.get(Table::Nar, "key").expect("present after a put");
                        assert_eq!(read, value, "a reader saw a partial entry");
                    }
                });
            }
        });
    }

    #[test]
    fn disabled_cache_stores_nothing() {
        let cache = Cache::disabled();
        cache.put(Table::RevCount, "abc", "1");
        assert_eq!(cache.get(Table::RevCount, "abc"), None);
    }

    /// Every way an entry can be damaged is detected, the entry is removed, and a good value
    /// written afterwards is read back.
    #[test]
    fn damaged_entries_are_detected_and_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = Cache::at(dir.path());
        let value = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU= 120";
        cache.put(Table::Nar, "k", value);
        let path = dir.path().join("v1/nar/k");
        let good = std::fs::read(&path).expect("entry");
        let other_key = {
            cache.put(Table::Nar, "other", value);
            std::fs::read(dir.path().join("v1/nar/other")).expect("entry")
        };
        let flip = |at: usize| {
            let mut bytes = good.clone();
            bytes[at] ^= 0x01;
            bytes
        };
        let damaged: Vec<(&str, Vec<u8>)> = vec![
            ("one value character changed", flip(10)),
            ("one checksum character changed", flip(good.len() - 5)),
            ("truncated", good[..good.len() / 2].to_vec()),
            ("value only, no checksum (the old format)", value.as_bytes().to_vec()),
            ("empty", Vec::new()),
            ("binary garbage", vec![0xff, 0x00, 0x8f, b'\n', 0x01]),
            ("another key's entry", other_key),
            ("too long", vec![b'a'; 10_000]),
        ];
        for (what, bytes) in damaged {
            std::fs::write(&path, &bytes).expect("write");
            assert_eq!(cache.get(Table::Nar, "k"), None, "{what}");
            assert!(!path.exists(), "{what}: the entry was not removed");
            cache.put(Table::Nar, "k", value);
            assert_eq!(cache.get(Table::Nar, "k").as_deref(), Some(value), "{what}: rewritten entry");
        }
        // The same entry in another table is not believed either.
        std::fs::create_dir_all(dir.path().join("v1/revcount")).expect("dir");
        std::fs::write(dir.path().join("v1/revcount/k"), &good).expect("write");
        assert_eq!(cache.get(Table::RevCount, "k"), None);
    }

    /// An entry not written with this cache's secret is never believed, whatever its checksum:
    /// one with the public, unkeyed SHA-256 of the previous format (anyone can compute it), and
    /// a whole, authenticated entry copied from another cache.
    #[test]
    fn forged_entries_with_a_valid_checksum_are_not_believed() {
        use sha2::Digest;
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = Cache::at(dir.path());
        cache.put(Table::Truncation, "k", "0123456789abcdef0123456789abcdef01234567 0");
        let path = dir.path().join("v1/truncation/k");
        let forged_value = "89abcdef0123456789abcdef0123456789abcdef 0";
        let public_checksum = {
            let mut hasher = sha2::Sha256::new();
            for part in ["fetchgit-date cache entry", "truncation", "k", forged_value] {
                hasher.update(part.as_bytes());
                hasher.update([0]);
            }
            hasher.finalize().iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        std::fs::write(&path, format!("{forged_value}\nsha256:{public_checksum}\n")).expect("write");
        assert_eq!(cache.get(Table::Truncation, "k"), None, "an entry with the public checksum was believed");

        let other_dir = tempfile::tempdir().expect("tempdir");
        let other = Cache::at(other_dir.path());
        other.put(Table::Truncation, "k", forged_value);
        assert_eq!(other.get(Table::Truncation, "k").as_deref(), Some(forged_value), "the other cache believes its own entry");
        std::fs::copy(other_dir.path().join("v1/truncation/k"), &path).expect("copy");
        assert_eq!(Cache::at(dir.path()).get(Table::Truncation, "k"), None, "an entry copied from another cache was believed");
        assert!(!path.exists(), "the copied entry was not removed");

        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(dir.path().join("v1").join(SECRET_FILE)).expect("secret").permissions());
        assert_eq!(mode & 0o077, 0, "the secret is readable by others: {mode:o}");
        assert!(!format!("{cache:?}").contains(&format!("{:?}", cache.secret(false).expect("secret").0)), "Debug shows the secret");
    }

    /// A secret that is not one (damaged) is replaced; entries made with the old one are then
    /// refused, and new ones are believed.
    #[test]
    fn a_damaged_secret_is_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        Cache::at(dir.path()).put(Table::RevCount, "a", "3");
        std::fs::write(dir.path().join("v1").join(SECRET_FILE), b"short").expect("write");
        let cache = Cache::at(dir.path());
        assert_eq!(cache.get(Table::RevCount, "a"), None);
        cache.put(Table::RevCount, "a", "3");
        assert_eq!(Cache::at(dir.path()).get(Table::RevCount, "a").as_deref(), Some("3"));
    }

    #[test]
    fn special_files_are_never_read_as_entries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = Cache::at(dir.path());
        cache.put(Table::RevCount, "seed", "1");
        let table = dir.path().join("v1/revcount");
        std::os::unix::fs::symlink("/dev/zero", table.join("zero")).expect("symlink");
        let fifo = table.join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
        assert!(made.success(), "mkfifo failed");
        std::fs::create_dir(table.join("dir")).expect("dir");
        for key in ["zero", "fifo", "dir"] {
            assert_eq!(cache.get(Table::RevCount, key), None, "{key}");
            assert!(std::fs::symlink_metadata(table.join(key)).is_err(), "{key} was not removed");
        }
    }

    #[test]
    fn relative_cache_directories_are_ignored() {
        let os = |s: &str| Some(std::ffi::OsString::from(s));
        let dir = |c: Cache| c.dir().map(Path::to_path_buf);
        assert_eq!(dir(Cache::from_variables(os("/c"), os("/h"))), Some(PathBuf::from("/c/fetchgit-date/v1")));
        assert_eq!(dir(Cache::from_variables(os("rel"), os("/h"))), Some(PathBuf::from("/h/.cache/fetchgit-date/v1")));
        assert_eq!(dir(Cache::from_variables(os(""), os("/h"))), Some(PathBuf::from("/h/.cache/fetchgit-date/v1")));
        assert_eq!(dir(Cache::from_variables(os("rel"), os("also-rel"))), None);
        assert_eq!(dir(Cache::from_variables(None, None)), None);
    }
}
