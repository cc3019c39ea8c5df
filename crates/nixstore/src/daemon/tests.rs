//! The protocol against an in-process fake daemon on a socket pair: version negotiation for
//! 1.25, 1.34, 1.35, 1.38/1.39 and refusal of 1.21; log messages skipped; errors cleaned;
//! the NAR framing.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::thread;
use std::time::{Duration, Instant};

use super::wire::{self, clean_message, FrameWriter, FRAME_SIZE};
use super::*;
use crate::hash::sha256;
use crate::store_path::{build_ca_path, StorePathName, DEFAULT_STORE_DIR};

/// The daemon's side of the socket.
struct Fake(UnixStream);

impl Fake {
    fn w(&mut self, n: u64) {
        self.0.write_all(&n.to_le_bytes()).expect("fake write");
    }
    fn ws(&mut self, s: &str) {
        wire::write_str(&mut self.0, s.as_bytes()).expect("fake write");
    }
    fn r(&mut self) -> u64 {
        wire::read_u64(&mut self.0).expect("fake read")
    }
    fn rs(&mut self) -> String {
        wire::read_string(&mut self.0, "test").expect("fake read")
    }
    /// Greeting up to the client's version; returns it.
    fn greet(&mut self, version: u64) -> u64 {
        self.announce(version);
        self.r()
    }
    /// Our greeting and version, after the client's greeting.
    fn announce(&mut self, version: u64) {
        assert_eq!(self.r(), wire::WORKER_MAGIC_1);
        self.w(wire::WORKER_MAGIC_2);
        self.w(version);
    }
    /// A whole handshake as Nix 2.8's daemon (protocol 1.34) does it.
    fn hello_1_34(&mut self) {
        assert_eq!(self.greet(0x122), CLIENT_VERSION);
        self.obsolete();
        self.ws("2.8.0");
        self.w(wire::STDERR_LAST);
    }
    /// The obsolete CPU affinity and reserveSpace words.
    fn obsolete(&mut self) {
        assert_eq!(self.r(), 0, "CPU affinity");
        assert_eq!(self.r(), 0, "reserveSpace");
    }
    /// Every kind of log message, which the client must skip.
    fn chatter(&mut self) {
        self.w(wire::STDERR_NEXT);
        self.ws("a log line");
        self.w(wire::STDERR_START_ACTIVITY);
        self.w(7); // id
        self.w(3); // level
        self.w(100); // type
        self.ws("copying path");
        self.w(2); // fields
        self.w(0);
        self.w(42);
        self.w(1);
        self.ws("a string field");
        self.w(0); // parent
        self.w(wire::STDERR_RESULT);
        self.w(7);
        self.w(105);
        self.w(1);
        self.w(0);
        self.w(99);
        self.w(wire::STDERR_STOP_ACTIVITY);
        self.w(7);
    }
    fn structured_error(&mut self, message: &str, traces: &[&str]) {
        self.w(wire::STDERR_ERROR);
        self.ws("Error");
        self.w(0); // level
        self.ws("Error");
        self.ws(message);
        self.w(0); // no position
        self.w(traces.len() as u64);
        for trace in traces {
            self.w(0);
            self.ws(trace);
        }
    }
}

/// Run `daemon` on one end of a socket pair and connect to the other.
fn with_fake(daemon: impl FnOnce(&mut Fake) + Send + 'static) -> (Result<DaemonConnection, ConnectError>, thread::JoinHandle<()>) {
    let (ours, theirs) = UnixStream::pair().expect("socket pair");
    let handle = thread::spawn(move || daemon(&mut Fake(theirs)));
    (DaemonConnection::over_socket(PathBuf::from("fake"), ours, DEFAULT_TIMEOUT), handle)
}

fn test_path() -> (StorePath, NixHash) {
    let hash = sha256(b"fake nar");
    let name = StorePathName::new("source").expect("valid name");
    (build_ca_path(&name, &hash, DEFAULT_STORE_DIR), hash)
}

