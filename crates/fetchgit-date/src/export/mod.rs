//! Turning a commit's tree into a NAR exactly as Nix does, straight from the object database:
//! no checkout, no temporary copy.
//!
//! Two generations of Nix disagree on what the files are (see docs/design.md):
//! - [`Generation::Modern`] (Nix >= 2.20): raw blob bytes; `export-ignore` from the commit's own
//!   `.gitattributes` (unless disabled); no filters.
//! - [`Generation::Legacy`] (Nix <= 2.19, Lix): what `git archive` writes: `export-ignore`,
//!   checkout conversions (`text`, `eol`, `ident`, filter drivers) and `export-subst`, with
//!   attributes from the tree plus the repository's and user's attribute files, like git.
//!
//! Gitlinks (submodules) become empty directories in both.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Command;

use gix::bstr::{BStr, BString, ByteSlice, ByteVec};
use gix::objs::tree::EntryKind;
use gix::objs::FindExt;
use gix::ObjectId;
use nixstore::hash::{HashingWriter, NixHash};
use nixstore::nar::writer::{self, Directory};

use crate::error_chain;

mod ident;
mod libgit2_attributes;

pub(crate) use libgit2_attributes::Libgit2Attributes;

/// Which Nix's export to reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Generation {
    /// Nix >= 2.20: raw blobs from the tree.
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
}

/// The hook through which [`crate::lfs`] replaces a file's content: called for every regular
/// file and symlink whose `filter` attribute is exactly `lfs` (read like `export-ignore`, with
/// libgit2's sources: Nix's `lfs::Fetch::shouldFetch`), in export order.
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
}

/// Why a tree could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A tree entry name that a NAR cannot hold, or that could escape the output directory.
    #[error("unsafe tree entry '{path}' in commit {commit}: names must not be empty, '.', '..' or contain '/' or NUL; Nix cannot fetch this commit either")]
    UnsafeName {
        /// The commit being exported.
        commit: ObjectId,
        /// The path of the entry, with the offending name last.
        path: BString,
    },
    /// The same name appears twice in one tree.
    #[error("tree entry '{path}' appears twice in commit {commit}: the tree is corrupt (try git fsck)")]
    DuplicateName {
        /// The commit being exported.
        commit: ObjectId,
        /// The duplicated path.
        path: BString,
    },
    /// An object could not be read.
    #[error("cannot read object {id} ('{path}'): {reason}: the repository is corrupt or incomplete (try git fsck)")]
    Corrupt {
        /// The object that failed.
        id: ObjectId,
        /// Where it sits in the tree.
        path: BString,
        /// What went wrong.
        reason: String,
    },
    /// Attributes or filters could not be set up or applied.
    #[error("cannot apply .gitattributes to '{path}': {reason}")]
    Attributes {
        /// The path being exported.
        path: BString,
        /// What went wrong.
        reason: String,
    },
    /// `git` itself failed to expand `export-subst` placeholders.
    #[error("cannot expand export-subst placeholders in '{path}': {reason}")]
    Subst {
        /// The file with placeholders.
        path: BString,
        /// What went wrong.
        reason: String,
    },
    /// A Git LFS object could not be put in place of its pointer.
    #[error("while smudging git-lfs file '{path}': {reason}")]
    Lfs {
        /// The pointer file.
        path: BString,
        /// What went wrong.
        reason: String,
    },
    /// `lfs` asked of an export that cannot do it.
    #[error("lfs = true needs the modern export (Nix >= 2.27) and a Git LFS fetcher")]
    LfsUnavailable,
    /// Writing the NAR failed.
    #[error("cannot write the NAR: {0}")]
    Write(#[from] std::io::Error),
}

/// The longest symlink target taken from a Git LFS object (Nix has no limit; a target that long
/// is no path any system resolves).
const MAX_SMUDGED_SYMLINK: u64 = 1 << 16;

/// NAR hash and size of `commit`'s tree, exported with `options`.
pub fn nar_hash(
    repo: &gix::Repository,
    commit: ObjectId,
    options: ExportOptions,
) -> Result<(NixHash, u64, ExportStats), ExportError> {
    nar_hash_with(repo, commit, options, None)
}

