//! Which Nix release to behave like. `builtins.fetchGit` changed, release by release, in ways
//! that decide its output (the export generation first of all), so every behaviour that differs
//! between releases is chosen from a [`NixVersion`], never guessed from the running machine.
//!
//! The version is what `builtins.nixVersion` (or `nix --version`) reports: `2.8.0`, `2.26.3`,
//! `2.31.0pre20250712_abcdef`, `2.18.3-lix`. [`CHANGES`] is the one table of what changed in
//! which release; [`NixVersion::has`] answers "does release X do Y" from it, and docs/design.md
//! shows the same table (a test keeps the two in step).
//!
//! Lix always reports `2.18.3-lix`, whatever its own release. Its fetchGit is Nix 2.18's (the
//! pre-libgit2 fetcher that runs `git`), with a few changes of its own that differ between Lix
//! releases; `2.18.3-lix` stands for the newest Lix release in the table, and a Lix release can be
//! named exactly as `2.93.0-lix` (Lix's own number, which `nix --version` prints).

use std::fmt;
use std::str::FromStr;

/// Which Nix's export to reproduce: the generation a release belongs to ([`NixVersion::generation`],
/// from [`Change::Libgit2`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Generation {
    /// Nix >= 2.20: the tree as libgit2 reads it.
    Modern,
    /// Nix <= 2.19 and Lix: `git archive` semantics.
    Legacy,
}

impl Generation {
    /// A short stable name, used in cache keys and messages.
    pub fn as_str(&self) -> &'static str {
        match self {
            Generation::Modern => "modern",
            Generation::Legacy => "legacy",
        }
    }

    /// The Nix releases of this generation, for messages: "Nix >= 2.20", "Nix <= 2.19".
    pub fn nix(&self) -> String {
        let newest_legacy: NixVersion = NEWEST_LEGACY_NIX_VERSION.parse().expect("the newest legacy Nix version parses");
        match self {
            Generation::Modern => format!("Nix >= {}", Change::Libgit2.first_nix_release()),
            Generation::Legacy => format!("Nix <= {}.{}", newest_legacy.major, newest_legacy.minor),
        }
    }

    /// Whether `refs/replace/` applies: git honours replace refs, libgit2 has none.
    pub fn honours_replace_refs(&self) -> bool {
        *self == Generation::Legacy
    }
}

/// A Nix release, as far as fetchGit's behaviour is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NixVersion {
    major: u32,
    minor: u32,
    patch: u32,
    lix: bool,
    text: String,
}

/// A version string that is not a Nix release.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Nix version '{0}': expected MAJOR.MINOR[.PATCH] as builtins.nixVersion prints it, e.g. 2.8.0, 2.26.3 or 2.18.3-lix")]
pub struct NixVersionError(pub String);

/// The release assumed when none is given (the CLI without `--nix-version`): the newest release
/// whose fetchGit changes [`CHANGES`] covers. Every default in the crate goes through
/// [`NixVersion::default_release`]; nothing else names a release to fall back to.
pub const DEFAULT_NIX_VERSION: &str = "2.35.2";

/// The newest release of the legacy generation (`git archive`, before libgit2): what `compat =
/// "legacy"` (`--compat legacy`) stands for when no release is named. 2.19.1 to 2.19.7 changed
/// nothing in `src/libfetchers`.
pub const NEWEST_LEGACY_NIX_VERSION: &str = "2.19.7";

/// The oldest release whose fetchGit fetchgit-date reproduces (the host's Nix in CI).
pub const OLDEST_NIX_VERSION: &str = "2.8.0";

/// The number every Lix release reports as `builtins.nixVersion`.
const LIX_REPORTED: (u32, u32) = (2, 18);

