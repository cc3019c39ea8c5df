//! Why a release computes another `narHash` than the one locked, named from the tree: which
//! export of the commit the locked hash is, and what the release's export does differently
//! (eol or filter attributes, `export-subst`, `export-ignore`, submodules, Git LFS).

use gix::ObjectId;
use serde::Serialize;

use crate::export::{self, ExportOptions, ExportStats};
use crate::nix_version::Generation;

/// What makes a value differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CauseKind {
    /// `text`/`eol`/`ident`/`working-tree-encoding`/filter attributes: git archive and git
    /// checkout convert the blobs (Nix <= 2.19, Lix, forge tarballs), libgit2 does not.
    EolOrFilter,
    /// `export-subst`: git archive expands `$Format:...$`, libgit2 does not.
    ExportSubst,
    /// `export-ignore`: applied by git archive always, by Nix >= 2.20 only with
    /// `exportIgnore = true` (fetchGit's default, not a flake input's).
    ExportIgnore,
    /// Submodules are fetched differently (legacy: a git checkout; modern: exported trees).
    Submodules,
    /// Git LFS pointer files are replaced by their objects (`lfs = true`, Nix >= 2.27) or not.
    Lfs,
    /// An annotated tag as `ref`: Nix >= 2.31 locks its commit, older releases its object.
    TagPeeling,
    /// `lastModified` or `revCount` differ (the history the release sees).
    History,
    /// No export of the commit gives the locked hash: it was made from another commit, a dirty
    /// tree, or by another tool.
    Unexplained,
}

/// One cause, with the paths or values that show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cause {
    /// What kind.
    pub kind: CauseKind,
    /// Where it shows, e.g. "2 file(s), e.g. 'notes.txt'".
    pub detail: String,
}

impl Cause {
    /// A cause with its detail.
    pub fn new(kind: CauseKind, detail: impl Into<String>) -> Cause {
        Cause { kind, detail: detail.into() }
    }
}

/// The exports a locked hash may have been made with, given the submodules and LFS setting of
/// the input: legacy (git archive), modern with and without export-ignore, each also with LFS
/// contents when `lfs_candidates`.
fn candidates(submodules: bool, lfs_candidates: bool) -> Vec<ExportOptions> {
    let mut all = vec![ExportOptions { generation: Generation::Legacy, export_ignore: !submodules, lfs: false, submodules }];
    for export_ignore in [false, true] {
        if submodules && export_ignore {
            continue;
        }
        for lfs in [false, true] {
            if lfs && !lfs_candidates {
                continue;
            }
            all.push(ExportOptions { generation: Generation::Modern, export_ignore, lfs, submodules });
        }
    }
    all
}

/// Why `release_export` (the release's export of `commit`, which gave another hash) does not
/// give the locked hash. `gives_locked` says whether an export gives it (as some release of
/// its generation makes that export: with submodules, releases of one generation differ).
pub fn nar_hash_causes(repo: &gix::Repository, commit: ObjectId, release_export: ExportOptions, gives_locked: &dyn Fn(ExportOptions) -> bool) -> Vec<Cause> {
    let pointers = lfs_pointers(repo, commit);
    let lfs_candidates = release_export.lfs || !pointers.is_empty();
    let matched =
        candidates(release_export.submodules, lfs_candidates).into_iter().filter(|options| *options != release_export).find(|options| gives_locked(*options));
    let Some(matched) = matched else {
        return vec![Cause::new(
            CauseKind::Unexplained,
            format!("no export of commit {commit} gives the locked narHash: it was made from another commit, a dirty tree, or by a tool other than Nix's git fetcher"),
        )];
    };
    let mut causes = Vec::new();
    let stats =
        |options: ExportOptions| export::nar_hash(repo, commit, ExportOptions { submodules: false, lfs: false, ..options }).map(|(_, _, stats)| stats).ok();
    if matched.generation != release_export.generation {
        let legacy = stats(ExportOptions { generation: Generation::Legacy, export_ignore: true, lfs: false, submodules: false }).unwrap_or_default();
        if !legacy.converted.is_empty() {
            causes.push(Cause::new(
                CauseKind::EolOrFilter,
                example("git converts", &legacy.converted, "(eol, text, ident, encoding or filter attributes; libgit2, Nix >= 2.20, does not)"),
            ));
        }
        if release_export.submodules {
            let gitlinks = stats(ExportOptions { generation: Generation::Modern, export_ignore: false, lfs: false, submodules: false })
                .map(|s| s.gitlinks)
                .unwrap_or_default();
            causes.push(Cause::new(
                CauseKind::Submodules,
                example("legacy Nix checks out with git (checkout conversions, no export-subst or export-ignore), modern Nix exports the trees of the submodules at", &gitlinks, ""),
            ));
        } else {
            if !legacy.substituted.is_empty() {
                causes.push(Cause::new(CauseKind::ExportSubst, example("git archive expands $Format:...$ in", &legacy.substituted, "(libgit2 does not)")));
            }
            let modern_ignores = if matched.generation == Generation::Modern { matched.export_ignore } else { release_export.export_ignore };
            if !modern_ignores && !legacy.export_ignored.is_empty() {
                causes.push(Cause::new(
                    CauseKind::ExportIgnore,
                    example("git archive drops", &legacy.export_ignored, "(a flake's git input keeps them from Nix 2.20 on: exportIgnore defaults to false)"),
                ));
            }
        }
    } else if matched.export_ignore != release_export.export_ignore {
        let ignored = stats(ExportOptions { export_ignore: true, ..matched }).map(|s| s.export_ignored).unwrap_or_default();
        causes.push(Cause::new(CauseKind::ExportIgnore, example("exportIgnore decides on", &ignored, "")));
    }
    if matched.lfs != release_export.lfs {
        causes.push(Cause::new(CauseKind::Lfs, example("lfs = true replaces", &pointers, "Git LFS pointer file(s) by their objects")));
    }
    if causes.is_empty() {
        causes.push(Cause::new(CauseKind::Unexplained, format!("the locked narHash is the {} export, which differs from this release's", describe(matched))));
    }
    causes
}

/// How an export is named in messages.
pub fn describe(options: ExportOptions) -> String {
    let mut text = match options.generation {
        Generation::Legacy => "legacy (git archive, Nix <= 2.19, Lix)".to_owned(),
        Generation::Modern => format!("modern (libgit2, Nix >= 2.20) with exportIgnore = {}", options.export_ignore),
    };
    if options.lfs {
        text.push_str(", lfs = true");
    }
    if options.submodules {
        text.push_str(", submodules = true");
    }
    text
}

fn example(what: &str, paths: &[gix::bstr::BString], after: &str) -> String {
    match paths.first() {
        Some(first) => format!("{what} {} path(s), e.g. '{first}' {after}", paths.len()).trim_end().to_owned(),
        None => format!("{what} {after}").trim_end().to_owned(),
    }
}

/// The Git LFS pointer files (with `filter=lfs`) an `lfs = true` export would replace.
pub fn lfs_pointers(repo: &gix::Repository, commit: ObjectId) -> Vec<gix::bstr::BString> {
    crate::lfs::pointer_files(repo, commit, false).unwrap_or_default()
}

/// The stats of a plain export, for callers naming causes of their own.
pub fn stats(repo: &gix::Repository, commit: ObjectId, options: ExportOptions) -> Option<ExportStats> {
    export::nar_hash(repo, commit, options).map(|(_, _, stats)| stats).ok()
}
