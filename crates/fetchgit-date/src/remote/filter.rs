//! Partial clones of remotes, the fetch side: a full-history fetch asks a server that allows it
//! for commits only (`filter tree:0`), and the packs it gets so are marked as git marks them.
//! The trees and blobs an export needs are fetched later, by [`super::missing`].
//!
//!
//! fetchGit's attributes need every commit (`revCount`, `lastModified`, the truncation walk) but
//! the files of one commit only. So a full-history fetch ([`crate::remote::update`] with
//! [`crate::remote::Depth::Full`]) asks a server that allows it for commits only (`filter
//! tree:0`, [`CommitsOnly`]), and before an export [`complete_tree`] fetches the one tree that
//! is missing: its trees first (`want <tree>` with `filter blob:none`), then the blobs it lacks
//! (`want <blob>`...). A server that does not allow filters gets today's full fetch, and the
//! cache stays one repository per URL: complete where a full fetch filled it, partial where a
//! filtered one did. [`complete_tree`] walks the tree and fetches only what is missing, so a
//! second revision costs what it adds.
//!
//! What gix 0.90 cannot express, and how this works around it:
//! - Its high-level fetch ([`gix::remote::Connection::prepare_fetch`]) has no `filter`. The
//!   commit fetch keeps it (refspecs, tags, ref updates, shallow files, credentials stay gix's)
//!   and wraps the transport ([`CommitsOnly`]): the `fetch` request passes through a packet-line
//!   rewriter that adds `filter tree:0` (after the v2 argument delimiter; in v0/v1 before the
//!   flush that ends the `want` section). gix already declares the `filter` capability in v0/v1
//!   when the server advertises it.
//! - It cannot fetch objects that no ref names, without negotiation (git's lazy fetch sends no
//!   `have`: the server would take every tree of the commits we have as present). That is
//!   [`fetch_objects`], on the gix-protocol level: a handshake, then one `fetch` with our own
//!   [`gix::protocol::fetch::Negotiate`] (the wants, an optional `filter`, no haves, `done`),
//!   and the pack written with gix-pack.
//! - gix has no lazy ("promisor") object lookup: an object missing from a partial cache is an
//!   error where it is read. So every exporter of a remote cache calls [`complete_tree`] first
//!   (`Fetcher::complete_tree`, and the submodules of a superproject).
//!
//! Packs received with a filter get a `.promisor` file beside them, as git writes them, and the
//! cache's configuration names the remote as promisor (`extensions.partialClone`), so that git
//! itself reads the cache as the partial clone it is (`git fsck`, `git rev-list --count`).
//!
//! When filters are used (see [`filter_usable`]): protocol v2 servers that advertise `filter`
//! for `fetch` (git's `uploadpack.allowFilter`), where a `want` may name any object; v0/v1
//! servers that advertise `filter` and `allow-reachable-sha1-in-want` (without the latter they
//! refuse `want <tree>`). When a server still refuses the objects of a tree, the whole history
//! of the commit is fetched without a filter (`want <commit>`, no haves): what a full fetch
//! brings.

use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use gix::protocol::transport::client::blocking_io::{RequestWriter, SetServiceResponse, Transport};
use gix::protocol::transport::client::{Capabilities, MessageKind, TransportWithoutIO, WriteMode};
use gix::protocol::transport::Protocol;

use crate::url::RemoteUrl;

use super::options::{Depth, RemoteOptions};
use super::transport::BoxedTransport;

/// The filter of a full-history fetch: commits (and tags), no trees, no blobs.
pub const COMMITS_ONLY: &str = "tree:0";

/// Whether a server whose handshake answered `capabilities` in `protocol` can serve a partial
/// clone: filtered fetches, and later `want`s of trees and blobs no ref names.
pub fn filter_usable(protocol: Protocol, capabilities: &Capabilities) -> bool {
    match protocol {
        Protocol::V2 => {
            capabilities.capability("fetch").and_then(|fetch| fetch.values().map(|mut values| values.any(|value| value == "filter"))).unwrap_or(false)
        }
        Protocol::V0 | Protocol::V1 => capabilities.contains("filter") && capabilities.contains("allow-reachable-sha1-in-want"),
    }
}

/// What a [`CommitsOnly`] transport did, readable after the fetch.
#[derive(Clone, Default)]
pub struct FilterReport {
    used: Arc<AtomicBool>,
}

impl FilterReport {
    /// Whether the filter went into a `fetch` request (the server allowed it).
    pub fn used(&self) -> bool {
        self.used.load(Ordering::Relaxed)
    }
}

