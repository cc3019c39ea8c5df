//! `submodules = true`: which submodules a commit has, where their repositories are, and the
//! [`export::Submodules`] hook that opens them for the export. The two generations differ
//! (docs/design.md, "Submodules"):
//!
//! - **Legacy** (Nix <= 2.19, Lix): Nix 2.8 checks the commit out in a fresh clone, adds the
//!   input's URL as `origin` and runs `git submodule update --init --recursive`
//!   (src/libfetchers/git.cc). git goes over the gitlinks and finds each one's `.gitmodules`
//!   entry by path (the last one wins); a gitlink without one is fatal ("No url found for
//!   submodule path"); `update = none` leaves an empty directory; relative URLs are resolved
//!   against `origin` by git's `relative_url` (remote.c).
//! - **Modern** (Nix >= 2.20): `GitRepoImpl::getSubmodules` reads `path`, `url` and `branch` of
//!   each `.gitmodules` entry (the first value of a key wins), keeps the entries whose path is a
//!   gitlink (the others are ignored from 2.24.7/2.25.0 on), and fetches each one as its own
//!   input (`allRefs`, `rev` = the gitlink, `submodules = true`); a gitlink without an entry
//!   stays an empty directory. Relative URLs are resolved by libgit2's
//!   `git_submodule_resolve_url` against the superproject's URL.
//!
//! Nix 2.14 to 2.19 and Lix also let a local work tree's own configuration decide (see
//! [`RepoConfig`]); work trees read from disk are [`crate::dirty`]'s.
//!
//! Either way the submodules are taken at the commits the exported (truncated) superproject
//! commit records, and each submodule repository goes through the same per-URL cache as any
//! remote ([`crate::remote`]); local paths and `file://` URLs are read in place.

use std::path::PathBuf;

use gix::bstr::{BStr, BString, ByteSlice};
use gix::ObjectId;

use crate::export::{self, Submodule};
use crate::nix_version::Generation;
use crate::remote::{Depth, RemoteOptions, Want};
use crate::url::{self, Location};

use crate::repo_files::MAX_SUBMODULE_DEPTH as MAX_DEPTH;

/// More submodules than this in one export are refused: a tree whose gitlinks point at commits
/// of the same repository that do the same again grows exponentially with the depth.
const MAX_SUBMODULES: usize = 10_000;

/// One `submodule.<name>` section of a `.gitmodules` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The submodule's name (the subsection).
    pub name: BString,
    /// Where its gitlink is, as written.
    pub path: BString,
    /// Where its repository is, as written (absolute, or relative to the superproject's).
    pub url: Option<BString>,
    /// `update`, as written.
    pub update: Option<BString>,
    /// `branch`, as written (Nix >= 2.20 fetches the submodule with it as `ref`).
    pub branch: Option<BString>,
}

/// The `.gitmodules` file of a commit, read as the generation reads it.
#[derive(Debug, Clone, Default)]
pub struct Gitmodules {
    entries: Vec<Entry>,
}

impl Gitmodules {
    /// Parses `.gitmodules` content (git's configuration syntax). `generation` decides which of
    /// two values of one key counts: git takes the last, Nix's libgit2 reader the first.
    pub fn parse(bytes: &[u8], generation: Generation) -> Result<Gitmodules, String> {
        let meta = gix::config::file::Metadata::api();
        let file = gix::config::File::from_bytes_no_includes(bytes, meta, Default::default()).map_err(|err| format!("cannot parse .gitmodules: {err}"))?;
        let mut entries = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for section in file.sections_by_name("submodule").into_iter().flatten() {
            let Some(name) = section.header().subsection_name() else { continue };
            if !seen.insert(name.to_owned()) {
                continue;
            }
            let values = |key: &str| -> Option<BString> {
                let all = file.strings_by("submodule", Some(name), key)?;
                let value = match generation {
                    Generation::Legacy => all.last(),
                    Generation::Modern => all.first(),
                };
                value.cloned()
            };
            let Some(path) = values("path") else { continue };
            entries.push(Entry { name: name.to_owned(), path, url: values("url"), update: values("update"), branch: values("branch") });
        }
        Ok(Gitmodules { entries })
    }

