//! The Nix library (`nix/default.nix`) against Nix 2.8's own `builtins.fetchGit`: same
//! attributes, same string context, truncation as `git rev-list -1 --before`, and a
//! derivation that uses the result as `src` builds and depends on it.
//!
//! Needs the store add of `fetchgit-date fetch` (without `--no-store`).

use std::path::Path;
use std::process::Command;

use crate::support::*;
use serde_json::Value;

/// For every rev: fetchGitDate's and fetchGit's attributes (projected, with contexts).
fn compare_all(home: &Path, url: &str, revs: &[(String, String)], date_args: &str, extra: &str) {
    let pairs: String = revs.iter().map(|(start, expected)| format!("{{ start = {}; expected = {}; }} ", nix_str(start), nix_str(expected))).collect();
    let expr = format!(
        "let lib = {lib}; project = {PROJECT}; url = {url}; in map (p: {{
           ours = project (lib.fetchGitDate ({{ inherit url; rev = p.start; {date_args} {extra} }}));
           nix = project (builtins.fetchGit {{ inherit url; rev = p.expected; {extra} }});
         }}) [ {pairs}]",
        lib = lib_expr(),
        url = nix_str(url),
    );
    let results = eval_json(home, &expr);
    let results = results.as_array().expect("a list");
    assert_eq!(results.len(), revs.len());
    for ((start, expected), result) in revs.iter().zip(results) {
        assert_eq!(result["ours"], result["nix"], "fetchGitDate from {start} ({date_args}) vs fetchGit {expected} in {url}");
        assert_eq!(result["nix"]["rev"], Value::String(expected.clone()));
        let context = result["ours"]["context"].as_object().expect("context is an attribute set");
        assert_eq!(context.len(), 1, "outPath carries exactly its own path as context: {result}");
    }
}

#[test]
fn every_commit_equals_fetchgit() {
    if !require_nix("every_commit_equals_fetchgit") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = make_repo(tmp.path());
    let revs: Vec<_> = all_commits(&repo).into_iter().map(|r| (r.clone(), r)).collect();
    assert_eq!(revs.len(), 7);
    compare_all(tmp.path(), &repo.display().to_string(), &revs, "", "allRefs = true;");
}

#[test]
fn interval_truncation_equals_fetchgit_of_git_rev_list_before() {
    if !require_nix("interval_truncation_equals_fetchgit_of_git_rev_list_before") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = make_repo(tmp.path());
    let url = repo.display().to_string();
    for first_parent in [false, true] {
        let revs: Vec<_> = all_commits(&repo)
            .into_iter()
            .map(|rev| {
                let boundary = commit_time(&repo, &rev).div_euclid(86_400) * 86_400;
                let expected = git_truncate(&repo, &rev, boundary, first_parent);
                (rev, expected)
            })
            .collect();
        // The test repository is built so that truncation moves for most commits.
        assert!(revs.iter().filter(|(s, e)| s != e).count() >= 4, "{revs:?}");
        compare_all(tmp.path(), &url, &revs, &format!("interval = 86400; firstParent = {first_parent};"), "allRefs = true;");
    }
}

#[test]
fn date_and_ref_tip_equal_fetchgit() {
    if !require_nix("date_and_ref_tip_equal_fetchgit") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = make_repo(tmp.path());
    let url = repo.display().to_string();
    let tip = run_ok(git_cmd(&repo).args(["rev-parse", "main"]));
    // An absolute date given as Unix seconds (an int) or as a string.
    let date = 1_699_920_000 + 86_400 + 15_000;
    let expected = git_truncate(&repo, &tip, date, false);
    compare_all(tmp.path(), &url, &[(tip.clone(), expected.clone())], &format!("date = {date};"), "");
    compare_all(tmp.path(), &url, &[(tip.clone(), expected)], "date = \"2023-11-15T04:10:00Z\";", "");
    // No rev: the current branch's tip, rolled back to its day's midnight (impure evaluation).
    let boundary = commit_time(&repo, &tip).div_euclid(86_400) * 86_400;
    let expected = git_truncate(&repo, &tip, boundary, false);
    let expr = format!(
        "let lib = {}; project = {PROJECT}; in {{ ours = project (lib.fetchGitDate {{ url = {url}; interval = 86400; }}); nix = project (builtins.fetchGit {{ url = {url}; rev = {}; }}); }}",
        lib_expr(),
        nix_str(&expected),
        url = format!("/. + {}", nix_str(&url)),
    );
    let result = eval_json(tmp.path(), &expr);
    assert_eq!(result["ours"], result["nix"]);
}

