//! The GHC demo's outside world (tests/ghc_demo.rs): the trixie chroot of
//! `tests/ghc_demo/setup-chroot.sh`, with this build's CLI, the Nix library and the demo's
//! builder copied in, and Nix commands run in it as root (builds run as its nixbld users).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

/// Where the project's files go inside the chroot.
const INSIDE: &str = "/fgd";

pub struct Chroot {
    /// The chroot's directory on the host.
    pub dir: PathBuf,
    /// The chroot's `ghc --numeric-version`.
    pub ghc_version: String,
}

/// A directory for one test's repositories: its path on the host and inside the chroot.
pub struct DemoDir {
    pub host: PathBuf,
    pub inside: String,
}

/// turtle's repository (a git bundle of all its refs), beside the project as `shared/` is
/// laid for sessions and CI, or where FGD_TURTLE_BUNDLE says.
pub fn turtle_bundle() -> PathBuf {
    if let Some(p) = std::env::var_os("FGD_TURTLE_BUNDLE") {
        return PathBuf::from(p);
    }
    let root = project_root();
    let candidates = [root.join("../shared/repos/turtle.bundle"), PathBuf::from("/work/shared/repos/turtle.bundle")];
    candidates
        .iter()
        .find(|p| p.exists())
        .cloned()
        .unwrap_or_else(|| panic!("turtle's repository is missing: expected {} (or set FGD_TURTLE_BUNDLE)", candidates[0].display()))
}

impl Chroot {
    /// Sets the chroot up (or checks it) and copies the project's files in; `None` (with a
    /// message) when that is impossible here, which under CI=true fails the test instead.
    pub fn ready(test: &str) -> Option<Chroot> {
        let dir = PathBuf::from(std::env::var("FGD_GHC_CHROOT").unwrap_or_else(|_| "/var/tmp/fgd-ghc-trixie".into()));
        // chroot and mount need root; without it the script would fail at its first mount, or
        // (chroot already set up) every command below.
        let root = run_ok(Command::new("id").arg("-u")) == "0";
        let setup = if root {
            run(Command::new("bash").arg(project_root().join("tests/ghc_demo/setup-chroot.sh")).arg(&dir))
        } else {
            run(Command::new("sh").args(["-c", "echo 'not root' >&2; exit 1"]))
        };
        if !setup.status.success() {
            let why = format!(
                "the GHC chroot {} cannot be set up (needs root and Debian's registry): tests/ghc_demo/setup-chroot.sh failed ({}):\n{}{}",
                dir.display(),
                setup.status,
                String::from_utf8_lossy(&setup.stdout),
                String::from_utf8_lossy(&setup.stderr)
            );
            require(test, "the GHC chroot", Err(why));
            return None;
        }
        eprint!("{}", String::from_utf8_lossy(&setup.stdout));
        let inside = dir.join(INSIDE.trim_start_matches('/'));
        for sub in ["bin", "nix", "ghc-demo"] {
            let p = inside.join(sub);
            if p.exists() {
                std::fs::remove_dir_all(&p).expect("remove the previous run's copy");
            }
            std::fs::create_dir_all(&p).expect("mkdir in the chroot");
        }
        std::fs::copy(BIN, inside.join("bin/fetchgit-date")).expect("copy the CLI into the chroot");
        copy_files(&project_root().join("nix"), &inside.join("nix"));
        copy_files(&project_root().join("tests/ghc_demo"), &inside.join("ghc-demo"));
        let mut chroot = Chroot { dir, ghc_version: String::new() };
        chroot.ghc_version = run_ok(&mut chroot.cmd("ghc", &["--numeric-version"]));
        // Earlier runs' builds would be found valid and not built again: collect them (nothing
        // in the chroot's store is a GC root).
        run_ok(&mut chroot.cmd("nix-store", &["--gc"]));
        Some(chroot)
    }

    /// `program args` run in the chroot as root with a clean environment.
    pub fn cmd(&self, program: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new("chroot");
        cmd.arg(&self.dir).args(["/usr/bin/env", "-i", "PATH=/usr/bin:/bin", "HOME=/root", "LANG=C.UTF-8", program]).args(args);
        cmd
    }

    /// An empty directory `name` for a test's repositories.
    pub fn demo_dir(&self, name: &str) -> DemoDir {
        let inside = format!("{INSIDE}/work/{name}");
        let host = self.dir.join(inside.trim_start_matches('/'));
        if host.exists() {
            std::fs::remove_dir_all(&host).expect("remove the previous run's repositories");
        }
        std::fs::create_dir_all(&host).expect("mkdir");
        DemoDir { host, inside }
    }

    /// The library (through builtins.exec of the CLI) and the demo's builder, as Nix code
    /// binding `lib` and `haskell`.
    pub fn prelude(&self) -> String {
        format!(
            "lib = let l = import {INSIDE}/nix {{ fetchgit-date = \"{INSIDE}/bin/fetchgit-date\"; }}; in assert l.backend == \"exec\"; l;
             haskell = import {INSIDE}/ghc-demo/haskell-builder.nix {{ ghcVersion = {}; }};",
            nix_str(&self.ghc_version)
        )
    }

    /// tests/ghc_demo/package.nix for turtle 1.6.2 at `rev` of the repository at `repo` (a
    /// path in the chroot).
    pub fn turtle_project(&self, repo: &str, rev: &str) -> String {
        format!(
            "(let {} in import {INSIDE}/ghc-demo/package.nix {{ repo = {}; rev = {}; pname = \"turtle\"; version = \"1.6.2\"; fetchgitDate = lib; inherit haskell; }})",
            self.prelude(),
            nix_str(repo),
            nix_str(rev)
        )
    }

    /// The value of `expr`, evaluated strictly, as JSON.
    pub fn eval_json(&self, expr: &str) -> serde_json::Value {
        let mut args = vec!["--eval", "--strict", "--json"];
        args.extend(NIX_OPTS);
        args.extend(["--option", "allow-unsafe-native-code-during-evaluation", "true", "-E", expr]);
        let out = run_ok(&mut self.cmd("nix-instantiate", &args));
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON from Nix ({e}): {out}"))
    }

    /// Builds the derivation `expr`; returns its output path.
    pub fn build(&self, expr: &str) -> String {
        let mut args = vec!["--no-out-link"];
        args.extend(NIX_OPTS);
        args.extend(["--option", "allow-unsafe-native-code-during-evaluation", "true", "-E", expr]);
        run_ok(&mut self.cmd("nix-build", &args))
    }

    /// The build log Nix kept of `drv`.
    pub fn build_log(&self, drv: &str) -> String {
        run_ok(&mut self.cmd("nix-store", &["--read-log", drv]))
    }
}

/// Copies the regular files directly in `from` into `to`.
fn copy_files(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        if entry.file_type().expect("file type").is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy a file into the chroot");
        }
    }
}
