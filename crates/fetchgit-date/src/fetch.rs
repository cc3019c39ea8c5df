//! The whole fetch: locate the repository, pick the commit (start, then truncation), export its
//! tree, hash it, and describe the result with the attributes `builtins.fetchGit` returns.

use std::path::PathBuf;

use gix::ObjectId;
use nixstore::hash::NixHash;
use nixstore::store_path::{build_ca_path, StorePathName};
use serde::Serialize;

use crate::cache::{Cache, Table};
use crate::date::Interval;
use crate::export::{self, ExportError, ExportOptions};
use crate::history::{History, HistoryError, Truncated};
use crate::location::{self, Location, LocationError};
use crate::remote::{Coverage, Depth, RemoteError, RemoteOptions};
use crate::resolve::{self, OpenError, ResolveError};
use crate::signature::{CommitVerification, KeyTypeRules, SignatureError, Verified};
use crate::{dirty, error_chain};

/// Where to roll history back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// How the Nix release treats key types (default: the newest behaviour).
    pub key_type_rules: Option<KeyTypeRules>,
}

/// The commit a selection landed on, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The commit truncation started from (the selected commit when not truncating).
    pub start: ObjectId,
    /// The commit to fetch.
    pub commit: ObjectId,
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

/// The attributes `builtins.fetchGit` returns, same names, values and types, plus `truncation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceAttrs {
    /// `<rev>-dirty` for a dirty work tree (Nix >= 2.17 and Lix).
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
    /// `git rev-list --count rev` (0 for a dirty work tree).
    pub rev_count: u64,
    /// First 7 characters of `rev`.
    pub short_rev: String,
    /// Whether submodules were fetched (never, for now).
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
    /// The exported commit; `None` for a dirty work tree.
    pub commit: Option<ObjectId>,
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
    /// The commit's signature does not satisfy `verifyCommit`/`publicKey(s)`.
    #[error(transparent)]
    Signature(#[from] SignatureError),
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
    /// For a remote: the URL as given (credentials included), where Git LFS objects come from.
    remote_url: Option<String>,
}

impl Fetcher {
    /// Opens the repository that `url` names; a remote is brought into the cache with default
    /// options for the current `HEAD` of the remote.
    pub fn open(url: &str, cache: Cache) -> Result<Fetcher, FetchError> {
        Fetcher::open_for(url, cache, &Selector::default(), &RemoteOptions::default())
    }

