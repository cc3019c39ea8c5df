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
//!
//! Dirtiness for Nix <= 2.19 is decided by running that `git diff` (isolated from the user's
//! configuration), which compares contents after git's clean conversions: a file whose only
//! change is CRLF line endings under `text` is clean there, while libgit2's status (and gix)
//! call it modified (measured with Nix 2.8 and Nix 2.26).
//!
//! Reading the files: the walk is iterative (a work tree of any depth), files are opened
//! non-blocking and checked again after opening, and a tracked path that is neither a regular
//! file, a directory nor a symlink (a FIFO, a device, a socket) is an error for Nix <= 2.19,
//! whose `dumpPath` fails on it ("has an unsupported type"), and absent for the libgit2 fetcher,
//! whose work-tree iterator skips such files (measured with Nix 2.26).

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use gix::bstr::{BStr, BString, ByteSlice};
use gix::index::entry::Mode;
use nixstore::hash::{HashingWriter, NixHash};
use nixstore::nar::flat;

use crate::error_chain;
use crate::export::attributes::libgit2::Libgit2Attributes;
use crate::nix_version::Generation;

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
    /// A submodule of the work tree cannot be read.
    #[error("{0}")]
    Submodule(String),
    /// Deciding needs a program the repository configures (see [`crate::no_exec`]).
    #[error("{0}")]
    Program(String),
    /// A tracked path is a kind of file a NAR cannot hold.
    #[error("tracked file '{}' is {what} in the work tree: Nix cannot add it to the store either (unsupported file type); restore it (git checkout -- FILE) or commit the change", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What it is.
        what: &'static str,
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
    /// Legacy with `submodules = true`: the files `git ls-files --recurse-submodules` lists, so
    /// those of checked-out submodules too.
    pub recurse_submodules: bool,
    /// Modern with `submodules = true`: each path the work tree's `.gitmodules` names is the
    /// work tree of a submodule, read the same way (see [`work_tree_submodules`]).
    pub mount_submodules: bool,
}

/// A submodule of a work tree, as the libgit2 fetcher (Nix >= 2.20) takes it with `submodules =
/// true` and no `ref` or `rev`: the work tree at the path of a `.gitmodules` entry (the file on
/// disk; its `url` and the gitlink's commit do not matter), an input of its own read from disk.
pub struct WorkTreeSubmodule {
    /// Its path in the superproject.
    pub path: BString,
    /// Its repository.
    pub repo: gix::Repository,
    /// Its work tree.
    pub workdir: PathBuf,
    /// Its own submodules.
    pub nested: Vec<WorkTreeSubmodule>,
}

/// The submodules of the work tree `workdir`, as [`WorkTreeSubmodule`] says, nested ones with
/// them. A path that is no checked-out work tree fails, as it does in Nix ("not checked out").
pub fn work_tree_submodules(workdir: &Path) -> Result<Vec<WorkTreeSubmodule>, DirtyError> {
    submodules_at(workdir, 0)
}

fn submodules_at(workdir: &Path, depth: usize) -> Result<Vec<WorkTreeSubmodule>, DirtyError> {
    let file = workdir.join(".gitmodules");
    let Ok(bytes) = std::fs::read(&file) else { return Ok(Vec::new()) };
    let gitmodules = crate::submodules::Gitmodules::parse(&bytes, Generation::Modern).map_err(DirtyError::Submodule)?;
    // parseSubmodules() goes by name; mounting one path twice keeps the later name.
    let mut by_path = std::collections::BTreeMap::new();
    let mut entries: Vec<_> = gitmodules.entries().iter().collect();
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    for entry in entries {
        by_path.insert(crate::submodules::canon_path(entry.path.as_ref()), entry.name.clone());
    }
    if !by_path.is_empty() && depth >= crate::repo_files::MAX_SUBMODULE_DEPTH {
        let most = crate::repo_files::MAX_SUBMODULE_DEPTH;
        return Err(DirtyError::Submodule(format!("submodules of {} are nested more than {most} deep", workdir.display())));
    }
    let mut out = Vec::new();
    for (path, name) in by_path {
        let dir = workdir.join(crate::repo_files::native_path(&path));
        if path.is_empty() || !dir.join(".git").exists() {
            return Err(DirtyError::Submodule(format!(
                "submodule '{name}' at '{}' is not checked out: Nix >= 2.20 reads the submodules of a work tree from their own work trees and fails too; run git submodule update --init --recursive, or pass ref = \"HEAD\"",
                dir.display()
            )));
        }
        // Nix >= 2.20 opens each as a repository of its own, with libgit2's owner validation.
        crate::ownership::check(&dir, Generation::Modern).map_err(|err| DirtyError::Submodule(err.to_string()))?;
        let repo = crate::resolve::open(&dir).map_err(|err| DirtyError::Submodule(error_chain(&err)))?;
        let nested = submodules_at(&dir, depth + 1)?;
        out.push(WorkTreeSubmodule { path, repo, workdir: dir, nested });
    }
    Ok(out)
}

