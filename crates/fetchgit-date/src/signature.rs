//! Commit signature checks as `builtins.fetchGit` makes them: `verifyCommit`, `publicKey`,
//! `keytype` and `publicKeys` (Nix >= 2.19, behind the `verified-fetches` experimental feature).
//!
//! Nix writes every key as a line `* <keytype> <key>` of a temporary allowed-signers file and
//! runs `git verify-commit`, which hands SSH signatures to `ssh-keygen -Y find-principals` and
//! `ssh-keygen -Y verify -n git`; it accepts the commit only when git says
//! `Good "git" signature for * with …`. We check the same things in-process, with the `ssh-key`
//! crate, and never run git or ssh-keygen:
//! - the signature is git's: every `gpgsig` header line of the raw commit, and the payload is
//!   the commit without them (git's `parse_buffer_signed_by_header`, reproduced below);
//! - only SSH signatures (`-----BEGIN SSH SIGNATURE-----`) can pass. For OpenPGP and X.509
//!   signatures git runs gpg/gpgsm, whose output never contains that line, so Nix always
//!   refuses them: we do too, saying so, and need no GPG keys;
//! - a key counts when OpenSSH can read its allowed-signers line: the key type Nix writes must be
//!   one OpenSSH knows and must be the type of the decoded key. Lines OpenSSH cannot read are
//!   skipped (`check_allowed_keys_line` reports them as "not found"), so with Nix 2.20 to 2.31
//!   `ssh-ecdsa`, `ssh-dsa` and the `-sk` types never match anything, and from 2.32 the `-sk`
//!   types are written as OpenSSH's `sk-…@openssh.com` names (NixOS/nix#13885);
//! - the signer must equal one such key; the namespace must be `git`; the hash `sha256` or
//!   `sha512`; RSA signatures `rsa-sha2-256`/`rsa-sha2-512`; and the signature must verify over
//!   OpenSSH's signed data (empty reserved field, as `sshsig_wrap_verify` builds it).
//!
//! ### Deviation
//! - RSA keys must have 2048 to 4096 bits (OpenSSH accepts 1024 to 16384): a commit signed by
//!   such a key is refused with an error that says so, never accepted.
//! - A `publicKey` holding whitespace (a whole `.pub` line) is refused: OpenSSH would re-read the
//!   line with the key type taken as an option, which this module does not model.
//! - Nix 2.19 passes an unknown key type to OpenSSH unchanged (with a warning): types OpenSSH
//!   knows besides `ssh-ed25519` and `ssh-rsa` (`ecdsa-sha2-nistp256`, …) then depend on the
//!   machine's OpenSSH, and are refused.
//! - Nix requires the `verified-fetches` experimental feature; the CLI needs no such switch.

use gix::ObjectId;
use serde::Deserialize;
use ssh_key::public::KeyData;
use ssh_key::{Algorithm, HashAlg, SshSig};

/// The key type a `publicKey` (or a `publicKeys` entry without `type`) has.
pub const DEFAULT_KEY_TYPE: &str = "ssh-ed25519";

/// The key types Nix accepts in `keytype` and `publicKeys[].type`, in Nix's order.
pub const NIX_KEY_TYPES: [&str; 6] = ["ssh-dsa", "ssh-ecdsa", "ssh-ecdsa-sk", "ssh-ed25519", "ssh-ed25519-sk", "ssh-rsa"];

/// One key a commit may be signed with: fetchGit's `{ type; key; }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
pub struct PublicKey {
    /// One of [`NIX_KEY_TYPES`] (default [`DEFAULT_KEY_TYPE`]).
    #[serde(rename = "type", default = "default_key_type")]
    pub key_type: String,
    /// The base64 key, the second field of a `.pub` file.
    pub key: String,
}

fn default_key_type() -> String {
    DEFAULT_KEY_TYPE.to_owned()
}

