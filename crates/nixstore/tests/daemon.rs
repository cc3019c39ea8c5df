//! Adding to real Nix 2.8 stores through the worker protocol: throw-away stores through
//! `nix-daemon --stdio --store local?root=DIR`, a running `nix-daemon` on its own socket,
//! the default store, and the failure cases (wrong hash, failing producer, killed daemon,
//! unwritable store, full disk), checked with `nix-store`/`nix path-info` afterwards.
//!
//! Under `CI=true` these tests fail when Nix (or, for the last two, root) is missing.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nixstore::daemon::{ensure_ca_path, DaemonConnection, DaemonError, StoreUri};
use nixstore::hash::{sha256, NixHash};
use nixstore::nar::{dump_path, hash_path};
use nixstore::store_path::{build_ca_path, StorePath, StorePathName, DEFAULT_STORE_DIR};

// The one policy for a missing Nix or privilege, shared with the workspace's end-to-end tests.
#[path = "../../../tests/support/prerequisite.rs"]
#[allow(dead_code)]
mod prerequisite;
use prerequisite::{require_nix, require_privilege};

/// Run a program (arguments passed directly, never through a shell).
fn run(program: &str, args: &[&OsStr]) -> std::process::Output {
    Command::new(program).args(args).output().unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

/// Run and require success; stdout as a trimmed string.
fn run_ok(program: &str, args: &[&OsStr]) -> String {
    let out = run(program, args);
    assert!(out.status.success(), "{program} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 output").trim_end().to_owned()
}

/// A tree with a file, an executable, a symlink and a subdirectory, its contents unique to
/// `tag` so each test gets its own store path.
fn make_tree(root: &Path, tag: &str, big: usize) -> PathBuf {
    let src = root.join("source");
    fs::create_dir_all(src.join("sub/deeper")).expect("mkdir");
    fs::write(src.join("README"), format!("tree for {tag}\n")).expect("write");
    fs::write(src.join("sub/run.sh"), "#!/bin/sh\necho hi\n").expect("write");
    fs::set_permissions(src.join("sub/run.sh"), fs::Permissions::from_mode(0o755)).expect("chmod");
    fs::write(src.join("sub/deeper/empty"), "").expect("write");
    symlink("../README", src.join("sub/link")).expect("symlink");
    if big > 0 {
        let mut state = 0x2545_f491_u32;
        let data: Vec<u8> = (0..big)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect();
        fs::write(src.join("big.bin"), data).expect("write");
    }
    src
}

/// The NAR hash, size and `source` store path of a tree.
fn describe(src: &Path) -> (NixHash, u64, StorePath) {
    let (hash, size) = hash_path(src).expect("hash_path");
    let name = StorePathName::new("source").expect("valid name");
    (hash, size, build_ca_path(&name, &hash, DEFAULT_STORE_DIR))
}

fn local_store(root: &Path) -> String {
    format!("local?root={}", root.display())
}

/// `nix-store --store STORE --check-validity PATH` succeeds.
fn nix_says_valid(store: &str, path: &str) -> bool {
    run("nix-store", &["--store".as_ref(), store.as_ref(), "--check-validity".as_ref(), path.as_ref()]).status.success()
}

/// Everything Nix records about an added path matches what we sent.
fn assert_added(store: &str, root: &Path, src: &Path, hash: &NixHash, path: &StorePath) {
    let abs = path.to_absolute_path(DEFAULT_STORE_DIR);
    assert!(nix_says_valid(store, &abs), "{abs} is not valid in {store}");
    let printed = run_ok("nix-store", &["--store".as_ref(), store.as_ref(), "-q".as_ref(), "--hash".as_ref(), abs.as_ref()]);
    assert_eq!(printed, hash.to_typed_base32());
    let info = run_ok(
        "nix",
        &[
            "--extra-experimental-features".as_ref(),
            "nix-command".as_ref(),
            "path-info".as_ref(),
            "--store".as_ref(),
            store.as_ref(),
            "--json".as_ref(),
            abs.as_ref(),
        ],
    );
    let ca = format!("\"ca\":\"fixed:r:{}\"", hash.to_typed_base32());
    assert!(info.contains(&ca), "{ca} not in {info}");
    // The files in the store are the tree: their NAR is the tree's NAR.
    let real = root.join(abs.trim_start_matches('/'));
    let stored = run("nix-store", &["--dump".as_ref(), real.as_os_str()]);
    assert!(stored.status.success(), "nix-store --dump {real:?}");
    let mut ours = Vec::new();
    dump_path(src, &mut ours).expect("dump_path");
    assert!(stored.stdout == ours, "the files in {real:?} are not the tree");
}

fn nix_daemon_version() -> String {
    run_ok("nix-daemon", &["--version".as_ref()]).rsplit(' ').next().expect("a version word").to_owned()
}

#[test]
fn adds_to_throwaway_store_once() {
    if !require_nix("adds_to_throwaway_store_once") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("store");
    let src = make_tree(tmp.path(), "throwaway", 300 * 1024);
    let (hash, size, path) = describe(&src);
    let store = local_store(&root);
    let uri: StoreUri = store.parse().expect("store URI");

    let conn = DaemonConnection::connect(&uri).expect("connect");
    assert_eq!(conn.protocol_version(), (1, 34), "Nix 2.8 speaks 1.34");
    assert_eq!(conn.daemon_nix_version(), Some(nix_daemon_version().as_str()));
    assert_eq!(conn.trusted(), None, "1.34 has no trust field");
    drop(conn);

    let first = ensure_ca_path(&uri, &path, DEFAULT_STORE_DIR, &hash, size, &mut |w| dump_path(&src, w)).expect("first add");
    assert!(first.sent);
    assert_added(&store, &root, &src, &hash, &path);

    let mut called = false;
    let second = ensure_ca_path(&uri, &path, DEFAULT_STORE_DIR, &hash, size, &mut |w| {
        called = true;
        dump_path(&src, w)
    })
    .expect("second add");
    assert!(!second.sent, "a valid path is not sent again");
    assert!(!called, "the NAR producer is not called for a valid path");
}

/// The default store through `nix-daemon --stdio` (no daemon runs here), as fetchgit-date
/// uses it on a root single-user install. The path is deleted afterwards.
#[test]
fn adds_to_default_store_via_stdio() {
    if !require_nix("adds_to_default_store_via_stdio") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let unique = format!("default-store {:?} {}", tmp.path(), std::process::id());
    let src = make_tree(tmp.path(), &unique, 0);
    let (hash, size, path) = describe(&src);
    let abs = path.to_absolute_path(DEFAULT_STORE_DIR);
    let outcome = ensure_ca_path(&StoreUri::Auto, &path, DEFAULT_STORE_DIR, &hash, size, &mut |w| dump_path(&src, w)).expect("add to the default store");
    assert!(outcome.sent);
    let info = run_ok("nix", &["--extra-experimental-features".as_ref(), "nix-command".as_ref(), "path-info".as_ref(), "--json".as_ref(), abs.as_ref()]);
    let ok = nix_says_valid("auto", &abs) && info.contains(&format!("\"ca\":\"fixed:r:{}\"", hash.to_typed_base32()));
    let again = ensure_ca_path(&StoreUri::Auto, &path, DEFAULT_STORE_DIR, &hash, size, &mut |w| dump_path(&src, w)).expect("second add");
    let _ = run("nix-store", &["--delete".as_ref(), abs.as_ref()]);
    assert!(ok, "{abs} not valid with the right ca: {info}");
    assert!(!again.sent);
}

/// The validity `ensure_ca_path` reads from the default store's database (instead of starting
/// `nix-daemon --stdio`) agrees with Nix's: valid after adding, not valid after deleting, and
/// the second `ensure_ca_path` takes that answer without sending anything.
#[test]
fn default_store_database_validity_matches_nix() {
    const TEST: &str = "default_store_database_validity_matches_nix";
    if !require_nix(TEST) {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let unique = format!("database validity {:?} {}", tmp.path(), std::process::id());
    let src = make_tree(tmp.path(), &unique, 0);
    let (hash, size, path) = describe(&src);
    let abs = path.to_absolute_path(DEFAULT_STORE_DIR);
    let readable = match nixstore::local_store::default_store_has_valid(&abs) {
        Some(false) => Ok(()),
        Some(true) => panic!("{abs} is valid before it was added"),
        None => Err("the default store's database cannot be read (needs root and the default store)".to_owned()),
    };
    if !require_privilege(TEST, "reading the default store's database", readable) {
        return;
    }
    let add = |producer_called: &mut bool| {
        ensure_ca_path(&StoreUri::Auto, &path, DEFAULT_STORE_DIR, &hash, size, &mut |w| {
            *producer_called = true;
            dump_path(&src, w)
        })
        .expect("add to the default store")
    };
    let mut called = false;
    assert!(add(&mut called).sent);
    let after_add = nixstore::local_store::default_store_has_valid(&abs);
    let nix_after_add = nix_says_valid("auto", &abs);
    let mut called_again = false;
    let again = add(&mut called_again);
    let _ = run("nix-store", &["--delete".as_ref(), abs.as_ref()]);
    let after_delete = nixstore::local_store::default_store_has_valid(&abs);
    let nix_after_delete = nix_says_valid("auto", &abs);
    assert!(nix_after_add, "nix-store says {abs} is not valid after adding it");
    assert_eq!(after_add, Some(true), "the database does not show {abs} valid after adding it");
    assert!(!again.sent && !called_again, "a valid path is not sent again");
    assert!(!nix_after_delete, "nix-store --delete left {abs} valid");
    assert_eq!(after_delete, Some(false), "the database still shows {abs} valid after nix-store --delete");
}

/// A `nix-daemon` serving a throw-away store on its own socket; killed on drop.
struct RunningDaemon {
    child: Child,
    socket: PathBuf,
}

impl RunningDaemon {
    fn start(store: &str, socket: &Path) -> RunningDaemon {
        // Nix 2.8 takes the socket path from NIX_DAEMON_SOCKET_PATH (server and clients).
        let child = Command::new("nix-daemon")
            .args(["--store", store])
            .env("NIX_DAEMON_SOCKET_PATH", socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nix-daemon");
        let daemon = RunningDaemon { child, socket: socket.to_owned() };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(socket).is_err() {
            assert!(Instant::now() < deadline, "nix-daemon did not listen on {socket:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
        daemon
    }
}

impl Drop for RunningDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn adds_through_running_daemon_socket() {
    if !require_nix("adds_through_running_daemon_socket") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("store");
    let store = local_store(&root);
    // Create the store first: Nix 2.8 opens it in each connection's process, and two of
    // them creating a fresh store at once (the readiness probe and ours) can collide.
    drop(DaemonConnection::connect(&StoreUri::Local(store.clone())).expect("create the store"));
    let daemon = RunningDaemon::start(&store, &tmp.path().join("sock/socket"));
    let src = make_tree(tmp.path(), "socket", 200 * 1024);
    let (hash, size, path) = describe(&src);
    let uri: StoreUri = format!("unix://{}", daemon.socket.display()).parse().expect("unix URI");
    assert_eq!(uri, StoreUri::Socket(daemon.socket.clone()));

    let mut conn = DaemonConnection::connect(&uri).expect("connect to the socket");
    assert_eq!(conn.protocol_version(), (1, 34));
    let abs = path.to_absolute_path(DEFAULT_STORE_DIR);
    assert!(!conn.is_valid_path(&abs).expect("is_valid_path"));
    conn.add_ca_nar(&path, DEFAULT_STORE_DIR, &hash, size, &mut |w| dump_path(&src, w)).expect("add through the socket");
    assert!(conn.is_valid_path(&abs).expect("is_valid_path"));
    drop(conn);
    assert_added(&store, &root, &src, &hash, &path);
    let again = ensure_ca_path(&uri, &path, DEFAULT_STORE_DIR, &hash, size, &mut |w| dump_path(&src, w)).expect("second add");
    assert!(!again.sent);
}

/// A one-line message: no newline, no ANSI colour, no `error: ` prefix.
fn assert_one_line(message: &str) {
    assert!(!message.contains('\n'), "{message:?}");
    assert!(!message.contains('\u{1b}'), "{message:?}");
    assert!(!message.contains("error: "), "{message:?}");
}

#[test]
fn wrong_hash_is_rejected_and_leaves_nothing() {
    if !require_nix("wrong_hash_is_rejected_and_leaves_nothing") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("store");
    let store = local_store(&root);
    let uri = StoreUri::Local(store.clone());
    let src = make_tree(tmp.path(), "wrong-hash", 100 * 1024);
    let (hash, size, path) = describe(&src);
    let abs = path.to_absolute_path(DEFAULT_STORE_DIR);
    let wrong = sha256(b"not the NAR");

    let mut conn = DaemonConnection::connect(&uri).expect("connect");

    // Path and ca agree with the (wrong) hash, so the daemon accepts the request, restores
    // the NAR, re-hashes it and refuses it.
    let name = StorePathName::new("source").expect("valid name");
    let wrong_path = build_ca_path(&name, &wrong, DEFAULT_STORE_DIR);
    let wrong_abs = wrong_path.to_absolute_path(DEFAULT_STORE_DIR);
    let err =
        conn.add_ca_nar(&wrong_path, DEFAULT_STORE_DIR, &wrong, size, &mut |w| dump_path(&src, w)).expect_err("a NAR that does not match its hash is rejected");
    let DaemonError::Daemon { message, .. } = &err else {
        panic!("expected the daemon's refusal, got {err:?}");
    };
    assert!(message.contains("hash mismatch"), "{message}");
    assert!(message.contains(&hash.to_nix_base32()), "the hash it got: {message}");
    assert_one_line(&err.to_string());
    eprintln!("wrong hash: {err}");
    // The connection survives a refusal; the path is not valid.
    assert!(!conn.is_valid_path(&wrong_abs).expect("is_valid_path after refusal"));
    assert!(!nix_says_valid(&store, &wrong_abs));

    // The right path with a wrong hash: its ca does not match the path, so it is neither
    // content-addressed nor signed.
    let err =
        conn.add_ca_nar(&path, DEFAULT_STORE_DIR, &wrong, size, &mut |w| dump_path(&src, w)).expect_err("a hash that does not match the path is rejected");
    let DaemonError::Daemon { message, .. } = &err else {
        panic!("expected the daemon's refusal, got {err:?}");
    };
    assert!(message.contains("lacks a valid signature"), "{message}");
    assert_one_line(&err.to_string());
    assert!(!conn.is_valid_path(&abs).expect("is_valid_path after refusal"));
    assert!(!nix_says_valid(&store, &abs));

    conn.add_ca_nar(&path, DEFAULT_STORE_DIR, &hash, size, &mut |w| dump_path(&src, w)).expect("retry with the right hash");
    drop(conn);
    assert_added(&store, &root, &src, &hash, &path);
}

#[test]
fn failing_producer_aborts_and_leaves_nothing() {
    if !require_nix("failing_producer_aborts_and_leaves_nothing") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("store");
    let store = local_store(&root);
    let uri = StoreUri::Local(store.clone());
    let src = make_tree(tmp.path(), "producer", 2 << 20);
    let (hash, size, path) = describe(&src);
    let abs = path.to_absolute_path(DEFAULT_STORE_DIR);

    let mut nar = Vec::new();
    dump_path(&src, &mut nar).expect("dump_path");
    let mut conn = DaemonConnection::connect(&uri).expect("connect");
    let err = conn
        .add_ca_nar(&path, DEFAULT_STORE_DIR, &hash, size, &mut |w| {
            // Several frames, then a failure, as a disk read error would cause.
            w.write_all(&nar[..700 * 1024])?;
            w.flush()?;
            Err(io::Error::other("simulated read failure"))
        })
        .expect_err("the producer failed");
    eprintln!("producer: {err}");
    assert!(matches!(err, DaemonError::Producer { .. }), "{err:?}");
    assert!(err.to_string().contains("simulated read failure"), "{err}");
    assert_one_line(&err.to_string());
    assert!(matches!(conn.is_valid_path(&abs), Err(DaemonError::Broken { .. })), "an aborted connection is not reused");
    drop(conn);
    assert!(!nix_says_valid(&store, &abs), "aborted add left {abs} valid");

    let outcome = ensure_ca_path(&uri, &path, DEFAULT_STORE_DIR, &hash, size, &mut |w| w.write_all(&nar)).expect("retry");
    assert!(outcome.sent);
    assert_added(&store, &root, &src, &hash, &path);
}

#[test]
fn producer_writing_the_wrong_size_aborts() {
    if !require_nix("producer_writing_the_wrong_size_aborts") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = local_store(&tmp.path().join("store"));
    let uri = StoreUri::Local(store.clone());
    let src = make_tree(tmp.path(), "size", 0);
    let (hash, size, path) = describe(&src);
    let abs = path.to_absolute_path(DEFAULT_STORE_DIR);
    let mut nar = Vec::new();
    dump_path(&src, &mut nar).expect("dump_path");

    for (announced, expect_more) in [(size - 8, true), (size + 8, false)] {
        let mut conn = DaemonConnection::connect(&uri).expect("connect");
        let err = conn.add_ca_nar(&path, DEFAULT_STORE_DIR, &hash, announced, &mut |w| w.write_all(&nar)).expect_err("wrong size");
        assert!(matches!(err, DaemonError::SizeMismatch { more, .. } if more == expect_more), "{err:?}");
        drop(conn);
        assert!(!nix_says_valid(&store, &abs));
    }
}

/// The `nix-daemon` children this thread started (Rust spawns from the calling thread).
fn my_nix_daemons() -> Vec<String> {
    let children = fs::read_to_string("/proc/thread-self/children").unwrap_or_default();
    children
        .split_whitespace()
        .filter(|pid| fs::read(format!("/proc/{pid}/cmdline")).map(|c| String::from_utf8_lossy(&c).contains("nix-daemon")).unwrap_or(false))
        .map(str::to_owned)
        .collect()
}

#[test]
fn daemon_killed_mid_transfer() {
    if !require_nix("daemon_killed_mid_transfer") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("store");
    let store = local_store(&root);
    let uri = StoreUri::Local(store.clone());
    let src = make_tree(tmp.path(), "killed", 8 << 20);
    let (hash, size, path) = describe(&src);
    let abs = path.to_absolute_path(DEFAULT_STORE_DIR);

    let mut conn = DaemonConnection::connect(&uri).expect("connect");
    let daemons = my_nix_daemons();
    assert_eq!(daemons.len(), 1, "one nix-daemon child: {daemons:?}");
    let mut killed = false;
    let err = conn
        .add_ca_nar(&path, DEFAULT_STORE_DIR, &hash, size, &mut |w| {
            let mut nar = Vec::new();
            dump_path(&src, &mut nar)?;
            for (i, chunk) in nar.chunks(256 * 1024).enumerate() {
                if i == 4 && !killed {
                    killed = true;
                    run_ok("kill", &["-KILL".as_ref(), daemons[0].as_ref()]);
                }
                w.write_all(chunk)?;
            }
            Ok(())
        })
        .expect_err("the daemon died");
    assert!(killed);
    assert!(matches!(err, DaemonError::Connection { .. }), "{err:?}");
    let text = err.to_string();
    eprintln!("killed: {text}");
    assert!(text.contains("closed the connection"), "{text}");
    assert_one_line(&text);
    drop(conn);
    assert!(!nix_says_valid(&store, &abs));

    let outcome = ensure_ca_path(&uri, &path, DEFAULT_STORE_DIR, &hash, size, &mut |w| dump_path(&src, w)).expect("retry after the kill");
    assert!(outcome.sent);
    assert_added(&store, &root, &src, &hash, &path);
}

/// `chattr -i` on drop.
struct Immutable(PathBuf);

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = run("chattr", &["-i".as_ref(), self.0.as_os_str()]);
    }
}

fn status_result(program: &str, args: &[&OsStr]) -> Result<(), String> {
    match Command::new(program).args(args).output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(String::from_utf8_lossy(&out.stderr).trim().to_owned()),
        Err(e) => Err(format!("cannot run {program}: {e}")),
    }
}

/// Root bypasses permission bits, so the store directory is made immutable (`chattr +i`):
/// the daemon cannot create the path's lock file or directory.
#[test]
fn unwritable_store_gives_one_line_error() {
    if !require_nix("unwritable_store_gives_one_line_error") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("store");
    let store = local_store(&root);
    let uri = StoreUri::Local(store.clone());
    drop(DaemonConnection::connect(&uri).expect("create the store"));
    let store_dir = root.join("nix/store");
    let set = status_result("chattr", &["+i".as_ref(), store_dir.as_os_str()]);
    let guard = Immutable(store_dir.clone());
    if !require_privilege("unwritable_store_gives_one_line_error", "chattr +i", set) {
        return;
    }
    let src = make_tree(tmp.path(), "unwritable", 0);
    let (hash, size, path) = describe(&src);
    let err = ensure_ca_path(&uri, &path, DEFAULT_STORE_DIR, &hash, size, &mut |w| dump_path(&src, w)).expect_err("the store is unwritable");
    let text = err.to_string();
    eprintln!("unwritable: {text}");
    assert!(text.contains("Operation not permitted"), "{text}");
    assert!(text.contains(&path.to_string()), "{text}");
    assert_one_line(&text);
    drop(guard);
    assert!(!nix_says_valid(&store, &path.to_absolute_path(DEFAULT_STORE_DIR)));
}

/// `umount` on drop.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = run("umount", &[self.0.as_os_str()]);
    }
}

