//! Nothing a repository configures is ever run: not by gix, not by the git processes the legacy
//! generation needs, in the repository, its submodules or a cache repository.
//!
//! A repository's configuration names programs in many places: filter drivers
//! (`filter.<name>.clean`, `.smudge`, `.process`, selected by the `filter` attribute, also from
//! `info/attributes` and `core.attributesFile`), `core.fsmonitor`, hooks (`core.hooksPath`,
//! `hooks/`, e.g. `post-index-change` when git refreshes the index), diff drivers
//! (`diff.<name>.textconv`, `.command`, `diff.external`), `core.sshCommand`, `credential.helper`,
//! `core.askPass`, `gpg.program` (`%G?` in an `export-subst` file), and a partial clone's
//! lazy fetch, which runs all the transport ones. Any of them may also come from a file pulled
//! in by `include.path` or `includeIf`.
//!
//! - **gix** (the modern dirty check of a work tree and its submodules): [`without_programs`]
//!   removes every section and key that names a program from a copy of the repository's
//!   configuration before gix is asked anything that could run one (gix's status runs `clean` and `process` filter drivers
//!   to compare contents). libgit2, which Nix >= 2.20 uses, runs no configured filter driver
//!   at all (a driver must be registered in C), so the status is then libgit2's.
//! - **git processes** ([`SafeGit`]): no user or system configuration, no `GIT_*` variable from our
//!   environment, and configuration overrides that git applies after every file it reads
//!   (`GIT_CONFIG_COUNT`, so that no name can be split wrongly as with `-c`): no fsmonitor, hooks
//!   from a directory that does not exist, no transport at all (`protocol.allow=never`, so a
//!   partial clone cannot fetch), no credential helper, and an empty command for every filter
//!   driver configured in the repository or any of its checked-out submodules (git runs no
//!   filter whose command is empty). git passes these overrides on to the git processes it
//!   starts in submodules.
//! - Where a release's **hash** depends on running such a program (a filter driver in a legacy
//!   export or dirty check, `gpg.program` for `%G` placeholders), the fetch is refused with a
//!   one-line error naming the program's key and the file ([`ConfiguredPrograms`]).
//! - Cache repositories ignore their own configuration altogether (`remote/cache_dir.rs`).
//!
//! ### Deviation
//! Nix 2.8 runs all of these through its git commands (Nix >= 2.20 runs none, libgit2 has no
//! way to); fetchgit-date runs none in either generation.

use std::path::Path;
use std::process::{Command, Stdio};

use gix::bstr::{BString, ByteSlice};

/// Directory that never exists: `HOME`, `XDG_CONFIG_HOME` and `core.hooksPath` of git processes.
const NOWHERE: &str = "/nonexistent/fetchgit-date";

/// Every directory is safe for the git processes run here: see [`isolated_git`].
const SAFE_DIRECTORY: (&str, &str) = ("safe.directory", "*");

/// Configuration sections whose keys name programs gix could run for a local repository or a
/// cache repository (filters, diff drivers, credential helpers, ssh, fsmonitor hooks).
const PROGRAM_SECTIONS: &[&str] = &["filter", "diff", "credential", "merge"];

/// Keys outside those sections that name a program.
const PROGRAM_KEYS: &[(&str, &str)] =
    &[("core", "fsmonitor"), ("core", "sshcommand"), ("core", "askpass"), ("core", "hookspath"), ("core", "gitproxy"), ("core", "alternaterefscommand")];

/// `repo` as gix may use it: the same repository with every configuration section or key that
/// names a program removed (see the module documentation). Values that feed a hash
/// (`core.autocrlf`, `core.eol`, ...) stay.
pub fn without_programs(repo: &gix::Repository) -> gix::Repository {
    let mut repo = repo.clone();
    {
        let mut config = repo.config_snapshot_mut();
        let ids: Vec<_> = config
            .sections_and_ids()
            .filter(|(section, _)| {
                let name = section.header().name().to_ascii_lowercase();
                PROGRAM_SECTIONS.iter().any(|s| name == s.as_bytes())
            })
            .map(|(_, id)| id)
            .collect();
        for id in ids {
            config.remove_section_by_id(id);
        }
        let ids: Vec<_> = config.sections_and_ids().map(|(_, id)| id).collect();
        for id in ids {
            let Some(mut section) = config.section_mut_by_id(id) else { continue };
            let name = section.header().name().to_ascii_lowercase();
            for (section_name, key) in PROGRAM_KEYS {
                if name == section_name.as_bytes() {
                    while section.remove(key).is_some() {}
                }
            }
        }
        // Only in-memory values changed; nothing can fail to apply.
        let _ = config.commit();
    }
    repo
}

