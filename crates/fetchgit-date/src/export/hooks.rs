//! The hooks through which the features that change the tree plug into the export: Git LFS
//! ([`Smudge`], implemented by [`crate::lfs`]) and submodules ([`Submodules`], implemented by
//! [`crate::submodules`]). The export calls them; it never names their implementations.

use gix::bstr::BStr;
use gix::ObjectId;

use super::legacy;

/// A [`Smudge`] sees at most this many bytes of a blob: a longer blob is never a Git LFS
/// pointer (Nix's limit, `lfs::Fetch`), so it is kept as it is.
pub const MAX_SMUDGE_INPUT: usize = 1024;

/// The error a [`Smudged`] reader returns when its content, not the NAR being written, failed
/// (an LFS object changed while it was read): the export reports it as the smudge's failure.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SmudgedContentError(pub String);

/// The hook through which [`crate::submodules`] supplies the submodules of the tree being
/// exported, with `submodules = true`: called for every gitlink, in export order.
pub trait Submodules {
    /// The submodule at `path`, recorded at `commit`: where to read it and the hook for its own
    /// submodules; `None` keeps the gitlink as an empty directory (git's `update = none`).
    fn open(&mut self, path: &BStr, commit: ObjectId) -> Result<Option<Submodule>, String>;
}

/// A submodule to export in place of its gitlink.
pub struct Submodule {
    /// The repository holding the submodule's commit.
    pub repo: gix::Repository,
    /// Its own submodules.
    pub submodules: Box<dyn Submodules>,
    /// Legacy: the configuration its checkout runs with (that of an existing `.git/modules/NAME`
    /// Nix copied); `None` for a fresh clone's defaults.
    pub settings: Option<legacy::Settings>,
    /// Modern with `lfs`: replaces its LFS pointers.
    pub smudge: Option<Box<dyn Smudge>>,
}

/// The hook through which [`crate::lfs`] replaces a file's content: called for every regular
/// file and symlink whose `filter` attribute is exactly `lfs` (read like `export-ignore`, with
/// libgit2's sources: Nix's `lfs::Fetch::shouldFetch`), in export order, with the blob (its
/// first [`MAX_SMUDGE_INPUT`] bytes when it is larger: it is then no pointer).
pub trait Smudge {
    /// The content to export instead of `blob`, or `None` to keep the blob (not a pointer).
    fn smudge(&mut self, path: &BStr, blob: &[u8]) -> Result<Option<Smudged>, String>;
}

/// A replacement content: exactly `size` bytes from `reader`.
pub struct Smudged {
    /// The content's length.
    pub size: u64,
    /// The content; an error while reading it aborts the export.
    pub reader: Box<dyn std::io::Read>,
}

/// The hooks an export calls out to, each needed only by the option it serves.
#[derive(Default)]
pub struct Hooks<'h> {
    /// Replaces LFS pointers (`options.lfs`).
    pub smudge: Option<&'h mut dyn Smudge>,
    /// Supplies submodules (`options.submodules`).
    pub submodules: Option<Box<dyn Submodules>>,
}
