//! What is checked of a cached value before it is believed, beyond the entry's authenticator
//! ([`crate::cache`]: only this cache, holding its secret, can have written it): that it parses
//! into a value of its kind, and for a truncation, what can be checked against the repository at
//! a cost that does not grow with the history between the start and the answer.
//!
//! A truncation entry says that the walk from `start` for `boundary` lands on `commit`. Checked:
//! `commit` is a commit of this repository; its committer time is at or before the boundary (for
//! a root fallback: it has no parents and is after the boundary); and, when the commit-graph
//! gives both their generation numbers, `commit` is `start` or has a lower generation (every
//! ancestor has one). Not checked: that `commit` is reachable from `start` through commits after
//! the boundary, and that it is the first of that frontier in git's walk order. Deciding either
//! means reading the history in between (see [`crate::cache`] for why no short proof exists),
//! which is the walk the cache saves; an entry that passes the authenticator was written by
//! this program after that walk.

use gix::ObjectId;
use nixstore::hash::NixHash;

use crate::history::{History, Truncated};

/// A NAR table value: `<SRI SHA-256> <size>`.
pub fn nar(value: &str) -> Result<(NixHash, u64), String> {
    let (hash, size) = value.split_once(' ').ok_or("it is not '<narHash> <narSize>'")?;
    let hash = NixHash::parse(hash).map_err(|err| format!("bad narHash: {err}"))?;
    if hash.algorithm() != "sha256" {
        return Err(format!("narHash uses {}, not sha256", hash.algorithm()));
    }
    // The smallest NAR (an empty regular file) is 96 bytes; sizes are multiples of 8.
    match size.parse::<u64>() {
        Ok(size) if size >= 96 && size % 8 == 0 => Ok((hash, size)),
        _ => Err(format!("narSize '{size}' is not the size of a NAR")),
    }
}

/// A revCount table value: a commit count, at least 1 (the commit itself).
pub fn rev_count(value: &str) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(count) if count >= 1 => Ok(count),
        _ => Err(format!("'{value}' is not a commit count")),
    }
}

/// A truncation table value: `<commit> <0|1>` (1: root fallback).
pub fn truncation_value(value: &str) -> Result<Truncated, String> {
    let (commit, fallback) = value.split_once(' ').ok_or("it is not '<commit> <rootFallback>'")?;
    let commit = ObjectId::from_hex(commit.as_bytes()).map_err(|_| format!("'{commit}' is not a commit id"))?;
    let root_fallback = match fallback {
        "0" => false,
        "1" => true,
        _ => return Err(format!("'{fallback}' is not 0 or 1")),
    };
    Ok(Truncated { commit, root_fallback })
}

/// Checks `cached` as the outcome of the truncation walk from `start` for `boundary` (see the
/// module documentation); `Err` says what is wrong with it. Reads one commit; the checks hold
/// for both walks, `--first-parent` or not.
pub fn truncation(history: &mut History<'_>, start: ObjectId, boundary: i64, _first_parent: bool, cached: Truncated) -> Result<(), String> {
    let commit = cached.commit;
    let node = history.node(&commit).map_err(|err| format!("commit {commit} cannot be read here: {err}"))?;
    if cached.root_fallback {
        if !node.parents.is_empty() || history.is_shallow(&commit) {
            return Err(format!("the root fallback {commit} is not a root commit"));
        }
        if crate::history::at_or_before(node.committer_time, boundary) {
            return Err(format!("the root fallback {commit} is at or before the boundary {boundary}, so it is not a fallback"));
        }
    } else if !crate::history::at_or_before(node.committer_time, boundary) {
        return Err(format!("commit {commit} ({}) is after the boundary {boundary}", node.committer_time));
    }
    if commit != start {
        if let (Some(answer), Some(from)) = (history.generation(&commit), history.generation(&start)) {
            if answer >= from {
                return Err(format!("commit {commit} (generation {answer}) cannot be an ancestor of {start} (generation {from})"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_only_when_they_are_values_of_their_kind() {
        let sri = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
        assert!(nar(&format!("{sri} 120")).is_ok());
        for bad in [sri.to_string(), format!("{sri} 7"), format!("{sri} 121"), format!("{sri} -8"), "x 120".into(), format!("{sri}x 120")] {
            assert!(nar(&bad).is_err(), "{bad}");
        }
        assert_eq!(rev_count("12"), Ok(12));
        for bad in ["0", "", "-1", "1 ", "x"] {
            assert!(rev_count(bad).is_err(), "{bad:?}");
        }
        let id = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(truncation_value(&format!("{id} 1")).map(|t| t.root_fallback), Ok(true));
        for bad in [id.to_string(), format!("{id} 2"), format!("{} 0", &id[1..]), "x 0".into()] {
            assert!(truncation_value(&bad).is_err(), "{bad}");
        }
    }
}
