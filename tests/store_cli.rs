//! `fetchgit-date fetch` without `--no-store`, end to end: the path is valid afterwards and
//! registered with our narHash as content-addressed, a second run sends nothing (our own stderr
//! line says when a NAR is sent), both through `nix-daemon --stdio` and through a running
//! daemon on its own socket. The protocol's fault cases are covered in crates/nixstore/tests.

mod support;

use std::path::Path;
use std::process::Command;

use nixstore::hash::NixHash;
use support::*;

fn nix_store(store: &str, args: &[&str]) -> String {
    run_ok(Command::new("nix-store").arg("--store").arg(store).args(args))
}

/// Fetches `rev` of the `files` fixture into `store`; returns (attributes, stderr).
fn fetch_into(store: &str, rev: &str, extra_env: &[(&str, &Path)]) -> (serde_json::Value, String) {
    let repo = fixtures().repo("files");
    let mut cmd = bin();
    for (key, value) in extra_env {
        cmd.env(key, value);
    }
    let out = cmd.args(["fetch", "--store", store, "--url", repo.to_str().expect("UTF-8"), "--rev", rev]).output().expect("run fetchgit-date");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "fetch into {store} failed: {stderr}");
    (serde_json::from_slice(&out.stdout).expect("JSON on stdout"), stderr)
}

fn assert_registered(store: &str, attrs: &serde_json::Value) {
    let path = attrs["outPath"].as_str().expect("outPath");
    nix_store(store, &["--check-validity", path]);
    let registered = nix_store(store, &["-q", "--hash", path]);
    let ours = NixHash::parse(attrs["narHash"].as_str().expect("narHash")).expect("our narHash parses");
    assert_eq!(registered.trim(), ours.to_typed_base32(), "narHash registered for {path}");
}

#[test]
fn fetch_adds_through_nix_daemon_stdio_and_sends_once() {
    if !require_nix("fetch_adds_through_nix_daemon_stdio_and_sends_once") {
        return;
    }
    let root = fixtures().scratch("store-stdio");
    let store = format!("local?root={}", root.display());
    let rev = git(&fixtures().repo("files"), &["rev-parse", "main"]);
    let (attrs, stderr) = fetch_into(&store, rev.trim(), &[]);
    assert!(stderr.contains(&format!("added {}", attrs["outPath"].as_str().expect("outPath"))), "first run: {stderr}");
    assert_registered(&store, &attrs);
    // The files are the tree: the store copy hashes to our narHash.
    let on_disk = root.join(attrs["outPath"].as_str().expect("outPath").trim_start_matches('/'));
    let (hash, _) = nixstore::nar::hash_path(&on_disk).expect("hash the store copy");
    assert_eq!(hash.to_sri(), attrs["narHash"]);
    let (again, stderr) = fetch_into(&store, rev.trim(), &[]);
    assert_eq!(again, attrs);
    assert!(!stderr.contains("added"), "second run sent the NAR again: {stderr}");
}

#[test]
fn fetch_adds_through_a_running_daemon() {
    if !require_nix("fetch_adds_through_a_running_daemon") {
        return;
    }
    let dir = fixtures().scratch("store-daemon");
    let store = format!("local?root={}", dir.join("root").display());
    // Create the store before the daemon serves it (Nix 2.8 sets it up per connection).
    nix_store(&store, &["--init"]);
    let socket = dir.join("socket");
    let _daemon = NixDaemon::start(&store, &socket, &[]);
    let uri = format!("unix://{}", socket.display());
    let rev = git(&fixtures().repo("files"), &["rev-parse", "main~1"]);
    let (attrs, stderr) = fetch_into(&uri, rev.trim(), &[]);
    assert!(stderr.contains("added"), "first run through the socket: {stderr}");
    assert_registered(&store, &attrs);
    // `auto` finds the daemon through NIX_DAEMON_SOCKET_PATH and sends nothing the second time.
    let (again, stderr) = fetch_into("auto", rev.trim(), &[("NIX_DAEMON_SOCKET_PATH", &socket)]);
    assert_eq!(again, attrs);
    assert!(!stderr.contains("added"), "second run through auto sent the NAR again: {stderr}");
}

#[test]
fn store_errors_are_one_line() {
    if !require_nix("store_errors_are_one_line") {
        return;
    }
    let repo = fixtures().repo("files");
    let out = run_bin(&["fetch", "--store", "unix:///nonexistent/socket", "--url", repo.to_str().expect("UTF-8")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.trim_end().lines().count() == 1 && stderr.contains("/nonexistent/socket"), "{stderr}");
    assert!(out.stdout.is_empty());
}
