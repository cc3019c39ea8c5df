//! Turning a commit's tree into a NAR exactly as Nix does, straight from the object database:
//! no checkout, no temporary copy, memory bounded by a buffer, no recursion.
//!
//! Two generations of Nix disagree on what the files are (see docs/design.md):
//! - [`Generation::Modern`] (Nix >= 2.20): the tree as libgit2 1.9 reads it through Nix 2.26's
//!   `GitSourceAccessor`: raw blob bytes, libgit2's mode table, `export-ignore` as libgit2
//!   answers it (unless disabled), no replace refs.
//! - [`Generation::Legacy`] (Nix <= 2.19, Lix): what `git archive` (git 2.47) writes and Nix
//!   2.8 unpacks: git's mode table and name rules, `export-ignore`, checkout conversions
//!   (`text`, `eol`, `ident`, filter drivers, `working-tree-encoding`) and `export-subst`.
//!
//! The pieces: [`tree`] (entries, modes, names), [`attributes`] (both `.gitattributes`
//! parsers), [`blob`] (streaming object contents), [`legacy`] (git's conversions),
//! [`git_archive`] (what is left to git), and `walk` (the iterative export itself).
//!
//! A bare repository, like every remote (fetchgit-date keeps them in bare cache repositories, as
//! Nix does), is read as Nix's clone of it: its objects and refs only, no index, no
//! `info/attributes`, no configuration.

use std::io::Write;
use std::path::Path;

use gix::bstr::{BStr, BString};
use gix::ObjectId;
use nixstore::hash::{HashingWriter, NixHash};
use crate::repo_config::{Reader, RepoConfig};

pub mod attributes;
pub mod blob;
pub mod git_archive;
mod ident;
pub mod legacy;
pub mod tree;
mod walk;

/// Which Nix's export to reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Generation {
    /// Nix >= 2.20: the tree as libgit2 reads it.
    Modern,
    /// Nix <= 2.19 and Lix: `git archive` semantics.
    Legacy,
}

impl Generation {
    /// A short stable name, used in cache keys and messages.
    pub fn as_str(&self) -> &'static str {
        match self {
            Generation::Modern => "modern",
            Generation::Legacy => "legacy",
        }
    }

    /// The Nix releases of this generation, for messages.
    pub fn nix(&self) -> &'static str {
        match self {
            Generation::Modern => "Nix >= 2.20",
            Generation::Legacy => "Nix <= 2.19",
        }
    }

    /// Whether `refs/replace/` applies: git honours replace refs, libgit2 has none.
    pub fn honours_replace_refs(&self) -> bool {
        *self == Generation::Legacy
    }
}

/// How to export a tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExportOptions {
    /// Which Nix's export to reproduce.
    pub generation: Generation,
    /// Drop paths whose `export-ignore` attribute is set. Always true for [`Generation::Legacy`],
    /// where `git archive` gives no way around it.
    pub export_ignore: bool,
    /// Replace Git LFS pointer files (`filter=lfs`) by their objects, as Nix >= 2.27 does with
    /// `lfs = true`; needs a [`Smudge`] (see [`crate::lfs`]). Modern only.
    pub lfs: bool,
    /// `submodules = true`: gitlinks are replaced by their submodules' trees, through a
    /// [`Submodules`] hook (see [`crate::submodules`]). Legacy: the tree is then what `git
    /// checkout` writes in a fresh clone (no `export-ignore`, no `export-subst`, the default
    /// configuration), as Nix <= 2.19 runs `git submodule update --init --recursive` there.
    pub submodules: bool,
}

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
/// first [`crate::lfs::MAX_POINTER_SIZE`] bytes when it is larger: it is then no pointer).
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

/// What an export did besides copying blobs: the reasons two exports of one commit can differ.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// Paths left out because of `export-ignore`.
    pub export_ignored: Vec<BString>,
    /// Files whose bytes checkout conversions (line endings, `ident`, filters) changed.
    pub converted: Vec<BString>,
    /// Files whose `$Format:...$` placeholders `export-subst` expanded.
    pub substituted: Vec<BString>,
    /// Submodule entries, exported as empty directories.
    pub gitlinks: Vec<BString>,
    /// Files whose content a [`Smudge`] replaced (LFS pointers replaced by their objects).
    pub smudged: Vec<BString>,
    /// Submodules exported in place of their gitlinks (nested ones by their whole path).
    pub submodules: Vec<BString>,
}

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
    /// `submodules` asked of an export without a [`Submodules`] hook.
    #[error("submodules = true needs a submodule fetcher")]
    SubmodulesUnavailable,
    /// `lfs` asked of an export that cannot do it.
    #[error("lfs = true needs the modern export (Nix >= 2.27) and a Git LFS fetcher")]
    LfsUnavailable,
    /// Writing the NAR failed.
    #[error("cannot write the NAR: {0}")]
    Write(#[from] std::io::Error),
}

