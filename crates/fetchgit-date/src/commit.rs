//! What each tool reads from a commit object's bytes, which differ for unusual commits:
//! - git's walks (`parse_commit_buffer` and `parse_commit_date` in commit.c): the tree line,
//!   the parent lines right after it, and the date of the committer line that directly follows
//!   the author line (0 when there is none);
//! - git's `%ct` (`parse_commit_header` in pretty.c, `split_ident_line` in ident.c), which Nix
//!   <= 2.19 prints as `lastModified`: the *last* committer line of the header;
//! - libgit2's `commit_parse` (commit.c), which Nix >= 2.20 uses: tree, parents, a required
//!   author (extra ones skipped), a required committer whose time is `lastModified`.

use gix::bstr::ByteSlice;
use gix::ObjectId;

/// A commit object's header, read lazily.
pub struct Parsed<'a> {
    data: &'a [u8],
}

fn hex_id(line: &[u8], prefix: &[u8]) -> Option<ObjectId> {
    let hex = line.strip_prefix(prefix)?;
    if hex.len() != 40 {
        return None;
    }
    ObjectId::from_hex(hex).ok()
}

/// C's `isspace` in the C locale.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// `parse_timestamp` (`strtoumax`, base 10): optional blanks and sign, then digits; wraps
/// negative numbers as C does; saturates on overflow like `strtoumax` (`UINTMAX_MAX`).
fn strtoumax(text: &[u8]) -> u64 {
    let mut i = 0;
    while i < text.len() && is_space(text[i]) {
        i += 1;
    }
    let negative = match text.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut value: u64 = 0;
    for &c in &text[i..] {
        if !c.is_ascii_digit() {
            break;
        }
        match value.checked_mul(10).and_then(|v| v.checked_add(u64::from(c - b'0'))) {
            Some(v) => value = v,
            None => return u64::MAX,
        }
    }
    if negative {
        value.wrapping_neg()
    } else {
        value
    }
}

impl<'a> Parsed<'a> {
    /// The commit object's bytes.
    pub fn new(data: &'a [u8]) -> Self {
        Parsed { data }
    }

    /// The header lines (up to the first empty line).
    fn header_lines(&self) -> impl Iterator<Item = &'a [u8]> {
        self.data.split(|&c| c == b'\n').take_while(|line| !line.is_empty())
    }

    /// The tree: git requires it on the first line.
    pub fn tree(&self) -> Option<ObjectId> {
        hex_id(self.data.split(|&c| c == b'\n').next()?, b"tree ")
    }

    /// The parents as git reads them: `parent <hex>` lines directly after the tree line.
    pub fn git_parents(&self) -> Vec<ObjectId> {
        self.data.split(|&c| c == b'\n').skip(1).map_while(|line| hex_id(line, b"parent ")).collect()
    }

    /// The committer date git's walks use (`parse_commit_date`): from the committer line that
    /// immediately follows the author line (after tree and parents), 0 otherwise.
    pub fn git_date(&self) -> u64 {
        let mut lines = self.data.split(|&c| c == b'\n').skip(1).skip_while(|line| line.starts_with(b"parent "));
        let Some(author) = lines.next() else { return 0 };
        if !author.starts_with(b"author") {
            return 0;
        }
        let Some(committer) = lines.next() else { return 0 };
        // The line must have an end: `memchr(buf, '\n', tail - buf)`.
        let offset = committer.as_ptr() as usize - self.data.as_ptr() as usize;
        if !committer.starts_with(b"committer") || offset + committer.len() >= self.data.len() {
            return 0;
        }
        let Some(gt) = committer.rfind_byte(b'>') else { return 0 };
        let mut rest = &committer[gt + 1..];
        while let Some((&c, tail)) = rest.split_first() {
            if !is_space(c) {
                break;
            }
            rest = tail;
        }
        match rest.first() {
            Some(c) if c.is_ascii_digit() || *c == b'-' => strtoumax(rest),
            _ => 0,
        }
    }

    /// `%ct` as git prints it (Nix <= 2.19's `lastModified`): the digits after the last '>' of
    /// the last committer line, or `None` when there are none (Nix then fails).
    ///
    /// git's `split_ident_line` takes the date only when a time zone follows it (blanks, then
    /// `+` or `-` and at least one digit); otherwise `%ct` prints nothing. So a date without a
    /// zone, with a zone of letters, or followed by anything but blanks (`1e9`, `0x...`, a NUL)
    /// prints nothing, and Nix 2.8's `stoull` fails on it.
    pub fn git_committer_time_text(&self) -> Option<&'a [u8]> {
        let committer = self.header_lines().filter_map(|line| line.strip_prefix(b"committer ")).last()?;
        // The '<' is searched as a C string (`*cp && ...`).
        committer.iter().take_while(|&&c| c != 0).position(|&c| c == b'<')?;
        let gt = committer.rfind_byte(b'>')?;
        let rest = &committer[gt + 1..];
        let start = rest.iter().position(|&c| !is_space(c))?;
        let rest = &rest[start..];
        let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let after = &rest[digits..];
        let zone_at = after.iter().position(|&c| !is_space(c))?;
        let zone = &after[zone_at..];
        let zone_digits = zone.get(1..).map_or(0, |tail| tail.iter().take_while(|c| c.is_ascii_digit()).count());
        (matches!(zone.first(), Some(b'+' | b'-')) && zone_digits > 0).then_some(&rest[..digits])
    }

    /// Why libgit2 refuses the commit (`commit_parse`), if it does.
    pub fn libgit2_check(&self) -> Result<(), &'static str> {
        self.libgit2_committer_time().map(drop)
    }

    /// The committer time libgit2 reads (`git_commit_time`): its first committer line after
    /// the author lines; 0 when the line has no time.
    pub fn libgit2_committer_time(&self) -> Result<i64, &'static str> {
        let mut rest = self.data;
        let line = |rest: &mut &'a [u8]| -> Option<&'a [u8]> {
            let end = rest.find_byte(b'\n')?;
            let line = &rest[..end];
            *rest = &rest[end + 1..];
            Some(line)
        };
        let first = line(&mut rest).ok_or("failed to parse bad commit object")?;
        if hex_id(first, b"tree ").is_none() {
            return Err("failed to parse bad commit object");
        }
        while rest.starts_with(b"parent ") {
            let probe = rest;
            match line(&mut rest) {
                Some(l) if hex_id(l, b"parent ").is_some() => {}
                _ => {
                    rest = probe;
                    break;
                }
            }
        }
        signature(line(&mut rest), b"author ")?;
        while rest.starts_with(b"author ") {
            signature(line(&mut rest), b"author ")?;
        }
        signature(line(&mut rest), b"committer ")
    }
}

