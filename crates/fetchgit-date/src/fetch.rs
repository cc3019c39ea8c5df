//! The whole fetch: locate the repository, pick the commit (start, then truncation), export its
//! tree, hash it, and describe the result with the attributes `builtins.fetchGit` returns.

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::path::PathBuf;

use gix::ObjectId;
use nixstore::hash::NixHash;
use nixstore::store_path::{build_ca_path, StorePathName};
use serde::Serialize;

use crate::cache::{Cache, Table};
use crate::export::{self, ExportError, ExportOptions};
use crate::history::{History, HistoryError, HistoryView, TruncateTo, Truncated};
use crate::nix_version::{Change, Generation, NixVersion};
use crate::remote::{Coverage, Depth, RemoteError, RemoteOptions};
use crate::resolve::{self, OpenError, RefLookup, RefTarget, ResolveError};
use crate::signature::{CommitVerification, KeyTypeRules, SignatureError, Verified};
use crate::url::{self, Location, LocationError};
use crate::{dirty, error_chain, recheck};

/// Which commit to start from and how to truncate.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    /// Branch or full ref; default: the current branch (`HEAD` of a bare repository).
    pub ref_name: Option<String>,
    /// Full commit hash; takes precedence over `ref_name` as the start.
    pub rev: Option<String>,
    /// Roll back to a date or interval boundary.
    pub truncate: Option<TruncateTo>,
    /// Follow only first parents while truncating (`git rev-list --first-parent`).
    pub first_parent: bool,
    /// Fail with [`FetchError::NothingBefore`] instead of taking the root commit when no commit
    /// is old enough.
    pub refuse_root_fallback: bool,
    /// fetchGit's `verifyCommit`/`publicKey(s)`/`keytype`: the commit fetched (after truncation:
    /// the truncated commit, since it is the one whose tree is returned) must be signed by one
    /// of the keys, checked as `rules` (the Nix release's) say.
    pub verification: CommitVerification,
    /// How the Nix release treats key types (default: the fetcher's release's).
    pub key_type_rules: Option<KeyTypeRules>,
}

/// The commit a selection landed on, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The commit truncation started from (the selected commit when not truncating).
    pub start: ObjectId,
    /// The commit to fetch.
    pub commit: ObjectId,
    /// What fetchGit reports as `rev`: the commit, or, for an annotated tag given as `ref` to a
    /// release that does not peel tags ([`Change::PeelsTags`]), the tag object.
    pub rev: ObjectId,
    /// How truncation went, when requested.
    pub truncation: Option<TruncationInfo>,
}

/// How truncation picked the commit; printed as the extra `truncation` attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TruncationInfo {
    /// The start commit.
    pub start: String,
    /// The boundary (Unix seconds): the selected commit's time is at or before it.
    pub boundary: i64,
    /// Whether only first parents were followed.
    pub first_parent: bool,
    /// True when no commit was old enough and the root commit was taken instead.
    pub root_fallback: bool,
}

impl TruncationInfo {
    /// Says (through [`crate::progress::warn`]) that truncation fell back to the root commit
    /// `commit`, when it did.
    pub fn warn_if_root_fallback(&self, commit: &str) {
        if self.root_fallback {
            crate::progress::warn(&format!(
                "no commit reachable from {} is at or before {}; falling back to the root commit {commit}",
                self.start, self.boundary
            ));
        }
    }
}

/// The attributes `builtins.fetchGit` returns, same names, values and types, plus `truncation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceAttrs {
    /// `<rev>-dirty` for a dirty work tree (Nix >= 2.17 and Lix; see [`Change::DirtyRev`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dirty_rev: Option<String>,
    /// First 7 characters of `dirty_rev`, then `-dirty`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dirty_short_rev: Option<String>,
    /// Committer time of `rev`.
    pub last_modified: i64,
    /// `last_modified` as `%Y%m%d%H%M%S` in UTC.
    pub last_modified_date: String,
    /// SRI SHA-256 of the NAR.
    pub nar_hash: String,
    /// The store path.
    pub out_path: String,
    /// Full commit hash (40 zeros for a dirty work tree).
    pub rev: String,
    /// `git rev-list --count rev` (0 for a dirty work tree and for shallow fetches).
    pub rev_count: u64,
    /// First 7 characters of `rev`.
    pub short_rev: String,
    /// Whether submodules were fetched.
    pub submodules: bool,
    /// How truncation picked `rev`, when requested; not one of Nix's attributes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncation: Option<TruncationInfo>,
}