#[test]
fn shallow_name_and_compat_follow_fetchgit() {
    if !require_nix("shallow_name_and_compat_follow_fetchgit") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = make_repo(tmp.path());
    let url = repo.display().to_string();
    let tip = run_ok(git_cmd(&repo).args(["rev-parse", "main"]));
    compare_all(tmp.path(), &url, &[(tip.clone(), tip.clone())], "", "shallow = true; name = \"my-src\";");
    // The default generation is the running Nix's: legacy for 2.8 (so CRLF conversion and
    // export-ignore apply, as above); forcing modern gives another tree for this commit.
    let expr = format!(
        "let lib = {}; in {{ default = lib.defaultCompat; modern = (lib.fetchGitDate {{ url = {}; rev = {}; compat = \"modern\"; }}).narHash; nix = (builtins.fetchGit {{ url = {1}; rev = {2}; }}).narHash; }}",
        lib_expr(),
        nix_str(&url),
        nix_str(&tip)
    );
    let result = eval_json(tmp.path(), &expr);
    if running_nix() >= (2, 20) {
        assert_eq!(result["default"], "modern", "Nix >= 2.20 exports with libgit2");
        assert_eq!(result["modern"], result["nix"], "the running Nix's own fetchGit");
    } else {
        assert_eq!(result["default"], "legacy", "Nix 2.8 exports with git archive");
        assert_ne!(result["modern"], result["nix"], "the test commit must tell the generations apart");
    }
}

