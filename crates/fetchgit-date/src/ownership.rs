//! A local repository owned by another user, refused as the release refuses it.
//!
//! - Nix <= 2.19 and Lix run git, which refuses a repository unless the `.git` file, the work
//!   tree and the git directory all belong to the current user (`ensure_valid_ownership` in
//!   git's setup.c; root running through sudo counts as `SUDO_UID`), or a `safe.directory` of the
//!   system's or the user's configuration lists the work tree (or the git directory of a bare
//!   repository).
//! - Nix >= 2.20 opens it with libgit2, whose owner validation checks the same paths (the work
//!   tree, the `.git` file, the git directory) and reads the same `safe.directory`. Root is no
//!   exception (measured with Nix 2.34.8 as root: "repository path '/tmp/own/w' is not owned by
//!   current user").
//!
//! Only the user's and the system's configuration can vouch for a directory, never the
//! repository's own, as in git. The check happens before anything else of the repository is
//! read.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::nix_version::Generation;

/// A repository another user owns.
#[derive(Debug, thiserror::Error)]
pub enum OwnershipError {
    /// git's refusal (`detected dubious ownership`), on one line, with its hint.
    #[error("detected dubious ownership in repository at '{}' ('{}' is owned by uid {owner}, but the current user is uid {uid}): git refuses it, and so does Nix <= 2.19; if you trust it, run git config --global --add safe.directory {}", repo.display(), path.display(), repo.display())]
    Git {
        /// The repository as git names it (the work tree, or the git directory of a bare one).
        repo: PathBuf,
        /// The path owned by someone else.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// Who we are.
        uid: u32,
    },
    /// libgit2's refusal, as Nix >= 2.20 reports it.
    #[error("repository path '{}' is not owned by current user (uid {owner}, the current user is uid {uid}): libgit2 refuses it, and so does Nix >= 2.20; if you trust it, run git config --global --add safe.directory {}", path.display(), repo.display())]
    Libgit2 {
        /// The repository as libgit2 names it.
        repo: PathBuf,
        /// The path owned by someone else.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// Who we are.
        uid: u32,
    },
}

/// Refuses the repository at `path` (a work tree or a bare repository) when the release would.
pub fn check(path: &Path, generation: Generation) -> Result<(), OwnershipError> {
    let euid = crate::cache_trust::current_uid();
    let dot_git = path.join(".git");
    let (repo, paths) = match std::fs::symlink_metadata(&dot_git) {
        Ok(meta) if meta.is_file() => {
            let gitdir = gitdir_of_file(path, &dot_git).unwrap_or_else(|| dot_git.clone());
            (path.to_owned(), vec![dot_git, path.to_owned(), gitdir])
        }
        Ok(_) => (path.to_owned(), vec![path.to_owned(), dot_git]),
        Err(_) => (path.to_owned(), vec![path.to_owned()]),
    };
    let foreign = paths.iter().find_map(|p| {
        let owner = std::fs::symlink_metadata(p).ok()?.uid();
        (!crate::cache_trust::trusted_uid(owner)).then(|| (p.clone(), owner))
    });
    let Some((path, owner)) = foreign else { return Ok(()) };
    let repo = std::fs::canonicalize(&repo).unwrap_or(repo);
    if listed_as_safe(&repo) {
        return Ok(());
    }
    Err(match generation {
        Generation::Legacy => OwnershipError::Git { repo, path, owner, uid: euid },
        Generation::Modern => OwnershipError::Libgit2 { repo, path, owner, uid: euid },
    })
}

/// The git directory a `.git` file names (`gitdir: <path>`, relative to the work tree).
fn gitdir_of_file(worktree: &Path, dot_git: &Path) -> Option<PathBuf> {
    let bytes = crate::repo_files::read_regular(dot_git, crate::repo_files::METADATA_LIMIT)?;
    let text = String::from_utf8_lossy(&bytes);
    let target = text.trim_end().strip_prefix("gitdir: ")?;
    Some(worktree.join(target))
}

/// Whether `safe.directory` in the system's or the user's configuration lists `repo` (git's
/// `safe_directory_cb`: values in order, an empty one resets, `*` allows everything, `dir/*`
/// everything below `dir`, otherwise the same real path).
fn listed_as_safe(repo: &Path) -> bool {
    let Ok(config) = gix::config::File::from_globals() else { return false };
    let mut safe = false;
    for value in config.strings("safe.directory").unwrap_or_default() {
        let value = value.to_string();
        if value.is_empty() {
            safe = false;
        } else if value == "*" {
            safe = true;
        } else if let Some(prefix) = value.strip_suffix("/*") {
            let prefix = std::fs::canonicalize(prefix).unwrap_or_else(|_| PathBuf::from(prefix));
            if repo.starts_with(&prefix) {
                safe = true;
            }
        } else if Path::new(&value).is_absolute() && std::fs::canonicalize(&value).is_ok_and(|allowed| allowed == repo) {
            safe = true;
        }
    }
    safe
}
