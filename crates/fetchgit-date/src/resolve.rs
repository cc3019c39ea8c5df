//! Opening a local repository and finding the commit a fetch starts from: `rev` when given,
//! otherwise the tip of `ref` (default: the current branch, or `HEAD` of a bare repository).

use std::path::{Path, PathBuf};

use gix::ObjectId;

use crate::error_chain;

/// Why a repository could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The path does not exist.
    #[error("repository path '{}' does not exist: pass the top of a git work tree or a bare repository", .0.display())]
    Missing(PathBuf),
    /// A metadata file of the repository cannot be read safely.
    #[error(transparent)]
    Files(crate::repo_files::RepoFileError),
    /// The path exists but is not a repository that gix can open.
    #[error("'{}' is not a git repository ({reason}): pass the top of a work tree or a bare repository", path.display())]
    NotARepository {
        /// The path given.
        path: PathBuf,
        /// What gix reported.
        reason: String,
    },
}

/// Opens the repository at exactly `path` (a work tree or a bare repository; no upward search,
/// as `builtins.fetchGit` does not search either).
pub fn open(path: &Path) -> Result<gix::Repository, OpenError> {
    if !path.exists() {
        return Err(OpenError::Missing(path.to_owned()));
    }
    crate::repo_files::check(&git_dir_of(path)).map_err(OpenError::Files)?;
    // No object cache: walks and exports read each object once, so it would only cost copies and
    // memory (gix's pack delta-base cache still applies). Isolated: only the repository's own
    // configuration is read, never the user's, the system's or the environment's, so that
    // nothing outside the repository changes a result.
    gix::open_opts(path, gix::open::Options::isolated()).map_err(|err| OpenError::NotARepository {
        path: path.to_owned(),
        reason: error_chain(&err),
    })
}

/// The git directory of the work tree or bare repository at `path` (following a `.git` file).
fn git_dir_of(path: &Path) -> PathBuf {
    let dot_git = path.join(".git");
    if dot_git.is_dir() {
        return dot_git;
    }
    if let Some(bytes) = crate::repo_files::read_regular(&dot_git, crate::repo_files::METADATA_LIMIT) {
        if let Some(target) = String::from_utf8_lossy(&bytes).trim_end().strip_prefix("gitdir: ") {
            return path.join(target);
        }
    }
    path.to_owned()
}

/// Why a start commit could not be determined.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// A ref that starts with `-` could be taken as an option.
    #[error("refusing ref '{0}': it starts with '-' and could be taken as an option")]
    RefLooksLikeOption(String),
    /// Not a valid ref name at all.
    #[error("invalid ref name '{name}': {reason}")]
    InvalidRefName {
        /// The ref as given.
        name: String,
        /// Why git would refuse it.
        reason: String,
    },
    /// No such ref.
    #[error("unknown ref '{name}' (looked up as {full}){hint}")]
    UnknownRef {
        /// The ref as given.
        name: String,
        /// The full name that was looked up.
        full: String,
        /// A suggestion, starting with "; ".
        hint: String,
    },
    /// A rev that is not 40 hex digits but looks like a prefix of one.
    #[error("rev '{0}' is abbreviated: pass the full 40-hex commit hash (git rev-parse {0} prints it)")]
    AbbreviatedRev(String),
    /// A rev that is not a hash at all.
    #[error("invalid rev '{0}': pass a full 40-hex commit hash (use --ref for branch and tag names)")]
    MalformedRev(String),
    /// The object does not exist in the repository.
    #[error("rev {0} was not found in the repository: fetch it first, or check the hash")]
    RevNotFound(ObjectId),
    /// The object exists but is not a commit.
    #[error("rev {id} is a {kind}, not a commit: pass a commit hash")]
    NotACommit {
        /// The object given.
        id: ObjectId,
        /// Its kind.
        kind: gix::objs::Kind,
    },
    /// `HEAD` does not lead to a commit.
    #[error("the repository has no commit at HEAD ({0}): commit something, or pass --ref or --rev")]
    NoHead(String),
    /// The ref exists but does not lead to a commit.
    #[error("ref '{name}' does not point to a commit ({reason})")]
    RefNotACommit {
        /// The ref as given.
        name: String,
        /// What was found instead.
        reason: String,
    },
    /// Reading the object database failed.
    #[error("cannot read object {id}: {reason}: the repository may be corrupt (try git fsck)")]
    Corrupt {
        /// The object that failed.
        id: ObjectId,
        /// What gix reported.
        reason: String,
    },
}

