//! Property test of the two `.gitattributes` parsers on a generated corpus
//! (`fixtures/gen-attributes.py`, seed and size from `fixtures/attributes-modern.json`):
//! - legacy: every attribute decision (`export-ignore`, `text`, `eol`, for files and for
//!   directories) equals `git check-attr --cached` on the commit's tree read into an index (what
//!   `git archive` reads), and the whole export equals `git archive | tar -x` hashed;
//! - modern: the export equals Nix 2.26's, recorded by `fixtures/record-attributes-modern.sh`.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use fetchgit_date::export::attributes::{git as git_attributes, Value};
use serde_json::Value as Json;
use support::*;

const DIRS: [&str; 6] = ["d/", "d/e/", "dir/", "tests/", "tests/u/", ".hidden/"];
const FILES: [&str; 18] = [
    "a",
    "b.c",
    "a b",
    "sp ace",
    "sp\\",
    "\"q",
    "x",
    "neg",
    "k.txt",
    "K.TXT",
    "d/x.c",
    "d/e/y",
    "d/e/z.txt",
    "d/a",
    "dir/w",
    "tests/t",
    "tests/u/v.c",
    ".hidden",
];
const NAMES: [&str; 3] = ["export-ignore", "text", "eol"];

fn recording() -> &'static Json {
    static REC: OnceLock<Json> = OnceLock::new();
    REC.get_or_init(|| {
        let text = std::fs::read_to_string(project_root().join("fixtures/attributes-modern.json"))
            .expect("fixtures/attributes-modern.json: run fixtures/record-attributes-modern.sh");
        serde_json::from_str(&text).expect("JSON")
    })
}

/// The corpus: a bare repository and its (branch, commit) cases.
fn corpus() -> &'static (PathBuf, Vec<(String, String)>) {
    static CORPUS: OnceLock<(PathBuf, Vec<(String, String)>)> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let header = &recording()["header"];
        let (seed, count) = (header["seed"].to_string(), header["count"].to_string());
        let dir = fixtures().scratch("attributes-corpus").join("corpus.git");
        if dir.exists() {
            std::fs::remove_dir_all(&dir).expect("remove an old corpus");
        }
        run_ok(isolate(Command::new("git").args(["init", "-q", "--bare"]).arg(&dir)));
        let out = run_ok(isolate(Command::new("python3").arg(project_root().join("fixtures/gen-attributes.py")).args([&seed, &count]).arg(&dir)));
        let cases: Vec<(String, String)> = out
            .lines()
            .map(|l| {
                let (b, c) = l.split_once(' ').expect("branch commit");
                (b.to_owned(), c.to_owned())
            })
            .collect();
        assert_eq!(cases.len().to_string(), count, "the generator made every case");
        (dir, cases)
    })
}

fn blob(repo: &Path, rev: &str, path: &str) -> Option<Vec<u8>> {
    let out = isolate(Command::new("git").arg("-C").arg(repo).args(["cat-file", "blob", &format!("{rev}:{path}")])).output().expect("git cat-file");
    out.status.success().then_some(out.stdout)
}

/// `git check-attr --cached` on the commit's tree loaded into a temporary index.
fn git_check_attr(repo: &Path, rev: &str, index: &Path, paths: &[String]) -> BTreeMap<(String, String), Value> {
    // isolate() removes GIT_INDEX_FILE: set it after.
    run_ok(isolate(&mut Command::new("git")).env("GIT_INDEX_FILE", index).arg("-C").arg(repo).args(["read-tree", rev]));
    let mut cmd = Command::new("git");
    isolate(&mut cmd).env("GIT_INDEX_FILE", index).arg("-C").arg(repo).args(["check-attr", "--cached", "-z"]).args(NAMES).arg("--").args(paths);
    let out = cmd.output().expect("git check-attr");
    assert!(out.status.success(), "git check-attr: {}", String::from_utf8_lossy(&out.stderr));
    let fields: Vec<&[u8]> = out.stdout.split(|&c| c == 0).collect();
    let mut values = BTreeMap::new();
    for triple in fields.chunks(3).filter(|c| c.len() == 3) {
        let path = String::from_utf8_lossy(triple[0]).into_owned();
        let name = String::from_utf8_lossy(triple[1]).into_owned();
        let value = match triple[2] {
            b"set" => Value::Set,
            b"unset" => Value::Unset,
            b"unspecified" => Value::Unspecified,
            other => Value::Value(other.into()),
        };
        values.insert((path, name), value);
    }
    values
}

