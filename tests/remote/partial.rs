//! Truncation without the whole history: `resolve` (and `fetch --shallow --date`) on a remote
//! fetch only the history back to the boundary, into a separate `-partial` cache, and still
//! print exactly what `git rev-list -1 --before=B START` prints on a full clone, for every commit
//! of the `history` fixture (merges, an octopus, clock skew, equal timestamps, two roots) and
//! every boundary that matters; over smart HTTP (protocol v2 and v0), git://, and file://; also
//! against a server that cuts shallow history its own way. A one-day window of a long history
//! transfers far fewer bytes than the whole history.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::*;

/// The `history` fixture as a bare repository `srv/repo.git` with all its branches.
fn serve_history_fixture(scratch: &Scratch) -> PathBuf {
    let fixtures = scratch.dir.path().join("fixtures");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/make-fixtures.sh");
    let out = Command::new("sh").arg(&script).arg(&fixtures).stdin(Stdio::null()).output().expect("make-fixtures.sh runs");
    assert!(out.status.success(), "make-fixtures.sh: {}", String::from_utf8_lossy(&out.stderr));
    let bare = scratch.repo();
    let src = fixtures.join("history");
    git(scratch.dir.path(), &["clone", "-q", "--mirror", src.to_str().expect("utf-8"), bare.to_str().expect("utf-8")]);
    // Protocol v0 hands out only advertised commits unless told otherwise (v2 hands out any).
    git(&bare, &["config", "uploadpack.allowReachableSHA1InWant", "true"]);
    bare
}

/// What git selects on the full repository: `rev-list -1 --before`, else the first root.
fn git_truncate(repo: &Path, start: &str, before: i64, first_parent: bool) -> String {
    let before = format!("--before={before}");
    let mut args = vec!["rev-list", "-1", before.as_str()];
    if first_parent {
        args.push("--first-parent");
    }
    args.push(start);
    let selected = git(repo, &args);
    if !selected.is_empty() {
        return selected;
    }
    let mut args = vec!["rev-list", "--max-parents=0", "-1"];
    if first_parent {
        args.push("--first-parent");
    }
    args.push(start);
    git(repo, &args)
}

fn resolve(home: &Path, url: &str, extra: &[&str]) -> String {
    let mut args = vec!["resolve", "-q", "--url", url];
    args.extend_from_slice(extra);
    let out = run_bin_in(home, &args, &[]);
    assert!(out.status.success(), "resolve {extra:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8").trim().to_owned()
}

/// Every commit with its committer time, and the boundaries worth testing from it: exactly at
/// the time of every older commit (equal timestamps) for half of the start commits, just before
/// it for the other half and for the branch tips both, plus one after the start. Older
/// boundaries are reached by deepening the same partial cache.
fn cases(repo: &Path) -> Vec<(String, i64, Vec<i64>)> {
    let tips = git(repo, &["for-each-ref", "--format=%(objectname)", "refs/heads"]);
    let log = git(repo, &["log", "--all", "--format=%H %ct"]);
    let commits: Vec<(String, i64)> = log
        .lines()
        .map(|l| {
            let (id, t) = l.split_once(' ').expect("id and time");
            (id.to_owned(), t.parse().expect("a time"))
        })
        .collect();
    let mut times: Vec<i64> = commits.iter().map(|(_, t)| *t).collect();
    times.sort_unstable();
    times.dedup();
    commits
        .iter()
        .enumerate()
        .map(|(i, (id, t))| {
            let both = tips.contains(id.as_str());
            let mut dates: Vec<i64> = times
                .iter()
                .flat_map(|&u| [(both || i % 2 == 0).then_some(u), (both || i % 2 == 1).then_some(u - 1)])
                .flatten()
                .filter(|&u| u <= *t + 1)
                .collect();
            dates.push(t + 1000);
            // Newest first: each older boundary deepens the same partial cache further.
            dates.sort_unstable_by(|a, b| b.cmp(a));
            dates.dedup();
            (id.clone(), *t, dates)
        })
        .collect()
}

/// Runs `check` for every start commit on four threads, each with its own HOME: a partial cache
/// that starts cold and is deepened date after date, start after start (so later starts find
/// their history partly there, partly shallow); returns the differences.
/// Checks one start commit's dates with a HOME: returns the differences from git.
type StartCheck<'a> = dyn Fn(&Path, &str, &[i64]) -> Vec<String> + Sync + 'a;

