//! The Nix library's fetchGitDate passes verifyCommit, publicKey, keytype, publicKeys and lfs
//! on to the tool (evaluated by the installed Nix, with builtins.exec), against the values Nix
//! 2.26 recorded in fixtures/signatures-modern.json.

#[path = "nix_support/mod.rs"]
mod support;

use support::*;
use std::process::Command;

fn recorded() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(project_root().join("fixtures/signatures-modern.json")).expect("recorded")).expect("JSON")
}

#[test]
fn fetch_git_date_checks_signatures_and_refuses_lfs_for_legacy() {
    require_nix();
    let tmp = tempfile::tempdir().expect("tempdir");
    run_ok(Command::new("sh").arg(project_root().join("fixtures/make-signatures.sh")).arg(tmp.path()));
    let recorded = recorded();
    let repo = tmp.path().join("signed").display().to_string();
    let call = |attrs: &str| format!("({}).fetchGitDate {{ url = {}; {attrs} }}", lib_expr(), nix_str(&repo));
    let keys = &recorded["header"]["keys"];
    let case = &recorded["cases"]["list-of-both"];
    let rev = case["rev"].as_str().expect("rev");
    let good = format!(
        "rev = \"{rev}\"; publicKeys = [ {{ key = \"{}\"; }} {{ type = \"ssh-rsa\"; key = \"{}\"; }} ];",
        keys["ed25519"].as_str().expect("key"),
        keys["rsa"].as_str().expect("key")
    );
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let value = eval_json(&home, &format!("({}).narHash", call(&good)));
    assert_eq!(value, case["result"]["narHash"]);
    // The tip of main is signed by a key nobody lists: with truncation the truncated commit
    // (RSA-signed) is checked instead, and passes.
    let truncated = format!("ref = \"main\"; interval = \"1d\"; publicKey = \"{}\"; keytype = \"ssh-rsa\";", keys["rsa"].as_str().expect("key"));
    assert_eq!(eval_json(&home, &format!("({}).rev", call(&truncated))), recorded["cases"]["rsa"]["rev"]);
    for (attrs, message) in [
        (format!("rev = \"{rev}\"; publicKey = \"{}\";", keys["stranger"].as_str().expect("key")), "not among the public keys"),
        (format!("rev = \"{rev}\"; verifyCommit = true;"), "no public keys were given"),
        (format!("rev = \"{rev}\"; lfs = true; compat = \"legacy\";"), "lfs = true needs compat"),
    ] {
        let out = run(nix_cmd("nix-instantiate", &home).args(EXEC_ON).args(["--eval", "--strict", "-E", &format!("({}).narHash", call(&attrs))]));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(message), "{attrs}: {err}");
    }
}
