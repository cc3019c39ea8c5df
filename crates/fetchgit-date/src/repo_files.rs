//! The metadata files of a repository, checked before anything reads them: each must be a
//! regular file (symlinks followed) of bounded size. A `config`, `packed-refs` or ref that is a
//! symlink to `/dev/zero` would otherwise be read until memory runs out, and a FIFO would block
//! forever. git and libgit2 differ among themselves on such files (libgit2 reads `st_size`
//! bytes, so a device is empty; git reads a FIFO until its writer closes it); no such file
//! belongs in a repository, so opening one is an error naming the file.
//!
//! Cycles in `objects/info/alternates` are reported here too: git and libgit2 skip the repeated
//! directory, gix refuses the repository.

use std::path::{Path, PathBuf};

/// Bound on small metadata files (`HEAD`, `config`, `info/*`, `shallow`, alternates, refs).
pub const METADATA_LIMIT: u64 = 64 << 20;

/// Nested submodules deeper than this are refused (by the export, the dirty check and the
/// search for programs git would run): each level is a repository of its own, and a hostile
/// chain of them would have no end in sight.
pub const MAX_SUBMODULE_DEPTH: usize = 32;

/// Bound on large ones (`index`, `packed-refs`, commit-graphs).
const LARGE_LIMIT: u64 = 4 << 30;

/// Why a repository's files cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum RepoFileError {
    /// A metadata file that is not a regular file.
    #[error("'{}' is {what}, not a regular file: refusing to read it as repository metadata (remove or replace it)", path.display())]
    NotRegular {
        /// The file.
        path: PathBuf,
        /// What it is.
        what: &'static str,
    },
    /// A metadata file larger than any real one.
    #[error("'{}' is {size} bytes, more than the {limit} bytes allowed for it: refusing to read it", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The bound.
        limit: u64,
    },
    /// `objects/info/alternates` points back into itself.
    #[error("the alternates of '{}' form a cycle ({cycle}): git and libgit2 skip the repeated directory, but fetchgit-date (gix) cannot open it; remove the entry that points back", objects.display())]
    AlternatesCycle {
        /// The object directory.
        objects: PathBuf,
        /// The chain, as gix reports it.
        cycle: String,
    },
}

/// What a file that is not a regular file is, for messages.
pub fn kind_name(file_type: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

/// Checks `path` if it exists: a regular file (after symlinks) of at most `limit` bytes.
fn check_file(path: &Path, limit: u64) -> Result<(), RepoFileError> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(()); // a dangling symlink reads as absent everywhere
    };
    if !meta.is_file() {
        return Err(RepoFileError::NotRegular { path: path.to_owned(), what: kind_name(meta.file_type()) });
    }
    if meta.len() > limit {
        return Err(RepoFileError::TooLarge { path: path.to_owned(), size: meta.len(), limit });
    }
    Ok(())
}

/// Every loose ref below `dir` must be a regular file.
fn check_refs(dir: &Path) -> Result<(), RepoFileError> {
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            match std::fs::metadata(&path) {
                Ok(meta) if meta.is_dir() => pending.push(path),
                Ok(_) => check_file(&path, METADATA_LIMIT)?,
                Err(_) => {}
            }
        }
    }
    Ok(())
}

/// Checks the metadata files of the repository whose git directory is `git_dir` (and whose
/// shared directory, for a linked work tree, is named by its `commondir` file).
pub fn check(git_dir: &Path) -> Result<(), RepoFileError> {
    for name in ["HEAD", "commondir", "config", "index", "shallow", "gitdir"] {
        let limit = if name == "index" { LARGE_LIMIT } else { METADATA_LIMIT };
        check_file(&git_dir.join(name), limit)?;
    }
    let common = match read_regular(&git_dir.join("commondir"), METADATA_LIMIT) {
        Some(bytes) => {
            let relative = String::from_utf8_lossy(&bytes).trim_end().to_owned();
            git_dir.join(relative)
        }
        None => git_dir.to_owned(),
    };
    for (name, limit) in [
        ("config", METADATA_LIMIT),
        ("packed-refs", LARGE_LIMIT),
        ("shallow", METADATA_LIMIT),
        ("info/attributes", METADATA_LIMIT),
        ("info/grafts", METADATA_LIMIT),
        ("info/exclude", METADATA_LIMIT),
        ("objects/info/alternates", METADATA_LIMIT),
        ("objects/info/commit-graph", LARGE_LIMIT),
        ("objects/info/commit-graphs/commit-graph-chain", METADATA_LIMIT),
    ] {
        check_file(&common.join(name), limit)?;
    }
    if let Ok(entries) = std::fs::read_dir(common.join("objects/info/commit-graphs")) {
        for entry in entries.flatten() {
            check_file(&entry.path(), LARGE_LIMIT)?;
        }
    }
    check_refs(&git_dir.join("refs"))?;
    if common != git_dir {
        check_refs(&common.join("refs"))?;
    }
    let objects = common.join("objects");
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    if let Err(err) = gix::odb::alternate::resolve(objects.clone(), &cwd) {
        let text = crate::error_chain(&err);
        if text.contains("cycle") {
            return Err(RepoFileError::AlternatesCycle { objects, cycle: text });
        }
    }
    Ok(())
}

/// The bytes of `path` when it is a regular file (after symlinks) of at most `limit` bytes;
/// `None` otherwise. Reads exactly the size `stat` reported.
pub fn read_regular(path: &Path, limit: u64) -> Option<Vec<u8>> {
    use std::io::Read;
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > limit {
        return None;
    }
    let mut out = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path).ok()?.take(meta.len()).read_to_end(&mut out).ok()?;
    Some(out)
}

/// A path from a tree or the index, as a file name on this (Unix) system.
pub fn native_path(path: &[u8]) -> &Path {
    use std::os::unix::ffi::OsStrExt;
    Path::new(std::ffi::OsStr::from_bytes(path))
}
