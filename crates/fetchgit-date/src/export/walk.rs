//! The export itself: an iterative walk over the trees (an explicit stack, so depth costs no
//! native stack, and every tree is read a bounded number of times), writing the NAR as it goes.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;

use gix::bstr::{BString, ByteSlice, ByteVec};
use gix::object::Kind as ObjectKind;
use gix::ObjectId;
use nixstore::nar::flat;
use sha2::{Digest, Sha256};

use super::attributes::{git as git_attributes, libgit2, Value};
use super::blob::{Objects, ReadError, STREAM_ABOVE};
use super::error::ExportError;
use super::git_archive::GitArchive;
use super::hooks::{Smudge, Smudged, SmudgedContentError, Submodules, MAX_SMUDGE_INPUT};
use super::legacy::{self, Settings};
use super::options::{ExportOptions, ExportStats};
use super::tree::{self, Kind};
use crate::nix_version::Generation;
use crate::repo_config::{Reader, RepoConfig};

/// The longest symlink target taken from a Git LFS object (Nix has no limit; a target that long
/// is no path any system resolves).
const MAX_SMUDGED_SYMLINK: u64 = 1 << 16;

/// Longest symlink target Linux creates (`PATH_MAX - 1`); Nix writes every export to disk.
const MAX_LINK_TARGET: u64 = 4095;

/// Longest path a legacy export can hold: Nix <= 2.19 unpacks `git archive` into a temporary
/// directory (`/tmp/nix-<pid>-<n>/`, about 20 bytes) and reads it back by absolute path, which
/// fails ("File name too long") from `PATH_MAX` (4096 bytes) on. Measured with Nix 2.8: a chain
/// of 2048 directories (4096 bytes of path) fails, 1000 (2000 bytes) works.
const LEGACY_MAX_PATH: usize = 4096 - 21;

/// One tree entry, classified by the generation.
struct Item {
    name: BString,
    kind: Kind,
    oid: ObjectId,
    /// Modern: reading the entry fails in Nix 2.26 with this reason.
    nix_error: Option<&'static str>,
}

/// A directory being written.
struct Frame {
    items: Vec<Item>,
    next: usize,
    /// Length of `Walker::path` inside this directory (before a child's name is appended).
    path_len: usize,
    /// Identifies this directory's path in `Walker::writes` (legacy).
    key: [u8; 32],
}

type Nar<'w, W> = flat::Writer<&'w mut W>;

struct Walker<'r, 's> {
    commit: ObjectId,
    generation: Generation,
    /// Modern: drop export-ignored paths (the attributes may also be there for LFS only).
    export_ignore: bool,
    /// Modern with `lfs`: replaces LFS pointers.
    smudge: Option<&'s mut dyn Smudge>,
    /// With `submodules`: supplies the submodules exported in place of gitlinks.
    submodules: Option<Box<dyn Submodules>>,
    /// Legacy with `submodules`: the files `git checkout` writes rather than `git archive`
    /// (no `export-ignore`, no `export-subst`).
    checkout: bool,
    repo: &'r gix::Repository,
    objects: Objects,
    workdir: Option<&'r Path>,
    /// Modern, with `export-ignore`.
    libgit2: Option<libgit2::Libgit2Attributes>,
    /// Legacy.
    git: Option<git_attributes::GitAttributes>,
    /// The options, passed on to submodules.
    options: ExportOptions,
    /// Bytes of path above this tree's root (inside a submodule).
    path_prefix: usize,
    settings: Settings,
    archive: Option<GitArchive>,
    /// Legacy: whether `git archive` writes the directory with this key (see [`Walker::writes`]).
    writes: HashMap<[u8; 32], bool>,
    stats: ExportStats,
    path: BString,
    buf: Vec<u8>,
}

fn child_key(parent: &[u8; 32], name: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(parent);
    hasher.update((name.len() as u64).to_le_bytes());
    hasher.update(name);
    hasher.finalize().into()
}

/// The root tree of `commit`, read as the generation reads commits.
pub(super) fn root_tree(objects: &Objects, commit: ObjectId, generation: Generation) -> Result<ObjectId, ExportError> {
    let corrupt = |reason: String| ExportError::Corrupt { id: commit, path: BString::default(), reason };
    let header = objects.header(commit).map_err(|err| corrupt(err.describe()))?;
    if header.kind != ObjectKind::Commit {
        return Err(corrupt(format!("it is a {}, not a commit", header.kind)));
    }
    let mut buf = Vec::new();
    let data = objects.read_whole(commit, header.size, &mut buf).map_err(|err| corrupt(err.describe()))?;
    let parsed = crate::commit::Parsed::new(data);
    if generation == Generation::Modern {
        if let Err(reason) = parsed.libgit2_check() {
            return Err(ExportError::NixFails { commit, path: BString::default(), generation, reason: format!("libgit2 cannot parse the commit ({reason})") });
        }
    }
    parsed.tree().ok_or_else(|| corrupt("the commit has no valid tree line".into()))
}

