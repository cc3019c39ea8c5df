//! Comparing what fetchgit-date and Nix give for one case, with the differences a test declares
//! (`hostile_vs_nix`, `hostile_repos_vs_nix`).

use serde_json::Value;

/// What a tool gave.
#[derive(Debug)]
pub enum Outcome {
    Attrs(Value),
    /// The error's last line (shown when a comparison fails).
    Refused(#[allow(dead_code)] String),
}

/// Where fetchgit-date knowingly differs from Nix. `OursRefuse`: Nix gives attributes,
/// fetchgit-date refuses; `OursExport`: Nix fails or crashes, fetchgit-date exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deviation {
    OursRefuse,
    OursExport,
}

/// A declared deviation: (generation, case key, what happens, why).
pub type Declared = (&'static str, &'static str, Deviation, &'static str);

/// The attributes compared (where Nix gives them).
pub const COMPARED: [&str; 5] = ["narHash", "lastModified", "lastModifiedDate", "revCount", "rev"];

/// Compares one case (`key`) of `generation`; returns the difference, if any, that `declared`
/// does not declare.
pub fn compare(generation: &str, key: &str, declared: &[Declared], ours: &Outcome, nix: &Outcome) -> Option<String> {
    let deviation = declared.iter().find(|(g, k, _, _)| *g == generation && *k == key);
    let actual = match (ours, nix) {
        (Outcome::Attrs(a), Outcome::Attrs(b)) => {
            let diffs: Vec<String> =
                COMPARED.iter().filter(|k| !b[**k].is_null() && a[**k] != b[**k]).map(|k| format!("{k}: ours {} vs Nix {}", a[*k], b[*k])).collect();
            if diffs.is_empty() {
                None
            } else {
                return Some(format!("{generation} {key}: {}", diffs.join(", ")));
            }
        }
        (Outcome::Refused(_), Outcome::Refused(_)) => None,
        (Outcome::Refused(_), Outcome::Attrs(_)) => Some(Deviation::OursRefuse),
        (Outcome::Attrs(_), Outcome::Refused(_)) => Some(Deviation::OursExport),
    };
    match (actual, deviation) {
        (None, None) => None,
        (Some(d), Some((_, _, declared, _))) if d == *declared => None,
        (actual, declared) => {
            Some(format!("{generation} {key}: ours {ours:?}, Nix {nix:?} (declared deviation: {:?}, actual: {actual:?})", declared.map(|d| d.2)))
        }
    }
}
