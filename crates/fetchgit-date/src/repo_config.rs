//! A repository's own configuration as the release's reader sees it: git 2.47 for the legacy
//! generation (Nix <= 2.19 runs `git -C <repo> archive`), libgit2 1.9 for the modern one.
//!
//! Both read `$GIT_COMMON_DIR/config`, then `$GIT_DIR/config.worktree` when
//! `extensions.worktreeConfig` is set, and follow `include.path` and `includeIf.<cond>.path`
//! where the directive stands (the included values come right after it, so a later value in the
//! including file still wins). What differs:
//!
//! | | git (`config.c`) | libgit2 (`config_file.c`) |
//! |---|---|---|
//! | conditions | `gitdir:`, `gitdir/i:`, `onbranch:`, `hasconfig:remote.*.url:` | `gitdir:`, `gitdir/i:`, `onbranch:` (others are false) |
//! | nesting | at most 10 includes deep, then git dies | the 10th level fails |
//! | `include.path` without `=` | an error ("missing value") | ignored |
//!
//! Both skip an included file that does not exist. Neither reads anything else here: the user's
//! and the system's files are never read (see `### Deviation`).
//!
//! ### Deviation
//! A path that depends on the machine rather than the repository (`~/`, `~user/`,
//! `%(prefix)/`, in an include or a `gitdir:` condition) is refused, as is `hasconfig:` (git
//! matches it against every configured remote, the user's included) and an included file that is
//! not a regular file of bounded size: git would read them, but the hash must not depend on them.

use std::path::{Path, PathBuf};

use gix::bstr::{BStr, BString, ByteSlice};
use gix::config::parse::{EventRef, Events};

use crate::repo_files::{read_regular, METADATA_LIMIT};

/// Whose configuration reader to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// git 2.47, which Nix <= 2.19 runs.
    Git,
    /// libgit2 1.9, which Nix >= 2.20 links.
    Libgit2,
}

/// Why a repository's configuration cannot be read as the release reads it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file does not parse (git and libgit2 both fail on it).
    #[error("bad configuration file '{}': {reason}: git and libgit2 refuse it too; fix the file", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's reason.
        reason: String,
    },
    /// An included file that exists but cannot be read as a configuration file.
    #[error("'{}' (included by '{}') is not a regular file of at most {METADATA_LIMIT} bytes: refusing to read it as configuration", included.display(), by.display())]
    Unreadable {
        /// The included file.
        included: PathBuf,
        /// The file that includes it.
        by: PathBuf,
    },
    /// Includes nested too deeply (git dies, libgit2 fails).
    #[error("'{}' nests configuration includes more than {MAX_INCLUDE_DEPTH} deep (\"exceeded maximum include depth\"): git and libgit2 refuse it; remove the include cycle", path.display())]
    TooDeep {
        /// The file whose include was one too many.
        path: PathBuf,
    },
    /// `include.path` without a value (git: "missing value for 'include.path'").
    #[error("'{}' has '{key}' without a value: git refuses it (\"missing value for '{key}'\"); give it a path", path.display())]
    MissingValue {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
    },
    /// A path or condition that depends on the machine, not the repository.
    #[error("'{}' has {key} = {value:?}, which depends on the machine (home directory, git's installation or the user's configuration), not on the repository: a hash must not; use a path relative to the configuration file", path.display())]
    MachineDependent {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// Its value.
        value: String,
    },
}

/// git's and libgit2's `MAX_INCLUDE_DEPTH`.
const MAX_INCLUDE_DEPTH: usize = 10;

/// One `section[.subsection].key[=value]` as read, in order.
#[derive(Debug, Clone)]
struct Entry {
    /// Lower case.
    section: BString,
    /// As written (case-sensitive), except the old `[section.sub]` form, which git lowers.
    subsection: Option<BString>,
    /// Lower case.
    key: BString,
    /// `None` for a key without `=` (a boolean true).
    value: Option<BString>,
}

/// The configuration of one repository, includes resolved, with the bytes of every file read.
#[derive(Debug, Clone, Default)]
pub struct RepoConfig {
    entries: Vec<Entry>,
    /// Every file read, with its path, for cache keys.
    fingerprint: Vec<u8>,
}

