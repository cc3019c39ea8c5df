//! `export-ignore` as Nix >= 2.20 asks libgit2 1.9 for it: `git_attr_get_ext` with
//! `GIT_ATTR_CHECK_INCLUDE_COMMIT | GIT_ATTR_CHECK_NO_SYSTEM` and the commit being exported
//! (Nix 2.26 `GitExportIgnoreSourceAccessor::gitAttrGet`, src/libfetchers/git-utils.cc).
//!
//! Ported from libgit2 v1.9.0: `attr.c` (`git_attr_get_ext`, `collect_attr_files`,
//! `attr_setup`, `attr_decide_sources`, `push_one_attr`), `attr_file.c`
//! (`git_attr_file__load`, `git_attr_file__parse_buffer`, `git_attr_fnmatch__parse`,
//! `git_attr_assignment__parse`, `git_attr_fnmatch__match`, `git_attr_path__init`) and
//! `attrcache.c` (macros). libgit2's parser is not git's: it has no quoted patterns, honours
//! `!pattern` (the rule applies where the pattern does *not* match), escapes spaces with '\',
//! accepts any attribute name, reads `attr=` as set, and has no line-length limit.
//!
//! Sources, first match wins: `$GIT_DIR/info/attributes`; then for each directory from the
//! path's own up to the root: the work tree's `.gitattributes` (libgit2's default
//! `GIT_ATTR_CHECK_FILE_THEN_INDEX`), the index's, the commit's. A path is a directory for
//! `dir/` patterns only if it is one in the work tree now (`git_fs_path_isdir`); in a bare
//! repository (Nix's clone of every remote) nothing is, so `tests/ export-ignore` keeps `tests`.
//!
//! In a work tree libgit2 finds a path's directory through `realpath` (`git_fs_path_find_dir`):
//! the root is looked up in the directory above the work tree, and a path below a symlink to a
//! directory elsewhere in that directory's attribute files.
//!
//! ### Deviation
//! Attribute files outside the repository are never read: the one above the work tree (for the
//! root) and those that `realpath` reaches through symlinks. libgit2 then reads the user's
//! `core.attributesFile` (default `$XDG_CONFIG_HOME/git/attributes`) and preloads the system
//! file's macros; both belong to the machine, not the repository, and are not read. A
//! `core.attributesFile` set in the repository's own configuration (includes followed) is read,
//! below every `.gitattributes`, with its macros defined first, as `attr_setup` preloads it; a
//! relative one is refused (libgit2 reads it from Nix's working directory). A work-tree `.gitattributes` that is a FIFO would block libgit2 (it opens it);
//! it is read as absent here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use gix::bstr::{BStr, BString, ByteSlice};

use super::Value;
use crate::repo_config::{Reader, RepoConfig};

/// `GIT_ATTR_MAX_FILE_SIZE`.
pub const MAX_FILE_SIZE: u64 = 100 * 1024 * 1024;

const NEGATIVE: u32 = 1 << 0;
const DIRECTORY: u32 = 1 << 1;
const FULLPATH: u32 = 1 << 2;
const MACRO: u32 = 1 << 3;
const HASWILD: u32 = 1 << 5;
const MATCH_ALL: u32 = 1 << 8;
const ALLOWNEG: u32 = 1 << 9;
const ALLOWMACRO: u32 = 1 << 10;

/// `git__isspace` on Linux: C's `isspace` in the C locale.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

#[derive(Debug, Clone)]
struct Rule {
    pattern: BString,
    flags: u32,
    containing_dir: Option<BString>,
    assigns: Vec<(BString, Value)>,
}

/// A parsed attributes file.
#[derive(Debug, Clone, Default)]
pub struct File {
    rules: Vec<Rule>,
}

type Macros = HashMap<BString, Vec<(BString, Value)>>;

/// `git__next_line`.
fn next_line(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && s[i] != b'\n' {
        i += 1;
    }
    while i < s.len() && (s[i] == b'\n' || s[i] == b'\r') {
        i += 1;
    }
    i
}