/// What fetchGit's `verifyCommit`, `publicKey`, `keytype` and `publicKeys` ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct CommitVerification {
    /// `verifyCommit`, when given.
    pub verify_commit: Option<bool>,
    /// `publicKeys`, then `publicKey` (with `keytype`), in the order Nix lists them.
    pub public_keys: Vec<PublicKey>,
}

impl CommitVerification {
    /// Whether the fetched commit must be verified: `verifyCommit`, by default true exactly when
    /// keys were given (Nix's `value_or(!publicKeys.empty())`).
    pub fn required(&self) -> bool {
        self.verify_commit.unwrap_or(!self.public_keys.is_empty())
    }
}

/// Parses `publicKeys` written as JSON, `[{"type": "ssh-rsa", "key": "AAAA…"}, {"key": "…"}]`,
/// which is how Nix itself carries the attribute.
pub fn parse_public_keys(json: &str) -> Result<Vec<PublicKey>, SignatureError> {
    serde_json::from_str(json).map_err(|err| SignatureError::PublicKeysJson(err.to_string()))
}

/// How a Nix release treats the key type of each key (see [`crate::nix_version::NixVersion::key_type_rules`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyTypeRules {
    /// Nix 2.19: an unknown type is a warning, and written to the allowed-signers file as is.
    WarnUnknown,
    /// Nix 2.20 to 2.31: an unknown type is an error ("Unknown key type"); types are written as is.
    RejectUnknown,
    /// Nix 2.32 and 2.33: an unknown type is an error ("Invalid SSH key type"); `-sk` types are
    /// written as OpenSSH's names.
    MapToOpenssh,
    /// Nix >= 2.34: as [`KeyTypeRules::MapToOpenssh`], and a key that Nix's own base64 decoder
    /// refuses is an error (before, its fingerprint was taken of nothing and the key was ignored).
    MapToOpensshDecodeKeys,
}

/// A verified commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The commit.
    pub commit: ObjectId,
    /// `SHA256:…` of the key that signed it.
    pub fingerprint: String,
    /// Warnings Nix prints on the way (unknown key types, with Nix 2.19).
    pub warnings: Vec<String>,
}

/// Why a commit did not verify, or the keys cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// `publicKeys` is not a JSON list of `{type?, key}` objects.
    #[error("publicKeys must be a list of {{ type = \"ssh-ed25519\"; key = \"AAAA…\"; }} entries (type is optional): {0}")]
    PublicKeysJson(String),
    /// A key type Nix 2.20 to 2.31 refuses.
    #[error("Unknown key type '{key_type}': use one of {}", NIX_KEY_TYPES.join(", "))]
    UnknownKeyType {
        /// The type given.
        key_type: String,
    },
    /// A key type Nix >= 2.32 refuses.
    #[error("Invalid SSH key type '{key_type}' in publicKeys: use one of {}", NIX_KEY_TYPES.join(", "))]
    InvalidKeyType {
        /// The type given.
        key_type: String,
    },
    /// A key this module cannot judge the way OpenSSH would (see the module's deviations).
    #[error("public key '{key}' (type '{key_type}') is not supported: {reason}")]
    UnsupportedKey {
        /// The key type.
        key_type: String,
        /// The key, shortened.
        key: String,
        /// Why.
        reason: &'static str,
    },
    /// The commit cannot be read.
    #[error("cannot read commit {commit}: {reason}")]
    Read {
        /// The commit.
        commit: ObjectId,
        /// What failed.
        reason: String,
    },
    /// The commit carries no signature.
    #[error("Commit signature verification on commit {commit} failed: the commit is not signed (expected a signature by {expected})")]
    Unsigned {
        /// The commit.
        commit: ObjectId,
        /// The fingerprints of the keys given.
        expected: String,
    },
    /// An OpenPGP or X.509 signature, or a header git cannot classify.
    #[error(
        "Commit signature verification on commit {commit} failed: the commit has {kind}, and Nix verifies only SSH signatures (-----BEGIN SSH SIGNATURE-----)"
    )]
    NotSsh {
        /// The commit.
        commit: ObjectId,
        /// "an OpenPGP signature", …
        kind: &'static str,
    },
    /// The SSH signature cannot be decoded.
    #[error("Commit signature verification on commit {commit} failed: its SSH signature is malformed: {reason}")]
    Malformed {
        /// The commit.
        commit: ObjectId,
        /// What is wrong.
        reason: String,
    },
    /// No key was given, but verification was asked for.
    #[error("Commit signature verification on commit {commit} failed: signed by key {signer}, but verifyCommit is set and no public keys were given")]
    NoKeys {
        /// The commit.
        commit: ObjectId,
        /// The signer's fingerprint.
        signer: String,
    },
    /// Signed by a key that is not in the list (or whose line OpenSSH cannot read).
    #[error(
        "Commit signature verification on commit {commit} failed: signed by key {signer}, which is not among the public keys ({listed}): No principal matched"
    )]
    NotListed {
        /// The commit.
        commit: ObjectId,
        /// The signer's fingerprint.
        signer: String,
        /// The keys given, with the reason a key was skipped.
        listed: String,
    },
    /// Signed by a listed key, but the signature does not verify.
    #[error("Commit signature verification on commit {commit} failed: the signature by key {signer} does not verify: {reason}")]
    BadSignature {
        /// The commit.
        commit: ObjectId,
        /// The signer's fingerprint.
        signer: String,
        /// Why.
        reason: String,
    },
    /// A key Nix >= 2.34 cannot base64-decode to compute its fingerprint.
    #[error("invalid character in Base64 string: '{character}' (while decoding public key '{key}' used for git signature)")]
    KeyNotBase64 {
        /// The key, shortened.
        key: String,
        /// The first character Nix's decoder refuses.
        character: char,
    },
}

