//! Nix's own fetchGit test scenarios (fixtures/parity-scenarios.txt and parity-refs.txt, on the
//! repositories of fixtures/make-parity.sh), each compared attribute by attribute:
//! - against live Nix 2.8 (`fetch --nix-version 2.8.0`), evaluated here;
//! - against the answers of Nix 2.26 and 2.34 recorded by fixtures/record-parity.sh into
//!   fixtures/parity-modern.json and parity-nix-2.34.json (`fetch --nix-version 2.26.3`, `2.34.8`:
//!   the release each recording's header names).
//!
//! Where Nix fails, fetchgit-date must fail too: exit 2, one line, containing the scenario's
//! phrase (which Nix's message must contain as well).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Map, Value};

/// One line of parity-scenarios.txt.
struct Scenario {
    name: String,
    /// Only for releases that take every attribute of the line (`modern`: not Nix 2.8).
    modern_only: bool,
    /// The fetchGit attributes, placeholders not yet replaced.
    attrs: String,
    /// What both error messages contain when Nix fails.
    phrase: Option<String>,
}

fn scenarios() -> Vec<Scenario> {
    let text = std::fs::read_to_string(support::project_root().join("fixtures/parity-scenarios.txt")).expect("read parity-scenarios.txt");
    let scenarios: Vec<Scenario> = text
        .lines()
        .filter(|line| !line.starts_with('#') && line.contains('|'))
        .map(|line| {
            let fields: Vec<&str> = line.split('|').map(str::trim).collect();
            assert_eq!(fields.len(), 4, "scenario line needs 4 fields: {line}");
            assert!(["all", "modern"].contains(&fields[1]), "releases must be all or modern: {line}");
            Scenario {
                name: fields[0].to_owned(),
                modern_only: fields[1] == "modern",
                attrs: fields[2].to_owned(),
                phrase: (!fields[3].is_empty()).then(|| fields[3].to_owned()),
            }
        })
        .collect();
    assert!(scenarios.len() > 50, "parity-scenarios.txt lost its scenarios");
    scenarios
}

/// One line of parity-refs.txt: whether Nix takes the name, and the name's bytes.
fn ref_names() -> Vec<(bool, String, String)> {
    let text = std::fs::read_to_string(support::project_root().join("fixtures/parity-refs.txt")).expect("read parity-refs.txt");
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (kind, escaped) = line.split_once(' ').unwrap_or((line, ""));
            assert!(kind == "valid" || kind == "invalid", "bad line in parity-refs.txt: {line}");
            (kind == "valid", escaped.to_owned(), unescape_octal(escaped))
        })
        .collect()
}