    /// The `.gitmodules` at the top of `commit`'s tree (none when absent, or not a file).
    pub fn of_commit(repo: &gix::Repository, commit: ObjectId, generation: Generation) -> Result<Gitmodules, String> {
        let unreadable = |err: &dyn std::fmt::Display| format!("cannot read .gitmodules of commit {commit}: {err}");
        let tree = repo.find_commit(commit).map_err(|e| unreadable(&e))?.tree().map_err(|e| unreadable(&e))?;
        let Some(entry) = tree.find_entry(".gitmodules") else { return Ok(Gitmodules::default()) };
        if !entry.mode().is_blob() {
            return Ok(Gitmodules::default());
        }
        let blob = repo.find_blob(entry.oid()).map_err(|e| unreadable(&e))?;
        Gitmodules::parse(&blob.data, generation)
    }

    /// The entries, in file order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry for the gitlink at `path`, as the generation matches them.
    fn for_path(&self, path: &BStr, generation: Generation) -> Option<&Entry> {
        match generation {
            // submodule_from_path(): the last section naming this path.
            Generation::Legacy => self.entries.iter().rev().find(|entry| entry.path == path && legacy_name_ok(&entry.name) && !entry.path.starts_with(b"-")),
            // getSubmodules() sorts by name and mounts each in turn: the last name wins.
            Generation::Modern => self.entries.iter().filter(|entry| canon_path(entry.path.as_ref()) == path).max_by(|a, b| a.name.cmp(&b.name)),
        }
    }
}

/// git's `check_submodule_name`: names with a `..` component are ignored ("ignoring
/// suspicious submodule name").
fn legacy_name_ok(name: &[u8]) -> bool {
    !name.is_empty() && !name.split(|&b| b == b'/' || b == b'\\').any(|part| part == b"..")
}

/// Nix's `CanonPath`: `.` and empty components dropped, `..` taken back, no slash at either end.
pub fn canon_path(path: &[u8]) -> BString {
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in path.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    parts.join(&b'/').into()
}

/// git's `relative_url(remote_url, url, NULL)` (remote.c, git 2.47), as `git submodule init`
/// applies it to a URL starting with `./` or `../`.
pub fn git_relative_url(remote_url: &str, url: &str) -> Result<String, String> {
    let local_not_ssh = |u: &str| match (u.find(':'), u.find('/')) {
        (None, _) => true,
        (Some(colon), Some(slash)) => slash < colon,
        (Some(_), None) => false,
    };
    if !local_not_ssh(url) || url.starts_with('/') {
        return Ok(url.to_owned());
    }
    if remote_url.is_empty() {
        return Err("the superproject's URL is empty".into());
    }
    let mut remote = remote_url.strip_suffix('/').unwrap_or(remote_url).to_owned();
    let is_relative = local_not_ssh(&remote) && !remote.starts_with('/');
    if is_relative && !remote.starts_with("./") && !remote.starts_with("../") {
        remote = format!("./{remote}");
    }
    let mut rest = url;
    let mut colon_separated = false;
    loop {
        if let Some(after) = rest.strip_prefix("../") {
            rest = after;
            // chop_last_dir()
            if let Some(slash) = remote.rfind('/') {
                remote.truncate(slash);
            } else if let Some(colon) = remote.rfind(':') {
                remote.truncate(colon);
                colon_separated = true;
            } else if is_relative || remote == "." {
                return Err(format!("cannot strip one component off url '{}'", url::redact(&remote)));
            } else {
                remote = ".".into();
            }
        } else if let Some(after) = rest.strip_prefix("./") {
            rest = after;
        } else {
            break;
        }
    }
    let mut resolved = format!("{remote}{}{rest}", if colon_separated { ":" } else { "/" });
    if rest.ends_with('/') {
        resolved.pop();
    }
    Ok(resolved.strip_prefix("./").map(str::to_owned).unwrap_or(resolved))
}