/// `transport` for a fetch with `options`: for a full-history fetch, wrapped so that a server
/// that allows it sends commits only ([`CommitsOnly`]); otherwise as it is.
pub fn for_fetch(transport: BoxedTransport, options: &RemoteOptions) -> (BoxedTransport, FilterReport) {
    let report = FilterReport::default();
    if options.depth != Depth::Full {
        return (transport, report);
    }
    let wrapped = CommitsOnly { inner: transport, usable: false, filter: packet(format!("filter {COMMITS_ONLY}\n").as_bytes()), report: report.clone() };
    (Box::new(wrapped), report)
}

/// A transport that adds a `filter` argument to every `fetch` request, once the handshake has
/// shown that the server can serve a partial clone ([`filter_usable`]).
struct CommitsOnly {
    inner: BoxedTransport,
    usable: bool,
    /// The `filter ...` packet line.
    filter: Vec<u8>,
    report: FilterReport,
}

impl TransportWithoutIO for CommitsOnly {
    fn set_identity(&mut self, identity: gix::protocol::transport::client::Account) -> Result<(), gix::protocol::transport::client::Error> {
        self.inner.set_identity(identity)
    }
    fn to_url(&self) -> std::borrow::Cow<'_, gix::bstr::BStr> {
        self.inner.to_url()
    }
    fn supported_protocol_versions(&self) -> &[Protocol] {
        self.inner.supported_protocol_versions()
    }
    fn connection_persists_across_multiple_requests(&self) -> bool {
        self.inner.connection_persists_across_multiple_requests()
    }
    fn configure(&mut self, config: &dyn std::any::Any) -> gix::error::Result {
        self.inner.configure(config)
    }
}

impl Transport for CommitsOnly {
    fn handshake<'a>(
        &mut self,
        service: gix::protocol::transport::Service,
        extra_parameters: &'a [(&'a str, Option<&'a str>)],
    ) -> Result<SetServiceResponse<'_>, gix::protocol::transport::client::Error> {
        let response = self.inner.handshake(service, extra_parameters)?;
        self.usable = filter_usable(response.actual_protocol, &response.capabilities);
        Ok(response)
    }

    fn request(&mut self, write_mode: WriteMode, on_into_read: MessageKind, trace: bool) -> Result<RequestWriter<'_>, gix::protocol::transport::client::Error> {
        let writer = self.inner.request(write_mode, on_into_read, trace)?;
        if !self.usable || write_mode != WriteMode::OneLfTerminatedLinePerWriteCall {
            return Ok(writer);
        }
        let (raw, reader) = writer.into_parts();
        let injector = Injector { out: raw, pending: Vec::new(), filter: self.filter.clone(), state: Section::Start, report: self.report.clone() };
        Ok(RequestWriter::new_from_bufread(injector, reader, write_mode, on_into_read, trace))
    }
}

/// Where in a request the [`Injector`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    /// Nothing seen yet.
    Start,
    /// v2 `command=fetch`, before its arguments.
    FetchCapabilities,
    /// v0/v1: `want` lines were sent, the flush that ends them is not yet.
    Wants,
    /// The filter is in, or this request needs none (`ls-refs`, later v0 `have` rounds).
    Done,
}

/// Reads the packet lines a request writes and adds the `filter` line where the protocol
/// expects it: after the delimiter of a v2 `command=fetch`, or before the flush that ends the
/// `want` lines of v0/v1. Everything else passes unchanged.
struct Injector<'a> {
    out: Box<dyn Write + 'a>,
    /// Bytes of a packet line not yet complete.
    pending: Vec<u8>,
    filter: Vec<u8>,
    state: Section,
    report: FilterReport,
}

impl Injector<'_> {
    fn on_packet(&mut self, packet: &[u8]) -> io::Result<()> {
        let payload = packet.get(4..).unwrap_or_default();
        let (before, after) = match (self.state, packet) {
            (Section::Start, _) if payload.strip_suffix(b"\n").unwrap_or(payload) == b"command=fetch" => {
                self.state = Section::FetchCapabilities;
                (false, false)
            }
            (Section::Start, _) if payload.starts_with(b"want ") => {
                self.state = Section::Wants;
                (false, false)
            }
            (Section::Start, _) if payload.starts_with(b"command=") => {
                self.state = Section::Done;
                (false, false)
            }
            (Section::FetchCapabilities, b"0001") => (false, true),
            (Section::Wants, b"0000") => (true, false),
            _ => (false, false),
        };
        if before {
            self.out.write_all(&self.filter)?;
        }
        self.out.write_all(packet)?;
        if after {
            self.out.write_all(&self.filter)?;
        }
        if before || after {
            self.state = Section::Done;
            self.report.used.store(true, Ordering::Relaxed);
        }
        Ok(())
    }
}

