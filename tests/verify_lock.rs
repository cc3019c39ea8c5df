//! `fetchgit-date verify-lock` against lock files that real Nix wrote (issue 18), over the
//! repositories of `fixtures/make-verify-lock.sh` (eol attributes, export-subst, export-ignore,
//! submodules, an annotated tag, and a plain one):
//! - the host's Nix 2.8 runs `nix flake lock` live on `fixtures/verify-lock-flake.nix`;
//! - Nix 2.26.3's and 2.34.8's locks of the same flake are recorded in
//!   `fixtures/verify-lock-modern.json` and `verify-lock-nix-2.34.json` by
//!   `fixtures/record-verify-lock.sh` (trixie and sid oracles), their URLs pointed at our copies
//!   with `--mirror`.
//!
//! Each lock must reproduce under the release that wrote it. Under each other release, an input
//! whose two locks agree must reproduce; one whose locks differ must be reported as differing
//! in exactly the attributes that differ, with the cause the fixture was made for, and the
//! values it prints as "would lock" must be the other release's own lock.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use support::*;

/// Every recording the tests replay, oldest release first.
const RECORDINGS: [&str; 2] = ["fixtures/verify-lock-modern.json", "fixtures/verify-lock-nix-2.34.json"];

/// The newest recording (the one with `lfsLock`, Nix >= 2.27).
const RECORDING: &str = RECORDINGS[1];

/// The causes each fixture input was made for, when its locks differ between legacy (Nix 2.8)
/// and modern (Nix 2.34) releases.
const CAUSES: &[(&str, &[&str])] = &[
    ("plain", &[]),
    ("eol", &["eol-or-filter"]),
    ("subst", &["export-subst"]),
    ("ignore", &["export-ignore"]),
    ("tagged", &["tag-peeling"]),
    ("super", &["eol-or-filter", "submodules"]),
];

/// The attributes verify-lock compares, as the lock names them.
const COMPARED: [&str; 4] = ["narHash", "rev", "lastModified", "revCount"];

struct Setup {
    /// The repositories (make-verify-lock.sh's OUTDIR).
    fx: PathBuf,
    /// The lock Nix 2.8 wrote just now.
    lock_28: PathBuf,
    /// The recorded Nix 2.34 lock, written out as a file.
    lock_234: PathBuf,
    /// The recorded release, e.g. 2.34.8.
    recorded_release: String,
    /// Every lock: the live one and each recording's, as (release, lock file, mirrors).
    locks: Vec<(String, PathBuf, Vec<String>)>,
}

fn recording() -> Value {
    recording_at(RECORDING)
}

fn recording_at(path: &str) -> Value {
    let text = std::fs::read_to_string(project_root().join(path)).expect("the recording exists");
    serde_json::from_str(&text).expect("the recording is JSON")
}

fn sha256_of(path: &Path) -> String {
    let out = run_ok(Command::new("sha256sum").arg(path));
    out.split_whitespace().next().expect("sha256sum prints a hash").to_owned()
}

/// The release in a `nix --version` line ("nix (Nix) 2.34.8" -> "2.34.8").
fn release_of(line: &str) -> String {
    line.split_whitespace().last().expect("a version line has words").to_owned()
}

/// A fresh scratch directory holding make-verify-lock.sh's repositories in `fx`.
fn make_fx(label: &str) -> (PathBuf, PathBuf) {
    let base = fixtures().scratch(&format!("verify-lock-{label}"));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).expect("scratch");
    let fx = base.join("fx");
    run_ok(Command::new("sh").arg(project_root().join("fixtures/make-verify-lock.sh")).arg(&fx).stderr(Stdio::null()));
    (base, fx)
}

