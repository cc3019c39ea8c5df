//! Adding content-addressed paths to a Nix store through the daemon's worker protocol.
//!
//! [`DaemonConnection::connect`] reaches the store named by a [`StoreUri`]: a daemon socket,
//! or a `nix-daemon --stdio` child (how a root single-user install without a running daemon,
//! such as Debian's `nix-bin`, is reached, and how tests get a throw-away store with
//! `local?root=DIR`). No shell is involved: the store URI is passed as one argument.
//!
//! Protocol versions 1.23 (the first with framed AddToStoreNar) up to 1.38 are spoken; Nix
//! 2.8 speaks 1.34, Nix 2.15–2.19 1.35, Nix 2.20–2.22 1.37, current Nix 1.38 and later (a
//! newer daemon falls back to our 1.38). [`DaemonConnection::add_ca_nar`] streams the NAR
//! in frames of 64 KiB, so memory is bounded whatever its size; the daemon re-hashes it and
//! registers the path only when it matches, so a failed or aborted transfer registers
//! nothing.
//!
//! Every wait on the daemon is bounded by a timeout ([`DEFAULT_TIMEOUT`], or the one given to
//! [`DaemonConnection::connect_with_timeout`] and [`ensure_ca_path_with_timeout`]): connecting to
//! its socket (a daemon that does not accept), the handshake, every reply, and every write of
//! the NAR (a daemon that stops reading). While the NAR is being sent the daemon has nothing to
//! say, so silence is expected from it then; the bound on each write covers that phase. A wait
//! that runs out fails with an error naming the daemon, the operation and the timeout.
//!
//! ```no_run
//! use nixstore::daemon::{ensure_ca_path, StoreUri};
//! use nixstore::nar::{dump_path, hash_path};
//! use nixstore::store_path::{build_ca_path, StorePathName, DEFAULT_STORE_DIR};
//! let dir = std::path::Path::new("/tmp/source");
//! let (nar_hash, nar_size) = hash_path(dir)?;
//! let name = StorePathName::new("source")?;
//! let path = build_ca_path(&name, &nar_hash, DEFAULT_STORE_DIR);
//! let outcome = ensure_ca_path(&StoreUri::Auto, &path, DEFAULT_STORE_DIR, &nar_hash, nar_size,
//!     &mut |w| dump_path(dir, w))?;
//! println!("{} (NAR sent: {})", path.to_absolute_path(DEFAULT_STORE_DIR), outcome.sent);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::Shutdown;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::hash::NixHash;
use crate::store_path::StorePath;

mod wire;
use wire::{read_string, read_u64, write_str, write_u64, FrameError, FrameWriter};

/// Highest protocol version we speak (1.38 added the feature exchange).
const CLIENT_VERSION: u64 = 1 << 8 | 38;
/// Lowest daemon version we accept: AddToStoreNar sends the NAR in frames since 1.23.
const MINIMUM_MINOR: u8 = 23;

const OP_IS_VALID_PATH: u64 = 1;
const OP_ADD_TO_STORE_NAR: u64 = 39;

/// The program started when no daemon socket answers.
const NIX_DAEMON: &str = "nix-daemon";

/// Most bytes of a `nix-daemon --stdio` child's stderr kept for error messages.
const MAX_CHILD_STDERR: usize = 16 * 1024;

/// The longest wait for the daemon by default: Nix's `stalled-download-timeout` (300 s). A
/// daemon may be slow to answer (it waits for the store's locks, e.g. during garbage
/// collection), so this is generous; it only has to end waits that would never end.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// How long a `nix-daemon --stdio` child may take to exit after its stdin is closed before it
/// is killed.
const CHILD_EXIT_GRACE: Duration = Duration::from_secs(5);

/// Which store to add to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreUri {
    /// The daemon socket ([`default_socket_path`]) if a daemon answers there, else a
    /// `nix-daemon --stdio` child using Nix's default store. Parsed from `auto`.
    Auto,
    /// The daemon listening on this socket. Parsed from `daemon` ([`default_socket_path`]),
    /// `unix://` (the same) or `unix:///abs/path`.
    Socket(PathBuf),
    /// A `nix-daemon --stdio --store <this>` child, e.g. `local?root=/tmp/store` for a
    /// throw-away store. Parsed from anything else.
    Local(String),
}

