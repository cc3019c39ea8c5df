//! `builtins.fetchGitDate` itself, called directly, against Nix 2.8's own `builtins.fetchGit`
//! and the values recorded from Nix 2.26: every fixture commit in both export generations,
//! derivations using it as `src` in the default store, through a running `nix-daemon` that has
//! the plugin loaded, and in a chroot store; pure and restricted evaluation; errors at the
//! call's position with the CLI's message; a panic injected by the test hook; two cold
//! evaluations at once; progress through Nix's logger. No builtins.exec anywhere.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::support::*;
use serde_json::Value;

/// `nix-instantiate` with the plugin, builtins.exec off (the plugin target: see support::nixlib).
fn instantiate(home: &Path) -> Command {
    let mut cmd = nix_cmd("nix-instantiate", home);
    cmd.args(EXEC_ON);
    cmd
}

fn eval_json_with(home: &Path, opts: &[&str], expr: &str) -> Result<Value, String> {
    let out = run(instantiate(home).args(opts).args(["--eval", "--strict", "--json", "-E", expr]));
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("JSON from Nix"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The fixture repositories of fixtures/make-fixtures.sh, made once per test that needs them.
fn fixture_repos(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("fx");
    run_ok(Command::new("sh").arg(project_root().join("fixtures/make-fixtures.sh")).arg(&out));
    out
}

const FIXTURE_REPOS: [&str; 5] = ["files", "attributes", "history", "gitlinks", "history.git"];

#[test]
fn every_fixture_commit_equals_fetchgit_attribute_by_attribute() {
    if !require_nix("every_fixture_commit_equals_fetchgit_attribute_by_attribute") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let fx = fixture_repos(tmp.path());
    for name in FIXTURE_REPOS {
        let repo = fx.join(name);
        let url = nix_str(&repo.display().to_string());
        let revs: Vec<String> = all_commits(&repo).iter().map(|r| nix_str(r)).collect();
        let home = tmp.path().join(format!("home-{name}"));
        std::fs::create_dir_all(&home).expect("mkdir");
        // The same `{ url; rev; allRefs = true; }` to both, no library in between: Nix 2.8 needs
        // allRefs for commits on no branch's history, and for a bare repository (which it
        // clones, looking for `master` without it); the plugin behaves as the running 2.8 does.
        let expr = format!(
            "let project = {PROJECT}; in map (rev: {{ ours = project (builtins.fetchGitDate {{ url = {url}; inherit rev; allRefs = true; }}); nix = project (builtins.fetchGit {{ url = {url}; inherit rev; allRefs = true; }}); names = builtins.attrNames (builtins.fetchGitDate {{ url = {url}; inherit rev; allRefs = true; }}); }}) [ {} ]",
            revs.join(" ")
        );
        let results = eval_json_with(&home, &[], &expr).unwrap_or_else(|e| panic!("{name}: {e}"));
        let results = results.as_array().expect("a list");
        assert_eq!(results.len(), revs.len());
        for (rev, result) in revs.iter().zip(results) {
            assert_eq!(result["ours"], result["nix"], "{name} {rev}");
            assert_eq!(
                result["names"],
                serde_json::json!(["lastModified", "lastModifiedDate", "narHash", "outPath", "rev", "revCount", "shortRev", "submodules"]),
                "{name} {rev}: fetchGit's attribute names, nothing more without truncation"
            );
        }
    }
}

/// The modern generation (compat defaults from nixVersion) against Nix 2.26's recorded values;
/// the store path is then really valid, with fetchGit's context.
#[test]
fn submodules_equal_fetchgit_attribute_by_attribute() {
    if !require_nix("submodules_equal_fetchgit_attribute_by_attribute") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let fx = tmp.path().join("submodules");
    run_ok(Command::new("sh").arg(project_root().join("fixtures/make-submodules.sh")).arg(&fx).stderr(Stdio::null()));
    let repo = fx.join("super");
    let url = nix_str(&repo.display().to_string());
    let revs: Vec<String> = run_ok(Command::new("git").arg("-C").arg(&repo).args(["rev-list", "main"])).lines().map(nix_str).collect();
    // Nix 2.8 runs `git submodule update`, which needs local paths allowed (git >= 2.38.1).
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).expect("mkdir");
    assert_eq!(revs.len(), 5, "S1..S5");
    // One evaluation per call: where fetchGit fails, fetchGitDate must fail too. Nix 2.14 to
    // 2.19 and Lix copy the work tree's .git/config into their temporary clone, and `super` has
    // no origin: git resolves `../sub-a.git` against the clone's own directory (Lix 2.95.3:
    // "fatal: repository '/tmp/sub-a.git' does not exist"); Nix 2.8 sets origin to the path.
    let eval = |function: &str, rev: &str| {
        let expr = format!("let project = {PROJECT}; in project (builtins.{function} {{ url = {url}; rev = {rev}; submodules = true; allRefs = true; }})");
        let mut cmd = instantiate(&home);
        cmd.env("GIT_CONFIG_COUNT", "1").env("GIT_CONFIG_KEY_0", "protocol.file.allow").env("GIT_CONFIG_VALUE_0", "always");
        let out = run(cmd.args(["--eval", "--strict", "--json", "-E", &expr]));
        if out.status.success() {
            Ok(serde_json::from_slice::<Value>(&out.stdout).expect("JSON"))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    };
    let mut fetched = 0;
    for rev in &revs {
        match (eval("fetchGitDate", rev), eval("fetchGit", rev)) {
            (Ok(ours), Ok(nix)) => {
                assert_eq!(ours, nix, "fetchGitDate and fetchGit differ at {rev}");
                assert_eq!(ours["submodules"], Value::Bool(true));
                fetched += 1;
            }
            (Err(ours), Err(_)) => assert!(ours.contains("is relative, and the work tree's .git/config has no remote.origin.url"), "{rev}: {ours}"),
            (ours, nix) => panic!("at {rev} one fails, the other does not: fetchGitDate {ours:?}, fetchGit {nix:?}"),
        }
    }
    // Nix 2.8 (CI) fetches every commit.
    if running_nix() < (2, 14) {
        assert_eq!(fetched, 5, "Nix {} fetches S1..S5", running_nix_version());
    }
}

#[test]
fn modern_generation_equals_recorded_nix_2_26() {
    if !require_nix("modern_generation_equals_recorded_nix_2_26") {
        return;
    }
    let text = std::fs::read_to_string(project_root().join("fixtures/modern-expected.json")).expect("recording");
    let recording: Value = serde_json::from_str(&text).expect("JSON");
    let tmp = tempfile::tempdir().expect("tempdir");
    let fx = fixture_repos(tmp.path());
    let mut checked = 0;
    for name in FIXTURE_REPOS {
        let repo = fx.join(name);
        let url = nix_str(&repo.display().to_string());
        // The bare clone is not in the recording (Nix 2.26 exports it like its work tree).
        let Some(revs) = recording["repos"][name].as_object() else { continue };
        let mut calls = Vec::new();
        let mut expected = Vec::new();
        for (rev, settings) in revs {
            for (setting, extra) in [("default", ""), ("noExportIgnore", "exportIgnore = false;")] {
                let Some(values) = settings[setting].as_object() else { continue };
                calls.push(format!("(project (builtins.fetchGitDate {{ url = {url}; rev = {}; nixVersion = \"2.26.3\"; {extra} }}))", nix_str(rev)));
                let mut values = values.clone();
                let path = values.remove("storePath").expect("recorded storePath");
                values.insert("path".into(), path.clone());
                values.insert("context".into(), serde_json::json!({ path.as_str().expect("a string"): { "path": true } }));
                expected.push((format!("{name} {rev} {setting}"), Value::Object(values)));
            }
        }
        let expr = format!("let project = {PROJECT}; in [ {} ]", calls.join(" "));
        let results = eval_json_with(tmp.path(), &[], &expr).unwrap_or_else(|e| panic!("{name}: {e}"));
        for ((what, want), got) in expected.iter().zip(results.as_array().expect("a list")) {
            assert_eq!(got, want, "{what}");
            let path = got["path"].as_str().expect("path");
            assert!(Path::new(path).exists(), "{what}: {path} is in the store");
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} recorded values checked");
}

fn uses_src_nix(dir: &Path, repo: &Path, rev: &str) -> std::path::PathBuf {
    let file = dir.join("uses-src.nix");
    std::fs::write(
        &file,
        format!(
            "let src = builtins.fetchGitDate {{ url = {}; rev = {}; interval = 86400; }}; in
             derivation {{ name = \"uses-src\"; system = builtins.currentSystem; builder = \"/bin/sh\";
               args = [ \"-c\" \"read line < ${{src}}/README; echo \\\"$line\\\" > $out\" ]; inherit src; }}",
            nix_str(&repo.display().to_string()),
            nix_str(rev)
        ),
    )
    .expect("write nix file");
    file
}

/// Builds `uses-src.nix` with `store_opts`; checks the output and the .drv's references.
fn build_and_check_references(home: &Path, repo: &Path, tip: &str, store_opts: &[&str], check_output: bool) {
    let file = uses_src_nix(home, repo, tip);
    let expected_rev = git_truncate(repo, tip, commit_time(repo, tip).div_euclid(86_400) * 86_400, false);
    let source = eval_json_with(
        home,
        store_opts,
        &format!("(builtins.fetchGit {{ url = {}; rev = {}; }}).outPath", nix_str(&repo.display().to_string()), nix_str(&expected_rev)),
    )
    .expect("fetchGit");
    let drv = run_ok(instantiate(home).args(store_opts).arg(&file));
    let references = run_ok(nix_cmd("nix-store", home).args(store_opts).args(["-q", "--references"]).arg(drv.lines().last().expect("a drv")));
    assert!(references.lines().any(|r| r == source.as_str().expect("a string")), "{source} not in the references of {drv} ({store_opts:?}):\n{references}");
    if check_output {
        let out = run_ok(nix_cmd("nix-build", home).args(EXEC_ON).args(store_opts).arg("--no-out-link").arg(&file));
        let out = out.lines().last().expect("a path");
        let text = run_ok(nix_cmd("nix-store", home).args(store_opts).args(["--dump", out]));
        assert!(text.contains("on the boundary"), "{out}: {text}");
    }
}

#[test]
fn derivations_build_in_the_default_store_through_a_daemon_with_the_plugin_and_in_a_chroot_store() {
    if !require_nix("derivations_build_in_the_default_store_through_a_daemon_with_the_plugin_and_in_a_chroot_store") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = make_repo(tmp.path());
    let tip = run_ok(git_cmd(&repo).args(["rev-parse", "main"]));
    build_and_check_references(tmp.path(), &repo, &tip, &[], true);

    // A daemon on its own socket, serving a store of its own, with the plugin in its
    // plugin-files: it still serves store requests (the evaluator's adds go through it).
    let store = format!("local?root={}", tmp.path().join("daemon-root").display());
    run_ok(nix_cmd("nix-store", tmp.path()).args(["--store", &store, "--init"]));
    let socket = tmp.path().join("socket");
    let plugin = plugin_path().display().to_string();
    let _daemon = NixDaemon::start(&store, &socket, &["--option", "plugin-files", &plugin]);
    let uri = format!("unix://{}", socket.display());
    build_and_check_references(tmp.path(), &repo, &tip, &["--store", &uri], false);
    // The path the plugin added through the daemon is valid in the daemon's store.
    let path = eval_json_with(
        tmp.path(),
        &["--store", &uri],
        &format!("(builtins.fetchGitDate {{ url = {}; rev = {}; }}).outPath", nix_str(&repo.display().to_string()), nix_str(&tip)),
    )
    .expect("through the daemon");
    run_ok(nix_cmd("nix-store", tmp.path()).args(["--store", &uri, "--check-validity"]).arg(path.as_str().expect("a path")));

    // A chroot store given on the command line.
    let chroot = format!("local?root={}", tmp.path().join("chroot").display());
    build_and_check_references(tmp.path(), &repo, &tip, &["--store", &chroot], false);
}

#[test]
fn pure_and_restricted_evaluation_follow_fetchgit() {
    if !require_nix("pure_and_restricted_evaluation_follow_fetchgit") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = make_repo(tmp.path());
    let tip = run_ok(git_cmd(&repo).args(["rev-parse", "main"]));
    let url = nix_str(&repo.display().to_string());
    let pure = ["--option", "pure-eval", "true"];
    let allowed = format!("{}", repo.display());
    let restricted = ["--option", "restrict-eval", "true"];
    let restricted_allowed = ["--option", "restrict-eval", "true", "-I", &allowed];
    // allowed-uris names the repository as a file:// URL: fetchGit checks the path as given
    // (Nix <= 2.18, Lix) or git+file:// (Nix >= 2.26), neither of which that prefix admits.
    let allowed_uri = format!("file://{allowed}");
    let restricted_uri = ["--option", "restrict-eval", "true", "--option", "allowed-uris", &allowed_uri];
    let locked = |f: &str| format!("({f} {{ url = {url}; rev = {}; }}).narHash", nix_str(&tip));
    let unlocked = |f: &str| format!("({f} {{ url = {url}; }}).narHash");
    for (opts, expr_of, should_work) in [
        (&pure[..], &locked as &dyn Fn(&str) -> String, true),
        (&pure[..], &unlocked, false),
        (&restricted[..], &locked, false),
        (&restricted_allowed[..], &locked, true),
        (&restricted_uri[..], &locked, false),
    ] {
        let ours = eval_json_with(tmp.path(), opts, &expr_of("builtins.fetchGitDate"));
        let nix = eval_json_with(tmp.path(), opts, &expr_of("builtins.fetchGit"));
        // Nix >= 2.20 checks git+file:// against the allowed paths, so -I with the path no
        // longer lets fetchGit through.
        let should_work = should_work && !(opts == &restricted_allowed[..] && running_nix() >= (2, 20));
        assert_eq!(ours.is_ok(), should_work, "fetchGitDate with {opts:?}: {ours:?}");
        assert_eq!(nix.is_ok(), should_work, "fetchGit with {opts:?}: {nix:?}");
        if let (Ok(ours), Ok(nix)) = (&ours, &nix) {
            assert_eq!(ours, nix, "{opts:?}");
        }
    }
    // The messages say why, as fetchGit's do.
    let err = eval_json_with(tmp.path(), &pure, &unlocked("builtins.fetchGitDate")).expect_err("unlocked");
    assert!(err.contains("in pure evaluation mode fetchGitDate needs a locked input"), "{err}");
    let err = eval_json_with(tmp.path(), &pure, &format!("(builtins.fetchGitDate {{ url = {url}; rev = {}; date = \"yesterday\"; }}).rev", nix_str(&tip)))
        .expect_err("string date");
    assert!(err.contains("in pure evaluation mode date must be Unix seconds"), "{err}");
    let err = eval_json_with(tmp.path(), &restricted, &locked("builtins.fetchGitDate")).expect_err("restricted");
    assert!(err.contains("forbidden in restricted mode"), "{err}");
    // A locked call in pure mode still has fetchGit's context.
    let context = eval_json_with(
        tmp.path(),
        &pure,
        &format!("builtins.getContext (builtins.fetchGitDate {{ url = {url}; rev = {}; interval = 86400; }}).outPath", nix_str(&tip)),
    )
    .expect("pure");
    assert_eq!(context.as_object().map(|o| o.len()), Some(1), "{context}");
}

/// The error, its position line, and that it is the CLI's message for the same input.
#[test]
fn bad_arguments_fail_at_the_call_with_the_clis_message() {
    if !require_nix("bad_arguments_fail_at_the_call_with_the_clis_message") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = make_repo(tmp.path());
    let url = nix_str(&repo.display().to_string());
    let cases: Vec<(String, &str, Option<Vec<&str>>)> = vec![
        (format!("{{ url = {url}; rev = 5; }}"), "rev must be a string, not the integer 5", None),
        ("{ url = [ ]; }".to_owned(), "url must be a path or a string, not a list", None),
        (format!("{{ url = {url}; shallow = \"yes\"; }}"), "shallow must be true or false", None),
        (format!("{{ url = {url}; colour = 1; }}"), "unexpected argument 'colour': the arguments are url, ref, rev, name", None),
        (format!("{{ url = {url}; date = 1; interval = 1; }}"), "give either date or interval, not both", None),
        (format!("{{ url = {url}; interval = \"1x\"; }}"), "invalid interval '1x'", Some(vec!["--interval", "1x"])),
        (format!("{{ url = {url}; date = \"garbage\"; }}"), "invalid date 'garbage'", Some(vec!["--date", "garbage"])),
        (
            "{ url = \"ext::sh -c touch% /tmp/pwned\"; }".to_owned(),
            "the ext:: transport runs arbitrary commands",
            Some(vec!["--url", "ext::sh -c touch% /tmp/pwned"]),
        ),
        ("{ url = \"-oProxyCommand=touch /tmp/pwned\"; }".to_owned(), "could be taken as an option", Some(vec!["--url=-oProxyCommand=touch /tmp/pwned"])),
        (format!("{{ url = {url}; rev = \"abc\"; }}"), "rev 'abc' is abbreviated", Some(vec!["--rev", "abc"])),
        (format!("{{ url = {url}; ref = \"no-such-branch\"; }}"), "unknown ref 'no-such-branch'", Some(vec!["--ref", "no-such-branch"])),
        ("42".to_owned(), "the argument must be an attribute set { url; ... } or a URL, not the integer 42", None),
    ];
    for (arg, needle, cli) in cases {
        // The call starts at line 3, column 7 of the file.
        let file = tmp.path().join("call.nix");
        std::fs::write(&file, format!("let\n  x = 1;\nin    builtins.fetchGitDate {arg}\n")).expect("write");
        let out = run(instantiate(tmp.path()).args(["--eval", "--strict"]).arg(&file));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{arg}: {stderr}");
        let first = error_message_line(&stderr);
        assert!(first.starts_with("error: fetchGitDate: ") && first.contains(needle), "{arg}: the error line should be the message with {needle:?}:\n{stderr}");
        assert!(stderr.contains(&format!("{}:3:7", file.display())), "{arg}: the position of the call:\n{stderr}");
        if let Some(flags) = cli {
            // The CLI prints the same message body for the same input.
            let mut args = vec!["fetch", "--no-store"];
            if !flags.iter().any(|f| f.starts_with("--url")) {
                args.extend(["--url", repo.to_str().expect("UTF-8")]);
            }
            args.extend(flags);
            let cli_out = run(Command::new(BIN).args(&args).env("HOME", tmp.path()));
            let cli_line = String::from_utf8_lossy(&cli_out.stderr).trim().to_owned();
            let body = cli_line.strip_prefix("fetchgit-date: ").unwrap_or_else(|| panic!("{args:?}: {cli_line}"));
            assert_eq!(first.strip_prefix("error: fetchGitDate: "), Some(body), "{arg} vs fetchgit-date {args:?}");
        }
    }
}

#[test]
fn an_injected_panic_is_an_evaluation_error_and_nix_lives_on() {
    if !require_nix("an_injected_panic_is_an_evaluation_error_and_nix_lives_on") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = make_repo(tmp.path());
    let expr = format!("(builtins.fetchGitDate {{ url = {}; }}).rev", nix_str(&repo.display().to_string()));
    let out = run(instantiate(tmp.path()).env("FETCHGIT_DATE_PLUGIN_TEST_PANIC", "1").env_remove("RUST_BACKTRACE").args(["--eval", "-E", &expr]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Exit 1 is an evaluation error; a panic crossing into C++ would abort (signal 6).
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: fetchGitDate: internal error (a bug in fetchgit-date, please report it): panic injected by FETCHGIT_DATE_PLUGIN_TEST_PANIC"),
        "{stderr}"
    );
    assert!(stderr.contains("«string»:1:2"), "at the call: {stderr}");
    // Without the hook the same process setup works.
    let out = run(instantiate(tmp.path()).args(["--eval", "-E", &expr]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_memo_answers_the_same_arguments_without_work() {
    if !require_nix("the_memo_answers_the_same_arguments_without_work") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = make_repo(tmp.path());
    let tip = nix_str(&run_ok(git_cmd(&repo).args(["rev-parse", "main"])));
    let url = nix_str(&repo.display().to_string());
    // The same request twice (defaults spelt out, another attribute order), then another one.
    let expr = format!(
        "let a = builtins.fetchGitDate {{ url = {url}; rev = {tip}; interval = 86400; }}; b = builtins.fetchGitDate {{ name = \"source\"; interval = \"1d\"; rev = {tip}; url = {url}; }}; c = builtins.fetchGitDate {{ url = {url}; rev = {tip}; }}; in [ a.narHash b.narHash a.outPath b.outPath c.rev ]"
    );
    let out = run(instantiate(tmp.path()).args(["--debug", "--eval", "--strict", "--json", "-E", &expr]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let result: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(result[0], result[1]);
    assert_eq!(result[2], result[3]);
    assert_eq!(result[4], tip.trim_matches('"'));
    assert_eq!(stderr.matches("fetchGitDate: answered from the memo").count(), 1, "only b is a repeat: {stderr}");
}

#[test]
fn two_cold_evaluations_at_once_agree_and_report_progress_through_nix() {
    if !require_nix("two_cold_evaluations_at_once_agree_and_report_progress_through_nix") {
        return;
    }
    let scratch = crate::support::Scratch::new();
    let bare = crate::support::make_fixture(&scratch, 5);
    let tip = crate::support::git(&bare, &["rev-parse", "main"]);
    let server = crate::support::git_daemon(&scratch);
    let url = format!("git://127.0.0.1:{}/repo.git", server.port);
    let expr = format!("let r = builtins.fetchGitDate {{ url = {}; ref = \"main\"; rev = {}; interval = 86400; }}; in {{ inherit (r) narHash rev revCount; path = r.outPath; }}", nix_str(&url), nix_str(&tip));
    let cache = scratch.dir.path().join("shared-cache");
    let spawn = |home: &str| {
        let home = scratch.dir.path().join(home);
        std::fs::create_dir_all(&home).expect("mkdir");
        let mut cmd = instantiate(&home);
        // Both start cold, on the same (empty) cache directory.
        cmd.env("XDG_CACHE_HOME", &cache).args(["--eval", "--strict", "--json", "-E", &expr]).stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.spawn().expect("nix-instantiate")
    };
    let (a, b) = (spawn("a"), spawn("b"));
    let wait = |child: std::process::Child| -> Output { child.wait_with_output().expect("wait") };
    let (a, b) = (wait(a), wait(b));
    for out in [&a, &b] {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let (ja, jb): (Value, Value) = (serde_json::from_slice(&a.stdout).expect("JSON"), serde_json::from_slice(&b.stdout).expect("JSON"));
    assert_eq!(ja, jb);
    // And both equal what fetchGit says of the commit the truncation picked.
    let nix = eval_json_with(
        scratch.dir.path(),
        &[],
        &format!(
            "let r = builtins.fetchGit {{ url = {}; ref = \"main\"; rev = {}; }}; in {{ inherit (r) narHash rev revCount; path = r.outPath; }}",
            nix_str(&url),
            ja["rev"]
        ),
    )
    .expect("fetchGit");
    assert_eq!(ja, nix);
    // Progress went through Nix's logger (an activity: its text), not our stderr line.
    let stderr = format!("{}{}", String::from_utf8_lossy(&a.stderr), String::from_utf8_lossy(&b.stderr));
    assert!(stderr.contains("fetchgit-date: fetching"), "an activity for the fetch: {stderr}");
    assert!(!stderr.contains("KiB received"), "no raw progress line: {stderr}");
}
