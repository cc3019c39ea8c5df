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
use crate::signature::CommitVerification;

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

/// `host:path` with no user and no scheme: what git (and Nix from 2.35) reads as an ssh address,
/// and Nix's `fixGitURL` before 2.35 (whose scp rule needs `user@`) as a local path.
fn is_scp_like_without_user(url: &str) -> bool {
    if url.contains("://") || url.starts_with('/') {
        return false;
    }
    let url = url.strip_prefix("git+").unwrap_or(url);
    match (url.find(':'), url.find('/')) {
        (Some(colon), slash) if slash.is_none_or(|slash| colon < slash) => !url[..colon].contains('@'),
        _ => false,
    }
}

/// How a release percent-encodes a URL it prints (src/libutil/url.cc): see
/// [`Change::UrlPathsEncoded`] and [`Change::UrlBytesMasked`].
fn percent_encode(text: &str, keep: &str, nix: &NixVersion) -> String {
    let (strict, masked) = (nix.has(Change::UrlPathsEncoded), nix.has(Change::UrlBytesMasked));
    let mut out = String::new();
    for &byte in text.as_bytes() {
        let c = byte as char;
        let kept = byte.is_ascii_alphanumeric() || "-._~".contains(c) || (byte.is_ascii() && keep.contains(c));
        if kept {
            out.push(c);
            continue;
        }
        let value = if byte >= 0x80 && !masked { 0xffff_ff00 | u32::from(byte) } else { u32::from(byte) };
        out.push_str(&if strict { format!("%{value:02X}") } else { format!("%{value:02x}") });
    }
    out
}

/// The query characters a release leaves unencoded (see [`percent_encode`]).
fn query_keeps(nix: &NixVersion) -> &'static str {
    if nix.has(Change::UrlPathsEncoded) {
        ":@/?"
    } else {
        "!$&'()*+,;=:@"
    }
}

/// A local path as Nix turns it into a URL (`file://` + the path, made absolute).
fn file_url(url: &str) -> String {
    if url.contains("://") {
        return url.to_owned();
    }
    let absolute = std::path::absolute(url).map(|p| p.display().to_string()).unwrap_or_else(|_| url.to_owned());
    format!("file://{absolute}")
}

/// Whether the release can turn the local path `url` into a URL and back
/// ([`Change::UrlPathsEncoded`], [`Change::UrlPathsDecoded`]). Before 2.14 `file://PATH` must
/// match Nix's URL regex, whose path takes only RFC 3986 `pchar`s, `/` and `%XX`: a space fails
/// with "'URL' is not a valid URL" (measured with Nix 2.8). From 2.14 to 2.17 the path is
/// encoded but never decoded: a path that encoding changes has no `.git` under its encoded
/// name, so Nix takes it for a bare repository and clones `file://ENCODED` (which git decodes),
/// reading no work tree; that is not reproduced.
pub fn check_url_parses(url: &str, nix: &NixVersion) -> Result<(), String> {
    // Only what parses as a remote at all: a refused URL (`ext::...`) gets its own error first.
    let remote = matches!(crate::url::parse(url), Ok(crate::url::Location::Remote(_)));
    if remote && is_scp_like_without_user(url) && !nix.has(Change::ScpUrlsWithoutUser) {
        // Measured: Nix 2.8 and 2.26 take `file://host:/path` (2.8's git then reads the local
        // `/path`), 2.34 says "SCP-like URL '...' is not supported".
        return Err(format!("Nix {nix} does not read '{}' as an ssh address (an SCP-like URL without a user, before 2.35): it takes it for a local path, which fetchgit-date does not reproduce; write ssh://HOST/PATH or USER@HOST:PATH, or pass --nix-version 2.35.0 or later", crate::url::redact(url)));
    }
    if let Some(plain) = url.strip_prefix("git+") {
        if !nix.has(Change::GitPlusUrls) {
            // Measured: Nix 2.8 runs `git fetch git+file://...` and 2.26 resolves no ref in it.
            let (shown, plain) = (crate::url::redact(url), crate::url::redact(plain));
            return Err(format!("the builtins.fetchGit of Nix {nix} keeps the scheme of '{shown}' and fails to fetch it (Nix drops `git+` from 2.33 on): pass '{plain}', or --nix-version 2.33.0 or later"));
        }
    }
    if nix.has(Change::UrlPathsDecoded) || !matches!(crate::url::parse(url), Ok(crate::url::Location::Local(_))) {
        return Ok(());
    }
    let full = file_url(url);
    let path = &full[full.find("://").map_or(0, |i| i + 3)..];
    if nix.has(Change::UrlPathsEncoded) {
        let encoded = percent_encode(path, ":@/", nix);
        if encoded != path {
            return Err(format!("Nix {nix} does not decode the path it encodes into 'file://{encoded}', takes the repository for a bare one and clones it, which fetchgit-date does not reproduce: pass --nix-version 2.18.0 or later, or move the repository"));
        }
        return Ok(());
    }
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte == b'%' && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit) && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit) {
            i += 3;
            continue;
        }
        if !(byte.is_ascii_alphanumeric() || b"-._~!$&'\"()*+,;=:@/".contains(&byte)) {
            return Err(format!(
                "'{full}' is not a valid URL (Nix {nix} takes no such character in a path: pass --nix-version 2.18.0 or later, or move the repository)"
            ));
        }
        i += 1;
    }
    Ok(())
}

