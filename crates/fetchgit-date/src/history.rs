//! Walks over commit history that reproduce git's own: the truncation walk of
//! `git rev-list -1 --before=DATE [--first-parent] START` and the count of
//! `git rev-list --count REV`.
//!
//! Parents and committer times come from the commit-graph file when the repository has one
//! (as git does) and from the commit objects otherwise.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use gix::objs::FindExt;
use gix::commitgraph::Position;
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
    /// Shallow boundary commits (their parents are not in the repository).
    shallow: gix::hashtable::HashSet<ObjectId>,
    /// The graph positions of `shallow` commits, sorted.
    shallow_positions: Vec<Position>,
    buf: Vec<u8>,
    /// Parents of the queued commits that were read from objects (see [`ParentRange`]).
    parents: Vec<Key>,
    /// The parents of the commit being expanded.
    scratch: Vec<Key>,
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

/// A commit during a walk: its position in the commit-graph when the graph has it (as git keeps
/// graph positions), its id otherwise. Every commit has exactly one key: an id is turned into a
/// position whenever the graph knows it, so `seen` cannot hold one commit twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Graph(Position),
    Object(ObjectId),
}

/// Parents of a commit read from its object, as a range of [`Walk::parents`]; commits in the
/// graph read theirs from the graph when they are popped, which costs nothing to keep.
#[derive(Debug, Clone, Copy)]
struct ParentRange {
    start: u32,
    len: u32,
}

/// A queued commit. Ordered by committer time, newest first, then by the order commits were
/// queued: git's `--date-order` priority queue.
#[derive(Debug, Clone, Copy)]
struct Queued {
    time: i64,
    sequence: u64,
    key: Key,
    parents: ParentRange,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.time, Reverse(self.sequence)).cmp(&(other.time, Reverse(other.sequence)))
    }
}

/// Commits already reached: a bitset over graph positions plus a set of ids for the rest.
struct Seen {
    bits: Vec<u64>,
    ids: gix::hashtable::HashSet<ObjectId>,
}

impl Seen {
    fn new(graph: Option<&gix::commitgraph::Graph>, expected_ids: usize) -> Self {
        let positions = graph.map_or(0, |g| g.num_commits() as usize);
        // Without a graph every commit is an id; with one, only the few newer than the graph.
        let ids = if graph.is_some() { 64 } else { expected_ids };
        Seen {
            bits: vec![0; positions.div_ceil(64)],
            ids: gix::hashtable::HashSet::with_capacity_and_hasher(ids, Default::default()),
        }
    }

    /// Marks `key`; true when it was not marked before.
    fn insert(&mut self, key: Key) -> bool {
        match key {
            Key::Graph(Position(pos)) => {
                let (word, bit) = ((pos / 64) as usize, 1u64 << (pos % 64));
                let new = self.bits[word] & bit == 0;
                self.bits[word] |= bit;
                new
            }
            Key::Object(id) => self.ids.insert(id),
        }
    }

    fn len(&self) -> u64 {
        self.bits.iter().map(|w| u64::from(w.count_ones())).sum::<u64>() + self.ids.len() as u64
    }
}

impl<'repo> History<'repo> {
    /// Prepares walks over `repo`'s history.
    pub fn new(repo: &'repo gix::Repository) -> Self {
        let graph = repo.commit_graph_if_enabled().ok().flatten();
        let shallow: gix::hashtable::HashSet<ObjectId> = repo
            .shallow_commits()
            .ok()
            .flatten()
            .map(|commits| commits.iter().copied().collect())
            .unwrap_or_default();
        let mut shallow_positions: Vec<Position> =
            graph.as_ref().map(|g| shallow.iter().filter_map(|id| g.lookup(id)).collect()).unwrap_or_default();
        shallow_positions.sort_unstable_by_key(|p| p.0);
        History { repo, graph, shallow, shallow_positions, buf: Vec::new(), parents: Vec::new(), scratch: Vec::new() }
    }

