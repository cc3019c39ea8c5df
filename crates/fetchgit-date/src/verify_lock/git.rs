//! A `git` input under one release: the attributes that release's fetcher computes for the
//! locked commit, exported as a flake's git input is (Nix >= 2.20: `exportIgnore` as locked,
//! default false; legacy: git archive, or a checkout with submodules), and the `rev` it locks
//! for the input's `ref`.

use gix::ObjectId;
use nixstore::hash::NixHash;
use nixstore::store_path::{StorePathName, DEFAULT_STORE_DIR};

use super::cause::{self, Cause, CauseKind};
use super::input::{Attrs, LockedInput, Options, ReleaseCheck, Source, Status};
use crate::error_chain;
use crate::export::ExportOptions;
use crate::fetch::{Fetcher, Selector};
use crate::nix_version::Generation;
use crate::nix_version::{Change, NixVersion, CHANGES};
use crate::remote::{Depth, RemoteOptions};

/// Checks `input` (a [`Source::Git`]), read from `location`, under each release.
pub fn check(input: &LockedInput, location: &str, releases: &[NixVersion], options: &Options) -> Vec<ReleaseCheck> {
    releases.iter().map(|release| check_one(input, location, release, options).unwrap_or_else(|failure| failure.into_check(input, release))).collect()
}

/// The export a flake's git input gets from `release`.
pub fn flake_export(release: &NixVersion, submodules: bool, lfs: bool, export_ignore: Option<bool>) -> ExportOptions {
    let generation = release.generation();
    let export_ignore = match generation {
        // git archive always applies export-ignore; the checkout made for submodules never does.
        Generation::Legacy => !submodules,
        Generation::Modern => export_ignore.unwrap_or(false),
    };
    ExportOptions { generation, export_ignore, lfs, submodules }
}

/// Why `release` is not checked for a source with these settings, if it is not.
pub fn unchecked_reason(release: &NixVersion, submodules: bool, lfs: bool) -> Option<(Status, String)> {
    if lfs && !release.has_lfs() {
        return Some((Status::Unsupported, format!("Nix {release} has no lfs (Nix >= 2.27, not Lix): it refuses this input")));
    }
    if submodules && release.generation() == Generation::Modern {
        if let Err(why) = release.reproduces_submodules() {
            return Some((Status::NotReproduced, format!("submodules of Nix {release} are not reproduced: {why}")));
        }
    }
    None
}

fn check_one(input: &LockedInput, location: &str, release: &NixVersion, options: &Options) -> Result<ReleaseCheck, Failure> {
    let Source::Git { ref_name, submodules, shallow, lfs, export_ignore, .. } = &input.source else { unreachable!("git::check is called for git inputs only") };
    if let Some((status, reason)) = unchecked_reason(release, *submodules, *lfs) {
        return Ok(input.unchecked(release, status, reason));
    }
    let export = flake_export(release, *submodules, *lfs, *export_ignore);
    let computed = compute(
        CommitSource { location, ref_name: ref_name.as_deref(), rev: &input.rev, shallow: *shallow, original_ref: input.original_ref.as_deref() },
        release,
        export,
        options,
    )?;
    let commit = computed.commit;
    let gives_locked =
        |export: ExportOptions| NixHash::parse(&input.nar_hash).is_ok_and(|locked| some_release_gives(location, commit, export, &locked, options));
    Ok(compare(input, release, computed, &gives_locked))
}

/// Where to find the locked commit.
pub struct CommitSource<'a> {
    /// Repository URL or path.
    pub location: &'a str,
    /// The locked `ref`.
    pub ref_name: Option<&'a str>,
    /// The locked `rev` (a commit, or an annotated tag's object).
    pub rev: &'a str,
    /// Only the commit itself is fetched (`shallow = true`): no `revCount`.
    pub shallow: bool,
    /// The `ref` the lock was made from, to find the `rev` the release locks for it.
    pub original_ref: Option<&'a str>,
}

/// What a release computes for a commit, with the fetcher that read it.
pub struct Computed {
    /// The fetcher (its repository holds the commit).
    pub fetcher: Fetcher,
    /// The commit.
    pub commit: ObjectId,
    /// The export used.
    pub export: ExportOptions,
    /// The NAR hash.
    pub nar_hash: NixHash,
    /// `lastModified`.
    pub last_modified: i64,
    /// `revCount`, when computed (not for shallow inputs).
    pub rev_count: Option<u64>,
    /// The `rev` the release locks for the original `ref`, when the ref still names the commit.
    pub rev: Option<String>,
    /// Whether the original `ref` is an annotated tag.
    pub annotated_tag: bool,
}

