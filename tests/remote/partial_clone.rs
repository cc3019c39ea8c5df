//! Partial clones (`src/remote/filter.rs`, `src/remote/missing.rs`): a server that allows filters sends commits only, and
//! the tree of the exported commit follows. Checked as behaviour: the same attributes as a full
//! fetch from a server that refuses filters (the same objects served both ways), for several
//! releases, over git:// and smart HTTP (protocol v2 and v0), and as Nix 2.8's fetchGit; a
//! later revision fetches only what it lacks; a server that refuses filters (or, in v0, objects
//! by id) gets today's full fetch; git reads the partial cache; concurrent and killed runs leave
//! a cache the next run completes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::support::*;

/// The fixture served twice: `repo.git` allows filters (and objects by id), `nofilter.git`
/// (a copy, the same objects) refuses filters.
fn serve_both_ways(scratch: &Scratch) {
    let repo = make_fixture(scratch, 30);
    let copy = scratch.srv().join("nofilter.git");
    git(scratch.dir.path(), &["clone", "-q", "--bare", "--no-local", repo.to_str().expect("utf-8"), copy.to_str().expect("utf-8")]);
    git(&copy, &["config", "uploadpack.allowFilter", "false"]);
    git(&copy, &["config", "uploadpack.allowReachableSHA1InWant", "true"]);
}

/// A fresh client home under the scratch directory.
fn fresh_home(scratch: &Scratch, name: &str) -> PathBuf {
    let home = scratch.dir.path().join(format!("home-{name}"));
    std::fs::create_dir_all(&home).expect("home");
    home
}

fn fetch(home: &Path, url: &str, extra: &[&str]) -> (serde_json::Value, String) {
    let mut args = vec!["fetch", "--no-store", "-v", "--url", url];
    args.extend_from_slice(extra);
    let out = run_bin_in(home, &args, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (ok_json(&out, &format!("fetch {url} {extra:?}")), stderr)
}

fn cache_repos(home: &Path) -> Vec<PathBuf> {
    let root = home.join(".cache/fetchgit-date/v1/git");
    let mut repos: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.join("HEAD").is_file()).collect())
        .unwrap_or_default();
    repos.sort();
    repos
}

fn promisor_packs(repo: &Path) -> usize {
    std::fs::read_dir(repo.join("objects/pack"))
        .expect("pack dir")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "promisor"))
        .count()
}

/// How many objects of `kind` the repository holds, as git counts them, without fetching.
fn objects_of_kind(repo: &Path, kind: &str) -> usize {
    let out = Command::new("git")
        .args(["-C", repo.to_str().expect("utf-8"), "cat-file", "--batch-all-objects", "--batch-check=%(objecttype)"])
        .env("GIT_NO_LAZY_FETCH", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| *l == kind).count()
}

const COMMITS_ONLY: &str = "(commits only: filter tree:0)";

/// Selections that read different commits: the branch, a truncation, a rev, another branch;
/// for a legacy and a libgit2-era release.
fn selections(scratch: &Scratch) -> Vec<Vec<String>> {
    let day3 = git(&scratch.repo(), &["rev-parse", "main~26"]);
    let mut all = Vec::new();
    for version in ["2.8.0", "2.26.3"] {
        for extra in
            [vec!["--ref", "main"], vec!["--ref", "main", "--date", "@1601000000"], vec!["--rev", day3.as_str(), "--ref", "main"], vec!["--ref", "other"]]
        {
            let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
            args.extend(["--nix-version".to_owned(), version.to_owned()]);
            all.push(args);
        }
    }
    all
}

