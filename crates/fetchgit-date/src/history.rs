//! Walks over commit history that reproduce git's own: the truncation walk of
//! `git rev-list -1 --before=DATE [--first-parent] START` and the count of
//! `git rev-list --count REV`.
//!
//! Parents and committer times come from the commit-graph file when the repository has one
//! (as git does) and from the commit objects otherwise.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use gix::objs::FindExt;
use gix::ObjectId;

use crate::error_chain;

/// Why history could not be walked.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// A commit (or a parent of one) is missing or cannot be decoded.
    #[error("cannot read commit {id}: {reason}: the repository is corrupt or incomplete (try git fsck)")]
    Corrupt {
        /// The commit that failed.
        id: ObjectId,
        /// What went wrong.
        reason: String,
    },
    /// A commit the walk needs is not in the repository at all (an incomplete shallow fetch).
    #[error("commit {id} is missing from the repository: it is incomplete; fetch it again (git fetch --unshallow)")]
    Missing {
        /// The missing commit.
        id: ObjectId,
    },
    /// The walk needed the parents of a commit at the boundary of a shallow repository.
    #[error("the history of {start} is cut off (shallow) at {commit}, which the walk needs: fetch more history (git fetch --unshallow)")]
    Shallow {
        /// Where the walk started.
        start: ObjectId,
        /// The shallow commit whose parents are missing.
        commit: ObjectId,
    },
}

/// What the walks need of a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitNode {
    /// Committer time, Unix seconds: what git compares `--before` against.
    pub committer_time: i64,
    /// Parent ids in order; empty for a root (or a shallow boundary).
    pub parents: Vec<ObjectId>,
}

/// Reads commits for the walks, from the commit-graph when possible.
pub struct History<'repo> {
    repo: &'repo gix::Repository,
    graph: Option<gix::commitgraph::Graph>,
    /// Commits whose parents are cut off (the repository's `shallow` file).
    shallow: gix::hashtable::HashSet<ObjectId>,
    buf: Vec<u8>,
}

/// The outcome of a truncation walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated {
    /// The commit the walk landed on.
    pub commit: ObjectId,
    /// True when no commit was old enough and the walk fell back to the first root commit,
    /// as `git rev-list --max-parents=0 -1 START` names it.
    pub root_fallback: bool,
}

impl<'repo> History<'repo> {
    /// Prepares walks over `repo`'s history.
    pub fn new(repo: &'repo gix::Repository) -> Self {
        let graph = repo.commit_graph_if_enabled().ok().flatten();
        let shallow = repo
            .shallow_commits()
            .ok()
            .flatten()
            .map(|commits| commits.iter().copied().collect())
            .unwrap_or_default();
        History { repo, graph, shallow, buf: Vec::new() }
    }

    /// Parents and committer time of `id`.
    pub fn node(&mut self, id: &gix::oid) -> Result<CommitNode, HistoryError> {
        let mut node = match self.graph.as_ref().and_then(|graph| graph.commit_by_id(id)) {
            Some(commit) => CommitNode {
                committer_time: commit.committer_timestamp() as i64,
                parents: commit
                    .iter_parents()
                    .map(|parent| {
                        let graph = self.graph.as_ref().expect("graph present in this branch");
                        parent.map(|pos| graph.id_at(pos).to_owned())
                    })
                    .collect::<Result<_, _>>()
                    .map_err(|err| HistoryError::Corrupt { id: id.to_owned(), reason: error_chain(&err) })?,
            },
            None => self.node_from_object(id)?,
        };
        if self.is_shallow(id) {
            node.parents.clear();
        }
        Ok(node)
    }

    /// Whether `id` is a shallow boundary commit: present, but its parents are not.
    pub fn is_shallow(&self, id: &gix::oid) -> bool {
        !self.shallow.is_empty() && self.shallow.contains(id)
    }

