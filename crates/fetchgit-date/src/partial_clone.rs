//! Partial clones of remotes: the whole commit history, but only the trees and blobs of the
//! commits that are exported.
//!
//! fetchGit's attributes need every commit (`revCount`, `lastModified`, the truncation walk) but
//! the files of one commit only. So a full-history fetch ([`crate::remote::update`] with
//! [`crate::remote::Depth::Full`]) asks a server that allows it for commits only (`filter
//! tree:0`, [`CommitsOnly`]), and before an export [`complete_tree`] fetches the one tree that
//! is missing: its trees first (`want <tree>` with `filter blob:none`), then the blobs it lacks
//! (`want <blob>`...). A server that does not allow filters gets today's full fetch, and the
//! cache stays one repository per URL: complete where a full fetch filled it, partial where a
//! filtered one did. [`complete_tree`] walks the tree and fetches only what is missing, so a
//! second revision costs what it adds.
//!
//! What gix 0.90 cannot express, and how this works around it:
//! - Its high-level fetch ([`gix::remote::Connection::prepare_fetch`]) has no `filter`. The
//!   commit fetch keeps it (refspecs, tags, ref updates, shallow files, credentials stay gix's)
//!   and wraps the transport ([`CommitsOnly`]): the `fetch` request passes through a packet-line
//!   rewriter that adds `filter tree:0` (after the v2 argument delimiter; in v0/v1 before the
//!   flush that ends the `want` section). gix already declares the `filter` capability in v0/v1
//!   when the server advertises it.
//! - It cannot fetch objects that no ref names, without negotiation (git's lazy fetch sends no
//!   `have`: the server would take every tree of the commits we have as present). That is
//!   [`fetch_objects`], on the gix-protocol level: a handshake, then one `fetch` with our own
//!   [`gix::protocol::fetch::Negotiate`] (the wants, an optional `filter`, no haves, `done`),
//!   and the pack written with gix-pack.
//! - gix has no lazy ("promisor") object lookup: an object missing from a partial cache is an
//!   error where it is read. So every exporter of a remote cache calls [`complete_tree`] first
//!   (`Fetcher::complete_tree`, and the submodules of a superproject).
//!
//! Packs received with a filter get a `.promisor` file beside them, as git writes them, and the
//! cache's configuration names the remote as promisor (`extensions.partialClone`), so that git
//! itself reads the cache as the partial clone it is (`git fsck`, `git rev-list --count`).
//!
//! When filters are used (see [`filter_usable`]): protocol v2 servers that advertise `filter`
//! for `fetch` (git's `uploadpack.allowFilter`), where a `want` may name any object; v0/v1
//! servers that advertise `filter` and `allow-reachable-sha1-in-want` (without the latter they
//! refuse `want <tree>`). When a server still refuses the objects of a tree, the whole history
//! of the commit is fetched without a filter (`want <commit>`, no haves): what a full fetch
//! brings.

use std::collections::HashSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gix::protocol::transport::client::blocking_io::{RequestWriter, SetServiceResponse, Transport};
use gix::protocol::transport::client::{Capabilities, MessageKind, TransportWithoutIO, WriteMode};
use gix::protocol::transport::Protocol;
use gix::ObjectId;

use crate::error_chain;
use crate::remote::{Depth, RemoteError, RemoteOptions, RemoteUrl};
use crate::transport::BoxedTransport;

/// The filter of a full-history fetch: commits (and tags), no trees, no blobs.
pub const COMMITS_ONLY: &str = "tree:0";

/// The filter of a tree's first fetch: every tree below it, no blobs.
const TREES_ONLY: &str = "blob:none";

/// The most objects asked for in one request: 50,000 `want` lines are 2.5 MB.
const WANTS_PER_REQUEST: usize = 50_000;

/// How often [`complete_tree`] asks for what is still missing before it gives up (trees, the
/// trees a server left out, blobs).
const ROUNDS: usize = 4;

/// Whether a server whose handshake answered `capabilities` in `protocol` can serve a partial
/// clone: filtered fetches, and later `want`s of trees and blobs no ref names.
pub fn filter_usable(protocol: Protocol, capabilities: &Capabilities) -> bool {
    match protocol {
        Protocol::V2 => capabilities
            .capability("fetch")
            .and_then(|fetch| fetch.values().map(|mut values| values.any(|value| value == "filter")))
            .unwrap_or(false),
        Protocol::V0 | Protocol::V1 => capabilities.contains("filter") && capabilities.contains("allow-reachable-sha1-in-want"),
    }
}