fn per_start(scratch: &Scratch, repo: &Path, check: &StartCheck<'_>) -> (usize, Vec<String>) {
    let all = cases(repo);
    let n = all.iter().map(|(_, _, d)| d.len()).sum();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for thread in 0..4 {
            let (next, failures, all) = (&next, &failures, &all);
            let home = scratch.dir.path().join(format!("home-thread-{thread}"));
            std::fs::create_dir_all(&home).expect("home");
            scope.spawn(move || loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((start, _, dates)) = all.get(i) else { break };
                let found = check(&home, start, dates);
                failures.lock().expect("lock").extend(found);
            });
        }
    });
    (n, failures.into_inner().expect("lock"))
}

fn compare_dates(repo: &Path, url: &str, home: &Path, start: &str, dates: &[i64]) -> Vec<String> {
    let mut failures = Vec::new();
    for date in dates {
        let want = git_truncate(repo, start, *date, false);
        let got = resolve(home, url, &["--rev", start, "--date", &date.to_string()]);
        if got != want {
            failures.push(format!("{url} --rev {start} --date {date}: resolve printed {got}, git selects {want}"));
        }
    }
    failures
}

#[test]
fn partial_resolve_over_http_equals_git_for_every_commit_and_boundary() {
    let scratch = Scratch::new();
    let repo = serve_history_fixture(&scratch);
    let server = http_server(&scratch);
    let url = format!("http://127.0.0.1:{}/repo.git", server.port);
    let (n, failures) = per_start(&scratch, &repo, &|home, start, dates| {
        let mut failures = compare_dates(&repo, &url, home, start, dates);
        // Intervals (from the start commit's time) and first-parent walks on the same cache.
        for interval in [600i64, 1000, 3600] {
            let t: i64 = git(&repo, &["log", "-1", "--format=%ct", start]).parse().expect("time");
            let boundary = t - t.rem_euclid(interval);
            let want = git_truncate(&repo, start, boundary, false);
            let got = resolve(home, &url, &["--rev", start, "--interval", &interval.to_string()]);
            if got != want {
                failures.push(format!("--rev {start} --interval {interval}: resolve printed {got}, git selects {want}"));
            }
        }
        for date in dates.iter().step_by(4) {
            let want = git_truncate(&repo, start, *date, true);
            let got = resolve(home, &url, &["--rev", start, "--date", &date.to_string(), "--first-parent"]);
            if got != want {
                failures.push(format!("--rev {start} --date {date} --first-parent: resolve printed {got}, git selects {want}"));
            }
        }
        // Only the partial cache was used: the full one was never created.
        let full: Vec<_> = std::fs::read_dir(home.join(".cache/fetchgit-date/v1/git"))
            .expect("cache root")
            .flatten()
            .filter(|e| e.path().join("HEAD").is_file() && !e.file_name().to_string_lossy().ends_with("-partial"))
            .collect();
        if !full.is_empty() {
            failures.push(format!("--rev {start}: resolve created a full cache repository"));
        }
        failures
    });
    assert!(n > 150, "only {n} dates");
    assert!(failures.is_empty(), "{} differences from git ({n} dates, plus intervals and first-parent walks):\n{}", failures.len(), failures.join("\n"));
    // History was really partial: a cold resolve of the main tip at a late boundary holds fewer
    // commits than the repository, and its cache is shallow.
    let home = scratch.dir.path().join("home-late");
    let tip = git(&repo, &["rev-parse", "main"]);
    let t: i64 = git(&repo, &["log", "-1", "--format=%ct", "main"]).parse().expect("time");
    assert_eq!(resolve(&home, &url, &["--ref", "main", "--date", &(t - 1).to_string()]), git_truncate(&repo, &tip, t - 1, false));
    let partial = std::fs::read_dir(home.join(".cache/fetchgit-date/v1/git"))
        .expect("cache")
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with("-partial"))
        .expect("a partial cache");
    assert!(partial.path().join("shallow").is_file(), "the partial cache is shallow");
    let have: usize = git(&partial.path(), &["rev-list", "--count", "--all"]).parse().expect("count");
    let all: usize = git(&repo, &["rev-list", "--count", "main"]).parse().expect("count");
    assert!(have < all, "a late boundary fetched {have} of {all} commits");
}

