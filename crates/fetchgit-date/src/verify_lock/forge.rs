//! Forge tarballs (`github:`, `gitlab:`, `sourcehut:`): not checked yet.

use super::{LockedInput, Options, ReleaseCheck, Status};
use crate::nix_version::NixVersion;

/// Reports every release as not reproduced: forge tarballs are not checked yet.
pub fn check(input: &LockedInput, _location: &str, releases: &[NixVersion], _options: &Options) -> Vec<ReleaseCheck> {
    releases.iter().map(|release| input.unchecked(release, Status::NotReproduced, "forge tarballs are not checked yet".into())).collect()
}
