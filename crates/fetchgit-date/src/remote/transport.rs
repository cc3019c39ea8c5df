//! Connections to remote repositories in which no wait is unbounded and nothing reads the
//! terminal.
//!
//! gix's own `git://` and ssh transports wait forever for a server that accepts a connection and
//! never answers, and its ssh transport copies ssh's stderr to ours line by line. So:
//! - **http(s)**: gix's reqwest transport, with reqwest's timeout set to ours; reqwest applies it
//!   to connecting, to sending each request until its response starts, and to every read of a
//!   response body ([`http_options`]).
//! - **`git://`**: a TCP connection made here (name resolution and connecting are bounded too),
//!   with socket read and write timeouts, speaking gix's daemon protocol.
//! - **ssh**: the ssh program run here as gix runs it (program and variant from
//!   `GIT_SSH_COMMAND`, `core.sshCommand`, `GIT_SSH`, `ssh.variant`), plus `-o BatchMode=yes`
//!   for OpenSSH (`-batch` for PuTTY's plink), so that it never asks for a password, a passphrase
//!   or to accept a host key. Its output is waited for with `poll(2)` and the timeout, its stderr
//!   is kept for the error message ([`Watch::stderr`]) instead of being copied to ours, and it is
//!   killed when the connection ends.
//!
//! The timeout bounds each wait (no byte received, or none accepted, for that long), not the
//! whole transfer, like Nix's `stalled-download-timeout`.
//!
//! ### Deviation
//! - gix and git probe an ssh program of an unknown name with `-G` to see whether it is OpenSSH;
//!   we do not (the probe is one more process that could hang): such a program is run as git's
//!   "simple" variant (no port, no options) unless `ssh.variant` says otherwise.
//! - `GIT_OVERRIDE_VIRTUAL_HOST` (a git testing variable gix honours) is ignored.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsFd;
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use gix::protocol::transport::client::blocking_io::ssh::ProgramKind;
use gix::protocol::transport::client::blocking_io::Transport;
use gix::protocol::transport::client::git::blocking_io::Connection;
use gix::protocol::transport::client::git::ConnectMode;
use gix::protocol::transport::Protocol;
use gix::url::ArgumentSafety;

use crate::error_chain;

/// A transport ready for a handshake.
pub type BoxedTransport = Box<dyn Transport + Send>;

/// Environment variables git removes before running a transport program (git's
/// `local_repo_env`, as gix-transport lists them): they describe *our* repository.
const LOCAL_REPO_ENV: &[&str] = &[
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_OBJECT_DIRECTORY",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_IMPLICIT_WORK_TREE",
    "GIT_GRAFT_FILE",
    "GIT_INDEX_FILE",
    "GIT_NO_REPLACE_OBJECTS",
    "GIT_REPLACE_REF_BASE",
    "GIT_PREFIX",
    "GIT_INTERNAL_SUPER_PREFIX",
    "GIT_SHALLOW_FILE",
    "GIT_COMMON_DIR",
    "GIT_CONFIG_COUNT",
];

/// The most of ssh's stderr kept for an error message: its last lines, this many bytes.
const MAX_STDERR: usize = 4096;

/// The largest write into a pipe that `poll` reported writable and that cannot block
/// (`PIPE_BUF`).
const PIPE_BUF: usize = 4096;

/// A wait that ran out of time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stall {
    /// What was being waited for, as in "timed out after N s {waiting} URL".
    pub waiting: &'static str,
    /// The timeout.
    pub after: Duration,
}

/// What a connection noticed that the error gix reports does not say: which wait timed out, and
/// what ssh printed on stderr.
#[derive(Clone, Default)]
pub struct Watch {
    shared: Arc<WatchShared>,
}

#[derive(Default)]
struct WatchShared {
    stall: Mutex<Option<Stall>>,
    stderr: Mutex<StderrLog>,
    stderr_ended: Condvar,
}

#[derive(Default)]
struct StderrLog {
    lines: VecDeque<String>,
    bytes: usize,
    /// False while an ssh process's stderr is still being read.
    ended: bool,
}

impl Watch {
    fn new() -> Watch {
        let watch = Watch::default();
        watch.shared.stderr.lock().expect("stderr lock").ended = true;
        watch
    }

    /// Records that waiting for `waiting` timed out, and returns the I/O error gix is given.
    fn stalled(&self, waiting: &'static str, after: Duration) -> io::Error {
        *self.shared.stall.lock().expect("stall lock") = Some(Stall { waiting, after });
        io::Error::new(io::ErrorKind::TimedOut, format!("timed out after {} s {waiting} the server", after.as_secs()))
    }

