//! Tree objects as each generation reads them: the raw entry parser, the mode table and the
//! entry-name rules of git 2.47 (legacy, `git archive`) and of libgit2 1.9 with Nix 2.26's
//! accessor (modern). Both are read from the object bytes here rather than through gix, whose
//! parser normalises modes and rejects some trees that git or libgit2 accept.

use gix::bstr::{BStr, BString, ByteSlice};
use gix::ObjectId;

/// One entry of a tree object, exactly as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    /// The mode as the generation's parser reads it (git truncates to 16 bits).
    pub mode: u32,
    /// The entry name.
    pub name: BString,
    /// The object the entry points at.
    pub oid: ObjectId,
}

/// What an entry becomes in the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A directory whose entries come from the tree `oid`.
    Tree,
    /// A regular file with the bytes of the object.
    File {
        /// The owner's execute bit.
        executable: bool,
    },
    /// A symbolic link whose target is the object's bytes.
    Link,
    /// A gitlink (submodule): an empty directory.
    Gitlink,
}

const S_IFMT: u32 = 0o170000;
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFGITLINK: u32 = 0o160000;

/// git's `decode_tree_entry` (tree-walk.c) with `parse_mode` (object.h): the mode is any run of
/// octal digits up to a space, accumulated in an `unsigned int` and stored in a `uint16_t`.
pub fn parse_git(data: &[u8]) -> Result<Vec<RawEntry>, String> {
    let mut entries = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        // `if (size < hashsz + 3 || buf[size - (hashsz + 1)])`: "too-short tree object"
        if rest.len() < 23 || rest[rest.len() - 21] != 0 {
            return Err("too-short tree object".into());
        }
        if rest[0] == b' ' {
            return Err("malformed mode in tree entry".into());
        }
        let mut mode: u32 = 0;
        let mut i = 0;
        loop {
            let c = rest[i];
            i += 1;
            if c == b' ' {
                break;
            }
            if !(b'0'..=b'7').contains(&c) {
                return Err("malformed mode in tree entry".into());
            }
            mode = (mode << 3).wrapping_add(u32::from(c - b'0'));
        }
        let mode = mode & 0xffff;
        let name_len = rest[i..].find_byte(0).ok_or("too-short tree object")?;
        if name_len == 0 {
            return Err("empty filename in tree entry".into());
        }
        let name = &rest[i..i + name_len];
        let oid_start = i + name_len + 1;
        let oid = rest.get(oid_start..oid_start + 20).ok_or("too-short tree object")?;
        entries.push(RawEntry { mode, name: name.into(), oid: ObjectId::from_bytes_or_panic(oid) });
        rest = &rest[oid_start + 20..];
    }
    Ok(entries)
}

/// libgit2's `git_tree__parse_raw` (tree.c) with `parse_mode` (`git__strntol32`, base 8, an
/// optional sign, at most `UINT16_MAX`), then a space, a non-empty name and a 20-byte id.
pub fn parse_libgit2(data: &[u8]) -> Result<Vec<RawEntry>, String> {
    let err = |what: &str| Err(format!("failed to parse tree: {what}"));
    let mut entries = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        if rest[0].is_ascii_whitespace() || rest[0] == 0x0b {
            return err("can't parse filemode");
        }
        let mut i = 0;
        let negative = match rest[0] {
            b'-' => {
                i = 1;
                true
            }
            b'+' => {
                i = 1;
                false
            }
            _ => false,
        };
        let digits = rest[i..].iter().take_while(|c| (b'0'..=b'7').contains(c)).count();
        if digits == 0 {
            return err("can't parse filemode");
        }
        let mut mode: i64 = 0;
        for &c in &rest[i..i + digits] {
            mode = match mode.checked_mul(8).and_then(|m| m.checked_add(i64::from(c - b'0'))) {
                Some(m) => m,
                None => return err("can't parse filemode"),
            };
        }
        if negative || mode > 0xffff {
            return err("can't parse filemode");
        }
        i += digits;
        if rest.get(i) != Some(&b' ') {
            return err("missing space after filemode");
        }
        i += 1;
        let Some(name_len) = rest[i..].find_byte(0) else {
            return err("object is corrupted");
        };
        if name_len == 0 || name_len > 0xffff {
            return err("can't parse filename");
        }
        let oid_start = i + name_len + 1;
        let Some(oid) = rest.get(oid_start..oid_start + 20) else {
            return err("can't parse OID");
        };
        entries.push(RawEntry { mode: mode as u32, name: rest[i..i + name_len].into(), oid: ObjectId::from_bytes_or_panic(oid) });
        rest = &rest[oid_start + 20..];
    }
    Ok(entries)
}

/// git's `canon_mode` (object.h), which `git archive` sees: a regular file keeps only its
/// execute bit, and every type that is neither a file, a symlink nor a directory is a gitlink.
pub fn kind_git(mode: u32) -> Kind {
    match mode & S_IFMT {
        S_IFREG => Kind::File { executable: mode & 0o100 != 0 },
        S_IFLNK => Kind::Link,
        S_IFDIR => Kind::Tree,
        _ => Kind::Gitlink,
    }
}

