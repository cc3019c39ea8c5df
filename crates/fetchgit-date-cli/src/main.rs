//! `fetchgit-date`: command-line glue over the `fetchgit-date` library.
//!
//! Exit codes: 0 success; 1 `verify` found no export that reproduces the hash, or
//! `verify-lock`/`verify-list` found a source that does not reproduce; 2 error (bad arguments
//! included). Errors are one line on stderr; stdout carries only results.

mod verify_lock;

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use fetchgit_date::cache::Cache;
use fetchgit_date::error_chain;
use fetchgit_date::fetch::{Fetched, Fetcher, Selector};
use fetchgit_date::pipeline::{self, DaemonStore, NoStore};
use fetchgit_date::request::{Context, Request, Value};
use nixstore::hash::NixHash;
use nixstore::store_path::{StorePathName, DEFAULT_STORE_DIR};

#[derive(Parser)]
#[command(name = "fetchgit-date", version, about = "Fetch a git repository rolled back to a date, hashed exactly as Nix's builtins.fetchGit")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Export a commit and print builtins.fetchGit's attributes for it.
    Fetch(FetchArgs),
    /// Print the commit a ref/rev truncates to (40 hex digits).
    Resolve(ResolveArgs),
    /// Print the NAR hash of a file or directory, like `nix hash path`.
    Hash(HashArgs),
    /// Check which Nix export of a commit reproduces a NAR hash (exit 1: none does).
    Verify(VerifyArgs),
    /// Check every git and forge input of a flake.lock under several Nix releases (exit 1: one
    /// does not reproduce).
    VerifyLock(verify_lock::VerifyLockArgs),
    /// Check a JSON list of nixpkgs fetchgit / fetchFromGitHub calls under several Nix releases.
    VerifyList(verify_lock::VerifyListArgs),
}

#[derive(Args)]
struct Source {
    /// Repository: a path (work tree or bare), file://, http(s)://, ssh://, [user@]host:path or git:// URL.
    #[arg(long, value_name = "URL")]
    url: String,
    /// Branch or full ref to start from (default: the current branch).
    #[arg(long = "ref", value_name = "REF")]
    ref_name: Option<String>,
    /// Full 40-hex commit to start from; makes truncation reproducible.
    #[arg(long, value_name = "REV")]
    rev: Option<String>,
    /// Behave like the builtins.fetchGit of this Nix release (as builtins.nixVersion prints it:
    /// 2.8.0, 2.26.3, 2.18.3-lix); the default is printed by --help. It also picks the export
    /// generation.
    #[arg(long, value_name = "VERSION", help = nix_version_help())]
    nix_version: Option<String>,
    #[command(flatten)]
    remote: RemoteFlags,
}

/// How a remote URL is brought into the cache ($XDG_CACHE_HOME/fetchgit-date).
#[derive(Args)]
struct RemoteFlags {
    /// Refetch a ref fetched longer ago than this many seconds (Nix's tarball-ttl).
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    ttl: u64,
    /// Fetch the ref even if the cache is fresh.
    #[arg(long)]
    refresh: bool,
    /// Fetch all refs (refs/*), e.g. for a rev on no branch's history.
    #[arg(long)]
    all_refs: bool,
    /// Fetch no more history than needed: the commit itself (depth 1), or with --date/--interval
    /// the history back to the boundary; revCount is then 0, as Nix reports it for shallow fetches.
    #[arg(long)]
    shallow: bool,
    /// No progress on stderr.
    #[arg(short, long, conflicts_with = "verbose")]
    quiet: bool,
    /// Say what is fetched and how many bytes it took.
    #[arg(short, long)]
    verbose: bool,
    /// Give up on a remote or on the Nix daemon after this many seconds without an answer (Nix's
    /// stalled-download-timeout).
    #[arg(long, value_name = "SECONDS", default_value_t = fetchgit_date::remote::DEFAULT_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
}

