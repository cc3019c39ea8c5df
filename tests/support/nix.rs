//! Nix as the oracle: which Nix runs, and evaluating `builtins.fetchGit` with it, isolated.
//! Whether Nix is there at all is [`super::prerequisite::require_nix`]'s question.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

use super::fixtures::fixtures;
use super::isolation::isolate;
use super::process::run_ok;

/// Options every Nix call of the Nix library's tests gets: no network substituters (they only
/// add retries here).
pub const NIX_OPTS: &[&str] = &["--option", "substituters", ""];

/// Enables the new CLI and flakes on Nix 2.8.
pub const FLAKES: &[&str] = &["--extra-experimental-features", "nix-command", "--extra-experimental-features", "flakes"];

/// The running Nix's `(major, minor)` (of `builtins.nixVersion`; Lix: 2.18): the tests run against
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

/// The line of a Nix error that holds the message itself: the first for Nix 2.8, the last
/// `error:` line for later releases, which print the trace above it.
pub fn error_message_line(stderr: &str) -> &str {
    stderr.lines().rev().map(str::trim_start).find(|line| line.starts_with("error: ")).unwrap_or_default()
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

/// The attributes `builtins.fetchGit` returns (for a clean, non-shallow fetch).
pub const FETCHGIT_ATTRS: [&str; 8] = ["outPath", "narHash", "rev", "shortRev", "revCount", "lastModified", "lastModifiedDate", "submodules"];

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
pub fn nix_fetchgit_many(url: &str, revs: &[String], extra: &str, label: &str) -> BTreeMap<String, Value> {
    let list: Vec<String> = revs.iter().map(|r| nix_str(r)).collect();
    let expr = format!(
        "builtins.listToAttrs (map (rev: {{ name = rev; value = \
           let r = builtins.fetchGit {{ url = {url}; inherit rev; {extra} }}; \
           in removeAttrs r [\"outPath\"] // {{ storePath = r.outPath; }}; }}) [ {list} ])",
        url = nix_str(url),
        list = list.join(" ")
    );
    let v = nix_eval_json(&expr, label);
    let obj = v.as_object().expect("the evaluation gives an attribute set");
    obj.iter()
        .map(|(rev, attrs)| {
            let mut attrs = attrs.as_object().expect("fetchGit gives attributes").clone();
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
pub fn compare_fetch(ours: &Value, expected: &Value, truncation_expected: bool, context: &str) -> Vec<String> {
    let mut diffs = Vec::new();
    let Some(o) = ours.as_object() else {
        return vec![format!("{context}: output is not a JSON object: {ours}")];
    };
    for key in FETCHGIT_ATTRS {
        let want = &expected[key];
        assert!(!want.is_null(), "{context}: expected values lack `{key}`");
        match o.get(key) {
            None => diffs.push(format!("{context}: missing `{key}` (expected {want})")),
            Some(got) if got != want => diffs.push(format!("{context}: `{key}` is {got}, expected {want}")),
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
        diffs.push(format!("{context}: unexpected extra key `{key}`: {}", o[key]));
    }
    if truncation_expected && !o.get("truncation").is_some_and(Value::is_object) {
        diffs.push(format!("{context}: `truncation` object missing with --date/--interval"));
    }
    diffs
}

/// Panics listing every difference (at most 60 shown) when there are any.
pub fn assert_no_diffs(what: &str, checked: usize, diffs: &[String]) {
    assert!(checked > 0, "{what}: nothing was checked");
    if !diffs.is_empty() {
        let shown: Vec<&str> = diffs.iter().take(60).map(String::as_str).collect();
        panic!("{what}: {} difference(s) in {checked} check(s):\n{}", diffs.len(), shown.join("\n"));
    }
    eprintln!("{what}: {checked} check(s) passed");
}

/// A `nix-daemon` serving `store` on the socket `socket`, killed on drop.
pub struct NixDaemon(std::process::Child);

impl NixDaemon {
    /// Starts `nix-daemon --store STORE EXTRA...` on `socket` and waits (at most 20 s) until it
    /// listens.
    pub fn start(store: &str, socket: &std::path::Path, extra: &[&str]) -> NixDaemon {
        use std::process::Stdio;
        use std::time::{Duration, Instant};
        let daemon = NixDaemon(
            Command::new("nix-daemon")
                .args(["--store", store])
                .args(extra)
                .env("NIX_DAEMON_SOCKET_PATH", socket)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start nix-daemon"),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(socket).is_err() {
            assert!(Instant::now() < deadline, "nix-daemon did not listen on {}", socket.display());
            std::thread::sleep(Duration::from_millis(50));
        }
        daemon
    }
}

impl Drop for NixDaemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
