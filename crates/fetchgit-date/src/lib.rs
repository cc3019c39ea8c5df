//! Fetch a git repository rolled back to the last commit before a date or a repeating time
//! boundary, hashed exactly as Nix's `builtins.fetchGit` would.

pub mod date;
