//! Streaming NAR writer.
//!
//! Every method consumes the value it is called on, so a node is written exactly once and
//! a directory's entries are written in sequence. The checks that the type system cannot
//! express are made at run time, in release builds too, because entry names come from
//! untrusted repositories:
//!
//! - entry names must be valid (not empty, `.` or `..`, no `/` or NUL) and strictly
//!   increasing bytewise within a directory;
//! - a [`Node`] obtained from [`Directory::entry`] (or a [`Directory`] made from it) that is
//!   dropped without being written is detected by the next `entry()`/`close()` of its parent;
//! - [`Node::file`] streams exactly the announced number of bytes.
//!
//! A violation returns an [`io::Error`] (kind [`io::ErrorKind::InvalidInput`], or
//! [`io::ErrorKind::UnexpectedEof`] for a short reader) wrapping an [`Error`] that names the
//! offending entry; it can be recovered with `err.get_ref()` and `downcast_ref::<Error>()`.
//! After an error nothing more is written: the directory (and every enclosing directory)
//! refuses further calls.
//!
//! ### Deviation
//! Dropping the *top-level* node or directory without writing it cannot be detected (there
//! is no parent to report to); the output is then a truncated NAR. Callers finish what they
//! start, as [`crate::nar::dump_path`] does.
//!
//! ```
//! use nixstore::nar::writer;
//! let mut nar = Vec::new();
//! let mut dir = writer::open(&mut nar)?.directory()?;
//! dir.entry(b"x")?.file(false, 4, &mut &b"foo\n"[..])?;
//! dir.close()?;
//! assert_eq!(
//!     nixstore::hash::sha256(&nar).to_sri(),
//!     "sha256-wzlAGjxKxpaWdqVhlq55q5Gxo4Bf860+kLeEa/v02As="
//! );
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io::{self, Read, Write};

/// What went wrong while writing a NAR (carried inside the returned [`io::Error`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An entry name that NAR forbids.
    #[error("invalid NAR entry name {name:?}: {reason}")]
    InvalidName {
        /// The offending name, lossily decoded.
        name: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// An entry name that does not sort strictly after the previous one.
    #[error("NAR entry {name:?} is out of order: it must sort bytewise strictly after the previous entry {previous:?}")]
    OutOfOrder {
        /// The previous entry's name, lossily decoded.
        previous: String,
        /// The offending name, lossily decoded.
        name: String,
    },
    /// The node for an entry was dropped before it was written.
    #[error("NAR entry {name:?} was dropped without writing its node (or closing its directory)")]
    Unfinished {
        /// The name of the entry left unwritten, lossily decoded.
        name: String,
    },
    /// An earlier error inside this directory (or below it) stopped writing.
    #[error("NAR writer refused to continue after an earlier error in entry {name:?}")]
    Poisoned {
        /// The name of the entry whose writing failed, lossily decoded.
        name: String,
    },
    /// The file reader ended before the announced size.
    #[error("NAR file contents: expected {expected} bytes but the reader ended after {actual}")]
    ShortFile {
        /// The announced size.
        expected: u64,
        /// The bytes actually read.
        actual: u64,
    },
    /// The file reader had more bytes than announced.
    #[error("NAR file contents: expected {expected} bytes but the reader has more")]
    LongFile {
        /// The announced size.
        expected: u64,
    },
    /// A [`crate::nar::flat::Writer`] call that does not fit where the archive is (for example
    /// an entry outside a directory, or a second root node).
    #[error("NAR writer misuse: {call} is not allowed {state}")]
    OutOfSequence {
        /// The call that was made.
        call: &'static str,
        /// Where the archive was.
        state: &'static str,
    },
}