pub(super) fn export<W: Write>(
    repo: &gix::Repository,
    workdir: Option<&Path>,
    commit: ObjectId,
    options: ExportOptions,
    smudge: Option<&mut dyn Smudge>,
    submodules: Option<Box<dyn Submodules>>,
    out: &mut W,
) -> Result<ExportStats, ExportError> {
    let mut nar = flat::Writer::new(out)?;
    let top = Placement { replace_refs: options.generation.honours_replace_refs(), path_prefix: 0, settings: None };
    let stats = export_tree(&mut nar, repo, workdir, commit, options, smudge, submodules, top)?;
    nar.finish()?;
    Ok(stats)
}

/// Where a tree sits in the export: the top, or a submodule.
struct Placement {
    /// Whether `refs/replace/` applies (the top of a legacy export).
    replace_refs: bool,
    /// Bytes of path above the tree's root (the submodule's path and a '/').
    path_prefix: usize,
    /// Legacy checkout: the configuration git checks the tree out with (default: a fresh
    /// clone's).
    settings: Option<Settings>,
}

/// Writes the directory node of `commit`'s tree into `nar`: the whole export's root, or a
/// submodule in place of its gitlink.
#[allow(clippy::too_many_arguments)]
fn export_tree<W: Write>(
    nar: &mut Nar<'_, W>,
    repo: &gix::Repository,
    workdir: Option<&Path>,
    commit: ObjectId,
    options: ExportOptions,
    smudge: Option<&mut dyn Smudge>,
    submodules: Option<Box<dyn Submodules>>,
    placement: Placement,
) -> Result<ExportStats, ExportError> {
    let generation = options.generation;
    // Nix <= 2.19 checks submodules out in a fresh clone: none of the repository's own
    // configuration or `info/attributes` applies.
    let checkout = generation == Generation::Legacy && options.submodules;
    let workdir = if checkout { None } else { workdir };
    let objects = Objects::new(repo, placement.replace_refs, generation);
    let root = root_tree(&objects, commit, generation)?;
    // Legacy: `git -C <work tree> archive` reads the repository's configuration (includes
    // followed) and the attributes file its `core.attributesFile` names.
    let (settings, global_attributes) = match (placement.settings, generation, workdir) {
        (Some(settings), _, _) => (settings, None),
        (None, Generation::Legacy, Some(workdir)) => {
            let config = RepoConfig::load(repo, Reader::Git).map_err(|err| ExportError::Config(crate::error_chain(&err)))?;
            let global =
                config.attributes_file(workdir, Reader::Git, git_attributes::MAX_FILE_SIZE as u64).map_err(|err| ExportError::Config(err.to_string()))?;
            (Settings::from_config(&config).map_err(ExportError::Config)?, global)
        }
        _ => (Settings::default(), None),
    };
    let mut walker = Walker {
        commit,
        generation,
        export_ignore: options.export_ignore,
        smudge,
        submodules,
        checkout,
        options,
        path_prefix: placement.path_prefix,
        repo,
        objects,
        workdir,
        libgit2: None,
        git: None,
        settings,
        archive: None,
        writes: HashMap::new(),
        stats: ExportStats::default(),
        path: BString::default(),
        buf: Vec::new(),
    };
    let items = walker.read_tree(root)?;
    let root_attributes = walker.attributes_file(&items)?;
    match generation {
        Generation::Modern if options.export_ignore || walker.smudge.is_some() => {
            walker.libgit2 = Some(libgit2::Libgit2Attributes::new(repo, workdir, root_attributes.as_deref()).map_err(ExportError::Config)?);
        }
        Generation::Modern => {}
        Generation::Legacy => {
            let info = match workdir {
                Some(_) => libgit2::read_worktree_file(&repo.common_dir().join("info/attributes")).map(|b| git_attributes::parse_file(&b)).unwrap_or_default(),
                None => git_attributes::Frame::default(),
            };
            let global = global_attributes.map(|bytes| git_attributes::parse_file(&bytes)).unwrap_or_default();
            walker.git = Some(git_attributes::GitAttributes::new(info, walker.settings.ignore_case).with_global(global));
        }
    }
    walker.enter_attributes(root_attributes.as_deref());
    if walker.export_ignore && walker.libgit2.as_ref().is_some_and(|attributes| attributes.root_ignored()) {
        return Err(walker.nix_fails("the root is export-ignored (\"'/' does not exist because it was fetched with exportIgnore enabled\")"));
    }
    nar.directory()?;
    walker.walk(nar, items)?;
    Ok(walker.stats)
}