/// The first character of `key` that Nix's `base64::decode` refuses (src/libutil/base-n.cc at
/// 2.34.8): it stops at the first `=`, skips `\n` and takes only the 64 digits.
fn nix_base64_refuses(key: &str) -> Option<char> {
    key.chars().take_while(|&c| c != '=').find(|&c| c != '\n' && !(c.is_ascii_alphanumeric() || c == '+' || c == '/'))
}

/// Checks that `commit` carries an SSH signature by one of `keys`, as Nix under `rules` would.
pub fn verify_commit(repo: &gix::Repository, commit: ObjectId, keys: &[PublicKey], rules: KeyTypeRules) -> Result<Verified, SignatureError> {
    let mut warnings = Vec::new();
    // Nix checks the key types before it runs git, whatever the commit holds.
    let entries = keys.iter().map(|key| AllowedKey::new(key, rules, &mut warnings)).collect::<Result<Vec<_>, _>>()?;
    // Nix >= 2.34 decodes every key for the fingerprints it looks for in git's output, after
    // running git and before looking at what git said: a bad key fails whatever the commit holds.
    if rules == KeyTypeRules::MapToOpensshDecodeKeys {
        if let Some((key, character)) = keys.iter().find_map(|k| nix_base64_refuses(&k.key).map(|c| (k, c))) {
            return Err(SignatureError::KeyNotBase64 { key: shorten(&key.key), character });
        }
    }
    let object = repo.find_object(commit).map_err(|err| SignatureError::Read { commit, reason: crate::error_chain(&err) })?;
    if object.kind != gix::objs::Kind::Commit {
        return Err(SignatureError::Read { commit, reason: format!("it is a {}, not a commit", object.kind) });
    }
    let Some(SignedCommit { signature, payload }) = split_signature(&object.data) else {
        let expected = if entries.is_empty() { "any key (none given)".to_owned() } else { describe(&entries) };
        return Err(SignatureError::Unsigned { commit, expected });
    };
    let sig = match format_of(&signature) {
        SignatureFormat::Ssh => decode_ssh_signature(&signature).map_err(|reason| SignatureError::Malformed { commit, reason })?,
        SignatureFormat::Other(kind) => return Err(SignatureError::NotSsh { commit, kind }),
    };
    let signer_key = sig.public_key();
    let signer = fingerprint(signer_key);
    if entries.is_empty() {
        return Err(SignatureError::NoKeys { commit, signer });
    }
    if !entries.iter().any(|entry| entry.key.as_ref().is_ok_and(|key| key == signer_key)) {
        return Err(SignatureError::NotListed { commit, signer, listed: describe(&entries) });
    }
    let bad = |reason: String| SignatureError::BadSignature { commit, signer: signer.clone(), reason };
    if sig.namespace() != "git" {
        return Err(bad(format!("it was made for namespace '{}', not 'git'", sig.namespace())));
    }
    if let Some(rsa) = signer_key.rsa() {
        let bits = rsa.n.as_positive_bytes().map_or(0, |n| n.len() * 8);
        if !(2048..=4096).contains(&bits) {
            return Err(bad(format!("it is a {bits}-bit RSA key; only 2048 to 4096 bits are supported (OpenSSH accepts 1024 to 16384)")));
        }
    }
    let signed_data = SshSig::signed_data("git", sig.hash_alg(), &payload).map_err(|err| bad(err.to_string()))?;
    signature::Verifier::verify(signer_key, &signed_data, sig.signature()).map_err(|_| bad("incorrect signature".to_owned()))?;
    Ok(Verified { commit, fingerprint: signer, warnings })
}