/// Where includes are evaluated: the repository's git directory and its current branch.
struct Context<'a> {
    reader: Reader,
    /// The git directory as given, and its real path (git tries both).
    git_dir: &'a Path,
    git_dir_real: PathBuf,
    /// The short name of the branch `HEAD` names, if it names one.
    branch: Option<BString>,
}

impl RepoConfig {
    /// The configuration of `repo` as `reader` sees it.
    pub fn load(repo: &gix::Repository, reader: Reader) -> Result<RepoConfig, ConfigError> {
        Self::load_dirs(repo.git_dir(), repo.common_dir(), reader)
    }

    /// The configuration of the repository whose git directory is `git_dir` and whose shared one
    /// is `common_dir`.
    pub fn load_dirs(git_dir: &Path, common_dir: &Path, reader: Reader) -> Result<RepoConfig, ConfigError> {
        let branch = read_regular(&git_dir.join("HEAD"), METADATA_LIMIT).and_then(|head| {
            let head = head.trim_end();
            head.strip_prefix(b"ref: ").and_then(|r| r.trim_start().strip_prefix(b"refs/heads/")).map(BString::from)
        });
        let context = Context { reader, git_dir, git_dir_real: std::fs::canonicalize(git_dir).unwrap_or_else(|_| git_dir.to_owned()), branch };
        let mut config = RepoConfig::default();
        let main = common_dir.join("config");
        if let Some(bytes) = read_regular(&main, METADATA_LIMIT) {
            config.read(&context, &main, &bytes, 0)?;
        }
        if config.boolean("extensions", "worktreeconfig").unwrap_or(false) {
            let worktree = git_dir.join("config.worktree");
            if let Some(bytes) = read_regular(&worktree, METADATA_LIMIT) {
                config.read(&context, &worktree, &bytes, 0)?;
            }
        }
        Ok(config)
    }

    /// Reads one file's values, following its includes where they stand.
    fn read(&mut self, context: &Context<'_>, path: &Path, bytes: &[u8], depth: usize) -> Result<(), ConfigError> {
        self.fingerprint.extend_from_slice(path.as_os_str().as_encoded_bytes());
        self.fingerprint.push(0);
        self.fingerprint.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        self.fingerprint.extend_from_slice(bytes);
        let events = Events::from_bytes(bytes, None).map_err(|err| ConfigError::Parse { path: path.to_owned(), reason: err.to_string() })?;
        let mut section: Option<(BString, Option<BString>)> = None;
        let mut pending: Option<(BString, Option<BString>)> = None;
        for event in events.iter() {
            match event {
                EventRef::SectionHeader { name, separator, subsection_name } => {
                    self.finish(context, path, &section, pending.take(), depth)?;
                    let legacy_dotted = separator.is_some_and(|s| s == ".");
                    let subsection = subsection_name.map(|s| if legacy_dotted { s.to_ascii_lowercase().into() } else { BString::from(s) });
                    section = Some((name.to_ascii_lowercase().into(), subsection));
                }
                EventRef::SectionValueName(key) => {
                    self.finish(context, path, &section, pending.take(), depth)?;
                    pending = Some((key.to_ascii_lowercase().into(), None));
                }
                EventRef::Value(value) => {
                    // gix gives a key without '=' an empty value: it stays implicit (true).
                    if let Some((_, slot @ Some(_))) = pending.as_mut() {
                        *slot = Some(gix::config::value::normalize(value).into_owned());
                    }
                }
                EventRef::ValueNotDone(part) => {
                    if let Some((_, slot)) = pending.as_mut() {
                        slot.get_or_insert_with(BString::default).extend_from_slice(part);
                    }
                }
                EventRef::ValueDone(part) => {
                    if let Some((_, slot)) = pending.as_mut() {
                        let mut whole = slot.take().unwrap_or_default();
                        whole.extend_from_slice(part);
                        *slot = Some(gix::config::value::normalize(whole.as_bstr()).into_owned());
                    }
                }
                EventRef::KeyValueSeparator => {
                    // `key =` with nothing after it is an empty value, not an implicit true.
                    if let Some((_, slot)) = pending.as_mut() {
                        slot.get_or_insert_with(BString::default);
                    }
                }
                _ => {}
            }
        }
        self.finish(context, path, &section, pending.take(), depth)
    }