    /// The wait that timed out, if one did.
    pub fn stall(&self) -> Option<Stall> {
        self.shared.stall.lock().expect("stall lock").clone()
    }

    /// The last lines ssh wrote on stderr, once it has closed it (waiting at most `grace`).
    pub fn stderr(&self, grace: Duration) -> Vec<String> {
        let log = self.shared.stderr.lock().expect("stderr lock");
        let (log, _) = self.shared.stderr_ended.wait_timeout_while(log, grace, |log| !log.ended).expect("stderr lock");
        log.lines.iter().cloned().collect()
    }

    fn keep_stderr_line(&self, line: &[u8]) {
        let line = String::from_utf8_lossy(line).chars().filter(|c| !c.is_control()).collect::<String>();
        let line = line.trim();
        if line.is_empty() {
            return;
        }
        let mut log = self.shared.stderr.lock().expect("stderr lock");
        log.bytes += line.len();
        log.lines.push_back(line.to_owned());
        while log.bytes > MAX_STDERR && log.lines.len() > 1 {
            let dropped = log.lines.pop_front().expect("more than one line");
            log.bytes -= dropped.len();
        }
    }

    fn end_stderr(&self) {
        self.shared.stderr.lock().expect("stderr lock").ended = true;
        self.shared.stderr_ended.notify_all();
    }
}

/// Connects to `url` for the protocol `version`, bounding every wait by `timeout`. Errors are
/// one line, without credentials (`url` has none).
pub fn connect(repo: &gix::Repository, url: gix::Url, version: Protocol, timeout: Duration) -> Result<(BoxedTransport, Watch), String> {
    let watch = Watch::new();
    let transport = match url.scheme {
        gix::url::Scheme::Git => git_daemon(&url, version, timeout, &watch)?,
        gix::url::Scheme::Ssh => ssh(repo, &url, version, timeout, &watch)?,
        _ => {
            let options = gix::protocol::transport::client::blocking_io::connect::Options { version, ..Default::default() };
            gix::protocol::transport::client::blocking_io::connect::connect(url, options).map_err(|e| error_chain(&e))?
        }
    };
    Ok((transport, watch))
}

/// The transport options gix would use for an http(s) `url`, with reqwest's timeout (and
/// connect timeout) set to `timeout`; `None` for other schemes.
pub fn http_options(repo: &gix::Repository, url: &gix::Url, timeout: Duration) -> Result<Option<Box<dyn std::any::Any>>, String> {
    use gix::protocol::transport::client::blocking_io::http;
    if !matches!(url.scheme, gix::url::Scheme::Http | gix::url::Scheme::Https) {
        return Ok(None);
    }
    let bytes = url.to_bstring();
    let mut options = repo.transport_options(bytes.as_slice(), None).map_err(|e| error_chain(&e))?.unwrap_or_else(|| Box::new(http::Options::default()));
    let Some(http_options) = options.downcast_mut::<http::Options>() else {
        return Ok(Some(options));
    };
    http_options.connect_timeout = Some(timeout);
    let backend = http::reqwest::Options {
        configure_client: Some(Box::new(move |builder| Ok(builder.timeout(timeout).connect_timeout(timeout)))),
        configure_request: None,
    };
    http_options.backend = Some(Arc::new(Mutex::new(backend)));
    Ok(Some(options))
}

fn git_daemon(url: &gix::Url, version: Protocol, timeout: Duration, watch: &Watch) -> Result<BoxedTransport, String> {
    let host = url.host().ok_or("the URL has no host")?.to_owned();
    let port = url.port.unwrap_or(9418);
    let addresses = resolve(&host, port, timeout, watch)?;
    let stream = connect_tcp(&addresses, timeout, watch)?;
    let io = |e: io::Error| e.to_string();
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let reader = TimedSocket { stream: stream.try_clone().map_err(io)?, watch: watch.clone(), timeout };
    let writer = TimedSocket { stream, watch: watch.clone(), timeout };
    let connection = Connection::new(reader, writer, version, url.path.clone(), Some((host, url.port)), ConnectMode::Daemon, false);
    Ok(Box::new(connection))
}

