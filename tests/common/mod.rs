//! Helpers shared by the end-to-end tests: fixture generation (once per test binary),
//! running the `fetchgit-date` binary, git, and Nix, all isolated from the user's
//! configuration.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

pub mod outcome;

/// The non-bare fixture repositories made by `fixtures/make-fixtures.sh`.
pub const REPOS: [&str; 4] = ["files", "attributes", "history", "gitlinks"];

/// The attributes `builtins.fetchGit` returns (for a clean, non-shallow fetch).
pub const FETCHGIT_ATTRS: [&str; 8] = [
    "outPath",
    "narHash",
    "rev",
    "shortRev",
    "revCount",
    "lastModified",
    "lastModifiedDate",
    "submodules",
];

/// Root of the project (the workspace).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root exists")
}

/// Fixture repositories generated once per test binary.
pub struct Fixtures {
    /// OUTDIR of make-fixtures.sh
    repos: PathBuf,
    /// per-binary directory holding `repos`, `home` and `scratch`
    base: PathBuf,
    /// An empty HOME for git and Nix, so that no user configuration (core.autocrlf,
    /// attributes files, Nix's fetcher cache) leaks into the results.
    home: PathBuf,
}

impl Fixtures {
    /// Path of a fixture repository (`files`, ..., or `history.git`, the bare clone).
    pub fn repo(&self, name: &str) -> PathBuf {
        self.repos.join(name)
    }
    /// The directory holding all fixture repositories (make-fixtures.sh's OUTDIR).
    pub fn repos_dir(&self) -> &Path {
        &self.repos
    }
    /// A scratch directory private to this test binary.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let p = self.base.join("scratch").join(name);
        std::fs::create_dir_all(&p).expect("create a scratch directory");
        p
    }
    /// The isolated HOME.
    pub fn home(&self) -> &Path {
        &self.home
    }
}

/// Generates the fixtures (once per test binary) under cargo's target tmp dir, in a
/// directory named after this process; directories left by earlier, finished runs are
/// removed.
pub fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fixtures");
        std::fs::create_dir_all(&base).expect("create the fixtures base directory");
        remove_stale(&base);
        let root = base.join(std::process::id().to_string());
        if root.exists() {
            std::fs::remove_dir_all(&root).expect("remove a fixtures dir left by a reused pid");
        }
        let script = project_root().join("fixtures/make-fixtures.sh");
        let out = Command::new("sh")
            .arg(&script)
            .arg(root.join("repos"))
            .stdin(Stdio::null())
            .output()
            .expect("run fixtures/make-fixtures.sh");
        assert!(
            out.status.success(),
            "fixtures/make-fixtures.sh failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let home = root.join("home");
        std::fs::create_dir_all(&home).expect("create the isolated HOME");
        Fixtures {
            repos: root.join("repos"),
            base: root,
            home,
        }
    })
}

fn remove_stale(base: &Path) {
    if !Path::new("/proc/self").exists() {
        return; // cannot tell which runs are finished; leave them
    }
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.parse::<u32>().is_ok() && !Path::new("/proc").join(&name).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Applies the isolation every child process gets.
pub fn isolate(cmd: &mut Command) -> &mut Command {
    let home = fixtures().home();
    cmd.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("LC_ALL", "C")
        .env("TZ", "UTC")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .stdin(Stdio::null())
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs a command, panicking with its stderr unless it succeeds; returns stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", describe(cmd)));
    assert!(
        out.status.success(),
        "`{}` failed ({}):\n{}",
        describe(cmd),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

/// `git -C REPO ARGS...`, isolated; returns stdout.
pub fn git(repo: &Path, args: &[&str]) -> String {
    run_ok(isolate(Command::new("git").arg("-C").arg(repo).args(args)))
}

/// Every commit of a repository (`git rev-list --all`).
pub fn all_commits(repo: &Path) -> Vec<String> {
    let commits: Vec<String> = git(repo, &["rev-list", "--all"])
        .lines()
        .map(str::to_owned)
        .collect();
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

/// The `fetchgit-date` binary under test, isolated.
pub fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fetchgit-date"));
    isolate(&mut cmd);
    cmd
}

/// Runs `fetchgit-date ARGS...` and returns its raw output.
pub fn run_bin(args: &[&str]) -> Output {
    bin()
        .args(args)
        .output()
        .expect("run the fetchgit-date binary")
}

/// Runs `fetchgit-date ARGS...`, which must succeed; returns stdout, or an error
/// message naming the command (for collecting mismatches instead of stopping at the
/// first).
pub fn try_bin(args: &[&str]) -> Result<String, String> {
    let out = run_bin(args);
    if !out.status.success() {
        return Err(format!(
            "`fetchgit-date {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| {
        format!(
            "`fetchgit-date {}`: stdout is not UTF-8: {e}",
            args.join(" ")
        )
    })
}

/// Runs `fetchgit-date ARGS...` that prints one JSON object.
pub fn try_bin_json(args: &[&str]) -> Result<Value, String> {
    let s = try_bin(args)?;
    serde_json::from_str(&s)
        .map_err(|e| format!("`fetchgit-date {}`: not JSON ({e}): {s}", args.join(" ")))
}

/// True when the Nix tools are usable. When they are missing: under `CI=true` the test
/// FAILS; otherwise a notice is printed and false is returned, and the caller must
/// return without asserting anything (the notice says the test was skipped, so a
/// skip is never mistaken for a pass in the log).
pub fn require_nix(test: &str) -> bool {
    let ok = Command::new("nix-instantiate")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        return true;
    }
    if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
        panic!("{test}: Nix (nix-instantiate) is required under CI=true but is not installed");
    }
    eprintln!(
        "NOTICE: {test} SKIPPED: Nix is not installed (nix-instantiate not found); \
         nothing was checked. Set CI=true to make this a failure."
    );
    false
}

/// A Nix string literal holding `s`.
pub fn nix_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '$' => o.push_str("\\$"),
            '\n' => o.push_str("\\n"),
            _ => o.push(c),
        }
    }
    o.push('"');
    o
}

