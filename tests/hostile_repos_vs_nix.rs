//! The hostile repositories of `fixtures/make-hostile-repos.sh` (issue 19): configuration git
//! and libgit2 read (includes, `core.attributesFile`), objects whose content does not hash to
//! their id, repositories git refuses, and committer dates at the edges. Case by case
//! (`fixtures/hostile-repos-cases.txt`): `fetch --nix-version 2.8.0` against Nix 2.8 evaluated
//! live, `fetch --nix-version 2.34.8` against the values recorded from Nix 2.34.8
//! (`fixtures/hostile-repos-modern.json`, `fixtures/record-hostile-repos.sh`). Each case gives
//! the same attributes as Nix or is refused by both (with one line), unless it is one of the
//! [`DEVIATIONS`]; every fetch ends (a deadline turns a hang into a failure).
//!
//! The tests here on caches check that a cached value is keyed by all it depends on: a warm
//! cache gives what a cold one gives.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;
use support::outcome::{compare, Declared, Deviation, Outcome};
use support::*;

struct Case {
    repo: String,
    reference: String,
    submodules: bool,
}

impl Case {
    fn key(&self) -> String {
        let submodules = if self.submodules { " submodules" } else { "" };
        format!("{} {}{submodules}", self.repo, self.reference)
    }
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(project_root().join("fixtures/hostile-repos-cases.txt")).expect("fixtures/hostile-repos-cases.txt");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut parts = l.split_whitespace().map(str::to_owned);
            Case { repo: parts.next().expect("repo"), reference: parts.next().expect("ref"), submodules: parts.next() == Some("submodules".into()) }
        })
        .collect()
}

/// `make-hostile-repos.sh` output into `dir` (a fresh one per caller that changes it).
fn generate(name: &str) -> PathBuf {
    let out = fixtures().scratch(name).join("fx");
    if out.exists() {
        std::fs::remove_dir_all(&out).expect("remove old fixtures");
    }
    let status = isolate(Command::new("sh").arg(project_root().join("fixtures/make-hostile-repos.sh")).arg(&out))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run make-hostile-repos.sh");
    assert!(status.success(), "fixtures/make-hostile-repos.sh failed");
    out
}

/// The fixtures shared by the read-only tests.
fn hostile() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| generate("hostile-repos"))
}

fn rev_of(root: &Path, case: &Case) -> Option<String> {
    if case.reference == "-" {
        return None;
    }
    let revs = std::fs::read_to_string(root.join("revs.txt")).expect("revs.txt");
    let rev = revs
        .lines()
        .find_map(|line| {
            let mut parts = line.split_whitespace();
            (parts.next() == Some(&case.repo) && parts.next() == Some(&case.reference)).then(|| parts.next().expect("id").to_owned())
        })
        .unwrap_or_else(|| panic!("{}: not in revs.txt", case.key()));
    Some(rev)
}

fn ours_in(root: &Path, case: &Case, nix_version: &str, cache: Option<&Path>) -> Outcome {
    let url = root.join(&case.repo).display().to_string();
    let mut args = vec!["fetch".to_owned(), "--no-store".into(), "--nix-version".into(), nix_version.into(), "--url".into(), url];
    if let Some(rev) = rev_of(root, case) {
        args.extend(["--rev".into(), rev]);
    }
    if case.submodules {
        args.push("--submodules".into());
    }
    let mut cmd = bin();
    cmd.args(&args);
    if let Some(cache) = cache {
        cmd.env("XDG_CACHE_HOME", cache);
    }
    let output = run_with_timeout(&mut cmd, Duration::from_secs(120)).unwrap_or_else(|e| panic!("{} ({nix_version}): fetchgit-date {e}", case.key()));
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    match output.status.code() {
        Some(0) => Outcome::Attrs(serde_json::from_slice(&output.stdout).expect("fetch prints JSON")),
        Some(2) => {
            let lines: Vec<&str> = stderr.lines().filter(|l| !l.contains("warning:")).collect();
            assert_eq!(lines.len(), 1, "{} ({nix_version}): refused with more than one line: {stderr}", case.key());
            Outcome::Refused(lines[0].to_owned())
        }
        other => panic!("{} ({nix_version}): fetchgit-date exited with {other:?} (a crash?): {stderr}", case.key()),
    }
}