/// `\NNN` octal escapes, as printf(1) reads them in make-parity.sh and record-parity.sh.
fn unescape_octal(escaped: &str) -> String {
    let bytes = escaped.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() && bytes[i + 1..i + 4].iter().all(|b| (b'0'..=b'7').contains(b)) {
            let digits = std::str::from_utf8(&bytes[i + 1..i + 4]).expect("ASCII");
            out.push(u8::from_str_radix(digits, 8).expect("octal"));
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("ref names are UTF-8")
}

/// The fixtures, served over git:// too.
struct World {
    scratch: support::Scratch,
    daemon: support::Server,
    revs: BTreeMap<String, String>,
}

impl World {
    fn new() -> World {
        let scratch = support::Scratch::new();
        let script = support::project_root().join("fixtures/make-parity.sh");
        support::run_ok(support::isolate(Command::new("sh").arg(script).arg(scratch.srv())));
        let revs = std::fs::read_to_string(scratch.srv().join("revs"))
            .expect("make-parity.sh writes revs")
            .lines()
            .map(|line| {
                let (name, value) = line.split_once(' ').expect("revs lines are NAME VALUE");
                (name.to_owned(), value.to_owned())
            })
            .collect();
        let daemon = support::git_daemon(&scratch);
        World { scratch, daemon, revs }
    }

    fn out(&self) -> PathBuf {
        self.scratch.srv()
    }

    fn substitute(&self, text: &str) -> String {
        let mut text = text.replace("@OUT@", &self.out().display().to_string()).replace("@GIT@", &format!("git://127.0.0.1:{}", self.daemon.port));
        for (name, value) in &self.revs {
            text = text.replace(&format!("@{name}@"), value);
        }
        let placeholder = text.split('@').skip(1).step_by(2).any(|word| !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        assert!(!placeholder, "unknown placeholder in {text}");
        text
    }

    /// A HOME of its own for one evaluation or run.
    fn home(&self, label: &str) -> PathBuf {
        let home = self.scratch.dir.path().join("homes").join(label);
        std::fs::create_dir_all(&home).expect("create a HOME");
        home
    }
}

/// What a fetch gave: its attributes (`outPath` as a string), or its error.
#[derive(Debug)]
enum Outcome {
    Attrs(Map<String, Value>),
    Failed(String),
}

impl Outcome {
    /// A Nix result as recorded (`storePath` for `outPath`, or `{"error": ...}`).
    fn from_nix(value: &Value) -> Outcome {
        let mut attrs = value.as_object().expect("a result is an attribute set").clone();
        if let Some(error) = attrs.get("error") {
            return Outcome::Failed(error.as_str().expect("errors are strings").to_owned());
        }
        let out = attrs.remove("storePath").expect("results carry storePath");
        attrs.insert("outPath".into(), out);
        Outcome::Attrs(attrs)
    }
}

/// Splits fetchGit attributes (`key = "string"; key = 1; key = true;`) into pairs.
fn parse_attrs(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=').unwrap_or_else(|| panic!("no '=' in attributes: {text}"));
        let after = after.trim_start();
        let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next() {
                    Some((_, '\\')) => value.push(chars.next().expect("an escape has a character").1),
                    Some((i, '"')) => break i,
                    Some((_, c)) => value.push(c),
                    None => panic!("unterminated string in {text}"),
                }
            };
            (value, &quoted[end + 1..])
        } else {
            let end = after.find(';').unwrap_or_else(|| panic!("no ';' in attributes: {text}"));
            (after[..end].trim().to_owned(), &after[end..])
        };
        let after = after.trim_start().strip_prefix(';').unwrap_or_else(|| panic!("no ';' after {key} in {text}"));
        pairs.push((key.trim().to_owned(), value));
        rest = after.trim();
    }
    pairs
}

/// `fetchgit-date fetch` arguments for the same fetchGit attributes.
fn our_args(attrs: &str) -> Vec<String> {
    let mut args = vec!["fetch".to_owned(), "--no-store".to_owned(), "-q".to_owned()];
    for (key, value) in parse_attrs(attrs) {
        let flag = |name: &str| format!("--{name}={value}");
        match (key.as_str(), value.as_str()) {
            ("url", _) => args.push(flag("url")),
            ("ref", _) => args.push(flag("ref")),
            ("rev", _) => args.push(flag("rev")),
            ("name", _) => args.push(flag("name")),
            ("narHash", _) => args.push(flag("nar-hash")),
            ("lastModified", _) => args.push(flag("last-modified")),
            ("revCount", _) => args.push(flag("rev-count")),
            ("shallow", "true") => args.push("--shallow".into()),
            ("allRefs", "true") => args.push("--all-refs".into()),
            ("exportIgnore", "false") => args.push("--no-export-ignore".into()),
            ("shallow" | "allRefs" | "exportIgnore", _) | ("submodules", "false") => {}
            _ => panic!("no fetchgit-date argument for {key} = {value}"),
        }
    }
    args
}

fn fetch_expr(attrs: &str) -> String {
    format!("let r = builtins.fetchGit {{ {attrs} }}; in removeAttrs r [\"outPath\"] // {{ storePath = r.outPath; }}")
}

