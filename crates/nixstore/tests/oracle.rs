//! Compare this crate against real Nix 2.8 (`nix-store`, `nix-hash`, `nix-instantiate`).
//!
//! Under `CI=true` these tests fail when Nix is missing; elsewhere they print a notice and
//! return, so a developer without Nix can still run the rest of the suite.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use nixstore::hash::NixHash;
use nixstore::nar::{dump_path, hash_path};
use nixstore::nixbase32;
use nixstore::store_path::{build_ca_path, StorePath, StorePathName, DEFAULT_STORE_DIR};

// The one policy for a missing Nix or privilege, shared with the workspace's end-to-end tests.
#[path = "../../../tests/support/prerequisite.rs"]
#[allow(dead_code)]
mod prerequisite;
use prerequisite::require_nix;

/// Run a Nix command (arguments passed directly, never through a shell) and return stdout.
fn nix(program: &str, args: &[&OsStr]) -> Vec<u8> {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(out.status.success(), "{program} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn nix_line(program: &str, args: &[&OsStr]) -> String {
    String::from_utf8(nix(program, args)).expect("Nix prints UTF-8 here").trim_end().to_owned()
}

fn write(path: &Path, contents: &[u8], mode: u32) {
    fs::write(path, contents).expect("write test file");
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod test file");
}

/// Build a tree named `source` exercising every NAR feature and ordering corner.
fn build_tree(root: &Path) -> PathBuf {
    let src = root.join("source");
    fs::create_dir_all(src.join("foo/deeper/dir")).expect("mkdir");
    fs::create_dir_all(src.join("foo/deeper/emptysub")).expect("mkdir");
    fs::create_dir(src.join("emptydir")).expect("mkdir");
    // Git order would be foo.c < foo/ < foo0; NAR order is foo < foo- < foo.c < foo0.
    write(&src.join("foo.c"), b"int main() {}\n", 0o644);
    write(&src.join("foo0"), b"zero", 0o644);
    write(&src.join("foo-"), b"dash", 0o644);
    write(&src.join("foo/bar"), b"#!/bin/sh\necho bar\n", 0o755);
    write(&src.join("foo/deeper/dir/file"), b"deep", 0o600);
    write(&src.join("exec.sh"), b"#!/bin/sh\n", 0o755);
    write(&src.join("only-user-exec"), b"u+x", 0o744);
    write(&src.join("not-user-exec"), b"g+x o+x only", 0o655);
    write(&src.join("empty"), b"", 0o644);
    write(&src.join("empty-exec"), b"", 0o755);
    write(&src.join("with space"), b"spaces", 0o644);
    write(&src.join("ünïcödé 名前"), "unicode ✓".as_bytes(), 0o644);
    write(&src.join("UPPER"), b"upper sorts before lower", 0o644);
    write(&src.join(".hidden"), b"dotfile", 0o644);
    write(&src.join("line\nbreak"), b"newline in name", 0o644);
    write(&src.join(OsStr::from_bytes(b"not-utf8-\xff\xfe")), b"bytes", 0o644);
    for len in 1..=9 {
        write(&src.join(format!("pad{len}")), &vec![b'p'; len], 0o644);
    }
    // > 1 MiB, not a multiple of 8, pseudo-random so it does not compress to a pattern.
    let mut state = 0x9e37_79b9_u32;
    let big: Vec<u8> = (0..(3 << 19) + 3)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    write(&src.join("big.bin"), &big, 0o644);
    symlink("foo.c", src.join("link")).expect("symlink");
    symlink("does/not/exist", src.join("dangling")).expect("symlink");
    symlink("/etc/passwd", src.join("absolute")).expect("symlink");
    symlink("foo", src.join("dirlink")).expect("symlink");
    symlink("../foo.c", src.join("foo/link-up")).expect("symlink");
    symlink("ziel ✓", src.join("unicode-target")).expect("symlink");
    src
}

#[test]
fn dump_path_matches_nix_store_dump() {
    if !require_nix("dump_path_matches_nix_store_dump") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = build_tree(tmp.path());
    let expected = nix("nix-store", &["--dump".as_ref(), src.as_os_str()]);
    let mut ours = Vec::new();
    dump_path(&src, &mut ours).expect("dump_path");
    assert!(ours.len() > 3 << 19, "the tree holds a big file");
    assert!(ours == expected, "NAR differs from `nix-store --dump` ({} vs {} bytes)", ours.len(), expected.len());

    // A regular file and a symlink at the root as well.
    for single in [src.join("exec.sh"), src.join("big.bin"), src.join("dangling")] {
        let expected = nix("nix-store", &["--dump".as_ref(), single.as_os_str()]);
        let mut ours = Vec::new();
        dump_path(&single, &mut ours).expect("dump_path");
        assert!(ours == expected, "NAR of {single:?} differs from `nix-store --dump`");
    }
}

#[test]
fn hash_path_matches_nix_hash() {
    if !require_nix("hash_path_matches_nix_hash") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = build_tree(tmp.path());
    let (hash, size) = hash_path(&src).expect("hash_path");
    let base32 = nix_line("nix-hash", &["--type".as_ref(), "sha256".as_ref(), "--base32".as_ref(), src.as_os_str()]);
    let hex = nix_line("nix-hash", &["--type".as_ref(), "sha256".as_ref(), src.as_os_str()]);
    assert_eq!(hash.to_nix_base32(), base32);
    assert_eq!(hash.to_hex(), hex);
    assert_eq!(NixHash::parse(&base32), Ok(hash));
    assert_eq!(NixHash::parse(&hex), Ok(hash));
    let dumped = nix("nix-store", &["--dump".as_ref(), src.as_os_str()]);
    assert_eq!(size, dumped.len() as u64);
}

#[test]
fn build_ca_path_matches_nix_store_add_fixed() {
    if !require_nix("build_ca_path_matches_nix_store_add_fixed") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = build_tree(tmp.path());
    // Also the reference doc's smallest cases, through real Nix.
    let empty = tmp.path().join("empty").join("source");
    fs::create_dir_all(&empty).expect("mkdir");
    let with_x = tmp.path().join("with-x").join("source");
    fs::create_dir_all(&with_x).expect("mkdir");
    fs::write(with_x.join("x"), "foo\n").expect("write");
    for dir in [src, empty, with_x] {
        let printed = nix_line("nix-store", &["--add-fixed".as_ref(), "--recursive".as_ref(), "sha256".as_ref(), dir.as_os_str()]);
        let (hash, _) = hash_path(&dir).expect("hash_path");
        let name = StorePathName::new("source").expect("valid name");
        let ours = build_ca_path(&name, &hash, DEFAULT_STORE_DIR);
        assert_eq!(ours.to_absolute_path(DEFAULT_STORE_DIR), printed, "{dir:?}");
        assert_eq!(StorePath::from_absolute_path(&printed, DEFAULT_STORE_DIR), Ok(ours));
    }
}

#[test]
fn nixbase32_matches_nix_hash_to_base32() {
    if !require_nix("nixbase32_matches_nix_hash_to_base32") {
        return;
    }
    let mut state = 7_u64;
    let mut digests = vec![[0u8; 32], [0xff; 32]];
    for _ in 0..6 {
        let mut d = [0u8; 32];
        for b in &mut d {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            *b = (state >> 56) as u8;
        }
        digests.push(d);
    }
    let hexes: Vec<String> = digests.iter().map(|d| NixHash::Sha256(*d).to_hex()).collect();
    let mut args: Vec<&OsStr> = vec!["--type".as_ref(), "sha256".as_ref(), "--to-base32".as_ref()];
    args.extend(hexes.iter().map(OsStr::new));
    let printed = String::from_utf8(nix("nix-hash", &args)).expect("UTF-8");
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), digests.len());
    for (digest, line) in digests.iter().zip(lines) {
        assert_eq!(nixbase32::encode(digest), line);
        assert_eq!(nixbase32::decode(line).expect("Nix output decodes"), digest);
    }
}

