//! The fixture repositories of `fixtures/make-fixtures.sh`, generated once per test binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::isolation::{home, process_dir, project_root};

/// The non-bare fixture repositories made by `fixtures/make-fixtures.sh`.
pub const REPOS: [&str; 4] = ["files", "attributes", "history", "gitlinks"];

/// Fixture repositories generated once per test binary.
pub struct Fixtures {
    /// OUTDIR of make-fixtures.sh
    repos: PathBuf,
    /// per-binary directory holding `repos`, `home` and `scratch`
    base: PathBuf,
    /// The isolated HOME of this process ([`home`]).
    home: PathBuf,
}

impl Fixtures {
    /// Path of a fixture repository (`files`, ..., or `history.git`, the bare clone).
    pub fn repo(&self, name: &str) -> PathBuf {
        self.repos.join(name)
    }
    /// The directory holding all fixture repositories (make-fixtures.sh's OUTDIR).
    pub fn repos_dir(&self) -> &Path {
        &self.repos
    }
    /// A scratch directory private to this test binary.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let p = self.base.join("scratch").join(name);
        std::fs::create_dir_all(&p).expect("create a scratch directory");
        p
    }
    /// The isolated HOME.
    pub fn home(&self) -> &Path {
        &self.home
    }
}

/// Generates the fixtures (once per test binary) in this process's directory
/// ([`process_dir`]).
pub fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let root = process_dir();
        let script = project_root().join("fixtures/make-fixtures.sh");
        let out = Command::new("sh").arg(&script).arg(root.join("repos")).stdin(Stdio::null()).output().expect("run fixtures/make-fixtures.sh");
        assert!(out.status.success(), "fixtures/make-fixtures.sh failed: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
        Fixtures { repos: root.join("repos"), base: root.to_owned(), home: home() }
    })
}
