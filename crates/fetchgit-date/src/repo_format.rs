//! Local repositories that git (Nix <= 2.19, Lix) or libgit2 (Nix >= 2.20) refuse to open or to
//! read the way a fetch needs, refused the same way before anything else reads them (gix is
//! more lenient than both, so without these checks a fetch would give a result where Nix fails).
//!
//! What is checked, from git 2.47's `setup.c` (`check_repository_format_gently`,
//! `validate_headref`) and `refs/packed-backend.c`, and libgit2 1.9's `repository.c`
//! (`check_repositoryformatversion`, `check_extensions`, `load_workdir`) and `refs.c`:
//! - `core.repositoryformatversion` above 1, and `extensions.*` the reader does not know
//!   (git: in version 1, and the v1-only ones in version 0; libgit2: any but `noop`,
//!   `objectformat` and `worktreeconfig`, in version 1);
//! - a `HEAD` that is neither `ref: refs/...` nor an object id (both refuse, also with `rev`);
//! - a `core.worktree` that does not exist (both fail to open the repository);
//! - a repository reached from a work tree (a `.git` directory, or a `.git` file) whose
//!   `core.bare` is true: both read it as bare, so a fetch of the work tree (no `rev`, no `ref`)
//!   fails ("must be run in a work tree", "cannot status ... bare repositories");
//! - a `packed-refs` with CRLF line ends: git dies on it as soon as it reads refs, libgit2 reads
//!   the CR as part of each name and so finds none of them.
//!
//! ### Deviation
//! With a CRLF `packed-refs`, Nix (2.8 and 2.34.8 measured) takes a work tree fetched without
//! `rev` as one without commits (`revCount` 0); fetchgit-date refuses it instead, as it does any
//! fetch of such a repository with Nix <= 2.19 or without `rev`.

use std::path::{Path, PathBuf};

use gix::bstr::{BStr, ByteSlice};

use crate::nix_version::{Change, NixVersion};
use crate::repo_files::{read_regular, METADATA_LIMIT};

/// Why a repository is refused as git or libgit2 refuses it.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// `core.repositoryformatversion` is above 1.
    #[error("'{}' has core.repositoryformatversion = {version}: {reader} supports versions up to 1 and refuses it", config.display())]
    Version {
        /// The configuration file.
        config: PathBuf,
        /// The version found.
        version: String,
        /// Which reader refuses it.
        reader: &'static str,
    },
    /// An extension the release's reader does not know.
    #[error("'{}' has extensions.{name}, which {reader} does not support ({reason}): the release refuses the repository", config.display())]
    Extension {
        /// The configuration file.
        config: PathBuf,
        /// The extension, lower case.
        name: String,
        /// Which reader refuses it.
        reader: &'static str,
        /// Its wording.
        reason: &'static str,
    },
    /// `HEAD` is not a symbolic ref or an object id.
    #[error("'{}' is neither 'ref: refs/...' nor a commit id: git does not take the directory for a repository and libgit2 fails (\"corrupted loose reference file: HEAD\"), also with rev; repair it (echo 'ref: refs/heads/main' > HEAD)", .0.display())]
    Head(PathBuf),
    /// `core.worktree` names nothing.
    #[error("core.worktree = {value:?} in '{}' does not exist: git cannot chdir to it and libgit2 fails to resolve it; fix or unset it", config.display())]
    WorkTreeMissing {
        /// The configuration file.
        config: PathBuf,
        /// The setting.
        value: String,
    },
    /// A work tree whose repository is bare, fetched as a work tree.
    #[error("'{}' is reached from the work tree '{}' but is bare (core.bare = true): git and libgit2 cannot read the work tree (\"cannot status ... bare repositories\"); pass --rev (or --ref) to fetch a commit", git_dir.display(), work_tree.display())]
    BareWorkTree {
        /// The work tree given.
        work_tree: PathBuf,
        /// Its repository.
        git_dir: PathBuf,
    },
    /// `packed-refs` with CRLF line ends.
    #[error("'{}' has CRLF line ends: {consequence}; convert it to LF line ends (dos2unix)", path.display())]
    PackedRefsCrlf {
        /// The file.
        path: PathBuf,
        /// What the release does with it.
        consequence: &'static str,
    },
}