/// `trailing_space_length`: escaped spaces do not count.
fn trailing_space_length(p: &[u8]) -> usize {
    let mut n = p.len();
    while n > 0 {
        if p[n - 1] != b' ' && p[n - 1] != b'\t' {
            break;
        }
        let mut i = n;
        while i > 1 && p[i - 2] == b'\\' {
            i -= 1;
        }
        if (n - i) % 2 == 1 {
            break;
        }
        n -= 1;
    }
    p.len() - n
}

/// `unescape_spaces`: drops a '\' before a space; other escapes stay for wildmatch.
fn unescape_spaces(s: &[u8]) -> BString {
    let mut out = Vec::with_capacity(s.len());
    let mut escaped = false;
    for &c in s {
        if !escaped && c == b'\\' {
            escaped = true;
            continue;
        }
        if escaped && !is_space(c) {
            out.push(b'\\');
        }
        out.push(c);
        escaped = false;
    }
    out.into()
}

/// `git_attr_fnmatch__parse`: `Err(())` is `GIT_ENOTFOUND` (nothing to match; `*pos` says where
/// parsing goes on).
fn parse_fnmatch(s: &[u8], pos: &mut usize, flags_in: u32) -> Result<(BString, u32), ()> {
    // parse_optimized_patterns: the rest of the buffer is exactly "*" or ".".
    if s.len() - *pos == 1 && (s[*pos] == b'*' || s[*pos] == b'.') {
        return Ok((s[*pos..].into(), MATCH_ALL));
    }
    let mut flags = flags_in;
    let mut pattern = *pos;
    while pattern < s.len() && is_space(s[pattern]) {
        pattern += 1;
    }
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    if pattern >= s.len() || at(pattern) == b'#' || at(pattern) == b'\n' || (at(pattern) == b'\r' && at(pattern + 1) == b'\n') {
        *pos = next_line(s, pattern);
        return Err(());
    }
    if at(pattern) == b'[' && flags & ALLOWMACRO != 0 && s[pattern..].starts_with(b"[attr]") {
        flags |= MACRO;
        pattern += 6;
    }
    if at(pattern) == b'!' && flags & ALLOWNEG != 0 {
        flags |= NEGATIVE;
        pattern += 1;
    }
    let mut slash_count = 0;
    let mut escaped = false;
    let mut scan = pattern;
    while scan < s.len() {
        let c = s[scan];
        if c == b'\\' && !escaped {
            escaped = true;
            scan += 1;
            continue;
        } else if is_space(c) && !escaped {
            break;
        } else if c == b'/' {
            flags |= FULLPATH;
            slash_count += 1;
            if slash_count == 1 && pattern == scan {
                pattern += 1;
            }
        } else if matches!(c, b'*' | b'?' | b'[') && !escaped {
            flags |= HASWILD;
        }
        escaped = false;
        scan += 1;
    }
    *pos = scan;
    let mut length = scan.saturating_sub(pattern);
    if scan < pattern || length == 0 {
        return Err(());
    }
    if s[pattern + length - 1] == b'\r' {
        length -= 1;
        if length == 0 {
            return Err(());
        }
    }
    length -= trailing_space_length(&s[pattern..pattern + length]);
    if length == 0 {
        return Err(());
    }
    if s[pattern + length - 1] == b'/' {
        length -= 1;
        flags |= DIRECTORY;
        slash_count -= 1;
        if slash_count <= 0 {
            flags &= !FULLPATH;
        }
    }
    Ok((unescape_spaces(&s[pattern..pattern + length]), flags))
}