/// `path` inside the submodule at `mount`, from the top.
fn within_path(mount: &[u8], path: &[u8]) -> BString {
    let mut full = BString::from(mount);
    if !path.is_empty() {
        full.push(b'/');
        full.push_str(path);
    }
    full
}

/// `err`, raised inside the submodule at `mount`, with its paths given from the top.
fn within(err: ExportError, mount: &[u8]) -> ExportError {
    let full = |path: BString| within_path(mount, &path);
    match err {
        ExportError::NixFails { commit, path, generation, reason } => ExportError::NixFails { commit, path: full(path), generation, reason },
        ExportError::Unsupported { commit, path, generation, reason } => ExportError::Unsupported { commit, path: full(path), generation, reason },
        ExportError::DuplicateName { commit, path } => ExportError::DuplicateName { commit, path: full(path) },
        ExportError::Corrupt { id, path, reason } => ExportError::Corrupt { id, path: full(path), reason },
        ExportError::OutOfMemory { id, path, size } => ExportError::OutOfMemory { id, path: full(path), size },
        ExportError::Git { path, reason } => ExportError::Git { path: full(path), reason },
        ExportError::Lfs { path, reason } => ExportError::Lfs { path: full(path), reason },
        ExportError::Submodule { path, reason } => ExportError::Submodule { path: full(path), reason },
        other => other,
    }
}

impl Walker<'_, '_> {
    fn read_error(&self, id: ObjectId, err: ReadError) -> ExportError {
        match err {
            ReadError::OutOfMemory { size } => ExportError::OutOfMemory { id, path: self.path.clone(), size },
            err => ExportError::Corrupt { id, path: self.path.clone(), reason: err.describe() },
        }
    }

    fn nix_fails(&self, reason: impl Into<String>) -> ExportError {
        ExportError::NixFails { commit: self.commit, path: self.path.clone(), generation: self.generation, reason: reason.into() }
    }

    /// Legacy: Nix <= 2.19 cannot read a path longer than `PATH_MAX` from its unpacked tree. This
    /// also ends every walk of a tree that contains itself (only replace refs can make one: every
    /// tree read is checked against its id).
    fn check_legacy_path_length(&self) -> Result<(), ExportError> {
        if self.generation == Generation::Legacy && self.path_prefix + self.path.len() > LEGACY_MAX_PATH {
            let reason = format!(
                "the path is {} bytes long; Nix <= 2.19 unpacks the tree under its temporary directory and cannot read paths that long (File name too long, PATH_MAX is 4096)",
                self.path_prefix + self.path.len()
            );
            return Err(self.nix_fails(reason));
        }
        Ok(())
    }

    /// Appends `name` to the current path; returns the length to truncate back to.
    fn enter(&mut self, name: &[u8]) -> usize {
        let len = self.path.len();
        if !self.path.is_empty() {
            self.path.push(b'/');
        }
        self.path.push_str(name);
        len
    }

    /// The entries of the tree `oid` (the directory at `self.path`), in NAR order, checked as
    /// the generation checks them.
    fn read_tree(&mut self, oid: ObjectId) -> Result<Vec<Item>, ExportError> {
        let header = self.objects.header(oid).map_err(|err| self.read_error(oid, err))?;
        if header.kind != ObjectKind::Tree {
            return Err(match self.generation {
                // unpack_trees() reads every directory of the archived tree.
                Generation::Legacy => self.nix_fails(format!("it is a directory whose object {oid} is a {}, which git archive cannot read", header.kind)),
                // GitSourceAccessor::getTree casts whatever object it finds to a tree.
                Generation::Modern => ExportError::Unsupported {
                    commit: self.commit,
                    path: self.path.clone(),
                    generation: self.generation,
                    reason: format!("it is a directory whose object {oid} is a {}: Nix >= 2.20 casts it to a tree anyway (undefined behaviour; Nix 2.26 happened to export an empty directory), which fetchgit-date does not reproduce", header.kind),
                },
            });
        }
        let mut buf = std::mem::take(&mut self.buf);
        let parsed = match self.objects.read_whole(oid, header.size, &mut buf) {
            Ok(data) => Ok(match self.generation {
                Generation::Legacy => tree::parse_git(data),
                Generation::Modern => tree::parse_libgit2(data),
            }),
            Err(err) => Err(err),
        };
        self.buf = buf;
        let raw = parsed.map_err(|err| self.read_error(oid, err))?.map_err(|reason| self.nix_fails(format!("its tree {oid} cannot be parsed ({reason})")))?;
        let mut items = Vec::with_capacity(raw.len());
        for entry in raw {
            let (kind, nix_error) = match self.generation {
                Generation::Legacy => (tree::kind_git(entry.mode), None),
                Generation::Modern => match tree::kind_libgit2(entry.mode) {
                    Ok(kind) => (kind, None),
                    Err(failure) => (Kind::File { executable: true }, Some(failure.0)),
                },
            };
            let problem = match self.generation {
                Generation::Modern => tree::nix_refuses_name(entry.name.as_ref()).map(|why| (why.to_owned(), false)),
                Generation::Legacy if entry.name.contains(&b'/') => Some((
                    "the name contains '/': git archive writes it as a nested path, which Nix <= 2.19 unpacks into (or merges with) directories; fetchgit-date does not reproduce that (and Nix >= 2.20 aborts on it)".to_owned(),
                    true,
                )),
                Generation::Legacy => tree::git_refuses_name(entry.name.as_ref(), kind).map(|why| (format!("{why} (git: invalid path)"), false)),
            };
            if let Some((reason, unsupported)) = problem {
                let len = self.enter(&entry.name);
                let err = if unsupported {
                    ExportError::Unsupported { commit: self.commit, path: self.path.clone(), generation: self.generation, reason }
                } else {
                    self.nix_fails(reason)
                };
                self.path.truncate(len);
                return Err(err);
            }
            items.push(Item { name: entry.name, kind, oid: entry.oid, nix_error });
        }
        items.sort_by(|a, b| a.name.cmp(&b.name));
        if let Some(pair) = items.windows(2).find(|pair| pair[0].name == pair[1].name) {
            let name = pair[0].name.clone();
            let len = self.enter(&name);
            let path = self.path.clone();
            self.path.truncate(len);
            return Err(ExportError::DuplicateName { commit: self.commit, path });
        }
        Ok(items)
    }

