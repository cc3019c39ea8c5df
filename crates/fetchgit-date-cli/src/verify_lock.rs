//! `verify-lock` and `verify-list`: every locked source of a project checked under several Nix
//! releases (fetchgit_date::verify_lock). stdout carries the results (a table, or one JSON object
//! per input and release, one per line); progress goes to stderr.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use fetchgit_date::cache::Cache;
use fetchgit_date::nix_version::NixVersion;
use fetchgit_date::verify_lock::{self, LockedInput, ReleaseCheck, Status};

use crate::Failure;

#[derive(Clone, Copy, ValueEnum)]
pub enum CheckFormat {
    /// A table for people.
    Table,
    /// One JSON object per input and release, one per line.
    Json,
}

/// The flags `verify-lock` and `verify-list` share.
#[derive(Args)]
pub struct CheckFlags {
    /// A Nix release to check against (repeatable), as builtins.nixVersion prints it (2.8.0,
    /// 2.34.8, 2.18.3-lix); default: the oldest and newest release of each export generation
    /// reproduced, and Lix.
    #[arg(long = "nix-version", value_name = "VERSION")]
    nix_versions: Vec<String>,
    /// Read the repository of URL from the local repository PATH (or another URL) instead
    /// (repeatable; URL as locked, e.g. file:///src/x or https://github.com/o/r, or github:o/r).
    #[arg(long = "mirror", value_name = "URL=PATH")]
    mirrors: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: CheckFormat,
    /// Repositories checked at the same time (default: the number of CPUs).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..256))]
    jobs: Option<u64>,
    /// Give up on a remote after this many seconds without an answer.
    #[arg(long, value_name = "SECONDS", default_value_t = fetchgit_date::remote::DEFAULT_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// No progress on stderr.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Args)]
pub struct VerifyLockArgs {
    /// The flake.lock to check.
    #[arg(value_name = "FLAKE.LOCK")]
    lock: std::path::PathBuf,
    #[command(flatten)]
    flags: CheckFlags,
}

#[derive(Args)]
pub struct VerifyListArgs {
    /// A JSON list of nixpkgs fetchgit / fetchFromGitHub calls (see docs/usage.md).
    #[arg(value_name = "FILE.json")]
    list: std::path::PathBuf,
    #[command(flatten)]
    flags: CheckFlags,
}

pub fn verify_lock(args: VerifyLockArgs, out: &mut impl Write) -> Result<ExitCode, Failure> {
    let lock = verify_lock::lock::read(&args.lock)?;
    for (name, kind) in &lock.skipped {
        eprintln!(
            "fetchgit-date: input '{}' of type '{}' is not checked (only git, github, gitlab and sourcehut inputs are)",
            printable(name),
            printable(kind)
        );
    }
    run(&lock.inputs, &args.flags, out)
}

pub fn verify_list(args: VerifyListArgs, out: &mut impl Write) -> Result<ExitCode, Failure> {
    let inputs = verify_lock::list::read(&args.list)?;
    run(&inputs, &args.flags, out)
}

fn run(inputs: &[LockedInput], flags: &CheckFlags, out: &mut impl Write) -> Result<ExitCode, Failure> {
    let releases: Vec<NixVersion> = if flags.nix_versions.is_empty() {
        NixVersion::generation_bounds()
    } else {
        flags.nix_versions.iter().map(|text| text.parse()).collect::<Result<_, _>>()?
    };
    let mut mirrors = BTreeMap::new();
    for mirror in &flags.mirrors {
        // A URL may hold '=' (a query), a path rarely does: the last '=' separates them.
        let (url, path) = mirror
            .rsplit_once('=')
            .filter(|(url, path)| !url.is_empty() && !path.is_empty())
            .ok_or_else(|| Failure(format!("--mirror '{mirror}': expected URL=PATH")))?;
        if path.contains("://") {
            // Another URL (a mirror server): checked when it is opened, as any URL.
            mirrors.insert(url.to_owned(), path.to_owned());
            continue;
        }
        let path = std::path::Path::new(path);
        if !path.is_dir() {
            return Err(Failure(format!("--mirror '{mirror}': '{}' is not a directory: give the path of a local repository (or another URL)", path.display())));
        }
        let path = std::path::absolute(path).map_err(|err| Failure(format!("--mirror '{mirror}': {err}")))?;
        mirrors.insert(url.to_owned(), path.display().to_string());
    }
    let jobs = flags.jobs.map(|n| n as usize).unwrap_or_else(|| std::thread::available_parallelism().map(usize::from).unwrap_or(1));
    let remote = fetchgit_date::remote::RemoteOptions { timeout: std::time::Duration::from_secs(flags.timeout), ..Default::default() };
    let options = verify_lock::Options { mirrors, remote, cache: Cache::from_environment(), jobs };
    let show_progress = !flags.quiet && std::io::stderr().is_terminal();
    let progress = |done: usize, all: usize, name: &str| {
        if show_progress {
            eprint!("\r\x1b[Kverify: {done}/{all} inputs checked ({})", printable(name));
            if done == all {
                eprintln!();
            }
        }
    };
    let checks = verify_lock::check_all(inputs, &releases, &options, &progress);
    match flags.format {
        CheckFormat::Json => {
            for check in checks.iter().flatten() {
                writeln!(out, "{}", serde_json::to_string(check).expect("plain data serialises"))?;
            }
        }
        CheckFormat::Table => table(&checks, out)?,
    }
    Ok(ExitCode::from(verify_lock::exit_code(&checks)))
}

/// `text` without control characters (a lock's names, URLs and the reasons quoting them come
/// from the lock file, and a terminal would obey escape sequences in them).
fn printable(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

fn table(checks: &[Vec<ReleaseCheck>], out: &mut impl Write) -> std::io::Result<()> {
    let width = checks.iter().flatten().map(|c| c.release.len()).max().unwrap_or(0);
    for input in checks {
        let Some(first) = input.first() else { continue };
        writeln!(out, "{} ({} {})", printable(&first.input), first.r#type, printable(&first.source))?;
        writeln!(
            out,
            "  locked: narHash {}, rev {}",
            printable(first.locked.nar_hash.as_deref().unwrap_or("-")),
            printable(first.locked.rev.as_deref().unwrap_or("-"))
        )?;
        for check in input {
            let status = match check.status {
                Status::Reproduces => "reproduces".to_owned(),
                Status::Differs => format!("differs ({})", check.mismatches.join(", ")),
                Status::Unsupported => "cannot fetch it".to_owned(),
                Status::NotReproduced => "not checked".to_owned(),
                Status::Error => "error".to_owned(),
            };
            writeln!(out, "  {:width$}  {status}", check.release)?;
            let pad = " ".repeat(width + 4);
            if let Some(reason) = &check.reason {
                writeln!(out, "{pad}{}", printable(reason))?;
            }
            for field in &check.mismatches {
                let value = match *field {
                    "narHash" => check.computed.nar_hash.clone(),
                    "rev" => check.computed.rev.clone(),
                    "lastModified" => check.computed.last_modified.map(|v| v.to_string()),
                    _ => check.computed.rev_count.map(|v| v.to_string()),
                };
                writeln!(out, "{pad}would lock {field} {}", value.as_deref().unwrap_or("-"))?;
            }
            for cause in &check.causes {
                let kind = serde_json::to_value(cause.kind).expect("plain data serialises");
                writeln!(out, "{pad}cause {}: {}", kind.as_str().unwrap_or("?"), printable(&cause.detail))?;
            }
        }
    }
    Ok(())
}