/// `git_attr_assignment__parse`, expanding the macros known so far; `Err(())` when the line
/// assigns nothing.
fn parse_assignments(s: &[u8], pos: &mut usize, macros: &Macros) -> Result<Vec<(BString, Value)>, ()> {
    let mut assigns: Vec<(BString, Value)> = Vec::new();
    let insert = |assigns: &mut Vec<(BString, Value)>, name: BString, value: Value| match assigns.iter_mut().find(|(n, _)| *n == name) {
        Some(slot) => slot.1 = value,
        None => assigns.push((name, value)),
    };
    let mut scan = *pos;
    while scan < s.len() && s[scan] != b'\n' {
        while scan < s.len() && is_space(s[scan]) && s[scan] != b'\n' {
            scan += 1;
        }
        let mut value = Value::Set;
        match s.get(scan) {
            Some(b'-') => {
                value = Value::Unset;
                scan += 1;
            }
            Some(b'!') => {
                value = Value::Unspecified;
                scan += 1;
            }
            Some(b'#') => break,
            _ => {}
        }
        let name_start = scan;
        while scan < s.len() && !is_space(s[scan]) && s[scan] != b'=' {
            scan += 1;
        }
        if scan == name_start {
            while scan < s.len() && !is_space(s[scan]) {
                scan += 1;
            }
            continue;
        }
        let name: BString = s[name_start..scan].into();
        if s.get(scan) == Some(&b'=') {
            scan += 1;
            let value_start = scan;
            while scan < s.len() && !is_space(s[scan]) {
                scan += 1;
            }
            if scan > value_start {
                value = Value::Value(s[value_start..scan].into());
            }
        }
        if value == Value::Set {
            if let Some(expansion) = macros.get(&name) {
                for (n, v) in expansion {
                    insert(&mut assigns, n.clone(), v.clone());
                }
            }
        }
        insert(&mut assigns, name, value);
    }
    *pos = next_line(s, scan);
    if assigns.is_empty() {
        Err(())
    } else {
        Ok(assigns)
    }
}

/// `git_attr_file__load` (content: BOM skipped, C string) and `git_attr_file__parse_buffer`.
/// `path` is the file's path relative to the root (`.gitattributes`, `a/.gitattributes`,
/// or `None` for info/attributes); macros are defined into `macros` when `allow_macros`.
fn parse(data: &[u8], path: Option<&BStr>, allow_macros: bool, macros: &mut Macros) -> File {
    let data = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    let data = match data.find_byte(0) {
        Some(nul) => &data[..nul],
        None => data,
    };
    let context = path.filter(|p| p.ends_with(b"/.gitattributes"));
    let containing_dir = context.and_then(|c| c.rfind_byte(b'/').map(|slash| BString::from(&c[..=slash])));
    let mut file = File::default();
    let mut pos = 0;
    while pos < data.len() {
        let Ok((pattern, flags)) = parse_fnmatch(data, &mut pos, ALLOWNEG | ALLOWMACRO) else { continue };
        let Ok(assigns) = parse_assignments(data, &mut pos, macros) else { continue };
        if flags & MACRO != 0 {
            if allow_macros {
                macros.insert(pattern, assigns);
            }
            continue;
        }
        let containing_dir = if flags & MATCH_ALL != 0 { None } else { containing_dir.clone() };
        file.rules.push(Rule { pattern, flags, containing_dir, assigns });
    }
    file
}

/// `git_attr_fnmatch__match` for attribute rules, and `GIT_ATTR_FNMATCH_NEGATIVE`.
fn rule_matches(rule: &Rule, path: &[u8], basename: &[u8], is_dir: bool) -> bool {
    use gix::glob::wildmatch::Mode;
    let matched = (|| {
        let mut relpath = path;
        if let Some(dir) = &rule.containing_dir {
            if !path.starts_with(dir) {
                return false;
            }
            relpath = &path[dir.len()..];
        }
        let (filename, mode) = if rule.flags & FULLPATH != 0 { (relpath, Mode::NO_MATCH_SLASH_LITERAL) } else { (basename, Mode::empty()) };
        if rule.flags & DIRECTORY != 0 && !is_dir {
            return false;
        }
        gix::glob::wildmatch(rule.pattern.as_bstr(), filename.as_bstr(), mode)
    })();
    matched != (rule.flags & NEGATIVE != 0)
}

/// The per-directory sources of one level, in precedence order (work tree, index, commit).
struct Level {
    files: Vec<File>,
}

/// libgit2's attribute sources for one export, as a stack following the walk.
pub struct Libgit2Attributes {
    info: File,
    /// `core.attributesFile` of the repository's own configuration (lowest precedence).
    global: File,
    workdir: Option<PathBuf>,
    /// Whether the work tree's files are sources (not with `GIT_ATTR_CHECK_INDEX_ONLY`).
    file_source: bool,
    index: Option<gix::index::File>,
    macros: Macros,
    levels: Vec<Level>,
    /// The root's sources, parsed when the stack was made (see [`Self::new`]).
    root_files: Vec<File>,
    /// Bytes of every source outside the commit, for cache keys.
    outside: Vec<u8>,
}

