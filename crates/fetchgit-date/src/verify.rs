//! Does a `narHash` really reproduce from git, and if not, why? Recomputes the NAR hash of a
//! commit under every export that a Nix version produces and explains each difference.

use gix::ObjectId;
use nixstore::hash::NixHash;

use crate::export::{self, ExportError, ExportOptions, ExportStats, Generation};

/// One way Nix may have exported the commit, and what it gives.
#[derive(Debug, Clone)]
pub struct Variant {
    /// Which Nix produces this export.
    pub label: &'static str,
    /// The export settings.
    pub options: ExportOptions,
    /// The NAR hash this export gives.
    pub nar_hash: NixHash,
    /// What the export did besides copying blobs.
    pub stats: ExportStats,
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

const VARIANTS: [(&str, ExportOptions); 3] = [
    ("modern (Nix >= 2.20)", ExportOptions { generation: Generation::Modern, export_ignore: true, lfs: false }),
    (
        "modern with exportIgnore = false (Nix >= 2.20)",
        ExportOptions { generation: Generation::Modern, export_ignore: false, lfs: false },
    ),
    ("legacy (Nix <= 2.19, Lix)", ExportOptions { generation: Generation::Legacy, export_ignore: true, lfs: false }),
];

/// The exports with Git LFS contents (Nix >= 2.27 with `lfs = true`).
const LFS_VARIANTS: [(&str, ExportOptions); 2] = [
    ("modern with lfs = true (Nix >= 2.27)", ExportOptions { generation: Generation::Modern, export_ignore: true, lfs: true }),
    (
        "modern with exportIgnore = false, lfs = true (Nix >= 2.27)",
        ExportOptions { generation: Generation::Modern, export_ignore: false, lfs: true },
    ),
];

/// Exports `commit` every way Nix does and compares each NAR hash with `expected`.
pub fn verify(repo: &gix::Repository, commit: ObjectId, expected: NixHash) -> Result<Verdict, ExportError> {
    let variants = VARIANTS
        .iter()
        .map(|&(label, options)| {
            let (nar_hash, _, stats) = export::nar_hash(repo, commit, options)?;
            Ok(Variant { label, options, nar_hash, stats })
        })
        .collect::<Result<_, ExportError>>()?;
    Ok(Verdict { expected, variants, lfs_pointers: Vec::new() })
}

/// [`verify`], plus with `lfs` the exports with Git LFS contents (fetched through `fetcher`).
/// Without `lfs`, when nothing matches, the files a `lfs = true` export would replace are listed
/// in the report.
pub fn verify_with(fetcher: &crate::fetch::Fetcher, commit: ObjectId, expected: NixHash, lfs: bool) -> Result<Verdict, ExportError> {
    let repo = fetcher.repo();
    let mut verdict = verify(repo, commit, expected)?;
    if lfs {
        for &(label, options) in &LFS_VARIANTS {
            let mut smudge = fetcher.lfs_fetcher(commit, options).expect("LFS variants ask for LFS");
            let (nar_hash, _, stats) = export::nar_hash_with(repo, commit, options, Some(&mut smudge))?;
            verdict.variants.push(Variant { label, options, nar_hash, stats });
        }
    } else if verdict.matching().is_none() {
        let mut probe = LfsProbe(Vec::new());
        export::nar_hash_with(repo, commit, LFS_VARIANTS[0].1, Some(&mut probe))?;
        verdict.lfs_pointers = probe.0;
    }
    Ok(verdict)
}

/// Lists the pointer files an LFS export would replace, replacing none.
struct LfsProbe(Vec<gix::bstr::BString>);

impl export::Smudge for LfsProbe {
    fn smudge(&mut self, path: &gix::bstr::BStr, blob: &[u8]) -> Result<Option<export::Smudged>, String> {
        if matches!(crate::lfs::parse_pointer(blob), crate::lfs::PointerParse::Pointer(_)) {
            self.0.push(path.to_owned());
        }
        Ok(None)
    }
}

impl Verdict {
    /// The first variant that reproduces the hash.
    pub fn matching(&self) -> Option<&Variant> {
        self.variants.iter().find(|v| v.nar_hash == self.expected)
    }

    /// One line per variant: its hash and, when it differs, why it may differ.
    pub fn report(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .variants
            .iter()
            .map(|variant| {
                if variant.nar_hash == self.expected {
                    format!("{}: {} matches", variant.label, variant.nar_hash)
                } else {
                    format!("{}: {} differs{}", variant.label, variant.nar_hash, self.reasons(variant))
                }
            })
            .collect();
        if self.matching().is_some_and(|v| v.options.lfs) {
            lines.push("reproduces with LFS contents (lfs = true, Nix >= 2.27)".to_owned());
        }
        if self.matching().is_none() {
            let gitlinks = &self.variants[0].stats.gitlinks;
            let hint = if let Some(first) = self.lfs_pointers.first() {
                format!(
                    "no export reproduces the hash; the tree has {} Git LFS pointer file(s) (e.g. '{first}'): a hash made with lfs = true includes their contents: try verify --lfs",
                    self.lfs_pointers.len()
                )
            } else if gitlinks.is_empty() {
                "no export reproduces the hash: it was made from another commit, a dirty work tree, or by a tool other than fetchGit".to_owned()
            } else {
                format!(
                    "no export reproduces the hash; the tree has {} submodule(s) (e.g. '{}'): a hash made with submodules = true includes their content",
                    gitlinks.len(),
                    gitlinks[0]
                )
            };
            lines.push(hint);
        }
        lines
    }

    fn reasons(&self, variant: &Variant) -> String {
        let stats = &variant.stats;
        let mut reasons = Vec::new();
        if !stats.export_ignored.is_empty() {
            reasons.push(format!("export-ignore dropped {} path(s), e.g. '{}'", stats.export_ignored.len(), stats.export_ignored[0]));
        }
        if !stats.converted.is_empty() {
            reasons.push(format!(
                "git archive converted {} file(s) (line endings, ident or filters), e.g. '{}'",
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
}
