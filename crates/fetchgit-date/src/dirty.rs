//! A local work tree fetched without `ref` or `rev`, as `builtins.fetchGit` takes it: the tracked
//! files as they are on disk (deleted ones left out, untracked ones never included).
//!
//! Which work trees are taken this way, and how, depends on the Nix release (see
//! [`crate::nix_version`]):
//! - Nix <= 2.19 and Lix copy the files only when the tree is dirty (`git diff HEAD --quiet
//!   --ignore-submodules --` fails), or has no commit; a clean tree is exported from `HEAD` by
//!   `git archive`. They keep every directory that holds a tracked path (`git ls-files`, which
//!   lists gitlinks too), so an unfetched submodule's parent directory stays; Lix >= 2.91 also
//!   keeps the submodule's own (empty) directory.
//! - The libgit2 fetcher (Nix >= 2.20) always reads the work tree: the files libgit2's status
//!   reports as tracked and present, submodules excluded (so neither they nor directories holding
//!   only them appear), and `export-ignore` read from the index's `.gitattributes`
//!   (`GIT_ATTR_CHECK_INDEX_ONLY | GIT_ATTR_CHECK_NO_SYSTEM`).

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use gix::bstr::{BStr, BString, ByteSlice};
use gix::index::entry::Mode;
use nixstore::hash::{HashingWriter, NixHash};
use nixstore::nar::writer::{self, Directory, Node};

use crate::error_chain;
use crate::export::Libgit2Attributes;

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

/// How a work tree becomes a NAR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WorkTreeExport {
    /// The libgit2 fetcher's reading (Nix >= 2.20): submodules and deleted files left out before
    /// directories are kept, and `export-ignore` applied when [`Self::export_ignore`].
    pub libgit2: bool,
    /// Drop paths whose `export-ignore` is set in the index's attributes (libgit2 only).
    pub export_ignore: bool,
    /// Keep an unfetched submodule as an empty directory (Lix >= 2.91).
    pub submodule_directories: bool,
}

/// Whether tracked files differ from `HEAD`, submodules aside: what makes every Nix release take
/// the work tree as dirty. Nix 2.8 to 2.19 and Lix run `git diff HEAD --quiet --ignore-submodules
/// --`, libgit2's status excludes submodules; either way a gitlink that changed, appeared, went
/// away or has no checkout does not count, and untracked files never do.
pub fn is_dirty(repo: &gix::Repository) -> Result<bool, DirtyError> {
    let status_error = |err: &dyn std::error::Error| DirtyError::Status(error_chain(err));
    let is_gitlink = |mode: Mode| mode == Mode::COMMIT;
    let head_tree = repo.head_tree_id_or_empty().map_err(|e| status_error(&e))?;
    let index = repo.index_or_empty().map_err(|e| status_error(&e))?;
    let mut index_differs = false;
    repo.tree_index_status(&head_tree, &index, None, gix::status::tree_index::TrackRenames::Disabled, |change, _, _| {
        let gitlink = match &change {
            gix::diff::index::ChangeRef::Modification { previous_entry_mode, entry_mode, .. } => is_gitlink(*previous_entry_mode) || is_gitlink(*entry_mode),
            other => is_gitlink(other.fields().2),
        };
        if gitlink {
            return Ok(std::ops::ControlFlow::Continue(()));
        }
        index_differs = true;
        Ok(std::ops::ControlFlow::Break(()))
    })
    .map_err(|e| status_error(&e))?;
    if index_differs {
        return Ok(true);
    }
    let ignore_submodules = gix::status::Submodule::Given { ignore: gix::submodule::config::Ignore::All, check_dirty: false };
    let items = repo
        .status(gix::progress::Discard)
        .map_err(|e| status_error(&e))?
        .index_worktree_rewrites(None)
        .index_worktree_submodules(ignore_submodules)
        .index_worktree_options_mut(|opts| opts.dirwalk_options = None)
        .into_index_worktree_iter(Vec::new())
        .map_err(|e| status_error(&e))?;
    for item in items {
        match item.map_err(|e| status_error(&e))? {
            gix::status::index_worktree::Item::Modification { entry, .. } if is_gitlink(entry.mode) => continue,
            _ => return Ok(true),
        }
    }
    Ok(false)
}

/// Whether the index holds any entry: with no commit yet, what makes the libgit2 fetcher (and
/// `git diff`) see changes.
pub fn has_staged_files(repo: &gix::Repository) -> Result<bool, DirtyError> {
    let index = repo.index_or_empty().map_err(|err| DirtyError::Index(error_chain(&err)))?;
    Ok(!index.entries().is_empty())
}