/// Why a string is not a [`StoreUri`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseStoreUriError {
    /// Empty.
    #[error("empty store URI; use `auto`, `daemon`, `unix:///path/to/socket` or a Nix store URI such as `local?root=/tmp/store`")]
    Empty,
    /// Starts with `-`, so it would read as an option of `nix-daemon`.
    #[error("store URI {uri:?} starts with `-`; it looks like an option, not a store")]
    LooksLikeOption {
        /// The input.
        uri: String,
    },
    /// Contains NUL, which cannot be passed as an argument.
    #[error("store URI {uri:?} contains a NUL character")]
    Nul {
        /// The input.
        uri: String,
    },
    /// `unix://` followed by a relative path.
    #[error("store URI {uri:?}: the socket path after `unix://` must be absolute (`unix:///path/to/socket`)")]
    RelativeSocket {
        /// The input.
        uri: String,
    },
}

/// The daemon socket Nix clients use: `$NIX_DAEMON_SOCKET_PATH`, else
/// `/nix/var/nix/daemon-socket/socket`.
///
/// ### Deviation
/// Nix derives the default from `NIX_STATE_DIR` too; we do not.
pub fn default_socket_path() -> PathBuf {
    std::env::var_os("NIX_DAEMON_SOCKET_PATH")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/nix/var/nix/daemon-socket/socket"))
}

impl std::str::FromStr for StoreUri {
    type Err = ParseStoreUriError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(ParseStoreUriError::Empty);
        }
        if s.contains('\0') {
            return Err(ParseStoreUriError::Nul { uri: s.to_owned() });
        }
        if s.starts_with('-') {
            return Err(ParseStoreUriError::LooksLikeOption { uri: s.to_owned() });
        }
        match s {
            "auto" => return Ok(StoreUri::Auto),
            "daemon" | "unix://" => return Ok(StoreUri::Socket(default_socket_path())),
            _ => {}
        }
        if let Some(path) = s.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(ParseStoreUriError::RelativeSocket { uri: s.to_owned() });
            }
            return Ok(StoreUri::Socket(PathBuf::from(path)));
        }
        Ok(StoreUri::Local(s.to_owned()))
    }
}

impl fmt::Display for StoreUri {
    /// The form [`FromStr`](std::str::FromStr) parses back (`auto`, `unix:///path`, the URI).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUri::Auto => f.write_str("auto"),
            StoreUri::Socket(path) => write!(f, "unix://{}", path.display()),
            StoreUri::Local(uri) => f.write_str(uri),
        }
    }
}

/// A violation of the worker protocol, or the connection ending.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// The daemon closed the connection (it exited, was killed, or refused us).
    #[error("the daemon closed the connection (it exited or was killed)")]
    Closed,
    /// Reading from or writing to the daemon failed.
    #[error("I/O error talking to the daemon: {0}")]
    Io(#[source] io::Error),
    /// The peer's greeting is not the daemon's.
    #[error("the peer is not a Nix daemon: it greeted with {found:#x} instead of {expected:#x}")]
    BadMagic {
        /// The daemon greeting (`0x6478696f`).
        expected: u64,
        /// What arrived.
        found: u64,
    },
    /// A major protocol version other than 1.
    #[error("the daemon speaks protocol version {version:#x}, whose major version is not 1")]
    UnsupportedMajor {
        /// The daemon's version word.
        version: u64,
    },
    /// A log message type Nix does not define.
    #[error("unknown log message type {code:#x} from the daemon")]
    UnknownMessage {
        /// The message type.
        code: u64,
    },
    /// `STDERR_READ`/`STDERR_WRITE`, which no operation we use asks for.
    #[error("the daemon sent log message {code:#x}, which asks for a data channel this operation does not have")]
    UnexpectedMessage {
        /// The message type.
        code: u64,
    },
    /// A log field of a type Nix does not define.
    #[error("unknown log field type {field_type} from the daemon")]
    UnknownFieldType {
        /// The field type.
        field_type: u64,
    },
    /// A string or list longer than any Nix sends.
    #[error("the daemon sent a {what} of {len} (more than {max}); the stream is corrupt")]
    TooLong {
        /// What was being read.
        what: &'static str,
        /// The announced length.
        len: u64,
        /// Our limit.
        max: u64,
    },
    /// A malformed `STDERR_ERROR`.
    #[error("malformed error message from the daemon: {reason}")]
    BadError {
        /// What is wrong.
        reason: String,
    },
    /// A reply value outside its domain.
    #[error("the daemon answered {value} for {what}")]
    BadReply {
        /// What was being read.
        what: &'static str,
        /// The value.
        value: u64,
    },
    /// The daemon did not answer, or did not read what we sent, within the timeout.
    #[error("the daemon did not answer within {} s (check that it is not stuck, e.g. waiting for a lock, or raise the timeout)", .after.as_secs())]
    TimedOut {
        /// The timeout.
        after: Duration,
    },
}

/// The payload of the I/O error a timed-out wait returns.
#[derive(Debug, thiserror::Error)]
#[error("no answer within {} s", .0.as_secs())]
struct NoAnswer(Duration);

