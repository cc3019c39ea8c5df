//! A repository's URL, from the text a user gives to the forms every other module uses: one
//! parser for everything that is a URL in this crate.
//!
//! [`parse`] reads `url` as `builtins.fetchGit` does and says where the repository lives
//! ([`Location`]): a path or a `file://` URL is a local repository, read in place; `http(s)://`,
//! `ssh://`, scp-style `[user@]host:path` (rewritten to `ssh://` as Nix does) and `git://` are
//! remotes ([`RemoteUrl`]), fetched into the cache by [`crate::remote`]. Anything that could be
//! taken as an option by git or ssh is refused here, before any process is spawned or
//! connection made. [`RemoteUrl`] owns the credentials: its display, its cache key and every
//! message are built from its parts, never by searching the text ([`redact`]).
//!
//! The per-release rules for how Nix prints and checks a URL are in [`crate::input_check`].

use std::path::PathBuf;

use sha2::{Digest, Sha256};

/// A repository location that this version can open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A work tree or a bare repository on this machine.
    Local(PathBuf),
    /// A repository reached over the network (or ssh), cached locally.
    Remote(RemoteUrl),
}

/// Why a `url` cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LocationError {
    /// The URL is empty.
    #[error("the repository URL is empty: pass a path or a file:// URL with --url")]
    Empty,
    /// Could be read as a command-line option by git or ssh.
    #[error("refusing repository URL '{0}': it starts with '-' and could be taken as an option; prefix a relative path with ./")]
    LooksLikeOption(String),
    /// git's `ext::` transport runs arbitrary commands.
    #[error("refusing repository URL '{0}': the ext:: transport runs arbitrary commands")]
    CommandTransport(String),
    /// A remote URL with a part that is unsafe to hand to git or ssh.
    #[error(transparent)]
    Remote(#[from] UrlError),
    /// A scheme we do not know at all.
    #[error("unknown URL scheme '{scheme}' in '{redacted}': use a local path or a file://, http(s)://, ssh:// or git:// URL")]
    UnknownScheme {
        /// The scheme as given.
        scheme: String,
        /// The URL with any credentials removed.
        redacted: String,
    },
    /// `file://host/path` with a host other than `localhost`.
    #[error("file:// URL '{0}' names a host; use file:///absolute/path")]
    FileUrlWithHost(String),
}

const REMOTE_SCHEMES: &[&str] = &["http", "https", "ssh", "git"];

/// Parses `url` as `builtins.fetchGit` does: a `git+` prefix (flake style) is dropped, a string
/// without `://` is a path unless it is scp-style `[user@]host:path`.
pub fn parse(url: &str) -> Result<Location, LocationError> {
    if url.is_empty() {
        return Err(LocationError::Empty);
    }
    if url.starts_with('-') {
        return Err(LocationError::LooksLikeOption(url.to_owned()));
    }
    if url.starts_with("ext::") || url.contains("::") && !url.contains("://") {
        return Err(LocationError::CommandTransport(redact(url)));
    }
    let url = url.strip_prefix("git+").unwrap_or(url);
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let scheme_lower = scheme.to_ascii_lowercase();
            if scheme_lower == "file" {
                let path = match rest.strip_prefix("localhost") {
                    Some(path) if path.starts_with('/') => path,
                    _ if rest.starts_with('/') => rest,
                    _ => return Err(LocationError::FileUrlWithHost(url.to_owned())),
                };
                Ok(Location::Local(PathBuf::from(percent_decode(path))))
            } else if REMOTE_SCHEMES.contains(&scheme_lower.as_str()) {
                Ok(Location::Remote(RemoteUrl::new(&scheme_lower, rest)?))
            } else {
                Err(LocationError::UnknownScheme { scheme: scheme.to_owned(), redacted: redact(url) })
            }
        }
        None if is_scp_like(url) => {
            // Nix rewrites `[user@]host:path` to `ssh://[user@]host/path`.
            let (authority, path) = url.split_once(':').expect("scp-like URLs have a colon");
            let path = path.strip_prefix('/').unwrap_or(path);
            Ok(Location::Remote(RemoteUrl::new("ssh", &format!("{authority}/{path}"))?))
        }
        None => Ok(Location::Local(PathBuf::from(url))),
    }
}

/// git's rule: a colon before the first slash makes `host:path` an scp-style ssh address.
fn is_scp_like(url: &str) -> bool {
    match (url.find(':'), url.find('/')) {
        (Some(colon), Some(slash)) => colon < slash,
        (Some(_), None) => true,
        _ => false,
    }
}