/// [`nar_hash`], with `smudge` replacing LFS pointers when `options.lfs` is set.
pub fn nar_hash_with(
    repo: &gix::Repository,
    commit: ObjectId,
    options: ExportOptions,
    smudge: Option<&mut dyn Smudge>,
) -> Result<(NixHash, u64, ExportStats), ExportError> {
    let mut hasher = HashingWriter::new(std::io::sink());
    let stats = write_nar_with(repo, commit, options, smudge, &mut hasher)?;
    let (hash, size, _) = hasher.finish();
    Ok((hash, size, stats))
}

/// Writes the NAR of `commit`'s tree to `out`, one blob in memory at a time.
pub fn write_nar<W: Write>(
    repo: &gix::Repository,
    commit: ObjectId,
    options: ExportOptions,
    out: &mut W,
) -> Result<ExportStats, ExportError> {
    write_nar_with(repo, commit, options, None, out)
}

/// [`write_nar`], with `smudge` replacing LFS pointers when `options.lfs` is set.
pub fn write_nar_with<W: Write>(
    repo: &gix::Repository,
    commit: ObjectId,
    options: ExportOptions,
    smudge: Option<&mut dyn Smudge>,
    out: &mut W,
) -> Result<ExportStats, ExportError> {
    if options.lfs && (options.generation == Generation::Legacy || smudge.is_none()) {
        return Err(ExportError::LfsUnavailable);
    }
    let tree = tree_of(repo, commit)?;
    let mut exporter = Exporter::new(repo, commit, tree, options)?;
    exporter.smudge = if options.lfs { smudge } else { None };
    let root = writer::open(out)?.directory()?;
    exporter.write_tree(root, tree)?;
    Ok(exporter.stats)
}

struct Exporter<'repo, 's> {
    repo: &'repo gix::Repository,
    smudge: Option<&'s mut dyn Smudge>,
    commit: ObjectId,
    options: ExportOptions,
    /// `git archive`'s attributes (legacy).
    attributes: Option<AttributeQuery>,
    /// libgit2's `export-ignore` (modern, when enabled).
    modern_attributes: Option<Libgit2Attributes>,
    filters: Option<gix::filter::Pipeline<'repo>>,
    substitutions: HashMap<BString, Vec<u8>>,
    stats: ExportStats,
    path: BString,
}

/// Answers `export-ignore` and `export-subst` for paths of one tree.
struct AttributeQuery {
    stack: gix::worktree::Stack,
    outcome: gix::attrs::search::Outcome,
}

#[derive(Default)]
struct PathAttributes {
    export_ignore: bool,
    export_subst: bool,
    ident: bool,
}

impl AttributeQuery {
    fn matches(&mut self, path: &BStr, mode: gix::index::entry::Mode, objects: &dyn gix::objs::Find) -> std::io::Result<PathAttributes> {
        let platform = self.stack.at_entry(path, Some(mode), objects)?;
        self.outcome.reset();
        platform.matching_attributes(&mut self.outcome);
        let mut found = PathAttributes::default();
        for matched in self.outcome.iter_selected() {
            // git and libgit2 act on these only when exactly set (`attr`), not on `attr=value`.
            let set = matches!(matched.assignment.state, gix::attrs::StateRef::Set);
            match matched.assignment.name.as_str() {
                "export-ignore" => found.export_ignore = set,
                "export-subst" => found.export_subst = set,
                "ident" => found.ident = set,
                _ => {}
            }
        }
        Ok(found)
    }
}