/// The git directory a local path leads to: `path/.git` (a directory, or a `gitdir:` file), or
/// `path` itself for a bare repository; and whether it was reached from a work tree.
fn git_dir_of(path: &Path) -> (PathBuf, bool) {
    let dot_git = path.join(".git");
    if dot_git.is_dir() {
        return (dot_git, true);
    }
    if let Some(bytes) = read_regular(&dot_git, METADATA_LIMIT) {
        if let Some(target) = String::from_utf8_lossy(&bytes).trim_end().strip_prefix("gitdir: ") {
            return (path.join(target), true);
        }
    }
    (path.to_owned(), false)
}

/// The last value of `section.key` (no subsection) in the configuration file `bytes`, as git's
/// `read_repository_format` reads it (that file only, no includes). `Some(None)` for a key
/// without `=`.
fn last_value(bytes: &[u8], section: &str, key: &str) -> Option<Option<Vec<u8>>> {
    let file = gix::config::File::from_bytes_no_includes(bytes, gix::config::file::Metadata::api(), Default::default()).ok()?;
    let mut found = None;
    for s in file.sections_by_name(section)?.filter(|s| s.header().subsection_name().is_none()) {
        if let Some(value) = s.value_implicit(key) {
            found = Some(value.map(|v| v.to_vec()));
        }
    }
    found
}