/// Evaluates `builtins.fetchGit { ATTRS }` with live Nix 2.8, in a fresh HOME.
fn nix_2_8(world: &World, label: &str, attrs: &str, env: &[(&str, &str)]) -> Outcome {
    let home = world.home(&format!("nix-{label}"));
    let mut cmd = Command::new("nix-instantiate");
    support::isolate_in(&mut cmd, &home).envs(env.iter().copied()).args(["--eval", "--strict", "--json", "-E", &fetch_expr(attrs)]);
    let out = support::run_bounded(cmd, Duration::from_secs(300));
    if out.status.success() {
        Outcome::from_nix(&serde_json::from_slice(&out.stdout).expect("nix-instantiate --json prints JSON"))
    } else {
        Outcome::Failed(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Runs `fetchgit-date` with `args` and `--nix-version version`; the cache is shared by every
/// run of a test, as a user's is.
fn ours(world: &World, version: &str, args: &[String]) -> Outcome {
    let mut cmd = Command::new(support::BIN);
    support::isolate_in(&mut cmd, &world.home("ours")).args(args).arg(format!("--nix-version={version}"));
    let out = support::run_bounded(cmd, Duration::from_secs(300));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() {
        let value: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("our output is not JSON ({e}): {args:?}"));
        return Outcome::Attrs(value.as_object().expect("we print an attribute set").clone());
    }
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("fetchgit-date: warning:")).collect();
    if out.status.code() != Some(2) || lines.len() != 1 {
        return Outcome::Failed(format!("BAD FAILURE (status {}, want 2 and one line): {stderr}", out.status));
    }
    Outcome::Failed(lines[0].to_owned())
}

/// The hashes of a "NAR hash mismatch ... expected 'A' but got 'B'" message: (A, B).
fn mismatch_hashes(message: &str) -> Option<(String, String)> {
    let quoted = |after: &str| message.rsplit_once(after).and_then(|(_, rest)| rest.split('\'').next()).map(str::to_owned);
    Some((quoted("expected '")?, quoted("got '")?))
}

/// The differences between Nix's outcome and ours.
fn compare(what: &str, nix: &Outcome, ours: &Outcome, phrase: Option<&str>) -> Vec<String> {
    let mut diffs = Vec::new();
    match (nix, ours) {
        (Outcome::Attrs(nix), Outcome::Attrs(ours)) => {
            for (key, want) in nix {
                match ours.get(key) {
                    Some(got) if got == want => {}
                    got => diffs.push(format!("{what}: `{key}` is {}, Nix says {want}", got.map_or("missing".into(), Value::to_string))),
                }
            }
            for key in ours.keys().filter(|k| !nix.contains_key(*k)) {
                diffs.push(format!("{what}: extra attribute `{key}` = {}", ours[key]));
            }
        }
        (Outcome::Failed(nix), Outcome::Failed(ours)) => {
            if ours.starts_with("BAD FAILURE") {
                diffs.push(format!("{what}: {ours}"));
            }
            // Which hash a mismatch calls expected and which got differs by release.
            if nix.contains("NAR hash mismatch") && mismatch_hashes(nix) != mismatch_hashes(ours) {
                diffs.push(format!("{what}: Nix says {:?}, we say {:?}", mismatch_hashes(nix), mismatch_hashes(ours)));
            }
            if let Some(phrase) = phrase {
                if !nix.contains(phrase) {
                    diffs.push(format!("{what}: the scenario's phrase {phrase:?} is not in Nix's error: {nix}"));
                }
                if !ours.contains(phrase) {
                    diffs.push(format!("{what}: our error lacks {phrase:?}: {ours}"));
                }
            }
        }
        (Outcome::Attrs(nix), Outcome::Failed(ours)) => diffs.push(format!("{what}: we fail ({ours}) where Nix gives {}", Value::Object(nix.clone()))),
        (Outcome::Failed(nix), Outcome::Attrs(ours)) => {
            diffs.push(format!("{what}: we give {} where Nix fails: {}", Value::Object(ours.clone()), nix.trim().lines().last().unwrap_or_default()))
        }
    }
    diffs
}

fn refs_attrs(world: &World) -> String {
    format!("url = {}; ref = builtins.getEnv \"PARITY_REF\";", support::nix_str(&world.out().join("refs").display().to_string()))
}

fn refs_args(world: &World, name: &str) -> Vec<String> {
    let url = world.out().join("refs");
    ["fetch", "--no-store", "-q"].iter().map(|s| s.to_string()).chain([format!("--url={}", url.display()), format!("--ref={name}")]).collect()
}

const INVALID_REF: &str = "invalid Git branch/tag name";

/// Scenarios where fetchgit-date deliberately differs from one release, each explained in
/// docs/design.md under "Deliberate differences" (the test checks the name is there, and that
/// the scenario still differs, so that a stale entry is noticed).
const DELIBERATE: &[(&str, &str)] = &[
    // The libgit2 work-tree path counts the commits a shallow clone has (1) instead of refusing,
    // with or without shallow = true (2.20 to 2.29; from 2.30 with shallow = true it reports 0,
    // Change::ShallowWorkTreeHasNoRevCount); 2.35 fails once revCount is used.
    ("shallow-work-tree", "2.26"),
    ("shallow-work-tree", "2.34"),
    ("shallow-work-tree-allowed", "2.26"),
    // libgit2 misses the shallow boundary of a linked work tree of a shallow clone even with
    // shallow = true; master fetches it (tests/functional/fetchGitShallow.sh).
    ("shallow-linked-work-tree-allowed", "2.26"),
];

/// Adds `diffs` of a scenario to `all`, or checks a deliberate difference is still one.
fn judge(scenario: &str, release: &str, diffs: Vec<String>, all: &mut Vec<String>) {
    if !DELIBERATE.contains(&(scenario, release)) {
        all.extend(diffs);
        return;
    }
    let design = std::fs::read_to_string(support::project_root().join("docs/design.md")).expect("read docs/design.md");
    if !design.contains(&format!("`{scenario}`")) {
        all.push(format!("{scenario} (Nix {release}): a deliberate difference that docs/design.md does not name"));
    }
    if diffs.is_empty() {
        all.push(format!("{scenario} (Nix {release}): listed as a deliberate difference but matches Nix now: drop it from DELIBERATE and docs/design.md"));
    }
    all.extend(diffs.into_iter().filter(|d| d.contains("BAD FAILURE")));
}

#[test]
fn scenarios_match_live_nix_2_8() {
    if !support::require_nix("scenarios_match_live_nix_2_8") {
        return;
    }
    let world = World::new();
    let (mut checked, mut diffs) = (0, Vec::new());
    for scenario in scenarios().iter().filter(|s| !s.modern_only) {
        let attrs = world.substitute(&scenario.attrs);
        let nix = nix_2_8(&world, &scenario.name, &attrs, &[]);
        let ours = ours(&world, "2.8.0", &our_args(&attrs));
        judge(&scenario.name, "2.8", compare(&format!("{} (Nix 2.8)", scenario.name), &nix, &ours, scenario.phrase.as_deref()), &mut diffs);
        checked += 1;
    }
    support::assert_no_diffs("Nix's fetchGit scenarios vs live Nix 2.8", checked, &diffs);
}

#[test]
fn ref_names_match_live_nix_2_8() {
    if !support::require_nix("ref_names_match_live_nix_2_8") {
        return;
    }
    let world = World::new();
    let (mut checked, mut diffs) = (0, Vec::new());
    for (valid, escaped, name) in ref_names() {
        let nix = nix_2_8(&world, &format!("ref-{checked}"), &refs_attrs(&world), &[("PARITY_REF", &name)]);
        let ours = ours(&world, "2.8.0", &refs_args(&world, &name));
        let phrase = (!valid).then_some(INVALID_REF);
        if valid != matches!(nix, Outcome::Attrs(_)) {
            diffs.push(format!("ref {escaped:?}: parity-refs.txt says valid = {valid}, Nix 2.8 disagrees: {nix:?}"));
        }
        diffs.extend(compare(&format!("ref {escaped:?} (Nix 2.8)"), &nix, &ours, phrase));
        checked += 1;
    }
    support::assert_no_diffs("Nix's ref names vs live Nix 2.8", checked, &diffs);
}

/// The recordings of fixtures/record-parity.sh, one per oracle: (file, the release's minor).
const RECORDINGS: &[(&str, &str)] = &[("parity-modern.json", "2.26"), ("parity-nix-2.34.json", "2.34")];

/// A recording and the release it was made with (`2.34.8`, from its header's `nix --version`).
fn recording(file: &str) -> (Value, String) {
    let path = support::project_root().join("fixtures").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}; run fixtures/record-parity.sh with that release's oracle", path.display()));
    let rec: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
    let line = rec["header"]["nix_version"].as_str().unwrap_or_else(|| panic!("{file} names no Nix version")).to_owned();
    let release = line.rsplit(' ').next().expect("`nix (Nix) X.Y.Z`").to_owned();
    (rec, release)
}