impl<'repo> Exporter<'repo, '_> {
    fn new(repo: &'repo gix::Repository, commit: ObjectId, tree: ObjectId, options: ExportOptions) -> Result<Self, ExportError> {
        let setup = |reason: String| ExportError::Attributes { path: BString::default(), reason };
        let legacy = options.generation == Generation::Legacy;
        let modern_attributes = if !legacy && (options.export_ignore || options.lfs) {
            Some(Libgit2Attributes::new(repo).map_err(|err| setup(err.to_string()))?)
        } else {
            None
        };
        let (attributes, filters) = if legacy {
            let index = repo.index_from_tree(&tree).map_err(|err| match first_unsafe_name(repo, tree) {
                Some(path) => ExportError::UnsafeName { commit, path },
                None => setup(error_chain(&err)),
            })?;
            {
                // `git archive`: attributes from the tree, plus $GIT_DIR/info/attributes and the
                // user's and system's attribute files; conversions configured by the repository.
                let make_stack = || {
                    repo.attributes_only(&index, gix::worktree::stack::state::attributes::Source::IdMapping)
                        .map(|stack| stack.detach())
                        .map_err(|err| setup(error_chain(&err)))
                };
                let stack = make_stack()?;
                let outcome = stack.selected_attribute_matches(["export-ignore", "export-subst", "ident"]);
                let mut pipeline = gix::filter::Pipeline::new(repo, make_stack()?).map_err(|err| setup(error_chain(&err)))?;
                pipeline.driver_context_mut().treeish = Some(commit);
                (Some(AttributeQuery { stack, outcome }), Some(pipeline))
            }
        } else {
            (None, None)
        };
        Ok(Exporter {
            repo,
            smudge: None,
            commit,
            options,
            attributes,
            modern_attributes,
            filters,
            substitutions: HashMap::new(),
            stats: ExportStats::default(),
            path: BString::default(),
        })
    }

    fn write_tree<W: Write>(&mut self, mut dir: Directory<'_, W>, tree: ObjectId) -> Result<(), ExportError> {
        let entries = self.read_tree(tree)?;
        self.enter_modern_attributes(&entries)?;
        for (name, kind, oid) in entries {
            let parent_len = self.enter(name.as_ref());
            let result = self.write_entry(&mut dir, name.as_ref(), kind, oid);
            self.path.truncate(parent_len);
            result?;
        }
        if let Some(attributes) = self.modern_attributes.as_mut() {
            attributes.leave_directory();
        }
        dir.close()?;
        Ok(())
    }

    /// Gives libgit2's attribute stack this directory's sources, the commit's among them.
    fn enter_modern_attributes(&mut self, entries: &[(BString, EntryKind, ObjectId)]) -> Result<(), ExportError> {
        if self.modern_attributes.is_none() {
            return Ok(());
        }
        let mut buf = Vec::new();
        let commit_file = match entries.iter().find(|(name, kind, _)| name == ".gitattributes" && *kind != EntryKind::Tree) {
            Some((_, _, oid)) => Some(self.find_blob(*oid, &mut buf)?),
            None => None,
        };
        let attributes = self.modern_attributes.as_mut().expect("checked above");
        attributes
            .enter_directory(self.path.as_ref(), commit_file, &self.repo.objects)
            .map_err(|err| ExportError::Attributes { path: self.path.clone(), reason: err.to_string() })
    }

    /// The entries of `tree` in NAR order (bytewise; git orders a directory as if its name ended
    /// in '/'), checked to be safe and unique.
    fn read_tree(&self, tree: ObjectId) -> Result<Vec<(BString, EntryKind, ObjectId)>, ExportError> {
        let mut buf = Vec::new();
        let tree_ref = self
            .repo
            .objects
            .find_tree(&tree, &mut buf)
            .map_err(|err| ExportError::Corrupt { id: tree, path: self.path.clone(), reason: error_chain(&err) })?;
        let mut entries: Vec<(BString, EntryKind, ObjectId)> = tree_ref
            .entries
            .iter()
            .map(|entry| (entry.filename.to_owned(), entry.mode.kind(), entry.oid.to_owned()))
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for pair in entries.windows(2) {
            if pair[0].0 == pair[1].0 {
                return Err(ExportError::DuplicateName { commit: self.commit, path: self.child_path(pair[0].0.as_ref()) });
            }
        }
        if let Some((name, _, _)) = entries.iter().find(|(name, _, _)| !is_safe_name(name.as_ref())) {
            return Err(ExportError::UnsafeName { commit: self.commit, path: self.child_path(name.as_ref()) });
        }
        Ok(entries)
    }

    /// Appends `name` to the current path; returns the length to truncate back to.
    fn enter(&mut self, name: &BStr) -> usize {
        let parent_len = self.path.len();
        if !self.path.is_empty() {
            self.path.push(b'/');
        }
        self.path.push_str(name);
        parent_len
    }

    /// Whether `git archive` would write the directory at the current path. It queues a directory
    /// and writes it when it first *visits* a non-directory entry below it — before asking whether
    /// that entry is export-ignored — so a directory whose files are all ignored stays (empty),
    /// while one holding only ignored or empty subdirectories vanishes.
    fn archive_writes_tree(&mut self, tree: ObjectId) -> Result<bool, ExportError> {
        for (name, kind, oid) in self.read_tree(tree)? {
            if kind != EntryKind::Tree {
                return Ok(true);
            }
            let parent_len = self.enter(name.as_ref());
            let written = self
                .attributes_of(kind)
                .and_then(|attrs| Ok(!attrs.export_ignore && self.archive_writes_tree(oid)?));
            self.path.truncate(parent_len);
            if written? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn write_entry<W: Write>(&mut self, dir: &mut Directory<'_, W>, name: &BStr, kind: EntryKind, oid: ObjectId) -> Result<(), ExportError> {
        let attributes = self.attributes_of(kind)?;
        if attributes.export_ignore {
            self.stats.export_ignored.push(self.path.clone());
            return Ok(());
        }
        match kind {
            EntryKind::Tree => {
                if self.options.generation == Generation::Legacy && !self.archive_writes_tree(oid)? {
                    return Ok(());
                }
                self.write_tree(dir.entry(name)?.directory()?, oid)
            }
            EntryKind::Commit => {
                self.stats.gitlinks.push(self.path.clone());
                dir.entry(name)?.directory()?.close()?;
                Ok(())
            }
            EntryKind::Link => {
                let mut buf = Vec::new();
                let blob = self.find_blob(oid, &mut buf)?;
                // Nix reads symlink targets through the same smudging blob reader as files.
                if let Some(smudged) = self.smudged(blob)? {
                    let mut target = Vec::new();
                    let path = self.path.clone();
                    smudged.reader.take(MAX_SMUDGED_SYMLINK + 1).read_to_end(&mut target).map_err(|err| ExportError::Lfs { path: path.clone(), reason: err.to_string() })?;
                    if target.len() as u64 != smudged.size || smudged.size > MAX_SMUDGED_SYMLINK {
                        return Err(ExportError::Lfs { path, reason: format!("a symlink target from Git LFS must be at most {MAX_SMUDGED_SYMLINK} bytes") });
                    }
                    dir.entry(name)?.symlink(&target)?;
                    return Ok(());
                }
                dir.entry(name)?.symlink(blob)?;
                Ok(())
            }
            EntryKind::Blob | EntryKind::BlobExecutable => {
                let mut buf = Vec::new();
                self.find_blob(oid, &mut buf)?;
                let executable = kind == EntryKind::BlobExecutable;
                if let Some(smudged) = self.smudged(&buf)? {
                    let path = self.path.clone();
                    let mut reader = smudged.reader;
                    return dir.entry(name)?.file(executable, smudged.size, &mut reader).map_err(|err| match err.get_ref() {
                        Some(inner) if inner.is::<crate::lfs::ObjectError>() => ExportError::Lfs { path, reason: err.to_string() },
                        _ => ExportError::Write(err),
                    });
                }
                let contents = self.worktree_bytes(&buf, oid, &attributes)?;
                let bytes: &[u8] = contents.as_deref().unwrap_or(&buf);
                dir.entry(name)?.file(executable, bytes.len() as u64, &mut &bytes[..])?;
                Ok(())
            }
        }
    }

    /// The LFS object replacing the blob at the current path, when asked for and attributed.
    fn smudged(&mut self, blob: &[u8]) -> Result<Option<Smudged>, ExportError> {
        let (Some(smudge), Some(attributes)) = (self.smudge.as_mut(), self.modern_attributes.as_mut()) else {
            return Ok(None);
        };
        if !attributes.filter_is_lfs(self.path.as_ref()) {
            return Ok(None);
        }
        let smudged = smudge.smudge(self.path.as_ref(), blob).map_err(|reason| ExportError::Lfs { path: self.path.clone(), reason })?;
        if smudged.is_some() {
            self.stats.smudged.push(self.path.clone());
        }
        Ok(smudged)
    }

    fn attributes_of(&mut self, kind: EntryKind) -> Result<PathAttributes, ExportError> {
        if let Some(attributes) = self.modern_attributes.as_mut() {
            let export_ignore = self.options.export_ignore && attributes.export_ignored(self.path.as_ref(), kind == EntryKind::Tree);
            return Ok(PathAttributes { export_ignore, ..PathAttributes::default() });
        }
        let Some(query) = self.attributes.as_mut() else {
            return Ok(PathAttributes::default());
        };
        let mode = match kind {
            EntryKind::Tree => gix::index::entry::Mode::DIR,
            EntryKind::Commit => gix::index::entry::Mode::COMMIT,
            EntryKind::Link => gix::index::entry::Mode::SYMLINK,
            EntryKind::BlobExecutable => gix::index::entry::Mode::FILE_EXECUTABLE,
            EntryKind::Blob => gix::index::entry::Mode::FILE,
        };
        let found = query
            .matches(self.path.as_ref(), mode, &self.repo.objects)
            .map_err(|err| ExportError::Attributes { path: self.path.clone(), reason: error_chain(&err) })?;
        Ok(found)
    }

    fn find_blob<'b>(&self, oid: ObjectId, buf: &'b mut Vec<u8>) -> Result<&'b [u8], ExportError> {
        self.repo
            .objects
            .find_blob(&oid, buf)
            .map(|blob| blob.data)
            .map_err(|err| ExportError::Corrupt { id: oid, path: self.path.clone(), reason: error_chain(&err) })
    }

    /// The bytes `git archive` writes for a regular file, or `None` when they are the blob's own.
    fn worktree_bytes(&mut self, blob: &[u8], oid: ObjectId, attributes: &PathAttributes) -> Result<Option<Vec<u8>>, ExportError> {
        let Some(pipeline) = self.filters.as_mut() else {
            return Ok(None);
        };
        let path = self.path.clone();
        let filter_error = |reason: String| ExportError::Attributes { path: path.clone(), reason };
        pipeline.driver_context_mut().blob = Some(oid);
        let options = gix::filter::plumbing::pipeline::convert::to_worktree::Options {
            can_delay: gix::filter::plumbing::driver::apply::Delay::Forbid,
            unknown_encoding: gix::filter::plumbing::pipeline::convert::to_worktree::UnknownEncoding::Fail,
        };
        // git applies `ident` first, to the blob; see `ident` for why it is not left to gix.
        let identified = if attributes.ident { ident::to_worktree(blob, &oid) } else { None };
        let input = identified.as_deref().unwrap_or(blob);
        let converted = {
            use gix::filter::plumbing::pipeline::convert::ToWorktreeOutcome;
            match pipeline.convert_to_worktree(input, path.as_ref(), options).map_err(|err| filter_error(error_chain(&err)))? {
                ToWorktreeOutcome::Unchanged(_) => identified.clone(),
                ToWorktreeOutcome::Buffer(bytes) => Some(bytes.to_vec()),
                ToWorktreeOutcome::Process(gix::filter::plumbing::driver::apply::MaybeDelayed::Immediate(mut read)) => {
                    let mut bytes = Vec::new();
                    read.read_to_end(&mut bytes).map_err(|err| filter_error(err.to_string()))?;
                    Some(bytes)
                }
                ToWorktreeOutcome::Process(gix::filter::plumbing::driver::apply::MaybeDelayed::Delayed(_)) => {
                    return Err(filter_error("a filter driver delayed its output, which git archive never allows".into()));
                }
            }
        };
        if converted.as_deref().is_some_and(|bytes| bytes != blob) {
            self.stats.converted.push(path.clone());
        }
        if !attributes.export_subst {
            return Ok(converted);
        }
        let input = converted.unwrap_or_else(|| blob.to_vec());
        let expanded = self.expand_placeholders(&input)?;
        if expanded != input {
            self.stats.substituted.push(path);
        }
        Ok(Some(expanded))
    }

    /// `export-subst`: every `$Format:FMT$` becomes what `git log -1 --format=FMT` prints for the
    /// commit. The pretty-format language belongs to git, so git expands it.
    fn expand_placeholders(&mut self, input: &[u8]) -> Result<Vec<u8>, ExportError> {
        let mut out = Vec::with_capacity(input.len());
        let mut rest = input;
        while let Some(start) = rest.find(b"$Format:") {
            let after = &rest[start + 8..];
            let Some(end) = after.find_byte(b'$') else { break };
            out.extend_from_slice(&rest[..start]);
            let format = BString::from(&after[..end]);
            if !self.substitutions.contains_key(&format) {
                let expanded = self.git_format(format.as_ref())?;
                self.substitutions.insert(format.clone(), expanded);
            }
            out.extend_from_slice(&self.substitutions[&format]);
            rest = &after[end + 1..];
        }
        out.extend_from_slice(rest);
        Ok(out)
    }

    fn git_format(&self, format: &BStr) -> Result<Vec<u8>, ExportError> {
        let subst_error = |reason: String| ExportError::Subst { path: self.path.clone(), reason };
        let git_dir: PathBuf = self.repo.git_dir().to_owned();
        let format = gix::path::from_bstr(format).map_err(|err| subst_error(error_chain(&err)))?;
        let mut pretty = std::ffi::OsString::from("--pretty=format:");
        pretty.push(format.as_os_str());
        // Arguments, never a shell; the format cannot become an option because it follows
        // `--pretty=format:` in the same argument.
        let output = Command::new("git")
            .arg("--git-dir")
            .arg(&git_dir)
            .args(["-c", "log.showSignature=false", "show", "-s", "--no-color", "--date=default", "--no-notes"])
            .arg(pretty)
            .arg(self.commit.to_string())
            .output()
            .map_err(|err| subst_error(format!("cannot run git: {err}")))?;
        if !output.status.success() {
            return Err(subst_error(String::from_utf8_lossy(&output.stderr).trim().to_owned()));
        }
        Ok(output.stdout)
    }

    fn child_path(&self, name: &BStr) -> BString {
        let mut path = self.path.clone();
        if !path.is_empty() {
            path.push(b'/');
        }
        path.push_str(name);
        path
    }
}

