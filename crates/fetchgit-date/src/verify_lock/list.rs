//! nixpkgs' fetcher calls, as `verify-list FILE.json` reads them: `[{"fetcher": "fetchgit" |
//! "fetchFromGitHub", "url" | "owner" + "repo", "rev", "hash", "fetchSubmodules"?,
//! "leaveDotGit"?, "deepClone"?, "forceFetchGit"?, "githubBase"?}]`, with the semantics of
//! nixpkgs' `pkgs/build-support` (read at NixOS/nixpkgs 00ed9cc3bd `fetchgit/nix-prefetch-git`,
//! dd264228ff `fetchgit/default.nix`, 3dc4f60b22 `fetchgithub/default.nix`, 0438604989
//! `fetchzip/default.nix`):
//!
//! - `fetchgit` clones, checks the rev out (`git checkout`: eol and filter attributes apply,
//!   export-ignore and export-subst do not), with `fetchSubmodules` (default **true**) runs `git
//!   submodule update --init --recursive`, then removes every `.git`: the legacy checkout export
//!   (`submodules = true` of Nix <= 2.19). `leaveDotGit` and `deepClone` keep a `.git` whose
//!   bytes git's repack decides: refused, not reproducible.
//! - `fetchFromGitHub` is `fetchzip` of `https://github.com/OWNER/REPO/archive/REV.tar.gz` (the
//!   forge tarball, [`super::forge`]), or `fetchgit` of `https://github.com/OWNER/REPO.git` when
//!   `fetchSubmodules` (default false), `forceFetchGit`, `leaveDotGit` or `deepClone` is set.
//!
//! A fixed-output derivation does not depend on the Nix release: every release gets one result.

use std::path::Path;

use gix::ObjectId;
use nixstore::hash::NixHash;
use serde_json::Value;

use super::cause::{self, Cause, CauseKind};
use super::forge::TARBALL_EXPORT;
use super::git::Failure;
use super::input::{Attrs, Forge, LockedInput, Options, ReleaseCheck, Source, Status};
use crate::error_chain;
use crate::export::ExportOptions;
use crate::fetch::{Fetcher, Selector};
use crate::nix_version::Generation;
use crate::nix_version::{NixVersion, OLDEST_NIX_VERSION};

/// What nixpkgs' fetchgit leaves: a checkout (conversions, no export-ignore or export-subst)
/// with its submodules, without `.git`.
pub const CHECKOUT_EXPORT: ExportOptions = ExportOptions { generation: Generation::Legacy, export_ignore: false, lfs: false, submodules: true };

/// Why a list cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// The file cannot be read.
    #[error("cannot read '{path}': {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// It is not a JSON list.
    #[error("'{path}' is not a JSON list of fetcher calls: {reason}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// An entry is wrong.
    #[error("'{path}': entry {index}: {reason}")]
    Entry {
        /// The file.
        path: String,
        /// The entry's index, from 0.
        index: usize,
        /// What is wrong and what to do.
        reason: String,
    },
}

/// Reads a list of fetcher calls.
pub fn read(path: &Path) -> Result<Vec<LockedInput>, ListError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|err| ListError::Read { path: shown.clone(), reason: err.to_string() })?;
    parse(&text, &shown)
}

/// Parses the text of a list; `shown` names it in errors.
pub fn parse(text: &str, shown: &str) -> Result<Vec<LockedInput>, ListError> {
    let json: Value = serde_json::from_str(text).map_err(|err| ListError::Format { path: shown.to_owned(), reason: err.to_string() })?;
    let entries = json.as_array().ok_or_else(|| ListError::Format { path: shown.to_owned(), reason: "not a list".into() })?;
    entries.iter().enumerate().map(|(index, entry)| call(index, entry).map_err(|reason| ListError::Entry { path: shown.to_owned(), index, reason })).collect()
}

const KNOWN: [&str; 12] =
    ["fetcher", "url", "owner", "repo", "rev", "hash", "fetchSubmodules", "leaveDotGit", "deepClone", "forceFetchGit", "githubBase", "name"];

