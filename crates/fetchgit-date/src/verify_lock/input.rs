//! What `verify-lock` and `verify-list` check (a [`LockedInput`] from a [`Source`]) and what a
//! check says ([`ReleaseCheck`]): the types every checker shares.

use std::collections::BTreeMap;

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
    /// nixpkgs' `fetchgit` (a checkout without `.git`): see [`super::list`].
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
            _ => crate::url::redact(&self.git_url()),
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
    pub causes: Vec<super::cause::Cause>,
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