fn setup(label: &str) -> Option<Setup> {
    if !require_nix(label) {
        return None;
    }
    let (base, fx) = make_fx(label);

    // Nix 2.8's lock, live. Its git runs `git submodule update` for `submodules=1`, which git >=
    // 2.38.1 refuses for local paths unless protocol.file.allow says so (Nix's own tests set it).
    let flake = base.join("flake");
    std::fs::create_dir_all(&flake).expect("mkdir");
    let template = std::fs::read_to_string(project_root().join("fixtures/verify-lock-flake.nix")).expect("the flake template exists");
    std::fs::write(flake.join("flake.nix"), template.replace("@OUT@", &fx.display().to_string())).expect("write flake.nix");
    let home = base.join("home");
    std::fs::create_dir_all(&home).expect("mkdir");
    let mut lock = Command::new("nix");
    isolate(&mut lock)
        .env("HOME", &home)
        .env_remove("XDG_CACHE_HOME")
        .env("GIT_CONFIG_COUNT", "1")
        .env("GIT_CONFIG_KEY_0", "protocol.file.allow")
        .env("GIT_CONFIG_VALUE_0", "always")
        .args(["--extra-experimental-features", "nix-command flakes", "--option", "substituters", "", "flake", "lock"])
        .arg(format!("path:{}", flake.display()));
    run_ok(&mut lock);
    let host_release = release_of(run_ok(Command::new("nix").arg("--version")).trim());
    assert!(host_release.starts_with("2.8."), "the live lock must come from a legacy release (the host's Nix 2.8), got {host_release}");

    // The recorded locks, from the same script and flake.
    let mut locks = vec![(host_release.clone(), flake.join("flake.lock"), Vec::new())];
    for path in RECORDINGS {
        let recorded = recording_at(path);
        let header = &recorded["header"];
        for (key, file) in [("make_verify_lock_sha256", "fixtures/make-verify-lock.sh"), ("flake_sha256", "fixtures/verify-lock-flake.nix")] {
            assert_eq!(
                header[key].as_str(),
                Some(sha256_of(&project_root().join(file)).as_str()),
                "{file} changed since {path} was recorded: rerun fixtures/record-verify-lock.sh"
            );
        }
        let release = release_of(header["nix_version"].as_str().expect("the header names the release"));
        let lock = base.join(format!("nix-{release}.lock"));
        std::fs::write(&lock, serde_json::to_string_pretty(&recorded["lock"]).expect("serialise")).expect("write the recorded lock");
        let out = header["out"].as_str().expect("the header names the recording's OUTDIR");
        let mirrors = CAUSES.iter().map(|(name, _)| format!("file://{out}/{name}={}", fx.join(name).display())).collect();
        locks.push((release, lock, mirrors));
    }
    let (recorded_release, lock_234, _) = locks.last().cloned().expect("a recording");
    Some(Setup { lock_28: flake.join("flake.lock"), fx, lock_234, recorded_release, locks })
}

/// The `locked` attributes of every input of a lock file.
fn locked_inputs(lock: &Path) -> BTreeMap<String, Value> {
    let json: Value = serde_json::from_str(&std::fs::read_to_string(lock).expect("read the lock")).expect("a lock is JSON");
    json["nodes"].as_object().expect("nodes").iter().filter_map(|(name, node)| node.get("locked").map(|locked| (name.clone(), locked.clone()))).collect()
}

/// Runs verify-lock with `--format json`: (exit code, one object per input and release).
fn verify_lock(lock: &Path, releases: &[&str], mirrors: &[String]) -> (i32, Vec<Value>) {
    let mut cmd = bin();
    cmd.arg("verify-lock").arg(lock).args(["--format", "json"]);
    for release in releases {
        cmd.args(["--nix-version", release]);
    }
    for mirror in mirrors {
        cmd.args(["--mirror", mirror]);
    }
    let out = cmd.output().expect("run fetchgit-date");
    let stdout = String::from_utf8(out.stdout).expect("stdout is UTF-8");
    let checks = stdout.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"))).collect();
    assert!(out.status.code().is_some(), "killed: {}", String::from_utf8_lossy(&out.stderr));
    (out.status.code().expect("an exit code"), checks)
}

fn find<'a>(checks: &'a [Value], input: &str, release: &str) -> &'a Value {
    checks.iter().find(|c| c["input"] == input && c["release"] == release).unwrap_or_else(|| panic!("no result for input {input} under {release}: {checks:#?}"))
}

/// Checks `lock` (written by `own`) under `own` and `other`, whose lock is `other_lock`.
fn check_lock_against(lock: &Path, own: &str, other: &str, other_lock: &Path, mirrors: &[String]) -> Vec<String> {
    let mine = locked_inputs(lock);
    let theirs = locked_inputs(other_lock);
    let (code, checks) = verify_lock(lock, &[own, other], mirrors);
    let mut diffs = Vec::new();
    let mut any_differs = false;
    assert_eq!(checks.len(), CAUSES.len() * 2, "one object per input and release");
    for (name, expected_causes) in CAUSES {
        let at_own = find(&checks, name, own);
        if at_own["status"] != "reproduces" {
            diffs.push(format!("{name}: the lock Nix {own} wrote does not reproduce under {own}: {at_own}"));
        }
        let at_other = find(&checks, name, other);
        let differing: BTreeSet<&str> = COMPARED.iter().copied().filter(|field| mine[*name][field] != theirs[*name][field]).collect();
        let reported: BTreeSet<&str> = at_other["mismatches"].as_array().expect("mismatches").iter().map(|v| v.as_str().expect("a name")).collect();
        if reported != differing {
            diffs.push(format!("{name} under {other}: reported mismatches {reported:?}, the two locks differ in {differing:?}"));
        }
        let expected_status = if differing.is_empty() { "reproduces" } else { "differs" };
        any_differs |= !differing.is_empty();
        if at_other["status"] != expected_status {
            diffs.push(format!("{name} under {other}: status {}, expected {expected_status}", at_other["status"]));
        }
        // What it says the other release would lock is that release's own lock.
        for field in COMPARED {
            if let Some(value) = theirs[*name].get(field) {
                if at_other["computed"][field] != *value {
                    diffs.push(format!("{name} under {other}: would lock {field} {}, Nix {other} locked {value}", at_other["computed"][field]));
                }
            }
        }
        let causes: BTreeSet<&str> = at_other["causes"].as_array().expect("causes").iter().map(|c| c["kind"].as_str().expect("a kind")).collect();
        let expected: BTreeSet<&str> = if differing.is_empty() { BTreeSet::new() } else { expected_causes.iter().copied().collect() };
        if causes != expected {
            diffs.push(format!("{name} under {other}: causes {causes:?}, expected {expected:?}: {at_other}"));
        }
    }
    assert!(any_differs, "the fixture must make the two releases' locks differ");
    if code != 1 {
        diffs.push(format!("exit code {code} with inputs that do not reproduce under {other}, expected 1"));
    }
    let (code, _) = verify_lock(lock, &[own], mirrors);
    if code != 0 {
        diffs.push(format!("exit code {code} checking the lock of Nix {own} under {own} alone, expected 0"));
    }
    diffs
}