fn ours(case: &Case, nix_version: &str) -> Outcome {
    ours_in(hostile(), case, nix_version, None)
}

fn nix_2_8(case: &Case, label: &str) -> Outcome {
    let home = fixtures().scratch(&format!("nix-home-hostile-repos-{label}"));
    let rev = rev_of(hostile(), case).map(|r| format!("rev = \"{r}\";")).unwrap_or_default();
    let submodules = if case.submodules { "submodules = true;" } else { "" };
    let expr = format!(
        "let r = builtins.fetchGit {{ url = {}; {rev} {submodules} }}; in {{ inherit (r) narHash lastModified lastModifiedDate revCount rev; }}",
        nix_str(&hostile().join(&case.repo).display().to_string())
    );
    let mut cmd = Command::new("nix-instantiate");
    // Nix 2.8 runs `git submodule update`, which git >= 2.38.1 refuses for local paths unless
    // protocol.file.allow says so (Nix's own tests set it too).
    cmd.env("GIT_CONFIG_COUNT", "1").env("GIT_CONFIG_KEY_0", "protocol.file.allow").env("GIT_CONFIG_VALUE_0", "always");
    isolate(&mut cmd)
        .env("HOME", &home)
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .current_dir(&home)
        .args(["--eval", "--strict", "--json", "-E", &expr]);
    match run_with_timeout(&mut cmd, Duration::from_secs(120)) {
        Ok(out) if out.status.success() => Outcome::Attrs(serde_json::from_slice(&out.stdout).expect("nix-instantiate --json")),
        Ok(out) => Outcome::Refused(String::from_utf8_lossy(&out.stderr).lines().rfind(|l| l.contains("error")).unwrap_or_default().trim().to_owned()),
        Err(e) => Outcome::Refused(e),
    }
}

fn recorded(case: &Case) -> Option<Outcome> {
    static RECORDING: OnceLock<Value> = OnceLock::new();
    let rec = RECORDING.get_or_init(|| {
        let text = std::fs::read_to_string(project_root().join("fixtures/hostile-repos-modern.json"))
            .expect("fixtures/hostile-repos-modern.json: run fixtures/record-hostile-repos.sh");
        serde_json::from_str(&text).expect("hostile-repos-modern.json is JSON")
    });
    let entry = &rec["cases"][case.key()];
    if entry.is_null() {
        return None;
    }
    if let Some(rev) = rev_of(hostile(), case) {
        assert_eq!(entry["rev"].as_str(), Some(rev.as_str()), "{}: recorded for another commit; re-run fixtures/record-hostile-repos.sh", case.key());
    }
    let result = &entry["result"];
    Some(match result.get("error") {
        Some(err) => Outcome::Refused(err.as_str().unwrap_or_default().to_owned()),
        None => Outcome::Attrs(result.clone()),
    })
}

/// Where fetchgit-date knowingly differs: (generation, case, what happens, why).
const DEVIATIONS: &[Declared] = &[
    ("legacy", "refuse-packed-refs-crlf -", Deviation::OursRefuse, "a CRLF packed-refs: Nix 2.8 takes the work tree as one without commits"),
    ("modern", "refuse-packed-refs-crlf -", Deviation::OursRefuse, "a CRLF packed-refs: libgit2 finds no ref, Nix takes the work tree as one without commits"),
];

#[test]
fn modern_matches_recorded_nix_2_34_8() {
    let (mut checked, mut diffs) = (0, Vec::new());
    for case in cases() {
        let Some(nix) = recorded(&case) else {
            diffs.push(format!("{}: not in fixtures/hostile-repos-modern.json; re-run fixtures/record-hostile-repos.sh", case.key()));
            continue;
        };
        checked += 1;
        diffs.extend(compare("modern", &case.key(), DEVIATIONS, &ours(&case, "2.34.8"), &nix));
    }
    assert_no_diffs("hostile repositories, modern vs recorded Nix 2.34.8", checked, &diffs);
}

