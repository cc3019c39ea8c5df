//! Does every locked source of a project still reproduce, release by release? For maintainers
//! before a Nix upgrade: each `git` input of a `flake.lock` ([`lock`]) or each nixpkgs
//! `fetchgit` / `fetchFromGitHub` call ([`list`]), and each forge tarball (`github`, `gitlab`,
//! `sourcehut`: [`forge`]), is fetched once and checked under every release asked for: the
//! `narHash` (and `lastModified`, `revCount`, and the `rev` a `ref` locks) that release computes,
//! compared with the locked one, with the cause named from the tree where they differ
//! ([`cause`]) and the value that release would lock instead.
//!
//! Inputs are checked in parallel, each repository fetched once ([`check_all`]). Nothing here runs Nix: what a release computes is fetchgit-date's
//! reproduction of it, tested against real Nix (tests/verify_lock.rs).

pub mod cause;
pub mod forge;
pub mod git;
pub mod input;
pub mod list;
pub mod lock;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::nix_version::NixVersion;

pub use input::{Attrs, Forge, LockedInput, Options, ReleaseCheck, Source, Status};

/// Checks every input under every release, on up to `options.jobs` threads: first one input of
/// each repository (each repository fetched once, in parallel), then all the others, which find
/// the repository in the cache (a cache repository is locked while it is updated, so two threads
/// never fetch into it at once). `progress` is called after each input with (inputs done,
/// inputs in all, the input's name). The result is in input order, releases in the order given.
pub fn check_all(inputs: &[LockedInput], releases: &[NixVersion], options: &Options, progress: &(dyn Fn(usize, usize, &str) + Sync)) -> Vec<Vec<ReleaseCheck>> {
    let locations: Vec<String> = inputs.iter().map(|input| options.location(&input.source)).collect();
    let mut seen = std::collections::BTreeSet::new();
    let (first, rest): (Vec<usize>, Vec<usize>) = (0..inputs.len()).partition(|&index| seen.insert(locations[index].as_str()));
    let results: Vec<Mutex<Vec<ReleaseCheck>>> = inputs.iter().map(|_| Mutex::new(Vec::new())).collect();
    let done = AtomicUsize::new(0);
    for phase in [first, rest] {
        let next = AtomicUsize::new(0);
        let workers = options.jobs.clamp(1, phase.len().max(1));
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    while let Some(&index) = phase.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let (input, location) = (&inputs[index], locations[index].as_str());
                        let checks = match &input.source {
                            Source::Git { .. } => git::check(input, location, releases, options),
                            Source::Forge { .. } => forge::check(input, location, releases, options),
                            Source::NixpkgsFetchgit { .. } => list::check_fetchgit(input, location, releases, options),
                        };
                        *results[index].lock().expect("no worker panics while holding a result") = checks;
                        progress(done.fetch_add(1, Ordering::Relaxed) + 1, inputs.len(), &input.name);
                    }
                });
            }
        });
    }
    results.into_iter().map(|slot| slot.into_inner().expect("no worker panicked")).collect()
}

/// The exit status `verify-lock` and `verify-list` give: 0 when every check reproduces, 2 when
/// one failed with an error, else 1 (something does not reproduce, or was not reproduced).
pub fn exit_code(checks: &[Vec<ReleaseCheck>]) -> u8 {
    let all = checks.iter().flatten();
    if all.clone().any(|check| check.status == Status::Error) {
        2
    } else if all.clone().all(|check| check.status == Status::Reproduces) {
        0
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nix_version::Generation;

    /// The default releases bound each generation, from the table, and include Lix.
    #[test]
    fn default_releases_bound_each_generation() {
        let bounds = NixVersion::generation_bounds();
        let generations: Vec<(Generation, bool)> = bounds.iter().map(|v| (v.generation(), v.is_lix())).collect();
        assert_eq!(
            generations,
            [(Generation::Legacy, false), (Generation::Legacy, false), (Generation::Modern, false), (Generation::Modern, false), (Generation::Legacy, true)]
        );
        assert!(bounds[0].numbers() < bounds[1].numbers() && bounds[2].numbers() < bounds[3].numbers());
        assert!(bounds[2].has(crate::nix_version::Change::Libgit2) && !bounds[1].has(crate::nix_version::Change::Libgit2));
    }

    #[test]
    fn exit_codes_follow_the_worst_check() {
        let input = LockedInput {
            name: "a".into(),
            source: Source::NixpkgsFetchgit { url: "/r".into(), submodules: false },
            rev: "0".repeat(40),
            nar_hash: "x".into(),
            last_modified: None,
            rev_count: None,
            original_ref: None,
        };
        let release = NixVersion::default_release();
        let check = |status| {
            let mut c = input.unchecked(&release, status, String::new());
            c.reason = None;
            c
        };
        assert_eq!(exit_code(&[vec![check(Status::Reproduces)]]), 0);
        assert_eq!(exit_code(&[vec![check(Status::Reproduces), check(Status::Differs)]]), 1);
        assert_eq!(exit_code(&[vec![check(Status::NotReproduced)]]), 1);
        assert_eq!(exit_code(&[vec![check(Status::Differs)], vec![check(Status::Error)]]), 2);
        assert_eq!(exit_code(&[]), 0);
    }
}