#[test]
fn partial_resolve_over_git_daemon_protocol_v0_and_file_equals_git() {
    let scratch = Scratch::new();
    let repo = serve_history_fixture(&scratch);
    let daemon = git_daemon(&scratch);
    let v0 = http_server_mode(&scratch, "v0", None);
    let urls = [format!("git://127.0.0.1:{}/repo.git", daemon.port), format!("http://127.0.0.1:{}/repo.git", v0.port), format!("file://{}", repo.display())];
    let all = cases(&repo);
    let mut failures = Vec::new();
    let mut n = 0;
    for tip in ["main", "develop", "side"] {
        let start = git(&repo, &["rev-parse", tip]);
        let (_, _, dates) = all.iter().find(|(id, _, _)| *id == start).expect("tip is a case");
        for url in &urls {
            let home = scratch.dir.path().join(format!("home-{tip}-{}", url.split(':').next().expect("scheme")));
            n += dates.len();
            failures.extend(compare_dates(&repo, url, &home, &start, dates));
        }
    }
    assert!(failures.is_empty(), "{} of {n} cases differ from git:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn history_cut_by_the_server_its_own_way_is_deepened_until_the_walk_is_exact() {
    // This server answers deepen-since with depth 1: only the walk's own check notices that the
    // history is not enough, and deepening (then unshallowing) must still give git's answer.
    let scratch = Scratch::new();
    let repo = serve_history_fixture(&scratch);
    let server = http_server_mode(&scratch, "since-as-depth", None);
    let url = format!("http://127.0.0.1:{}/repo.git", server.port);
    let tip = git(&repo, &["rev-parse", "main"]);
    let root_time: i64 = git(&repo, &["log", "-1", "--format=%ct", "b03ed540c9fcbde7c4f053f219cfcaa0cfa51f5a"]).parse().expect("time");
    for (i, date) in [1_600_003_000i64, 1_600_001_000, root_time, root_time - 1].into_iter().enumerate() {
        let home = scratch.dir.path().join(format!("home-{i}"));
        let got = resolve(&home, &url, &["--ref", "main", "--date", &date.to_string()]);
        assert_eq!(got, git_truncate(&repo, &tip, date, false), "--date {date}");
    }
    assert!(server.pack_requests() >= 4 * 3, "deepening took several rounds: {} pack requests", server.pack_requests());
}

#[test]
fn partial_fetch_matches_full_fetch_and_a_later_full_fetch_still_works() {
    let scratch = Scratch::new();
    let repo = serve_history_fixture(&scratch);
    let server = http_server(&scratch);
    let url = format!("http://127.0.0.1:{}/repo.git", server.port);
    let home = scratch.home();
    let date = "1600003000";
    let fetch = |extra: &[&str]| {
        let mut args = vec!["fetch", "--no-store", "-q", "--compat", "legacy", "--url", url.as_str(), "--ref", "main", "--date", date];
        args.extend_from_slice(extra);
        ok_json(&run_bin_in(&home, &args, &[]), &format!("fetch {extra:?}"))
    };
    let resolved = resolve(&home, &url, &["--ref", "main", "--date", date]);
    let before = server.pack_requests();
    let shallow = fetch(&["--shallow"]);
    assert_eq!(server.pack_requests(), before, "fetch --shallow --date after resolve needs no network");
    assert_eq!(shallow["rev"], resolved.as_str());
    assert_eq!(shallow["revCount"], 0, "revCount is 0 without the whole history, as Nix reports it for shallow = true");
    let full = fetch(&[]);
    let local = ok_json(
        &run_bin_in(&home, &["fetch", "--no-store", "-q", "--compat", "legacy", "--url", repo.to_str().expect("utf-8"), "--ref", "main", "--date", date], &[]),
        "local fetch",
    );
    assert_eq!(full, local, "the full fetch after a partial one");
    assert_eq!(full["revCount"].as_u64(), Some(git(&repo, &["rev-list", "--count", &resolved]).parse().expect("count")));
    for key in ["rev", "narHash", "lastModified", "outPath", "truncation"] {
        assert_eq!(shallow[key], full[key], "{key}");
    }
    // With the full cache fresh, resolve and --shallow fetches use it without the network.
    let before = server.pack_requests();
    assert_eq!(resolve(&home, &url, &["--ref", "main", "--date", "1600000000"]), git_truncate(&repo, "main", 1_600_000_000, false));
    assert_eq!(fetch(&["--shallow"])["revCount"], 0);
    assert_eq!(server.pack_requests(), before, "a fresh full cache answers partial requests");
    for dir in std::fs::read_dir(scratch.cache_git()).expect("cache").flatten().filter(|e| e.path().join("HEAD").is_file()) {
        let fsck = Command::new("git").arg("-C").arg(dir.path()).args(["fsck", "--no-progress"]).output().expect("git fsck");
        assert!(fsck.status.success(), "git fsck {}: {}", dir.path().display(), String::from_utf8_lossy(&fsck.stderr));
    }
}

/// A long history written with `git fast-import`: `commits` commits an hour apart, each
/// replacing one of 40 files with 2 KB of fresh pseudo-random text.
fn long_history(bare: &Path, commits: u32) {
    git(bare.parent().expect("parent"), &["init", "-q", "--bare", bare.to_str().expect("utf-8")]);
    let mut stream = String::new();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for i in 0..commits {
        let mut body = String::with_capacity(2100);
        while body.len() < 2048 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            body.push_str(&format!("{state:016x}\n"));
        }
        let time = 1_500_000_000 + i64::from(i) * 3600;
        let message = format!("commit {i}");
        stream.push_str(&format!(
            "commit refs/heads/main\ncommitter C O Mitter <c@example.org> {time} +0000\ndata {}\n{message}\nM 100644 inline f{}.txt\ndata {}\n{body}\n",
            message.len(),
            i % 40,
            body.len()
        ));
    }
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(bare)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdin(Stdio::piped())
        .spawn()
        .expect("git fast-import");
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), stream.as_bytes()).expect("stream");
    drop(child.stdin.take());
    assert!(child.wait().expect("wait").success(), "fast-import");
    git(bare, &["symbolic-ref", "HEAD", "refs/heads/main"]);
    git(bare, &["repack", "-adq"]);
}

