//! The fetch result as a Nix expression, for `--format nix` (what `builtins.exec` evaluates).

use crate::fetch::SourceAttrs;

impl SourceAttrs {
    /// The attributes as a Nix attribute set expression.
    pub fn to_nix(&self) -> String {
        let json = serde_json::to_value(self).expect("plain data always serialises");
        let mut out = String::from("{ ");
        if let serde_json::Value::Object(map) = json {
            for (key, value) in map {
                out.push_str(&key);
                out.push_str(" = ");
                out.push_str(&nix_value(&value));
                out.push_str("; ");
            }
        }
        out.push('}');
        out
    }
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