/// A behaviour of fetchGit that some release introduced (and that stays, unless a later row says
/// otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Change {
    /// Without `ref`, a remote repository (and a bare local one, which Nix clones like a remote)
    /// is fetched at the remote's `HEAD`; before, at the literal branch `master`.
    RemoteHeadIsDefaultRef,
    /// A dirty work tree also gets `dirtyRev` and `dirtyShortRev` (`<HEAD>-dirty`).
    DirtyRev,
    /// The libgit2 fetcher: the "modern" export generation (raw blobs, export-ignore from the
    /// commit's attributes); a remote `rev` is fetched by itself, so it need not be on `ref` (no
    /// `allRefs` needed); and a local work tree without `ref`/`rev` is read from disk even when
    /// clean: tracked files as they are checked out, unfetched submodules left out, and
    /// export-ignore from the index's `.gitattributes`.
    Libgit2,
    /// The libgit2 fetcher takes a work tree without commits: `rev` 40 zeros, `revCount` 0,
    /// `lastModified` 0 and its staged files, as Nix 2.8 to 2.19 and Lix do through their
    /// dirty-tree path. The first libgit2 release, 2.20, fails unless something is staged (it
    /// reads the missing `HEAD`), until 2.20.4: see [`NixVersion::fails_on_clean_empty_work_tree`].
    Libgit2EmptyRepositories,
    /// A NAR hash mismatch reads "expected 'A' but got 'B'" (before: "(PATH), expected 'A', got 'B'").
    NarHashMismatchWording,
    /// A `lastModified` mismatch also says what was found (", got N").
    LastModifiedMismatchGot,
    /// In pure evaluation, a `narHash` without `rev` is enough to fetch (with a warning); before,
    /// such an input was refused as unlocked.
    NarHashLocksInPureEval,
    /// An annotated tag given as `ref` gives the commit's id as `rev`; before, the tag object's.
    PeelsTags,
    /// `ref = "HEAD"` of a repository Nix clones fails ("resolving Git reference 'HEAD'"): the
    /// fetch no longer creates the local `HEAD` it then reads (`Don't use refspec <rev>:<rev>`,
    /// in 2.27.0 and backported to 2.26.2), until [`Change::RemoteHeadRefFixed`].
    RemoteHeadRefFails,
    /// `ref = "HEAD"` of a repository Nix clones works again (2.33.0, backported to 2.32.5).
    RemoteHeadRefFixed,
    /// A `lastModified` or `revCount` the caller gives is taken as it is, neither computed nor
    /// checked (only `narHash` still is); before, a different value was an error.
    KeepsGivenRevCountAndLastModified,
    /// Lix: a dirty work tree keeps an unfetched submodule as an empty directory, as `git
    /// archive` does for clean ones; before (and in Nix's git-running fetcher), it is left out.
    LixUnfetchedSubmoduleDirectories,
    /// Lix: an annotated tag given as `ref` of a remote (or bare) repository gives the commit's id
    /// as `rev` (`git rev-list`); a work tree still gives the tag object's (`git rev-parse`).
    LixPeelsRemoteTags,
    /// `submodules = true` of a local work tree (legacy fetcher): the temporary clone gets the
    /// work tree's own `.git/config` (its `origin`, `submodule.*` settings, `core.autocrlf`, ...)
    /// and a copy of `.git/modules`; before, only `origin` = the work tree's path.
    LegacySubmodulesUseRepoConfig,
    /// A local path becomes a URL through `ParsedURL::to_string`, which percent-encodes it (only
    /// unreserved characters and `:@/` stay, upper-case hex; query values keep `:@/?`); before,
    /// `file://` + the path was parsed by a regex that refuses anything but RFC 3986 `pchar`s
    /// ("is not a valid URL"), and printed URLs kept sub-delimiters, in lower-case hex.
    UrlPathsEncoded,
    /// Parsing a URL percent-decodes its path, so an encoded local path names the directory again
    /// (2.14 to 2.17 look for the encoded name and fail).
    UrlPathsDecoded,
    /// Percent-encoding masks a byte above 0x7f (`%C3`); before, it was sign-extended
    /// (`%FFFFFFC3`).
    UrlBytesMasked,
    /// `verifyCommit`, `publicKey`, `keytype` and `publicKeys` exist; an unknown key type is
    /// only warned about. Before, fetchGit refuses them as unsupported attributes.
    SignatureChecks,
    /// An unknown `keytype` is an error ("Unknown key type").
    UnknownKeyTypeRefused,
    /// The `-sk` key types are mapped to OpenSSH's names (`sk-ssh-ed25519@openssh.com`) in the
    /// allowed-signers file, so such keys verify at all.
    SkKeyTypesMapped,
    /// `lfs = true` exists: Git LFS pointer files are replaced by their objects.
    Lfs,
    /// A work tree read with `shallow = true` gets no computed `revCount` (fetchGit reports 0);
    /// before, it was counted from the (possibly truncated) history.
    ShallowWorkTreeHasNoRevCount,
    /// A `git+` URL (`git+https://...`, `git+file:///...`) given to fetchGit is the URL without
    /// `git+`; before, the scheme was kept and the fetch of such a "remote" failed.
    GitPlusUrls,
    /// The warning for an unlocked input checked by NAR hash (pure evaluation) reads "... but is
    /// checked by NAR hash. This is not reproducible and will break after garbage collection or
    /// when shared."; before, "... but does have a NAR hash. This is deprecated since such inputs
    /// are verifiable but may not be reproducible."
    UnlockedWarningWording,
    /// A NAR hash mismatch names the fetched hash as "expected" and the given one as "got"
    /// ("expected 'FETCHED' but got 'GIVEN'"): the check moved to `EvalState::mountInput`, which
    /// passes them the other way round.
    NarHashMismatchSwapped,
    /// A public key that Nix's base64 decoder refuses is an error ("invalid character in Base64
    /// string"); before, the error was caught and dropped, and the key matched nothing.
    PublicKeysDecoded,
    /// `revCount` is computed when it is used, and a shallow repository without `shallow = true`
    /// is no longer refused up front: using `revCount` fails ("... is a shallow Git repository,
    /// so 'revCount' is not available"); before, the fetch was refused ("... but shallow
    /// repositories are only allowed when `shallow = true;` is specified").
    LazyRevCount,
    /// An SCP-like URL without a user (`host:/path`) is an ssh address; before, Nix's scp rule
    /// needed `user@`, and `host:/path` was taken for a local path (2.33 and 2.34 refuse it:
    /// "SCP-like URL ... is not supported").
    ScpUrlsWithoutUser,
    /// Under restrict-eval, fetchGit checks its input's URL (`Input::toURLString`: `git+` in front
    /// of every scheme but `git`), which no allowed path matches; before (and in Lix: `fixURI`), the
    /// URL as given, an scp-style `user@host:path` as `user@host/path`, before any scheme is added
    /// (seen live in Nix 2.8.0 and Lix 2.95.3; the new form in 2.26.3 and 2.35.2).
    RestrictEvalChecksInputUrl,
    /// `submodules = true` skips a `.gitmodules` entry whose path is no gitlink; before, the libgit2
    /// fetcher failed on it (and 2.20.0-2.20.6, 2.21.0-2.21.2 and 2.22.0 also left nested
    /// submodules empty, fixed by 750bcaa330 before this row's releases).
    SubmodulesSkipNonGitlinkEntries,
}

