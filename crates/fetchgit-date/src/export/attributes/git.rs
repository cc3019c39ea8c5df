//! `.gitattributes` exactly as git 2.47 reads them for `git archive` (legacy generation):
//! `attr.c` (`parse_attr_line`, `parse_attr`, `read_attr_from_buf`, `read_attr_from_file`,
//! `prepare_attr_stack`, `fill`, `fill_one`, `macroexpand_one`, `determine_macros`) and `dir.c`
//! (`parse_path_pattern`, `match_basename`, `match_pathname`), with wildmatch from gix-glob
//! (a port of git's `wildmatch.c`).
//!
//! The attribute stack is, from highest precedence: `$GIT_DIR/info/attributes`, the
//! `.gitattributes` of each directory from the path's own up to the root (read from the archived
//! tree, which `git archive` loads into a temporary index), the file the repository's own
//! `core.attributesFile` names, and the built-in `[attr]binary -diff -merge -text`.
//!
//! ### Deviation
//! git also reads the system file (`/etc/gitattributes`) and the user's
//! (`core.attributesFile` of the user's configuration, default
//! `$XDG_CONFIG_HOME/git/attributes`). They are not part of the repository, and an export must
//! not depend on the machine it runs on, so they are not read. A `core.attributesFile` set in
//! the repository's own configuration is read (see `crate::repo_config`).

use gix::bstr::{BStr, BString, ByteSlice};

use super::Value;