/// The hooks an export calls out to, each needed only by the option it serves.
#[derive(Default)]
pub struct Hooks<'h> {
    /// Replaces LFS pointers (`options.lfs`).
    pub smudge: Option<&'h mut dyn Smudge>,
    /// Supplies submodules (`options.submodules`).
    pub submodules: Option<Box<dyn Submodules>>,
}

/// NAR hash and size of `commit`'s tree, exported with `options`.
pub fn nar_hash(repo: &gix::Repository, commit: ObjectId, options: ExportOptions) -> Result<(NixHash, u64, ExportStats), ExportError> {
    nar_hash_with(repo, commit, options, Hooks::default())
}

/// [`nar_hash`], with the `hooks` the options need.
pub fn nar_hash_with(repo: &gix::Repository, commit: ObjectId, options: ExportOptions, hooks: Hooks<'_>) -> Result<(NixHash, u64, ExportStats), ExportError> {
    let mut hasher = HashingWriter::new(std::io::sink());
    let stats = write_nar_with(repo, commit, options, hooks, &mut hasher)?;
    let (hash, size, _) = hasher.finish();
    Ok((hash, size, stats))
}

/// Writes the NAR of `commit`'s tree to `out`, one buffer of object data in memory at a time.
pub fn write_nar<W: Write>(repo: &gix::Repository, commit: ObjectId, options: ExportOptions, out: &mut W) -> Result<ExportStats, ExportError> {
    write_nar_with(repo, commit, options, Hooks::default(), out)
}

/// [`write_nar`], with the `hooks` the options need.
pub fn write_nar_with<W: Write>(repo: &gix::Repository, commit: ObjectId, options: ExportOptions, hooks: Hooks<'_>, out: &mut W) -> Result<ExportStats, ExportError> {
    if options.lfs && (options.generation == Generation::Legacy || hooks.smudge.is_none()) {
        return Err(ExportError::LfsUnavailable);
    }
    if options.submodules && hooks.submodules.is_none() {
        return Err(ExportError::SubmodulesUnavailable);
    }
    let smudge = if options.lfs { hooks.smudge } else { None };
    let submodules = if options.submodules { hooks.submodules } else { None };
    let mut buffered = std::io::BufWriter::with_capacity(64 << 10, out);
    let stats = walk::export(repo, workdir_of(repo), commit, options, smudge, submodules, &mut buffered)?;
    buffered.flush()?;
    Ok(stats)
}

/// A path from a tree or the index, as a file name on this (Unix) system.
pub(crate) fn native_path(path: &[u8]) -> &Path {
    use std::os::unix::ffi::OsStrExt;
    Path::new(std::ffi::OsStr::from_bytes(path))
}

/// The work tree an export reads (`None` for a bare repository).
fn workdir_of(repo: &gix::Repository) -> Option<&Path> {
    repo.workdir()
}

/// The root tree of `commit`, with or without replace refs.
pub fn tree_of(repo: &gix::Repository, commit: ObjectId, generation: Generation) -> Result<ObjectId, ExportError> {
    let objects = blob::Objects::new(repo, generation.honours_replace_refs(), generation);
    walk::root_tree(&objects, commit, generation)
}

/// `_<hash>` of the repository's replace refs (which git's export of a commit follows), or
/// nothing when it has none.
fn replacements_suffix(repo: &gix::Repository) -> String {
    let mut replacements: Vec<(ObjectId, ObjectId)> = repo.objects.store_ref().replacements().collect();
    if replacements.is_empty() {
        return String::new();
    }
    replacements.sort_unstable();
    let mut bytes = Vec::new();
    for (from, to) in replacements {
        bytes.extend_from_slice(from.as_bytes());
        bytes.extend_from_slice(to.as_bytes());
    }
    format!("_{}", &nixstore::hash::sha256(&bytes).to_hex()[..16])
}

