//! A local work tree with uncommitted changes, fetched as `builtins.fetchGit` does: the tracked
//! files as they are on disk (deleted ones left out, untracked ones never included).
//!
//! Whether the work tree is dirty depends on the generation: Nix <= 2.19 runs
//! `git diff HEAD --quiet --ignore-submodules --` (src/libfetchers/git.cc of Nix 2.8), which
//! compares contents after git's clean conversions, so a file whose only change is CRLF line
//! endings under `text` is clean; Nix >= 2.20 asks libgit2 for the status, which calls that file
//! modified (measured with Nix 2.8 and Nix 2.26; gix agrees with libgit2 here).
//!
//! Reading the files: a tracked path that is neither a regular file, a directory nor a symlink
//! (a FIFO, a device, a socket) is an error for Nix <= 2.19, whose `dumpPath` fails on it ("has
//! an unsupported type"), and left out for Nix >= 2.20 (see [`kept_entries`]); files are opened non-blocking and checked again after opening, so a
//! file replaced by a FIFO meanwhile cannot block the fetch.

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use gix::bstr::BString;
use nixstore::hash::{HashingWriter, NixHash};
use nixstore::nar::flat;

use crate::error_chain;
use crate::export::Generation;

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
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A tracked path is a kind of file a NAR cannot hold.
    #[error("tracked file '{}' is {what} in the work tree: Nix cannot add it to the store either (unsupported file type); restore it (git checkout -- FILE) or commit the change", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What it is.
        what: &'static str,
    },
}

/// Whether tracked files differ from `HEAD` the way the generation's Nix decides it, which is
/// what makes Nix take the work tree instead of a commit.
pub fn is_dirty(repo: &gix::Repository, generation: Generation) -> Result<bool, DirtyError> {
    match generation {
        Generation::Modern => repo.is_dirty().map_err(|err| DirtyError::Status(error_chain(&err))),
        Generation::Legacy => git_diff_is_dirty(repo),
    }
}

/// `git diff HEAD --quiet --ignore-submodules --` in the work tree, with no user or system
/// configuration; no `HEAD` at all counts as dirty, as in Nix 2.8.
fn git_diff_is_dirty(repo: &gix::Repository) -> Result<bool, DirtyError> {
    if repo.head_id().is_err() {
        return Ok(true);
    }
    let workdir = repo.workdir().expect("dirty checks happen in work trees");
    let mut cmd = crate::export::git_archive::isolated_git();
    let output = cmd
        .arg("-C")
        .arg(workdir)
        .args(["diff", "HEAD", "--quiet", "--ignore-submodules", "--"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|err| DirtyError::Status(format!("cannot run git: {err}")))?;
    match output.status.code() {
        Some(0) => Ok(false),
        Some(1) => Ok(true),
        _ => Err(DirtyError::Status(format!(
            "git diff HEAD failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim().replace('\n', "; ")
        ))),
    }
}

/// NAR hash and size of the tracked files of `workdir` as they are on disk.
pub fn nar_hash(repo: &gix::Repository, workdir: &Path, generation: Generation) -> Result<(NixHash, u64), DirtyError> {
    let mut hasher = HashingWriter::new(std::io::sink());
    write_nar(repo, workdir, generation, &mut hasher)?;
    let (hash, size, _) = hasher.finish();
    Ok((hash, size))
}

/// Nix's filter: a file is kept when it is tracked, a directory when a tracked file lies below it.
fn is_kept(tracked: &BTreeSet<BString>, rela: &[u8], is_dir: bool) -> bool {
    if !is_dir {
        return tracked.contains(rela);
    }
    let mut prefix = BString::from(rela);
    prefix.push(b'/');
    tracked.range(prefix.clone()..).next().is_some_and(|first| first.starts_with(&prefix))
}

fn what(file_type: std::fs::FileType) -> &'static str {
    if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "of an unknown type"
    }
}

