//! `export-ignore` as Nix >= 2.20 reads it: libgit2's `git_attr_get_ext` with the flags
//! `GIT_ATTR_CHECK_INCLUDE_COMMIT | GIT_ATTR_CHECK_NO_SYSTEM` (Nix's `GitExportIgnoreSourceAccessor`).
//!
//! libgit2 then consults, first match wins: `$GIT_DIR/info/attributes`; for each directory from
//! the entry's own up to the root, that directory's `.gitattributes` from the **work tree**, then
//! from the **index**, then from the commit; last `core.attributesFile` (default
//! `$XDG_CONFIG_HOME/git/attributes`). So for a local work tree, the export of an old commit
//! follows the `.gitattributes` checked out now — an impurity of Nix that we reproduce, because
//! outputs must equal the running Nix's. A bare repository (Nix's cache of a remote) has neither
//! work tree nor index, leaving the commit's own files.
//!
//! ### Deviation
//! libgit2 decides whether a path is a directory by looking at the work tree; we know it from the
//! tree, which differs only for `dir/` patterns on directories absent from the work tree.

use std::path::{Path, PathBuf};

use gix::attrs::search::{MetadataCollection, Outcome};
use gix::attrs::Search;
use gix::bstr::{BStr, ByteSlice};
use gix::objs::FindExt;

/// The attribute sources libgit2 reads, kept as a stack that follows the export's walk.
pub struct Libgit2Attributes {
    info: Search,
    directories: Search,
    global: Search,
    collection: MetadataCollection,
    outcome: Outcome,
    workdir: Option<PathBuf>,
    index: Option<gix::index::File>,
    lists_per_directory: Vec<usize>,
    /// The bytes of info/attributes and the user's file, for [`Self::fingerprint_into`].
    outside_files: Vec<u8>,
}

/// A virtual root that per-directory attribute files are placed under, so that gix computes each
/// file's base directory; nothing is ever read from it.
const ROOT: &str = "/r";

impl Libgit2Attributes {
    /// Sources of `repo`: its info/attributes, work tree and index (if any) and the user's file.
    pub fn new(repo: &gix::Repository) -> std::io::Result<Self> {
        let mut collection = MetadataCollection::default();
        let mut buf = Vec::new();
        let mut outside_files = Vec::new();
        let mut info = Search::default();
        let info_file = repo.common_dir().join("info/attributes");
        outside_files.extend(std::fs::read(&info_file).unwrap_or_default());
        info.add_patterns_file(info_file, true, None, &mut buf, &mut collection, true)?;
        let mut global = Search::default();
        if let Some(file) = global_attributes_file(repo) {
            outside_files.push(0);
            outside_files.extend(std::fs::read(&file).unwrap_or_default());
            global.add_patterns_file(file, true, None, &mut buf, &mut collection, true)?;
        }
        let index = match repo.workdir() {
            Some(_) => repo.open_index().ok(),
            None => None,
        };
        Ok(Libgit2Attributes {
            info,
            directories: Search::default(),
            global,
            collection,
            outcome: Outcome::default(),
            workdir: repo.workdir().map(Path::to_owned),
            index,
            lists_per_directory: Vec::new(),
            outside_files,
        })
    }

    /// The sources `git_attr_get` reads with `GIT_ATTR_CHECK_INDEX_ONLY | GIT_ATTR_CHECK_NO_SYSTEM`,
    /// which Nix >= 2.20 uses for a work tree: info/attributes, each directory's `.gitattributes`
    /// from the index only, and the user's file.
    pub fn index_only(repo: &gix::Repository) -> std::io::Result<Self> {
        let mut attributes = Self::new(repo)?;
        attributes.workdir = None;
        Ok(attributes)
    }

