//! fetchGit's input checks: a `narHash`, `lastModified` or `revCount` given with the input is
//! compared with what was fetched, with Nix's wording, before anything is added to the store.
//!
//! What each release does (Nix's `Input::fetch` up to 2.20, `Input::checkLocks` after, and the
//! Git fetcher):
//! - `narHash` is always checked (exit code 102 in Nix). Nix reads it with `Hash::parseSRI`
//!   ([`NixHash::parse_sri_as_nix`]); an empty string stands for the all-zero hash.
//! - `lastModified` is always computed and checked, until Nix 2.35 takes a given value as it is
//!   ([`Change::KeepsGivenRevCountAndLastModified`]).
//! - `revCount` is checked when fetchGit computes one. It computes none for `shallow = true` and
//!   for a dirty work tree: then the given value is passed through into the result, unchecked.
//!   From 2.35 a given value is always taken as it is.
//!
//! ### Deviation
//! Nix checks after adding the tree to the store, so a mismatch leaves the path there; we check
//! first and add nothing. Nix 2.8 to 2.19 also skip the fetch entirely when `narHash` and
//! `lastModified` (and `revCount` or `shallow`, or no `ref`) are all given and the store path is
//! already valid, returning the given values unchecked; we always fetch and check.

use nixstore::hash::{NixHash, ParseHashError};

use crate::fetch::{last_modified_date, Fetched};
use crate::nix_version::{Change, NixVersion};

/// What the caller says the result is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Expected {
    /// `narHash`.
    pub nar_hash: Option<NixHash>,
    /// `lastModified`, Unix seconds.
    pub last_modified: Option<i64>,
    /// `revCount`.
    pub rev_count: Option<u64>,
}

/// A fetch that does not match what the caller gave, worded as the release words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputMismatch {
    /// The NAR hash differs (Nix >= 2.21's wording).
    #[error("NAR hash mismatch in input '{input}', expected '{expected}' but got '{got}'")]
    NarHash {
        /// The input, as Nix prints it.
        input: String,
        /// The given hash.
        expected: String,
        /// The fetched hash.
        got: String,
    },
    /// The NAR hash differs (the wording before Nix 2.21, and Lix's).
    #[error("NAR hash mismatch in input '{input}' ({path}), expected '{expected}', got '{got}'")]
    NarHashWithPath {
        /// The input, as Nix prints it.
        input: String,
        /// The store path the fetched tree has.
        path: String,
        /// The given hash.
        expected: String,
        /// The fetched hash.
        got: String,
    },
    /// `lastModified` differs.
    #[error("'lastModified' attribute mismatch in input '{input}', expected {expected}{got}")]
    LastModified {
        /// The input, as Nix prints it.
        input: String,
        /// The given value.
        expected: i64,
        /// `, got N` (Nix >= 2.25), or empty.
        got: String,
    },
    /// `revCount` differs.
    #[error("'revCount' attribute mismatch in input '{input}', expected {expected}")]
    RevCount {
        /// The input, as Nix prints it.
        input: String,
        /// The given value.
        expected: u64,
    },
}

/// A `narHash` as fetchGit reads it: SRI SHA-256, leniently decoded; `""` is the zero hash.
pub fn parse_nar_hash(text: &str) -> Result<NixHash, ParseHashError> {
    if text.is_empty() {
        return Ok(NixHash::Sha256([0; 32]));
    }
    NixHash::parse_sri_as_nix(text)
}

/// The boolean attributes of a Git input that its URL shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct InputFlags {
    /// `shallow = true`.
    pub shallow: bool,
    /// `submodules = true`.
    pub submodules: bool,
    /// `exportIgnore = true`.
    pub export_ignore: bool,
    /// `lfs = true`.
    pub lfs: bool,
}

