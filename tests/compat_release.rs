//! `--compat` names a real release, never one release's fetch rules with another generation's
//! export (issue 14): `--compat legacy` is Nix 2.19.7 (the newest legacy release), `--compat
//! modern` the default release, and a `--compat` that contradicts `--nix-version` is refused.
//!
//! The example of the issue, against live Nix 2.8: a `git://` fetch by tag of a repository whose
//! `_version.py` has `$Format:%d$` under `export-subst`. Nix 2.8 writes `" (tag: v1.0)"`; a
//! mixture of 2.26's fetch rules (which fetched no tags into the cache) with `git archive` wrote
//! `""`, a hash no release makes.

mod support;

use std::path::Path;

use support::*;

/// A repository like versioneer's: `_version.py` expanded by `export-subst`, an annotated tag
/// `v1.0` on the first commit and a second commit on `main`. Returns the bare repository.
fn make_versioned(scratch: &Scratch) -> std::path::PathBuf {
    let work = scratch.dir.path().join("work");
    std::fs::create_dir_all(&work).expect("work dir");
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("_version.py"), "git_refnames = \"$Format:%d$\"\n").expect("write");
    std::fs::write(work.join(".gitattributes"), "_version.py export-subst\n").expect("write");
    git(&work, &["add", "."]);
    commit_at(&work, 1_600_000_000, "one");
    git(&work, &["tag", "-a", "v1.0", "-m", "v1.0"]);
    std::fs::write(work.join("more.txt"), "more\n").expect("write");
    git(&work, &["add", "."]);
    commit_at(&work, 1_600_086_400, "two");
    let bare = scratch.repo();
    git(scratch.dir.path(), &["clone", "-q", "--bare", work.to_str().expect("utf-8"), bare.to_str().expect("utf-8")]);
    bare
}

/// `fetch --no-store` of `url` at `refs/tags/v1.0` with `extra` flags, each run with a cache of
/// its own (the cache must not carry refs from one release's fetch into another's export).
fn ours(scratch: &Scratch, name: &str, url: &str, extra: &[&str]) -> std::process::Output {
    let home = scratch.dir.path().join(format!("home-{name}"));
    std::fs::create_dir_all(&home).expect("home");
    let mut args = vec!["fetch", "--no-store", "-q", "--url", url, "--ref", "refs/tags/v1.0"];
    args.extend_from_slice(extra);
    run_bin_in(&home, &args, &[])
}

#[test]
fn compat_legacy_is_a_release_and_matches_nix_2_8_on_export_subst_refnames() {
    let scratch = Scratch::new();
    make_versioned(&scratch);
    let daemon = git_daemon(&scratch);
    let url = format!("git://127.0.0.1:{}/repo.git", daemon.port);

    let legacy = ok_json(&ours(&scratch, "legacy", &url, &["--compat", "legacy"]), "--compat legacy");
    let newest_legacy = ok_json(&ours(&scratch, "2.19.7", &url, &["--nix-version", "2.19.7"]), "--nix-version 2.19.7");
    assert_eq!(legacy, newest_legacy, "--compat legacy is Nix 2.19.7");
    let nix_2_8 = ok_json(&ours(&scratch, "2.8.0", &url, &["--nix-version", "2.8.0"]), "--nix-version 2.8.0");
    for key in ["narHash", "outPath", "rev", "revCount", "lastModified"] {
        assert_eq!(legacy[key], nix_2_8[key], "{key}: Nix 2.19.7 and 2.8 fetch a tag alike");
    }
    let modern = ok_json(&ours(&scratch, "modern", &url, &["--compat", "modern"]), "--compat modern");
    let default = ok_json(&ours(&scratch, "default", &url, &[]), "the default release");
    assert_eq!(modern, default, "--compat modern is the default release");
    assert_ne!(modern["narHash"], legacy["narHash"], "export-subst is applied by legacy exports only");

    if require_nix("compat_legacy_is_a_release_and_matches_nix_2_8_on_export_subst_refnames") {
        let nix = nix_fetchgit(&scratch, &url, "ref = \"refs/tags/v1.0\";");
        let out_path = nix["outPath"].as_str().expect("outPath");
        let version_py = std::fs::read_to_string(Path::new(out_path).join("_version.py")).expect("Nix 2.8's _version.py");
        assert_eq!(version_py, "git_refnames = \" (tag: v1.0)\"\n", "the scenario expands %d to the tag (Nix 2.8)");
        assert_same_as_nix(&legacy, &nix, "--compat legacy vs Nix 2.8");
        assert_same_as_nix(&nix_2_8, &nix, "--nix-version 2.8.0 vs Nix 2.8");
    }
}

