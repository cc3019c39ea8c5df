//! `submodules = true` (fetch --submodules) against Nix itself, on the repositories of
//! `fixtures/make-submodules.sh` (relative URLs, nested, moved, removed, `update = none`, a
//! gitlink without `.gitmodules` entry, a commit nobody has):
//! - legacy: live Nix 2.8, attribute by attribute, from a work tree and from a bare `file://`
//!   repository, and the same failures;
//! - modern: the values Nix 2.26 and 2.34 gave, recorded in `fixtures/submodules-modern.json`
//!   and `submodules-nix-2.34.json` by `fixtures/record-submodules.py`, successes and failures
//!   alike, each against `--nix-version` the recording's release;
//! - truncation picks the superproject's commit; remote submodules go through the cache;
//!   `verify --submodules` says what reproduces; and the cases of Nix's own
//!   tests/functional/fetchGitSubmodules.sh that the fixture does not hold already.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::*;

/// The fixture in a fresh directory.
fn make_fixture(name: &str) -> PathBuf {
    let dir = fixtures().scratch(&format!("submodules-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch");
    run_ok(Command::new("sh").arg(project_root().join("fixtures/make-submodules.sh")).arg(&dir).stderr(std::process::Stdio::null()));
    dir
}

/// `git rev-list` of `refs` in the superproject, newest first.
fn revs(fx: &Path, refs: &str) -> Vec<String> {
    git(&fx.join("super"), &["rev-list", refs]).lines().map(str::to_owned).collect()
}

/// `nix-instantiate --eval --strict --json` of `expr` by the installed Nix (2.8), with a fresh
/// HOME. Nix 2.8 runs `git submodule update`, which git >= 2.38.1 refuses for local paths unless
/// protocol.file.allow says so (Nix's own tests set it too).
fn nix_eval(expr: &str, label: &str) -> Result<Value, String> {
    let home = fixtures().scratch(&format!("nix-home-submodules-{label}"));
    let mut cmd = Command::new("nix-instantiate");
    with_file_protocol(isolate(&mut cmd)).env("HOME", &home).env("XDG_CACHE_HOME", home.join(".cache")).args(["--eval", "--strict", "--json", "-E", expr]);
    let out = cmd.output().expect("nix-instantiate runs");
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("JSON"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// builtins.fetchGit with submodules at `rev`, by the installed Nix (2.8).
fn nix_fetchgit(url: &str, rev: &str, label: &str) -> Result<Value, String> {
    let expr = format!(
        "let r = builtins.fetchGit {{ url = {}; rev = {}; submodules = true; allRefs = true; }}; in removeAttrs r [\"outPath\"] // {{ storePath = r.outPath; }}",
        nix_str(url),
        nix_str(rev)
    );
    let mut attrs = nix_eval(&expr, label)?;
    let path = attrs.as_object_mut().expect("attributes").remove("storePath").expect("storePath was added");
    attrs["outPath"] = path;
    Ok(attrs)
}

fn ours(url: &str, rev: &str, nix_version: &str) -> Result<Value, String> {
    try_bin_json(&["fetch", "--url", url, "--rev", rev, "--submodules", "--all-refs", "--nix-version", nix_version, "--no-store"])
}

#[test]
fn legacy_equals_live_nix_2_8_from_a_work_tree_and_a_bare_repository() {
    if !require_nix("submodules legacy") {
        return;
    }
    let fx = make_fixture("legacy");
    let (mut diffs, mut checked) = (Vec::new(), 0);
    let urls = [fx.join("super").display().to_string(), format!("file://{}", fx.join("super.git").display())];
    for url in &urls {
        for (i, rev) in revs(&fx, "--all").iter().enumerate() {
            let label = format!("{}-{i}", if url.starts_with("file://") { "bare" } else { "tree" });
            let context = format!("{url} {rev}");
            match (nix_fetchgit(url, rev, &label), ours(url, rev, "2.8.0")) {
                (Ok(nix), Ok(ours)) => diffs.extend(compare_fetch(&ours, &nix, false, &context)),
                (Err(_), Err(err)) => {
                    assert!(err.contains("submodule 'libs/a'") || err.contains("submodule 'orphan'"), "{context}: the error names the submodule: {err}")
                }
                (nix, ours) => diffs.push(format!("{context}: Nix 2.8 gave {nix:?}, fetchgit-date {ours:?}")),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 16, "8 commits from each of 2 URLs");
    assert_no_diffs("submodules, legacy, vs Nix 2.8", checked, &diffs);
}

/// A recording and the release that made it (`2.34.8`, from its header's `nix --version`).
fn recorded(file: &str) -> (Value, String) {
    let path = project_root().join("fixtures").join(file);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}; run fixtures/record-submodules.py with that release's oracle", path.display()));
    let record: Value = serde_json::from_str(&text).expect("valid JSON");
    let line = record["header"]["nix_version"].as_str().expect("the recording names its Nix").to_owned();
    (record, line.rsplit(' ').next().expect("`nix (Nix) X.Y.Z`").to_owned())
}

#[test]
fn modern_equals_recorded_nix_2_26_successes_and_failures() {
    modern_equals_recording("submodules-modern.json", "2.26");
}

#[test]
fn modern_equals_recorded_nix_2_34_successes_and_failures() {
    modern_equals_recording("submodules-nix-2.34.json", "2.34");
}

/// Every commit, from the work tree and the bare superproject, as the release of `file`.
fn modern_equals_recording(file: &str, minor: &str) {
    let (record, release) = recorded(file);
    assert!(release.starts_with(&format!("{minor}.")), "{file} was recorded with Nix {minor}, not {release}");
    let script = std::fs::read(project_root().join("fixtures/make-submodules.sh")).expect("script");
    assert_eq!(
        record["header"]["make_submodules_sha256"].as_str(),
        Some(nixstore::hash::sha256(&script).to_hex().as_str()),
        "make-submodules.sh changed since fixtures/{file} was recorded: rerun fixtures/record-submodules.py"
    );
    let fx = make_fixture("modern");
    let (mut diffs, mut checked, mut failures) = (Vec::new(), 0, 0);
    for (name, url) in [("super", fx.join("super").display().to_string()), ("super.git", format!("file://{}", fx.join("super.git").display()))] {
        let cases = record["cases"][name].as_object().expect("cases");
        assert_eq!(cases.len(), 8, "{name}: every commit is recorded");
        for (rev, case) in cases {
            let context = format!("{name} {rev}");
            match (&case["attrs"], ours(&url, rev, &release)) {
                (Value::Object(attrs), Ok(ours)) => {
                    let mut expected = attrs.clone();
                    expected.insert("outPath".into(), expected["storePath"].clone());
                    diffs.extend(compare_fetch(&ours, &Value::Object(expected), false, &context));
                }
                (Value::Null, Err(err)) => {
                    failures += 1;
                    let nix = case["error"].as_str().expect("an error is recorded");
                    // The same cause, in our words: a commit nobody has, or libgit2's lost slash.
                    let same =
                        (nix.contains("unexpected authority") && err.contains("drops a slash")) || (nix.contains("1234567890") && err.contains("1234567890"));
                    assert!(same, "{context}: Nix {release} failed with {nix:?}, fetchgit-date with {err:?}");
                }
                (attrs, ours) => diffs.push(format!("{context}: Nix {release} gave {attrs} / {}, fetchgit-date {ours:?}", case["error"])),
            }
            checked += 1;
        }
    }
    assert_eq!(failures, 9, "the missing commit from the work tree, and every commit of the bare superproject");
    assert_no_diffs(&format!("submodules, modern, vs recorded Nix {release}"), checked, &diffs);
}

#[test]
fn truncation_picks_the_superproject_commit_and_its_recorded_submodules() {
    let fx = make_fixture("truncation");
    let url = fx.join("super").display().to_string();
    let (record, _) = recorded("submodules-modern.json");
    let main = revs(&fx, "main");
    // S5..S1 newest first: 2024-01-03T00:00Z lies between S2 (01-02 12:00) and S3.
    let s2 = &main[3];
    let truncated =
        try_bin_json(&["fetch", "--url", &url, "--ref", "main", "--date", "2024-01-03T00:00:00Z", "--submodules", "--no-store"]).expect("truncated fetch");
    assert_eq!(truncated["rev"].as_str(), Some(s2.as_str()));
    assert_eq!(truncated["truncation"]["start"].as_str(), Some(main[0].as_str()));
    assert_eq!(truncated["narHash"], record["cases"]["super"][s2]["attrs"]["narHash"], "S2 with A2 and its nested submodule, as Nix 2.26 has it");
    assert_eq!(truncated["submodules"], Value::Bool(true));
}

#[test]
fn remote_submodules_go_through_the_cache_and_are_reused_offline() {
    let fx = make_fixture("remote");
    let scratch = support::Scratch::new();
    for repo in ["super.git", "sub-a.git", "sub-b.git", "nested.git"] {
        run_ok(Command::new("cp").arg("-a").arg(fx.join(repo)).arg(scratch.srv()));
    }
    let main = revs(&fx, "main");
    let (record, _) = recorded("submodules-modern.json");
    let daemon = support::git_daemon(&scratch);
    let url = format!("git://127.0.0.1:{}/super.git", daemon.port);
    let fetch = |rev: &str| support::run_bin_in(&scratch.home(), &["fetch", "--url", &url, "--rev", rev, "--submodules", "--no-store"], &[]);
    let s3 = &main[2];
    let first = support::ok_json(&fetch(s3), "S3 over git://");
    assert_eq!(first["narHash"], record["cases"]["super"][s3]["attrs"]["narHash"], "the same tree as from the local work tree");
    let cached: Vec<String> = std::fs::read_dir(scratch.cache_git())
        .expect("cache")
        .map(|e| e.expect("entry"))
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(cached.len(), 4, "one cache repository per URL (superproject, sub-a, sub-b, nested): {cached:?}");
    drop(daemon);
    // S2 records the same submodule commits as S3: nothing needs the network.
    let s2 = &main[3];
    let offline = support::ok_json(&fetch(s2), "S2 with the server gone");
    assert_eq!(offline["narHash"], record["cases"]["super"][s2]["attrs"]["narHash"]);
}

#[test]
fn verify_says_when_a_hash_needs_submodules() {
    let fx = make_fixture("verify");
    let url = fx.join("super").display().to_string();
    let (record, _) = recorded("submodules-modern.json");
    let s3 = revs(&fx, "main")[2].clone();
    let hash = record["cases"]["super"][&s3]["attrs"]["narHash"].as_str().expect("recorded").to_owned();
    let without = run_bin(&["verify", "--url", &url, "--rev", &s3, "--nar-hash", &hash]);
    assert_eq!(without.status.code(), Some(1), "no export without submodules gives it");
    assert!(String::from_utf8_lossy(&without.stdout).contains("try verify --submodules"), "{}", String::from_utf8_lossy(&without.stdout));
    let with = run_bin(&["verify", "--url", &url, "--rev", &s3, "--nar-hash", &hash, "--submodules"]);
    let report = String::from_utf8_lossy(&with.stdout);
    assert!(with.status.success(), "{report}");
    assert!(report.contains("modern with submodules = true (Nix >= 2.24.7): ") && report.contains("matches"), "{report}");
    assert!(report.contains("reproduces with submodules (submodules = true)"), "{report}");
}

#[test]
fn refused_combinations_say_why() {
    let fx = make_fixture("refused");
    let url = fx.join("super").display().to_string();
    let rev = revs(&fx, "main")[0].clone();
    let cases: [(&[&str], &str); 4] = [
        (&["--lfs", "--nix-version", "2.26.3"], "--lfs needs Nix >= 2.27"),
        (&["--nix-version", "2.22.0"], "--submodules is not reproduced for Nix 2.22.0"),
        (&[], ""),
        (&["--lfs", "--nix-version", "2.27.0"], ""),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["fetch", "--url", &url, "--rev", &rev, "--submodules", "--no-store"];
        args.extend_from_slice(extra);
        let out = run_bin(&args);
        if needle.is_empty() {
            assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
            continue;
        }
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(err.contains(needle) && err.lines().count() == 1, "{args:?}: {err}");
    }
}

#[test]
fn legacy_work_trees_equal_nix_2_8_clean_and_dirty_with_submodules_checked_out_or_not() {
    if !require_nix("submodules legacy work tree") {
        return;
    }
    let fx = make_fixture("work-tree");
    let tree = fx.join("super");
    let url = tree.display().to_string();
    let compare = |what: &str| {
        let expr = format!(
            "let r = builtins.fetchGit {{ url = {}; submodules = true; }}; in {{ inherit (r) narHash rev revCount lastModified submodules; }}",
            nix_str(&url)
        );
        let nix = nix_eval(&expr, &format!("work-tree-{what}")).expect("Nix 2.8 fetches the work tree");
        let ours = try_bin_json(&["fetch", "--url", &url, "--submodules", "--nix-version", "2.8.0", "--no-store"]).expect("fetch");
        for key in ["narHash", "rev", "revCount", "lastModified", "submodules"] {
            assert_eq!(ours[key], nix[key], "{what}: {key}");
        }
        nix
    };
    // Clean, the submodule not checked out: Nix 2.8 exports HEAD with its submodules fetched.
    let s5 = compare("clean");
    assert_ne!(s5["rev"], Value::String("0".repeat(40)));
    // Initialised and checked out (clean): still HEAD. At S3, where vendor/a has no
    // `update = none` (S5 has).
    let s3 = revs(&fx, "main")[2].clone();
    git(&tree, &["checkout", "-q", &s3]);
    let clean = compare("clean-s3");
    assert_ne!(clean["narHash"], s5["narHash"]);
    let mut update = Command::new("git");
    with_file_protocol(isolate(&mut update)).arg("-C").arg(&tree).args(["submodule", "--quiet", "update", "--init", "--recursive"]);
    run_ok(&mut update);
    assert_eq!(compare("initialised")["narHash"], clean["narHash"]);
    // The submodule moved to another commit: dirty (git diff without --ignore-submodules), the
    // files copied from disk, the submodule's with them (git ls-files --recurse-submodules).
    let checkout = tree.join("vendor/a");
    let first = git(&checkout, &["rev-list", "--max-parents=0", "HEAD"]);
    git(&checkout, &["checkout", "-q", first.trim()]);
    let moved = compare("moved");
    assert_eq!(moved["rev"], Value::String("0".repeat(40)));
    // A plain clone where the submodule goes, not initialised: dirty too, but not recursed into.
    git(&tree, &["submodule", "--quiet", "deinit", "--force", "--all"]);
    run_ok(isolate(Command::new("git").arg("clone").arg("-q").arg(fx.join("sub-a.git")).arg(&checkout)));
    git(&checkout, &["checkout", "-q", first.trim()]);
    let plain = compare("plain-clone");
    assert_ne!(plain["narHash"], moved["narHash"]);
}

/// Lets git use local submodule URLs (git >= 2.38.1 refuses them by default in `git submodule`),
/// as Nix's own tests do.
fn with_file_protocol(cmd: &mut Command) -> &mut Command {
    cmd.env("GIT_CONFIG_COUNT", "1").env("GIT_CONFIG_KEY_0", "protocol.file.allow").env("GIT_CONFIG_VALUE_0", "always")
}

/// A repository whose commits hold `.gitmodules` with `url` and a gitlink `s` to the commit
/// before (the first one holds a file): `depth` levels of submodules, all in the repository itself.
fn self_nested(dir: &Path, url: &str, depth: usize) -> String {
    let _ = std::fs::remove_dir_all(dir);
    run_ok(isolate(Command::new("git").args(["init", "-q", "-b", "main"]).arg(dir)));
    git(dir, &["config", "user.name", "Ada Fixture"]);
    git(dir, &["config", "user.email", "ada@fixtures.invalid"]);
    std::fs::write(dir.join("f"), "f\n").expect("write");
    git(dir, &["add", "f"]);
    git(dir, &["commit", "-q", "-m", "0"]);
    std::fs::write(dir.join(".gitmodules"), format!("[submodule \"s\"]\n\tpath = s\n\turl = {url}\n")).expect("write");
    git(dir, &["add", ".gitmodules"]);
    for level in 1..=depth {
        let previous = git(dir, &["rev-parse", "HEAD"]);
        git(dir, &["update-index", "--add", "--cacheinfo", &format!("160000,{},s", previous.trim())]);
        git(dir, &["commit", "-q", "-m", &level.to_string()]);
    }
    git(dir, &["rev-parse", "HEAD"]).trim().to_owned()
}

#[test]
fn hostile_submodule_urls_and_endless_nesting_are_refused() {
    let dir = fixtures().scratch("submodules-hostile");
    let repo = dir.join("repo");
    let url = repo.display().to_string();
    let cases = [
        ("-oProxyCommand=touch /tmp/pwned", "could be taken as an option"),
        ("sub", "neither absolute nor relative to the superproject"),
        ("ext::sh -c touch% /tmp/pwned", "ext:: transport runs arbitrary commands"),
    ];
    for (bad, needle) in cases {
        let rev = self_nested(&repo, bad, 1);
        for version in ["2.8.0", "2.26.3"] {
            let out = run_bin(&["fetch", "--url", &url, "--rev", &rev, "--submodules", "--nix-version", version, "--no-store"]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{bad} with {version}: {err}");
            assert!(err.contains("submodule 's'") && err.contains(needle) && err.lines().count() == 1, "{bad} with {version}: {err}");
        }
    }
    assert!(!Path::new("/tmp/pwned").exists(), "nothing ran");
    // "./" is the repository itself: each level is a commit of its own, 33 deep.
    let rev = self_nested(&repo, "./", 33);
    let out = run_bin(&["fetch", "--url", &url, "--rev", &rev, "--submodules", "--nix-version", "2.8.0", "--no-store"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nested more than 32 deep"), "{err}");
    let rev = self_nested(&repo, "./", 3);
    let ok = try_bin_json(&["fetch", "--url", &url, "--rev", &rev, "--submodules", "--nix-version", "2.8.0", "--no-store"]).expect("3 levels");
    assert_eq!(ok["submodules"], Value::Bool(true));
}

#[test]
fn a_repository_without_submodules_gives_the_same_path_with_submodules_true() {
    // fetchGitSubmodules.sh: "Check that fetching a repository without submodules with
    // submodules = true gives the same result as without" (a repository without attributes).
    let fx = make_fixture("without");
    let url = format!("file://{}", fx.join("sub-b.git").display());
    let rev = git(&fx.join("sub-b.git"), &["rev-parse", "main"]).trim().to_owned();
    for version in ["2.8.0", "2.26.3"] {
        let fetch = |extra: &[&str]| {
            let mut args = vec!["fetch", "--url", &url, "--rev", &rev, "--all-refs", "--nix-version", version, "--no-store"];
            args.extend_from_slice(extra);
            try_bin_json(&args).expect("fetch")
        };
        let (with, without) = (fetch(&["--submodules"]), fetch(&[]));
        assert_eq!(with["outPath"], without["outPath"], "{version}");
        assert_eq!((with["submodules"].clone(), without["submodules"].clone()), (Value::Bool(true), Value::Bool(false)));
    }
}

#[test]
fn relative_urls_of_a_clone_resolve_against_its_origin_in_modern_and_its_path_in_legacy() {
    if !require_nix("submodules of a clone") {
        return;
    }
    // fetchGitSubmodules.sh: a clone at a/b/clone (where ../ means another directory), fetched
    // with rev, equals the original's tree (Nix >= 2.20 resolves against the clone's origin).
    // Nix 2.8 adds the clone's own path as origin: ../sub-b.git (the first submodule) is then
    // a/b/sub-b.git, which does not exist, and it fails.
    let fx = make_fixture("clone");
    let clone = fx.join("a/b/clone");
    run_ok(isolate(Command::new("git").args(["clone", "-q"]).arg(fx.join("super")).arg(&clone)));
    let url = clone.display().to_string();
    let s3 = revs(&fx, "main")[2].clone();
    let modern = ours(&url, &s3, "2.26.3").expect("modern: against the clone's origin");
    assert_eq!(modern["narHash"], recorded("submodules-modern.json").0["cases"]["super"][&s3]["attrs"]["narHash"]);
    let nix = nix_fetchgit(&url, &s3, "clone");
    assert!(nix.as_ref().is_err_and(|err| err.contains("a/b/sub-b.git")), "Nix 2.8 fails on the clone: {nix:?}");
    let legacy = ours(&url, &s3, "2.8.0").expect_err("legacy fails too");
    assert!(legacy.contains("submodule 'b'") && legacy.contains("a/b/sub-b.git"), "{legacy}");
}

#[test]
fn a_nar_hash_mismatch_names_the_input_with_submodules_as_nix_2_26_does() {
    let (record, _) = recorded("submodules-modern.json");
    let mismatch = &record["mismatch"];
    let fx = make_fixture("mismatch");
    let url = fx.join("super").display().to_string();
    let (rev, hash) = (mismatch["rev"].as_str().expect("rev"), mismatch["narHash"].as_str().expect("narHash"));
    let out = run_bin(&["fetch", "--url", &url, "--rev", rev, "--submodules", "--nar-hash", hash, "--nix-version", "2.26.3", "--no-store"]);
    let err = String::from_utf8_lossy(&out.stderr);
    let nix = mismatch["error"].as_str().expect("recorded error").replacen("error: ", "fetchgit-date: ", 1);
    let nix = nix.replace(mismatch["inside"].as_str().expect("inside"), &fx.display().to_string());
    assert_eq!(err.trim(), nix);
}

/// What Nix 2.14 to 2.19 (and Lix) run for `submodules = true` of a local work tree at `rev`
/// (src/libfetchers/git.cc at 2.19.0), run here with git itself, then the NAR hash of the
/// result (every `.git` dropped, as Nix's filter does) as `nix-store --dump` gives it.
fn nix_2_19_submodule_checkout(work_tree: &Path, rev: &str, scratch: &Path) -> Result<String, String> {
    let script = r#"set -eu
tree=$1 rev=$2 tmp=$3/tmp gitdir=$3/gitdir
rm -rf "$tmp" "$gitdir"; mkdir -p "$gitdir"
git -c init.defaultBranch=__nix_dummy_branch init -q "$tmp" --separate-git-dir "$gitdir"
git -C "$tmp" fetch --quiet --force --update-head-ok -- "$tree" 'refs/*:refs/*'
git -C "$tmp" checkout --quiet "$rev"
cat "$tree/.git/config" > "$gitdir/config"
git -C "$tmp" config core.bare false
if [ -e "$tree/.git/modules" ]; then cp -R -- "$tree/.git/modules" "$gitdir/modules"; fi
git -C "$tmp" submodule --quiet update --init --recursive
find "$tmp" -name .git -prune -exec rm -rf {} +
nix-store --dump "$tmp" | sha256sum | cut -d' ' -f1
"#;
    let mut cmd = Command::new("sh");
    with_file_protocol(isolate(&mut cmd)).args(["-c", script, "nix-2.19"]).arg(work_tree).arg(rev).arg(scratch);
    let out = cmd.output().expect("sh runs");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn sri_to_hex(sri: &str) -> String {
    nixstore::hash::NixHash::parse(sri).expect("an SRI hash").to_hex()
}

#[test]
fn legacy_2_14_to_2_19_and_lix_use_the_work_trees_configuration_as_git_does() {
    if !require_nix("submodules with the work tree's configuration") {
        return;
    }
    let fx = make_fixture("repo-config");
    let tree = fx.join("super");
    let url = tree.display().to_string();
    let main = revs(&fx, "main");
    let (s3, s2) = (main[2].clone(), main[3].clone());
    let scratch = fixtures().scratch("submodules-repo-config-run");
    let ours = |rev: &str, version: &str| try_bin_json(&["fetch", "--url", &url, "--rev", rev, "--submodules", "--nix-version", version, "--no-store"]);
    // No origin: the relative URLs resolve against Nix's temporary directory, and fail.
    assert!(nix_2_19_submodule_checkout(&tree, &s3, &scratch).is_err(), "git fails without origin");
    let err = ours(&s3, "2.19.0").expect_err("no origin");
    assert!(err.contains("has no remote.origin.url"), "{err}");
    // An origin, core.autocrlf in the work tree's configuration (which does not apply: Nix checks
    // the top out before it copies the configuration), the submodules initialised and checked
    // out by the user (so .git/modules exists, and is copied), with core.autocrlf in one
    // submodule's own configuration (which applies), and b's url set in the configuration.
    git(&tree, &["remote", "add", "origin", &fx.join("super.git").display().to_string()]);
    git(&tree, &["config", "core.autocrlf", "true"]);
    git(&tree, &["config", "submodule.b.url", &fx.join("sub-b.git").display().to_string()]);
    git(&tree, &["checkout", "-q", &s2]);
    let mut update = Command::new("git");
    with_file_protocol(isolate(&mut update));
    run_ok(update.arg("-C").arg(&tree).args(["submodule", "--quiet", "update", "--init", "--recursive"]));
    git(&tree.join("libs/a"), &["config", "core.autocrlf", "true"]);
    for rev in [&s2, &s3] {
        let expected = nix_2_19_submodule_checkout(&tree, rev, &scratch).expect("git checks it out");
        for version in ["2.19.0", "2.14.0", "2.18.3-lix"] {
            let got = ours(rev, version).expect("fetch");
            assert_eq!(sri_to_hex(got["narHash"].as_str().expect("narHash")), expected, "{rev} as {version}");
        }
        // Nix 2.8 reads none of it: its own answer differs from 2.19's.
        let old = ours(rev, "2.8.0").expect("fetch");
        assert_ne!(sri_to_hex(old["narHash"].as_str().expect("narHash")), expected, "the submodule's core.autocrlf changes 2.19's checkout");
    }
}

#[test]
fn modern_work_trees_read_their_submodules_from_disk_as_recorded_nix_2_26() {
    work_trees_as_recorded("submodules-modern.json");
}

#[test]
fn modern_work_trees_read_their_submodules_from_disk_as_recorded_nix_2_34() {
    work_trees_as_recorded("submodules-nix-2.34.json");
}

fn work_trees_as_recorded(file: &str) {
    let (record, release) = recorded(file);
    let cases = record["work_trees"].as_object().expect("work tree cases");
    assert_eq!(cases.len(), 5);
    for (case, recorded) in cases {
        let fx = make_fixture(&format!("work-tree-{case}"));
        let mut setup = Command::new("sh");
        with_file_protocol(isolate(&mut setup)).current_dir(&fx).args(["-c", recorded["setup"].as_str().expect("setup")]);
        run_ok(&mut setup);
        let url = fx.join("super").display().to_string();
        let ours = try_bin_json(&["fetch", "--url", &url, "--submodules", "--nix-version", &release, "--no-store"]);
        match (&recorded["attrs"], ours) {
            (Value::Object(attrs), Ok(ours)) => {
                for (key, value) in attrs {
                    let key = if key == "storePath" { "outPath" } else { key.as_str() };
                    assert_eq!(&ours[key], value, "{case}: {key}");
                }
            }
            (Value::Null, Err(err)) => {
                // Nix fails on the directory that is no work tree ("resolving Git reference").
                assert!(err.contains("is not checked out"), "{case}: {err}");
            }
            (attrs, ours) => panic!("{case}: Nix {release} gave {attrs} / {}, fetchgit-date {ours:?}", recorded["error"]),
        }
    }
}
