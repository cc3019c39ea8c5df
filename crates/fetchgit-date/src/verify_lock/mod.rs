//! Does every locked source of a project still reproduce, release by release? For maintainers
//! before a Nix upgrade: each `git` input of a `flake.lock` ([`lock`]) or each nixpkgs
//! `fetchgit` / `fetchFromGitHub` call ([`list`]), and each forge tarball (`github`, `gitlab`,
//! `sourcehut`: [`forge`]), is fetched once and checked under every release asked for: the
//! `narHash` (and `lastModified`, `revCount`, and the `rev` a `ref` locks) that release computes,
//! compared with the locked one, with the cause named from the tree where they differ
//! ([`cause`]) and the value that release would lock instead.
//!
//! Inputs are checked in parallel, each repository fetched once ([`check_all`]). Nothing here runs Nix: what a release computes is fetchgit-date's
//! reproduction of it, tested against real Nix (tests/verify_lock.rs).

pub mod cause;
pub mod forge;
pub mod git;
pub mod list;
pub mod lock;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::Serialize;

use crate::cache::Cache;
use crate::nix_version::NixVersion;

/// Where a locked source comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A `git` input (`builtins.fetchGit` / `fetchTree { type = "git"; }`).
    Git {
        /// The URL as locked.
        url: String,
        /// The locked `ref`, if any.
        ref_name: Option<String>,
        /// `submodules = true`.
        submodules: bool,
        /// `shallow = true` (no `revCount`).
        shallow: bool,
        /// `lfs = true` (Nix >= 2.27).
        lfs: bool,
        /// `exportIgnore`, when the lock names it (a flake's git input defaults to false).
        export_ignore: Option<bool>,
    },
    /// A forge tarball (`github:`, `gitlab:`, `sourcehut:`).
    Forge {
        /// Which forge.
        forge: Forge,
        /// The owner (sourcehut: with its `~`).
        owner: String,
        /// The repository.
        repo: String,
        /// Another host than the forge's public one.
        host: Option<String>,
    },
    /// nixpkgs' `fetchgit` (a checkout without `.git`): see [`list`].
    NixpkgsFetchgit {
        /// The URL.
        url: String,
        /// `fetchSubmodules`.
        submodules: bool,
    },
}

/// A forge whose tarballs flakes fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Forge {
    /// `github:owner/repo`
    GitHub,
    /// `gitlab:owner/repo`
    GitLab,
    /// `sourcehut:~owner/repo`
    SourceHut,
}

impl Forge {
    /// The flake input type.
    pub fn as_str(self) -> &'static str {
        match self {
            Forge::GitHub => "github",
            Forge::GitLab => "gitlab",
            Forge::SourceHut => "sourcehut",
        }
    }

    /// The forge's public host.
    pub fn default_host(self) -> &'static str {
        match self {
            Forge::GitHub => "github.com",
            Forge::GitLab => "gitlab.com",
            Forge::SourceHut => "git.sr.ht",
        }
    }
}

/// One locked source and what its lock says.
#[derive(Debug, Clone)]
pub struct LockedInput {
    /// Its name: the lock's node name, or `#N` for the N-th entry of a list.
    pub name: String,
    /// Where it comes from.
    pub source: Source,
    /// The locked `rev` (40 hex digits; an annotated tag's object for releases that did not peel).
    pub rev: String,
    /// The locked `narHash` (SRI or any form [`nixstore::hash::NixHash::parse`] reads).
    pub nar_hash: String,
    /// The locked `lastModified`, if any.
    pub last_modified: Option<i64>,
    /// The locked `revCount`, if any.
    pub rev_count: Option<u64>,
    /// The `ref` the lock was made from (`original.ref`, when `original` has no `rev`): whether a
    /// release locks an annotated tag's object or its commit is judged from it.
    pub original_ref: Option<String>,
}

impl Source {
    /// The git URL the source is fetched from (a forge's public git URL).
    pub fn git_url(&self) -> String {
        match self {
            Source::Git { url, .. } | Source::NixpkgsFetchgit { url, .. } => url.clone(),
            Source::Forge { forge, owner, repo, host } => {
                let host = host.as_deref().unwrap_or(forge.default_host());
                format!("https://{host}/{owner}/{repo}")
            }
        }
    }

