//! Object contents with memory bounded by a buffer: small objects are read whole (through gix),
//! large ones are inflated as they are written, straight from their loose file or pack entry,
//! as git does for blobs above `core.bigFileThreshold` (`open_istream` in streaming.c).
//!
//! A large object stored as a delta has to be rebuilt in memory (git does the same); that
//! allocation is made with `try_reserve`, so running out of memory is reported as such.
//!
//! Objects are what their ids say: every object read whole is hashed and compared with its id,
//! as libgit2 does with strict hash verification (on in every Nix release that links it) and
//! as git's `parse_object` does for commits and trees. When a copy lies, the pack is asked for
//! another, since git and libgit2 look in packs before loose objects. A blob that lies and has
//! no other copy is still read by git (`read_object_file` does not check blobs), so the legacy
//! generation takes it as git does; everything else fails with the object's id. Large blobs are
//! streamed from the pack first, then the loose file, and hashed as they stream for the
//! modern generation.

use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;

use gix::odb::pack;
use gix::ObjectId;

/// Objects up to this size are read whole; larger ones are streamed when stored undeltified.
pub const STREAM_ABOVE: u64 = 8 << 20;

/// Why an object could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The object is not in the repository.
    Missing,
    /// The object could not be decoded.
    Corrupt(String),
    /// The object does not fit in memory.
    OutOfMemory {
        /// Its size in bytes.
        size: u64,
    },
    /// The object's content hashes to another id (libgit2: "object hash mismatch").
    HashMismatch {
        /// What the content hashes to.
        actual: ObjectId,
    },
}

/// The objects of a repository, read with or without `refs/replace/` (Nix >= 2.20 reads objects
/// through libgit2, which has no replace refs; git honours them).
pub struct Objects {
    handle: gix::OdbHandle,
    replace: Vec<(ObjectId, ObjectId)>,
    object_dirs: Vec<PathBuf>,
    packs: Option<Vec<(pack::index::File, PathBuf)>>,
    hash: gix::hash::Kind,
    /// Whether a blob whose only copy lies is read anyway (git does; libgit2 does not).
    lying_blobs_read: bool,
}

/// What an object is, before its contents are read.
#[derive(Debug, Clone, Copy)]
pub struct Header {
    /// Its kind.
    pub kind: gix::object::Kind,
    /// Its size in bytes.
    pub size: u64,
}

impl Objects {
    /// The objects of `repo`; `replace` says whether replace refs apply, `generation` how
    /// objects whose content lies about their id are treated.
    pub fn new(repo: &gix::Repository, replace: bool, generation: crate::nix_version::Generation) -> Self {
        let mut handle = repo.objects.clone();
        handle.ignore_replacements = !replace;
        let store = repo.objects.store_ref();
        let replace = if replace { store.replacements().collect() } else { Vec::new() };
        let object_dirs = object_dirs(repo);
        let lying_blobs_read = generation == crate::nix_version::Generation::Legacy;
        Objects { handle, replace, object_dirs, packs: None, hash: repo.object_hash(), lying_blobs_read }
    }

    /// The gix handle, with the same replacement setting.
    pub fn handle(&self) -> &gix::OdbHandle {
        &self.handle
    }

    fn replaced(&self, oid: ObjectId) -> ObjectId {
        match self.replace.binary_search_by(|(from, _)| from.cmp(&oid)) {
            Ok(pos) => self.replace[pos].1,
            Err(_) => oid,
        }
    }

    /// Kind and size of `oid`.
    pub fn header(&self, oid: ObjectId) -> Result<Header, ReadError> {
        use gix::odb::Header as _;
        match self.handle.try_header(&oid) {
            Ok(Some(header)) => Ok(Header { kind: header.kind(), size: header.size() }),
            Ok(None) => Err(ReadError::Missing),
            Err(err) => Err(ReadError::Corrupt(crate::error_chain(&err))),
        }
    }