fn no_answer(after: Duration) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, NoAnswer(after))
}

impl ProtocolError {
    fn from_io(e: io::Error) -> ProtocolError {
        if let Some(NoAnswer(after)) = e.get_ref().and_then(|inner| inner.downcast_ref::<NoAnswer>()) {
            return ProtocolError::TimedOut { after: *after };
        }
        match e.kind() {
            io::ErrorKind::UnexpectedEof | io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => ProtocolError::Closed,
            _ => ProtocolError::Io(e),
        }
    }
}

/// `; nix-daemon said: ...` when a child daemon wrote something to stderr.
fn said(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!("; nix-daemon said: {stderr}")
    }
}

/// Why [`DaemonConnection::connect`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The socket does not accept connections.
    #[error("cannot connect to the Nix daemon socket {path:?}: {source}; start nix-daemon or choose another store (e.g. `auto`)")]
    Socket {
        /// The socket path.
        path: PathBuf,
        /// What `connect` said.
        source: io::Error,
    },
    /// `nix-daemon` could not be started.
    #[error("cannot run `{command}`: {source}; install Nix so that `nix-daemon` is on PATH (e.g. `apt-get install nix-bin`)")]
    Spawn {
        /// The command line (for the message; no shell is used).
        command: String,
        /// What `spawn` said.
        source: io::Error,
    },
    /// The greeting exchange failed.
    #[error("handshake with the Nix daemon ({via}) failed: {source}{}", said(.daemon_stderr))]
    Handshake {
        /// The socket or command line.
        via: String,
        /// What went wrong.
        source: ProtocolError,
        /// The child daemon's stderr, cleaned to one line (empty for a socket).
        daemon_stderr: String,
    },
    /// The daemon's protocol is older than framed AddToStoreNar.
    #[error("the Nix daemon ({via}) speaks worker protocol {}.{} but at least {}.{} is needed (Nix 2.4 or later); upgrade Nix", .daemon.0, .daemon.1, .minimum.0, .minimum.1)]
    TooOld {
        /// The socket or command line.
        via: String,
        /// The daemon's protocol version (major, minor).
        daemon: (u8, u8),
        /// The lowest version we speak.
        minimum: (u8, u8),
    },
    /// The daemon sent an error at the end of the handshake (e.g. the store cannot be opened).
    #[error("the Nix daemon ({via}) refused the connection: {message}")]
    Refused {
        /// The socket or command line.
        via: String,
        /// The daemon's message, one line.
        message: String,
    },
}

/// Why an operation on a [`DaemonConnection`] failed.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The daemon reported an error (hash mismatch, permission, disk full, ...). The
    /// connection stays usable unless the error came during a transfer.
    #[error("the Nix daemon ({via}) could not {operation} {path}: {message}")]
    Daemon {
        /// The socket or command line.
        via: String,
        /// What we asked (`add`, `check the validity of`).
        operation: &'static str,
        /// The absolute store path.
        path: String,
        /// The daemon's message: one line, without colours and the `error: ` prefix.
        message: String,
    },
    /// The connection failed; it is unusable now.
    #[error("lost the connection to the Nix daemon ({via}) while trying to {operation} {path}: {source}{}", said(.daemon_stderr))]
    Connection {
        /// The socket or command line.
        via: String,
        /// What we asked.
        operation: &'static str,
        /// The absolute store path.
        path: String,
        /// What went wrong (boxed to keep the error small).
        source: Box<ProtocolError>,
        /// The child daemon's stderr, cleaned to one line (empty for a socket).
        daemon_stderr: String,
    },
    /// The NAR producer failed; the transfer was aborted by closing the connection.
    #[error("writing the NAR of {path} failed, so the transfer was aborted and nothing was added: {source}")]
    Producer {
        /// The absolute store path.
        path: String,
        /// The producer's error.
        source: io::Error,
    },
    /// The producer wrote a different number of bytes than announced; the transfer was
    /// aborted by closing the connection.
    #[error("the NAR of {path} was announced as {announced} bytes but the producer wrote {}{actual}; the transfer was aborted and nothing was added", if *.more { "more than " } else { "" })]
    SizeMismatch {
        /// The absolute store path.
        path: String,
        /// `nar_size`.
        announced: u64,
        /// Bytes written (a lower bound when `more`).
        actual: u64,
        /// The producer tried to write past `announced`.
        more: bool,
    },
    /// An earlier failure left the connection unusable.
    #[error("the connection to the Nix daemon ({via}) is unusable after an earlier failure; connect again")]
    Broken {
        /// The socket or command line.
        via: String,
    },
}

