//! The hostile and unusual repositories of `fixtures/make-hostile.sh` (issue 11), case by case
//! (`fixtures/hostile-cases.txt`): `fetch --compat legacy` against Nix 2.8 evaluated live, and
//! `fetch --compat modern` against the Nix 2.26 values recorded in
//! `fixtures/hostile-modern.json` (`fixtures/record-hostile-modern.sh`). Each case must give the
//! same attributes as Nix, or be refused by both, unless it is one of the [`DEVIATIONS`], which
//! must then differ exactly as declared. Every run also checks that nothing hangs or crashes.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;
use support::outcome::{compare, Declared, Deviation, Outcome};
use support::*;

/// How a case is fetched.
struct Case {
    repo: String,
    kind: String,
    reference: String,
}

impl Case {
    fn key(&self) -> String {
        format!("{} {} {}", self.repo, self.kind, self.reference)
    }
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(project_root().join("fixtures/hostile-cases.txt")).expect("fixtures/hostile-cases.txt");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut parts = l.split_whitespace().map(str::to_owned);
            Case { repo: parts.next().expect("repo"), kind: parts.next().expect("kind"), reference: parts.next().expect("ref") }
        })
        .collect()
}

/// `make-hostile.sh` output, generated once per test binary.
fn hostile() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = fixtures().scratch("hostile");
        let out = dir.join("fx");
        if out.exists() {
            std::fs::remove_dir_all(&out).expect("remove old hostile fixtures");
        }
        let status = isolate(Command::new("sh").arg(project_root().join("fixtures/make-hostile.sh")).arg(&out))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run make-hostile.sh");
        assert!(status.success(), "fixtures/make-hostile.sh failed");
        out
    })
}

fn rev_of(case: &Case) -> Option<String> {
    (case.reference != "-").then(|| git(&hostile().join(&case.repo), &["rev-parse", &format!("{}^{{commit}}", case.reference)]).trim().to_owned())
}

fn url_of(case: &Case) -> String {
    let path = hostile().join(&case.repo);
    match case.kind.as_str() {
        "file" => format!("file://{}", path.display()),
        _ => path.display().to_string(),
    }
}

fn ours(case: &Case, generation: &str) -> Outcome {
    let url = url_of(case);
    let mut args = vec!["fetch".to_owned(), "--no-store".into(), "--compat".into(), generation.into(), "--url".into(), url];
    if let Some(rev) = rev_of(case) {
        args.extend(["--rev".into(), rev]);
    }
    // `--compat legacy` is Nix 2.19.7, which clones a bare repository and fetches only `ref`
    // from it: the same full ref as Nix 2.8 gets (`nix_2_8`).
    if generation == "legacy" && (case.kind == "file" || case.repo.ends_with(".git")) {
        let full = git(&hostile().join(&case.repo), &["rev-parse", "--symbolic-full-name", &case.reference]);
        args.extend(["--ref".into(), full.trim().to_owned()]);
    }
    let output = run_with_timeout(bin().args(&args), Duration::from_secs(120)).unwrap_or_else(|e| panic!("{} ({generation}): fetchgit-date {e}", case.key()));
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    match output.status.code() {
        Some(0) => Outcome::Attrs(serde_json::from_slice(&output.stdout).expect("fetch prints JSON")),
        Some(2) => {
            let last = stderr.lines().last().unwrap_or_default().to_owned();
            Outcome::Refused(last)
        }
        other => panic!("{} ({generation}): fetchgit-date exited with {other:?} (a crash?): {stderr}", case.key()),
    }
}

fn nix_2_8(case: &Case, label: &str) -> Outcome {
    let home = fixtures().scratch(&format!("nix-home-hostile-{label}"));
    let rev = rev_of(case).map(|r| format!("rev = \"{r}\";")).unwrap_or_default();
    // Nix 2.8 treats a bare repository as a remote and fetches `ref` (default `master`) from it.
    // (`allRefs = true` would fetch the corrupt objects of other cases too.)
    let all_refs = if case.kind == "file" || case.repo.ends_with(".git") {
        let full = git(&hostile().join(&case.repo), &["rev-parse", "--symbolic-full-name", &case.reference]);
        format!("ref = {};", nix_str(full.trim()))
    } else {
        String::new()
    };
    let expr = format!(
        "let r = builtins.fetchGit {{ url = {}; {rev} {all_refs} }}; in {{ inherit (r) narHash lastModified lastModifiedDate revCount rev; }}",
        nix_str(&url_of(case))
    );
    let mut cmd = Command::new("nix-instantiate");
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
        let text = std::fs::read_to_string(project_root().join("fixtures/hostile-modern.json"))
            .expect("fixtures/hostile-modern.json: run fixtures/record-hostile-modern.sh");
        serde_json::from_str(&text).expect("hostile-modern.json is JSON")
    });
    let entry = &rec["cases"][case.key()];
    if entry.is_null() {
        return None;
    }
    if let Some(rev) = rev_of(case) {
        assert_eq!(entry["rev"].as_str(), Some(rev.as_str()), "{}: recorded for another commit; re-run fixtures/record-hostile-modern.sh", case.key());
    }
    let result = &entry["result"];
    Some(match result.get("error") {
        Some(err) => Outcome::Refused(err.as_str().unwrap_or_default().to_owned()),
        None => Outcome::Attrs(result.clone()),
    })
}