#[test]
fn a_one_day_window_transfers_far_fewer_bytes_than_the_whole_history() {
    let scratch = Scratch::new();
    let bare = scratch.srv().join("long.git");
    long_history(&bare, 2000);
    let server = http_server(&scratch);
    let url = format!("http://127.0.0.1:{}/long.git", server.port);
    let tip = git(&bare, &["rev-parse", "main"]);
    let t: i64 = git(&bare, &["log", "-1", "--format=%ct", "main"]).parse().expect("time");
    let date = (t - 86_400).to_string();

    let got = resolve(&scratch.home(), &url, &["--ref", "main", "--date", &date]);
    assert_eq!(got, git_truncate(&bare, &tip, t - 86_400, false));
    let partial = server.pack_bytes();

    let out = run_bin_in(&scratch.dir.path().join("home-full"), &["fetch", "--no-store", "-q", "--url", &url, "--ref", "main", "--date", &date], &[]);
    assert_eq!(ok_json(&out, "full fetch")["rev"], got.as_str());
    let full = server.pack_bytes() - partial;
    eprintln!("one-day window: {partial} bytes; whole history: {full} bytes ({:.1}x)", full as f64 / partial as f64);
    assert!(partial > 0 && full > 0);
    assert!(partial * 5 <= full, "a one-day window of 2000 hourly commits took {partial} bytes, the whole history {full}");
}

#[test]
fn servers_without_shallow_support_get_a_full_fetch() {
    let scratch = Scratch::new();
    let repo = serve_history_fixture(&scratch);
    let server = http_server_mode(&scratch, "noshallow", None);
    let url = format!("http://127.0.0.1:{}/repo.git", server.port);
    let home = scratch.home();
    let out = run_bin_in(&home, &["resolve", "-q", "--url", &url, "--ref", "main", "--date", "1600001000"], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), git_truncate(&repo, "main", 1_600_001_000, false));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not support shallow fetches: fetching the whole history instead"), "{err}");
    let full = scratch.cache_git().join(
        std::fs::read_dir(scratch.cache_git())
            .expect("cache")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.len() == 64)
            .expect("a full cache"),
    );
    assert!(!full.join("shallow").exists(), "the full cache is complete");
    let out = run_bin_in(&home, &["fetch", "--no-store", "-q", "--shallow", "--refresh", "--url", &url, "--ref", "side"], &[]);
    assert_eq!(ok_json(&out, "fetch --shallow")["revCount"], 0);
}