/// Why a modern export of an entry fails in Nix 2.26 itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NixFailure(pub &'static str);

/// The kind Nix 2.26 gives an entry: `GitSourceAccessor::maybeLstat` classifies by
/// `git_tree_entry_filemode` (libgit2's `normalize_filemode`: tree type first, then any execute
/// bit, then gitlink and symlink types, everything else a regular file), and reading the entry
/// then checks `git_tree_entry_type` (gitlink and directory by the raw type bits).
pub fn kind_libgit2(mode: u32) -> Result<Kind, NixFailure> {
    let raw_type = mode & S_IFMT;
    let normalized = if raw_type == S_IFDIR {
        Kind::Tree
    } else if mode & 0o100 != 0 {
        Kind::File { executable: true }
    } else if raw_type == S_IFGITLINK {
        Kind::Gitlink
    } else if raw_type == S_IFLNK {
        Kind::Link
    } else {
        Kind::File { executable: false }
    };
    // `getBlob`: `git_tree_entry_type(entry) != GIT_OBJECT_BLOB` is "is not a regular file".
    if matches!(normalized, Kind::File { .. }) && raw_type == S_IFGITLINK {
        return Err(NixFailure("is not a regular file (a gitlink mode with an execute bit)"));
    }
    Ok(normalized)
}

/// Why `git archive` refuses a name (`verify_path` in read-cache.c, run by `unpack_trees` on
/// every entry, with git's defaults `core.protectNTFS = true`, `core.protectHFS = false`).
pub fn git_refuses_name(name: &BStr, kind: Kind) -> Option<&'static str> {
    let symlink = kind == Kind::Link;
    let mut components = vec![name.as_bytes()];
    // A backslash starts another component for the NTFS checks.
    components.extend(name.split(|&c| c == b'\\').skip(1));
    for component in components {
        if is_ntfs_dotgit(component) {
            return Some("git refuses it as a name for the repository directory (.git or an NTFS spelling of it)");
        }
        if symlink && is_ntfs_dotgitmodules(component) {
            return Some("git refuses a symbolic link named like .gitmodules (NTFS spellings included)");
        }
    }
    if name.first() == Some(&b'.') && !verify_dotfile(&name[1..], symlink) {
        return Some("git refuses '.', '..', '.git' and symlinked '.gitmodules' as names");
    }
    None
}

/// `verify_dotfile`: `rest` follows a leading '.'.
fn verify_dotfile(rest: &[u8], symlink: bool) -> bool {
    match rest.first() {
        None => false,
        Some(b'g' | b'G') => {
            if !rest.get(1).is_some_and(|c| c.eq_ignore_ascii_case(&b'i')) || !rest.get(2).is_some_and(|c| c.eq_ignore_ascii_case(&b't')) {
                return true;
            }
            if rest.len() == 3 {
                return false;
            }
            !(symlink && rest[3..].eq_ignore_ascii_case(b"modules"))
        }
        Some(b'.') => rest.len() != 1,
        Some(_) => true,
    }
}

/// `is_ntfs_dotgit` (path.c): `.git` or `git~1`, then only spaces and periods, up to the end,
/// a directory separator or ':'.
fn is_ntfs_dotgit(name: &[u8]) -> bool {
    let rest = if name.first() == Some(&b'.') {
        match name.get(1..4) {
            Some(s) if s.eq_ignore_ascii_case(b"git") => &name[4..],
            _ => return false,
        }
    } else {
        match name.get(0..5) {
            Some(s) if s[..3].eq_ignore_ascii_case(b"git") && &s[3..] == b"~1" => &name[5..],
            _ => return false,
        }
    };
    only_spaces_and_periods(rest, true)
}

fn only_spaces_and_periods(rest: &[u8], stop_at_separator: bool) -> bool {
    for &c in rest {
        if c == b':' || (stop_at_separator && (c == b'/' || c == b'\\')) {
            return true;
        }
        if c != b' ' && c != b'.' {
            return false;
        }
    }
    true
}