    /// The `.gitattributes` blob among `items`, as both tools find it: the entry of that name
    /// whose object is a blob (legacy: not a directory entry, which `git archive`'s index does not
    /// hold), within the size limit.
    fn attributes_file(&mut self, items: &[Item]) -> Result<Option<Vec<u8>>, ExportError> {
        if self.generation == Generation::Modern && self.libgit2.is_none() && !self.path.is_empty() {
            return Ok(None);
        }
        let Some(item) = items.iter().find(|item| item.name == ".gitattributes") else { return Ok(None) };
        if self.generation == Generation::Legacy && item.kind == Kind::Tree {
            return Ok(None);
        }
        // A bare repository is read as Nix's clone of it, and a clone never holds the object of
        // a gitlink (measured with Nix 2.26: a gitlink `.gitattributes` pointing at a blob is
        // read in a work tree, not over a clone).
        if self.workdir.is_none() && item.kind == Kind::Gitlink {
            return Ok(None);
        }
        let header = match self.objects.header(item.oid) {
            Ok(header) => header,
            Err(ReadError::Missing) => return Ok(None),
            Err(err) => return Err(self.read_error(item.oid, err)),
        };
        let limit = match self.generation {
            Generation::Legacy => git_attributes::MAX_FILE_SIZE as u64 - 1,
            Generation::Modern => libgit2::MAX_FILE_SIZE,
        };
        if header.kind != ObjectKind::Blob || header.size > limit {
            return Ok(None);
        }
        let mut buf = Vec::new();
        self.objects.read_whole(item.oid, header.size, &mut buf).map_err(|err| self.read_error(item.oid, err))?;
        Ok(Some(buf))
    }

    /// Pushes the attribute sources of the directory at `self.path`.
    fn enter_attributes(&mut self, file: Option<&[u8]>) {
        if let Some(attributes) = self.libgit2.as_mut() {
            attributes.enter_directory(&self.repo.objects, self.path.as_ref(), file);
        }
        if let Some(attributes) = self.git.as_mut() {
            attributes.push(file.map(|bytes| git_attributes::parse_blob(self.path.as_ref(), bytes)).unwrap_or_default());
        }
    }

    fn leave_attributes(&mut self) {
        if let Some(attributes) = self.libgit2.as_mut() {
            attributes.leave_directory();
        }
        if let Some(attributes) = self.git.as_mut() {
            attributes.pop();
        }
    }

    /// Whether the entry at `self.path` is export-ignored (legacy: asked with a trailing '/' for
    /// directories and gitlinks, as `git archive` does).
    fn ignored(&self, kind: Kind) -> bool {
        if self.checkout {
            return false;
        }
        if let Some(attributes) = &self.libgit2 {
            return self.export_ignore && attributes.export_ignored(self.path.as_ref());
        }
        if let Some(attributes) = &self.git {
            if matches!(kind, Kind::Tree | Kind::Gitlink) {
                let mut path = self.path.clone();
                path.push(b'/');
                let [ignore] = attributes.check(path.as_ref(), ["export-ignore"]);
                return ignore == Value::Set;
            }
            let [ignore] = attributes.check(self.path.as_ref(), ["export-ignore"]);
            return ignore == Value::Set;
        }
        false
    }