    /// Records a complete `key[=value]` of `section` and follows it if it is an include.
    fn finish(
        &mut self,
        context: &Context<'_>,
        path: &Path,
        section: &Option<(BString, Option<BString>)>,
        pending: Option<(BString, Option<BString>)>,
        depth: usize,
    ) -> Result<(), ConfigError> {
        let (Some((name, subsection)), Some((key, value))) = (section, pending) else { return Ok(()) };
        self.entries.push(Entry { section: name.clone(), subsection: subsection.clone(), key: key.clone(), value: value.clone() });
        if key != "path" {
            return Ok(());
        }
        let included = match (name.as_slice(), subsection) {
            (b"include", None) => true,
            (b"includeif", Some(condition)) => self.condition_holds(context, path, condition.as_bstr())?,
            _ => false,
        };
        if !included {
            return Ok(());
        }
        let full_key = match subsection {
            Some(condition) => format!("includeIf.{condition}.path"),
            None => "include.path".to_owned(),
        };
        let Some(target) = value else {
            return match context.reader {
                Reader::Git => Err(ConfigError::MissingValue { path: path.to_owned(), key: full_key }),
                Reader::Libgit2 => Ok(()),
            };
        };
        if target.starts_with(b"~") || target.starts_with(b"%(prefix)/") {
            return Err(ConfigError::MachineDependent { path: path.to_owned(), key: full_key, value: target.to_str_lossy().into_owned() });
        }
        let target_path = bytes_to_path(&target);
        let target_path = if target_path.is_absolute() { target_path } else { path.parent().unwrap_or(Path::new("")).join(target_path) };
        if std::fs::metadata(&target_path).is_err() {
            return Ok(()); // git and libgit2 skip a missing include
        }
        let too_deep = match context.reader {
            Reader::Git => depth + 1 > MAX_INCLUDE_DEPTH,
            Reader::Libgit2 => depth + 1 >= MAX_INCLUDE_DEPTH,
        };
        if too_deep {
            return Err(ConfigError::TooDeep { path: path.to_owned() });
        }
        let bytes = read_regular(&target_path, METADATA_LIMIT).ok_or_else(|| ConfigError::Unreadable { included: target_path.clone(), by: path.to_owned() })?;
        self.read(context, &target_path, &bytes, depth + 1)
    }

    /// Whether `includeIf.<condition>` applies (`include_condition_is_true`, libgit2's
    /// `conditions[]`).
    fn condition_holds(&self, context: &Context<'_>, path: &Path, condition: &BStr) -> Result<bool, ConfigError> {
        let machine = |value: &BStr| ConfigError::MachineDependent {
            path: path.to_owned(),
            key: format!("includeIf.{condition}.path"),
            value: value.to_str_lossy().into_owned(),
        };
        if let Some(pattern) = condition.strip_prefix(b"gitdir:") {
            return gitdir_matches(context, path, pattern.as_bstr(), false).ok_or_else(|| machine(condition));
        }
        if let Some(pattern) = condition.strip_prefix(b"gitdir/i:") {
            return gitdir_matches(context, path, pattern.as_bstr(), true).ok_or_else(|| machine(condition));
        }
        if let Some(pattern) = condition.strip_prefix(b"onbranch:") {
            let Some(branch) = &context.branch else { return Ok(false) };
            let mut pattern = BString::from(pattern);
            if pattern.ends_with(b"/") {
                pattern.extend_from_slice(b"**");
            }
            return Ok(gix::glob::wildmatch(pattern.as_bstr(), branch.as_bstr(), gix::glob::wildmatch::Mode::NO_MATCH_SLASH_LITERAL));
        }
        if condition.starts_with(b"hasconfig:remote.*.url:") && context.reader == Reader::Git {
            return Err(machine(condition));
        }
        Ok(false) // unknown conditions are false in both
    }

