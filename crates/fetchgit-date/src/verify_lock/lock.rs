//! The locked sources of a `flake.lock`: every node whose `locked.type` is `git`, `github`,
//! `gitlab` or `sourcehut`, with what the lock says about it. Other node types (`path`,
//! `tarball`, `file`, `indirect`, `mercurial`) are listed as skipped, never checked.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::input::{Forge, LockedInput, Source};

/// Why a `flake.lock` cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum LockFileError {
    /// The file cannot be read.
    #[error("cannot read '{path}': {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// It is not JSON, or not a flake lock.
    #[error("'{path}' is not a flake.lock: {reason}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A node of a type we check misses an attribute or has one of the wrong type.
    #[error("'{path}': input '{node}': {reason}")]
    Node {
        /// The file.
        path: String,
        /// The node's name.
        node: String,
        /// What is wrong.
        reason: String,
    },
}

/// What a lock file holds: the inputs to check, and the nodes skipped (name, type).
#[derive(Debug, Clone)]
pub struct LockFile {
    /// The `git` and forge inputs, in the lock's node order (sorted by name).
    pub inputs: Vec<LockedInput>,
    /// Locked nodes of other types: (node name, type).
    pub skipped: Vec<(String, String)>,
}

/// Reads `path` as a flake.lock (versions 5 to 7, the ones Nix 2.8 to 2.35 write).
pub fn read(path: &Path) -> Result<LockFile, LockFileError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|err| LockFileError::Read { path: shown.clone(), reason: err.to_string() })?;
    parse(&text, &shown)
}

/// Parses the text of a flake.lock; `shown` names it in errors.
pub fn parse(text: &str, shown: &str) -> Result<LockFile, LockFileError> {
    let format = |reason: String| LockFileError::Format { path: shown.to_owned(), reason };
    let json: Value = serde_json::from_str(text).map_err(|err| format(err.to_string()))?;
    let version = json.get("version").and_then(Value::as_u64).ok_or_else(|| format("no \"version\"".into()))?;
    if !(5..=7).contains(&version) {
        return Err(format(format!("version {version}; only versions 5 to 7 are known")));
    }
    let nodes = json.get("nodes").and_then(Value::as_object).ok_or_else(|| format("no \"nodes\" object".into()))?;
    let sorted: BTreeMap<&String, &Value> = nodes.iter().collect();
    let mut lock = LockFile { inputs: Vec::new(), skipped: Vec::new() };
    for (name, node) in sorted {
        let Some(locked) = node.get("locked") else { continue };
        let node_error = |reason: String| LockFileError::Node { path: shown.to_owned(), node: name.clone(), reason };
        let kind = locked.get("type").and_then(Value::as_str).ok_or_else(|| node_error("\"locked\" has no \"type\"".into()))?;
        match input(name, kind, locked, node.get("original")).map_err(node_error)? {
            Some(input) => lock.inputs.push(input),
            None => lock.skipped.push((name.clone(), kind.to_owned())),
        }
    }
    Ok(lock)
}

/// The input a locked node describes; `None` for a type that is not checked.
fn input(name: &str, kind: &str, locked: &Value, original: Option<&Value>) -> Result<Option<LockedInput>, String> {
    let attrs = Attrs(locked);
    let source = match kind {
        "git" => Source::Git {
            url: attrs.string("url")?.ok_or("no \"url\"")?,
            ref_name: attrs.string("ref")?,
            submodules: attrs.boolean("submodules")?.unwrap_or(false),
            shallow: attrs.boolean("shallow")?.unwrap_or(false),
            lfs: attrs.boolean("lfs")?.unwrap_or(false),
            export_ignore: attrs.boolean("exportIgnore")?,
        },
        "github" | "gitlab" | "sourcehut" => Source::Forge {
            forge: match kind {
                "github" => Forge::GitHub,
                "gitlab" => Forge::GitLab,
                _ => Forge::SourceHut,
            },
            // GitLab subgroups are locked percent-encoded (`group%2Fsub`).
            owner: forge_part("owner", attrs.string("owner")?.ok_or("no \"owner\"")?.replace("%2F", "/").replace("%2f", "/"), "-._~")?,
            repo: forge_part("repo", attrs.string("repo")?.ok_or("no \"repo\"")?, "-._")?,
            host: attrs.string("host")?.map(|host| forge_part("host", host, "-.:")).transpose()?,
        },
        _ => return Ok(None),
    };
    let original_ref = match original {
        Some(original) if Attrs(original).string("rev")?.is_none() => Attrs(original).string("ref")?,
        _ => None,
    };
    let rev = attrs.string("rev")?.ok_or("no \"rev\": the input is not locked")?;
    crate::resolve::parse_rev(&rev).map_err(|err| format!("\"rev\": {}", crate::error_chain(&err)))?;
    let nar_hash = attrs.string("narHash")?.ok_or("no \"narHash\"")?;
    nixstore::hash::NixHash::parse(&nar_hash).map_err(|err| format!("\"narHash\": {}", crate::error_chain(&err)))?;
    Ok(Some(LockedInput {
        name: name.to_owned(),
        source,
        rev,
        nar_hash,
        last_modified: attrs.integer("lastModified")?,
        rev_count: attrs.integer("revCount")?.map(|count| u64::try_from(count).map_err(|_| "negative \"revCount\"")).transpose()?,
        original_ref,
    }))
}