impl RemoteFlags {
    /// The request's remote options (`partial`: only what the truncation needs, for `resolve`)
    /// with the flags that only the CLI has.
    fn options(&self, request: &Request, partial: bool) -> fetchgit_date::remote::RemoteOptions {
        use std::io::IsTerminal;
        fetchgit_date::remote::RemoteOptions {
            ttl: std::time::Duration::from_secs(self.ttl),
            refresh: self.refresh,
            progress: !self.quiet && std::io::stderr().is_terminal(),
            verbose: self.verbose,
            timeout: std::time::Duration::from_secs(self.timeout),
            ..request.remote_options(partial)
        }
    }
}

#[derive(Args)]
struct Truncation {
    /// Roll back to the last commit at or before this date (Unix seconds, ISO 8601, RFC 2822, git's or date(1)'s format, lastModifiedDate, '3 days ago'; see docs/usage.md).
    #[arg(long, value_name = "SPEC", conflicts_with = "interval")]
    date: Option<String>,
    /// Roll back to the last commit before the start's time rounded down to DURATION (86400, 12h, 1d, 1w).
    #[arg(long, value_name = "DURATION")]
    interval: Option<String>,
    /// Follow only first parents while truncating (branch-local history).
    #[arg(long)]
    first_parent: bool,
    /// Fail instead of taking the root commit when no commit is old enough.
    #[arg(long)]
    no_root_fallback: bool,
}

/// fetchGit's commit signature check (`verifyCommit`, `publicKey`, `keytype`, `publicKeys`).
#[derive(Args)]
struct SignatureFlags {
    /// Require an SSH signature by one of the keys on the commit fetched (after truncation, the
    /// truncated commit); fetchGit's verifyCommit = true. Implied by any key.
    #[arg(long, conflicts_with = "no_verify_commit")]
    verify_commit: bool,
    /// Check no signature even when keys are given (verifyCommit = false).
    #[arg(long)]
    no_verify_commit: bool,
    /// A public key, base64 (the second field of a .pub file): fetchGit's publicKey.
    #[arg(long, value_name = "KEY")]
    public_key: Option<String>,
    /// The type of --public-key: fetchGit's keytype (ssh-ed25519, ssh-rsa, ...; default ssh-ed25519).
    #[arg(long, value_name = "TYPE", requires = "public_key")]
    keytype: Option<String>,
    /// fetchGit's publicKeys as JSON: '[{"type": "ssh-rsa", "key": "AAAA..."}, {"key": "..."}]'.
    #[arg(long, value_name = "JSON")]
    public_keys: Option<String>,
}

impl SignatureFlags {
    /// The flags as fetchGitDate's attributes (`publicKeys` as its JSON), for a request.
    fn attributes(&self) -> Vec<(&'static str, Value)> {
        let mut attrs = Vec::new();
        match (self.verify_commit, self.no_verify_commit) {
            (true, _) => attrs.push(("verifyCommit", Value::Bool(true))),
            (_, true) => attrs.push(("verifyCommit", Value::Bool(false))),
            _ => {}
        }
        attrs.extend(self.public_keys.clone().map(|json| ("publicKeys", Value::String(json))));
        attrs.extend(self.public_key.clone().map(|key| ("publicKey", Value::String(key))));
        attrs.extend(self.keytype.clone().map(|t| ("keytype", Value::String(t))));
        attrs
    }

    fn verification(&self) -> Result<fetchgit_date::signature::CommitVerification, Failure> {
        use fetchgit_date::signature::{parse_public_keys, CommitVerification, PublicKey, DEFAULT_KEY_TYPE};
        let mut public_keys = match &self.public_keys {
            Some(json) => parse_public_keys(json)?,
            None => Vec::new(),
        };
        if let Some(key) = &self.public_key {
            public_keys.push(PublicKey { key_type: self.keytype.clone().unwrap_or_else(|| DEFAULT_KEY_TYPE.to_owned()), key: key.clone() });
        }
        let verify_commit = match (self.verify_commit, self.no_verify_commit) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        };
        Ok(CommitVerification { verify_commit, public_keys })
    }
}