#[test]
fn derivation_with_src_builds_and_references_the_source() {
    if !require_nix("derivation_with_src_builds_and_references_the_source") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = make_repo(tmp.path());
    let tip = run_ok(git_cmd(&repo).args(["rev-parse", "main"]));
    let file = tmp.path().join("uses-src.nix");
    std::fs::write(
        &file,
        format!(
            "let src = {}.fetchGitDate {{ url = {}; rev = {}; interval = 86400; }}; in
             derivation {{ name = \"uses-src\"; system = builtins.currentSystem; builder = \"/bin/sh\";
               args = [ \"-c\" \"read line < ${{src}}/README; echo \\\"$line\\\" > $out\" ]; inherit src; }}",
            lib_expr(),
            nix_str(&repo.display().to_string()),
            nix_str(&tip)
        ),
    )
    .expect("write nix file");
    let out = run_ok(nix_cmd("nix-build", tmp.path()).args(EXEC_ON).arg("--no-out-link").arg(&file));
    // The tip's day starts with the commit made exactly at midnight.
    assert_eq!(std::fs::read_to_string(out.lines().last().expect("a path")).expect("read output"), "on the boundary\n");
    let drv = run_ok(nix_cmd("nix-instantiate", tmp.path()).args(EXEC_ON).arg(&file));
    let expected_rev = git_truncate(&repo, &tip, commit_time(&repo, &tip).div_euclid(86_400) * 86_400, false);
    let source =
        eval_json(tmp.path(), &format!("(builtins.fetchGit {{ url = {}; rev = {}; }}).outPath", nix_str(&repo.display().to_string()), nix_str(&expected_rev)));
    let references = run_ok(nix_cmd("nix-store", tmp.path()).args(["-q", "--references"]).arg(drv.lines().last().expect("a drv")));
    assert!(references.lines().any(|r| r == source.as_str().expect("a string")), "{source} not in the references of {drv}:\n{references}");
}

#[test]
fn clear_errors() {
    if !require_nix("clear_errors") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = make_repo(tmp.path());
    let url = nix_str(&repo.display().to_string());
    let lib = lib_expr();
    let check = |exec: bool, expr: String, needle: &str| {
        let mut cmd = nix_cmd_with("nix-instantiate", tmp.path(), exec);
        if exec {
            cmd.args(EXEC_ON);
        }
        let out = run(cmd.args(["--eval", "--strict", "-E", &expr]));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(needle), "{expr}\n expected an error with {needle:?}, got:\n{stderr}");
    };
    check(false, format!("{lib}.fetchGitDate {{ url = {url}; }}"), NO_BACKEND);
    check(true, format!("{lib}.fetchGitDate {{ url = {url}; date = 1; interval = 1; }}"), "give either date or interval, not both");
    check(true, format!("{lib}.fetchGitDate {{ url = {url}; firstParent = true; }}"), "firstParent only applies to truncation");
    check(true, format!("{lib}.fetchGitDate {{ url = {url}; exportIgnore = false; compat = \"legacy\"; }}"), "exportIgnore = false needs compat = \"modern\"");
    check(
        true,
        format!("{lib}.fetchGitDate {{ url = {url}; submodules = true; exportIgnore = true; }}"),
        "exportIgnore and submodules are not supported together yet (exportIgnore = true with submodules = true): with submodules no Nix release applies export-ignore",
    );
    check(
        true,
        format!("{lib}.fetchGitDate {{ url = \"/nix/store/00000000000000000000000000000000-x\"; }}"),
        "is in the Nix store, where sources are copied without .git",
    );
    check(true, format!("{lib}.fetchGitDate {{ url = {url}; colour = 1; }}"), "unexpected argument 'colour'");
    // truncate's interface changed (the source is its second argument): old calls say how.
    check(true, format!("{lib}.truncate {{ url = {url}; }}"), "the source is now truncate's second argument");
    // The tool's own one-line error reaches the user, then Nix's.
    check(true, format!("{lib}.fetchGitDate {{ url = {url}; rev = \"abc\"; }}"), TOOL_ERROR);
}

#[test]
fn truncate_rolls_back_to_the_interval_boundary_of_rev() {
    if !require_nix("truncate_rolls_back_to_the_interval_boundary_of_rev") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = make_repo(tmp.path());
    let url = repo.display().to_string();
    let tip = run_ok(git_cmd(&repo).args(["rev-parse", "main"]));
    let boundary = commit_time(&repo, &tip).div_euclid(86_400) * 86_400;
    let day = git_truncate(&repo, &tip, boundary, false);
    let three_day_boundary = commit_time(&repo, &tip).div_euclid(3 * 86_400) * 3 * 86_400;
    let three_days = git_truncate(&repo, &tip, three_day_boundary, false);
    assert_ne!(day, three_days, "the intervals must pick different commits");
    // `truncate { options } src`; firstParent = false as git rev-list without --first-parent
    // (the default, true, is tested in incremental_select.rs).
    let expr = format!(
        "let lib = {}; in {{ byRev = (lib.truncate {{ interval = 86400; firstParent = false; }} {{ url = {url}; rev = {tip}; }}).rev; bySrc = (lib.truncate {{ interval = 86400; firstParent = false; }} ({{ rev = {tip}; outPath = \"/nix/store/x\"; }} // {{ url = {url}; }})).rev; threeDays = (lib.truncate {{ interval = \"3d\"; firstParent = false; }} {{ url = {url}; rev = {tip}; }}).rev; }}",
        lib_expr(),
        url = nix_str(&url),
        tip = nix_str(&tip)
    );
    let result = eval_json(tmp.path(), &expr);
    assert_eq!(result["byRev"], day.as_str());
    assert_eq!(result["bySrc"], day.as_str());
    assert_eq!(result["threeDays"], three_days.as_str());
}

/// The fixture repositories of `fixtures/make-fixtures.sh` (tree shapes, attributes, history,
/// gitlinks, a bare clone): every commit equals Nix 2.8's fetchGit.
#[test]
fn fixture_repositories_equal_fetchgit() {
    if !require_nix("fixture_repositories_equal_fetchgit") {
        return;
    }
    let script = project_root().join("fixtures/make-fixtures.sh");
    assert!(script.exists(), "{} is missing: it comes with the fixtures branch", script.display());
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("fx");
    run_ok(Command::new("sh").arg(&script).arg(&out));
    for name in ["files", "attributes", "history", "gitlinks", "history.git"] {
        let repo = out.join(name);
        let revs: Vec<_> = all_commits(&repo).into_iter().map(|r| (r.clone(), r)).collect();
        let home = tmp.path().join(format!("home-{name}"));
        std::fs::create_dir_all(&home).expect("mkdir home");
        compare_all(&home, &repo.display().to_string(), &revs, "", "allRefs = true;");
    }
}