impl Write for Injector<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(data);
        let mut start = 0;
        while let Some(header) = self.pending.get(start..start + 4) {
            let text = std::str::from_utf8(header).map_err(|_| io::Error::other("a request packet line has no hex length"))?;
            let length = usize::from_str_radix(text, 16).map_err(|_| io::Error::other("a request packet line has no hex length"))?;
            // 0000 (flush), 0001 (delimiter) and 0002 (response end) are the whole packet.
            let length = if length < 4 { 4 } else { length };
            if self.pending.len() < start + length {
                break;
            }
            let packet = self.pending[start..start + length].to_vec();
            self.on_packet(&packet)?;
            start += length;
        }
        self.pending.drain(..start);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// `payload` as one packet line.
fn packet(payload: &[u8]) -> Vec<u8> {
    let mut line = format!("{:04x}", payload.len() + 4).into_bytes();
    line.extend_from_slice(payload);
    line
}

/// Marks the pack `pack` of the cache repository `dir` as received with a filter, as git does
/// (`<pack>.promisor`), and the repository as a partial clone of `url` (`extensions.partialClone`
/// naming a promisor remote), so that git reads it as one. fetchgit-date itself reads neither:
/// it ignores a cache's configuration, and [`complete_tree`] finds what is missing by looking.
pub fn mark_promisor(dir: &Path, pack: &Path, url: &RemoteUrl) -> io::Result<()> {
    let marker = pack.with_extension("promisor");
    if !marker.exists() {
        std::fs::File::create(&marker)?.sync_all()?;
    }
    let config = dir.join("config");
    let text = std::fs::read_to_string(&config).unwrap_or_default();
    if text.contains("partialclone = fetchgit-date") {
        return Ok(());
    }
    let mut text = text;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let quoted = url.redacted().replace('\\', "\\\\").replace('"', "\\\"");
    text.push_str(&format!(
        "[extensions]\n\tpartialclone = fetchgit-date\n[remote \"fetchgit-date\"]\n\turl = \"{quoted}\"\n\tpromisor = true\n\tpartialclonefilter = {COMMITS_ONLY}\n"
    ));
    let tmp = dir.join(format!("config.fetchgit-date-{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, &config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(packets: &[&[u8]]) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        let report = FilterReport::default();
        {
            let mut injector =
                Injector { out: Box::new(&mut out), pending: Vec::new(), filter: packet(b"filter tree:0\n"), state: Section::Start, report: report.clone() };
            for p in packets {
                // Split every packet in two writes, as a writer may.
                let (a, b) = p.split_at(p.len() / 2);
                injector.write_all(a).expect("write");
                injector.write_all(b).expect("write");
            }
        }
        (out, report.used())
    }

    #[test]
    fn the_filter_goes_after_the_v2_delimiter_of_a_fetch_only() {
        let fetch: &[&[u8]] = &[&packet(b"command=fetch\n"), &packet(b"agent=x\n"), b"0001", &packet(b"want 1234\n"), b"0000"];
        let (out, used) = rewrite(fetch);
        let expected =
            [packet(b"command=fetch\n"), packet(b"agent=x\n"), b"0001".to_vec(), packet(b"filter tree:0\n"), packet(b"want 1234\n"), b"0000".to_vec()].concat();
        assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&expected));
        assert!(used);
        let ls_refs: &[&[u8]] = &[&packet(b"command=ls-refs\n"), b"0001", &packet(b"peel\n"), b"0000"];
        let (out, used) = rewrite(ls_refs);
        assert_eq!(out, ls_refs.concat());
        assert!(!used);
    }

    #[test]
    fn the_filter_ends_the_v0_want_section() {
        let first: &[&[u8]] = &[&packet(b"want 1234 filter ofs-delta\n"), &packet(b"want 5678\n"), b"0000", &packet(b"have 9abc\n"), &packet(b"done\n")];
        let (out, used) = rewrite(first);
        let expected = [
            packet(b"want 1234 filter ofs-delta\n"),
            packet(b"want 5678\n"),
            packet(b"filter tree:0\n"),
            b"0000".to_vec(),
            packet(b"have 9abc\n"),
            packet(b"done\n"),
        ]
        .concat();
        assert_eq!(out, expected);
        assert!(used);
        // A later round of a stateful connection sends only haves.
        let later: &[&[u8]] = &[&packet(b"have 9abc\n"), b"0000"];
        assert_eq!(rewrite(later).0, later.concat());
    }
}