/// Reads a work-tree attributes file as `git_attr_file__load` does for `GIT_ATTR_FILE_SOURCE_FILE`
/// (stat, which follows symlinks; a directory, an unreadable or oversized file is absent; exactly
/// `st_size` bytes are read). Non-regular files (FIFOs, devices) are absent too: a device reads
/// as empty in libgit2 (`st_size` is 0), a FIFO would block it.
pub fn read_worktree_file(path: &Path) -> Option<Vec<u8>> {
    crate::repo_files::read_regular(path, MAX_FILE_SIZE)
}

impl Libgit2Attributes {
    /// The sources of `repo` for exporting a commit whose root `.gitattributes` is
    /// `commit_root` (its blob, when it has one). `workdir` is `None` for a bare repository,
    /// which is read as Nix's clone of it: no index, no `info/attributes`.
    pub fn new(repo: &gix::Repository, workdir: Option<&Path>, commit_root: Option<&[u8]>) -> Result<Self, String> {
        Self::with_sources(repo, workdir, true, commit_root)
    }

    /// The sources `git_attr_get` reads with `GIT_ATTR_CHECK_INDEX_ONLY | GIT_ATTR_CHECK_NO_SYSTEM`,
    /// which Nix >= 2.20 uses for a work tree fetched as it is: `info/attributes` and each
    /// directory's `.gitattributes` from the index (`attr_setup` still preloads the work tree's
    /// root file, whose macros count).
    pub fn index_only(repo: &gix::Repository) -> Result<Self, String> {
        Self::with_sources(repo, repo.workdir(), false, None)
    }

    fn with_sources(repo: &gix::Repository, workdir: Option<&Path>, file_source: bool, commit_root: Option<&[u8]>) -> Result<Self, String> {
        let mut macros: Macros = HashMap::new();
        // git_attr_cache__init: "binary" is "-diff -merge -text -crlf".
        macros.insert("binary".into(), ["diff", "merge", "text", "crlf"].iter().map(|n| (BString::from(*n), Value::Unset)).collect());
        let mut attributes = Libgit2Attributes {
            info: File::default(),
            global: File::default(),
            workdir: workdir.map(Path::to_owned),
            file_source,
            index: None,
            macros,
            levels: Vec::new(),
            root_files: Vec::new(),
            outside: Vec::new(),
        };
        if let Some(workdir) = workdir {
            // attr_setup preloads core.attributesFile first (its macros count everywhere).
            let config = RepoConfig::load(repo, Reader::Libgit2).map_err(|err| crate::error_chain(&err))?;
            let global = config.attributes_file(workdir, Reader::Libgit2, MAX_FILE_SIZE).map_err(|err| err.to_string())?;
            attributes.outside.extend_from_slice(b"core.attributesFile\0");
            if let Some(bytes) = global {
                attributes.outside.extend_from_slice(&bytes);
                attributes.global = parse(&bytes, None, true, &mut attributes.macros);
            }
            attributes.outside.push(0);
            let info = read_worktree_file(&repo.common_dir().join("info/attributes")).unwrap_or_default();
            attributes.outside.extend_from_slice(&info);
            attributes.info = parse(&info, None, true, &mut attributes.macros);
            attributes.index = repo.open_index().ok();
        }
        // attr_setup preloads, in this order and with macros allowed, the root sources; later
        // lookups use these parses (macros expand as they were known then).
        let root: &BStr = ".gitattributes".into();
        if let Some(bytes) = attributes.worktree_root_file(root) {
            attributes.outside.extend_from_slice(&bytes);
            let file = parse(&bytes, Some(root), true, &mut attributes.macros);
            if file_source {
                attributes.root_files.push(file);
            }
        }
        if let Some(bytes) = attributes.index_file(&repo.objects, root) {
            attributes.outside.extend_from_slice(&bytes);
            let file = parse(&bytes, Some(root), true, &mut attributes.macros);
            attributes.root_files.push(file);
        }
        if let Some(bytes) = commit_root {
            let file = parse(bytes, Some(root), true, &mut attributes.macros);
            attributes.root_files.push(file);
        }
        Ok(attributes)
    }