/// `url` without its credentials, for messages: split the way [`RemoteUrl`] splits it (as git
/// does), and when it cannot be split safely, with everything before its last `@` hidden.
pub fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => redact_parts(scheme, rest),
        None => match url.rfind('@') {
            Some(at) => format!("***@{}", &url[at + 1..]),
            None => url.to_owned(),
        },
    }
}

/// `%XX` escapes decoded (invalid ones kept as they are), for paths and URL parts.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A remote repository URL as it will be fetched, with its credential-free form for keys and
/// messages. `Debug` and `Display` show only the credential-free form.
///
/// The URL is split once, as git's credential code splits it (`credential_from_url_1` in
/// git's `credential.c`): the host ends at the first `/`, `?` or `#`, and what comes before an
/// `@` ahead of that is `user[:password]`, percent-decoded. Everything else is built from those
/// parts, never by searching the text: gix is handed the URL without a password (and for
/// http(s) without the user name: both are given to it as an identity when the server asks), so
/// no message from gix or the server can contain them. A URL that another parser could split
/// differently (two `@` before the host, text after `:` that is not a port while an `@`
/// follows, as in `https://alice:pa/ss@host/r`) is refused with everything before its last `@`
/// hidden.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteUrl {
    fetch_url: String,
    redacted: String,
    scheme: String,
    credentials: Option<Credentials>,
}

/// The user name and password of a URL, percent-decoded as git decodes them.
#[derive(Clone, PartialEq, Eq)]
struct Credentials {
    user: String,
    password: Option<String>,
}

impl std::fmt::Debug for RemoteUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RemoteUrl").field(&self.redacted).finish()
    }
}

impl std::fmt::Display for RemoteUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted)
    }
}

/// Why a remote URL is refused. Every URL in these messages has its credentials removed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    /// A host, user or path that ssh or git could read as an option.
    #[error("refusing repository URL '{redacted}': its {part} starts with '-' and could be taken as an option by ssh or git")]
    OptionLike {
        /// The URL without credentials.
        redacted: String,
        /// `host`, `user` or `path`.
        part: &'static str,
    },
    /// Whitespace or control characters, which no sane URL has and which could split arguments.
    #[error("refusing repository URL '{0}': it contains whitespace or control characters (percent-encode them)")]
    BadCharacter(String),
    /// No host at all.
    #[error("repository URL '{0}' has no host")]
    NoHost(String),
    /// Two or more `@` before the host: git takes the first as the end of the user information,
    /// curl and browsers the last.
    #[error("refusing repository URL '{0}': it has more than one '@' before the host; percent-encode '@' in a user name or password as %40")]
    AmbiguousUserInfo(String),
    /// Text after `:` in the host that is not a port, with an `@` later: most likely a password
    /// containing `/`, `?` or `#`, which end the host for git and curl.
    #[error("refusing repository URL '{0}': the text after ':' in its host is not a port number; if it is part of a password containing '/', '?' or '#', percent-encode those as %2F, %3F and %23")]
    PasswordNeedsEncoding(String),
    /// A port that is not a number.
    #[error("refusing repository URL '{redacted}': port '{port}' is not a number from 0 to 65535")]
    BadPort {
        /// The URL without credentials.
        redacted: String,
        /// The text after `:`.
        port: String,
    },
    /// A password in an ssh URL (ssh asks for passwords itself) or user information in a
    /// `git://` URL (the protocol has no authentication).
    #[error("refusing repository URL '{redacted}': {why}")]
    UnusedCredentials {
        /// The URL without credentials.
        redacted: String,
        /// What to do instead.
        why: &'static str,
    },
}

/// `scheme://rest` split like git's `credential_from_url_1`.
struct Split<'a> {
    userinfo: Option<&'a str>,
    hostport: &'a str,
    /// From the first `/`, `?` or `#` on.
    tail: &'a str,
}

fn split(rest: &str) -> Split<'_> {
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].find('@') {
        Some(at) => Split { userinfo: Some(&rest[..at]), hostport: &rest[at + 1..end], tail: &rest[end..] },
        None => Split { userinfo: None, hostport: &rest[..end], tail: &rest[end..] },
    }
}

/// `scheme://` and `rest` with everything up to its last `@` hidden: the form of a URL that is
/// refused before it could be split safely.
fn masked(scheme: &str, rest: &str) -> String {
    match rest.rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => format!("{scheme}://{rest}"),
    }
}