/// What a [`CommitsOnly`] transport did, readable after the fetch.
#[derive(Clone, Default)]
pub struct FilterReport {
    used: Arc<AtomicBool>,
}

impl FilterReport {
    /// Whether the filter went into a `fetch` request (the server allowed it).
    pub fn used(&self) -> bool {
        self.used.load(Ordering::Relaxed)
    }
}

/// `transport` for a fetch with `options`: for a full-history fetch, wrapped so that a server
/// that allows it sends commits only ([`CommitsOnly`]); otherwise as it is.
pub fn for_fetch(transport: BoxedTransport, options: &RemoteOptions) -> (BoxedTransport, FilterReport) {
    let report = FilterReport::default();
    if options.depth != Depth::Full {
        return (transport, report);
    }
    let wrapped = CommitsOnly { inner: transport, usable: false, filter: packet(format!("filter {COMMITS_ONLY}\n").as_bytes()), report: report.clone() };
    (Box::new(wrapped), report)
}

/// A transport that adds a `filter` argument to every `fetch` request, once the handshake has
/// shown that the server can serve a partial clone ([`filter_usable`]).
struct CommitsOnly {
    inner: BoxedTransport,
    usable: bool,
    /// The `filter ...` packet line.
    filter: Vec<u8>,
    report: FilterReport,
}

impl TransportWithoutIO for CommitsOnly {
    fn set_identity(&mut self, identity: gix::protocol::transport::client::Account) -> Result<(), gix::protocol::transport::client::Error> {
        self.inner.set_identity(identity)
    }
    fn to_url(&self) -> std::borrow::Cow<'_, gix::bstr::BStr> {
        self.inner.to_url()
    }
    fn supported_protocol_versions(&self) -> &[Protocol] {
        self.inner.supported_protocol_versions()
    }
    fn connection_persists_across_multiple_requests(&self) -> bool {
        self.inner.connection_persists_across_multiple_requests()
    }
    fn configure(&mut self, config: &dyn std::any::Any) -> gix::error::Result {
        self.inner.configure(config)
    }
}

impl Transport for CommitsOnly {
    fn handshake<'a>(
        &mut self,
        service: gix::protocol::transport::Service,
        extra_parameters: &'a [(&'a str, Option<&'a str>)],
    ) -> Result<SetServiceResponse<'_>, gix::protocol::transport::client::Error> {
        let response = self.inner.handshake(service, extra_parameters)?;
        self.usable = filter_usable(response.actual_protocol, &response.capabilities);
        Ok(response)
    }

    fn request(&mut self, write_mode: WriteMode, on_into_read: MessageKind, trace: bool) -> Result<RequestWriter<'_>, gix::protocol::transport::client::Error> {
        let writer = self.inner.request(write_mode, on_into_read, trace)?;
        if !self.usable || write_mode != WriteMode::OneLfTerminatedLinePerWriteCall {
            return Ok(writer);
        }
        let (raw, reader) = writer.into_parts();
        let injector = Injector { out: raw, pending: Vec::new(), filter: self.filter.clone(), state: Section::Start, report: self.report.clone() };
        Ok(RequestWriter::new_from_bufread(injector, reader, write_mode, on_into_read, trace))
    }
}

/// Where in a request the [`Injector`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    /// Nothing seen yet.
    Start,
    /// v2 `command=fetch`, before its arguments.
    FetchCapabilities,
    /// v0/v1: `want` lines were sent, the flush that ends them is not yet.
    Wants,
    /// The filter is in, or this request needs none (`ls-refs`, later v0 `have` rounds).
    Done,
}

/// Reads the packet lines a request writes and adds the `filter` line where the protocol
/// expects it: after the delimiter of a v2 `command=fetch`, or before the flush that ends the
/// `want` lines of v0/v1. Everything else passes unchanged.
struct Injector<'a> {
    out: Box<dyn Write + 'a>,
    /// Bytes of a packet line not yet complete.
    pending: Vec<u8>,
    filter: Vec<u8>,
    state: Section,
    report: FilterReport,
}

