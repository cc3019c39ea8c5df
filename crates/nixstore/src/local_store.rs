//! Path validity read straight from the database of the local Nix store, as Nix itself reads it
//! when it opens that store (a root single-user install without a daemon), instead of starting
//! `nix-daemon --stdio` (~40 ms of dynamic linking and store opening) to ask.
//!
//! A path is valid exactly when the `ValidPaths` table of `<state>/db/db.sqlite` has a row for
//! it: Nix writes that row in a transaction after the path's contents are complete, and the
//! garbage collector deletes it before deleting the contents. [`default_store_has_valid`] reads
//! it with Nix's own locking: the big lock (`<state>/db/big-lock`) held shared while reading, so
//! no schema migration runs meanwhile, and SQLite's locks against concurrent writers.
//!
//! Only a "valid" answer is used; anything else (not valid, not root, a store elsewhere, an
//! unknown schema, a lock held exclusively, any error) is "ask the daemon", which then also
//! adds the path. So this can only skip a `nix-daemon` whose answer would have been "valid".
//!
//! ### Deviation
//! Applies only where [`crate::daemon::StoreUri::Auto`] would start `nix-daemon --stdio` with
//! Nix's default store, and only when nothing may move that store: `NIX_REMOTE` unset, empty,
//! `auto` or `local`; `NIX_STORE_DIR`, `NIX_STORE`, `NIX_STATE_DIR` and `NIX_CONFIG` unset or
//! empty; and no Nix configuration file (`$NIX_CONF_DIR/nix.conf` or `/etc/nix/nix.conf`, the
//! user's files under `$NIX_USER_CONF_FILES` or the XDG config directories) with a `store`
//! setting or an `include`. Nix resolves more than that (e.g. `include`d files); we do not
//! follow it, we fall back to the daemon.
//!
//! Like the daemon's answer, a "valid" answer can be overtaken by a garbage collection that
//! starts right after it (neither holds a GC root once the process exits); Nix's
//! `builtins.path` in the expression printed for the evaluator checks validity again.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Nix's default store directory (`NIX_STORE_DIR` at build time).
const DEFAULT_STORE_DIR: &str = "/nix/store";
/// Nix's default state directory (`NIX_STATE_DIR` at build time).
const DEFAULT_STATE_DIR: &str = "/nix/var/nix";
/// Nix's default configuration directory.
const DEFAULT_CONF_DIR: &str = "/etc/nix";
/// The database schema this reads: Nix 2.0 to current Nix (`nixSchemaVersion`).
const SCHEMA_VERSION: &str = "10";

/// The local store `nix-daemon --stdio` would open with Nix's default settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultLocalStore {
    store_dir: String,
    db_dir: PathBuf,
}

impl DefaultLocalStore {
    /// The default local store, unless the environment `env` (a variable lookup) or a Nix
    /// configuration file might point Nix at another store (see the module's deviation note).
    pub fn from_environment(env: impl Fn(&str) -> Option<OsString>) -> Option<DefaultLocalStore> {
        let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
        match env("NIX_REMOTE") {
            None => {}
            Some(v) if v.is_empty() || v == "auto" || v == "local" => {}
            Some(_) => return None,
        }
        if ["NIX_STORE_DIR", "NIX_STORE", "NIX_STATE_DIR", "NIX_CONFIG"].iter().any(|name| set(name)) {
            return None;
        }
        if config_files(&env).iter().any(|file| !config_keeps_default_store(file)) {
            return None;
        }
        Some(DefaultLocalStore { store_dir: DEFAULT_STORE_DIR.to_owned(), db_dir: Path::new(DEFAULT_STATE_DIR).join("db") })
    }

    /// The store directory (`/nix/store`).
    pub fn store_dir(&self) -> &str {
        &self.store_dir
    }

    /// Whether the store's database registers `path` (absolute) as valid; `None` when it cannot
    /// be read with Nix's locking (no permission, missing, unknown schema, locked exclusively).
    pub fn is_valid(&self, path: &str) -> Option<bool> {
        // Nix holds the big lock shared for as long as it uses the store; a schema migration
        // takes it exclusively. Not waiting: whoever holds it exclusively may take long.
        let big_lock = OpenOptions::new().read(true).write(true).open(self.db_dir.join("big-lock")).ok()?;
        rustix::fs::flock(&big_lock, rustix::fs::FlockOperation::NonBlockingLockShared).ok()?;
        let schema = read_small_file(&self.db_dir.join("schema")).ok()??;
        if String::from_utf8_lossy(&schema).trim() != SCHEMA_VERSION {
            return None;
        }
        let valid = query_valid(&self.db_dir.join("db.sqlite"), path);
        drop::<File>(big_lock);
        valid
    }
}

/// `SELECT ... FROM ValidPaths WHERE path = ?`, as Nix's `LocalStore::isValidPath_`.
fn query_valid(db: &Path, path: &str) -> Option<bool> {
    use rusqlite::{OpenFlags, OptionalExtension};
    // Read-only: SQLite's own locks keep the read consistent with Nix's write transactions
    // (the database is in WAL mode; a reader never blocks them).
    let conn = rusqlite::Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX).ok()?;
    conn.busy_timeout(Duration::from_secs(2)).ok()?;
    let row = conn.query_row("SELECT 1 FROM ValidPaths WHERE path = ?1", [path], |_| Ok(())).optional().ok()?;
    Some(row.is_some())
}