/// What opening submodules needs from the fetch that asked for them.
#[derive(Debug, Clone)]
pub struct Context {
    /// Which Nix's reading of `.gitmodules` and URLs to follow.
    pub generation: Generation,
    /// Where remote repositories are cached (`None`: no cache, so no remote submodules).
    pub cache_root: Option<PathBuf>,
    /// How remotes are fetched (timeouts, progress); every ref is fetched, with full history.
    pub remote: RemoteOptions,
    /// Modern with `lfs` (Nix >= 2.27 passes it on to submodules): the cache their Git LFS
    /// objects go to.
    pub lfs: Option<crate::cache::Cache>,
}

/// How many submodules one export has opened, shared by its nested hooks.
type Opened = std::sync::Arc<std::sync::atomic::AtomicUsize>;

/// A superproject whose submodules an export fetches: plain data, so that it can go to the
/// thread that writes a NAR.
#[derive(Debug, Clone)]
pub struct Superproject {
    /// How to open submodules.
    pub context: Context,
    /// The URL relative submodule URLs are resolved against (git's `origin`, libgit2's
    /// default remote); with [`Superproject::config`], its `remote.origin.url` instead.
    pub base: String,
    /// Legacy, Nix 2.14 to 2.19 and Lix, a local work tree: its git directory, whose `config`
    /// (and `modules/`) Nix copies into the clone it checks out (see [`RepoConfig`]).
    pub config: Option<PathBuf>,
}

impl Superproject {
    /// The hook for exporting `commit` of `repo`, this superproject's repository.
    pub fn opener(&self, repo: &gix::Repository, commit: ObjectId) -> Result<Opener, String> {
        let gitmodules = Gitmodules::of_commit(repo, commit, self.context.generation)?;
        let config = self.config.as_deref().map(RepoConfig::open).transpose()?;
        // Nix 2.14 to 2.19 and Lix: `origin` is whatever the work tree's configuration says.
        let base = match &config {
            Some(config) => config.origin(),
            None => Some(self.base.clone()),
        };
        Ok(Opener { context: self.context.clone(), base, gitmodules, config, depth: 0, opened: Opened::default() })
    }

    /// A fingerprint of the configuration files the export reads (for the NAR cache key).
    pub fn fingerprint(&self) -> String {
        let mut seen = Vec::new();
        seen.extend_from_slice(self.base.as_bytes());
        if let Some(git_dir) = &self.config {
            // The work tree's config and that of every git directory below its `modules/`, at
            // any depth: a submodule named `a/b` lives in `modules/a/b`, its own submodules in
            // `modules/a/b/modules/`. Object stores and the like hold no configuration.
            const NO_CONFIG: [&str; 6] = ["objects", "refs", "logs", "hooks", "info", "lfs"];
            let mut pending = vec![(git_dir.clone(), 0)];
            while let Some((dir, depth)) = pending.pop() {
                let config = dir.join("config");
                if config.is_file() {
                    seen.push(0);
                    seen.extend_from_slice(config.as_os_str().as_encoded_bytes());
                    seen.extend(crate::repo_files::read_regular(&config, crate::repo_files::METADATA_LIMIT).unwrap_or_default());
                }
                let below = if depth == 0 { dir.join("modules") } else { dir };
                if depth < 4 * MAX_DEPTH {
                    let mut children: Vec<PathBuf> = std::fs::read_dir(&below)
                        .into_iter()
                        .flatten()
                        .flatten()
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()) && !NO_CONFIG.iter().any(|skip| e.file_name() == *skip))
                        .map(|e| e.path())
                        .collect();
                    children.sort();
                    pending.extend(children.into_iter().map(|child| (child, depth + 1)));
                }
            }
        }
        nixstore::hash::sha256(&seen).to_hex()[..16].to_owned()
    }
}

/// The configuration of a git directory that Nix 2.14 to 2.19 and Lix let `git submodule
/// update` read: a work tree's own, copied into the clone, or that of a copied
/// `.git/modules/NAME`. It names `origin` (the base of relative URLs) and overrides a
/// submodule's `url`, `update` and `active`. A copied module's own also sets its checkout's
/// `core.autocrlf` and friends; the work tree's does not: Nix checks the top out before it
/// copies the configuration.
pub struct RepoConfig {
    git_dir: PathBuf,
    repo: gix::Repository,
}