    fn walk<W: Write>(&mut self, nar: &mut Nar<'_, W>, root: Vec<Item>) -> Result<(), ExportError> {
        let mut stack = vec![Frame { items: root, next: 0, path_len: 0, key: [0; 32] }];
        while let Some(frame) = stack.last_mut() {
            if frame.next == frame.items.len() {
                nar.close_directory()?;
                self.leave_attributes();
                stack.pop();
                if let Some(parent) = stack.last() {
                    self.path.truncate(parent.path_len);
                }
                continue;
            }
            let index = frame.next;
            frame.next += 1;
            let parent_len = frame.path_len;
            let parent_key = frame.key;
            let (name, kind, oid, nix_error) = {
                let item = &frame.items[index];
                (item.name.clone(), item.kind, item.oid, item.nix_error)
            };
            self.path.truncate(parent_len);
            self.enter(&name);
            if self.ignored(kind) {
                self.stats.export_ignored.push(self.path.clone());
                if self.generation == Generation::Legacy && kind == Kind::Tree {
                    self.check_unlisted(oid)?;
                }
                continue;
            }
            self.check_legacy_path_length()?;
            match kind {
                Kind::Tree => {
                    let items = self.read_tree(oid)?;
                    let key = child_key(&parent_key, &name);
                    if self.generation == Generation::Legacy && !self.writes(&items, key)? {
                        continue;
                    }
                    let attributes = self.attributes_file(&items)?;
                    nar.entry(&name)?;
                    nar.directory()?;
                    self.enter_attributes(attributes.as_deref());
                    stack.push(Frame { items, next: 0, path_len: self.path.len(), key });
                }
                Kind::Gitlink => {
                    nar.entry(&name)?;
                    self.write_gitlink(nar, oid)?;
                }
                Kind::Link => {
                    nar.entry(&name)?;
                    self.write_link(nar, oid)?;
                }
                Kind::File { executable } => {
                    if let Some(reason) = nix_error {
                        return Err(self.nix_fails(reason));
                    }
                    nar.entry(&name)?;
                    self.write_file(nar, oid, executable)?;
                }
            }
        }
        Ok(())
    }

    /// A gitlink: its submodule's tree, with `submodules`, else (or when the submodule is not
    /// checked out) an empty directory.
    fn write_gitlink<W: Write>(&mut self, nar: &mut Nar<'_, W>, commit: ObjectId) -> Result<(), ExportError> {
        let submodule = match self.submodules.as_mut() {
            Some(submodules) => submodules.open(self.path.as_ref(), commit).map_err(|reason| ExportError::Submodule { path: self.path.clone(), reason })?,
            None => None,
        };
        let Some(mut submodule) = submodule else {
            self.stats.gitlinks.push(self.path.clone());
            nar.directory()?;
            return Ok(nar.close_directory()?);
        };
        // git clones a submodule without `refs/replace/`; libgit2 never reads them.
        let inner = Placement { replace_refs: false, path_prefix: self.path_prefix + self.path.len() + 1, settings: submodule.settings };
        let smudge = submodule.smudge.as_deref_mut().map(|smudge| smudge as &mut dyn Smudge);
        let stats =
            export_tree(nar, &submodule.repo, None, commit, self.options, smudge, Some(submodule.submodules), inner).map_err(|err| within(err, &self.path))?;
        let mount = self.path.clone();
        let own = &mut self.stats;
        let moved = |from: Vec<BString>, to: &mut Vec<BString>| to.extend(from.iter().map(|path| within_path(&mount, path)));
        moved(stats.export_ignored, &mut own.export_ignored);
        moved(stats.converted, &mut own.converted);
        moved(stats.substituted, &mut own.substituted);
        moved(stats.gitlinks, &mut own.gitlinks);
        moved(stats.smudged, &mut own.smudged);
        own.submodules.push(mount.clone());
        moved(stats.submodules, &mut own.submodules);
        Ok(())
    }

    /// Legacy: `git archive` writes a directory when its walk reaches a non-directory entry
    /// below it (gitlinks and export-ignored files count, export-ignored directories are not
    /// entered), so a directory holding only directories that vanish vanishes too. `items` are
    /// the directory's entries, `key` identifies its path. Each directory is looked at once:
    /// results are remembered by key.
    fn writes(&mut self, items: &[Item], key: [u8; 32]) -> Result<bool, ExportError> {
        if items.iter().any(|item| item.kind != Kind::Tree) {
            return Ok(true);
        }
        if let Some(&known) = self.writes.get(&key) {
            return Ok(known);
        }
        struct Level {
            subdirs: Vec<(BString, ObjectId)>,
            next: usize,
            path_len: usize,
            key: [u8; 32],
        }
        let base_len = self.path.len();
        let subdirs = self.unignored_subdirs(items)?;
        let mut levels = vec![Level { subdirs, next: 0, path_len: base_len, key }];
        let result = loop {
            let Some(level) = levels.last_mut() else { break false };
            if level.next == level.subdirs.len() {
                self.writes.insert(level.key, false);
                levels.pop();
                continue;
            }
            let (name, oid) = level.subdirs[level.next].clone();
            level.next += 1;
            let (path_len, parent_key) = (level.path_len, level.key);
            self.path.truncate(path_len);
            self.enter(&name);
            self.check_legacy_path_length()?;
            let child = child_key(&parent_key, &name);
            if let Some(&known) = self.writes.get(&child) {
                if known {
                    break true;
                }
                continue;
            }
            let children = self.read_tree(oid)?;
            if children.iter().any(|item| item.kind != Kind::Tree) {
                break true;
            }
            let subdirs = self.unignored_subdirs(&children)?;
            levels.push(Level { subdirs, next: 0, path_len: self.path.len(), key: child });
        };
        if result {
            for level in &levels {
                self.writes.insert(level.key, true);
            }
        }
        self.path.truncate(base_len);
        Ok(result)
    }

