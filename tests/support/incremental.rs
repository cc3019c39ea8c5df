//! Helpers of the incremental-build tests (`tests/nix_lib/incremental_*.rs`): repositories
//! shaped like projects that build incrementally, and the files in `tests/support/files`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::git::{commit_at, git_cmd};
use super::isolation::project_root;
use super::nixlib::{lib_expr, lib_expr_with, nix_cmd_with, EXEC_ON};
use super::prerequisite::{require, runs};
use super::process::{run, run_ok};

/// Start of 2023-11-14 UTC (a day boundary for interval = 86400).
pub const DAY0: i64 = 1_699_920_000;
pub const DAY: i64 = 86_400;

/// The support files (Nix expressions, scripts) of these tests.
pub fn support_dir() -> PathBuf {
    project_root().join("tests/support/files")
}

/// The library with `haskellLib` given as the Nix expression `haskell_lib` (or not at all).
pub fn lib_with(haskell_lib: Option<&str>) -> String {
    match haskell_lib {
        None => lib_expr(),
        Some(h) => lib_expr_with(&format!("haskellLib = {h};")),
    }
}

/// `nix-instantiate --eval --strict -E expr` must fail with `needle` on stderr; `exec`: with
/// the way to fetchgit-date this target tests (builtins.exec, or the plugin).
pub fn eval_fails(home: &Path, exec: bool, expr: &str, needle: &str) {
    let mut cmd = nix_cmd_with("nix-instantiate", home, exec);
    if exec {
        cmd.args(EXEC_ON);
    }
    let out = run(cmd.args(["--eval", "--strict", "-E", expr]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains(needle), "{expr}\n expected an evaluation error with {needle:?}, got (exit {}):\n{stderr}", out.status);
}

/// A branch into which another branch with newer commit dates was merged, each commit holding
/// a `default.nix` (the shape of a project using `incremental`: `import (truncate ./.) { }`)
/// whose `build` is a two-output derivation labelled with the commit's name.
///
/// ```text
///   day 0: m1 10:00 (root)  m2 15:00          side: s1 20:00 (branched from m1)
///   day 1: m3 01:00  M 06:00 (merges side)  m4 08:00      side: s2 05:00
///   day 2: m5 04:00  m6 09:00
/// ```
/// Truncating to day boundaries along first parents: day 0 -> m1 (root fallback), day 1 -> m2,
/// day 2 -> m4. Following all parents, M and m4 pick s1 (newer than m2) instead.
pub struct BranchRepo {
    pub dir: PathBuf,
    /// name -> commit id
    pub revs: BTreeMap<String, String>,
    /// name -> committer time
    pub times: BTreeMap<String, i64>,
}

impl BranchRepo {
    pub fn name_of(&self, rev: &str) -> &str {
        self.revs.iter().find(|(_, r)| r.as_str() == rev).map(|(n, _)| n.as_str()).unwrap_or_else(|| panic!("{rev} is no commit of the fixture"))
    }
    /// The branch's commits, oldest first (first-parent chain of main).
    pub fn main_commits(&self) -> Vec<&str> {
        vec!["m1", "m2", "m3", "M", "m4", "m5", "m6"]
    }
}

/// The `default.nix` of every commit of `make_branch_repo`: with previousIntermediates, the build
/// records what it reused (so a real build shows the wiring).
pub const DEMO_DEFAULT_NIX: &str = r#"{ }: {
  build = derivation {
    name = "demo";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" "PATH=/usr/bin:/bin; read label < $src/label; mkdir $intermediates; echo $label > $intermediates/built-from; if [ -n \"$previousIntermediates\" ]; then read prev < $previousIntermediates/built-from; echo \"$label reusing $prev\" > $out; else echo \"$label from scratch\" > $out; fi" ];
    src = ./.;
    label = builtins.readFile ./label;
    outputs = [ "out" "intermediates" ];
  };
}
"#;

