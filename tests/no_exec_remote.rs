//! Issue 19, sections 1 (cache repositories), 2 and 8: configuration planted in a cache
//! repository never runs; a cache another user could have written is not believed; a
//! repository another user owns is refused as the release refuses it; no `GIT_*` variable
//! reaches a remote fetch. Loopback servers only. Each canary check is paired with the same
//! setup run through plain git, which does create the canary, so that the check can fail.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

fn fetch_args<'a>(url: &'a str, version: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["fetch", "--no-store", "-q", "--nix-version", version, "--url", url];
    args.extend_from_slice(extra);
    args
}

/// The cache repositories under the scratch's cache (lock files aside).
fn cache_repositories(scratch: &Scratch) -> Vec<PathBuf> {
    std::fs::read_dir(scratch.cache_git()).map(|entries| entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect()).unwrap_or_default()
}

fn plant(repo: &Path, key: &str, value: &str) {
    let status = Command::new("git").args(["config", "--file"]).arg(repo.join("config")).args([key, value]).status().expect("git config");
    assert!(status.success(), "planting {key} in {}", repo.display());
}

/// Plain git, in the cache repository, with the user's configuration isolated like ours.
fn plain_git(home: &Path, repo: &Path, args: &[&str]) {
    let mut cmd = Command::new("git");
    isolate_in(&mut cmd, home).env("GIT_TERMINAL_PROMPT", "0").arg("-C").arg(repo).args(args);
    let _ = run_bounded(cmd, std::time::Duration::from_secs(60));
}

fn one_line(out: &std::process::Output, what: &str) -> String {
    assert_eq!(out.status.code(), Some(2), "{what}: refused with status 2: {}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{what}: one line: {stderr}");
    lines[0].to_owned()
}

/// `core.sshCommand` planted in the cache repository of an ssh URL never runs (git would run it
/// for a fetch from that repository).
#[test]
fn planted_ssh_command_in_a_cache_repository_never_runs() {
    let scratch = Scratch::new();
    let canary = scratch.dir.path().join("canary-ssh");
    // Nothing listens on port 9: whatever ssh program runs fails at once.
    let url = "ssh://127.0.0.1:9/repo.git";
    for version in ["2.8.0", "2.34.8"] {
        let _ = run_bin_in(&scratch.home(), &fetch_args(url, version, &["--ref", "main"]), &[]);
    }
    let repos = cache_repositories(&scratch);
    assert!(!repos.is_empty(), "the first fetch creates the cache repository");
    let command = format!("touch '{}'; false", canary.display());
    for repo in &repos {
        plant(repo, "core.sshCommand", &command);
    }
    for version in ["2.8.0", "2.34.8"] {
        let out = run_bin_in(&scratch.home(), &fetch_args(url, version, &["--ref", "main", "--refresh"]), &[]);
        one_line(&out, &format!("ssh fetch ({version})"));
        assert!(!canary.exists(), "{version}: core.sshCommand of the cache repository ran");
    }
    plain_git(&scratch.home(), &repos[0], &["fetch", url, "main"]);
    assert!(canary.exists(), "plain git runs the planted core.sshCommand (the check above can fail)");
}

/// `credential.helper` planted in the cache repository never runs, for a server that answers
/// 401, with --refresh, in both generations.
#[test]
fn planted_credential_helper_in_a_cache_repository_never_runs() {
    let scratch = Scratch::new();
    make_fixture(&scratch, 3);
    let server = http_server_with_auth(&scratch, "alyx:pw");
    let canary = scratch.dir.path().join("canary-credential");
    let url = format!("http://127.0.0.1:{}/repo.git", server.port);
    for version in ["2.8.0", "2.34.8"] {
        let _ = run_bin_in(&scratch.home(), &fetch_args(&url, version, &["--ref", "main"]), &[]);
    }
    let repos = cache_repositories(&scratch);
    assert!(!repos.is_empty(), "the first fetch creates the cache repository");
    let helper = format!("!touch '{}'; echo username=alyx; echo password=pw", canary.display());
    for repo in &repos {
        plant(repo, "credential.helper", &helper);
    }
    for version in ["2.8.0", "2.34.8"] {
        let out = run_bin_in(&scratch.home(), &fetch_args(&url, version, &["--ref", "main", "--refresh"]), &[]);
        let line = one_line(&out, &format!("http fetch ({version})"));
        assert!(line.contains("authentication failed"), "{version}: the server's 401 is reported: {line}");
        assert!(!canary.exists(), "{version}: credential.helper of the cache repository ran");
    }
    plain_git(&scratch.home(), &repos[0], &["fetch", &url, "main"]);
    assert!(canary.exists(), "plain git runs the planted credential.helper (the check above can fail)");
}

