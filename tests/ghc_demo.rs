//! The headline demo with a real GHC (docs/incremental.md, "Measured with GHC"): turtle's real
//! history built incrementally by `haskell.incremental` (nix/default.nix), with GHC 9.6.6,
//! Cabal 3.10 and turtle's libraries from Debian trixie, and Nix 2.26.3 building as a
//! non-root build user, in a chroot set up by `tests/ghc_demo/setup-chroot.sh`. The builder
//! (`tests/ghc_demo/haskell-builder.nix`) follows nixpkgs' generic builder where intermediates
//! are concerned. trixie's Nix is static and cannot load the plugin, so the library reaches
//! this project's CLI (the binary cargo built for this test, copied into the chroot) through
//! `builtins.exec`.
//!
//! Turtle's commits 574b705 and 4bb5cac (C) were both made on 2025-06-08 (UTC); the last
//! commit before that day is 743f2f9 (2024-05-23), which differs from C in one module,
//! `Turtle.Tutorial`. On top of C the test commits the seed's one-line change to
//! `src/Turtle/Prelude.hs` on 2025-06-09 and more commits on the 9th and the 10th.
//!
//! Under `CI=true` a chroot that cannot be set up fails the test; elsewhere (not root, no
//! network) it is skipped with a message.

#[path = "ghc_demo/chroot.rs"]
mod chroot;
mod support;

use std::collections::BTreeSet;
use std::path::Path;

use chroot::*;
use support::*;

/// turtle 1.6.2 + two tutorial fixes: the tip of turtle's main branch in the bundle.
const C: &str = "4bb5cac0d5b5ee946cfd18fe85bfe5693d44967a";
/// The commit before C, the same day.
const SAME_DAY: &str = "574b705854105e7a5e560545e29b9553b033a624";
/// The last commit before C's day (2024-05-23).
const DAY_BEFORE: &str = "743f2f9b0dde50b8a20e7e883ee4daff6a612b29";
/// 2025-06-09T00:00:00Z, the day after C's.
const NEXT_DAY: i64 = 1_749_427_200;
const DAY: i64 = 86_400;

/// Turtle's library modules (turtle.cabal: exposed and other modules).
const LIBRARY_MODULES: &[&str] = &[
    "Turtle",
    "Turtle.Bytes",
    "Turtle.Format",
    "Turtle.Pattern",
    "Turtle.Shell",
    "Turtle.Options",
    "Turtle.Line",
    "Turtle.Prelude",
    "Turtle.Tutorial",
    "Turtle.Internal",
];

#[test]
fn turtle_rebuilds_only_the_changed_module_and_a_day_shares_one_full_build() {
    let Some(chroot) = Chroot::ready("turtle_rebuilds_only_the_changed_module_and_a_day_shares_one_full_build") else { return };
    let demo = chroot.demo_dir("turtle");
    let repo = demo.host.join("turtle");
    run_ok(git_cmd(&demo.host).args(["clone", "-q", "--no-checkout"]).arg(turtle_bundle()).arg(&repo));
    run_ok(git_cmd(&repo).args(["checkout", "-q", "-b", "demo", C]));
    let repo_inside = format!("{}/turtle", demo.inside);
    let project = |rev: &str| chroot.turtle_project(&repo_inside, rev);

    // The day's full build: the same derivation for both commits of 2025-06-08, the source
    // of the last commit before that day (git's answer).
    let c = chroot.eval_json(&format!(
        "let p = {}; i = p.incremental; in {{ previous = i.previousBuild.drvPath; previousRev = i.previousBuild.cabalArgs.src.rev; drv = i.drvPath; restores = i.drvAttrs.previousIntermediates.outPath; intermediates = i.previousBuild.intermediates.outPath; }}",
        project(C)
    ));
    let truncated = git_truncate(&repo, C, NEXT_DAY - DAY, true);
    assert_eq!(truncated, DAY_BEFORE, "turtle's history as this test knows it");
    assert_eq!(c["previousRev"], DAY_BEFORE);
    assert_eq!(c["restores"], c["intermediates"]);
    let same_day = chroot.eval_json(&format!("({}).incremental.previousBuild.drvPath", project(SAME_DAY)));
    assert_eq!(same_day, c["previous"], "both commits of 2025-06-08 share one full build");

    // Build C incrementally: the full build of 743f2f9 compiles every library module, the
    // incremental build of C only the one that differs (Turtle.Tutorial).
    chroot.build(&format!("({}).incremental", project(C)));
    let full = compiled_modules(&chroot.build_log(str_of(&c["previous"])));
    assert_eq!(names(&full), LIBRARY_MODULES.iter().map(|m| m.to_string()).collect(), "full build: {full:?}");
    let changed = changed_modules(&repo, DAY_BEFORE, C);
    assert_eq!(changed, BTreeSet::from(["Turtle.Tutorial".to_owned()]));
    let incremental_log = chroot.build_log(str_of(&c["drv"]));
    assert!(incremental_log.contains("builder: running as user nixbld"), "builds run as a Nix build user, not root:\n{incremental_log}");
    assert!(incremental_log.contains(&format!("restoring intermediates from {}", str_of(&c["intermediates"]))), "{incremental_log}");
    let incremental = compiled_modules(&incremental_log);
    assert_only(&incremental, &changed, "incremental build of C on 743f2f9's intermediates");

    // The seed's change, committed the next day: that day's full build is C's, and the
    // incremental build compiles exactly Turtle.Prelude.
    append_line(&repo.join("src/Turtle/Prelude.hs"));
    commit_at(&repo, NEXT_DAY + 10 * 3600, "echo >> src/Turtle/Prelude.hs");
    let d1 = rev_parse(&repo);
    let f1 = chroot.eval_json(&format!(
        "let i = ({}).incremental; in {{ previous = i.previousBuild.drvPath; previousRev = i.previousBuild.cabalArgs.src.rev; drv = i.drvPath; }}",
        project(&d1)
    ));
    assert_eq!(f1["previousRev"], C);
    assert_ne!(f1["previous"], c["previous"]);
    chroot.build(&format!("({}).incremental", project(&d1)));
    let full_c = compiled_modules(&chroot.build_log(str_of(&f1["previous"])));
    assert_eq!(names(&full_c).len(), LIBRARY_MODULES.len(), "full build of C: {full_c:?}");
    let one = compiled_modules(&chroot.build_log(str_of(&f1["drv"])));
    assert_eq!(
        one.iter().filter(|m| m.name != "Paths_turtle").cloned().collect::<Vec<_>>(),
        vec![Compiled { name: "Turtle.Prelude".into(), reason: "Source file changed".into() }],
        "the one-line change compiles Turtle.Prelude alone (its importers are not recompiled)"
    );

    // A second commit of 2025-06-09 shares that day's full build; one of 2025-06-10 gets a new
    // one (of the 9th's last commit).
    std::fs::write(repo.join("NOTES"), "second commit of the day\n").expect("write NOTES");
    commit_at(&repo, NEXT_DAY + 15 * 3600, "second commit of the day");
    let d2 = rev_parse(&repo);
    let f2 = chroot.eval_json(&format!("({}).incremental.previousBuild.drvPath", project(&d2)));
    assert_eq!(f2, f1["previous"], "a second commit of the same day gets the same full-build .drv");
    std::fs::write(repo.join("NOTES"), "the next day\n").expect("write NOTES");
    commit_at(&repo, NEXT_DAY + DAY + 9 * 3600, "next day");
    let d3 = rev_parse(&repo);
    let f3 = chroot.eval_json(&format!(
        "let i = ({}).incremental; in {{ previous = i.previousBuild.drvPath; previousRev = i.previousBuild.cabalArgs.src.rev; }}",
        project(&d3)
    ));
    assert_eq!(f3["previousRev"], d2.as_str());
    assert_ne!(f3["previous"], f1["previous"], "the next day's commit gets a new full build");
}