#[test]
fn dumb_http_is_refused_in_one_line_naming_the_fix() {
    let scratch = Scratch::new();
    make_fixture(&scratch, 3);
    git(&scratch.repo(), &["update-server-info"]);
    // A plain static file server: git's "dumb" HTTP protocol.
    let mut child = Command::new("python3")
        .args(["-c", "import http.server, functools, sys\nh = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])\nh.log_message = lambda *a: None\ns = http.server.ThreadingHTTPServer(('127.0.0.1', 0), h)\nprint(s.server_address[1], flush=True)\ns.serve_forever()"])
        .arg(scratch.srv())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().expect("stdout")), &mut line).expect("port");
    let server = Server { child, port: line.trim().parse().expect("port"), log: scratch.dir.path().join("none") };
    let url = format!("http://127.0.0.1:{}/repo.git", server.port);
    let err = err_line(&run_bin_in(&scratch.home(), &["fetch", "--no-store", "-q", "--url", &url], &[]), "dumb http");
    assert!(err.contains("'dumb' HTTP protocol") && err.contains("git http-backend") && err.contains(&url), "{err}");
}

/// A CA and a certificate for 127.0.0.1 signed by it, made with the openssl CLI.
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let openssl = |args: &[&str]| {
        let out =
            Command::new("openssl").args(args).current_dir(dir).stdin(Stdio::null()).output().expect("the openssl CLI is installed (.ci/run installs it)");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    std::fs::create_dir_all(dir).expect("dir");
    openssl(&["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", "/CN=fetchgit-date test CA"]);
    openssl(&["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1"]);
    std::fs::write(dir.join("ext"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n").expect("ext");
    openssl(&["x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "leaf.pem", "-days", "30", "-extfile", "ext"]);
    (dir.join("ca.pem"), dir.join("leaf.pem"), dir.join("leaf.key"))
}

#[test]
fn tls_failures_are_one_line_naming_the_host_and_the_fix() {
    let scratch = Scratch::new();
    make_fixture(&scratch, 3);
    let (ca, cert, key) = certificates(&scratch.dir.path().join("tls"));
    let server = http_server_mode(&scratch, "0", Some((&cert, &key)));
    let url = format!("https://127.0.0.1:{}/repo.git", server.port);
    let home = scratch.home();
    let args = ["fetch", "--no-store", "-q", "--refresh", "--url", url.as_str(), "--ref", "main"];

    // A certificate from a CA the system does not trust.
    let err = err_line(&run_bin_in(&home, &args, &[]), "untrusted certificate");
    assert!(err.contains(&format!("TLS failure talking to {url}")) && err.contains("SSL_CERT_FILE"), "{err}");
    // The fix the message names works.
    let ca = ca.to_str().expect("utf-8");
    let ours = ok_json(&run_bin_in(&home, &args, &[("SSL_CERT_FILE", ca)]), "https with SSL_CERT_FILE");
    assert_eq!(ours["rev"], git(&scratch.repo(), &["rev-parse", "main"]).as_str());
    // A machine without CA certificates.
    let none = scratch.dir.path().join("no-such-bundle.pem");
    let none = none.to_str().expect("utf-8");
    let err = err_line(&run_bin_in(&home, &args, &[("SSL_CERT_FILE", none), ("SSL_CERT_DIR", none)]), "no CA certificates");
    assert!(err.contains("TLS failure") && err.contains("ca-certificates") && err.contains("127.0.0.1"), "{err}");
    // The cache is intact after the failures.
    let ours = ok_json(&run_bin_in(&home, &["fetch", "--no-store", "-q", "--url", url.as_str(), "--ref", "main"], &[]), "cached fetch");
    assert_eq!(ours["rev"], git(&scratch.repo(), &["rev-parse", "main"]).as_str());
}
