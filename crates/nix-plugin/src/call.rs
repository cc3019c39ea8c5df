//! One call of `builtins.fetchGitDate`, and the state kept between calls of one process.
//!
//! The memo is fetchGit's in-evaluation memo: a request (with its defaults applied, so
//! `{ url; rev; }` and `{ url; rev; name = "source"; }` are one) answers the same for the life
//! of the process, locked or not. Opened repositories are kept too, so warm calls cost a
//! truncation walk at most.

use std::collections::HashMap;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Mutex, MutexGuard};

use fetchgit_date::cache::Cache;
use fetchgit_date::fetch::{Fetched, Fetcher};
use fetchgit_date::location::{self, Location};
use fetchgit_date::nix_version::NixVersion;
use fetchgit_date::remote::RemoteOptions;
use fetchgit_date::request::{Context, Request};
use fetchgit_date::{error_chain, progress};
use serde::Serialize;

use crate::host::HostCall;

/// A finished call: what the shim turns into the attribute set.
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    store_path: String,
    attrs: fetchgit_date::fetch::SourceAttrs,
}

/// Which opened repository serves a request: a local one serves every request for its path;
/// a remote one was brought up to date for one ref or rev and depth.
#[derive(Clone, PartialEq, Eq, Hash)]
struct FetcherKey {
    url: String,
    remote_want: Option<(Option<String>, Option<String>)>,
    options: String,
}

