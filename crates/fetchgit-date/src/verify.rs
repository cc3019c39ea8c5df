//! Does a `narHash` really reproduce from git, and if not, why? Recomputes the NAR hash of a
//! commit under every export that a Nix version produces and explains each difference.

use gix::ObjectId;
use nixstore::hash::NixHash;

use crate::export::{self, ExportError, ExportOptions, ExportStats};
use crate::nix_version::{Change, Generation};

/// One way Nix may have exported the commit, and what it gives.
#[derive(Debug, Clone)]
pub struct Variant {
    /// Which Nix produces this export.
    pub label: String,
    /// The export settings.
    pub options: ExportOptions,
    /// The NAR hash this export gives, and what it did besides copying blobs; or why this
    /// generation cannot export the commit (a commit can be exportable by one generation only).
    pub result: Result<(NixHash, ExportStats), String>,
}

impl Variant {
    /// The NAR hash, when this export succeeded.
    pub fn nar_hash(&self) -> Option<&NixHash> {
        self.result.as_ref().ok().map(|(hash, _)| hash)
    }
}

/// The result of checking one hash against every variant.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The hash that was given.
    pub expected: NixHash,
    /// Every variant, in the order Nix versions are most common today.
    pub variants: Vec<Variant>,
    /// Git LFS pointer files (with `filter=lfs`) of the tree, when looked for.
    pub lfs_pointers: Vec<gix::bstr::BString>,
}

/// An export option set with every switch off but the generation's own.
const fn options(generation: Generation, export_ignore: bool, lfs: bool, submodules: bool) -> ExportOptions {
    ExportOptions { generation, export_ignore, lfs, submodules }
}

/// The exports every release makes, labelled with the releases that make them (from
/// [`CHANGES`](crate::nix_version::CHANGES)).
fn plain_variants() -> Vec<(String, ExportOptions)> {
    let (modern, legacy) = (Generation::Modern.nix(), Generation::Legacy.nix());
    vec![
        (format!("modern ({modern})"), options(Generation::Modern, true, false, false)),
        (format!("modern with exportIgnore = false ({modern})"), options(Generation::Modern, false, false, false)),
        (format!("legacy ({legacy}, Lix)"), options(Generation::Legacy, true, false, false)),
    ]
}

/// The exports with submodules.
fn submodule_variants() -> Vec<(String, ExportOptions)> {
    let modern = Change::SubmodulesSkipNonGitlinkEntries.first_nix_release();
    vec![
        (format!("modern with submodules = true (Nix >= {modern})"), options(Generation::Modern, false, false, true)),
        (format!("legacy with submodules = true ({}, Lix)", Generation::Legacy.nix()), options(Generation::Legacy, false, false, true)),
    ]
}

/// The exports with Git LFS contents (`lfs = true`).
fn lfs_variants() -> Vec<(String, ExportOptions)> {
    let since = Change::Lfs.first_nix_release();
    vec![
        (format!("modern with lfs = true (Nix >= {since})"), options(Generation::Modern, true, true, false)),
        (format!("modern with exportIgnore = false, lfs = true (Nix >= {since})"), options(Generation::Modern, false, true, false)),
    ]
}

/// Exports `commit` every way Nix does and compares each NAR hash with `expected`. Fails only
/// when no generation can export the commit.
pub fn verify(repo: &gix::Repository, commit: ObjectId, expected: NixHash) -> Result<Verdict, ExportError> {
    let mut first_error = None;
    let mut variants = Vec::new();
    for (label, options) in plain_variants() {
        let result = match export::nar_hash(repo, commit, options) {
            Ok((nar_hash, _, stats)) => Ok((nar_hash, stats)),
            Err(err) => {
                let text = crate::error_chain(&err);
                first_error.get_or_insert(err);
                Err(text)
            }
        };
        variants.push(Variant { label, options, result });
    }
    match first_error {
        Some(err) if variants.iter().all(|v| v.result.is_err()) => Err(err),
        _ => Ok(Verdict { expected, variants, lfs_pointers: Vec::new() }),
    }
}