/// The configuration files Nix reads (besides `NIX_CONFIG`): `$NIX_CONF_DIR/nix.conf`, then
/// the user's (`$NIX_USER_CONF_FILES`, or `nix/nix.conf` in `$XDG_CONFIG_HOME` (default
/// `~/.config`) and each of `$XDG_CONFIG_DIRS` (default `/etc/xdg`)).
fn config_files(env: &impl Fn(&str) -> Option<OsString>) -> Vec<PathBuf> {
    let nonempty = |name: &str| env(name).filter(|v| !v.is_empty());
    let conf_dir = nonempty("NIX_CONF_DIR").map_or_else(|| PathBuf::from(DEFAULT_CONF_DIR), PathBuf::from);
    let mut files = vec![conf_dir.join("nix.conf")];
    if let Some(list) = nonempty("NIX_USER_CONF_FILES") {
        files.extend(std::env::split_paths(&list));
    } else {
        let home_config = nonempty("XDG_CONFIG_HOME").map(PathBuf::from).or_else(|| nonempty("HOME").map(|home| Path::new(&home).join(".config")));
        let dirs = nonempty("XDG_CONFIG_DIRS").unwrap_or_else(|| OsString::from("/etc/xdg"));
        for dir in home_config.into_iter().chain(std::env::split_paths(&dirs)) {
            files.push(dir.join("nix/nix.conf"));
        }
    }
    files
}

/// False when `file` exists and sets `store` or includes other files (or cannot be read).
fn config_keeps_default_store(file: &Path) -> bool {
    let text = match read_small_file(file) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return true,
        Err(_) => return false,
    };
    String::from_utf8_lossy(&text).lines().all(|line| {
        let line = line.split('#').next().unwrap_or("").trim();
        let key = line.split(|c: char| c == '=' || c.is_whitespace()).next().unwrap_or("");
        !matches!(key, "store" | "include" | "!include")
    })
}

/// Largest configuration or schema file read; Nix's are a few KiB.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// The contents of the regular file `path` (`None`: there is none), never blocking on a FIFO
/// or device and never reading more than [`MAX_FILE_BYTES`]: anything else is an error, and
/// then the daemon is asked instead.
fn read_small_file(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    use rustix::fs::{Mode, OFlags};
    use std::io::Read;
    let fd = match rustix::fs::open(path, OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC, Mode::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(err) => return Err(err.into()),
    };
    let file = File::from(fd);
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::other("too large"));
    }
    Ok(Some(bytes))
}

/// Whether the default local store registers `path` as valid: see the module documentation.
/// `None`: could not tell (ask the daemon).
pub fn default_store_has_valid(path: &str) -> Option<bool> {
    let store = DefaultLocalStore::from_environment(|name| std::env::var_os(name))?;
    let in_store = path.strip_prefix(store.store_dir()).is_some_and(|rest| rest.starts_with('/') && !rest[1..].contains('/'));
    if !in_store {
        return None;
    }
    store.is_valid(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
    }

    #[test]
    fn only_the_default_store_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("nix.conf");
        std::fs::write(&conf, "sandbox = false # no store here\n").expect("write");
        let base = [("NIX_USER_CONF_FILES", conf.to_str().expect("UTF-8")), ("NIX_CONF_DIR", "/nonexistent")];
        assert!(DefaultLocalStore::from_environment(env_of(&base)).is_some());
        for (name, value) in [
            ("NIX_REMOTE", "daemon"),
            ("NIX_REMOTE", "local?root=/tmp/x"),
            ("NIX_STORE_DIR", "/other/store"),
            ("NIX_STATE_DIR", "/other/state"),
            ("NIX_CONFIG", "store = /tmp/x"),
        ] {
            let vars = [base[0], base[1], (name, value)];
            assert_eq!(DefaultLocalStore::from_environment(env_of(&vars)), None, "{name}={value}");
        }
        for (name, value) in [("NIX_REMOTE", ""), ("NIX_REMOTE", "auto"), ("NIX_REMOTE", "local"), ("NIX_STATE_DIR", "")] {
            let vars = [base[0], base[1], (name, value)];
            assert!(DefaultLocalStore::from_environment(env_of(&vars)).is_some(), "{name}={value}");
        }
        for text in ["store = local?root=/tmp/x\n", "  store=daemon", "include /etc/other.conf", "!include x.conf"] {
            std::fs::write(&conf, text).expect("write");
            assert_eq!(DefaultLocalStore::from_environment(env_of(&base)), None, "{text:?}");
        }
        std::fs::write(&conf, "# store = daemon\nstore-dir-unrelated = 1\n").expect("write");
        assert!(DefaultLocalStore::from_environment(env_of(&base)).is_some());
    }

    /// A configuration file that is a FIFO (or a device) is not read, which would block or never
    /// end: the store is treated as possibly moved, and the daemon is asked.
    #[test]
    fn special_configuration_files_are_not_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("nix.conf");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs").success());
        for conf in [fifo.to_str().expect("UTF-8"), "/dev/zero"] {
            let vars = [("NIX_USER_CONF_FILES", conf), ("NIX_CONF_DIR", "/nonexistent")];
            assert_eq!(DefaultLocalStore::from_environment(env_of(&vars)), None, "{conf}");
        }
    }

    #[test]
    fn paths_outside_the_store_are_not_looked_up() {
        assert_eq!(default_store_has_valid("/tmp/x"), None);
        assert_eq!(default_store_has_valid("/nix/store/abc-x/sub"), None);
        assert_eq!(default_store_has_valid("/nix/storeabc-x"), None);
    }
}
