//! What `git archive` (git 2.47) does to a regular file's bytes, for the legacy generation:
//! `object_file_to_archive` and `write_archive_entry` in archive.c, and
//! `convert_to_working_tree` in convert.c (`convert_attrs`, `ident_to_worktree`,
//! `crlf_to_worktree`).
//!
//! `text`/`eol`/`crlf` and `ident` are done here. Files whose conversion needs more of git
//! (`export-subst`, which is git's pretty-format language; `working-tree-encoding`, which is
//! iconv's; a configured `filter` driver) are handed to git itself, see [`super::git_archive`].

use gix::bstr::ByteSlice;

use super::attributes::Value;
use crate::repo_config::{Reader, RepoConfig};

/// The attributes `git archive` asks for a file, in this order.
pub const ATTRIBUTES: [&str; 8] = ["export-ignore", "export-subst", "crlf", "ident", "filter", "eol", "text", "working-tree-encoding"];

/// The repository settings `git archive` reads. A bare repository is read as Nix's fresh clone
/// of it, so it has the defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    auto_crlf: AutoCrlf,
    core_eol: CoreEol,
    /// `core.ignoreCase`, for attribute patterns.
    pub ignore_case: bool,
    /// `core.bigFileThreshold` (default 512 MiB): larger blobs are written raw.
    pub big_file_threshold: u64,
    /// Names of the configured filter drivers (`filter.<name>.*`).
    drivers: Vec<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AutoCrlf {
    False,
    True,
    Input,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CoreEol {
    Unset,
    Lf,
    Crlf,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { auto_crlf: AutoCrlf::False, core_eol: CoreEol::Unset, ignore_case: false, big_file_threshold: 512 << 20, drivers: Vec::new() }
    }
}

/// `git_parse_maybe_bool`, with a key given without value meaning true.
fn parse_bool(value: Option<&[u8]>) -> Option<bool> {
    let Some(value) = value else { return Some(true) };
    let lower = value.to_ascii_lowercase();
    match lower.as_slice() {
        b"true" | b"yes" | b"on" => Some(true),
        b"false" | b"no" | b"off" | b"" => Some(false),
        _ => std::str::from_utf8(value).ok()?.parse::<i64>().ok().map(|n| n != 0),
    }
}

/// `git_parse_ulong`: digits with an optional k, m or g.
fn parse_ulong(value: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(value).ok()?.trim();
    let (digits, factor) = match text.chars().last()?.to_ascii_lowercase() {
        'k' => (&text[..text.len() - 1], 1u64 << 10),
        'm' => (&text[..text.len() - 1], 1 << 20),
        'g' => (&text[..text.len() - 1], 1 << 30),
        _ => (text, 1),
    };
    digits.parse::<u64>().ok()?.checked_mul(factor)
}

impl Settings {
    /// The settings in `repo`'s own configuration, read as git reads it (includes followed, see
    /// [`crate::repo_config`]). Errors name a value git would die on.
    pub fn of(repo: &gix::Repository) -> Result<Settings, String> {
        let config = RepoConfig::load(repo, Reader::Git).map_err(|err| crate::error_chain(&err))?;
        Self::from_config(&config)
    }

    /// The settings in `config`.
    pub fn from_config(config: &RepoConfig) -> Result<Settings, String> {
        let mut settings = Settings::default();
        // The last value wins, as in git; `Some(None)` is a key without '=' (true).
        let raw = |key: &str| -> Option<Option<Vec<u8>>> { config.last("core", key).map(|v| v.map(|v| v.to_vec())) };
        if let Some(value) = raw("autocrlf") {
            settings.auto_crlf = match value.as_deref() {
                Some(v) if v.eq_ignore_ascii_case(b"input") => AutoCrlf::Input,
                v => match parse_bool(v) {
                    Some(true) => AutoCrlf::True,
                    Some(false) => AutoCrlf::False,
                    None => return Err(format!("bad boolean config value '{}' for 'core.autocrlf'", v.unwrap_or_default().as_bstr())),
                },
            };
        }
        if let Some(value) = raw("eol") {
            settings.core_eol = match value.as_deref().map(<[u8]>::to_ascii_lowercase).as_deref() {
                Some(b"lf") => CoreEol::Lf,
                Some(b"crlf") => CoreEol::Crlf,
                _ => CoreEol::Unset, // "native" is LF here
            };
        }
        if let Some(value) = raw("ignorecase") {
            settings.ignore_case = parse_bool(value.as_deref()).ok_or("bad boolean config value for 'core.ignorecase'")?;
        }
        if let Some(Some(value)) = raw("bigfilethreshold") {
            settings.big_file_threshold =
                parse_ulong(&value).ok_or_else(|| format!("bad numeric config value '{}' for 'core.bigfilethreshold'", value.as_bstr()))?;
        }
        settings.drivers = config.subsections("filter").into_iter().map(Vec::from).collect();
        Ok(settings)
    }

