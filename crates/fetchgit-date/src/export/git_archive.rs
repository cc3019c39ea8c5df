//! The files a legacy export leaves to git itself, because their bytes are defined by git's
//! pretty-format language, by iconv or by a user's filter driver: `export-subst`,
//! `working-tree-encoding` and `filter`. For them `git archive` runs the way Nix <= 2.19 runs
//! it (`git -C <repo> archive <rev>`, src/libfetchers/git.cc), restricted by pathspec to those
//! files, and the tar it writes is read back.
//!
//! - `export-subst` files come from one run with the pathspec `:(attr:export-subst)`: git >= 2.32
//!   expands `%(describe)` once per archive, in archive order, and only these files can use
//!   that one expansion, so the run gives what the whole archive gives them.
//! - `.mailmap`: for a work tree, git reads the one checked out at its top (what Nix 2.8 does);
//!   a bare repository is read as Nix's clone of it (below), whose `HEAD` names no branch, so
//!   there is none.
//! - `%d` and `%(describe)` read the repository's refs. A work tree's are its own. A bare
//!   repository (and every remote, which fetchgit-date keeps in a bare cache) is shown to git
//!   through a *view*: a temporary repository whose objects are the original's (alternates),
//!   whose refs are its branches and tags, and whose `HEAD` is `refs/heads/__nix_dummy_branch`,
//!   like the cache repository Nix 2.8 creates (`git init --bare` with that initial branch,
//!   then `git fetch URL REF:REF`, which also fetches the tags pointing into the history).
//!   fetchgit-date's fetches bring those tags along too (`Tags::Included` in `remote/session.rs`).
//! - git runs with no user or system configuration (`GIT_CONFIG_NOSYSTEM`,
//!   `GIT_CONFIG_GLOBAL=/dev/null`, `HOME` and `XDG_CONFIG_HOME` that do not exist, `GIT_ATTR_NOSYSTEM`),
//!   every other `GIT_*` variable removed, so nothing from the caller's environment reaches
//!   the export; and it runs nothing the repository configures ([`crate::no_exec`]): a file
//!   whose bytes a configured `smudge` or `process` filter would write, or `export-subst` files
//!   where the repository sets `gpg.program`, are refused instead.
//!
//! ### Deviation
//! Nix 2.8 runs git with the user's configuration (`~/.gitconfig` may set `core.autocrlf`,
//! `mailmap.file`, `core.abbrev`, ...) and its cache holds exactly the refs it fetched so far;
//! fetchgit-date reads neither, so `%d` over a remote lists the branches and tags of
//! fetchgit-date's cache, and the user's git configuration never changes a hash.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use gix::bstr::{BStr, BString, ByteSlice};
use gix::ObjectId;

/// Where and how git is run.
pub struct GitArchive {
    /// A view to remove when done.
    view: Option<PathBuf>,
    commit: ObjectId,
    substituted: Option<HashMap<BString, Vec<u8>>>,
    /// `git -C <dir>`: the work tree, or the view of a bare repository.
    git: crate::no_exec::SafeGit,
}

/// A unique temporary directory (removed by [`GitArchive`]'s `Drop`).
fn temp_dir(what: &str) -> std::io::Result<PathBuf> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("fetchgit-date-{what}-{}-{nanos}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
    std::fs::create_dir(&dir)?;
    Ok(dir)
}

impl Drop for GitArchive {
    fn drop(&mut self) {
        if let Some(view) = &self.view {
            let _ = std::fs::remove_dir_all(view);
        }
    }
}

impl GitArchive {
    /// Prepares running git for `commit` of `repo` (a work tree when `workdir` is given).
    pub fn new(repo: &gix::Repository, workdir: Option<&Path>, commit: ObjectId) -> Result<Self, String> {
        let (dir, view) = match workdir {
            Some(workdir) => (workdir.to_owned(), None),
            None => {
                let view = make_view(repo).map_err(|err| format!("cannot prepare a view of the repository for git: {err}"))?;
                (view.clone(), Some(view))
            }
        };
        let git = crate::no_exec::SafeGit::new(&dir)?;
        Ok(GitArchive { view, commit, substituted: None, git })
    }

    fn command(&self) -> Command {
        let mut cmd = self.git.command();
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd
    }

    /// The key of the program git archive would run to write a file whose `filter` attribute
    /// is `driver` (`filter.<driver>.process` or `.smudge`), when the configuration sets one.
    pub fn filter_program(&self, driver: &[u8]) -> Option<String> {
        self.git.programs.filter_program(driver, &["smudge"])
    }

