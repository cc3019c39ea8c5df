//! Helpers shared by the Nix-side tests (`tests/nix_*.rs`): running real Nix 2.8 and git, and
//! making small repositories whose commit times are fixed.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_fetchgit-date");

/// The project root (where `nix/` and `flake.nix` are).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("project root exists")
}

/// Fails the test with install instructions when Nix is missing: these tests exist to check
/// behaviour against real Nix, so a missing Nix is a failure, never a pass.
pub fn require_nix() {
    let ok = Command::new("nix-instantiate")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "nix-instantiate not found: these tests need Nix (Debian: apt-get install -y nix-bin)"
    );
}

/// Options every Nix call gets: no network substituters (they only add retries here).
pub const NIX_OPTS: &[&str] = &["--option", "substituters", ""];

const fn starts_with(s: &str, prefix: &str) -> bool {
    let (s, prefix) = (s.as_bytes(), prefix.as_bytes());
    if s.len() < prefix.len() {
        return false;
    }
    let mut i = 0;
    while i < prefix.len() {
        if s[i] != prefix[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether this test target reaches fetchgit-date through the plugin (`builtins.fetchGitDate`,
/// with builtins.exec disabled) rather than through builtins.exec: every `plugin_*` target.
/// `tests/plugin_nix_lib.rs` and its siblings run the same test files as `nix_lib` etc. this way.
pub const PLUGIN: bool = starts_with(env!("CARGO_CRATE_NAME"), "plugin_");

/// Enables the way to fetchgit-date that this target tests: builtins.exec, or (plugin targets,
/// where every Nix command loads the plugin) explicitly nothing: builtins.exec stays off.
pub const EXEC_ON: &[&str] = &[
    "--option",
    "allow-unsafe-native-code-during-evaluation",
    if PLUGIN { "false" } else { "true" },
];

/// The plugin built for these tests: cargo builds it into target/<profile>/deps/ because this
/// crate lists it as a dev-dependency (the test binary lives in that same directory).
pub fn plugin_path() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let path = exe.parent().expect("a directory").join("libfetchgit_date_nix_plugin.so");
    assert!(path.exists(), "{} is missing: cargo builds it as a dev-dependency of fetchgit-date-cli", path.display());
    path
}

/// `--option plugin-files PLUGIN`.
pub fn plugin_opts() -> Vec<String> {
    vec!["--option".into(), "plugin-files".into(), plugin_path().display().to_string()]
}
/// Enables the new CLI and flakes on Nix 2.8.
pub const FLAKES: &[&str] = &[
    "--extra-experimental-features",
    "nix-command",
    "--extra-experimental-features",
    "flakes",
];

/// Runs a command, returning its output whatever the exit status.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Runs a command that must succeed; returns its trimmed stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8 output")
        .trim()
        .to_owned()
}

/// The running Nix's `(major, minor)` (of `builtins.nixVersion`; Lix: 2.18): these tests run against
/// Debian's 2.8 in CI, and against a shared-library 2.26 by tests/modern-nix/test-plugin.sh.
pub fn running_nix() -> (u32, u32) {
    let version = running_nix_version();
    let mut numbers = version.split('.').map(|n| n.parse::<u32>().expect("numeric"));
    (numbers.next().expect("major"), numbers.next().expect("minor"))
}

/// The running Nix's version, as `builtins.nixVersion` gives it (`2.8.0`; Lix: `2.18.3-lix`,
/// the release whose fetchGit it keeps, where `nix-instantiate --version` says Lix's own
/// `2.95.3`): what the library is told, so what the tests compare with.
pub fn running_nix_version() -> String {
    let out = run_ok(Command::new("nix-instantiate").args(NIX_OPTS).args(["--eval", "-E", "builtins.nixVersion"]));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("builtins.nixVersion is not a string ({e}): {out}"))
}

/// The release the library is told when no `nixVersion` is given: [`running_nix_version`],
/// except through the plugin in Lix, which passes Lix's own release (`2.95.3-lix`: the shim
/// reads `nix::nixVersion`, which in Lix is its own number).
pub fn backend_nix_version() -> String {
    let running = running_nix_version();
    if !(PLUGIN && running.ends_with("-lix")) {
        return running;
    }
    let out = run_ok(Command::new("nix-instantiate").arg("--version"));
    let first = out.lines().next().unwrap_or_default();
    format!("{}-lix", first.split_whitespace().last().expect("Lix's release"))
}

/// The line of a Nix error that holds the message itself: the first for Nix 2.8, the last
/// `error:` line for later releases, which print the trace above it.
pub fn error_message_line(stderr: &str) -> &str {
    stderr.lines().rev().map(str::trim_start).find(|line| line.starts_with("error: ")).unwrap_or_default()
}

/// A Nix string literal (paths and hashes here hold no `"`, `\` or `${`, but be safe).
pub fn nix_str(s: &str) -> String {
    format!(
        "\"{}\"",
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace("${", "\\${")
    )
}

/// `import <project>/nix { fetchgit-date = BIN; }` as a Nix expression.
pub fn lib_expr() -> String {
    lib_expr_with("")
}

/// [`lib_expr`] with more arguments (`extra`: Nix attribute bindings). The library must use
/// the way this target tests (or none, where a test takes every way away).
pub fn lib_expr_with(extra: &str) -> String {
    format!(
        "(let lib = import {} {{ fetchgit-date = {}; {extra} }}; in assert lib.backend == null || lib.backend == {}; lib)",
        nix_str(&project_root().join("nix").display().to_string()),
        nix_str(BIN),
        if PLUGIN { "\"plugin\"" } else { "\"exec\"" },
    )
}

/// A Nix command with `HOME` (so fetchGit's cache, keyed by rev and name only) in `home`;
/// in plugin targets it loads the plugin.
pub fn nix_cmd(program: &str, home: &Path) -> Command {
    nix_cmd_with(program, home, true)
}

/// [`nix_cmd`], without the plugin when `plugin` is false (to see what happens with no way to
/// reach fetchgit-date at all).
pub fn nix_cmd_with(program: &str, home: &Path, plugin: bool) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("HOME", home)
        .env_remove("XDG_CACHE_HOME")
        .args(NIX_OPTS);
    if PLUGIN && plugin {
        cmd.args(plugin_opts());
    }
    cmd
}

