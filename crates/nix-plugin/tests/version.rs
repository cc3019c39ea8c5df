//! A plugin built for another Nix release refuses to register, with one line naming both
//! versions, and Nix carries on: the `pretend_nix_version` example is this plugin with the shim
//! compiled to insist on another release (build.rs). `cargo test` builds examples before the
//! tests of their package run; the real plugin, built from the same code, registers.

use std::path::PathBuf;
use std::process::Command;

fn built(dir: &str, file: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>/deps/<test>");
    let path = profile_dir.join(dir).join(file);
    assert!(
        path.exists(),
        "{} is missing: run the tests with cargo test -p fetchgit-date-nix-plugin (which builds the package's examples first)",
        path.display()
    );
    path
}

fn has_fetch_git_date(plugin: &PathBuf) -> (String, String) {
    let out = Command::new("nix-instantiate")
        .args(["--option", "substituters", "", "--option", "plugin-files"])
        .arg(plugin)
        .args(["--eval", "-E", "builtins ? fetchGitDate"])
        .output()
        .expect("nix-instantiate runs: these tests need Nix (Debian: apt-get install -y nix-bin; tests/install-deps)");
    assert!(out.status.success(), "Nix must survive loading {}: {}", plugin.display(), String::from_utf8_lossy(&out.stderr));
    (String::from_utf8_lossy(&out.stdout).trim().to_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_plugin_built_for_another_nix_refuses_to_register() {
    // The plugin compares with nix::nixVersion: builtins.nixVersion in Nix; in Lix its own
    // release (`nix-instantiate (Lix, like Nix) 2.95.3`), where builtins.nixVersion is 2.18.3-lix.
    let version = Command::new("nix-instantiate").arg("--version").output().expect("nix-instantiate runs");
    let version = String::from_utf8_lossy(&version.stdout).lines().next().unwrap_or_default().to_owned();
    let (implementation, running) = if version.contains("(Lix") {
        ("Lix", version.split_whitespace().last().expect("Lix's release").to_owned())
    } else {
        let running = Command::new("nix-instantiate").args(["--eval", "-E", "builtins.nixVersion"]).output().expect("nix-instantiate runs");
        ("Nix", String::from_utf8_lossy(&running.stdout).trim().trim_matches('"').to_owned())
    };
    let pretend = option_env!("FETCHGIT_DATE_NIX_PRETEND_VERSION").unwrap_or("2.7.99-pretend");

    let (answer, stderr) = has_fetch_git_date(&built("examples", "libpretend_nix_version.so"));
    assert_eq!(answer, "false", "the mismatched plugin registered anyway");
    let lines: Vec<_> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert_eq!(
        lines[0],
        format!("warning: fetchgit-date plugin: built for {implementation} {pretend}, but this is {implementation} {running}: builtins.fetchGitDate is not registered; rebuild the plugin against this Nix")
    );

    let (answer, stderr) = has_fetch_git_date(&built("deps", "libfetchgit_date_nix_plugin.so"));
    assert_eq!(answer, "true", "the plugin built for this Nix registers: {stderr}");
    assert!(stderr.trim().is_empty(), "and says nothing: {stderr}");
}