    /// Parents and committer time of `id`.
    pub fn node(&mut self, id: &gix::oid) -> Result<CommitNode, HistoryError> {
        let key = self.key(id);
        let (committer_time, range) = self.visit(key)?;
        let mut parents = std::mem::take(&mut self.scratch);
        self.parents_of(key, range, &mut parents)?;
        let node = CommitNode { committer_time, parents: parents.iter().map(|parent| self.id_of(*parent)).collect() };
        self.scratch = parents;
        self.parents.clear();
        Ok(node)
    }

    /// Whether `id` is a shallow boundary commit: present, but its parents are not.
    pub fn is_shallow(&self, id: &gix::oid) -> bool {
        !self.shallow.is_empty() && self.shallow.contains(id)
    }

    fn is_shallow_key(&self, key: Key) -> bool {
        match key {
            Key::Graph(pos) => self.shallow_positions.binary_search_by_key(&pos.0, |p| p.0).is_ok(),
            Key::Object(id) => self.is_shallow(&id),
        }
    }

    /// The key of `id`: its graph position when the graph has it.
    fn key(&self, id: &gix::oid) -> Key {
        match self.graph.as_ref().and_then(|graph| graph.lookup(id)) {
            Some(pos) => Key::Graph(pos),
            None => Key::Object(id.to_owned()),
        }
    }

    fn id_of(&self, key: Key) -> ObjectId {
        match key {
            Key::Graph(pos) => self.graph.as_ref().expect("graph keys come from the graph").id_at(pos).to_owned(),
            Key::Object(id) => id,
        }
    }

    /// Committer time of `key`. A commit read from its object has its parents appended to
    /// `self.parents` (their range is returned); a graph commit's parents are read later, from
    /// the graph, by [`Self::parents_of`].
    fn visit(&mut self, key: Key) -> Result<(i64, ParentRange), HistoryError> {
        let start = u32::try_from(self.parents.len()).expect("fewer than 2^32 parents in one walk");
        match key {
            Key::Graph(pos) => {
                let graph = self.graph.as_ref().expect("graph keys come from the graph");
                Ok((graph.commit_at(pos).committer_timestamp() as i64, ParentRange { start, len: 0 }))
            }
            Key::Object(id) => {
                use gix::objs::commit::ref_iter::Token;
                let corrupt = |reason: String| HistoryError::Corrupt { id, reason };
                let shallow = self.is_shallow(&id);
                let commit = self
                    .repo
                    .objects
                    .find_commit_iter(&id, &mut self.buf)
                    .map_err(|err| match self.repo.has_object(id) {
                        false => HistoryError::Missing { id },
                        true => corrupt(error_chain(&err)),
                    })?;
                // One pass over the headers: parents come before the committer, and nothing
                // after it is needed.
                for token in commit {
                    match token {
                        Ok(Token::Parent { id: parent }) => {
                            if !shallow {
                                let key = match self.graph.as_ref().and_then(|graph| graph.lookup(parent)) {
                                    Some(pos) => Key::Graph(pos),
                                    None => Key::Object(parent),
                                };
                                self.parents.push(key);
                            }
                        }
                        Ok(Token::Committer { signature }) => {
                            let time = signature.time().map_err(|err| corrupt(error_chain(&err)));
                            let len = self.parents.len() as u32 - start;
                            if time.is_err() {
                                self.parents.truncate(start as usize);
                            }
                            return Ok((time?.seconds, ParentRange { start, len }));
                        }
                        Ok(_) => {}
                        Err(err) => {
                            self.parents.truncate(start as usize);
                            return Err(corrupt(error_chain(&err)));
                        }
                    }
                }
                self.parents.truncate(start as usize);
                Err(corrupt("the commit has no committer".into()))
            }
        }
    }

