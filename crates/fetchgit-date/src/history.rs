//! Walks over commit history that reproduce git's own: the truncation walk of
//! `git rev-list -1 --before=DATE [--first-parent] START` and the count of
//! `git rev-list --count REV`.
//!
//! Parents and committer times come from the commit-graph file when the repository has one
//! (as git does) and from the commit objects otherwise, read as git reads them
//! ([`crate::commit`]: the parents right after the tree, the date of the committer line that
//! follows the author line). `$GIT_DIR/info/grafts` replaces parents, and `refs/replace/`
//! replaces commits, as in git (and, for grafts, in libgit2 >= 1.7); with either present the
//! commit-graph is not used, as git does not use it then (`commit_graph_compatible` in
//! commit-graph.c). Printed values (`lastModified`) always come from the commit object, read
//! as the Nix generation reads it, never from the commit-graph.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use std::sync::Arc;

use gix::commitgraph::Position;
use gix::ObjectId;

use crate::date::Interval;
use crate::error_chain;
use crate::nix_version::Generation;

/// Where to roll history back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TruncateTo {
    /// The last commit at or before this Unix time.
    Date(i64),
    /// The last commit at or before the start commit's time rounded down to a multiple of this.
    Interval(Interval),
}

impl TruncateTo {
    /// The boundary (Unix seconds) truncation from `start` rolls back to.
    pub fn boundary(self, history: &mut History<'_>, start: ObjectId) -> Result<i64, HistoryError> {
        Ok(match self {
            TruncateTo::Date(date) => date,
            TruncateTo::Interval(interval) => interval.boundary(history.committer_time(&start)?),
        })
    }
}

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
    /// The commit's committer time cannot be read the way the Nix generation reads it.
    #[error("commit {id}: {} cannot read its committer time ({reason}), so it cannot be fetched as that Nix release would", .generation.nix())]
    NoCommitterTime {
        /// The commit.
        id: ObjectId,
        /// Which Nix.
        generation: Generation,
        /// What is wrong.
        reason: String,
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
    /// Committer time, Unix seconds, unsigned as git's `timestamp_t` (a `-1` in the commit
    /// reads as `2^64 - 1`): what git compares `--before` against.
    pub committer_time: u64,
    /// Parent ids in order; empty for a root (or a shallow boundary).
    pub parents: Vec<ObjectId>,
}

/// Reads commits for the walks, from the commit-graph when possible.
pub struct History<'repo> {
    _repo: std::marker::PhantomData<&'repo gix::Repository>,
    /// The object database, with or without `refs/replace/`.
    objects: gix::OdbHandle,
    /// `refs/replace/` as applied (empty without), sorted: the id a read commit must hash to.
    replacements: Vec<(ObjectId, ObjectId)>,
    /// The object directories, for a packed copy of a commit whose loose copy lies.
    object_dirs: Vec<std::path::PathBuf>,
    /// Whether every commit read must be one libgit2 parses (the modern generation's count).
    libgit2_parses: bool,
    graph: Option<Arc<gix::commitgraph::Graph>>,
    /// `$GIT_DIR/info/grafts`: commit to its parents.
    grafts: gix::hashtable::HashMap<ObjectId, Vec<ObjectId>>,
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
    time: u64,
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
        Seen { bits: vec![0; positions.div_ceil(64)], ids: gix::hashtable::HashSet::with_capacity_and_hasher(ids, Default::default()) }
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

/// What a repository's history looks like to the walks, besides the commits themselves:
/// `info/grafts`, the shallow boundary, `refs/replace/`, the commit-graph and the object
/// directories. Read once per opened repository ([`crate::fetch::Fetcher`]; in the plugin, once
/// per evaluation, as Nix reads a repository once per evaluation), so that a thousand
/// truncations do not read the same files a thousand times.
pub struct HistoryView {
    grafts: gix::hashtable::HashMap<ObjectId, Vec<ObjectId>>,
    shallow: gix::hashtable::HashSet<ObjectId>,
    /// `refs/replace/`, sorted.
    replacements: Vec<(ObjectId, ObjectId)>,
    /// The commit-graph, when the repository has one and no grafts (which it would contradict).
    graph: Option<Arc<gix::commitgraph::Graph>>,
    object_dirs: Vec<std::path::PathBuf>,
    /// [`view_fingerprint`] without and with replace refs.
    fingerprints: [Option<String>; 2],
}