/// Everything about a finished fetch.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The attributes to print.
    pub attrs: SourceAttrs,
    /// The exported commit; `None` when the work tree was read from disk.
    pub commit: Option<ObjectId>,
    /// How the work tree was read, when it was.
    pub work_tree: Option<dirty::WorkTreeExport>,
    /// Whether the work tree was taken as dirty (Nix warns "Git tree '...' is dirty").
    pub dirty: bool,
    /// Whether `revCount` was computed (not for shallow fetches or dirty work trees, where a
    /// `revCount` the caller gives is passed through, as fetchGit does).
    pub rev_count_computed: bool,
    /// The NAR's hash.
    pub nar_hash: NixHash,
    /// The NAR's size in bytes.
    pub nar_size: u64,
    /// The signature check, when one was asked for.
    pub verified: Option<Verified>,
}

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL cannot be used.
    #[error(transparent)]
    Location(#[from] LocationError),
    /// The repository cannot be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// A local repository another user owns (git's `safe.directory`, libgit2's owner check).
    #[error(transparent)]
    Ownership(#[from] crate::ownership::OwnershipError),
    /// The repository is one the release's git or libgit2 refuses.
    #[error(transparent)]
    Format(#[from] crate::repo_format::FormatError),
    /// The start commit cannot be found.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// History cannot be walked.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// The remote cannot be fetched into the cache.
    #[error(transparent)]
    Remote(#[from] crate::remote::RemoteError),
    /// The tree cannot be exported.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// The work tree cannot be read.
    #[error(transparent)]
    Dirty(#[from] dirty::DirtyError),
    /// A store path name this Nix generation refuses.
    #[error("{0}")]
    Name(String),
    /// A time that cannot be shown as a date.
    #[error("commit {commit} has a committer time ({time}) outside the representable range")]
    TimeOutOfRange {
        /// The commit.
        commit: ObjectId,
        /// Its time.
        time: i64,
    },
    /// No commit is old enough and the caller refused the root fallback.
    #[error("no commit reachable from {start} is at or before {boundary} (Unix seconds): pick a later date, or allow the root-commit fallback")]
    NothingBefore {
        /// The start commit.
        start: ObjectId,
        /// The boundary.
        boundary: i64,
    },
    /// Over a remote (or bare) repository, a release that fetches only `ref` (before
    /// [`Change::Libgit2`], and Lix) cannot find a `rev` that is not on it; Nix's wording.
    #[error("Cannot find Git revision '{rev}' in ref '{ref_name}' of repository '{url}'! Please make sure that the rev exists on the ref you've specified or add allRefs = true; to fetchGit (--all-refs)")]
    RevNotOnRef {
        /// The rev.
        rev: ObjectId,
        /// The ref as Nix names it (`master`, or the given one).
        ref_name: String,
        /// The repository.
        url: String,
    },
    /// A shallow repository without `shallow = true` (`--shallow`); Nix's wording.
    #[error("'{0}' is a shallow Git repository, but shallow repositories are only allowed when `shallow = true;` is specified (--shallow)")]
    ShallowRepository(String),
    /// The same for a release that computes `revCount` lazily ([`Change::LazyRevCount`]): Nix
    /// fails when `revCount` is used, which the attributes we return always do; Nix's wording.
    ///
    /// ### Deviation
    /// Nix >= 2.35 fetches a shallow repository without `shallow = true` and fails only once
    /// `revCount` is used (never, when the caller gives one, or uses only `outPath`);
    /// fetchgit-date returns every attribute at once, so it fails up front.
    #[error("'{0}' is a shallow Git repository, so 'revCount' is not available: pass shallow = true (--shallow), which reports revCount 0, or fetch the whole history")]
    ShallowRevCount(String),
    /// Nix 2.26.2 to 2.32.4 fail on `ref = "HEAD"` for a repository they clone.
    #[error("resolving Git reference 'HEAD' fails in Nix {0} for a repository it clones (fixed in 2.32.5 and 2.33): leave out --ref to fetch the remote's HEAD, or pass a newer --nix-version")]
    RemoteHeadRef(NixVersion),
    /// Nix 2.20 fails on a work tree without commits unless something is staged.
    #[error(
        "'{0}' has no commit and nothing staged, which Nix {1} cannot fetch (fixed in Nix 2.20.4): commit or stage something, or pass a newer --nix-version"
    )]
    EmptyWorkTree(String, NixVersion),
    /// The commit's signature does not satisfy `verifyCommit`/`publicKey(s)`.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// A signature check asked of a release whose fetchGit has none.
    #[error("the fetchGit of Nix {0} has no verifyCommit, publicKey or publicKeys: leave them out, or pass a release that has them (--nix-version)")]
    NoSignatureChecks(NixVersion),
    /// Verification asked of a dirty work tree, which has no commit to verify.
    #[error("commit verification is required for Git repository '{}', but it's dirty: commit your changes, or pass a ref or rev", path.display())]
    DirtyVerification {
        /// The work tree.
        path: PathBuf,
    },
    /// The Nix store refused or could not be reached.
    #[error("cannot add {path} to the Nix store: {reason}")]
    Store {
        /// The store path.
        path: String,
        /// What the daemon or the connection reported.
        reason: String,
    },
}

/// An opened repository with its cache: the entry point for fetches.
pub struct Fetcher {
    repo: gix::Repository,
    cache: Cache,
    path: PathBuf,
    /// For a remote: the local ref holding the remote's `HEAD` (used when no ref is selected).
    default_ref: Option<String>,
    /// Not the whole history was asked for (`--shallow`, or `resolve`): `revCount` is 0, as Nix
    /// reports it for shallow fetches, whichever cache served the request.
    shallow: bool,
    /// For a remote: what the update did.
    remote: Option<crate::remote::Updated>,
    /// The release whose fetchGit to behave like.
    nix: NixVersion,
    /// Whether Nix clones this repository before reading it (a remote URL, or a local directory
    /// without `.git`, i.e. a bare repository), rather than reading a work tree in place.
    cloned_by_nix: bool,
    /// `allRefs`: every ref was fetched, so a `rev` may be on any of them.
    all_refs: bool,
    /// The URL as given, for messages.
    url: String,
    /// For a remote: the URL as given (credentials included), where Git LFS objects come from.
    remote_url: Option<String>,
    /// How remotes are fetched (for submodules).
    remote_options: RemoteOptions,
    /// What the walks see of the repository ([`HistoryView`]), read at the first call that needs
    /// it. A `Fetcher` lives for one CLI run or, in the plugin, one evaluation: Nix too reads a
    /// repository once per evaluation. The view keys what it computes (its fingerprint is in the
    /// truncation and count cache keys), so a stale view never files a result under another
    /// state's key. What an export's cache key reads (attribute files, configuration) is read
    /// again on every call: the export itself reads them fresh, so a remembered key could file
    /// a hash under the wrong state.
    view: OnceCell<HistoryView>,
    /// Whether a rev is on the history of these ref tips ([`Fetcher::rev_target`]).
    revs_on_refs: RefCell<HashMap<(Vec<ObjectId>, ObjectId), bool>>,
}

/// The branch Nix takes from a repository it clones when no `ref` is given, for releases that do
/// not follow the remote's `HEAD` ([`Change::RemoteHeadIsDefaultRef`]).
const NIX_2_8_DEFAULT_BRANCH: &str = "master";

impl Fetcher {
    /// Opens the repository that `url` names; a remote is brought into the cache with default
    /// options for the current `HEAD` of the remote.
    pub fn open(url: &str, cache: Cache) -> Result<Fetcher, FetchError> {
        Fetcher::open_for(url, cache, &Selector::default(), &RemoteOptions::default())
    }

    /// Opens the repository that `url` names, behaving like the default Nix release
    /// ([`NixVersion::default_release`]); see [`Fetcher::open_as`].
    pub fn open_for(url: &str, cache: Cache, selector: &Selector, options: &RemoteOptions) -> Result<Fetcher, FetchError> {
        Fetcher::open_as(url, cache, selector, options, &NixVersion::default_release())
    }

    /// Opens the repository that `url` names, behaving like `nix`'s fetchGit. A remote is first
    /// brought up to date in the cache for what `selector` needs (its ref, or its rev), following
    /// `options`, then opened like a local repository.
    pub fn open_as(url: &str, cache: Cache, selector: &Selector, options: &RemoteOptions, nix: &NixVersion) -> Result<Fetcher, FetchError> {
        let shallow = options.depth != Depth::Full;
        let cache_root = cache.dir().map(crate::remote::cache_root);
        let fetcher = |repo, path, default_ref, remote: Option<crate::remote::Updated>, cloned_by_nix| Fetcher {
            repo,
            cache,
            path,
            default_ref,
            shallow,
            remote_url: remote.as_ref().map(|_| url.to_owned()),
            remote,
            remote_options: options.clone(),
            nix: nix.clone(),
            cloned_by_nix,
            all_refs: options.all_refs,
            url: url.to_owned(),
            view: OnceCell::new(),
            revs_on_refs: RefCell::default(),
        };
        match url::parse(url)? {
            Location::Local(path) => {
                // git and libgit2 check ownership while they discover the repository, before
                // they read its format.
                crate::ownership::check(&path, nix.generation())?;
                let fetches_work_tree = selector.rev.is_none() && selector.ref_name.is_none();
                crate::repo_format::check(&path, nix, fetches_work_tree)?;
                let mut repo = resolve::open(&path)?;
                // Nix's test: a file URL whose directory has no `.git` is cloned like a remote.
                let cloned_by_nix = !path.join(".git").exists();
                if cloned_by_nix {
                    // Replace refs do not travel with Nix's clone (it fetches the ref, or
                    // `refs/heads/*`), so the clone's git never sees them; nor `info/grafts`
                    // (see `cloned_view`).
                    repo = gix::open_opts(&path, gix::open::Options::isolated().config_overrides(["core.useReplaceRefs=false"]))
                        .map_err(|err| OpenError::NotARepository { path: path.clone(), reason: error_chain(&err) })?;
                }
                Ok(fetcher(repo, path, None, None, cloned_by_nix))
            }
            Location::Remote(remote_url) => {
                let default_branch = (!nix.has(Change::RemoteHeadIsDefaultRef)).then_some(NIX_2_8_DEFAULT_BRANCH);
                let ref_name = selector.ref_name.as_deref().or(default_branch);
                let full_ref = ref_name.map(resolve::full_ref_name).transpose()?;
                let full_ref = full_ref.filter(|name| name != "HEAD");
                let rev = selector.rev.as_deref().map(resolve::parse_rev).transpose()?;
                let root = cache_root.ok_or(crate::remote::RemoteError::NoCacheDir)?;
                let updated = if rev.is_some() && !nix.has(Change::Libgit2) {
                    // These releases fetch the ref (all of it), never the rev by itself; whether
                    // the rev is on it is checked once the history is here (`select`).
                    let want = crate::remote::Want { full_ref: full_ref.clone(), rev: None };
                    crate::remote::update(&remote_url, &want, &RemoteOptions { depth: Depth::Full, ..options.clone() }, &root)?
                } else {
                    let want = crate::remote::Want { full_ref: full_ref.clone(), rev };
                    match (options.depth, selector.truncate) {
                        (Depth::ToBoundary, Some(truncate)) => {
                            let first_parent = selector.first_parent;
                            let mut check = |repo: &gix::Repository, start: ObjectId| -> Result<Coverage, RemoteError> {
                                let mut history = History::new(repo);
                                let boundary = truncate.boundary(&mut history, start)?;
                                match history.last_before(start, boundary, first_parent) {
                                    Ok(_) => Ok(Coverage::Complete),
                                    Err(HistoryError::Shallow { .. } | HistoryError::Missing { .. }) => Ok(Coverage::Incomplete { boundary }),
                                    Err(err) => Err(err.into()),
                                }
                            };
                            crate::remote::update_partial(&remote_url, &want, options, &root, &mut check)?
                        }
                        _ => crate::remote::update(&remote_url, &want, options, &root)?,
                    }
                };
                let repo = resolve::open(&updated.path)?;
                let default_ref = full_ref.is_none().then(|| updated.local_ref.clone());
                // Output never depends on which cache served it: any shallow mode reports revCount 0.
                let path = updated.path.clone();
                Ok(fetcher(repo, path, default_ref, Some(updated), true))
            }
        }
    }

    /// For a remote: where the cache repository is and whether the network was used.
    pub fn remote_update(&self) -> Option<&crate::remote::Updated> {
        self.remote.as_ref()
    }

    /// The opened repository.
    pub fn repo(&self) -> &gix::Repository {
        &self.repo
    }

    /// The release this fetcher behaves like.
    pub fn nix_version(&self) -> &NixVersion {
        &self.nix
    }

    /// The `ref` Nix uses when none is given for a repository it clones: the literal `master`
    /// before [`Change::RemoteHeadIsDefaultRef`], else the remote's `HEAD` (`None`).
    fn nix_default_branch(&self) -> Option<&'static str> {
        (self.cloned_by_nix && !self.nix.has(Change::RemoteHeadIsDefaultRef)).then_some(NIX_2_8_DEFAULT_BRANCH)
    }

    /// What the selected `ref` (or the default) points to, as this release looks it up and
    /// reports it.
    fn ref_target(&self, name: Option<&str>) -> Result<RefTarget, FetchError> {
        if self.cloned_by_nix && name == Some("HEAD") && self.nix.fails_on_remote_head_ref() {
            return Err(FetchError::RemoteHeadRef(self.nix.clone()));
        }
        let lookup = if self.cloned_by_nix { RefLookup::Fetched } else { RefLookup::WorkTree };
        let target = match (&self.default_ref, name.or(self.nix_default_branch())) {
            // A remote's `HEAD` lives under its own ref in the cache repository.
            (Some(remote_head), None | Some("HEAD")) => resolve::lookup_ref(&self.repo, remote_head, RefLookup::Fetched)?,
            (_, Some(name)) => resolve::lookup_ref(&self.repo, name, lookup)?,
            (None, None) => {
                let commit = resolve::head_commit(&self.repo)?;
                RefTarget { object: commit, commit }
            }
        };
        let peels = self.nix.has(Change::PeelsTags) || (self.cloned_by_nix && self.nix.has(Change::LixPeelsRemoteTags));
        Ok(if peels { RefTarget { object: target.commit, ..target } } else { target })
    }

    /// The commit `rev` names. Releases that fetch only `ref` from a repository they clone
    /// (before [`Change::Libgit2`], and Lix) refuse a rev that is not on it, unless every ref was
    /// fetched (`allRefs`): then it must be on one of them.
    fn rev_target(&self, rev: &str, ref_name: Option<&str>) -> Result<ObjectId, FetchError> {
        if !self.cloned_by_nix || self.nix.has(Change::Libgit2) {
            return Ok(resolve::rev_commit(&self.repo, rev)?);
        }
        let id = resolve::parse_rev(rev)?;
        let shown_ref = ref_name.or(self.nix_default_branch()).unwrap_or("HEAD").to_owned();
        let not_on_ref = || FetchError::RevNotOnRef { rev: id, ref_name: shown_ref.clone(), url: crate::url::redact(&self.url) };
        let tips: Vec<ObjectId> = if self.all_refs {
            let refs = self.repo.references().map_err(|e| HistoryError::Corrupt { id, reason: error_chain(&e) })?;
            let all = refs.prefixed("refs/").map_err(|e| HistoryError::Corrupt { id, reason: error_chain(&e) })?;
            all.filter_map(Result::ok)
                .filter(|r| !r.name().as_bstr().starts_with(b"refs/fetchgit-date/revs/"))
                .filter_map(|mut r| r.peel_to_commit().ok().map(|c| c.id))
                .collect()
        } else {
            vec![self.ref_target(ref_name)?.commit]
        };
        if !self.repo.has_object(id) {
            return Err(not_on_ref());
        }
        // Many calls of one evaluation ask about one rev on one ref: the walk is made once.
        let memo_key = (tips.clone(), id);
        let known = self.revs_on_refs.borrow().get(&memo_key).copied();
        let on_ref = match known {
            Some(on_ref) => on_ref,
            None => {
                let walk = self.repo.rev_walk(tips).all().map_err(|e| HistoryError::Corrupt { id, reason: error_chain(&e) })?;
                let mut on_ref = false;
                for info in walk {
                    if info.map_err(|e| HistoryError::Corrupt { id, reason: error_chain(&e) })?.id == id {
                        on_ref = true;
                        break;
                    }
                }
                self.revs_on_refs.borrow_mut().insert(memo_key, on_ref);
                on_ref
            }
        };
        if on_ref {
            Ok(resolve::rev_commit(&self.repo, rev)?)
        } else {
            Err(not_on_ref())
        }
    }

    /// The commit `selector` names: its start (rev, or ref tip), truncated when asked.
    pub fn select(&self, selector: &Selector) -> Result<Selection, FetchError> {
        let target = match &selector.rev {
            Some(rev) => {
                let commit = self.rev_target(rev, selector.ref_name.as_deref())?;
                RefTarget { object: commit, commit }
            }
            None => self.ref_target(selector.ref_name.as_deref())?,
        };
        let start = target.commit;
        let Some(truncate) = selector.truncate else {
            return Ok(Selection { start, commit: start, rev: target.object, truncation: None });
        };
        let mut history = self.cloned_view(History::viewed(&self.repo, self.view(), true));
        let boundary = truncate.boundary(&mut history, start)?;
        let truncated = self.truncate(&mut history, start, boundary, selector.first_parent)?;
        if truncated.root_fallback && selector.refuse_root_fallback {
            return Err(FetchError::NothingBefore { start, boundary });
        }
        Ok(Selection {
            start,
            commit: truncated.commit,
            rev: truncated.commit,
            truncation: Some(TruncationInfo {
                start: start.to_string(),
                boundary,
                first_parent: selector.first_parent,
                root_fallback: truncated.root_fallback,
            }),
        })
    }

    fn truncate(&self, history: &mut History<'_>, start: ObjectId, boundary: i64, first_parent: bool) -> Result<Truncated, FetchError> {
        let mut key = format!("{start}_{boundary}_{}", u8::from(first_parent)).replace('-', "n");
        // The walk sees grafts, the shallow boundary and replace refs (git's view, as
        // `History::new`): a repository with other ones must not share the result.
        if let Some(view) = self.view().fingerprint(true) {
            key.push('_');
            key.push_str(view);
        }
        if let Some(cached) = self.cache.get(Table::Truncation, &key) {
            match recheck::truncation_value(&cached).and_then(|t| recheck::truncation(history, start, boundary, first_parent, t).map(|()| t)) {
                Ok(truncated) => return Ok(truncated),
                Err(reason) => self.cache.discard(Table::Truncation, &key, &reason),
            }
        }
        let truncated = history.last_before(start, boundary, first_parent)?;
        self.cache.put(Table::Truncation, &key, &format!("{} {}", truncated.commit, u8::from(truncated.root_fallback)));
        Ok(truncated)
    }

    /// Whether a fetch with `selector` reads the local work tree rather than a commit: no ref,
    /// rev or truncation, and a work tree Nix reads in place.
    fn takes_work_tree(&self, selector: &Selector) -> bool {
        selector.ref_name.is_none() && selector.rev.is_none() && selector.truncate.is_none() && !self.cloned_by_nix && self.repo.workdir().is_some()
    }

    /// The commit `HEAD` leads to; `None` for a repository without commits.
    fn head(&self) -> Result<Option<ObjectId>, FetchError> {
        let head = self.repo.head().map_err(|err| ResolveError::NoHead(error_chain(&err)))?;
        if head.is_unborn() {
            return Ok(None);
        }
        Ok(Some(resolve::head_commit(&self.repo)?))
    }

    /// What the walks see of the repository, read once.
    fn view(&self) -> &HistoryView {
        self.view.get_or_init(|| HistoryView::read(&self.repo))
    }

    /// `history` as the repository Nix reads sees it: a repository Nix clones has no
    /// `info/grafts` (grafts are local to a repository, a clone never gets them).
    fn cloned_view<'a>(&self, history: History<'a>) -> History<'a> {
        if self.cloned_by_nix && self.remote.is_none() {
            history.without_grafts()
        } else {
            history
        }
    }

    /// Refuses a shallow repository unless shallow history was asked for, before anything else
    /// (a cached `revCount` must not make a shallow repository acceptable), as Nix does.
    fn check_not_shallow(&self) -> Result<(), FetchError> {
        let shallow = self.repo.is_shallow().map_err(|err| HistoryError::Corrupt { id: ObjectId::null(gix::hash::Kind::Sha1), reason: error_chain(&err) })?;
        if shallow && !self.shallow {
            let url = crate::url::redact(&self.url);
            return Err(if self.nix.has(Change::LazyRevCount) { FetchError::ShallowRevCount(url) } else { FetchError::ShallowRepository(url) });
        }
        Ok(())
    }

    /// Fetches what `selector` names, exported with `export`, as a store path named `name`.
    pub fn fetch(&self, selector: &Selector, export: ExportOptions, name: &StorePathName, store_dir: &str) -> Result<Fetched, FetchError> {
        if export.generation == Generation::Modern {
            name.check_modern().map_err(FetchError::Name)?;
        }
        if self.takes_work_tree(selector) {
            if let Some(fetched) = self.fetch_work_tree(selector, export, name, store_dir)? {
                return Ok(fetched);
            }
        }
        self.check_not_shallow()?;
        let selection = self.select(selector)?;
        let commit = selection.commit;
        let verified = self.verify_signature(selector, commit)?;
        let mut history = self.cloned_view(History::for_generation_viewed(&self.repo, self.view(), export.generation));
        let last_modified = history.last_modified(commit, export.generation)?;
        let rev_count = if self.shallow { 0 } else { self.rev_count(&mut history, commit, export.generation)? };
        let (nar_hash, nar_size) = self.nar_hash(commit, export)?;
        let rev = selection.rev.to_string();
        Ok(Fetched {
            attrs: SourceAttrs {
                dirty_rev: None,
                dirty_short_rev: None,
                last_modified,
                last_modified_date: last_modified_date(commit, last_modified)?,
                nar_hash: nar_hash.to_sri(),
                out_path: build_ca_path(name, &nar_hash, store_dir).to_absolute_path(store_dir),
                short_rev: rev[..7].to_owned(),
                rev,
                rev_count,
                submodules: export.submodules,
                truncation: selection.truncation,
            },
            commit: Some(commit),
            work_tree: None,
            dirty: false,
            rev_count_computed: !self.shallow,
            nar_hash,
            nar_size,
            verified,
        })
    }

    /// Checks `commit`'s signature as `selector.verification` asks (nothing when it asks for no
    /// check); Nix's warnings go to stderr.
    pub fn verify_signature(&self, selector: &Selector, commit: ObjectId) -> Result<Option<Verified>, FetchError> {
        if !selector.verification.required() {
            return Ok(None);
        }
        // The selector's rules, else this fetcher's release's (`Request` refuses the attributes
        // for a release without them before any fetch; a library caller gets the same refusal).
        let rules = selector.key_type_rules.or_else(|| self.nix.key_type_rules()).ok_or_else(|| FetchError::NoSignatureChecks(self.nix.clone()))?;
        let verified = crate::signature::verify_commit(&self.repo, commit, &selector.verification.public_keys, rules)?;
        for warning in &verified.warnings {
            eprintln!("fetchgit-date: warning: {warning}");
        }
        Ok(Some(verified))
    }

    fn rev_count(&self, history: &mut History<'_>, commit: ObjectId, generation: Generation) -> Result<u64, FetchError> {
        // The count depends on the parents the generation sees: grafts, the shallow boundary,
        // and replace refs where it honours them (libgit2, Nix >= 2.20, has none).
        let key = match self.view().fingerprint(generation.honours_replace_refs()) {
            Some(view) => format!("{commit}_{view}"),
            None => commit.to_string(),
        };
        if let Some(cached) = self.cache.get(Table::RevCount, &key) {
            match recheck::rev_count(&cached) {
                Ok(count) => return Ok(count),
                Err(reason) => self.cache.discard(Table::RevCount, &key, &reason),
            }
        }
        let count = history.count(commit)?;
        self.cache.put(Table::RevCount, &key, &count.to_string());
        Ok(count)
    }

    /// NAR hash and size of `commit` exported with `options`, from the cache when known.
    pub fn nar_hash(&self, commit: ObjectId, options: ExportOptions) -> Result<(NixHash, u64), FetchError> {
        let mut key = export::cache_key(&self.repo, commit, options)?;
        let superproject = self.superproject(options);
        if let Some(superproject) = &superproject {
            // Whether the submodules resolve (and Nix fails if not) depends on the URL they are
            // resolved against, and with some releases on the work tree's configuration: a hash
            // of them (the URL may hold credentials).
            key.push('_');
            key.push_str(&superproject.fingerprint());
        }
        if let Some(cached) = self.cache.get(Table::Nar, &key) {
            match recheck::nar(&cached) {
                Ok(value) => return Ok(value),
                Err(reason) => self.cache.discard(Table::Nar, &key, &reason),
            }
        }
        self.complete_tree(commit)?;
        let mut lfs = self.lfs_fetcher(commit, options);
        let hooks = export_hooks(&self.repo, commit, lfs.as_mut(), superproject.as_ref())?;
        let (hash, size, _) = export::nar_hash_with(&self.repo, commit, options, hooks)?;
        self.cache.put(Table::Nar, &key, &format!("{} {size}", hash.to_sri()));
        Ok((hash, size))
    }

    /// The work tree as this release reads it: from disk when dirty, when there is no commit, or
    /// always with the libgit2 export; `None` when a clean tree is exported from `HEAD` instead
    /// (Nix <= 2.19 and Lix).
    fn fetch_work_tree(&self, selector: &Selector, export: ExportOptions, name: &StorePathName, store_dir: &str) -> Result<Option<Fetched>, FetchError> {
        let workdir = self.repo.workdir().expect("work-tree fetches happen only in work trees");
        let libgit2 = export.generation == Generation::Modern;
        let head = self.head()?;
        let dirty = match head {
            // With submodules, Nix <= 2.19's `git diff` counts theirs too; the libgit2 fetcher
            // reads each as a work tree of its own.
            Some(_) if export.submodules && !libgit2 => dirty::is_dirty_with_submodules(&self.repo)?,
            Some(_) if export.submodules => dirty::is_dirty_with_work_tree_submodules(&self.repo, &dirty::work_tree_submodules(workdir)?)?,
            Some(_) => dirty::is_dirty(&self.repo, export.generation)?,
            None => {
                let staged = dirty::has_staged_files(&self.repo)?;
                if !staged && self.nix.fails_on_clean_empty_work_tree() {
                    return Err(FetchError::EmptyWorkTree(workdir.display().to_string(), self.nix.clone()));
                }
                // Nix <= 2.19 and Lix take a tree without commits as dirty; the libgit2 fetcher as
                // dirty when something is staged. Only the warning tells them apart.
                staged || !self.nix.has(Change::Libgit2)
            }
        };
        if head.is_some() && !dirty && !libgit2 {
            return Ok(None);
        }
        if dirty && selector.verification.required() {
            return Err(FetchError::DirtyVerification { path: self.path.clone() });
        }
        // A clean tree's revCount needs its whole history, as for a commit.
        let counted = head.filter(|_| !dirty);
        let mut verified = None;
        if let Some(head) = counted {
            self.check_not_shallow()?;
            verified = self.verify_signature(selector, head)?;
        }
        let work_tree = dirty::WorkTreeExport {
            libgit2,
            export_ignore: libgit2 && export.export_ignore,
            submodule_directories: self.nix.has(Change::LixUnfetchedSubmoduleDirectories),
            recurse_submodules: !libgit2 && export.submodules,
            mount_submodules: libgit2 && export.submodules,
        };
        let (nar_hash, nar_size) = dirty::nar_hash(&self.repo, workdir, work_tree)?;
        let mut history = self.cloned_view(History::for_generation_viewed(&self.repo, self.view(), export.generation));
        let last_modified = match head {
            Some(head) => history.last_modified(head, export.generation)?,
            None => 0,
        };
        let rev = counted.unwrap_or(ObjectId::null(gix::hash::Kind::Sha1));
        let rev_count = match counted {
            Some(head) if !self.shallow => self.rev_count(&mut history, head, export.generation)?,
            _ => 0,
        };
        let dirty_head = head.filter(|_| dirty && self.nix.has(Change::DirtyRev));
        let rev_text = rev.to_string();
        Ok(Some(Fetched {
            attrs: SourceAttrs {
                dirty_rev: dirty_head.map(|h| format!("{h}-dirty")),
                dirty_short_rev: dirty_head.map(|h| format!("{}-dirty", &h.to_string()[..7])),
                last_modified,
                last_modified_date: last_modified_date(rev, last_modified)?,
                nar_hash: nar_hash.to_sri(),
                out_path: build_ca_path(name, &nar_hash, store_dir).to_absolute_path(store_dir),
                short_rev: rev_text[..7].to_owned(),
                rev: rev_text,
                rev_count,
                submodules: export.submodules,
                truncation: None,
            },
            commit: None,
            work_tree: Some(work_tree),
            dirty,
            verified,
            // The libgit2 fetcher counts a clean tree, and a tree without commits as 0.
            rev_count_computed: !dirty && !self.shallow,
            nar_hash,
            nar_size,
        }))
    }

    /// For a remote, its cache repository, which may lack the trees and blobs of the commits it
    /// has (a full-history fetch may have brought commits only: [`crate::remote::PartialCache`]);
    /// `None` for a local repository, which has them.
    pub fn partial_cache(&self) -> Option<crate::remote::PartialCache> {
        let (updated, url) = (self.remote.as_ref()?, self.remote_url.as_ref()?);
        let Ok(Location::Remote(remote_url)) = url::parse(url) else { return None };
        Some(crate::remote::PartialCache::new(remote_url, updated.path.clone(), self.remote_options.clone()))
    }

    /// Makes the files of `commit` present in the repository (see [`Fetcher::partial_cache`]).
    /// Every export of a fetched commit needs this first.
    pub fn complete_tree(&self, commit: ObjectId) -> Result<(), FetchError> {
        match self.partial_cache() {
            Some(partial) => Ok(partial.complete_tree(commit)?),
            None => Ok(()),
        }
    }

    /// The Git LFS fetcher for exports of `commit` with `options`, when they ask for LFS.
    pub fn lfs_fetcher(&self, commit: ObjectId, options: ExportOptions) -> Option<crate::lfs::LfsFetcher> {
        options.lfs.then(|| {
            let source = crate::lfs::endpoint_source(&self.repo, commit, self.remote_url.as_deref());
            crate::lfs::LfsFetcher::new(source, &self.cache)
        })
    }

    /// The superproject whose submodules exports with `options` fetch, when they ask for them.
    pub fn superproject(&self, options: ExportOptions) -> Option<crate::submodules::Superproject> {
        if !options.submodules {
            return None;
        }
        let generation = options.generation;
        let absolute = || std::path::absolute(&self.path).unwrap_or_else(|_| self.path.clone()).display().to_string();
        // Nix 2.14 to 2.19 and Lix copy a local work tree's configuration into their clone.
        let config =
            (generation == Generation::Legacy && !self.cloned_by_nix && self.nix.has(Change::LegacySubmodulesUseRepoConfig)).then(|| self.path.join(".git"));
        let base = match (self.remote.is_some(), generation) {
            (true, Generation::Legacy) => self.url.clone(),
            (true, Generation::Modern) => crate::submodules::fix_git_url(&self.url),
            // Nix <= 2.19 adds the local path as `origin` of the clone it checks out.
            (false, Generation::Legacy) => absolute(),
            // Nix >= 2.20 clones a bare repository given by path as `file://` and sets that
            // as `origin`; a work tree is read in place, with its own remotes.
            (false, Generation::Modern) if self.cloned_by_nix => format!("file://{}", absolute()),
            (false, Generation::Modern) => crate::submodules::libgit2_url_base(&self.repo).unwrap_or_else(absolute),
        };
        let context = crate::submodules::Context {
            generation,
            cache_root: self.cache.dir().map(crate::remote::cache_root),
            remote: self.remote_options.clone(),
            lfs: options.lfs.then(|| self.cache.clone()),
        };
        Some(crate::submodules::Superproject { context, base, config })
    }

    /// The path the repository was opened from.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