/// No `GIT_*` variable changes a remote fetch: the same attributes as with a clean environment,
/// over git:// and http://, in both generations, each from a cold cache.
#[test]
fn the_environment_never_reaches_a_remote_fetch() {
    let scratch = Scratch::new();
    make_fixture(&scratch, 4);
    let daemon = git_daemon(&scratch);
    let http = http_server(&scratch);
    let hostile_dir = scratch.dir.path().join("elsewhere");
    std::fs::create_dir_all(&hostile_dir).expect("dir");
    let elsewhere = hostile_dir.display().to_string();
    let shallow = hostile_dir.join("shallow");
    std::fs::write(&shallow, "0000000000000000000000000000000000000001\n").expect("shallow file");
    let shallow = shallow.display().to_string();
    let env: Vec<(&str, &str)> = vec![
        ("GIT_SHALLOW_FILE", &shallow),
        ("GIT_NAMESPACE", "evil"),
        ("GIT_DIR", &elsewhere),
        ("GIT_COMMON_DIR", &elsewhere),
        ("GIT_OBJECT_DIRECTORY", &elsewhere),
        ("GIT_ALTERNATE_OBJECT_DIRECTORIES", &elsewhere),
        ("GIT_INDEX_FILE", &elsewhere),
        ("GIT_REPLACE_REF_BASE", "refs/evil/"),
        ("GIT_NO_REPLACE_OBJECTS", "1"),
        ("GIT_GRAFT_FILE", &elsewhere),
        ("GIT_CONFIG_COUNT", "1"),
        ("GIT_CONFIG_KEY_0", "fetch.negotiationAlgorithm"),
        ("GIT_CONFIG_VALUE_0", "bogus"),
        ("GIT_CONFIG_PARAMETERS", "'core.bare'='false'"),
        ("GIT_PROTOCOL", "version=9"),
        ("GIT_HTTP_USER_AGENT", "evil"),
    ];
    let urls = [format!("git://127.0.0.1:{}/repo.git", daemon.port), format!("http://127.0.0.1:{}/repo.git", http.port)];
    for url in &urls {
        for version in ["2.8.0", "2.34.8"] {
            let what = format!("{url} ({version})");
            let clean_home = scratch.dir.path().join(format!("clean-{}-{version}", url.len()));
            let hostile_home = scratch.dir.path().join(format!("hostile-{}-{version}", url.len()));
            for home in [&clean_home, &hostile_home] {
                std::fs::create_dir_all(home).expect("home");
            }
            let clean = ok_json(&run_bin_in(&clean_home, &fetch_args(url, version, &["--ref", "main"]), &[]), &what);
            let hostile = ok_json(&run_bin_in(&hostile_home, &fetch_args(url, version, &["--ref", "main"]), &env), &format!("{what} with GIT_* set"));
            assert_eq!(clean, hostile, "{what}: the environment changed the result");
        }
    }
}

