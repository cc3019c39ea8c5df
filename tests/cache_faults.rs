//! Fault tests: every kind of cache entry, and the cache repository of a remote, is damaged in
//! every way we can think of; the answer must still be right (compared with git and, for the
//! NAR hash, with Nix 2.8 live), with a warning naming the damaged entry, and the entry must be
//! good again afterwards. Also: a cache that cannot be written is still read, and a relative
//! `XDG_CACHE_HOME` is ignored.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use fetchgit_date::cache::{Cache, Table};
use support::*;

/// The boundary of the fetches here: mid-way through the fixture's 30 days.
const BOUNDARY: i64 = 1_600_000_000 + 12 * 86_400 + 3600;

struct Fixture {
    scratch: Scratch,
    /// A commit that is on no branch's history of `main`, older than the boundary.
    lone: String,
    /// A commit of `main` after the boundary.
    late: String,
}

fn fixture() -> Fixture {
    let scratch = Scratch::new();
    make_fixture(&scratch, 30);
    let work = scratch.dir.path().join("work");
    git(&work, &["checkout", "-q", "--orphan", "lone"]);
    std::fs::write(work.join("lone.txt"), "lone\n").expect("write");
    git(&work, &["add", "lone.txt"]);
    commit_at(&work, 1_500_000_000, "lone");
    git(&work, &["push", "-q", scratch.repo().to_str().expect("utf-8"), "lone"]);
    git(&work, &["checkout", "-q", "main"]);
    let lone = git(&scratch.repo(), &["rev-parse", "lone"]);
    let late = git(&scratch.repo(), &["rev-parse", "main"]);
    Fixture { scratch, lone, late }
}

fn fetch_args(url: &str) -> Vec<String> {
    ["fetch", "--no-store", "-q", "--compat", "legacy", "--ref", "main", "--date", &BOUNDARY.to_string(), "--url", url].iter().map(|s| s.to_string()).collect()
}

fn fetch(home: &Path, url: &str) -> std::process::Output {
    let args = fetch_args(url);
    run_bin_in(home, &args.iter().map(String::as_str).collect::<Vec<_>>(), &[])
}

fn table_dir(home: &Path, table: &str) -> PathBuf {
    home.join(".cache/fetchgit-date/v1").join(table)
}

fn only_entry(home: &Path, table: &str) -> PathBuf {
    let entries: Vec<PathBuf> = std::fs::read_dir(table_dir(home, table))
        .expect("table directory")
        .flatten()
        .map(|e| e.path())
        .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .collect();
    assert_eq!(entries.len(), 1, "{table}: {entries:?}");
    entries.into_iter().next().expect("one entry")
}

/// The attributes of the first fetch, with an empty cache, checked against git and Nix 2.8.
fn expected(f: &Fixture) -> serde_json::Value {
    let repo = f.scratch.repo();
    let ours = ok_json(&fetch(&f.scratch.home(), &repo.display().to_string()), "first fetch");
    let rev = git(&repo, &["rev-list", "-1", &format!("--before=@{BOUNDARY}"), "main"]);
    assert_eq!(ours["rev"], rev.as_str(), "truncation equals git rev-list -1 --before");
    let count: u64 = git(&repo, &["rev-list", "--count", &rev]).parse().expect("count");
    assert_eq!(ours["revCount"], count, "revCount equals git rev-list --count");
    if require_nix("cache_faults") {
        let nix = nix_fetchgit(&f.scratch, &format!("file://{}", repo.display()), &format!("ref = \"main\"; rev = \"{rev}\";"));
        assert_eq!(ours["narHash"], nix["narHash"], "narHash equals Nix 2.8's");
    }
    ours
}

fn entry_file(table: &str) -> &'static str {
    match table {
        "nar" => "nar",
        "revcount" => "revcount",
        _ => "truncation",
    }
}

/// One way to damage an entry file.
struct Damage {
    what: &'static str,
    apply: Box<dyn Fn(&Path)>,
}