impl Injector<'_> {
    fn on_packet(&mut self, packet: &[u8]) -> io::Result<()> {
        let payload = packet.get(4..).unwrap_or_default();
        let (before, after) = match (self.state, packet) {
            (Section::Start, _) if payload.strip_suffix(b"\n").unwrap_or(payload) == b"command=fetch" => {
                self.state = Section::FetchCapabilities;
                (false, false)
            }
            (Section::Start, _) if payload.starts_with(b"want ") => {
                self.state = Section::Wants;
                (false, false)
            }
            (Section::Start, _) if payload.starts_with(b"command=") => {
                self.state = Section::Done;
                (false, false)
            }
            (Section::FetchCapabilities, b"0001") => (false, true),
            (Section::Wants, b"0000") => (true, false),
            _ => (false, false),
        };
        if before {
            self.out.write_all(&self.filter)?;
        }
        self.out.write_all(packet)?;
        if after {
            self.out.write_all(&self.filter)?;
        }
        if before || after {
            self.state = Section::Done;
            self.report.used.store(true, Ordering::Relaxed);
        }
        Ok(())
    }
}

impl Write for Injector<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(data);
        let mut start = 0;
        while let Some(header) = self.pending.get(start..start + 4) {
            let text = std::str::from_utf8(header).map_err(|_| io::Error::other("a request packet line has no hex length"))?;
            let length = usize::from_str_radix(text, 16).map_err(|_| io::Error::other("a request packet line has no hex length"))?;
            // 0000 (flush), 0001 (delimiter) and 0002 (response end) are the whole packet.
            let length = if length < 4 { 4 } else { length };
            if self.pending.len() < start + length {
                break;
            }
            let packet = self.pending[start..start + length].to_vec();
            self.on_packet(&packet)?;
            start += length;
        }
        self.pending.drain(..start);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// `payload` as one packet line.
