//! The trees and blobs of a commit that a partial cache lacks, fetched before an export reads
//! them ([`PartialCache::complete_tree`]; see [`super::filter`] for how the cache became
//! partial). gix has no lazy ("promisor") object lookup, so every exporter of a remote's cache
//! asks for the tree first.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use gix::protocol::transport::Protocol;
use gix::ObjectId;

use crate::error_chain;
use crate::url::RemoteUrl;

use super::cache_dir::{hold, open_cache};
use super::error::RemoteError;
use super::filter::mark_promisor;
use super::options::RemoteOptions;
use super::session::{classify, supply_credentials};
use super::transport::BoxedTransport;

/// The filter of a tree's first fetch: every tree below it, no blobs.
const TREES_ONLY: &str = "blob:none";

/// The most objects asked for in one request: 50,000 `want` lines are 2.5 MB.
const WANTS_PER_REQUEST: usize = 50_000;

/// How often [`complete_tree`] asks for what is still missing before it gives up (trees, the
/// trees a server left out, blobs).
const ROUNDS: usize = 4;

/// The cache repository of a remote, which may be a partial clone (`remote/filter.rs`): the
/// trees and blobs of a commit are fetched when an export needs them. Owned data only, so that an
/// exporter on another thread can use it.
#[derive(Debug, Clone)]
pub struct PartialCache {
    url: RemoteUrl,
    dir: PathBuf,
    options: RemoteOptions,
}

impl PartialCache {
    /// The cache repository `dir` of `url`, fetched into as `options` say.
    pub fn new(url: RemoteUrl, dir: PathBuf, options: RemoteOptions) -> PartialCache {
        PartialCache { url, dir, options }
    }

    /// Makes every tree and blob of `commit`'s tree present, fetching what is missing (nothing
    /// when a full fetch filled the cache).
    pub fn complete_tree(&self, commit: ObjectId) -> Result<(), RemoteError> {
        complete_tree(&self.url, &self.dir, commit, &self.options)
    }
}

/// What a tree lacks in a repository.
#[derive(Debug, Default)]
struct Missing {
    trees: Vec<ObjectId>,
    blobs: Vec<ObjectId>,
    /// The blobs below the tree, present or not (as far as its trees are present).
    all_blobs: usize,
}

impl Missing {
    fn is_empty(&self) -> bool {
        self.trees.is_empty() && self.blobs.is_empty()
    }
}

/// The trees and blobs below `tree` (itself included) that `repo` does not have. Submodule
/// commits are not objects of this repository and are not looked for.
fn missing_below(repo: &gix::Repository, tree: ObjectId) -> Result<Missing, String> {
    let mut missing = Missing::default();
    let mut seen = HashSet::new();
    let mut queue = vec![tree];
    let mut buf = Vec::new();
    while let Some(id) = queue.pop() {
        if !seen.insert(id) {
            continue;
        }
        let Some(data) = gix::objs::Find::try_find(&repo.objects, &id, &mut buf).map_err(|e| error_chain(&e))? else {
            missing.trees.push(id);
            continue;
        };
        if data.kind != gix::objs::Kind::Tree {
            return Err(format!("object {id} is a {}, not a tree", data.kind));
        }
        let decoded = gix::objs::TreeRef::from_bytes(data.data, repo.object_hash()).map_err(|e| format!("tree {id} cannot be read: {}", error_chain(&e)))?;
        for entry in decoded.entries {
            let oid = entry.oid.to_owned();
            if entry.mode.is_tree() {
                queue.push(oid);
            } else if entry.mode.is_blob_or_symlink() && seen.insert(oid) {
                missing.all_blobs += 1;
                if !repo.has_object(oid) {
                    missing.blobs.push(oid);
                }
            }
        }
    }
    Ok(missing)
}