/// Parses `rev`: a full 40-hex hash (checked before any fetch, so nothing odd reaches a remote).
pub fn parse_rev(rev: &str) -> Result<ObjectId, ResolveError> {
    let is_hex = !rev.is_empty() && rev.bytes().all(|b| b.is_ascii_hexdigit());
    if is_hex && rev.len() < 40 {
        return Err(ResolveError::AbbreviatedRev(rev.to_owned()));
    }
    if !is_hex || rev.len() != 40 {
        return Err(ResolveError::MalformedRev(rev.to_owned()));
    }
    ObjectId::from_hex(rev.to_ascii_lowercase().as_bytes()).map_err(|_| ResolveError::MalformedRev(rev.to_owned()))
}

/// Parses and checks `rev`: a full 40-hex hash of a commit present in `repo`.
pub fn rev_commit(repo: &gix::Repository, rev: &str) -> Result<ObjectId, ResolveError> {
    let id = parse_rev(rev)?;
    let header = repo
        .try_find_header(id)
        .map_err(|err| ResolveError::Corrupt { id, reason: error_chain(&err) })?
        .ok_or(ResolveError::RevNotFound(id))?;
    match header.kind() {
        gix::objs::Kind::Commit => Ok(id),
        kind => Err(ResolveError::NotACommit { id, kind }),
    }
}

/// The full name `ref` stands for, as `builtins.fetchGit` reads it: `HEAD` and names starting
/// with `refs/` as they are, anything else as a branch (`refs/heads/<ref>`).
pub fn full_ref_name(name: &str) -> Result<String, ResolveError> {
    if name.starts_with('-') {
        return Err(ResolveError::RefLooksLikeOption(name.to_owned()));
    }
    let full = if name == "HEAD" || name.starts_with("refs/") {
        name.to_owned()
    } else {
        format!("refs/heads/{name}")
    };
    if full != "HEAD" {
        gix::validate::reference::name(full.as_bytes().into()).map_err(|err| ResolveError::InvalidRefName {
            name: name.to_owned(),
            reason: error_chain(&err),
        })?;
    }
    Ok(full)
}

/// The commit at the tip of `name` (see [`full_ref_name`]), with annotated tags peeled.
pub fn ref_commit(repo: &gix::Repository, name: &str) -> Result<ObjectId, ResolveError> {
    let full = full_ref_name(name)?;
    if full == "HEAD" {
        return head_commit(repo);
    }
    let found = repo.try_find_reference(full.as_str()).map_err(|err| ResolveError::InvalidRefName {
        name: name.to_owned(),
        reason: error_chain(&err),
    })?;
    let Some(mut reference) = found else {
        let hint = if !name.starts_with("refs/")
            && repo.try_find_reference(format!("refs/tags/{name}").as_str()).ok().flatten().is_some()
        {
            format!("; it is a tag: pass --ref refs/tags/{name}")
        } else {
            "; list refs with git show-ref".to_owned()
        };
        return Err(ResolveError::UnknownRef { name: name.to_owned(), full, hint });
    };
    let commit = reference.peel_to_commit().map_err(|err| ResolveError::RefNotACommit {
        name: name.to_owned(),
        reason: error_chain(&err),
    })?;
    Ok(commit.id)
}

/// The commit `HEAD` leads to: the current branch of a work tree, `HEAD` of a bare repository.
pub fn head_commit(repo: &gix::Repository) -> Result<ObjectId, ResolveError> {
    let commit = repo.head_commit().map_err(|err| ResolveError::NoHead(error_chain(&err)))?;
    Ok(commit.id)
}
