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
    gix::open_opts(path, gix::open::Options::isolated()).map_err(|err| OpenError::NotARepository { path: path.to_owned(), reason: error_chain(&err) })
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
    /// A name that every Nix release refuses as `ref` (its `badGitRefRegex`, checked before
    /// anything is fetched), with Nix's wording.
    #[error("invalid Git branch/tag name '{0}': Nix refuses it as a ref (git check-ref-format --branch says why); pass a valid branch, tag or refs/... name")]
    NixRefusesRef(String),
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
    let header = repo.try_find_header(id).map_err(|err| ResolveError::Corrupt { id, reason: error_chain(&err) })?.ok_or(ResolveError::RevNotFound(id))?;
    match header.kind() {
        gix::objs::Kind::Commit => Ok(id),
        kind => Err(ResolveError::NotACommit { id, kind }),
    }
}

/// Whether Nix refuses `name` as a `ref`: its `badGitRefRegex` (the same from 2.8 to master),
/// `//|^[./]|/\.|\.\.|[[:cntrl:][:space:]:?^~\[]|\\|\*|\.lock$|\.lock/|@\{|[/.]$|^@$|^$`.
pub fn nix_refuses_ref(name: &str) -> bool {
    name.is_empty()
        || name == "@"
        || name.starts_with(['.', '/'])
        || name.ends_with(['.', '/'])
        || name.ends_with(".lock")
        || ["//", "/.", "..", ".lock/", "@{"].iter().any(|bad| name.contains(bad))
        || name.bytes().any(|b| b < 0x20 || b == 0x7f || b" \t\n\x0b\x0c\r:?^~[\\*".contains(&b))
}

fn check_ref(name: &str) -> Result<(), ResolveError> {
    if name.starts_with('-') {
        return Err(ResolveError::RefLooksLikeOption(name.to_owned()));
    }
    if nix_refuses_ref(name) {
        return Err(ResolveError::NixRefusesRef(name.to_owned()));
    }
    Ok(())
}

/// The full name `ref` stands for when Nix fetches it from a remote (or bare) repository: `HEAD`
/// and names starting with `refs/` as they are, anything else as a branch (`refs/heads/<ref>`).
pub fn full_ref_name(name: &str) -> Result<String, ResolveError> {
    check_ref(name)?;
    let full = if name == "HEAD" || name.starts_with("refs/") { name.to_owned() } else { format!("refs/heads/{name}") };
    if full != "HEAD" {
        gix::validate::reference::name(full.as_bytes().into())
            .map_err(|err| ResolveError::InvalidRefName { name: name.to_owned(), reason: error_chain(&err) })?;
    }
    Ok(full)
}

/// How a `ref` name is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefLookup {
    /// As `git rev-parse REF` reads it (git's rules: `refs/REF`, `refs/tags/REF`, `refs/heads/REF`,
    /// `refs/remotes/REF`, ...): what every Nix release does in a local work tree.
    WorkTree,
    /// As [`full_ref_name`] reads it: what Nix fetches from a remote or bare repository.
    Fetched,
}

/// What a ref names: the object it points to (an annotated tag's own id, for a tag) and the
/// commit that leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefTarget {
    /// The object the ref points to, symbolic refs followed but tags not peeled.
    pub object: ObjectId,
    /// The commit, tags peeled.
    pub commit: ObjectId,
}

/// The commit at the tip of `name` (see [`full_ref_name`]), with annotated tags peeled.
pub fn ref_commit(repo: &gix::Repository, name: &str) -> Result<ObjectId, ResolveError> {
    Ok(lookup_ref(repo, name, RefLookup::Fetched)?.commit)
}

/// What `name` points to in `repo`, looked up as `lookup` says.
pub fn lookup_ref(repo: &gix::Repository, name: &str, lookup: RefLookup) -> Result<RefTarget, ResolveError> {
    let full = match lookup {
        RefLookup::Fetched => full_ref_name(name)?,
        RefLookup::WorkTree => {
            check_ref(name)?;
            name.to_owned()
        }
    };
    if full == "HEAD" {
        let commit = head_commit(repo)?;
        return Ok(RefTarget { object: commit, commit });
    }
    let found = repo.try_find_reference(full.as_str()).map_err(|err| ResolveError::InvalidRefName { name: name.to_owned(), reason: error_chain(&err) })?;
    let Some(mut reference) = found else {
        let hint = if lookup == RefLookup::Fetched
            && !name.starts_with("refs/")
            && repo.try_find_reference(format!("refs/tags/{name}").as_str()).ok().flatten().is_some()
        {
            format!("; it is a tag: pass --ref refs/tags/{name}")
        } else {
            "; list refs with git show-ref".to_owned()
        };
        let full = match lookup {
            RefLookup::Fetched => full,
            RefLookup::WorkTree => format!("{name}, refs/{name}, refs/tags/{name}, refs/heads/{name} and refs/remotes/{name}"),
        };
        return Err(ResolveError::UnknownRef { name: name.to_owned(), full, hint });
    };
    let not_a_commit = |err: &dyn std::error::Error| ResolveError::RefNotACommit { name: name.to_owned(), reason: error_chain(err) };
    let object = reference.follow_to_object().map_err(|err| not_a_commit(&err))?.detach();
    let commit = reference.peel_to_commit().map_err(|err| not_a_commit(&err))?.id;
    Ok(RefTarget { object, commit })
}

/// The commit `HEAD` leads to: the current branch of a work tree, `HEAD` of a bare repository.
pub fn head_commit(repo: &gix::Repository) -> Result<ObjectId, ResolveError> {
    let commit = repo.head_commit().map_err(|err| ResolveError::NoHead(error_chain(&err)))?;
    Ok(commit.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names of Nix's own tests/functional/fetchGitRefs.sh (master, a superset of 2.8.0's).
    #[test]
    fn ref_names_follow_nix_fetch_git_refs_test() {
        let valid = [
            "foox",
            "1337",
            "foo.baz",
            "foo/bar/baz",
            "foo./bar",
            "heads/foo@bar",
            "heads/fu\u{df}",
            "foo-bar-baz",
            "$1",
            "foo.locke",
            "A/b",
            "AaA/b",
            "FOO/BAR/BAZ",
            "branch#",
        ];
        let invalid = [
            "refs///heads/foo",
            "heads/foo/",
            "///heads/foo",
            ".foo",
            "./foo",
            "./foo/bar",
            "foo/./bar",
            "foo/bar/.",
            "foo bar",
            "foo?bar",
            "foo^bar",
            "foo~bar",
            "foo:bar",
            "foo[bar",
            ".refs/foo",
            "refs/heads/foo.",
            "heads/foo..bar",
            "heads/foo?bar",
            "heads/foo.lock",
            "heads///foo.lock",
            "foo.lock/bar",
            "foo.lock///bar",
            "heads/v@{ation",
            "heads/foo\\.ar",
            "heads/foo\\bar",
            "heads/foo\t",
            "heads/foo\x7f",
            "heads/foo\x1f",
            "@",
            "foo/*",
            "*/foo",
            "foo/*/bar",
            "*",
            "foo/*/*",
            "*/foo/*",
            "/foo",
            "",
        ];
        for name in valid {
            assert!(!nix_refuses_ref(name), "{name:?} is valid for Nix");
            assert!(full_ref_name(name).is_ok(), "{name:?} is valid for Nix");
        }
        for name in invalid {
            assert!(nix_refuses_ref(name), "{name:?} is invalid for Nix");
            let err = full_ref_name(name).expect_err("refused");
            assert!(err.to_string().contains(&format!("invalid Git branch/tag name '{name}'")), "{err}");
        }
    }
}