#[test]
fn protocol_1_34_is_valid_path_and_add() {
    let (path, hash) = test_path();
    let abs = path.to_absolute_path(DEFAULT_STORE_DIR);
    let nar: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let (expected_abs, expected_nar) = (abs.clone(), nar.clone());
    let (conn, daemon) = with_fake(move |d| {
        assert_eq!(d.greet(0x122), CLIENT_VERSION);
        d.obsolete();
        d.ws("2.8.0");
        d.chatter();
        d.w(wire::STDERR_LAST);

        assert_eq!(d.r(), OP_IS_VALID_PATH);
        assert_eq!(d.rs(), expected_abs);
        d.chatter();
        d.w(wire::STDERR_LAST);
        d.w(1);

        assert_eq!(d.r(), OP_ADD_TO_STORE_NAR);
        assert_eq!(d.rs(), expected_abs);
        assert_eq!(d.rs(), "", "deriver");
        assert_eq!(d.rs(), hash.to_hex());
        assert_eq!(d.r(), 0, "references");
        assert_eq!(d.r(), 0, "registration time");
        assert_eq!(d.r(), expected_nar.len() as u64);
        assert_eq!(d.r(), 0, "ultimate");
        assert_eq!(d.r(), 0, "signatures");
        assert_eq!(d.rs(), format!("fixed:r:sha256:{}", hash.to_nix_base32()));
        assert_eq!(d.r(), 0, "repair");
        assert_eq!(d.r(), 0, "dontCheckSigs");
        let mut received = Vec::new();
        let mut frames = 0;
        loop {
            let len = d.r();
            if len == 0 {
                break;
            }
            assert!(len as usize <= FRAME_SIZE, "frame of {len} bytes");
            let mut frame = vec![0u8; len as usize];
            d.0.read_exact(&mut frame).expect("frame");
            received.extend_from_slice(&frame);
            frames += 1;
        }
        assert_eq!(received, expected_nar);
        assert!(frames >= 4, "{frames} frames");
        d.chatter();
        d.structured_error(
            "\u{1b}[31;1merror:\u{1b}[0m hash mismatch importing path '\u{1b}[35;1m/nix/store/x\u{1b}[0m';\n  specified: sha256:aaa\n  got:       sha256:bbb\n",
            &["while adding \u{1b}[1mit\u{1b}[0m"],
        );

        assert_eq!(d.r(), OP_IS_VALID_PATH);
        assert_eq!(d.rs(), expected_abs);
        d.w(wire::STDERR_LAST);
        d.w(0);
    });
    let mut conn = conn.expect("handshake at 1.34");
    assert_eq!(conn.protocol_version(), (1, 34));
    assert_eq!(conn.daemon_protocol_version(), (1, 34));
    assert_eq!(conn.daemon_nix_version(), Some("2.8.0"));
    assert_eq!(conn.trusted(), None);
    assert!(conn.is_valid_path(&abs).expect("is_valid_path"));
    let err = conn
        .add_ca_nar(&path, DEFAULT_STORE_DIR, &hash, nar.len() as u64, &mut |w| {
            for chunk in nar.chunks(10_000) {
                w.write_all(chunk)?;
            }
            Ok(())
        })
        .expect_err("the fake refuses");
    match &err {
        DaemonError::Daemon { message, path: p, operation, .. } => {
            assert_eq!(message, "hash mismatch importing path '/nix/store/x'; specified: sha256:aaa; got: sha256:bbb; while adding it");
            assert_eq!(p, &abs);
            assert_eq!(*operation, "add");
        }
        other => panic!("expected the daemon's message, got {other:?}"),
    }
    assert!(!err.to_string().contains('\n'));
    assert!(!conn.is_valid_path(&abs).expect("usable after a refusal"));
    daemon.join().expect("fake daemon");
}

