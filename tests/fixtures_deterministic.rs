//! `fixtures/make-fixtures.sh` must produce the same commits, tags and branches on
//! every run (and machine: `modern_recorded` pins the hashes recorded elsewhere). Runs
//! it twice and compares every ref and every object id reachable.

mod support;

use std::path::Path;
use std::process::Command;
use support::*;

fn snapshot(root: &Path) -> String {
    let mut s = String::new();
    for repo in REPOS.iter().chain(["history.git"].iter()) {
        let p = root.join(repo);
        s.push_str(&format!("== {repo}\n"));
        s.push_str(&git(&p, &["for-each-ref", "--format=%(objectname) %(objecttype) %(refname)"]));
        s.push('\n');
        s.push_str(&git(&p, &["rev-list", "--all", "--objects"]));
        s.push('\n');
    }
    s
}

#[test]
fn make_fixtures_is_deterministic() {
    let fx = fixtures();
    let second = fx.scratch("second-generation");
    let out = Command::new("sh").arg(project_root().join("fixtures/make-fixtures.sh")).arg(second.join("repos")).output().expect("run make-fixtures.sh");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "make-fixtures.sh is quiet");
    let first = snapshot(fx.repos_dir());
    let again = snapshot(&second.join("repos"));
    assert!(first.lines().count() > 100, "the snapshot covers the repositories");
    assert_eq!(first, again, "two runs of make-fixtures.sh differ");
}

#[test]
fn make_fixtures_refuses_a_used_outdir() {
    let fx = fixtures();
    let out = Command::new("sh").arg(project_root().join("fixtures/make-fixtures.sh")).arg(fx.repos_dir()).output().expect("run make-fixtures.sh");
    assert_eq!(out.status.code(), Some(2), "refuses to overwrite existing repositories");
}
