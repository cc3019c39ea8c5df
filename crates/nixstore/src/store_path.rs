//! Store paths: a 20-byte digest and a validated name, printed as `<32 nix-base32>-<name>`.
//!
//! ```
//! use nixstore::{hash::NixHash, store_path::{build_ca_path, StorePathName, DEFAULT_STORE_DIR}};
//! // Reference vector (from Nix): the NAR hash of an empty directory named `source`.
//! let nar_hash = NixHash::parse("sha256-pQpattmS9VmO3ZIQUFn66az8GSmB4IvYhTTCFn6SUmo=")?;
//! let name = StorePathName::new("source")?;
//! let path = build_ca_path(&name, &nar_hash, DEFAULT_STORE_DIR);
//! assert_eq!(
//!     path.to_absolute_path(DEFAULT_STORE_DIR),
//!     "/nix/store/0ccnxa25whszw7mgbgyzdm4nqc0zwnm8-source"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A `store_dir` argument is the store directory as Nix prints it: absolute, without a
//! trailing `/` (e.g. [`DEFAULT_STORE_DIR`]). It takes part in the store path digest.

use std::fmt;

use crate::hash::{sha256, NixHash};
use crate::nixbase32;

/// The store directory of a default Nix installation.
pub const DEFAULT_STORE_DIR: &str = "/nix/store";

/// Length of the digest part of a store path in nix-base32 characters.
pub const DIGEST_BASE32_LEN: usize = 32;

/// Maximum length of a store path name (Nix's `StorePath::MaxPathLen`).
pub const MAX_NAME_LEN: usize = 211;

/// Why a string is not a valid store path name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty.
    #[error("store path name is empty")]
    Empty,
    /// The name is longer than [`MAX_NAME_LEN`].
    #[error("store path name {name:?} has {len} characters; at most 211 are allowed")]
    TooLong {
        /// The offending name.
        name: String,
        /// Its length in bytes.
        len: usize,
    },
    /// The name has a character outside `[0-9A-Za-z+-._?=]`.
    #[error("store path name {name:?} has invalid character {character:?} at position {position} (allowed: 0-9 A-Z a-z + - . _ ? =)")]
    InvalidCharacter {
        /// The offending name.
        name: String,
        /// The offending character.
        character: char,
        /// Its index in characters, counting from 0.
        position: usize,
    },
}

/// A validated store path name: 1 to 211 characters of `[0-9A-Za-z+-._?=]`.
///
/// Names Nix 2.8 accepts are accepted, including `.`, `..` and names starting with `.` or
/// `-` (checked against `builtins.toFile` of Nix 2.8).
///
/// ### Deviation
/// Newer Nix releases reject the names `.` and `..` and names starting with `.-` or `..-`;
/// this type follows Nix 2.8, and [`StorePathName::check_modern`] adds the newer rule for
/// exports of the modern generation.
#[derive(Clone, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct StorePathName(String);

impl StorePathName {
    /// Validate `s` as a store path name.
    pub fn new(s: &str) -> Result<Self, NameError> {
        if s.is_empty() {
            return Err(NameError::Empty);
        }
        if let Some((position, character)) = s.chars().enumerate().find(|&(_, c)| !(c.is_ascii_alphanumeric() || "+-._?=".contains(c))) {
            return Err(NameError::InvalidCharacter { name: s.to_owned(), character, position });
        }
        if s.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong { name: s.to_owned(), len: s.len() });
        }
        Ok(StorePathName(s.to_owned()))
    }

    /// Checks the rule Nix >= 2.20 adds (`checkName` in src/libstore/path.cc of Nix 2.26):
    /// the names `.` and `..`, and names whose first dash-separated component is one of them
    /// (`.-x`, `..-x`), are refused. The error is Nix's message.
    pub fn check_modern(&self) -> Result<(), String> {
        let name = self.0.as_bytes();
        let refuse = |component: Option<&str>| match component {
            None => Err(format!("store path name '{}' is not valid for Nix >= 2.20 (name '{}' is not valid)", self.0, self.0)),
            Some(c) => Err(format!("store path name '{}' is not valid for Nix >= 2.20 (first dash-separated component must not be '{c}')", self.0)),
        };
        match name {
            [b'.'] | [b'.', b'.'] => refuse(None),
            [b'.', b'-', ..] => refuse(Some(".")),
            [b'.', b'.', b'-', ..] => refuse(Some("..")),
            _ => Ok(()),
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StorePathName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for StorePathName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for StorePathName {
    type Error = NameError;
    fn try_from(s: &str) -> Result<Self, NameError> {
        StorePathName::new(s)
    }
}

/// Why a string is not a store path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseStorePathError {
    /// The path is not directly inside the store directory.
    #[error("{path:?} is not a path directly inside the store directory {store_dir:?}")]
    NotInStore {
        /// The offending path.
        path: String,
        /// The store directory expected.
        store_dir: String,
    },
    /// The base name is too short to hold a digest, a `-` and a name.
    #[error("store path base name {base_name:?} is too short: expected 32 nix-base32 characters, `-` and a name")]
    TooShort {
        /// The offending base name.
        base_name: String,
    },
    /// The digest part is not nix-base32.
    #[error("store path base name {base_name:?} has an invalid digest: {source}")]
    BadDigest {
        /// The offending base name.
        base_name: String,
        /// The decoder's complaint.
        source: nixbase32::DecodeError,
    },
    /// The 33rd character is not `-`.
    #[error("store path base name {base_name:?} has {found:?} after the digest where `-` is expected")]
    MissingDash {
        /// The offending base name.
        base_name: String,
        /// The character found instead.
        found: char,
    },
    /// The name part is invalid.
    #[error("store path base name {base_name:?} has an invalid name: {source}")]
    BadName {
        /// The offending base name.
        base_name: String,
        /// Why the name is invalid.
        source: NameError,
    },
}

/// A store path without its store directory: digest and name.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct StorePath {
    digest: [u8; 20],
    name: StorePathName,
}