fn byte_damages() -> Vec<Damage> {
    let flip = |at_from_start: bool| {
        Box::new(move |path: &Path| {
            let mut bytes = std::fs::read(path).expect("entry");
            let at = if at_from_start { 12.min(bytes.len() - 3) } else { bytes.len() - 4 };
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            std::fs::write(path, bytes).expect("write");
        }) as Box<dyn Fn(&Path)>
    };
    vec![
        Damage { what: "one character of the value changed", apply: flip(true) },
        Damage { what: "one character of the checksum changed", apply: flip(false) },
        Damage {
            what: "truncated",
            apply: Box::new(|path| {
                let bytes = std::fs::read(path).expect("entry");
                std::fs::write(path, &bytes[..bytes.len() / 3]).expect("write");
            }),
        },
        Damage { what: "empty", apply: Box::new(|path| std::fs::write(path, b"").expect("write")) },
        Damage { what: "binary garbage", apply: Box::new(|path| std::fs::write(path, [0u8, 0xff, 0x1b, b'\n', 0x07]).expect("write")) },
        Damage {
            what: "a FIFO",
            apply: Box::new(|path| {
                std::fs::remove_file(path).expect("remove");
                assert!(Command::new("mkfifo").arg(path).status().expect("mkfifo").success());
            }),
        },
        Damage {
            what: "a symbolic link to /dev/zero",
            apply: Box::new(|path| {
                std::fs::remove_file(path).expect("remove");
                std::os::unix::fs::symlink("/dev/zero", path).expect("symlink");
            }),
        },
        Damage {
            what: "a directory",
            apply: Box::new(|path| {
                std::fs::remove_file(path).expect("remove");
                std::fs::create_dir(path).expect("mkdir");
            }),
        },
    ]
}

/// Damages the entry of `table`, fetches again and checks the answer, the warning, and that the
/// entry is whole again (a third fetch warns about nothing).
fn check_recovers(f: &Fixture, expected: &serde_json::Value, table: &str, what: &str, damage: &dyn Fn(&Path)) {
    let home = f.scratch.home();
    let url = f.scratch.repo().display().to_string();
    let path = only_entry(&home, table);
    damage(&path);
    let out = fetch(&home, &url);
    assert_eq!(&ok_json(&out, &format!("{table}: {what}")), expected, "{table}: {what}: wrong answer");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning: cache entry") && stderr.contains(&path.display().to_string()), "{table}: {what}: no warning naming the entry: {stderr}");
    assert!(!stderr.chars().any(|c| c.is_control() && c != '\n'), "{table}: {what}: raw bytes in: {stderr:?}");
    let again = fetch(&home, &url);
    assert_eq!(&ok_json(&again, "after repair"), expected);
    assert!(String::from_utf8_lossy(&again.stderr).trim().is_empty(), "{table}: {what}: still warns: {}", String::from_utf8_lossy(&again.stderr));
}

#[test]
fn every_damaged_entry_is_detected_and_the_answer_stays_right() {
    let f = fixture();
    let expected = expected(&f);
    for table in ["nar", "revcount", "truncation"] {
        for damage in byte_damages() {
            check_recovers(&f, &expected, entry_file(table), damage.what, &*damage.apply);
        }
    }
}

/// Entries whose authenticator is right (written through the library, with this cache's secret)
/// but whose value is not: whatever can be checked without walking the history they skip is.
#[test]
fn whole_but_wrong_values_are_caught_where_they_can_be_checked() {
    let f = fixture();
    let expected = expected(&f);
    let home = f.scratch.home();
    let cache = Cache::at(home.join(".cache/fetchgit-date"));
    let key_of = |table: &str| only_entry(&home, table).file_name().expect("name").to_string_lossy().into_owned();
    let truncation_key = key_of("truncation");
    let revcount_key = key_of("revcount");
    let nar_key = key_of("nar");
    let rev = expected["rev"].as_str().expect("rev").to_owned();
    let root = git(&f.scratch.repo(), &["rev-list", "--max-parents=0", "main"]);
    let cases: Vec<(&str, Table, &str, String)> = vec![
        ("a commit after the boundary", Table::Truncation, &truncation_key, format!("{} 0", f.late)),
        ("a root fallback that is not a root", Table::Truncation, &truncation_key, format!("{rev} 1")),
        ("a root fallback although the root is before the boundary", Table::Truncation, &truncation_key, format!("{root} 1")),
        ("an object that is not a commit", Table::Truncation, &truncation_key, format!("{} 0", git(&f.scratch.repo(), &["rev-parse", "main^{tree}"]))),
        ("a commit that does not exist", Table::Truncation, &truncation_key, format!("{} 0", "1234567890".repeat(4))),
        ("not a value", Table::Truncation, &truncation_key, "hello".to_owned()),
        ("zero commits", Table::RevCount, &revcount_key, "0".to_owned()),
        ("not a number", Table::RevCount, &revcount_key, "12x".to_owned()),
        ("a size no NAR has", Table::Nar, &nar_key, format!("{} 7", expected["narHash"].as_str().expect("hash"))),
        ("not a hash", Table::Nar, &nar_key, "sha256-xyz 1024".to_owned()),
    ];
    for (what, table, key, value) in cases {
        let table_name = match table {
            Table::Nar => "nar",
            Table::RevCount => "revcount",
            Table::Truncation => "truncation",
        };
        check_recovers(&f, &expected, table_name, what, &|_| cache.put(table, key, &value));
    }
}