#[test]
fn commits_only_gives_the_full_fetchs_attributes_over_git_and_http_v2_and_v0() {
    let scratch = Scratch::new();
    serve_both_ways(&scratch);
    let daemon = git_daemon(&scratch);
    let http = http_server(&scratch);
    let http_v0 = http_server_mode(&scratch, "v0", None);
    let servers = [
        ("git", format!("git://127.0.0.1:{}", daemon.port)),
        ("http", format!("http://127.0.0.1:{}", http.port)),
        ("http-v0", format!("http://127.0.0.1:{}", http_v0.port)),
    ];
    for (i, extra) in selections(&scratch).iter().enumerate() {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let mut reference = None;
        for (name, base) in &servers {
            for (repo, filtered) in [("repo.git", true), ("nofilter.git", false)] {
                // A cold cache for every server, so that each path runs from the start.
                let home = fresh_home(&scratch, &format!("{i}-{name}-{repo}"));
                let (ours, stderr) = fetch(&home, &format!("{base}/{repo}"), &extra);
                assert_eq!(stderr.contains(COMMITS_ONLY), filtered, "{name} {repo} {extra:?}: {stderr}");
                let cache = cache_repos(&home);
                assert_eq!(cache.len(), 1, "one cache repository per URL: {cache:?}");
                assert_eq!(promisor_packs(&cache[0]) > 0, filtered, "{name} {repo} {extra:?}");
                match &reference {
                    None => reference = Some(ours),
                    Some(reference) => assert_eq!(&ours, reference, "{name} {repo} {extra:?} differs from the first server"),
                }
            }
        }
    }
}

#[test]
fn commits_only_over_http_matches_nix_2_8() {
    if !require_nix("commits_only_over_http_matches_nix_2_8") {
        return;
    }
    let scratch = Scratch::new();
    serve_both_ways(&scratch);
    let http = http_server(&scratch);
    let url = format!("http://127.0.0.1:{}/repo.git", http.port);
    let day3 = git(&scratch.repo(), &["rev-parse", "main~26"]);
    for (extra, nix_extra) in
        [(vec!["--ref", "main"], "ref = \"main\";".to_owned()), (vec!["--ref", "main", "--rev", &day3], format!("ref = \"main\"; rev = \"{day3}\";"))]
    {
        let home = fresh_home(&scratch, &format!("nix-{}", extra.len()));
        let mut args = extra.clone();
        args.extend(["--nix-version", "2.8.0"]);
        let (ours, stderr) = fetch(&home, &url, &args);
        assert!(stderr.contains(COMMITS_ONLY), "{stderr}");
        assert_same_as_nix(&ours, &nix_fetchgit(&scratch, &url, &nix_extra), &format!("{extra:?}"));
    }
}

#[test]
fn a_later_revision_fetches_only_what_it_lacks() {
    let scratch = Scratch::new();
    serve_both_ways(&scratch);
    let daemon = git_daemon(&scratch);
    let url = format!("git://127.0.0.1:{}/repo.git", daemon.port);
    let day20 = git(&scratch.repo(), &["rev-parse", "main~9"]);
    let home = fresh_home(&scratch, "later");
    let (_, first) = fetch(&home, &url, &["--ref", "main", "--rev", &day20]);
    assert!(first.contains(COMMITS_ONLY), "{first}");
    // Day 20's tree has 21 files: none is there yet, so the whole tree comes at once.
    assert!(first.contains("lacks 0 trees and 21 blobs") && first.contains("tree with all its files"), "{first}");
    let (ours, second) = fetch(&home, &url, &["--ref", "main"]);
    // main's tree has 30 files, 21 of them unchanged since day 20: its tree, then 9 blobs.
    assert!(second.contains("fetching 1 trees") && second.contains("fetching 9 blobs"), "{second}");
    assert!(!second.contains("tree with all its files"), "{second}");
    assert_eq!(cache_repos(&home).len(), 1);
    let (full, _) = fetch(&fresh_home(&scratch, "later-full"), &format!("git://127.0.0.1:{}/nofilter.git", daemon.port), &["--ref", "main"]);
    assert_eq!(ours, full);
    // A third run finds everything: no network for the tree.
    let (again, third) = fetch(&home, &url, &["--ref", "main"]);
    assert_eq!(again, full);
    assert!(!third.contains("lacks"), "{third}");
}