/// `host`'s addresses, resolved in a thread so that a resolver that does not answer cannot
/// hold us longer than `timeout` (the thread ends whenever the resolver gives up).
fn resolve(host: &str, port: u16, timeout: Duration, watch: &Watch) -> Result<Vec<SocketAddr>, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let target = (host.trim_start_matches('[').trim_end_matches(']').to_owned(), port);
    std::thread::spawn(move || {
        let _ = tx.send(target.to_socket_addrs().map(Iterator::collect::<Vec<_>>));
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(addresses)) if !addresses.is_empty() => Ok(addresses),
        Ok(Ok(_)) => Err(format!("could not resolve host name '{host}': no addresses")),
        Ok(Err(err)) => Err(format!("could not resolve host name '{host}': {err}")),
        Err(_) => Err(watch.stalled("resolving the host name of", timeout).to_string()),
    }
}

fn connect_tcp(addresses: &[SocketAddr], timeout: Duration, watch: &Watch) -> Result<TcpStream, String> {
    let mut last = None;
    for address in addresses {
        match TcpStream::connect_timeout(address, timeout) {
            Ok(stream) => return Ok(stream),
            Err(err) if err.kind() == io::ErrorKind::TimedOut => last = Some(watch.stalled("connecting to", timeout)),
            Err(err) => last = Some(err),
        }
    }
    Err(format!("could not connect to {}: {}", addresses[0], last.map_or_else(String::new, |e| e.to_string())))
}

/// A TCP stream with read and write timeouts set: a timeout is reported as a stall.
struct TimedSocket {
    stream: TcpStream,
    watch: Watch,
    timeout: Duration,
}

fn is_timeout(err: &io::Error) -> bool {
    matches!(err.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

impl Read for TimedSocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read(buf).map_err(|e| if is_timeout(&e) { self.watch.stalled("waiting for data from", self.timeout) } else { e })
    }
}

impl Write for TimedSocket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf).map_err(|e| if is_timeout(&e) { self.watch.stalled("sending to", self.timeout) } else { e })
    }
    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

fn ssh(repo: &gix::Repository, url: &gix::Url, version: Protocol, timeout: Duration, watch: &Watch) -> Result<BoxedTransport, String> {
    let options = repo.ssh_connect_options().map_err(|e| error_chain(&e))?;
    let program = options.ssh_command().to_owned();
    let kind = options.kind.unwrap_or_else(|| ProgramKind::from(program.as_os_str()));
    // As gix-transport's `ProgramKind::prepare_invocation`, plus the batch-mode options.
    let mut prepare = gix::command::prepare(&program).command_may_be_shell_script();
    if options.disallow_shell {
        prepare.use_shell = false;
    }
    match kind {
        ProgramKind::Ssh => {
            if version != Protocol::V1 {
                prepare = prepare.args(["-o", "SendEnv=GIT_PROTOCOL"]).env("GIT_PROTOCOL", format!("version={}", version as usize));
            }
            prepare = prepare.args(["-o", "BatchMode=yes"]);
            if let Some(port) = url.port {
                prepare = prepare.arg(format!("-p{port}"));
            }
        }
        ProgramKind::Plink | ProgramKind::Putty | ProgramKind::TortoisePlink => {
            prepare = prepare.arg("-batch");
            if let Some(port) = url.port {
                prepare = prepare.arg("-P").arg(port.to_string());
            }
        }
        ProgramKind::Simple => {
            if url.port.is_some() {
                return Err(format!(
                    "the ssh program '{}' is run as git's 'simple' ssh variant, which cannot be given a port: set ssh.variant (e.g. git config --global ssh.variant ssh)",
                    program.to_string_lossy()
                ));
            }
        }
    }
    let target = match (url.user_as_argument(), url.host_as_argument()) {
        (ArgumentSafety::Usable(user), ArgumentSafety::Usable(host) | ArgumentSafety::Dangerous(host)) => format!("{user}@{host}"),
        (ArgumentSafety::Absent, ArgumentSafety::Usable(host)) => host.to_owned(),
        _ => return Err("the user or host could be taken as an option by ssh".into()),
    };
    let path = gix::url::expand_path::for_shell(url.path.clone());
    let remote_path = gix::quote::single(path.as_ref()).to_string();
    let prepare = prepare
        .arg(target)
        .arg("git-upload-pack")
        .arg(remote_path)
        .env("LANG", "C")
        .env("LC_ALL", "C")
        .env("SSH_ASKPASS_REQUIRE", "never")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut command = std::process::Command::try_from(prepare).map_err(|e| format!("cannot prepare the ssh command: {}", error_chain(&e)))?;
    for name in LOCAL_REPO_ENV {
        command.env_remove(name);
    }
    let mut child = command.spawn().map_err(|e| format!("cannot run ssh ('{}'): {e}", program.to_string_lossy()))?;
    let stdin = child.stdin.take().expect("stdin is piped");
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    {
        watch.shared.stderr.lock().expect("stderr lock").ended = false;
        let watch = watch.clone();
        std::thread::spawn(move || read_stderr(stderr, &watch));
    }
    let reader = TimedPipeReader { stdout, child, watch: watch.clone(), timeout };
    let writer = TimedPipeWriter { stdin, watch: watch.clone(), timeout };
    let connection = Connection::new(reader, writer, version, url.path.clone(), None::<(String, Option<u16>)>, ConnectMode::Process, false)
        .custom_url(Some(url.to_bstring()));
    Ok(Box::new(connection))
}