/// The first entry below `tree` whose name is unsafe, for a precise error when a tool that
/// refuses such trees wholesale (gix's index) fails on one.
fn first_unsafe_name(repo: &gix::Repository, tree: ObjectId) -> Option<BString> {
    let mut buf = Vec::new();
    let entries: Vec<(BString, bool, ObjectId)> = repo
        .objects
        .find_tree(&tree, &mut buf)
        .ok()?
        .entries
        .iter()
        .map(|e| (e.filename.to_owned(), e.mode.is_tree(), e.oid.to_owned()))
        .collect();
    for (name, is_tree, oid) in entries {
        if !is_safe_name(name.as_ref()) {
            return Some(name);
        }
        if is_tree {
            if let Some(below) = first_unsafe_name(repo, oid) {
                let mut path = name;
                path.push(b'/');
                path.extend_from_slice(&below);
                return Some(path);
            }
        }
    }
    None
}

fn is_safe_name(name: &BStr) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(&b'/') && !name.contains(&0)
}

/// The root tree of `commit`.
fn tree_of(repo: &gix::Repository, commit: ObjectId) -> Result<ObjectId, ExportError> {
    let corrupt = |reason: String| ExportError::Corrupt { id: commit, path: BString::default(), reason };
    Ok(repo
        .find_commit(commit)
        .map_err(|err| corrupt(error_chain(&err)))?
        .tree_id()
        .map_err(|err| corrupt(error_chain(&err)))?
        .detach())
}