/// Whether a work tree with `submodules` is dirty for the libgit2 fetcher: its own status, or
/// any submodule's (each read as an input of its own).
pub fn is_dirty_with_work_tree_submodules(repo: &gix::Repository, submodules: &[WorkTreeSubmodule]) -> Result<bool, DirtyError> {
    if status_is_dirty(repo)? {
        return Ok(true);
    }
    for submodule in submodules {
        if is_dirty_with_work_tree_submodules(&submodule.repo, &submodule.nested)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether tracked files differ from `HEAD`, submodules aside: what makes every Nix release take
/// the work tree as dirty. Nix 2.8 to 2.19 and Lix run `git diff HEAD --quiet --ignore-submodules
/// --`, libgit2's status excludes submodules; either way a gitlink that changed, appeared, went
/// away or has no checkout does not count, and untracked files never do.
pub fn is_dirty(repo: &gix::Repository, generation: Generation) -> Result<bool, DirtyError> {
    match generation {
        Generation::Legacy => git_diff_is_dirty(repo, true),
        Generation::Modern => status_is_dirty(repo),
    }
}

/// Whether Nix <= 2.19 takes the work tree as dirty with `submodules = true`: its `git diff`
/// then leaves out `--ignore-submodules`, so a submodule checked out at another commit, or with
/// changes of its own, makes the tree dirty too.
pub fn is_dirty_with_submodules(repo: &gix::Repository) -> Result<bool, DirtyError> {
    git_diff_is_dirty(repo, false)
}

/// `git diff HEAD --quiet [--ignore-submodules] --` in the work tree, with no user or system
/// configuration and nothing configured run ([`crate::no_exec`]). git compares a file whose
/// `filter` attribute names a driver with a `clean` (or `process`) command through that
/// program, so whether Nix <= 2.19 takes the tree as dirty, and with it the hash, depends on
/// running it: such a work tree is refused.
fn git_diff_is_dirty(repo: &gix::Repository, ignore_submodules: bool) -> Result<bool, DirtyError> {
    let workdir = repo.workdir().expect("dirty checks happen in work trees");
    let git = crate::no_exec::SafeGit::new(workdir).map_err(DirtyError::Status)?;
    if let Some((path, key)) = git.clean_filtered_paths(!ignore_submodules).map_err(DirtyError::Status)?.into_iter().next() {
        let what = "Nix <= 2.19 runs it (git diff) to decide whether the work tree is dirty, and so which files it hashes";
        return Err(DirtyError::Program(crate::no_exec::refusal(&key, &path, what)));
    }
    let mut cmd = git.command();
    cmd.args(["diff", "HEAD", "--quiet", "--no-ext-diff", "--no-textconv"]);
    if ignore_submodules {
        cmd.arg("--ignore-submodules");
    }
    let output = cmd.arg("--").stdout(Stdio::null()).stderr(Stdio::piped()).output().map_err(|err| DirtyError::Status(format!("cannot run git: {err}")))?;
    match output.status.code() {
        Some(0) => Ok(false),
        Some(1) => Ok(true),
        _ => {
            Err(DirtyError::Status(format!("git diff HEAD failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr).trim().replace('\n', "; "))))
        }
    }
}

/// `git ls-files -z --recurse-submodules`, as Nix <= 2.19 and Lix run it with `submodules`:
/// the tracked paths, those of initialised and checked-out submodules in their place.
fn git_ls_files_recursive(workdir: &Path) -> Result<BTreeSet<BString>, DirtyError> {
    let git = crate::no_exec::SafeGit::new(workdir).map_err(DirtyError::Index)?;
    let output = git
        .command()
        .args(["ls-files", "-z", "--recurse-submodules"])
        .stderr(Stdio::piped())
        .output()
        .map_err(|err| DirtyError::Index(format!("cannot run git: {err}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().replace('\n', "; ");
        return Err(DirtyError::Index(format!("git ls-files --recurse-submodules failed ({}): {stderr}", output.status)));
    }
    Ok(output.stdout.split(|&b| b == 0).filter(|path| !path.is_empty()).map(BString::from).collect())
}

/// libgit2's status, submodules aside, as gix computes it, with no filter driver or other
/// program of the repository's configuration (libgit2 runs none either).
fn status_is_dirty(repo: &gix::Repository) -> Result<bool, DirtyError> {
    let repo = &crate::no_exec::without_programs(repo);
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
    let read_error = |path: &Path, source| DirtyError::Read { path: path.to_owned(), source };
    let mounts = if export.mount_submodules { work_tree_submodules(workdir)? } else { Vec::new() };
    let mut nar = flat::Writer::new(out).map_err(|e| read_error(workdir, e))?;
    write_tree(&mut nar, repo, workdir, export, &mounts)?;
    nar.finish().map_err(|e| read_error(workdir, e))?;
    Ok(())
}

/// Writes the directory node of the work tree `workdir` into `nar`, `mounts` in place.
fn write_tree<W: Write>(
    nar: &mut flat::Writer<W>,
    repo: &gix::Repository,
    workdir: &Path,
    export: WorkTreeExport,
    mounts: &[WorkTreeSubmodule],
) -> Result<(), DirtyError> {
    let index = repo.index_or_empty().map_err(|err| DirtyError::Index(error_chain(&err)))?;
    let mut tracked = BTreeSet::new();
    let mut submodules = BTreeSet::new();
    if export.recurse_submodules {
        tracked = git_ls_files_recursive(workdir)?;
        // Lix keeps every listed directory: an unfetched submodule's among them.
        if export.submodule_directories {
            submodules = tracked.clone();
        }
    }
    for entry in index.entries().iter().filter(|_| !export.recurse_submodules) {
        let path = entry.path(&index);
        let gitlink = entry.mode == Mode::COMMIT;
        if gitlink && export.submodule_directories {
            submodules.insert(path.to_owned());
        }
        // libgit2's status lists neither submodules nor files deleted from the work tree.
        let present = || {
            std::fs::symlink_metadata(workdir.join(crate::repo_files::native_path(path)))
                .is_ok_and(|meta| meta.is_file() || meta.is_dir() || meta.file_type().is_symlink())
        };
        if export.libgit2 && (gitlink || !present()) {
            continue;
        }
        tracked.insert(path.to_owned());
    }
    // The submodules' paths are allowed (with the directories above them).
    let mounted: std::collections::BTreeMap<BString, &WorkTreeSubmodule> = mounts.iter().map(|m| (m.path.clone(), m)).collect();
    tracked.extend(mounted.keys().cloned());
    submodules.extend(mounted.keys().cloned());
    let attributes = (export.libgit2 && export.export_ignore).then(|| Libgit2Attributes::index_only(repo)).transpose().map_err(DirtyError::Status)?;
    let mut keep = Keep { tracked, submodules, attributes, objects: repo.objects.clone() };
    let read_error = |path: &Path, source| DirtyError::Read { path: path.to_owned(), source };
    nar.directory().map_err(|e| read_error(workdir, e))?;
    keep.enter(b"".as_bstr());
    let mut stack = vec![(keep.entries(workdir, &BString::default())?.into_iter(), workdir.to_owned())];
    while let Some((entries, dir)) = stack.last_mut() {
        let Some((name, rela, meta)) = entries.next() else {
            nar.close_directory().map_err(|e| read_error(dir, e))?;
            keep.leave();
            stack.pop();
            continue;
        };
        let path = dir.join(&name);
        let file_type = meta.file_type();
        if !(file_type.is_dir() || file_type.is_file() || file_type.is_symlink()) {
            return Err(DirtyError::Unsupported { path, what: crate::repo_files::kind_name(file_type) });
        }
        nar.entry(name.as_bytes()).map_err(|e| read_error(&path, e))?;
        if let Some(mount) = mounted.get(&rela) {
            write_tree(nar, &mount.repo, &mount.workdir, export, &mount.nested)?;
        } else if file_type.is_dir() {
            nar.directory().map_err(|e| read_error(&path, e))?;
            keep.enter(rela.as_bstr());
            let entries = keep.entries(&path, &rela)?;
            stack.push((entries.into_iter(), path));
        } else if file_type.is_symlink() {
            let target = std::fs::read_link(&path).map_err(|e| read_error(&path, e))?;
            nar.symlink(target.as_os_str().as_bytes()).map_err(|e| read_error(&path, e))?;
        } else {
            let nonblocking = rustix::fs::OFlags::NONBLOCK.bits() as i32;
            let mut file = std::fs::OpenOptions::new().read(true).custom_flags(nonblocking).open(&path).map_err(|e| read_error(&path, e))?;
            let opened = file.metadata().map_err(|e| read_error(&path, e))?;
            if !opened.is_file() {
                return Err(DirtyError::Unsupported { path, what: crate::repo_files::kind_name(opened.file_type()) });
            }
            let executable = opened.permissions().mode() & 0o100 != 0;
            nar.file(executable, opened.len(), &mut file).map_err(|e| read_error(&path, e))?;
        }
    }
    Ok(())
}

impl Keep {
    /// Nix's filter: a file is kept when it is tracked, a directory when a tracked path lies
    /// below it (or it is a kept submodule); `export-ignore` then drops what it names.
    fn keeps(&self, rela: &BString, is_dir: bool) -> bool {
        let listed = if is_dir {
            let mut prefix = rela.clone();
            prefix.push(b'/');
            self.tracked.range(prefix.clone()..).next().is_some_and(|first| first.starts_with(&prefix)) || self.submodules.contains(rela)
        } else {
            self.tracked.contains(rela)
        };
        listed && !self.attributes.as_ref().is_some_and(|attributes| attributes.export_ignored(rela.as_bstr()))
    }

    fn enter(&mut self, rela: &BStr) {
        if let Some(attributes) = &mut self.attributes {
            attributes.enter_directory(&self.objects, rela, None);
        }
    }

    fn leave(&mut self) {
        if let Some(attributes) = &mut self.attributes {
            attributes.leave_directory();
        }
    }

    /// The kept entries of directory `path` (relative path `rela`), sorted bytewise.
    fn entries(&self, path: &Path, rela: &BString) -> Result<Vec<(std::ffi::OsString, BString, std::fs::Metadata)>, DirtyError> {
        let read_error = |path: &Path, source| DirtyError::Read { path: path.to_owned(), source };
        let mut out = Vec::new();
        for entry in std::fs::read_dir(path).map_err(|e| read_error(path, e))? {
            let name = entry.map_err(|e| read_error(path, e))?.file_name();
            let child = path.join(&name);
            let mut child_rela = rela.clone();
            if !child_rela.is_empty() {
                child_rela.push(b'/');
            }
            child_rela.extend_from_slice(name.as_bytes());
            let meta = std::fs::symlink_metadata(&child).map_err(|e| read_error(&child, e))?;
            if self.keeps(&child_rela, meta.is_dir()) {
                out.push((name, child_rela, meta));
            }
        }
        out.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        Ok(out)
    }
}