impl Change {
    /// This change's row in [`CHANGES`].
    pub fn row(self) -> &'static ChangeRow {
        CHANGES.iter().find(|row| row.change == self).expect("every change has a row in CHANGES")
    }

    /// The first Nix release with this change, for messages: `2.20`, or `2.24.7` for a patch
    /// release; `Lix` for a change only Lix made.
    pub fn first_nix_release(self) -> String {
        match self.row().nix {
            Some((major, minor, 0)) => format!("{major}.{minor}"),
            Some((major, minor, patch)) => format!("{major}.{minor}.{patch}"),
            None => "Lix".to_owned(),
        }
    }
}

/// When a [`Change`] arrived in Lix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InLix {
    /// Every Lix release has it (inherited from Nix <= 2.18).
    Always,
    /// No Lix release has it.
    Never,
    /// From this Lix release (Lix's own numbering) on.
    Since(u32, u32),
}

/// One row of [`CHANGES`].
#[derive(Debug, Clone, Copy)]
pub struct ChangeRow {
    /// The change.
    pub change: Change,
    /// The first Nix release with it, `(major, minor, patch)` (`None`: a Lix-only change). A
    /// backport to an older series is a row of its own (see [`Change::RemoteHeadRefFails`]).
    pub nix: Option<(u32, u32, u32)>,
    /// When Lix got it.
    pub lix: InLix,
    /// The commit, pull request or release note it comes from.
    pub source: &'static str,
}

