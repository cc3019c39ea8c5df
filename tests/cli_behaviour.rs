//! The CLI's contract beyond the oracle comparisons: every bad input gets exit code 2 and one
//! line on stderr naming the problem; `verify` explains; a dirty work tree fetches as Nix 2.8
//! fetches it; option-like input is refused before anything runs.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

/// A scratch repository with one commit, built by git with fixed identities and dates.
fn small_repo(name: &str) -> PathBuf {
    let dir = fixtures().scratch(name);
    git(&dir, &["init", "-q", "-b", "main"]);
    std::fs::write(dir.join("tracked.txt"), "one\n").expect("write");
    std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
    std::fs::write(dir.join("sub/inner.txt"), "inner\n").expect("write");
    commit_at(&dir, 1_600_000_000, "one");
    dir
}

/// Runs the binary and checks exit code 2, one line on stderr containing every `needle`, and
/// nothing on stdout.
fn expect_error(args: &[&str], needles: &[&str], diffs: &mut Vec<String>) {
    let out = run_bin(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let ctx = args.join(" ");
    if out.status.code() != Some(2) {
        diffs.push(format!("`{ctx}`: exit status {}, expected 2 (stderr: {stderr})", out.status));
    }
    if stderr.trim().is_empty() || stderr.trim_end().contains('\n') {
        diffs.push(format!("`{ctx}`: stderr is not exactly one line: {stderr:?}"));
    }
    for needle in needles {
        if !stderr.contains(needle) {
            diffs.push(format!("`{ctx}`: stderr does not mention {needle:?}: {stderr}"));
        }
    }
    if !out.stdout.is_empty() {
        diffs.push(format!("`{ctx}`: printed on stdout: {:?}", String::from_utf8_lossy(&out.stdout)));
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("scratch paths are UTF-8")
}

#[test]
fn bad_input_is_one_line_exit_2() {
    let repo = small_repo("errors-repo");
    let url = path_str(&repo);
    let head = git(&repo, &["rev-parse", "HEAD"]);
    let head = head.trim();
    let tree = git(&repo, &["rev-parse", "HEAD^{tree}"]);
    let tree = tree.trim();
    let plain_dir = fixtures().scratch("not-a-repo");
    let mut diffs = Vec::new();
    let fetch = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["fetch", "--no-store", "--url"].iter().map(|s| s.to_string()).collect();
        v.push(url.to_owned());
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (vec!["fetch".into(), "--no-store".into(), "--url".into(), path_str(&plain_dir).into()], vec!["not a git repository"]),
        (fetch(&["--ref", "no-such-branch"]), vec!["unknown ref 'no-such-branch'"]),
        (fetch(&["--rev", "abc1234"]), vec!["abbreviated", "full 40-hex"]),
        (fetch(&["--rev", "not-a-hash"]), vec!["invalid rev"]),
        (fetch(&["--rev", "0123456789abcdef0123456789abcdef01234567"]), vec!["not found"]),
        (vec!["fetch".into(), "--no-store".into(), "--url".into(), url.into(), "--rev".into(), tree.into()], vec!["is a tree, not a commit"]),
        (fetch(&["--interval", "0"]), vec!["0"]),
        (fetch(&["--interval", "-5"]), vec!["-5"]),
        (fetch(&["--interval", "1x"]), vec!["1x"]),
        (fetch(&["--date", "garbage"]), vec!["invalid date 'garbage'", "ISO 8601"]),
        (fetch(&["--date", "1600000000", "--interval", "1d"]), vec!["--interval"]),
        (fetch(&["--name", "bad name"]), vec!["bad name"]),
        (fetch(&["--compat", "legacy", "--no-export-ignore"]), vec!["--no-export-ignore", "legacy"]),
        (fetch(&["--first-parent"]), vec!["--first-parent", "--date or --interval"]),
        (fetch(&["--rev", head, "--date", "1000000000", "--no-root-fallback"]), vec!["no commit reachable", "root-commit fallback"]),
        (vec!["fetch".into(), "--no-store".into(), "--url=-oProxyCommand=touch /tmp/pwned".into()], vec!["could be taken as an option"]),
        // As a separate word the argument parser already refuses it as an unknown option.
        (vec!["fetch".into(), "--no-store".into(), "--url".into(), "-oProxyCommand=touch /tmp/pwned".into()], vec!["-o"]),
        (vec!["fetch".into(), "--no-store".into(), "--url".into(), "ext::sh -c touch% /tmp/pwned".into()], vec!["ext::"]),
        (fetch(&["--ref=--upload-pack=touch /tmp/pwned"]), vec!["could be taken as an option"]),
        (vec!["verify".into(), "--url".into(), url.into(), "--rev".into(), head.into(), "--nar-hash".into(), "sha256-nope".into()], vec!["sha256-nope"]),
        (vec!["hash".into(), path_str(&plain_dir.join("missing")).into()], vec!["missing"]),
        (vec!["fetch".into(), "--bogus-flag".into()], vec!["--bogus-flag"]),
    ];
    for (args, needles) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        expect_error(&args, needles, &mut diffs);
    }
    assert!(!Path::new("/tmp/pwned").exists(), "an injection attempt ran a command");
    assert_no_diffs("CLI errors", cases.len(), &diffs);
}