/// Every lock (Nix 2.8 live, 2.26.3 and 2.34.8 recorded) against every other release.
#[test]
fn each_lock_reproduces_under_its_release_and_names_what_the_others_lock_instead() {
    let Some(setup) = setup("pairs") else { return };
    let mut diffs = Vec::new();
    let mut checked = 0;
    for (own, lock, mirrors) in &setup.locks {
        for (other, other_lock, _) in setup.locks.iter().filter(|(other, ..)| other != own) {
            diffs.extend(check_lock_against(lock, own, other, other_lock, mirrors));
            checked += CAUSES.len();
        }
    }
    assert_eq!(setup.locks.len(), 1 + RECORDINGS.len());
    assert_no_diffs("every lock against every release", checked, &diffs);
}

/// The table names the cause and the other hash too; a missing repository is an error (exit 2),
/// and a bad lock or mirror is a one-line error.
#[test]
fn table_errors_and_exit_codes() {
    let Some(setup) = setup("table") else { return };
    let theirs = locked_inputs(&setup.lock_234);
    let out = bin().arg("verify-lock").arg(&setup.lock_28).args(["--nix-version", &setup.recorded_release]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let table = String::from_utf8(out.stdout).expect("UTF-8");
    for expected in ["cause export-subst", "cause export-ignore", "cause eol-or-filter", "cause tag-peeling", "cause submodules"] {
        assert!(table.contains(expected), "the table lacks '{expected}':\n{table}");
    }
    let subst_hash = theirs["subst"]["narHash"].as_str().expect("narHash");
    assert!(table.contains(&format!("would lock narHash {subst_hash}")), "the table lacks the other release's hash:\n{table}");

    // The default releases: the bounds of each generation and Lix. `plain` reproduces under all;
    // `super` (a relative submodule URL, no `origin`) is fetched by no Nix from 2.14 to 2.19 nor
    // Lix, and submodules of 2.20.0 are not reproduced.
    let (code, checks) = verify_lock(&setup.lock_28, &[], &[]);
    assert_eq!(code, 1);
    let releases: Vec<&str> = checks.iter().filter(|c| c["input"] == "plain").map(|c| c["release"].as_str().expect("release")).collect();
    assert_eq!(releases, ["2.8.0", "2.19.7", "2.20.0", "2.35.2", "2.18.3-lix"]);
    assert!(checks.iter().filter(|c| c["input"] == "plain").all(|c| c["status"] == "reproduces"), "{checks:#?}");
    let super_status: Vec<&str> = checks.iter().filter(|c| c["input"] == "super").map(|c| c["status"].as_str().expect("status")).collect();
    assert_eq!(super_status, ["reproduces", "unsupported", "not-reproduced", "differs", "unsupported"], "{checks:#?}");

    // Without the mirrors, the recorded lock's repositories do not exist here: an error.
    let (code, checks) = verify_lock(&setup.lock_234, &[&setup.recorded_release], &[]);
    assert_eq!(code, 2);
    assert!(checks.iter().all(|c| c["status"] == "error" && c["reason"].as_str().is_some_and(|r| !r.is_empty())), "{checks:#?}");

    // A narHash that no export of the commit gives (another input's): "unexplained", with the
    // hash the release computes.
    let mut json: Value = serde_json::from_str(&std::fs::read_to_string(&setup.lock_28).expect("read")).expect("JSON");
    let own = locked_inputs(&setup.lock_28);
    json["nodes"]["plain"]["locked"]["narHash"] = own["eol"]["narHash"].clone();
    let foreign = setup.fx.join("foreign.lock");
    std::fs::write(&foreign, json.to_string()).expect("write");
    let host = release_of(run_ok(Command::new("nix").arg("--version")).trim());
    let (code, checks) = verify_lock(&foreign, &[&host], &[]);
    assert_eq!(code, 1);
    let plain = find(&checks, "plain", &host);
    assert_eq!((plain["status"].as_str(), plain["causes"][0]["kind"].as_str()), (Some("differs"), Some("unexplained")), "{plain}");
    assert_eq!(plain["computed"]["narHash"], own["plain"]["narHash"], "{plain}");

    let bad = setup.fx.join("bad.lock");
    std::fs::write(&bad, "{\"version\": 7}").expect("write");
    for args in [
        vec!["verify-lock".to_owned(), bad.display().to_string()],
        vec!["verify-lock".to_owned(), setup.lock_28.display().to_string(), "--nix-version".into(), "two.eight".into()],
        vec!["verify-lock".to_owned(), setup.lock_28.display().to_string(), "--mirror".into(), "file:///x=/does/not/exist".into()],
    ] {
        let out = bin().args(&args).output().expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: one line: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
    }
}

/// The forge repositories of the tarball test, and the owner each forge input names.
const TARBALL_REPOS: [&str; 4] = ["forge", "plain", "eol", "ignore"];

/// A lock file with one `type` input per entry (name, repo, narHash, lastModified, rev).
fn forge_lock(path: &Path, inputs: &[(String, &str, &str, String, Value, String)]) {
    let mut nodes = serde_json::Map::new();
    let mut root_inputs = serde_json::Map::new();
    for (name, kind, repo, nar_hash, last_modified, rev) in inputs {
        let owner = if *kind == "sourcehut" { "~fixtures" } else { "fixtures" };
        let locked = serde_json::json!({"type": kind, "owner": owner, "repo": repo, "rev": rev, "narHash": nar_hash, "lastModified": last_modified});
        nodes.insert(name.clone(), serde_json::json!({"flake": false, "locked": locked, "original": {"type": kind, "owner": owner, "repo": repo}}));
        root_inputs.insert(name.clone(), Value::String(name.clone()));
    }
    nodes.insert("root".into(), serde_json::json!({"inputs": root_inputs}));
    let lock = serde_json::json!({"version": 7, "root": "root", "nodes": nodes});
    std::fs::write(path, serde_json::to_string_pretty(&lock).expect("serialise")).expect("write the lock");
}

/// github/gitlab/sourcehut inputs: the forge's tarball is `git archive` of the commit, here made
/// from the fixture and unpacked by Nix itself (the host's Nix 2.8 `nix-prefetch-url --unpack`
/// live; Nix 2.34.8's `nix-prefetch-url --unpack` and tarball fetcher recorded). A lock with
/// those hashes reproduces under both releases; a wrong hash is a difference that names the
/// tarball's real hash, except where the tree has export-subst files (the forge's own refs and
/// git decide them): not reproduced, never "reproduces" or "differs".
#[test]
fn forge_tarballs_are_git_archive_unpacked_by_nix() {
    if !require_nix("forge tarballs") {
        return;
    }
    let (base, fx) = make_fx("forge");
    let recorded = recording();
    let recorded_release = release_of(recorded["header"]["nix_version"].as_str().expect("release"));
    let host_release = release_of(run_ok(Command::new("nix").arg("--version")).trim());
    let home = base.join("home");
    std::fs::create_dir_all(&home).expect("mkdir");
    let nix = |args: &[&str]| {
        let mut cmd = Command::new(args[0]);
        isolate(&mut cmd).env("HOME", &home).env_remove("XDG_CACHE_HOME").args(&args[1..]);
        run_ok(&mut cmd).trim().to_owned()
    };
    let to_sri = |base32: &str| nix(&["nix", "--extra-experimental-features", "nix-command", "hash", "to-sri", "--type", "sha256", base32]);
    let mut hashes = BTreeMap::new();
    let mut inputs = Vec::new();
    let mut mirrors = Vec::new();
    for repo in TARBALL_REPOS {
        let rev = git(&fx.join(repo), &["rev-parse", "HEAD"]).trim().to_owned();
        let tarball = &recorded["tarballs"][repo];
        assert_eq!(tarball["rev"].as_str(), Some(rev.as_str()), "{repo}: the fixture's commit is the recorded one");
        let archive = base.join(format!("{repo}.tar.gz"));
        let out = Command::new("git")
            .arg("-C")
            .arg(fx.join(repo))
            .args(["archive", "--format=tar.gz", &format!("--prefix={repo}-{rev}/"), &rev])
            .output()
            .expect("git archive");
        assert!(out.status.success());
        std::fs::write(&archive, out.stdout).expect("write the tarball");
        let live = to_sri(&nix(&["nix-prefetch-url", "--unpack", &format!("file://{}", archive.display())]));
        let recorded_unpack = to_sri(tarball["prefetchUrlUnpack"].as_str().expect("recorded"));
        let recorded_fetcher = tarball["flakePrefetch"]["locked"]["narHash"].as_str().expect("recorded").to_owned();
        assert_eq!(
            (&live, &recorded_unpack),
            (&recorded_fetcher, &recorded_fetcher),
            "{repo}: Nix {host_release} and {recorded_release} unpack the tarball to one tree"
        );
        for path in RECORDINGS {
            let other = &recording_at(path)["tarballs"][repo];
            let unpacked = to_sri(other["prefetchUrlUnpack"].as_str().expect("recorded"));
            assert_eq!((unpacked.as_str(), other["flakePrefetch"]["locked"]["narHash"].as_str()), (live.as_str(), Some(live.as_str())), "{repo}: {path}");
        }
        let last_modified = tarball["flakePrefetch"]["locked"]["lastModified"].clone();
        hashes.insert(repo, live.clone());
        for kind in ["github", "gitlab", "sourcehut"] {
            let owner = if kind == "sourcehut" { "~fixtures" } else { "fixtures" };
            mirrors.push(format!("{kind}:{owner}/{repo}={}", fx.join(repo).display()));
            inputs.push((format!("{kind}-{repo}"), kind, repo, live.clone(), last_modified.clone(), rev.clone()));
        }
    }
    let releases = [host_release.as_str(), recorded_release.as_str()];
    let good = base.join("good.lock");
    forge_lock(&good, &inputs);
    let (code, checks) = verify_lock(&good, &releases, &mirrors);
    assert_eq!(checks.len(), inputs.len() * 2, "{checks:#?}");
    let not_reproducing: Vec<&Value> = checks.iter().filter(|c| c["status"] != "reproduces").collect();
    assert!(not_reproducing.is_empty(), "{not_reproducing:#?}");
    assert_eq!(code, 0);

    // Wrong hashes: plain locked with eol's, forge with plain's.
    let wrong: Vec<_> = inputs
        .iter()
        .cloned()
        .map(|mut input| {
            match input.2 {
                "plain" => input.3 = hashes["eol"].clone(),
                "forge" => input.3 = hashes["plain"].clone(),
                _ => {}
            }
            input
        })
        .collect();
    let bad = base.join("bad.lock");
    forge_lock(&bad, &wrong);
    let (code, checks) = verify_lock(&bad, &releases, &mirrors);
    assert_eq!(code, 1);
    for check in &checks {
        let input = check["input"].as_str().expect("name");
        if input.ends_with("-plain") {
            assert_eq!(check["status"], "differs", "{check}");
            assert_eq!(check["computed"]["narHash"].as_str(), Some(hashes["plain"].as_str()), "the tarball's own hash: {check}");
        } else if input.ends_with("-forge") {
            assert_eq!(check["status"], "not-reproduced", "{check}");
            assert!(check["reason"].as_str().is_some_and(|r| r.contains("export-subst") && r.contains("version.txt")), "{check}");
        } else {
            assert_eq!(check["status"], "reproduces", "{check}");
        }
    }
}

/// What nixpkgs' nix-prefetch-git (NixOS/nixpkgs 00ed9cc3bd) leaves for `rev` of `repo`, done
/// with its own steps: init, `remote add origin`, `fetch --depth=1 origin REV`, `checkout -b
/// fetchgit REV`, with submodules `submodule update --init --recursive`, then every `.git`
/// removed; hashed by Nix's `nix-hash`.
fn nixpkgs_checkout(base: &Path, repo: &Path, rev: &str, submodules: bool, nix_hash: &dyn Fn(&Path) -> String) -> String {
    let dir = base.join(format!("checkout-{}-{submodules}", repo.file_name().expect("a name").to_string_lossy()));
    let git_in = |args: &[&str]| {
        let mut cmd = Command::new("git");
        isolate(&mut cmd)
            .env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "protocol.file.allow")
            .env("GIT_CONFIG_VALUE_0", "always")
            .arg("-C")
            .arg(&dir)
            .args(args);
        run_ok(&mut cmd);
    };
    std::fs::create_dir_all(&dir).expect("mkdir");
    git_in(&["init", "-q", "--initial-branch=master"]);
    git_in(&["remote", "add", "origin", &repo.display().to_string()]);
    git_in(&["fetch", "-q", "--depth=1", "origin", rev]);
    git_in(&["checkout", "-q", "-b", "fetchgit", rev]);
    if submodules {
        git_in(&["submodule", "-q", "update", "--init", "--recursive"]);
    }
    run_ok(Command::new("find").arg(&dir).args(["-name", ".git", "-exec", "rm", "-rf", "{}", "+"]));
    nix_hash(&dir)
}