#[test]
fn servers_that_refuse_filters_or_objects_by_id_get_todays_full_fetch() {
    let scratch = Scratch::new();
    serve_both_ways(&scratch);
    // A v0 server that allows filters but not objects by id could not serve the tree later.
    let strict = scratch.srv().join("strict.git");
    git(scratch.dir.path(), &["clone", "-q", "--bare", "--no-local", scratch.repo().to_str().expect("utf-8"), strict.to_str().expect("utf-8")]);
    git(&strict, &["config", "uploadpack.allowFilter", "true"]);
    let http_v0 = http_server_mode(&scratch, "v0", None);
    let daemon = git_daemon(&scratch);
    let served_trees = objects_of_kind(&scratch.repo(), "tree");
    for url in [format!("git://127.0.0.1:{}/nofilter.git", daemon.port), format!("http://127.0.0.1:{}/strict.git", http_v0.port)] {
        let home = fresh_home(&scratch, if url.contains("strict") { "strict" } else { "nofilter" });
        let (_, stderr) = fetch(&home, &url, &["--ref", "main"]);
        assert!(!stderr.contains(COMMITS_ONLY) && !stderr.contains("lacks"), "{url}: {stderr}");
        let cache = cache_repos(&home);
        assert_eq!(promisor_packs(&cache[0]), 0, "{url}");
        // Every tree of main's history (the fixture's `other` branch is not fetched).
        assert_eq!(objects_of_kind(&cache[0], "tree"), served_trees - 1, "{url}");
    }
    // The filtering server, for contrast: commits only, one tree, and git reads the cache as the
    // partial clone it is.
    let home = fresh_home(&scratch, "filter");
    let (_, stderr) = fetch(&home, &format!("git://127.0.0.1:{}/repo.git", daemon.port), &["--ref", "main"]);
    assert!(stderr.contains(COMMITS_ONLY), "{stderr}");
    let cache = &cache_repos(&home)[0];
    assert_eq!(objects_of_kind(cache, "tree"), 1);
    let fsck = Command::new("git")
        .args(["-C", cache.to_str().expect("utf-8"), "fsck", "--connectivity-only"])
        .env("GIT_NO_LAZY_FETCH", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git runs");
    assert!(fsck.status.success(), "git fsck of the partial cache: {}", String::from_utf8_lossy(&fsck.stderr));
    assert_eq!(git(cache, &["rev-list", "--count", "refs/heads/main"]), "30");
}

fn spawn_fetch(home: &Path, url: &str) -> std::process::Child {
    let mut cmd = Command::new(BIN);
    isolate_in(&mut cmd, home).args(["fetch", "--no-store", "-q", "--url", url, "--ref", "main"]).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.spawn().expect("fetchgit-date runs")
}

fn wait_bounded(child: std::process::Child) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(out) => out.expect("waited"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("fetchgit-date {pid} did not finish within 120 s");
        }
    }
}

#[test]
fn concurrent_and_killed_runs_leave_a_cache_the_next_run_completes() {
    let scratch = Scratch::new();
    serve_both_ways(&scratch);
    let slow = http_server_with(&scratch, true);
    let url = format!("http://127.0.0.1:{}/repo.git", slow.port);
    let daemon = git_daemon(&scratch);
    let (reference, _) = fetch(&fresh_home(&scratch, "reference"), &format!("git://127.0.0.1:{}/nofilter.git", daemon.port), &["--ref", "main"]);
    // One cold run asks for the commits, the trees and the files.
    let (single, _) = fetch(&fresh_home(&scratch, "single"), &url, &["--ref", "main"]);
    assert_eq!(single, reference);
    let one_run = slow.pack_requests();
    assert_eq!(one_run, 3, "commits, trees, files");
    // Three runs at once on one cold cache: one fetches, the others wait and find it done.
    let home = fresh_home(&scratch, "concurrent");
    let children: Vec<_> = (0..3).map(|_| spawn_fetch(&home, &url)).collect();
    for child in children {
        assert_eq!(ok_json(&wait_bounded(child), "concurrent fetch"), reference);
    }
    assert_eq!(slow.pack_requests(), 2 * one_run, "concurrent runs fetch each object once");
    assert_eq!(cache_repos(&home).len(), 1);
    // SIGKILL at different moments of a cold fetch (the commits, the tree, the blobs, over a
    // server that sends slowly); the next run gives the same attributes.
    for (i, delay) in [150u64, 400, 900, 1600, 2500].into_iter().enumerate() {
        let home = fresh_home(&scratch, &format!("killed-{i}"));
        let mut child = spawn_fetch(&home, &url);
        std::thread::sleep(Duration::from_millis(delay));
        let _ = Command::new("kill").args(["-9", &child.id().to_string()]).status();
        let _ = child.wait();
        let (after, _) = fetch(&home, &url, &["--ref", "main"]);
        assert_eq!(after, reference, "after SIGKILL at {delay} ms");
    }
}
