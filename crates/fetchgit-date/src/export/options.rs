//! What an export is asked to do ([`ExportOptions`]) and what it did ([`ExportStats`]).

use gix::bstr::BString;

use crate::nix_version::Generation;

/// How to export a tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExportOptions {
    /// Which Nix's export to reproduce.
    pub generation: Generation,
    /// Drop paths whose `export-ignore` attribute is set. Always true for [`Generation::Legacy`],
    /// where `git archive` gives no way around it.
    pub export_ignore: bool,
    /// Replace Git LFS pointer files (`filter=lfs`) by their objects, as Nix >= 2.27 does with
    /// `lfs = true`; needs a [`Smudge`](super::hooks::Smudge) (see [`crate::lfs`]). Modern only.
    pub lfs: bool,
    /// `submodules = true`: gitlinks are replaced by their submodules' trees, through a
    /// [`Submodules`](super::hooks::Submodules) hook (see [`crate::submodules`]). Legacy: the tree is then what `git
    /// checkout` writes in a fresh clone (no `export-ignore`, no `export-subst`, the default
    /// configuration), as Nix <= 2.19 runs `git submodule update --init --recursive` there.
    pub submodules: bool,
}

/// What an export did besides copying blobs: the reasons two exports of one commit can differ.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// Paths left out because of `export-ignore`.
    pub export_ignored: Vec<BString>,
    /// Files whose bytes checkout conversions (line endings, `ident`, filters) changed.
    pub converted: Vec<BString>,
    /// Files whose `$Format:...$` placeholders `export-subst` expanded.
    pub substituted: Vec<BString>,
    /// Submodule entries, exported as empty directories.
    pub gitlinks: Vec<BString>,
    /// Files whose content a [`Smudge`](super::hooks::Smudge) replaced (LFS pointers replaced by their objects).
    pub smudged: Vec<BString>,
    /// Submodules exported in place of their gitlinks (nested ones by their whole path).
    pub submodules: Vec<BString>,
}