impl RepoConfig {
    fn open(git_dir: &std::path::Path) -> Result<RepoConfig, String> {
        if !git_dir.is_dir() {
            return Err(format!(
                "Nix 2.14 to 2.19 and Lix copy {}/config into their clone, and fail when .git is no directory (a linked work tree, a submodule's checkout)",
                git_dir.display()
            ));
        }
        let repo = crate::resolve::open(git_dir).map_err(|err| crate::error_chain(&err))?;
        Ok(RepoConfig { git_dir: git_dir.to_owned(), repo })
    }

    fn value(&self, key: &str) -> Option<String> {
        self.repo.config_snapshot().string(key).map(|value| value.to_string())
    }

    fn origin(&self) -> Option<String> {
        self.value("remote.origin.url")
    }

    /// The git directory a submodule named `name` had, when Nix copies one.
    fn module(&self, name: &BStr) -> Option<PathBuf> {
        let dir = self.git_dir.join("modules").join(crate::repo_files::native_path(name));
        dir.join("HEAD").is_file().then_some(dir)
    }
}

/// The [`export::Submodules`] hook for one repository's commit: opens the repositories of its
/// gitlinks, as the generation finds them.
pub struct Opener {
    context: Context,
    /// The URL relative submodule URLs are resolved against.
    base: Option<String>,
    gitmodules: Gitmodules,
    /// Legacy: the configuration `git submodule update` reads here, beyond `.gitmodules`.
    config: Option<RepoConfig>,
    depth: usize,
    opened: Opened,
}

impl Opener {
    /// The URL of the submodule `entry`, resolved as the generation resolves it.
    fn resolve_url(&self, path: &BStr, entry: &Entry) -> Result<String, String> {
        let Some(url) = entry.url.as_ref().filter(|url| !url.is_empty()) else {
            return match self.context.generation {
                Generation::Legacy => {
                    Err(format!("No url found for submodule path '{path}' in .gitmodules (git submodule update fails on it, and so does Nix <= 2.19)"))
                }
                Generation::Modern => {
                    Err(format!("its .gitmodules entry '{}' has no url (Nix >= 2.20 fails too: \"resolving Git submodule URL ''\")", entry.name))
                }
            };
        };
        let url = url.to_str().map_err(|_| format!("its url '{}' is not UTF-8", url.to_str_lossy()))?;
        check_url(url)?;
        let relative = url.starts_with("./") || url.starts_with("../") || url.starts_with(".\\") || url.starts_with("..\\");
        if !relative {
            return absolute_url(url);
        }
        let Some(base) = self.base.as_deref() else {
            return Err(format!(
                "its url '{}' is relative, and the work tree's .git/config has no remote.origin.url: Nix 2.14 to 2.19 and Lix then resolve it against their temporary directory and fail; set an origin, or pass ref (a local ref) with --nix-version 2.8.0",
                url::redact(url)
            ));
        };
        let resolved = match self.context.generation {
            Generation::Legacy => git_relative_url(base, url)?,
            Generation::Modern => {
                let resolved = libgit2_relative_url(base, url)?;
                if resolved.starts_with("file://") && !resolved.starts_with("file:///") {
                    return Err(format!(
                        "Nix >= 2.22 resolves its url '{url}' against '{}' to '{}' (libgit2 drops a slash after file://) and then fails (\"unexpected authority\"); fetch the superproject from its work tree, or give the submodule an absolute URL",
                        url::redact(base),
                        url::redact(&resolved)
                    ));
                }
                resolved
            }
        };
        // A relative base (an `origin` of "../x") resolves against wherever git runs.
        absolute_url(&resolved)
    }

