//! Issue 19, section 1: nothing a repository configures runs. The work trees of
//! `fixtures/make-hostile-exec.sh` (cases in `fixtures/hostile-exec-cases.txt`) name programs in
//! their configuration that only create a canary file. For every case:
//! - the case's trigger, run through plain git, creates the canary (so this test can fail);
//! - `fetch --nix-version 2.8.0` creates none, and gives Nix 2.8's attributes (evaluated live)
//!   or, where Nix 2.8's hash depends on running the program, refuses with one line naming it;
//! - `fetch --nix-version 2.34.8` creates none, and gives the attributes Nix 2.34.8 gave
//!   (`fixtures/hostile-exec-modern.json`, recorded by `fixtures/record-hostile-exec.sh`).
//!
//! Every run gets freshly generated fixtures with a canary directory of its own, because a run
//! may change a work tree (git refreshes the index) and so hide the next run's trigger.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;
use support::*;

struct Case {
    name: String,
    fetch: String,
    legacy_refuses: bool,
    trigger: Vec<String>,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(project_root().join("fixtures/hostile-exec-cases.txt")).expect("fixtures/hostile-exec-cases.txt");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut parts = l.split_whitespace().map(str::to_owned);
            let name = parts.next().expect("case");
            let fetch = parts.next().expect("fetch");
            let legacy = parts.next().expect("legacy");
            assert!(legacy == "refuse" || legacy == "match", "{name}: LEGACY is refuse or match, not {legacy}");
            Case { name, fetch, legacy_refuses: legacy == "refuse", trigger: parts.collect() }
        })
        .collect()
}

/// Fixtures generated for one run: (the directory of work trees, the canary directory).
fn generate(label: &str) -> (PathBuf, PathBuf) {
    let dir = fixtures().scratch(&format!("hostile-exec-{label}"));
    let _ = std::fs::remove_dir_all(&dir);
    let out = dir.join("fx");
    let canary = dir.join("canary");
    std::fs::create_dir_all(&canary).expect("canary dir");
    let status = isolate(Command::new("sh").arg(project_root().join("fixtures/make-hostile-exec.sh")).arg(&out).arg(&canary))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run make-hostile-exec.sh");
    assert!(status.success(), "fixtures/make-hostile-exec.sh failed");
    (out, canary)
}