/// NAR hash and size of the tracked files of `workdir` as they are on disk.
pub fn nar_hash(repo: &gix::Repository, workdir: &Path, export: WorkTreeExport) -> Result<(NixHash, u64), DirtyError> {
    let mut hasher = HashingWriter::new(std::io::sink());
    write_nar(repo, workdir, export, &mut hasher)?;
    let (hash, size, _) = hasher.finish();
    Ok((hash, size))
}

/// What a walk of the work tree keeps.
struct Keep {
    /// Tracked paths that count.
    tracked: BTreeSet<BString>,
    /// Gitlinks kept as directories of their own (Lix >= 2.91).
    submodules: BTreeSet<BString>,
    attributes: Option<Libgit2Attributes>,
    objects: gix::OdbHandle,
}

/// Writes the NAR of the tracked files of `workdir` as they are on disk.
pub fn write_nar<W: Write>(repo: &gix::Repository, workdir: &Path, export: WorkTreeExport, out: &mut W) -> Result<(), DirtyError> {
    let index = repo.index_or_empty().map_err(|err| DirtyError::Index(error_chain(&err)))?;
    let mut tracked = BTreeSet::new();
    let mut submodules = BTreeSet::new();
    for entry in index.entries() {
        let path = entry.path(&index);
        let gitlink = entry.mode == Mode::COMMIT;
        if gitlink && export.submodule_directories {
            submodules.insert(path.to_owned());
        }
        // libgit2's status lists neither submodules nor files deleted from the work tree.
        let present = || gix::path::from_bstr(path).is_ok_and(|rela| std::fs::symlink_metadata(workdir.join(rela)).is_ok());
        if export.libgit2 && (gitlink || !present()) {
            continue;
        }
        tracked.insert(path.to_owned());
    }
    let attributes = match export.libgit2 && export.export_ignore {
        true => Some(Libgit2Attributes::index_only(repo).map_err(|e| DirtyError::Index(e.to_string()))?),
        false => None,
    };
    let mut keep = Keep { tracked, submodules, attributes, objects: repo.objects.clone() };
    let read_error = |path: &Path, source| DirtyError::Read { path: path.to_owned(), source };
    let root = writer::open(out).and_then(|node| node.directory()).map_err(|e| read_error(workdir, e))?;
    write_dir(root, workdir, &BString::default(), &mut keep)
}

impl Keep {
    /// Nix's filter: a file is kept when it is tracked, a directory when a tracked path lies
    /// below it (or it is a kept submodule); `export-ignore` then drops what it names.
    fn keeps(&mut self, rela: &BString, is_dir: bool) -> bool {
        let listed = if is_dir {
            let mut prefix = rela.clone();
            prefix.push(b'/');
            self.tracked.range(prefix.clone()..).next().is_some_and(|first| first.starts_with(&prefix)) || self.submodules.contains(rela)
        } else {
            self.tracked.contains(rela)
        };
        listed && !self.attributes.as_mut().is_some_and(|attributes| attributes.export_ignored(rela.as_bstr(), is_dir))
    }

    fn enter(&mut self, rela: &BStr) -> std::io::Result<()> {
        match &mut self.attributes {
            Some(attributes) => attributes.enter_directory(rela, None, &self.objects),
            None => Ok(()),
        }
    }

    fn leave(&mut self) {
        if let Some(attributes) = &mut self.attributes {
            attributes.leave_directory();
        }
    }
}

fn write_dir<W: Write>(mut dir: Directory<'_, W>, path: &Path, rela: &BString, keep: &mut Keep) -> Result<(), DirtyError> {
    let read_error = |path: &Path, source| DirtyError::Read { path: path.to_owned(), source };
    keep.enter(rela.as_bstr()).map_err(|e| read_error(path, e))?;
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
        if !keep.keeps(&child_rela, meta.is_dir()) {
            continue;
        }
        let node = dir.entry(name.as_bytes()).map_err(|e| read_error(&child, e))?;
        write_node(node, &child, &child_rela, &meta, keep)?;
    }
    keep.leave();
    dir.close().map_err(|e| read_error(path, e))
}

fn write_node<W: Write>(node: Node<'_, W>, path: &Path, rela: &BString, meta: &std::fs::Metadata, keep: &mut Keep) -> Result<(), DirtyError> {
    let read_error = |source| DirtyError::Read { path: path.to_owned(), source };
    if meta.is_dir() {
        return write_dir(node.directory().map_err(read_error)?, path, rela, keep);
    }
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path).map_err(read_error)?;
        return node.symlink(target.as_os_str().as_bytes()).map_err(read_error);
    }
    let executable = meta.permissions().mode() & 0o100 != 0;
    let mut file = std::fs::File::open(path).map_err(read_error)?;
    node.file(executable, meta.len(), &mut file).map_err(read_error)
}