/// `--nix-version`'s help, naming the default release from the library's one constant.
fn nix_version_help() -> String {
    format!(
        "Behave like the builtins.fetchGit of this Nix release (as builtins.nixVersion prints it: 2.8.0, 2.26.3, 2.18.3-lix); default {}, the newest release reproduced. It also picks the export generation",
        fetchgit_date::nix_version::DEFAULT_NIX_VERSION
    )
}

/// `--compat`'s help: a generation stands for its newest release.
fn compat_help() -> String {
    format!(
        "Behave like the newest release of this export generation: modern = the default release ({}), legacy = Nix {}; with --nix-version it must agree with that release",
        fetchgit_date::nix_version::DEFAULT_NIX_VERSION,
        fetchgit_date::nix_version::NEWEST_LEGACY_NIX_VERSION
    )
}

#[derive(Clone, Copy, ValueEnum)]
enum Compat {
    /// Nix >= 2.20: raw blobs, export-ignore from the commit's .gitattributes.
    Modern,
    /// Nix <= 2.19 and Lix: git archive (export-ignore, export-subst, line endings).
    Legacy,
}

impl Compat {
    fn as_str(self) -> &'static str {
        match self {
            Compat::Modern => "modern",
            Compat::Legacy => "legacy",
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Json,
    Nix,
}

#[derive(Args)]
struct FetchArgs {
    #[command(flatten)]
    source: Source,
    #[command(flatten)]
    truncation: Truncation,
    /// A release by its export generation (see --help).
    #[arg(long, value_enum, help = compat_help())]
    compat: Option<Compat>,
    /// Keep paths marked export-ignore (modern only; like fetchGit's exportIgnore = false).
    #[arg(long)]
    no_export_ignore: bool,
    /// Replace Git LFS pointer files by their contents (fetchGit's lfs = true, Nix >= 2.27).
    #[arg(long)]
    lfs: bool,
    /// Fetch the submodules too, at the commits the (truncated) commit records (fetchGit's
    /// submodules = true).
    #[arg(long)]
    submodules: bool,
    #[command(flatten)]
    signature: SignatureFlags,
    /// Store path name.
    #[arg(long, default_value = "source")]
    name: String,
    /// Compute the attributes without adding the tree to the Nix store.
    #[arg(long)]
    no_store: bool,
    /// Store to add to: auto (the daemon socket if one answers, else nix-daemon --stdio),
    /// daemon, unix:///path/to/socket, or a URI for nix-daemon --store (local?root=DIR).
    #[arg(long, value_name = "URI", default_value = "auto", conflicts_with = "no_store")]
    store: nixstore::daemon::StoreUri,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
    /// Fail unless the NAR hash is this (SRI, as fetchGit's narHash); nothing is added to the store.
    #[arg(long, value_name = "SRI")]
    nar_hash: Option<String>,
    /// Fail unless lastModified is this (Unix seconds), as fetchGit's lastModified.
    #[arg(long, value_name = "SECONDS")]
    last_modified: Option<i64>,
    /// Fail unless revCount is this, as fetchGit's revCount (passed through when none is computed).
    #[arg(long, value_name = "N")]
    rev_count: Option<i64>,
}

#[derive(Args)]
#[command(group = clap::ArgGroup::new("when").required(true).args(["date", "interval"]))]
struct ResolveArgs {
    #[command(flatten)]
    source: Source,
    #[command(flatten)]
    truncation: Truncation,
}

#[derive(Args)]
struct HashArgs {
    /// File or directory to hash.
    path: std::path::PathBuf,
    /// Print nix-base32 instead of SRI.
    #[arg(long)]
    base32: bool,
}

#[derive(Args)]
struct VerifyArgs {
    /// Repository: a path (work tree or bare) or file:// URL.
    #[arg(long, value_name = "URL")]
    url: String,
    /// Full 40-hex commit.
    #[arg(long, value_name = "REV")]
    rev: String,
    /// The narHash to check (SRI, or sha256:<base32|hex>).
    #[arg(long, value_name = "SRI")]
    nar_hash: String,
    /// Store path name (to print the matching store path).
    #[arg(long, default_value = "source")]
    name: String,
    /// Also try the exports with Git LFS contents (Nix >= 2.27 with lfs = true); fetches the
    /// LFS objects.
    #[arg(long)]
    lfs: bool,
    /// Also try the exports with submodules (fetchGit's submodules = true); fetches them.
    #[arg(long)]
    submodules: bool,
    #[command(flatten)]
    signature: SignatureFlags,
}

/// A failure to report: one line, exit code 2.
struct Failure(String);

impl<E: std::error::Error> From<E> for Failure {
    fn from(err: E) -> Self {
        Failure(error_chain(&err))
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => {
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            let rendered = err.render().to_string();
            let line = rendered.lines().next().unwrap_or("invalid arguments").trim_start_matches("error: ");
            eprintln!("fetchgit-date: {line} (see fetchgit-date --help)");
            return ExitCode::from(2);
        }
    };
    let mut stdout = std::io::stdout().lock();
    let result = match cli.command {
        Command::Fetch(args) => fetch(args, &mut stdout),
        Command::Resolve(args) => resolve(args, &mut stdout),
        Command::Hash(args) => hash(args, &mut stdout),
        Command::Verify(args) => verify(args, &mut stdout),
        Command::VerifyLock(args) => verify_lock::verify_lock(args, &mut stdout),
        Command::VerifyList(args) => verify_lock::verify_list(args, &mut stdout),
    };
    match result.and_then(|code| stdout.flush().map(|_| code).map_err(Failure::from)) {
        Ok(code) => code,
        Err(Failure(message)) if message.contains("Broken pipe") => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            eprintln!("fetchgit-date: {message}");
            ExitCode::from(2)
        }
    }
}

