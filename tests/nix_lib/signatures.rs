//! The Nix library's fetchGitDate passes verifyCommit, publicKey, keytype, publicKeys and lfs
//! on to the tool (evaluated by the installed Nix, with builtins.exec), against the values Nix
//! 2.26 recorded in fixtures/signatures-modern.json.

use crate::support::*;
use std::process::Command;

fn recorded() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(project_root().join("fixtures/signatures-modern.json")).expect("recorded")).expect("JSON")
}

#[test]
fn fetch_git_date_checks_signatures_and_refuses_lfs_for_legacy() {
    if !require_nix("fetch_git_date_checks_signatures_and_refuses_lfs_for_legacy") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    run_ok(Command::new("sh").arg(project_root().join("fixtures/make-signatures.sh")).arg(tmp.path()));
    let recorded = recorded();
    let repo = tmp.path().join("signed").display().to_string();
    let call = |attrs: &str| format!("({}).fetchGitDate {{ url = {}; {attrs} }}", lib_expr(), nix_str(&repo));
    let keys = &recorded["header"]["keys"];
    let case = &recorded["cases"]["list-of-both"];
    let rev = case["rev"].as_str().expect("rev");
    // Nix 2.8, which runs these tests, has no signature checks: behave like 2.26, which recorded them.
    let good = format!(
        "nixVersion = \"2.26.3\"; rev = \"{rev}\"; publicKeys = [ {{ key = \"{}\"; }} {{ type = \"ssh-rsa\"; key = \"{}\"; }} ];",
        keys["ed25519"].as_str().expect("key"),
        keys["rsa"].as_str().expect("key")
    );
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let value = eval_json(&home, &format!("({}).narHash", call(&good)));
    assert_eq!(value, case["result"]["narHash"]);
    // The tip of main is signed by a key nobody lists: with truncation the truncated commit
    // (RSA-signed) is checked instead, and passes.
    let truncated =
        format!("nixVersion = \"2.26.3\"; ref = \"main\"; interval = \"1d\"; publicKey = \"{}\"; keytype = \"ssh-rsa\";", keys["rsa"].as_str().expect("key"));
    assert_eq!(eval_json(&home, &format!("({}).rev", call(&truncated))), recorded["cases"]["rsa"]["rev"]);
    // The running Nix decides when no nixVersion is given: Nix 2.8 (CI) has neither signature
    // checks nor lfs, and refuses them; 2.26 (tests/modern-nix) has the checks, not lfs; 2.27
    // and later have both (this repository has no LFS pointers: lfs changes nothing).
    let running = backend_nix_version();
    let unsigned = if running_nix() >= (2, 19) {
        "no public keys were given".to_owned()
    } else {
        format!("the builtins.fetchGit of Nix {running} has no signature checks")
    };
    let lfs = format!("rev = \"{rev}\"; lfs = true;");
    let mut refusals = Vec::new();
    if running_nix() >= (2, 27) {
        let without = eval_json(&home, &format!("({}).narHash", call(&format!("rev = \"{rev}\";"))));
        assert_eq!(eval_json(&home, &format!("({}).narHash", call(&lfs))), without, "lfs = true under Nix {running}");
    } else {
        refusals.push((lfs, format!("the builtins.fetchGit of Nix {running} has no lfs")));
    }
    for (attrs, message) in [
        (
            format!("nixVersion = \"2.26.3\"; rev = \"{rev}\"; publicKey = \"{}\";", keys["stranger"].as_str().expect("key")),
            "not among the public keys".to_owned(),
        ),
        (format!("nixVersion = \"2.26.3\"; rev = \"{rev}\"; verifyCommit = true;"), "no public keys were given".to_owned()),
        // compat names a release of its generation: legacy ones have no lfs, and one that
        // contradicts nixVersion is refused.
        (format!("rev = \"{rev}\"; lfs = true; compat = \"legacy\";"), "needs Nix >= 2.27 (not Lix)".to_owned()),
        (format!("nixVersion = \"2.27.0\"; rev = \"{rev}\"; lfs = true; compat = \"legacy\";"), "contradicts".to_owned()),
        (format!("rev = \"{rev}\"; verifyCommit = true;"), unsigned),
    ]
    .into_iter()
    .chain(refusals)
    {
        let out = run(nix_cmd("nix-instantiate", &home).args(EXEC_ON).args(["--eval", "--strict", "-E", &format!("({}).narHash", call(&attrs))]));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(message.as_str()), "{attrs}: {err}");
    }
}
