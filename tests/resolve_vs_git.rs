//! `fetchgit-date resolve` against `git rev-list -1 --before=D [--first-parent] START`
//! (falling back to `git rev-list --max-parents=0 -1 [--first-parent] START` when git
//! selects nothing), for every commit of every fixture repository and a spread of
//! dates, date spellings, intervals and ref starts.

mod support;

use std::path::Path;
use support::*;
use time::{macros::format_description, OffsetDateTime, UtcOffset};

/// 2099-12-31T00:00:00Z. git's date parser rejects years >= 2100 (it reads
/// 4102444800 = 2100-01-01T00:00:00Z, in any spelling, as something else), so this is
/// about the farthest future git can be an oracle for; a day before the limit so that
/// its spellings with a positive offset stay in 2099 too.
const FAR_FUTURE: i64 = 4_102_358_400;
/// The smallest 9-digit number: 1973-03-03T09:46:40Z, before every fixture commit.
const LONG_BEFORE: i64 = 100_000_000;

struct Case {
    repo: String,
    /// how resolve starts: `--rev C` or `--ref R`
    start_args: Vec<String>,
    /// what git starts from
    git_start: String,
    /// `--date X` or `--interval X`
    when_args: Vec<String>,
    /// the cut-off in Unix seconds, given to git
    before: i64,
    first_parent: bool,
    /// A cache directory of its own (`XDG_CACHE_HOME`), so that no truncation result cached
    /// for another copy of the repository is reused; `None`: the shared isolated cache.
    cache: Option<std::path::PathBuf>,
}

/// What git selects: the newest-first walk's first commit with committer time <= before,
/// else a root.
fn git_expected(repo: &Path, c: &Case) -> String {
    let before = format!("--before={}", c.before);
    let mut args = vec!["rev-list", "-1", before.as_str()];
    if c.first_parent {
        args.push("--first-parent");
    }
    args.push(&c.git_start);
    let sel = git(repo, &args);
    if !sel.trim().is_empty() {
        return sel.trim().to_owned();
    }
    let mut args = vec!["rev-list", "--max-parents=0", "-1"];
    if c.first_parent {
        args.push("--first-parent");
    }
    args.push(&c.git_start);
    git(repo, &args).trim().to_owned()
}

fn check(c: &Case) -> Option<String> {
    let repo = fixtures().repo(&c.repo);
    let url = repo.to_str().expect("fixture paths are UTF-8");
    let want = git_expected(&repo, c);
    assert_eq!(want.len(), 40, "git selected a commit for {}", c.git_start);
    let mut args: Vec<&str> = vec!["resolve", "--url", url];
    args.extend(c.start_args.iter().map(String::as_str));
    args.extend(c.when_args.iter().map(String::as_str));
    if c.first_parent {
        args.push("--first-parent");
    }
    let ctx = format!("{}: resolve {}", c.repo, args[3..].join(" "));
    let run = match &c.cache {
        None => try_bin(&args),
        Some(dir) => try_bin_with_cache(&args, dir),
    };
    match run {
        Err(e) => Some(e),
        Ok(out) if out == format!("{want}\n") => None,
        Ok(out) => Some(format!("{ctx}: printed {out:?}, git selects {want} (before={})", c.before)),
    }
}

/// Runs the cases on a few threads; returns (count, differences).
fn run_cases(cases: Vec<Case>) -> (usize, Vec<String>) {
    let n = cases.len();
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).min(4);
    let chunk = n.div_ceil(threads).max(1);
    let diffs = std::thread::scope(|s| {
        let handles: Vec<_> = cases.chunks(chunk).map(|part| s.spawn(move || part.iter().filter_map(check).collect::<Vec<_>>())).collect();
        handles.into_iter().flat_map(|h| h.join().expect("a worker thread panicked")).collect::<Vec<_>>()
    });
    (n, diffs)
}

