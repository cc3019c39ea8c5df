//! Credentials: used as git uses them (also over plain http), never leaked into messages or
//! file names, never prompted for, and never a way to be answered from a cache that other
//! credentials filled. ssh runs in batch mode and its stderr ends up in our one-line error.
//! Loopback servers only: an HTTP server that demands basic authentication, `git upload-pack`
//! behind a fake ssh.

use std::process::Command;
use std::time::Duration;

use crate::support::*;

const USER: &str = "alyx";
const PASSWORD: &str = "Zq9w-s3cret";

fn fetch<'a>(url: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["fetch", "--no-store", "-q", "--compat", "legacy", "--url", url];
    args.extend_from_slice(extra);
    args
}

fn local(scratch: &Scratch) -> serde_json::Value {
    let path = scratch.repo().display().to_string();
    ok_json(&run_bin_in(&scratch.home(), &fetch(&path, &["--ref", "main"]), &[]), "local fetch")
}

fn assert_no_secret(text: &str, what: &str) {
    for secret in [PASSWORD, "Zq9w", "s3cret"] {
        assert!(!text.contains(secret), "{what}: a secret leaked: {text}");
    }
}

fn assert_cache_names_hold_no_secret(scratch: &Scratch) {
    for entry in walk(&scratch.home()) {
        assert_no_secret(&entry, "cache file name");
    }
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        out.push(entry.path().display().to_string());
        if entry.path().is_dir() {
            out.extend(walk(&entry.path()));
        }
    }
    out
}

/// Credentials in an http:// URL are sent as git (and Nix, which runs git) sends them; the
/// server's 401 comes first, then the authenticated request, as with git.
#[test]
fn credentials_in_the_url_authenticate_over_plain_http() {
    let scratch = Scratch::new();
    make_fixture(&scratch, 5);
    let server = http_server_with_auth(&scratch, &format!("{USER}:{PASSWORD}"));
    let url = format!("http://{USER}:{PASSWORD}@127.0.0.1:{}/repo.git", server.port);
    let out = run_bin_in(&scratch.home(), &fetch(&url, &["--ref", "main"]), &[]);
    assert_no_secret(&String::from_utf8_lossy(&out.stderr), "stderr");
    assert_eq!(ok_json(&out, "authenticated fetch"), local(&scratch));
    assert!(auth_requests(&server, "auth-ok") > 0, "the credentials were sent");
    assert_cache_names_hold_no_secret(&scratch);

    // A password with '/' must be percent-encoded, as for git and curl; the encoded form works.
    let encoded = http_server_with_auth(&scratch, "alyx:Zq9w/s3cret");
    let url = format!("http://alyx:Zq9w%2Fs3cret@127.0.0.1:{}/repo.git", encoded.port);
    assert_eq!(ok_json(&run_bin_in(&scratch.home(), &fetch(&url, &["--ref", "main"]), &[]), "encoded '/'"), local(&scratch));
}