/// git's `ATTR_MAX_LINE_LENGTH`: longer lines are ignored.
const MAX_LINE_LENGTH: usize = 2048;
/// git's `ATTR_MAX_FILE_SIZE`: larger files are ignored.
pub const MAX_FILE_SIZE: usize = 100 * 1024 * 1024;
/// `" \t\r\n"`, git's `blank`.
fn is_blank(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

const NEGATIVE: u8 = 1;
const MUST_BE_DIR: u8 = 2;
const NO_DIR: u8 = 4;
const ENDS_WITH: u8 = 8;

#[derive(Debug, Clone)]
struct Pattern {
    pattern: BString,
    nowildcardlen: usize,
    flags: u8,
}

#[derive(Debug, Clone)]
enum Target {
    Pattern(Pattern),
    Macro(BString),
}

#[derive(Debug, Clone)]
struct Rule {
    target: Target,
    states: Vec<(BString, Value)>,
}

/// The rules of one attributes file, and the directory it applies to.
#[derive(Debug, Clone, Default)]
pub struct Frame {
    origin: BString,
    rules: Vec<Rule>,
}

impl Frame {
    /// Whether the file had no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// `[attr]binary -diff -merge -text`, git's `builtin_attr`.
fn builtin() -> Frame {
    let mut frame = Frame::default();
    frame.rules.extend(parse_line(b"[attr]binary -diff -merge -text", true));
    frame
}

/// Parses a `.gitattributes` blob of the directory `origin` ("" for the root) as
/// `read_attr_from_buf` does: up to the first NUL byte, split at '\n'; macros only at the root.
pub fn parse_blob(origin: &BStr, data: &[u8]) -> Frame {
    let mut frame = Frame { origin: origin.to_owned(), rules: Vec::new() };
    if data.len() >= MAX_FILE_SIZE {
        return frame;
    }
    let data = match data.find_byte(0) {
        Some(nul) => &data[..nul],
        None => data,
    };
    if data.is_empty() {
        return frame;
    }
    let macro_ok = origin.is_empty();
    let mut lines: Vec<&[u8]> = data.split(|&c| c == b'\n').collect();
    if data.ends_with(b"\n") {
        lines.pop();
    }
    for line in lines {
        frame.rules.extend(parse_line(line, macro_ok));
    }
    frame
}

/// Parses `$GIT_DIR/info/attributes` as `read_attr_from_file` does: lines by
/// `strbuf_getline` (LF, then one CR, removed), each cut at its first NUL, a UTF-8 BOM skipped on
/// the first, macros allowed.
pub fn parse_file(data: &[u8]) -> Frame {
    let mut frame = Frame::default();
    if data.len() >= MAX_FILE_SIZE {
        return frame;
    }
    let mut lines: Vec<&[u8]> = data.split(|&c| c == b'\n').collect();
    if data.ends_with(b"\n") || data.is_empty() {
        lines.pop();
    }
    for (number, mut line) in lines.into_iter().enumerate() {
        if let Some(stripped) = line.strip_suffix(b"\r") {
            line = stripped;
        }
        if number == 0 {
            if let Some(stripped) = line.strip_prefix(b"\xef\xbb\xbf") {
                line = stripped;
            }
        }
        if let Some(nul) = line.find_byte(0) {
            line = &line[..nul];
        }
        frame.rules.extend(parse_line(line, true));
    }
    frame
}

/// `attr_name_valid`: `[-A-Za-z0-9_.]+`, not starting with '-'.
fn attr_name_valid(name: &[u8]) -> bool {
    !name.is_empty() && name[0] != b'-' && name.iter().all(|&c| c == b'-' || c == b'.' || c == b'_' || c.is_ascii_alphanumeric())
}

fn attr_name_reserved(name: &[u8]) -> bool {
    name.starts_with(b"builtin_")
}

/// `parse_attr`: one state token starting at `cp`; the rest of the line after it (blanks
/// skipped), or `None` when the name is invalid (which drops the whole line).
fn parse_attr(cp: &[u8]) -> Option<((BString, Value), &[u8])> {
    let ep = cp.iter().position(|&c| is_blank(c)).unwrap_or(cp.len());
    let equals = cp[..ep].find_byte(b'=');
    let mut name = &cp[..equals.unwrap_or(ep)];
    let value = match name.first() {
        Some(b'-') => {
            name = &name[1..];
            Value::Unset
        }
        Some(b'!') => {
            name = &name[1..];
            Value::Unspecified
        }
        _ => match equals {
            None => Value::Set,
            Some(eq) => Value::Value(cp[eq + 1..ep].into()),
        },
    };
    if !attr_name_valid(name) || attr_name_reserved(name) {
        return None;
    }
    let rest = &cp[ep..];
    let skip = rest.iter().take_while(|&&c| is_blank(c)).count();
    Some(((name.into(), value), &rest[skip..]))
}

/// `unquote_c_style`: the unquoted string and what follows the closing quote.
fn unquote_c_style(quoted: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let mut out = Vec::new();
    let mut rest = quoted.strip_prefix(b"\"")?;
    loop {
        let len = rest.iter().position(|&c| c == b'"' || c == b'\\').unwrap_or(rest.len());
        out.extend_from_slice(&rest[..len]);
        rest = &rest[len..];
        match rest.first() {
            Some(b'"') => return Some((out, &rest[1..])),
            Some(b'\\') => rest = &rest[1..],
            _ => return None,
        }
        let ch = *rest.first()?;
        rest = &rest[1..];
        let byte = match ch {
            b'a' => 7,
            b'b' => 8,
            b'f' => 12,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'v' => 11,
            b'\\' | b'"' => ch,
            b'0'..=b'3' => {
                let d1 = *rest.first().filter(|c| (b'0'..=b'7').contains(*c))?;
                let d2 = *rest.get(1).filter(|c| (b'0'..=b'7').contains(*c))?;
                rest = &rest[2..];
                ((ch - b'0') << 6) | ((d1 - b'0') << 3) | (d2 - b'0')
            }
            _ => return None,
        };
        out.push(byte);
    }
}

/// `parse_attr_line`.
fn parse_line(line: &[u8], macro_ok: bool) -> Option<Rule> {
    let skip = line.iter().take_while(|&&c| is_blank(c)).count();
    let cp = &line[skip..];
    if cp.is_empty() || cp[0] == b'#' {
        return None;
    }
    if line.len() >= MAX_LINE_LENGTH {
        return None;
    }
    let unquoted;
    let (mut name, mut states): (&[u8], &[u8]) = match cp.first() {
        Some(b'"') => match unquote_c_style(cp) {
            Some((pattern, states)) => {
                unquoted = pattern;
                (&unquoted[..], states)
            }
            None => {
                let n = cp.iter().position(|&c| is_blank(c)).unwrap_or(cp.len());
                (&cp[..n], &cp[n..])
            }
        },
        _ => {
            let n = cp.iter().position(|&c| is_blank(c)).unwrap_or(cp.len());
            (&cp[..n], &cp[n..])
        }
    };
    const MACRO: &[u8] = b"[attr]";
    let is_macro = name.len() > MACRO.len() && name.starts_with(MACRO);
    if is_macro {
        if !macro_ok {
            return None;
        }
        let after = &name[MACRO.len()..];
        let skip = after.iter().take_while(|&&c| is_blank(c)).count();
        let after = &after[skip..];
        let n = after.iter().position(|&c| is_blank(c)).unwrap_or(after.len());
        name = &after[..n];
        if !attr_name_valid(name) || attr_name_reserved(name) {
            return None;
        }
    }
    let skip = states.iter().take_while(|&&c| is_blank(c)).count();
    states = &states[skip..];
    let mut parsed = Vec::new();
    while !states.is_empty() {
        let (state, rest) = parse_attr(states)?;
        parsed.push(state);
        states = rest;
    }
    let target = if is_macro {
        Target::Macro(name.into())
    } else {
        // The pattern is a C string: an unquoted "\000" ends it.
        let name = match name.find_byte(0) {
            Some(nul) => &name[..nul],
            None => name,
        };
        let pattern = parse_path_pattern(name);
        if pattern.flags & NEGATIVE != 0 {
            return None; // "Negative patterns are ignored in git attributes"
        }
        Target::Pattern(pattern)
    };
    Some(Rule { target, states: parsed })
}

/// `simple_length`: bytes before the first of `*?[\`.
fn simple_length(s: &[u8]) -> usize {
    s.iter().position(|c| matches!(c, b'*' | b'?' | b'[' | b'\\')).unwrap_or(s.len())
}

/// `parse_path_pattern` (dir.c).
fn parse_path_pattern(mut p: &[u8]) -> Pattern {
    let mut flags = 0;
    if p.first() == Some(&b'!') {
        flags |= NEGATIVE;
        p = &p[1..];
    }
    let mut len = p.len();
    if len > 0 && p[len - 1] == b'/' {
        len -= 1;
        flags |= MUST_BE_DIR;
    }
    if !p[..len].contains(&b'/') {
        flags |= NO_DIR;
    }
    let nowildcardlen = simple_length(p).min(len);
    if p.first() == Some(&b'*') && simple_length(&p[1..]) == p.len() - 1 {
        flags |= ENDS_WITH;
    }
    Pattern { pattern: p[..len].into(), nowildcardlen, flags }
}

/// The attribute stack of one export and the repository-wide settings it needs.
pub struct GitAttributes {
    info: Frame,
    /// `core.attributesFile` of the repository's own configuration (below every
    /// `.gitattributes`, above the built-in macros).
    global: Frame,
    builtin: Frame,
    /// `.gitattributes` frames from the root down to the current directory.
    dirs: Vec<Frame>,
    ignore_case: bool,
}

impl GitAttributes {
    /// An empty stack with `info/attributes` (already parsed) and `core.ignoreCase`.
    pub fn new(info: Frame, ignore_case: bool) -> Self {
        GitAttributes { info, global: Frame::default(), builtin: builtin(), dirs: Vec::new(), ignore_case }
    }

    /// The stack with `core.attributesFile`'s frame (already parsed) at its place.
    pub fn with_global(mut self, global: Frame) -> Self {
        self.global = global;
        self
    }

    /// Enters a directory whose `.gitattributes` is `frame` (empty when it has none).
    pub fn push(&mut self, frame: Frame) {
        self.dirs.push(frame);
    }

    /// Leaves the directory entered last.
    pub fn pop(&mut self) {
        self.dirs.pop();
    }

    /// Whether any rule at all applies (so that queries can be skipped).
    pub fn has_rules(&self) -> bool {
        !self.info.rules.is_empty() || !self.global.rules.is_empty() || self.dirs.iter().any(|f| !f.rules.is_empty())
    }

    /// The values of `names` for `path`, relative to the root, with a trailing '/' for a
    /// directory or gitlink as `git archive` asks (`git_check_attr`). The stack must hold the
    /// frames of the directories that contain `path`.
    pub fn check<const N: usize>(&self, path: &BStr, names: [&str; N]) -> [Value; N] {
        let mut out = std::array::from_fn(|_| Value::Unspecified);
        if !self.has_rules() {
            return out;
        }
        let frames: Vec<&Frame> = std::iter::once(&self.info).chain(self.dirs.iter().rev()).chain([&self.global, &self.builtin]).collect();
        let mut known: Vec<(BString, Value)> = Vec::new();
        let path_len = path.len();
        let basename_offset = match path[..path_len.saturating_sub(1)].rfind_byte(b'/') {
            Some(slash) if path_len > 0 => slash + 1,
            _ => 0,
        };
        for frame in &frames {
            for rule in frame.rules.iter().rev() {
                let Target::Pattern(pattern) = &rule.target else { continue };
                if self.path_matches(path, basename_offset, pattern, frame.origin.as_ref()) {
                    self.fill_one(&frames, rule, &mut known, 0);
                }
            }
        }
        for (slot, name) in out.iter_mut().zip(names) {
            if let Some((_, value)) = known.iter().find(|(n, _)| n == name) {
                *slot = value.clone();
            }
        }
        out
    }

    /// `fill_one`: a rule's states, last first, set what is still unknown; a macro set to true
    /// expands in place (`macroexpand_one`).
    fn fill_one(&self, frames: &[&Frame], rule: &Rule, known: &mut Vec<(BString, Value)>, depth: usize) {
        for (name, value) in rule.states.iter().rev() {
            if known.iter().any(|(n, _)| n == name) {
                continue;
            }
            known.push((name.clone(), value.clone()));
            if *value == Value::Set && depth < 64 {
                if let Some(definition) = macro_definition(frames, name.as_ref()) {
                    self.fill_one(frames, definition, known, depth + 1);
                }
            }
        }
    }

    /// `path_matches`.
    fn path_matches(&self, path: &BStr, basename_offset: usize, pattern: &Pattern, base: &BStr) -> bool {
        let is_dir = path.last() == Some(&b'/');
        if pattern.flags & MUST_BE_DIR != 0 && !is_dir {
            return false;
        }
        let end = path.len() - usize::from(is_dir);
        if pattern.flags & NO_DIR != 0 {
            return self.match_basename(&path[basename_offset.min(end)..end], pattern);
        }
        self.match_pathname(&path[..end], base, pattern)
    }

    fn eq(&self, a: &[u8], b: &[u8]) -> bool {
        if self.ignore_case {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    }

    fn wildmatch(&self, pattern: &[u8], text: &[u8], pathname: bool) -> bool {
        use gix::glob::wildmatch::Mode;
        let mut mode = Mode::empty();
        if pathname {
            mode |= Mode::NO_MATCH_SLASH_LITERAL;
        }
        if self.ignore_case {
            mode |= Mode::IGNORE_CASE;
        }
        gix::glob::wildmatch(pattern.as_bstr(), text.as_bstr(), mode)
    }

    /// `match_basename`.
    fn match_basename(&self, basename: &[u8], pattern: &Pattern) -> bool {
        let p = pattern.pattern.as_slice();
        if pattern.nowildcardlen == p.len() {
            p.len() == basename.len() && self.eq(p, basename)
        } else if pattern.flags & ENDS_WITH != 0 {
            p.len() - 1 <= basename.len() && self.eq(&p[1..], &basename[basename.len() - (p.len() - 1)..])
        } else {
            self.wildmatch(p, basename, false)
        }
    }

    /// `match_pathname`: the pattern is relative to `base`, the directory of its file.
    fn match_pathname(&self, path: &[u8], base: &[u8], pattern: &Pattern) -> bool {
        let mut p = pattern.pattern.as_slice();
        let mut prefix = pattern.nowildcardlen;
        if p.first() == Some(&b'/') {
            p = &p[1..];
            prefix = prefix.saturating_sub(1);
        }
        let baselen = base.len();
        if path.len() < baselen + 1 || (baselen > 0 && path[baselen] != b'/') || !self.eq(&path[..baselen], base) {
            return false;
        }
        let namelen = if baselen > 0 { path.len() - baselen - 1 } else { path.len() };
        let mut name = &path[path.len() - namelen..];
        if prefix > 0 {
            if prefix > name.len() || !self.eq(&p[..prefix], &name[..prefix]) {
                return false;
            }
            p = &p[prefix..];
            name = &name[prefix..];
            if p.is_empty() && name.is_empty() {
                return true;
            }
        }
        self.wildmatch(p, name, true)
    }
}

/// `determine_macros`: the definition of `name` nearest the top of the stack, the last one in
/// its file.
fn macro_definition<'a>(frames: &[&'a Frame], name: &BStr) -> Option<&'a Rule> {
    frames.iter().flat_map(|frame| frame.rules.iter().rev()).find(|rule| matches!(&rule.target, Target::Macro(m) if m == name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(files: &[(&str, &str)], path: &str, name: &str) -> Value {
        let mut attrs = GitAttributes::new(Frame::default(), false);
        for (origin, text) in files {
            attrs.push(parse_blob((*origin).into(), text.as_bytes()));
        }
        let [value] = attrs.check(path.into(), [name]);
        value
    }

    #[test]
    fn parses_like_git() {
        use super::Value::{Set, Unset, Unspecified};
        assert_eq!(check(&[("", "\"a b.txt\" export-ignore\n")], "a b.txt", "export-ignore"), Set);
        assert_eq!(check(&[("", "a\\ b export-ignore\n")], "a\\", "export-ignore"), Unspecified, "the whole line has an invalid name 'b'");
        assert_eq!(check(&[("", "!x export-ignore\n")], "y", "export-ignore"), Unspecified, "negative patterns are ignored");
        assert_eq!(check(&[("", "x export-ignore bad/name\n")], "x", "export-ignore"), Unspecified);
        assert_eq!(check(&[("", "x export-ignore\0\ny export-ignore\n")], "y", "export-ignore"), Unspecified, "a blob ends at NUL");
        assert_eq!(check(&[("", "x -export-ignore export-ignore\n")], "x", "export-ignore"), Set, "last state wins");
        assert_eq!(check(&[("", "[attr]ign export-ignore\nx ign\n")], "x", "export-ignore"), Set);
        assert_eq!(check(&[("", ""), ("d", "[attr]ign export-ignore\nx ign\n")], "d/x", "export-ignore"), Unspecified, "no macros below the root");
        assert_eq!(check(&[("", "x binary\n")], "x", "text"), Unset);
        assert_eq!(check(&[("", "x export-ignore=yes\n")], "x", "export-ignore"), super::Value::Value("yes".into()));
        assert_eq!(check(&[("", "dir/ export-ignore\n")], "dir/", "export-ignore"), Set);
        assert_eq!(check(&[("", "dir/ export-ignore\n")], "dir", "export-ignore"), Unspecified);
        assert_eq!(check(&[("", "*.c export-ignore\n")], "a/b.c", "export-ignore"), Set);
        assert_eq!(check(&[("", "/a/*.c export-ignore\n")], "a/b.c", "export-ignore"), Set);
        assert_eq!(check(&[("", ""), ("a", "/b.c export-ignore\n")], "a/b.c", "export-ignore"), Set);
        let long = format!("{} export-ignore\n", "x".repeat(2040));
        assert_eq!(check(&[("", &long)], &"x".repeat(2040), "export-ignore"), Unspecified, "lines of 2048 bytes or more are ignored");
    }
}