fn sha256_of(path: &Path) -> String {
    let out = support::run_ok(Command::new("sha256sum").arg(path));
    out.split_whitespace().next().expect("sha256sum prints a hash").to_owned()
}

/// Every recording was made from exactly the fixtures, scenarios and ref names of this tree, by
/// the release its name says.
#[test]
fn recording_is_current() {
    for (file, minor) in RECORDINGS {
        let (rec, release) = recording(file);
        let header = &rec["header"];
        assert!(release.starts_with(&format!("{minor}.")), "{file} was recorded with Nix {minor}: {header}");
        assert!(header["command"].as_str().is_some_and(|c| c.contains("record-parity.sh")), "{file} names its command");
        let root = support::project_root();
        let mut stale = Vec::new();
        for (key, script) in [
            ("make_parity_sha256", "fixtures/make-parity.sh"),
            ("scenarios_sha256", "fixtures/parity-scenarios.txt"),
            ("refs_sha256", "fixtures/parity-refs.txt"),
        ] {
            if header[key].as_str() != Some(sha256_of(&root.join(script)).as_str()) {
                stale.push(script);
            }
        }
        assert!(
            stale.is_empty(),
            "{stale:?} changed since fixtures/{file} was recorded: rerun fixtures/record-parity.sh with the Nix {minor} oracle and commit it"
        );
        for scenario in scenarios() {
            assert!(rec["scenarios"][&scenario.name].is_object(), "scenario {} is not recorded in {file}", scenario.name);
        }
        for (_, escaped, _) in ref_names() {
            assert!(rec["refs"][&escaped].is_object(), "ref {escaped:?} is not recorded in {file}");
        }
    }
}