/// What changed in which release, from the Nix and Lix sources at their release tags.
pub const CHANGES: &[ChangeRow] = &[
    ChangeRow { change: Change::RemoteHeadIsDefaultRef, nix: Some((2, 9, 0)), lix: InLix::Always, source: "NixOS/nix 401e60f289 (#4638)" },
    ChangeRow { change: Change::DirtyRev, nix: Some((2, 17, 0)), lix: InLix::Always, source: "NixOS/nix a7b49086c7 (#5385)" },
    ChangeRow {
        change: Change::Libgit2,
        nix: Some((2, 20, 0)),
        lix: InLix::Never,
        source: "NixOS/nix #9240 (libgit2), e4066c0444 (#9410: fetch revs by themselves)",
    },
    ChangeRow {
        change: Change::Libgit2EmptyRepositories,
        nix: Some((2, 20, 4)),
        lix: InLix::Never,
        source: "NixOS/nix 9e762454cf (#10044), backported to 2.20.4 as 15c0a7b2ce",
    },
    ChangeRow { change: Change::NarHashMismatchWording, nix: Some((2, 21, 0)), lix: InLix::Never, source: "NixOS/nix src/libfetchers/fetchers.cc at 2.21.0" },
    ChangeRow { change: Change::LastModifiedMismatchGot, nix: Some((2, 25, 0)), lix: InLix::Never, source: "NixOS/nix src/libfetchers/fetchers.cc at 2.25.0" },
    ChangeRow { change: Change::NarHashLocksInPureEval, nix: Some((2, 27, 0)), lix: InLix::Never, source: "NixOS/nix 5dec1dc086 (#12376)" },
    ChangeRow {
        change: Change::RemoteHeadRefFails,
        nix: Some((2, 26, 2)),
        lix: InLix::Never,
        source: "NixOS/nix ee9fa0d360 (#12386), backported to 2.26.2 as 1fe33c13d9",
    },
    ChangeRow {
        change: Change::RemoteHeadRefFixed,
        nix: Some((2, 32, 5)),
        lix: InLix::Never,
        source: "NixOS/nix 18f3598d57 (#14672), backported to 2.32.5 as 1d1d553083",
    },
    ChangeRow { change: Change::PeelsTags, nix: Some((2, 31, 0)), lix: InLix::Never, source: "NixOS/nix 33ceea6099 (#13521)" },
    ChangeRow {
        change: Change::KeepsGivenRevCountAndLastModified,
        nix: Some((2, 35, 0)),
        lix: InLix::Never,
        source: "NixOS/nix 87baf29d6a, 8f32f28ebd (#14596)",
    },
    ChangeRow { change: Change::LixUnfetchedSubmoduleDirectories, nix: None, lix: InLix::Since(2, 91), source: "lix-project/lix aa00a5a8c" },
    ChangeRow { change: Change::LixPeelsRemoteTags, nix: None, lix: InLix::Since(2, 95), source: "lix-project/lix 6bf187537" },
    ChangeRow { change: Change::LegacySubmodulesUseRepoConfig, nix: Some((2, 14, 0)), lix: InLix::Always, source: "NixOS/nix 2edd5cf618, d88106df24" },
    ChangeRow { change: Change::UrlPathsEncoded, nix: Some((2, 14, 0)), lix: InLix::Always, source: "NixOS/nix 2c0866fc3f, 0844856c84" },
    ChangeRow { change: Change::UrlPathsDecoded, nix: Some((2, 18, 0)), lix: InLix::Always, source: "NixOS/nix 73696ec716" },
    ChangeRow { change: Change::UrlBytesMasked, nix: Some((2, 19, 0)), lix: InLix::Always, source: "NixOS/nix 50e61f579c" },
    ChangeRow { change: Change::SignatureChecks, nix: Some((2, 19, 0)), lix: InLix::Never, source: "NixOS/nix 6df32889a5 (#8848)" },
    ChangeRow {
        change: Change::UnknownKeyTypeRefused,
        nix: Some((2, 20, 0)),
        lix: InLix::Never,
        source: "NixOS/nix #9240 (src/libfetchers/git-utils.cc at 2.20.0: GitRepoImpl::verifyCommit)",
    },
    ChangeRow { change: Change::SkKeyTypesMapped, nix: Some((2, 32, 0)), lix: InLix::Never, source: "NixOS/nix 671c21db9f (#13885)" },
    ChangeRow { change: Change::Lfs, nix: Some((2, 27, 0)), lix: InLix::Never, source: "NixOS/nix 693a38ae2e (#10153)" },
    ChangeRow { change: Change::ShallowWorkTreeHasNoRevCount, nix: Some((2, 30, 0)), lix: InLix::Never, source: "NixOS/nix 0479db934c (#13265)" },
    ChangeRow { change: Change::GitPlusUrls, nix: Some((2, 33, 0)), lix: InLix::Never, source: "NixOS/nix 40f600644d (#14492)" },
    ChangeRow { change: Change::UnlockedWarningWording, nix: Some((2, 33, 0)), lix: InLix::Never, source: "NixOS/nix e33cd5aa38 (#14299)" },
    ChangeRow {
        change: Change::PublicKeysDecoded,
        nix: Some((2, 34, 0)),
        lix: InLix::Never,
        source: "NixOS/nix 19a2493132 (src/libfetchers/git-utils.cc: the missing re-throw)",
    },
    ChangeRow { change: Change::ScpUrlsWithoutUser, nix: Some((2, 35, 0)), lix: InLix::Never, source: "NixOS/nix 38878c2bf2 (#14863)" },
    ChangeRow { change: Change::LazyRevCount, nix: Some((2, 35, 0)), lix: InLix::Never, source: "NixOS/nix e9336fa3a7 (#15772)" },
    ChangeRow {
        change: Change::RestrictEvalChecksInputUrl,
        nix: Some((2, 19, 0)),
        lix: InLix::Never,
        source: "NixOS/nix 856fe13533 (fetchTree cleanup: checkURI(input.toURLString()))",
    },
    ChangeRow {
        change: Change::SubmodulesSkipNonGitlinkEntries,
        nix: Some((2, 24, 7)),
        lix: InLix::Never,
        source: "NixOS/nix 9d24080090, in 2.25.0 and backported to 2.24.7",
    },
    ChangeRow {
        change: Change::NarHashMismatchSwapped,
        nix: Some((2, 32, 0)),
        lix: InLix::Never,
        source: "NixOS/nix 1d130492d7 (#14050: src/libexpr/paths.cc)",
    },
];

