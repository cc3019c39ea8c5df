//! The flake and the library under pure evaluation (Nix 2.8 flakes): what works, what needs
//! `--impure`, and the flake's outputs evaluated offline against a stand-in nixpkgs
//! (`tests/support/files/nixpkgs-stub.nix`; the real nixpkgs cannot be downloaded here).

use std::path::Path;
use std::process::Command;

use crate::support::*;

/// Copies what the flake evaluates (not target/) into `dir` and writes the stub nixpkgs flake.
fn flake_copy(dir: &Path) -> (String, String) {
    let root = project_root();
    let flake = dir.join("flake");
    std::fs::create_dir_all(flake.join("nix")).expect("mkdir");
    for file in ["flake.nix", "Cargo.toml", "Cargo.lock", "nix/default.nix", "nix/package.nix", "nix/plugin.nix", "nix/module.nix"] {
        std::fs::copy(root.join(file), flake.join(file)).unwrap_or_else(|e| panic!("copy {file}: {e}"));
    }
    let stub = dir.join("stub");
    std::fs::create_dir_all(&stub).expect("mkdir");
    std::fs::copy(root.join("tests/support/files/nixpkgs-stub.nix"), stub.join("flake.nix")).expect("copy stub");
    (format!("path:{}", flake.display()), format!("path:{}", stub.display()))
}

fn nix(home: &Path) -> Command {
    let mut cmd = nix_cmd("nix", home);
    cmd.args(FLAKES);
    cmd
}

#[test]
fn flake_outputs_evaluate_offline() {
    if !require_nix("flake_outputs_evaluate_offline") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let (flake, stub) = flake_copy(tmp.path());
    let over = ["--override-input", "nixpkgs", stub.as_str(), "--no-write-lock-file"];
    let shown: serde_json::Value = serde_json::from_str(&run_ok(
        nix(tmp.path())
            .args(["flake", "show", "--json", &flake])
            // From 2.13 only the current system is evaluated unless asked.
            .args(if running_nix() >= (2, 13) { &["--all-systems"][..] } else { &[] })
            .args(over),
    ))
    .expect("JSON");
    for system in ["x86_64-linux", "aarch64-linux", "x86_64-darwin", "aarch64-darwin"] {
        assert_eq!(shown["packages"][system]["default"]["name"], "fetchgit-date-0.1.0", "{shown}");
        assert_eq!(shown["checks"][system]["lib-eval"]["type"], "derivation", "{shown}");
        assert_eq!(shown["packages"][system]["plugin"]["name"], "fetchgit-date-nix-plugin-0.1.0", "{shown}");
        assert_eq!(shown["packages"][system]["plugin-lix"]["name"], "fetchgit-date-nix-plugin-lix-0.1.0", "{shown}");
        assert_eq!(shown["checks"][system]["plugin-eval"]["type"], "derivation", "{shown}");
    }
    assert_eq!(shown["overlays"]["default"]["type"], "nixpkgs-overlay", "{shown}");
    assert_eq!(shown["nixosModules"]["default"]["type"], "nixos-module", "{shown}");
    // Evaluates every check (including the library's evaluation-time assertions) and the overlay.
    run_ok(nix(tmp.path()).args(["flake", "check", "--no-build", &flake]).args(over));
    // The overlay gives the package and the library using it.
    let program = run_ok(nix(tmp.path()).args(["eval", "--impure", "--raw", &format!("{flake}#overlays.default")]).args(over).args([
        "--apply",
        &format!("o: let pkgs = (builtins.getFlake {}).legacyPackages.x86_64-linux; r = o (pkgs // r) pkgs; in r.fetchgitDateLib.program", nix_str(&stub)),
    ]));
    assert!(program.starts_with("/nix/store/") && program.ends_with("-fetchgit-date-0.1.0/bin/fetchgit-date"), "{program}");
}

