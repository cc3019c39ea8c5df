//! The remote cache: one fetch for many concurrent processes, recovery after a killed fetch,
//! Nix's freshness rules, refusal of injection attempts before anything runs, and one-line
//! errors that keep credentials out.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

fn fetch<'a>(url: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["fetch", "--no-store", "-q", "--url", url];
    args.extend_from_slice(extra);
    args
}

#[test]
fn eight_concurrent_processes_fetch_once() {
    let scratch = Scratch::new();
    make_fixture(&scratch, 30);
    // Pack requests are counted: one per fetch without a partial clone (whose concurrent runs
    // tests/remote/partial_clone.rs counts).
    git(&scratch.repo(), &["config", "uploadpack.allowFilter", "false"]);
    let server = http_server(&scratch);
    let url = format!("http://127.0.0.1:{}/repo.git", server.port);
    let outputs: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8).map(|_| scope.spawn(|| run_bin_in(&scratch.home(), &fetch(&url, &["--ref", "main"]), &[]))).collect();
        handles.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    let first = ok_json(&outputs[0], "process 0");
    for (i, out) in outputs.iter().enumerate() {
        assert_eq!(ok_json(out, &format!("process {i}")), first, "process {i} differs");
    }
    assert_eq!(server.pack_requests(), 1, "exactly one pack was fetched over the network");
}

#[test]
fn killed_fetch_leaves_a_usable_cache() {
    let scratch = Scratch::new();
    make_fixture(&scratch, 60);
    let server = http_server_with(&scratch, true);
    let url = format!("http://127.0.0.1:{}/repo.git", server.port);
    let mut cmd = Command::new(BIN);
    isolate_in(&mut cmd, &scratch.home()).args(fetch(&url, &["--ref", "main"])).stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = cmd.spawn().expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.pack_requests() == 0 {
        assert!(Instant::now() < deadline, "the fetch never asked for a pack");
        assert!(child.try_wait().expect("wait").is_none(), "the fetch finished before it could be killed");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().expect("wait").is_none(), "the fetch finished before it could be killed: make the fixture bigger");
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");

    let out = run_bin_in(&scratch.home(), &fetch(&url, &["--ref", "main"]), &[]);
    let ours = ok_json(&out, "rerun after kill");
    assert_eq!(ours["rev"], git(&scratch.repo(), &["rev-parse", "main"]).as_str());
    for entry in std::fs::read_dir(scratch.cache_git()).expect("cache root") {
        let entry = entry.expect("entry");
        if entry.path().join("HEAD").is_file() {
            let fsck = Command::new("git").arg("-C").arg(entry.path()).args(["fsck", "--strict", "--no-progress"]).output().expect("git fsck");
            assert!(fsck.status.success(), "git fsck: {}{}", String::from_utf8_lossy(&fsck.stdout), String::from_utf8_lossy(&fsck.stderr));
            let text = String::from_utf8_lossy(&fsck.stderr).to_string() + &String::from_utf8_lossy(&fsck.stdout);
            assert!(!text.contains("error") && !text.contains("garbage"), "fsck not clean: {text}");
        }
    }
}

