//! No operation blocks forever: a server that accepts a connection and never answers (git://,
//! http, an ssh that never speaks), a Nix daemon socket that accepts and never answers, and a
//! `nix-daemon --stdio` that never answers all end with a one-line error naming what timed out,
//! soon after `--timeout`. Loopback listeners started here.

mod support;

use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::*;

/// Accepts connections on `accept` and holds them, silent, until the returned sender is dropped.
fn hold_connections<S: Send + 'static>(accept: impl Fn() -> Option<S> + Send + 'static) -> mpsc::Sender<()> {
    let (tx, rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        while let Some(stream) = accept() {
            held.push(stream);
            if rx.try_recv().is_err_and(|e| e == mpsc::TryRecvError::Disconnected) {
                break;
            }
        }
    });
    tx
}

fn silent_tcp() -> (u16, mpsc::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    (port, hold_connections(move || listener.accept().ok().map(|(s, _)| s)))
}

/// Runs the binary, which must fail within `limit` with one line containing every `needle`.
fn assert_times_out(home: &std::path::Path, args: &[&str], envs: &[(&str, &str)], needles: &[&str]) {
    let started = Instant::now();
    let out = run_bin_in(home, args, envs);
    let elapsed = started.elapsed();
    let err = err_line(&out, &format!("{args:?}"));
    for needle in needles {
        assert!(err.contains(needle), "{args:?}: expected {needle:?} in: {err}");
    }
    assert!(elapsed < Duration::from_secs(30), "{args:?} took {elapsed:?}");
}

#[test]
fn a_git_daemon_that_never_answers_times_out() {
    let scratch = Scratch::new();
    let (port, _hold) = silent_tcp();
    let url = format!("git://127.0.0.1:{port}/repo.git");
    assert_times_out(
        &scratch.home(),
        &["fetch", "--no-store", "-q", "--timeout", "1", "--url", &url],
        &[],
        &["timed out after 1 s waiting for data from", &url, "--timeout"],
    );
}

#[test]
fn an_http_server_that_never_answers_times_out() {
    let scratch = Scratch::new();
    let (port, _hold) = silent_tcp();
    let url = format!("http://127.0.0.1:{port}/repo.git");
    assert_times_out(
        &scratch.home(),
        &["fetch", "--no-store", "-q", "--timeout", "1", "--url", &url],
        &[],
        &["timed out after 1 s waiting for an answer from", &url],
    );
}

/// An ssh that never says anything (a server that accepts and hangs, a stuck proxy): the wait
/// times out and the ssh process is killed, not left behind.
#[test]
fn an_ssh_that_never_answers_times_out_and_is_killed() {
    let scratch = Scratch::new();
    let dir = scratch.dir.path().join("openssh");
    std::fs::create_dir_all(&dir).expect("dir");
    let ssh = dir.join("ssh");
    let pid_file = scratch.dir.path().join("ssh.pid");
    std::fs::write(&ssh, format!("#!/bin/sh\necho $$ > '{}'\nexec sleep 120\n", pid_file.display())).expect("write");
    std::fs::set_permissions(&ssh, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let ssh = ssh.display().to_string();
    assert_times_out(
        &scratch.home(),
        &["fetch", "--no-store", "-q", "--timeout", "1", "--url", "ssh://git@example.invalid/srv/repo.git"],
        &[("GIT_SSH_COMMAND", &ssh)],
        &["timed out after 1 s waiting for data from ssh://example.invalid/srv/repo.git"],
    );
    let pid = std::fs::read_to_string(&pid_file).expect("ssh ran").trim().to_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if state.contains(") Z ") {
            break;
        }
        assert!(Instant::now() < deadline, "the ssh process {pid} was left running");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The Nix daemon socket accepts and never answers (the example of issue 11).
#[test]
fn a_daemon_socket_that_never_answers_times_out() {
    let scratch = Scratch::new();
    make_fixture(&scratch, 2);
    let socket = scratch.dir.path().join("daemon.sock");
    let listener = UnixListener::bind(&socket).expect("bind");
    let _hold = hold_connections(move || listener.accept().ok().map(|(s, _)| s));
    let store = format!("unix://{}", socket.display());
    let repo = scratch.repo().display().to_string();
    assert_times_out(
        &scratch.home(),
        &["fetch", "-q", "--timeout", "1", "--store", &store, "--url", &repo],
        &[],
        &["Nix daemon", &socket.display().to_string(), "did not answer within 1 s"],
    );
}

/// `nix-daemon --stdio` that never answers (a stuck store, a wrapper waiting for input): the
/// handshake times out and the child is killed.
#[test]
fn a_nix_daemon_child_that_never_answers_times_out() {
    let scratch = Scratch::new();
    make_fixture(&scratch, 2);
    let bin = scratch.dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("dir");
    let fake = bin.join("nix-daemon");
    std::fs::write(&fake, "#!/bin/sh\nexec sleep 120\n").expect("write");
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let store = format!("local?root={}", scratch.dir.path().join("store").display());
    let repo = scratch.repo().display().to_string();
    assert_times_out(
        &scratch.home(),
        &["fetch", "-q", "--timeout", "1", "--store", &store, "--url", &repo],
        &[("PATH", &path)],
        &["nix-daemon --stdio --store", "did not answer within 1 s"],
    );
}

#[test]
fn the_timeout_must_be_positive() {
    let scratch = Scratch::new();
    let err = err_line(&run_bin_in(&scratch.home(), &["fetch", "--no-store", "--timeout", "0", "--url", "."], &[]), "timeout 0");
    assert!(err.contains("--timeout"), "{err}");
}