/// Keeps the last lines of ssh's stderr (each line at most [`MAX_STDERR`] bytes, so that a
/// stream without newlines cannot grow without bound) until ssh closes it.
fn read_stderr(mut stderr: std::process::ChildStderr, watch: &Watch) {
    let mut line = Vec::new();
    let mut buf = [0u8; 1024];
    while let Ok(n) = stderr.read(&mut buf) {
        if n == 0 {
            break;
        }
        for &byte in &buf[..n] {
            if byte == b'\n' || byte == b'\r' {
                watch.keep_stderr_line(&line);
                line.clear();
            } else if line.len() < MAX_STDERR {
                line.push(byte);
            }
        }
    }
    watch.keep_stderr_line(&line);
    watch.end_stderr();
}

/// Waits until `fd` is ready for `events`, at most `timeout`; `false` when it timed out.
fn ready(fd: impl AsFd, events: rustix::event::PollFlags, timeout: Duration) -> io::Result<bool> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let left = rustix::event::Timespec::try_from(left).map_err(|_| io::Error::other("timeout out of range"))?;
        let mut fds = [rustix::event::PollFd::new(&fd, events)];
        match rustix::event::poll(&mut fds, Some(&left)) {
            Ok(0) => return Ok(false),
            Ok(_) => return Ok(true),
            Err(rustix::io::Errno::INTR) => continue,
            Err(err) => return Err(err.into()),
        }
    }
}

/// ssh's stdout, read only once `poll` says there is something (or the end) to read. Owns the
/// ssh process and kills it when dropped, as gix's transport does.
struct TimedPipeReader {
    stdout: ChildStdout,
    child: Child,
    watch: Watch,
    timeout: Duration,
}

impl Read for TimedPipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !ready(&self.stdout, rustix::event::PollFlags::IN, self.timeout)? {
            return Err(self.watch.stalled("waiting for data from", self.timeout));
        }
        self.stdout.read(buf)
    }
}

impl Drop for TimedPipeReader {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// ssh's stdin, written in pieces no larger than `PIPE_BUF` once `poll` says there is room, so
/// that a write never blocks for longer than the timeout.
struct TimedPipeWriter {
    stdin: ChildStdin,
    watch: Watch,
    timeout: Duration,
}

impl Write for TimedPipeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !ready(&self.stdin, rustix::event::PollFlags::OUT, self.timeout)? {
            return Err(self.watch.stalled("sending to", self.timeout));
        }
        self.stdin.write(&buf[..buf.len().min(PIPE_BUF)])
    }
    fn flush(&mut self) -> io::Result<()> {
        self.stdin.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_pipe_times_out_and_says_so() {
        let watch = Watch::new();
        let mut child = std::process::Command::new("sleep").arg("30").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("sleep runs");
        let stdout = child.stdout.take().expect("piped");
        let _stdin = child.stdin.take();
        let mut reader = TimedPipeReader { stdout, child, watch: watch.clone(), timeout: Duration::from_millis(200) };
        let started = Instant::now();
        let err = reader.read(&mut [0u8; 16]).expect_err("nothing to read");
        assert!(started.elapsed() < Duration::from_secs(5), "waited {:?}", started.elapsed());
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(watch.stall(), Some(Stall { waiting: "waiting for data from", after: Duration::from_millis(200) }));
    }

    #[test]
    fn stderr_keeps_the_last_lines_within_a_bound() {
        let watch = Watch::new();
        for i in 0..1000 {
            watch.keep_stderr_line(format!("line {i} \x1b[31m").as_bytes());
        }
        let lines = watch.stderr(Duration::ZERO);
        assert!(lines.iter().map(String::len).sum::<usize>() <= MAX_STDERR);
        assert_eq!(lines.last().map(String::as_str), Some("line 999 [31m"));
    }
}
