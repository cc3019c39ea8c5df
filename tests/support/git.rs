//! Running git isolated ([`isolate`]) with a fixed identity, and small repositories whose
//! commit times are fixed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::isolation::isolate;
use super::process::run_ok;

/// git in `dir`, isolated ([`isolate`]), with a fixed author and committer (the environment
/// wins over a repository's `user.name`, so every commit of a test is made by them).
pub fn git_cmd(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    isolate(&mut cmd)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "A U Thor")
        .env("GIT_AUTHOR_EMAIL", "author@example.org")
        .env("GIT_COMMITTER_NAME", "C O Mitter")
        .env("GIT_COMMITTER_EMAIL", "committer@example.org");
    cmd
}

/// `git ARGS...` in `dir` ([`git_cmd`]), which must succeed; returns stdout, trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    run_ok(git_cmd(dir).args(args))
}

/// Commits everything in `dir` with committer and author time `t` (Unix seconds).
pub fn commit_at(dir: &Path, t: i64, msg: &str) {
    git(dir, &["add", "-A"]);
    let date = format!("@{t} +0000");
    run_ok(git_cmd(dir).args(["commit", "-q", "--allow-empty", "-m", msg]).env("GIT_AUTHOR_DATE", &date).env("GIT_COMMITTER_DATE", &date));
}

/// Every commit reachable from any ref (`git rev-list --all`); there is at least one.
pub fn all_commits(repo: &Path) -> Vec<String> {
    let commits: Vec<String> = git(repo, &["rev-list", "--all"]).lines().map(str::to_owned).collect();
    assert!(!commits.is_empty(), "{} has no commits", repo.display());
    commits
}

/// Committer time (Unix seconds) of every commit.
pub fn commit_times(repo: &Path) -> BTreeMap<String, i64> {
    git(repo, &["log", "--all", "--format=%H %ct"])
        .lines()
        .map(|l| {
            let (h, t) = l.split_once(' ').expect("log line is `hash time`");
            (h.to_owned(), t.parse().expect("%ct is a number"))
        })
        .collect()
}

/// Committer time of `rev`.
pub fn commit_time(repo: &Path, rev: &str) -> i64 {
    git(repo, &["log", "-1", "--format=%ct", rev]).parse().expect("a number")
}

/// What truncating `rev` to `boundary` must give: `git rev-list -1 --before`, or the root
/// commit when nothing is old enough (the fallback of Nix PR #7362).
pub fn git_truncate(repo: &Path, rev: &str, boundary: i64, first_parent: bool) -> String {
    let before = format!("--before=@{boundary}");
    let mut args = vec!["rev-list", "-1", before.as_str()];
    if first_parent {
        args.push("--first-parent");
    }
    args.push(rev);
    let found = git(repo, &args);
    if !found.is_empty() {
        return found;
    }
    let mut args = vec!["rev-list", "--max-parents=0", "-1"];
    if first_parent {
        args.push("--first-parent");
    }
    args.push(rev);
    git(repo, &args)
}

/// A repository with merges, days of commits, export-ignore and a CRLF-converted file, so the
/// default export generation matters (legacy Nix applies both; modern applies neither the
/// conversion nor, without the attribute set, differs in hash).
///
/// Day 19675 starts at 1699920000 (2023-11-14T00:00:00Z).
pub fn make_repo(parent: &Path) -> PathBuf {
    let dir = parent.join("repo");
    std::fs::create_dir_all(&dir).expect("create repo dir");
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["config", "core.autocrlf", "false"]);
    let day = 1_699_920_000;
    let write = |name: &str, content: &str| {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
        std::fs::write(path, content).expect("write file");
    };
    write("README", "first\n");
    write(".gitattributes", "ignored/** export-ignore\n*.bat text eol=crlf\n");
    write("ignored/secret", "left out by export-ignore\n");
    write("run.bat", "echo one\necho two\n");
    commit_at(&dir, day + 3_600, "root");
    write("README", "second\n");
    commit_at(&dir, day + 50_000, "same day");
    git(&dir, &["checkout", "-q", "-b", "side"]);
    write("side.txt", "from side\n");
    commit_at(&dir, day + 86_400 + 10, "side, next day");
    git(&dir, &["checkout", "-q", "main"]);
    write("main.txt", "from main\n");
    commit_at(&dir, day + 86_400 + 20_000, "main, next day");
    let date = format!("@{} +0000", day + 2 * 86_400 + 5);
    run_ok(git_cmd(&dir).args(["merge", "-q", "--no-ff", "-m", "merge side", "side"]).env("GIT_AUTHOR_DATE", &date).env("GIT_COMMITTER_DATE", &date));
    // Exactly on a day boundary: `--before` is inclusive.
    write("README", "on the boundary\n");
    commit_at(&dir, day + 3 * 86_400, "at midnight");
    write("README", "last\n");
    commit_at(&dir, day + 3 * 86_400 + 7_200, "tip");
    dir
}
