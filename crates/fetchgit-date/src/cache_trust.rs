//! Whether a cache could have been written by someone else. A cache entry's checksum proves that
//! nobody *damaged* it, not that nobody *wrote* it: whoever can write the directory can write a
//! forged entry with a valid checksum (a wrong `narHash`, any `revCount`). So, as git refuses a
//! repository owned by another user (`safe.directory`), a cache is believed only when every
//! directory from the cache's own top down to the entry, and the entry itself, belongs to the
//! user we run as and no directory on the way is writable by everyone.
//!
//! The top is the `fetchgit-date` directory (or the directory given to [`crate::cache::Cache::at`]);
//! what lies above it (`~/.cache`) is the user's own business, as git does not look above a
//! repository either. Files of root are believed too (root could change this program as
//! well; it is how a cache shared read-only by an administrator works), and under `sudo` the
//! invoking user's (`SUDO_UID`, as git's `extract_id_from_env`). Repositories are judged by the
//! release's rules instead (`ownership.rs`), where root is another user.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Our effective uid: the owner of `/proc/self` (Linux gives a process's directory its
/// effective uid), so that no `unsafe` `geteuid` and no further rustix feature is needed.
/// Without `/proc`, `u32::MAX`: nothing is ours, so nothing is believed.
pub(crate) fn current_uid() -> u32 {
    // Read once: every component of every cache path read asks (a whole evaluation's worth of
    // calls in the plugin), and a process's effective uid does not change under us.
    static EUID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *EUID.get_or_init(|| std::fs::metadata("/proc/self").map_or(u32::MAX, |meta| meta.uid()))
}

/// The user whose files we believe: our effective uid, or under `sudo` the invoking user's too.
pub(crate) fn trusted_uid(uid: u32) -> bool {
    let euid = current_uid();
    if uid == euid {
        return true;
    }
    // git's `is_path_owned_by_current_uid`: root running through sudo trusts SUDO_UID's files.
    euid == 0 && std::env::var("SUDO_UID").ok().and_then(|v| v.parse::<u32>().ok()) == Some(uid)
}

/// Why `path` (a directory or file of a cache) could have been written by another user, if it
/// could. A missing path is fine (nothing to believe yet).
pub fn untrusted(path: &Path) -> Option<String> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !(trusted_uid(meta.uid()) || meta.uid() == 0) {
        return Some(format!("'{}' is owned by uid {}, not by the current user (uid {})", path.display(), meta.uid(), current_uid()));
    }
    if meta.is_dir() && meta.mode() & 0o002 != 0 {
        return Some(format!("'{}' is writable by every user (mode {:o})", path.display(), meta.mode() & 0o7777));
    }
    None
}

/// [`untrusted`] for `top` and every path from it down to `path` (which lies below `top`).
pub fn untrusted_chain(top: &Path, path: &Path) -> Option<String> {
    let mut current = top.to_owned();
    if let Some(reason) = untrusted(&current) {
        return Some(reason);
    }
    let rest = path.strip_prefix(top).ok()?;
    for part in rest.components() {
        current.push(part);
        if let Some(reason) = untrusted(&current) {
            return Some(reason);
        }
    }
    None
}

/// What to do about it, for messages.
pub const HINT: &str = "another user could have written what it holds: remove it, or point XDG_CACHE_HOME at a directory of your own";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn world_writable_directories_are_not_believed() {
        let dir = std::env::temp_dir().join(format!("fetchgit-date-cache-trust-{}", std::process::id()));
        let inner = dir.join("v1");
        std::fs::create_dir_all(&inner).expect("mkdir");
        assert_eq!(untrusted_chain(&dir, &inner), None, "our own directories are believed");
        std::fs::set_permissions(&inner, std::os::unix::fs::PermissionsExt::from_mode(0o777)).expect("chmod");
        let reason = untrusted_chain(&dir, &inner.join("entry")).expect("a world-writable directory is not believed");
        assert!(reason.contains("writable by every user"), "{reason}");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
