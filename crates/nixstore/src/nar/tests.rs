use std::fs;
use std::io;
use std::os::unix::fs::{symlink, PermissionsExt};

use super::writer::{self, Error};
use super::{dump_path, hash_path, DumpError};
use crate::hash::{sha256, NixHash};

/// Reference doc vectors (from Nix).
const EMPTY_DIR: &str = "sha256-pQpattmS9VmO3ZIQUFn66az8GSmB4IvYhTTCFn6SUmo=";
const DIR_WITH_X: &str = "sha256-wzlAGjxKxpaWdqVhlq55q5Gxo4Bf860+kLeEa/v02As=";

fn writer_error(e: &io::Error) -> &Error {
    e.get_ref().and_then(|inner| inner.downcast_ref::<Error>()).unwrap_or_else(|| panic!("not a NAR writer error: {e:?}"))
}

/// Hand-built expected NAR token stream, independent of the writer's helpers.
fn tokens(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(&(p.len() as u64).to_le_bytes());
        out.extend_from_slice(p);
        while out.len() % 8 != 0 {
            out.push(0);
        }
    }
    out
}

#[test]
fn empty_directory_vector() {
    let mut nar = Vec::new();
    writer::open(&mut nar).expect("vec").directory().expect("vec").close().expect("vec");
    assert_eq!(sha256(&nar).to_sri(), EMPTY_DIR);
    assert_eq!(nar, tokens(&[b"nix-archive-1", b"(", b"type", b"directory", b")"]));
    assert_eq!(nar.len(), 96); // `nix-store --dump EMPTYDIR | wc -c` (Nix 2.8)
}

#[test]
fn directory_with_file_vector() {
    let mut nar = Vec::new();
    let mut dir = writer::open(&mut nar).expect("vec").directory().expect("vec");
    dir.entry(b"x").expect("valid").file(false, 4, &mut &b"foo\n"[..]).expect("exact size");
    dir.close().expect("complete");
    assert_eq!(sha256(&nar).to_sri(), DIR_WITH_X);
}

#[test]
fn file_symlink_and_executable_layout() {
    let mut nar = Vec::new();
    let mut dir = writer::open(&mut nar).expect("vec").directory().expect("vec");
    dir.entry(b"a").expect("ok").file(true, 0, &mut io::empty()).expect("ok");
    dir.entry(b"b").expect("ok").symlink(b"/dangling").expect("ok");
    let mut sub = dir.entry(b"c").expect("ok").directory().expect("ok");
    sub.entry(b"d").expect("ok").file(false, 9, &mut &b"123456789"[..]).expect("ok");
    sub.close().expect("ok");
    dir.close().expect("ok");
    #[rustfmt::skip]
    let expected = tokens(&[
        b"nix-archive-1", b"(", b"type", b"directory",
        b"entry", b"(", b"name", b"a", b"node",
            b"(", b"type", b"regular", b"executable", b"", b"contents", b"", b")",
        b")",
        b"entry", b"(", b"name", b"b", b"node",
            b"(", b"type", b"symlink", b"target", b"/dangling", b")",
        b")",
        b"entry", b"(", b"name", b"c", b"node",
            b"(", b"type", b"directory",
            b"entry", b"(", b"name", b"d", b"node",
                b"(", b"type", b"regular", b"contents", b"123456789", b")",
            b")",
            b")",
        b")",
        b")",
    ]);
    assert_eq!(nar, expected);
}

#[test]
fn root_file_and_symlink() {
    let mut nar = Vec::new();
    writer::open(&mut nar).expect("vec").file(false, 3, &mut &b"abc"[..]).expect("ok");
    assert_eq!(nar, tokens(&[b"nix-archive-1", b"(", b"type", b"regular", b"contents", b"abc", b")"]));
    let mut nar = Vec::new();
    writer::open(&mut nar).expect("vec").symlink(b"t").expect("ok");
    assert_eq!(nar, tokens(&[b"nix-archive-1", b"(", b"type", b"symlink", b"target", b"t", b")"]));
}

