//! Wire format of the worker protocol: little-endian u64s, padded strings, the daemon's log
//! stream (`STDERR_*` messages) and the framed stream AddToStoreNar uses for the NAR.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use super::ProtocolError;

/// Client greeting.
pub(crate) const WORKER_MAGIC_1: u64 = 0x6e69_7863;
/// Daemon greeting.
pub(crate) const WORKER_MAGIC_2: u64 = 0x6478_696f;

pub(crate) const STDERR_NEXT: u64 = 0x6f6c_6d67;
pub(crate) const STDERR_READ: u64 = 0x6461_7461;
pub(crate) const STDERR_WRITE: u64 = 0x6461_7416;
pub(crate) const STDERR_LAST: u64 = 0x616c_7473;
pub(crate) const STDERR_ERROR: u64 = 0x6378_7470;
pub(crate) const STDERR_START_ACTIVITY: u64 = 0x5354_5254;
pub(crate) const STDERR_STOP_ACTIVITY: u64 = 0x5354_4f50;
pub(crate) const STDERR_RESULT: u64 = 0x5253_4c54;

/// Largest string we accept from the daemon (log lines, error messages, versions). Nix has
/// no limit; this only stops a corrupt length from allocating gigabytes.
const MAX_STRING: u64 = 16 << 20;

/// Largest number of list items (log fields, error traces) we accept from the daemon.
const MAX_ITEMS: u64 = 1 << 16;

/// Size of one NAR frame, and so the memory the transfer needs whatever the NAR size.
pub(crate) const FRAME_SIZE: usize = 64 * 1024;

pub(crate) fn write_u64<W: Write + ?Sized>(w: &mut W, n: u64) -> io::Result<()> {
    w.write_all(&n.to_le_bytes())
}

pub(crate) fn write_str<W: Write + ?Sized>(w: &mut W, s: &[u8]) -> io::Result<()> {
    write_u64(w, s.len() as u64)?;
    w.write_all(s)?;
    let pad = (8 - s.len() % 8) % 8;
    w.write_all(&[0u8; 8][..pad])
}

pub(crate) fn read_u64<R: Read + ?Sized>(r: &mut R) -> Result<u64, ProtocolError> {
    let mut buf = [0u8; 8];
    r.read_exact(&mut buf).map_err(ProtocolError::from_io)?;
    Ok(u64::from_le_bytes(buf))
}

pub(crate) fn read_bytes<R: Read + ?Sized>(r: &mut R, what: &'static str) -> Result<Vec<u8>, ProtocolError> {
    let len = read_u64(r)?;
    if len > MAX_STRING {
        return Err(ProtocolError::TooLong { what, len, max: MAX_STRING });
    }
    let padded = usize::try_from(len.div_ceil(8) * 8).expect("bounded by MAX_STRING");
    let mut buf = vec![0u8; padded];
    r.read_exact(&mut buf).map_err(ProtocolError::from_io)?;
    buf.truncate(usize::try_from(len).expect("bounded by MAX_STRING"));
    Ok(buf)
}

pub(crate) fn read_string<R: Read + ?Sized>(r: &mut R, what: &'static str) -> Result<String, ProtocolError> {
    Ok(String::from_utf8_lossy(&read_bytes(r, what)?).into_owned())
}

fn read_count<R: Read + ?Sized>(r: &mut R, what: &'static str) -> Result<u64, ProtocolError> {
    let n = read_u64(r)?;
    if n > MAX_ITEMS {
        return Err(ProtocolError::TooLong { what, len: n, max: MAX_ITEMS });
    }
    Ok(n)
}

fn skip_fields<R: Read + ?Sized>(r: &mut R) -> Result<(), ProtocolError> {
    for _ in 0..read_count(r, "log field list")? {
        match read_u64(r)? {
            0 => {
                read_u64(r)?;
            }
            1 => {
                read_bytes(r, "log field")?;
            }
            field_type => return Err(ProtocolError::UnknownFieldType { field_type }),
        }
    }
    Ok(())
}

/// Read the daemon's log stream up to `STDERR_LAST` (`Ok(None)`) or `STDERR_ERROR`
/// (`Ok(Some(message))`, already cleaned to one line). Log lines and activities are skipped.
pub(crate) fn process_stderr<R: Read + ?Sized>(r: &mut R, minor: u8) -> Result<Option<String>, ProtocolError> {
    loop {
        match read_u64(r)? {
            STDERR_LAST => return Ok(None),
            STDERR_ERROR => return read_error(r, minor).map(Some),
            STDERR_NEXT => {
                read_bytes(r, "log line")?;
            }
            STDERR_START_ACTIVITY => {
                read_u64(r)?; // activity id
                read_u64(r)?; // verbosity
                read_u64(r)?; // activity type
                read_bytes(r, "activity text")?;
                skip_fields(r)?;
                read_u64(r)?; // parent activity
            }
            STDERR_STOP_ACTIVITY => {
                read_u64(r)?;
            }
            STDERR_RESULT => {
                read_u64(r)?; // activity id
                read_u64(r)?; // result type
                skip_fields(r)?;
            }
            code @ (STDERR_READ | STDERR_WRITE) => return Err(ProtocolError::UnexpectedMessage { code }),
            code => return Err(ProtocolError::UnknownMessage { code }),
        }
    }
}