#[test]
fn store_path_names_match_nix() {
    if !require_nix("store_path_names_match_nix") {
        return;
    }
    let long_ok = "a".repeat(211);
    let long_bad = "a".repeat(212);
    // No `"`, `\` or `${` in these: they are embedded in a Nix string literal.
    let names = [
        "source",
        ".",
        "..",
        ".foo",
        "-foo",
        ".-",
        "?=+_",
        "A.b-C",
        "",
        "a b",
        "é",
        "a/b",
        "a~",
        "a:b",
        "a@b",
        "a,b",
        "a*",
        long_ok.as_str(),
        long_bad.as_str(),
    ];
    for name in names {
        let out =
            Command::new("nix-instantiate").args(["--eval", "--expr"]).arg(format!("builtins.toFile \"{name}\" \"x\"")).output().expect("run nix-instantiate");
        let nix_accepts = out.status.success();
        assert_eq!(
            StorePathName::new(name).is_ok(),
            nix_accepts,
            "name {name:?}: Nix says {}",
            String::from_utf8_lossy(if nix_accepts { &out.stdout } else { &out.stderr }).trim()
        );
        if nix_accepts {
            let printed = String::from_utf8(out.stdout).expect("UTF-8");
            let path = printed.trim().trim_matches('"');
            let parsed = StorePath::from_absolute_path(path, DEFAULT_STORE_DIR).expect("Nix's path parses");
            assert_eq!(parsed.name().as_str(), name);
            assert_eq!(parsed.to_absolute_path(DEFAULT_STORE_DIR), path);
        }
    }
}