fn call(index: usize, entry: &Value) -> Result<LockedInput, String> {
    let object = entry.as_object().ok_or("not an object")?;
    if let Some(unknown) = object.keys().find(|key| !KNOWN.contains(&key.as_str())) {
        return Err(format!("unknown attribute '{unknown}' (known: {})", KNOWN.join(", ")));
    }
    let string = |name: &str| -> Result<Option<String>, String> {
        match object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(format!("'{name}' is not a string")),
        }
    };
    let boolean = |name: &str| -> Result<Option<bool>, String> {
        match object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(value)) => Ok(Some(*value)),
            Some(_) => Err(format!("'{name}' is not a boolean")),
        }
    };
    for refused in ["leaveDotGit", "deepClone"] {
        if boolean(refused)? == Some(true) {
            return Err(format!("{refused} = true keeps a .git directory whose bytes git's repack and gc decide: its hash is not reproducible, so it is not checked; drop {refused}"));
        }
    }
    let rev = string("rev")?.ok_or("no 'rev': give the full 40-hex commit")?;
    crate::resolve::parse_rev(&rev).map_err(|err| format!("'rev': {}", error_chain(&err)))?;
    let nar_hash = string("hash")?.ok_or("no 'hash'")?;
    NixHash::parse(&nar_hash).map_err(|err| format!("'hash': {}", error_chain(&err)))?;
    let fetcher = string("fetcher")?.ok_or("no 'fetcher' (fetchgit or fetchFromGitHub)")?;
    let source = match fetcher.as_str() {
        "fetchgit" => {
            if object.contains_key("owner") || object.contains_key("repo") || object.contains_key("githubBase") || object.contains_key("forceFetchGit") {
                return Err("fetchgit takes 'url', not 'owner'/'repo'/'githubBase'/'forceFetchGit'".into());
            }
            Source::NixpkgsFetchgit { url: string("url")?.ok_or("fetchgit needs 'url'")?, submodules: boolean("fetchSubmodules")?.unwrap_or(true) }
        }
        "fetchFromGitHub" => {
            if object.contains_key("url") {
                return Err("fetchFromGitHub takes 'owner' and 'repo', not 'url'".into());
            }
            let owner = string("owner")?.ok_or("fetchFromGitHub needs 'owner'")?;
            let repo = string("repo")?.ok_or("fetchFromGitHub needs 'repo'")?;
            let host = string("githubBase")?;
            let submodules = boolean("fetchSubmodules")?.unwrap_or(false);
            if submodules || boolean("forceFetchGit")?.unwrap_or(false) {
                let base = host.as_deref().unwrap_or(Forge::GitHub.default_host());
                Source::NixpkgsFetchgit { url: format!("https://{base}/{owner}/{repo}.git"), submodules }
            } else {
                Source::Forge { forge: Forge::GitHub, owner, repo, host }
            }
        }
        other => return Err(format!("unknown fetcher '{other}' (fetchgit or fetchFromGitHub)")),
    };
    Ok(LockedInput { name: format!("#{index}"), source, rev, nar_hash, last_modified: None, rev_count: None, original_ref: None })
}

/// Checks a nixpkgs `fetchgit` call (the same result for every release).
pub fn check_fetchgit(input: &LockedInput, location: &str, releases: &[NixVersion], options: &Options) -> Vec<ReleaseCheck> {
    let result = checkout(input, location, options);
    releases
        .iter()
        .map(|release| match &result {
            Ok((hash, causes)) => compare(input, release, hash, causes.clone()),
            Err(failure) => failure.clone().into_check(input, release),
        })
        .collect()
}

/// The hash of nixpkgs' fetchgit checkout, and when it is not the locked one, why.
fn checkout(input: &LockedInput, location: &str, options: &Options) -> Result<(NixHash, Vec<Cause>), Failure> {
    let Source::NixpkgsFetchgit { submodules, .. } = &input.source else { unreachable!("check_fetchgit is called for fetchgit calls only") };
    // nixpkgs fetches the rev by itself (the default release does too); a local repository is
    // read as Nix 2.8 checks one out (its path as `origin`, nothing of its configuration).
    let local = matches!(crate::url::parse(location), Ok(crate::url::Location::Local(_)));
    let release: NixVersion = if local { OLDEST_NIX_VERSION.parse().expect("the oldest release parses") } else { NixVersion::default_release() };
    let selector = Selector { rev: Some(input.rev.clone()), ..Selector::default() };
    let fetcher = Fetcher::open_as(location, options.cache.clone(), &selector, &options.remote, &release).map_err(|err| Failure::Check(error_chain(&err)))?;
    let commit = crate::resolve::rev_commit(fetcher.repo(), &input.rev).map_err(|err| Failure::Check(error_chain(&err)))?;
    if !submodules {
        if let Some(first) = cause::stats(fetcher.repo(), commit, TARBALL_EXPORT).and_then(|stats| stats.gitlinks.first().cloned()) {
            return Err(Failure::NotReproduced(format!(
                "without fetchSubmodules, git checkout leaves submodules (e.g. '{first}') as empty directories, which is not reproduced"
            )));
        }
    }
    let (hash, _) = fetcher.nar_hash(commit, CHECKOUT_EXPORT).map_err(|err| Failure::Check(error_chain(&err)))?;
    let locked = NixHash::parse(&input.nar_hash).map_err(|err| Failure::Check(error_chain(&err)))?;
    let causes = if hash == locked { Vec::new() } else { checkout_causes(&fetcher, commit, &locked) };
    Ok((hash, causes))
}