/// `verify-list`: nixpkgs' fetchgit is a checkout without `.git` (submodules by default), and
/// fetchFromGitHub the forge tarball unless it falls back to fetchgit; each call's hash, made
/// as nixpkgs makes it and hashed by Nix, reproduces; a fetchgit call holding a tarball's hash
/// differs with the cause named; leaveDotGit is refused.
#[test]
fn verify_list_follows_nixpkgs_fetchers() {
    if !require_nix("verify-list") {
        return;
    }
    let (base, fx) = make_fx("list");
    let home = base.join("home");
    std::fs::create_dir_all(&home).expect("mkdir");
    let nix = |args: &[&str]| {
        let mut cmd = Command::new(args[0]);
        isolate(&mut cmd).env("HOME", &home).env_remove("XDG_CACHE_HOME").args(&args[1..]);
        run_ok(&mut cmd).trim().to_owned()
    };
    let to_sri = |base32: &str| nix(&["nix", "--extra-experimental-features", "nix-command", "hash", "to-sri", "--type", "sha256", base32]);
    let nix_hash = |dir: &Path| to_sri(&nix(&["nix-hash", "--type", "sha256", "--base32", &dir.display().to_string()]));
    let mut calls = Vec::new();
    let mut mirrors = Vec::new();
    let mut checkouts = BTreeMap::new();
    let mut tarballs = BTreeMap::new();
    for repo in ["plain", "eol", "subst", "ignore", "super"] {
        let path = fx.join(repo);
        let rev = git(&path, &["rev-parse", "HEAD"]).trim().to_owned();
        let checkout = nixpkgs_checkout(&base, &path, &rev, true, &nix_hash);
        calls.push(serde_json::json!({"fetcher": "fetchgit", "url": path.display().to_string(), "rev": rev, "hash": checkout}));
        mirrors.push(format!("github:fixtures/{repo}={}", path.display()));
        mirrors.push(format!("https://github.com/fixtures/{repo}.git={}", path.display()));
        if repo == "super" {
            calls.push(
                serde_json::json!({"fetcher": "fetchFromGitHub", "owner": "fixtures", "repo": repo, "rev": rev, "hash": checkout, "fetchSubmodules": true}),
            );
        } else {
            let archive = base.join(format!("{repo}.tar.gz"));
            let out = Command::new("git")
                .arg("-C")
                .arg(&path)
                .args(["archive", "--format=tar.gz", &format!("--prefix={repo}-{rev}/"), &rev])
                .output()
                .expect("git archive");
            assert!(out.status.success());
            std::fs::write(&archive, out.stdout).expect("write the tarball");
            let tarball = to_sri(&nix(&["nix-prefetch-url", "--unpack", &format!("file://{}", archive.display())]));
            calls.push(serde_json::json!({"fetcher": "fetchFromGitHub", "owner": "fixtures", "repo": repo, "rev": rev, "hash": tarball}));
            calls.push(
                serde_json::json!({"fetcher": "fetchFromGitHub", "owner": "fixtures", "repo": repo, "rev": rev, "hash": checkout, "forceFetchGit": true}),
            );
            tarballs.insert(repo, (rev.clone(), tarball));
        }
        checkouts.insert(repo, checkout);
    }
    for repo in ["subst", "ignore"] {
        assert_ne!(checkouts[repo], tarballs[repo].1, "{repo}: the fixture must tell a checkout from a tarball");
    }
    let list = base.join("list.json");
    std::fs::write(&list, serde_json::to_string_pretty(&calls).expect("serialise")).expect("write");
    let run = |list: &Path| {
        let mut cmd = bin();
        cmd.arg("verify-list").arg(list).args(["--format", "json", "--nix-version", "2.8.0"]);
        for mirror in &mirrors {
            cmd.args(["--mirror", mirror]);
        }
        let out = cmd.output().expect("run");
        let checks: Vec<Value> = String::from_utf8(out.stdout).expect("UTF-8").lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
        (out.status.code(), checks, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, checks, _) = run(&list);
    assert_eq!(checks.len(), calls.len());
    let failing: Vec<&Value> = checks.iter().filter(|c| c["status"] != "reproduces").collect();
    assert!(failing.is_empty(), "{failing:#?}");
    assert_eq!(code, Some(0));

    // A fetchgit call holding the tarball's hash (export-subst expanded).
    let (rev, tarball) = &tarballs["subst"];
    let wrong = base.join("wrong.json");
    let call = serde_json::json!([{"fetcher": "fetchgit", "url": fx.join("subst").display().to_string(), "rev": rev, "hash": tarball}]);
    std::fs::write(&wrong, call.to_string()).expect("write");
    let (code, checks, _) = run(&wrong);
    assert_eq!(code, Some(1));
    assert_eq!(checks[0]["status"], "differs");
    assert_eq!(checks[0]["computed"]["narHash"].as_str(), Some(checkouts["subst"].as_str()));
    assert_eq!(checks[0]["causes"][0]["kind"], "export-subst", "{}", checks[0]);

    // Without fetchSubmodules, git checkout leaves a submodule an empty directory: not reproduced.
    let unsupported = base.join("no-submodules.json");
    let super_rev = git(&fx.join("super"), &["rev-parse", "HEAD"]).trim().to_owned();
    let call = serde_json::json!([{"fetcher": "fetchgit", "url": fx.join("super").display().to_string(), "rev": super_rev, "hash": checkouts["super"], "fetchSubmodules": false}]);
    std::fs::write(&unsupported, call.to_string()).expect("write");
    let (code, checks, _) = run(&unsupported);
    assert_eq!(code, Some(1));
    assert_eq!(checks[0]["status"], "not-reproduced", "{}", checks[0]);
    assert!(checks[0]["reason"].as_str().is_some_and(|r| r.contains("'lib'")), "{}", checks[0]);

    let refused = base.join("refused.json");
    let call = serde_json::json!([{"fetcher": "fetchgit", "url": fx.join("plain").display().to_string(), "rev": rev, "hash": tarball, "leaveDotGit": true}]);
    std::fs::write(&refused, call.to_string()).expect("write");
    let (code, checks, stderr) = run(&refused);
    assert_eq!(code, Some(2));
    assert!(checks.is_empty());
    assert!(stderr.trim().lines().count() == 1 && stderr.contains("leaveDotGit"), "{stderr}");
}

/// Bulk: 31 inputs of one remote (smart HTTP on the loopback), checked under a legacy and a
/// modern release with two worker threads, come out in lock order, all reproducing, with the
/// remote fetched once per release's way of fetching (legacy: the ref; modern: the rev), not
/// once per input.
#[test]
fn bulk_inputs_of_one_remote_share_its_fetch() {
    let scratch = support::Scratch::new();
    let bare = support::make_fixture(&scratch, 30);
    // Pack requests are counted: one per history fetch without a partial clone (which would add
    // one request per exported tree; tests/remote/partial_clone.rs counts those).
    support::git(&bare, &["config", "uploadpack.allowFilter", "false"]);
    let server = support::http_server(&scratch);
    let url = format!("http://127.0.0.1:{}/repo.git", server.port);
    let revs: Vec<String> = support::git(&bare, &["rev-list", "main"]).lines().map(str::to_owned).collect();
    assert_eq!(revs.len(), 30);
    // The locked values, from the bare repository by path (the server is not involved).
    let other_home = scratch.dir.path().join("other-home");
    std::fs::create_dir_all(&other_home).expect("mkdir");
    let mut nodes = serde_json::Map::new();
    let mut root_inputs = serde_json::Map::new();
    for (index, rev) in revs.iter().enumerate() {
        let out = run_bin_in(&other_home, &["fetch", "--url", &bare.display().to_string(), "--rev", rev, "--no-store", "--nix-version", "2.35.2"], &[]);
        let attrs = support::ok_json(&out, "fetch");
        let name = format!("in{index:02}");
        let locked = serde_json::json!({"type": "git", "url": url, "ref": "refs/heads/main", "rev": rev, "narHash": attrs["narHash"], "lastModified": attrs["lastModified"], "revCount": attrs["revCount"]});
        nodes.insert(name.clone(), serde_json::json!({"flake": false, "locked": locked, "original": {"type": "git", "url": url, "ref": "main"}}));
        root_inputs.insert(name.clone(), Value::String(name));
    }
    nodes.insert("root".into(), serde_json::json!({"inputs": root_inputs}));
    let lock = scratch.dir.path().join("flake.lock");
    std::fs::write(&lock, serde_json::json!({"version": 7, "root": "root", "nodes": nodes}).to_string()).expect("write");
    let out = run_bin_in(
        scratch.home().as_path(),
        &["verify-lock", &lock.display().to_string(), "--nix-version", "2.8.0", "--nix-version", "2.35.2", "--jobs", "2", "--format", "json"],
        &[],
    );
    let checks: Vec<Value> = String::from_utf8(out.stdout).expect("UTF-8").lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    assert_eq!(out.status.code(), Some(0), "{}: {checks:#?}", String::from_utf8_lossy(&out.stderr));
    let order: Vec<(String, String)> =
        checks.iter().map(|c| (c["input"].as_str().expect("name").to_owned(), c["release"].as_str().expect("release").to_owned())).collect();
    let expected: Vec<(String, String)> = (0..revs.len()).flat_map(|i| ["2.8.0", "2.35.2"].map(|r| (format!("in{i:02}"), r.to_owned()))).collect();
    assert_eq!(order, expected, "one object per input and release, in lock order");
    assert!(checks.iter().all(|c| c["status"] == "reproduces"), "{checks:#?}");
    let fetches = server.pack_requests();
    assert!((1..=2).contains(&fetches), "{fetches} pack requests for {} inputs: expected one per release's way of fetching", revs.len());
}

/// tests/lfs_support/lfs_server.py on the loopback, killed on drop.
struct LfsServer(std::process::Child, u16);

impl Drop for LfsServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn lfs_server(fx: &Path) -> LfsServer {
    use std::io::BufRead;
    let mut child = Command::new("python3")
        .arg(project_root().join("tests/lfs_support/lfs_server.py"))
        .arg(fx.join("lfs-objects"))
        .arg(fx)
        .arg(fx.join("server.log"))
        .arg("plain")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the LFS server");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("the server prints its port");
    let port = line.trim().parse().expect("a port");
    LfsServer(child, port)
}

/// `lfs = true` inputs (make-lfs.sh's repository over http with its LFS server): Nix 2.34.8's
/// lock (recorded) reproduces under 2.34.8 with the objects in place; Nix 2.8 has no lfs and
/// says so. The same repository without lfs, locked live by Nix 2.8: the pointer files are
/// kept by both, and the locks differ by export-ignore (git archive drops `ignored.bin`), each
/// release's "would lock" being the other's lock.
#[test]
fn lfs_inputs_by_release() {
    if !require_nix("lfs inputs") {
        return;
    }
    let recorded = recording();
    let header = &recorded["header"];
    for (key, file) in [
        ("lfs_flake_sha256", "fixtures/verify-lock-lfs-flake.nix"),
        ("make_lfs_sha256", "fixtures/make-lfs.sh"),
        ("lfs_server_sha256", "tests/lfs_support/lfs_server.py"),
    ] {
        assert_eq!(
            header[key].as_str(),
            Some(sha256_of(&project_root().join(file)).as_str()),
            "{file} changed since {RECORDING} was recorded: rerun fixtures/record-verify-lock.sh"
        );
    }
    let recorded_release = release_of(header["nix_version"].as_str().expect("release"));
    let base = fixtures().scratch("verify-lock-lfs");
    let _ = std::fs::remove_dir_all(&base);
    let fx = base.join("fx");
    run_ok(Command::new("sh").arg(project_root().join("fixtures/make-lfs.sh")).arg(&fx).stderr(Stdio::null()));
    let mut clone = Command::new("git");
    isolate(&mut clone).args(["clone", "-q", "--bare"]).arg(fx.join("lfs")).arg(fx.join("lfs.git"));
    run_ok(&mut clone);
    let server = lfs_server(&fx);
    let url = format!("http://127.0.0.1:{}/lfs.git", server.1);
    let lock_234 = base.join("nix-2.34.lock");
    std::fs::write(&lock_234, recorded["lfsLock"].to_string()).expect("write");
    let recorded_url = recorded["lfsLock"]["nodes"]["lfs"]["locked"]["url"].as_str().expect("url").to_owned();
    let mirrors = [format!("{recorded_url}={url}")];

    // Nix 2.8's lock of the input without lfs (its flake has no lfs input: 2.8 refuses it).
    let flake = base.join("flake");
    std::fs::create_dir_all(&flake).expect("mkdir");
    let template = std::fs::read_to_string(project_root().join("fixtures/verify-lock-lfs-flake.nix")).expect("template");
    let without_lfs: String = template.lines().filter(|line| !line.contains("lfs=1")).map(|line| format!("{line}\n")).collect();
    std::fs::write(flake.join("flake.nix"), without_lfs.replace("@URL@", &url)).expect("write flake.nix");
    let home = base.join("home");
    std::fs::create_dir_all(&home).expect("mkdir");
    let mut lock = Command::new("nix");
    isolate(&mut lock)
        .env("HOME", &home)
        .env_remove("XDG_CACHE_HOME")
        .args(["--extra-experimental-features", "nix-command flakes", "--option", "substituters", "", "flake", "lock"])
        .arg(format!("path:{}", flake.display()));
    run_ok(&mut lock);
    let host_release = release_of(run_ok(Command::new("nix").arg("--version")).trim());
    let lock_28 = locked_inputs(&flake.join("flake.lock"));
    let recorded_inputs = locked_inputs(&lock_234);

    let (code, checks) = verify_lock(&lock_234, &[&recorded_release, &host_release], &mirrors);
    assert_eq!(code, 1);
    let lfs_new = find(&checks, "lfs", &recorded_release);
    assert_eq!(lfs_new["status"], "reproduces", "{lfs_new}");
    let lfs_old = find(&checks, "lfs", &host_release);
    assert_eq!(lfs_old["status"], "unsupported", "{lfs_old}");
    assert!(lfs_old["reason"].as_str().is_some_and(|r| r.contains("no lfs")), "{lfs_old}");
    assert_eq!(find(&checks, "pointers", &recorded_release)["status"], "reproduces");
    let pointers_old = find(&checks, "pointers", &host_release);
    assert_eq!(pointers_old["status"], "differs", "{pointers_old}");
    assert_eq!(pointers_old["computed"]["narHash"], lock_28["pointers"]["narHash"], "Nix {host_release}'s own lock: {pointers_old}");
    assert_eq!(pointers_old["causes"][0]["kind"], "export-ignore", "{pointers_old}");
    assert_ne!(recorded_inputs["lfs"]["narHash"], recorded_inputs["pointers"]["narHash"], "lfs = true changes the tree");

    // And the other way round: Nix 2.8's lock, under 2.34.8.
    let lock_28_path = flake.join("flake.lock");
    let (code, checks) = verify_lock(&lock_28_path, &[&host_release, &recorded_release], &[]);
    assert_eq!(code, 1);
    assert_eq!(find(&checks, "pointers", &host_release)["status"], "reproduces");
    let pointers_new = find(&checks, "pointers", &recorded_release);
    assert_eq!(pointers_new["computed"]["narHash"], recorded_inputs["pointers"]["narHash"], "{pointers_new}");
}