/// A flake with no inputs that uses the flake's `lib` output from a path, evaluated purely.
fn pure_flake(dir: &Path, repo: &Path, rev: &str) -> String {
    let flake = dir.join("user");
    std::fs::create_dir_all(flake.join("nix")).expect("mkdir");
    std::fs::copy(project_root().join("nix/default.nix"), flake.join("nix/default.nix")).expect("copy lib");
    let url = nix_str(&repo.display().to_string());
    std::fs::write(
        flake.join("flake.nix"),
        format!(
            "{{ outputs = {{ self }}: let lib = import ./nix {{ fetchgit-date = {bin}; }}; in rec {{
                 pure = lib.pureEval;
                 withRev = lib.fetchGitDate {{ url = {url}; rev = {rev}; interval = 86400; }};
                 context = builtins.getContext withRev.outPath;
                 noRev = lib.fetchGitDate {{ url = {url}; interval = 86400; }};
                 relativeDate = lib.fetchGitDate {{ url = {url}; rev = {rev}; date = \"1 day ago\"; }};
                 selfUrl = lib.fetchGitDate {{ url = ./.; rev = {rev}; }};
                 narHashOnly = lib.fetchGitDate {{ url = {url}; interval = 86400; nixVersion = \"2.27.0\"; narHash = builtins.readFile ./narhash; }};
                 narHashOnlyOld = lib.fetchGitDate {{ url = {url}; interval = 86400; nixVersion = \"2.26.3\"; narHash = builtins.readFile ./narhash; }};
                 narHashWrong = lib.fetchGitDate {{ url = {url}; interval = 86400; nixVersion = \"2.27.0\"; narHash = \"sha256-pQpattmS9VmO3ZIQUFn66az8GSmB4IvYhTTCFn6SUmo=\"; }};
               }}; }}",
            bin = nix_str(BIN),
            rev = nix_str(rev)
        ),
    )
    .expect("write flake");
    format!("path:{}", flake.display())
}

#[test]
fn pure_evaluation_needs_rev_and_gives_context() {
    if !require_nix("pure_evaluation_needs_rev_and_gives_context") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = make_repo(tmp.path());
    let tip = run_ok(git_cmd(&repo).args(["rev-parse", "main"]));
    let flake = pure_flake(tmp.path(), &repo, &tip);
    // No extra options: neither builtins.exec nor (in plugin targets) the plugin.
    let eval = |attr: &str, extra: &[&str]| {
        run(nix_cmd_with("nix", tmp.path(), !extra.is_empty())
            .args(FLAKES)
            .args(["eval", "--json", "--no-write-lock-file"])
            .args(extra)
            .arg(format!("{flake}#{attr}")))
    };
    let ok = |attr: &str, extra: &[&str]| -> serde_json::Value {
        let out = eval(attr, extra);
        assert!(out.status.success(), "{attr}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    let fails = |attr: &str, extra: &[&str], needle: &str| {
        let out = eval(attr, extra);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(needle), "{attr}: expected {needle:?}, got:\n{stderr}");
    };
    assert_eq!(ok("pure", EXEC_ON), true);
    // With rev: works in pure mode, same as fetchGit (itself allowed with a rev), with context.
    let boundary = commit_time(&repo, &tip).div_euclid(86_400) * 86_400;
    let expected = git_truncate(&repo, &tip, boundary, false);
    let ours = ok("withRev", EXEC_ON);
    let nix_attrs = eval_json(tmp.path(), &format!("builtins.fetchGit {{ url = {}; rev = {}; }}", nix_str(&repo.display().to_string()), nix_str(&expected)));
    assert_eq!(ours, nix_attrs, "pure fetchGitDate vs fetchGit of {expected}");
    let context = ok("context", EXEC_ON);
    assert_eq!(context[nix_attrs.as_str().expect("outPath string")]["path"], true, "{context}");
    // Without rev, or with a clock-dependent date: refused, like fetchGit's unlocked inputs.
    fails("noRev", EXEC_ON, "in pure evaluation mode fetchGitDate needs a locked input: pass rev");
    fails("relativeDate", EXEC_ON, "in pure evaluation mode date must be Unix seconds");
    // ./. in a flake is the store copy of its source, which has no .git.
    fails("selfUrl", EXEC_ON, "is in the Nix store, where sources are copied without .git");
    // A narHash without rev locks the input from Nix 2.27 on (not before), and is checked. The
    // hash is 2.27's export of the commit (modern: the CRLF file as stored), which Nix 2.8 here
    // cannot make; what is tested is that a matching narHash locks and a wrong one fails.
    let fetched = run_ok(Command::new(BIN).args(["fetch", "--no-store", "-q", "--nix-version", "2.27.0", "--url"]).arg(&repo).args(["--rev", &expected]));
    let fetched: serde_json::Value = serde_json::from_str(&fetched).expect("JSON");
    let flake_dir = tmp.path().join("user");
    std::fs::write(flake_dir.join("narhash"), fetched["narHash"].as_str().expect("narHash is a string")).expect("write narhash");
    assert_eq!(ok("narHashOnly.rev", EXEC_ON), expected.as_str());
    fails("narHashOnlyOld", EXEC_ON, "in pure evaluation mode fetchGitDate needs a locked input: pass rev");
    fails("narHashWrong", EXEC_ON, "NAR hash mismatch in input");
    // builtins.exec is off unless enabled, in pure mode too.
    fails("withRev", &[], NO_BACKEND);
    // --impure lifts the rev requirement: the current branch's tip, truncated.
    let impure = ok("noRev.rev", &["--impure", EXEC_ON[0], EXEC_ON[1], EXEC_ON[2]]);
    assert_eq!(impure, expected.as_str());
}