/// Forged truncation entries: a wrong commit with a valid public checksum (the unkeyed SHA-256
/// of the previous format, which anyone can compute), the same wrong commit in an entry made by
/// another cache (valid under that cache's secret), and, with a commit-graph, an entry this
/// cache made whose commit cannot be an ancestor of the start (a higher generation). Never
/// served: the answer stays git's, and the entry is replaced by a good one.
#[test]
fn forged_truncation_entries_are_recomputed() {
    let f = fixture();
    let repo = f.scratch.repo();
    // A child of main dated before the boundary: old enough, but no ancestor of main.
    let work = f.scratch.dir.path().join("work");
    git(&work, &["checkout", "-q", "-b", "skewed", "main"]);
    commit_at(&work, 1_500_000_000, "skewed");
    git(&work, &["push", "-q", repo.to_str().expect("utf-8"), "skewed"]);
    let skewed = git(&repo, &["rev-parse", "skewed"]);
    let expected = expected(&f);
    let home = f.scratch.home();
    let path = only_entry(&home, "truncation");
    let key = path.file_name().expect("name").to_string_lossy().into_owned();
    let wrong = format!("{} 0", f.lone);
    let good = std::fs::read_to_string(&path).expect("entry");

    let public_checksum = {
        let mut message = Vec::new();
        for part in ["fetchgit-date cache entry", "truncation", key.as_str(), wrong.as_str()] {
            message.extend_from_slice(part.as_bytes());
            message.push(0);
        }
        nixstore::hash::sha256(&message).to_hex()
    };
    std::fs::write(&path, format!("{wrong}\nsha256:{public_checksum}\n")).expect("write");
    assert_eq!(ok_json(&fetch(&home, &repo.display().to_string()), "public checksum"), expected, "an entry with the public checksum was served");
    assert_eq!(std::fs::read_to_string(&path).expect("entry"), good, "the forged entry was not replaced by the computed one");

    let other_home = tempfile::tempdir().expect("tempdir");
    let other = Cache::at(other_home.path());
    other.put(Table::Truncation, &key, &wrong);
    let copied = other_home.path().join("v1/truncation").join(&key);
    check_recovers(&f, &expected, "truncation", "an entry copied from another cache", &|path| {
        std::fs::copy(&copied, path).expect("copy");
    });

    git(&repo, &["commit-graph", "write", "--reachable"]);
    let cache = Cache::at(home.join(".cache/fetchgit-date"));
    check_recovers(&f, &expected, "truncation", "a later commit (higher generation), with a commit-graph", &|_| {
        cache.put(Table::Truncation, &key, &format!("{skewed} 0"))
    });
}

/// The cache repository of a remote, damaged: re-created with a warning, never an error with
/// raw bytes, never a hang.
#[test]
fn a_damaged_cache_repository_is_re_created() {
    let f = fixture();
    let server = http_server(&f.scratch);
    let home = f.scratch.home();
    let url = format!("http://127.0.0.1:{}/repo.git", server.port);
    let expected = ok_json(&fetch(&home, &url), "first fetch");
    assert_eq!(expected, ok_json(&fetch(&home, &f.scratch.repo().display().to_string()), "local"), "remote equals local");
    let repo = std::fs::read_dir(f.scratch.cache_git())
        .expect("cache root")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("HEAD").is_file())
        .expect("a cache repository");
    let fifo = |path: &Path| {
        let _ = std::fs::remove_file(path);
        assert!(Command::new("mkfifo").arg(path).status().expect("mkfifo").success());
    };
    type Damage<'a> = (&'a str, Box<dyn Fn() + 'a>);
    let damages: Vec<Damage> = vec![
        ("garbage in config", Box::new(|| std::fs::write(repo.join("config"), [0x00, 0xff, 0xfe, b'[', 0x1b, b'\n', b'=', 0x07]).expect("write"))),
        ("config is a FIFO", Box::new(|| fifo(&repo.join("config")))),
        ("HEAD is garbage", Box::new(|| std::fs::write(repo.join("HEAD"), [0xffu8, 0x00, b'\n']).expect("write"))),
        ("packed-refs is a FIFO", Box::new(|| fifo(&repo.join("packed-refs")))),
        ("alternates point elsewhere", Box::new(|| std::fs::write(repo.join("objects/info/alternates"), "/nonexistent/objects\n").expect("write"))),
        ("the lock file is a FIFO", Box::new(|| fifo(&PathBuf::from(format!("{}.lock", repo.display()))))),
    ];
    for (what, damage) in damages {
        damage();
        let out = fetch(&home, &url);
        assert_eq!(ok_json(&out, what), expected, "{what}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.chars().any(|c| c.is_control() && c != '\n'), "{what}: raw bytes in: {stderr:?}");
        if what != "the lock file is a FIFO" {
            assert!(stderr.contains("is damaged") && stderr.contains("re-creating it"), "{what}: {stderr}");
        }
        assert!(repo.join("HEAD").is_file() && !repo.join("objects/info/alternates").exists(), "{what}");
    }
}

