//! `fetchgit-date hash PATH [--base32]` against Nix's own NAR hashing:
//! `nix hash path --type sha256 PATH` (SRI) and `nix-hash --type sha256 --base32 PATH`.
//! (Nix 2.8's `nix-hash` has no `--sri` flag; `nix hash path` prints SRI.)
//! Inputs: every fixture commit exported with `git archive` (exec bits, symlinks,
//! gitlinks as empty directories, unicode, the big file), single files, and an empty
//! directory.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::*;

fn nix_sri(path: &Path) -> String {
    let mut cmd = Command::new("nix");
    isolate(&mut cmd).args(["--extra-experimental-features", "nix-command", "hash", "path", "--type", "sha256"]).arg(path);
    run_ok(&mut cmd).trim().to_owned()
}

fn nix_base32(path: &Path) -> String {
    let mut cmd = Command::new("nix-hash");
    isolate(&mut cmd).args(["--type", "sha256", "--base32"]).arg(path);
    run_ok(&mut cmd).trim().to_owned()
}

/// Compares `hash PATH` and `hash PATH --base32` with Nix.
fn check(path: &Path, diffs: &mut Vec<String>) {
    let p = path.to_str().expect("scratch paths are UTF-8");
    for (args, want) in [(vec!["hash", p], nix_sri(path)), (vec!["hash", p, "--base32"], nix_base32(path))] {
        match try_bin(&args) {
            Err(e) => diffs.push(e),
            Ok(out) if out.trim_end_matches('\n') == want && out.ends_with('\n') => {}
            Ok(out) => diffs.push(format!("`fetchgit-date {}` printed {out:?}, Nix says {want}", args.join(" "))),
        }
    }
}

/// `git archive REV | tar -x -C DEST`.
fn export(repo: &Path, rev: &str, dest: &Path) {
    std::fs::create_dir_all(dest).expect("create the export directory");
    let mut archive = Command::new("git");
    isolate(&mut archive).arg("-C").arg(repo).args(["archive", "--format=tar", rev]);
    let tar = archive.output().expect("run git archive");
    assert!(tar.status.success(), "git archive {rev} failed");
    let tarfile = dest.with_extension("tar");
    std::fs::write(&tarfile, &tar.stdout).expect("write the tar file");
    let mut untar = Command::new("tar");
    untar.arg("-xf").arg(&tarfile).arg("-C").arg(dest);
    run_ok(&mut untar);
    std::fs::remove_file(&tarfile).expect("remove the tar file");
}

#[test]
fn hash_of_exported_fixture_trees_matches_nix() {
    if !require_nix("hash_of_exported_fixture_trees_matches_nix") {
        return;
    }
    let fx = fixtures();
    let (mut checked, mut diffs) = (0, Vec::new());
    for repo in REPOS {
        let path = fx.repo(repo);
        for rev in all_commits(&path) {
            let dest: PathBuf = fx.scratch("exports").join(format!("{repo}-{rev}"));
            export(&path, &rev, &dest);
            check(&dest, &mut diffs);
            checked += 2;
        }
    }
    assert_no_diffs("hash of exported trees vs nix hash path / nix-hash", checked, &diffs);
}

#[test]
fn hash_of_single_files_and_empty_dir_matches_nix() {
    if !require_nix("hash_of_single_files_and_empty_dir_matches_nix") {
        return;
    }
    let fx = fixtures();
    let dir = fx.scratch("single");
    let mut paths = Vec::new();
    let mut file = |name: &str, content: &[u8], mode: u32| {
        let p = dir.join(name);
        std::fs::write(&p, content).expect("write a test file");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
        paths.push(p);
    };
    file("plain", b"foo\n", 0o644);
    file("empty", b"", 0o644);
    file("exec", b"#!/bin/sh\n", 0o755);
    // only the owner's exec bit counts for Nix
    file("group-exec-only", b"x\n", 0o655);
    file("unpadded", b"12345678901", 0o644);
    file("big", &std::fs::read(fx.repo("files").join("big.txt")).expect("the big fixture file"), 0o644);
    let empty_dir = dir.join("empty-dir");
    std::fs::create_dir_all(&empty_dir).expect("create an empty directory");
    paths.push(empty_dir);
    let mut diffs = Vec::new();
    for p in &paths {
        check(p, &mut diffs);
    }
    assert_no_diffs("hash of single files / empty dir vs Nix", paths.len() * 2, &diffs);
}
