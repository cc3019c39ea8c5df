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
use fetchgit_date::fetch::Fetcher;
use fetchgit_date::nix_version::NixVersion;
use fetchgit_date::pipeline::{self, NarWriter, Store};
use fetchgit_date::remote::RemoteOptions;
use fetchgit_date::request::{Context, Request};
use fetchgit_date::url::{self, Location};
use fetchgit_date::{error_chain, progress};
use nixstore::hash::NixHash;
use nixstore::store_path::StorePath;
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
    let options = RemoteOptions { progress: true, ..request.remote_options(false) };
    let key = FetcherKey {
        url: request.url.clone(),
        remote_want: match url::parse(&request.url).map_err(|e| error_chain(&e))? {
            Location::Local(_) => None,
            Location::Remote(_) => Some((request.ref_name.clone(), request.rev.clone())),
        },
        options: format!("{:?} {}", options.depth, options.all_refs),
    };
    if !state.fetchers.contains_key(&key) {
        let fetcher = pipeline::open(&request, Cache::from_environment(), &options).map_err(|e| error_chain(&e))?;
        state.fetchers.insert(key.clone(), fetcher);
    }
    let outcome = pipeline::run(&request, &state.fetchers[&key], &HostStore { host, store_dir: &store_dir }).map_err(|e| error_chain(&e))?;
    let attrs = outcome.fetched.attrs;
    let answer = Answer { store_path: attrs.out_path.clone(), attrs };
    let json = serde_json::to_string(&answer).expect("plain data serialises");
    state.memo.insert(request, json.clone());
    Ok(json)
}

/// The evaluator's own store, through the shim.
struct HostStore<'a, 'h> {
    host: &'a HostCall<'h>,
    store_dir: &'a str,
}

impl Store for HostStore<'_, '_> {
    fn store_dir(&self) -> &str {
        self.store_dir
    }

    /// Nix pulls the NAR (a Source) while the exporter pushes it: the exporter runs on its own
    /// thread and hands over chunks through a bounded channel, so memory stays bounded by a few
    /// chunks. Nix's calls stay on this thread. A store that reports another path than the one
    /// computed from our NAR hash is refused.
    fn ensure(&self, path: &StorePath, nar_hash: &NixHash, _nar_size: u64, write: &mut NarWriter<'_>) -> Result<bool, String> {
        let expected = path.to_absolute_path(self.store_dir);
        if self.host.is_valid_path(&expected)? {
            return Ok(false);
        }
        let (sender, receiver) = sync_channel::<Result<Vec<u8>, String>>(4);
        let added = std::thread::scope(|scope| {
            let writer = scope.spawn(move || {
                let mut out = std::io::BufWriter::with_capacity(1 << 16, ChannelWriter(sender.clone()));
                let written = write(&mut out).and_then(|()| std::io::Write::flush(&mut out)).map_err(|e| e.to_string());
                drop(out);
                if let Err(message) = written {
                    let _ = sender.send(Err(message));
                }
            });
            let mut reader = ChannelReader { receiver, chunk: Vec::new(), offset: 0, failed: None };
            let added = self.host.add_nar(path.name().as_str(), &mut reader);
            // Nix stops reading at the first error; dropping the reader ends a blocked writer.
            let failed = reader.failed.take();
            drop(reader);
            let _ = writer.join();
            match (added, failed) {
                (Err(_), Some(export_error)) => Err(export_error),
                (added, _) => added,
            }
        })?;
        if added != expected {
            return Err(format!(
                "the Nix store added {added}, but the NAR hash {} gives {expected}: refusing a result whose hash Nix does not confirm (please report this as a bug)",
                nar_hash.to_sri()
            ));
        }
        Ok(true)
    }
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