impl NixVersion {
    /// The release assumed when none is given ([`DEFAULT_NIX_VERSION`]).
    pub fn default_release() -> NixVersion {
        DEFAULT_NIX_VERSION.parse().expect("the default Nix version parses")
    }

    /// The release a generation stands for when only the generation is asked for (`compat`
    /// without `nixVersion`): [`NEWEST_LEGACY_NIX_VERSION`] for legacy, the default release for
    /// modern. A generation alone is never a mixture: it is always some release's fetchGit.
    pub fn newest_of(generation: Generation) -> NixVersion {
        match generation {
            Generation::Modern => NixVersion::default_release(),
            Generation::Legacy => NEWEST_LEGACY_NIX_VERSION.parse().expect("the newest legacy Nix version parses"),
        }
    }

    /// The releases that bound each export generation fetchgit-date reproduces, oldest first:
    /// [`OLDEST_NIX_VERSION`] and [`NEWEST_LEGACY_NIX_VERSION`] (legacy), the first release with
    /// [`Change::Libgit2`] (from [`CHANGES`]) and [`DEFAULT_NIX_VERSION`] (modern), and Lix
    /// (`2.18.3-lix`, the newest Lix). What `verify-lock` checks when no release is named.
    pub fn generation_bounds() -> Vec<NixVersion> {
        let first_modern = CHANGES.iter().find(|row| row.change == Change::Libgit2).and_then(|row| row.nix).expect("Libgit2 has a Nix release");
        let first_modern = format!("{}.{}.{}", first_modern.0, first_modern.1, first_modern.2);
        let lix = format!("{}.{}.3-lix", LIX_REPORTED.0, LIX_REPORTED.1);
        [OLDEST_NIX_VERSION, NEWEST_LEGACY_NIX_VERSION, first_modern.as_str(), DEFAULT_NIX_VERSION, lix.as_str()]
            .iter()
            .map(|text| text.parse().expect("the generation bounds parse"))
            .collect()
    }

    /// Whether this is Lix.
    pub fn is_lix(&self) -> bool {
        self.lix
    }