/// A value cache another user could have written is ignored, with one warning: a forged entry
/// with a valid checksum, served while the cache is ours, is not served once the cache directory
/// is writable by everyone (or, as root, owned by another uid).
#[test]
fn a_cache_another_user_could_write_is_not_believed() {
    let scratch = Scratch::new();
    let repo = make_fixture(&scratch, 3);
    let path = repo.display().to_string();
    let rev = git(&repo, &["rev-parse", "main"]);
    let args = fetch_args(&path, "2.8.0", &["--rev", &rev, "--ref", "main"]);
    let cold = ok_json(&run_bin_in(&scratch.home(), &args, &[]), "cold fetch");
    let cache = scratch.home().join(".cache/fetchgit-date");
    let revcounts = cache.join("v1/revcount");
    let keys: Vec<String> = std::fs::read_dir(&revcounts).expect("revcount entries").flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert!(!keys.is_empty(), "the fetch cached a commit count");
    let forged_cache = fetchgit_date::cache::Cache::at(&cache);
    for key in &keys {
        forged_cache.put(fetchgit_date::cache::Table::RevCount, key, "999");
    }
    let served = ok_json(&run_bin_in(&scratch.home(), &args, &[]), "forged, our own cache");
    assert_eq!(served["revCount"], 999, "a forged entry in our own cache is served (so the checks below can fail)");

    std::fs::set_permissions(&revcounts, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let out = run_bin_in(&scratch.home(), &args, &[]);
    assert_eq!(ok_json(&out, "world-writable cache"), cold, "a world-writable cache directory is ignored");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ignoring the cache") && stderr.contains("writable by every user"), "one warning says why: {stderr}");
    std::fs::set_permissions(&revcounts, std::fs::Permissions::from_mode(0o755)).expect("chmod back");

    if !is_root("a_cache_another_user_could_write_is_not_believed (owned by another uid)") {
        return;
    }
    for key in &keys {
        forged_cache.put(fetchgit_date::cache::Table::RevCount, key, "999");
        std::os::unix::fs::lchown(revcounts.join(key), Some(12345), None).expect("chown");
    }
    let out = run_bin_in(&scratch.home(), &args, &[]);
    assert_eq!(ok_json(&out, "cache entry of another uid"), cold, "an entry another uid owns is ignored");
    assert!(String::from_utf8_lossy(&out.stderr).contains("owned by uid 12345"), "the warning names the owner");
}

/// Whether we run as root (needed to give files to another uid), by the one policy for a
/// missing prerequisite (a failure under `CI=true`).
fn is_root(what: &str) -> bool {
    require_root(what, "giving files to another uid (chown)")
}

fn chown_tree(path: &Path, uid: u32) {
    let status = Command::new("chown").arg("-R").arg(uid.to_string()).arg(path).status().expect("chown");
    assert!(status.success(), "chown -R {uid} {}", path.display());
}

/// A cache repository another uid owns is refused, with one line.
#[test]
fn a_cache_repository_of_another_user_is_refused() {
    if !is_root("a_cache_repository_of_another_user_is_refused") {
        return;
    }
    let scratch = Scratch::new();
    make_fixture(&scratch, 3);
    let http = http_server(&scratch);
    let url = format!("http://127.0.0.1:{}/repo.git", http.port);
    ok_json(&run_bin_in(&scratch.home(), &fetch_args(&url, "2.34.8", &["--ref", "main"]), &[]), "first fetch");
    for repo in cache_repositories(&scratch) {
        chown_tree(&repo, 12345);
    }
    let out = run_bin_in(&scratch.home(), &fetch_args(&url, "2.34.8", &["--ref", "main", "--refresh"]), &[]);
    let line = one_line(&out, "cache repository of another uid");
    assert!(line.contains("owned by uid 12345"), "{line}");
}

/// A work tree or bare repository another uid owns is refused, in both generations, as git
/// (Nix 2.8, live) and libgit2 (Nix 2.34.8: "repository path '...' is not owned by current
/// user", measured as root) refuse it; `safe.directory` in the user's configuration allows it.
#[test]
fn a_repository_of_another_user_is_refused_as_the_release_does() {
    if !is_root("a_repository_of_another_user_is_refused_as_the_release_does") {
        return;
    }
    let scratch = Scratch::new();
    let bare = make_fixture(&scratch, 3);
    let work = scratch.dir.path().join("work");
    chown_tree(&work, 12345);
    chown_tree(&bare, 12345);
    for (repo, extra) in [(&work, vec![]), (&bare, vec!["--ref", "main"])] {
        let path = repo.display().to_string();
        let line = one_line(&run_bin_in(&scratch.home(), &fetch_args(&path, "2.8.0", &extra), &[]), "legacy, another uid's repository");
        assert!(line.contains("detected dubious ownership in repository at") && line.contains("safe.directory"), "git's message and hint: {line}");
        let line = one_line(&run_bin_in(&scratch.home(), &fetch_args(&path, "2.34.8", &extra), &[]), "modern, another uid's repository");
        assert!(line.contains("is not owned by current user") && line.contains("safe.directory"), "libgit2's message and git's hint: {line}");
        if require_nix("a_repository_of_another_user_is_refused_as_the_release_does") {
            let home = scratch.dir.path().join("nix-home");
            std::fs::create_dir_all(&home).expect("nix home");
            let refattr = if extra.is_empty() { "" } else { "ref = \"main\";" };
            let expr = format!("(builtins.fetchGit {{ url = \"{path}\"; {refattr} }}).narHash");
            let mut cmd = Command::new("nix-instantiate");
            isolate_in(&mut cmd, &home).args(["--eval", "--strict", "--json", "-E", &expr]);
            let nix = run_bounded(cmd, std::time::Duration::from_secs(120));
            assert!(!nix.status.success(), "Nix 2.8 refuses another uid's repository too: {}", String::from_utf8_lossy(&nix.stdout));
        }
    }
    // The user's safe.directory vouches for it, as for git.
    let config = scratch.dir.path().join("gitconfig");
    std::fs::write(&config, format!("[safe]\n\tdirectory = {}\n", std::fs::canonicalize(&work).expect("realpath").display())).expect("write");
    let config = config.display().to_string();
    let path = work.display().to_string();
    let out = run_bin_in(&scratch.home(), &fetch_args(&path, "2.8.0", &[]), &[("GIT_CONFIG_GLOBAL", &config)]);
    ok_json(&out, "legacy, listed in safe.directory");
}
