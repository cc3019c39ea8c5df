//! Why an export failed: [`ExportError`].

use gix::bstr::BString;
use gix::ObjectId;

use crate::nix_version::Generation;

/// Why a tree could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Nix of this generation fails on the commit too.
    #[error("cannot export '{path}' of commit {commit} as {}: {reason}; {} fails on this commit too", .generation.nix(), .generation.nix())]
    NixFails {
        /// The commit being exported.
        commit: ObjectId,
        /// The path of the entry ("" for the commit itself).
        path: BString,
        /// Which generation.
        generation: Generation,
        /// What is wrong, and what Nix does with it.
        reason: String,
    },
    /// Nix of this generation exports the commit, but not in a way fetchgit-date reproduces.
    #[error("cannot export '{path}' of commit {commit} as {}: {reason}", .generation.nix())]
    Unsupported {
        /// The commit being exported.
        commit: ObjectId,
        /// The path of the entry.
        path: BString,
        /// Which generation.
        generation: Generation,
        /// What Nix does, and why it is not reproduced.
        reason: String,
    },
    /// The same name appears twice in one tree.
    #[error("tree entry '{path}' appears twice in commit {commit}: the tree is corrupt (git fsck reports it); Nix >= 2.20 exports one of the two and Nix <= 2.19 the last, so no hash is printed")]
    DuplicateName {
        /// The commit being exported.
        commit: ObjectId,
        /// The duplicated path.
        path: BString,
    },
    /// An object is missing or cannot be decoded.
    #[error("cannot read object {id} ('{path}'): {reason}: the repository is corrupt or incomplete (git fsck tells more)")]
    Corrupt {
        /// The object that failed.
        id: ObjectId,
        /// Where it sits in the tree.
        path: BString,
        /// What went wrong.
        reason: String,
    },
    /// An object does not fit in memory.
    #[error("out of memory reading '{path}' ({size} bytes, object {id}): it is stored as a delta, so it must be rebuilt in memory (git does the same); run where that much memory is available")]
    OutOfMemory {
        /// The object.
        id: ObjectId,
        /// Its path.
        path: BString,
        /// Its size.
        size: u64,
    },
    /// git, which expands `export-subst` and runs filters for legacy exports, failed.
    #[error("cannot export '{path}' as git archive does: {reason}")]
    Git {
        /// The file.
        path: BString,
        /// What went wrong.
        reason: String,
    },
    /// Exporting as the release does would run a program the repository configures.
    #[error("{0}")]
    Program(String),
    /// The repository's configuration holds a value git refuses.
    #[error("cannot export as git archive does: {0}; git archive (and so Nix <= 2.19) fails on this repository too")]
    Config(String),
    /// A Git LFS object could not be put in place of its pointer.
    #[error("while smudging git-lfs file '{path}': {reason}")]
    Lfs {
        /// The pointer file.
        path: BString,
        /// What went wrong.
        reason: String,
    },
    /// A submodule could not be exported.
    #[error("submodule '{path}': {reason}")]
    Submodule {
        /// The gitlink's path.
        path: BString,
        /// What went wrong.
        reason: String,
    },
    /// `submodules` asked of an export without a [`Submodules`](super::hooks::Submodules) hook.
    #[error("submodules = true needs a submodule fetcher")]
    SubmodulesUnavailable,
    /// `lfs` asked of an export that cannot do it.
    #[error("lfs = true needs the modern export (Nix >= 2.27) and a Git LFS fetcher")]
    LfsUnavailable,
    /// Writing the NAR failed.
    #[error("cannot write the NAR: {0}")]
    Write(#[from] std::io::Error),
}