    /// The repository at `url`, which must hold `commit`.
    fn open_repository(&self, url: &str, commit: ObjectId) -> Result<gix::Repository, String> {
        let shown = url::redact(url);
        let path = match url::parse(url).map_err(|err| err.to_string())? {
            Location::Local(path) => path,
            Location::Remote(remote_url) => {
                let root = self.context.cache_root.as_ref().ok_or("no cache directory for its repository (set XDG_CACHE_HOME or HOME)")?;
                let options = RemoteOptions { all_refs: true, depth: Depth::Full, ..self.context.remote.clone() };
                let want = Want { full_ref: None, rev: Some(commit) };
                let updated = crate::remote::update(&remote_url, &want, &options, root).map_err(|err| match err {
                    crate::remote::RemoteError::RevNotFound { .. } => missing_commit(commit, &shown),
                    err => crate::error_chain(&err),
                })?;
                crate::remote::PartialCache::new(remote_url, updated.path.clone(), options).complete_tree(commit).map_err(|err| crate::error_chain(&err))?;
                updated.path
            }
        };
        let repo = crate::resolve::open(&path).map_err(|err| crate::error_chain(&err))?;
        if !has_commit(&repo, commit) {
            return Err(missing_commit(commit, &shown));
        }
        Ok(repo)
    }

    /// Legacy: whether `git submodule update --init` checks the submodule out, after the
    /// repository's configuration (which wins) and `.gitmodules`.
    fn legacy_checks_out(&self, entry: &Entry) -> Result<bool, String> {
        let name = &entry.name;
        if let Some(config) = &self.config {
            if config.value("submodule.active").is_some() {
                return Err("the work tree's .git/config sets submodule.active, whose pathspecs fetchgit-date does not evaluate".into());
            }
            if let Some(active) = config.value(&format!("submodule.{name}.active")) {
                if matches!(active.to_ascii_lowercase().as_str(), "false" | "no" | "off" | "0" | "") {
                    return Ok(false);
                }
            }
        }
        let configured = self.config.as_ref().and_then(|config| config.value(&format!("submodule.{name}.update")));
        let update = configured.clone().or_else(|| entry.update.as_ref().map(|u| u.to_string()));
        match update.as_deref() {
            None | Some("checkout" | "rebase" | "merge") => Ok(true),
            Some("none") => Ok(false),
            Some(command) if command.starts_with('!') && configured.is_some() => {
                Err(format!("submodule.{name}.update in .git/config runs a command ('{command}'), which fetchgit-date does not"))
            }
            Some(update) => Err(format!("invalid value for 'submodule.{name}.update': '{update}' (git refuses it, and so does Nix <= 2.19)")),
        }
    }
}

/// Refuses URLs git or ssh could take as options.
fn check_url(url: &str) -> Result<(), String> {
    if url.starts_with('-') {
        return Err(format!("refusing its url '{}': it starts with '-' and could be taken as an option (git ignores it too)", url::redact(url)));
    }
    Ok(())
}

/// `url` when it names a repository wherever git runs: absolute, or with a scheme or host.
fn absolute_url(url: &str) -> Result<String, String> {
    if url.starts_with('/') || url.contains(':') {
        return Ok(url.to_owned());
    }
    // git would clone a path relative to wherever it runs; libgit2 refuses it.
    Err(format!("its url '{}' is neither absolute nor relative to the superproject (./ or ../)", url::redact(url)))
}

fn missing_commit(commit: ObjectId, url: &str) -> String {
    format!("its commit {commit} is not in its repository '{url}' (was it pushed?)")
}

fn has_commit(repo: &gix::Repository, commit: ObjectId) -> bool {
    repo.find_header(commit).is_ok_and(|header| header.kind() == gix::object::Kind::Commit)
}