#[test]
fn invalid_names_are_refused_and_stop_writing() {
    for bad in [&b""[..], b".", b"..", b"a/b", b"/", b"nul\0byte"] {
        let mut nar = Vec::new();
        let mut dir = writer::open(&mut nar).expect("vec").directory().expect("vec");
        let err = dir.entry(bad).expect_err("invalid name");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(matches!(writer_error(&err), Error::InvalidName { name, .. } if name.as_bytes() == bad), "{err}");
        assert!(err.to_string().contains(&format!("{:?}", String::from_utf8_lossy(bad))));
        // Nothing more is accepted, so a caller that ignores the error cannot produce a NAR.
        assert!(matches!(writer_error(&dir.entry(b"zzz").expect_err("poisoned")), Error::Poisoned { .. }));
        assert!(matches!(writer_error(&dir.close().expect_err("poisoned")), Error::Poisoned { .. }));
        assert_eq!(nar, tokens(&[b"nix-archive-1", b"(", b"type", b"directory"]));
    }
}

#[test]
fn out_of_order_and_duplicate_entries_are_refused() {
    // Git order (`foo.c` < `foo/` < `foo0` with `foo` a tree) is not NAR order: `foo` < `foo.c` < `foo0`.
    for (first, second) in [(&b"foo.c"[..], &b"foo"[..]), (b"b", b"a"), (b"a", b"a"), (b"a", b"B")] {
        let mut nar = Vec::new();
        let mut dir = writer::open(&mut nar).expect("vec").directory().expect("vec");
        dir.entry(first).expect("first").symlink(b"t").expect("ok");
        let err = dir.entry(second).expect_err("out of order");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        match writer_error(&err) {
            Error::OutOfOrder { previous, name } => {
                assert_eq!(previous.as_bytes(), first);
                assert_eq!(name.as_bytes(), second);
            }
            other => panic!("{other:?}"),
        }
        assert!(dir.close().is_err());
        // Nothing was written for the refused entry or the refused close.
        let mut expected = Vec::new();
        let mut good = writer::open(&mut expected).expect("vec").directory().expect("vec");
        good.entry(first).expect("first").symlink(b"t").expect("ok");
        drop(good);
        assert_eq!(nar, expected);
    }
    // Bytewise order is accepted, including non-UTF-8 and bytes >= 0x80.
    let mut nar = Vec::new();
    let mut dir = writer::open(&mut nar).expect("vec").directory().expect("vec");
    for name in [&b"B"[..], b"a", b"foo", b"foo.c", b"foo0", b"\xc3\xa9", b"\xff"] {
        dir.entry(name).expect("increasing").symlink(b"t").expect("ok");
    }
    dir.close().expect("ok");
}

#[test]
fn short_and_long_readers_are_refused() {
    let mut nar = Vec::new();
    let mut dir = writer::open(&mut nar).expect("vec").directory().expect("vec");
    let err = dir.entry(b"f").expect("ok").file(false, 10, &mut &b"12345"[..]).expect_err("short");
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    assert_eq!(writer_error(&err), &Error::ShortFile { expected: 10, actual: 5 });
    assert!(matches!(writer_error(&dir.entry(b"g").expect_err("poisoned")), Error::Poisoned { name } if name == "f"));
    assert!(dir.close().is_err());

    let mut nar = Vec::new();
    let mut dir = writer::open(&mut nar).expect("vec").directory().expect("vec");
    let err = dir.entry(b"f").expect("ok").file(false, 3, &mut &b"12345"[..]).expect_err("long");
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(writer_error(&err), &Error::LongFile { expected: 3 });
    assert!(dir.close().is_err());

    // At the root too.
    let mut nar = Vec::new();
    let err = writer::open(&mut nar).expect("vec").file(true, 1, &mut io::empty()).expect_err("short");
    assert_eq!(writer_error(&err), &Error::ShortFile { expected: 1, actual: 0 });
}

#[test]
fn dropped_nodes_and_directories_are_detected() {
    let mut nar = Vec::new();
    let mut dir = writer::open(&mut nar).expect("vec").directory().expect("vec");
    drop(dir.entry(b"a").expect("ok"));
    let err = dir.entry(b"b").expect_err("a was dropped");
    assert_eq!(writer_error(&err), &Error::Unfinished { name: "a".into() });
    assert!(err.to_string().contains("\"a\""), "{err}");
    assert!(dir.close().is_err());

    let mut nar = Vec::new();
    let mut dir = writer::open(&mut nar).expect("vec").directory().expect("vec");
    drop(dir.entry(b"a").expect("ok"));
    assert!(matches!(writer_error(&dir.close().expect_err("a was dropped")), Error::Unfinished { .. }));

    // A subdirectory dropped without close(), even after writing entries.
    let mut nar = Vec::new();
    let mut dir = writer::open(&mut nar).expect("vec").directory().expect("vec");
    let mut sub = dir.entry(b"sub").expect("ok").directory().expect("ok");
    sub.entry(b"x").expect("ok").symlink(b"t").expect("ok");
    drop(sub);
    assert_eq!(writer_error(&dir.close().expect_err("sub not closed")), &Error::Unfinished { name: "sub".into() });
}

