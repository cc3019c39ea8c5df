//! Only the history a truncation walk needs, in the partial cache: [`update_partial`].

use std::path::Path;

use gix::ObjectId;

use crate::error_chain;
use crate::url::RemoteUrl;

use super::cache_dir::{has_commit, has_commit_in, hold, open_cache, ref_target, stamp_age, stamp_path, write_stamp};
use super::error::RemoteError;
use super::full::{update, warn_no_shallow};
use super::options::{Depth, RemoteOptions, Updated, Want, REMOTE_HEAD_REF};
use super::session::{rev_spec, unshallow, Session, Shallow};

/// Whether the history in a partial cache is enough for a truncation, as the walk itself finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// The walk from the start commit found its answer without needing the parents of a shallow
    /// boundary commit: the answer is what the full history gives.
    Complete,
    /// The walk reached a shallow boundary commit first; the history back to `boundary` (Unix
    /// seconds, the truncation boundary) is needed.
    Incomplete {
        /// The truncation boundary.
        boundary: i64,
    },
}

/// How many deepening rounds follow the first `Since`+`Deepen` before the whole history is
/// fetched instead, into the full cache (each round deepens by 4 times more: 4, 16, 64).
const DEEPEN_ROUNDS: u32 = 3;

/// Why [`partial`] gave up on the partial cache: the full cache must serve the request.
enum Partial {
    Done(Updated),
    /// The server has no shallow support, or deepening did not make the walk exact.
    UseFull,
}

/// Brings the partial cache repository for `url` (suffix `-partial`) up to date for a truncation
/// from `want`: the start commit (the rev, or the ref's tip, under Nix's freshness rules), then
/// as much history as `check` needs to find its answer exactly. Returns the cache repository to
/// open, which is the full cache instead when that one already holds what is needed without the
/// network, or when the server cannot serve shallow fetches (then the whole history is fetched
/// into the full cache; the result is the same).
///
/// `check` runs the truncation walk on the repository and reports whether it completed without
/// reaching a shallow boundary. History is fetched in steps:
/// 1. the start commit alone (depth 1), unless it is present;
/// 2. `deepen-since boundary+1` (every commit newer than the boundary on a path of such commits:
///    all the walk visits before its answer), then `deepen 1` relative to the new shallow boundary
///    (the parents of those commits, among them the answer);
/// 3. while the walk still reaches a shallow commit (a server that cuts differently), deepen by
///    4, 16, 64 more commits, then fetch the whole history (`deepen 2147483647`, i.e. unshallow).
///
/// The result never depends on dates being monotonic: only the walk decides when to stop.
pub fn update_partial(
    url: &RemoteUrl,
    want: &Want,
    options: &RemoteOptions,
    root: &Path,
    check: &mut dyn FnMut(&gix::Repository, ObjectId) -> Result<Coverage, RemoteError>,
) -> Result<Updated, RemoteError> {
    let full_options = RemoteOptions { depth: Depth::Full, ..options.clone() };
    if let Some(updated) = full_cache_without_network(url, want, &full_options, root)? {
        return Ok(updated);
    }
    match partial(url, want, options, root, check) {
        Ok(Partial::Done(updated)) => Ok(updated),
        Ok(Partial::UseFull) => update(url, want, &full_options, root),
        Err(RemoteError::NoShallow { .. }) => {
            warn_no_shallow(url);
            update(url, want, &full_options, root)
        }
        // Perhaps the full cache, read-only too, has what is needed.
        Err(RemoteError::ReadOnly { .. }) if root.join(url.cache_key()).join("HEAD").is_file() => update(url, want, &full_options, root),
        Err(err) => Err(err),
    }
}

/// The full cache repository, when it can serve `want` without using the network.
fn full_cache_without_network(url: &RemoteUrl, want: &Want, options: &RemoteOptions, root: &Path) -> Result<Option<Updated>, RemoteError> {
    let dir = root.join(url.cache_key());
    if !dir.join("HEAD").is_file() {
        return Ok(None);
    }
    let _held = hold(&dir)?;
    let local_ref = want.full_ref.clone().unwrap_or_else(|| REMOTE_HEAD_REF.to_owned());
    let usable = match want.rev {
        Some(rev) => has_commit(&dir, &rev),
        None => {
            !options.refresh
                && stamp_age(&stamp_path(&dir, &local_ref, options.all_refs)).is_some_and(|age| age < options.ttl)
                && ref_target(&dir, &local_ref).is_some()
        }
    };
    Ok(usable.then_some(Updated { path: dir, local_ref, fetched: false, bytes_received: 0 }))
}

