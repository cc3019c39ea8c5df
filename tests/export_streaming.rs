//! Large blobs are streamed from their loose file or undeltified pack entry, and rebuilt in
//! memory only when stored as deltas; all three give the bytes `git archive` writes.
//! (Peak memory is measured by bench/memory.sh, not here.)

mod support;

use std::process::Command;

use support::*;

fn archive_hash(repo: &std::path::Path, rev: &str, scratch: &std::path::Path) -> String {
    let out = scratch.join("out");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("mkdir");
    let tar = isolate(Command::new("git").arg("-C").arg(repo).args(["archive", "--format=tar", rev])).output().expect("git archive");
    assert!(tar.status.success());
    std::fs::write(scratch.join("a.tar"), &tar.stdout).expect("write");
    run_ok(Command::new("tar").arg("-xf").arg(scratch.join("a.tar")).arg("-C").arg(&out));
    nixstore::nar::hash_path(&out).expect("hash").0.to_sri()
}

#[test]
fn large_blobs_loose_packed_and_deltified() {
    let scratch = fixtures().scratch("streaming");
    let repo = scratch.join("repo");
    let _ = std::fs::remove_dir_all(&repo);
    git(&scratch, &["init", "-q", "-b", "main", repo.to_str().expect("utf-8")]);
    // 9 MiB (above the 8 MiB read whole), two versions that delta well against each other.
    let mut big: Vec<u8> = (0..9u32 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(repo.join("big.bin"), &big).expect("write");
    std::fs::write(repo.join("small"), b"small\n").expect("write");
    git(&repo, &["add", "-A"]);
    git(&repo, &["-c", "user.name=a", "-c", "user.email=a@x", "commit", "-q", "-m", "one"]);
    big[4 << 20] ^= 0xff;
    std::fs::write(repo.join("big.bin"), &big).expect("write");
    git(&repo, &["add", "-A"]);
    git(&repo, &["-c", "user.name=a", "-c", "user.email=a@x", "commit", "-q", "-m", "two"]);
    let revs: Vec<String> = git(&repo, &["rev-list", "main"]).lines().map(str::to_owned).collect();
    let check = |label: &str| {
        for rev in &revs {
            let want = archive_hash(&repo, rev, &scratch);
            for generation in ["legacy", "modern"] {
                let got = try_bin_json(&["fetch", "--no-store", "--compat", generation, "--url", repo.to_str().expect("utf-8"), "--rev", rev]).expect("fetch");
                assert_eq!(got["narHash"], want.as_str(), "{label}, {generation}, {rev}");
            }
        }
    };
    check("loose objects");
    // Packed: git keeps one version whole and stores the other as a delta against it.
    git(&repo, &["-c", "pack.window=10", "repack", "-a", "-d", "-f", "-q"]);
    let verify = git(
        &repo,
        &[
            "verify-pack",
            "-v",
            &format!(
                "{}",
                std::fs::read_dir(repo.join(".git/objects/pack"))
                    .expect("pack dir")
                    .flatten()
                    .find(|e| e.path().extension().is_some_and(|x| x == "idx"))
                    .expect("an index")
                    .path()
                    .display()
            ),
        ],
    );
    assert!(verify.lines().any(|l| l.contains(" blob ") && l.split_whitespace().count() > 5), "one blob is a delta: {verify}");
    check("packed, one whole and one deltified");
}
