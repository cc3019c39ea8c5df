//! Where a test binary keeps its files, and the environment every child process gets: an empty
//! HOME of this process, no git configuration, UTC, the C locale. Nothing of the user's
//! configuration (core.autocrlf, attributes files, Nix's fetcher cache) reaches a result.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The `fetchgit-date` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_fetchgit-date");

/// Root of the project (the workspace: where `nix/`, `fixtures/` and `flake.nix` are).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the workspace root exists")
}

/// A directory private to this test process under cargo's target tmp dir, named after the
/// process; directories of earlier, finished runs are removed.
pub fn process_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fixtures");
        std::fs::create_dir_all(&base).expect("create the fixtures base directory");
        remove_stale(&base);
        let root = base.join(std::process::id().to_string());
        if root.exists() {
            std::fs::remove_dir_all(&root).expect("remove a directory left by a reused pid");
        }
        std::fs::create_dir_all(root.join("home")).expect("create the isolated HOME");
        root
    })
}

fn remove_stale(base: &Path) {
    if !Path::new("/proc/self").exists() {
        return; // cannot tell which runs are finished; leave them
    }
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.parse::<u32>().is_ok() && !Path::new("/proc").join(&name).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// The empty HOME of this process.
pub fn home() -> PathBuf {
    process_dir().join("home")
}

/// Applies the isolation every child process gets, with the HOME of this process.
pub fn isolate(cmd: &mut Command) -> &mut Command {
    isolate_in(cmd, &home())
}

/// Applies the isolation every child process gets, with `home` as HOME (a test's own cache).
pub fn isolate_in<'a>(cmd: &'a mut Command, home: &Path) -> &'a mut Command {
    cmd.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("LC_ALL", "C")
        .env("TZ", "UTC")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_SSH_COMMAND")
        .env_remove("GIT_SSH")
        .stdin(Stdio::null())
}