pub fn make_branch_repo(parent: &Path) -> BranchRepo {
    let dir = parent.join("branchy");
    std::fs::create_dir_all(&dir).expect("mkdir");
    run_ok(git_cmd(&dir).args(["init", "-q", "-b", "main"]));
    std::fs::write(dir.join("default.nix"), DEMO_DEFAULT_NIX).expect("write default.nix");
    let mut repo = BranchRepo { dir: dir.clone(), revs: BTreeMap::new(), times: BTreeMap::new() };
    let record = |repo: &mut BranchRepo, name: &str, t: i64| {
        repo.revs.insert(name.to_owned(), run_ok(git_cmd(&dir).args(["rev-parse", "HEAD"])));
        repo.times.insert(name.to_owned(), t);
    };
    let commit = |repo: &mut BranchRepo, name: &str, t: i64| {
        std::fs::write(dir.join("label"), name).expect("write label");
        commit_at(&dir, t, name);
        record(repo, name, t);
    };
    commit(&mut repo, "m1", DAY0 + 10 * 3600);
    run_ok(git_cmd(&dir).args(["checkout", "-q", "-b", "side"]));
    commit(&mut repo, "s1", DAY0 + 20 * 3600);
    commit(&mut repo, "s2", DAY0 + DAY + 5 * 3600);
    run_ok(git_cmd(&dir).args(["checkout", "-q", "main"]));
    commit(&mut repo, "m2", DAY0 + 15 * 3600);
    commit(&mut repo, "m3", DAY0 + DAY + 3600);
    // The merge keeps main's tree ("-s ours": both branches only change `label`), then says M.
    let t = DAY0 + DAY + 6 * 3600;
    let date = format!("@{t} +0000");
    run_ok(git_cmd(&dir).args(["merge", "-q", "--no-ff", "-s", "ours", "-m", "M", "side"]).env("GIT_AUTHOR_DATE", &date).env("GIT_COMMITTER_DATE", &date));
    std::fs::write(dir.join("label"), "M").expect("write label");
    run_ok(git_cmd(&dir).args(["add", "-A"]));
    run_ok(git_cmd(&dir).args(["commit", "-q", "--amend", "--no-edit"]).env("GIT_AUTHOR_DATE", &date).env("GIT_COMMITTER_DATE", &date));
    record(&mut repo, "M", t);
    commit(&mut repo, "m4", DAY0 + DAY + 8 * 3600);
    commit(&mut repo, "m5", DAY0 + 2 * DAY + 4 * 3600);
    commit(&mut repo, "m6", DAY0 + 2 * DAY + 9 * 3600);
    repo
}

/// Whether `a` is an ancestor of (or equal to) `b`.
pub fn is_ancestor(repo: &Path, a: &str, b: &str) -> bool {
    run(git_cmd(repo).args(["merge-base", "--is-ancestor", a, b])).status.success()
}

/// The first-parent chain from `rev`.
pub fn first_parent_chain(repo: &Path, rev: &str) -> Vec<String> {
    run_ok(git_cmd(repo).args(["rev-list", "--first-parent", rev])).lines().map(str::to_owned).collect()
}

/// Whether /usr/bin/ccache runs (the C build test needs it), by the one policy of
/// [`super::prerequisite::require`].
pub fn require_ccache(test: &str) -> bool {
    require(test, "/usr/bin/ccache (apt-get install -y ccache; .ci/run installs it)", runs("/usr/bin/ccache", &["--version"]))
}

/// The generated C project (`make-cproject.sh`): commits "full" (day 0) and "change" (day 1,
/// one source changed). Returns (repo, full rev, change rev).
pub fn make_cproject(parent: &Path, files: usize) -> (PathBuf, String, String) {
    let dir = parent.join("cproject");
    run_ok(Command::new("sh").arg(support_dir().join("make-cproject.sh")).arg(&dir).arg(files.to_string()));
    let full = run_ok(git_cmd(&dir).args(["rev-parse", "HEAD~1"]));
    let change = run_ok(git_cmd(&dir).args(["rev-parse", "HEAD"]));
    (dir, full, change)
}

/// ccache's machine-readable statistics (`--print-stats`) as numbers.
pub fn ccache_stats(file: &Path) -> BTreeMap<String, u64> {
    std::fs::read_to_string(file)
        .unwrap_or_else(|e| panic!("read {}: {e}", file.display()))
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('\t')?;
            Some((k.to_owned(), v.trim().parse().ok()?))
        })
        .collect()
}