/// The cache is keyed by URL and credentials, as Nix keys its cache: once one password has
/// fetched, a wrong or missing one is not answered from that cache, within the TTL, with
/// `--refresh`, after the TTL, or for a rev that is in it. The same URL within the TTL is
/// answered without the network, as Nix answers it.
#[test]
fn the_cache_never_answers_other_credentials() {
    let scratch = Scratch::new();
    make_fixture(&scratch, 5);
    let server = http_server_with_auth(&scratch, &format!("{USER}:{PASSWORD}"));
    let home = scratch.home();
    let good = format!("http://{USER}:{PASSWORD}@127.0.0.1:{}/repo.git", server.port);
    let first = ok_json(&run_bin_in(&home, &fetch(&good, &["--ref", "main"]), &[]), "first fetch");
    let rev = first["rev"].as_str().expect("rev").to_owned();

    let before = auth_requests(&server, "auth-ok");
    assert_eq!(ok_json(&run_bin_in(&home, &fetch(&good, &["--ref", "main"]), &[]), "within the TTL"), first);
    assert_eq!(auth_requests(&server, "auth-ok"), before, "the same URL within the TTL uses no network");

    let wrong = format!("http://{USER}:Zq9w-wrong@127.0.0.1:{}/repo.git", server.port);
    let nothing = format!("http://127.0.0.1:{}/repo.git", server.port);
    let user_only = format!("http://{USER}@127.0.0.1:{}/repo.git", server.port);
    for (url, what) in [(&wrong, "wrong password"), (&nothing, "no credentials"), (&user_only, "user name only")] {
        for extra in [&["--ref", "main"][..], &["--ref", "main", "--refresh"], &["--ref", "main", "--ttl", "0"], &["--rev", &rev]] {
            let out = run_bin_in(&home, &fetch(url, extra), &[]);
            let err = err_line(&out, what);
            assert!(err.contains("authentication failed for http://127.0.0.1:"), "{what} {extra:?}: {err}");
            assert_no_secret(&err, what);
            assert!(!err.contains("Zq9w-wrong") && !err.contains(USER), "{what}: {err}");
        }
    }
    assert!(auth_requests(&server, "auth-wrong") > 0 && auth_requests(&server, "auth-missing") > 0);
    // --refresh and an expired TTL authenticate again with the right credentials.
    let before = auth_requests(&server, "auth-ok");
    ok_json(&run_bin_in(&home, &fetch(&good, &["--ref", "main", "--refresh"]), &[]), "refresh");
    ok_json(&run_bin_in(&home, &fetch(&good, &["--ref", "main", "--ttl", "0"]), &[]), "ttl 0");
    assert!(auth_requests(&server, "auth-ok") >= before + 2, "each refetch authenticated");
    assert_cache_names_hold_no_secret(&scratch);
}

/// With no credentials in the URL, git's credential helpers are asked, as git asks them.
#[test]
fn git_credential_helpers_are_used() {
    let scratch = Scratch::new();
    make_fixture(&scratch, 3);
    let server = http_server_with_auth(&scratch, &format!("{USER}:{PASSWORD}"));
    let config = scratch.dir.path().join("gitconfig");
    let helper = format!("!f() {{ echo username={USER}; echo password={PASSWORD}; }}; f");
    git(scratch.dir.path(), &["config", "--file", config.to_str().expect("utf-8"), "credential.helper", &helper]);
    let url = format!("http://127.0.0.1:{}/repo.git", server.port);
    let out = run_bin_in(&scratch.home(), &fetch(&url, &["--ref", "main"]), &[("GIT_CONFIG_GLOBAL", config.to_str().expect("utf-8"))]);
    assert_eq!(ok_json(&out, "helper credentials"), local(&scratch));
}

/// Runs `program args` with a pseudo-terminal as its controlling terminal (so that /dev/tty
/// works), answering nothing; returns what it wrote on the terminal and its exit status, or
/// `None` for the status when it was still waiting (for an answer) after `limit`.
fn on_a_terminal(home: &std::path::Path, program: &str, args: &[&str], limit: Duration) -> (String, Option<i32>) {
    let script = r#"
import os, pty, select, sys, time, json
limit = float(sys.argv[1]); argv = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
out, deadline, status = b"", time.time() + limit, None
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.1)
    if r:
        try: data = os.read(fd, 4096)
        except OSError: data = b""
        out += data
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        status = os.waitstatus_to_exitcode(st); break
if status is None:
    os.kill(pid, 9); os.waitpid(pid, 0)
print(json.dumps({"out": out.decode("utf-8", "replace"), "status": status}))
"#;
    let mut cmd = Command::new("python3");
    isolate_in(&mut cmd, home).env_remove("GIT_ASKPASS").env_remove("SSH_ASKPASS").env_remove("GIT_TERMINAL_PROMPT");
    cmd.arg("-c").arg(script).arg(limit.as_secs_f64().to_string()).arg(program).args(args);
    let out = run_bounded(cmd, limit + Duration::from_secs(30));
    assert!(out.status.success(), "pty runner: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    (v["out"].as_str().expect("out").to_owned(), v["status"].as_i64().map(|s| s as i32))
}

