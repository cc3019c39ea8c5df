//! `fetch --compat modern --no-store` against values recorded from Nix 2.26
//! (`fixtures/record-modern.sh` -> `fixtures/modern-expected.json`), for every fixture
//! commit. Modern Nix is not installed on the test machines; the recording is the
//! ground truth, and it must cover every fixture commit so it cannot silently go stale.

mod support;

use serde_json::Value;
use std::collections::BTreeSet;
use support::*;

fn recording() -> Value {
    let path = project_root().join("fixtures/modern-expected.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}; run fixtures/record-modern.sh and commit the result", path.display()));
    serde_json::from_str(&text).expect("modern-expected.json is JSON")
}

/// Recorded values of one setting, with `storePath` renamed back to `outPath`.
fn expected(rec: &Value, repo: &str, rev: &str, setting: &str) -> Option<Value> {
    let mut v = rec["repos"][repo][rev][setting].as_object()?.clone();
    let out = v.remove("storePath").expect("the oracle records storePath");
    v.insert("outPath".into(), out);
    Some(Value::Object(v))
}

#[test]
fn recording_covers_exactly_the_fixture_commits() {
    let rec = recording();
    assert!(rec["header"]["nix_version"].as_str().is_some_and(|v| v.contains("2.")), "the recording names the Nix version that produced it");
    assert!(rec["header"]["command"].is_string(), "the recording names its command");
    let fx = fixtures();
    let mut problems = Vec::new();
    for repo in REPOS {
        let ours: BTreeSet<String> = all_commits(&fx.repo(repo)).into_iter().collect();
        let recorded: BTreeSet<String> = rec["repos"][repo].as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
        for c in ours.difference(&recorded) {
            problems.push(format!("{repo}: fixture commit {c} is not recorded"));
        }
        for c in recorded.difference(&ours) {
            problems.push(format!("{repo}: recorded commit {c} is not a fixture commit"));
        }
        for c in &ours {
            if expected(&rec, repo, c, "default").is_none() {
                problems.push(format!("{repo}: {c} has no default recording"));
            }
            if repo == "attributes" && expected(&rec, repo, c, "noExportIgnore").is_none() {
                problems.push(format!("{repo}: {c} has no exportIgnore = false recording"));
            }
        }
    }
    assert!(problems.is_empty(), "fixtures/modern-expected.json is stale (re-run fixtures/record-modern.sh):\n{}", problems.join("\n"));
}

#[test]
fn modern_fetch_matches_recorded_nix_2_26() {
    let rec = recording();
    let fx = fixtures();
    let (mut checked, mut diffs) = (0, Vec::new());
    for repo in REPOS {
        let path = fx.repo(repo);
        let url = path.to_str().expect("fixture paths are UTF-8");
        for rev in all_commits(&path) {
            let Some(want) = expected(&rec, repo, &rev, "default") else {
                diffs.push(format!("{repo} {rev}: not recorded (see the coverage test)"));
                continue;
            };
            // explicit --compat modern, and the default (which must be modern)
            for args in
                [vec!["fetch", "--compat", "modern", "--no-store", "--url", url, "--rev", &rev], vec!["fetch", "--no-store", "--url", url, "--rev", &rev]]
            {
                checked += 1;
                let ctx = format!("{repo} {}", args.join(" "));
                match try_bin_json(&args) {
                    Ok(ours) => diffs.extend(compare_fetch(&ours, &want, false, &ctx)),
                    Err(e) => diffs.push(e),
                }
            }
            if let Some(want) = expected(&rec, repo, &rev, "noExportIgnore") {
                checked += 1;
                let args = ["fetch", "--compat", "modern", "--no-export-ignore", "--no-store", "--url", url, "--rev", &rev];
                let ctx = format!("{repo} {}", args.join(" "));
                match try_bin_json(&args) {
                    Ok(ours) => diffs.extend(compare_fetch(&ours, &want, false, &ctx)),
                    Err(e) => diffs.push(e),
                }
            }
        }
    }
    assert_no_diffs("modern fetch vs recorded Nix 2.26", checked, &diffs);
}