/// The kept entries of directory `path` (relative path `rela`), sorted bytewise. For Nix >= 2.20
/// (`skip_special`), a FIFO, device or socket is not there at all: libgit2's work-tree
/// iterator skips such files, so the status calls them deleted and Nix leaves them out
/// (measured with Nix 2.26).
fn kept_entries(path: &Path, rela: &[u8], tracked: &BTreeSet<BString>, skip_special: bool) -> Result<Vec<(std::ffi::OsString, BString, std::fs::Metadata)>, DirtyError> {
    let read_error = |path: &Path, source| DirtyError::Read { path: path.to_owned(), source };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(path).map_err(|e| read_error(path, e))? {
        let name = entry.map_err(|e| read_error(path, e))?.file_name();
        let child = path.join(&name);
        let mut child_rela = BString::from(rela);
        if !child_rela.is_empty() {
            child_rela.push(b'/');
        }
        child_rela.extend_from_slice(name.as_bytes());
        let meta = std::fs::symlink_metadata(&child).map_err(|e| read_error(&child, e))?;
        let special = !(meta.is_dir() || meta.is_file() || meta.file_type().is_symlink());
        if is_kept(tracked, &child_rela, meta.is_dir()) && !(skip_special && special) {
            out.push((name, child_rela, meta));
        }
    }
    out.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Ok(out)
}

/// Writes the NAR of the tracked files of `workdir` as they are on disk, walking iteratively.
pub fn write_nar<W: Write>(repo: &gix::Repository, workdir: &Path, generation: Generation, out: &mut W) -> Result<(), DirtyError> {
    let index = repo.index_or_empty().map_err(|err| DirtyError::Index(error_chain(&err)))?;
    let tracked: BTreeSet<BString> = index.entries().iter().map(|entry| entry.path(&index).to_owned()).collect();
    let read_error = |path: &Path, source| DirtyError::Read { path: path.to_owned(), source };
    let skip_special = generation == Generation::Modern;
    let mut nar = flat::Writer::new(out).map_err(|e| read_error(workdir, e))?;
    nar.directory().map_err(|e| read_error(workdir, e))?;
    let mut stack = vec![(kept_entries(workdir, b"", &tracked, skip_special)?.into_iter(), workdir.to_owned())];
    while let Some((entries, dir)) = stack.last_mut() {
        let Some((name, rela, meta)) = entries.next() else {
            nar.close_directory().map_err(|e| read_error(dir, e))?;
            stack.pop();
            continue;
        };
        let path = dir.join(&name);
        nar.entry(name.as_bytes()).map_err(|e| read_error(&path, e))?;
        let file_type = meta.file_type();
        if file_type.is_dir() {
            nar.directory().map_err(|e| read_error(&path, e))?;
            let entries = kept_entries(&path, &rela, &tracked, skip_special)?;
            stack.push((entries.into_iter(), path));
        } else if file_type.is_symlink() {
            let target = std::fs::read_link(&path).map_err(|e| read_error(&path, e))?;
            nar.symlink(target.as_os_str().as_bytes()).map_err(|e| read_error(&path, e))?;
        } else if file_type.is_file() {
            let nonblocking = rustix::fs::OFlags::NONBLOCK.bits() as i32;
            let mut file = std::fs::OpenOptions::new().read(true).custom_flags(nonblocking).open(&path).map_err(|e| read_error(&path, e))?;
            let opened = file.metadata().map_err(|e| read_error(&path, e))?;
            if !opened.is_file() {
                return Err(DirtyError::Unsupported { path, what: what(opened.file_type()) });
            }
            let executable = opened.permissions().mode() & 0o100 != 0;
            nar.file(executable, opened.len(), &mut file).map_err(|e| read_error(&path, e))?;
        } else {
            return Err(DirtyError::Unsupported { path, what: what(file_type) });
        }
    }
    nar.finish().map_err(|e| read_error(workdir, e))?;
    Ok(())
}
