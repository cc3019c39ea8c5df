//! The fetch result as a Nix expression, for `--format nix` (what `builtins.exec` evaluates).
//!
//! `builtins.fetchGit` returns an `outPath` string that carries *string context*: a derivation
//! that interpolates it gets the source path as an input, so the path is in the build's closure
//! and the `.drv` references it. A plain string literal has no context, so [`SourceAttrs::to_nix`]
//! writes `outPath` as
//!
//! ```nix
//! builtins.path { path = "/nix/store/…-source"; name = "source"; recursive = true; sha256 = "sha256-…"; }
//! ```
//!
//! Why this form (measured with Nix 2.8, see `docs/nix.md` and `tests/nix_context.rs`):
//! - it gives the same context as fetchGit's (`{ path = true; }`), under `nix-instantiate` and
//!   under pure evaluation (flakes); `builtins.storePath` is refused in pure mode;
//! - with the expected hash given, Nix computes the store path from `name` and `sha256` and, when
//!   that path is valid, uses it without reading it: a cheap validity check that also proves the
//!   path holds exactly the content we hashed;
//! - when the path is not valid, Nix tries to read it and fails with "getting status of
//!   '/nix/store/…': No such file or directory" instead of handing out a dangling path
//!   (`builtins.appendContext` would accept it and fail only when a derivation is instantiated).

use crate::fetch::SourceAttrs;

impl SourceAttrs {
    /// The attributes as a Nix expression whose `outPath` carries string context, for a result
    /// whose tree **is in the store** (call it after adding the tree). Evaluating it fails when
    /// the path is not valid.
    pub fn to_nix(&self) -> String {
        self.render(true)
    }

    /// The attributes as a plain Nix attribute set (no string context), for `--no-store`: the
    /// path was only computed, so nothing may depend on it.
    pub fn to_nix_unstored(&self) -> String {
        self.render(false)
    }

    fn render(&self, with_context: bool) -> String {
        let json = serde_json::to_value(self).expect("plain data always serialises");
        let mut out = String::from("{ ");
        if let serde_json::Value::Object(map) = json {
            for (key, value) in map {
                out.push_str(&key);
                out.push_str(" = ");
                if key == "outPath" && with_context {
                    out.push_str(&self.out_path_with_context());
                } else {
                    out.push_str(&nix_value(&value));
                }
                out.push_str("; ");
            }
        }
        out.push('}');
        out
    }

    /// `builtins.path` of the (valid) store path, pinned by name and NAR hash.
    fn out_path_with_context(&self) -> String {
        format!(
            "builtins.path {{ path = {}; name = {}; recursive = true; sha256 = {}; }}",
            nix_string(&self.out_path),
            nix_string(store_path_name(&self.out_path)),
            nix_string(&self.nar_hash),
        )
    }
}

/// The name part of an absolute store path (`/nix/store/<hash>-<name>` gives `<name>`).
fn store_path_name(path: &str) -> &str {
    let base = path.rsplit('/').next().unwrap_or(path);
    base.split_once('-').map_or(base, |(_, name)| name)
}

fn nix_value(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "null".into(),
        serde_json::Value::Bool(b) => b.to_string(),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => nix_string(s),
        serde_json::Value::Array(items) => format!("[ {} ]", items.iter().map(nix_value).collect::<Vec<_>>().join(" ")),
        serde_json::Value::Object(map) => {
            let fields: String = map.iter().map(|(k, v)| format!("{k} = {}; ", nix_value(v))).collect();
            format!("{{ {fields}}}")
        }
    }
}

/// A Nix string literal holding exactly `s`.
pub fn nix_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' if chars.peek() == Some(&'{') => out.push_str("\\$"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs() -> SourceAttrs {
        SourceAttrs {
            dirty_rev: None,
            dirty_short_rev: None,
            last_modified: 1_700_120_000,
            last_modified_date: "20231116073320".into(),
            nar_hash: "sha256-wzlAGjxKxpaWdqVhlq55q5Gxo4Bf860+kLeEa/v02As=".into(),
            out_path: "/nix/store/7llxbmi9y8sldnhf5asnzf17p6i52icx-source".into(),
            rev: "c9222b211d0b6ce37e48b871ce21274d5dcdbff5".into(),
            rev_count: 3,
            short_rev: "c9222b2".into(),
            submodules: false,
            truncation: None,
        }
    }

    #[test]
    fn out_path_is_pinned_by_name_and_hash() {
        let expr = attrs().to_nix();
        assert!(
            expr.contains(r#"outPath = builtins.path { path = "/nix/store/7llxbmi9y8sldnhf5asnzf17p6i52icx-source"; name = "source"; recursive = true; sha256 = "sha256-wzlAGjxKxpaWdqVhlq55q5Gxo4Bf860+kLeEa/v02As="; };"#),
            "{expr}"
        );
        assert!(expr.contains(r#"narHash = "sha256-wzlAGjxKxpaWdqVhlq55q5Gxo4Bf860+kLeEa/v02As=";"#), "{expr}");
    }

    #[test]
    fn unstored_out_path_is_a_plain_string() {
        let expr = attrs().to_nix_unstored();
        assert!(expr.contains(r#"outPath = "/nix/store/7llxbmi9y8sldnhf5asnzf17p6i52icx-source";"#), "{expr}");
        assert!(!expr.contains("builtins."), "{expr}");
    }

    #[test]
    fn store_path_names_keep_dashes() {
        assert_eq!(store_path_name("/nix/store/7llxbmi9y8sldnhf5asnzf17p6i52icx-my-src-1.0"), "my-src-1.0");
        assert_eq!(store_path_name("/custom/store/7llxbmi9y8sldnhf5asnzf17p6i52icx-source"), "source");
    }

    #[test]
    fn strings_escape_interpolation_and_quotes() {
        assert_eq!(nix_string("a\"b\\c${d}$e\n"), r#""a\"b\\c\${d}$e\n""#);
    }
}