/// How the connection reaches the daemon.
enum Peer {
    /// A daemon socket; the stream is kept to shut it down on abort.
    Socket { path: PathBuf, stream: UnixStream },
    /// A `nix-daemon --stdio` child whose stdin and stdout are the other end of `stream`
    /// (a socket, not pipes, so a dead daemon is an error on write, never SIGPIPE).
    Child { stream: UnixStream, command: String, child: Child, stderr: Option<JoinHandle<Vec<u8>>> },
}

impl Peer {
    fn stream(&self) -> &UnixStream {
        match self {
            Peer::Socket { stream, .. } | Peer::Child { stream, .. } => stream,
        }
    }

    fn describe(&self) -> String {
        match self {
            Peer::Socket { path, .. } => format!("socket {}", path.display()),
            Peer::Child { command, .. } => format!("`{command}`"),
        }
    }
}

/// One direction of the connection to the daemon: the socket with `SO_RCVTIMEO` and
/// `SO_SNDTIMEO` set to the timeout, whose expiry becomes a [`ProtocolError::TimedOut`] —
/// except for reads while `quiet` is set (we are sending the NAR; the daemon has nothing to
/// say until it has all of it), which keep waiting.
struct Timed {
    stream: UnixStream,
    timeout: Duration,
    quiet: Arc<AtomicBool>,
}

impl Timed {
    fn new(stream: &UnixStream, timeout: Duration, quiet: &Arc<AtomicBool>) -> io::Result<Timed> {
        let stream = stream.try_clone()?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(Timed { stream, timeout, quiet: Arc::clone(quiet) })
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

impl Read for Timed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.stream.read(buf) {
                Err(e) if is_timeout(&e) && self.quiet.load(Ordering::SeqCst) => continue,
                Err(e) if is_timeout(&e) => return Err(no_answer(self.timeout)),
                other => return other,
            }
        }
    }
}

impl Write for Timed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf).map_err(|e| if is_timeout(&e) { no_answer(self.timeout) } else { e })
    }
    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// Connects to the Unix socket at `path`, waiting at most `timeout` for the daemon to accept
/// (a connect blocks while the listener's backlog is full, e.g. when nothing accepts).
fn connect_unix(path: &Path, timeout: Duration) -> io::Result<UnixStream> {
    use rustix::net::{sockopt, AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
    let fd = rustix::net::socket_with(AddressFamily::UNIX, SocketType::STREAM, SocketFlags::CLOEXEC, None)?;
    sockopt::set_socket_timeout(&fd, sockopt::Timeout::Send, Some(timeout))?;
    match rustix::net::connect(&fd, &SocketAddrUnix::new(path)?) {
        Ok(()) => {}
        // Linux bounds a Unix socket's connect by the send timeout and then says EAGAIN.
        Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INPROGRESS) => {
            return Err(io::Error::new(io::ErrorKind::TimedOut, format!("the daemon did not accept the connection within {} s", timeout.as_secs())))
        }
        Err(err) => return Err(err.into()),
    }
    sockopt::set_socket_timeout(&fd, sockopt::Timeout::Send, None)?;
    Ok(UnixStream::from(fd))
}

/// An open connection to a Nix daemon, after the handshake.
pub struct DaemonConnection {
    reader: BufReader<Box<dyn Read + Send>>,
    /// `None` once the connection was closed after a failure.
    writer: Option<BufWriter<Box<dyn Write + Send>>>,
    peer: Peer,
    via: String,
    daemon_version: u64,
    minor: u8,
    nix_version: Option<String>,
    trusted: Option<bool>,
    /// Set while the NAR is sent (see [`Timed`]).
    quiet: Arc<AtomicBool>,
}

impl fmt::Debug for DaemonConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DaemonConnection")
            .field("via", &self.via)
            .field("protocol", &self.protocol_version())
            .field("nix_version", &self.nix_version)
            .finish_non_exhaustive()
    }
}

/// What the handshake learnt.
struct Hello {
    daemon_version: u64,
    minor: u8,
    nix_version: Option<String>,
    trusted: Option<bool>,
}

enum HandshakeError {
    Protocol(ProtocolError),
    TooOld(u64),
    Refused(String),
}

impl From<ProtocolError> for HandshakeError {
    fn from(e: ProtocolError) -> Self {
        HandshakeError::Protocol(e)
    }
}

fn io_to_handshake(e: io::Error) -> HandshakeError {
    HandshakeError::Protocol(ProtocolError::from_io(e))
}