/// libgit2's `git_submodule_resolve_url` (libgit2 1.9, submodule.c) for a URL starting with
/// `./` or `../`: `git_fs_path_apply_relative`, i.e. the two joined by one `/`, then
/// `git_fs_path_resolve_relative`, ported byte for byte: a `scheme://` prefix is a ceiling that
/// `..` cannot cross, and the `/` right after it is lost (libgit2 turns `file:///a/b` and
/// `../c` into `file://a/c`, which Nix then cannot fetch).
pub fn libgit2_relative_url(base: &str, url: &str) -> Result<String, String> {
    let url = url.replace('\\', "/");
    // git_str_joinpath()
    let mut path: Vec<u8> = base.as_bytes().to_vec();
    if !path.is_empty() && !path.ends_with(b"/") {
        path.push(b'/');
    }
    path.extend_from_slice(url.trim_start_matches('/').as_bytes());
    // git_fs_path_root(): a drive prefix ("C:"), then a slash.
    let drive = if path.first().is_some_and(|b| b & 0x80 == 0) && path.get(1) == Some(&b':') { 2 } else { 0 };
    let mut ceiling = if matches!(path.get(drive), Some(b'/' | b'\\')) { drive + 1 } else { 0 };
    if ceiling == 0 {
        let letters = path.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        if path[letters..].starts_with(b"://") {
            ceiling = letters + 3;
        }
    }
    let mut out: Vec<u8> = path[..ceiling].to_vec();
    let mut base_len = out.len();
    let mut from = ceiling;
    while from < path.len() {
        let next = path[from..].iter().position(|&b| b == b'/').map_or(path.len(), |i| from + i);
        let mut len = next - from;
        let segment = &path[from..next];
        if segment == b"." {
        } else if segment == b".." {
            if out.len() == base_len && ceiling != 0 {
                return Err(format!("cannot resolve '{url}' against '{}': cannot strip root component off url", url::redact(base)));
            }
            if out.len() == base_len {
                if next < path.len() {
                    len += 1;
                }
                out.extend_from_slice(&path[from..from + len]);
                base_len = out.len();
            } else {
                while out.len() > base_len && out.last() == Some(&b'/') {
                    out.pop();
                }
                while out.len() > base_len && out.last() != Some(&b'/') {
                    out.pop();
                }
            }
        } else {
            if next < path.len() && path[from] != b'/' {
                len += 1;
            }
            out.extend_from_slice(&path[from..from + len]);
        }
        from += len;
        while path.get(from) == Some(&b'/') {
            from += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("'{url}' resolves to a URL that is not UTF-8"))
}

/// Nix's `fixGitURL` (src/libutil/url.cc, Nix 2.26): scp-style `user@host:path` (the regex
/// `([^/]*)@(.*):(.*)`) becomes `ssh://user@host/path`, a path `file://` + path.
pub fn fix_git_url(url: &str) -> String {
    if !url.starts_with('/') {
        // The longest `user` without '/' before an '@', then the last ':' after it.
        let scp = url.match_indices('@').rev().map(|(at, _)| at).find(|&at| !url[..at].contains('/') && url[at + 1..].contains(':'));
        if let Some(at) = scp {
            let (host, path) = url[at + 1..].rsplit_once(':').expect("checked above");
            return format!("ssh://{}@{host}/{path}", &url[..at]);
        }
    }
    if url.starts_with("file:") || url.contains("://") {
        return url.to_owned();
    }
    format!("file://{url}")
}

/// The URL libgit2 resolves a local work tree's relative submodule URLs against
/// (`get_url_base`): the remote of `HEAD`'s upstream branch, else `origin`, else the work tree.
/// The configuration is read as libgit2 reads it (includes followed, see `repo_config`); one it
/// cannot read gives no configured remote.
pub fn libgit2_url_base(repo: &gix::Repository) -> Option<String> {
    let config = crate::repo_config::RepoConfig::load(repo, crate::repo_config::Reader::Libgit2).unwrap_or_default();
    let branch = repo.head_name().ok().flatten().map(|head| head.shorten().to_string());
    let remote_name = branch
        .and_then(|branch| config.string("branch", Some(&branch), "remote").map(|name| name.to_string()))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "origin".to_owned());
    let configured = config.string("remote", Some(&remote_name), "url").map(|url| url.to_string());
    configured.or_else(|| repo.workdir().map(|dir| format!("{}/", dir.display())))
}

