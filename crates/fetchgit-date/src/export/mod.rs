//! Turning a commit's tree into a NAR exactly as Nix does, straight from the object database:
//! no checkout, no temporary copy, memory bounded by a buffer, no recursion.
//!
//! Two generations of Nix disagree on what the files are (see docs/design.md):
//! - [`Generation::Modern`] (Nix >= 2.20): the tree as libgit2 1.9 reads it through Nix 2.26's
//!   `GitSourceAccessor`: raw blob bytes, libgit2's mode table, `export-ignore` as libgit2
//!   answers it (unless disabled), no replace refs.
//! - [`Generation::Legacy`] (Nix <= 2.19, Lix): what `git archive` (git 2.47) writes and Nix
//!   2.8 unpacks: git's mode table and name rules, `export-ignore`, checkout conversions
//!   (`text`, `eol`, `ident`, filter drivers, `working-tree-encoding`) and `export-subst`.
//!
//! The pieces: [`tree`] (entries, modes, names), [`attributes`] (both `.gitattributes`
//! parsers), [`blob`] (streaming object contents), [`legacy`] (git's conversions),
//! [`git_archive`] (what is left to git), and `walk` (the iterative export itself).
//!
//! A bare repository, like every remote (fetchgit-date keeps them in bare cache repositories, as
//! Nix does), is read as Nix's clone of it: its objects and refs only, no index, no
//! `info/attributes`, no configuration.

use std::io::Write;
use std::path::Path;

use crate::nix_version::Generation;
use crate::repo_config::{Reader, RepoConfig};
use crate::repo_files::native_path;
use gix::ObjectId;
use nixstore::hash::{HashingWriter, NixHash};

pub mod attributes;
pub mod blob;
pub mod git_archive;
mod ident;
pub mod legacy;
pub mod tree;
mod walk;

mod error;
mod hooks;
mod options;

pub use error::ExportError;
pub use hooks::{Hooks, Smudge, Smudged, SmudgedContentError, Submodule, Submodules, MAX_SMUDGE_INPUT};
pub use options::{ExportOptions, ExportStats};

/// NAR hash and size of `commit`'s tree, exported with `options`.
pub fn nar_hash(repo: &gix::Repository, commit: ObjectId, options: ExportOptions) -> Result<(NixHash, u64, ExportStats), ExportError> {
    nar_hash_with(repo, commit, options, Hooks::default())
}

/// [`nar_hash`], with the `hooks` the options need.
pub fn nar_hash_with(repo: &gix::Repository, commit: ObjectId, options: ExportOptions, hooks: Hooks<'_>) -> Result<(NixHash, u64, ExportStats), ExportError> {
    let mut hasher = HashingWriter::new(std::io::sink());
    let stats = write_nar_with(repo, commit, options, hooks, &mut hasher)?;
    let (hash, size, _) = hasher.finish();
    Ok((hash, size, stats))
}

/// Writes the NAR of `commit`'s tree to `out`, one buffer of object data in memory at a time.
pub fn write_nar<W: Write>(repo: &gix::Repository, commit: ObjectId, options: ExportOptions, out: &mut W) -> Result<ExportStats, ExportError> {
    write_nar_with(repo, commit, options, Hooks::default(), out)
}

/// [`write_nar`], with the `hooks` the options need.
pub fn write_nar_with<W: Write>(
    repo: &gix::Repository,
    commit: ObjectId,
    options: ExportOptions,
    hooks: Hooks<'_>,
    out: &mut W,
) -> Result<ExportStats, ExportError> {
    if options.lfs && (options.generation == Generation::Legacy || hooks.smudge.is_none()) {
        return Err(ExportError::LfsUnavailable);
    }
    if options.submodules && hooks.submodules.is_none() {
        return Err(ExportError::SubmodulesUnavailable);
    }
    let smudge = if options.lfs { hooks.smudge } else { None };
    let submodules = if options.submodules { hooks.submodules } else { None };
    let mut buffered = std::io::BufWriter::with_capacity(64 << 10, out);
    let stats = walk::export(repo, workdir_of(repo), commit, options, smudge, submodules, &mut buffered)?;
    buffered.flush()?;
    Ok(stats)
}

/// The work tree an export reads (`None` for a bare repository).
fn workdir_of(repo: &gix::Repository) -> Option<&Path> {
    repo.workdir()
}

/// The root tree of `commit`, with or without replace refs.
pub fn tree_of(repo: &gix::Repository, commit: ObjectId, generation: Generation) -> Result<ObjectId, ExportError> {
    let objects = blob::Objects::new(repo, generation.honours_replace_refs(), generation);
    walk::root_tree(&objects, commit, generation)
}

/// `_<hash>` of the repository's replace refs (which git's export of a commit follows), or
/// nothing when it has none.
fn replacements_suffix(repo: &gix::Repository) -> String {
    let mut replacements: Vec<(ObjectId, ObjectId)> = repo.objects.store_ref().replacements().collect();
    if replacements.is_empty() {
        return String::new();
    }
    replacements.sort_unstable();
    let mut bytes = Vec::new();
    for (from, to) in replacements {
        bytes.extend_from_slice(from.as_bytes());
        bytes.extend_from_slice(to.as_bytes());
    }
    format!("_{}", &nixstore::hash::sha256(&bytes).to_hex()[..16])
}