#[test]
fn legacy_matches_nix_2_8() {
    if !require_nix("legacy_matches_nix_2_8") {
        return;
    }
    let (mut checked, mut diffs) = (0, Vec::new());
    for (n, case) in cases().iter().enumerate() {
        checked += 1;
        let nix = nix_2_8(case, &n.to_string());
        diffs.extend(compare("legacy", &case.key(), DEVIATIONS, &ours(case, "2.8.0"), &nix));
    }
    assert_no_diffs("hostile repositories, legacy vs Nix 2.8", checked, &diffs);
}

/// A fetch with a cache that has seen other repositories gives what a cold one gives.
fn warm_equals_cold(root: &Path, first: &Case, second: &Case, nix_version: &str, label: &str) {
    let warm = fixtures().scratch(&format!("cache-warm-{label}"));
    let cold = fixtures().scratch(&format!("cache-cold-{label}"));
    let _ = ours_in(root, first, nix_version, Some(&warm));
    let warm_result = ours_in(root, second, nix_version, Some(&warm));
    let cold_result = ours_in(root, second, nix_version, Some(&cold));
    match (&warm_result, &cold_result) {
        (Outcome::Attrs(w), Outcome::Attrs(c)) => assert_eq!(w, c, "{label}: a warm cache gives other attributes than a cold one"),
        (w, c) => panic!("{label}: warm {w:?}, cold {c:?}"),
    }
}

/// §4: two repositories with the same commits but other grafts or replace refs never share a
/// count or a truncation; a changed included configuration or attributes file never serves a
/// stale NAR hash.
#[test]
fn cached_values_are_keyed_by_all_they_depend_on() {
    let root = generate("hostile-repos-cache");
    let g1 = root.join("g1");
    run_ok(isolate(Command::new("git").args(["init", "-q", "-b", "main", "--template="]).arg(&g1)));
    for (n, text) in ["a", "b", "c", "d"].iter().enumerate() {
        std::fs::write(g1.join("f"), text).expect("write");
        run_ok(isolate(Command::new("git").arg("-C").arg(&g1).args(["add", "f"])));
        let date = format!("@{} +0000", 1_600_000_000 + 100 * n);
        run_ok(isolate(
            Command::new("git")
                .arg("-C")
                .arg(&g1)
                .args(["-c", "user.name=a", "-c", "user.email=a@x", "commit", "-q", "-m", text])
                .env("GIT_COMMITTER_DATE", &date)
                .env("GIT_AUTHOR_DATE", &date),
        ));
    }
    let g2 = root.join("g2");
    run_ok(isolate(Command::new("git").args(["clone", "-q"]).arg(&g1).arg(&g2)));
    std::fs::create_dir_all(g2.join(".git/info")).expect("mkdir");
    std::fs::write(g2.join(".git/info/grafts"), format!("{}\n", git(&g2, &["rev-parse", "HEAD~2"]).trim())).expect("write grafts");
    let g3 = root.join("g3");
    run_ok(isolate(Command::new("git").args(["clone", "-q"]).arg(&g1).arg(&g3)));
    let parent = git(&g3, &["rev-parse", "HEAD~1"]).trim().to_owned();
    let root_commit = git(&g3, &["rev-parse", "HEAD~3"]).trim().to_owned();
    run_ok(isolate(Command::new("git").arg("-C").arg(&g3).args(["replace", "--graft", &parent, &root_commit])));
    let head = git(&g1, &["rev-parse", "HEAD"]).trim().to_owned();
    let revs = format!("g1 main {head}\ng2 main {head}\ng3 main {head}\n");
    std::fs::OpenOptions::new()
        .append(true)
        .open(root.join("revs.txt"))
        .and_then(|mut f| std::io::Write::write_all(&mut f, revs.as_bytes()))
        .expect("append revs");
    let case = |repo: &str| Case { repo: repo.into(), reference: "main".into(), submodules: false };
    for version in ["2.8.0", "2.34.8"] {
        warm_equals_cold(&root, &case("g1"), &case("g2"), version, &format!("grafts-{version}"));
        warm_equals_cold(&root, &case("g1"), &case("g3"), version, &format!("replace-{version}"));
        warm_equals_cold(&root, &case("g3"), &case("g1"), version, &format!("replace-first-{version}"));
    }
    // The counts themselves are git's (the graft cuts g2's history, the replacement g3's).
    for repo in ["g1", "g2", "g3"] {
        let expected: u64 = git(&root.join(repo), &["rev-list", "--count", "HEAD"]).trim().parse().expect("a count");
        match ours_in(&root, &case(repo), "2.8.0", Some(&fixtures().scratch("cache-count"))) {
            Outcome::Attrs(attrs) => assert_eq!(attrs["revCount"], expected, "{repo}: {attrs}"),
            other => panic!("{repo}: {other:?}"),
        }
    }

    // A change in an included file or in the attributes file gives a new hash, as cold.
    let cache = fixtures().scratch("cache-config");
    for (repo, file, text) in [
        ("config-include", ".git/crlf.inc", "[core]\n\tautocrlf = false\n"),
        ("config-attributesfile", "../config-attributesfile.attributes", "a.txt export-ignore\n"),
    ] {
        let case = case(repo);
        for version in ["2.8.0", "2.34.8"] {
            let _ = ours_in(&root, &case, version, Some(&cache));
        }
        std::fs::write(root.join(repo).join(file), text).expect("change the file");
        for version in ["2.8.0", "2.34.8"] {
            let warm = ours_in(&root, &case, version, Some(&cache));
            let cold = ours_in(&root, &case, version, Some(&fixtures().scratch(&format!("cache-config-cold-{repo}-{version}"))));
            match (&warm, &cold) {
                (Outcome::Attrs(w), Outcome::Attrs(c)) => assert_eq!(w["narHash"], c["narHash"], "{repo} {version}: a stale hash from the cache"),
                (w, c) => panic!("{repo} {version}: warm {w:?}, cold {c:?}"),
            }
        }
    }
}