impl HistoryView {
    /// Reads the view of `repo`.
    pub fn read(repo: &gix::Repository) -> HistoryView {
        let grafts_file = crate::repo_files::read_regular(&repo.common_dir().join("info/grafts"), crate::repo_files::METADATA_LIMIT);
        let grafts = grafts_file.as_deref().map(parse_grafts).unwrap_or_default();
        let shallow = repo.shallow_commits().ok().flatten().map(|commits| commits.iter().copied().collect()).unwrap_or_default();
        let mut replacements: Vec<(ObjectId, ObjectId)> = repo.objects.store_ref().replacements().collect();
        replacements.sort_unstable();
        let graph = if grafts.is_empty() { repo.commit_graph_if_enabled().ok().flatten().map(Arc::new) } else { None };
        let fingerprints = [view_fingerprint(grafts_file.as_deref(), &[]), view_fingerprint(grafts_file.as_deref(), &replacements)];
        HistoryView { grafts, shallow, replacements, graph, object_dirs: crate::export::blob::object_dirs(repo), fingerprints }
    }

    /// `view_fingerprint` of the repository as read.
    pub fn fingerprint(&self, replace: bool) -> Option<&str> {
        self.fingerprints[usize::from(replace)].as_deref()
    }
}

impl<'repo> History<'repo> {
    /// Prepares walks over `repo`'s history as git walks it (replace refs honoured).
    pub fn new(repo: &'repo gix::Repository) -> Self {
        Self::viewed(repo, &HistoryView::read(repo), true)
    }

    /// Prepares walks that read commits as `generation` does: git honours `refs/replace/`,
    /// libgit2 (Nix >= 2.20) does not. Both honour `info/grafts`.
    ///
    /// libgit2 counts by looking every commit up (`git_commit_parent`, Nix's `getRevCount`),
    /// which parses it whole and fails on a commit it cannot parse (a committer time beyond
    /// 2^63, say): for the modern generation every commit is read from its object and checked
    /// so, never from the commit-graph.
    pub fn for_generation(repo: &'repo gix::Repository, generation: Generation) -> Self {
        Self::for_generation_viewed(repo, &HistoryView::read(repo), generation)
    }

    /// [`History::for_generation`], with the repository's view read before.
    pub fn for_generation_viewed(repo: &'repo gix::Repository, view: &HistoryView, generation: Generation) -> Self {
        let mut history = Self::viewed(repo, view, generation.honours_replace_refs());
        if generation == Generation::Modern {
            history.graph = None;
            history.shallow_positions.clear();
            history.libgit2_parses = true;
        }
        history
    }

    /// The same walks without `info/grafts`: what a clone of the repository sees (the
    /// commit-graph stays unused, which only costs time).
    pub fn without_grafts(mut self) -> Self {
        self.grafts.clear();
        self
    }

