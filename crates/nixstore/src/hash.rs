//! Content hashes in Nix's textual forms, and a hashing [`Write`] adaptor.
//!
//! ```
//! use nixstore::hash::{sha256, NixHash};
//! let h = sha256(b"");
//! assert_eq!(h.to_sri(), "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
//! assert_eq!(NixHash::parse(&h.to_typed_base32()).expect("own output parses"), h);
//! ```

use std::fmt;
use std::io::{self, Write};

use data_encoding::{BASE64, HEXLOWER, HEXLOWER_PERMISSIVE};
use sha2::{Digest, Sha256};

use crate::nixbase32;

/// A hash as Nix records it: the algorithm and the digest. Only SHA-256 is needed by
/// `fetchGit` (`narHash`), so it is the only variant for now.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum NixHash {
    /// A SHA-256 digest.
    Sha256([u8; 32]),
}

/// Why a string is not a hash Nix would accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseHashError {
    /// The `<algo>-` or `<algo>:` prefix names an algorithm we do not support.
    #[error("unsupported hash algorithm {algorithm:?} in {input:?} (only sha256 is supported)")]
    UnsupportedAlgorithm {
        /// The whole input.
        input: String,
        /// The algorithm name found.
        algorithm: String,
    },
    /// The digest part has a length that matches none of the encodings.
    #[error("hash {input:?} has a digest of {len} characters; a sha256 digest is 52 (nix-base32), 64 (hex) or 44 (base64) characters")]
    BadLength {
        /// The whole input.
        input: String,
        /// Length of the digest part in characters.
        len: usize,
    },
    /// The digest part has the right length for an encoding but is not valid in it.
    #[error("hash {input:?} is not valid {encoding}: {reason}")]
    BadEncoding {
        /// The whole input.
        input: String,
        /// Which encoding was tried (chosen by length or by the SRI form).
        encoding: &'static str,
        /// What the decoder said.
        reason: String,
    },
}

/// Length of a padded base64 SHA-256 digest.
const SHA256_BASE64_LEN: usize = 44;

impl NixHash {
    /// The algorithm name as Nix spells it (`sha256`).
    pub fn algorithm(&self) -> &'static str {
        match self {
            NixHash::Sha256(_) => "sha256",
        }
    }

    /// The raw digest bytes.
    pub fn digest(&self) -> &[u8] {
        match self {
            NixHash::Sha256(d) => d,
        }
    }

    /// SRI form, `sha256-<base64 with padding>`, as in `narHash`.
    pub fn to_sri(&self) -> String {
        format!("{}-{}", self.algorithm(), BASE64.encode(self.digest()))
    }

    /// Nix base-32 digest without prefix (52 characters for SHA-256).
    pub fn to_nix_base32(&self) -> String {
        nixbase32::encode(self.digest())
    }

    /// Lower-case hex digest without prefix.
    pub fn to_hex(&self) -> String {
        HEXLOWER.encode(self.digest())
    }

    /// `sha256:<nix-base32>`, the form `nix-hash --type sha256 --base32` uses with a prefix.
    pub fn to_typed_base32(&self) -> String {
        format!("{}:{}", self.algorithm(), self.to_nix_base32())
    }

    /// Parse any form Nix accepts for a SHA-256:
    /// SRI `sha256-<base64>` (padding optional), `sha256:` followed by nix-base32, hex or
    /// base64 (chosen by length), or a bare 52-character nix-base32 / 64-character hex digest.
    /// Hex may be upper or lower case.
    pub fn parse(s: &str) -> Result<NixHash, ParseHashError> {
        if let Some((algorithm, rest)) = s.split_once(':') {
            check_algorithm(s, algorithm)?;
            return decode_by_length(s, rest, true);
        }
        if let Some((algorithm, rest)) = s.split_once('-') {
            check_algorithm(s, algorithm)?;
            let padded;
            let rest = if rest.len() == SHA256_BASE64_LEN - 1 {
                padded = format!("{rest}=");
                padded.as_str()
            } else {
                rest
            };
            return decode_base64(s, rest);
        }
        decode_by_length(s, s, false)
    }

    /// Parses an SRI hash exactly as Nix's `Hash::parseSRI` reads a fetcher's `narHash`
    /// (unchanged from 2.8 to 2.26): `<algo>-<base64>`, the base64 decoded leniently (decoding
    /// stops at the first `=`, newlines are skipped, bits beyond the last whole byte are
    /// dropped), then the digest length checked. So `sha256-…G9=` and `sha256-…G8=`, which differ
    /// only in bits no byte holds, are the same hash, as Nix's own fetchGit test relies on.
    /// Algorithms other than sha256 are refused (Nix: "narHash must use SHA-256").
    pub fn parse_sri_as_nix(s: &str) -> Result<NixHash, ParseHashError> {
        let bad = |reason: String| ParseHashError::BadEncoding { input: s.to_owned(), encoding: "SRI", reason };
        let (algorithm, digest) = s.split_once('-').ok_or_else(|| bad("hash is not SRI (<algorithm>-<base64>)".into()))?;
        if !["md5", "sha1", "sha256", "sha512"].contains(&algorithm) {
            return Err(bad(format!("unknown hash algorithm '{algorithm}'")));
        }
        check_algorithm(s, algorithm)?;
        let mut bytes = Vec::with_capacity(32);
        let (mut bits, mut acc) = (0u32, 0u32);
        for c in digest.bytes() {
            match c {
                b'=' => break,
                b'\n' => continue,
                _ => {}
            }
            let value = BASE64_ALPHABET.iter().position(|&a| a == c).ok_or_else(|| bad(format!("invalid character in Base64 string: '{}'", c as char)))?;
            acc = (acc << 6 | value as u32) & 0xffff;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                bytes.push((acc >> bits) as u8);
            }
        }
        to_array(s, "SRI", bytes)
    }
}