/// One line of the allowed-signers file Nix writes, read the way OpenSSH reads it.
struct AllowedKey {
    /// The key, or why OpenSSH skips the line.
    key: Result<KeyData, String>,
    /// The fingerprint of the decoded key, if it decodes.
    fingerprint: Option<String>,
    /// The key as given, for messages.
    given: String,
}

impl AllowedKey {
    fn new(key: &PublicKey, rules: KeyTypeRules, warnings: &mut Vec<String>) -> Result<AllowedKey, SignatureError> {
        let known = NIX_KEY_TYPES.contains(&key.key_type.as_str());
        let token = match rules {
            KeyTypeRules::WarnUnknown => {
                if !known {
                    warnings.push(format!("Unknown keytype: {} (use one of {})", key.key_type, NIX_KEY_TYPES.join(", ")));
                }
                key.key_type.as_str()
            }
            KeyTypeRules::RejectUnknown if !known => return Err(SignatureError::UnknownKeyType { key_type: key.key_type.clone() }),
            KeyTypeRules::RejectUnknown => key.key_type.as_str(),
            KeyTypeRules::MapToOpenssh | KeyTypeRules::MapToOpensshDecodeKeys => match key.key_type.as_str() {
                _ if !known => return Err(SignatureError::InvalidKeyType { key_type: key.key_type.clone() }),
                "ssh-ecdsa-sk" => "sk-ecdsa-sha2-nistp256@openssh.com",
                "ssh-ed25519-sk" => "sk-ssh-ed25519@openssh.com",
                other => other,
            },
        };
        let unsupported = |reason| SignatureError::UnsupportedKey { key_type: key.key_type.clone(), key: shorten(&key.key), reason };
        if key.key.chars().any(char::is_whitespace) {
            return Err(unsupported("give the base64 key alone, without its type or comment"));
        }
        let algorithm = match token {
            "ssh-ed25519" => Algorithm::Ed25519,
            "ssh-rsa" => Algorithm::Rsa { hash: None },
            "sk-ssh-ed25519@openssh.com" => Algorithm::SkEd25519,
            "sk-ecdsa-sha2-nistp256@openssh.com" => Algorithm::SkEcdsaSha2NistP256,
            other if ["ssh-dss", "ecdsa-sha2-", "rsa-sha2-", "sk-"].iter().any(|p| other.starts_with(p)) || other.contains("-cert-v") => {
                return Err(unsupported("with Nix 2.19 this type reaches OpenSSH unchanged, and whether it verifies depends on the OpenSSH version"));
            }
            other => {
                let reason = format!("OpenSSH knows no key type '{other}' (the type Nix writes for '{}'), so it skips this key", key.key_type);
                return Ok(AllowedKey { fingerprint: decode_key(&key.key).ok().map(|k| fingerprint(&k)), key: Err(reason), given: shorten(&key.key) });
            }
        };
        let decoded = decode_key(&key.key);
        let fingerprint = decoded.as_ref().ok().map(fingerprint);
        let key_data = decoded.and_then(|data| {
            if data.algorithm() == algorithm {
                Ok(data)
            } else {
                Err(format!("it is a {} key, not {token}, so OpenSSH skips it", data.algorithm()))
            }
        });
        Ok(AllowedKey { key: key_data, fingerprint, given: shorten(&key.key) })
    }
}