/// A key that names the export of `commit` with `options` and nothing else, for the cache.
///
/// A modern export depends only on the tree (and `export_ignore`). A legacy export also depends on
/// the commit (`export-subst`) and on what `git archive` reads besides the tree: the repository's
/// and user's configuration and attribute files, which are fingerprinted whole.
pub fn cache_key(repo: &gix::Repository, commit: ObjectId, options: ExportOptions) -> Result<String, ExportError> {
    match options.generation {
        Generation::Modern => {
            let tree = tree_of(repo, commit)?;
            if !options.export_ignore && !options.lfs {
                return Ok(format!("modern_0_{tree}"));
            }
            let mut sources = Vec::new();
            Libgit2Attributes::new(repo)
                .map_err(|err| ExportError::Attributes { path: BString::default(), reason: err.to_string() })?
                .fingerprint_into(&mut sources);
            let fingerprint = nixstore::hash::sha256(&sources).to_hex();
            let lfs = if options.lfs { "_lfs" } else { "" };
            Ok(format!("modern_{}{lfs}_{tree}_{}", u8::from(options.export_ignore), &fingerprint[..16]))
        }
        Generation::Legacy => {
            let mut settings = repo.config_snapshot().plumbing().to_bstring();
            let home = std::env::var_os("HOME").map(PathBuf::from);
            let xdg_config = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from).or_else(|| home.map(|h| h.join(".config")));
            let mut attribute_files = vec![repo.common_dir().join("info/attributes"), PathBuf::from("/etc/gitattributes")];
            attribute_files.extend(xdg_config.map(|dir| dir.join("git/attributes")));
            for file in attribute_files {
                settings.push_str(format!("\0{}\0", file.display()));
                settings.extend(std::fs::read(&file).unwrap_or_default());
            }
            let fingerprint = nixstore::hash::sha256(&settings).to_hex();
            Ok(format!("legacy_{commit}_{}", &fingerprint[..16]))
        }
    }
}