#[test]
fn protocol_1_35_reads_the_trust_field() {
    for (wire_value, trusted) in [(0, None), (1, Some(true)), (2, Some(false))] {
        let (conn, daemon) = with_fake(move |d| {
            assert_eq!(d.greet(0x123), CLIENT_VERSION);
            d.obsolete();
            d.ws("2.19.2");
            d.w(wire_value);
            d.chatter();
            d.w(wire::STDERR_LAST);
        });
        let conn = conn.expect("handshake at 1.35");
        assert_eq!(conn.protocol_version(), (1, 35));
        assert_eq!(conn.daemon_nix_version(), Some("2.19.2"));
        assert_eq!(conn.trusted(), trusted);
        daemon.join().expect("fake daemon");
    }
}

#[test]
fn bad_trust_value_is_a_protocol_error() {
    let (conn, daemon) = with_fake(|d| {
        d.greet(0x123);
        d.obsolete();
        d.ws("2.19.2");
        d.w(7);
    });
    let err = conn.expect_err("7 is no trust value");
    assert!(matches!(err, ConnectError::Handshake { source: ProtocolError::BadReply { value: 7, .. }, .. }), "{err:?}");
    daemon.join().expect("fake daemon");
}

#[test]
fn newer_daemon_negotiates_1_38_with_feature_exchange() {
    let (conn, daemon) = with_fake(|d| {
        assert_eq!(d.greet(0x127), CLIENT_VERSION);
        assert_eq!(d.r(), 0, "we offer no features");
        d.w(2);
        d.ws("hash-mismatch-status");
        d.ws("some-future-feature");
        d.obsolete();
        d.ws("2.33.0");
        d.w(1);
        d.w(wire::STDERR_LAST);
    });
    let conn = conn.expect("handshake with a 1.39 daemon");
    assert_eq!(conn.protocol_version(), (1, 38));
    assert_eq!(conn.daemon_protocol_version(), (1, 39));
    assert_eq!(conn.daemon_nix_version(), Some("2.33.0"));
    assert_eq!(conn.trusted(), Some(true));
    daemon.join().expect("fake daemon");
}

#[test]
fn protocol_1_25_has_no_version_and_plain_errors() {
    let (conn, daemon) = with_fake(|d| {
        assert_eq!(d.greet(0x119), CLIENT_VERSION);
        d.obsolete();
        d.w(wire::STDERR_LAST);
        assert_eq!(d.r(), OP_IS_VALID_PATH);
        d.rs();
        d.w(wire::STDERR_ERROR);
        d.ws("error: path '\u{1b}[1m/x\u{1b}[0m' is not in the Nix store\n");
        d.w(1);
    });
    let mut conn = conn.expect("handshake at 1.25");
    assert_eq!(conn.protocol_version(), (1, 25));
    assert_eq!(conn.daemon_nix_version(), None);
    let err = conn.is_valid_path("/x").expect_err("refused");
    assert!(matches!(&err, DaemonError::Daemon { message, .. } if message == "path '/x' is not in the Nix store"), "{err:?}");
    daemon.join().expect("fake daemon");
}

