//! Which Nix release to behave like. `builtins.fetchGit` changed, release by release, in ways
//! that decide its output (the export generation first of all), so every behaviour that differs
//! between releases is chosen from a [`NixVersion`], never guessed from the running machine.
//!
//! The version is what `builtins.nixVersion` (or `nix --version`) reports: `2.8.0`, `2.26.3`,
//! `2.31.0pre20250712_abcdef`, `2.18.3-lix`. Lix always reports `2.18.3-lix` whatever its own
//! release, and its fetchGit is Nix 2.18's (see docs/design.md).

use std::fmt;
use std::str::FromStr;

use crate::export::Generation;

/// A Nix release, as far as fetchGit's behaviour is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NixVersion {
    major: u32,
    minor: u32,
    patch: u32,
    lix: bool,
    text: String,
}

/// A version string that is not a Nix release.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Nix version '{0}': expected MAJOR.MINOR[.PATCH] as builtins.nixVersion prints it, e.g. 2.8.0, 2.26.3 or 2.18.3-lix")]
pub struct NixVersionError(pub String);

impl NixVersion {
    /// Whether this is Lix (which reports 2.18.3 and behaves as Nix 2.18).
    pub fn is_lix(&self) -> bool {
        self.lix
    }

    /// Whether this release is `major.minor` or later. A pre-release (`2.20pre…`) counts as the
    /// release it leads to: it is built from that release's development branch.
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }

    /// `(major, minor, patch)`.
    pub fn numbers(&self) -> (u32, u32, u32) {
        (self.major, self.minor, self.patch)
    }

    /// How this release checks commit signatures (`verifyCommit`, `publicKey(s)`, `keytype`), or
    /// `None` when it has no such attributes (fetchGit then refuses them as unsupported).
    /// Nix 2.19 added them (NixOS/nix#8848), 2.20 made an unknown key type an error, 2.32 maps
    /// the `-sk` types to OpenSSH's names (NixOS/nix#13885). Lix (2.18) has none.
    pub fn key_type_rules(&self) -> Option<crate::signature::KeyTypeRules> {
        use crate::signature::KeyTypeRules;
        match (self.lix, self.major, self.minor) {
            (true, ..) => None,
            _ if self.at_least(2, 32) => Some(KeyTypeRules::MapToOpenssh),
            _ if self.at_least(2, 20) => Some(KeyTypeRules::RejectUnknown),
            _ if self.at_least(2, 19) => Some(KeyTypeRules::WarnUnknown),
            _ => None,
        }
    }

    /// Whether fetchGit has `lfs` (Nix >= 2.27, NixOS/nix#10153; not Lix).
    pub fn has_lfs(&self) -> bool {
        !self.lix && self.at_least(2, 27)
    }

    /// The export generation this release uses: libgit2 from 2.20 on, `git archive` before and
    /// in Lix.
    pub fn generation(&self) -> Generation {
        if !self.lix && self.at_least(2, 20) {
            Generation::Modern
        } else {
            Generation::Legacy
        }
    }
}

impl FromStr for NixVersion {
    type Err = NixVersionError;

    fn from_str(text: &str) -> Result<NixVersion, NixVersionError> {
        let invalid = || NixVersionError(text.to_owned());
        let trimmed = text.trim();
        // The numeric prefix: digits and dots; whatever follows is a pre-release or vendor tag.
        let numeric_len = trimmed.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(trimmed.len());
        let (numeric, suffix) = trimmed.split_at(numeric_len);
        let mut parts = numeric.trim_end_matches('.').split('.');
        let mut number = |required: bool| -> Result<u32, NixVersionError> {
            match parts.next() {
                Some(part) if !part.is_empty() => part.parse().map_err(|_| invalid()),
                None if !required => Ok(0),
                _ => Err(invalid()),
            }
        };
        let (major, minor, patch) = (number(true)?, number(true)?, number(false)?);
        if parts.next().is_some() || !suffix.chars().all(|c| c.is_ascii_alphanumeric() || "-_+.".contains(c)) {
            return Err(invalid());
        }
        Ok(NixVersion { major, minor, patch, lix: suffix.to_ascii_lowercase().contains("lix"), text: trimmed.to_owned() })
    }
}

impl fmt::Display for NixVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_parse_with_their_suffixes() {
        let v: NixVersion = "2.8.0".parse().expect("valid");
        assert_eq!(v.numbers(), (2, 8, 0));
        assert_eq!(v.generation(), Generation::Legacy);
        let v: NixVersion = "2.26.3".parse().expect("valid");
        assert_eq!(v.generation(), Generation::Modern);
        let v: NixVersion = "2.20".parse().expect("valid");
        assert_eq!((v.numbers(), v.generation()), ((2, 20, 0), Generation::Modern));
        let v: NixVersion = "2.31.0pre20250712_abcdef0".parse().expect("valid");
        assert!(v.at_least(2, 31));
        let v: NixVersion = "2.18.3-lix".parse().expect("valid");
        assert!(v.is_lix());
        assert_eq!(v.generation(), Generation::Legacy);
        assert_eq!(v.to_string(), "2.18.3-lix");
    }

    #[test]
    fn signature_and_lfs_attributes_by_release() {
        use crate::signature::KeyTypeRules;
        let rules = |v: &str| v.parse::<NixVersion>().expect("valid").key_type_rules();
        assert_eq!(rules("2.18.1"), None);
        assert_eq!(rules("2.18.3-lix"), None);
        assert_eq!(rules("2.19.0"), Some(KeyTypeRules::WarnUnknown));
        assert_eq!(rules("2.26.3"), Some(KeyTypeRules::RejectUnknown));
        assert_eq!(rules("2.31.2"), Some(KeyTypeRules::RejectUnknown));
        assert_eq!(rules("2.32.0"), Some(KeyTypeRules::MapToOpenssh));
        let lfs = |v: &str| v.parse::<NixVersion>().expect("valid").has_lfs();
        assert!(!lfs("2.26.3") && lfs("2.27.0") && lfs("2.33pre2025") && !lfs("2.18.3-lix"));
    }

    #[test]
    fn malformed_versions_are_refused() {
        for bad in ["", "2", "two.eight", "2..8", "2.8.0.1", "2.8.0 ; rm", "v2.8"] {
            assert!(bad.parse::<NixVersion>().is_err(), "{bad:?} should be refused");
        }
    }
}