    /// Whether this release is `major.minor` or later. A pre-release (`2.20pre…`) counts as the
    /// release it leads to: it is built from that release's development branch. Only [`CHANGES`]
    /// compares numbers: everything else asks [`NixVersion::has`].
    fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }

    /// `(major, minor, patch)`.
    pub fn numbers(&self) -> (u32, u32, u32) {
        (self.major, self.minor, self.patch)
    }

    /// Whether this release behaves as `change` says ([`CHANGES`]).
    pub fn has(&self, change: Change) -> bool {
        let row = change.row();
        if !self.lix {
            return row.nix.is_some_and(|release| (self.major, self.minor, self.patch) >= release);
        }
        match row.lix {
            InLix::Always => true,
            InLix::Never => false,
            // `2.18.3-lix` does not say which Lix it is: the newest one.
            InLix::Since(major, minor) => (self.major, self.minor) == LIX_REPORTED || self.at_least(major, minor),
        }
    }

    /// Whether a work tree without commits and with nothing staged makes fetchGit fail (Nix 2.20.0
    /// to 2.20.3; every other release returns the empty directory).
    pub fn fails_on_clean_empty_work_tree(&self) -> bool {
        self.has(Change::Libgit2) && !self.has(Change::Libgit2EmptyRepositories)
    }

    /// Whether `ref = "HEAD"` fails for a repository this release clones (2.26.2 to 2.32.4).
    pub fn fails_on_remote_head_ref(&self) -> bool {
        self.has(Change::RemoteHeadRefFails) && !self.has(Change::RemoteHeadRefFixed)
    }

    /// How this release checks commit signatures (`verifyCommit`, `publicKey(s)`, `keytype`), or
    /// `None` when it has no such attributes (fetchGit then refuses them as unsupported).
    /// Nix 2.19 added them (NixOS/nix#8848), 2.20 made an unknown key type an error, 2.32 maps
    /// the `-sk` types to OpenSSH's names (NixOS/nix#13885). Lix (2.18) has none.
    pub fn key_type_rules(&self) -> Option<crate::signature::KeyTypeRules> {
        use crate::signature::KeyTypeRules;
        if self.has(Change::PublicKeysDecoded) {
            Some(KeyTypeRules::MapToOpensshDecodeKeys)
        } else if self.has(Change::SkKeyTypesMapped) {
            Some(KeyTypeRules::MapToOpenssh)
        } else if self.has(Change::UnknownKeyTypeRefused) {
            Some(KeyTypeRules::RejectUnknown)
        } else if self.has(Change::SignatureChecks) {
            Some(KeyTypeRules::WarnUnknown)
        } else {
            None
        }
    }

    /// Whether fetchGit has `lfs` ([`Change::Lfs`]: Nix >= 2.27, not Lix).
    pub fn has_lfs(&self) -> bool {
        self.has(Change::Lfs)
    }

    /// Whether fetchGit's `submodules = true` of this release is the one fetchgit-date reproduces
    /// (every legacy release, and Nix >= 2.24.7); else what differs. Nix 2.20.0 to 2.24.6 fail on
    /// a `.gitmodules` entry whose path is no gitlink (9d24080090, in 2.25.0 and backported to
    /// 2.24.7), and 2.20.0-2.20.6, 2.21.0-2.21.2 and 2.22.0 leave nested submodules empty
    /// (750bcaa330, in 2.23.0 and backported to 2.20.7, 2.21.3 and 2.22.1).
    pub fn reproduces_submodules(&self) -> Result<(), &'static str> {
        if self.lix || !self.has(Change::Libgit2) || self.has(Change::SubmodulesSkipNonGitlinkEntries) {
            return Ok(());
        }
        Err("Nix 2.20.0 to 2.24.6 fail on .gitmodules entries whose path is not a submodule, and some of them leave nested submodules empty")
    }

    /// The export generation this release uses: libgit2 from 2.20 on, `git archive` before and
    /// in Lix.
    pub fn generation(&self) -> Generation {
        if self.has(Change::Libgit2) {
            Generation::Modern
        } else {
            Generation::Legacy
        }
    }
}

impl FromStr for NixVersion {
    type Err = NixVersionError;

    fn from_str(text: &str) -> Result<NixVersion, NixVersionError> {
        let invalid = || NixVersionError(text.to_owned());
        let trimmed = text.trim();
        // The numeric prefix: digits and dots; whatever follows is a pre-release or vendor tag.
        let numeric_len = trimmed.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(trimmed.len());
        let (numeric, suffix) = trimmed.split_at(numeric_len);
        let mut parts = numeric.trim_end_matches('.').split('.');
        let mut number = |required: bool| -> Result<u32, NixVersionError> {
            match parts.next() {
                Some(part) if !part.is_empty() => part.parse().map_err(|_| invalid()),
                None if !required => Ok(0),
                _ => Err(invalid()),
            }
        };
        let (major, minor, patch) = (number(true)?, number(true)?, number(false)?);
        if parts.next().is_some() || !suffix.chars().all(|c| c.is_ascii_alphanumeric() || "-_+.".contains(c)) {
            return Err(invalid());
        }
        let lix = suffix.to_ascii_lowercase().contains("lix");
        if lix && (major, minor) != LIX_REPORTED && !(major == 2 && minor >= 90) {
            // Lix releases start at 2.90; anything else is a typo, not a release to guess at.
            return Err(invalid());
        }
        Ok(NixVersion { major, minor, patch, lix, text: trimmed.to_owned() })
    }
}