/// What the library says when neither the plugin nor builtins.exec is there.
pub const NO_BACKEND: &str = "neither builtins.fetchGitDate nor builtins.exec is available: load fetchgit-date's plugin";

/// How the tool's own errors start: the CLI's prefix through builtins.exec, the primop's name
/// through the plugin (the message after it is the same).
pub const TOOL_ERROR: &str = if PLUGIN { "fetchGitDate: " } else { "fetchgit-date: " };

/// `nix-instantiate --eval --strict --json` of `expr`, with builtins.exec enabled.
pub fn eval_json(home: &Path, expr: &str) -> serde_json::Value {
    let out = run_ok(
        nix_cmd("nix-instantiate", home)
            .args(EXEC_ON)
            .args(["--eval", "--strict", "--json", "-E", expr]),
    );
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON from Nix ({e}): {out}"))
}

/// git with the user's and system's configuration shut out.
pub fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "A U Thor")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_COMMITTER_NAME", "C O Mitter")
        .env("GIT_COMMITTER_EMAIL", "committer@example.com")
        .env("TZ", "UTC");
    cmd
}

/// Commits everything in `dir` with committer and author time `t` (Unix seconds).
pub fn commit_at(dir: &Path, t: i64, msg: &str) {
    run_ok(git(dir).args(["add", "-A"]));
    let date = format!("@{t} +0000");
    run_ok(
        git(dir)
            .args(["commit", "-q", "--allow-empty", "-m", msg])
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date),
    );
}

/// A repository with merges, days of commits, export-ignore and a CRLF-converted file, so the
/// default export generation matters (legacy Nix applies both; modern applies neither the
/// conversion nor, without the attribute set, differs in hash).
///
/// Day 19675 starts at 1699920000 (2023-11-14T00:00:00Z).
pub fn make_repo(parent: &Path) -> PathBuf {
    let dir = parent.join("repo");
    std::fs::create_dir_all(&dir).expect("create repo dir");
    run_ok(git(&dir).args(["init", "-q", "-b", "main"]));
    run_ok(git(&dir).args(["config", "core.autocrlf", "false"]));
    let day = 1_699_920_000;
    let write = |name: &str, content: &str| {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
        std::fs::write(path, content).expect("write file");
    };
    write("README", "first\n");
    write(
        ".gitattributes",
        "ignored/** export-ignore\n*.bat text eol=crlf\n",
    );
    write("ignored/secret", "left out by export-ignore\n");
    write("run.bat", "echo one\necho two\n");
    commit_at(&dir, day + 3_600, "root");
    write("README", "second\n");
    commit_at(&dir, day + 50_000, "same day");
    run_ok(git(&dir).args(["checkout", "-q", "-b", "side"]));
    write("side.txt", "from side\n");
    commit_at(&dir, day + 86_400 + 10, "side, next day");
    run_ok(git(&dir).args(["checkout", "-q", "main"]));
    write("main.txt", "from main\n");
    commit_at(&dir, day + 86_400 + 20_000, "main, next day");
    let date = format!("@{} +0000", day + 2 * 86_400 + 5);
    run_ok(
        git(&dir)
            .args(["merge", "-q", "--no-ff", "-m", "merge side", "side"])
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date),
    );
    // Exactly on a day boundary: `--before` is inclusive.
    write("README", "on the boundary\n");
    commit_at(&dir, day + 3 * 86_400, "at midnight");
    write("README", "last\n");
    commit_at(&dir, day + 3 * 86_400 + 7_200, "tip");
    dir
}

/// Every commit reachable from any ref.
pub fn all_commits(repo: &Path) -> Vec<String> {
    run_ok(git(repo).args(["rev-list", "--all"]))
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Committer time of `rev`.
pub fn commit_time(repo: &Path, rev: &str) -> i64 {
    run_ok(git(repo).args(["log", "-1", "--format=%ct", rev]))
        .parse()
        .expect("a number")
}

/// What truncating `rev` to `boundary` must give: `git rev-list -1 --before`, or the root
/// commit when nothing is old enough (the fallback of Nix PR #7362).
pub fn git_truncate(repo: &Path, rev: &str, boundary: i64, first_parent: bool) -> String {
    let mut cmd = git(repo);
    cmd.args(["rev-list", "-1", &format!("--before=@{boundary}")]);
    if first_parent {
        cmd.arg("--first-parent");
    }
    let found = run_ok(cmd.arg(rev));
    if !found.is_empty() {
        return found;
    }
    let mut cmd = git(repo);
    cmd.args(["rev-list", "--max-parents=0", "-1"]);
    if first_parent {
        cmd.arg("--first-parent");
    }
    run_ok(cmd.arg(rev))
}

/// Nix code turning a fetch result into JSON-able data: the attributes without `outPath`
/// (an attribute set with `outPath` serialises as that string) plus the path and its context.
pub const PROJECT: &str =
    "(r: removeAttrs r [ \"outPath\" \"truncation\" ] // { path = r.outPath; context = builtins.getContext r.outPath; })";
