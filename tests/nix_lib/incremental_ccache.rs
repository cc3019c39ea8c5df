//! A real incremental build with a real compiler: a generated C project of 200 sources plus
//! `main.c` (`tests/support/files/make-cproject.sh`), built by a plain derivation that
//! compiles through ccache with the cache directory as its `intermediates` output
//! (`cproject.nix`, host gcc and ccache by absolute path; the store builds without a sandbox).
//! `incremental` picks the full build of the previous day's commit; after a one-file change
//! the incremental build compiles exactly that file (ccache's own statistics) and its output
//! is identical to a from-scratch build of the same commit.

use std::path::Path;

use crate::support::incremental::*;
use crate::support::*;

const FILES: usize = 200;

/// Builds `attr` of `file`; returns the output path.
fn build(home: &Path, file: &Path, attr: &str) -> String {
    let out = run_ok(nix_cmd("nix-build", home).args(EXEC_ON).args(["--no-out-link", "-A", attr]).arg(file));
    out.lines().last().expect("an output path").to_owned()
}

fn nar_hash(path: &str) -> String {
    run_ok(std::process::Command::new("nix-store").args(["-q", "--hash", path]))
}

fn run_program(out: &str) -> String {
    run_ok(&mut std::process::Command::new(format!("{out}/bin/cproject")))
}

#[test]
fn one_changed_file_is_the_only_compilation_and_the_output_equals_a_full_build() {
    if !require_nix("one_changed_file_is_the_only_compilation_and_the_output_equals_a_full_build") {
        return;
    }
    if !require_ccache("one_changed_file_is_the_only_compilation_and_the_output_equals_a_full_build") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let (repo, full, change) = make_cproject(tmp.path(), FILES);
    let file = tmp.path().join("cproject-incremental.nix");
    // A nonce per run, so each run really builds (the store outlives the test).
    let nonce = format!("{}-{}", std::process::id(), std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970").as_nanos());
    std::fs::write(
        &file,
        format!(
            "let
               lib = {lib};
               url = {url};
               rev = {change};
               cproject = import {cproject};
               nonce = {nonce};
               current = cproject {{ src = lib.fetchGitDate {{ inherit url rev; }}; inherit nonce; }};
             in rec {{
               incremental = lib.incremental {{
                 interval = 86400;
                 makePreviousBuild = truncate: cproject {{ src = truncate {{ inherit url rev; }}; inherit nonce; }};
               }} current;
               previous = incremental.previousBuild;
               previousSrcRev = (lib.truncate {{ interval = 86400; }} {{ inherit url rev; }}).rev;
               scratch = current;
               wired = \"${{incremental.drvAttrs.previousIntermediates}}\" == previous.intermediates.outPath;
             }}",
            lib = lib_expr(),
            url = nix_str(&repo.display().to_string()),
            change = nix_str(&change),
            cproject = nix_str(&support_dir().join("cproject.nix").display().to_string()),
            nonce = nix_str(&nonce),
        ),
    )
    .expect("write the Nix file");
    let home = tmp.path();
    let facts = eval_json(home, &format!("let e = import {}; in {{ inherit (e) previousSrcRev wired; }}", nix_str(&file.display().to_string())));
    assert_eq!(facts["previousSrcRev"], full.as_str(), "the previous day's commit");
    assert_eq!(facts["wired"], true);

    // The full build of the truncated commit: every source compiled.
    let previous_out = build(home, &file, "previous.out");
    let previous_stats = ccache_stats(Path::new(&build(home, &file, "previous.intermediates")).join("stats").as_path());
    assert_eq!(previous_stats["cache_miss"], FILES as u64 + 1, "{previous_stats:?}");
    let hits = |s: &std::collections::BTreeMap<String, u64>| s["direct_cache_hit"] + s["preprocessed_cache_hit"];
    assert_eq!(hits(&previous_stats), 0);

    // The incremental build of the next day's commit: one source changed, one compilation.
    let incremental_out = build(home, &file, "incremental.out");
    let incremental_stats = ccache_stats(&Path::new(&build(home, &file, "incremental.intermediates")).join("stats"));
    assert_eq!(incremental_stats["cache_miss"], 1, "exactly the changed file is compiled: {incremental_stats:?}");
    assert_eq!(hits(&incremental_stats), FILES as u64, "{incremental_stats:?}");

    // From scratch, the same commit: everything compiled again, the same output bytes.
    let scratch_out = build(home, &file, "scratch.out");
    let scratch_stats = ccache_stats(&Path::new(&build(home, &file, "scratch.intermediates")).join("stats"));
    assert_eq!(scratch_stats["cache_miss"], FILES as u64 + 1, "{scratch_stats:?}");
    assert_ne!(incremental_out, scratch_out, "two derivations, two store paths");
    assert_eq!(nar_hash(&incremental_out), nar_hash(&scratch_out), "the incremental output is byte-identical to the from-scratch output");
    assert_ne!(nar_hash(&incremental_out), nar_hash(&previous_out), "the change reached the program");
    let (new, old) = (run_program(&incremental_out), run_program(&previous_out));
    assert_eq!(new, run_program(&scratch_out));
    let (new, old): (i64, i64) = (new.parse().expect("a number"), old.parse().expect("a number"));
    assert_eq!(new - old, 4200, "f0042 starts from 4242 instead of 42");
}