/// The input as Nix's `Input::to_string` prints a Git input: `git+file:///path?ref=…&rev=…`.
pub fn describe_input(url: &str, ref_name: Option<&str>, rev: Option<&str>, flags: InputFlags, verification: &CommitVerification, nix: &NixVersion) -> String {
    let InputFlags { shallow, submodules, export_ignore, lfs } = flags;
    let base = file_url(url);
    let base = if nix.has(Change::UrlPathsEncoded) {
        match base.find("://") {
            Some(i) => format!("{}{}", &base[..i + 3], percent_encode(&base[i + 3..], ":@/", nix)),
            None => base,
        }
    } else {
        base
    };
    let base = if base.starts_with("git://") { base } else { format!("git+{base}") };
    // src/libfetchers/git.cc, toURL, release by release.
    let mut query: Vec<(&str, String)> = Vec::new();
    if export_ignore && nix.has(Change::Libgit2) {
        query.push(("exportIgnore", "1".into()));
    }
    if lfs && nix.has_lfs() {
        query.push(("lfs", "1".into()));
    }
    query.extend(ref_name.map(|r| ("ref", r.to_owned())));
    query.extend(rev.map(|r| ("rev", r.to_owned())));
    if shallow {
        query.push(("shallow", "1".into()));
    }
    if submodules && nix.has(Change::Libgit2) {
        query.push(("submodules", "1".into()));
    }
    if nix.key_type_rules().is_some() {
        if verification.verify_commit == Some(true) {
            query.push(("verifyCommit", "1".into()));
        }
        match verification.public_keys.as_slice() {
            [] => {}
            [key] => {
                query.push(("keytype", key.key_type.clone()));
                query.push(("publicKey", key.key.clone()));
            }
            keys => {
                // nlohmann's dump of the keys, each an object with sorted members.
                let json: Vec<serde_json::Value> = keys.iter().map(|k| serde_json::json!({ "key": k.key, "type": k.key_type })).collect();
                query.push(("publicKeys", serde_json::Value::Array(json).to_string()));
            }
        }
    }
    // The query as a std::map prints it: sorted by key.
    query.sort_by(|a, b| a.0.cmp(b.0));
    if query.is_empty() {
        return base;
    }
    let keep = query_keeps(nix);
    let encoded: Vec<String> = query.iter().map(|(key, value)| format!("{}={}", percent_encode(key, keep, nix), percent_encode(value, keep, nix))).collect();
    format!("{base}?{}", encoded.join("&"))
}

