//! Fetching the same fixture over every transport gives the same attributes as reading it
//! locally, and (for the transports Nix 2.8 supports here: file://, http:// on loopback) the
//! same attributes as Nix 2.8's `builtins.fetchGit`.

use crate::support::*;

fn fetch_args<'a>(url: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["fetch", "--no-store", "--compat", "legacy", "-q", "--url", url];
    args.extend_from_slice(extra);
    args
}

/// Our attributes for the local bare repository: the reference every transport must match.
fn local(scratch: &Scratch, extra: &[&str]) -> serde_json::Value {
    let path = scratch.repo().display().to_string();
    ok_json(&run_bin_in(&scratch.home(), &fetch_args(&path, extra), &[]), "local fetch")
}

#[test]
fn http_matches_local_and_nix_2_8() {
    let scratch = Scratch::new();
    make_fixture(&scratch, 30);
    let server = http_server(&scratch);
    let url = format!("http://127.0.0.1:{}/repo.git", server.port);
    for extra in [&["--ref", "main"][..], &[][..], &["--ref", "other"][..]] {
        let ours = ok_json(&run_bin_in(&scratch.home(), &fetch_args(&url, extra), &[]), "http fetch");
        assert_eq!(ours, local(&scratch, extra), "http {extra:?} vs local");
    }
    let rev = git(&scratch.repo(), &["rev-parse", "main~3"]);
    let ours = ok_json(&run_bin_in(&scratch.home(), &fetch_args(&url, &["--rev", &rev]), &[]), "http fetch --rev");
    assert_eq!(ours["rev"], rev.as_str());
    if require_nix("http_matches_local_and_nix_2_8") {
        let nix = nix_fetchgit(&scratch, &url, "ref = \"main\";");
        let ours = ok_json(&run_bin_in(&scratch.home(), &fetch_args(&url, &["--ref", "main"]), &[]), "http fetch");
        assert_same_as_nix(&ours, &nix, "http ref=main");
        let nix = nix_fetchgit(&scratch, &url, &format!("ref = \"main\"; rev = \"{rev}\";"));
        let ours = ok_json(&run_bin_in(&scratch.home(), &fetch_args(&url, &["--ref", "main", "--rev", &rev]), &[]), "http fetch");
        assert_same_as_nix(&ours, &nix, "http rev");
    }
}

#[test]
fn file_url_matches_nix_2_8() {
    let scratch = Scratch::new();
    make_fixture(&scratch, 10);
    let url = format!("file://{}", scratch.repo().display());
    let ours = ok_json(&run_bin_in(&scratch.home(), &fetch_args(&url, &["--ref", "main"]), &[]), "file fetch");
    assert_eq!(ours, local(&scratch, &["--ref", "main"]));
    if require_nix("file_url_matches_nix_2_8") {
        let nix = nix_fetchgit(&scratch, &url, "ref = \"main\";");
        assert_same_as_nix(&ours, &nix, "file:// ref=main");
    }
}

#[test]
fn git_daemon_matches_local() {
    let scratch = Scratch::new();
    make_fixture(&scratch, 30);
    let daemon = git_daemon(&scratch);
    let url = format!("git://127.0.0.1:{}/repo.git", daemon.port);
    let ours = ok_json(&run_bin_in(&scratch.home(), &fetch_args(&url, &["--ref", "main"]), &[]), "git:// fetch");
    assert_eq!(ours, local(&scratch, &["--ref", "main"]));
    // Nix drops `git+` from fetchGit's url from 2.33 on (Change::GitPlusUrls); before, it fails.
    let modern = ["--compat", "modern"];
    let ours = ok_json(
        &run_bin_in(&scratch.home(), &["fetch", "--no-store", "-q", "--url", &format!("git+{url}"), "--compat", "modern"], &[]),
        "git+git:// fetch of HEAD",
    );
    let path = scratch.repo().display().to_string();
    assert_eq!(ours, ok_json(&run_bin_in(&scratch.home(), &["fetch", "--no-store", "-q", "--url", &path, modern[0], modern[1]], &[]), "local fetch"));
    let err = err_line(&run_bin_in(&scratch.home(), &fetch_args(&format!("git+{url}"), &[]), &[]), "git+ as Nix 2.19.7");
    assert!(err.contains("Nix drops `git+` from 2.33 on"), "{err}");
}

#[test]
fn ssh_through_git_ssh_command_matches_local() {
    let scratch = Scratch::new();
    make_fixture(&scratch, 30);
    let (ssh, log) = fake_ssh(&scratch);
    for url in [format!("ssh://git@example.invalid{}", scratch.repo().display()), format!("git@example.invalid:{}", scratch.repo().display())] {
        let out = run_bin_in(&scratch.home(), &fetch_args(&url, &["--ref", "main", "--refresh"]), &[("GIT_SSH_COMMAND", &ssh)]);
        let ours = ok_json(&out, &format!("ssh fetch {url}"));
        assert_eq!(ours, local(&scratch, &["--ref", "main"]), "{url}");
    }
    let calls = std::fs::read_to_string(&log).expect("the fake ssh was run");
    assert!(calls.contains("example.invalid"), "ssh got the host: {calls}");
}

#[test]
fn shallow_fetch_has_rev_count_zero() {
    let scratch = Scratch::new();
    make_fixture(&scratch, 30);
    let server = http_server(&scratch);
    let url = format!("http://127.0.0.1:{}/repo.git", server.port);
    let ours = ok_json(&run_bin_in(&scratch.home(), &fetch_args(&url, &["--ref", "main", "--shallow"]), &[]), "shallow");
    let full = local(&scratch, &["--ref", "main"]);
    assert_eq!(ours["revCount"], 0);
    assert_eq!(ours["narHash"], full["narHash"]);
    assert_eq!(ours["rev"], full["rev"]);
    let shallow_dirs: Vec<_> = std::fs::read_dir(scratch.cache_git())
        .expect("cache root")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with("-shallow"))
        .collect();
    assert_eq!(shallow_dirs.len(), 1, "a separate shallow cache repository");
    let count = git(&shallow_dirs[0].path(), &["rev-list", "--count", "refs/heads/main"]);
    assert_eq!(count, "1", "depth 1 fetched one commit");
}
