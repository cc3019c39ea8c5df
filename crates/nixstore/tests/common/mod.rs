//! Helpers shared by the integration tests that run real Nix.

#![allow(dead_code)] // each test binary uses a subset

use std::process::Command;

/// True if Nix is usable. Panics when it is not and `CI=true`, since CI always has Nix.
pub fn require_nix(test: &str) -> bool {
    let works = Command::new("nix-store")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if works {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: Nix is required under CI=true but `nix-store --version` failed; install it (apt-get install -y nix-bin)");
    }
    eprintln!("notice: {test} NOT RUN: Nix not found (`nix-store --version` failed); under CI=true this fails");
    false
}

/// True if a privileged setup step (`what`) worked. When it did not: panics under `CI=true`
/// (CI runs as root), else prints a notice so the test is visibly not run.
pub fn require_privilege(test: &str, what: &str, worked: Result<(), String>) -> bool {
    match worked {
        Ok(()) => true,
        Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{test}: {what} is required under CI=true but failed: {why}")
        }
        Err(why) => {
            eprintln!("notice: {test} NOT RUN: {what} failed ({why}); run as root, under CI=true this fails");
            false
        }
    }
}