fn partial(
    url: &RemoteUrl,
    want: &Want,
    options: &RemoteOptions,
    root: &Path,
    check: &mut dyn FnMut(&gix::Repository, ObjectId) -> Result<Coverage, RemoteError>,
) -> Result<Partial, RemoteError> {
    let name = format!("{}-partial", url.cache_key());
    let dir = root.join(&name);
    let cache_err = |path: &Path, err: &dyn std::fmt::Display| RemoteError::Cache { path: path.to_owned(), reason: err.to_string() };
    let held = hold(&dir)?;
    let local_ref = want.full_ref.clone().unwrap_or_else(|| REMOTE_HEAD_REF.to_owned());
    let mut session = Session::new(url, options, &dir, held.writable);
    let tip = Shallow::DepthAtRemote(std::num::NonZeroU32::MIN);
    // 1. The start commit.
    let start = match want.rev {
        Some(rev) => {
            if !has_commit(&dir, &rev) {
                let by_rev = session.fetch(&[rev_spec(&rev)], &|_| tip.clone());
                if let Err(err @ RemoteError::NoShallow { .. }) = by_rev {
                    return Err(err);
                }
                if !(by_rev.is_ok() && has_commit(&dir, &rev)) {
                    // The server hands out no commits by id (protocol v0 without
                    // uploadpack.allowReachableSHA1InWant): only a ref's whole history has it.
                    let undo = unshallow(&dir);
                    session.fetch_refs(want, &local_ref, &|_| undo.clone())?;
                }
                if !has_commit(&dir, &rev) {
                    let refs = if options.all_refs { "any ref".to_owned() } else { format!("ref '{}'", want.full_ref.as_deref().unwrap_or("HEAD")) };
                    return Err(RemoteError::RevNotFound { rev, refs, url: url.redacted().to_owned() });
                }
            }
            rev
        }
        None => {
            let stamp = stamp_path(&dir, &local_ref, options.all_refs);
            let fresh = !options.refresh && stamp_age(&stamp).is_some_and(|age| age < options.ttl);
            let usable = fresh || session.stale_but_read_only(&stamp, &local_ref);
            match ref_target(&dir, &local_ref).filter(|_| usable) {
                Some(id) => id,
                None => {
                    // The tip alone, unless it is already here (a depth-1 fetch of a commit we
                    // have would cut its history off, as `git fetch --depth 1` does).
                    let repo = open_cache(&dir).map_err(|e| cache_err(&dir, &error_chain(&e)))?;
                    let choose = |map: &gix::remote::fetch::RefMap| {
                        let known = map.mappings.iter().filter_map(|m| m.remote.as_id()).all(|id| has_commit_in(&repo, &id.to_owned()));
                        if known {
                            Shallow::NoChange
                        } else {
                            tip.clone()
                        }
                    };
                    session.fetch_refs(want, &local_ref, &choose)?;
                    write_stamp(&stamp).map_err(|e| cache_err(&stamp, &e))?;
                    ref_target(&dir, &local_ref).ok_or_else(|| RemoteError::RefNotFound {
                        name: want.full_ref.clone().unwrap_or_else(|| "HEAD".into()),
                        url: url.redacted().to_owned(),
                    })?
                }
            }
        }
    };
    // 2. and 3. History until the walk is exact.
    for round in 0..=DEEPEN_ROUNDS {
        let repo = open_cache(&dir).map_err(|e| cache_err(&dir, &error_chain(&e)))?;
        let boundary = match check(&repo, start)? {
            Coverage::Complete => return Ok(Partial::Done(session.done(local_ref))),
            Coverage::Incomplete { boundary } => boundary,
        };
        let steps = match round {
            0 => vec![Shallow::Since { cutoff: gix::date::Time { seconds: boundary.saturating_add(1), offset: 0 } }, Shallow::Deepen(1)],
            r => vec![Shallow::Deepen(4u32.pow(r))],
        };
        for shallow in steps {
            if options.verbose {
                eprintln!("fetchgit-date: history of {start} needed back to {boundary}: fetching with {shallow:?}");
            }
            session.fetch_history(start, want, shallow)?;
        }
    }
    let repo = open_cache(&dir).map_err(|e| cache_err(&dir, &error_chain(&e)))?;
    match check(&repo, start)? {
        Coverage::Complete => Ok(Partial::Done(session.done(local_ref))),
        Coverage::Incomplete { .. } => {
            if options.verbose {
                eprintln!("fetchgit-date: the partial history of {start} is still not enough: fetching the whole history");
            }
            Ok(Partial::UseFull)
        }
    }
}
