//! Nix's base-32 encoding, as used in store paths and `sha256:<base32>` hashes.
//!
//! The alphabet is `0123456789abcdfghijklmnpqrsvwxyz` (no `e`, `o`, `u`, `t`). Unlike
//! RFC 4648 base32 the encoding starts from the *last* bit of the input: output character
//! `k` (counted from the end) holds bits `5k .. 5k+5` of the input read as a little-endian
//! number. A 32-byte SHA-256 becomes 52 characters, a 20-byte store path digest 32.
//!
//! ```
//! use nixstore::nixbase32;
//! let digest = [0u8; 20];
//! let text = nixbase32::encode(&digest);
//! assert_eq!(text, "00000000000000000000000000000000");
//! assert_eq!(nixbase32::decode(&text).expect("just encoded"), digest);
//! ```

/// The 32 characters of the alphabet, in value order.
pub const ALPHABET: &[u8; 32] = b"0123456789abcdfghijklmnpqrsvwxyz";

/// Why a string is not valid Nix base-32.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A character outside the alphabet (`e`, `o`, `u`, `t`, upper case and punctuation are not in it).
    #[error("invalid character {character:?} at position {position} in nix-base32 string {input:?} (allowed: 0-9 and a-z except e, o, u, t)")]
    InvalidCharacter {
        /// The whole input.
        input: String,
        /// The offending character.
        character: char,
        /// Its index in characters (not bytes), counting from 0.
        position: usize,
    },
    /// No byte string encodes to this many characters.
    #[error("nix-base32 string {input:?} has {len} characters, which is not the encoded length of any byte string (e.g. 32 for 20 bytes, 52 for 32 bytes)")]
    InvalidLength {
        /// The whole input.
        input: String,
        /// Its length in characters.
        len: usize,
    },
    /// The first character carries bits beyond the decoded length (Nix rejects these too).
    #[error("nix-base32 string {input:?} is not canonical: its first character {character:?} sets bits beyond the {byte_len}-byte value")]
    NonCanonical {
        /// The whole input.
        input: String,
        /// The first character, whose high bits are set.
        character: char,
        /// The decoded length in bytes.
        byte_len: usize,
    },
}

/// Number of base-32 characters that encode `byte_len` bytes: `ceil(8 * byte_len / 5)`.
pub fn encoded_len(byte_len: usize) -> usize {
    (byte_len * 8).div_ceil(5)
}

/// Encode `bytes` as Nix base-32 (same result as Nix's `printHash32`).
pub fn encode(bytes: &[u8]) -> String {
    let len = encoded_len(bytes.len());
    let mut out = String::with_capacity(len);
    for n in (0..len).rev() {
        let b = n * 5;
        let i = b / 8;
        let j = b % 8;
        let low = bytes[i] >> j;
        // Shifting in u16 keeps the j == 0 case (shift by 8) defined: it contributes no bits.
        let high = match bytes.get(i + 1) {
            Some(&next) => (u16::from(next) << (8 - j)) as u8,
            None => 0,
        };
        out.push(char::from(ALPHABET[usize::from((low | high) & 0x1f)]));
    }
    out
}

fn digit_value(c: u8) -> Option<u8> {
    ALPHABET.iter().position(|&a| a == c).map(|p| u8::try_from(p).expect("alphabet has 32 entries"))
}

/// Decode a Nix base-32 string. Rejects characters outside the alphabet, lengths that no
/// byte string encodes to, and non-canonical encodings whose first character sets bits
/// beyond the decoded length (as Nix's `parseHash32` does).
pub fn decode(s: &str) -> Result<Vec<u8>, DecodeError> {
    let mut digits = Vec::with_capacity(s.len());
    for (position, character) in s.chars().enumerate() {
        let value =
            u8::try_from(character).ok().and_then(digit_value).ok_or_else(|| DecodeError::InvalidCharacter { input: s.to_owned(), character, position })?;
        digits.push(value);
    }
    let byte_len = digits.len() * 5 / 8;
    if encoded_len(byte_len) != digits.len() {
        return Err(DecodeError::InvalidLength { input: s.to_owned(), len: digits.len() });
    }
    let mut out = vec![0u8; byte_len];
    for (n, &digit) in digits.iter().rev().enumerate() {
        let b = n * 5;
        let i = b / 8;
        let j = b % 8;
        out[i] |= digit << j;
        let carry = u16::from(digit) >> (8 - j);
        if i + 1 < byte_len {
            out[i + 1] |= carry as u8;
        } else if carry != 0 {
            return Err(DecodeError::NonCanonical { input: s.to_owned(), character: char::from(s.as_bytes()[0]), byte_len });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_match_nix() {
        // From the reference doc: SHA-256 is 52 chars, a store path digest 32.
        assert_eq!(encoded_len(32), 52);
        assert_eq!(encoded_len(20), 32);
        assert_eq!(encoded_len(0), 0);
        assert_eq!(encoded_len(1), 2);
        assert_eq!(encoded_len(5), 8);
        for n in 0..100 {
            assert_eq!(encode(&vec![0xff; n]).len(), encoded_len(n));
        }
    }

    #[test]
    fn known_vector_from_nix() {
        // `nix-hash --type sha256 --to-base32 00..01` (Nix 2.8) printed this.
        let mut bytes = [0u8; 32];
        bytes[31] = 1;
        assert_eq!(encode(&bytes), "0080000000000000000000000000000000000000000000000000");
    }

    #[test]
    fn round_trips_every_length_and_pattern() {
        let mut state = 0x1234_5678_u32;
        for len in 0..70 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (state >> 16) as u8
                })
                .collect();
            let text = encode(&bytes);
            assert!(text.bytes().all(|c| ALPHABET.contains(&c)));
            assert_eq!(decode(&text).expect("own encoding decodes"), bytes, "{text}");
        }
    }

    #[test]
    fn rejects_letters_outside_alphabet_with_position() {
        for bad in ['e', 'o', 'u', 't', 'A', '-', 'é'] {
            let mut s: Vec<char> = "00000000000000000000000000000000".chars().collect();
            s[7] = bad;
            let s: String = s.into_iter().collect();
            match decode(&s) {
                Err(DecodeError::InvalidCharacter { character, position, .. }) => {
                    assert_eq!(character, bad);
                    assert_eq!(position, 7);
                }
                other => panic!("{s}: {other:?}"),
            }
        }
        let msg = decode("0e").expect_err("e is not in the alphabet").to_string();
        assert!(msg.contains("'e'") && msg.contains("position 1"), "{msg}");
    }

    #[test]
    fn rejects_impossible_lengths() {
        for len in [1, 3, 6, 33, 51] {
            let s = "0".repeat(len);
            assert!(matches!(decode(&s), Err(DecodeError::InvalidLength { len: l, .. }) if l == len), "{len}");
        }
    }

    #[test]
    fn accepts_exactly_the_encoded_lengths() {
        let valid: Vec<usize> = (0..40).map(encoded_len).collect();
        for len in 0..60 {
            assert_eq!(decode(&"0".repeat(len)).is_ok(), valid.contains(&len), "{len}");
        }
    }

    #[test]
    fn rejects_non_canonical_first_character() {
        // 52 chars hold 260 bits; a 32-byte value only uses 256, so the first char must be < 16.
        let mut s = "1".to_owned() + &"0".repeat(51);
        assert!(decode(&s).is_ok());
        s.replace_range(0..1, "g"); // value 16
        assert!(matches!(decode(&s), Err(DecodeError::NonCanonical { byte_len: 32, .. })));
    }
}