/// The request the flags make, checked by the library exactly as builtins.fetchGitDate's
/// arguments are (`fetchgit_date::request`), with flags named in its messages.
fn request(source: &Source, truncation: &Truncation, more: &[(&str, Value)]) -> Result<Request, Failure> {
    let mut attrs = vec![("url", Value::String(source.url.clone()))];
    let mut given = |name, value: Option<Value>| attrs.extend(value.map(|v| (name, v)));
    given("ref", source.ref_name.clone().map(Value::String));
    given("rev", source.rev.clone().map(Value::String));
    given("nixVersion", source.nix_version.clone().map(Value::String));
    given("date", truncation.date.clone().map(Value::String));
    given("interval", truncation.interval.clone().map(Value::String));
    given("firstParent", truncation.first_parent.then_some(Value::Bool(true)));
    given("rootFallback", truncation.no_root_fallback.then_some(Value::Bool(false)));
    given("shallow", source.remote.shallow.then_some(Value::Bool(true)));
    given("allRefs", source.remote.all_refs.then_some(Value::Bool(true)));
    attrs.extend(more.iter().cloned());
    let attrs: Vec<_> = attrs.into_iter().map(|(n, v)| (n.to_owned(), v)).collect();
    let request = Request::from_attributes(&attrs, &Context::cli(DEFAULT_STORE_DIR))?;
    for warning in &request.warnings {
        eprintln!("fetchgit-date: warning: {warning}");
    }
    Ok(request)
}