impl export::Submodules for Opener {
    fn open(&mut self, path: &BStr, commit: ObjectId) -> Result<Option<Submodule>, String> {
        let generation = self.context.generation;
        let Some(entry) = self.gitmodules.for_path(path, generation).cloned() else {
            return match generation {
                Generation::Legacy => {
                    Err(format!("No url found for submodule path '{path}' in .gitmodules (git submodule update fails on it, and so does Nix <= 2.19)"))
                }
                Generation::Modern => Ok(None),
            };
        };
        if generation == Generation::Legacy && !self.legacy_checks_out(&entry)? {
            return Ok(None);
        }
        if self.depth + 1 > MAX_DEPTH {
            return Err(format!("submodules are nested more than {MAX_DEPTH} deep"));
        }
        if self.opened.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= MAX_SUBMODULES {
            return Err(format!("the tree has more than {MAX_SUBMODULES} submodules, nested ones included"));
        }
        // Nix >= 2.20 fetches the submodule as an input whose `ref` is its branch, and refuses
        // a name that is no valid ref before fetching (`inputFromAttrs`); one starting with '-'
        // could be taken as an option, and Nix >= 2.31 (libgit2's name checks) refuses it.
        if generation == Generation::Modern {
            if let Some(branch) = entry.branch.as_ref().filter(|b| !b.is_empty() && b.as_slice() != b".") {
                let text = branch.to_str_lossy();
                if crate::resolve::nix_refuses_ref(&text) || text.starts_with('-') {
                    return Err(format!("its .gitmodules branch '{text}' is not a valid ref name: Nix >= 2.20 fails too (\"invalid Git branch/tag name '{text}'\"); fix the branch in .gitmodules"));
                }
            }
        }
        // `git submodule init` keeps a url the configuration already has.
        let configured_url = self.config.as_ref().and_then(|config| config.value(&format!("submodule.{}.url", entry.name)));
        let url = match configured_url {
            Some(url) => {
                check_url(&url)?;
                absolute_url(&url)?
            }
            None => self.resolve_url(path, &entry)?,
        };
        // A copied `.git/modules/NAME` is used as it is (fetched into only when it lacks the
        // commit), with its own configuration.
        let module = self.config.as_ref().and_then(|config| config.module(entry.name.as_ref())).map(|dir| RepoConfig::open(&dir)).transpose()?;
        let repo = match &module {
            Some(module) if has_commit(&module.repo, commit) => module.repo.clone(),
            Some(module) => self.open_repository(&module.origin().unwrap_or_else(|| url.clone()), commit)?,
            None => self.open_repository(&url, commit)?,
        };
        let gitmodules = Gitmodules::of_commit(&repo, commit, generation)?;
        let base = match generation {
            // `git clone URL` makes URL the clone's `origin`; a copied module has its own.
            Generation::Legacy => match &module {
                Some(module) => module.origin(),
                None => Some(url.clone()),
            },
            // The submodule is an input of its own: a work tree is read in place, with its own
            // remotes; anything else is cloned with its URL as `origin`.
            Generation::Modern => Some(match url::parse(&url) {
                Ok(Location::Local(path)) if path.join(".git").exists() => libgit2_url_base(&repo).unwrap_or_else(|| fix_git_url(&url)),
                _ => fix_git_url(&url),
            }),
        };
        let settings = module.as_ref().map(|module| export::legacy::Settings::of(&module.repo)).transpose()?;
        // Its LFS objects come from its own endpoint (lfs.url, .lfsconfig, or its URL).
        let smudge = self.context.lfs.as_ref().map(|cache| {
            let remote = matches!(url::parse(&url), Ok(Location::Remote(_))).then_some(url.as_str());
            Box::new(crate::lfs::LfsFetcher::new(crate::lfs::endpoint_source(&repo, commit, remote), cache)) as Box<dyn export::Smudge>
        });
        let nested = Opener { context: self.context.clone(), base, gitmodules, config: module, depth: self.depth + 1, opened: self.opened.clone() };
        Ok(Some(Submodule { repo, submodules: Box::new(nested), settings, smudge }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_relative_urls() {
        // Expected values: git 2.47's `relative_url`, as t/t0060-path-utils.sh lists them.
        let cases = [
            ("/super/repo", "../sub.git", "/super/sub.git"),
            ("/super/repo/", "../sub.git", "/super/sub.git"),
            ("/super/repo", "./sub", "/super/repo/sub"),
            ("/super/repo", "../../a/b", "/a/b"),
            ("file:///tmp/bare.git", "../sub.git", "file:///tmp/sub.git"),
            ("https://host/org/repo", "../other", "https://host/org/other"),
            ("git@host:repo", "../other", "git@host:other"),
            ("host:org/repo", "../../other", "host:other"),
            ("/super/repo", "../sub/", "/super/sub"),
        ];
        for (remote, url, expected) in cases {
            assert_eq!(git_relative_url(remote, url).as_deref(), Ok(expected), "{remote} + {url}");
        }
        assert!(git_relative_url("foo", "../../x").is_err());
    }

    #[test]
    fn libgit2_relative_urls() {
        let cases = [
            ("/super/repo", "../sub.git", "/super/sub.git"),
            ("/super/repo/", "../sub.git", "/super/sub.git"),
            ("/super/repo", "./sub", "/super/repo/sub"),
            // Measured with libgit2 1.5.1 (the same code as 1.9), including its lost slash.
            ("file:///tmp/p/root", "../sub.git", "file://tmp/p/sub.git"),
            ("https://github.com/owner/repo.git", "./sub", "https://github.com/owner/repo.git/sub"),
            ("https://github.com/owner/repo.git", "../../x/sub", "https://github.com/x/sub"),
            ("git@github.com:owner/repo.git", "../sub.git", "git@github.com:owner/sub.git"),
            ("git@github.com:owner/repo.git", "../../x/sub", "x/sub"),
            ("/tmp/lg/r2/", "../sub.git", "/tmp/lg/sub.git"),
            ("", "../sub.git", "../sub.git"),
            ("", "./sub", "sub"),
        ];
        for (base, url, expected) in cases {
            assert_eq!(libgit2_relative_url(base, url).as_deref(), Ok(expected), "{base} + {url}");
        }
        assert!(libgit2_relative_url("https://github.com/owner/repo.git", "../../../../../x").is_err());
    }

    #[test]
    fn the_fingerprint_sees_every_module_configuration_that_a_checkout_reads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let git_dir = dir.path().join(".git");
        // A submodule named `libs/a` (its git directory `modules/libs/a`), and one nested in it.
        let named = git_dir.join("modules/libs/a");
        let nested = named.join("modules/deep");
        std::fs::create_dir_all(nested.join("objects")).expect("mkdir");
        std::fs::write(git_dir.join("config"), "[core]\n").expect("write");
        let context = Context { generation: Generation::Legacy, cache_root: None, remote: RemoteOptions::default(), lfs: None };
        let superproject = Superproject { context, base: "/x".into(), config: Some(git_dir.clone()) };
        let mut seen = vec![superproject.fingerprint()];
        for config in [named.join("config"), nested.join("config"), git_dir.join("config")] {
            std::fs::write(&config, "[core]\n\tautocrlf = true\n").expect("write");
            let now = superproject.fingerprint();
            assert!(!seen.contains(&now), "{} changed, the fingerprint did not", config.display());
            seen.push(now);
        }
        // Object stores are not read.
        std::fs::write(nested.join("objects/config"), "x").expect("write");
        assert_eq!(superproject.fingerprint(), *seen.last().expect("one"));
    }

    #[test]
    fn fix_git_url_as_nix() {
        assert_eq!(fix_git_url("/abs/path"), "file:///abs/path");
        assert_eq!(fix_git_url("git@github.com:owner/repo.git"), "ssh://git@github.com/owner/repo.git");
        assert_eq!(fix_git_url("https://u@h/x:y"), "https://u@h/x:y");
        assert_eq!(fix_git_url("file:///x"), "file:///x");
    }

    #[test]
    fn gitmodules_duplicates_follow_the_generation() {
        let text = b"[submodule \"a\"]\n\tpath = x\n\turl = ../one\n\turl = ../two\n";
        let legacy = Gitmodules::parse(text, Generation::Legacy).expect("parses");
        let modern = Gitmodules::parse(text, Generation::Modern).expect("parses");
        assert_eq!(legacy.entries()[0].url, Some(BString::from("../two")));
        assert_eq!(modern.entries()[0].url, Some(BString::from("../one")));
    }

    #[test]
    fn suspicious_names_are_ignored_by_git() {
        assert!(!legacy_name_ok(b"../escape"));
        assert!(!legacy_name_ok(b"a/../b"));
        assert!(legacy_name_ok(b"a/b"));
        assert_eq!(canon_path(b"./a//b/"), "a/b");
    }
}