/// The port text of `hostport` when it is not a port number (an empty port is allowed, as git
/// and curl allow it).
fn bad_port(hostport: &str) -> Option<&str> {
    let port = match hostport.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((_, "")) => return None,
            Some((_, after)) => after.strip_prefix(':').unwrap_or(after),
            None => return Some(""),
        },
        None => hostport.split_once(':')?.1,
    };
    let valid = port.is_empty() || port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok();
    (!valid).then_some(port)
}

/// `scheme://rest` for a message: without its user information when it splits safely, with
/// everything before its last `@` hidden otherwise.
fn redact_parts(scheme: &str, rest: &str) -> String {
    let parts = split(rest);
    if parts.hostport.contains('@') || bad_port(parts.hostport).is_some() && rest.contains('@') {
        return masked(scheme, rest);
    }
    format!("{scheme}://{}{}", parts.hostport, parts.tail)
}

impl RemoteUrl {
    /// Builds a remote URL from `scheme` (lowercase: `http`, `https`, `ssh`, `git`) and the part
    /// after `://`, refusing anything that could become an option to git or ssh, and anything
    /// whose credentials could be read differently by another URL parser.
    pub fn new(scheme: &str, rest: &str) -> Result<RemoteUrl, UrlError> {
        use crate::url::percent_decode;
        if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UrlError::BadCharacter(masked(scheme, rest)));
        }
        let parts = split(rest);
        if parts.hostport.contains('@') {
            return Err(UrlError::AmbiguousUserInfo(masked(scheme, rest)));
        }
        let redacted = format!("{scheme}://{}{}", parts.hostport, parts.tail);
        if let Some(port) = bad_port(parts.hostport) {
            if rest.matches('@').count() > usize::from(parts.userinfo.is_some()) {
                return Err(UrlError::PasswordNeedsEncoding(masked(scheme, rest)));
            }
            return Err(UrlError::BadPort { port: port.to_owned(), redacted });
        }
        let credentials = parts.userinfo.map(|userinfo| {
            let (user, password) = match userinfo.split_once(':') {
                Some((user, password)) => (user, Some(password)),
                None => (userinfo, None),
            };
            (user, Credentials { user: percent_decode(user), password: password.map(percent_decode) })
        });
        if let Some((raw_user, decoded)) = &credentials {
            if raw_user.starts_with('-') || decoded.user.starts_with('-') {
                return Err(UrlError::OptionLike { redacted, part: "user" });
            }
        }
        let hostport = parts.hostport;
        if hostport.is_empty() {
            return Err(UrlError::NoHost(redacted));
        }
        if hostport.starts_with('-') || percent_decode(hostport).starts_with('-') {
            return Err(UrlError::OptionLike { redacted, part: "host" });
        }
        let path_body = parts.tail.trim_start_matches('/');
        if path_body.starts_with('-') || percent_decode(path_body).starts_with('-') || path_body.starts_with("~-") {
            return Err(UrlError::OptionLike { redacted, part: "path" });
        }
        let fetch_url = match (scheme, &credentials) {
            ("ssh", Some((_, Credentials { password: Some(_), .. }))) => {
                let why = "ssh:// URLs cannot carry a password (ssh would have to ask for it, and fetchgit-date never lets it prompt): use an ssh key or agent";
                return Err(UrlError::UnusedCredentials { redacted, why });
            }
            ("ssh", Some((raw_user, _))) => format!("ssh://{raw_user}@{hostport}{}", parts.tail),
            ("git", Some(_)) => {
                let why = "git:// has no authentication, so a user name or password cannot be used: remove it";
                return Err(UrlError::UnusedCredentials { redacted, why });
            }
            _ => redacted.clone(),
        };
        Ok(RemoteUrl { fetch_url, redacted, scheme: scheme.to_owned(), credentials: credentials.map(|(_, c)| c) })
    }

    /// The URL without credentials: what file names, logs and errors use.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// The URL handed to gix: without the password (and for http(s) without the user name, which
    /// [`RemoteUrl::user`] gives as an identity when the server asks).
    pub fn fetch_url(&self) -> &str {
        &self.fetch_url
    }

    /// The user name the URL gives, if any.
    pub fn user(&self) -> Option<&str> {
        self.credentials.as_ref().map(|c| c.user.as_str())
    }

    /// The password the URL gives, if any: only for answering the server's request for
    /// credentials.
    pub fn password(&self) -> Option<&str> {
        self.credentials.as_ref().and_then(|c| c.password.as_deref())
    }

    /// The transport: `http`, `https`, `ssh` or `git`.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The name of the cache directory: the hex SHA-256 of the credential-free URL, and of the
    /// user name and password too when the URL has them. A URL therefore shares its cache only
    /// with the same URL and the same credentials, as Nix keys its cache (`gitv3/<hash of the
    /// URL>`): a wrong or missing password never reuses what another one fetched.
    pub fn cache_key(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.redacted.as_bytes());
        if let Some(credentials) = &self.credentials {
            for part in ["\0fetchgit-date credentials\0", &credentials.user, "\0"] {
                hasher.update(part.as_bytes());
            }
            match &credentials.password {
                Some(password) => hasher.update(format!("password\0{password}").as_bytes()),
                None => hasher.update(b"no password"),
            }
        }
        data_encoding::HEXLOWER.encode(&hasher.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_file_urls_are_local() {
        assert_eq!(parse("/srv/repo"), Ok(Location::Local("/srv/repo".into())));
        assert_eq!(parse("./repo"), Ok(Location::Local("./repo".into())));
        assert_eq!(parse("repo"), Ok(Location::Local("repo".into())));
        assert_eq!(parse("file:///srv/repo"), Ok(Location::Local("/srv/repo".into())));
        assert_eq!(parse("git+file:///srv/repo"), Ok(Location::Local("/srv/repo".into())));
        assert_eq!(parse("file://localhost/srv/a%20b"), Ok(Location::Local("/srv/a b".into())));
        assert_eq!(parse("./dir/with:colon"), Ok(Location::Local("./dir/with:colon".into())));
    }

    #[test]
    fn remote_forms_are_recognised_and_credentials_redacted() {
        for (url, scheme) in [
            ("https://example.org/r.git", "https"),
            ("git+https://example.org/r.git", "https"),
            ("http://example.org/r.git", "http"),
            ("ssh://git@example.org/r.git", "ssh"),
            ("git://example.org/r.git", "git"),
            ("git@example.org:owner/r.git", "ssh"),
        ] {
            match parse(url) {
                Ok(Location::Remote(remote)) => assert_eq!(remote.scheme(), scheme, "{url}"),
                other => panic!("{url}: {other:?}"),
            }
        }
        let Ok(Location::Remote(scp)) = parse("git@example.org:owner/r.git") else { panic!("scp-style is remote") };
        assert_eq!(scp.redacted(), "ssh://example.org/owner/r.git");
        let Ok(Location::Remote(remote)) = parse("https://user:secret@example.org/r.git") else { panic!("remote") };
        assert!(!format!("{remote:?} {remote}").contains("secret"));
        assert_eq!(remote.redacted(), "https://example.org/r.git");
        assert!(matches!(parse("ssh://-oProxyCommand=x/r"), Err(LocationError::Remote(UrlError::OptionLike { .. }))));
        assert!(matches!(parse("-oProxyCommand=x:r"), Err(LocationError::LooksLikeOption(_))));
    }

    #[test]
    fn option_like_and_command_transports_are_refused() {
        assert!(matches!(parse("-oProxyCommand=touch /tmp/x"), Err(LocationError::LooksLikeOption(_))));
        assert!(matches!(parse("--upload-pack=touch /tmp/x"), Err(LocationError::LooksLikeOption(_))));
        assert!(matches!(parse("ext::sh -c touch% /tmp/x"), Err(LocationError::CommandTransport(_))));
        assert!(matches!(parse("fd::17"), Err(LocationError::CommandTransport(_))));
        assert!(matches!(parse("gopher://x/y"), Err(LocationError::UnknownScheme { .. })));
        assert!(matches!(parse("file://otherhost/x"), Err(LocationError::FileUrlWithHost(_))));
        assert_eq!(parse(""), Err(LocationError::Empty));
    }

    #[test]
    fn credentials_stay_out_of_urls_messages_and_file_names() {
        let with = RemoteUrl::new("https", "user:s3cret@example.org/r.git").expect("valid");
        let without = RemoteUrl::new("https", "example.org/r.git").expect("valid");
        assert_eq!(format!("{with:?} {with}"), "RemoteUrl(\"https://example.org/r.git\") https://example.org/r.git");
        assert_eq!(with.fetch_url, "https://example.org/r.git", "gix never sees the credentials");
        let decoded = RemoteUrl::new("https", "us%65r:s3%63ret@example.org/r.git").expect("valid");
        assert!(decoded.credentials == with.credentials, "credentials are percent-decoded as git decodes them");
        assert_eq!(decoded.cache_key(), with.cache_key());
        // A URL shares its cache only with the same credentials, as Nix keys its cache.
        let other = RemoteUrl::new("https", "user:other@example.org/r.git").expect("valid");
        let user_only = RemoteUrl::new("https", "user@example.org/r.git").expect("valid");
        let keys = [with.cache_key(), without.cache_key(), other.cache_key(), user_only.cache_key()];
        for (i, a) in keys.iter().enumerate() {
            assert!(!a.contains("s3cret") && a.len() == 64);
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(
            without.cache_key(),
            data_encoding::HEXLOWER.encode(&Sha256::digest(b"https://example.org/r.git")),
            "caches without credentials keep their names"
        );
        // ssh keeps its user for ssh, never a password; git:// has no authentication.
        let ssh = RemoteUrl::new("ssh", "git@example.org/r.git").expect("valid");
        assert_eq!((ssh.fetch_url.as_str(), ssh.redacted()), ("ssh://git@example.org/r.git", "ssh://example.org/r.git"));
        for (scheme, rest) in [("ssh", "git:pw@example.org/r.git"), ("git", "zorro@example.org/r.git")] {
            match RemoteUrl::new(scheme, rest) {
                Err(err @ UrlError::UnusedCredentials { .. }) => assert!(!err.to_string().contains("pw") && !err.to_string().contains("zorro"), "{err}"),
                other => panic!("{rest}: {other:?}"),
            }
        }
    }

    /// Passwords with characters that end the host for git (`/`, `?`, `#`) or that another parser
    /// splits elsewhere (`@`) never appear in an error, and short secrets are not searched for
    /// in messages at all (which would turn "Transport" into "Trans***ort").
    #[test]
    fn urls_that_split_ambiguously_are_refused_without_their_secret() {
        for (rest, expected) in [
            ("alyx:Zq/9w@host/repo", "https://***@host/repo"),
            ("alyx:Zq?9w@host/repo", "https://***@host/repo"),
            ("alyx:Zq#9w@host/repo", "https://***@host/repo"),
            ("alyx:Zq@9w@host/repo", "https://***@host/repo"),
            ("al@yx:Zq9w@host/repo", "https://***@host/repo"),
        ] {
            let err = RemoteUrl::new("https", rest).expect_err(rest);
            let text = err.to_string();
            assert!(text.contains(&format!("'{expected}'")), "{rest}: {text}");
            for secret in ["Zq", "9w", "alyx", "yx:"] {
                assert!(!text.contains(secret), "{rest}: {text}");
            }
            assert_eq!(crate::url::redact(&format!("https://{rest}")), expected);
        }
        assert!(matches!(RemoteUrl::new("https", "host:12ab/r"), Err(UrlError::BadPort { .. })));
        assert!(matches!(RemoteUrl::new("https", "host:99999/r"), Err(UrlError::BadPort { .. })));
        for ok in ["host:8080/r", "host:/r", "[::1]:8080/r", "[::1]/r", "u:p%2Fq@host/r", "host/path@with/at"] {
            assert!(RemoteUrl::new("https", ok).is_ok(), "{ok}");
        }
        let encoded = RemoteUrl::new("https", "alice:pa%2Fss@host/repo").expect("an encoded '/' is fine");
        assert_eq!(encoded.credentials.as_ref().and_then(|c| c.password.as_deref()), Some("pa/ss"));
        assert_eq!(encoded.redacted(), "https://host/repo");
    }

    #[test]
    fn option_like_parts_are_refused() {
        for (scheme, rest, part) in [
            ("ssh", "-oProxyCommand=touch%20x/r", "host"),
            ("ssh", "%2DoProxyCommand=x/r", "host"),
            ("ssh", "-u@host/r", "user"),
            ("ssh", "host/-r", "path"),
            ("ssh", "host/--upload-pack=touch", "path"),
        ] {
            match RemoteUrl::new(scheme, rest) {
                Err(UrlError::OptionLike { part: p, .. }) => assert_eq!(p, part, "{rest}"),
                other => panic!("{rest}: {other:?}"),
            }
        }
        assert!(matches!(RemoteUrl::new("ssh", "host/a b"), Err(UrlError::BadCharacter(_))));
        assert!(matches!(RemoteUrl::new("https", "/r"), Err(UrlError::NoHost(_))));
    }
}