fn handshake(r: &mut dyn Read, w: &mut dyn Write) -> Result<Hello, HandshakeError> {
    write_u64(w, wire::WORKER_MAGIC_1).map_err(io_to_handshake)?;
    w.flush().map_err(io_to_handshake)?;
    let magic = read_u64(r)?;
    if magic != wire::WORKER_MAGIC_2 {
        return Err(ProtocolError::BadMagic { expected: wire::WORKER_MAGIC_2, found: magic }.into());
    }
    let daemon_version = read_u64(r)?;
    if daemon_version >> 8 != 1 {
        return Err(ProtocolError::UnsupportedMajor { version: daemon_version }.into());
    }
    let daemon_minor = (daemon_version & 0xff) as u8;
    if daemon_minor < MINIMUM_MINOR {
        return Err(HandshakeError::TooOld(daemon_version));
    }
    let minor = daemon_minor.min((CLIENT_VERSION & 0xff) as u8);
    write_u64(w, CLIENT_VERSION).map_err(io_to_handshake)?;
    if minor >= 38 {
        // Feature exchange: we want none; the daemon's list is read and ignored.
        write_u64(w, 0).map_err(io_to_handshake)?;
        w.flush().map_err(io_to_handshake)?;
        let count = read_u64(r)?;
        if count > 1024 {
            return Err(ProtocolError::TooLong { what: "feature list", len: count, max: 1024 }.into());
        }
        for _ in 0..count {
            read_string(r, "feature name")?;
        }
    }
    write_u64(w, 0).map_err(io_to_handshake)?; // obsolete CPU affinity (>= 1.14)
    write_u64(w, 0).map_err(io_to_handshake)?; // obsolete reserveSpace (>= 1.11)
    w.flush().map_err(io_to_handshake)?;
    let nix_version = if minor >= 33 { Some(read_string(r, "Nix version")?) } else { None };
    let trusted = if minor >= 35 {
        match read_u64(r)? {
            0 => None,
            1 => Some(true),
            2 => Some(false),
            value => return Err(ProtocolError::BadReply { what: "the trust flag", value }.into()),
        }
    } else {
        None
    };
    if let Some(message) = wire::process_stderr(r, minor)? {
        return Err(HandshakeError::Refused(message));
    }
    Ok(Hello { daemon_version, minor, nix_version, trusted })
}

impl DaemonConnection {
    /// Connect to the store `uri` names and complete the handshake, waiting at most
    /// [`DEFAULT_TIMEOUT`] for each answer.
    pub fn connect(uri: &StoreUri) -> Result<Self, ConnectError> {
        Self::connect_with_timeout(uri, DEFAULT_TIMEOUT)
    }

    /// Like [`DaemonConnection::connect`], with every later wait on the daemon bounded by
    /// `timeout` too.
    pub fn connect_with_timeout(uri: &StoreUri, timeout: Duration) -> Result<Self, ConnectError> {
        match uri {
            StoreUri::Socket(path) => Self::connect_socket(path, timeout),
            StoreUri::Auto => {
                let path = default_socket_path();
                match connect_unix(&path, timeout) {
                    Ok(stream) => Self::over_socket(path, stream, timeout),
                    Err(_) => Self::spawn(None, timeout),
                }
            }
            StoreUri::Local(store) => Self::spawn(Some(store), timeout),
        }
    }

    fn connect_socket(path: &Path, timeout: Duration) -> Result<Self, ConnectError> {
        let stream = connect_unix(path, timeout).map_err(|source| ConnectError::Socket { path: path.to_owned(), source })?;
        Self::over_socket(path.to_owned(), stream, timeout)
    }

    /// Handshake over an already connected socket (`path` only names it in messages).
    pub(crate) fn over_socket(path: PathBuf, stream: UnixStream, timeout: Duration) -> Result<Self, ConnectError> {
        let quiet = Arc::new(AtomicBool::new(false));
        let timed = |s: &UnixStream| Timed::new(s, timeout, &quiet).map_err(|source| ConnectError::Socket { path: path.clone(), source });
        let reader: Box<dyn Read + Send> = Box::new(timed(&stream)?);
        let writer: Box<dyn Write + Send> = Box::new(timed(&stream)?);
        Self::finish_connect(reader, writer, Peer::Socket { path, stream }, quiet)
    }

