//! Which full build an incremental build reuses (`truncate`, `incremental` of `nix/default.nix`),
//! with real Nix 2.8 and real derivations: one previous build (the same `.drv`) for every
//! commit of a day, another for the next day, always an ancestor on the branch's first-parent
//! chain, also after a merge of a branch with newer dates; the source forms `truncate` takes;
//! and clear evaluation errors for bad input.

use std::collections::BTreeMap;

use crate::support::incremental::*;
use crate::support::*;
use serde_json::Value;

/// For each commit name: the previous build of `incremental` applied to that commit's own
/// build, in two spellings of makePreviousBuild: the turtle shape (`import (truncate ./.) { }`
/// with the commit given as extraFetchGitArgs.rev) and an explicit { url; rev; } source.
fn previous_builds(home: &std::path::Path, repo: &BranchRepo, names: &[&str], options: &str) -> BTreeMap<String, Value> {
    let url = repo.dir.display().to_string();
    let revs: String = names.iter().map(|n| format!("{} ", nix_str(&repo.revs[*n]))).collect();
    let expr = format!(
        "let lib = {lib}; url = {url}; in map (rev:
           let
             current = (import (lib.fetchGitDate {{ inherit url rev; }}) {{ }}).build;
             turtleShape = lib.incremental {{ interval = 86400; {options}
               makePreviousBuild = truncate: (import (truncate (/. + url)) {{ }}).build;
               extraFetchGitArgs = {{ inherit rev; }};
             }} current;
             explicit = lib.incremental {{ interval = 86400; {options}
               makePreviousBuild = truncate: (import (truncate {{ inherit url rev; }}) {{ }}).build;
             }} current;
           in {{
             previous = turtleShape.previousBuild.drvPath;
             previousExplicit = explicit.previousBuild.drvPath;
             previousLabel = turtleShape.previousBuild.drvAttrs.label;
             currentLabel = current.drvAttrs.label;
             wired = \"${{turtleShape.drvAttrs.previousIntermediates}}\" == turtleShape.previousBuild.intermediates.outPath;
             drv = turtleShape.drvPath;
             truncated = (lib.truncate {{ interval = 86400; {options} }} {{ inherit url rev; }}).rev;
           }}) [ {revs}]",
        lib = lib_expr(),
        url = nix_str(&url),
    );
    let results = eval_json(home, &expr);
    names.iter().zip(results.as_array().expect("a list")).map(|(n, r)| ((*n).to_owned(), r.clone())).collect()
}

/// The default (firstParent = true): the commits of one day share one previous build, whatever
/// was merged that day; each day has its own; the truncated commit is on the branch.
#[test]
fn same_day_shares_one_previous_build_across_a_merge() {
    if !require_nix("same_day_shares_one_previous_build_across_a_merge") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = make_branch_repo(tmp.path());
    let names = repo.main_commits();
    let results = previous_builds(tmp.path(), &repo, &names, "");
    let expected = |name: &str| match name {
        "m1" | "m2" => "m1",
        "m3" | "M" | "m4" => "m2",
        _ => "m4",
    };
    for name in &names {
        let r = &results[*name];
        let rev = &repo.revs[*name];
        let truncated = r["truncated"].as_str().expect("a rev");
        let boundary = repo.times[*name].div_euclid(DAY) * DAY;
        assert_eq!(truncated, git_truncate(&repo.dir, rev, boundary, true), "{name}: truncate vs git rev-list -1 --first-parent --before");
        assert_eq!(repo.name_of(truncated), expected(name), "{name}");
        assert_eq!(r["previousLabel"], expected(name), "{name}: {r}");
        assert_eq!(r["currentLabel"], *name);
        assert_eq!(r["previous"], r["previousExplicit"], "{name}: {r}");
        assert_eq!(r["wired"], true, "{name}: {r}");
        assert!(is_ancestor(&repo.dir, truncated, rev), "{name}");
        assert!(first_parent_chain(&repo.dir, rev).iter().any(|c| c == truncated), "{name}: the previous build's commit is on the branch's first-parent chain");
    }
    for a in &names {
        for b in &names {
            let same_day = repo.times[*a].div_euclid(DAY) == repo.times[*b].div_euclid(DAY);
            assert_eq!(results[*a]["previous"] == results[*b]["previous"], same_day, "{a} and {b}: {} vs {}", results[*a]["previous"], results[*b]["previous"]);
        }
    }
    // The current builds themselves all differ (each commit's own source).
    let drvs: std::collections::BTreeSet<_> = names.iter().map(|n| results[*n]["drv"].to_string()).collect();
    assert_eq!(drvs.len(), names.len());
}