    /// The last value of `section.key` (no subsection): `Some(None)` for a key without `=`.
    pub fn last(&self, section: &str, key: &str) -> Option<Option<&BStr>> {
        self.entries.iter().rev().find(|e| e.subsection.is_none() && e.section == section && e.key == key).map(|e| e.value.as_ref().map(|v| v.as_bstr()))
    }

    /// The last value given with `=` of `section.subsection.key` (`subsection` compared exactly).
    pub fn string(&self, section: &str, subsection: Option<&str>, key: &str) -> Option<&BStr> {
        self.entries
            .iter()
            .rev()
            .filter(|e| e.section == section && e.key == key && e.subsection.as_ref().map(|s| s.as_slice()) == subsection.map(str::as_bytes))
            .find_map(|e| e.value.as_ref().map(|v| v.as_bstr()))
    }

    /// `section.key` as git's boolean (`git_parse_maybe_bool`); `None` when absent or invalid.
    fn boolean(&self, section: &str, key: &str) -> Option<bool> {
        match self.last(section, key)? {
            None => Some(true),
            Some(value) => parse_bool(value),
        }
    }

    /// The distinct subsection names of `section`, in order of first appearance.
    pub fn subsections(&self, section: &str) -> Vec<BString> {
        let mut names: Vec<BString> = Vec::new();
        for entry in &self.entries {
            if entry.section == section {
                if let Some(name) = &entry.subsection {
                    if !names.contains(name) {
                        names.push(name.clone());
                    }
                }
            }
        }
        names
    }

    /// The bytes of every file read, with their paths, for cache keys.
    pub fn fingerprint(&self) -> &[u8] {
        &self.fingerprint
    }

    /// The attributes file `core.attributesFile` names, read as git (`read_attr_from_file`) or
    /// libgit2 (`git_attr_file__load`) reads it, with the bytes of the setting and the file
    /// appended to `fingerprint` ... `Ok(None)` when it is unset, missing or unreadable (both skip
    /// it then). `work_tree` is where git resolves a relative path (its working directory after
    /// `git -C`); libgit2 resolves it against Nix's own working directory, so that is refused.
    pub fn attributes_file(&self, work_tree: &Path, reader: Reader, limit: u64) -> Result<Option<Vec<u8>>, AttributesFileError> {
        let Some(value) = self.last("core", "attributesfile") else { return Ok(None) };
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            return match reader {
                // git: "missing value for 'core.attributesfile'" (git_config_pathname dies).
                Reader::Git => Err(AttributesFileError::MissingValue),
                Reader::Libgit2 => Ok(None),
            };
        };
        if value.starts_with(b"~") || value.starts_with(b"%(prefix)/") {
            return Err(AttributesFileError::MachineDependent(value.to_str_lossy().into_owned()));
        }
        let path = bytes_to_path(value);
        let path = if path.is_absolute() {
            path
        } else {
            match reader {
                Reader::Git => work_tree.join(path),
                Reader::Libgit2 => return Err(AttributesFileError::Relative(value.to_str_lossy().into_owned())),
            }
        };
        Ok(read_regular(&path, limit))
    }
}

/// Why `core.attributesFile` cannot be followed.
#[derive(Debug, thiserror::Error)]
pub enum AttributesFileError {
    /// `core.attributesFile` without a value.
    #[error("core.attributesFile has no value: git refuses it (\"missing value for 'core.attributesfile'\"); give it a path or remove it")]
    MissingValue,
    /// A path under the home directory or git's installation.
    #[error("core.attributesFile = {0:?} depends on the machine (home directory or git's installation), not on the repository: a hash must not; use an absolute path or remove it")]
    MachineDependent(String),
    /// A relative path, which libgit2 resolves against Nix's working directory.
    #[error("core.attributesFile = {0:?} is relative: Nix >= 2.20 (libgit2) reads it from the directory Nix runs in, so the hash would depend on it; use an absolute path")]
    Relative(String),
}

