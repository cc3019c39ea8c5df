//! The whole history of the fetched ref(s), which `revCount` needs, or with [`Depth::One`] the
//! tip only: [`update`].

use std::path::Path;

use crate::url::RemoteUrl;

use super::cache_dir::{has_commit, hold, open_cache, ref_target, stamp_age, stamp_path, write_stamp};
use super::error::RemoteError;
use super::options::{Depth, RemoteOptions, Updated, Want, REMOTE_HEAD_REF};
use super::session::{rev_spec, Session, Shallow};

/// Brings the cache repository for `url` up to date for `want`, following Nix's freshness rules,
/// and returns where it is.
///
/// A server without shallow support gets a full fetch into the full cache instead of a shallow
/// one (with a warning): the output is the same, only the transfer is larger.
pub fn update(url: &RemoteUrl, want: &Want, options: &RemoteOptions, root: &Path) -> Result<Updated, RemoteError> {
    match update_at_depth(url, want, options, root) {
        Err(RemoteError::NoShallow { .. }) if options.depth != Depth::Full => {
            warn_no_shallow(url);
            update_at_depth(url, want, &RemoteOptions { depth: Depth::Full, ..options.clone() }, root)
        }
        other => other,
    }
}

pub(super) fn warn_no_shallow(url: &RemoteUrl) {
    crate::progress::warn(&format!("{} does not support shallow fetches: fetching the whole history instead", url.redacted()));
}

pub(super) fn update_at_depth(url: &RemoteUrl, want: &Want, options: &RemoteOptions, root: &Path) -> Result<Updated, RemoteError> {
    let suffix = if options.depth == Depth::Full { "" } else { "-shallow" };
    let shallow = if options.depth == Depth::Full { Shallow::NoChange } else { Shallow::DepthAtRemote(std::num::NonZeroU32::MIN) };
    let dir = root.join(format!("{}{suffix}", url.cache_key()));
    let cache_err = |path: &Path, err: &dyn std::fmt::Display| RemoteError::Cache { path: path.to_owned(), reason: err.to_string() };
    let held = hold(&dir)?;
    let local_ref = match &want.full_ref {
        Some(name) => name.clone(),
        None => REMOTE_HEAD_REF.to_owned(),
    };
    let mut session = Session::new(url, options, &dir, held.writable);
    if let Some(rev) = want.rev {
        if has_commit(&dir, &rev) {
            return Ok(Updated { path: dir, local_ref, fetched: false, bytes_received: 0 });
        }
        // Nix >= 2.20: ask for the commit itself; servers that refuse unadvertised objects make
        // this fail, and then the refs are fetched instead.
        let by_rev = session.fetch(&[rev_spec(&rev)], &|_| shallow.clone());
        if by_rev.is_ok() && has_commit(&dir, &rev) {
            return Ok(session.done(local_ref));
        }
        session.fetch_refs(want, &local_ref, &|_| shallow.clone())?;
        if has_commit(&dir, &rev) {
            return Ok(session.done(local_ref));
        }
        let refs = if options.all_refs { "any ref".to_owned() } else { format!("ref '{}'", want.full_ref.as_deref().unwrap_or("HEAD")) };
        return Err(RemoteError::RevNotFound { rev, refs, url: url.redacted().to_owned() });
    }
    let stamp = stamp_path(&dir, &local_ref, options.all_refs);
    let fresh = !options.refresh
        && stamp_age(&stamp).is_some_and(|age| age < options.ttl)
        && open_cache(&dir).ok().is_some_and(|repo| repo.try_find_reference(local_ref.as_str()).ok().flatten().is_some());
    if fresh || session.stale_but_read_only(&stamp, &local_ref) {
        return Ok(Updated { path: dir, local_ref, fetched: false, bytes_received: 0 });
    }
    match session.fetch_refs(want, &local_ref, &|_| shallow.clone()) {
        Ok(()) => {}
        // Offline, or the server down: Nix goes on with the clone it has ("could not update local
        // clone ...; continuing with the most recent version"). Not when the server answered and
        // refused (credentials, a missing ref): a refetch always authenticates. Not with
        // --refresh, which asks for the network explicitly.
        Err(err @ (RemoteError::Unreachable { .. } | RemoteError::TimedOut { .. })) if !options.refresh && ref_target(&dir, &local_ref).is_some() => {
            crate::progress::warn(&format!(
                "could not update the cache of Git repository '{}' ({}); continuing with the most recent version",
                url.redacted(),
                crate::error_chain(&err)
            ));
            return Ok(Updated { path: dir, local_ref, fetched: false, bytes_received: 0 });
        }
        Err(err) => return Err(err),
    }
    write_stamp(&stamp).map_err(|e| cache_err(&stamp, &e))?;
    Ok(session.done(local_ref))
}