/// Decodes a base64 public key blob as OpenSSH's `sshkey_read` does: strict base64, one key of a
/// known type, nothing after it.
fn decode_key(base64: &str) -> Result<KeyData, String> {
    let blob = data_encoding::BASE64.decode(base64.as_bytes()).map_err(|err| format!("it is not base64 ({err}), so OpenSSH skips it"))?;
    decode_all::<KeyData>(&blob).map_err(|err| format!("it is not an SSH public key ({err}), so OpenSSH skips it"))
}

fn decode_all<T: ssh_encoding::Decode<Error = ssh_key::Error>>(mut bytes: &[u8]) -> Result<T, String> {
    use ssh_encoding::Reader;
    let value = T::decode(&mut bytes).map_err(|err| err.to_string())?;
    if !bytes.is_finished() {
        return Err("trailing data".to_owned());
    }
    Ok(value)
}

fn fingerprint(key: &KeyData) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

fn shorten(key: &str) -> String {
    match key.char_indices().nth(24) {
        Some((end, _)) => format!("{}…", &key[..end]),
        None => key.to_owned(),
    }
}

fn describe(entries: &[AllowedKey]) -> String {
    entries
        .iter()
        .map(|entry| {
            let name = entry.fingerprint.clone().unwrap_or_else(|| format!("'{}'", entry.given));
            match &entry.key {
                Ok(_) => name,
                Err(reason) => format!("{name}: {reason}"),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A commit split the way `git verify-commit` splits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCommit {
    /// The signature: the `gpgsig` header's value, continuation lines joined.
    pub signature: Vec<u8>,
    /// What was signed: the commit without its signature headers.
    pub payload: Vec<u8>,
}

/// git's `parse_buffer_signed_by_header` for a SHA-1 repository: the lines of every `gpgsig`
/// header form the signature; they and any other `gpgsig*` header (`gpgsig-sha256`) are left out
/// of the payload; the message is copied whole. `None` when there is no `gpgsig` header.
pub fn split_signature(commit: &[u8]) -> Option<SignedCommit> {
    const HEADER: &[u8] = b"gpgsig";
    let (mut signature, mut payload) = (Vec::new(), Vec::new());
    let (mut in_signature, mut saw_signature, mut other_signature) = (false, false, false);
    let mut rest = commit;
    while !rest.is_empty() {
        let end = rest.iter().position(|&b| b == b'\n').map_or(rest.len(), |i| i + 1);
        let line = &rest[..end];
        let sig = if in_signature && line.first() == Some(&b' ') {
            Some(&line[1..])
        } else if line.starts_with(HEADER) && line.get(HEADER.len()) == Some(&b' ') {
            other_signature = false;
            Some(&line[HEADER.len() + 1..])
        } else {
            if line.starts_with(HEADER) {
                other_signature = true;
            } else if other_signature && line.first() != Some(&b' ') {
                other_signature = false;
            }
            None
        };
        match sig {
            Some(sig) => {
                signature.extend_from_slice(sig);
                saw_signature = true;
                in_signature = true;
                rest = &rest[end..];
            }
            None => {
                // An empty line starts the message: the rest is copied as it is.
                let end = if line.first() == Some(&b'\n') { rest.len() } else { end };
                if !other_signature {
                    payload.extend_from_slice(&rest[..end]);
                }
                in_signature = false;
                rest = &rest[end..];
            }
        }
    }
    saw_signature.then_some(SignedCommit { signature, payload })
}

enum SignatureFormat {
    Ssh,
    Other(&'static str),
}

/// git's `get_format_by_sig`: the signature's first bytes name its format.
fn format_of(signature: &[u8]) -> SignatureFormat {
    if signature.starts_with(b"-----BEGIN SSH SIGNATURE-----") {
        SignatureFormat::Ssh
    } else if signature.starts_with(b"-----BEGIN PGP SIGNATURE-----") || signature.starts_with(b"-----BEGIN PGP MESSAGE-----") {
        SignatureFormat::Other("an OpenPGP (GPG) signature")
    } else if signature.starts_with(b"-----BEGIN SIGNED MESSAGE-----") {
        SignatureFormat::Other("an X.509 (gpgsm) signature")
    } else {
        SignatureFormat::Other("a signature header of no known format (git refuses it as 'bad/incompatible')")
    }
}

/// OpenSSH's `sshsig_dearmor` and signature parsing: the header line, base64 up to the first
/// `\n-----END SSH SIGNATURE-----` (whitespace skipped), then an SSHSIG blob with nothing after it.
fn decode_ssh_signature(armored: &[u8]) -> Result<SshSig, String> {
    const BEGIN: &[u8] = b"-----BEGIN SSH SIGNATURE-----";
    const END: &[u8] = b"\n-----END SSH SIGNATURE-----";
    let body = &armored[BEGIN.len()..];
    let body = body.strip_prefix(b"\r\n").or_else(|| body.strip_prefix(b"\n")).ok_or("no end of line after the header")?;
    let end = body.windows(END.len()).position(|w| w == END).ok_or("missing footer")?;
    let base64: Vec<u8> = body[..end].iter().copied().filter(|b| !b" \t\n\r\x0b\x0c".contains(b)).collect();
    let blob = data_encoding::BASE64.decode(&base64).map_err(|err| format!("bad base64: {err}"))?;
    decode_all::<SshSig>(&blob)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_follows_git_for_other_headers_and_the_message() {
        let commit = b"tree 1\nparent 2\nauthor a\ncommitter c\ngpgsig -----BEGIN SSH SIGNATURE-----\n abc\n -----END SSH SIGNATURE-----\ngpgsig-sha256 xyz\n more\nencoding x\n\nmessage\ngpgsig not a header\n";
        let split = split_signature(commit).expect("signed");
        assert_eq!(split.signature, b"-----BEGIN SSH SIGNATURE-----\nabc\n-----END SSH SIGNATURE-----\n");
        assert_eq!(split.payload, b"tree 1\nparent 2\nauthor a\ncommitter c\nencoding x\n\nmessage\ngpgsig not a header\n");
        assert!(split_signature(b"tree 1\nauthor a\n\ngpgsig -----BEGIN\n").is_none(), "a message line is no header");
    }

    #[test]
    fn verification_is_required_by_keys_or_by_verify_commit() {
        let key = PublicKey { key_type: DEFAULT_KEY_TYPE.into(), key: "AAAA".into() };
        assert!(!CommitVerification::default().required());
        assert!(CommitVerification { verify_commit: None, public_keys: vec![key.clone()] }.required());
        assert!(!CommitVerification { verify_commit: Some(false), public_keys: vec![key] }.required());
        assert!(CommitVerification { verify_commit: Some(true), public_keys: vec![] }.required());
    }

    #[test]
    fn public_keys_json_defaults_the_type() {
        let keys = parse_public_keys(r#"[{"key": "AAAA"}, {"type": "ssh-rsa", "key": "BBBB", "extra": 1}]"#).expect("valid");
        assert_eq!(keys[0], PublicKey { key_type: "ssh-ed25519".into(), key: "AAAA".into() });
        assert_eq!(keys[1].key_type, "ssh-rsa");
        assert!(parse_public_keys(r#"[{"type": "ssh-rsa"}]"#).is_err(), "key is required");
        assert!(parse_public_keys(r#""AAAA""#).is_err(), "a list is required");
    }
}