/// Checks `fetched` against `expected` as `nix`'s fetchGit does, and passes through into
/// `fetched` the values fetchGit takes from the caller instead of computing them.
pub fn check(fetched: &mut Fetched, expected: &Expected, nix: &NixVersion, input: &str) -> Result<(), InputMismatch> {
    if let Some(hash) = &expected.nar_hash {
        if *hash != fetched.nar_hash {
            let (given, fetched_hash) = (hash.to_sri(), fetched.nar_hash.to_sri());
            let (expected, got) = if nix.has(Change::NarHashMismatchSwapped) { (fetched_hash, given) } else { (given, fetched_hash) };
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
        let none = CommitVerification::default();
        assert_eq!(
            describe_input("/r", Some("main"), Some("abc"), InputFlags { export_ignore: true, ..Default::default() }, &none, &v26),
            "git+file:///r?exportIgnore=1&ref=main&rev=abc"
        );
        assert_eq!(
            describe_input("/r", None, None, InputFlags { shallow: true, submodules: true, export_ignore: true, lfs: true }, &none, &v28),
            "git+file:///r?shallow=1"
        );
        assert_eq!(
            describe_input("/r", None, Some("abc"), InputFlags { submodules: true, ..Default::default() }, &none, &v26),
            "git+file:///r?rev=abc&submodules=1"
        );
        let v27: NixVersion = "2.27.0".parse().expect("valid");
        assert_eq!(
            describe_input("/r", None, None, InputFlags { export_ignore: true, lfs: true, ..Default::default() }, &none, &v27),
            "git+file:///r?exportIgnore=1&lfs=1"
        );
        assert_eq!(describe_input("git://h/r", None, None, InputFlags::default(), &none, &v28), "git://h/r");
        assert_eq!(describe_input("https://h/r", None, None, InputFlags::default(), &none, &v28), "git+https://h/r");
        // Measured with Nix 2.26.3 (nix-modern-oracle): "git+file:///repos/my%20dir/super?exportIgnore=1&ref=a%2Bb".
        assert_eq!(
            describe_input("/repos/my dir/super", Some("a+b"), None, InputFlags { export_ignore: true, ..Default::default() }, &none, &v26),
            "git+file:///repos/my%20dir/super?exportIgnore=1&ref=a%2Bb"
        );
        // From the sources: 2.8 keeps sub-delimiters and prints the path raw; 2.14 to 2.18
        // sign-extend bytes above 0x7f.
        assert_eq!(describe_input("/r", Some("a+b"), None, InputFlags::default(), &none, &v28), "git+file:///r?ref=a+b");
        let v18: NixVersion = "2.18.0".parse().expect("valid");
        assert_eq!(describe_input("/r/\u{e9}", Some("a#b"), None, InputFlags::default(), &none, &v18), "git+file:///r/%FFFFFFC3%FFFFFFA9?ref=a%23b");
        let signed = CommitVerification {
            verify_commit: Some(true),
            public_keys: vec![crate::signature::PublicKey { key_type: "ssh-ed25519".into(), key: "AA+/=".into() }],
        };
        assert_eq!(
            describe_input("/r", None, None, InputFlags::default(), &signed, &v26),
            "git+file:///r?keytype=ssh-ed25519&publicKey=AA%2B/%3D&verifyCommit=1"
        );
    }

    #[test]
    fn nix_before_2_14_fails_on_paths_its_url_regex_refuses() {
        let v28: NixVersion = "2.8.0".parse().expect("valid");
        let v26: NixVersion = "2.26.3".parse().expect("valid");
        let err = check_url_parses("/tmp/my dir/super", &v28).expect_err("a space");
        assert!(err.starts_with("'file:///tmp/my dir/super' is not a valid URL"), "{err}");
        assert!(check_url_parses("/tmp/my dir/super", &v26).is_ok());
        assert!(check_url_parses("/tmp/a(b)+c@d:e%41", &v28).is_ok());
        assert!(check_url_parses("/tmp/%4", &v28).is_err());
        assert!(check_url_parses("https://h/x y", &v28).is_ok(), "only local paths");
        let v17: NixVersion = "2.17.0".parse().expect("valid");
        let err = check_url_parses("/tmp/my dir", &v17).expect_err("encoded, never decoded");
        assert!(err.contains("'file:///tmp/my%20dir'"), "{err}");
        assert!(check_url_parses("/tmp/plain:@dir", &v17).is_ok());
        assert!(check_url_parses("/tmp/my dir", &"2.18.0".parse().expect("valid")).is_ok());
        assert!(check_url_parses("/tmp/my dir", &"2.18.3-lix".parse().expect("valid")).is_ok());
    }

    /// `git+` URLs from 2.33, `host:path` without a user from 2.35 (measured with 2.8, 2.26.3
    /// and 2.34.8: each fails on them); `user@host:path` and plain URLs always.
    #[test]
    fn url_forms_follow_the_release() {
        let v = |t: &str| -> NixVersion { t.parse().expect("valid") };
        for ok in ["git@example.org:me/r.git", "https://example.org/r.git", "/srv/r", "ssh://example.org/r"] {
            for release in ["2.8.0", "2.26.3", "2.34.8", "2.35.2"] {
                assert!(check_url_parses(ok, &v(release)).is_ok(), "{ok} {release}");
            }
        }
        let err = check_url_parses("example.org:/srv/r", &v("2.34.8")).expect_err("no user before 2.35");
        assert!(err.contains("pass --nix-version 2.35.0 or later"), "{err}");
        assert!(check_url_parses("example.org:/srv/r", &v("2.35.0")).is_ok());
        assert!(check_url_parses("ext::sh -c touch% /tmp/pwned", &v("2.8.0")).is_ok(), "left to the URL parser's own refusal");
        assert!(check_url_parses("git+https://example.org/r.git", &v("2.32.8")).is_err());
        assert!(check_url_parses("git+https://example.org/r.git", &v("2.33.0")).is_ok());
        let err = check_url_parses("git+https://user:secret@example.org/r.git", &v("2.26.3")).expect_err("git+ before 2.33");
        assert!(!err.contains("secret"), "credentials are redacted: {err}");
    }

    #[test]
    fn empty_nar_hash_is_the_zero_hash() {
        assert_eq!(parse_nar_hash("").expect("Nix accepts it").to_sri(), format!("sha256-{}=", "A".repeat(43)));
    }
}