/// Runs the binary as user `nobody`, for whom the (root's) cache is read-only.
fn run_as_nobody(home: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new("setpriv");
    isolate_in(&mut cmd, home).args(["--reuid=65534", "--regid=65534", "--clear-groups", "--", BIN]).args(args);
    run_bounded(cmd, std::time::Duration::from_secs(120))
}

/// A cache that is already filled and cannot be written (another user's, or on a read-only
/// file system) is read: fresh refs and known commits are answered from it, a stale ref with a
/// warning (as Nix goes on with the most recent version), and what it lacks is a one-line
/// error. Needs root (to become `nobody`), as the tests run in CI.
#[test]
fn a_read_only_cache_is_read() {
    if !require_root("a_read_only_cache_is_read", "running as another user") {
        return;
    }
    let f = fixture();
    let server = http_server(&f.scratch);
    let home = f.scratch.home();
    let url = format!("http://127.0.0.1:{}/repo.git", server.port);
    let expected = ok_json(&fetch(&home, &url), "filling the cache");
    let mut chmod = Command::new("chmod");
    chmod.args(["-R", "a+rX"]).arg(f.scratch.dir.path());
    assert!(chmod.status().expect("chmod").success());
    let args = fetch_args(&url);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    let out = run_as_nobody(&home, &args);
    assert_eq!(ok_json(&out, "read-only, fresh"), expected);
    let stale: Vec<&str> = [&args[..], &["--ttl", "0"]].concat();
    let out = run_as_nobody(&home, &stale);
    assert_eq!(ok_json(&out, "read-only, stale"), expected);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is read-only: using refs/heads/main"), "{}", String::from_utf8_lossy(&out.stderr));
    // `--compat legacy` is Nix 2.19.7, which fetches the ref a rev is on: main, cached.
    let out = run_as_nobody(
        &home,
        &["fetch", "--no-store", "-q", "--compat", "legacy", "--ref", "main", "--url", &url, "--rev", expected["rev"].as_str().expect("rev")],
    );
    assert_eq!(ok_json(&out, "read-only, known rev")["narHash"], expected["narHash"]);

    for extra in [&["--refresh"][..], &["--ref", "other"]] {
        let mut a: Vec<&str> = vec!["fetch", "--no-store", "-q", "--url", &url];
        a.extend_from_slice(extra);
        let err = err_line(&run_as_nobody(&home, &a), &format!("{extra:?}"));
        assert!(err.contains("is read-only and lacks"), "{extra:?}: {err}");
    }
}

/// `XDG_CACHE_HOME` must be absolute (the XDG Base Directory specification): a relative one is
/// ignored, so the cache never depends on the current directory.
#[test]
fn a_relative_xdg_cache_home_is_ignored() {
    let f = fixture();
    let cwd = f.scratch.dir.path().join("cwd");
    std::fs::create_dir_all(&cwd).expect("cwd");
    let args = fetch_args(&f.scratch.repo().display().to_string());
    let mut cmd = Command::new(BIN);
    isolate_in(&mut cmd, &f.scratch.home()).env("XDG_CACHE_HOME", "relative-cache").current_dir(&cwd).args(&args);
    let out = run_bounded(cmd, std::time::Duration::from_secs(120));
    ok_json(&out, "relative XDG_CACHE_HOME");
    assert!(!cwd.join("relative-cache").exists(), "the cache went to the current directory");
    assert!(table_dir(&f.scratch.home(), "nar").is_dir(), "the cache went to $HOME/.cache");
}