    fn spawn(store: Option<&str>, timeout: Duration) -> Result<Self, ConnectError> {
        let mut args = vec!["--stdio".to_owned()];
        if let Some(store) = store {
            args.extend(["--store".to_owned(), store.to_owned()]);
        }
        let command = std::iter::once(NIX_DAEMON.to_owned()).chain(args.iter().cloned()).collect::<Vec<_>>().join(" ");
        let spawn_error = |source| ConnectError::Spawn { command: command.clone(), source };
        let (ours, theirs) = UnixStream::pair().map_err(spawn_error)?;
        let theirs_out = theirs.try_clone().map_err(spawn_error)?;
        let quiet = Arc::new(AtomicBool::new(false));
        let reader = Timed::new(&ours, timeout, &quiet).map_err(spawn_error)?;
        let writer = Timed::new(&ours, timeout, &quiet).map_err(spawn_error)?;
        // The Command (holding the child's ends) is dropped at the end of this statement, so
        // the daemon closing its end is seen as the end of the stream.
        let mut child = Command::new(NIX_DAEMON)
            .args(&args)
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::from(OwnedFd::from(theirs_out)))
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_error)?;
        let mut stderr = child.stderr.take().expect("stderr was piped");
        // Drain stderr all along so the daemon never blocks on it; keep the start.
        let stderr = thread::spawn(move || {
            let mut kept = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let room = MAX_CHILD_STDERR.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
            kept
        });
        Self::finish_connect(Box::new(reader), Box::new(writer), Peer::Child { stream: ours, command, child, stderr: Some(stderr) }, quiet)
    }

    fn finish_connect(reader: Box<dyn Read + Send>, writer: Box<dyn Write + Send>, peer: Peer, quiet: Arc<AtomicBool>) -> Result<Self, ConnectError> {
        let mut conn = DaemonConnection {
            reader: BufReader::with_capacity(64 * 1024, reader),
            writer: Some(BufWriter::with_capacity(64 * 1024, writer)),
            via: peer.describe(),
            peer,
            daemon_version: 0,
            minor: 0,
            nix_version: None,
            trusted: None,
            quiet,
        };
        let writer = conn.writer.as_mut().expect("just set");
        match handshake(&mut conn.reader, writer) {
            Ok(hello) => {
                conn.daemon_version = hello.daemon_version;
                conn.minor = hello.minor;
                conn.nix_version = hello.nix_version;
                conn.trusted = hello.trusted;
                Ok(conn)
            }
            Err(HandshakeError::TooOld(version)) => {
                Err(ConnectError::TooOld { via: conn.via.clone(), daemon: ((version >> 8) as u8, (version & 0xff) as u8), minimum: (1, MINIMUM_MINOR) })
            }
            Err(HandshakeError::Refused(message)) => Err(ConnectError::Refused { via: conn.via.clone(), message }),
            Err(HandshakeError::Protocol(source)) => Err(ConnectError::Handshake { via: conn.via.clone(), source, daemon_stderr: conn.close() }),
        }
    }

    /// The negotiated protocol version (major, minor): the lower of the daemon's and ours.
    pub fn protocol_version(&self) -> (u8, u8) {
        (1, self.minor)
    }

    /// The protocol version the daemon announced (major, minor), before negotiation.
    pub fn daemon_protocol_version(&self) -> (u8, u8) {
        ((self.daemon_version >> 8) as u8, (self.daemon_version & 0xff) as u8)
    }

    /// The daemon's Nix version (e.g. `2.8.0`), sent since protocol 1.33.
    pub fn daemon_nix_version(&self) -> Option<&str> {
        self.nix_version.as_deref()
    }

    /// Whether the daemon trusts us (protocol >= 1.35; `None` when it does not say).
    pub fn trusted(&self) -> Option<bool> {
        self.trusted
    }

    /// Whether `path` (absolute, e.g. `/nix/store/...-source`) is a valid path in the store.
    pub fn is_valid_path(&mut self, path: &str) -> Result<bool, DaemonError> {
        const OPERATION: &str = "check the validity of";
        let Some(writer) = self.writer.as_mut() else {
            return Err(DaemonError::Broken { via: self.via.clone() });
        };
        let sent = (|| {
            write_u64(writer, OP_IS_VALID_PATH)?;
            write_str(writer, path.as_bytes())?;
            writer.flush()
        })();
        if let Err(e) = sent {
            return Err(self.connection_error(OPERATION, path, ProtocolError::from_io(e)));
        }
        let answer = wire::process_stderr(&mut self.reader, self.minor).and_then(|error| match error {
            Some(message) => Ok(Err(message)),
            None => read_u64(&mut self.reader).map(Ok),
        });
        match answer {
            Ok(Ok(0)) => Ok(false),
            Ok(Ok(1)) => Ok(true),
            Ok(Ok(value)) => Err(self.connection_error(OPERATION, path, ProtocolError::BadReply { what: "IsValidPath", value })),
            Ok(Err(message)) => Err(DaemonError::Daemon { via: self.via.clone(), operation: OPERATION, path: path.to_owned(), message }),
            Err(source) => Err(self.connection_error(OPERATION, path, source)),
        }
    }

    /// Adds a NAR as a content-addressed (`fixed:r:sha256`) path without references.
    /// `write_nar` streams the NAR (exactly `nar_size` bytes) into the writer it is given,
    /// which sends it in 64 KiB frames while the daemon's log is read on another thread.
    ///
    /// The daemon re-hashes the NAR and registers the path only if `nar_hash` matches it and
    /// the path matches the hash. If `write_nar` fails, or writes a different number of
    /// bytes, the end frame is not sent: the connection is closed, so the daemon aborts and
    /// registers nothing, and the connection is unusable afterwards.
    pub fn add_ca_nar(
        &mut self,
        path: &StorePath,
        store_dir: &str,
        nar_hash: &NixHash,
        nar_size: u64,
        write_nar: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    ) -> Result<(), DaemonError> {
        const OPERATION: &str = "add";
        let abs = path.to_absolute_path(store_dir);
        let Some(mut writer) = self.writer.take() else {
            return Err(DaemonError::Broken { via: self.via.clone() });
        };
        let ca = format!("fixed:r:{}", nar_hash.to_typed_base32());
        let header = (|| {
            write_u64(&mut writer, OP_ADD_TO_STORE_NAR)?;
            write_str(&mut writer, abs.as_bytes())?;
            write_str(&mut writer, b"")?; // deriver
            write_str(&mut writer, nar_hash.to_hex().as_bytes())?;
            write_u64(&mut writer, 0)?; // references
            write_u64(&mut writer, 0)?; // registration time (the daemon uses now)
            write_u64(&mut writer, nar_size)?;
            write_u64(&mut writer, 0)?; // ultimate
            write_u64(&mut writer, 0)?; // signatures
            write_str(&mut writer, ca.as_bytes())?;
            write_u64(&mut writer, 0)?; // repair
            write_u64(&mut writer, 0)?; // dontCheckSigs
            writer.flush()
        })();
        if let Err(e) = header {
            self.writer = Some(writer);
            return Err(self.connection_error(OPERATION, &abs, ProtocolError::from_io(e)));
        }

        let stop = AtomicBool::new(false);
        let minor = self.minor;
        let reader = &mut self.reader;
        let peer = &self.peer;
        let quiet = &self.quiet;
        let (sent, reply, writer) = thread::scope(|scope| {
            let log = scope.spawn(|| {
                let reply = wire::process_stderr(reader, minor);
                stop.store(true, Ordering::SeqCst);
                reply
            });
            quiet.store(true, Ordering::SeqCst);
            let sent = send_frames(&mut writer, nar_size, &stop, write_nar);
            quiet.store(false, Ordering::SeqCst);
            let writer = if sent.is_ok() {
                Some(writer)
            } else {
                // No end frame: close our side so the daemon sees the stream break off and
                // aborts, and so the log thread sees the end. Buffered bytes are discarded.
                drop(writer.into_parts());
                let _ = peer.stream().shutdown(Shutdown::Both);
                None
            };
            let reply = log.join().expect("the log reader does not panic");
            (sent, reply, writer)
        });
        self.writer = writer;

        match (sent, reply) {
            (Ok(()), Ok(None)) => Ok(()),
            (Ok(()), Ok(Some(message))) => Err(DaemonError::Daemon { via: self.via.clone(), operation: OPERATION, path: abs, message }),
            (Ok(()), Err(source)) => Err(self.connection_error(OPERATION, &abs, source)),
            (Err(failure), reply) => {
                let daemon_stderr = self.close();
                match (failure, reply) {
                    (SendFailure::Producer(source), _) => Err(DaemonError::Producer { path: abs, source }),
                    (SendFailure::Size { actual, more }, _) => Err(DaemonError::SizeMismatch { path: abs, announced: nar_size, actual, more }),
                    (SendFailure::Daemon(_), Ok(Some(message))) => Err(DaemonError::Daemon { via: self.via.clone(), operation: OPERATION, path: abs, message }),
                    (SendFailure::Daemon(e), Ok(None)) => Err(DaemonError::Connection {
                        via: self.via.clone(),
                        operation: OPERATION,
                        path: abs,
                        source: Box::new(ProtocolError::from_io(e)),
                        daemon_stderr,
                    }),
                    // A write that timed out says more than the end of stream it caused.
                    (SendFailure::Daemon(e), Err(source)) => Err(DaemonError::Connection {
                        via: self.via.clone(),
                        operation: OPERATION,
                        path: abs,
                        source: Box::new(match ProtocolError::from_io(e) {
                            timed_out @ ProtocolError::TimedOut { .. } => timed_out,
                            _ => source,
                        }),
                        daemon_stderr,
                    }),
                }
            }
        }
    }

    /// Mark the connection unusable and build the error, with a child daemon's stderr.
    fn connection_error(&mut self, operation: &'static str, path: &str, source: ProtocolError) -> DaemonError {
        let daemon_stderr = self.close();
        DaemonError::Connection { via: self.via.clone(), operation, path: path.to_owned(), source: Box::new(source), daemon_stderr }
    }

    /// Close the connection (idempotent). For a child daemon: end its input, give it time
    /// to exit, kill it if it does not, and return its stderr cleaned to one line.
    fn close(&mut self) -> String {
        if let Some(writer) = self.writer.take() {
            drop(writer.into_parts());
        }
        let _ = self.peer.stream().shutdown(Shutdown::Both);
        match &mut self.peer {
            Peer::Socket { .. } => String::new(),
            Peer::Child { child, stderr, .. } => {
                let deadline = Instant::now() + CHILD_EXIT_GRACE;
                loop {
                    match child.try_wait() {
                        Ok(Some(_)) => break,
                        Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                        _ => {
                            let _ = child.kill();
                            let _ = child.wait();
                            break;
                        }
                    }
                }
                let text = stderr.take().and_then(|h| h.join().ok()).unwrap_or_default();
                wire::clean_message(&String::from_utf8_lossy(&text))
            }
        }
    }
}