/// Why a fetchgit call's hash is not the checkout's: most often it is the tarball's (the call
/// was a fetchFromGitHub without forceFetchGit when it was locked), or another export.
fn checkout_causes(fetcher: &Fetcher, commit: ObjectId, locked: &NixHash) -> Vec<Cause> {
    if fetcher.nar_hash(commit, TARBALL_EXPORT).is_ok_and(|(hash, _)| hash == *locked) {
        let stats = cause::stats(fetcher.repo(), commit, TARBALL_EXPORT).unwrap_or_default();
        let mut causes = Vec::new();
        if let Some(first) = stats.substituted.first() {
            causes.push(Cause::new(
                CauseKind::ExportSubst,
                format!(
                    "the hash is the forge tarball's (fetchzip), where git archive expanded {} export-subst file(s), e.g. '{first}'; fetchgit checks out",
                    stats.substituted.len()
                ),
            ));
        }
        if let Some(first) = stats.export_ignored.first() {
            causes.push(Cause::new(
                CauseKind::ExportIgnore,
                format!(
                    "the hash is the forge tarball's (fetchzip), which drops {} export-ignore path(s), e.g. '{first}'; fetchgit keeps them",
                    stats.export_ignored.len()
                ),
            ));
        }
        if causes.is_empty() {
            causes.push(Cause::new(CauseKind::Submodules, "the hash is the forge tarball's (fetchzip), whose submodules are empty directories"));
        }
        return causes;
    }
    cause::nar_hash_causes(fetcher.repo(), commit, CHECKOUT_EXPORT, &|export| fetcher.nar_hash(commit, export).is_ok_and(|(hash, _)| hash == *locked))
}

fn compare(input: &LockedInput, release: &NixVersion, hash: &NixHash, causes: Vec<Cause>) -> ReleaseCheck {
    let reproduces = causes.is_empty();
    ReleaseCheck {
        input: input.name.clone(),
        r#type: input.source.kind(),
        source: input.source.shown(),
        release: release.to_string(),
        status: if reproduces { Status::Reproduces } else { Status::Differs },
        mismatches: if reproduces { Vec::new() } else { vec!["narHash"] },
        locked: input.locked_attrs(),
        computed: Attrs { nar_hash: Some(hash.to_sri()), rev: Some(input.rev.clone()), last_modified: None, rev_count: None },
        causes,
        reason: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REV: &str = "0123456789abcdef0123456789abcdef01234567";
    const HASH: &str = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

    #[test]
    fn calls_follow_nixpkgs_defaults() {
        let text = format!(
            r#"[{{"fetcher": "fetchgit", "url": "https://example.org/r.git", "rev": "{REV}", "hash": "{HASH}"}},
                {{"fetcher": "fetchgit", "url": "/r", "rev": "{REV}", "hash": "{HASH}", "fetchSubmodules": false}},
                {{"fetcher": "fetchFromGitHub", "owner": "o", "repo": "r", "rev": "{REV}", "hash": "{HASH}"}},
                {{"fetcher": "fetchFromGitHub", "owner": "o", "repo": "r", "rev": "{REV}", "hash": "{HASH}", "forceFetchGit": true}},
                {{"fetcher": "fetchFromGitHub", "owner": "o", "repo": "r", "rev": "{REV}", "hash": "{HASH}", "fetchSubmodules": true, "githubBase": "ghe.example"}}]"#
        );
        let sources: Vec<Source> = parse(&text, "list.json").expect("parses").into_iter().map(|input| input.source).collect();
        assert_eq!(
            sources,
            [
                Source::NixpkgsFetchgit { url: "https://example.org/r.git".into(), submodules: true },
                Source::NixpkgsFetchgit { url: "/r".into(), submodules: false },
                Source::Forge { forge: Forge::GitHub, owner: "o".into(), repo: "r".into(), host: None },
                Source::NixpkgsFetchgit { url: "https://github.com/o/r.git".into(), submodules: false },
                Source::NixpkgsFetchgit { url: "https://ghe.example/o/r.git".into(), submodules: true },
            ]
        );
    }

    #[test]
    fn unreproducible_and_malformed_calls_are_refused() {
        for (entry, says) in [
            (format!(r#"{{"fetcher": "fetchgit", "url": "/r", "rev": "{REV}", "hash": "{HASH}", "leaveDotGit": true}}"#), "leaveDotGit = true"),
            (format!(r#"{{"fetcher": "fetchgit", "url": "/r", "rev": "{REV}", "hash": "{HASH}", "deepClone": true}}"#), "deepClone = true"),
            (format!(r#"{{"fetcher": "fetchgit", "url": "/r", "rev": "v1.0", "hash": "{HASH}"}}"#), "'rev'"),
            (format!(r#"{{"fetcher": "fetchgit", "url": "/r", "rev": "{REV}", "hash": "{HASH}", "sha256": "x"}}"#), "unknown attribute 'sha256'"),
            (format!(r#"{{"fetcher": "fetchurl", "url": "/r", "rev": "{REV}", "hash": "{HASH}"}}"#), "unknown fetcher 'fetchurl'"),
            (format!(r#"{{"fetcher": "fetchFromGitHub", "url": "/r", "rev": "{REV}", "hash": "{HASH}"}}"#), "not 'url'"),
            (format!(r#"{{"fetcher": "fetchgit", "url": "/r", "rev": "{REV}", "hash": "nope"}}"#), "'hash'"),
        ] {
            let err = parse(&format!("[{entry}]"), "list.json").expect_err(&entry).to_string();
            assert!(err.contains("entry 0") && err.contains(says), "{err}");
        }
    }
}