    /// The walk enters directory `dir` ("" for the root), whose tree holds `commit_file` as its
    /// `.gitattributes` blob (if any).
    pub fn enter_directory(&mut self, dir: &BStr, commit_file: Option<&[u8]>, objects: &gix::OdbHandle) -> std::io::Result<()> {
        let relative = if dir.is_empty() { ".gitattributes".to_owned() } else { format!("{dir}/.gitattributes") };
        let source = Path::new(ROOT).join(&relative);
        let mut pushed = 0;
        // Lowest precedence first: commit, index, work tree.
        if let Some(bytes) = commit_file {
            self.directories.add_patterns_buffer(bytes, source.clone(), Some(Path::new(ROOT)), &mut self.collection, dir.is_empty())?;
            pushed += 1;
        }
        if let Some(index) = &self.index {
            if let Some(entry) = index.entry_by_path(relative.as_bytes().as_bstr()) {
                let mut buf = Vec::new();
                if let Ok(blob) = objects.find_blob(&entry.id, &mut buf) {
                    self.directories.add_patterns_buffer(blob.data, source.clone(), Some(Path::new(ROOT)), &mut self.collection, dir.is_empty())?;
                    pushed += 1;
                }
            }
        }
        if let Some(workdir) = &self.workdir {
            if let Ok(bytes) = std::fs::read(workdir.join(&relative)) {
                self.directories.add_patterns_buffer(&bytes, source, Some(Path::new(ROOT)), &mut self.collection, dir.is_empty())?;
                pushed += 1;
            }
        }
        self.lists_per_directory.push(pushed);
        Ok(())
    }

    /// The walk leaves the directory it entered last.
    pub fn leave_directory(&mut self) {
        for _ in 0..self.lists_per_directory.pop().unwrap_or(0) {
            self.directories.pop_pattern_list();
        }
    }

    /// Whether `export-ignore` is exactly set for `path` (`GIT_ATTR_IS_TRUE`).
    pub fn export_ignored(&mut self, path: &BStr, is_dir: bool) -> bool {
        self.outcome.initialize_with_selection(&self.collection, ["export-ignore"]);
        let case = gix::glob::pattern::Case::Sensitive;
        for search in [&self.info, &self.directories, &self.global] {
            search.pattern_matching_relative_path(path, case, Some(is_dir), &mut self.outcome);
            if self.outcome.is_done() {
                break;
            }
        }
        self.outcome
            .iter_selected()
            .any(|m| matches!(m.assignment.state, gix::attrs::StateRef::Set))
    }

    /// Whether the `filter` attribute of the file at `path` is exactly `lfs`, as Nix's
    /// `lfs::Fetch::shouldFetch` asks (`filter` set without a value, or unset, is not).
    pub fn filter_is_lfs(&mut self, path: &BStr) -> bool {
        self.outcome.initialize_with_selection(&self.collection, ["filter"]);
        let case = gix::glob::pattern::Case::Sensitive;
        for search in [&self.info, &self.directories, &self.global] {
            search.pattern_matching_relative_path(path, case, Some(false), &mut self.outcome);
            if self.outcome.is_done() {
                break;
            }
        }
        self.outcome
            .iter_selected()
            .any(|m| matches!(m.assignment.state, gix::attrs::StateRef::Value(value) if value.as_bstr() == "lfs"))
    }

    /// What besides the tree decides the result, for cache keys: every source that is not the
    /// commit. Untracked `.gitattributes` files in the work tree are not covered (see docs/design.md).
    pub fn fingerprint_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.outside_files);
        let (Some(index), Some(workdir)) = (&self.index, &self.workdir) else { return };
        for entry in index.entries() {
            let path = entry.path(index);
            if path == ".gitattributes" || path.ends_with(b"/.gitattributes") {
                out.extend_from_slice(path);
                out.extend_from_slice(entry.id.as_bytes());
                out.extend(std::fs::read(workdir.join(gix::path::from_bstr(path).unwrap_or_default())).unwrap_or_default());
            }
        }
    }
}

/// libgit2's `core.attributesFile`, defaulting to `$XDG_CONFIG_HOME/git/attributes`.
fn global_attributes_file(repo: &gix::Repository) -> Option<PathBuf> {
    let config = repo.config_snapshot();
    if let Some(path) = config.trusted_path("core.attributesFile").ok().flatten() {
        return Some(path);
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".config")))?;
    Some(base.join("git/attributes"))
}