/// The tagged commit fetched by `rev` from `main`: Nix 2.8's `git fetch URL main:main` brings the
/// tag along (git's auto-follow), so `%d` lists it; so must every legacy fetch of ours (the cache
/// once fetched no tags, and `git_refnames` came out `""`).
#[test]
fn legacy_fetch_by_rev_lists_the_tags_git_fetch_brings() {
    let scratch = Scratch::new();
    let bare = make_versioned(&scratch);
    let daemon = git_daemon(&scratch);
    let url = format!("git://127.0.0.1:{}/repo.git", daemon.port);
    let tagged = git(&bare, &["rev-parse", "v1.0^{commit}"]);
    let by_rev = |name: &str, extra: &[&str]| {
        let home = scratch.dir.path().join(format!("home-rev-{name}"));
        std::fs::create_dir_all(&home).expect("home");
        let mut args = vec!["fetch", "--no-store", "-q", "--url", &url, "--ref", "main", "--rev", &tagged];
        args.extend_from_slice(extra);
        ok_json(&run_bin_in(&home, &args, &[]), name)
    };
    let legacy = by_rev("legacy", &["--compat", "legacy"]);
    let old = by_rev("2.8.0", &["--nix-version", "2.8.0"]);
    assert_eq!(legacy["narHash"], old["narHash"]);
    if require_nix("legacy_fetch_by_rev_lists_the_tags_git_fetch_brings") {
        let nix = nix_fetchgit(&scratch, &url, &format!("ref = \"main\"; rev = \"{tagged}\";"));
        let version_py = std::fs::read_to_string(Path::new(nix["outPath"].as_str().expect("outPath")).join("_version.py")).expect("_version.py");
        assert_eq!(version_py, "git_refnames = \" (tag: v1.0)\"\n", "Nix 2.8 lists the tag it fetched along");
        assert_same_as_nix(&legacy, &nix, "--compat legacy by rev vs Nix 2.8");
        assert_same_as_nix(&old, &nix, "--nix-version 2.8.0 by rev vs Nix 2.8");
    }
}

#[test]
fn compat_that_contradicts_the_release_is_refused() {
    let scratch = Scratch::new();
    let home = scratch.home();
    for (args, needle) in [
        (["--compat", "legacy", "--nix-version", "2.26.3"], "--compat legacy contradicts --nix-version 2.26.3, a modern release (Nix >= 2.20)"),
        (["--compat", "modern", "--nix-version", "2.8.0"], "--compat modern contradicts --nix-version 2.8.0, a legacy release (Nix <= 2.19)"),
        (["--compat", "modern", "--nix-version", "2.18.3-lix"], "--compat modern contradicts --nix-version 2.18.3-lix, a legacy release"),
    ] {
        let mut all = vec!["fetch", "--no-store", "--url", "/nonexistent"];
        all.extend_from_slice(&args);
        let err = err_line(&run_bin_in(&home, &all, &[]), needle);
        assert!(err.contains(needle), "{err}");
        assert!(err.contains("leave out --compat"), "{err}");
    }
    // Lix is a legacy release: --compat legacy with it is Lix, not 2.19.7.
    let out = run_bin_in(&home, &["fetch", "--no-store", "--url", "/nonexistent", "--compat", "legacy", "--nix-version", "2.18.3-lix"], &[]);
    let err = err_line(&out, "Lix with --compat legacy");
    assert!(!err.contains("contradicts"), "{err}");
}