/// Makes every tree and blob of `commit`'s tree present in the cache repository `dir` of `url`,
/// fetching what is missing (nothing when a full fetch filled the cache). Under the cache's
/// lock, so concurrent runs fetch once; each fetch adds one pack atomically, so an interrupted
/// run leaves a repository the next run completes.
fn complete_tree(url: &RemoteUrl, dir: &Path, commit: ObjectId, options: &RemoteOptions) -> Result<(), RemoteError> {
    let cache_err = |reason: String| RemoteError::Cache { path: dir.to_owned(), reason };
    let tree_of = |repo: &gix::Repository| -> Result<ObjectId, RemoteError> {
        let commit = repo.find_commit(commit).map_err(|e| cache_err(error_chain(&e)))?;
        commit.tree_id().map(gix::Id::detach).map_err(|e| cache_err(error_chain(&e)))
    };
    let missing = |repo: &gix::Repository| -> Result<Missing, RemoteError> { missing_below(repo, tree_of(repo)?).map_err(cache_err) };
    // Without the lock first: a complete tree (the common case) costs a walk, no lock.
    let repo = open_cache(dir).map_err(|e| cache_err(error_chain(&e)))?;
    if missing(&repo)?.is_empty() {
        return Ok(());
    }
    let held = hold(dir)?;
    let mut fell_back = false;
    for _ in 0..ROUNDS {
        let repo = open_cache(dir).map_err(|e| cache_err(error_chain(&e)))?;
        let lacking = missing(&repo)?;
        if lacking.is_empty() {
            return Ok(());
        }
        if !held.writable {
            let wanted = format!("{} trees and {} blobs of commit {commit}", lacking.trees.len(), lacking.blobs.len());
            return Err(RemoteError::ReadOnly { path: dir.to_owned(), url: url.redacted().to_owned(), wanted });
        }
        if options.verbose {
            eprintln!("fetchgit-date: commit {commit} lacks {} trees and {} blobs in the cache: fetching them", lacking.trees.len(), lacking.blobs.len());
        }
        // Trees first: the blobs below a missing tree are not known yet. Then the blobs: one by
        // one when a few are missing (another revision of the same files), else the whole tree,
        // which git's `pack-objects` serves about twice as fast as the same blobs listed (it
        // finds deltas among them by their paths).
        let fetched = if !lacking.trees.is_empty() {
            fetch_objects(url, dir, &lacking.trees, Some(TREES_ONLY), options, "trees")
        } else if lacking.blobs.len() * 2 > lacking.all_blobs {
            fetch_objects(url, dir, &[tree_of(&repo)?], None, options, "tree with all its files")
        } else {
            fetch_objects(url, dir, &lacking.blobs, None, options, "blobs")
        };
        match fetched {
            Ok(()) => {}
            // A server that refuses objects by id (or a filter) still serves the commit: its
            // whole history, as a full fetch brings it.
            Err(err @ (RemoteError::Fetch { .. } | RemoteError::NotFound { .. })) if !fell_back => {
                crate::progress::warn(&format!(
                    "{} did not serve the files of commit {commit} by themselves ({}): fetching its whole history instead",
                    url.redacted(),
                    error_chain(&err)
                ));
                fell_back = true;
                fetch_objects(url, dir, &[commit], None, options, "the whole history")?;
            }
            Err(err) => return Err(err),
        }
    }
    let repo = open_cache(dir).map_err(|e| cache_err(error_chain(&e)))?;
    let lacking = missing(&repo)?;
    if lacking.is_empty() {
        return Ok(());
    }
    let first = lacking.trees.first().or(lacking.blobs.first()).expect("something is missing");
    Err(RemoteError::Fetch {
        url: url.redacted().to_owned(),
        reason: format!(
            "the server did not send object {first} of commit {commit} (and {} more) when asked for it",
            lacking.trees.len() + lacking.blobs.len() - 1
        ),
    })
}

/// Fetches `wants` (any objects) into the cache repository `dir`, with `filter` when the server
/// allows it, without negotiation: no `have`, as git's lazy fetch of a partial clone. The
/// caller holds the cache's lock.
fn fetch_objects(url: &RemoteUrl, dir: &Path, wants: &[ObjectId], filter: Option<&str>, options: &RemoteOptions, what: &str) -> Result<(), RemoteError> {
    for chunk in wants.chunks(WANTS_PER_REQUEST) {
        fetch_chunk(url, dir, chunk, filter, options, what)?;
    }
    Ok(())
}

fn fetch_chunk(url: &RemoteUrl, dir: &Path, wants: &[ObjectId], filter: Option<&str>, options: &RemoteOptions, what: &str) -> Result<(), RemoteError> {
    let repo = open_cache(dir).map_err(|e| RemoteError::Cache { path: dir.to_owned(), reason: error_chain(&e) })?;
    let fail = |reason: String| classify(url, reason, None);
    let remote = repo.remote_at(url.fetch_url()).map_err(|e| fail(error_chain(&e)))?;
    let (gix_url, version) = remote.sanitized_url_and_version(gix::remote::Direction::Fetch).map_err(|e| fail(error_chain(&e)))?;
    if options.verbose {
        eprintln!("fetchgit-date: fetching {} {what} from {}{}", wants.len(), url.redacted(), filter.map(|f| format!(" (filter {f})")).unwrap_or_default());
    }
    let started = std::time::Instant::now();
    let (transport, watch) = super::transport::connect(&repo, gix_url.clone(), version, options.timeout).map_err(fail)?;
    let progress = crate::progress::Progress::titled(options.progress, &format!("fetchgit-date: fetching {} {what} from {}", wants.len(), url.redacted()));
    let received = receive(&repo, url, transport, &gix_url, wants, filter, options.timeout, &progress, dir);
    progress.finish();
    let (pack, filtered) = match received {
        Ok(received) => received,
        Err(reason) => {
            let stderr = watch.stderr(Duration::from_secs(2));
            let reason = if stderr.is_empty() { reason } else { format!("{reason} (ssh: {})", stderr.join("; ")) };
            let http_stall =
                || reason.contains("timed out").then_some(super::transport::Stall { waiting: "waiting for an answer from", after: options.timeout });
            return Err(classify(url, reason.clone(), watch.stall().or_else(http_stall)));
        }
    };
    let size = pack.as_ref().and_then(|p| std::fs::metadata(p).ok()).map_or(0, |m| m.len());
    if let (Some(pack), true) = (&pack, filtered) {
        mark_promisor(dir, pack, url).map_err(|e| RemoteError::Cache { path: dir.to_owned(), reason: e.to_string() })?;
    }
    if options.verbose {
        eprintln!("fetchgit-date: received {size} bytes of pack from {} in {:.2?}", url.redacted(), started.elapsed());
    }
    Ok(())
}

