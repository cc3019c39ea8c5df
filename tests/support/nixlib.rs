//! The Nix library (`nix/`) under test, and the way it reaches fetchgit-date: through
//! `builtins.exec` (the `nix_lib` target), or through the plugin's `builtins.fetchGitDate` with
//! builtins.exec disabled (the `plugin` target, which runs the same test modules).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::isolation::{project_root, BIN};
use super::nix::{nix_str, NIX_OPTS};
use super::process::run_ok;

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether this test target reaches fetchgit-date through the plugin (`builtins.fetchGitDate`,
/// with builtins.exec disabled) rather than through builtins.exec: the `plugin` target
/// (tests/plugin/main.rs), which runs the `nix_lib` target's modules this way.
pub const PLUGIN: bool = same(env!("CARGO_CRATE_NAME"), "plugin");

/// Enables the way to fetchgit-date that this target tests: builtins.exec, or (the plugin
/// target, where every Nix command loads the plugin) explicitly nothing: builtins.exec stays off.
pub const EXEC_ON: &[&str] = &["--option", "allow-unsafe-native-code-during-evaluation", if PLUGIN { "false" } else { "true" }];

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
/// in the plugin target it loads the plugin.
pub fn nix_cmd(program: &str, home: &Path) -> Command {
    nix_cmd_with(program, home, true)
}

/// [`nix_cmd`], without the plugin when `plugin` is false (to see what happens with no way to
/// reach fetchgit-date at all).
pub fn nix_cmd_with(program: &str, home: &Path, plugin: bool) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("HOME", home).env_remove("XDG_CACHE_HOME").args(NIX_OPTS);
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

/// `nix-instantiate --eval --strict --json` of `expr`, with the way this target tests enabled.
pub fn eval_json(home: &Path, expr: &str) -> serde_json::Value {
    let out = run_ok(nix_cmd("nix-instantiate", home).args(EXEC_ON).args(["--eval", "--strict", "--json", "-E", expr]));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON from Nix ({e}): {out}"))
}

/// Nix code turning a fetch result into JSON-able data: the attributes without `outPath`
/// (an attribute set with `outPath` serialises as that string) plus the path and its context.
pub const PROJECT: &str = "(r: removeAttrs r [ \"outPath\" \"truncation\" ] // { path = r.outPath; context = builtins.getContext r.outPath; })";

/// The release the library is told when no `nixVersion` is given: [`super::nix::running_nix_version`],
/// except through the plugin in Lix, which passes Lix's own release (`2.95.3-lix`: the shim
/// reads `nix::nixVersion`, which in Lix is its own number).
pub fn backend_nix_version() -> String {
    let running = super::nix::running_nix_version();
    if !(PLUGIN && running.ends_with("-lix")) {
        return running;
    }
    let out = run_ok(Command::new("nix-instantiate").arg("--version"));
    let first = out.lines().next().unwrap_or_default();
    format!("{}-lix", first.split_whitespace().last().expect("Lix's release"))
}
