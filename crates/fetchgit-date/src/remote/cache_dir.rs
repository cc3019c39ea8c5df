//! The cache repository of one remote URL: where it lives, its lock, its fetch stamps, and what
//! it holds. Nothing in it is believed or run (see [`open_cache`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use gix::ObjectId;

use crate::error_chain;

use super::error::printable;
use super::error::RemoteError;

/// The cache root for remote repositories under `cache_base` (`.../fetchgit-date/v1`).
pub fn cache_root(cache_base: &Path) -> PathBuf {
    cache_base.join("git")
}

pub(super) fn has_commit_in(repo: &gix::Repository, rev: &ObjectId) -> bool {
    matches!(repo.try_find_header(*rev), Ok(Some(h)) if h.kind() == gix::objs::Kind::Commit)
}

pub(super) fn has_commit(dir: &Path, rev: &ObjectId) -> bool {
    open_cache(dir).ok().is_some_and(|repo| has_commit_in(&repo, rev))
}

pub(super) fn ref_target(dir: &Path, name: &str) -> Option<ObjectId> {
    let repo = open_cache(dir).ok()?;
    let mut reference = repo.try_find_reference(name).ok().flatten()?;
    let id = reference.peel_to_id().ok()?.detach();
    has_commit_in(&repo, &id).then_some(id)
}

/// Drops from the `shallow` file the commits that are not in the repository. A server may name a
/// commit as a shallow boundary without sending it (`deepen-since` with clock skew: a commit
/// newer than the cut-off that is reachable only through an older, excluded one; git's own client
/// ends up the same way). Telling the server we have it would make every later deepening skip
/// it, so the boundary is forgotten instead; the commit is fetched when the walk needs it.
pub(super) fn sanitize_shallow(dir: &Path) -> std::io::Result<()> {
    let path = dir.join("shallow");
    // The shallow file lists commit ids; anything but a small regular file is not one.
    let Ok(Some(bytes)) = crate::cache::read_regular_file(&path, 64 << 20) else { return Ok(()) };
    let Ok(text) = String::from_utf8(bytes) else { return Ok(()) };
    let Ok(repo) = open_cache(dir) else { return Ok(()) };
    let kept: Vec<&str> = text.lines().filter(|line| ObjectId::from_hex(line.trim().as_bytes()).is_ok_and(|id| repo.has_object(id))).collect();
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

/// Opens the cache repository `dir` so that nothing in it or in our environment decides what a
/// fetch does ([`crate::no_exec`]). We create cache repositories and write nothing into their
/// configuration, so their `config` is ignored altogether: a planted `core.sshCommand`,
/// `credential.helper` or `http.*` never applies. The user's and the system's git
/// configuration is read (credential helpers, `core.sshCommand`, `http.proxy`, as git reads them
/// for Nix; `GIT_CONFIG_GLOBAL`, `GIT_CONFIG_SYSTEM` and `GIT_CONFIG_NOSYSTEM` choose those files
/// as for git), but no other `GIT_*` variable (`GIT_SHALLOW_FILE`, `GIT_NAMESPACE`, `GIT_DIR`,
/// `GIT_CONFIG_COUNT`, `GIT_OBJECT_DIRECTORY`, ...) except the three that choose the ssh program
/// (`GIT_SSH_COMMAND`, `GIT_SSH`, `GIT_SSH_VARIANT`), which are the user's as for git.
pub(super) fn open_cache(dir: &Path) -> gix::Result<gix::Repository> {
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
        for (var, key) in [("GIT_SSH_COMMAND", "core.sshCommand"), ("GIT_SSH", "gitoxide.ssh.commandWithoutShellFallback"), ("GIT_SSH_VARIANT", "ssh.variant")]
        {
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

pub(super) fn stamp_path(dir: &Path, local_ref: &str, all_refs: bool) -> PathBuf {
    let key = format!("{local_ref}{}", if all_refs { " all-refs" } else { "" });
    dir.join("fetchgit-date").join(format!("fetched-{}", data_encoding::HEXLOWER.encode(&Sha256::digest(key.as_bytes()))))
}

pub(super) fn stamp_age(stamp: &Path) -> Option<Duration> {
    let bytes = crate::cache::read_regular_file(stamp, 64).ok()??;
    let secs: u64 = std::str::from_utf8(&bytes).ok()?.trim().parse().ok()?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(now.saturating_sub(secs)))
}

pub(super) fn write_stamp(stamp: &Path) -> std::io::Result<()> {
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
pub(super) struct Held {
    _lock: Option<Lock>,
    /// False when the cache cannot be written: it is only read.
    pub(super) writable: bool,
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
pub(super) fn hold(dir: &Path) -> Result<Held, RemoteError> {
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