/// A store on a 1 MiB tmpfs: a 3 MiB NAR fills the disk.
#[test]
fn full_disk_gives_one_line_error() {
    if !require_nix("full_disk_gives_one_line_error") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("store");
    fs::create_dir(&root).expect("mkdir");
    let mounted = status_result("mount", &["-t".as_ref(), "tmpfs".as_ref(), "-o".as_ref(), "size=1m".as_ref(), "tmpfs".as_ref(), root.as_os_str()]);
    let guard = Mounted(root.clone());
    if !require_privilege("full_disk_gives_one_line_error", "mount -t tmpfs", mounted) {
        return;
    }
    let store = local_store(&root);
    let uri = StoreUri::Local(store.clone());
    let src = make_tree(tmp.path(), "full", 3 << 20);
    let (hash, size, path) = describe(&src);
    let err = ensure_ca_path(&uri, &path, DEFAULT_STORE_DIR, &hash, size, &mut |w| dump_path(&src, w)).expect_err("the disk is full");
    let text = err.to_string();
    eprintln!("full: {text}");
    assert!(text.contains("No space left on device"), "{text}");
    assert_one_line(&text);
    assert!(!nix_says_valid(&store, &path.to_absolute_path(DEFAULT_STORE_DIR)));
    drop(guard);
}