/// Writes the NAR of `fetched` (exported from `repo`, the repository it was fetched from, or
/// the same repository opened again) to `out`: the stream a store add reads. `lfs`: the
/// [`Fetcher::lfs_fetcher`] of the commit when the export smudges LFS pointers.
pub fn write_nar(
    repo: &gix::Repository,
    fetched: &Fetched,
    export: ExportOptions,
    lfs: Option<&mut crate::lfs::LfsFetcher>,
    superproject: Option<&crate::submodules::Superproject>,
    mut out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    match (fetched.commit, fetched.work_tree) {
        (_, Some(work_tree)) => {
            let workdir = repo.workdir().ok_or_else(|| std::io::Error::other("a work-tree fetch needs the work tree"))?;
            dirty::write_nar(repo, workdir, work_tree, &mut out).map_err(std::io::Error::other)
        }
        (Some(commit), None) => {
            let hooks = export_hooks(repo, commit, lfs, superproject).map_err(std::io::Error::other)?;
            export::write_nar_with(repo, commit, export, hooks, &mut out).map(drop).map_err(std::io::Error::other)
        }
        (None, None) => Err(std::io::Error::other("a fetch has a commit or a work tree")),
    }
}

/// The hooks an export of `commit` of `repo` needs: `lfs` smudges, `superproject` opens submodules.
fn export_hooks<'h>(
    repo: &gix::Repository,
    commit: ObjectId,
    lfs: Option<&'h mut crate::lfs::LfsFetcher>,
    superproject: Option<&crate::submodules::Superproject>,
) -> Result<export::Hooks<'h>, ExportError> {
    let submodules = match superproject {
        Some(superproject) => {
            let opener = superproject.opener(repo, commit).map_err(|reason| ExportError::Submodule { path: ".gitmodules".into(), reason })?;
            Some(Box::new(opener) as Box<dyn export::Submodules>)
        }
        None => None,
    };
    Ok(export::Hooks { smudge: lfs.map(|l| l as &mut dyn export::Smudge), submodules })
}

/// `time` as fetchGit's `lastModifiedDate`: `gmtime` and `strftime("%Y%m%d%H%M%S")`, so a year
/// above 9999 has more digits (Nix 2.8 and 2.26 print `100000101000000` for 253402300800).
pub(crate) fn last_modified_date(commit: ObjectId, time: i64) -> Result<String, FetchError> {
    crate::commit::utc_stamp(time).ok_or(FetchError::TimeOutOfRange { commit, time })
}