/// Every scenario as `--nix-version R` against what release R answered (the recording `file`).
fn scenarios_match_recording(file: &str) {
    let (rec, release) = recording(file);
    let minor = release.rsplit_once('.').expect("X.Y.Z").0.to_owned();
    let world = World::new();
    let (mut checked, mut diffs) = (0, Vec::new());
    for scenario in scenarios() {
        let nix = Outcome::from_nix(&rec["scenarios"][&scenario.name]);
        let ours = ours(&world, &release, &our_args(&world.substitute(&scenario.attrs)));
        judge(&scenario.name, &minor, compare(&format!("{} (Nix {release})", scenario.name), &nix, &ours, scenario.phrase.as_deref()), &mut diffs);
        checked += 1;
    }
    support::assert_no_diffs(&format!("Nix's fetchGit scenarios vs recorded Nix {release}"), checked, &diffs);
}

/// Every ref name of fetchGitRefs.sh as `--nix-version R` against what release R answered.
fn ref_names_match_recording(file: &str) {
    let (rec, release) = recording(file);
    let world = World::new();
    let (mut checked, mut diffs) = (0, Vec::new());
    for (valid, escaped, name) in ref_names() {
        let nix = Outcome::from_nix(&rec["refs"][&escaped]);
        let ours = ours(&world, &release, &refs_args(&world, &name));
        if valid != matches!(nix, Outcome::Attrs(_)) {
            diffs.push(format!("ref {escaped:?}: parity-refs.txt says valid = {valid}, Nix {release} disagrees: {nix:?}"));
        }
        diffs.extend(compare(&format!("ref {escaped:?} (Nix {release})"), &nix, &ours, (!valid).then_some(INVALID_REF)));
        checked += 1;
    }
    support::assert_no_diffs(&format!("Nix's ref names vs recorded Nix {release}"), checked, &diffs);
}

#[test]
fn scenarios_match_recorded_nix_2_26() {
    scenarios_match_recording("parity-modern.json");
}

#[test]
fn scenarios_match_recorded_nix_2_34() {
    scenarios_match_recording("parity-nix-2.34.json");
}

#[test]
fn ref_names_match_recorded_nix_2_26() {
    ref_names_match_recording("parity-modern.json");
}

#[test]
fn ref_names_match_recorded_nix_2_34() {
    ref_names_match_recording("parity-nix-2.34.json");
}

