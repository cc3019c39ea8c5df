//! A NAR writer driven by calls in archive order instead of nested values, for iterative
//! walks: its state is an explicit stack, so a tree 20000 directories deep needs no recursion
//! and no borrow per level (see [`crate::nar::writer`] for the nested form, which writes the
//! same bytes).
//!
//! The same checks as [`crate::nar::writer`] are made in release builds: entry names must be
//! valid and strictly increasing bytewise within a directory, file contents must have exactly
//! the announced size, and every call must fit where the archive is (an entry only inside a
//! directory, exactly one node per entry, one root). A violation returns an [`io::Error`]
//! wrapping a [`crate::nar::writer::Error`]; after any error the writer refuses every further
//! call, so a broken archive is never completed.
//!
//! ```
//! use nixstore::nar::flat::Writer;
//! let mut nar = Writer::new(Vec::new())?;
//! nar.directory()?;
//! nar.entry(b"x")?;
//! nar.file(false, 4, &mut &b"foo\n"[..])?;
//! nar.close_directory()?;
//! let bytes = nar.finish()?;
//! assert_eq!(
//!     nixstore::hash::sha256(&bytes).to_sri(),
//!     "sha256-wzlAGjxKxpaWdqVhlq55q5Gxo4Bf860+kLeEa/v02As="
//! );
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io::{self, Read, Write};

use super::writer::{close_node, invalid_name_reason, write_contents, write_str, write_tokens, Error, MAGIC};

/// Where the archive is between calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A node must come next: the root, or the node of the entry just started.
    Node,
    /// Inside the innermost open directory: an entry or its end.
    EntryOrClose,
    /// The root node is complete.
    Done,
    /// A call failed; nothing more is written.
    Failed,
}

/// A NAR being written, one call per archive event. See the [module docs](self).
#[derive(Debug)]
pub struct Writer<W: Write> {
    w: W,
    /// For each open directory, outermost first: the name of its last entry.
    dirs: Vec<Option<Vec<u8>>>,
    /// Whether the node expected next (or being written) is an entry's node rather than the root.
    in_entry: bool,
    expect: Expect,
}

impl<W: Write> Writer<W> {
    /// Starts a NAR on `w` (writes the `nix-archive-1` header); the root node comes next.
    pub fn new(mut w: W) -> io::Result<Self> {
        write_str(&mut w, MAGIC)?;
        Ok(Writer { w, dirs: Vec::new(), in_entry: false, expect: Expect::Node })
    }

    /// How many directories are open.
    pub fn depth(&self) -> usize {
        self.dirs.len()
    }

    fn check(&mut self, call: &'static str, want: Expect) -> io::Result<()> {
        if self.expect == want {
            return Ok(());
        }
        let state = match self.expect {
            Expect::Node => "where a node is expected",
            Expect::EntryOrClose => "inside a directory (expected an entry or its end)",
            Expect::Done => "after the root node is complete",
            Expect::Failed => "after an earlier error",
        };
        self.expect = Expect::Failed;
        Err(Error::OutOfSequence { call, state }.into())
    }

    /// Runs `write`; on failure the writer refuses everything after.
    fn guard(&mut self, write: impl FnOnce(&mut Self) -> io::Result<()>) -> io::Result<()> {
        let result = write(self);
        if result.is_err() {
            self.expect = Expect::Failed;
        }
        result
    }

    /// The node just written is complete: close its entry, if it is one.
    fn node_done(&mut self) -> io::Result<()> {
        close_node(&mut self.w, self.in_entry)?;
        self.expect = if self.dirs.is_empty() { Expect::Done } else { Expect::EntryOrClose };
        Ok(())
    }

    /// Writes a regular file of exactly `size` bytes read from `reader` as the expected node.
    pub fn file(&mut self, executable: bool, size: u64, reader: &mut dyn Read) -> io::Result<()> {
        self.check("file", Expect::Node)?;
        self.guard(|this| {
            let mut header: Vec<&[u8]> = vec![b"(", b"type", b"regular"];
            if executable {
                header.extend([&b"executable"[..], b""]);
            }
            header.push(b"contents");
            write_tokens(&mut this.w, &header)?;
            write_contents(&mut this.w, size, reader)?;
            this.node_done()
        })
    }

    /// Writes a symbolic link to `target` (stored verbatim) as the expected node.
    pub fn symlink(&mut self, target: &[u8]) -> io::Result<()> {
        self.check("symlink", Expect::Node)?;
        self.guard(|this| {
            write_tokens(&mut this.w, &[b"(", b"type", b"symlink", b"target", target])?;
            this.node_done()
        })
    }

    /// Opens a directory as the expected node; its entries follow, then [`Self::close_directory`].
    pub fn directory(&mut self) -> io::Result<()> {
        self.check("directory", Expect::Node)?;
        self.guard(|this| {
            write_tokens(&mut this.w, &[b"(", b"type", b"directory"])?;
            this.dirs.push(None);
            this.expect = Expect::EntryOrClose;
            Ok(())
        })
    }

    /// Starts the entry `name` in the innermost open directory; its node comes next. The name
    /// must be valid and sort bytewise strictly after the directory's previous entry.
    pub fn entry(&mut self, name: &[u8]) -> io::Result<()> {
        self.check("entry", Expect::EntryOrClose)?;
        self.guard(|this| {
            if let Some(reason) = invalid_name_reason(name) {
                return Err(Error::InvalidName { name: String::from_utf8_lossy(name).into_owned(), reason }.into());
            }
            let last = this.dirs.last_mut().expect("EntryOrClose means a directory is open");
            if let Some(previous) = last {
                if name <= previous.as_slice() {
                    return Err(Error::OutOfOrder {
                        previous: String::from_utf8_lossy(previous).into_owned(),
                        name: String::from_utf8_lossy(name).into_owned(),
                    }
                    .into());
                }
                previous.clear();
                previous.extend_from_slice(name);
            } else {
                *last = Some(name.to_vec());
            }
            write_tokens(&mut this.w, &[b"entry", b"(", b"name", name, b"node"])?;
            this.in_entry = true;
            this.expect = Expect::Node;
            Ok(())
        })
    }

    /// Ends the innermost open directory.
    pub fn close_directory(&mut self) -> io::Result<()> {
        self.check("close_directory", Expect::EntryOrClose)?;
        self.guard(|this| {
            this.dirs.pop();
            // The directory closed is an entry's node unless it was the root.
            this.in_entry = !this.dirs.is_empty();
            this.node_done()
        })
    }

    /// Checks that the root node is complete and returns the underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.check("finish", Expect::Done)?;
        Ok(self.w)
    }
}
