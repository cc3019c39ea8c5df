//! A local work tree with uncommitted changes, fetched as `builtins.fetchGit` does: the tracked
//! files as they are on disk (deleted ones left out, untracked ones never included).

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use gix::bstr::BString;
use nixstore::hash::{HashingWriter, NixHash};
use nixstore::nar::writer::{self, Directory, Node};

use crate::error_chain;

/// Why a work tree could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DirtyError {
    /// The status of the work tree could not be computed.
    #[error("cannot tell whether the work tree is dirty: {0}")]
    Status(String),
    /// The index could not be read.
    #[error("cannot read the index of the work tree: {0}")]
    Index(String),
    /// A tracked file could not be read.
    #[error("cannot read tracked file '{}': {source}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Whether tracked files differ from `HEAD` (`git diff-index --quiet HEAD --` fails), which is
/// what makes Nix take the work tree instead of a commit.
pub fn is_dirty(repo: &gix::Repository) -> Result<bool, DirtyError> {
    repo.is_dirty().map_err(|err| DirtyError::Status(error_chain(&err)))
}

/// NAR hash and size of the tracked files of `workdir` as they are on disk.
pub fn nar_hash(repo: &gix::Repository, workdir: &Path) -> Result<(NixHash, u64), DirtyError> {
    let mut hasher = HashingWriter::new(std::io::sink());
    write_nar(repo, workdir, &mut hasher)?;
    let (hash, size, _) = hasher.finish();
    Ok((hash, size))
}

/// Writes the NAR of the tracked files of `workdir` as they are on disk.
pub fn write_nar<W: Write>(repo: &gix::Repository, workdir: &Path, out: &mut W) -> Result<(), DirtyError> {
    let index = repo.index_or_empty().map_err(|err| DirtyError::Index(error_chain(&err)))?;
    let tracked: BTreeSet<BString> = index.entries().iter().map(|entry| entry.path(&index).to_owned()).collect();
    let read_error = |path: &Path, source| DirtyError::Read { path: path.to_owned(), source };
    let root = writer::open(out).and_then(|node| node.directory()).map_err(|e| read_error(workdir, e))?;
    write_dir(root, workdir, &BString::default(), &tracked)
}

/// Nix's filter: a file is kept when it is tracked, a directory when a tracked file lies below it.
fn is_kept(tracked: &BTreeSet<BString>, rela: &BString, is_dir: bool) -> bool {
    if !is_dir {
        return tracked.contains(rela);
    }
    let mut prefix = rela.clone();
    prefix.push(b'/');
    tracked.range(prefix.clone()..).next().is_some_and(|first| first.starts_with(&prefix))
}

fn write_dir<W: Write>(mut dir: Directory<'_, W>, path: &Path, rela: &BString, tracked: &BTreeSet<BString>) -> Result<(), DirtyError> {
    let read_error = |path: &Path, source| DirtyError::Read { path: path.to_owned(), source };
    let mut names: Vec<std::ffi::OsString> = std::fs::read_dir(path)
        .map_err(|e| read_error(path, e))?
        .map(|entry| entry.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .map_err(|e| read_error(path, e))?;
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for name in names {
        let child = path.join(&name);
        let mut child_rela = rela.clone();
        if !child_rela.is_empty() {
            child_rela.push(b'/');
        }
        child_rela.extend_from_slice(name.as_bytes());
        let meta = std::fs::symlink_metadata(&child).map_err(|e| read_error(&child, e))?;
        if !is_kept(tracked, &child_rela, meta.is_dir()) {
            continue;
        }
        let node = dir.entry(name.as_bytes()).map_err(|e| read_error(&child, e))?;
        write_node(node, &child, &child_rela, &meta, tracked)?;
    }
    dir.close().map_err(|e| read_error(path, e))
}

fn write_node<W: Write>(node: Node<'_, W>, path: &Path, rela: &BString, meta: &std::fs::Metadata, tracked: &BTreeSet<BString>) -> Result<(), DirtyError> {
    let read_error = |source| DirtyError::Read { path: path.to_owned(), source };
    if meta.is_dir() {
        return write_dir(node.directory().map_err(read_error)?, path, rela, tracked);
    }
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path).map_err(read_error)?;
        return node.symlink(target.as_os_str().as_bytes()).map_err(read_error);
    }
    let executable = meta.permissions().mode() & 0o100 != 0;
    let mut file = std::fs::File::open(path).map_err(read_error)?;
    node.file(executable, meta.len(), &mut file).map_err(read_error)
}