impl Error {
    fn kind(&self) -> io::ErrorKind {
        match self {
            Error::ShortFile { .. } => io::ErrorKind::UnexpectedEof,
            _ => io::ErrorKind::InvalidInput,
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        io::Error::new(e.kind(), e)
    }
}

pub(crate) const MAGIC: &[u8] = b"nix-archive-1";

/// Write `str(bytes)`: little-endian u64 length, bytes, zero padding to a multiple of 8.
pub(crate) fn write_str<W: Write>(w: &mut W, bytes: &[u8]) -> io::Result<()> {
    w.write_all(&(bytes.len() as u64).to_le_bytes())?;
    w.write_all(bytes)?;
    write_padding(w, bytes.len() as u64)
}

pub(crate) fn write_padding<W: Write>(w: &mut W, len: u64) -> io::Result<()> {
    let pad = (8 - (len % 8) as usize) % 8;
    w.write_all(&[0u8; 8][..pad])
}

/// Write several `str()` tokens in one call (they are short protocol words).
pub(crate) fn write_tokens<W: Write>(w: &mut W, tokens: &[&[u8]]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(64);
    for t in tokens {
        write_str(&mut buf, t).expect("writing to a Vec cannot fail");
    }
    w.write_all(&buf)
}

/// State of the entry most recently started in a directory.
#[derive(Debug)]
enum Slot {
    /// No entry in progress.
    Idle,
    /// `entry()` handed out a node that has not reported completion.
    Pending,
    /// Writing the entry failed; the directory (and its parents) must stop.
    Failed,
}

/// Bookkeeping of one directory, borrowed by the node of its current entry.
#[derive(Debug)]
struct DirState {
    /// Name of the last entry started (the current one while `slot` is `Pending`/`Failed`).
    last: Option<Vec<u8>>,
    slot: Slot,
}

impl DirState {
    fn last_name(&self) -> String {
        String::from_utf8_lossy(self.last.as_deref().unwrap_or_default()).into_owned()
    }
}

/// A node about to be written: call exactly one of [`Node::file`], [`Node::symlink`] or
/// [`Node::directory`].
#[must_use = "a NAR node must be written; dropping it leaves the archive incomplete"]
#[derive(Debug)]
pub struct Node<'a, W: Write> {
    w: &'a mut W,
    /// The parent directory's slot for this entry, or `None` for the root node.
    parent: Option<&'a mut Slot>,
}

/// A directory being written: add entries in strictly increasing bytewise name order with
/// [`Directory::entry`], then [`Directory::close`] it.
#[must_use = "a NAR directory must be closed; dropping it leaves the archive incomplete"]
#[derive(Debug)]
pub struct Directory<'a, W: Write> {
    w: &'a mut W,
    parent: Option<&'a mut Slot>,
    state: DirState,
}

/// Start a NAR on `writer`: writes the `nix-archive-1` header and returns the root node.
pub fn open<W: Write>(writer: &mut W) -> io::Result<Node<'_, W>> {
    write_str(writer, MAGIC)?;
    Ok(Node { w: writer, parent: None })
}

impl<'a, W: Write> Node<'a, W> {
    /// Record the outcome of writing this node in the parent's slot and pass it on.
    fn finish(parent: Option<&'a mut Slot>, result: io::Result<()>) -> io::Result<()> {
        if let Some(slot) = parent {
            *slot = if result.is_ok() { Slot::Idle } else { Slot::Failed };
        }
        result
    }

    /// Write a regular file of exactly `size` bytes read from `reader`.
    /// Errors (and writes nothing more) if the reader is shorter or longer.
    pub fn file(self, executable: bool, size: u64, reader: &mut dyn Read) -> io::Result<()> {
        let Node { w, parent } = self;
        let result = (|| {
            let mut header: Vec<&[u8]> = vec![b"(", b"type", b"regular"];
            if executable {
                header.extend([&b"executable"[..], b""]);
            }
            header.push(b"contents");
            write_tokens(w, &header)?;
            write_contents(w, size, reader)?;
            close_node(w, parent.is_some())
        })();
        Self::finish(parent, result)
    }

    /// Write a symbolic link pointing at `target` (stored verbatim; may dangle).
    pub fn symlink(self, target: &[u8]) -> io::Result<()> {
        let Node { w, parent } = self;
        let result = write_tokens(w, &[b"(", b"type", b"symlink", b"target", target]).and_then(|()| close_node(w, parent.is_some()));
        Self::finish(parent, result)
    }

    /// Start a directory; its entries follow, then [`Directory::close`].
    pub fn directory(self) -> io::Result<Directory<'a, W>> {
        let Node { w, parent } = self;
        match write_tokens(w, &[b"(", b"type", b"directory"]) {
            Ok(()) => Ok(Directory { w, parent, state: DirState { last: None, slot: Slot::Idle } }),
            Err(e) => {
                if let Some(slot) = parent {
                    *slot = Slot::Failed;
                }
                Err(e)
            }
        }
    }
}