#[derive(Default)]
struct State {
    fetchers: HashMap<FetcherKey, Fetcher>,
    memo: HashMap<Request, String>,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

fn state() -> MutexGuard<'static, Option<State>> {
    // A panic while the lock was held (caught at the boundary) leaves the maps as they were
    // between two whole insertions: still consistent.
    STATE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `fetchGitDate ARG` with `args` the shim's JSON of ARG; returns the answer's JSON.
pub fn fetch_git_date(host: &HostCall<'_>, args: &str) -> Result<String, String> {
    if std::env::var_os(crate::TEST_PANIC_VAR).is_some() {
        panic!("panic injected by {} (a test hook)", crate::TEST_PANIC_VAR);
    }
    let arg = crate::args::decode(args)?;
    let running: NixVersion = host.nix_version().parse().map_err(|e| error_chain(&e))?;
    let store_dir = host.store_dir();
    let request = Request::from_nix(&arg, &Context::nix(running, &store_dir, host.pure_eval())).map_err(|e| e.0)?;
    for warning in &request.warnings {
        progress::warn(warning);
    }
    // restrict-eval: the rules fetchGit applies to its URL (allowed-uris, allowed paths).
    host.check_uri(&request.uri_to_check())?;

    let mut guard = state();
    let state = guard.get_or_insert_with(State::default);
    if let Some(answer) = state.memo.get(&request) {
        crate::host::debug(&format!("fetchGitDate: answered from the memo: {}", request.url));
        return Ok(answer.clone());
    }
    let selector = request.selector();
    let options = RemoteOptions { progress: true, ..request.remote_options(false) };
    let key = FetcherKey {
        url: request.url.clone(),
        remote_want: match location::parse(&request.url).map_err(|e| error_chain(&e))? {
            Location::Local(_) => None,
            Location::Remote(_) => Some((request.ref_name.clone(), request.rev.clone())),
        },
        options: format!("{:?} {}", options.depth, options.all_refs),
    };
    if !state.fetchers.contains_key(&key) {
        let fetcher = Fetcher::open_as(&request.url, Cache::from_environment(), &selector, &options, &request.nix()).map_err(|e| error_chain(&e))?;
        state.fetchers.insert(key.clone(), fetcher);
    }
    let fetcher = &state.fetchers[&key];
    let (export, name) = (request.export_options(), request.store_path_name());
    let mut fetched = fetcher.fetch(&selector, export, &name, &store_dir).map_err(|e| error_chain(&e))?;
    // A given narHash, lastModified or revCount is checked before anything reaches the store.
    request.check_result(&mut fetched).map_err(|e| e.to_string())?;
    if let Some(info) = fetched.attrs.truncation.as_ref().filter(|t| t.root_fallback) {
        progress::warn(&format!("no commit reachable from {} is at or before {}; falling back to the root commit {}", info.start, info.boundary, fetched.attrs.rev));
    }
    if fetched.dirty {
        progress::warn(&format!("Git tree '{}' is dirty", fetcher.path().display()));
    }
    ensure_in_store(host, fetcher, &fetched, export, name.as_str())?;
    let answer = Answer { store_path: fetched.attrs.out_path.clone(), attrs: fetched.attrs };
    let json = serde_json::to_string(&answer).expect("plain data serialises");
    state.memo.insert(request, json.clone());
    Ok(json)
}

/// Makes the computed store path valid in the evaluator's store, and refuses a store that
/// reports another path than the one computed from our NAR hash.
fn ensure_in_store(host: &HostCall<'_>, fetcher: &Fetcher, fetched: &Fetched, export: fetchgit_date::export::ExportOptions, name: &str) -> Result<(), String> {
    let expected = &fetched.attrs.out_path;
    if host.is_valid_path(expected)? {
        return Ok(());
    }
    let repo_path = fetcher.path().to_owned();
    if let Some(commit) = fetched.commit {
        fetcher.complete_tree(commit).map_err(|e| error_chain(&e))?;
    }
    let mut lfs = fetched.commit.and_then(|commit| fetcher.lfs_fetcher(commit, export));
    let superproject = fetcher.superproject(export);
    // Nix pulls the NAR (a Source) while the exporter pushes it: the exporter runs on its own
    // thread, with its own handle on the repository, and hands over chunks through a bounded
    // channel, so memory stays bounded by a few chunks. Nix's calls stay on this thread.
    let (sender, receiver) = sync_channel::<Result<Vec<u8>, String>>(4);
    let added = std::thread::scope(|scope| {
        let writer = scope.spawn(move || {
            let mut out = std::io::BufWriter::with_capacity(1 << 16, ChannelWriter(sender.clone()));
            let written = fetchgit_date::resolve::open(&repo_path)
                .map_err(|e| error_chain(&e))
                .and_then(|repo| fetchgit_date::fetch::write_nar(&repo, fetched, export, lfs.as_mut(), superproject.as_ref(), &mut out).map_err(|e| e.to_string()))
                .and_then(|()| std::io::Write::flush(&mut out).map_err(|e| e.to_string()));
            drop(out);
            if let Err(message) = written {
                let _ = sender.send(Err(message));
            }
        });
        let mut reader = ChannelReader { receiver, chunk: Vec::new(), offset: 0, failed: None };
        let added = host.add_nar(name, &mut reader);
        // Nix stops reading at the first error; dropping the reader ends a blocked writer.
        let failed = reader.failed.take();
        drop(reader);
        let _ = writer.join();
        match (added, failed) {
            (Err(_), Some(export_error)) => Err(export_error),
            (added, _) => added,
        }
    });
    let added = added.map_err(|reason| format!("cannot add {expected} to the Nix store: {reason}"))?;
    if &added != expected {
        return Err(format!(
            "the Nix store added {added}, but the NAR hash {} gives {expected}: refusing a result whose hash Nix does not confirm (please report this as a bug)",
            fetched.attrs.nar_hash
        ));
    }
    Ok(())
}

struct ChannelWriter(SyncSender<Result<Vec<u8>, String>>);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.send(Ok(buf.to_vec())).map_err(|_| std::io::Error::other("the Nix store stopped reading the NAR"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct ChannelReader {
    receiver: Receiver<Result<Vec<u8>, String>>,
    chunk: Vec<u8>,
    offset: usize,
    failed: Option<String>,
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.offset == self.chunk.len() {
            match self.receiver.recv() {
                Ok(Ok(chunk)) => (self.chunk, self.offset) = (chunk, 0),
                Ok(Err(message)) => {
                    self.failed = Some(message.clone());
                    return Err(std::io::Error::other(message));
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.offset);
        buf[..n].copy_from_slice(&self.chunk[self.offset..self.offset + n]);
        self.offset += n;
        Ok(n)
    }
}