#[test]
fn errors_deep_inside_poison_every_ancestor() {
    let mut nar = Vec::new();
    let mut top = writer::open(&mut nar).expect("vec").directory().expect("vec");
    let mut mid = top.entry(b"mid").expect("ok").directory().expect("ok");
    let mut low = mid.entry(b"low").expect("ok").directory().expect("ok");
    assert!(low.entry(b"..").is_err());
    // Even if the caller ignores the error and closes the inner directories...
    assert!(low.close().is_err());
    assert!(mid.close().is_err());
    assert!(matches!(writer_error(&top.close().expect_err("poisoned")), Error::Poisoned { name } if name == "mid"));
}

#[derive(Debug)]
struct FailingWriter;
impl io::Write for FailingWriter {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::other("disk full"))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn io_errors_pass_through() {
    let err = writer::open(&mut FailingWriter).expect_err("cannot write");
    assert_eq!(err.to_string(), "disk full");
}

// ---- dump_path / hash_path on small trees (the real-Nix comparison is in tests/oracle.rs)

#[test]
fn dump_path_vectors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("source");
    fs::create_dir(&dir).expect("mkdir");
    assert_eq!(hash_path(&dir).expect("dump").0, NixHash::parse(EMPTY_DIR).expect("vector"));
    fs::write(dir.join("x"), "foo\n").expect("write");
    let (hash, size) = hash_path(&dir).expect("dump");
    assert_eq!(hash.to_sri(), DIR_WITH_X);
    let mut nar = Vec::new();
    dump_path(&dir, &mut nar).expect("dump");
    assert_eq!(size, nar.len() as u64);
    assert_eq!(sha256(&nar), hash);
}

#[test]
fn dump_path_records_only_owner_exec_bit_and_sorts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    for (name, mode) in [("b", 0o644), ("a", 0o700), ("c", 0o655)] {
        fs::write(root.join(name), name).expect("write");
        fs::set_permissions(root.join(name), fs::Permissions::from_mode(mode)).expect("chmod");
    }
    symlink("nowhere", root.join("d")).expect("symlink");
    let mut nar = Vec::new();
    dump_path(root, &mut nar).expect("dump");
    let mut expected = Vec::new();
    let mut dir = writer::open(&mut expected).expect("vec").directory().expect("vec");
    dir.entry(b"a").expect("ok").file(true, 1, &mut &b"a"[..]).expect("ok");
    dir.entry(b"b").expect("ok").file(false, 1, &mut &b"b"[..]).expect("ok");
    dir.entry(b"c").expect("ok").file(false, 1, &mut &b"c"[..]).expect("ok");
    dir.entry(b"d").expect("ok").symlink(b"nowhere").expect("ok");
    dir.close().expect("ok");
    assert_eq!(nar, expected);
}

#[test]
fn dump_path_errors_name_the_path() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let missing = tmp.path().join("missing");
    let err = hash_path(&missing).expect_err("missing");
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    assert!(err.to_string().contains("missing"), "{err}");
    assert!(matches!(err.get_ref().and_then(|e| e.downcast_ref::<DumpError>()), Some(DumpError::Io { .. })));

    let fifo = tmp.path().join("fifo");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status().expect("run mkfifo");
    assert!(status.success());
    let err = hash_path(tmp.path()).expect_err("fifo");
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("fifo"), "{err}");
}