fn rev_case(repo: &str, rev: &str, when: &[&str], before: i64, first_parent: bool) -> Case {
    Case {
        repo: repo.to_owned(),
        start_args: vec!["--rev".into(), rev.to_owned()],
        git_start: rev.to_owned(),
        when_args: when.iter().map(|s| (*s).to_owned()).collect(),
        before,
        first_parent,
        cache: None,
    }
}

/// Every committer time of the repository, each +-1 s, before the roots, far future.
fn date_spread(repo: &Path) -> Vec<i64> {
    let times = commit_times(repo);
    let mut ds: Vec<i64> = times.values().flat_map(|t| [t - 1, *t, t + 1]).collect();
    let min = *times.values().min().expect("a repository has commits");
    ds.extend([min - 1, LONG_BEFORE, FAR_FUTURE]);
    ds.sort_unstable();
    ds.dedup();
    ds
}

#[test]
fn resolve_date_matches_git_for_every_commit_and_date() {
    let fx = fixtures();
    let mut cases = Vec::new();
    for repo in REPOS {
        let path = fx.repo(repo);
        let dates = date_spread(&path);
        for rev in all_commits(&path) {
            for &d in &dates {
                for fp in [false, true] {
                    cases.push(rev_case(repo, &rev, &["--date", &d.to_string()], d, fp));
                }
            }
        }
    }
    let (n, diffs) = run_cases(cases);
    assert_no_diffs("resolve --date (Unix seconds) vs git rev-list", n, &diffs);
}

fn iso(secs: i64, offset: Option<(i8, i8)>) -> String {
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let utc = OffsetDateTime::from_unix_timestamp(secs).expect("a valid timestamp");
    match offset {
        None => format!("{}Z", utc.format(fmt).expect("format a date")),
        Some((h, m)) => {
            let off = UtcOffset::from_hms(h, m, 0).expect("a valid offset");
            let local = utc.to_offset(off);
            let sign = if h < 0 || m < 0 { '-' } else { '+' };
            format!("{}{sign}{:02}:{:02}", local.format(fmt).expect("format a date"), h.unsigned_abs(), m.unsigned_abs())
        }
    }
}

#[test]
fn iso_helper_agrees_with_git() {
    // the ISO spellings below are only meaningful if they denote the same instant for
    // git: check the helper against git's own parser
    let repo = fixtures().repo("history");
    for secs in [LONG_BEFORE, 1_600_000_000, 1_600_003_300, FAR_FUTURE] {
        for off in [None, Some((2, 0)), Some((-5, -30))] {
            let s = iso(secs, off);
            let parsed = git(&repo, &["rev-parse", &format!("--since={s}")]);
            assert_eq!(parsed.trim(), format!("--max-age={secs}"), "git reads {s} as {secs}");
        }
    }
}

/// For every commit of every fixture repository, and dates around it, a case for each spelling
/// of the date that `spell` gives.
fn spelled_cases(spell: impl Fn(i64) -> Vec<String>) -> Vec<Case> {
    let fx = fixtures();
    let mut cases = Vec::new();
    for repo in REPOS {
        let path = fx.repo(repo);
        let times = commit_times(&path);
        let min = *times.values().min().expect("a repository has commits");
        for rev in all_commits(&path) {
            let t = times[&rev];
            for d in [t - 1, t, min - 1, FAR_FUTURE] {
                for spelling in spell(d) {
                    cases.push(rev_case(repo, &rev, &["--date", &spelling], d, false));
                }
            }
        }
    }
    cases
}

#[test]
fn resolve_date_spellings_match_git() {
    let cases = spelled_cases(|d| vec![format!("@{d}"), iso(d, None), iso(d, Some((2, 0))), iso(d, Some((-5, -30)))]);
    let (n, diffs) = run_cases(cases);
    assert_no_diffs("resolve --date (@N, ISO 8601 Z/offset) vs git rev-list", n, &diffs);
}