/// Evaluates `expr` with `nix-instantiate --eval --strict --json`, with a fresh HOME
/// (so Nix's fetcher cache, keyed by rev and name only, cannot answer from an earlier
/// evaluation of another URL) and no git configuration.
pub fn nix_eval_json(expr: &str, label: &str) -> Value {
    let home = fixtures().scratch(&format!("nix-home-{label}"));
    let mut cmd = Command::new("nix-instantiate");
    isolate(&mut cmd)
        .env("HOME", &home)
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .args(["--eval", "--strict", "--json", "-E", expr]);
    let out = run_ok(&mut cmd);
    serde_json::from_str(&out).expect("nix-instantiate --json prints JSON")
}

/// Evaluates `builtins.fetchGit { url = URL; rev = R; EXTRA }` for every rev in ONE
/// Nix evaluation; returns rev -> attributes, with `outPath` as a plain string.
pub fn nix_fetchgit_many(
    url: &str,
    revs: &[String],
    extra: &str,
    label: &str,
) -> BTreeMap<String, Value> {
    let list: Vec<String> = revs.iter().map(|r| nix_str(r)).collect();
    let expr = format!(
        "builtins.listToAttrs (map (rev: {{ name = rev; value = \
           let r = builtins.fetchGit {{ url = {url}; inherit rev; {extra} }}; \
           in removeAttrs r [\"outPath\"] // {{ storePath = r.outPath; }}; }}) [ {list} ])",
        url = nix_str(url),
        list = list.join(" ")
    );
    let v = nix_eval_json(&expr, label);
    let obj = v
        .as_object()
        .expect("the evaluation gives an attribute set");
    obj.iter()
        .map(|(rev, attrs)| {
            let mut attrs = attrs
                .as_object()
                .expect("fetchGit gives attributes")
                .clone();
            let out = attrs.remove("storePath").expect("storePath was added");
            attrs.insert("outPath".into(), out);
            (rev.clone(), Value::Object(attrs))
        })
        .collect()
}

/// Compares our `fetch --no-store` JSON with the expected fetchGit attributes,
/// attribute by attribute. `truncation_expected`: whether the extra `truncation`
/// object must be present (only with --date/--interval) or absent. Returns the
/// differences, empty when equal.
pub fn compare_fetch(
    ours: &Value,
    expected: &Value,
    truncation_expected: bool,
    context: &str,
) -> Vec<String> {
    let mut diffs = Vec::new();
    let Some(o) = ours.as_object() else {
        return vec![format!("{context}: output is not a JSON object: {ours}")];
    };
    for key in FETCHGIT_ATTRS {
        let want = &expected[key];
        assert!(!want.is_null(), "{context}: expected values lack `{key}`");
        match o.get(key) {
            None => diffs.push(format!("{context}: missing `{key}` (expected {want})")),
            Some(got) if got != want => {
                diffs.push(format!("{context}: `{key}` is {got}, expected {want}"))
            }
            Some(_) => {}
        }
    }
    for key in o.keys() {
        if FETCHGIT_ATTRS.contains(&key.as_str()) {
            continue;
        }
        if key == "truncation" && truncation_expected {
            continue;
        }
        diffs.push(format!(
            "{context}: unexpected extra key `{key}`: {}",
            o[key]
        ));
    }
    if truncation_expected && !o.get("truncation").is_some_and(Value::is_object) {
        diffs.push(format!(
            "{context}: `truncation` object missing with --date/--interval"
        ));
    }
    diffs
}

/// Panics listing every difference (at most 60 shown) when there are any.
pub fn assert_no_diffs(what: &str, checked: usize, diffs: &[String]) {
    assert!(checked > 0, "{what}: nothing was checked");
    if !diffs.is_empty() {
        let shown: Vec<&str> = diffs.iter().take(60).map(String::as_str).collect();
        panic!(
            "{what}: {} difference(s) in {checked} check(s):\n{}",
            diffs.len(),
            shown.join("\n")
        );
    }
    eprintln!("{what}: {checked} check(s) passed");
}