    /// The flake-style name of a forge source (`github:owner/repo`), else the URL.
    pub fn shown(&self) -> String {
        match self {
            Source::Forge { forge, owner, repo, .. } => format!("{}:{owner}/{repo}", forge.as_str()),
            _ => crate::location::redact(&self.git_url()),
        }
    }

    /// The input type as the lock names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Git { .. } => "git",
            Source::Forge { forge, .. } => forge.as_str(),
            Source::NixpkgsFetchgit { .. } => "fetchgit",
        }
    }
}

/// Whether a locked value is what a release computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Every locked value is what the release computes.
    Reproduces,
    /// Some locked value is not: see the mismatches and causes.
    Differs,
    /// The release cannot fetch the input at all (e.g. `lfs` before 2.27).
    Unsupported,
    /// fetchgit-date does not reproduce this release for this input, so it says nothing.
    NotReproduced,
    /// Checking failed (the repository or commit is missing, ...).
    Error,
}

/// What one release computes for one input, and how it compares with the lock.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseCheck {
    /// The input's name.
    pub input: String,
    /// Its type (`git`, `github`, ..., `fetchgit`).
    pub r#type: &'static str,
    /// Its URL (credentials redacted) or `forge:owner/repo`.
    pub source: String,
    /// The release.
    pub release: String,
    /// The verdict.
    pub status: Status,
    /// The attributes that differ: `narHash`, `rev`, `lastModified`, `revCount`.
    pub mismatches: Vec<&'static str>,
    /// What the lock says.
    pub locked: Attrs,
    /// What the release computes, as far as known: what it would lock instead.
    pub computed: Attrs,
    /// Why the values differ, named from the tree.
    pub causes: Vec<cause::Cause>,
    /// Why the release was not or could not be checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The attributes compared.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attrs {
    /// `narHash` (SRI).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nar_hash: Option<String>,
    /// `rev`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rev: Option<String>,
    /// `lastModified`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<i64>,
    /// `revCount`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rev_count: Option<u64>,
}

impl LockedInput {
    /// The locked attributes, `narHash` as SRI when it parses.
    pub fn locked_attrs(&self) -> Attrs {
        let nar_hash = nixstore::hash::NixHash::parse(&self.nar_hash).map(|h| h.to_sri()).unwrap_or_else(|_| self.nar_hash.clone());
        Attrs { nar_hash: Some(nar_hash), rev: Some(self.rev.clone()), last_modified: self.last_modified, rev_count: self.rev_count }
    }

    /// A check with no computed values: `status` for `reason`.
    pub fn unchecked(&self, release: &NixVersion, status: Status, reason: String) -> ReleaseCheck {
        ReleaseCheck {
            input: self.name.clone(),
            r#type: self.source.kind(),
            source: self.source.shown(),
            release: release.to_string(),
            status,
            mismatches: Vec::new(),
            locked: self.locked_attrs(),
            computed: Attrs::default(),
            causes: Vec::new(),
            reason: Some(reason),
        }
    }
}

/// How to check: where repositories are, and how they are fetched.
#[derive(Debug, Clone)]
pub struct Options {
    /// URL (as locked, or `github:owner/repo`) -> local repository to read instead.
    pub mirrors: BTreeMap<String, String>,
    /// How remotes are fetched into the cache.
    pub remote: crate::remote::RemoteOptions,
    /// The cache.
    pub cache: Cache,
    /// Worker threads (at least 1).
    pub jobs: usize,
}

impl Options {
    /// Where to fetch `source` from: its mirror, else its git URL.
    pub fn location(&self, source: &Source) -> String {
        let url = source.git_url();
        let keys = [url.clone(), source.shown(), format!("{url}.git")];
        keys.iter().find_map(|key| self.mirrors.get(key)).cloned().unwrap_or(url)
    }
}

