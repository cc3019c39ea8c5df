//! `fetch --lfs` against the values of `fixtures/lfs-modern.json` (Nix 2.26's trees with the
//! files Nix master smudges replaced by their objects, see `fixtures/record-lfs.py`), with a
//! Git LFS server on loopback (`tests/lfs_support/lfs_server.py`) started by each test.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

use serde_json::Value;
use support::*;

fn recorded() -> Value {
    let text = std::fs::read_to_string(project_root().join("fixtures/lfs-modern.json")).expect("fixtures/lfs-modern.json");
    serde_json::from_str(&text).expect("valid JSON")
}

/// The fixture (make-lfs.sh) in a fresh directory, with a bare clone `lfs.git` to serve.
fn make_fixture(name: &str) -> PathBuf {
    let dir = fixtures().scratch(&format!("lfs-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch");
    run_ok(Command::new("sh").arg(project_root().join("fixtures/make-lfs.sh")).arg(&dir));
    run_ok(isolate(Command::new("git").args(["clone", "-q", "--bare"]).arg(dir.join("lfs")).arg(dir.join("lfs.git"))));
    dir
}

struct LfsServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for LfsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl LfsServer {
    fn start(dir: &Path, mode: &str) -> LfsServer {
        let log = dir.join(format!("server-{mode}.log"));
        let mut cmd = Command::new("python3");
        cmd.arg(project_root().join("tests/lfs_support/lfs_server.py")).arg(dir.join("lfs-objects")).arg(dir).arg(&log).arg(mode);
        let (child, port) = spawn_server(&mut cmd, "the LFS server");
        LfsServer { child, port, log }
    }

    fn downloads(&self) -> usize {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().filter(|l| l.starts_with("GET ")).count()
    }
}

/// `fetch` as Nix 2.27, the first release with `lfs` (2.26.3 refuses it).
fn fetch(cache: &Path, args: &[&str]) -> Output {
    fetch_as(cache, "2.27.0", args)
}

/// `fetch --nix-version RELEASE`.
fn fetch_as(cache: &Path, release: &str, args: &[&str]) -> Output {
    bin().env("XDG_CACHE_HOME", cache).arg("fetch").args(args).args(["--no-store", "-q", "--nix-version", release]).output().expect("run fetchgit-date")
}

/// Every commit of the fixture over http, with and without `--lfs` and `--no-export-ignore`,
/// as `--nix-version` 2.34.8 against what Nix 2.34 itself fetched from the same server
/// (`fixtures/lfs-nix-2.34.json`, recorded live by `fixtures/record-lfs.py`).
#[test]
fn remote_lfs_fetch_equals_recorded_nix_2_34() {
    let text = std::fs::read_to_string(project_root().join("fixtures/lfs-nix-2.34.json"))
        .expect("fixtures/lfs-nix-2.34.json: run fixtures/record-lfs.py with the Nix 2.34 oracle");
    let recorded: Value = serde_json::from_str(&text).expect("valid JSON");
    let header = &recorded["header"];
    let release = header["nix_version"].as_str().expect("nix_version").rsplit(' ').next().expect("X.Y.Z").to_owned();
    assert!(release.starts_with("2.34."), "recorded with Nix 2.34: {header}");
    let script_hash = nixstore::hash::sha256(&std::fs::read(project_root().join("fixtures/make-lfs.sh")).expect("script")).to_hex();
    assert_eq!(header["make_lfs_sha256"], script_hash.as_str(), "make-lfs.sh changed: rerun fixtures/record-lfs.py");
    let dir = make_fixture("remote-2.34");
    let server = LfsServer::start(&dir, "plain");
    let url = format!("http://127.0.0.1:{}/lfs.git", server.port);
    let cache = dir.join("cache");
    let (mut checked, mut diffs) = (0, Vec::new());
    for (reference, commit) in recorded["commits"].as_object().expect("commits") {
        let rev = commit["rev"].as_str().expect("rev");
        for (variant, flag) in [("exportIgnore", None), ("noExportIgnore", Some("--no-export-ignore"))] {
            for (kind, lfs) in [("plain", None), ("lfs", Some("--lfs"))] {
                let mut args = vec!["--url", url.as_str(), "--rev", rev, "--ref", "main", "--all-refs"];
                args.extend(flag);
                args.extend(lfs);
                let out = fetch_as(&cache, &release, &args);
                let nix = &commit[variant][kind];
                let what = format!("{reference} {variant} {kind}");
                match (nix.get("result"), out.status.success()) {
                    (Some(result), true) => {
                        let ours: Value = serde_json::from_slice(&out.stdout).expect("JSON");
                        for (key, ours_key) in
                            [("narHash", "narHash"), ("storePath", "outPath"), ("rev", "rev"), ("revCount", "revCount"), ("lastModified", "lastModified")]
                        {
                            if ours[ours_key] != result[key] {
                                diffs.push(format!("{what}: {key}: ours {}, Nix {}", ours[ours_key], result[key]));
                            }
                        }
                    }
                    (None, false) => {
                        let err = String::from_utf8_lossy(&out.stderr);
                        let lines = err.lines().filter(|l| !l.contains("warning:")).count();
                        if out.status.code() != Some(2) || lines != 1 {
                            diffs.push(format!("{what}: Nix fails ({}), we fail but not with one line and exit 2: {err}", nix["error"]));
                        }
                    }
                    (Some(result), false) => diffs.push(format!("{what}: Nix gives {result}, we fail: {}", String::from_utf8_lossy(&out.stderr))),
                    (None, true) => diffs.push(format!("{what}: Nix fails ({}), we give {}", nix["error"], String::from_utf8_lossy(&out.stdout))),
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 16, "4 commits, 2 export-ignore settings, with and without lfs");
    assert_no_diffs(&format!("lfs vs recorded Nix {release}"), checked, &diffs);
}

fn json(out: &Output, what: &str) -> Value {
    assert!(out.status.success(), "{what}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn err_line(out: &Output, what: &str) -> String {
    assert_eq!(out.status.code(), Some(2), "{what}: {}", String::from_utf8_lossy(&out.stdout));
    let err = String::from_utf8_lossy(&out.stderr).lines().filter(|l| !l.contains("warning:")).collect::<Vec<_>>().join("\n");
    assert_eq!(err.lines().count(), 1, "{what}: one line: {err}");
    err
}

#[test]
fn remote_lfs_fetch_gives_nix_masters_contents() {
    let recorded = recorded();
    let header_hash = nixstore::hash::sha256(&std::fs::read(project_root().join("fixtures/make-lfs.sh")).expect("script")).to_hex();
    assert_eq!(recorded["header"]["make_lfs_sha256"], header_hash.as_str(), "make-lfs.sh changed: rerun fixtures/record-lfs.py");
    let dir = make_fixture("remote");
    let server = LfsServer::start(&dir, "plain");
    let url = format!("http://127.0.0.1:{}/lfs.git", server.port);
    let cache = dir.join("cache");
    let mut checked = 0;
    for (reference, commit) in recorded["commits"].as_object().expect("commits") {
        let rev = commit["rev"].as_str().expect("rev");
        for (variant, flag) in [("exportIgnore", None), ("noExportIgnore", Some("--no-export-ignore"))] {
            let mut args = vec!["--url", url.as_str(), "--rev", rev, "--ref", "main", "--all-refs"];
            args.extend(flag);
            let plain = json(&fetch(&cache, &args), reference);
            assert_eq!(plain["narHash"], commit[variant]["nix_2_26"]["result"]["narHash"], "{reference} {variant} without lfs = Nix 2.26");
            args.push("--lfs");
            let out = fetch(&cache, &args);
            match commit.get("lfs_error") {
                None => {
                    let ours = json(&out, reference);
                    assert_eq!(ours["narHash"], commit[variant]["lfs"]["narHash"], "{reference} {variant} with lfs");
                    assert_eq!(ours["outPath"], commit[variant]["lfs"]["storePath"], "{reference} {variant} with lfs");
                }
                Some(_) => {
                    let err = err_line(&out, reference);
                    let path = if reference == "missing" { "missing.bin" } else { "upper.bin" };
                    assert!(err.contains(&format!("while smudging git-lfs file '{path}'")), "{err}");
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 8);
    assert_eq!(server.downloads(), 3, "each of the three served objects is downloaded once, then cached");
}

#[test]
fn local_repository_uses_lfs_url_and_the_cache_checks_itself() {
    let recorded = recorded();
    let main = &recorded["commits"]["main"];
    let dir = make_fixture("local");
    let repo = dir.join("lfs");
    let repo = repo.to_str().expect("utf-8");
    let cache = dir.join("cache");
    let rev = main["rev"].as_str().expect("rev");
    let expected = &main["exportIgnore"]["lfs"]["narHash"];
    // A local repository without lfs.url or an origin has no endpoint.
    let err = err_line(&fetch(&cache, &["--url", repo, "--rev", rev, "--lfs"]), "no endpoint");
    assert!(err.contains("no Git LFS endpoint") && err.contains("lfs.url"), "{err}");
    let server = LfsServer::start(&dir, "plain");
    run_ok(isolate(Command::new("git").arg("-C").arg(repo).args(["config", "lfs.url", &format!("http://127.0.0.1:{}/anything/info/lfs", server.port)])));
    assert_eq!(json(&fetch(&cache, &["--url", repo, "--rev", rev, "--lfs"]), "lfs.url")["narHash"], *expected);
    assert_eq!(server.downloads(), 3);
    // Corrupt one cached object (and drop the cached NAR hashes): it is detected, fetched again,
    // and the result is still right.
    let a = recorded["header"]["objects"]["A"]["oid"].as_str().expect("oid");
    let object = cache.join("fetchgit-date/v1/lfs").join(&a[..2]).join(a);
    let mut bytes = std::fs::read(&object).expect("cached object");
    bytes[0] ^= 1;
    std::fs::write(&object, bytes).expect("corrupt it");
    std::fs::remove_dir_all(cache.join("fetchgit-date/v1/nar")).expect("drop NAR cache");
    let out = fetch(&cache, &["--url", repo, "--rev", rev, "--lfs"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is corrupt"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json(&out, "refetch")["narHash"], *expected);
    assert_eq!(server.downloads(), 4, "only the corrupt object is fetched again");
    // With the server gone, the cache alone serves the objects.
    drop(server);
    std::fs::remove_dir_all(cache.join("fetchgit-date/v1/nar")).expect("drop NAR cache");
    assert_eq!(json(&fetch(&cache, &["--url", repo, "--rev", rev, "--lfs"]), "offline")["narHash"], *expected);
}

#[test]
fn objects_that_are_not_the_pointers_are_refused_and_not_cached() {
    let recorded = recorded();
    let rev = recorded["commits"]["main"]["rev"].as_str().expect("rev").to_owned();
    for (mode, message) in [("corrupt", "hash mismatch while fetching"), ("wrong-size", "LFS server returned mismatched oid/size")] {
        let dir = make_fixture(mode);
        let server = LfsServer::start(&dir, mode);
        let url = format!("http://127.0.0.1:{}/lfs.git", server.port);
        let cache = dir.join("cache");
        let err = err_line(&fetch(&cache, &["--url", &url, "--rev", &rev, "--ref", "main", "--lfs"]), mode);
        assert!(err.contains(message) && err.contains("while smudging git-lfs file"), "{mode}: {err}");
        let lfs_cache = cache.join("fetchgit-date/v1/lfs");
        let stored: Vec<_> = walk(&lfs_cache);
        assert!(stored.is_empty(), "{mode}: nothing may be cached: {stored:?}");
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries.flatten().flat_map(|e| if e.path().is_dir() { walk(&e.path()) } else { vec![e.path()] }).collect()
}

/// Credentials in the endpoint URL go to the batch API as Basic authentication, and never into
/// messages. (Through lfs.url: gix refuses credentials on a plain-http git remote, which the
/// remote-URL path shares; `lfs::tests` checks that it splits them off the same way.)
#[test]
fn credentials_in_the_url_authenticate_the_batch_api_and_never_show() {
    let recorded = recorded();
    let main = &recorded["commits"]["main"];
    let rev = main["rev"].as_str().expect("rev");
    let dir = make_fixture("auth");
    let server = LfsServer::start(&dir, "auth");
    let repo = dir.join("lfs");
    let set_url = |url: &str| run_ok(isolate(Command::new("git").arg("-C").arg(&repo).args(["config", "lfs.url", url])));
    let repo_arg = repo.to_str().expect("utf-8").to_owned();
    set_url(&format!("http://user:s3cr%2Ft@127.0.0.1:{}/lfs.git/info/lfs", server.port));
    let cache = dir.join("cache");
    assert_eq!(json(&fetch(&cache, &["--url", &repo_arg, "--rev", rev, "--lfs"]), "auth")["narHash"], main["exportIgnore"]["lfs"]["narHash"]);
    set_url(&format!("http://user:wr0ngpass@127.0.0.1:{}/lfs.git/info/lfs", server.port));
    let err = err_line(&fetch(&dir.join("cache2"), &["--url", &repo_arg, "--rev", rev, "--lfs"]), "bad password");
    assert!(err.contains("HTTP 401") && err.contains("authentication failed"), "{err}");
    assert!(!err.contains("wr0ngpass") && !err.contains("user@"), "the credentials leak: {err}");
}

#[test]
fn verify_says_which_hashes_need_lfs_contents() {
    let recorded = recorded();
    let main = &recorded["commits"]["main"];
    let rev = main["rev"].as_str().expect("rev");
    let dir = make_fixture("verify");
    let server = LfsServer::start(&dir, "plain");
    let repo = dir.join("lfs");
    run_ok(isolate(Command::new("git").arg("-C").arg(&repo).args(["config", "lfs.url", &format!("http://127.0.0.1:{}/lfs.git/info/lfs", server.port)])));
    let repo = repo.to_str().expect("utf-8");
    let hash = main["noExportIgnore"]["lfs"]["narHash"].as_str().expect("hash");
    let cache = dir.join("cache");
    let verify = |extra: &[&str]| {
        bin().env("XDG_CACHE_HOME", &cache).args(["verify", "--url", repo, "--rev", rev, "--nar-hash", hash]).args(extra).output().expect("run")
    };
    let without = verify(&[]);
    let stdout = String::from_utf8_lossy(&without.stdout);
    assert_eq!(without.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("Git LFS pointer file(s)") && stdout.contains("verify --lfs"), "{stdout}");
    let with = verify(&["--lfs"]);
    let stdout = String::from_utf8_lossy(&with.stdout);
    assert_eq!(with.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("modern with exportIgnore = false, lfs = true (Nix >= 2.27): ") && stdout.contains("reproduces with LFS contents"), "{stdout}");
}

#[test]
fn nix_2_26_has_no_lfs_attribute() {
    // Recorded: Nix 2.26 refuses the attribute; the CLI refuses --lfs for legacy exports.
    let recorded = recorded();
    let error = recorded["commits"]["main"]["nix_2_26_lfs_true"]["error"].as_str().expect("Nix 2.26 refuses lfs");
    assert!(error.contains("input attribute 'lfs' not supported by scheme 'git'"), "{error}");
    let out = run_bin(&["fetch", "--url", "/nonexistent", "--compat", "legacy", "--lfs", "--no-store"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--lfs needs"), "{}", String::from_utf8_lossy(&out.stderr));
    // Nor does --nix-version 2.26.3: --lfs is refused, naming the fix.
    let out = run_bin(&["fetch", "--url", "/nonexistent", "--lfs", "--nix-version", "2.26.3", "--no-store"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--lfs needs Nix >= 2.27 (not Lix): the builtins.fetchGit of Nix 2.26.3 has no lfs"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `nix-store --dump DIR | sha256sum`: Nix's own NAR of a directory, as hex.
fn nix_nar_sha256(dir: &Path) -> String {
    let out = run_ok(Command::new("sh").args(["-c", "nix-store --dump \"$1\" | sha256sum | cut -d' ' -f1", "dump"]).arg(dir));
    out.trim().to_owned()
}

#[test]
fn submodules_get_their_lfs_contents_too_as_nix_2_27_passes_lfs_on() {
    // Nix >= 2.27 fetches each submodule with the superproject's lfs (d201b2872e). The expected
    // tree is made from the submodule's own lfs export (checked against the recorded values
    // above), put at the gitlink's path beside the superproject's .gitmodules, and dumped by Nix.
    if !require_nix("lfs in submodules") {
        return;
    }
    let recorded = recorded();
    let main = &recorded["commits"]["main"];
    let rev = main["rev"].as_str().expect("rev");
    let dir = make_fixture("submodules");
    let server = LfsServer::start(&dir, "plain");
    let url = format!("http://127.0.0.1:{}/lfs.git", server.port);
    let cache = dir.join("cache");
    // The submodule alone, into the Nix store, with exportIgnore off as submodules have it.
    let alone = bin()
        .env("XDG_CACHE_HOME", &cache)
        .args(["fetch", "--url", &url, "--rev", rev, "--ref", "main", "--lfs", "--no-export-ignore", "-q", "--nix-version", "2.27.0"])
        .output()
        .expect("run");
    let alone = json(&alone, "the submodule alone");
    assert_eq!(alone["narHash"], main["noExportIgnore"]["lfs"]["narHash"]);
    // A superproject with it at sub/.
    let sup = dir.join("super");
    run_ok(isolate(Command::new("git").args(["init", "-q", "-b", "main"]).arg(&sup)));
    git(&sup, &["config", "user.name", "Ada Fixture"]);
    git(&sup, &["config", "user.email", "ada@fixtures.invalid"]);
    let gitmodules = format!("[submodule \"sub\"]\n\tpath = sub\n\turl = {url}\n");
    std::fs::write(sup.join(".gitmodules"), &gitmodules).expect("write");
    git(&sup, &["add", ".gitmodules"]);
    git(&sup, &["update-index", "--add", "--cacheinfo", &format!("160000,{rev},sub")]);
    git(&sup, &["commit", "-q", "-m", "with an lfs submodule"]);
    let super_rev = git(&sup, &["rev-parse", "HEAD"]).trim().to_owned();
    let sup_url = sup.display().to_string();
    let ours = json(&fetch(&cache, &["--url", &sup_url, "--rev", &super_rev, "--submodules", "--lfs"]), "superproject with lfs");
    let expected = dir.join("expected");
    std::fs::create_dir_all(&expected).expect("mkdir");
    std::fs::write(expected.join(".gitmodules"), &gitmodules).expect("write");
    run_ok(Command::new("cp").arg("-r").arg(alone["outPath"].as_str().expect("outPath")).arg(expected.join("sub")));
    run_ok(Command::new("chmod").args(["-R", "u+w"]).arg(&expected));
    let ours_hex = nixstore::hash::NixHash::parse(ours["narHash"].as_str().expect("narHash")).expect("SRI").to_hex();
    assert_eq!(ours_hex, nix_nar_sha256(&expected), "the superproject's NAR holds the submodule's LFS contents");
    // Without lfs the submodule keeps its pointers.
    let plain = json(&fetch(&cache, &["--url", &sup_url, "--rev", &super_rev, "--submodules"]), "superproject without lfs");
    assert_ne!(plain["narHash"], ours["narHash"]);
}