    /// The subdirectories among `items` (of the directory at `self.path`) that `git archive`
    /// enters; the ignored ones are checked as `unpack_trees` reads them.
    fn unignored_subdirs(&mut self, items: &[Item]) -> Result<Vec<(BString, ObjectId)>, ExportError> {
        let base = self.path.len();
        let mut out = Vec::new();
        for item in items.iter().filter(|item| item.kind == Kind::Tree) {
            self.enter(&item.name);
            if self.ignored(Kind::Tree) {
                self.check_unlisted(item.oid)?;
            } else {
                out.push((item.name.clone(), item.oid));
            }
            self.path.truncate(base);
        }
        Ok(out)
    }

    /// Legacy: a tree `git archive` does not write still goes through `unpack_trees`, which
    /// fails on the names and objects `read_tree` refuses. `oid` is the tree at `self.path`.
    fn check_unlisted(&mut self, oid: ObjectId) -> Result<(), ExportError> {
        let base = self.path.len();
        let mut pending: Vec<(ObjectId, usize, Option<BString>)> = vec![(oid, base, None)];
        while let Some((oid, parent_len, name)) = pending.pop() {
            self.path.truncate(parent_len);
            if let Some(name) = name {
                self.enter(&name);
            }
            self.check_legacy_path_length()?;
            let items = self.read_tree(oid)?;
            let here = self.path.len();
            pending.extend(items.into_iter().filter(|item| item.kind == Kind::Tree).map(|item| (item.oid, here, Some(item.name))));
        }
        self.path.truncate(base);
        Ok(())
    }

    fn header(&self, oid: ObjectId) -> Result<super::blob::Header, ExportError> {
        self.objects.header(oid).map_err(|err| self.read_error(oid, err))
    }

    /// Writes the object's contents as a file, from a stream when it is large.
    fn write_raw<W: Write>(&mut self, nar: &mut Nar<'_, W>, oid: ObjectId, size: u64, executable: bool) -> Result<(), ExportError> {
        if size > STREAM_ABOVE {
            let stream =
                self.objects.open_stream(oid, size).map_err(|err| ExportError::Corrupt { id: oid, path: self.path.clone(), reason: err.describe() })?;
            if let Some(mut reader) = stream {
                return nar.file(executable, size, &mut reader).map_err(|err| ExportError::Corrupt {
                    id: oid,
                    path: self.path.clone(),
                    reason: format!("cannot stream the object: {err}"),
                });
            }
        }
        let mut buf = std::mem::take(&mut self.buf);
        let result = match self.objects.read_whole(oid, size, &mut buf) {
            Ok(data) => nar.file(executable, data.len() as u64, &mut &data[..]).map_err(ExportError::Write),
            Err(err) => Err(self.read_error(oid, err)),
        };
        buf.clear();
        buf.shrink_to(STREAM_ABOVE as usize);
        self.buf = buf;
        result
    }

    fn write_bytes<W: Write>(&mut self, nar: &mut Nar<'_, W>, bytes: &[u8], executable: bool) -> Result<(), ExportError> {
        Ok(nar.file(executable, bytes.len() as u64, &mut &bytes[..])?)
    }

    /// git archive for this export, prepared on first use.
    fn git_archive(&mut self) -> Result<&mut GitArchive, ExportError> {
        if self.archive.is_none() {
            let archive = GitArchive::new(self.repo, self.workdir, self.commit).map_err(|reason| ExportError::Git { path: self.path.clone(), reason })?;
            self.archive = Some(archive);
        }
        Ok(self.archive.as_mut().expect("set above"))
    }