#[test]
fn refuses_daemon_older_than_1_23() {
    let (conn, daemon) = with_fake(|d| {
        d.announce(0x115);
    });
    let err = conn.expect_err("1.21 is too old");
    assert!(matches!(err, ConnectError::TooOld { daemon: (1, 21), minimum: (1, 23), .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("1.21") && text.contains("1.23"), "{text}");
    daemon.join().expect("fake daemon");
}

#[test]
fn refuses_a_peer_that_is_not_a_daemon() {
    let (conn, daemon) = with_fake(|d| {
        d.r();
        d.w(0x1234);
    });
    let err = conn.expect_err("bad greeting");
    assert!(matches!(err, ConnectError::Handshake { source: ProtocolError::BadMagic { found: 0x1234, .. }, .. }), "{err:?}");
    daemon.join().expect("fake daemon");
    let (conn, daemon) = with_fake(|d| {
        d.announce(0x222);
    });
    assert!(matches!(conn.expect_err("major 2"), ConnectError::Handshake { source: ProtocolError::UnsupportedMajor { version: 0x222 }, .. }));
    daemon.join().expect("fake daemon");
}

#[test]
fn error_at_handshake_is_a_refusal() {
    let (conn, daemon) = with_fake(|d| {
        d.greet(0x122);
        d.obsolete();
        d.ws("2.8.0");
        d.structured_error("cannot open connection: \u{1b}[1mPermission denied\u{1b}[0m", &[]);
    });
    let err = conn.expect_err("refused");
    assert!(matches!(&err, ConnectError::Refused { message, .. } if message == "cannot open connection: Permission denied"), "{err:?}");
    daemon.join().expect("fake daemon");
}

/// A daemon that answers with an error before reading the NAR and stops reading (newer
/// daemons may do this): the transfer stops and the daemon's message is returned.
#[test]
fn early_daemon_error_stops_the_transfer() {
    let (path, hash) = test_path();
    let (conn, daemon) = with_fake(|d| {
        d.greet(0x122);
        d.obsolete();
        d.ws("2.8.0");
        d.w(wire::STDERR_LAST);
        assert_eq!(d.r(), OP_ADD_TO_STORE_NAR);
        for _ in 0..3 {
            d.rs();
        }
        for _ in 0..5 {
            d.r(); // references, registration time, size, ultimate, signatures
        }
        d.rs();
        d.r();
        d.r();
        d.structured_error("cannot add path: disk on fire", &[]);
        // Stop reading and go away.
    });
    let mut conn = conn.expect("handshake");
    let size = 64 << 20;
    let err = conn
        .add_ca_nar(&path, DEFAULT_STORE_DIR, &hash, size, &mut |w| {
            let block = vec![0u8; 1 << 20];
            for _ in 0..64 {
                w.write_all(&block)?;
            }
            Ok(())
        })
        .expect_err("the daemon refused");
    assert!(matches!(&err, DaemonError::Daemon { message, .. } if message == "cannot add path: disk on fire"), "{err:?}");
    assert!(matches!(conn.is_valid_path("/nix/store/x"), Err(DaemonError::Broken { .. })));
    daemon.join().expect("fake daemon");
}

#[test]
fn frame_writer_frames_and_bounds() {
    let stop = AtomicBool::new(false);
    let mut out = Vec::new();
    let data: Vec<u8> = (0..(FRAME_SIZE * 2 + 5)).map(|i| i as u8).collect();
    let mut fw = FrameWriter::new(&mut out, data.len() as u64, &stop);
    fw.write_all(&data).expect("write");
    assert_eq!(fw.written(), data.len() as u64);
    assert!(fw.write_all(b"x").is_err(), "more than announced");
    fw.finish().expect("finish");
    let mut expected = Vec::new();
    for chunk in data.chunks(FRAME_SIZE) {
        expected.extend_from_slice(&(chunk.len() as u64).to_le_bytes());
        expected.extend_from_slice(chunk);
    }
    expected.extend_from_slice(&0u64.to_le_bytes());
    assert!(out == expected);

    // Dropped without finish: no end frame.
    let mut out = Vec::new();
    let mut fw = FrameWriter::new(&mut out, 10, &stop);
    fw.write_all(b"abc").expect("write");
    fw.flush().expect("flush");
    drop(fw);
    assert_eq!(out, [&3u64.to_le_bytes()[..], b"abc"].concat());
}

#[test]
fn clean_message_makes_one_line() {
    assert_eq!(
        clean_message("\u{1b}[31;1merror:\u{1b}[0m opening lock file '\u{1b}[35;1m/x.lock\u{1b}[0m': Operation not permitted\n"),
        "opening lock file '/x.lock': Operation not permitted"
    );
    assert_eq!(clean_message("a\n\n   b\r\nc;\nd"), "a; b; c; d");
    assert_eq!(clean_message("see \u{1b}]8;;https://nixos.org\u{7}docs\u{1b}]8;;\u{7} now"), "see docs now");
    assert_eq!(clean_message(""), "");
}

#[test]
fn store_uri_parsing() {
    assert_eq!("auto".parse(), Ok(StoreUri::Auto));
    assert_eq!("daemon".parse(), Ok(StoreUri::Socket(default_socket_path())));
    assert_eq!("unix://".parse(), Ok(StoreUri::Socket(default_socket_path())));
    assert_eq!("unix:///run/nix/sock".parse(), Ok(StoreUri::Socket(PathBuf::from("/run/nix/sock"))));
    assert_eq!("local?root=/tmp/s".parse(), Ok(StoreUri::Local("local?root=/tmp/s".to_owned())));
    assert_eq!("".parse::<StoreUri>(), Err(ParseStoreUriError::Empty));
    assert!(matches!("--option".parse::<StoreUri>(), Err(ParseStoreUriError::LooksLikeOption { .. })));
    assert!(matches!("a\0b".parse::<StoreUri>(), Err(ParseStoreUriError::Nul { .. })));
    assert!(matches!("unix://relative".parse::<StoreUri>(), Err(ParseStoreUriError::RelativeSocket { .. })));
    for uri in ["auto", "unix:///run/nix/sock", "local?root=/tmp/s"] {
        assert_eq!(uri.parse::<StoreUri>().expect(uri).to_string(), uri);
    }
}

/// How long the timeout tests let a wait run before it must have failed.
const SHORT: Duration = Duration::from_millis(300);

fn assert_prompt(started: Instant, what: &str) {
    assert!(started.elapsed() < Duration::from_secs(10), "{what}: waited {:?}", started.elapsed());
}

/// A daemon socket that accepts and never answers: the handshake times out, with a one-line
/// error that names the socket and the timeout.
#[test]
fn a_daemon_that_accepts_and_never_answers_times_out_in_the_handshake() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("socket");
    let listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
    let holder = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        thread::sleep(Duration::from_secs(3));
        drop(stream);
    });
    let started = Instant::now();
    let err = DaemonConnection::connect_with_timeout(&StoreUri::Socket(socket.clone()), SHORT).expect_err("no answer");
    assert_prompt(started, "handshake");
    assert!(matches!(err, ConnectError::Handshake { source: ProtocolError::TimedOut { .. }, .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&socket.display().to_string()) && text.contains("did not answer within"), "{text}");
    assert!(!text.contains('\n'), "{text}");
    holder.join().expect("holder");
}