    /// The whole object `oid` (of `size` bytes, from [`Self::header`]) into `buf`, checked
    /// against its id (see the module documentation).
    pub fn read_whole<'b>(&self, oid: ObjectId, size: u64, buf: &'b mut Vec<u8>) -> Result<&'b [u8], ReadError> {
        use gix::objs::Find as _;
        let size_usize = usize::try_from(size).map_err(|_| ReadError::OutOfMemory { size })?;
        buf.clear();
        // Reserve first: gix then fills the buffer without growing it, and a failed allocation is
        // an error instead of an abort.
        buf.try_reserve_exact(size_usize).map_err(|_| ReadError::OutOfMemory { size })?;
        let kind = match self.handle.try_find(&oid, buf) {
            Ok(Some(data)) => data.kind,
            Ok(None) => return Err(ReadError::Missing),
            // gix reports a failed allocation (while rebuilding a delta) as an error of its own.
            Err(err) if is_allocation_failure(&err) => return Err(ReadError::OutOfMemory { size }),
            Err(err) => return Err(ReadError::Corrupt(crate::error_chain(&err))),
        };
        let expected = self.replaced(oid);
        let actual = self.hash_of(kind, buf)?;
        if actual == expected {
            return Ok(&buf[..]);
        }
        // gix may have found a loose copy first: git and libgit2 read the pack's.
        let packed = self.read_packed(expected, buf)?;
        if packed && self.hash_of(kind, buf)? == expected {
            return Ok(&buf[..]);
        }
        if kind == gix::object::Kind::Blob && self.lying_blobs_read {
            // git reads a blob without checking it: the packed copy if there is one, else the
            // loose one gix found.
            if !packed {
                buf.clear();
                self.handle.try_find(&oid, buf).map_err(|err| ReadError::Corrupt(crate::error_chain(&err)))?;
            }
            return Ok(&buf[..]);
        }
        Err(ReadError::HashMismatch { actual })
    }

    /// The id `data`, an object of `kind`, hashes to.
    fn hash_of(&self, kind: gix::object::Kind, data: &[u8]) -> Result<ObjectId, ReadError> {
        gix::objs::compute_hash(self.hash, kind, data).map_err(|err| ReadError::Corrupt(crate::error_chain(&err)))
    }

    /// Decodes the packed copy of `oid` into `buf`; `false` when no pack holds it.
    fn read_packed(&self, oid: ObjectId, buf: &mut Vec<u8>) -> Result<bool, ReadError> {
        read_packed(&self.object_dirs, self.hash, oid, buf)
    }

    /// A reader of the contents of `oid` (`size` bytes) that holds one buffer, when the object is
    /// stored whole (loose, or an undeltified pack entry); `None` when it must be rebuilt from a
    /// delta.
    pub fn open_stream(&mut self, oid: ObjectId, size: u64) -> Result<Option<Box<dyn Read + '_>>, ReadError> {
        let oid = self.replaced(oid);
        // Packs first, as git and libgit2 look.
        if self.packs.is_none() {
            self.packs = Some(load_indices(&self.object_dirs, self.hash));
        }
        let verify = !self.lying_blobs_read;
        let hash = self.hash;
        let checked = |reader: Box<dyn Read>| -> Box<dyn Read> {
            if verify {
                let mut hasher = gix::hash::hasher(hash);
                hasher.update(format!("blob {size}\0").as_bytes());
                Box::new(Verifying { inner: reader, hasher, expected: oid, done: false })
            } else {
                reader
            }
        };
        for (index, pack_path) in self.packs.as_ref().expect("loaded above") {
            let Some(entry_index) = index.lookup(oid) else { continue };
            let offset = index.pack_offset_at_index(entry_index);
            let data = pack::data::File::at(pack_path, self.hash).map_err(|err| ReadError::Corrupt(crate::error_chain(&err)))?;
            let entry = data.entry(offset).map_err(|err| ReadError::Corrupt(crate::error_chain(&err)))?;
            if !entry.header.is_base() {
                return Ok(None);
            }
            return Ok(Some(checked(Box::new(PackStream { data, start: entry.data_offset, inflated: None }))));
        }
        let hex = oid.to_hex().to_string();
        for dir in &self.object_dirs {
            let path = dir.join(&hex[..2]).join(&hex[2..]);
            match std::fs::File::open(&path) {
                Ok(file) => return loose_stream(file, size).map(|reader| Some(checked(reader))),
                Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
                Err(err) => return Err(ReadError::Corrupt(format!("cannot open {}: {err}", path.display()))),
            }
        }
        Ok(None)
    }
}

/// The object directories of `repo`: its own, then its alternates.
pub(crate) fn object_dirs(repo: &gix::Repository) -> Vec<PathBuf> {
    let objects_dir = repo.objects.store_ref().path().to_owned();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let mut dirs = vec![objects_dir.clone()];
    // A cycle was refused when the repository was opened (see `repo_files`).
    dirs.extend(gix::odb::alternate::resolve(objects_dir, &cwd).unwrap_or_default());
    dirs
}

/// Decodes the packed copy of `oid` (in any pack of `object_dirs`) into `buf`; `false` when no
/// pack holds it. For the rare object whose loose copy lies: git and libgit2 read packs first.
pub(crate) fn read_packed(object_dirs: &[PathBuf], hash: gix::hash::Kind, oid: ObjectId, buf: &mut Vec<u8>) -> Result<bool, ReadError> {
    let packs = load_indices(object_dirs, hash);
    for (index, pack_path) in &packs {
        let Some(entry_index) = index.lookup(oid) else { continue };
        let corrupt = |err: &dyn std::error::Error| ReadError::Corrupt(crate::error_chain(err));
        let data = pack::data::File::at(pack_path, hash).map_err(|err| corrupt(&err))?;
        let entry = data.entry(index.pack_offset_at_index(entry_index)).map_err(|err| corrupt(&err))?;
        // Bases of REF_DELTA entries are looked up in the same pack (a local pack is never thin).
        let resolve = |base: &gix::oid, _out: &mut Vec<u8>| {
            Ok(index.lookup(base).and_then(|i| data.entry(index.pack_offset_at_index(i)).ok()).map(pack::data::decode::entry::ResolvedBase::InPack))
        };
        buf.clear();
        let mut inflate = gix::zlib::Inflate::default();
        data.decode_entry(entry, buf, &mut inflate, &resolve, &mut pack::cache::Never).map_err(|err| corrupt(&err))?;
        return Ok(true);
    }
    Ok(false)
}