/// A key that names the export of `commit` with `options` and nothing else, for the cache:
/// `cache_key_with` and `key_suffix`.
pub fn cache_key(repo: &gix::Repository, commit: ObjectId, options: ExportOptions) -> Result<String, ExportError> {
    cache_key_with(repo, commit, options, &key_suffix(repo, options)?)
}

/// [`cache_key`] from `suffix`, the part that does not depend on the commit ([`key_suffix`] of
/// the same repository and options).
fn cache_key_with(repo: &gix::Repository, commit: ObjectId, options: ExportOptions, suffix: &str) -> Result<String, ExportError> {
    let lfs = if options.lfs { "_lfs" } else { "" };
    Ok(match (options.submodules, options.generation) {
        (true, Generation::Legacy) => format!("legacy_submodules_{commit}{suffix}"),
        (true, Generation::Modern) => format!("modern_submodules{lfs}_{}{suffix}", tree_of(repo, commit, Generation::Modern)?),
        (false, Generation::Modern) if !options.export_ignore && !options.lfs => format!("modern_0_{}", tree_of(repo, commit, Generation::Modern)?),
        (false, Generation::Modern) => format!("modern_{}{lfs}_{}{suffix}", u8::from(options.export_ignore), tree_of(repo, commit, Generation::Modern)?),
        (false, Generation::Legacy) => format!("legacy_{commit}{suffix}"),
    })
}

/// What an export's cache key depends on besides the commit: the repository's state that the
/// export reads.
///
/// A modern export depends on the tree (and `export_ignore`) and, in a work tree, on the
/// attribute sources outside the commit (`info/attributes`, the index's and the work tree's
/// tracked `.gitattributes`, the file `core.attributesFile` names). A legacy export depends on
/// the commit (`export-subst`) and on the repository's configuration (with every file it
/// includes), the file its `core.attributesFile` names, `info/attributes`, `.mailmap` and
/// replace refs. Submodules are exported from a fresh checkout (legacy) or from the commit alone
/// (modern), at the commits the tree records: nothing but the commit (and, legacy, replace refs)
/// decides the files.
fn key_suffix(repo: &gix::Repository, options: ExportOptions) -> Result<String, ExportError> {
    let workdir = workdir_of(repo);
    if options.submodules {
        return Ok(match options.generation {
            Generation::Legacy => replacements_suffix(repo),
            Generation::Modern => String::new(),
        });
    }
    match options.generation {
        Generation::Modern => {
            if !options.export_ignore && !options.lfs {
                return Ok(String::new());
            }
            let Some(workdir) = workdir else {
                return Ok("_bare".to_owned());
            };
            let mut sources = Vec::new();
            let config = RepoConfig::load(repo, Reader::Libgit2).map_err(|err| ExportError::Config(crate::error_chain(&err)))?;
            let global =
                config.attributes_file(workdir, Reader::Libgit2, attributes::libgit2::MAX_FILE_SIZE).map_err(|err| ExportError::Config(err.to_string()))?;
            sources.extend(global.unwrap_or_default());
            sources.push(0);
            sources.extend(attributes::libgit2::read_worktree_file(&repo.common_dir().join("info/attributes")).unwrap_or_default());
            if let Ok(index) = repo.open_index() {
                for entry in index.entries() {
                    let path = entry.path(&index);
                    if path == ".gitattributes" || path.ends_with(b"/.gitattributes") {
                        sources.extend_from_slice(path);
                        sources.extend_from_slice(entry.id.as_bytes());
                        sources.extend(attributes::libgit2::read_worktree_file(&workdir.join(native_path(path))).unwrap_or_default());
                    }
                }
            }
            let fingerprint = nixstore::hash::sha256(&sources).to_hex();
            Ok(format!("_{}", &fingerprint[..16]))
        }
        Generation::Legacy => {
            let Some(workdir) = workdir else {
                return Ok(format!("_bare{}", replacements_suffix(repo)));
            };
            // The configuration as git reads it (every included file) and the attributes file
            // its core.attributesFile names.
            let config = RepoConfig::load(repo, Reader::Git).map_err(|err| ExportError::Config(crate::error_chain(&err)))?;
            let global =
                config.attributes_file(workdir, Reader::Git, attributes::git::MAX_FILE_SIZE as u64).map_err(|err| ExportError::Config(err.to_string()))?;
            let mut sources = config.fingerprint().to_vec();
            sources.push(0);
            sources.extend(global.unwrap_or_default());
            sources.push(0);
            for file in [repo.common_dir().join("info/attributes"), workdir.join(".mailmap")] {
                sources.extend_from_slice(file.as_os_str().as_encoded_bytes());
                sources.push(0);
                sources.extend(attributes::libgit2::read_worktree_file(&file).unwrap_or_default());
                sources.push(0);
            }
            for (from, to) in repo.objects.store_ref().replacements() {
                sources.extend_from_slice(from.as_bytes());
                sources.extend_from_slice(to.as_bytes());
            }
            let fingerprint = nixstore::hash::sha256(&sources).to_hex();
            Ok(format!("_{}", &fingerprint[..16]))
        }
    }
}