/// A socket whose listener never accepts (its backlog is full): connecting times out.
#[test]
fn a_socket_that_never_accepts_times_out_on_connect() {
    use rustix::net::{AddressFamily, SocketAddrUnix, SocketType};
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("socket");
    let listener = rustix::net::socket(AddressFamily::UNIX, SocketType::STREAM, None).expect("socket");
    rustix::net::bind(&listener, &SocketAddrUnix::new(&socket).expect("address")).expect("bind");
    rustix::net::listen(&listener, 0).expect("listen");
    let started = Instant::now();
    let mut pending = Vec::new();
    let err = loop {
        match connect_unix(&socket, SHORT) {
            Ok(stream) => pending.push(stream),
            Err(err) => break err,
        }
        assert!(pending.len() < 64, "the backlog never filled");
    };
    assert_prompt(started, "connect");
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
    let err = DaemonConnection::connect_with_timeout(&StoreUri::Socket(socket.clone()), SHORT).expect_err("still full");
    assert!(matches!(err, ConnectError::Socket { .. }) && err.to_string().contains("did not accept"), "{err}");
}

/// A daemon that goes silent after the handshake: the reply wait times out, and the
/// connection is unusable afterwards.
#[test]
fn a_daemon_that_stops_answering_times_out_per_operation() {
    let (path, _) = test_path();
    let abs = path.to_absolute_path(DEFAULT_STORE_DIR);
    let (ours, theirs) = UnixStream::pair().expect("socket pair");
    let daemon = thread::spawn(move || {
        let mut d = Fake(theirs);
        d.hello_1_34();
        assert_eq!(d.r(), OP_IS_VALID_PATH);
        let _ = d.rs();
        thread::sleep(Duration::from_secs(2));
    });
    let mut conn = DaemonConnection::over_socket(PathBuf::from("fake"), ours, SHORT).expect("handshake");
    let started = Instant::now();
    let err = conn.is_valid_path(&abs).expect_err("no reply");
    assert_prompt(started, "reply");
    match &err {
        DaemonError::Connection { source, .. } => assert!(matches!(**source, ProtocolError::TimedOut { .. }), "{source:?}"),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("check the validity of") && err.to_string().contains("did not answer"), "{err}");
    assert!(matches!(conn.is_valid_path(&abs), Err(DaemonError::Broken { .. })));
    daemon.join().expect("fake daemon");
}

