//! Where a repository lives, parsed from the `url` a user gives, as `builtins.fetchGit` reads it.
//!
//! A path or a `file://` URL is a local repository, read in place; `http(s)://`, `ssh://`,
//! scp-style `[user@]host:path` (rewritten to `ssh://` as Nix does) and `git://` are remotes,
//! fetched into the cache by [`crate::remote`]. Anything that could be taken as an option by git
//! or ssh is refused here, before any process is spawned or connection made.

use std::path::PathBuf;

use crate::remote::{RemoteUrl, UrlError};

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
        Some((scheme, rest)) => crate::remote::redact_parts(scheme, rest),
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
}