/// The `extensions.*` names (lower case) of the configuration file `bytes`.
fn extensions(bytes: &[u8]) -> Vec<String> {
    let Ok(file) = gix::config::File::from_bytes_no_includes(bytes, gix::config::file::Metadata::api(), Default::default()) else { return Vec::new() };
    let mut names = Vec::new();
    if let Some(sections) = file.sections_by_name("extensions") {
        for section in sections.filter(|s| s.header().subsection_name().is_none()) {
            for name in section.value_names() {
                let name = name.to_ascii_lowercase();
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
    }
    names
}

/// Checks the local repository at `path` as `nix`'s git or libgit2 opens it; `fetches_work_tree`
/// is true when the fetch reads the work tree (no `rev`, no `ref`).
pub fn check(path: &Path, nix: &NixVersion, fetches_work_tree: bool) -> Result<(), FormatError> {
    let libgit2 = nix.has(Change::Libgit2);
    let reader = if libgit2 { "libgit2 (Nix >= 2.20)" } else { "git (Nix <= 2.19)" };
    let (git_dir, from_work_tree) = git_dir_of(path);
    let common_dir = match read_regular(&git_dir.join("commondir"), METADATA_LIMIT) {
        Some(bytes) => git_dir.join(String::from_utf8_lossy(&bytes).trim_end()),
        None => git_dir.clone(),
    };
    let config_path = common_dir.join("config");
    let config = read_regular(&config_path, METADATA_LIMIT).unwrap_or_default();
    check_format(&config_path, &config, libgit2, reader)?;
    check_head(&git_dir)?;
    if from_work_tree {
        if let Some(Some(value)) = last_value(&config, "core", "worktree") {
            let value = value.to_str_lossy().into_owned();
            if !git_dir.join(&value).is_dir() {
                return Err(FormatError::WorkTreeMissing { config: config_path, value });
            }
        }
        let bare = last_value(&config, "core", "bare").is_some_and(|v| v.as_deref().is_none_or(|v| crate::repo_config::parse_bool(v.as_bstr()) == Some(true)));
        if bare && fetches_work_tree {
            return Err(FormatError::BareWorkTree { work_tree: path.to_owned(), git_dir });
        }
    }
    let packed_refs = common_dir.join("packed-refs");
    if let Some(bytes) = read_regular(&packed_refs, u64::MAX) {
        if bytes.find(b"\r\n").is_some() {
            if !libgit2 {
                return Err(FormatError::PackedRefsCrlf {
                    path: packed_refs,
                    consequence: "git (Nix <= 2.19) dies reading it (\"unexpected line in packed-refs\")",
                });
            }
            if fetches_work_tree {
                return Err(FormatError::PackedRefsCrlf {
                    path: packed_refs,
                    consequence: "libgit2 (Nix >= 2.20) reads the CR as part of every ref name and finds none of them, so HEAD does not resolve",
                });
            }
        }
    }
    Ok(())
}

/// `core.repositoryformatversion` and `extensions.*`.
fn check_format(config_path: &Path, config: &[u8], libgit2: bool, reader: &'static str) -> Result<(), FormatError> {
    let version = match last_value(config, "core", "repositoryformatversion") {
        Some(Some(value)) => {
            let text = value.to_str_lossy().trim().to_owned();
            match text.parse::<i64>() {
                Ok(v @ 0..=1) => v,
                _ => return Err(FormatError::Version { config: config_path.to_owned(), version: text, reader }),
            }
        }
        _ => 0,
    };
    let extension = |name: String, reason: &'static str| FormatError::Extension { config: config_path.to_owned(), name, reader, reason };
    for name in extensions(config) {
        if libgit2 {
            // libgit2 1.9's builtin_extensions; objectformat only as sha1 (no SHA-256 in Nix).
            if version >= 1 && !["noop", "objectformat", "worktreeconfig"].contains(&name.as_str()) {
                return Err(extension(name, "\"unsupported extension name\""));
            }
        } else {
            const V0: [&str; 4] = ["noop", "preciousobjects", "partialclone", "worktreeconfig"];
            const V1_ONLY: [&str; 4] = ["noop-v1", "objectformat", "compatobjectformat", "refstorage"];
            if version == 0 && V1_ONLY.contains(&name.as_str()) {
                return Err(extension(name, "\"repo version is 0, but v1-only extension found\""));
            }
            if version >= 1 && !V0.contains(&name.as_str()) && !V1_ONLY.contains(&name.as_str()) {
                return Err(extension(name, "\"unknown repository extension found\""));
            }
        }
    }
    for (key, good) in [("objectformat", "sha1"), ("refstorage", "files")] {
        if let Some(Some(value)) = last_value(config, "extensions", key) {
            if !value.eq_ignore_ascii_case(good.as_bytes()) && version >= 1 {
                return Err(extension(
                    format!("{key} = {}", value.as_bstr()),
                    "fetchgit-date reads only SHA-1 repositories with files refs, as Nix's libgit2 does",
                ));
            }
        }
    }
    Ok(())
}

/// `validate_headref`: `ref: refs/...` (blanks allowed after the colon), or an object id.
fn check_head(git_dir: &Path) -> Result<(), FormatError> {
    let path = git_dir.join("HEAD");
    match std::fs::symlink_metadata(&path) {
        // No HEAD: not a repository at all, which opening it reports.
        Err(_) => return Ok(()),
        // git follows a HEAD symlink into refs/; leave that to the ref code.
        Ok(meta) if meta.file_type().is_symlink() => return Ok(()),
        Ok(_) => {}
    }
    // A HEAD that is no regular file of bounded size is refused with its kind when the
    // repository's files are checked (`repo_files`).
    let Some(bytes) = read_regular(&path, METADATA_LIMIT) else { return Ok(()) };
    let text: &BStr = bytes.as_bstr();
    if let Some(rest) = text.strip_prefix(b"ref:") {
        let target = rest.trim_start();
        if target.starts_with(b"refs/") {
            return Ok(());
        }
        return Err(FormatError::Head(path));
    }
    let hex_len = text.iter().take_while(|c| c.is_ascii_hexdigit()).count();
    if hex_len == 40 && text[40..].iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    Err(FormatError::Head(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_as_each_reader_knows_them() {
        let config = |text: &str| text.as_bytes().to_vec();
        let path = Path::new("config");
        let v1 = config("[core]\n\trepositoryformatversion = 1\n[extensions]\n\tpartialClone = origin\n");
        assert!(check_format(path, &v1, false, "git").is_ok(), "git knows partialClone");
        assert!(check_format(path, &v1, true, "libgit2").is_err(), "libgit2 does not");
        let v0 = config("[core]\n\trepositoryformatversion = 0\n[extensions]\n\tanything = 1\n");
        assert!(check_format(path, &v0, false, "git").is_ok(), "version 0 ignores unknown extensions");
        assert!(check_format(path, &v0, true, "libgit2").is_ok());
        let v2 = config("[core]\n\trepositoryformatversion = 2\n");
        assert!(check_format(path, &v2, true, "libgit2").is_err());
        let unknown = config("[core]\n\trepositoryformatversion = 1\n[extensions]\n\tmadeUp = true\n");
        assert!(check_format(path, &unknown, false, "git").is_err());
        assert!(check_format(path, &unknown, true, "libgit2").is_err());
    }
}