/// `git_signature__parse`: the time of a signature line (0 when it has none).
fn signature(line: Option<&[u8]>, header: &[u8]) -> Result<i64, &'static str> {
    let line = line.ok_or("failed to parse signature - no newline given")?;
    if line.len() <= header.len() || !line.starts_with(header) {
        return Err("failed to parse signature - expected prefix doesn't match actual");
    }
    let rest = &line[header.len()..];
    let (Some(lt), Some(gt)) = (rest.rfind_byte(b'<'), rest.rfind_byte(b'>')) else {
        return Err("failed to parse signature - malformed e-mail");
    };
    if gt <= lt {
        return Err("failed to parse signature - malformed e-mail");
    }
    if gt + 2 >= rest.len() {
        return Ok(0);
    }
    // git__strntol64 base 10: blanks, a sign, digits; no digits or overflow is an error.
    let text = &rest[gt + 2..];
    let mut i = 0;
    while i < text.len() && is_space(text[i]) {
        i += 1;
    }
    let negative = text.get(i) == Some(&b'-');
    if matches!(text.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    let digits = text[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return Err("failed to parse signature - invalid Unix timestamp");
    }
    let mut value: i64 = 0;
    for &c in &text[i..i + digits] {
        let d = i64::from(c - b'0');
        value = value
            .checked_mul(10)
            .and_then(|v| if negative { v.checked_sub(d) } else { v.checked_add(d) })
            .ok_or("failed to parse signature - invalid Unix timestamp")?;
    }
    Ok(value)
}

/// A Unix time as Nix prints `lastModifiedDate`: `gmtime` then `strftime("%Y%m%d%H%M%S")`,
/// the year with as many digits as it has (at least four). `None` before year 0 or beyond
/// what `gmtime` represents (an `int` year).
pub fn utc_stamp(time: i64) -> Option<String> {
    let days = time.div_euclid(86400);
    let secs = time.rem_euclid(86400);
    // Howard Hinnant's civil_from_days.
    let z = days.checked_add(719_468)?;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe.checked_add(era.checked_mul(400)?)? + i64::from(month <= 2);
    if !(0..=i64::from(i32::MAX) + 1900).contains(&year) {
        return None;
    }
    Some(format!("{year:04}{month:02}{day:02}{:02}{:02}{:02}", secs / 3600, secs / 60 % 60, secs % 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TREE: &str = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n";

    #[test]
    fn stamps() {
        assert_eq!(utc_stamp(0).as_deref(), Some("19700101000000"));
        assert_eq!(utc_stamp(1600000000).as_deref(), Some("20200913122640"));
        assert_eq!(utc_stamp(253402300800).as_deref(), Some("100000101000000"), "measured with Nix 2.8 and 2.26");
        assert_eq!(utc_stamp(-1).as_deref(), Some("19691231235959"));
    }

    #[test]
    fn two_committer_lines() {
        let data = format!("{TREE}author a <b> 1 +0000\ncommitter a <b> 400 +0000\ncommitter a <b> 500 +0000\n\nm\n");
        let parsed = Parsed::new(data.as_bytes());
        assert_eq!(parsed.git_date(), 400, "walks: the line after the author");
        assert_eq!(parsed.git_committer_time_text(), Some(&b"500"[..]), "%ct: the last line");
        assert_eq!(parsed.libgit2_committer_time(), Ok(400), "libgit2: the first");
    }

    #[test]
    fn no_author() {
        let data = format!("{TREE}committer a <b> 400 +0000\n\nm\n");
        let parsed = Parsed::new(data.as_bytes());
        assert_eq!(parsed.git_date(), 0);
        assert_eq!(parsed.git_committer_time_text(), Some(&b"400"[..]));
        assert_eq!(parsed.libgit2_check(), Err("failed to parse signature - expected prefix doesn't match actual"));
    }

    #[test]
    fn parents_and_large_dates() {
        let p = "parent 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n";
        let data = format!("{TREE}{p}{p}author a <b> 1 +0000\ncommitter a <b> 253402300800 +0000\n\nm\n");
        let parsed = Parsed::new(data.as_bytes());
        assert_eq!(parsed.git_parents().len(), 2);
        assert_eq!(parsed.git_date(), 253402300800);
        assert_eq!(parsed.libgit2_committer_time(), Ok(253402300800));
    }
}
