//! What is checked of a cached value before it is believed, beyond the entry's checksum
//! ([`crate::cache`]): that it parses into a value of its kind, and for a truncation, what can be
//! checked against the repository without redoing the walk.
//!
//! A truncation entry says that the walk from `start` for `boundary` lands on `commit`. Checked:
//! `commit` is a commit of this repository; its committer time is at or before the boundary (for
//! a root fallback: it has no parents and is after the boundary); and it is where a walk from
//! `start` can land: `start` itself, or a parent (first parent with `--first-parent`) of a commit
//! newer than the boundary that is reachable from `start` through commits newer than the
//! boundary. That region is what the walk itself reads before it answers, so the ancestry check
//! reads at most [`ANCESTRY_BUDGET`] commits of it; beyond that (a boundary far in the past, or
//! a root fallback on a long history) the entry is believed on the other checks and its checksum.
//! What is not checked: that no other commit of that frontier comes first in git's walk order.

use std::collections::VecDeque;

use gix::ObjectId;
use nixstore::hash::NixHash;

use crate::history::{History, HistoryError, Truncated};

/// Most commits the ancestry check of a truncation entry reads.
pub const ANCESTRY_BUDGET: usize = 10_000;

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
/// module documentation); `Err` says what is wrong with it.
pub fn truncation(history: &mut History<'_>, start: ObjectId, boundary: i64, first_parent: bool, cached: Truncated) -> Result<(), String> {
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
    match lands_on(history, start, commit, boundary, first_parent) {
        Ok(Some(false)) => Err(format!("commit {commit} is not reachable from {start} through commits after the boundary {boundary}")),
        Ok(Some(true) | None) => Ok(()),
        Err(err) => Err(format!("the history from {start} cannot be read: {err}")),
    }
}

/// Whether `target` is `start` or a parent of a commit newer than `boundary` reached from
/// `start` through such commits; `None` when that was not decided within [`ANCESTRY_BUDGET`]
/// commits or the history is cut off (shallow) inside that region.
fn lands_on(history: &mut History<'_>, start: ObjectId, target: ObjectId, boundary: i64, first_parent: bool) -> Result<Option<bool>, HistoryError> {
    if start == target {
        return Ok(Some(true));
    }
    let mut seen = gix::hashtable::HashSet::default();
    let mut queue = VecDeque::from([start]);
    seen.insert(start);
    let mut read = 0;
    while let Some(id) = queue.pop_front() {
        if read == ANCESTRY_BUDGET {
            return Ok(None);
        }
        read += 1;
        let node = history.node(&id)?;
        if crate::history::at_or_before(node.committer_time, boundary) {
            continue;
        }
        if history.is_shallow(&id) {
            return Ok(None);
        }
        let parents = if first_parent { &node.parents[..node.parents.len().min(1)] } else { &node.parents[..] };
        for parent in parents {
            if *parent == target {
                return Ok(Some(true));
            }
            if seen.insert(*parent) {
                queue.push_back(*parent);
            }
        }
    }
    Ok(Some(false))
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