    /// Whether `filter=<value>` names a configured driver (`git_path_check_convert`).
    pub fn has_driver(&self, value: &Value) -> bool {
        match value {
            Value::Value(name) => self.drivers.iter().any(|d| d.as_slice() == name.as_slice()),
            _ => false,
        }
    }

    /// `text_eol_is_crlf`.
    fn text_eol_is_crlf(&self) -> bool {
        match self.auto_crlf {
            AutoCrlf::True => true,
            AutoCrlf::Input => false,
            AutoCrlf::False => self.core_eol == CoreEol::Crlf,
        }
    }

    /// `convert_attrs`: the line-ending action for a file with `crlf`, `eol` and `text` values.
    pub fn crlf_action(&self, crlf: &Value, eol: &Value, text: &Value) -> CrlfAction {
        let check_crlf = |value: &Value| match value {
            Value::Set => CrlfAction::Text,
            Value::Unset => CrlfAction::Binary,
            Value::Value(v) if v == "input" => CrlfAction::TextInput,
            Value::Value(v) if v == "auto" => CrlfAction::Auto,
            _ => CrlfAction::Undefined,
        };
        let mut action = check_crlf(text);
        if action == CrlfAction::Undefined {
            action = check_crlf(crlf);
        }
        if action != CrlfAction::Binary {
            let eol_attr = match eol {
                Value::Value(v) if v == "lf" => Some(false),
                Value::Value(v) if v == "crlf" => Some(true),
                _ => None,
            };
            action = match (action, eol_attr) {
                (CrlfAction::Auto, Some(false)) => CrlfAction::AutoInput,
                (CrlfAction::Auto, Some(true)) => CrlfAction::AutoCrlf,
                (_, Some(false)) => CrlfAction::TextInput,
                (_, Some(true)) => CrlfAction::TextCrlf,
                (action, None) => action,
            };
        }
        match action {
            CrlfAction::Text if self.text_eol_is_crlf() => CrlfAction::TextCrlf,
            CrlfAction::Text => CrlfAction::TextInput,
            CrlfAction::Undefined => match self.auto_crlf {
                AutoCrlf::False => CrlfAction::Binary,
                AutoCrlf::True => CrlfAction::AutoCrlf,
                AutoCrlf::Input => CrlfAction::AutoInput,
            },
            action => action,
        }
    }

    /// `output_eol` is CRLF: the only case where checkout changes line endings.
    pub fn writes_crlf(&self, action: CrlfAction) -> bool {
        match action {
            CrlfAction::Binary | CrlfAction::TextInput | CrlfAction::AutoInput => false,
            CrlfAction::TextCrlf | CrlfAction::AutoCrlf | CrlfAction::Undefined => true,
            CrlfAction::Text | CrlfAction::Auto => self.text_eol_is_crlf(),
        }
    }
}

/// git's `enum convert_crlf_action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrlfAction {
    /// Undecided.
    Undefined,
    /// No conversion.
    Binary,
    /// `text`.
    Text,
    /// `text eol=lf`.
    TextInput,
    /// `text eol=crlf`.
    TextCrlf,
    /// `text=auto`.
    Auto,
    /// `text=auto eol=crlf`.
    AutoCrlf,
    /// `text=auto eol=lf`.
    AutoInput,
}

#[derive(Default)]
struct TextStat {
    nul: usize,
    lonecr: usize,
    lonelf: usize,
    crlf: usize,
    printable: usize,
    nonprintable: usize,
}

/// `gather_stats`.
fn gather_stats(buf: &[u8]) -> TextStat {
    let mut stats = TextStat::default();
    let mut i = 0;
    while i < buf.len() {
        let c = buf[i];
        if c == b'\r' {
            if buf.get(i + 1) == Some(&b'\n') {
                stats.crlf += 1;
                i += 1;
            } else {
                stats.lonecr += 1;
            }
        } else if c == b'\n' {
            stats.lonelf += 1;
        } else if c == 127 {
            stats.nonprintable += 1;
        } else if c < 32 {
            match c {
                8 | b'\t' | 0x1b | 0x0c => stats.printable += 1,
                0 => {
                    stats.nul += 1;
                    stats.nonprintable += 1;
                }
                _ => stats.nonprintable += 1,
            }
        } else {
            stats.printable += 1;
        }
        i += 1;
    }
    if buf.last() == Some(&0x1a) {
        stats.nonprintable = stats.nonprintable.wrapping_sub(1);
    }
    stats
}

