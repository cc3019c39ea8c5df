//! `fetch --compat legacy --no-store` against Nix 2.8's `builtins.fetchGit` (the legacy
//! export generation: `git archive`, so export-ignore, export-subst, eol/text/ident
//! conversions apply), for every commit of every fixture repository.

mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use support::*;

/// Checks `fetch --compat legacy --no-store --url URL --rev R EXTRA_ARGS` against Nix for
/// every rev; `nix_extra` is added to the fetchGit attributes.
fn check_against_nix(what: &str, url: &str, revs: &[String], nix_extra: &str, extra_args: &[&str]) -> (usize, Vec<String>) {
    let expected = nix_fetchgit_many(url, revs, nix_extra, what);
    let mut diffs = Vec::new();
    for rev in revs {
        let want = expected.get(rev).expect("Nix answered for every rev");
        let mut args = vec!["fetch", "--compat", "legacy", "--no-store", "--url", url, "--rev", rev];
        args.extend_from_slice(extra_args);
        match try_bin_json(&args) {
            Ok(ours) => diffs.extend(compare_fetch(&ours, want, false, &format!("{what} {rev}"))),
            Err(e) => diffs.push(e),
        }
    }
    (revs.len(), diffs)
}

/// Every commit of every fixture repository, with `nix_extra` added to fetchGit's arguments
/// and `our_extra` to ours.
fn check_every_repo(label_suffix: &str, nix_extra: &str, our_extra: &[&str]) -> (usize, Vec<String>) {
    let fx = fixtures();
    let (mut checked, mut diffs) = (0, Vec::new());
    for repo in REPOS {
        let path = fx.repo(repo);
        let url = path.to_str().expect("fixture paths are UTF-8");
        let (n, d) = check_against_nix(&format!("{repo}{label_suffix}"), url, &all_commits(&path), nix_extra, our_extra);
        checked += n;
        diffs.extend(d);
    }
    (checked, diffs)
}

#[test]
fn every_fixture_commit_matches_nix_2_8() {
    if !require_nix("every_fixture_commit_matches_nix_2_8") {
        return;
    }
    let (checked, diffs) = check_every_repo("", "", &[]);
    assert_no_diffs("legacy fetch vs Nix 2.8", checked, &diffs);
}

#[test]
fn custom_name_matches_nix_2_8() {
    if !require_nix("custom_name_matches_nix_2_8") {
        return;
    }
    let (checked, diffs) = check_every_repo("-custom", "name = \"custom\";", &["--name", "custom"]);
    assert_no_diffs("legacy fetch --name custom vs Nix 2.8", checked, &diffs);
}

/// The bare clone (as a path and as a file:// URL) and a file:// URL of a work tree.
/// Nix 2.8 treats a bare repository as remote (it clones it and, without `ref`, asks
/// for `master`), so it needs `allRefs = true` there to reach every rev; that does not
/// change the result attributes. `--compat legacy` is Nix 2.19.7, which clones it too
/// (fetching the remote's `HEAD`), so it gets `--all-refs` as well.
#[test]
fn bare_repo_and_file_urls_match_nix_2_8() {
    if !require_nix("bare_repo_and_file_urls_match_nix_2_8") {
        return;
    }
    let fx = fixtures();
    let bare = fx.repo("history.git");
    let bare = bare.to_str().expect("fixture paths are UTF-8").to_owned();
    let work = fx.repo("history");
    let revs = all_commits(std::path::Path::new(&bare));
    assert_eq!(
        {
            let mut a = revs.clone();
            a.sort();
            a
        },
        {
            let mut b = all_commits(&work);
            b.sort();
            b
        },
        "the bare clone holds every commit of history"
    );
    let cases = [
        ("bare-path", bare.clone(), "allRefs = true;", &["--all-refs"][..]),
        ("bare-file-url", format!("file://{bare}"), "allRefs = true;", &["--all-refs"][..]),
        ("worktree-file-url", format!("file://{}", work.display()), "", &[][..]),
    ];
    let (mut checked, mut diffs) = (0, Vec::new());
    for (label, url, nix_extra, our_extra) in cases {
        let (n, d) = check_against_nix(label, &url, &revs, nix_extra, our_extra);
        checked += n;
        diffs.extend(d);
    }
    assert_no_diffs("legacy fetch of bare repo / file:// URLs vs Nix 2.8", checked, &diffs);
}

/// `fetch --date D` must give exactly what Nix gives for the commit git selects
/// (`git rev-list -1 --before=D C`, or the root when nothing qualifies), plus the
/// `truncation` object.
#[test]
fn truncated_fetch_matches_nix_for_the_git_selected_commit() {
    if !require_nix("truncated_fetch_matches_nix_for_the_git_selected_commit") {
        return;
    }
    let fx = fixtures();
    let path = fx.repo("history");
    let url = path.to_str().expect("fixture paths are UTF-8");
    let revs = all_commits(&path);
    let expected: BTreeMap<String, Value> = nix_fetchgit_many(url, &revs, "", "history-trunc");
    let times = commit_times(&path);
    let min = *times.values().min().expect("history has commits");
    let (mut checked, mut diffs) = (0, Vec::new());
    for rev in &revs {
        let t = times[rev];
        for d in [t - 1, t, min - 1] {
            let d = d.to_string();
            let mut sel = git(&path, &["rev-list", "-1", &format!("--before={d}"), rev]);
            if sel.trim().is_empty() {
                sel = git(&path, &["rev-list", "--max-parents=0", "-1", rev]);
            }
            let sel = sel.trim();
            let args = ["fetch", "--compat", "legacy", "--no-store", "--url", url, "--rev", rev, "--date", &d];
            checked += 1;
            match try_bin_json(&args) {
                Ok(ours) => diffs.extend(compare_fetch(&ours, &expected[sel], true, &format!("history --rev {rev} --date {d} (git selects {sel})"))),
                Err(e) => diffs.push(e),
            }
        }
    }
    assert_no_diffs("legacy fetch --date vs Nix 2.8 of the selected commit", checked, &diffs);
}