/// A tree with an entry named `..` (which git itself never writes, but a hostile repository can
/// hold) must stop the export with the path named, not produce a NAR.
#[test]
fn unsafe_tree_entries_are_refused() {
    let repo = small_repo("unsafe-repo");
    let blob = git(&repo, &["rev-parse", "HEAD:tracked.txt"]);
    let blob = gix_hash_hex_to_bytes(blob.trim());
    let mut mode_and_name = b"100644 ..\0".to_vec();
    mode_and_name.extend_from_slice(&blob);
    let tree_file = fixtures().scratch("unsafe-tree").join("tree");
    std::fs::write(&tree_file, &mode_and_name).expect("write tree bytes");
    let tree = git(&repo, &["hash-object", "-t", "tree", "--literally", "-w", path_str(&tree_file)]);
    let commit = run_ok(
        isolate(Command::new("git").arg("-C").arg(&repo).args(["commit-tree", tree.trim(), "-m", "evil"]))
            .env("GIT_AUTHOR_NAME", "A")
            .env("GIT_AUTHOR_EMAIL", "a@example.org")
            .env("GIT_COMMITTER_NAME", "C")
            .env("GIT_COMMITTER_EMAIL", "c@example.org"),
    );
    let mut diffs = Vec::new();
    for compat in ["modern", "legacy"] {
        expect_error(
            &["fetch", "--no-store", "--compat", compat, "--url", path_str(&repo), "--rev", commit.trim()],
            // The error says what this Nix generation does with the name (both fail on it).
            &["cannot export '..'", "fails on this commit too"],
            &mut diffs,
        );
    }
    assert_no_diffs("unsafe names", 2, &diffs);
}

/// A missing blob (a corrupt repository) is an error naming the object, not a wrong hash.
#[test]
fn corrupt_objects_are_reported() {
    let repo = small_repo("corrupt-repo");
    let blob = git(&repo, &["rev-parse", "HEAD:sub/inner.txt"]);
    let blob = blob.trim();
    let object = repo.join(".git/objects").join(&blob[..2]).join(&blob[2..]);
    std::fs::remove_file(&object).expect("the fixture keeps loose objects");
    // By rev: a work tree without one is read from disk (Nix >= 2.20), where the file still is.
    let head = git(&repo, &["rev-parse", "HEAD"]);
    let mut diffs = Vec::new();
    expect_error(&["fetch", "--no-store", "--url", path_str(&repo), "--rev", head.trim()], &[blob, "corrupt"], &mut diffs);
    assert_no_diffs("corrupt objects", 1, &diffs);
}

fn gix_hash_hex_to_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect()
}

/// A work tree with uncommitted changes to tracked files, fetched without ref or rev, is what
/// Nix 2.8 gives (tracked files as on disk, zero rev), plus the dirtyRev attributes newer Nix has.
#[test]
fn dirty_work_tree_matches_nix() {
    if !require_nix("dirty_work_tree_matches_nix") {
        return;
    }
    let repo = small_repo("dirty-repo");
    let head = git(&repo, &["rev-parse", "HEAD"]);
    std::fs::write(repo.join("tracked.txt"), "changed\n").expect("write");
    std::fs::write(repo.join("untracked.txt"), "never fetched\n").expect("write");
    std::fs::remove_file(repo.join("sub/inner.txt")).expect("delete a tracked file");
    let ours = try_bin_json(&["fetch", "--no-store", "--compat", "legacy", "--url", path_str(&repo)]).expect("dirty fetch");
    let nix = nix_eval_json(
        &format!("let r = builtins.fetchGit {{ url = {}; }}; in removeAttrs r [\"outPath\"] // {{ storePath = r.outPath; }}", nix_str(path_str(&repo))),
        "dirty",
    );
    let mut diffs = Vec::new();
    for key in FETCHGIT_ATTRS {
        let nix_key = if key == "outPath" { "storePath" } else { key };
        if ours[key] != nix[nix_key] {
            diffs.push(format!("`{key}` is {}, Nix 2.8 says {}", ours[key], nix[nix_key]));
        }
    }
    if ours["dirtyRev"] != format!("{}-dirty", head.trim()) {
        diffs.push(format!("dirtyRev is {}", ours["dirtyRev"]));
    }
    if ours["rev"] != "0".repeat(40) {
        diffs.push(format!("rev is {}", ours["rev"]));
    }
    assert_no_diffs("dirty work tree", FETCHGIT_ATTRS.len() + 2, &diffs);
}

/// `verify` names the generation that reproduces a hash, exits 1 when none does, and explains.
#[test]
fn verify_names_the_generation() {
    let fx = fixtures();
    let repo = fx.repo("attributes");
    let url = path_str(&repo);
    let head = git(&repo, &["rev-parse", "main"]);
    let head = head.trim();
    let legacy = try_bin_json(&["fetch", "--no-store", "--compat", "legacy", "--url", url, "--rev", head]).expect("legacy");
    let modern = try_bin_json(&["fetch", "--no-store", "--url", url, "--rev", head]).expect("modern");
    let mut diffs = Vec::new();
    for (hash, generation) in [(&legacy["narHash"], "legacy (Nix <= 2.19, Lix)"), (&modern["narHash"], "modern (Nix >= 2.20)")] {
        let hash = hash.as_str().expect("narHash is a string");
        let out = run_bin(&["verify", "--url", url, "--rev", head, "--nar-hash", hash]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        if out.status.code() != Some(0) || !stdout.contains(&format!("{generation}: {hash} matches")) {
            diffs.push(format!("verify of the {generation} hash: status {}, output:\n{stdout}", out.status));
        }
    }
    let wrong = "sha256-pQpattmS9VmO3ZIQUFn66az8GSmB4IvYhTTCFn6SUmo=";
    let out = run_bin(&["verify", "--url", url, "--rev", head, "--nar-hash", wrong]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.code() != Some(1) || !stdout.contains("git archive converted") || !stdout.contains("export-ignore dropped") {
        diffs.push(format!("verify of a foreign hash: status {}, output:\n{stdout}", out.status));
    }
    assert_no_diffs("verify", 3, &diffs);
}