    /// Opens the repository that `url` names. A remote is first brought up to date in the cache
    /// for what `selector` needs (its ref, or its rev), following `options`, then opened like a
    /// local repository.
    pub fn open_for(url: &str, cache: Cache, selector: &Selector, options: &RemoteOptions) -> Result<Fetcher, FetchError> {
        match location::parse(url)? {
            Location::Local(path) => {
                let repo = resolve::open(&path)?;
                Ok(Fetcher { repo, cache, path, default_ref: None, shallow: options.depth != Depth::Full, remote: None, remote_url: None })
            }
            Location::Remote(remote_url) => {
                let full_ref = selector.ref_name.as_deref().map(resolve::full_ref_name).transpose()?;
                let full_ref = full_ref.filter(|name| name != "HEAD");
                let rev = selector.rev.as_deref().map(resolve::parse_rev).transpose()?;
                let root = cache.dir().map(crate::remote::cache_root).ok_or(crate::remote::RemoteError::NoCacheDir)?;
                let want = crate::remote::Want { full_ref: full_ref.clone(), rev };
                let updated = match (options.depth, selector.truncate) {
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
                };
                let repo = resolve::open(&updated.path)?;
                let default_ref = full_ref.is_none().then(|| updated.local_ref.clone());
                // Output never depends on which cache served it: any shallow mode reports revCount 0.
                Ok(Fetcher {
                    repo,
                    cache,
                    path: updated.path.clone(),
                    default_ref,
                    shallow: options.depth != Depth::Full,
                    remote: Some(updated),
                    remote_url: Some(url.to_owned()),
                })
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

    /// The commit `selector` names: its start (rev, or ref tip), truncated when asked.
    pub fn select(&self, selector: &Selector) -> Result<Selection, FetchError> {
        let start = match (&selector.rev, &selector.ref_name) {
            (Some(rev), _) => resolve::rev_commit(&self.repo, rev)?,
            (None, name) => match (&self.default_ref, name.as_deref()) {
                // A remote's `HEAD` lives under its own ref in the cache repository.
                (Some(remote_head), None) => resolve::ref_commit(&self.repo, remote_head)?,
                (Some(remote_head), Some("HEAD")) => resolve::ref_commit(&self.repo, remote_head)?,
                (_, Some(name)) => resolve::ref_commit(&self.repo, name)?,
                (None, None) => resolve::head_commit(&self.repo)?,
            },
        };
        let Some(truncate) = selector.truncate else {
            return Ok(Selection { start, commit: start, truncation: None });
        };
        let mut history = History::new(&self.repo);
        let boundary = truncate.boundary(&mut history, start)?;
        let truncated = self.truncate(&mut history, start, boundary, selector.first_parent)?;
        if truncated.root_fallback && selector.refuse_root_fallback {
            return Err(FetchError::NothingBefore { start, boundary });
        }
        Ok(Selection {
            start,
            commit: truncated.commit,
            truncation: Some(TruncationInfo {
                start: start.to_string(),
                boundary,
                first_parent: selector.first_parent,
                root_fallback: truncated.root_fallback,
            }),
        })
    }

    fn truncate(&self, history: &mut History<'_>, start: ObjectId, boundary: i64, first_parent: bool) -> Result<Truncated, FetchError> {
        let key = format!("{start}_{boundary}_{}", u8::from(first_parent)).replace('-', "n");
        if let Some(cached) = self.cache.get(Table::Truncation, &key) {
            let mut parts = cached.split(' ');
            if let (Some(Ok(commit)), Some(fallback @ ("0" | "1"))) = (parts.next().map(|id| ObjectId::from_hex(id.as_bytes())), parts.next()) {
                return Ok(Truncated { commit, root_fallback: fallback == "1" });
            }
        }
        let truncated = history.last_before(start, boundary, first_parent)?;
        self.cache.put(Table::Truncation, &key, &format!("{} {}", truncated.commit, u8::from(truncated.root_fallback)));
        Ok(truncated)
    }

    /// Whether a fetch with `selector` takes the work tree as it is on disk, as
    /// `builtins.fetchGit` does for a local work tree with uncommitted changes and no ref or rev.
    pub fn is_dirty_fetch(&self, selector: &Selector) -> Result<bool, FetchError> {
        if selector.ref_name.is_some() || selector.rev.is_some() || selector.truncate.is_some() || self.repo.workdir().is_none() {
            return Ok(false);
        }
        Ok(dirty::is_dirty(&self.repo)?)
    }

    /// Fetches what `selector` names, exported with `export`, as a store path named `name`.
    pub fn fetch(&self, selector: &Selector, export: ExportOptions, name: &StorePathName, store_dir: &str) -> Result<Fetched, FetchError> {
        if self.is_dirty_fetch(selector)? {
            if selector.verification.required() {
                return Err(FetchError::DirtyVerification { path: self.path.clone() });
            }
            return self.fetch_dirty(name, store_dir);
        }
        let selection = self.select(selector)?;
        let commit = selection.commit;
        let verified = self.verify_signature(selector, commit)?;
        let mut history = History::new(&self.repo);
        let last_modified = history.committer_time(&commit)?;
        let rev_count = if self.shallow { 0 } else { self.rev_count(&mut history, commit)? };
        let (nar_hash, nar_size) = self.nar_hash(commit, export)?;
        let rev = commit.to_string();
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
                submodules: false,
                truncation: selection.truncation,
            },
            commit: Some(commit),
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
        let rules = selector.key_type_rules.unwrap_or(KeyTypeRules::MapToOpenssh);
        let verified = crate::signature::verify_commit(&self.repo, commit, &selector.verification.public_keys, rules)?;
        for warning in &verified.warnings {
            eprintln!("fetchgit-date: warning: {warning}");
        }
        Ok(Some(verified))
    }

    fn rev_count(&self, history: &mut History<'_>, commit: ObjectId) -> Result<u64, FetchError> {
        let key = commit.to_string();
        if let Some(count) = self.cache.get(Table::RevCount, &key).and_then(|c| c.parse().ok()) {
            return Ok(count);
        }
        let count = history.count(commit)?;
        self.cache.put(Table::RevCount, &key, &count.to_string());
        Ok(count)
    }

    /// NAR hash and size of `commit` exported with `options`, from the cache when known.
    pub fn nar_hash(&self, commit: ObjectId, options: ExportOptions) -> Result<(NixHash, u64), FetchError> {
        let key = export::cache_key(&self.repo, commit, options)?;
        if let Some(cached) = self.cache.get(Table::Nar, &key) {
            if let Some((hash, size)) = cached.split_once(' ') {
                if let (Ok(hash), Ok(size)) = (NixHash::parse(hash), size.parse()) {
                    return Ok((hash, size));
                }
            }
        }
        let mut lfs = self.lfs_fetcher(commit, options);
        let (hash, size, _) = export::nar_hash_with(&self.repo, commit, options, lfs.as_mut().map(|l| l as &mut dyn export::Smudge))?;
        self.cache.put(Table::Nar, &key, &format!("{} {size}", hash.to_sri()));
        Ok((hash, size))
    }

    fn fetch_dirty(&self, name: &StorePathName, store_dir: &str) -> Result<Fetched, FetchError> {
        let workdir = self.repo.workdir().expect("dirty fetches happen only in work trees");
        let (nar_hash, nar_size) = dirty::nar_hash(&self.repo, workdir)?;
        let head = resolve::head_commit(&self.repo).ok();
        let last_modified = match head {
            Some(head) => History::new(&self.repo).committer_time(&head)?,
            None => 0,
        };
        let zeros = "0".repeat(40);
        Ok(Fetched {
            attrs: SourceAttrs {
                dirty_rev: head.map(|h| format!("{h}-dirty")),
                dirty_short_rev: head.map(|h| format!("{}-dirty", &h.to_string()[..7])),
                last_modified,
                last_modified_date: last_modified_date(head.unwrap_or(ObjectId::null(gix::hash::Kind::Sha1)), last_modified)?,
                nar_hash: nar_hash.to_sri(),
                out_path: build_ca_path(name, &nar_hash, store_dir).to_absolute_path(store_dir),
                short_rev: zeros[..7].to_owned(),
                rev: zeros,
                rev_count: 0,
                submodules: false,
                truncation: None,
            },
            commit: None,
            nar_hash,
            nar_size,
            verified: None,
        })
    }

    /// Makes `fetched` valid in the Nix store at `store` (streaming the NAR again, one file in
    /// memory at a time, only when the daemon does not have the path yet).
    pub fn add_to_store(
        &self,
        fetched: &Fetched,
        export: ExportOptions,
        name: &StorePathName,
        store_dir: &str,
        store: &nixstore::daemon::StoreUri,
    ) -> Result<nixstore::daemon::AddOutcome, FetchError> {
        let path = build_ca_path(name, &fetched.nar_hash, store_dir);
        let mut write_nar = |out: &mut dyn std::io::Write| -> std::io::Result<()> {
            let mut out = out;
            match fetched.commit {
                Some(commit) => {
                    let mut lfs = self.lfs_fetcher(commit, export);
                    let smudge = lfs.as_mut().map(|l| l as &mut dyn export::Smudge);
                    export::write_nar_with(&self.repo, commit, export, smudge, &mut out).map(drop).map_err(std::io::Error::other)
                }
                None => {
                    let workdir = self.repo.workdir().expect("dirty fetches happen only in work trees");
                    dirty::write_nar(&self.repo, workdir, &mut out).map_err(std::io::Error::other)
                }
            }
        };
        nixstore::daemon::ensure_ca_path(store, &path, store_dir, &fetched.nar_hash, fetched.nar_size, &mut write_nar).map_err(|err| {
            FetchError::Store { path: path.to_absolute_path(store_dir), reason: error_chain(&err) }
        })
    }

    /// The Git LFS fetcher for exports of `commit` with `options`, when they ask for LFS.
    pub fn lfs_fetcher(&self, commit: ObjectId, options: ExportOptions) -> Option<crate::lfs::LfsFetcher> {
        options.lfs.then(|| {
            let source = crate::lfs::endpoint_source(&self.repo, commit, self.remote_url.as_deref());
            crate::lfs::LfsFetcher::new(source, &self.cache)
        })
    }

    /// The path the repository was opened from.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

fn last_modified_date(commit: ObjectId, time: i64) -> Result<String, FetchError> {
    let format = time::macros::format_description!("[year][month][day][hour][minute][second]");
    time::OffsetDateTime::from_unix_timestamp(time)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .ok_or(FetchError::TimeOutOfRange { commit, time })
}