const BASE64_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn check_algorithm(input: &str, algorithm: &str) -> Result<(), ParseHashError> {
    if algorithm == "sha256" {
        Ok(())
    } else {
        Err(ParseHashError::UnsupportedAlgorithm { input: input.to_owned(), algorithm: algorithm.to_owned() })
    }
}

fn to_array(input: &str, encoding: &'static str, bytes: Vec<u8>) -> Result<NixHash, ParseHashError> {
    let len = bytes.len();
    let array: [u8; 32] = bytes.try_into().map_err(|_| ParseHashError::BadEncoding {
        input: input.to_owned(),
        encoding,
        reason: format!("decodes to {len} bytes, expected 32"),
    })?;
    Ok(NixHash::Sha256(array))
}

fn decode_base64(input: &str, digest: &str) -> Result<NixHash, ParseHashError> {
    if digest.len() != SHA256_BASE64_LEN {
        return Err(ParseHashError::BadLength { input: input.to_owned(), len: digest.chars().count() });
    }
    let bytes =
        BASE64.decode(digest.as_bytes()).map_err(|e| ParseHashError::BadEncoding { input: input.to_owned(), encoding: "base64", reason: e.to_string() })?;
    to_array(input, "base64", bytes)
}

fn decode_by_length(input: &str, digest: &str, allow_base64: bool) -> Result<NixHash, ParseHashError> {
    let (encoding, decoded) = match digest.len() {
        52 => ("nix-base32", nixbase32::decode(digest).map_err(|e| e.to_string())),
        64 => ("hex", HEXLOWER_PERMISSIVE.decode(digest.as_bytes()).map_err(|e| e.to_string())),
        SHA256_BASE64_LEN if allow_base64 => return decode_base64(input, digest),
        _ => return Err(ParseHashError::BadLength { input: input.to_owned(), len: digest.chars().count() }),
    };
    let bytes = decoded.map_err(|reason| ParseHashError::BadEncoding { input: input.to_owned(), encoding, reason })?;
    to_array(input, encoding, bytes)
}

impl fmt::Display for NixHash {
    /// The SRI form, like [`NixHash::to_sri`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_sri())
    }
}

impl std::str::FromStr for NixHash {
    type Err = ParseHashError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NixHash::parse(s)
    }
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> NixHash {
    NixHash::Sha256(Sha256::digest(bytes).into())
}