    fn write_file<W: Write>(&mut self, nar: &mut Nar<'_, W>, oid: ObjectId, executable: bool) -> Result<(), ExportError> {
        let header = self.header(oid)?;
        if self.generation == Generation::Modern {
            if header.kind != ObjectKind::Blob {
                return Err(self.nix_fails(format!(
                    "it is a file whose object {oid} is a {}, which libgit2 reads as a blob anyway (undefined behaviour; Nix 2.26 runs out of memory)",
                    header.kind
                )));
            }
            if let Some(smudged) = self.smudged(oid, header.size)? {
                let path = self.path.clone();
                let mut reader = smudged.reader;
                return nar.file(executable, smudged.size, &mut reader).map_err(|err| match err.get_ref() {
                    Some(inner) if inner.is::<SmudgedContentError>() => ExportError::Lfs { path, reason: err.to_string() },
                    _ => ExportError::Write(err),
                });
            }
            return self.write_raw(nar, oid, header.size, executable);
        }
        let values = self.git.as_ref().expect("legacy walks have git's attributes").check(self.path.as_ref(), legacy::ATTRIBUTES);
        let [_, subst, crlf, ident, filter, eol, text, encoding] = values;
        // `git checkout` knows no `export-subst`.
        let subst_set = subst == Value::Set;
        let subst = subst_set && !self.checkout;
        // write_archive_entry: "Stream it?" (git checkout streams through its conversions).
        if !self.checkout && !subst && header.kind == ObjectKind::Blob && header.size > self.settings.big_file_threshold {
            return self.write_raw(nar, oid, header.size, executable);
        }
        // A driver git sees but our reading of the configuration does not (it may come from a
        // file we do not read): git archive would run it, so refuse as below.
        if let (Value::Value(driver), false, false) = (&filter, self.settings.has_driver(&filter), self.checkout) {
            let key = self.git_archive()?.filter_program(driver.as_ref());
            if let Some(key) = key {
                return Err(ExportError::Program(crate::no_exec::refusal(
                    &key,
                    &self.path,
                    "Nix <= 2.19 runs it through git archive and its output is the file's content in the hash",
                )));
            }
        }
        if subst || legacy::needs_encoding(&encoding) || self.settings.has_driver(&filter) {
            let path = self.path.clone();
            if self.checkout && self.settings.has_driver(&filter) {
                let reason =
                    "a filter driver configured in the repository runs when Nix checks the tree out, which fetchgit-date does not reproduce".to_owned();
                return Err(ExportError::Unsupported { commit: self.commit, path, generation: self.generation, reason });
            }
            if subst_set && self.checkout {
                let reason = "it has both export-subst and working-tree-encoding: git archive, which fetchgit-date asks for the encoding, would also expand the placeholders that git checkout (Nix <= 2.19 with submodules) leaves".to_owned();
                return Err(ExportError::Unsupported { commit: self.commit, path, generation: self.generation, reason });
            }
            let archive = self.git_archive()?;
            if let Value::Value(driver) = &filter {
                if let Some(key) = archive.filter_program(driver.as_ref()) {
                    return Err(ExportError::Program(crate::no_exec::refusal(
                        &key,
                        &path,
                        "Nix <= 2.19 runs it through git archive and its output is the file's content in the hash",
                    )));
                }
            }
            let bytes = if subst { archive.substituted(path.as_ref()) } else { archive.one(path.as_ref()) };
            let bytes = bytes.map_err(|reason| ExportError::Git { path: path.clone(), reason })?;
            if subst {
                self.stats.substituted.push(path);
            } else {
                self.stats.converted.push(path);
            }
            return self.write_bytes(nar, &bytes, executable);
        }
        let action = self.settings.crlf_action(&crlf, &eol, &text);
        let ident = ident == Value::Set;
        if !ident && !self.settings.writes_crlf(action) {
            return self.write_raw(nar, oid, header.size, executable);
        }
        if self.checkout && header.size > self.settings.big_file_threshold {
            let reason = format!("it is larger than core.bigFileThreshold ({} bytes) and git checkout converts it (line endings or ident); fetchgit-date converts files in memory only up to that size", self.settings.big_file_threshold);
            return Err(ExportError::Unsupported { commit: self.commit, path: self.path.clone(), generation: self.generation, reason });
        }
        let mut buf = std::mem::take(&mut self.buf);
        let data = self.objects.read_whole(oid, header.size, &mut buf).map_err(|err| self.read_error(oid, err));
        let converted = data.map(|data| {
            let identified = if ident { legacy::ident_to_worktree(data) } else { None };
            let input = identified.as_deref().unwrap_or(data);
            legacy::crlf_to_worktree(&self.settings, input, action).or(identified)
        });
        let result = match converted {
            Ok(Some(bytes)) => {
                self.stats.converted.push(self.path.clone());
                self.write_bytes(nar, &bytes, executable)
            }
            Ok(None) => self.write_bytes(nar, &buf, executable),
            Err(err) => Err(err),
        };
        buf.clear();
        buf.shrink_to(STREAM_ABOVE as usize);
        self.buf = buf;
        result
    }