/// A forge `owner`, `repo` or `host` becomes part of a URL: only the characters forges allow
/// in names (GitLab's `owner` may hold subgroups: `/`), nothing that changes the URL's shape.
fn forge_part(name: &str, value: String, allowed: &str) -> Result<String, String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || allowed.contains(c) || (name == "owner" && c == '/');
    if value.is_empty() || !value.chars().all(allowed) || value.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
        return Err(format!(
            "\"{name}\" {value:?} is not a forge name: letters, digits and {} only",
            if name == "owner" { "- . _ ~ /" } else { "- . _ (host: also :)" }
        ));
    }
    Ok(value)
}

struct Attrs<'a>(&'a Value);

impl Attrs<'_> {
    fn string(&self, name: &str) -> Result<Option<String>, String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(format!("\"{name}\" is not a string")),
        }
    }

    fn boolean(&self, name: &str) -> Result<Option<bool>, String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(value)) => Ok(Some(*value)),
            // Nix 2.8 to 2.18 write booleans of git inputs as such, but accept 0/1 in URLs.
            Some(Value::Number(n)) if n.as_u64() == Some(0) || n.as_u64() == Some(1) => Ok(Some(n.as_u64() == Some(1))),
            Some(_) => Err(format!("\"{name}\" is not a boolean")),
        }
    }

    fn integer(&self, name: &str) -> Result<Option<i64>, String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| format!("\"{name}\" is not an integer")),
            Some(_) => Err(format!("\"{name}\" is not an integer")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_and_forge_nodes_are_read_and_others_skipped() {
        let text = r#"{"version": 7, "root": "root", "nodes": {
            "root": {"inputs": {"a": "a", "b": "b", "c": "c"}},
            "a": {"flake": false, "locked": {"type": "git", "url": "file:///r", "ref": "refs/tags/v1", "rev": "0123456789012345678901234567890123456789",
                  "narHash": "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "lastModified": 5, "revCount": 2, "submodules": true},
                  "original": {"type": "git", "url": "file:///r", "ref": "refs/tags/v1"}},
            "b": {"locked": {"type": "github", "owner": "o", "repo": "r", "rev": "0123456789012345678901234567890123456789",
                  "narHash": "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}, "original": {"type": "github", "owner": "o", "repo": "r"}},
            "c": {"locked": {"type": "path", "path": "/x", "narHash": "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}}}"#;
        let lock = parse(text, "flake.lock").expect("parses");
        assert_eq!(lock.skipped, [("c".to_owned(), "path".to_owned())]);
        assert_eq!(lock.inputs.len(), 2);
        let a = &lock.inputs[0];
        assert!(matches!(&a.source, Source::Git { url, submodules: true, ref_name: Some(r), .. } if url == "file:///r" && r == "refs/tags/v1"));
        assert_eq!((a.last_modified, a.rev_count, a.original_ref.as_deref()), (Some(5), Some(2), Some("refs/tags/v1")));
        assert!(matches!(&lock.inputs[1].source, Source::Forge { forge: Forge::GitHub, owner, .. } if owner == "o"));
    }

    #[test]
    fn malformed_locks_are_refused_naming_the_problem() {
        for (text, says) in [
            ("[]", "no \"version\""),
            (r#"{"version": 4, "nodes": {}}"#, "version 4"),
            (r#"{"version": 7, "nodes": {"a": {"locked": {"type": "git", "url": "file:///r", "narHash": "x"}}}}"#, "input 'a': no \"rev\""),
            (r#"{"version": 7, "nodes": {"a": {"locked": {"type": "git", "url": 5}}}}"#, "\"url\" is not a string"),
            (
                r#"{"version": 7, "nodes": {"a": {"locked": {"type": "github", "owner": "o", "repo": "r?x=1", "rev": "0", "narHash": "x"}}}}"#,
                "is not a forge name",
            ),
            (
                r#"{"version": 7, "nodes": {"a": {"locked": {"type": "git", "url": "/r", "rev": "0123456789012345678901234567890123456789", "narHash": "md5-x"}}}}"#,
                "\"narHash\"",
            ),
            (
                r#"{"version": 7, "nodes": {"a": {"locked": {"type": "git", "url": "/r", "rev": "01234567", "narHash": "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}}}"#,
                "\"rev\"",
            ),
            (
                r#"{"version": 7, "nodes": {"a": {"locked": {"type": "gitlab", "owner": "../x", "repo": "r", "rev": "0", "narHash": "x"}}}}"#,
                "is not a forge name",
            ),
            (
                r#"{"version": 7, "nodes": {"a": {"locked": {"type": "github", "owner": "o", "repo": "r", "host": "h/p@x", "rev": "0", "narHash": "x"}}}}"#,
                "is not a forge name",
            ),
        ] {
            let err = parse(text, "flake.lock").expect_err(text).to_string();
            assert!(err.contains(says), "{err}");
        }
    }
}