/// [`Write`] adaptor that SHA-256-hashes and counts every byte written, forwarding it to
/// `inner` (use [`io::sink()`] to only hash). Only bytes the inner writer accepted are hashed.
#[derive(Debug)]
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wrap `inner`.
    pub fn new(inner: W) -> Self {
        HashingWriter { inner, hasher: Sha256::new(), count: 0 }
    }

    /// The hash and number of bytes written so far, and the inner writer.
    /// Does not flush `inner`.
    pub fn finish(self) -> (NixHash, u64, W) {
        (NixHash::Sha256(self.hasher.finalize().into()), self.count, self.inner)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference doc vector: NAR hash of an empty directory (from Nix).
    const EMPTY_DIR_SRI: &str = "sha256-pQpattmS9VmO3ZIQUFn66az8GSmB4IvYhTTCFn6SUmo=";

    #[test]
    fn all_forms_round_trip() {
        let h = NixHash::parse(EMPTY_DIR_SRI).expect("reference vector parses");
        assert_eq!(h.to_sri(), EMPTY_DIR_SRI);
        assert_eq!(h.to_string(), EMPTY_DIR_SRI);
        assert_eq!(h.to_nix_base32().len(), 52);
        assert_eq!(h.to_hex().len(), 64);
        let base64 = EMPTY_DIR_SRI.trim_start_matches("sha256-");
        for form in [
            h.to_sri(),
            h.to_typed_base32(),
            h.to_nix_base32(),
            h.to_hex(),
            h.to_hex().to_uppercase(),
            format!("sha256:{}", h.to_hex()),
            format!("sha256:{base64}"),
            format!("sha256-{}", base64.trim_end_matches('=')),
        ] {
            assert_eq!(NixHash::parse(&form), Ok(h), "{form}");
            assert_eq!(form.parse::<NixHash>(), Ok(h), "{form}");
        }
        assert_eq!(h.digest(), &BASE64.decode(base64.as_bytes()).expect("valid base64")[..]);
    }

    /// The two narHash values of Nix's tests/fetchGit.sh (2.8.0 and master): non-canonical
    /// trailing bits that Nix accepts; both name the same digest as the canonical form.
    #[test]
    fn sri_is_read_as_nix_reads_it() {
        let canonical = NixHash::parse("sha256-Hr8g6AqANb3xqX28eu1XnjK/3ab8Gv6TJSnkb1LezG8=").expect("canonical");
        for form in [
            "sha256-Hr8g6AqANb3xqX28eu1XnjK/3ab8Gv6TJSnkb1LezG9=",
            "sha256-Hr8g6AqANb3xqX28eu1XnjK/3ab8Gv6TJSnkb1LezG8",
            "sha256-Hr8g6AqANb3xqX28eu1XnjK/3ab8Gv6TJSnkb1LezG8=ignored",
        ] {
            assert_eq!(NixHash::parse_sri_as_nix(form), Ok(canonical), "{form}");
        }
        assert!(NixHash::parse("sha256-Hr8g6AqANb3xqX28eu1XnjK/3ab8Gv6TJSnkb1LezG9=").is_err(), "the strict parser refuses it");
        let h = sha256(b"x");
        assert_eq!(NixHash::parse_sri_as_nix(&h.to_sri()), Ok(h));
        for bad in ["sha256:abc", "md6-AAAA", "sha256-AAAA", "sha256-A*AA", &format!("sha512-{}", BASE64.encode(&[0; 64]))] {
            assert!(NixHash::parse_sri_as_nix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sha256_matches_known_digest() {
        assert_eq!(sha256(b"abc").to_hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn parse_errors_name_the_problem() {
        let h = sha256(b"x");
        type Check = fn(&ParseHashError) -> bool;
        let cases: Vec<(String, Check)> = vec![
            (format!("md5:{}", h.to_hex()), |e| matches!(e, ParseHashError::UnsupportedAlgorithm { algorithm, .. } if algorithm == "md5")),
            (format!("sha1-{}", BASE64.encode(h.digest())), |e| matches!(e, ParseHashError::UnsupportedAlgorithm { algorithm, .. } if algorithm == "sha1")),
            ("abc".to_owned(), |e| matches!(e, ParseHashError::BadLength { len: 3, .. })),
            (BASE64.encode(h.digest()), |e| matches!(e, ParseHashError::BadLength { len: 44, .. })),
            ("sha256-AAAA".to_owned(), |e| matches!(e, ParseHashError::BadLength { len: 4, .. })),
            (format!("sha256:{}", "g".repeat(64)), |e| matches!(e, ParseHashError::BadEncoding { encoding: "hex", .. })),
            (format!("sha256:{}", "e".repeat(52)), |e| matches!(e, ParseHashError::BadEncoding { encoding: "nix-base32", .. })),
            (format!("sha256-{}", "!".repeat(44)), |e| matches!(e, ParseHashError::BadEncoding { encoding: "base64", .. })),
            // 33 bytes in base64 is 44 chars without padding: right length, wrong size.
            (format!("sha256:{}", BASE64.encode(&[7u8; 33])), |e| matches!(e, ParseHashError::BadEncoding { encoding: "base64", .. })),
        ];
        for (input, check) in cases {
            let err = NixHash::parse(&input).expect_err(&input);
            assert!(check(&err), "{input}: {err:?}");
            assert!(err.to_string().contains(&input), "{err}");
        }
    }

    #[test]
    fn hashing_writer_hashes_counts_and_forwards() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut w = HashingWriter::new(Vec::new());
        for chunk in data.chunks(777) {
            w.write_all(chunk).expect("vec write");
        }
        w.flush().expect("vec flush");
        let (h, n, inner) = w.finish();
        assert_eq!(h, sha256(&data));
        assert_eq!(n, data.len() as u64);
        assert_eq!(inner, data);
    }

    #[test]
    fn hashing_writer_only_hashes_accepted_bytes() {
        let mut buf = [0u8; 5];
        let mut w = HashingWriter::new(&mut buf[..]);
        assert!(w.write_all(b"hello world").is_err());
        let (h, n, _) = w.finish();
        assert_eq!((h, n), (sha256(b"hello"), 5));
    }
}