/// The filter drivers and signature programs a repository's configuration (as git reads it,
/// includes followed) sets, found without running any of them.
#[derive(Debug, Default, Clone)]
pub struct ConfiguredPrograms {
    /// Every `filter.<name>` subsection name, with the first of its keys `clean`, `smudge`,
    /// `process` that is set to a non-empty command, if any.
    pub filters: Vec<(BString, Vec<(String, BString)>)>,
    /// `gpg.program`, `gpg.<format>.program` when set.
    pub gpg: Vec<String>,
}

impl ConfiguredPrograms {
    /// Reads the configuration git sees in `dir` (`git config --get-regexp`, which reads and
    /// follows includes but runs nothing).
    pub fn of(dir: &Path) -> Result<ConfiguredPrograms, String> {
        let output = isolated_git()
            .arg("-C")
            .arg(dir)
            .args(["config", "-z", "--get-regexp", r"^(filter|gpg)\."])
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|err| format!("cannot run git: {err}"))?;
        // Exit code 1: no such key.
        if !(output.status.success() || output.status.code() == Some(1)) {
            let stderr = String::from_utf8_lossy(&output.stderr).trim().replace('\n', "; ");
            return Err(format!("git config failed ({}): {stderr}", output.status));
        }
        let mut programs = ConfiguredPrograms::default();
        for record in output.stdout.split(|&b| b == 0).filter(|r| !r.is_empty()) {
            let (name, value) = match record.find_byte(b'\n') {
                Some(nl) => (&record[..nl], &record[nl + 1..]),
                None => (record, &b""[..]),
            };
            let Some(dot) = name.rfind_byte(b'.') else { continue };
            let (head, key) = (&name[..dot], name[dot + 1..].to_ascii_lowercase());
            if let Some(subsection) = head.strip_prefix(b"filter.") {
                let entry = match programs.filters.iter_mut().find(|(n, _)| n.as_slice() == subsection) {
                    Some(entry) => entry,
                    None => {
                        programs.filters.push((subsection.into(), Vec::new()));
                        programs.filters.last_mut().expect("just pushed")
                    }
                };
                if matches!(key.as_slice(), b"clean" | b"smudge" | b"process") {
                    // The last value wins, as in git.
                    let key = String::from_utf8_lossy(&key).into_owned();
                    entry.1.retain(|(k, _)| *k != key);
                    if !value.is_empty() {
                        entry.1.push((key, value.into()));
                    }
                }
            } else if key == b"program" && !value.is_empty() {
                programs.gpg.push(name.to_str_lossy().into_owned());
            }
        }
        Ok(programs)
    }

    /// The key naming the program git would run for a file whose `filter` attribute is
    /// `driver`, for the first of `keys` git would use (`process` takes precedence).
    pub fn filter_program(&self, driver: &[u8], keys: &[&str]) -> Option<String> {
        let (name, set) = self.filters.iter().find(|(name, _)| name.as_slice() == driver)?;
        ["process"].iter().chain(keys).find_map(|key| set.iter().any(|(k, _)| k.as_str() == *key).then(|| format!("filter.{name}.{key}")))
    }

    /// Whether some filter driver has a `clean` or `process` command.
    pub fn has_clean_filters(&self) -> bool {
        self.filters.iter().any(|(_, set)| set.iter().any(|(k, _)| k == "clean" || k == "process"))
    }

    fn merge(&mut self, other: ConfiguredPrograms) {
        for (name, set) in other.filters {
            if !self.filters.iter().any(|(n, _)| *n == name) {
                self.filters.push((name, set));
            }
        }
        self.gpg.extend(other.gpg);
    }
}

/// `git` with nothing from the caller's environment: no `GIT_*` variable, no user or system
/// configuration or attributes (`HOME` and `XDG_CONFIG_HOME` name a directory that does not
/// exist), the C locale, no prompts; and none of the overrides of [`SafeGit`] (for `git config`
/// itself, which runs nothing).
fn isolated_git() -> Command {
    let mut cmd = Command::new("git");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GIT_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("HOME", NOWHERE)
        .env("XDG_CONFIG_HOME", NOWHERE)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_ATTR_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_NO_LAZY_FETCH", "1")
        .env("LC_ALL", "C")
        // Ownership is checked before any git runs (`ownership.rs`, with the user's
        // `safe.directory` as git reads it), and git here cannot see the user's configuration.
        .env("GIT_CONFIG_COUNT", "1")
        .env("GIT_CONFIG_KEY_0", SAFE_DIRECTORY.0)
        .env("GIT_CONFIG_VALUE_0", SAFE_DIRECTORY.1);
    cmd.arg("--no-pager");
    cmd
}