    /// [`History::new`] (`replace`: with replace refs), with the repository's view read before.
    pub fn viewed(repo: &'repo gix::Repository, view: &HistoryView, replace: bool) -> Self {
        let mut objects = repo.objects.clone();
        objects.ignore_replacements = !replace;
        let replacements = if replace { view.replacements.clone() } else { Vec::new() };
        let graph = if replacements.is_empty() { view.graph.clone() } else { None };
        let mut shallow_positions: Vec<Position> = graph.as_ref().map(|g| view.shallow.iter().filter_map(|id| g.lookup(id)).collect()).unwrap_or_default();
        shallow_positions.sort_unstable_by_key(|p| p.0);
        History {
            _repo: std::marker::PhantomData,
            objects,
            replacements,
            object_dirs: view.object_dirs.clone(),
            libgit2_parses: false,
            graph,
            grafts: view.grafts.clone(),
            shallow: view.shallow.clone(),
            shallow_positions,
            buf: Vec::new(),
            parents: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// The raw bytes of commit `id`, checked against its id as git's `parse_object` and
    /// libgit2's strict hash verification check it (a packed copy is preferred to a loose one
    /// that lies, as both look in packs first).
    fn commit_data(&mut self, id: ObjectId) -> Result<&[u8], HistoryError> {
        use gix::objs::Find;
        let corrupt = |reason: String| HistoryError::Corrupt { id, reason };
        let kind = match self.objects.try_find(&id, &mut self.buf) {
            Ok(Some(data)) => data.kind,
            Ok(None) => return Err(HistoryError::Missing { id }),
            Err(err) => return Err(corrupt(error_chain(&err))),
        };
        if kind != gix::object::Kind::Commit {
            return Err(corrupt(format!("it is a {kind}, not a commit")));
        }
        let expected = match self.replacements.binary_search_by(|(from, _)| from.cmp(&id)) {
            Ok(pos) => self.replacements[pos].1,
            Err(_) => id,
        };
        let hash_of = |data: &[u8]| gix::objs::compute_hash(expected.kind(), kind, data).map_err(|err| corrupt(error_chain(&err)));
        let actual = hash_of(&self.buf)?;
        if actual == expected {
            return Ok(&self.buf);
        }
        let packed = crate::export::blob::read_packed(&self.object_dirs, expected.kind(), expected, &mut self.buf).map_err(|err| corrupt(err.describe()))?;
        if packed && hash_of(&self.buf)? == expected {
            return Ok(&self.buf);
        }
        Err(corrupt(format!("object hash mismatch: its content hashes to {actual} (git and libgit2 refuse it)")))
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

    /// The generation number (topological level: 1 for a root, one more than its highest parent
    /// otherwise) the commit-graph records for `id`; `None` when the graph is not used here, does
    /// not hold `id`, or predates generation numbers (it writes 0).
    pub fn generation(&self, id: &gix::oid) -> Option<u32> {
        let graph = self.graph.as_ref()?;
        let generation = graph.commit_at(graph.lookup(id)?).generation();
        (generation != 0).then_some(generation)
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
    fn visit(&mut self, key: Key) -> Result<(u64, ParentRange), HistoryError> {
        let start = u32::try_from(self.parents.len()).expect("fewer than 2^32 parents in one walk");
        match key {
            Key::Graph(pos) => {
                let graph = self.graph.as_ref().expect("graph keys come from the graph");
                Ok((graph.commit_at(pos).committer_timestamp(), ParentRange { start, len: 0 }))
            }
            Key::Object(id) => {
                let shallow = self.is_shallow(&id);
                let graft = self.grafts.get(&id).cloned();
                let libgit2_parses = self.libgit2_parses;
                let data = self.commit_data(id)?;
                let parsed = crate::commit::Parsed::new(data);
                if libgit2_parses {
                    parsed.libgit2_check().map_err(|reason| HistoryError::NoCommitterTime {
                        id,
                        generation: Generation::Modern,
                        reason: format!("libgit2: {reason}"),
                    })?;
                }
                let time = parsed.git_date();
                let parents = match graft {
                    Some(parents) => parents,
                    None if shallow => Vec::new(),
                    None => parsed.git_parents(),
                };
                for parent in parents {
                    let key = match self.graph.as_ref().and_then(|graph| graph.lookup(parent)) {
                        Some(pos) => Key::Graph(pos),
                        None => Key::Object(parent),
                    };
                    self.parents.push(key);
                }
                let len = self.parents.len() as u32 - start;
                Ok((time, ParentRange { start, len }))
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
                    let parent = parent.map_err(|err| HistoryError::Corrupt { id: graph.id_at(pos).to_owned(), reason: error_chain(&err) })?;
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
        let mut seen = Seen::new(self.graph.as_deref(), 1 << 12);
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
            if at_or_before(time, boundary) {
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
        let mut seen = Seen::new(self.graph.as_deref(), 1 << 16);
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

    /// Committer time of `id` as git's walks read it (Unix seconds), from the commit object.
    /// A time beyond `i64::MAX` (a negative or huge date in the commit) cannot be rounded to an
    /// interval: that is an error.
    pub fn committer_time(&mut self, id: &gix::oid) -> Result<i64, HistoryError> {
        let data = self.commit_data(id.to_owned())?;
        let time = crate::commit::Parsed::new(data).git_date();
        i64::try_from(time).map_err(|_| HistoryError::Corrupt {
            id: id.to_owned(),
            reason: format!(
                "its committer time reads as {time} (git's unsigned timestamp), which no interval can be rounded from; truncate to a --date instead"
            ),
        })
    }

    /// `lastModified` of `id` as the Nix generation prints it, from the commit object: git's
    /// `%ct` (the last committer line) for Nix <= 2.19, libgit2's `git_commit_time` (the first,
    /// after the author) for Nix >= 2.20.
    pub fn last_modified(&mut self, id: ObjectId, generation: Generation) -> Result<i64, HistoryError> {
        let data = self.commit_data(id)?;
        let parsed = crate::commit::Parsed::new(data);
        let unreadable = |reason: String| HistoryError::NoCommitterTime { id, generation, reason };
        match generation {
            Generation::Legacy => {
                let text = parsed.git_committer_time_text().ok_or_else(|| unreadable("git log --format=%ct prints nothing for it".into()))?;
                let text = std::str::from_utf8(text).expect("digits");
                text.parse::<i64>().map_err(|_| unreadable(format!("its committer time {text} is out of range")))
            }
            Generation::Modern => parsed.libgit2_committer_time().map_err(|reason| unreadable(format!("libgit2: {reason}"))),
        }
    }
}

/// Whether a committer time (git's unsigned `timestamp_t`) is at or before `boundary`, as
/// git's `--before` compares them; a negative boundary is before every commit.
pub fn at_or_before(time: u64, boundary: i64) -> bool {
    u64::try_from(boundary).is_ok_and(|boundary| time <= boundary)
}

/// A short hash of everything besides the commits themselves that decides which parents a walk
/// sees: the `info/grafts` file as read and `replacements` (`refs/replace/`, sorted; empty for
/// walks without them); `None` when there is neither, the common case. Cache keys of counts and
/// truncations carry it, so two repositories holding the same commit with different grafts never
/// share a result. (A shallow boundary cannot change a result: a walk that reaches it fails
/// instead.)
fn view_fingerprint(grafts_file: Option<&[u8]>, replacements: &[(ObjectId, ObjectId)]) -> Option<String> {
    let mut view = Vec::new();
    if let Some(grafts) = grafts_file {
        view.extend_from_slice(b"grafts\0");
        view.extend_from_slice(&(grafts.len() as u64).to_le_bytes());
        view.extend_from_slice(grafts);
    }
    if !replacements.is_empty() {
        view.extend_from_slice(b"replace\0");
        for (from, to) in replacements {
            view.extend_from_slice(from.as_bytes());
            view.extend_from_slice(to.as_bytes());
        }
    }
    (!view.is_empty()).then(|| nixstore::hash::sha256(&view).to_hex()[..16].to_owned())
}

/// `$GIT_DIR/info/grafts` as git's `read_graft_line` reads it (lines of hex ids, the commit
/// then its parents; blank lines and '#' comments skipped; a bad line is ignored).
/// `GIT_GRAFT_FILE` is not read: the environment never changes a result.
fn parse_grafts(data: &[u8]) -> gix::hashtable::HashMap<ObjectId, Vec<ObjectId>> {
    let mut grafts = gix::hashtable::HashMap::default();
    for line in data.split(|&c| c == b'\n') {
        let line = line.trim_ascii_end();
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        let mut ids = Vec::new();
        let mut rest = line;
        let mut ok = true;
        loop {
            match rest.get(..40).and_then(|hex| ObjectId::from_hex(hex).ok()) {
                Some(id) => ids.push(id),
                None => {
                    ok = false;
                    break;
                }
            }
            rest = &rest[40..];
            match rest.split_first() {
                None => break,
                Some((c, tail)) if c.is_ascii_whitespace() => rest = tail,
                Some(_) => {
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            let commit = ids.remove(0);
            grafts.insert(commit, ids);
        }
    }
    grafts
}