/// Checks every input under every release, on up to `options.jobs` threads: first one input of
/// each repository (each repository fetched once, in parallel), then all the others, which find
/// the repository in the cache (a cache repository is locked while it is updated, so two threads
/// never fetch into it at once). `progress` is called after each input with (inputs done,
/// inputs in all, the input's name). The result is in input order, releases in the order given.
pub fn check_all(inputs: &[LockedInput], releases: &[NixVersion], options: &Options, progress: &(dyn Fn(usize, usize, &str) + Sync)) -> Vec<Vec<ReleaseCheck>> {
    let locations: Vec<String> = inputs.iter().map(|input| options.location(&input.source)).collect();
    let mut seen = std::collections::BTreeSet::new();
    let (first, rest): (Vec<usize>, Vec<usize>) = (0..inputs.len()).partition(|&index| seen.insert(locations[index].as_str()));
    let results: Vec<Mutex<Vec<ReleaseCheck>>> = inputs.iter().map(|_| Mutex::new(Vec::new())).collect();
    let done = AtomicUsize::new(0);
    for phase in [first, rest] {
        let next = AtomicUsize::new(0);
        let workers = options.jobs.clamp(1, phase.len().max(1));
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    while let Some(&index) = phase.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let (input, location) = (&inputs[index], locations[index].as_str());
                        let checks = match &input.source {
                            Source::Git { .. } => git::check(input, location, releases, options),
                            Source::Forge { .. } => forge::check(input, location, releases, options),
                            Source::NixpkgsFetchgit { .. } => list::check_fetchgit(input, location, releases, options),
                        };
                        *results[index].lock().expect("no worker panics while holding a result") = checks;
                        progress(done.fetch_add(1, Ordering::Relaxed) + 1, inputs.len(), &input.name);
                    }
                });
            }
        });
    }
    results.into_iter().map(|slot| slot.into_inner().expect("no worker panicked")).collect()
}

/// The exit status `verify-lock` and `verify-list` give: 0 when every check reproduces, 2 when
/// one failed with an error, else 1 (something does not reproduce, or was not reproduced).
pub fn exit_code(checks: &[Vec<ReleaseCheck>]) -> u8 {
    let all = checks.iter().flatten();
    if all.clone().any(|check| check.status == Status::Error) {
        2
    } else if all.clone().all(|check| check.status == Status::Reproduces) {
        0
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::Generation;

    /// The default releases bound each generation, from the table, and include Lix.
    #[test]
    fn default_releases_bound_each_generation() {
        let bounds = NixVersion::generation_bounds();
        let generations: Vec<(Generation, bool)> = bounds.iter().map(|v| (v.generation(), v.is_lix())).collect();
        assert_eq!(generations, [(Generation::Legacy, false), (Generation::Legacy, false), (Generation::Modern, false), (Generation::Modern, false), (Generation::Legacy, true)]);
        assert!(bounds[0].numbers() < bounds[1].numbers() && bounds[2].numbers() < bounds[3].numbers());
        assert!(bounds[2].has(crate::nix_version::Change::Libgit2) && !bounds[1].has(crate::nix_version::Change::Libgit2));
    }

    #[test]
    fn exit_codes_follow_the_worst_check() {
        let input = LockedInput { name: "a".into(), source: Source::NixpkgsFetchgit { url: "/r".into(), submodules: false }, rev: "0".repeat(40), nar_hash: "x".into(), last_modified: None, rev_count: None, original_ref: None };
        let release = NixVersion::default_release();
        let check = |status| {
            let mut c = input.unchecked(&release, status, String::new());
            c.reason = None;
            c
        };
        assert_eq!(exit_code(&[vec![check(Status::Reproduces)]]), 0);
        assert_eq!(exit_code(&[vec![check(Status::Reproduces), check(Status::Differs)]]), 1);
        assert_eq!(exit_code(&[vec![check(Status::NotReproduced)]]), 1);
        assert_eq!(exit_code(&[vec![check(Status::Differs)], vec![check(Status::Error)]]), 2);
        assert_eq!(exit_code(&[]), 0);
    }
}