fn is_allocation_failure(err: &dyn std::error::Error) -> bool {
    let text = crate::error_chain(err).to_lowercase();
    text.contains("alloc") || text.contains("out of memory") || text.contains("resource exhaust")
}

fn load_indices(object_dirs: &[PathBuf], hash: gix::hash::Kind) -> Vec<(pack::index::File, PathBuf)> {
    let mut out = Vec::new();
    for dir in object_dirs {
        let Ok(entries) = std::fs::read_dir(dir.join("pack")) else { continue };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "idx")).collect();
        paths.sort();
        for idx in paths {
            let pack_path = idx.with_extension("pack");
            if let (Ok(index), true) = (pack::index::File::at(&idx, hash), pack_path.is_file()) {
                out.push((index, pack_path));
            }
        }
    }
    out
}

/// Inflates a zlib stream read from `rd`.
struct Inflate<R> {
    rd: R,
    state: gix::zlib::Decompress,
}

impl<R: BufRead> Read for Inflate<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        gix::zlib::stream::inflate::read(&mut self.rd, &mut self.state, buf)
    }
}

/// A loose object: its header (`<kind> <size>\0`) is checked against `size`, the rest streamed.
fn loose_stream(file: std::fs::File, size: u64) -> Result<Box<dyn Read>, ReadError> {
    let mut inflate = Inflate { rd: BufReader::with_capacity(64 << 10, file), state: gix::zlib::Decompress::new() };
    let mut header = Vec::with_capacity(32);
    let mut byte = [0u8; 1];
    loop {
        match inflate.read(&mut byte) {
            Ok(1) if byte[0] == 0 => break,
            Ok(1) if header.len() < 64 => header.push(byte[0]),
            Ok(_) => return Err(ReadError::Corrupt("the loose object has no valid header".into())),
            Err(err) => return Err(ReadError::Corrupt(format!("cannot inflate the loose object: {err}"))),
        }
    }
    let declared = header.rsplit(|&c| c == b' ').next().and_then(|n| std::str::from_utf8(n).ok()).and_then(|n| n.parse::<u64>().ok());
    if declared != Some(size) {
        return Err(ReadError::Corrupt(format!("the loose object's header '{}' does not match its size {size}", String::from_utf8_lossy(&header))));
    }
    Ok(Box::new(inflate))
}

/// An undeltified pack entry, inflated from the mapped pack.
struct PackStream {
    data: pack::data::File,
    start: u64,
    inflated: Option<(u64, gix::zlib::Decompress)>,
}

impl Read for PackStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let end = self.data.pack_end() as u64;
        let (consumed, state) = self.inflated.get_or_insert_with(|| (0, gix::zlib::Decompress::new()));
        let Some(mut input) = self.data.entry_slice(self.start + *consumed..end) else {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "pack entry beyond the pack data"));
        };
        let before = input.len();
        let n = gix::zlib::stream::inflate::read(&mut input, state, buf)?;
        *consumed += (before - input.len()) as u64;
        Ok(n)
    }
}

/// A stream that hashes what it yields and fails at its end when that is not `expected`.
struct Verifying {
    inner: Box<dyn Read>,
    hasher: gix::hash::Hasher,
    expected: ObjectId,
    done: bool,
}

impl Read for Verifying {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        if n == 0 && !buf.is_empty() && !self.done {
            self.done = true;
            let hasher = std::mem::replace(&mut self.hasher, gix::hash::hasher(self.expected.kind()));
            let actual = hasher.try_finalize().map_err(io::Error::other)?;
            if actual != self.expected {
                return Err(io::Error::other(format!("object hash mismatch: its content hashes to {actual} (libgit2 and Nix refuse it)")));
            }
        }
        Ok(n)
    }
}

impl ReadError {
    /// One line for an error message.
    pub fn describe(&self) -> String {
        match self {
            ReadError::Missing => "the object is missing".into(),
            ReadError::Corrupt(reason) => reason.clone(),
            ReadError::OutOfMemory { size } => format!("out of memory: the object needs {size} bytes"),
            ReadError::HashMismatch { actual } => {
                format!("object hash mismatch: its content hashes to {actual} (git and libgit2 refuse it; the repository is corrupt, try git fsck)")
            }
        }
    }
}