    /// The work tree's root file, read even where it is no source (for its macros).
    fn worktree_root_file(&self, relative: &BStr) -> Option<Vec<u8>> {
        let workdir = self.workdir.as_ref()?;
        read_worktree_file(&workdir.join(crate::repo_files::native_path(relative)))
    }

    fn workdir_file(&self, relative: &BStr) -> Option<Vec<u8>> {
        let workdir = self.workdir.as_ref().filter(|_| self.file_source)?;
        read_worktree_file(&workdir.join(crate::repo_files::native_path(relative)))
    }

    fn index_file(&self, objects: &gix::OdbHandle, relative: &BStr) -> Option<Vec<u8>> {
        use gix::objs::FindExt;
        let index = self.index.as_ref()?;
        let entry = index.entry_by_path(relative)?;
        let mut buf = Vec::new();
        let blob = objects.find_blob(&entry.id, &mut buf).ok()?;
        (blob.data.len() as u64 <= MAX_FILE_SIZE).then(|| blob.data.to_vec())
    }

    /// The walk enters directory `dir` ("" for the root), whose tree holds `commit_file` as its
    /// `.gitattributes` blob, if any.
    pub fn enter_directory(&mut self, objects: &gix::OdbHandle, dir: &BStr, commit_file: Option<&[u8]>) {
        if dir.is_empty() {
            let files = std::mem::take(&mut self.root_files);
            self.levels.push(Level { files });
            return;
        }
        let relative: BString = format!("{dir}/.gitattributes").into();
        let mut files = Vec::new();
        for bytes in [self.workdir_file(relative.as_ref()), self.index_file(objects, relative.as_ref())].into_iter().flatten() {
            self.outside.extend_from_slice(relative.as_slice());
            self.outside.extend_from_slice(&bytes);
            files.push(parse(&bytes, Some(relative.as_ref()), false, &mut self.macros));
        }
        if let Some(bytes) = commit_file {
            files.push(parse(bytes, Some(relative.as_ref()), false, &mut self.macros));
        }
        self.levels.push(Level { files });
    }

    /// The walk leaves the directory it entered last.
    pub fn leave_directory(&mut self) {
        self.levels.pop();
    }

    /// Whether `export-ignore` is exactly set for `path` (`GIT_ATTR_IS_TRUE`), which is in the
    /// directory entered last. Whether it is a directory is asked of the work tree, as libgit2
    /// does (`git_attr_path__init` with `GIT_DIR_FLAG_UNKNOWN`), whatever the commit holds.
    pub fn export_ignored(&self, path: &BStr) -> bool {
        self.lookup(path, "export-ignore") == Some(Value::Set)
    }

    /// Whether the `filter` attribute of the file at `path` is exactly `lfs`, as Nix's
    /// `lfs::Fetch::shouldFetch` asks (`filter` set without a value, or unset, is not).
    pub fn filter_is_lfs(&self, path: &BStr) -> bool {
        matches!(self.lookup(path, "filter"), Some(Value::Value(v)) if v == "lfs")
    }

    /// The value of `name` for `path` (in the directory entered last), first match wins.
    fn lookup(&self, path: &BStr, name: &str) -> Option<Value> {
        let is_dir = match &self.workdir {
            Some(workdir) => workdir.join(crate::repo_files::native_path(path)).is_dir(),
            None => false,
        };
        let basename = match path.rfind_byte(b'/') {
            Some(slash) => &path[slash + 1..],
            None => path,
        };
        let levels = self.levels.iter().rev().flat_map(|level| level.files.iter());
        for file in std::iter::once(&self.info).chain(levels).chain(std::iter::once(&self.global)) {
            for rule in file.rules.iter().rev() {
                if !rule_matches(rule, path, basename, is_dir) {
                    continue;
                }
                if let Some((_, value)) = rule.assigns.iter().find(|(n, _)| n == name) {
                    return Some(value.clone());
                }
            }
        }
        None
    }