impl fmt::Display for NixVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> NixVersion {
        text.parse().expect("valid version")
    }

    #[test]
    fn releases_parse_with_their_suffixes() {
        assert_eq!(v("2.8.0").numbers(), (2, 8, 0));
        assert_eq!(v("2.8.0").generation(), Generation::Legacy);
        assert_eq!(v("2.26.3").generation(), Generation::Modern);
        assert_eq!((v("2.20").numbers(), v("2.20").generation()), ((2, 20, 0), Generation::Modern));
        assert!(v("2.31.0pre20250712_abcdef0").has(Change::PeelsTags), "a pre-release counts as its release");
        let lix = v("2.18.3-lix");
        assert!(lix.is_lix());
        assert_eq!(lix.generation(), Generation::Legacy);
        assert_eq!(lix.to_string(), "2.18.3-lix");
        assert_eq!(NixVersion::default_release().to_string(), DEFAULT_NIX_VERSION);
        assert_eq!((Generation::Modern.nix(), Generation::Legacy.nix()), ("Nix >= 2.20".to_owned(), "Nix <= 2.19".to_owned()));
        assert_eq!(Change::SubmodulesSkipNonGitlinkEntries.first_nix_release(), "2.24.7");
        assert_eq!(Change::LixPeelsRemoteTags.first_nix_release(), "Lix");
    }

    /// A generation alone is a real release of it: the default is modern and has every row of
    /// the table; the newest legacy release is the last before libgit2.
    #[test]
    fn generations_stand_for_releases() {
        let modern = NixVersion::newest_of(Generation::Modern);
        assert_eq!((modern.generation(), modern.to_string()), (Generation::Modern, DEFAULT_NIX_VERSION.to_owned()));
        let legacy = NixVersion::newest_of(Generation::Legacy);
        assert_eq!((legacy.generation(), legacy.to_string()), (Generation::Legacy, NEWEST_LEGACY_NIX_VERSION.to_owned()));
        let next: NixVersion = format!("{}.{}.0", legacy.major, legacy.minor + 1).parse().expect("valid");
        assert_eq!(next.generation(), Generation::Modern, "2.19.x is the last legacy line");
        for row in CHANGES {
            if let Some(release) = row.nix {
                assert!(modern.numbers() >= release, "the default release {modern} predates {:?} ({release:?})", row.change);
            }
        }
    }

    #[test]
    fn signature_and_lfs_attributes_by_release() {
        use crate::signature::KeyTypeRules;
        let rules = |v: &str| v.parse::<NixVersion>().expect("valid").key_type_rules();
        assert_eq!(rules("2.18.1"), None);
        assert_eq!(rules("2.18.3-lix"), None);
        assert_eq!(rules("2.19.0"), Some(KeyTypeRules::WarnUnknown));
        assert_eq!(rules("2.26.3"), Some(KeyTypeRules::RejectUnknown));
        assert_eq!(rules("2.31.2"), Some(KeyTypeRules::RejectUnknown));
        assert_eq!(rules("2.32.0"), Some(KeyTypeRules::MapToOpenssh));
        assert_eq!(rules("2.33.6"), Some(KeyTypeRules::MapToOpenssh));
        assert_eq!(rules("2.34.0"), Some(KeyTypeRules::MapToOpensshDecodeKeys));
        let lfs = |v: &str| v.parse::<NixVersion>().expect("valid").has_lfs();
        assert!(!lfs("2.26.3") && lfs("2.27.0") && lfs("2.33pre2025") && !lfs("2.18.3-lix"));
    }

    #[test]
    fn malformed_versions_are_refused() {
        for bad in ["", "2", "two.eight", "2..8", "2.8.0.1", "2.8.0 ; rm", "v2.8", "2.26.3-lix"] {
            assert!(bad.parse::<NixVersion>().is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn every_change_has_exactly_one_row() {
        use Change::*;
        for change in [
            RemoteHeadIsDefaultRef,
            DirtyRev,
            Libgit2,
            Libgit2EmptyRepositories,
            NarHashMismatchWording,
            LastModifiedMismatchGot,
            NarHashLocksInPureEval,
            PeelsTags,
            RemoteHeadRefFails,
            RemoteHeadRefFixed,
            KeepsGivenRevCountAndLastModified,
            LixUnfetchedSubmoduleDirectories,
            LixPeelsRemoteTags,
            LegacySubmodulesUseRepoConfig,
            UrlPathsEncoded,
            UrlPathsDecoded,
            UrlBytesMasked,
            SignatureChecks,
            UnknownKeyTypeRefused,
            SkKeyTypesMapped,
            Lfs,
            ShallowWorkTreeHasNoRevCount,
            GitPlusUrls,
            UnlockedWarningWording,
            NarHashMismatchSwapped,
            PublicKeysDecoded,
            LazyRevCount,
            ScpUrlsWithoutUser,
            RestrictEvalChecksInputUrl,
            SubmodulesSkipNonGitlinkEntries,
        ] {
            assert_eq!(CHANGES.iter().filter(|row| row.change == change).count(), 1, "{change:?}");
        }
    }

    /// docs/design.md shows this table: every row's source must be named there.
    #[test]
    fn design_doc_names_every_source() {
        let design = include_str!("../../../docs/design.md");
        for row in CHANGES {
            assert!(design.contains(row.source), "docs/design.md does not name {} ({:?})", row.source, row.change);
        }
    }

    /// The rows as the issue and the sources state them, release by release.
    #[test]
    fn releases_have_the_changes_of_their_time() {
        let cases: &[(&str, Change, bool)] = &[
            ("2.8.0", Change::RemoteHeadIsDefaultRef, false),
            ("2.9.0", Change::RemoteHeadIsDefaultRef, true),
            ("2.8.0", Change::DirtyRev, false),
            ("2.16.3", Change::DirtyRev, false),
            ("2.17.0", Change::DirtyRev, true),
            ("2.19.7", Change::Libgit2, false),
            ("2.20.0", Change::Libgit2, true),
            ("2.20.3", Change::Libgit2EmptyRepositories, false),
            ("2.20.4", Change::Libgit2EmptyRepositories, true),
            ("2.21.0", Change::Libgit2EmptyRepositories, true),
            ("2.26.3", Change::PeelsTags, false),
            ("2.30.9", Change::PeelsTags, false),
            ("2.31.0", Change::PeelsTags, true),
            ("2.26.3", Change::NarHashLocksInPureEval, false),
            ("2.27.0", Change::NarHashLocksInPureEval, true),
            ("2.26.3", Change::LixPeelsRemoteTags, false),
            ("2.34.1", Change::KeepsGivenRevCountAndLastModified, false),
            ("2.35.0", Change::KeepsGivenRevCountAndLastModified, true),
            ("2.26.3", Change::Lfs, false),
            ("2.27.0", Change::Lfs, true),
            ("2.18.3-lix", Change::Lfs, false),
            ("2.29.9", Change::ShallowWorkTreeHasNoRevCount, false),
            ("2.30.0", Change::ShallowWorkTreeHasNoRevCount, true),
            ("2.18.9", Change::SignatureChecks, false),
            ("2.32.8", Change::GitPlusUrls, false),
            ("2.31.5", Change::NarHashMismatchSwapped, false),
            ("2.34.8", Change::LazyRevCount, false),
            ("2.34.8", Change::ScpUrlsWithoutUser, false),
            ("2.35.2", Change::ScpUrlsWithoutUser, true),
            ("2.35.0", Change::LazyRevCount, true),
            ("2.32.0", Change::NarHashMismatchSwapped, true),
            ("2.33.0", Change::GitPlusUrls, true),
            ("2.18.3-lix", Change::GitPlusUrls, false),
            ("2.8.0", Change::RestrictEvalChecksInputUrl, false),
            ("2.26.3", Change::RestrictEvalChecksInputUrl, true),
            ("2.95.3-lix", Change::RestrictEvalChecksInputUrl, false),
            ("2.19.0", Change::SignatureChecks, true),
            ("2.18.3-lix", Change::DirtyRev, true),
            ("2.18.3-lix", Change::RemoteHeadIsDefaultRef, true),
            ("2.18.3-lix", Change::Libgit2, false),
            ("2.18.3-lix", Change::PeelsTags, false),
            ("2.18.3-lix", Change::Libgit2EmptyRepositories, false),
            ("2.18.3-lix", Change::LixPeelsRemoteTags, true),
            ("2.18.3-lix", Change::LixUnfetchedSubmoduleDirectories, true),
            ("2.90.0-lix", Change::LixUnfetchedSubmoduleDirectories, false),
            ("2.91.0-lix", Change::LixUnfetchedSubmoduleDirectories, true),
            ("2.94.2-lix", Change::LixPeelsRemoteTags, false),
            ("2.95.0-lix", Change::LixPeelsRemoteTags, true),
        ];
        for (version, change, expected) in cases {
            assert_eq!(v(version).has(*change), *expected, "{version} {change:?}");
        }
        let empty_fails: Vec<bool> =
            ["2.8.0", "2.19.7", "2.20.0", "2.20.3", "2.20.4", "2.21.0", "2.18.3-lix"].iter().map(|t| v(t).fails_on_clean_empty_work_tree()).collect();
        assert_eq!(empty_fails, [false, false, true, true, false, false, false]);
        let head_fails: Vec<bool> =
            ["2.26.1", "2.26.2", "2.26.3", "2.30.0", "2.32.4", "2.32.5", "2.33.0", "2.18.3-lix"].iter().map(|t| v(t).fails_on_remote_head_ref()).collect();
        assert_eq!(head_fails, [false, true, true, true, true, false, false, false]);
    }
}