/// `include_by_gitdir` (git) and `do_match_gitdir` (libgit2); `None` for a machine-dependent
/// pattern (`~/`).
fn gitdir_matches(context: &Context<'_>, config_path: &Path, pattern: &BStr, icase: bool) -> Option<bool> {
    if pattern.is_empty() {
        return Some(false);
    }
    if pattern.starts_with(b"~") {
        return None;
    }
    let mut full = BString::default();
    let mut prefix = 0;
    if let Some(rest) = pattern.strip_prefix(b"./") {
        // Relative to the configuration file's directory (git: its real path).
        let dir = match context.reader {
            Reader::Git => std::fs::canonicalize(config_path).unwrap_or_else(|_| config_path.to_owned()),
            Reader::Libgit2 => config_path.to_owned(),
        };
        let dir = dir.parent().map(Path::to_owned).unwrap_or_default();
        full.extend_from_slice(dir.as_os_str().as_encoded_bytes());
        full.push(b'/');
        if context.reader == Reader::Git {
            prefix = full.len();
        }
        full.extend_from_slice(rest);
    } else if !pattern.starts_with(b"/") {
        full.extend_from_slice(b"**/");
        full.extend_from_slice(pattern);
    } else {
        full.extend_from_slice(pattern);
    }
    if full.ends_with(b"/") {
        full.extend_from_slice(b"**");
    }
    let mut mode = gix::glob::wildmatch::Mode::NO_MATCH_SLASH_LITERAL;
    if icase {
        mode |= gix::glob::wildmatch::Mode::IGNORE_CASE;
    }
    let matches = |text: &[u8]| {
        let mut text = text.to_vec();
        while text.len() > 1 && text.ends_with(b"/") {
            text.pop();
        }
        if prefix > 0 {
            if text.len() < prefix {
                return false;
            }
            let same = if icase { full[..prefix].eq_ignore_ascii_case(&text[..prefix]) } else { full[..prefix] == text[..prefix] };
            if !same {
                return false;
            }
        }
        gix::glob::wildmatch(full[prefix..].as_bstr(), text[prefix..].as_bstr(), mode)
    };
    let real = context.git_dir_real.as_os_str().as_encoded_bytes();
    if matches(real) {
        return Some(true);
    }
    // git tries the absolute, unresolved path too (a symlinked parent).
    let absolute = if context.git_dir.is_absolute() {
        context.git_dir.to_owned()
    } else {
        std::env::current_dir().map(|cwd| cwd.join(context.git_dir)).unwrap_or_else(|_| context.git_dir.to_owned())
    };
    Some(context.reader == Reader::Git && matches(absolute.as_os_str().as_encoded_bytes()))
}

/// A path from configuration bytes (Unix: any bytes).
fn bytes_to_path(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
}