/// Write `str(contents)` for a file of exactly `size` bytes read from `reader`.
pub(crate) fn write_contents<W: Write>(w: &mut W, size: u64, reader: &mut dyn Read) -> io::Result<()> {
    w.write_all(&size.to_le_bytes())?;
    let copied = io::copy(&mut reader.take(size), w)?;
    if copied != size {
        return Err(Error::ShortFile { expected: size, actual: copied }.into());
    }
    let mut probe = [0u8; 1];
    loop {
        match reader.read(&mut probe) {
            Ok(0) => break,
            Ok(_) => return Err(Error::LongFile { expected: size }.into()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    write_padding(w, size)
}

/// Close a node: `)` for the node and, inside a directory, `)` for the enclosing entry.
pub(crate) fn close_node<W: Write>(w: &mut W, in_directory: bool) -> io::Result<()> {
    if in_directory {
        write_tokens(w, &[b")", b")"])
    } else {
        write_tokens(w, &[b")"])
    }
}

/// Why `name` cannot be a NAR entry name, if it cannot.
pub(crate) fn invalid_name_reason(name: &[u8]) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name == b"." || name == b".." {
        Some("`.` and `..` are not allowed")
    } else if name.contains(&b'/') {
        Some("it contains `/`")
    } else if name.contains(&0) {
        Some("it contains a NUL byte")
    } else {
        None
    }
}

impl<W: Write> Directory<'_, W> {
    /// Refuse to go on if the previous entry failed or was not finished.
    fn check_previous(&mut self) -> Result<(), Error> {
        match self.state.slot {
            Slot::Idle => Ok(()),
            Slot::Pending => Err(Error::Unfinished { name: self.state.last_name() }),
            Slot::Failed => Err(Error::Poisoned { name: self.state.last_name() }),
        }
    }

    /// Mark this directory and its parent failed and return `err`.
    fn fail<T>(&mut self, err: io::Error) -> io::Result<T> {
        if !matches!(self.state.slot, Slot::Failed) {
            // Keep `last` so later errors can name the entry that broke things.
            self.state.slot = Slot::Failed;
        }
        if let Some(parent) = self.parent.as_deref_mut() {
            *parent = Slot::Failed;
        }
        Err(err)
    }

    /// Start the entry `name`. It must be valid and sort bytewise strictly after the
    /// previous entry, and the previous entry's node must have been written.
    pub fn entry(&mut self, name: &[u8]) -> io::Result<Node<'_, W>> {
        if let Err(e) = self.check_previous() {
            return self.fail(e.into());
        }
        if let Some(reason) = invalid_name_reason(name) {
            let e = Error::InvalidName { name: String::from_utf8_lossy(name).into_owned(), reason };
            self.state.last = Some(name.to_vec());
            return self.fail(e.into());
        }
        if let Some(previous) = &self.state.last {
            if name <= previous.as_slice() {
                let e = Error::OutOfOrder { previous: String::from_utf8_lossy(previous).into_owned(), name: String::from_utf8_lossy(name).into_owned() };
                self.state.last = Some(name.to_vec());
                return self.fail(e.into());
            }
        }
        self.state.last = Some(name.to_vec());
        if let Err(e) = write_tokens(self.w, &[b"entry", b"(", b"name", name, b"node"]) {
            return self.fail(e);
        }
        self.state.slot = Slot::Pending;
        Ok(Node { w: self.w, parent: Some(&mut self.state.slot) })
    }

    /// Finish the directory. Fails if the last entry was not finished or an error occurred.
    pub fn close(mut self) -> io::Result<()> {
        if let Err(e) = self.check_previous() {
            return self.fail(e.into());
        }
        let in_directory = self.parent.is_some();
        let result = close_node(self.w, in_directory);
        match result {
            Ok(()) => {
                if let Some(parent) = self.parent.as_deref_mut() {
                    *parent = Slot::Idle;
                }
                Ok(())
            }
            Err(e) => self.fail(e),
        }
    }
}