/// A key that names the export of `commit` with `options` and nothing else, for the cache.
///
/// A modern export depends on the tree (and `export_ignore`) and, in a work tree, on the
/// attribute sources outside the commit (`info/attributes`, the index's and the work tree's
/// tracked `.gitattributes`, the file `core.attributesFile` names). A legacy export depends on
/// the commit (`export-subst`) and on the repository's configuration (with every file it
/// includes), the file its `core.attributesFile` names, `info/attributes`, `.mailmap` and
/// replace refs.
pub fn cache_key(repo: &gix::Repository, commit: ObjectId, options: ExportOptions) -> Result<String, ExportError> {
    let workdir = workdir_of(repo);
    if options.submodules {
        // Submodules are exported from a fresh checkout (legacy) or from the commit alone
        // (modern), at the commits the tree records: nothing but the commit decides the files.
        return Ok(match options.generation {
            Generation::Legacy => format!("legacy_submodules_{commit}{}", replacements_suffix(repo)),
            Generation::Modern => format!("modern_submodules{}_{}", if options.lfs { "_lfs" } else { "" }, tree_of(repo, commit, Generation::Modern)?),
        });
    }
    match options.generation {
        Generation::Modern => {
            let tree = tree_of(repo, commit, Generation::Modern)?;
            let lfs = if options.lfs { "_lfs" } else { "" };
            let ignore = u8::from(options.export_ignore);
            if !options.export_ignore && !options.lfs {
                return Ok(format!("modern_0_{tree}"));
            }
            let Some(workdir) = workdir else {
                return Ok(format!("modern_{ignore}{lfs}_{tree}_bare"));
            };
            let mut sources = Vec::new();
            let config = RepoConfig::load(repo, Reader::Libgit2).map_err(|err| ExportError::Config(crate::error_chain(&err)))?;
            let global = config.attributes_file(workdir, Reader::Libgit2, attributes::libgit2::MAX_FILE_SIZE).map_err(|err| ExportError::Config(err.to_string()))?;
            sources.extend(global.unwrap_or_default());
            sources.push(0);
            sources.extend(attributes::libgit2::read_worktree_file(&repo.common_dir().join("info/attributes")).unwrap_or_default());
            if let Ok(index) = repo.open_index() {
                for entry in index.entries() {
                    let path = entry.path(&index);
                    if path == ".gitattributes" || path.ends_with(b"/.gitattributes") {
                        sources.extend_from_slice(path);
                        sources.extend_from_slice(entry.id.as_bytes());
                        sources.extend(attributes::libgit2::read_worktree_file(&workdir.join(native_path(path))).unwrap_or_default());
                    }
                }
            }
            let fingerprint = nixstore::hash::sha256(&sources).to_hex();
            Ok(format!("modern_{ignore}{lfs}_{tree}_{}", &fingerprint[..16]))
        }
        Generation::Legacy => {
            let Some(workdir) = workdir else {
                return Ok(format!("legacy_{commit}_bare{}", replacements_suffix(repo)));
            };
            // The configuration as git reads it (every included file) and the attributes file
            // its core.attributesFile names.
            let config = RepoConfig::load(repo, Reader::Git).map_err(|err| ExportError::Config(crate::error_chain(&err)))?;
            let global = config.attributes_file(workdir, Reader::Git, attributes::git::MAX_FILE_SIZE as u64).map_err(|err| ExportError::Config(err.to_string()))?;
            let mut sources = config.fingerprint().to_vec();
            sources.push(0);
            sources.extend(global.unwrap_or_default());
            sources.push(0);
            for file in [repo.common_dir().join("info/attributes"), workdir.join(".mailmap")] {
                sources.extend_from_slice(file.as_os_str().as_encoded_bytes());
                sources.push(0);
                sources.extend(attributes::libgit2::read_worktree_file(&file).unwrap_or_default());
                sources.push(0);
            }
            for (from, to) in repo.objects.store_ref().replacements() {
                sources.extend_from_slice(from.as_bytes());
                sources.extend_from_slice(to.as_bytes());
            }
            let fingerprint = nixstore::hash::sha256(&sources).to_hex();
            Ok(format!("legacy_{commit}_{}", &fingerprint[..16]))
        }
    }
}