/// Our side of an object fetch: the wants, the filter, no haves, `done` at once.
struct ObjectWants<'a> {
    wants: &'a [ObjectId],
    filter: Option<&'a str>,
    filtered: bool,
}

impl gix::protocol::fetch::Negotiate for ObjectWants<'_> {
    fn mark_complete_and_common_ref(&mut self) -> gix::error::Result<gix::protocol::fetch::negotiate::Action> {
        Ok(gix::protocol::fetch::negotiate::Action::MustNegotiate { remote_ref_target_known: Vec::new() })
    }

    fn add_wants(&mut self, arguments: &mut gix::protocol::fetch::Arguments, _remote_ref_target_known: &[bool]) -> bool {
        for want in self.wants {
            arguments.want(want);
        }
        if let Some(filter) = self.filter.filter(|_| arguments.can_use_filter()) {
            arguments.filter(filter);
            self.filtered = true;
        }
        !self.wants.is_empty()
    }

    fn one_round(
        &mut self,
        _state: &mut gix::protocol::fetch::negotiate::one_round::State,
        _arguments: &mut gix::protocol::fetch::Arguments,
        _previous_response: Option<&gix::protocol::fetch::Response>,
    ) -> gix::error::Result<(gix::protocol::fetch::negotiate::Round, bool)> {
        let round = gix::protocol::fetch::negotiate::Round { haves_sent: 0, in_vain: 0, haves_to_send: 0, previous_response_had_at_least_one_in_common: false };
        Ok((round, true))
    }
}

/// Runs the handshake and the fetch of `wants`, writing the pack into `dir`; returns the pack's
/// path and whether the filter was sent. Errors are one line, without credentials.
#[allow(clippy::too_many_arguments)]
fn receive(
    repo: &gix::Repository,
    url: &RemoteUrl,
    mut transport: BoxedTransport,
    gix_url: &gix::Url,
    wants: &[ObjectId],
    filter: Option<&str>,
    timeout: Duration,
    progress: &crate::progress::Progress,
    dir: &Path,
) -> Result<(Option<PathBuf>, bool), String> {
    if let Some(options) = super::transport::http_options(repo, gix_url, timeout)? {
        transport.configure(&*options).map_err(|e| error_chain(&e))?;
    }
    let authenticate = |action| supply_credentials(repo, url, action);
    let mut handshake =
        gix::protocol::handshake(&mut transport, gix::protocol::transport::Service::UploadPack, authenticate, Vec::new(), &mut progress.clone())
            .map_err(|e| error_chain(&e))?;
    let mut negotiate = ObjectWants { wants, filter, filtered: false };
    let mut pack = None;
    let shallow_file = repo.shallow_file().map_err(|e| error_chain(&e))?;
    let pack_dir = dir.join("objects").join("pack");
    let write_options = gix::odb::pack::bundle::write::Options {
        thread_limit: None,
        iteration_mode: gix::odb::pack::data::input::Mode::Verify,
        index_version: Default::default(),
        alloc_limit_bytes: None,
        compression: Default::default(),
    };
    let protocol = handshake.server_protocol_version;
    let fetched = gix::protocol::fetch(
        &mut negotiate,
        |reader, progress, should_interrupt| -> gix::error::Result<bool> {
            let outcome = gix::odb::pack::Bundle::write_to_directory(
                reader,
                Some(&pack_dir),
                progress,
                should_interrupt,
                Some(repo.objects.clone()),
                repo.object_hash(),
                write_options,
            )?;
            if let Some(keep) = &outcome.keep_path {
                let _ = std::fs::remove_file(keep);
            }
            pack = outcome.data_path;
            Ok(true)
        },
        progress.clone(),
        &AtomicBool::new(false),
        gix::protocol::fetch::Context {
            handshake: &mut handshake,
            transport: &mut transport,
            user_agent: ("agent", Some(gix::protocol::agent(gix::env::agent()))),
            trace_packetlines: false,
        },
        gix::protocol::fetch::Options {
            shallow_file,
            shallow: &gix::protocol::fetch::Shallow::NoChange,
            tags: gix::protocol::fetch::Tags::None,
            reject_shallow_remote: false,
        },
    );
    if protocol == Protocol::V2 {
        let _ = gix::protocol::indicate_end_of_interaction(&mut transport, false);
    }
    fetched.map_err(|e| error_chain(&e))?;
    Ok((pack, negotiate.filtered))
}
