//! `haskell.incremental` (nix/default.nix), evaluated with real Nix 2.8 against a repository
//! in the shape of turtle's example (`default.nix` with `turtle` and `turtle-incremental`).
//!
//! nixpkgs cannot be downloaded here, so haskell.lib and the Haskell package set are a
//! stand-in (`tests/support/files/haskell-standin.nix`) that records what it was given:
//! these are evaluation tests of what the helper passes to nixpkgs' builder arguments
//! (doInstallIntermediates, enableSeparateIntermediatesOutput, output intermediates,
//! previousIntermediates through compose.overrideCabal), not builds with GHC. The helper uses
//! nothing of haskell.lib but compose.overrideCabal, and nothing of a package but
//! compiler.version and the intermediates output, which the stand-in models as nixpkgs has them.

use std::path::{Path, PathBuf};

use crate::support::incremental::*;
use crate::support::*;
use serde_json::Value;

fn standin(ghc: &str) -> String {
    format!("(import {} {{ ghcVersion = {}; }})", nix_str(&support_dir().join("haskell-standin.nix").display().to_string()), nix_str(ghc))
}

/// Commits a (day 0 10:00), b (day 1 01:00), c (day 1 05:00), d (day 2 03:00), each with the
/// turtle-shaped default.nix and its name in `label`.
fn make_turtle_repo(parent: &Path) -> (PathBuf, Vec<(&'static str, String)>) {
    let dir = parent.join("turtle");
    std::fs::create_dir_all(&dir).expect("mkdir");
    run_ok(git_cmd(&dir).args(["init", "-q", "-b", "main"]));
    std::fs::copy(support_dir().join("turtle-shape-default.nix"), dir.join("default.nix")).expect("copy default.nix");
    let mut revs = Vec::new();
    for (name, t) in [("a", DAY0 + 10 * 3600), ("b", DAY0 + DAY + 3600), ("c", DAY0 + DAY + 5 * 3600), ("d", DAY0 + 2 * DAY + 3 * 3600)] {
        std::fs::write(dir.join("label"), name).expect("write label");
        commit_at(&dir, t, name);
        revs.push((name, run_ok(git_cmd(&dir).args(["rev-parse", "HEAD"]))));
    }
    (dir, revs)
}

/// What the turtle-shaped default.nix gives at the checked-out commit `rev` (`pin`: pass rev).
fn turtle_facts(home: &Path, repo: &Path, rev: &str, pin: bool) -> Value {
    run_ok(git_cmd(repo).args(["checkout", "-q", rev]));
    let rev_arg = if pin { format!("rev = {};", nix_str(rev)) } else { String::new() };
    let expr = format!(
        "let
           lib = {lib};
           project = import {repo} {{ {rev_arg} haskell = {standin}; fetchgitDate = lib; }};
           inc = project.turtle-incremental;
           prev = inc.previousBuild;
         in {{
           previous = prev.drvPath;
           previousLabel = prev.cabalArgs.description;
           previousArgs = {{ inherit (prev.cabalArgs) doInstallIntermediates enableSeparateIntermediatesOutput; }};
           previousOverrides = prev.overrides;
           previousOutputs = prev.outputs;
           previousSrc = toString prev.cabalArgs.src;
           truncatedSrc = (lib.truncate {{ interval = 86400; }} {{ url = {repo_str}; rev = {rev}; }}).outPath;
           currentLabel = inc.cabalArgs.description;
           currentOverrides = inc.overrides;
           currentOutputs = inc.outputs;
           currentInstallsIntermediates = inc.cabalArgs ? doInstallIntermediates;
           previousIntermediates = inc.cabalArgs.previousIntermediates.outPath;
           intermediatesOfPrevious = prev.intermediates.outPath;
           inEnvironment = inc.drvAttrs.previousIntermediates.outPath;
           drv = inc.drvPath;
           plain = project.turtle.drvPath;
         }}",
        lib = lib_expr(),
        repo = nix_str(&repo.display().to_string()),
        repo_str = nix_str(&repo.display().to_string()),
        rev = nix_str(rev),
        standin = standin("9.4.8"),
    );
    let out = run(nix_cmd("nix-instantiate", home).args(EXEC_ON).args(["--eval", "--strict", "--json", "-E", &expr]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr.contains("is impure") || stderr.contains("the result is impure"), !pin, "only an unpinned source is traced as impure:\n{stderr}");
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn previous_build_keeps_intermediates_and_the_build_restores_them() {
    if !require_nix("previous_build_keeps_intermediates_and_the_build_restores_them") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let (repo, revs) = make_turtle_repo(tmp.path());
    let rev = |name: &str| revs.iter().find(|(n, _)| *n == name).map(|(_, r)| r.clone()).expect("a commit of the fixture");
    let facts: Vec<(&str, Value)> = ["b", "c", "d"].into_iter().map(|n| (n, turtle_facts(tmp.path(), &repo, &rev(n), true))).collect();
    for (name, f) in &facts {
        let expected_previous = match *name {
            "b" | "c" => "a",
            _ => "c",
        };
        // The previous build: the truncated revision, built with the builder's arguments
        // that install intermediates into their own output.
        assert_eq!(f["previousLabel"], expected_previous, "{name}: {f}");
        assert_eq!(f["previousSrc"], f["truncatedSrc"], "{name}: {f}");
        assert_eq!(f["previousArgs"], serde_json::json!({ "doInstallIntermediates": true, "enableSeparateIntermediatesOutput": true }), "{name}");
        assert_eq!(f["previousOverrides"], serde_json::json!([["doInstallIntermediates", "enableSeparateIntermediatesOutput"]]));
        assert_eq!(f["previousOutputs"], serde_json::json!(["out", "intermediates"]));
        // The build of the commit: its own source, given previousIntermediates (that output of
        // the previous build), nothing else changed.
        assert_eq!(f["currentLabel"], *name);
        assert_eq!(f["currentOverrides"], serde_json::json!([["previousIntermediates"]]));
        assert_eq!(f["currentOutputs"], serde_json::json!(["out"]));
        assert_eq!(f["currentInstallsIntermediates"], false);
        assert_eq!(f["previousIntermediates"], f["intermediatesOfPrevious"]);
        assert_eq!(f["inEnvironment"], f["intermediatesOfPrevious"]);
        assert_ne!(f["drv"], f["plain"]);
    }
    // One previous build per day.
    assert_eq!(facts[0].1["previous"], facts[1].1["previous"]);
    assert_ne!(facts[1].1["previous"], facts[2].1["previous"]);
    // Without rev (plain `nix-build` in a checkout): the same choice, traced as impure.
    let unpinned = turtle_facts(tmp.path(), &repo, &rev("c"), false);
    assert_eq!(unpinned["previous"], facts[1].1["previous"]);
}

#[test]
fn clear_errors() {
    if !require_nix("clear_errors") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let (repo, revs) = make_turtle_repo(tmp.path());
    let home = tmp.path();
    let lib = lib_expr();
    let src = format!("{{ url = {}; rev = {}; }}", nix_str(&repo.display().to_string()), nix_str(&revs[3].1));
    let call = |ghc: &str, haskell_lib: &str, make: &str, pkg: &str| {
        format!(
            "let s = {standin}; mk = s.packages.mkDerivation; in ({lib}.haskellFor {haskell_lib}).incremental {{ interval = 86400; makePreviousBuild = {make}; }} {pkg}",
            standin = standin(ghc)
        )
    };
    let pkg = "(mk { pname = \"p\"; version = \"1\"; })";
    let make = format!("truncate: builtins.seq (truncate {src}) {pkg}");
    let drv_path = |e: String| format!("({e}).drvPath");
    // GHC older than 9.4: refused, whatever else is right.
    eval_fails(
        home,
        true,
        &drv_path(call("9.2.8", "s.lib", &make, pkg)),
        "haskell.incremental: p-1 is built with GHC 9.2.8, but incremental builds need GHC >= 9.4",
    );
    // GHC 9.10 is newer than 9.4 (versions, not strings, are compared).
    let ok = eval_json(home, &format!("({}).previousBuild.outputs", call("9.10.1", "s.lib", &make, pkg)));
    assert_eq!(ok, serde_json::json!(["out", "intermediates"]));
    eval_fails(home, false, &drv_path(call("9.4.8", "s.lib", &make, pkg)), &format!("haskell.incremental: {NO_BACKEND}"));
    eval_fails(
        home,
        true,
        &drv_path(call("9.4.8", "{ }", &make, pkg)),
        "haskell.incremental: haskellLib must be nixpkgs' haskell.lib (with compose.overrideCabal)",
    );
    eval_fails(
        home,
        true,
        &drv_path(call("9.4.8", "s.lib", &make, "(derivation { name = \"x\"; system = \"s\"; builder = \"b\"; })")),
        "haskell.incremental: cannot tell which GHC builds x",
    );
    eval_fails(
        home,
        true,
        &drv_path(call("9.4.8", "s.lib", "truncate: truncate", pkg)),
        "makePreviousBuild must return a derivation (the full build of the truncated source), but it returned a function",
    );
    eval_fails(home, true, &drv_path(call("9.4.8", "s.lib", &format!("truncate: {src}"), pkg)), "but it returned an attribute set that is not a derivation");
    eval_fails(
        home,
        true,
        &format!("({lib}.haskell.incremental {{ interval = 1; makePreviousBuild = x: x; }} 1).drvPath"),
        "haskell.incremental needs nixpkgs' haskell.lib: import fetchgit-date's nix/ with { fetchgit-date = ...; haskellLib = pkgs.haskell.lib; }",
    );
    // Given at import, haskellLib makes lib.haskell.incremental the same function.
    let with_lib = lib_with(Some(&format!("{}.lib", standin("9.4.8"))));
    let same = eval_json(
        home,
        &format!(
            "let s = {standin}; mk = s.packages.mkDerivation; pkg = {pkg}; a = ({with_lib}.haskell.incremental {{ interval = 86400; makePreviousBuild = {make}; }} pkg); b = ({lib}.haskellFor s.lib).incremental {{ interval = 86400; makePreviousBuild = {make}; }} pkg; in a.drvPath == b.drvPath",
            standin = standin("9.4.8")
        ),
    );
    assert_eq!(same, true);
}

/// A full build of another GHC or package version than the package (the day a commit bumps
/// either, when makePreviousBuild builds the old commit's recipe) has no
/// share/haskell/<GHC>/<pname>-<version> for nixpkgs' builder to restore: its `cp` would fail
/// the build. The package is then built from scratch, with a warning.
#[test]
fn another_ghc_or_version_in_the_full_build_builds_from_scratch() {
    if !require_nix("another_ghc_or_version_in_the_full_build_builds_from_scratch") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let (repo, revs) = make_turtle_repo(tmp.path());
    let src = format!("{{ url = {}; rev = {}; }}", nix_str(&repo.display().to_string()), nix_str(&revs[3].1));
    let facts = |previous_ghc: &str, previous_version: &str| {
        let expr = format!(
            "let now = {now}; old = {old};
                 pkg = now.packages.mkDerivation {{ pname = \"p\"; version = \"1\"; }};
                 r = ({lib}.haskellFor now.lib).incremental {{
                   interval = 86400;
                   makePreviousBuild = truncate: builtins.seq (truncate {src}) (old.packages.mkDerivation {{ pname = \"p\"; version = {v}; }});
                 }} pkg;
             in {{ same = r.drvPath == pkg.drvPath; previous = r.previousBuild == null; restores = r.cabalArgs ? previousIntermediates; }}",
            now = standin("9.6.6"),
            old = standin(previous_ghc),
            lib = lib_expr(),
            v = nix_str(previous_version),
        );
        let out = run(nix_cmd("nix-instantiate", tmp.path()).args(EXEC_ON).args(["--eval", "--strict", "--json", "-E", &expr]));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        let value: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        (value, stderr)
    };
    let scratch = serde_json::json!({ "same": true, "previous": true, "restores": false });
    let (v, stderr) = facts("9.4.8", "1");
    assert_eq!(v, scratch);
    assert!(
        stderr.contains("warning: haskell.incremental: the full build p-1 is of GHC 9.4.8, p 1, but p-1 of GHC 9.6.6, p 1: its intermediates cannot be restored (nixpkgs looks for share/haskell/9.6.6/p-1)"),
        "{stderr}"
    );
    let (v, stderr) = facts("9.6.6", "0.9");
    assert_eq!(v, scratch);
    assert!(stderr.contains("is of GHC 9.6.6, p 0.9, but p-1 of GHC 9.6.6, p 1"), "{stderr}");
    // The same GHC and version: wired, no warning.
    let (v, stderr) = facts("9.6.6", "1");
    assert_eq!(v, serde_json::json!({ "same": false, "previous": false, "restores": true }));
    assert!(!stderr.contains("haskell.incremental"), "{stderr}");
}