#[test]
fn freshness_follows_ttl_refresh_and_rev() {
    let scratch = Scratch::new();
    make_fixture(&scratch, 5);
    // Pack requests are counted: one per fetch without a partial clone.
    git(&scratch.repo(), &["config", "uploadpack.allowFilter", "false"]);
    let server = http_server(&scratch);
    let url = format!("http://127.0.0.1:{}/repo.git", server.port);
    let home = scratch.home();
    let old = ok_json(&run_bin_in(&home, &fetch(&url, &["--ref", "main"]), &[]), "first")["rev"].clone();
    assert_eq!(server.pack_requests(), 1);
    // A new commit on the server is not seen while the ref is fresh...
    let work = scratch.dir.path().join("work");
    std::fs::write(work.join("new.txt"), "new\n").expect("write");
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "new"]);
    git(&work, &["push", "-q", scratch.repo().to_str().expect("utf-8"), "main"]);
    let new = git(&scratch.repo(), &["rev-parse", "main"]);
    assert_eq!(ok_json(&run_bin_in(&home, &fetch(&url, &["--ref", "main"]), &[]), "fresh")["rev"], old);
    assert_eq!(server.pack_requests(), 1, "fresh ref: no fetch");
    // ...until --refresh, or a TTL that has run out.
    assert_eq!(ok_json(&run_bin_in(&home, &fetch(&url, &["--ref", "main", "--refresh"]), &[]), "refresh")["rev"], new.as_str());
    assert_eq!(ok_json(&run_bin_in(&home, &fetch(&url, &["--ref", "main", "--ttl", "0"]), &[]), "ttl 0")["rev"], new.as_str());
    // A rev already in the cache needs no network at all, even with the TTL run out.
    let before = server.pack_requests();
    let out = run_bin_in(&home, &fetch(&url, &["--rev", old.as_str().expect("rev"), "--ttl", "0"]), &[]);
    assert_eq!(ok_json(&out, "rev")["rev"], old);
    assert_eq!(server.pack_requests(), before, "known rev: no fetch");
    // With the server gone, a stale ref is served from the cache with a warning, as Nix goes on
    // with "the most recent version"; --refresh, which asks for the network, fails.
    drop(server);
    let out = run_bin_in(&home, &fetch(&url, &["--ref", "main", "--ttl", "0"]), &[]);
    assert_eq!(ok_json(&out, "offline")["rev"], new.as_str());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("could not update the cache of Git repository") && stderr.contains("continuing with the most recent version"), "{stderr}");
    let out = run_bin_in(&home, &fetch(&url, &["--ref", "main", "--refresh"]), &[]);
    assert_eq!(out.status.code(), Some(2), "--refresh offline: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn injection_attempts_are_refused_before_anything_runs() {
    let scratch = Scratch::new();
    let (ssh, log) = fake_ssh(&scratch);
    let marker = scratch.dir.path().join("pwned");
    let m = marker.display().to_string();
    let attempts: Vec<(String, Vec<String>)> = vec![
        (format!("ssh://-oProxyCommand=touch%20{m}/r"), vec![]),
        (format!("-oProxyCommand=touch {m}:r"), vec![]),
        ("git@-oProxyCommand=touch%20pwned:r".to_owned(), vec![]),
        ("ssh://-u@host/r".to_owned(), vec![]),
        ("ssh://host/--upload-pack=touch".into(), vec![]),
        (format!("ext::sh -c touch% {m}"), vec![]),
        ("--upload-pack=touch".into(), vec![]),
        ("ssh://host/repo".into(), vec!["--ref=--upload-pack=touch".into()]),
        ("ssh://host/repo".into(), vec!["--rev=-oProxyCommand".into()]),
    ];
    for (url, extra) in &attempts {
        let url_arg = format!("--url={url}");
        let mut args = vec!["fetch", "--no-store", "-q", url_arg.as_str()];
        args.extend(extra.iter().map(String::as_str));
        let out = run_bin_in(&scratch.home(), &args, &[("GIT_SSH_COMMAND", &ssh)]);
        let err = err_line(&out, url);
        assert!(err.contains("refus") || err.contains("invalid") || err.contains("ext::"), "{url} {extra:?}: {err}");
    }
    assert!(!log.exists(), "ssh was spawned: {}", std::fs::read_to_string(&log).unwrap_or_default());
    assert!(!marker.exists(), "a command ran");
    assert!(!scratch.cache_git().exists(), "nothing was written to the cache");
}

#[test]
fn errors_are_one_line_and_keep_credentials_out() {
    let scratch = Scratch::new();
    make_fixture(&scratch, 3);
    let server = http_server(&scratch);
    let home = scratch.home();
    let base = format!("http://127.0.0.1:{}", server.port);

    let err = err_line(&run_bin_in(&home, &fetch(&format!("{base}/missing.git"), &[]), &[]), "not found");
    assert!(err.contains("not found"), "{err}");

    // Credentials over plain http are used as git and Nix use them (this server asks for none;
    // tests/remote/credentials.rs has one that does); they must not reach a file name.
    let out = run_bin_in(&home, &fetch(&format!("http://user:s3cret@127.0.0.1:{}/repo.git", server.port), &[]), &[]);
    ok_json(&out, "credentials over plain http");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("s3cret"));

    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let err = err_line(&run_bin_in(&home, &fetch(&format!("https://user:s3cret@127.0.0.1:{closed}/r.git"), &[]), &[]), "unreachable");
    assert!(err.contains("cannot reach"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");

    let url = format!("{base}/repo.git");
    let err = err_line(&run_bin_in(&home, &fetch(&url, &["--ref", "no-such-branch"]), &[]), "ref");
    assert!(err.contains("ref 'refs/heads/no-such-branch' not found"), "{err}");

    let err = err_line(&run_bin_in(&home, &fetch(&url, &["--rev", &"0123456789".repeat(4)]), &[]), "rev");
    assert!(err.contains("--all-refs"), "{err}");

    for entry in walk(&home) {
        assert!(!entry.contains("s3cret"), "credential in a cache file name: {entry}");
    }
    // The cache is still usable after all these failures.
    ok_json(&run_bin_in(&home, &fetch(&url, &["--ref", "main"]), &[]), "fetch after errors");
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            out.push(e.path().display().to_string());
            if e.path().is_dir() {
                out.extend(walk(&e.path()));
            }
        }
    }
    out
}