    fn node_from_object(&mut self, id: &gix::oid) -> Result<CommitNode, HistoryError> {
        use gix::objs::commit::ref_iter::Token;
        let corrupt = |reason: String| HistoryError::Corrupt { id: id.to_owned(), reason };
        let commit = self
            .repo
            .objects
            .find_commit_iter(id, &mut self.buf)
            .map_err(|err| match self.repo.has_object(id) {
                false => HistoryError::Missing { id: id.to_owned() },
                true => corrupt(error_chain(&err)),
            })?;
        // One pass over the headers: parents come before the committer, and nothing after it
        // is needed.
        let mut parents = Vec::new();
        for token in commit {
            match token.map_err(|err| corrupt(error_chain(&err)))? {
                Token::Parent { id } => parents.push(id),
                Token::Committer { signature } => {
                    let committer_time = signature.time().map_err(|err| corrupt(error_chain(&err)))?.seconds;
                    return Ok(CommitNode { committer_time, parents });
                }
                _ => {}
            }
        }
        Err(corrupt("the commit has no committer".into()))
    }

    /// What `git rev-list -1 --before=BOUNDARY [--first-parent] START` prints, or, when it prints
    /// nothing, what `git rev-list --max-parents=0 -1 [--first-parent] START` prints.
    ///
    /// Git pops commits newest first from a queue ordered by committer time, ties in the order they
    /// were queued, and shows the first one whose time is not after the boundary; skewed clocks
    /// (a child older than its parent) are handled by that same order, so this walk keeps it exactly.
    ///
    /// In a shallow repository the result is exact as long as no commit taken from the queue
    /// before the answer is a shallow boundary commit: up to that point the queue holds what it
    /// holds in the full history, whatever the dates. When the walk does take one, its parents
    /// are unknown and the answer could lie beyond them, so the walk stops with
    /// [`HistoryError::Shallow`] instead of guessing; dates are never trusted to be monotonic.
    pub fn last_before(&mut self, start: ObjectId, boundary: i64, first_parent: bool) -> Result<Truncated, HistoryError> {
        let mut queue = BinaryHeap::new();
        let mut seen = gix::hashtable::HashSet::with_capacity_and_hasher(1 << 12, Default::default());
        let mut sequence = 0u64;
        let mut first_root = None;
        let start_node = self.node(&start)?;
        seen.insert(start);
        queue.push((start_node.committer_time, Reverse(sequence), start, start_node.parents));
        while let Some((time, _, id, parents)) = queue.pop() {
            if time <= boundary {
                return Ok(Truncated { commit: id, root_fallback: false });
            }
            if self.is_shallow(&id) {
                return Err(HistoryError::Shallow { start, commit: id });
            }
            if parents.is_empty() && first_root.is_none() {
                first_root = Some(id);
            }
            let parents = if first_parent { &parents[..parents.len().min(1)] } else { &parents[..] };
            for parent in parents {
                if seen.insert(*parent) {
                    let node = self.node(parent)?;
                    sequence += 1;
                    queue.push((node.committer_time, Reverse(sequence), *parent, node.parents));
                }
            }
        }
        let root = first_root.expect("a finite history that was walked to its end has a root commit");
        Ok(Truncated { commit: root, root_fallback: true })
    }

    /// The number of commits reachable from `start`, itself included: `git rev-list --count START`.
    /// Fails with [`HistoryError::Shallow`] when the history is cut off, rather than undercount.
    pub fn count(&mut self, start: ObjectId) -> Result<u64, HistoryError> {
        let mut seen = gix::hashtable::HashSet::with_capacity_and_hasher(1 << 16, Default::default());
        let mut stack = vec![start];
        seen.insert(start);
        while let Some(id) = stack.pop() {
            if self.is_shallow(&id) {
                return Err(HistoryError::Shallow { start, commit: id });
            }
            for parent in self.node(&id)?.parents {
                if seen.insert(parent) {
                    stack.push(parent);
                }
            }
        }
        Ok(seen.len() as u64)
    }

    /// Committer time of `id`, Unix seconds (`lastModified`).
    pub fn committer_time(&mut self, id: &gix::oid) -> Result<i64, HistoryError> {
        Ok(self.node(id)?.committer_time)
    }
}