    /// Writes the parents of `key` (in order) to `out`: from the graph, or from the range of
    /// `self.parents` that [`Self::visit`] returned. A shallow commit has none.
    fn parents_of(&self, key: Key, range: ParentRange, out: &mut Vec<Key>) -> Result<(), HistoryError> {
        out.clear();
        match key {
            Key::Object(_) => out.extend_from_slice(&self.parents[range.start as usize..][..range.len as usize]),
            Key::Graph(pos) => {
                if self.is_shallow_key(key) {
                    return Ok(());
                }
                let graph = self.graph.as_ref().expect("graph keys come from the graph");
                for parent in graph.commit_at(pos).iter_parents() {
                    let parent = parent
                        .map_err(|err| HistoryError::Corrupt { id: graph.id_at(pos).to_owned(), reason: error_chain(&err) })?;
                    out.push(Key::Graph(parent));
                }
            }
        }
        Ok(())
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
    ///
    /// Commits in the commit-graph are walked by graph position (time and parents straight from
    /// the graph, `seen` a bitset over positions), as git does; the others by id, from their
    /// objects.
    pub fn last_before(&mut self, start: ObjectId, boundary: i64, first_parent: bool) -> Result<Truncated, HistoryError> {
        let mut queue = BinaryHeap::new();
        let mut seen = Seen::new(self.graph.as_ref(), 1 << 12);
        let mut sequence = 0u64;
        let mut first_root = None;
        let mut parents = std::mem::take(&mut self.scratch);
        self.parents.clear();
        let start_id = start;
        let start = self.key(&start);
        let (time, range) = self.visit(start)?;
        seen.insert(start);
        queue.push(Queued { time, sequence, key: start, parents: range });
        let result = loop {
            let Some(Queued { time, key, parents: range, .. }) = queue.pop() else {
                let root = first_root.expect("a finite history that was walked to its end has a root commit");
                break Truncated { commit: self.id_of(root), root_fallback: true };
            };
            if time <= boundary {
                break Truncated { commit: self.id_of(key), root_fallback: false };
            }
            if self.is_shallow_key(key) {
                self.scratch = parents;
                return Err(HistoryError::Shallow { start: start_id, commit: self.id_of(key) });
            }
            self.parents_of(key, range, &mut parents)?;
            if parents.is_empty() && first_root.is_none() {
                first_root = Some(key);
            }
            let followed = if first_parent { &parents[..parents.len().min(1)] } else { &parents[..] };
            for &parent in followed {
                if seen.insert(parent) {
                    let (time, range) = self.visit(parent)?;
                    sequence += 1;
                    queue.push(Queued { time, sequence, key: parent, parents: range });
                }
            }
        };
        self.scratch = parents;
        self.parents.clear();
        Ok(result)
    }

    /// The number of commits reachable from `start`, itself included: `git rev-list --count START`.
    /// Fails with [`HistoryError::Shallow`] when the history is cut off, rather than undercount.
    pub fn count(&mut self, start: ObjectId) -> Result<u64, HistoryError> {
        let mut seen = Seen::new(self.graph.as_ref(), 1 << 16);
        let mut parents = std::mem::take(&mut self.scratch);
        let start_id = start;
        let start = self.key(&start);
        let mut stack = vec![start];
        seen.insert(start);
        while let Some(key) = stack.pop() {
            if self.is_shallow_key(key) {
                self.scratch = parents;
                return Err(HistoryError::Shallow { start: start_id, commit: self.id_of(key) });
            }
            self.parents.clear();
            let (_, range) = self.visit(key)?;
            self.parents_of(key, range, &mut parents)?;
            for &parent in &parents {
                if seen.insert(parent) {
                    stack.push(parent);
                }
            }
        }
        self.scratch = parents;
        self.parents.clear();
        Ok(seen.len())
    }

    /// Committer time of `id`, Unix seconds (`lastModified`).
    pub fn committer_time(&mut self, id: &gix::oid) -> Result<i64, HistoryError> {
        let key = self.key(id);
        let (time, _) = self.visit(key)?;
        self.parents.clear();
        Ok(time)
    }
}