/// Why firstParent defaults to true: following every parent, the merge of `side` (whose
/// commit s1 is newer than main's m2) makes the day's later builds pick s1, so two builds of
/// one day reuse different full builds. Still ancestors, as git would walk.
#[test]
fn all_parents_split_a_day_at_a_merge() {
    if !require_nix("all_parents_split_a_day_at_a_merge") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = make_branch_repo(tmp.path());
    let names = ["m3", "M", "m4"];
    let results = previous_builds(tmp.path(), &repo, &names, "firstParent = false;");
    for name in names {
        let rev = &repo.revs[name];
        let truncated = results[name]["truncated"].as_str().expect("a rev");
        let boundary = repo.times[name].div_euclid(DAY) * DAY;
        assert_eq!(truncated, git_truncate(&repo.dir, rev, boundary, false));
        assert!(is_ancestor(&repo.dir, truncated, rev), "{name}");
    }
    assert_eq!(results["m3"]["previousLabel"], "m2");
    assert_eq!(results["M"]["previousLabel"], "s1");
    assert_eq!(results["m4"]["previousLabel"], "s1");
    assert_ne!(results["m3"]["previous"], results["M"]["previous"]);
}

/// The previous build and the incremental build really build, and the latter gets the
/// former's intermediates at build time.
#[test]
fn incremental_build_receives_the_previous_intermediates() {
    if !require_nix("incremental_build_receives_the_previous_intermediates") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = make_branch_repo(tmp.path());
    let file = tmp.path().join("incremental.nix");
    std::fs::write(
        &file,
        format!(
            "let lib = {}; url = {}; rev = {}; in
             lib.incremental {{ interval = 86400; makePreviousBuild = truncate: (import (truncate (/. + url)) {{ }}).build; extraFetchGitArgs = {{ inherit rev; }}; }}
               (import (lib.fetchGitDate {{ inherit url rev; }}) {{ }}).build",
            lib_expr(),
            nix_str(&repo.dir.display().to_string()),
            nix_str(&repo.revs["m4"])
        ),
    )
    .expect("write");
    let out = run_ok(nix_cmd("nix-build", tmp.path()).args(EXEC_ON).args(["--no-out-link", "-A", "out"]).arg(&file));
    let built = std::fs::read_to_string(out.lines().last().expect("a path")).expect("read");
    assert_eq!(built, "m4 reusing m2\n");
}

