//! NAR (Nix ARchive) serialisation: the canonical byte stream whose SHA-256 is `narHash`.
//!
//! [`writer`] writes a NAR node by node; [`dump_path`] serialises a filesystem path like
//! `nix-store --dump`, and [`hash_path`] gives its NAR hash and size like
//! `nix-hash --type sha256` / `nix hash path`.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::hash::{HashingWriter, NixHash};

pub mod flat;
pub mod writer;

/// Why a path could not be serialised (carried inside the [`io::Error`] that
/// [`dump_path`] and [`hash_path`] return, with the kind of the underlying error).
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    /// Reading the filesystem (or writing the output) failed.
    #[error("cannot serialise {path:?} as NAR: {source}")]
    Io {
        /// The path being read.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A file type NAR cannot represent (socket, FIFO, device).
    #[error("{path:?} is neither a regular file, a directory nor a symlink, so it cannot be put in a NAR")]
    UnsupportedType {
        /// The offending path.
        path: PathBuf,
    },
    /// The file changed size while it was being read.
    #[error("{path:?} changed while it was being serialised as NAR: {source}")]
    Changed {
        /// The file being read.
        path: PathBuf,
        /// The writer's complaint (short or long read).
        source: io::Error,
    },
}

impl From<DumpError> for io::Error {
    fn from(e: DumpError) -> io::Error {
        let kind = match &e {
            DumpError::Io { source, .. } | DumpError::Changed { source, .. } => source.kind(),
            DumpError::UnsupportedType { .. } => io::ErrorKind::InvalidInput,
        };
        io::Error::new(kind, e)
    }
}

/// Serialise `path` (a regular file, symlink or directory; symlinks are not followed) as
/// NAR to `writer`, like `nix-store --dump`. Directory entries are sorted bytewise; of the
/// permissions only the owner's execute bit is recorded (as Nix does, `S_IXUSR`). Memory use
/// is bounded: file contents are streamed. The output is buffered internally and flushed
/// before returning.
///
/// Errors name the path that failed; a file that changes size while being read is an error.
pub fn dump_path<W: Write + ?Sized>(path: &Path, writer: &mut W) -> io::Result<()> {
    let mut buffered = BufWriter::with_capacity(64 * 1024, writer);
    let root = writer::open(&mut buffered)?;
    dump_node(path, root)?;
    buffered.flush()
}

/// NAR hash (SHA-256) and NAR size in bytes of `path`, like `nix-hash --type sha256 PATH`
/// or `nix hash path PATH`.
pub fn hash_path(path: &Path) -> io::Result<(NixHash, u64)> {
    let mut hasher = HashingWriter::new(io::sink());
    dump_path(path, &mut hasher)?;
    let (hash, size, _) = hasher.finish();
    Ok((hash, size))
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> io::Error + '_ {
    move |source| DumpError::Io { path: path.to_owned(), source }.into()
}

fn dump_node<W: Write>(path: &Path, node: writer::Node<'_, W>) -> io::Result<()> {
    let meta = fs::symlink_metadata(path).map_err(io_err(path))?;
    let file_type = meta.file_type();
    if file_type.is_file() {
        let executable = meta.permissions().mode() & 0o100 != 0;
        let mut file = File::open(path).map_err(io_err(path))?;
        node.file(executable, meta.len(), &mut file).map_err(|source| {
            if source.get_ref().and_then(|e| e.downcast_ref::<writer::Error>()).is_some() {
                DumpError::Changed { path: path.to_owned(), source }.into()
            } else {
                io_err(path)(source)
            }
        })
    } else if file_type.is_symlink() {
        let target = fs::read_link(path).map_err(io_err(path))?;
        node.symlink(target.as_os_str().as_bytes())
    } else if file_type.is_dir() {
        let mut names =
            fs::read_dir(path).map_err(io_err(path))?.map(|entry| entry.map(|e| e.file_name())).collect::<io::Result<Vec<_>>>().map_err(io_err(path))?;
        names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        let mut dir = node.directory()?;
        for name in names {
            let child = path.join(&name);
            dump_node(&child, dir.entry(name.as_bytes())?)?;
        }
        dir.close()
    } else {
        Err(DumpError::UnsupportedType { path: path.to_owned() }.into())
    }
}

#[cfg(test)]
mod tests;