/// git processes for the repository at `dir` (its work tree, or a view of a bare repository)
/// that run nothing configured: [`isolated_git`] plus the overrides of the module
/// documentation, the filter drivers of `dir` and of every checked-out submodule below it
/// emptied.
pub struct SafeGit {
    dir: std::path::PathBuf,
    overrides: Vec<(String, String)>,
    /// The programs the configuration of `dir` and its submodules sets, for callers that must
    /// refuse.
    pub programs: ConfiguredPrograms,
}

impl SafeGit {
    /// Reads which programs `dir` configures (without running them) and prepares the overrides.
    pub fn new(dir: &Path) -> Result<SafeGit, String> {
        let mut programs = ConfiguredPrograms::of(dir)?;
        for submodule in checked_out_submodules(dir) {
            // git would refuse to enter a submodule another user owns (the superproject was
            // checked before it was opened).
            crate::ownership::check(&submodule, crate::nix_version::Generation::Legacy).map_err(|err| err.to_string())?;
            programs.merge(ConfiguredPrograms::of(&submodule)?);
        }
        let mut overrides: Vec<(String, String)> = [
            (SAFE_DIRECTORY.0, SAFE_DIRECTORY.1.to_owned()),
            ("core.fsmonitor", "false".to_owned()),
            ("core.hooksPath", format!("{NOWHERE}/hooks")),
            ("protocol.allow", "never".to_owned()),
            ("credential.helper", String::new()),
            ("core.sshCommand", "false".to_owned()),
            ("core.askPass", "false".to_owned()),
            ("gc.auto", "0".to_owned()),
            ("maintenance.auto", "false".to_owned()),
            // git's defaults: `%G?` may run the system's gpg, never the repository's program.
            ("gpg.program", "gpg".to_owned()),
            ("gpg.openpgp.program", "gpg".to_owned()),
            ("gpg.x509.program", "gpgsm".to_owned()),
            ("gpg.ssh.program", "ssh-keygen".to_owned()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect();
        for (name, _) in &programs.filters {
            let name = name.to_str_lossy();
            for key in ["clean", "smudge", "process"] {
                overrides.push((format!("filter.{name}.{key}"), String::new()));
            }
        }
        Ok(SafeGit { dir: dir.to_owned(), overrides, programs })
    }

    /// `git -C <dir>` with the overrides, stdin closed.
    pub fn command(&self) -> Command {
        self.command_in(&self.dir)
    }

    fn command_in(&self, dir: &Path) -> Command {
        let mut cmd = isolated_git();
        cmd.env("GIT_CONFIG_COUNT", self.overrides.len().to_string());
        for (i, (key, value)) in self.overrides.iter().enumerate() {
            cmd.env(format!("GIT_CONFIG_KEY_{i}"), key).env(format!("GIT_CONFIG_VALUE_{i}"), value);
        }
        cmd.arg("-C").arg(dir).stdin(Stdio::null());
        cmd
    }

    /// The tracked paths (of the index, submodules not entered) whose `filter` attribute names a
    /// driver with a `clean` or `process` command, with that command's key: what `git diff`
    /// would run to compare them with the index; with `submodules`, those of the checked-out
    /// submodules too (whose `git status` `git diff` runs), named by their path from `dir`.
    pub fn clean_filtered_paths(&self, submodules: bool) -> Result<Vec<(BString, String)>, String> {
        if !self.programs.has_clean_filters() {
            return Ok(Vec::new());
        }
        let mut found = Vec::new();
        let mut dirs = vec![self.dir.clone()];
        if submodules {
            dirs.extend(checked_out_submodules(&self.dir));
        }
        for dir in dirs {
            let prefix = dir.strip_prefix(&self.dir).unwrap_or(&dir).to_owned();
            for (path, key) in self.clean_filtered_in(&dir)? {
                let mut full = BString::from(prefix.as_os_str().as_encoded_bytes());
                if !full.is_empty() {
                    full.push(b'/');
                }
                full.extend_from_slice(&path);
                found.push((full, key));
            }
        }
        Ok(found)
    }

    fn clean_filtered_in(&self, dir: &Path) -> Result<Vec<(BString, String)>, String> {
        let run = |args: &[&str], input: Option<Vec<u8>>| -> Result<Vec<u8>, String> {
            let mut cmd = self.command_in(dir);
            cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
            if input.is_some() {
                cmd.stdin(Stdio::piped());
            }
            let mut child = cmd.spawn().map_err(|err| format!("cannot run git: {err}"))?;
            if let Some(input) = input {
                let mut stdin = child.stdin.take().expect("stdin is piped");
                // A thread writes, so that git's output cannot fill its pipe while we write.
                std::thread::spawn(move || {
                    use std::io::Write;
                    let _ = stdin.write_all(&input);
                });
            }
            let output = child.wait_with_output().map_err(|err| format!("cannot run git: {err}"))?;
            if !output.status.success() {
                let stderr = String::from_utf8_lossy(&output.stderr).trim().replace('\n', "; ");
                return Err(format!("git {} failed ({}): {stderr}", args[0], output.status));
            }
            Ok(output.stdout)
        };
        let listed = run(&["ls-files", "-z"], None)?;
        let attrs = run(&["check-attr", "-z", "--stdin", "filter"], Some(listed))?;
        let mut found = Vec::new();
        let mut fields = attrs.split(|&b| b == 0);
        while let (Some(path), Some(_), Some(value)) = (fields.next(), fields.next(), fields.next()) {
            if let Some(key) = self.programs.filter_program(value, &["clean"]) {
                found.push((BString::from(path), key));
            }
        }
        Ok(found)
    }
}

/// The work trees of the submodules checked out below the work tree `dir`, nested ones too
/// (those git starts processes in), as gitlinks of the index whose directory has a `.git`.
fn checked_out_submodules(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![(dir.to_owned(), 0)];
    while let Some((dir, depth)) = pending.pop() {
        if depth >= crate::repo_files::MAX_SUBMODULE_DEPTH || !dir.join(".git").exists() {
            continue;
        }
        let Ok(repo) = crate::resolve::open(&dir) else { continue };
        let Ok(index) = repo.index_or_empty() else { continue };
        for entry in index.entries().iter().filter(|e| e.mode == gix::index::entry::Mode::COMMIT) {
            let path = dir.join(crate::repo_files::native_path(entry.path(&index)));
            if path.join(".git").exists() {
                found.push(path.clone());
                pending.push((path, depth + 1));
            }
        }
    }
    found
}

/// Why a fetch is refused: a program the repository configures would decide the hash.
pub fn refusal(key: &str, path: &[u8], what: &str) -> String {
    format!(
        "refusing to run '{key}', which the repository's configuration sets, for '{}': {what}; fetchgit-date never runs a program a repository configures (remove the setting, or fetch with ref/rev from a clone without it)",
        path.as_bstr()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_with_config(name: &str, config: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("fetchgit-date-no-exec-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let status = isolated_git().args(["init", "-q"]).arg(&dir).status().expect("git init");
        assert!(status.success(), "git init");
        let path = dir.join(".git/config");
        let mut text = std::fs::read_to_string(&path).expect("config");
        text.push_str(config);
        std::fs::write(&path, text).expect("write config");
        dir
    }

    #[test]
    fn programs_are_found_as_git_reads_them_includes_too() {
        let dir = repo_with_config("found", "[include]\n\tpath = extra\n[filter \"a.b=c\"]\n\tsmudge = x\n\tclean = \n[gpg]\n\tprogram = g\n");
        std::fs::write(dir.join(".git/extra"), "[filter \"inc\"]\n\tprocess = p\n").expect("write include");
        let programs = ConfiguredPrograms::of(&dir).expect("git config");
        assert_eq!(programs.filter_program(b"a.b=c", &["smudge"]).as_deref(), Some("filter.a.b=c.smudge"), "a name with '.' and '='");
        assert_eq!(programs.filter_program(b"a.b=c", &["clean"]), None, "an empty command runs nothing");
        assert_eq!(programs.filter_program(b"inc", &["clean"]).as_deref(), Some("filter.inc.process"), "included files count");
        assert!(programs.has_clean_filters());
        assert_eq!(programs.gpg, vec!["gpg.program".to_owned()]);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn gix_sees_no_program_keys() {
        let dir =
            repo_with_config("gix", "[filter \"x\"]\n\tclean = c\n[core]\n\tfsmonitor = f\n\tautocrlf = true\n\tsshCommand = s\n[credential]\n\thelper = h\n");
        let repo = crate::resolve::open(&dir).expect("open");
        let stripped = without_programs(&repo);
        let config = stripped.config_snapshot();
        for key in ["filter.x.clean", "core.fsmonitor", "core.sshCommand", "credential.helper"] {
            assert_eq!(config.string(key), None, "{key} is removed");
        }
        assert_eq!(config.boolean("core.autocrlf"), Some(true), "values that feed a hash stay");
        assert_eq!(repo.config_snapshot().string("filter.x.clean").map(|v| v.to_string()).as_deref(), Some("c"), "the original is unchanged");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