    /// Runs `git archive <commit> -- <pathspecs>` and returns its regular files.
    fn archive(&self, pathspecs: &[&[u8]]) -> Result<HashMap<BString, Vec<u8>>, String> {
        let mut cmd = self.command();
        cmd.args(["archive", "--format=tar"]).arg(self.commit.to_string()).arg("--");
        for spec in pathspecs {
            cmd.arg(crate::repo_files::native_path(spec));
        }
        let output = cmd.output().map_err(|err| format!("cannot run git: {err}"))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(format!("git archive failed ({}): {}", output.status, stderr.trim().replace('\n', "; ")));
        }
        read_tar(&output.stdout)
    }

    /// The bytes `git archive` writes for the `export-subst` file at `path`.
    pub fn substituted(&mut self, path: &BStr) -> Result<Vec<u8>, String> {
        if let Some(key) = self.git.programs.gpg.first() {
            return Err(crate::no_exec::refusal(key, path, "Nix <= 2.19 runs it through git archive for %G placeholders of export-subst files"));
        }
        if self.substituted.is_none() {
            self.substituted = Some(self.archive(&[b":(attr:export-subst)"])?);
        }
        let files = self.substituted.as_mut().expect("filled above");
        files.remove(path).ok_or_else(|| format!("git archive did not write '{path}' with the export-subst files"))
    }

    /// The bytes `git archive` writes for the file at `path`, alone.
    pub fn one(&self, path: &BStr) -> Result<Vec<u8>, String> {
        let mut spec = BString::from(":(literal)");
        spec.extend_from_slice(path);
        let mut files = self.archive(&[spec.as_slice()])?;
        files.remove(path).ok_or_else(|| format!("git archive did not write '{path}'"))
    }
}

/// A bare repository as Nix's cache clone of it: the original's objects, its branches and tags,
/// `HEAD` on a branch that does not exist, a fresh configuration.
fn make_view(repo: &gix::Repository) -> std::io::Result<PathBuf> {
    let view = temp_dir("view")?;
    std::fs::create_dir_all(view.join("objects/info"))?;
    std::fs::create_dir_all(view.join("refs"))?;
    std::fs::write(view.join("HEAD"), "ref: refs/heads/__nix_dummy_branch\n")?;
    std::fs::write(view.join("config"), "[core]\n\trepositoryformatversion = 0\n\tbare = true\n")?;
    let objects = std::fs::canonicalize(repo.objects.store_ref().path())?;
    std::fs::write(view.join("objects/info/alternates"), format!("{}\n", objects.display()))?;
    if let Ok(shallow) = std::fs::read(repo.common_dir().join("shallow")) {
        std::fs::write(view.join("shallow"), shallow)?;
    }
    let mut packed = String::new();
    let mut refs: Vec<(String, ObjectId)> = Vec::new();
    if let Ok(platform) = repo.references() {
        if let Ok(all) = platform.all() {
            for reference in all.flatten() {
                let name = reference.name().as_bstr().to_string();
                if !(name.starts_with("refs/heads/") || name.starts_with("refs/tags/")) {
                    continue;
                }
                if let Some(id) = reference.try_id() {
                    refs.push((name, id.detach()));
                }
            }
        }
    }
    refs.sort();
    for (name, id) in refs {
        packed.push_str(&format!("{id} {name}\n"));
    }
    std::fs::write(view.join("packed-refs"), packed)?;
    Ok(view)
}

fn octal(field: &[u8]) -> Option<u64> {
    let text = field.split(|&c| c == 0 || c == b' ').find(|s| !s.is_empty())?;
    u64::from_str_radix(std::str::from_utf8(text).ok()?, 8).ok()
}

fn c_string(field: &[u8]) -> &[u8] {
    match field.find_byte(0) {
        Some(nul) => &field[..nul],
        None => field,
    }
}

/// The regular files of a tar written by `git archive` (ustar, with pax headers for long
/// names and sizes, archive-tar.c).
fn read_tar(mut data: &[u8]) -> Result<HashMap<BString, Vec<u8>>, String> {
    let bad = |what: &str| Err(format!("cannot read the tar git archive wrote: {what}"));
    let mut files = HashMap::new();
    let mut pax: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    while data.len() >= 512 {
        let header = &data[..512];
        if header.iter().all(|&c| c == 0) {
            break;
        }
        let Some(mut size) = octal(&header[124..136]) else { return bad("invalid size") };
        let typeflag = header[156];
        if let Some(value) = pax.get(b"size".as_slice()) {
            size = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok()).unwrap_or(size);
        }
        let padded = size.div_ceil(512) * 512;
        let Some(body) = data.get(512..512 + size as usize) else { return bad("truncated entry") };
        match typeflag {
            b'x' => {
                pax = parse_pax(body);
            }
            b'g' => {}
            _ => {
                let mut name = c_string(&header[0..100]).to_vec();
                let prefix = c_string(&header[345..500]);
                if !prefix.is_empty() {
                    let mut full = prefix.to_vec();
                    full.push(b'/');
                    full.extend_from_slice(&name);
                    name = full;
                }
                if let Some(path) = pax.get(b"path".as_slice()) {
                    name = path.clone();
                }
                if typeflag == b'0' || typeflag == 0 {
                    files.insert(BString::from(name), body.to_vec());
                }
                pax.clear();
            }
        }
        let advance = 512 + padded as usize;
        if advance > data.len() {
            break;
        }
        data = &data[advance..];
    }
    Ok(files)
}

/// pax records: `<len> <key>=<value>\n`.
fn parse_pax(mut body: &[u8]) -> HashMap<Vec<u8>, Vec<u8>> {
    let mut out = HashMap::new();
    while let Some(space) = body.find_byte(b' ') {
        let Some(len) = std::str::from_utf8(&body[..space]).ok().and_then(|l| l.parse::<usize>().ok()) else { break };
        if len <= space + 1 || len > body.len() {
            break;
        }
        let record = &body[space + 1..len - 1];
        if let Some(eq) = record.find_byte(b'=') {
            out.insert(record[..eq].to_vec(), record[eq + 1..].to_vec());
        }
        body = &body[len..];
    }
    out
}