/// Why [`compute`] has no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The repository or the commit cannot be read: nothing is known about the release.
    #[error("{0}")]
    Check(String),
    /// The release's fetcher fails on this input (as fetchgit-date reproduces it).
    #[error("the release fails to fetch it: {0}")]
    Release(String),
    /// fetchgit-date does not reproduce what the fetcher makes of this input.
    #[error("not reproduced: {0}")]
    NotReproduced(String),
}

impl From<String> for Failure {
    fn from(reason: String) -> Failure {
        Failure::Check(reason)
    }
}

impl Failure {
    /// The check this failure makes.
    pub fn into_check(self, input: &LockedInput, release: &NixVersion) -> ReleaseCheck {
        match self {
            Failure::Check(reason) => input.unchecked(release, Status::Error, reason),
            Failure::Release(reason) => input.unchecked(release, Status::Unsupported, format!("Nix {release} fails to fetch it: {reason}")),
            Failure::NotReproduced(reason) => input.unchecked(release, Status::NotReproduced, reason),
        }
    }
}

/// Whether a failed fetch is the release's own failure (the library fails where that release's
/// fetcher fails: a tree it cannot export, a submodule it cannot resolve, a rev not on the ref it
/// fetches, ...) or says nothing about the release (the network, a corrupt repository, ...).
fn classify(err: &crate::fetch::FetchError) -> Failure {
    use crate::export::ExportError;
    use crate::fetch::FetchError;
    let text = error_chain(err);
    match err {
        FetchError::Export(ExportError::NixFails { .. } | ExportError::Config(_) | ExportError::Submodule { .. })
        | FetchError::Name(_)
        | FetchError::RevNotOnRef { .. }
        | FetchError::ShallowRepository(_)
        | FetchError::ShallowRevCount(_)
        | FetchError::RemoteHeadRef(_)
        | FetchError::EmptyWorkTree(..) => Failure::Release(text),
        _ => Failure::Check(text),
    }
}

/// Fetches the commit as `release` does and computes its attributes.
pub fn compute(source: CommitSource<'_>, release: &NixVersion, export: ExportOptions, options: &Options) -> Result<Computed, Failure> {
    let remote = RemoteOptions { depth: if source.shallow { Depth::One } else { Depth::Full }, ..options.remote.clone() };
    let open = |selector: &Selector| {
        Fetcher::open_as(source.location, options.cache.clone(), selector, &remote, release).map_err(|err| Failure::Check(error_chain(&err)))
    };
    let by_rev = Selector { ref_name: source.ref_name.map(str::to_owned), rev: Some(source.rev.to_owned()), ..Selector::default() };
    let fetcher = open(&by_rev)?;
    // A lock made by a release that does not peel tags holds the tag object as `rev`.
    let locked_id = crate::resolve::parse_rev(source.rev).map_err(|err| error_chain(&err))?;
    let commit = peel_to_commit(fetcher.repo(), locked_id)?;
    let selector = Selector { rev: Some(commit.to_string()), ..by_rev };
    let name = StorePathName::new("source").expect("'source' is a valid store path name");
    let fetched = fetcher.fetch(&selector, export, &name, DEFAULT_STORE_DIR).map_err(|err| classify(&err))?;
    let (mut rev, mut annotated_tag) = (None, false);
    if let Some(original_ref) = source.original_ref {
        // The ref as the release looks it up (a second fetch only for a remote whose ref the
        // first did not bring); a ref that moved since the lock says nothing about peeling.
        let by_ref = Selector { ref_name: Some(original_ref.to_owned()), ..Selector::default() };
        if let Ok(selection) = open(&by_ref).and_then(|f| f.select(&by_ref).map_err(|err| Failure::Check(error_chain(&err)))) {
            if selection.commit == commit {
                rev = Some(selection.rev.to_string());
            }
            annotated_tag = locked_id != commit || selection.rev != selection.commit;
        }
    }
    Ok(Computed {
        commit,
        export,
        nar_hash: fetched.nar_hash,
        last_modified: fetched.attrs.last_modified,
        rev_count: fetched.rev_count_computed.then_some(fetched.attrs.rev_count),
        rev,
        annotated_tag,
        fetcher,
    })
}