fn canaries(canary: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(canary).expect("canary dir").map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn head(repo: &Path) -> String {
    git(repo, &["rev-parse", "HEAD"]).trim().to_owned()
}

/// What fetchgit-date gave: its JSON, or its stderr (status 2).
fn ours(case: &Case, out: &Path, nix_version: &str) -> Result<Value, String> {
    let repo = out.join(&case.name);
    let mut args =
        vec!["fetch".to_owned(), "--no-store".into(), "-q".into(), "--nix-version".into(), nix_version.into(), "--url".into(), repo.display().to_string()];
    match case.fetch.as_str() {
        "worktree" => {}
        "rev" => args.extend(["--rev".to_owned(), head(&repo)]),
        "submodules" => args.push("--submodules".into()),
        other => panic!("{}: unknown FETCH {other}", case.name),
    }
    let output = bin().args(&args).output().expect("run fetchgit-date");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    match output.status.code() {
        Some(0) => Ok(serde_json::from_slice(&output.stdout).expect("fetch prints JSON")),
        Some(2) => Err(stderr),
        other => panic!("{} ({nix_version}): fetchgit-date exited with {other:?}: {stderr}", case.name),
    }
}

/// A refusal must be one line that names the configured program's key.
fn assert_one_line_refusal(case: &Case, what: &str, stderr: &str) {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{} ({what}): the refusal is one line: {stderr}", case.name);
    assert!(lines[0].contains("refusing to run '"), "{} ({what}): the refusal names the program's key: {stderr}", case.name);
}

fn compare(case: &Case, what: &str, ours: &Value, theirs: &Value) -> Vec<String> {
    let mut diffs = Vec::new();
    for key in ["narHash", "revCount", "lastModified"] {
        if let Some(expected) = theirs.get(key) {
            if ours.get(key) != Some(expected) {
                diffs.push(format!("{} ({what}): {key} is {:?}, Nix gives {expected}", case.name, ours.get(key)));
            }
        }
    }
    diffs
}

fn nix_2_8(case: &Case) -> Value {
    let (out, _canary) = generate(&format!("nix-2.8-{}", case.name));
    let repo = out.join(&case.name);
    let extra = match case.fetch.as_str() {
        "rev" => format!("rev = \"{}\";", head(&repo)),
        "submodules" => "submodules = true;".to_owned(),
        _ => String::new(),
    };
    let expr =
        format!("let r = builtins.fetchGit {{ url = {}; {extra} }}; in {{ inherit (r) narHash lastModified revCount; }}", nix_str(&repo.display().to_string()));
    nix_eval_json(&expr, &format!("exec-{}", case.name))
}

fn recorded(case: &Case) -> Value {
    static FILE: OnceLock<Value> = OnceLock::new();
    let file = FILE.get_or_init(|| {
        let text = std::fs::read_to_string(project_root().join("fixtures/hostile-exec-modern.json"))
            .expect("fixtures/hostile-exec-modern.json: run fixtures/record-hostile-exec.sh");
        serde_json::from_str(&text).expect("hostile-exec-modern.json is JSON")
    });
    let entry = file["cases"]
        .get(&case.name)
        .unwrap_or_else(|| panic!("{}: not in fixtures/hostile-exec-modern.json; re-run fixtures/record-hostile-exec.sh", case.name));
    assert_eq!(entry["fetch"].as_str(), Some(case.fetch.as_str()), "{}: recorded for another fetch; re-run fixtures/record-hostile-exec.sh", case.name);
    assert_eq!(entry["canaries"], Value::Array(Vec::new()), "{}: Nix 2.34.8 ran a configured program?", case.name);
    entry["result"].clone()
}

/// Plain git runs each case's program: the canary checks below can fail.
#[test]
fn triggers_run_the_programs_through_plain_git() {
    for case in cases() {
        let (out, canary) = generate(&format!("trigger-{}", case.name));
        let mut cmd = Command::new("git");
        isolate(&mut cmd).arg("-C").arg(out.join(&case.name)).args(&case.trigger[1..]).stdout(Stdio::null()).stderr(Stdio::null());
        assert_eq!(case.trigger[0], "git", "{}: triggers are git commands", case.name);
        let _ = cmd.status().expect("run git");
        let ran = canaries(&canary);
        assert!(
            ran.iter().any(|c| c.starts_with(&format!("{}.", case.name))),
            "{}: `{}` did not run the configured program (canaries: {ran:?})",
            case.name,
            case.trigger.join(" ")
        );
    }
}

#[test]
fn legacy_runs_nothing_and_matches_nix_2_8_or_refuses() {
    let with_nix = require_nix("legacy_runs_nothing_and_matches_nix_2_8_or_refuses");
    let mut diffs = Vec::new();
    for case in cases() {
        let (out, canary) = generate(&format!("legacy-{}", case.name));
        let result = ours(&case, &out, "2.8.0");
        assert_eq!(canaries(&canary), Vec::<String>::new(), "{} (legacy): a configured program ran", case.name);
        match (result, case.legacy_refuses) {
            (Err(stderr), true) => assert_one_line_refusal(&case, "legacy", &stderr),
            (Ok(attrs), true) => diffs.push(format!("{} (legacy): must be refused, gave {attrs}", case.name)),
            (Err(stderr), false) => diffs.push(format!("{} (legacy): refused: {stderr}", case.name)),
            (Ok(attrs), false) if with_nix => diffs.extend(compare(&case, "legacy vs Nix 2.8", &attrs, &nix_2_8(&case))),
            (Ok(_), false) => {}
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

#[test]
fn modern_runs_nothing_and_matches_recorded_nix_2_34() {
    let mut diffs = Vec::new();
    for case in cases() {
        let (out, canary) = generate(&format!("modern-{}", case.name));
        let result = ours(&case, &out, "2.34.8");
        assert_eq!(canaries(&canary), Vec::<String>::new(), "{} (modern): a configured program ran", case.name);
        let nix = recorded(&case);
        match (result, nix.get("error")) {
            (Ok(attrs), None) => diffs.extend(compare(&case, "modern vs recorded Nix 2.34.8", &attrs, &nix)),
            (Err(stderr), Some(_)) => assert!(stderr.lines().filter(|l| !l.trim().is_empty()).count() == 1, "{}: one line: {stderr}", case.name),
            (Ok(attrs), Some(error)) => diffs.push(format!("{} (modern): Nix 2.34.8 fails ({error}), we gave {attrs}", case.name)),
            (Err(stderr), None) => diffs.push(format!("{} (modern): refused, Nix 2.34.8 gives {nix}: {stderr}", case.name)),
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}