/// A server that asks for credentials nobody gave: git itself prompts on the terminal (the
/// check that this test can see a prompt), we fail at once with a one-line error instead.
#[test]
fn nothing_prompts_on_the_terminal() {
    let scratch = Scratch::new();
    make_fixture(&scratch, 3);
    let server = http_server_with_auth(&scratch, &format!("{USER}:{PASSWORD}"));
    let url = format!("http://127.0.0.1:{}/repo.git", server.port);
    let (git_out, git_status) = on_a_terminal(&scratch.home(), "git", &["ls-remote", &url], Duration::from_secs(10));
    assert!(git_out.contains("Username for"), "git was expected to prompt on the terminal: {git_out:?} (exit {git_status:?})");

    let args = fetch(&url, &["--ref", "main"]);
    let (out, status) = on_a_terminal(&scratch.home(), BIN, &args, Duration::from_secs(60));
    assert_eq!(status, Some(2), "fetchgit-date must fail, not wait for an answer: {out:?}");
    assert!(!out.contains("Username") && !out.contains("Password"), "prompted: {out:?}");
    assert!(out.contains("authentication failed") && out.contains("never prompts"), "{out:?}");
    assert_eq!(out.trim().lines().count(), 1, "one line: {out:?}");
}

/// URLs that git, curl and humans would split differently are refused before anything runs,
/// without the secret; the secret is never searched for in (and so never cut out of) messages.
#[test]
fn ambiguous_urls_are_refused_without_their_secret() {
    let scratch = Scratch::new();
    for url in [
        "https://alyx:Zq9w/s3cret@127.0.0.1:1/repo.git",
        "https://alyx:Zq9w?s3cret@127.0.0.1:1/repo.git",
        "https://alyx:Zq9w#s3cret@127.0.0.1:1/repo.git",
        "https://alyx:Zq9w@s3cret@127.0.0.1:1/repo.git",
        "ssh://alyx:Zq9w-s3cret@127.0.0.1/repo.git",
        "git://alyx:Zq9w-s3cret@127.0.0.1/repo.git",
    ] {
        let err = err_line(&run_bin_in(&scratch.home(), &fetch(url, &[]), &[]), url);
        assert!(err.contains("refusing repository URL"), "{url}: {err}");
        assert_no_secret(&err, url);
        assert!(!err.contains("alyx"), "{url}: {err}");
    }
    assert!(!scratch.cache_git().exists(), "nothing was written to the cache");
    // A one-letter password: the message keeps every 'o' it had.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let err = err_line(&run_bin_in(&scratch.home(), &fetch(&format!("http://u:o@127.0.0.1:{closed}/repo.git"), &[]), &[]), "short secret");
    assert!(err.contains("cannot reach http://127.0.0.1:") && err.contains("Connection refused"), "{err}");
}

/// ssh runs in batch mode (OpenSSH never asks for a password, passphrase or host key), and what
/// the remote side prints (`fatal: ...`) is part of the one-line error, not extra lines.
#[test]
fn ssh_runs_in_batch_mode_and_its_errors_are_one_line() {
    let scratch = Scratch::new();
    make_fixture(&scratch, 3);
    let (ssh, log) = fake_openssh(&scratch);
    let url = format!("ssh://git@example.invalid{}", scratch.repo().display());
    let ours = ok_json(&run_bin_in(&scratch.home(), &fetch(&url, &["--ref", "main"]), &[("GIT_SSH_COMMAND", &ssh)]), "ssh fetch");
    assert_eq!(ours, local(&scratch));
    let calls = std::fs::read_to_string(&log).expect("ssh ran");
    assert!(calls.contains("'BatchMode=yes'") && calls.contains("'git@example.invalid'"), "{calls}");

    let missing = format!("ssh://git@example.invalid{}/missing.git", scratch.srv().display());
    let out = run_bin_in(&scratch.home(), &fetch(&missing, &["--ref", "main"]), &[("GIT_SSH_COMMAND", &ssh)]);
    let err = err_line(&out, "missing repository over ssh");
    assert!(err.contains("does not appear to be a git repository"), "the remote's fatal: line is in the error: {err}");
    assert!(err.contains("repository not found at ssh://example.invalid"), "{err}");
}