    /// Whether the root itself is export-ignored, which makes Nix fail ("'/' does not exist
    /// because it was fetched with exportIgnore enabled"). Asked about the root, libgit2 reads
    /// the attribute files of the directory *above* the work tree (`git_fs_path_find_dir` takes
    /// the dirname of the root's real path), so in a work tree only `info/attributes` can
    /// ignore it; in a bare repository the root's own `.gitattributes` is read. The walk must be
    /// at the root.
    pub fn root_ignored(&self) -> bool {
        let levels: &[Level] = if self.workdir.is_some() { &[] } else { &self.levels };
        let files = std::iter::once(&self.info).chain(levels.iter().rev().flat_map(|level| level.files.iter())).chain(std::iter::once(&self.global));
        for file in files {
            for rule in file.rules.iter().rev() {
                if !rule_matches(rule, b"", b"", false) {
                    continue;
                }
                if let Some((_, value)) = rule.assigns.iter().find(|(name, _)| name == "export-ignore") {
                    return *value == Value::Set;
                }
            }
        }
        false
    }

    /// What besides the commit decided the result, for cache keys.
    pub fn fingerprint(&self) -> &[u8] {
        &self.outside
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignored(files: &[(&str, &str)], path: &str, _is_dir: bool) -> bool {
        let mut macros = Macros::new();
        let mut levels = Vec::new();
        for (dir, text) in files {
            let relative = if dir.is_empty() { ".gitattributes".to_owned() } else { format!("{dir}/.gitattributes") };
            levels.push(Level { files: vec![parse(text.as_bytes(), Some(relative.as_str().into()), dir.is_empty(), &mut macros)] });
        }
        let attributes = Libgit2Attributes {
            info: File::default(),
            global: File::default(),
            workdir: None,
            file_source: true,
            index: None,
            macros,
            levels,
            root_files: Vec::new(),
            outside: Vec::new(),
        };
        attributes.export_ignored(path.into())
    }

    #[test]
    fn parses_like_libgit2() {
        assert!(!ignored(&[("", "\"a b.txt\" export-ignore\n")], "a b.txt", false), "no quoted patterns");
        assert!(ignored(&[("", "\"a b.txt\" export-ignore\n")], "\"a", false));
        assert!(ignored(&[("", "a\\ b export-ignore\n")], "a b", false), "escaped space");
        assert!(ignored(&[("", "!x export-ignore\n")], "y", false), "negative rules apply where the pattern does not match");
        assert!(!ignored(&[("", "!x export-ignore\n")], "x", false));
        assert!(ignored(&[("", "x export-ignore=\n")], "x", false), "attr= is set");
        assert!(!ignored(&[("", "x export-ignore=true\n")], "x", false));
        assert!(ignored(&[("", "x export-ignore bad/name\n")], "x", false), "any name");
        assert!(ignored(&[("", "[attr]ign export-ignore\nx ign\n")], "x", false));
        assert!(!ignored(&[("", "x ign\n[attr]ign export-ignore\n")], "x", false), "macros expand when parsed");
        assert!(ignored(&[("", "[attr] x export-ignore\n")], "x", false), "'[attr] ' then a pattern");
        assert!(!ignored(&[("", "tests/ export-ignore\n")], "tests", true), "bare: no directories");
        assert!(ignored(&[("", "*.c export-ignore\n")], "a/b.c", false));
        assert!(!ignored(&[("", "/*.c export-ignore\n")], "a/b.c", false));
        assert!(ignored(&[("", ""), ("a", "*.c export-ignore\n")], "a/b.c", false));
        assert!(!ignored(&[("", ""), ("a", "*.c export-ignore\n")], "ab.c", false));
        assert!(ignored(&[("", "x export-ignore\0\ny export-ignore\n")], "x", false));
        assert!(!ignored(&[("", "x export-ignore\0\ny export-ignore\n")], "y", false), "a C string ends at NUL");
        assert!(ignored(&[("", "\u{feff}x export-ignore\n")], "x", false), "BOM skipped");
        assert!(ignored(&[("", "x\r\n\r\ny export-ignore\r\n")], "y", false));
    }
}