/// The forms of `src`: a path or URL (no rev: walks from the branch tip, traced as impure and
/// reported as truncation.pure = false), an attribute set with rev (pure), a fetch result or
/// flake `self` completed with a url, pkgs.fetchgit's fetchSubmodules; pure evaluation.
#[test]
fn source_forms_and_purity() {
    if !require_nix("source_forms_and_purity") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = make_branch_repo(tmp.path());
    let url = repo.dir.display().to_string();
    let tip = &repo.revs["m6"];
    let m3 = &repo.revs["m3"];
    let expr = format!(
        "let lib = {lib}; url = {url}; t = lib.truncate {{ interval = 86400; }}; in {{
           path = (t (/. + url)).rev;
           string = (t url).rev;
           pathPure = (t (/. + url)).truncation.pure;
           withRev = (t {{ inherit url; rev = {m3}; }}).rev;
           withRevPure = (t {{ inherit url; rev = {m3}; }}).truncation.pure;
           ref = (t {{ inherit url; ref = \"side\"; }}).rev;
           fetchgitStyle = (t {{ inherit url; rev = {m3}; fetchSubmodules = false; sha256 = \"ignored\"; }}).rev;
           threeDays = (lib.truncate {{ interval = \"3d\"; }} {{ inherit url; rev = {tip}; }}).rev;
           context = builtins.attrNames (builtins.getContext (t {{ inherit url; rev = {m3}; }}).outPath);
           sameAsFetchGit = (t {{ inherit url; rev = {m3}; }}).outPath == (builtins.fetchGit {{ inherit url; rev = {m3_expected}; }}).outPath;
         }}",
        lib = lib_expr(),
        url = nix_str(&url),
        m3 = nix_str(m3),
        tip = nix_str(tip),
        m3_expected = nix_str(&repo.revs["m2"]),
    );
    let out = run(nix_cmd("nix-instantiate", tmp.path()).args(EXEC_ON).args(["--eval", "--strict", "--json", "-E", &expr]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let r: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let day = |name: &str| git_truncate(&repo.dir, &repo.revs[name], repo.times[name].div_euclid(DAY) * DAY, true);
    assert_eq!(r["path"], day("m6").as_str(), "{r}");
    assert_eq!(r["string"], day("m6").as_str());
    assert_eq!(r["pathPure"], false);
    assert_eq!(r["withRev"], repo.revs["m2"].as_str());
    assert_eq!(r["withRevPure"], true);
    assert_eq!(r["ref"], day("s2").as_str());
    assert_eq!(r["fetchgitStyle"], repo.revs["m2"].as_str());
    let three_day_boundary = repo.times["m6"].div_euclid(3 * DAY) * 3 * DAY;
    assert_eq!(r["threeDays"], git_truncate(&repo.dir, tip, three_day_boundary, true).as_str());
    assert_eq!(r["context"].as_array().map(Vec::len), Some(1), "{r}");
    assert_eq!(r["sameAsFetchGit"], true);
    assert!(
        stderr.contains("warning: truncate:")
            && stderr.contains("has no rev, so the walk starts at the tip of the current branch")
            && stderr.contains("impure"),
        "a source without rev is traced as impure:\n{stderr}"
    );

    // Pure evaluation (a flake): a rev is required, and then it works. A flake's self has a
    // store outPath and no url: the url is added, the rest of self is ignored.
    let flake = tmp.path().join("pure-flake");
    std::fs::create_dir_all(flake.join("nix")).expect("mkdir");
    std::fs::copy(project_root().join("nix/default.nix"), flake.join("nix/default.nix")).expect("copy the library");
    std::fs::write(
        flake.join("flake.nix"),
        format!(
            "{{ outputs = {{ self }}: let lib = import ./nix {{ fetchgit-date = {bin}; }}; t = lib.truncate {{ interval = 86400; }}; in {{
                 pure = lib.pureEval;
                 selfWithUrl = (t (self // {{ url = {url}; rev = {m3}; }})).rev;
                 noRev = (t {url}).rev;
                 selfAlone = (t self).rev;
               }}; }}",
            bin = nix_str(BIN),
            url = nix_str(&url),
            m3 = nix_str(m3),
        ),
    )
    .expect("write flake.nix");
    let eval = |attr: &str| {
        run(nix_cmd("nix", tmp.path())
            .args(FLAKES)
            .args(EXEC_ON)
            .args(["eval", "--json", "--no-write-lock-file"])
            .arg(format!("path:{}#{attr}", flake.display())))
    };
    let ok = |attr: &str| -> Value {
        let out = eval(attr);
        assert!(out.status.success(), "{attr}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    let fails = |attr: &str, needle: &str| {
        let out = eval(attr);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(needle), "{attr}: expected {needle:?}, got:\n{stderr}");
    };
    assert_eq!(ok("pure"), true);
    assert_eq!(ok("selfWithUrl"), repo.revs["m2"].as_str());
    fails("noRev", "truncate: src has no rev, and pure evaluation mode forbids walking from the tip of the current branch");
    fails("selfAlone", "is a store path, which has no git history");
}

#[test]
fn clear_errors() {
    if !require_nix("clear_errors") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = make_branch_repo(tmp.path());
    let home = tmp.path();
    let lib = lib_expr();
    let url = nix_str(&repo.dir.display().to_string());
    let rev = nix_str(&repo.revs["m4"]);
    let src = format!("{{ url = {url}; rev = {rev}; }}");
    let drv = "(derivation { name = \"d\"; system = builtins.currentSystem; builder = \"/bin/sh\"; args = [ \"-c\" \"echo > $out\" ]; })";
    let incremental = |extra: &str, make: &str| format!("({lib}.incremental {{ interval = 86400; makePreviousBuild = {make}; {extra} }} {drv}).drvPath");
    let good_make = format!("truncate: (import (truncate {src}) {{ }}).build");

    // interval <= 0, in truncate and incremental
    for interval in ["0", "(-86400)", "\"0d\"", "\"-1d\"", "1.5"] {
        eval_fails(home, true, &format!("({lib}.truncate {{ interval = {interval}; }} {src}).rev"), "truncate: interval must be positive");
    }
    eval_fails(
        home,
        true,
        &format!("({lib}.incremental {{ interval = 0; makePreviousBuild = {good_make}; }} {drv}).drvPath"),
        "incremental: interval must be positive",
    );
    // A source without git history: a plain store path, a flake-self-like set.
    let copy = format!("(builtins.path {{ path = {url}; name = \"plain-copy\"; filter = p: t: baseNameOf p != \".git\"; }})");
    eval_fails(home, true, &format!("({lib}.truncate {{ interval = 86400; }} {copy}).rev"), "is a store path, which has no git history");
    eval_fails(
        home,
        true,
        &format!("({lib}.truncate {{ interval = 86400; }} {{ outPath = {copy}; rev = {rev}; }}).rev"),
        "is a store path, which has no git history",
    );
    eval_fails(home, true, &incremental("", &format!("truncate: (import (truncate {copy}) {{ }}).build")), "is a store path, which has no git history");
    eval_fails(home, true, &format!("({lib}.truncate {{ interval = 86400; }} 42).rev"), "src must be a path, a URL or a fetchGit-style attribute set");
    // makePreviousBuild returning something else than a derivation, or no intermediates.
    eval_fails(
        home,
        true,
        &incremental("", &format!("truncate: \"${{truncate {src}}}\"")),
        "makePreviousBuild must return a derivation (the full build of the truncated source), but it returned the string",
    );
    eval_fails(
        home,
        true,
        &incremental("", &format!("truncate: {{ src = truncate {src}; }}")),
        "but it returned an attribute set that is not a derivation (attributes: src)",
    );
    eval_fails(home, true, &incremental("", "truncate: truncate"), "but it returned a function");
    eval_fails(home, true, &incremental("", &format!("truncate: builtins.seq (truncate {src}) {drv}")), "has no output \"intermediates\" (its outputs: out)");
    eval_fails(home, true, &incremental("", "42"), "makePreviousBuild must be a function from truncate to the full build");
    eval_fails(
        home,
        true,
        &format!("({lib}.incremental {{ interval = 1; makePreviousBuild = {good_make}; }} \"x\").drvPath"),
        "the last argument must be the derivation to build incrementally",
    );
    // The old truncate interface, unknown options, a missing interval.
    eval_fails(home, true, &format!("({lib}.truncate {{ url = {url}; rev = {rev}; }}).rev"), "the source is now truncate's second argument");
    eval_fails(home, true, &format!("({lib}.truncate {{ interval = 1; colour = 2; }} {src}).rev"), "truncate: unknown option colour");
    eval_fails(home, true, &format!("({lib}.truncate {{ }} {src}).rev"), "truncate: interval is required");
    // No way to reach fetchgit-date (no builtins.exec, no plugin): said at once, for any Nix version.
    eval_fails(home, false, &incremental("", &good_make), &format!("incremental: {NO_BACKEND}"));
    eval_fails(home, false, &format!("({lib}.truncate {{ interval = 86400; }} {src}).rev"), NO_BACKEND);
}