const DEVIATIONS: &[Declared] = &[
    ("modern", "modes path m40755", Deviation::OursRefuse, "a directory entry pointing at a blob: libgit2 casts it to a tree (undefined behaviour)"),
    (
        "modern",
        "gitattributes path kind-dir-mode-blob",
        Deviation::OursRefuse,
        "a directory entry pointing at a blob: libgit2 casts it to a tree (undefined behaviour)",
    ),
    ("modern", "deep path d1000", Deviation::OursExport, "Nix 2.26 corrupts its heap on trees a few hundred directories deep"),
    ("modern", "deep path d2040", Deviation::OursExport, "Nix 2.26 corrupts its heap on trees a few hundred directories deep"),
    ("modern", "deep path d20000", Deviation::OursExport, "Nix 2.26 crashes on trees a few hundred directories deep"),
    ("modern", "worktree-attributes-fifo path main", Deviation::OursExport, "libgit2 opens a FIFO .gitattributes and blocks; fetchgit-date reads it as absent"),
    ("modern", "alt-cycle path main", Deviation::OursRefuse, "gix refuses alternates that form a cycle; git and libgit2 skip the repetition"),
    ("legacy", "alt-cycle path main", Deviation::OursRefuse, "gix refuses alternates that form a cycle; git and libgit2 skip the repetition"),
    ("legacy", "kinds path name-slash", Deviation::OursRefuse, "git archive writes a name with '/' as a nested path; not reproduced"),
    ("legacy", "kinds path name-slash-dir", Deviation::OursRefuse, "git archive writes a name with '/' as a nested path; not reproduced"),
    ("legacy", "kinds path name-dup", Deviation::OursRefuse, "a duplicated name: the tar keeps the last; refused as corrupt"),
    (
        "legacy",
        "encoding path main",
        Deviation::OursRefuse,
        "filter.upper.clean/smudge are configured: Nix 2.8 runs them (git diff, git archive), fetchgit-date never runs a repository's program (issue 19)",
    ),
    (
        "modern",
        "kinds path name-dup",
        Deviation::OursRefuse,
        "a duplicated name: Nix 2.26 reads freed memory for it (two recordings gave two hashes); refused as corrupt",
    ),
];

#[test]
fn modern_matches_recorded_nix_2_26() {
    let (mut checked, mut diffs) = (0, Vec::new());
    for case in cases() {
        let Some(nix) = recorded(&case) else {
            diffs.push(format!("{}: not in fixtures/hostile-modern.json; re-run fixtures/record-hostile-modern.sh", case.key()));
            continue;
        };
        checked += 1;
        diffs.extend(compare("modern", &case.key(), DEVIATIONS, &ours(&case, "modern"), &nix));
    }
    assert_no_diffs("hostile cases, modern vs recorded Nix 2.26", checked, &diffs);
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
        diffs.extend(compare("legacy", &case.key(), DEVIATIONS, &ours(case, "legacy"), &nix));
    }
    assert_no_diffs("hostile cases, legacy vs Nix 2.8", checked, &diffs);
}

/// Repositories whose metadata files are special files: refused at once with the file's name
/// (git itself would read `/dev/zero` until memory runs out, or block on the FIFO).
#[test]
fn special_metadata_files_are_refused_quickly() {
    for (repo, file, what) in [
        ("special-config", ".git/config", "a character device"),
        ("special-packed-refs", ".git/packed-refs", "a FIFO"),
        ("special-alternates", ".git/objects/info/alternates", "a character device"),
    ] {
        let url = hostile().join(repo);
        for generation in ["modern", "legacy"] {
            let out =
                run_with_timeout(bin().args(["fetch", "--no-store", "--compat", generation, "--url", url.to_str().expect("utf-8")]), Duration::from_secs(30))
                    .unwrap_or_else(|e| panic!("{repo}: {e}"));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{repo}: {stderr}");
            assert!(stderr.contains(file) && stderr.contains(what), "{repo}: the error names {file} and what it is: {stderr}");
            assert_eq!(stderr.trim().lines().count(), 1, "{repo}: one line: {stderr}");
        }
    }
}