/// A daemon that stops reading the NAR: the writes time out instead of blocking forever.
#[test]
fn a_daemon_that_stops_reading_the_nar_times_out() {
    let (path, hash) = test_path();
    let nar_size = 64u64 << 20;
    let (ours, theirs) = UnixStream::pair().expect("socket pair");
    let daemon = thread::spawn(move || {
        let mut d = Fake(theirs);
        d.hello_1_34();
        assert_eq!(d.r(), OP_ADD_TO_STORE_NAR);
        thread::sleep(Duration::from_secs(3));
    });
    let mut conn = DaemonConnection::over_socket(PathBuf::from("fake"), ours, SHORT).expect("handshake");
    let started = Instant::now();
    let chunk = vec![0u8; 1 << 20];
    let err = conn
        .add_ca_nar(&path, DEFAULT_STORE_DIR, &hash, nar_size, &mut |w| {
            for _ in 0..64 {
                w.write_all(&chunk)?;
            }
            Ok(())
        })
        .expect_err("the daemon never reads");
    assert_prompt(started, "NAR transfer");
    assert!(err.to_string().contains("did not answer"), "{err}");
    daemon.join().expect("fake daemon");
}

/// Silence from the daemon while we are still producing the NAR is expected, however long the
/// producer takes: the timeout bounds waits on the daemon only.
#[test]
fn a_slow_nar_producer_is_not_a_daemon_timeout() {
    let (path, hash) = test_path();
    let nar: Vec<u8> = vec![7u8; 3 * FRAME_SIZE];
    let expected = nar.clone();
    let (ours, theirs) = UnixStream::pair().expect("socket pair");
    let daemon = thread::spawn(move || {
        let mut d = Fake(theirs);
        d.hello_1_34();
        assert_eq!(d.r(), OP_ADD_TO_STORE_NAR);
        let _ = (d.rs(), d.rs(), d.rs()); // path, deriver, narHash
        let _ = (d.r(), d.r(), d.r(), d.r(), d.r()); // references, time, size, ultimate, signatures
        let _ = d.rs(); // ca
        let _ = (d.r(), d.r()); // repair, dontCheckSigs
        let mut received = Vec::new();
        loop {
            let len = d.r();
            if len == 0 {
                break;
            }
            let mut frame = vec![0u8; len as usize];
            d.0.read_exact(&mut frame).expect("frame");
            received.extend_from_slice(&frame);
        }
        assert_eq!(received, expected);
        d.w(wire::STDERR_LAST);
    });
    let mut conn = DaemonConnection::over_socket(PathBuf::from("fake"), ours, SHORT).expect("handshake");
    conn.add_ca_nar(&path, DEFAULT_STORE_DIR, &hash, nar.len() as u64, &mut |w| {
        for frame in nar.chunks(FRAME_SIZE) {
            thread::sleep(SHORT * 3);
            w.write_all(frame)?;
        }
        Ok(())
    })
    .expect("a slow producer is fine");
    daemon.join().expect("fake daemon");
}