impl Drop for DaemonConnection {
    fn drop(&mut self) {
        self.close();
    }
}

/// How sending the NAR ended, when it did not end well.
enum SendFailure {
    /// `write_nar` failed on its own.
    Producer(io::Error),
    /// `write_nar` wrote more or fewer bytes than announced.
    Size { actual: u64, more: bool },
    /// Sending to the daemon failed, or the daemon answered before the end of the NAR.
    Daemon(io::Error),
}

fn send_frames<W: Write>(
    writer: &mut W,
    nar_size: u64,
    stop: &AtomicBool,
    write_nar: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
) -> Result<(), SendFailure> {
    let mut frames = FrameWriter::new(writer, nar_size, stop);
    if let Err(e) = write_nar(&mut frames) {
        if frames.daemon_failed() {
            return Err(SendFailure::Daemon(e));
        }
        if let Some(FrameError::TooLong { .. }) = e.get_ref().and_then(|inner| inner.downcast_ref::<FrameError>()) {
            return Err(SendFailure::Size { actual: frames.written(), more: true });
        }
        return Err(SendFailure::Producer(e));
    }
    if frames.written() != nar_size {
        return Err(SendFailure::Size { actual: frames.written(), more: false });
    }
    frames.finish().map_err(SendFailure::Daemon)
}