/// The input as Nix's `Input::to_string` prints a Git input: `git+file:///path?ref=…&rev=…`.
pub fn describe_input(url: &str, ref_name: Option<&str>, rev: Option<&str>, flags: InputFlags, nix: &NixVersion) -> String {
    let InputFlags { shallow, submodules, export_ignore, lfs } = flags;
    let base = if url.contains("://") {
        url.to_owned()
    } else {
        let absolute = std::path::absolute(url).map(|p| p.display().to_string()).unwrap_or_else(|_| url.to_owned());
        format!("file://{absolute}")
    };
    let base = if base.starts_with("git://") { base } else { format!("git+{base}") };
    // The query as a std::map prints it: sorted by key.
    let mut query = Vec::new();
    if export_ignore && nix.has(Change::Libgit2) {
        query.push("exportIgnore=1".to_owned());
    }
    // Nix >= 2.27 (src/libfetchers/git.cc, toURL).
    if lfs && nix.has_lfs() {
        query.push("lfs=1".to_owned());
    }
    query.extend(ref_name.map(|r| format!("ref={r}")));
    query.extend(rev.map(|r| format!("rev={r}")));
    if shallow {
        query.push("shallow=1".to_owned());
    }
    // Nix >= 2.20 (src/libfetchers/git.cc, toURL).
    if submodules && nix.has(Change::Libgit2) {
        query.push("submodules=1".to_owned());
    }
    if query.is_empty() {
        base
    } else {
        format!("{base}?{}", query.join("&"))
    }
}

/// Checks `fetched` against `expected` as `nix`'s fetchGit does, and passes through into
/// `fetched` the values fetchGit takes from the caller instead of computing them.
pub fn check(fetched: &mut Fetched, expected: &Expected, nix: &NixVersion, input: &str) -> Result<(), InputMismatch> {
    if let Some(hash) = &expected.nar_hash {
        if *hash != fetched.nar_hash {
            let (expected, got) = (hash.to_sri(), fetched.nar_hash.to_sri());
            return Err(if nix.has(Change::NarHashMismatchWording) {
                InputMismatch::NarHash { input: input.to_owned(), expected, got }
            } else {
                InputMismatch::NarHashWithPath { input: input.to_owned(), path: fetched.attrs.out_path.clone(), expected, got }
            });
        }
    }
    let keeps_given = nix.has(Change::KeepsGivenRevCountAndLastModified) && fetched.commit.is_some();
    if let Some(last_modified) = expected.last_modified {
        if keeps_given {
            fetched.attrs.last_modified = last_modified;
            if let Some(commit) = fetched.commit {
                // A time no date can show (beyond year 9999) leaves lastModifiedDate empty.
                fetched.attrs.last_modified_date = last_modified_date(commit, last_modified).unwrap_or_default();
            }
        } else if last_modified != fetched.attrs.last_modified {
            let got = if nix.has(Change::LastModifiedMismatchGot) { format!(", got {}", fetched.attrs.last_modified) } else { String::new() };
            return Err(InputMismatch::LastModified { input: input.to_owned(), expected: last_modified, got });
        }
    }
    if let Some(rev_count) = expected.rev_count {
        if keeps_given || !fetched.rev_count_computed {
            fetched.attrs.rev_count = rev_count;
        } else if rev_count != fetched.attrs.rev_count {
            return Err(InputMismatch::RevCount { input: input.to_owned(), expected: rev_count });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_described_as_nix_prints_them() {
        let v26: NixVersion = "2.26.3".parse().expect("valid");
        let v28: NixVersion = "2.8.0".parse().expect("valid");
        assert_eq!(describe_input("/r", Some("main"), Some("abc"), InputFlags { export_ignore: true, ..Default::default() }, &v26), "git+file:///r?exportIgnore=1&ref=main&rev=abc");
        assert_eq!(describe_input("/r", None, None, InputFlags { shallow: true, submodules: true, export_ignore: true, lfs: true }, &v28), "git+file:///r?shallow=1");
        assert_eq!(describe_input("/r", None, Some("abc"), InputFlags { submodules: true, ..Default::default() }, &v26), "git+file:///r?rev=abc&submodules=1");
        let v27: NixVersion = "2.27.0".parse().expect("valid");
        assert_eq!(describe_input("/r", None, None, InputFlags { export_ignore: true, lfs: true, ..Default::default() }, &v27), "git+file:///r?exportIgnore=1&lfs=1");
        assert_eq!(describe_input("git://h/r", None, None, InputFlags::default(), &v28), "git://h/r");
        assert_eq!(describe_input("https://h/r", None, None, InputFlags::default(), &v28), "git+https://h/r");
    }

    #[test]
    fn empty_nar_hash_is_the_zero_hash() {
        assert_eq!(parse_nar_hash("").expect("Nix accepts it").to_sri(), format!("sha256-{}=", "A".repeat(43)));
    }
}
