//! The one policy for a test whose prerequisite (Nix, root, a chroot, a tool) is missing: under
//! `CI=true` the test fails; elsewhere it prints one line saying SKIPPED and why, and the caller
//! returns without asserting anything. A skip is never silent, so it is never taken for a pass.
//!
//! This file has no dependencies of its own: crates/nixstore's tests include it by path.

use std::io::Write;
use std::process::{Command, Stdio};

/// Whether the test may go on: true when `found` is `Ok`. When it is not: panics under
/// `CI=true` (CI has every prerequisite, so a missing one is a broken machine); otherwise prints
/// `SKIPPED: <test>: <what> ...` on stderr and returns false.
pub fn require(test: &str, what: &str, found: Result<(), String>) -> bool {
    let Err(why) = found else { return true };
    if under_ci() {
        panic!("{test}: {what} is required under CI=true: {why}");
    }
    // One line: a reason that spans lines (a script's output) is shown in full only under CI.
    let why = why.lines().next().unwrap_or_default();
    // Written to stderr itself, not with eprintln!, which the test harness captures and shows
    // only for failing tests: the skip is seen next to the test's "ok".
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {what} is missing ({why}); nothing was checked. Under CI=true this fails.");
    false
}

/// Whether `CI=true` is set: then a missing prerequisite fails the test.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// `Ok` when `program ARGS` runs and exits 0.
pub fn runs(program: &str, args: &[&str]) -> Result<(), String> {
    let shown = format!("{program} {}", args.join(" "));
    match Command::new(program).args(args).stdin(Stdio::null()).output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!("`{shown}` failed ({})", out.status)),
        Err(e) => Err(format!("`{shown}` cannot run: {e}")),
    }
}

/// Nix (the `nix-instantiate` and `nix-store` on PATH: Debian's nix-bin 2.8 in CI); see
/// [`require`]. Install: `apt-get install -y nix-bin` (tests/install-deps).
pub fn require_nix(test: &str) -> bool {
    let found = runs("nix-instantiate", &["--version"]).and_then(|()| runs("nix-store", &["--version"]));
    require(test, "Nix (apt-get install -y nix-bin)", found)
}

/// A step that needs privileges (`what`, e.g. reading the default store's database), which
/// worked or not; see [`require`]. CI runs as root.
pub fn require_privilege(test: &str, what: &str, worked: Result<(), String>) -> bool {
    require(test, &format!("{what} (run as root)"), worked)
}

/// Root, for `needed_for` (becoming another user, chown); see [`require_privilege`].
pub fn require_root(test: &str, needed_for: &str) -> bool {
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    require_privilege(test, needed_for, if root { Ok(()) } else { Err("not root".into()) })
}
