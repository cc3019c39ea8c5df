//! nixpkgs' fetchgit calls: not checked yet.

use super::{LockedInput, Options, ReleaseCheck, Status};
use crate::nix_version::NixVersion;

/// Reports every release as not reproduced: nixpkgs' fetchgit is not checked yet.
pub fn check_fetchgit(input: &LockedInput, _location: &str, releases: &[NixVersion], _options: &Options) -> Vec<ReleaseCheck> {
    releases.iter().map(|release| input.unchecked(release, Status::NotReproduced, "nixpkgs' fetchgit is not checked yet".into())).collect()
}

/// Reads a list of nixpkgs fetcher calls: not implemented yet.
pub fn read(path: &std::path::Path) -> Result<Vec<LockedInput>, std::io::Error> {
    Err(std::io::Error::other(format!("'{}': verify-list is not implemented yet", path.display())))
}