impl StorePath {
    /// Assemble a store path from its parts.
    pub fn new(digest: [u8; 20], name: StorePathName) -> Self {
        StorePath { digest, name }
    }

    /// The 20-byte digest.
    pub fn digest(&self) -> &[u8; 20] {
        &self.digest
    }

    /// The name.
    pub fn name(&self) -> &StorePathName {
        &self.name
    }

    /// `<store_dir>/<32 nix-base32>-<name>`.
    pub fn to_absolute_path(&self, store_dir: &str) -> String {
        format!("{store_dir}/{self}")
    }

    /// Parse `<32 nix-base32>-<name>` (the form [`Display`](fmt::Display) prints).
    ///
    /// ### Deviation
    /// Nix 2.8 does not check that the 33rd character is `-`; we require it.
    pub fn from_base_name(base_name: &str) -> Result<StorePath, ParseStorePathError> {
        let too_short = || ParseStorePathError::TooShort { base_name: base_name.to_owned() };
        // Split after 32 characters (not bytes) so a non-ASCII character is reported by the
        // digest decoder with its position.
        let split = base_name.char_indices().nth(DIGEST_BASE32_LEN).map(|(i, _)| i).ok_or_else(too_short)?;
        let (digest_part, rest) = base_name.split_at(split);
        let digest = nixbase32::decode(digest_part).map_err(|source| ParseStorePathError::BadDigest { base_name: base_name.to_owned(), source })?;
        let digest: [u8; 20] = digest.try_into().expect("32 nix-base32 characters decode to 20 bytes");
        let mut chars = rest.chars();
        match chars.next() {
            Some('-') => {}
            Some(found) => return Err(ParseStorePathError::MissingDash { base_name: base_name.to_owned(), found }),
            None => return Err(too_short()),
        }
        let name = StorePathName::new(chars.as_str()).map_err(|source| ParseStorePathError::BadName { base_name: base_name.to_owned(), source })?;
        Ok(StorePath { digest, name })
    }

    /// Parse `<store_dir>/<32 nix-base32>-<name>`. Paths below a store path are refused.
    pub fn from_absolute_path(path: &str, store_dir: &str) -> Result<StorePath, ParseStorePathError> {
        let not_in_store = || ParseStorePathError::NotInStore { path: path.to_owned(), store_dir: store_dir.to_owned() };
        let base_name = path.strip_prefix(store_dir).and_then(|rest| rest.strip_prefix('/')).ok_or_else(not_in_store)?;
        if base_name.contains('/') {
            return Err(not_in_store());
        }
        StorePath::from_base_name(base_name)
    }
}

impl fmt::Display for StorePath {
    /// `<32 nix-base32>-<name>`, without the store directory.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", nixbase32::encode(&self.digest), self.name)
    }
}

impl std::str::FromStr for StorePath {
    type Err = ParseStorePathError;
    /// Parses the [`Display`](fmt::Display) form, like [`StorePath::from_base_name`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StorePath::from_base_name(s)
    }
}

/// Fold a hash to `N` bytes by XOR, as Nix's `compressHash`: `out[i % N] ^= h[i]`.
fn compress<const N: usize>(hash: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, b) in hash.iter().enumerate() {
        out[i % N] ^= b;
    }
    out
}