fn fetch(args: FetchArgs, out: &mut impl Write) -> Result<ExitCode, Failure> {
    let mut more = vec![("name", Value::String(args.name.clone()))];
    if let Some(compat) = args.compat {
        more.push(("compat", Value::String(compat.as_str().into())));
    }
    if args.no_export_ignore {
        more.push(("exportIgnore", Value::Bool(false)));
    }
    if args.lfs {
        more.push(("lfs", Value::Bool(true)));
    }
    if args.submodules {
        more.push(("submodules", Value::Bool(true)));
    }
    more.extend(args.signature.attributes());
    more.extend(args.nar_hash.clone().map(|hash| ("narHash", Value::String(hash))));
    more.extend(args.last_modified.map(|time| ("lastModified", Value::Int(time))));
    more.extend(args.rev_count.map(|count| ("revCount", Value::Int(count))));
    let request = request(&args.source, &args.truncation, &more)?;
    let fetcher = pipeline::open(&request, Cache::from_environment(), &args.source.remote.options(&request, false))?;
    let timeout = std::time::Duration::from_secs(args.source.remote.timeout);
    let outcome = if args.no_store {
        pipeline::run(&request, &fetcher, &NoStore(DEFAULT_STORE_DIR))?
    } else {
        pipeline::run(&request, &fetcher, &DaemonStore { uri: &args.store, store_dir: DEFAULT_STORE_DIR, timeout })?
    };
    let fetched = outcome.fetched;
    if let Some(verified) = &fetched.verified {
        eprintln!("fetchgit-date: commit {} has a good signature by key {}", verified.commit, verified.fingerprint);
    }
    if outcome.added {
        eprintln!("fetchgit-date: added {} ({} bytes of NAR)", fetched.attrs.out_path, fetched.nar_size);
    }
    let Fetched { attrs, .. } = fetched;
    match args.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string(&attrs).expect("plain data serialises"))?,
        // Only a path that is in the store may carry string context (see nix_expr.rs).
        Format::Nix if args.no_store => writeln!(out, "{}", attrs.to_nix_unstored())?,
        Format::Nix => writeln!(out, "{}", attrs.to_nix())?,
    }
    Ok(ExitCode::SUCCESS)
}

fn resolve(args: ResolveArgs, out: &mut impl Write) -> Result<ExitCode, Failure> {
    let request = request(&args.source, &args.truncation, &[])?;
    let selector = request.selector();
    // A commit id needs no revCount: only the history the truncation walks is fetched.
    let fetcher = Fetcher::open_as(&args.source.url, Cache::from_environment(), &selector, &args.source.remote.options(&request, true), &request.nix())?;
    let selection = fetcher.select(&selector)?;
    if let Some(info) = &selection.truncation {
        info.warn_if_root_fallback(&selection.commit.to_string());
    }
    writeln!(out, "{}", selection.commit)?;
    Ok(ExitCode::SUCCESS)
}

fn hash(args: HashArgs, out: &mut impl Write) -> Result<ExitCode, Failure> {
    let (hash, _) = nixstore::nar::hash_path(&args.path).map_err(|err| Failure(format!("cannot hash '{}': {}", args.path.display(), error_chain(&err))))?;
    let text = if args.base32 { hash.to_nix_base32() } else { hash.to_sri() };
    writeln!(out, "{text}")?;
    Ok(ExitCode::SUCCESS)
}

fn verify(args: VerifyArgs, out: &mut impl Write) -> Result<ExitCode, Failure> {
    let name = StorePathName::new(&args.name)?;
    let expected = NixHash::parse(&args.nar_hash)?;
    let fetcher = Fetcher::open(&args.url, Cache::from_environment())?;
    let commit = fetchgit_date::resolve::rev_commit(fetcher.repo(), &args.rev)?;
    let selector = Selector { rev: Some(args.rev.clone()), verification: args.signature.verification()?, ..Selector::default() };
    let signature = match fetcher.verify_signature(&selector, commit) {
        Ok(verified) => verified.map(|v| format!("signature: good, by key {}", v.fingerprint)),
        Err(err) => Some(format!("signature: {}", error_chain(&err))),
    };
    let verdict = fetchgit_date::verify::verify_with(&fetcher, commit, expected, args.lfs, args.submodules)?;
    for line in verdict.report() {
        writeln!(out, "{line}")?;
    }
    if let Some(line) = &signature {
        writeln!(out, "{line}")?;
    }
    let signature_failed = signature.as_deref().is_some_and(|line| !line.starts_with("signature: good"));
    Ok(match verdict.matching().filter(|_| !signature_failed) {
        Some(_) => {
            let path = nixstore::store_path::build_ca_path(&name, &expected, DEFAULT_STORE_DIR);
            writeln!(out, "store path: {}", path.to_absolute_path(DEFAULT_STORE_DIR))?;
            ExitCode::SUCCESS
        }
        None => ExitCode::from(1),
    })
}
