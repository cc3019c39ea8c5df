//! Running the `fetchgit-date` binary under test, isolated, and reading what it printed.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use super::isolation::{isolate, isolate_in, BIN};
use super::process::run_bounded;

/// The `fetchgit-date` binary under test, isolated (the HOME of this process).
pub fn bin() -> Command {
    let mut cmd = Command::new(BIN);
    isolate(&mut cmd);
    cmd
}

/// Runs `fetchgit-date ARGS...` and returns its raw output.
pub fn run_bin(args: &[&str]) -> Output {
    bin().args(args).output().expect("run the fetchgit-date binary")
}

/// Runs `fetchgit-date ARGS...` with `home` as HOME (its own cache) and more environment
/// variables, killed after two minutes.
pub fn run_bin_in(home: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    isolate_in(&mut cmd, home).args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    run_bounded(cmd, Duration::from_secs(120))
}

/// Runs `fetchgit-date ARGS...`, which must succeed; returns stdout, or an error
/// message naming the command (for collecting mismatches instead of stopping at the
/// first).
pub fn try_bin(args: &[&str]) -> Result<String, String> {
    let out = run_bin(args);
    if !out.status.success() {
        return Err(format!("`fetchgit-date {}` failed ({}): {}", args.join(" "), out.status, String::from_utf8_lossy(&out.stderr).trim()));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("`fetchgit-date {}`: stdout is not UTF-8: {e}", args.join(" ")))
}

/// Runs `fetchgit-date ARGS...` that prints one JSON object.
pub fn try_bin_json(args: &[&str]) -> Result<Value, String> {
    let s = try_bin(args)?;
    serde_json::from_str(&s).map_err(|e| format!("`fetchgit-date {}`: not JSON ({e}): {s}", args.join(" ")))
}

/// The JSON a successful run printed.
pub fn ok_json(out: &Output, what: &str) -> Value {
    assert!(out.status.success(), "{what}: exit {:?}\nstderr: {}", out.status.code(), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// The one-line error of a run that failed with exit 2.
pub fn err_line(out: &Output, what: &str) -> String {
    assert_eq!(out.status.code(), Some(2), "{what}: expected exit 2, stdout: {}", String::from_utf8_lossy(&out.stdout));
    let err = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    assert_eq!(err.lines().count(), 1, "{what}: error must be one line: {err}");
    err
}
