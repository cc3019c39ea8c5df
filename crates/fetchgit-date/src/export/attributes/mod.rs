//! `.gitattributes` as each generation reads them: [`git`] (git 2.47, for `git archive`, the
//! legacy generation) and [`libgit2`] (libgit2 1.9, for Nix >= 2.20's `export-ignore`). The two
//! parsers disagree on many inputs (quoted patterns, `!pattern`, escaped spaces, attribute
//! names, `attr=`, line limits); `tests/attributes_property.rs` compares both with the real
//! thing on generated files.

use gix::bstr::BString;

pub mod git;
pub mod libgit2;

/// The state of one attribute for one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Not mentioned, or `!attr`.
    Unspecified,
    /// `attr`.
    Set,
    /// `-attr`.
    Unset,
    /// `attr=value`.
    Value(BString),
}