/// §7: truncation lands where `git rev-list -1 --before=B` lands (or on its first root, when git
/// prints nothing) for committer dates at the edges of what a commit can hold: negative, beyond
/// 2^63 and 2^64, digits followed by garbage, no zone, a NUL. (Boundaries have 9 digits or more:
/// git's date parser reads shorter numbers as something else than Unix seconds.)
#[test]
fn truncation_follows_git_for_edge_dates() {
    let repo = hostile().join("dates");
    let url = repo.display().to_string();
    let revs = std::fs::read_to_string(hostile().join("revs.txt")).expect("revs.txt");
    let (mut checked, mut diffs) = (0, Vec::new());
    for line in revs.lines().filter(|l| l.starts_with("dates ")) {
        let rev = line.split_whitespace().nth(2).expect("id");
        for boundary in [100_000_000_i64, 1_600_000_999, 1_600_001_000, 1_600_001_500, 1_600_100_000] {
            let picked = git(&repo, &["rev-list", "-1", &format!("--before={boundary}"), rev]);
            let want = if picked.trim().is_empty() { git(&repo, &["rev-list", "--max-parents=0", "-1", rev]) } else { picked };
            checked += 1;
            match try_bin(&["resolve", "--url", &url, "--rev", rev, "--date", &format!("@{boundary}")]) {
                Ok(out) if out.trim() == want.trim() => {}
                Ok(out) => diffs.push(format!("{line} @{boundary}: resolve printed {}, git {}", out.trim(), want.trim())),
                Err(err) => diffs.push(format!("{line} @{boundary}: resolve failed: {err}")),
            }
        }
    }
    assert_no_diffs("edge committer dates, resolve vs git rev-list", checked, &diffs);
}