/// The commit `id` is, or that the annotated tag `id` (or a chain of them) points to.
fn peel_to_commit(repo: &gix::Repository, id: ObjectId) -> Result<ObjectId, String> {
    let object = repo.find_object(id).map_err(|err| format!("the locked rev {id} is not in the repository: {}", error_chain(&err)))?;
    object.peel_to_commit().map(|commit| commit.id).map_err(|err| format!("the locked rev {id} is not a commit or tag of one: {}", error_chain(&err)))
}

/// Whether some release of `export`'s generation (its oldest or newest, or Lix) exports
/// `commit` of `location` as `export` with the hash `locked`.
pub fn some_release_gives(location: &str, commit: ObjectId, export: ExportOptions, locked: &NixHash, options: &Options) -> bool {
    NixVersion::generation_bounds().iter().filter(|release| release.generation() == export.generation).any(|release| {
        let selector = Selector { rev: Some(commit.to_string()), ..Selector::default() };
        Fetcher::open_as(location, options.cache.clone(), &selector, &options.remote, release)
            .is_ok_and(|fetcher| fetcher.nar_hash(commit, export).is_ok_and(|(hash, _)| hash == *locked))
    })
}

/// The first Nix release with `change`, from [`CHANGES`].
fn first_release(change: Change) -> String {
    let row = CHANGES.iter().find(|row| row.change == change).expect("every change has a row in CHANGES");
    row.nix.map(|(major, minor, patch)| format!("{major}.{minor}.{patch}")).unwrap_or_else(|| "(none)".to_owned())
}

/// Compares what a release computed with the lock, naming the causes of differences.
/// `gives_locked` says whether an export of the commit gives the locked hash.
pub fn compare(input: &LockedInput, release: &NixVersion, computed: Computed, gives_locked: &dyn Fn(ExportOptions) -> bool) -> ReleaseCheck {
    let locked = input.locked_attrs();
    let mut mismatches = Vec::new();
    let mut causes: Vec<Cause> = Vec::new();
    let nar_hash_matches = match NixHash::parse(&input.nar_hash) {
        Ok(hash) => {
            let same = hash == computed.nar_hash;
            if !same {
                causes.extend(cause::nar_hash_causes(computed.fetcher.repo(), computed.commit, computed.export, gives_locked));
            }
            same
        }
        Err(_) => false,
    };
    if !nar_hash_matches {
        mismatches.push("narHash");
    }
    if let Some(rev) = computed.rev.as_deref().filter(|rev| *rev != input.rev) {
        mismatches.push("rev");
        if computed.annotated_tag {
            let (peels, what) = if release.has(Change::PeelsTags) { (true, "its commit") } else { (false, "the tag object") };
            let first = first_release(Change::PeelsTags);
            let since = if peels {
                format!("Nix >= {first} peels annotated tags")
            } else {
                format!("releases before Nix {first} (and Lix for work trees) lock the tag object")
            };
            causes.push(Cause::new(
                CauseKind::TagPeeling,
                format!("'{}' is an annotated tag: Nix {release} locks {what}, {rev} ({since})", input.original_ref.as_deref().unwrap_or("ref")),
            ));
        }
    }
    if input.last_modified.is_some_and(|value| value != computed.last_modified) {
        mismatches.push("lastModified");
        causes.push(Cause::new(CauseKind::History, format!("lastModified is {} under Nix {release}", computed.last_modified)));
    }
    if let (Some(locked_count), Some(count)) = (input.rev_count, computed.rev_count) {
        if locked_count != count {
            mismatches.push("revCount");
            causes.push(Cause::new(CauseKind::History, format!("revCount is {count} under Nix {release} (grafts, replace refs or a shallow history)")));
        }
    }
    let computed_attrs = Attrs {
        nar_hash: Some(computed.nar_hash.to_sri()),
        rev: Some(computed.rev.clone().unwrap_or_else(|| input.rev.clone())),
        last_modified: Some(computed.last_modified),
        rev_count: computed.rev_count,
    };
    ReleaseCheck {
        input: input.name.clone(),
        r#type: input.source.kind(),
        source: input.source.shown(),
        release: release.to_string(),
        status: if mismatches.is_empty() { Status::Reproduces } else { Status::Differs },
        mismatches,
        locked,
        computed: computed_attrs,
        causes,
        reason: None,
    }
}
