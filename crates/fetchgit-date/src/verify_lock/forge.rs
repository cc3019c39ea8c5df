//! Forge tarballs (`github:`, `gitlab:`, `sourcehut:` inputs): the forge serves `git archive` of
//! the commit, and Nix unpacks it (dropping the top directory) and hashes the tree. That is the
//! legacy export of the commit (git archive: export-ignore, export-subst, eol and filter
//! attributes; a gitlink an empty directory), read here from the forge's git URL (or a mirror).
//!
//! Measured: the NAR hash of a `git archive` tarball unpacked by Nix 2.8 (`nix-prefetch-url
//! --unpack`) and by Nix 2.34.8 (the same, and `nix flake prefetch tarball+file://`, which
//! unpacks into its git tarball cache) is the legacy export's (tests/verify_lock.rs), so the
//! result does not depend on the release. What the forge does with its own refs, git release and
//! settings is not known here: a hash that does not match where the tree has export-subst
//! files or Git LFS pointers is reported as not reproduced, never as a difference
//! (docs/design.md, "Forge tarballs").

use nixstore::hash::NixHash;
use nixstore::store_path::{StorePathName, DEFAULT_STORE_DIR};

use super::cause::{self, Cause, CauseKind};
use super::git::Failure;
use super::input::{Attrs, LockedInput, Options, ReleaseCheck, Status};
use crate::error_chain;
use crate::export::ExportOptions;
use crate::fetch::{Fetcher, Selector};
use crate::nix_version::Generation;
use crate::nix_version::NixVersion;

/// The export a forge tarball is.
pub const TARBALL_EXPORT: ExportOptions = ExportOptions { generation: Generation::Legacy, export_ignore: true, lfs: false, submodules: false };

/// What the forge's tarball of the commit gives, and what in the tree Nix cannot be sure of.
struct Tarball {
    nar_hash: NixHash,
    last_modified: i64,
    /// Files export-subst expands (with the forge's refs, for `%d` and `%(describe)`).
    substituted: Vec<gix::bstr::BString>,
    /// Git LFS pointers (a forge may put their objects in its archives).
    lfs_pointers: Vec<gix::bstr::BString>,
}

fn tarball(location: &str, rev: &str, options: &Options) -> Result<Tarball, Failure> {
    // The default release fetches a rev by itself; the export is the legacy one whatever the
    // fetcher's release.
    let release = NixVersion::default_release();
    let selector = Selector { rev: Some(rev.to_owned()), ..Selector::default() };
    let fetcher = Fetcher::open_as(location, options.cache.clone(), &selector, &options.remote, &release).map_err(|err| Failure::Check(error_chain(&err)))?;
    let name = StorePathName::new("source").expect("'source' is a valid store path name");
    let fetched = fetcher.fetch(&selector, TARBALL_EXPORT, &name, DEFAULT_STORE_DIR).map_err(|err| Failure::Check(error_chain(&err)))?;
    let commit = fetched.commit.expect("a fetch by rev exports a commit");
    let stats = cause::stats(fetcher.repo(), commit, TARBALL_EXPORT).unwrap_or_default();
    Ok(Tarball {
        nar_hash: fetched.nar_hash,
        last_modified: fetched.attrs.last_modified,
        substituted: stats.substituted,
        lfs_pointers: cause::lfs_pointers(fetcher.repo(), commit),
    })
}

/// Checks a forge input under each release (the tarball is the same for all of them).
pub fn check(input: &LockedInput, location: &str, releases: &[NixVersion], options: &Options) -> Vec<ReleaseCheck> {
    let computed = tarball(location, &input.rev, options);
    releases
        .iter()
        .map(|release| match &computed {
            Ok(tarball) => compare(input, release, tarball),
            Err(failure) => failure.clone().into_check(input, release),
        })
        .collect()
}

fn compare(input: &LockedInput, release: &NixVersion, tarball: &Tarball) -> ReleaseCheck {
    let mut mismatches = Vec::new();
    let mut causes = Vec::new();
    let mut status = Status::Reproduces;
    let mut reason = None;
    if NixHash::parse(&input.nar_hash).ok() != Some(tarball.nar_hash) {
        mismatches.push("narHash");
        status = Status::Differs;
        if let Some(first) = tarball.substituted.first() {
            status = Status::NotReproduced;
            reason = Some(format!(
                "the tree has {} export-subst file(s), e.g. '{first}': the forge expands them with its own refs and git release, which are not reproduced",
                tarball.substituted.len()
            ));
        } else if let Some(first) = tarball.lfs_pointers.first() {
            status = Status::NotReproduced;
            reason = Some(format!(
                "the tree has {} Git LFS pointer file(s), e.g. '{first}': a forge may put their objects in its archives, which is not reproduced",
                tarball.lfs_pointers.len()
            ));
        } else {
            causes.push(Cause::new(CauseKind::Unexplained, "the forge's git archive of the rev, unpacked as Nix does, gives another hash: the lock was made from another tarball (another rev, or a forge that changed its archives)"));
        }
    }
    if input.last_modified.is_some_and(|value| value != tarball.last_modified) {
        mismatches.push("lastModified");
        causes.push(Cause::new(CauseKind::History, format!("the commit's committer time (the tarball's mtime) is {}", tarball.last_modified)));
        if status == Status::Reproduces {
            status = Status::Differs;
        }
    }
    ReleaseCheck {
        input: input.name.clone(),
        r#type: input.source.kind(),
        source: input.source.shown(),
        release: release.to_string(),
        status,
        mismatches,
        locked: input.locked_attrs(),
        computed: Attrs {
            nar_hash: Some(tarball.nar_hash.to_sri()),
            rev: Some(input.rev.clone()),
            last_modified: Some(tarball.last_modified),
            rev_count: None,
        },
        causes,
        reason,
    }
}