/// Our git-dialect decisions for `path`, with the stack of the directories above it.
fn ours(repo: &Path, rev: &str, path: &str) -> [Value; 3] {
    let mut attributes = git_attributes::GitAttributes::new(git_attributes::Frame::default(), false);
    let parent = path.trim_end_matches('/').rsplit_once('/').map_or("", |(dir, _)| dir);
    let mut dirs = vec![String::new()];
    let mut acc = String::new();
    for part in parent.split('/').filter(|p| !p.is_empty()) {
        if !acc.is_empty() {
            acc.push('/');
        }
        acc.push_str(part);
        dirs.push(acc.clone());
    }
    for dir in dirs {
        let file = if dir.is_empty() { ".gitattributes".to_owned() } else { format!("{dir}/.gitattributes") };
        let frame = blob(repo, rev, &file).map(|bytes| git_attributes::parse_blob(dir.as_bytes().into(), &bytes)).unwrap_or_default();
        attributes.push(frame);
    }
    attributes.check(path.as_bytes().into(), NAMES)
}

#[test]
fn legacy_decisions_match_git_check_attr_and_git_archive() {
    let (repo, cases) = corpus();
    let scratch = fixtures().scratch("attributes-legacy");
    let index = scratch.join("index");
    let paths: Vec<String> = FILES.iter().chain(DIRS.iter()).map(|p| (*p).to_owned()).collect();
    let (mut checked, mut diffs) = (0, Vec::new());
    for (branch, rev) in cases {
        let expected = git_check_attr(repo, rev, &index, &paths);
        for path in &paths {
            let got = ours(repo, rev, path);
            for (name, value) in NAMES.iter().zip(got) {
                checked += 1;
                let want = expected.get(&(path.clone(), (*name).to_owned())).cloned().unwrap_or(Value::Unspecified);
                if value != want {
                    let attrs = blob(repo, rev, ".gitattributes").unwrap_or_default();
                    diffs.push(format!("{branch} '{path}' {name}: ours {value:?}, git {want:?}; .gitattributes {:?}", String::from_utf8_lossy(&attrs)));
                }
            }
        }
        // The whole export: git archive, unpacked, hashed as Nix 2.8 does.
        let out = scratch.join("out");
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(&out).expect("mkdir");
        let tar = isolate(Command::new("git").arg("-C").arg(repo).args(["archive", "--format=tar", rev])).output().expect("git archive");
        assert!(tar.status.success());
        std::fs::write(scratch.join("a.tar"), &tar.stdout).expect("write tar");
        run_ok(Command::new("tar").arg("-xf").arg(scratch.join("a.tar")).arg("-C").arg(&out));
        let (hash, _) = nixstore::nar::hash_path(&out).expect("hash the unpacked archive");
        checked += 1;
        match try_bin_json(&["fetch", "--no-store", "--compat", "legacy", "--all-refs", "--url", repo.to_str().expect("utf-8"), "--rev", rev]) {
            Ok(attrs) if attrs["narHash"] == hash.to_sri() => {}
            Ok(attrs) => diffs.push(format!("{branch}: legacy narHash {} vs git archive {}", attrs["narHash"], hash.to_sri())),
            Err(e) => diffs.push(format!("{branch}: {e}")),
        }
    }
    assert_no_diffs("legacy .gitattributes decisions vs git", checked, &diffs);
}

#[test]
fn modern_exports_match_recorded_nix_2_26() {
    let (repo, cases) = corpus();
    let recorded = &recording()["cases"];
    let (mut checked, mut diffs) = (0, Vec::new());
    for (branch, rev) in cases {
        let entry = &recorded[branch];
        assert_eq!(entry["rev"].as_str(), Some(rev.as_str()), "{branch}: the corpus changed; re-run fixtures/record-attributes-modern.sh");
        checked += 1;
        let ours = try_bin_json(&["fetch", "--no-store", "--compat", "modern", "--url", repo.to_str().expect("utf-8"), "--rev", rev]);
        match (&entry["result"], ours) {
            (Json::String(want), Ok(attrs)) if attrs["narHash"] == *want => {}
            (Json::Object(err), Err(_)) if err.contains_key("error") => {}
            (want, got) => {
                let attrs = blob(repo, rev, ".gitattributes").unwrap_or_default();
                diffs.push(format!("{branch}: Nix 2.26 {want}, ours {got:?}; .gitattributes {:?}", String::from_utf8_lossy(&attrs)));
            }
        }
    }
    assert_no_diffs("modern exports of the .gitattributes corpus vs recorded Nix 2.26", checked, &diffs);
}