#[test]
fn changed_file_is_reported_with_its_path() {
    // Files in /proc report size 0 to lstat but have contents: like a file that grew.
    let path = std::path::Path::new("/proc/version");
    let err = hash_path(path).expect_err("size changed");
    match err.get_ref().and_then(|e| e.downcast_ref::<DumpError>()) {
        Some(DumpError::Changed { path: p, source }) => {
            assert_eq!(p, path);
            assert_eq!(writer_error(source), &Error::LongFile { expected: 0 });
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("/proc/version"), "{err}");
}

mod flat_writer {
    use super::*;
    use crate::nar::flat::Writer;

    /// A small tree described in archive order, written by both writers.
    enum Node {
        File(bool, &'static [u8]),
        Link(&'static [u8]),
        Dir(Vec<(&'static [u8], Node)>),
    }

    fn nested(node: &Node, out: writer::Node<'_, Vec<u8>>) -> io::Result<()> {
        match node {
            Node::File(x, c) => out.file(*x, c.len() as u64, &mut &c[..]),
            Node::Link(t) => out.symlink(t),
            Node::Dir(entries) => {
                let mut dir = out.directory()?;
                for (name, child) in entries {
                    nested(child, dir.entry(name)?)?;
                }
                dir.close()
            }
        }
    }

    fn flat(node: &Node, out: &mut Writer<Vec<u8>>) -> io::Result<()> {
        match node {
            Node::File(x, c) => out.file(*x, c.len() as u64, &mut &c[..]),
            Node::Link(t) => out.symlink(t),
            Node::Dir(entries) => {
                out.directory()?;
                for (name, child) in entries {
                    out.entry(name)?;
                    flat(child, out)?;
                }
                out.close_directory()
            }
        }
    }

    fn sample() -> Node {
        Node::Dir(vec![
            (b"a", Node::File(true, b"")),
            (b"b", Node::Link(b"../x")),
            (b"c", Node::Dir(vec![(b"d", Node::Dir(vec![])), (b"e", Node::Dir(vec![(b"f", Node::File(false, b"12345678901"))]))])),
            (b"z", Node::File(false, b"foo\n")),
        ])
    }

    #[test]
    fn writes_the_same_bytes_as_the_nested_writer() {
        for node in [sample(), Node::File(false, b"root"), Node::Link(b"t"), Node::Dir(vec![])] {
            let mut expected = Vec::new();
            nested(&node, writer::open(&mut expected).expect("vec")).expect("valid");
            let mut w = Writer::new(Vec::new()).expect("vec");
            flat(&node, &mut w).expect("valid");
            assert_eq!(w.finish().expect("complete"), expected);
        }
        let mut w = Writer::new(Vec::new()).expect("vec");
        flat(&Node::Dir(vec![(b"x", Node::File(false, b"foo\n"))]), &mut w).expect("valid");
        assert_eq!(sha256(&w.finish().expect("complete")).to_sri(), DIR_WITH_X);
    }

    #[test]
    fn a_deep_tree_needs_no_recursion() {
        let depth = 100_000;
        let mut w = Writer::new(io::sink()).expect("sink");
        w.directory().expect("root");
        for _ in 0..depth {
            w.entry(b"d").expect("entry");
            w.directory().expect("dir");
        }
        assert_eq!(w.depth(), depth + 1);
        for _ in 0..=depth {
            w.close_directory().expect("close");
        }
        w.finish().expect("complete");
    }

    fn err_of(r: io::Result<impl Sized>) -> Error {
        writer_error(&r.err().expect("an error")).clone()
    }

    #[test]
    fn refuses_misuse_and_stays_refused() {
        let mut w = Writer::new(Vec::new()).expect("vec");
        assert!(matches!(err_of(w.entry(b"x")), Error::OutOfSequence { call: "entry", .. }));
        assert!(matches!(err_of(w.directory()), Error::OutOfSequence { .. }), "poisoned after an error");

        let mut w = Writer::new(Vec::new()).expect("vec");
        w.directory().expect("root");
        w.entry(b"b").expect("b");
        w.file(false, 0, &mut io::empty()).expect("file");
        assert!(matches!(err_of(w.entry(b"a")), Error::OutOfOrder { .. }));

        let mut w = Writer::new(Vec::new()).expect("vec");
        w.directory().expect("root");
        assert!(matches!(err_of(w.entry(b"..")), Error::InvalidName { .. }));

        let mut w = Writer::new(Vec::new()).expect("vec");
        w.directory().expect("root");
        w.entry(b"x").expect("x");
        assert!(matches!(err_of(w.file(false, 5, &mut &b"abc"[..])), Error::ShortFile { expected: 5, actual: 3 }));
        assert!(matches!(err_of(w.close_directory()), Error::OutOfSequence { .. }));

        let mut w = Writer::new(Vec::new()).expect("vec");
        w.directory().expect("root");
        w.entry(b"x").expect("x");
        assert!(matches!(err_of(w.close_directory()), Error::OutOfSequence { .. }), "an entry needs its node");

        let mut w = Writer::new(Vec::new()).expect("vec");
        w.directory().expect("root");
        assert!(matches!(err_of(w.finish()), Error::OutOfSequence { call: "finish", .. }), "unclosed root");

        let mut w = Writer::new(Vec::new()).expect("vec");
        w.symlink(b"t").expect("root symlink");
        assert!(matches!(err_of(w.symlink(b"t")), Error::OutOfSequence { .. }), "one root only");
    }
}