/// `git_parse_maybe_bool`.
pub fn parse_bool(value: &BStr) -> Option<bool> {
    let lower = value.to_ascii_lowercase();
    match lower.as_slice() {
        b"true" | b"yes" | b"on" => Some(true),
        b"false" | b"no" | b"off" | b"" => Some(false),
        _ => std::str::from_utf8(value).ok()?.parse::<i64>().ok().map(|n| n != 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(files: &[(&str, &str)], reader: Reader) -> Result<RepoConfig, ConfigError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let git_dir = dir.path().join(".git");
        std::fs::create_dir_all(&git_dir).expect("mkdir");
        std::fs::write(git_dir.join("HEAD"), "ref: refs/heads/feature/x\n").expect("write");
        for (name, text) in files {
            let path = git_dir.join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        RepoConfig::load_dirs(&git_dir, &git_dir, reader)
    }

    fn load_in(files: &[(&str, &str)], reader: Reader) -> Result<RepoConfig, ConfigError> {
        load(files, reader)
    }

    fn autocrlf(config: &RepoConfig) -> Option<String> {
        config.last("core", "autocrlf").map(|v| v.map(|v| v.to_string()).unwrap_or_else(|| "<implicit>".into()))
    }

    #[test]
    fn includes_apply_where_they_stand() {
        let inc = [("config", "[core]\n\tautocrlf = false\n[include]\n\tpath = extra\n"), ("extra", "[core]\n\tautocrlf = true\n")];
        assert_eq!(autocrlf(&load(&inc, Reader::Git).expect("loads")).as_deref(), Some("true"));
        let later = [("config", "[include]\n\tpath = extra\n[core]\n\tautocrlf = input\n"), ("extra", "[core]\n\tautocrlf = true\n")];
        assert_eq!(autocrlf(&load(&later, Reader::Git).expect("loads")).as_deref(), Some("input"), "a later value wins");
        let missing = [("config", "[include]\n\tpath = nowhere\n[core]\n\tautocrlf\n")];
        assert_eq!(autocrlf(&load(&missing, Reader::Git).expect("a missing include is skipped")).as_deref(), Some("<implicit>"));
    }

    #[test]
    fn subsection_values_come_through_includes() {
        let files = [
            ("config", "[remote \"origin\"]\n\turl = first\n[include]\n\tpath = remote.inc\n"),
            ("remote.inc", "[remote \"origin\"]\n\turl = included\n[remote \"Origin\"]\n\turl = other\n"),
        ];
        let config = load(&files, Reader::Libgit2).expect("loads");
        assert_eq!(config.string("remote", Some("origin"), "url").map(|v| v.to_string()).as_deref(), Some("included"));
        assert_eq!(config.string("remote", Some("Origin"), "url").map(|v| v.to_string()).as_deref(), Some("other"), "subsections are case-sensitive");
        assert_eq!(config.string("remote", None, "url"), None);
    }

    #[test]
    fn conditions_as_git_and_libgit2() {
        let on_branch = [("config", "[includeIf \"onbranch:feature/\"]\n\tpath = b\n"), ("b", "[core]\n\tautocrlf = true\n")];
        assert_eq!(autocrlf(&load(&on_branch, Reader::Libgit2).expect("loads")).as_deref(), Some("true"));
        let gitdir = [("config", "[includeIf \"gitdir:.git\"]\n\tpath = b\n"), ("b", "[core]\n\tautocrlf = true\n")];
        assert_eq!(autocrlf(&load_in(&gitdir, Reader::Git).expect("loads")).as_deref(), Some("true"), "**/.git matches the git directory");
        assert_eq!(autocrlf(&load_in(&gitdir, Reader::Libgit2).expect("loads")).as_deref(), Some("true"));
        let inside = [("config", "[includeIf \"gitdir:.git/\"]\n\tpath = b\n"), ("b", "[core]\n\tautocrlf = true\n")];
        assert_eq!(autocrlf(&load_in(&inside, Reader::Git).expect("loads")), None, "**/.git/** matches only below it");
        let other = [("config", "[includeIf \"gitdir:/elsewhere/\"]\n\tpath = b\n"), ("b", "[core]\n\tautocrlf = true\n")];
        assert_eq!(autocrlf(&load(&other, Reader::Git).expect("loads")), None);
        let hasconfig = [("config", "[includeIf \"hasconfig:remote.*.url:x\"]\n\tpath = b\n"), ("b", "[core]\n\tautocrlf = true\n")];
        assert!(load(&hasconfig, Reader::Git).is_err(), "git: depends on every configured remote");
        assert_eq!(autocrlf(&load(&hasconfig, Reader::Libgit2).expect("libgit2 has no hasconfig")), None);
    }

    #[test]
    fn refuses_what_depends_on_the_machine_or_never_ends() {
        assert!(matches!(load(&[("config", "[include]\n\tpath = ~/x\n")], Reader::Git), Err(ConfigError::MachineDependent { .. })));
        assert!(matches!(load(&[("config", "[include]\n\tpath = config\n")], Reader::Git), Err(ConfigError::TooDeep { .. })));
        assert!(matches!(load(&[("config", "[include]\n\tpath\n")], Reader::Git), Err(ConfigError::MissingValue { .. })));
        assert!(load(&[("config", "[include]\n\tpath\n")], Reader::Libgit2).is_ok());
    }
}