fn attr(outcome: &Outcome, key: &str) -> Value {
    match outcome {
        Outcome::Attrs(attrs) => attrs.get(key).cloned().unwrap_or(Value::Null),
        Outcome::Failed(err) => panic!("expected a result for `{key}`, got: {err}"),
    }
}

/// Releases no oracle here runs, checked by what their own test suites assert:
/// - Lix's tests/functional/fetchGitSubmodules.sh (aa00a5a8c, Lix 2.91): a work tree right after
///   `git submodule add` (dirty) gives the same store path as the commit that adds it;
/// - Lix's tests/functional/fetchGit.sh (6bf187537, Lix 2.95): `ref = "refs/tags/tag1"` of a
///   cloned repository gives `git rev-list --max-count=1 refs/tags/tag1` as `rev`;
/// - Nix's tests/functional/fetchGit.sh at 2.31.0 (aadfb682d4): `rev-parse refs/tags/tag1^{commit}`;
/// - and the release before each change still behaving the old way.
#[test]
fn releases_without_an_oracle_follow_their_own_tests() {
    let world = World::new();
    let out = world.out();
    let commit_of = |tag: &str| support::git(&out.join("git"), &["rev-list", "--max-count=1", tag]).trim().to_owned();
    let (tag1_commit, tag1_object) = (commit_of("refs/tags/tag1"), world.revs["tag1"].clone());
    let run = |version: &str, attrs: &str| ours(&world, version, &our_args(&world.substitute(attrs)));
    let mut diffs = Vec::new();
    fn check(diffs: &mut Vec<String>, what: &str, got: Value, want: &str) {
        let shown = got.as_str().map_or_else(|| got.to_string(), str::to_owned);
        if shown != want {
            diffs.push(format!("{what}: {shown}, expected {want}"));
        }
    }
    macro_rules! expect {
        ($($arg:expr),+) => { check(&mut diffs, $($arg),+) };
    }

    let staged = r#"url = "@OUT@/super-staged";"#;
    let committed = r#"url = "file://@OUT@/super"; rev = "@super@";"#;
    for (version, same) in [("2.18.3-lix", true), ("2.91.0-lix", true), ("2.90.0-lix", false), ("2.19.0", false)] {
        let (a, b) = (attr(&run(version, staged), "outPath"), attr(&run(version, committed), "outPath"));
        if (a == b) != same {
            diffs.push(format!("{version}: staged submodule work tree {a} vs its commit {b}: same = {}, expected {same}", a == b));
        }
    }

    let bare_tag = r#"url = "file://@OUT@/git.git"; ref = "refs/tags/tag1";"#;
    let local_tag = r#"url = "file://@OUT@/git"; ref = "refs/tags/tag1";"#;
    for (version, bare, local) in [
        ("2.18.3-lix", &tag1_commit, &tag1_object),
        ("2.95.0-lix", &tag1_commit, &tag1_object),
        ("2.94.0-lix", &tag1_object, &tag1_object),
        ("2.31.0", &tag1_commit, &tag1_commit),
        ("2.30.0", &tag1_object, &tag1_object),
    ] {
        expect!(&format!("{version} rev of a bare repository's tag1"), attr(&run(version, bare_tag), "rev"), bare);
        expect!(&format!("{version} rev of a work tree's tag1"), attr(&run(version, local_tag), "rev"), local);
    }

    // Lix and Nix < 2.20 fetch only `ref`; Lix follows the remote HEAD, like Nix >= 2.9.
    let other_branch = r#"url = "@GIT@/git.git"; rev = "@devrev@";"#;
    expect!(
        "2.18.3-lix, rev not on ref",
        Value::Bool(matches!(run("2.18.3-lix", other_branch), Outcome::Failed(ref e) if e.contains("Cannot find Git revision"))),
        "true"
    );
    expect!(
        "2.19.0, rev not on ref",
        Value::Bool(matches!(run("2.19.0", other_branch), Outcome::Failed(ref e) if e.contains("Cannot find Git revision"))),
        "true"
    );
    let heads = r#"url = "@GIT@/heads.git";"#;
    expect!("2.18.3-lix default branch", attr(&run("2.18.3-lix", heads), "rev"), &world.revs["heads_main"]);
    expect!("2.9.0 default branch", attr(&run("2.9.0", heads), "rev"), &world.revs["heads_main"]);

    // dirtyRev from 2.17 (Nix's tests/functional/fetchGit.sh from a7b49086c7 on) and in Lix.
    let dirty = r#"url = "@OUT@/dirty";"#;
    for (version, has) in [("2.16.0", false), ("2.17.0", true), ("2.18.3-lix", true)] {
        let got = attr(&run(version, dirty), "dirtyRev");
        expect!(&format!("{version} dirtyRev"), Value::Bool(got.is_string()), if has { "true" } else { "false" });
    }

    // 2.20.0 to 2.20.3 cannot fetch a repository without commits unless something is staged.
    let empty = r#"url = "@OUT@/empty";"#;
    expect!("2.20.3 empty repository", Value::Bool(matches!(run("2.20.3", empty), Outcome::Failed(_))), "true");
    expect!("2.20.4 empty repository", attr(&run("2.20.4", empty), "revCount"), "0");
    expect!("2.20.0 empty repository with a staged file", attr(&run("2.20.0", r#"url = "@OUT@/empty-staged";"#), "revCount"), "0");

    // ref = "HEAD" of a cloned repository: fails from 2.26.2 (recorded) to 2.32.4, works again in 2.32.5.
    let head = r#"url = "file://@OUT@/git.git"; ref = "HEAD";"#;
    expect!("2.32.4 ref HEAD", Value::Bool(matches!(run("2.32.4", head), Outcome::Failed(ref e) if e.contains("resolving Git reference 'HEAD'"))), "true");
    expect!("2.32.5 ref HEAD", attr(&run("2.32.5", head), "rev"), &world.revs["rev2"]);

    // 2.35 takes a given revCount and lastModified as they are.
    let given = r#"url = "@OUT@/git"; rev = "@rev2@"; revCount = 5; lastModified = 1600000001;"#;
    let kept = run("2.35.0", given);
    expect!("2.35.0 given revCount", attr(&kept, "revCount"), "5");
    expect!("2.35.0 given lastModified", attr(&kept, "lastModified"), "1600000001");
    support::assert_no_diffs("releases without an oracle", 30, &diffs);
}

/// The Nix library passes nixVersion, narHash, lastModified and revCount on: evaluated by Nix 2.8
/// with `nixVersion = "2.8.0"`, fetchGitDate equals builtins.fetchGit attribute by attribute
/// (no dirtyRev for a dirty tree, a given revCount passed through, a wrong narHash refused).
#[test]
fn nix_library_passes_the_release_and_input_checks_on() {
    if !support::require_nix("nix_library_passes_the_release_and_input_checks_on") {
        return;
    }
    let world = World::new();
    let lib = format!(
        "(import {} {{ fetchgit-date = {}; }})",
        support::nix_str(&support::project_root().join("nix").display().to_string()),
        support::nix_str(support::BIN)
    );
    let eval = |label: &str, expr: &str| {
        let home = world.home(&format!("lib-{label}"));
        let mut cmd = Command::new("nix-instantiate");
        support::isolate_in(&mut cmd, &home).args([
            "--option",
            "allow-unsafe-native-code-during-evaluation",
            "true",
            "--eval",
            "--strict",
            "--json",
            "-E",
            expr,
        ]);
        support::run_bounded(cmd, Duration::from_secs(300))
    };
    let mut diffs = Vec::new();
    for (label, attrs) in [
        ("dirty", r#"url = "@OUT@/dirty";"#),
        ("dirty-rev-count", r#"url = "@OUT@/dirty"; revCount = 7;"#),
        ("rev-last-modified", r#"url = "@OUT@/git"; rev = "@rev2@"; lastModified = @time_rev2@;"#),
    ] {
        let attrs = world.substitute(attrs);
        let nix = nix_2_8(&world, &format!("lib-{label}"), &attrs, &[]);
        let expr = format!("let r = {lib}.fetchGitDate {{ {attrs} nixVersion = \"2.8.0\"; }}; in removeAttrs r [\"outPath\"] // {{ storePath = r.outPath; }}");
        let out = eval(label, &expr);
        let ours = if out.status.success() {
            Outcome::from_nix(&serde_json::from_slice(&out.stdout).expect("JSON"))
        } else {
            Outcome::Failed(String::from_utf8_lossy(&out.stderr).into_owned())
        };
        diffs.extend(compare(&format!("fetchGitDate {label}"), &nix, &ours, None));
    }
    let wrong = world.substitute(r#"url = "@OUT@/git"; rev = "@rev2@"; narHash = "sha256-Hr8g6AqANb4xqX28eu1XnjK/3ab8Gv6TJSnkb1LezG9=";"#);
    let out = eval("wrong", &format!("({lib}.fetchGitDate {{ {wrong} nixVersion = \"2.8.0\"; }}).outPath"));
    if out.status.success() || !String::from_utf8_lossy(&out.stderr).contains("NAR hash mismatch in input") {
        diffs.push(format!("a wrong narHash: {}", String::from_utf8_lossy(&out.stderr)));
    }
    support::assert_no_diffs("the Nix library vs Nix 2.8", 4, &diffs);
}

/// Fix 6 of issue 10: a shallow clone without `--shallow` is refused even when the revCount of its
/// commit is already cached from a full copy of the repository (as Nix checks shallowness first).
#[test]
fn shallow_clone_is_refused_whatever_the_cache_holds() {
    let world = World::new();
    let full = world.substitute(r#"url = "@OUT@/git"; rev = "@rev2@";"#);
    let shallow = world.substitute(r#"url = "@OUT@/shallow"; rev = "@rev2@";"#);
    for version in ["2.8.0", "2.26.3"] {
        assert!(matches!(ours(&world, version, &our_args(&full)), Outcome::Attrs(_)), "the full repository fetches");
        match ours(&world, version, &our_args(&shallow)) {
            Outcome::Failed(err) => assert!(err.contains("is a shallow Git repository"), "{version}: {err}"),
            Outcome::Attrs(attrs) => panic!("{version}: the shallow clone was fetched from the cache's revCount: {attrs:?}"),
        }
    }
}

/// A mismatching `--nar-hash`, `--last-modified` or `--rev-count` adds nothing to the store
/// (Nix checks after adding; we check first); the matching ones add the path.
#[test]
fn input_mismatches_add_nothing_to_the_store() {
    if !support::require_nix("input_mismatches_add_nothing_to_the_store") {
        return;
    }
    let world = World::new();
    let root = world.home("store-root");
    let store = format!("--store=local?root={}", root.display());
    let base = world.substitute(r#"url = "@OUT@/git"; rev = "@rev2@";"#);
    let run = |extra: &str| {
        let mut args: Vec<String> = our_args(&format!("{base} {extra}")).into_iter().filter(|a| a != "--no-store").collect();
        args.push(store.clone());
        ours(&world, "2.26.3", &args)
    };
    let good = r#"narHash = "sha256-Hr8g6AqANb3xqX28eu1XnjK/3ab8Gv6TJSnkb1LezG8=";"#;
    for wrong in [r#"narHash = "sha256-Hr8g6AqANb4xqX28eu1XnjK/3ab8Gv6TJSnkb1LezG8=";"#, "lastModified = 1;", "revCount = 5;"] {
        match run(wrong) {
            Outcome::Failed(err) => assert!(err.contains("mismatch in input"), "{wrong}: {err}"),
            Outcome::Attrs(attrs) => panic!("{wrong} was accepted: {attrs:?}"),
        }
        let store_dir = root.join("nix/store");
        let added: Vec<_> = std::fs::read_dir(&store_dir)
            .map(|d| d.flatten().map(|e| e.file_name()).filter(|n| n.to_string_lossy().ends_with("-source")).collect())
            .unwrap_or_default();
        assert!(added.is_empty(), "{wrong}: the store holds {added:?}");
    }
    let attrs = match run(good) {
        Outcome::Attrs(attrs) => attrs,
        Outcome::Failed(err) => panic!("the right narHash was refused: {err}"),
    };
    let path = attrs["outPath"].as_str().expect("outPath is a string");
    assert!(root.join(path.trim_start_matches('/')).exists(), "{path} was not added");
}