/// `secs` written in git's calendar spellings that carry a time, each meaning exactly `secs`:
/// a zone name after an ISO date, date(1) output (24- and 12-hour), git's default format
/// without a zone (UTC), a month name with an offset, and Nix's lastModifiedDate.
fn calendar_spellings(secs: i64) -> Vec<String> {
    let utc = OffsetDateTime::from_unix_timestamp(secs).expect("a valid timestamp");
    let at = |hours: i8| utc.to_offset(UtcOffset::from_hms(hours, 0, 0).expect("a valid offset"));
    let spell = |time: OffsetDateTime, fmt: &[time::format_description::FormatItem<'_>]| time.format(fmt).expect("format a date");
    vec![
        spell(utc, format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC")),
        spell(at(2), format_description!("[weekday repr:short] [month repr:short] [day padding:space] [hour]:[minute]:[second] CEST [year]")),
        spell(at(-5), format_description!("[weekday repr:short] [month repr:short] [day padding:space] [hour repr:12]:[minute]:[second] [period] EST [year]")),
        spell(utc, format_description!("[weekday repr:short] [month repr:short] [day padding:none] [hour]:[minute]:[second] [year]")),
        spell(at(9), format_description!("[month repr:long] [day padding:none], [year] [hour]:[minute]:[second] +0900")),
        spell(utc, format_description!("[year][month][day][hour][minute][second]")),
    ]
}

#[test]
fn calendar_spellings_agree_with_git() {
    // the spellings only test resolve if git reads each as the instant it was made from
    let repo = fixtures().repo("history");
    for secs in [LONG_BEFORE, 1_600_000_000, 1_600_003_300, FAR_FUTURE] {
        // lastModifiedDate is ours alone: git reads 14 digits as Unix seconds beyond 2099
        let spellings = calendar_spellings(secs);
        for s in &spellings[..spellings.len() - 1] {
            let parsed = git(&repo, &["rev-parse", &format!("--since={s}")]);
            assert_eq!(parsed.trim(), format!("--max-age={secs}"), "git reads {s} as {secs}");
        }
    }
}

#[test]
fn resolve_calendar_spellings_match_git() {
    let cases = spelled_cases(calendar_spellings);
    let (n, diffs) = run_cases(cases);
    assert_no_diffs("resolve --date (zone names, date(1), git log, month names, lastModifiedDate) vs git rev-list", n, &diffs);
}

/// The `lastModifiedDate` that `fetch` prints for a commit, given back as `--date` from that
/// commit, selects the commit itself, as git does at its `lastModified`; `fetch` with that
/// date prints the same commit and date.
#[test]
fn last_modified_date_from_fetch_selects_that_commit() {
    let fx = fixtures();
    let mut diffs = Vec::new();
    let mut n = 0;
    for repo in REPOS {
        let path = fx.repo(repo);
        let url = path.to_str().expect("fixture paths are UTF-8");
        for rev in all_commits(&path) {
            n += 1;
            let fetched = match try_bin_json(&["fetch", "--no-store", "--url", url, "--rev", &rev]) {
                Ok(attrs) => attrs,
                Err(e) => {
                    diffs.push(e);
                    continue;
                }
            };
            let date = fetched["lastModifiedDate"].as_str().expect("lastModifiedDate is a string").to_owned();
            let seconds = fetched["lastModified"].as_i64().expect("lastModified is a number");
            assert_eq!(date.len(), 14, "{repo} {rev}: lastModifiedDate {date:?}");
            let case = rev_case(repo, &rev, &["--date", &date], seconds, false);
            if git_expected(&path, &case) != rev {
                diffs.push(format!("{repo}: git does not select {rev} at its lastModified {seconds}"));
            }
            diffs.extend(check(&case));
            match try_bin_json(&["fetch", "--no-store", "--url", url, "--rev", &rev, "--date", &date]) {
                Ok(again) if again["rev"] == rev.as_str() && again["lastModifiedDate"] == date.as_str() => {}
                Ok(again) => {
                    diffs.push(format!("{repo}: fetch --rev {rev} --date {date} printed rev {} lastModifiedDate {}", again["rev"], again["lastModifiedDate"]))
                }
                Err(e) => diffs.push(e),
            }
        }
    }
    assert_no_diffs("resolve/fetch --date <fetch's lastModifiedDate> selects that commit", n, &diffs);
}

/// Relative dates, dotted or not, select what git selects and warn that they are impure;
/// calendar dates do not warn.
#[test]
fn relative_dates_warn_and_calendar_dates_do_not() {
    let repo = fixtures().repo("history");
    let url = repo.to_str().expect("fixture paths are UTF-8");
    let rev = git(&repo, &["rev-parse", "main"]);
    let rev = rev.trim();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("the clock is after 1970").as_secs() as i64;
    // (spelling, relative, the instant it means); the fixtures' commits are years old, so the
    // seconds between our clock and the binary's do not change what is selected
    let specs = [
        ("3 days ago", true, now - 3 * 86400),
        ("3.days.ago", true, now - 3 * 86400),
        ("2.weeks.ago", true, now - 14 * 86400),
        ("1.day.12.hours.ago", true, now - 36 * 3600),
        ("20200913132500", false, 1_600_003_500),
        ("20200913132459", false, 1_600_003_499),
        ("Sun Sep 13 13:25:00 UTC 2020", false, 1_600_003_500),
        ("September 13, 2020 noon", false, 1_599_998_400),
    ];
    let mut diffs = Vec::new();
    for (spec, relative, before) in specs {
        diffs.extend(check(&rev_case("history", rev, &["--date", spec], before, false)));
        let out = run_bin(&["resolve", "--url", url, "--rev", rev, "--date", spec]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("depends on the clock, so the result is impure") != relative {
            diffs.push(format!("--date {spec:?}: relative is {relative}, stderr {stderr:?}"));
        }
    }
    assert_no_diffs("resolve --date warnings", specs.len(), &diffs);
}

#[test]
fn resolve_interval_matches_git() {
    let intervals: [(&str, i64); 8] =
        [("1", 1), ("60", 60), ("3600", 3600), ("86400", 86_400), ("604800", 604_800), ("1d", 86_400), ("12h", 43_200), ("90m", 5_400)];
    let fx = fixtures();
    let mut cases = Vec::new();
    for repo in REPOS {
        let path = fx.repo(repo);
        let times = commit_times(&path);
        for rev in all_commits(&path) {
            let t = times[&rev];
            for (spelling, secs) in intervals {
                let boundary = t - t.rem_euclid(secs);
                for fp in [false, true] {
                    cases.push(rev_case(repo, &rev, &["--interval", spelling], boundary, fp));
                }
            }
        }
    }
    let (n, diffs) = run_cases(cases);
    assert_no_diffs("resolve --interval vs git rev-list at the boundary", n, &diffs);
}

#[test]
fn resolve_from_refs_matches_git() {
    let fx = fixtures();
    let starts: [(&str, &[&str]); 2] = [
        ("history", &["main", "develop", "refs/heads/main", "refs/heads/side", "refs/tags/v1.0", "refs/tags/v2.0", "refs/tags/nested", "refs/tags/light"]),
        ("files", &["main", "refs/tags/v1", "refs/tags/light"]),
    ];
    let mut cases = Vec::new();
    for (repo, refs) in starts {
        let path = fx.repo(repo);
        let dates = date_spread(&path);
        for r in refs {
            // git's name for the start: a bare name means a branch
            let git_start = if r.starts_with("refs/") { (*r).to_owned() } else { format!("refs/heads/{r}") };
            let tip = git(&path, &["rev-parse", &format!("{git_start}^{{commit}}")]);
            let tip_time: i64 = git(&path, &["log", "-1", "--format=%ct", tip.trim()]).trim().parse().expect("%ct is a number");
            let mut whens: Vec<(Vec<String>, i64)> = dates.iter().map(|d| (vec!["--date".into(), d.to_string()], *d)).collect();
            for secs in [60i64, 3600, 86_400] {
                whens.push((vec!["--interval".into(), secs.to_string()], tip_time - tip_time % secs));
            }
            for (when, before) in whens {
                for fp in [false, true] {
                    cases.push(Case {
                        repo: repo.to_owned(),
                        start_args: vec!["--ref".into(), (*r).to_owned()],
                        git_start: git_start.clone(),
                        when_args: when.clone(),
                        before,
                        first_parent: fp,
                        cache: None,
                    });
                }
            }
        }
    }
    let (n, diffs) = run_cases(cases);
    assert_no_diffs("resolve --ref vs git rev-list", n, &diffs);
}

/// Errors: exit code 2 and one non-empty line on stderr.
#[test]
fn resolve_errors_exit_2_with_one_line() {
    let fx = fixtures();
    let repo = fx.repo("history");
    let url = repo.to_str().expect("fixture paths are UTF-8");
    let missing = fx.scratch("no-such-repo").join("nothing-here");
    let missing = missing.to_str().expect("UTF-8");
    let head = git(&repo, &["rev-parse", "main"]);
    let head = head.trim();
    let cases: Vec<Vec<&str>> = vec![
        // a commit that does not exist
        vec!["resolve", "--url", url, "--rev", "0123456789abcdef0123456789abcdef01234567", "--date", "1600000000"],
        // an unparsable date
        vec!["resolve", "--url", url, "--rev", head, "--date", "not a date"],
        // a zero interval
        vec!["resolve", "--url", url, "--rev", head, "--interval", "0"],
        // a repository that does not exist
        vec!["resolve", "--url", missing, "--rev", head, "--date", "1600000000"],
        // a ref that does not exist
        vec!["resolve", "--url", url, "--ref", "no-such-branch", "--date", "1600000000"],
    ];
    let mut diffs = Vec::new();
    for args in &cases {
        let out = run_bin(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let ctx = args.join(" ");
        if out.status.code() != Some(2) {
            diffs.push(format!("`{ctx}`: exit status {}, expected 2", out.status));
        }
        if stderr.trim().is_empty() || stderr.trim_end().contains('\n') {
            diffs.push(format!("`{ctx}`: stderr is not one line: {stderr:?}"));
        }
        if !out.stdout.is_empty() {
            diffs.push(format!("`{ctx}`: printed on stdout: {:?}", String::from_utf8_lossy(&out.stdout)));
        }
    }
    // a usage error (neither --date nor --interval): exit 2; the argument parser may
    // print usage lines, so only the exit code and silence on stdout are required
    let args = ["resolve", "--url", url, "--rev", head];
    let out = run_bin(&args);
    if out.status.code() != Some(2) || !out.stdout.is_empty() {
        diffs.push(format!("`{}`: exit status {}, stdout {:?}; expected 2 and nothing", args.join(" "), out.status, String::from_utf8_lossy(&out.stdout)));
    }
    assert_no_diffs("resolve errors", cases.len() + 1, &diffs);
}

/// A copy of fixture `repo` (in the fixtures directory, as `<repo>-<label>`) whose commit-graph
/// is written by `setup`, so that resolve walks graph positions (and, for a partial graph, ids
/// for the commits newer than it).
fn graph_copy(repo: &str, label: &str, setup: impl Fn(&Path)) -> String {
    let fx = fixtures();
    let name = format!("{repo}-{label}");
    let dst = fx.repo(&name);
    if !dst.exists() {
        run_ok(std::process::Command::new("cp").arg("-a").arg(fx.repo(repo)).arg(&dst));
        setup(&dst);
    }
    name
}

/// A commit-graph holding `commits` and their ancestors, as one more layer of a split graph.
fn write_graph_layer(repo: &Path, commits: &[&str]) {
    let mut cmd = std::process::Command::new("git");
    isolate(&mut cmd)
        .arg("-C")
        .arg(repo)
        .args(["commit-graph", "write", "--split=no-merge", "--stdin-commits", "--no-progress"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null());
    let mut child = cmd.spawn().expect("run git commit-graph write");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        for c in commits {
            writeln!(stdin, "{c}").expect("write to git commit-graph");
        }
    }
    assert!(child.wait().expect("git commit-graph write").success(), "git commit-graph write failed");
}

/// With a commit-graph (full; partial, so that new commits are read from objects and their
/// parents found in the graph; and split into two layers), resolve still selects what git does,
/// for every commit and date; and `fetch` counts commits as `git rev-list --count` does.
#[test]
fn resolve_with_commit_graph_matches_git() {
    let mut cases = Vec::new();
    let mut copies = Vec::new();
    for repo in REPOS {
        let full = graph_copy(repo, "graph-full", |p| {
            git(p, &["commit-graph", "write", "--reachable", "--no-progress"]);
        });
        // The oldest half of the commits (by git's default order, newest first) and their
        // ancestors: commits newer than those are not in the graph.
        let partial = |split: bool| {
            move |p: &Path| {
                let all = all_commits(p);
                let old: Vec<&str> = all[all.len() / 2..].iter().map(String::as_str).collect();
                write_graph_layer(p, &old);
                if split {
                    let all: Vec<&str> = all.iter().map(String::as_str).collect();
                    write_graph_layer(p, &all);
                }
            }
        };
        let half = graph_copy(repo, "graph-partial", partial(false));
        let split = graph_copy(repo, "graph-split", partial(true));
        copies.extend([full, half, split]);
    }
    let fx = fixtures();
    let cache = fx.scratch("graph-cache");
    for name in &copies {
        let path = fx.repo(name);
        assert!(
            path.join(".git/objects/info/commit-graph").exists() || path.join(".git/objects/info/commit-graphs/commit-graph-chain").exists(),
            "{name} has a commit-graph"
        );
        let dates = date_spread(&path);
        for rev in all_commits(&path) {
            for &d in &dates {
                for fp in [false, true] {
                    let mut case = rev_case(name, &rev, &["--date", &d.to_string()], d, fp);
                    case.cache = Some(cache.clone());
                    cases.push(case);
                }
            }
        }
    }
    let (n, diffs) = run_cases(cases);
    assert_no_diffs("resolve --date with a commit-graph vs git rev-list", n, &diffs);

    let mut diffs = Vec::new();
    let mut n = 0;
    for name in &copies {
        let path = fx.repo(name);
        let url = path.to_str().expect("fixture paths are UTF-8");
        for rev in all_commits(&path) {
            n += 1;
            let want: u64 = git(&path, &["rev-list", "--count", &rev]).trim().parse().expect("a count");
            let fetched = try_bin_with_cache(&["fetch", "--url", url, "--rev", &rev, "--no-store"], &cache)
                .and_then(|out| serde_json::from_str::<serde_json::Value>(&out).map_err(|e| format!("not JSON ({e}): {out}")));
            match fetched {
                Ok(attrs) if attrs["revCount"].as_u64() == Some(want) => {}
                Ok(attrs) => diffs.push(format!("{name}: revCount of {rev} is {}, git counts {want}", attrs["revCount"])),
                Err(e) => diffs.push(format!("{name}: fetch {rev}: {e}")),
            }
        }
    }
    assert_no_diffs("fetch revCount with a commit-graph vs git rev-list --count", n, &diffs);
}

/// `try_bin` with `XDG_CACHE_HOME` set to `cache`.
fn try_bin_with_cache(args: &[&str], cache: &Path) -> Result<String, String> {
    let out = bin().env("XDG_CACHE_HOME", cache).args(args).output().expect("run the fetchgit-date binary");
    if !out.status.success() {
        return Err(format!("`fetchgit-date {}` failed ({}): {}", args.join(" "), out.status, String::from_utf8_lossy(&out.stderr).trim()));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("`fetchgit-date {}`: stdout is not UTF-8: {e}", args.join(" ")))
}