/// What [`ensure_ca_path`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddOutcome {
    /// Whether the NAR had to be sent (false: the path was already valid).
    pub sent: bool,
}

/// Why [`ensure_ca_path`] failed.
#[derive(Debug, thiserror::Error)]
pub enum EnsureError {
    /// Reaching the daemon failed.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// Checking or adding the path failed.
    #[error(transparent)]
    Daemon(#[from] DaemonError),
}

/// Ensure `path` is valid in the store `uri` names: if it is not, add the NAR that
/// `write_nar` streams as a content-addressed path (see [`DaemonConnection::add_ca_nar`]).
/// Returns whether the NAR had to be sent. Every wait on the daemon is bounded by
/// [`DEFAULT_TIMEOUT`].
pub fn ensure_ca_path(
    uri: &StoreUri,
    path: &StorePath,
    store_dir: &str,
    nar_hash: &NixHash,
    nar_size: u64,
    write_nar: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
) -> Result<AddOutcome, EnsureError> {
    ensure_ca_path_with_timeout(uri, DEFAULT_TIMEOUT, path, store_dir, nar_hash, nar_size, write_nar)
}

/// [`ensure_ca_path`] with every wait on the daemon bounded by `timeout`.
pub fn ensure_ca_path_with_timeout(
    uri: &StoreUri,
    timeout: Duration,
    path: &StorePath,
    store_dir: &str,
    nar_hash: &NixHash,
    nar_size: u64,
    write_nar: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
) -> Result<AddOutcome, EnsureError> {
    let absolute = path.to_absolute_path(store_dir);
    let mut conn = match uri {
        StoreUri::Auto => {
            let socket = default_socket_path();
            match connect_unix(&socket, timeout) {
                Ok(stream) => DaemonConnection::over_socket(socket, stream, timeout)?,
                Err(_) => {
                    // About to start `nix-daemon --stdio` on the default store just to hear
                    // "valid": read it from the store's database when that is safe.
                    if crate::local_store::default_store_has_valid(&absolute) == Some(true) {
                        return Ok(AddOutcome { sent: false });
                    }
                    DaemonConnection::spawn(None, timeout)?
                }
            }
        }
        _ => DaemonConnection::connect_with_timeout(uri, timeout)?,
    };
    if conn.is_valid_path(&absolute)? {
        return Ok(AddOutcome { sent: false });
    }
    conn.add_ca_nar(path, store_dir, nar_hash, nar_size, write_nar)?;
    Ok(AddOutcome { sent: true })
}

#[cfg(test)]
mod tests;