fn packet(payload: &[u8]) -> Vec<u8> {
    let mut line = format!("{:04x}", payload.len() + 4).into_bytes();
    line.extend_from_slice(payload);
    line
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
pub fn complete_tree(url: &RemoteUrl, dir: &Path, commit: ObjectId, options: &RemoteOptions) -> Result<(), RemoteError> {
    let cache_err = |reason: String| RemoteError::Cache { path: dir.to_owned(), reason };
    let tree_of = |repo: &gix::Repository| -> Result<ObjectId, RemoteError> {
        let commit = repo.find_commit(commit).map_err(|e| cache_err(error_chain(&e)))?;
        commit.tree_id().map(gix::Id::detach).map_err(|e| cache_err(error_chain(&e)))
    };
    let missing = |repo: &gix::Repository| -> Result<Missing, RemoteError> { missing_below(repo, tree_of(repo)?).map_err(cache_err) };
    // Without the lock first: a complete tree (the common case) costs a walk, no lock.
    let repo = crate::remote::open_cache(dir).map_err(|e| cache_err(error_chain(&e)))?;
    if missing(&repo)?.is_empty() {
        return Ok(());
    }
    let held = crate::remote::hold(dir)?;
    let mut fell_back = false;
    for _ in 0..ROUNDS {
        let repo = crate::remote::open_cache(dir).map_err(|e| cache_err(error_chain(&e)))?;
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
    let repo = crate::remote::open_cache(dir).map_err(|e| cache_err(error_chain(&e)))?;
    let lacking = missing(&repo)?;
    if lacking.is_empty() {
        return Ok(());
    }
    let first = lacking.trees.first().or(lacking.blobs.first()).expect("something is missing");
    Err(RemoteError::Fetch {
        url: url.redacted().to_owned(),
        reason: format!("the server did not send object {first} of commit {commit} (and {} more) when asked for it", lacking.trees.len() + lacking.blobs.len() - 1),
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
    let repo = crate::remote::open_cache(dir).map_err(|e| RemoteError::Cache { path: dir.to_owned(), reason: error_chain(&e) })?;
    let fail = |reason: String| crate::remote::classify(url, reason, None);
    let remote = repo.remote_at(url.fetch_url()).map_err(|e| fail(error_chain(&e)))?;
    let (gix_url, version) = remote.sanitized_url_and_version(gix::remote::Direction::Fetch).map_err(|e| fail(error_chain(&e)))?;
    if options.verbose {
        eprintln!("fetchgit-date: fetching {} {what} from {}{}", wants.len(), url.redacted(), filter.map(|f| format!(" (filter {f})")).unwrap_or_default());
    }
    let started = std::time::Instant::now();
    let (transport, watch) = crate::transport::connect(&repo, gix_url.clone(), version, options.timeout).map_err(fail)?;
    let progress = crate::progress::Progress::titled(options.progress, &format!("fetchgit-date: fetching {} {what} from {}", wants.len(), url.redacted()));
    let received = receive(&repo, url, transport, &gix_url, wants, filter, options.timeout, &progress, dir);
    progress.finish();
    let (pack, filtered) = match received {
        Ok(received) => received,
        Err(reason) => {
            let stderr = watch.stderr(Duration::from_secs(2));
            let reason = if stderr.is_empty() { reason } else { format!("{reason} (ssh: {})", stderr.join("; ")) };
            let http_stall = || reason.contains("timed out").then_some(crate::transport::Stall { waiting: "waiting for an answer from", after: options.timeout });
            return Err(crate::remote::classify(url, reason.clone(), watch.stall().or_else(http_stall)));
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
    if let Some(options) = crate::transport::http_options(repo, gix_url, timeout)? {
        transport.configure(&*options).map_err(|e| error_chain(&e))?;
    }
    let authenticate = |action| crate::remote::supply_credentials(repo, url, action);
    let mut handshake = gix::protocol::handshake(&mut transport, gix::protocol::transport::Service::UploadPack, authenticate, Vec::new(), &mut progress.clone())
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

/// Marks the pack `pack` of the cache repository `dir` as received with a filter, as git does
/// (`<pack>.promisor`), and the repository as a partial clone of `url` (`extensions.partialClone`
/// naming a promisor remote), so that git reads it as one. fetchgit-date itself reads neither:
/// it ignores a cache's configuration, and [`complete_tree`] finds what is missing by looking.
pub fn mark_promisor(dir: &Path, pack: &Path, url: &RemoteUrl) -> io::Result<()> {
    let marker = pack.with_extension("promisor");
    if !marker.exists() {
        std::fs::File::create(&marker)?.sync_all()?;
    }
    let config = dir.join("config");
    let text = std::fs::read_to_string(&config).unwrap_or_default();
    if text.contains("partialclone = fetchgit-date") {
        return Ok(());
    }
    let mut text = text;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let quoted = url.redacted().replace('\\', "\\\\").replace('"', "\\\"");
    text.push_str(&format!(
        "[extensions]\n\tpartialclone = fetchgit-date\n[remote \"fetchgit-date\"]\n\turl = \"{quoted}\"\n\tpromisor = true\n\tpartialclonefilter = {COMMITS_ONLY}\n"
    ));
    let tmp = dir.join(format!("config.fetchgit-date-{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, &config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(packets: &[&[u8]]) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        let report = FilterReport::default();
        {
            let mut injector = Injector { out: Box::new(&mut out), pending: Vec::new(), filter: packet(b"filter tree:0\n"), state: Section::Start, report: report.clone() };
            for p in packets {
                // Split every packet in two writes, as a writer may.
                let (a, b) = p.split_at(p.len() / 2);
                injector.write_all(a).expect("write");
                injector.write_all(b).expect("write");
            }
        }
        (out, report.used())
    }

    #[test]
    fn the_filter_goes_after_the_v2_delimiter_of_a_fetch_only() {
        let fetch: &[&[u8]] = &[&packet(b"command=fetch\n"), &packet(b"agent=x\n"), b"0001", &packet(b"want 1234\n"), b"0000"];
        let (out, used) = rewrite(fetch);
        let expected = [packet(b"command=fetch\n"), packet(b"agent=x\n"), b"0001".to_vec(), packet(b"filter tree:0\n"), packet(b"want 1234\n"), b"0000".to_vec()].concat();
        assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&expected));
        assert!(used);
        let ls_refs: &[&[u8]] = &[&packet(b"command=ls-refs\n"), b"0001", &packet(b"peel\n"), b"0000"];
        let (out, used) = rewrite(ls_refs);
        assert_eq!(out, ls_refs.concat());
        assert!(!used);
    }

    #[test]
    fn the_filter_ends_the_v0_want_section() {
        let first: &[&[u8]] = &[&packet(b"want 1234 filter ofs-delta\n"), &packet(b"want 5678\n"), b"0000", &packet(b"have 9abc\n"), &packet(b"done\n")];
        let (out, used) = rewrite(first);
        let expected = [packet(b"want 1234 filter ofs-delta\n"), packet(b"want 5678\n"), packet(b"filter tree:0\n"), b"0000".to_vec(), packet(b"have 9abc\n"), packet(b"done\n")].concat();
        assert_eq!(out, expected);
        assert!(used);
        // A later round of a stateful connection sends only haves.
        let later: &[&[u8]] = &[&packet(b"have 9abc\n"), b"0000"];
        assert_eq!(rewrite(later).0, later.concat());
    }
}
