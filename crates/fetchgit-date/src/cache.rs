//! A cache of results that can never change once computed: the NAR hash of a tree under an
//! export mode, the commit count of a commit, the outcome of a truncation walk from a commit.
//!
//! Entries live under `$XDG_CACHE_HOME/fetchgit-date/v1/<table>/<key>` (default
//! `~/.cache/fetchgit-date`). Each entry is written to a temporary file in the same directory and
//! renamed into place, so readers never see half an entry and concurrent writers of the same key
//! (who write identical values) cannot corrupt it. The cache is only an accelerator: an entry
//! that cannot be written is skipped, one that cannot be parsed is recomputed.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Version of the on-disk layout; bump it when an entry's meaning changes.
const LAYOUT: &str = "v1";

/// Handle to the cache directory, or a disabled cache.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: Option<PathBuf>,
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
    /// when neither variable is set.
    pub fn from_environment() -> Cache {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|home| Path::new(&home).join(".cache")));
        Cache { dir: base.map(|base| base.join("fetchgit-date").join(LAYOUT)) }
    }

    /// A cache at `dir` (which is created on first write).
    pub fn at(dir: impl Into<PathBuf>) -> Cache {
        Cache { dir: Some(dir.into().join(LAYOUT)) }
    }

    /// A cache that stores nothing.
    pub fn disabled() -> Cache {
        Cache { dir: None }
    }

    /// The versioned cache directory (`.../fetchgit-date/v1`), unless the cache is disabled.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The stored value for `key`, if any.
    pub fn get(&self, table: Table, key: &str) -> Option<String> {
        let path = self.entry_path(table, key)?;
        std::fs::read_to_string(path).ok()
    }

    /// Stores `value` for `key` atomically. Failures are ignored: the value is recomputed next time.
    pub fn put(&self, table: Table, key: &str, value: &str) {
        let Some(path) = self.entry_path(table, key) else { return };
        let Some(dir) = path.parent() else { return };
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        let write = || -> std::io::Result<()> {
            let mut tmp = tempfile_in(dir)?;
            tmp.1.write_all(value.as_bytes())?;
            tmp.1.sync_data()?;
            std::fs::rename(&tmp.0, &path).inspect_err(|_| {
                let _ = std::fs::remove_file(&tmp.0);
            })
        };
        let _ = write();
    }

    fn entry_path(&self, table: Table, key: &str) -> Option<PathBuf> {
        debug_assert!(key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        Some(self.dir.as_ref()?.join(table.dir_name()).join(key))
    }
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
        let value = "x".repeat(1 << 16);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    let cache = Cache::at(dir.path());
                    for _ in 0..20 {
                        cache.put(Table::Nar, "key", &value);
                        let read = cache.get(Table::Nar, "key").expect("present after a put");
                        assert_eq!(read.len(), value.len(), "a reader saw a partial entry");
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
}