/// The store path of a fixed-output, recursive (NAR), SHA-256 content-addressed path
/// without references, as `nix-store --add-fixed --recursive sha256` and `fetchGit` make:
/// fingerprint `source:sha256:<hex nar hash>:<store_dir>:<name>`, SHA-256 of it, folded to
/// 20 bytes.
pub fn build_ca_path(name: &StorePathName, nar_hash: &NixHash, store_dir: &str) -> StorePath {
    let fingerprint = format!("source:{}:{}:{}:{}", nar_hash.algorithm(), nar_hash.to_hex(), store_dir, name);
    StorePath { digest: compress(sha256(fingerprint.as_bytes()).digest()), name: name.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference doc vectors (from Nix): NAR hash of a directory and its `source` store path.
    const VECTORS: [(&str, &str); 2] = [
        ("sha256-pQpattmS9VmO3ZIQUFn66az8GSmB4IvYhTTCFn6SUmo=", "/nix/store/0ccnxa25whszw7mgbgyzdm4nqc0zwnm8-source"),
        ("sha256-wzlAGjxKxpaWdqVhlq55q5Gxo4Bf860+kLeEa/v02As=", "/nix/store/7llxbmi9y8sldnhf5asnzf17p6i52icx-source"),
    ];

    fn source() -> StorePathName {
        StorePathName::new("source").expect("valid name")
    }

    #[test]
    fn reference_vectors() {
        for (hash, path) in VECTORS {
            let hash = NixHash::parse(hash).expect("vector parses");
            let built = build_ca_path(&source(), &hash, DEFAULT_STORE_DIR);
            assert_eq!(built.to_absolute_path(DEFAULT_STORE_DIR), path);
            assert_eq!(StorePath::from_absolute_path(path, DEFAULT_STORE_DIR), Ok(built.clone()));
            assert_eq!(format!("{DEFAULT_STORE_DIR}/{built}"), path);
            assert_eq!(built.to_string().parse::<StorePath>(), Ok(built.clone()));
            assert_eq!(built.name().as_str(), "source");
            assert_eq!(nixbase32::encode(built.digest()), &path[11..43]);
        }
    }

    #[test]
    fn store_dir_and_name_change_the_path() {
        let hash = NixHash::parse(VECTORS[0].0).expect("vector parses");
        let a = build_ca_path(&source(), &hash, DEFAULT_STORE_DIR);
        let b = build_ca_path(&source(), &hash, "/other/store");
        let c = build_ca_path(&StorePathName::new("source2").expect("valid"), &hash, DEFAULT_STORE_DIR);
        assert_ne!(a.digest(), b.digest());
        assert_ne!(a.digest(), c.digest());
        assert_eq!(StorePath::from_absolute_path(&b.to_absolute_path("/other/store"), "/other/store"), Ok(b));
    }

    #[test]
    fn valid_names() {
        let long = "a".repeat(211);
        for name in ["a", "source", ".", "..", ".foo", "-foo", "A-Z_0.9+?=", long.as_str()] {
            assert_eq!(StorePathName::new(name).expect(name).as_str(), name);
        }
    }

    #[test]
    fn invalid_names_say_where() {
        assert_eq!(StorePathName::new(""), Err(NameError::Empty));
        let long = "a".repeat(212);
        assert!(matches!(StorePathName::new(&long), Err(NameError::TooLong { len: 212, .. })));
        for (name, character, position) in [("a b", ' ', 1), ("foo/bar", '/', 3), ("é", 'é', 0), ("x~", '~', 1), ("nul\0", '\0', 3), ("$x", '$', 0)] {
            let err = StorePathName::new(name).expect_err(name);
            assert_eq!(err, NameError::InvalidCharacter { name: name.to_owned(), character, position });
            assert!(err.to_string().contains(&format!("position {position}")), "{err}");
        }
    }

    #[test]
    fn bad_absolute_paths() {
        let good = VECTORS[0].1;
        let check = |path: &str, ok: fn(&ParseStorePathError) -> bool| {
            let err = StorePath::from_absolute_path(path, DEFAULT_STORE_DIR).expect_err(path);
            assert!(ok(&err), "{path}: {err:?}");
            assert!(err.to_string().contains(path.trim_start_matches("/nix/store/")), "{err}");
        };
        check("/nix/storex/0ccnxa25whszw7mgbgyzdm4nqc0zwnm8-source", |e| matches!(e, ParseStorePathError::NotInStore { .. }));
        check(&format!("{good}/sub"), |e| matches!(e, ParseStorePathError::NotInStore { .. }));
        check("source", |e| matches!(e, ParseStorePathError::NotInStore { .. }));
        check("/nix/store/0ccnxa25whszw7mgbgyzdm4nqc0zwnm8", |e| matches!(e, ParseStorePathError::TooShort { .. }));
        check("/nix/store/0ccnxa25whszw7mgbgyzdm4nqc0zwnm8-", |e| matches!(e, ParseStorePathError::BadName { source: NameError::Empty, .. }));
        check("/nix/store/eccnxa25whszw7mgbgyzdm4nqc0zwnm8-source", |e| matches!(e, ParseStorePathError::BadDigest { .. }));
        check("/nix/store/0ccnxa25whszw7mgbgyzdm4nqc0zwnm8_source", |e| matches!(e, ParseStorePathError::MissingDash { found: '_', .. }));
        check("/nix/store/0ccnxa25whszw7mgbgyzdm4nqc0zwnm8-so urce", |e| {
            matches!(e, ParseStorePathError::BadName { source: NameError::InvalidCharacter { position: 2, .. }, .. })
        });
        check("/nix/store/0ccnxa25whszw7mgbgyzdm4nqc0zwnmé-source", |e| {
            matches!(e, ParseStorePathError::BadDigest { source: nixbase32::DecodeError::InvalidCharacter { character: 'é', position: 31, .. }, .. })
        });
    }
}