/// `convert_is_binary`.
fn is_binary(stats: &TextStat) -> bool {
    stats.lonecr > 0 || stats.nul > 0 || (stats.printable >> 7) < stats.nonprintable
}

/// `crlf_to_worktree`: LF becomes CRLF when `action` writes CRLF and, for `auto`, the file is
/// text without CRs. `None` when nothing changes.
pub fn crlf_to_worktree(settings: &Settings, src: &[u8], action: CrlfAction) -> Option<Vec<u8>> {
    if src.is_empty() || !settings.writes_crlf(action) {
        return None;
    }
    let stats = gather_stats(src);
    if stats.lonelf == 0 {
        return None;
    }
    if matches!(action, CrlfAction::Auto | CrlfAction::AutoInput | CrlfAction::AutoCrlf) && (stats.lonecr > 0 || stats.crlf > 0 || is_binary(&stats)) {
        return None;
    }
    let mut out = Vec::with_capacity(src.len() + stats.lonelf);
    let mut rest = src;
    while let Some(nl) = rest.find_byte(b'\n') {
        if nl > 0 && rest[nl - 1] == b'\r' {
            out.extend_from_slice(&rest[..=nl]);
        } else {
            out.extend_from_slice(&rest[..nl]);
            out.extend_from_slice(b"\r\n");
        }
        rest = &rest[nl + 1..];
    }
    out.extend_from_slice(rest);
    Some(out)
}

/// `ident_to_worktree`: the id written is that of `src` hashed as a blob, whatever object the
/// entry points at.
pub fn ident_to_worktree(src: &[u8]) -> Option<Vec<u8>> {
    let id = gix::objs::compute_hash(gix::hash::Kind::Sha1, gix::object::Kind::Blob, src).ok()?;
    super::ident::to_worktree(src, &id)
}

/// Whether the working-tree-encoding value makes git re-encode (or die, for true/false).
pub fn needs_encoding(value: &Value) -> bool {
    match value {
        Value::Set | Value::Unset => true,
        Value::Value(v) => !v.is_empty() && !v.eq_ignore_ascii_case(b"utf-8") && !v.eq_ignore_ascii_case(b"utf8"),
        Value::Unspecified => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_rules() {
        let s = Settings::default();
        let text = Value::Set;
        let auto = Value::Value("auto".into());
        let crlf = Value::Value("crlf".into());
        let none = Value::Unspecified;
        assert_eq!(s.crlf_action(&none, &none, &text), CrlfAction::TextInput);
        assert_eq!(s.crlf_action(&none, &crlf, &text), CrlfAction::TextCrlf);
        assert_eq!(s.crlf_action(&none, &crlf, &auto), CrlfAction::AutoCrlf);
        assert_eq!(s.crlf_action(&none, &crlf, &none), CrlfAction::TextCrlf, "eol=crlf alone implies text");
        assert_eq!(s.crlf_action(&Value::Unset, &crlf, &none), CrlfAction::Binary);
        assert_eq!(s.crlf_action(&none, &none, &none), CrlfAction::Binary);
        assert_eq!(crlf_to_worktree(&s, b"a\nb\r\nc", CrlfAction::TextCrlf).as_deref(), Some(&b"a\r\nb\r\nc"[..]));
        assert_eq!(crlf_to_worktree(&s, b"a\nb\r\nc", CrlfAction::AutoCrlf), None, "auto leaves files with CRLF alone");
        assert_eq!(crlf_to_worktree(&s, b"a\n\0", CrlfAction::AutoCrlf), None, "auto leaves binary files alone");
        assert_eq!(crlf_to_worktree(&s, b"a\n\0", CrlfAction::TextCrlf).as_deref(), Some(&b"a\r\n\0"[..]));
    }

    #[test]
    fn config_values() {
        assert_eq!(parse_ulong(b"1k"), Some(1024));
        assert_eq!(parse_ulong(b"2M"), Some(2 << 20));
        assert_eq!(parse_bool(None), Some(true));
        assert_eq!(parse_bool(Some(b"Yes")), Some(true));
        assert_eq!(parse_bool(Some(b"2")), Some(true));
        assert_eq!(parse_bool(Some(b"maybe")), None);
    }
}