/// A module GHC compiled, with the reason it gave (`[Source file changed]`), if any.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Compiled {
    name: String,
    reason: String,
}

/// Every `[i of n] Compiling M ( ... ) [reason]` line of the library's part of a build log
/// (after Cabal's `Building library for`, before its next step), in order: the build driver
/// (Setup.hs, module Main) is compiled from scratch by every build.
fn compiled_modules(log: &str) -> Vec<Compiled> {
    let mut in_library = false;
    let mut compiled = Vec::new();
    for line in log.lines() {
        if line.starts_with("Building library for ") {
            in_library = true;
            continue;
        }
        if ["Building ", "Installing ", "Preprocessing ", "Linking "].iter().any(|p| line.starts_with(p)) {
            in_library = false;
        }
        if in_library {
            compiled.extend(compiling(line));
        }
    }
    compiled
}

/// The module and reason of GHC's `[i of n] Compiling M ( ... ) [reason]` line.
fn compiling(line: &str) -> Option<Compiled> {
    let rest = line.trim_start().strip_prefix('[')?;
    let (counter, rest) = rest.split_once(']')?;
    if !counter.contains(" of ") {
        return None;
    }
    let rest = rest.trim_start().strip_prefix("Compiling ")?;
    let name = rest.split_whitespace().next()?.to_owned();
    let reason = rest.rsplit_once(") [").and_then(|(_, r)| r.strip_suffix(']')).unwrap_or_default().to_owned();
    Some(Compiled { name, reason })
}

fn names(modules: &[Compiled]) -> BTreeSet<String> {
    modules.iter().map(|m| m.name.clone()).collect()
}

/// `compiled` is exactly `expected` (plus Paths_turtle, which a new $out changes), each
/// compiled once because its source changed.
fn assert_only(compiled: &[Compiled], expected: &BTreeSet<String>, what: &str) {
    let library: Vec<&Compiled> = compiled.iter().filter(|m| m.name != "Paths_turtle").collect();
    assert_eq!(library.iter().map(|m| m.name.clone()).collect::<BTreeSet<_>>(), *expected, "{what}: {compiled:?}");
    assert_eq!(library.len(), expected.len(), "{what}: each module once: {compiled:?}");
    for m in library {
        assert_eq!(m.reason, "Source file changed", "{what}: {compiled:?}");
    }
}

/// The library modules whose source differs between two commits (`src/A/B.hs` is `A.B`).
fn changed_modules(repo: &Path, from: &str, to: &str) -> BTreeSet<String> {
    run_ok(git_cmd(repo).args(["diff", "--name-only", from, to, "--", "src"]))
        .lines()
        .filter_map(|f| f.strip_prefix("src/")?.strip_suffix(".hs").map(|m| m.replace('/', ".")))
        .collect()
}

fn append_line(path: &Path) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).expect("open for append");
    f.write_all(b"\n").expect("append a newline");
}

fn rev_parse(repo: &Path) -> String {
    run_ok(git_cmd(repo).args(["rev-parse", "HEAD"]))
}

fn str_of(v: &serde_json::Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("a string, not {v}"))
}