/// The body of `STDERR_ERROR`: structured since 1.26, a string and an exit status before.
fn read_error<R: Read + ?Sized>(r: &mut R, minor: u8) -> Result<String, ProtocolError> {
    if minor < 26 {
        let message = read_string(r, "error message")?;
        read_u64(r)?; // exit status
        return Ok(clean_message(&message));
    }
    let kind = read_string(r, "error type")?;
    if kind != "Error" {
        return Err(ProtocolError::BadError { reason: format!("error type {kind:?} instead of \"Error\"") });
    }
    read_u64(r)?; // verbosity level
    read_bytes(r, "error name")?; // always "Error"
    let message = read_string(r, "error message")?;
    let mut text = clean_message(&message);
    if read_u64(r)? != 0 {
        return Err(ProtocolError::BadError { reason: "error carries a position, which Nix never sends".to_owned() });
    }
    for _ in 0..read_count(r, "error trace list")? {
        if read_u64(r)? != 0 {
            return Err(ProtocolError::BadError { reason: "error trace carries a position, which Nix never sends".to_owned() });
        }
        let trace = clean_message(&read_string(r, "error trace")?);
        if !trace.is_empty() {
            text.push_str("; ");
            text.push_str(&trace);
        }
    }
    Ok(text)
}

/// Make one line of a Nix message: drop ANSI escape sequences (Nix colours the values it
/// quotes), a leading `error: `, blank lines and runs of spaces, and join the lines.
pub(crate) fn clean_message(message: &str) -> String {
    let mut plain = String::with_capacity(message.len());
    let mut chars = message.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            plain.push(c);
            continue;
        }
        match chars.next() {
            // CSI: parameters and intermediates up to a final byte in @..~.
            Some('[') => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // OSC (hyperlinks): up to BEL or ESC \.
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\u{7}' {
                        break;
                    }
                    if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                        chars.next();
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = String::new();
    for line in plain.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let line = line.strip_prefix("error: ").unwrap_or(line);
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if !out.is_empty() {
            out.push_str(if out.ends_with([';', ':', ',']) { " " } else { "; " });
        }
        out.push_str(&line);
    }
    out
}

/// Why the frame writer refused bytes (carried in the [`io::Error`] it returns).
#[derive(Debug, thiserror::Error)]
pub(crate) enum FrameError {
    /// The producer wrote more than the announced NAR size.
    #[error("the NAR producer wrote more than the announced {announced} bytes")]
    TooLong {
        /// The announced size.
        announced: u64,
    },
    /// The daemon ended the exchange (error or closed connection) while we were sending.
    #[error("the Nix daemon stopped reading the NAR")]
    DaemonStopped,
}

/// The framed stream of AddToStoreNar (protocol >= 1.23): each frame is a u64 length and
/// that many bytes (no padding), a zero-length frame ends it. Bytes are collected in a
/// buffer of [`FRAME_SIZE`] and sent a frame at a time, so memory is bounded whatever the
/// NAR size.
///
/// The end frame is only sent by [`FrameWriter::finish`]; dropping the writer instead leaves
/// the stream open, and the caller then closes the connection so the daemon aborts.
pub(crate) struct FrameWriter<'a, W: Write> {
    inner: &'a mut W,
    buf: Vec<u8>,
    written: u64,
    announced: u64,
    stop: &'a AtomicBool,
    daemon_failed: bool,
}

impl<'a, W: Write> FrameWriter<'a, W> {
    /// Frames to `inner`; refuses more than `announced` bytes, and stops once `stop` is set
    /// (the daemon has answered or gone away).
    pub(crate) fn new(inner: &'a mut W, announced: u64, stop: &'a AtomicBool) -> Self {
        FrameWriter { inner, buf: Vec::with_capacity(FRAME_SIZE), written: 0, announced, stop, daemon_failed: false }
    }

    /// Bytes accepted so far.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// Whether sending to the daemon failed (as opposed to the producer failing).
    pub(crate) fn daemon_failed(&self) -> bool {
        self.daemon_failed
    }

    fn send_frame(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if self.stop.load(Ordering::SeqCst) {
            self.daemon_failed = true;
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, FrameError::DaemonStopped));
        }
        let sent = write_u64(self.inner, self.buf.len() as u64).and_then(|()| self.inner.write_all(&self.buf));
        if sent.is_err() {
            self.daemon_failed = true;
        }
        sent?;
        self.buf.clear();
        Ok(())
    }

    /// Send what is buffered, the end frame, and flush.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        self.send_frame()?;
        write_u64(self.inner, 0)?;
        self.inner.flush()
    }
}

impl<W: Write> Write for FrameWriter<'_, W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        if self.written + data.len() as u64 > self.announced {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, FrameError::TooLong { announced: self.announced }));
        }
        if self.buf.len() == FRAME_SIZE {
            self.send_frame()?;
        }
        let n = data.len().min(FRAME_SIZE - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        self.written += n as u64;
        Ok(n)
    }

    /// Sends the buffered bytes as a frame (never the end frame) and flushes.
    fn flush(&mut self) -> io::Result<()> {
        self.send_frame()?;
        let flushed = self.inner.flush();
        if flushed.is_err() {
            self.daemon_failed = true;
        }
        flushed
    }
}
