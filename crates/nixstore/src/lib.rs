//! Nix's formats, reimplemented exactly: NAR serialisation, nix-base32, hashes in their
//! textual forms (SRI, base32, hex) and content-addressed store paths. With them
//! `fetchgit-date` computes the `narHash` and store path that `builtins.fetchGit` would,
//! without asking Nix. The vocabulary follows nix-compat (`nar::writer`, `nixbase32`,
//! `NixHash`, `StorePath`, `build_ca_path`) so that switching to it later is mechanical.
//! Every format is tested against real Nix 2.8 (`tests/oracle.rs`). [`daemon`] adds the
//! result to a Nix store through the daemon's worker protocol (`tests/daemon.rs`).
//!
//! ```
//! use nixstore::{hash::HashingWriter, nar, store_path};
//! // NAR of a directory holding the file `x` = "foo\n", hashed while it is written.
//! let mut hasher = HashingWriter::new(std::io::sink());
//! let mut dir = nar::writer::open(&mut hasher)?.directory()?;
//! dir.entry(b"x")?.file(false, 4, &mut &b"foo\n"[..])?;
//! dir.close()?;
//! let (nar_hash, nar_size, _) = hasher.finish();
//! assert_eq!(nar_hash.to_sri(), "sha256-wzlAGjxKxpaWdqVhlq55q5Gxo4Bf860+kLeEa/v02As=");
//! assert_eq!(nar_size, 288); // `nix-store --dump DIR | wc -c` (Nix 2.8)
//!
//! let name = store_path::StorePathName::new("source")?;
//! let path = store_path::build_ca_path(&name, &nar_hash, store_path::DEFAULT_STORE_DIR);
//! assert_eq!(path.to_string(), "7llxbmi9y8sldnhf5asnzf17p6i52icx-source");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod daemon;
pub mod hash;
pub mod local_store;
pub mod nar;
pub mod nixbase32;
pub mod store_path;