/// [`verify`], plus with `lfs` the exports with Git LFS contents (fetched through `fetcher`).
/// Without `lfs`, when nothing matches, the files a `lfs = true` export would replace are listed
/// in the report.
///
/// With `submodules`, also the exports with submodules (each generation's), fetching them.
pub fn verify_with(fetcher: &crate::fetch::Fetcher, commit: ObjectId, expected: NixHash, lfs: bool, submodules: bool) -> Result<Verdict, ExportError> {
    let repo = fetcher.repo();
    let mut verdict = verify(repo, commit, expected)?;
    if submodules {
        for (label, options) in submodule_variants() {
            let result = fetcher
                .superproject(options)
                .expect("submodule variants ask for submodules")
                .opener(repo, commit)
                .map_err(|reason| ExportError::Submodule { path: ".gitmodules".into(), reason })
                .and_then(|opener| export::nar_hash_with(repo, commit, options, export::Hooks { smudge: None, submodules: Some(Box::new(opener)) }))
                .map(|(hash, _, stats)| (hash, stats))
                .map_err(|err| crate::error_chain(&err));
            verdict.variants.push(Variant { label, options, result });
        }
    }
    if lfs {
        for (label, options) in lfs_variants() {
            let mut smudge = fetcher.lfs_fetcher(commit, options).expect("LFS variants ask for LFS");
            let result = export::nar_hash_with(repo, commit, options, export::Hooks { smudge: Some(&mut smudge), submodules: None })
                .map(|(hash, _, stats)| (hash, stats))
                .map_err(|err| crate::error_chain(&err));
            verdict.variants.push(Variant { label, options, result });
        }
    } else if verdict.matching().is_none() {
        if let Some(pointers) = crate::lfs::pointer_files(repo, commit, lfs_variants()[0].1.export_ignore) {
            verdict.lfs_pointers = pointers;
        }
    }
    Ok(verdict)
}

impl Verdict {
    /// The first variant that reproduces the hash.
    pub fn matching(&self) -> Option<&Variant> {
        self.variants.iter().find(|v| v.nar_hash() == Some(&self.expected))
    }

    /// One line per variant: its hash and, when it differs, why it may differ.
    pub fn report(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .variants
            .iter()
            .map(|variant| match &variant.result {
                Ok((hash, _)) if *hash == self.expected => format!("{}: {hash} matches", variant.label),
                Ok((hash, stats)) => format!("{}: {hash} differs{}", variant.label, reasons(stats)),
                Err(reason) => format!("{}: cannot export: {reason}", variant.label),
            })
            .collect();
        if self.matching().is_some_and(|v| v.options.lfs) {
            lines.push("reproduces with LFS contents (lfs = true, Nix >= 2.27)".to_owned());
        }
        if self.matching().is_some_and(|v| v.options.submodules) {
            lines.push("reproduces with submodules (submodules = true)".to_owned());
        }
        if self.matching().is_none() {
            let gitlinks = self.variants.iter().find_map(|v| v.result.as_ref().ok()).map(|(_, stats)| &stats.gitlinks);
            let hint = match gitlinks {
                _ if !self.lfs_pointers.is_empty() => format!(
                    "no export reproduces the hash; the tree has {} Git LFS pointer file(s) (e.g. '{}'): a hash made with lfs = true includes their contents: try verify --lfs",
                    self.lfs_pointers.len(),
                    self.lfs_pointers[0]
                ),
                Some(gitlinks) if !gitlinks.is_empty() => format!(
                    "no export reproduces the hash; the tree has {} submodule(s) (e.g. '{}'): a hash made with submodules = true includes their content: try verify --submodules",
                    gitlinks.len(),
                    gitlinks[0]
                ),
                _ => "no export reproduces the hash: it was made from another commit, a dirty work tree, or by a tool other than fetchGit".to_owned(),
            };
            lines.push(hint);
        }
        lines
    }
}

fn reasons(stats: &ExportStats) -> String {
    let mut reasons = Vec::new();
    if !stats.export_ignored.is_empty() {
        reasons.push(format!("export-ignore dropped {} path(s), e.g. '{}'", stats.export_ignored.len(), stats.export_ignored[0]));
    }
    if !stats.converted.is_empty() {
        reasons.push(format!(
            "git archive converted {} file(s) (line endings, ident, encodings or filters), e.g. '{}'",
            stats.converted.len(),
            stats.converted[0]
        ));
    }
    if !stats.smudged.is_empty() {
        reasons.push(format!("Git LFS replaced {} pointer file(s), e.g. '{}'", stats.smudged.len(), stats.smudged[0]));
    }
    if !stats.substituted.is_empty() {
        reasons.push(format!("export-subst expanded {} file(s), e.g. '{}'", stats.substituted.len(), stats.substituted[0]));
    }
    if reasons.is_empty() {
        String::new()
    } else {
        format!(" ({})", reasons.join("; "))
    }
}
