//! git's `ident` checkout conversion, exactly as `convert.c` (`ident_to_worktree`) does it.
//!
//! ### Deviation (of gix, which we work around)
//! gix 0.90 writes `$Id: <hex>$` (no space before the closing dollar) and leaves stale
//! `$Id: ... $` expansions alone; git writes `$Id: <hex> $` and re-expands stale ones. Legacy
//! exports must equal `git archive`, so this port runs before gix's pipeline, which then finds
//! nothing left to expand.

use gix::bstr::ByteSlice;

/// Expands `$Id$` and stale `$Id: ... $` keywords in `blob` to `$Id: <blob_id> $`, or returns
/// `None` when there is nothing to expand.
pub fn to_worktree(blob: &[u8], blob_id: &gix::oid) -> Option<Vec<u8>> {
    if count_idents(blob) == 0 {
        return None;
    }
    let hex = blob_id.to_string();
    let mut out = Vec::with_capacity(blob.len() + 64);
    let mut src = blob;
    // Step 1: run to the next '$'.
    while let Some(dollar) = src.find_byte(b'$') {
        out.extend_from_slice(&src[..=dollar]);
        src = &src[dollar + 1..];
        // Step 2: does it look like `Id$` or `Id:xxx$`?
        if src.len() < 3 || &src[..2] != b"Id" {
            continue;
        }
        // Step 3: skip over `Id$` or `Id:xxxxx$`.
        if src[2] == b'$' {
            src = &src[3..];
        } else if src[2] == b':' {
            let Some(end) = src[3..].find_byte(b'$').map(|i| i + 3) else { break };
            if src[3..end].contains(&b'\n') {
                continue;
            }
            // A space anywhere but right before the closing dollar: another system's keyword.
            if end > 4 && src[4..end].find_byte(b' ').is_some_and(|i| i + 4 < end - 1) {
                continue;
            }
            src = &src[end + 1..];
        } else {
            continue;
        }
        // Step 4: substitute.
        out.extend_from_slice(b"Id: ");
        out.extend_from_slice(hex.as_bytes());
        out.extend_from_slice(b" $");
    }
    out.extend_from_slice(src);
    Some(out)
}

/// git's `count_ident`: how many `$Id$` or `$Id:...$` (without a newline inside) there are.
fn count_idents(mut src: &[u8]) -> usize {
    let mut count = 0;
    while let Some(dollar) = src.find_byte(b'$') {
        src = &src[dollar + 1..];
        if src.len() < 3 || &src[..2] != b"Id" {
            continue;
        }
        match src[2] {
            b'$' => {
                count += 1;
                src = &src[3..];
            }
            b':' => {
                let rest = &src[3..];
                match rest.iter().position(|&b| b == b'$' || b == b'\n') {
                    Some(i) if rest[i] == b'$' => {
                        count += 1;
                        src = &rest[i + 1..];
                    }
                    Some(i) => src = &rest[i..],
                    None => break,
                }
            }
            _ => {}
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(input: &str) -> Option<String> {
        let id = gix::ObjectId::from_hex(b"e95cb4e079eeac1e95812331bb221ebe4a75d3a2").expect("valid hex");
        to_worktree(input.as_bytes(), &id).map(|v| String::from_utf8(v).expect("utf8"))
    }

    #[test]
    fn expands_like_git() {
        let h = "e95cb4e079eeac1e95812331bb221ebe4a75d3a2";
        assert_eq!(expand("a $Id$ b").as_deref(), Some(format!("a $Id: {h} $ b").as_str()));
        assert_eq!(expand("$Id: stale $").as_deref(), Some(format!("$Id: {h} $").as_str()));
        assert_eq!(expand("$Id:stale$").as_deref(), Some(format!("$Id: {h} $").as_str()));
        assert_eq!(expand("$Id: other system $ x $Id$").as_deref(), Some(format!("$Id: other system $ x $Id: {h} $").as_str()));
        assert_eq!(expand("$Id: broken\n$"), None);
        assert_eq!(expand("no keyword $ here"), None);
        assert_eq!(expand("$Id"), None);
    }
}