/// `is_ntfs_dotgitmodules` (path.c): `is_ntfs_dot_generic(name, "gitmodules", 10, "gi7eba")`.
fn is_ntfs_dotgitmodules(name: &[u8]) -> bool {
    const DOTGIT_NAME: &[u8] = b"gitmodules";
    const SHORT_PREFIX: &[u8] = b"gi7eba";
    if name.first() == Some(&b'.') && name.len() > DOTGIT_NAME.len() && name[1..=DOTGIT_NAME.len()].eq_ignore_ascii_case(DOTGIT_NAME) {
        return only_spaces_and_periods(&name[DOTGIT_NAME.len() + 1..], false);
    }
    if name.len() >= 8 && name[..6].eq_ignore_ascii_case(&DOTGIT_NAME[..6]) && name[6] == b'~' && (b'1'..=b'4').contains(&name[7]) {
        return only_spaces_and_periods(&name[8..], false);
    }
    // The fall-back NTFS short name: up to 6 characters of the prefix, '~', digits, 8 in all.
    let mut saw_tilde = false;
    let mut i = 0;
    while i < 8 {
        let Some(&c) = name.get(i) else { return false };
        if saw_tilde {
            if !c.is_ascii_digit() {
                return false;
            }
        } else if c == b'~' {
            i += 1;
            match name.get(i) {
                Some(d) if (b'1'..=b'9').contains(d) => {}
                _ => return false,
            }
            saw_tilde = true;
        } else if i >= 6 || c & 0x80 != 0 || c.to_ascii_lowercase() != SHORT_PREFIX[i] {
            return false;
        }
        i += 1;
    }
    only_spaces_and_periods(&name[8.min(name.len())..], false)
}

/// Why Nix 2.26 fails on an entry name (`CanonPath::push` asserts, aborting the evaluator).
pub fn nix_refuses_name(name: &BStr) -> Option<&'static str> {
    if name.contains(&b'/') {
        Some("the name contains '/' (Nix aborts on it: assertion in CanonPath::push)")
    } else if name == "." || name == ".." {
        Some("the names '.' and '..' cannot be entries (Nix aborts on them: assertion in CanonPath::push)")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (mode, name) in entries {
            out.extend_from_slice(mode.as_bytes());
            out.push(b' ');
            out.extend_from_slice(name);
            out.push(0);
            out.extend_from_slice(&[7u8; 20]);
        }
        out
    }

    #[test]
    fn the_parsers_differ_where_git_and_libgit2_do() {
        let seven_digits = raw(&[("1100644", b"f")]);
        assert_eq!(parse_git(&seven_digits).expect("git truncates")[0].mode, 0o100644);
        assert!(parse_libgit2(&seven_digits).is_err(), "libgit2: above UINT16_MAX");
        let signed = raw(&[("+100644", b"f")]);
        assert!(parse_git(&signed).is_err());
        assert_eq!(parse_libgit2(&signed).expect("libgit2 accepts a sign")[0].mode, 0o100644);
        let empty_name = raw(&[("100644", b"")]);
        assert!(parse_git(&empty_name).is_err() && parse_libgit2(&empty_name).is_err());
        let two = raw(&[("100644", b"a"), ("40000", b"b")]);
        assert_eq!(parse_git(&two).expect("valid").len(), 2);
        assert_eq!(parse_libgit2(&two).expect("valid")[1].mode, 0o40000);
    }

    /// Measured with Nix 2.8 and Nix 2.26 on trees written with `git hash-object --literally`
    /// (fixtures/make-hostile.sh, repository `modes`).
    #[test]
    fn mode_tables() {
        use Kind::*;
        let file = File { executable: false };
        let exec = File { executable: true };
        for (mode, git, libgit2) in [
            (0o100644, file, Ok(file)),
            (0o100755, exec, Ok(exec)),
            (0o100664, file, Ok(file)),
            (0o100744, exec, Ok(exec)),
            (0o120000, Link, Ok(Link)),
            (0o120755, Link, Ok(exec)),
            (0o120644, Link, Ok(Link)),
            (0, Gitlink, Ok(file)),
            (0o644, Gitlink, Ok(file)),
            (0o60000, Gitlink, Ok(file)),
            (0o110644, Gitlink, Ok(file)),
            (0o170000, Gitlink, Ok(file)),
            (0o140000, Gitlink, Ok(file)),
            (0o140755, Gitlink, Ok(exec)),
            (0o160000, Gitlink, Ok(Gitlink)),
            (0o160644, Gitlink, Ok(Gitlink)),
            (0o40000, Tree, Ok(Tree)),
            (0o40755, Tree, Ok(Tree)),
        ] {
            assert_eq!(kind_git(mode), git, "git, mode {mode:o}");
            assert_eq!(kind_libgit2(mode), libgit2, "libgit2, mode {mode:o}");
        }
        assert!(kind_libgit2(0o160755).is_err());
    }

    #[test]
    fn git_name_rules() {
        let file = Kind::File { executable: false };
        for bad in [".", "..", ".git", ".GIT", ".git.", ".git  ", "git~1", "GIT~1..", ".git:x", "a\\.git"] {
            assert!(git_refuses_name(bad.into(), file).is_some(), "{bad}");
        }
        for good in [".gitx", ".github", "git~2", "...", ".gitmodules", "a.git", ".g"] {
            assert!(git_refuses_name(good.into(), file).is_none(), "{good}");
        }
        for bad_link in [".gitmodules", ".GITMODULES", ".gitmodules .", "gitmod~1", "gi7eba~9"] {
            assert!(git_refuses_name(bad_link.into(), Kind::Link).is_some(), "{bad_link}");
        }
    }
}