    /// The LFS object replacing the blob at the current path, when asked for and attributed
    /// (`filter=lfs`, read with libgit2's sources as Nix's `lfs::Fetch::shouldFetch` does).
    fn smudged(&mut self, oid: ObjectId, size: u64) -> Result<Option<Smudged>, ExportError> {
        let lfs = self.smudge.is_some() && self.libgit2.as_ref().is_some_and(|attributes| attributes.filter_is_lfs(self.path.as_ref()));
        if !lfs {
            return Ok(None);
        }
        let blob = self.read_prefix(oid, size, MAX_SMUDGE_INPUT as u64)?;
        let path = self.path.clone();
        let smudge = self.smudge.as_mut().expect("checked above");
        let smudged = smudge.smudge(path.as_ref(), &blob).map_err(|reason| ExportError::Lfs { path: path.clone(), reason })?;
        if smudged.is_some() {
            self.stats.smudged.push(path);
        }
        Ok(smudged)
    }

    /// The first `max` bytes of the object (or all of it, when shorter).
    fn read_prefix(&mut self, oid: ObjectId, size: u64, max: u64) -> Result<Vec<u8>, ExportError> {
        if size > STREAM_ABOVE {
            let stream =
                self.objects.open_stream(oid, size).map_err(|err| ExportError::Corrupt { id: oid, path: self.path.clone(), reason: err.describe() })?;
            if let Some(reader) = stream {
                let mut out = Vec::new();
                reader.take(max).read_to_end(&mut out).map_err(|err| ExportError::Corrupt { id: oid, path: self.path.clone(), reason: err.to_string() })?;
                return Ok(out);
            }
        }
        let mut buf = Vec::new();
        let data = self.objects.read_whole(oid, size, &mut buf).map_err(|err| self.read_error(oid, err))?;
        Ok(data[..data.len().min(max as usize)].to_vec())
    }

    fn write_link<W: Write>(&mut self, nar: &mut Nar<'_, W>, oid: ObjectId) -> Result<(), ExportError> {
        let header = self.header(oid)?;
        match self.generation {
            Generation::Modern => {
                if header.kind != ObjectKind::Blob {
                    return Err(self.nix_fails(format!(
                        "it is a symlink whose object {oid} is a {}, which libgit2 reads as a blob anyway (undefined behaviour; Nix 2.26 runs out of memory)",
                        header.kind
                    )));
                }
                // Nix reads symlink targets through the same smudging blob reader as files.
                if let Some(smudged) = self.smudged(oid, header.size)? {
                    let path = self.path.clone();
                    let mut target = Vec::new();
                    smudged
                        .reader
                        .take(MAX_SMUDGED_SYMLINK + 1)
                        .read_to_end(&mut target)
                        .map_err(|err| ExportError::Lfs { path: path.clone(), reason: err.to_string() })?;
                    if target.len() as u64 != smudged.size || smudged.size > MAX_SMUDGED_SYMLINK {
                        return Err(ExportError::Lfs { path, reason: format!("a symlink target from Git LFS must be at most {MAX_SMUDGED_SYMLINK} bytes") });
                    }
                    return Ok(nar.symlink(&target)?);
                }
                // The NAR holds the whole blob, but Nix also creates the link in the store,
                // and symlink(2) takes the target up to its first NUL.
                let target = self.read_prefix(oid, header.size, header.size)?;
                let on_disk = target.find_byte(0).map_or(target.len(), |nul| nul);
                if on_disk == 0 {
                    return Err(self.nix_fails("it is a symlink whose target is empty (up to its first NUL byte), which Nix cannot create in the store (\"creating symlink ... -> '': No such file or directory\")"));
                }
                if on_disk as u64 > MAX_LINK_TARGET {
                    return Err(self.nix_fails(format!(
                        "it is a symlink whose target is {on_disk} bytes long, more than Linux allows, so Nix cannot create it (File name too long)"
                    )));
                }
                Ok(nar.symlink(&target)?)
            }
            Generation::Legacy => {
                // The target goes into a tar header (or a pax record) and then to symlink(2),
                // which ends it at the first NUL.
                let prefix = self.read_prefix(oid, header.size, MAX_LINK_TARGET + 1)?;
                let target = match prefix.find_byte(0) {
                    Some(nul) => &prefix[..nul],
                    None => &prefix[..],
                };
                if target.len() as u64 > MAX_LINK_TARGET {
                    return Err(self.nix_fails(format!(
                        "it is a symlink whose target is longer than {MAX_LINK_TARGET} bytes, which cannot be unpacked (File name too long)"
                    )));
                }
                if target.is_empty() {
                    // libarchive has no symlink to make of an empty target and writes an empty
                    // file with the link's mode (0777): executable. Measured with Nix 2.8.
                    return Ok(nar.file(true, 0, &mut std::io::empty())?);
                }
                Ok(nar.symlink(target)?)
            }
        }
    }
}
