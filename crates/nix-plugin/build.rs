//! Compiles the C++ shim (src/shim.cc) against the headers of one Nix release.
//!
//! Where the headers are, in this order:
//! 1. `FETCHGIT_DATE_NIX_INCLUDE_DIR` (one or more directories, `:`-separated) with the release
//!    in `FETCHGIT_DATE_NIX_VERSION` (as `nix --version` prints it: `2.26.3`; for Lix its own
//!    release prefixed `lix-`: `lix-2.95.3`), and optionally `FETCHGIT_DATE_NIX_LIB_DIR` (where
//!    libnixexpr.so or Lix's liblix*.so is, to check the link). For a source tree configured
//!    with meson, the directories are its headers' roots and their generated counterparts in
//!    the build directory: `src/lib*/include` and `BUILD/src/lib*/include` from Nix 2.28,
//!    `src/lib*` and `BUILD/src/lib*` before; for Lix the tree, `BUILD` and `BUILD/lix/lib*`
//!    (its generated `*.gen.inc`: `ninja` them after `meson setup`);
//! 2. `pkg-config nix-expr` (nixpkgs' `nix.dev`, a meson build's prefix), also looking in
//!    Debian's /usr/lib/nix/pkgconfig, whose nix-expr.pc names /usr/include/nix: Debian ships
//!    no headers there; `tests/install-deps` puts those of the installed nix-bin there;
//!    then `pkg-config lix-expr` (nixpkgs' `lix.dev`).
//!
//! `FETCHGIT_DATE_NIX_CXX` names the C++ compiler for the shim (default: `clang++` for Lix, which
//! is built with clang; the `cc` crate's default for Nix).
//!
//! The release decides the API macros of the shim (`FGD_NIX_MAJOR`, `FGD_NIX_MINOR`, or
//! `FGD_LIX` with `FGD_LIX_MAJOR`, `FGD_LIX_MINOR`) and the version the plugin insists on at
//! load time (`FGD_NIX_VERSION`: `nix::nixVersion`, which is Lix's own release in Lix). The shim is compiled a second
//! time insisting on `FETCHGIT_DATE_NIX_PRETEND_VERSION` (default [`PRETEND_VERSION`]) for the
//! example cdylib `pretend_nix_version` only: the plugin as if built for another Nix, which
//! tests/version.rs loads to see it refuse to register.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Nix {
    /// Lix rather than Nix (its own releases, API and headers).
    lix: bool,
    /// The release, without Lix's `lix-` prefix.
    version: String,
    include_dirs: Vec<PathBuf>,
    lib_dirs: Vec<PathBuf>,
    /// Libraries to link (`-l` names); empty: leave Nix's symbols to the loading process.
    libs: Vec<String>,
    cxx_std: Option<String>,
    /// Other compiler flags pkg-config gave.
    cflags: Vec<String>,
}

/// The release lines the shim was compiled against (tests/modern-nix/compile-plugin-all.sh, and
/// Debian's 2.8): the newest patch release of each (see docs/nix.md).
const COMPILED_NIX: &[(u32, u32)] = &[(2, 8), (2, 24), (2, 26), (2, 28), (2, 29), (2, 30), (2, 31), (2, 32), (2, 33), (2, 34), (2, 35)];
const COMPILED_LIX: &[(u32, u32)] = &[(2, 93), (2, 94), (2, 95)];

/// The release the `pretend_nix_version` example claims (FETCHGIT_DATE_NIX_PRETEND_VERSION
/// replaces it).
const PRETEND_VERSION: &str = "2.7.99-pretend";

const HOW_TO_GET_HEADERS: &str = "fetchgit-date-nix-plugin: Nix's C++ headers were not found: on Debian run `sudo tests/install-deps` (it installs those of the installed nix-bin in /usr/include/nix); with nixpkgs, build with nix.dev and pkg-config (`pkg-config nix-expr`); or set FETCHGIT_DATE_NIX_INCLUDE_DIR and FETCHGIT_DATE_NIX_VERSION";

fn main() {
    for var in [
        "FETCHGIT_DATE_NIX_INCLUDE_DIR",
        "FETCHGIT_DATE_NIX_VERSION",
        "FETCHGIT_DATE_NIX_LIB_DIR",
        "FETCHGIT_DATE_NIX_PRETEND_VERSION",
        "FETCHGIT_DATE_NIX_CXX",
        "PKG_CONFIG_PATH",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=src/shim.cc");
    println!("cargo:rerun-if-changed=src/abi.h");
    let nix = match find_nix() {
        Ok(nix) => nix,
        Err(problem) => fail(&format!("{HOW_TO_GET_HEADERS} ({problem})")),
    };
    let (major, minor) = parse_version(&nix.version)
        .unwrap_or_else(|| fail(&format!("fetchgit-date-nix-plugin: cannot read the Nix version '{}': expected MAJOR.MINOR[.PATCH]", nix.version)));
    let (implementation, compiled) = if nix.lix { ("Lix", COMPILED_LIX) } else { ("Nix", COMPILED_NIX) };
    if !compiled.contains(&(major, minor)) {
        let lines: Vec<String> = compiled.iter().map(|(a, b)| format!("{a}.{b}")).collect();
        println!("cargo:warning=fetchgit-date-nix-plugin: {implementation} {} was never compiled against (compiled: {}); the API macros in src/shim.cc guess by release", nix.version, lines.join(", "));
    }
    let pretend = std::env::var("FETCHGIT_DATE_NIX_PRETEND_VERSION").ok().filter(|v| !v.is_empty()).unwrap_or_else(|| PRETEND_VERSION.to_owned());

    // The shim's compiler (only the shim's: CXX would also change every -sys crate's): the one
    // the release builds itself with. Lix is built with clang (its meson.build: GCC crashes on
    // its coroutines; g++ 16 does on its headers); Nix with the cc crate's default (c++).
    let cxx = std::env::var("FETCHGIT_DATE_NIX_CXX").ok().filter(|c| !c.is_empty()).or_else(|| nix.lix.then(|| "clang++".to_owned()));
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let compile = |library: &str, insisted: &str| -> PathBuf {
        let mut build = cc::Build::new();
        build.cpp(true).file("src/shim.cc").include("src").warnings(false).cargo_metadata(false);
        if let Some(cxx) = &cxx {
            build.compiler(cxx);
        }
        // What each release compiles itself with (and its nix-expr.pc says): Lix C++23
        // throughout; Nix C++23 from 2.31, C++20 from 2.15.
        let default_std = if nix.lix || (major, minor) >= (2, 31) {
            "-std=c++23"
        } else if (major, minor) >= (2, 15) {
            "-std=c++2a"
        } else {
            "-std=c++17"
        };
        build.flag(nix.cxx_std.as_deref().unwrap_or(default_std));
        for dir in &nix.include_dirs {
            build.include(dir);
        }
        for flag in &nix.cflags {
            build.flag(flag);
        }
        // Nix (before 2.28) and Lix compile every file with their configuration header(s)
        // included first; so must we: HAVE_BOEHMGC changes EvalState's layout. (From 2.28 Nix's
        // headers include their generated nix/<component>/config.hh themselves.)
        let configs: &[&str] = if nix.lix { &["lix/config.h"] } else { &["config.h", "config-util.hh", "config-store.hh", "config-expr.hh"] };
        for config in configs {
            if let Some(found) = nix.include_dirs.iter().map(|d| d.join(config)).find(|p| p.exists()) {
                build.flag("-include").flag(found.to_str().unwrap_or_else(|| fail("fetchgit-date-nix-plugin: non-UTF-8 include path")));
            }
        }
        let (nix_major, nix_minor, lix_major, lix_minor) = if nix.lix { (0, 0, major, minor) } else { (major, minor, 0, 0) };
        build.define("FGD_LIX", if nix.lix { "1" } else { "0" });
        build.define("FGD_NIX_MAJOR", nix_major.to_string().as_str());
        build.define("FGD_NIX_MINOR", nix_minor.to_string().as_str());
        build.define("FGD_LIX_MAJOR", lix_major.to_string().as_str());
        build.define("FGD_LIX_MINOR", lix_minor.to_string().as_str());
        build.define("FGD_NIX_VERSION", format!("\"{}\"", insisted.escape_default()).as_str());
        // A directory each: the two compiles run at once and would write the same shim.o.
        let dir = out_dir.join(library);
        build.out_dir(&dir).compile(library);
        dir.join(format!("lib{library}.a"))
    };
    // The shim goes into the plugin, whole (its static constructor registers the primop), and
    // only there: the rlib carries none of it, so nothing else links Nix.
    // The same shim believing it was built for another Nix, for the example cdylib
    // `pretend_nix_version` that tests/version.rs loads to see the plugin refuse to register.
    // Both at once: each is one long C++ compile.
    let (shim, pretend_shim) = std::thread::scope(|scope| {
        let pretend_shim = scope.spawn(|| compile("fetchgit_date_nix_shim_pretend", &pretend));
        let shim = compile("fetchgit_date_nix_shim", &nix.version);
        (shim, pretend_shim.join().unwrap_or_else(|_| fail("fetchgit-date-nix-plugin: compiling the pretend shim failed (see above)")))
    });
    // Cargo passes no link arguments to cdylib examples: the example names its archive itself
    // (#[link(kind = "static", modifiers = "+whole-archive")]) and finds it here.
    println!("cargo:rustc-link-search=native={}", pretend_shim.parent().expect("in OUT_DIR").display());
    println!("cargo:rustc-cdylib-link-arg=-Wl,--whole-archive,{},--no-whole-archive", shim.display());
    // Linking Nix's libraries only buys checking at link time that every symbol the shim uses
    // exists in this release (-z defs); at run time they are the evaluator's own.
    for dir in &nix.lib_dirs {
        println!("cargo:rustc-cdylib-link-arg=-L{}", dir.display());
    }
    for lib in &nix.libs {
        println!("cargo:rustc-cdylib-link-arg=-l{lib}");
    }
    // Lazy binding (rustc links with -z now, which binds every symbol at dlopen): Nix opens
    // plugins RTLD_LAZY, so a plugin built for another release loads even where that release
    // lacks a function the shim calls (2.35 has no nix::panic(const char *, int, const char *),
    // which 2.29's inline headers call), and its load-time version check refuses in one line
    // instead of Nix failing in dlopen. Nothing of the shim is called before that check.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,lazy");
    // The C++ runtime, which cc would have named had it emitted the link lines itself.
    let macos = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("macos");
    println!("cargo:rustc-cdylib-link-arg=-l{}", if macos { "c++" } else { "stdc++" });
    if !nix.libs.is_empty() && std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,defs");
    }
}

fn fail(message: &str) -> ! {
    eprintln!("{message}");
    std::process::exit(1);
}

fn parse_version(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn find_nix() -> Result<Nix, String> {
    if let Ok(dirs) = std::env::var("FETCHGIT_DATE_NIX_INCLUDE_DIR") {
        let given =
            std::env::var("FETCHGIT_DATE_NIX_VERSION").map_err(|_| "FETCHGIT_DATE_NIX_INCLUDE_DIR is set but FETCHGIT_DATE_NIX_VERSION is not".to_string())?;
        let (lix, version) = match given.strip_prefix("lix-") {
            Some(lix_release) => (true, lix_release.to_owned()),
            None => (false, given),
        };
        let include_dirs: Vec<PathBuf> = std::env::split_paths(&dirs).collect();
        check_headers(&include_dirs)?;
        let lib_dirs: Vec<PathBuf> = std::env::var_os("FETCHGIT_DATE_NIX_LIB_DIR").map(|d| std::env::split_paths(&d).collect()).unwrap_or_default();
        let libs: &[&str] = match (lib_dirs.is_empty(), lix) {
            (true, _) => &[],
            (false, false) => &["nixexpr", "nixstore", "nixutil", "gc"],
            // Lix 2.95 is one library (liblix.so); before, one per component.
            (false, true) if lib_dirs.iter().any(|d| d.join("liblix.so").exists()) => &["lix", "gc"],
            (false, true) => &["lixexpr", "lixstore", "lixutil", "gc"],
        };
        return Ok(Nix { lix, version, include_dirs, lib_dirs, libs: libs.iter().map(|l| l.to_string()).collect(), cxx_std: None, cflags: Vec::new() });
    }
    let mut search = std::env::var("PKG_CONFIG_PATH").unwrap_or_default();
    for debian in ["/usr/lib/nix/pkgconfig"] {
        if Path::new(debian).is_dir() {
            search = if search.is_empty() { debian.to_owned() } else { format!("{search}:{debian}") };
        }
    }
    let pkg_config = |args: &[&str]| -> Result<String, String> {
        let out = Command::new(std::env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".into()))
            .args(args)
            .env("PKG_CONFIG_PATH", &search)
            .output()
            .map_err(|e| format!("cannot run pkg-config: {e}"))?;
        if !out.status.success() {
            return Err(format!("pkg-config {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    // Nix's nix-expr, else Lix's lix-expr.
    let (lix, expr, store) = match pkg_config(&["--exists", "nix-expr"]) {
        Ok(_) => (false, "nix-expr", "nix-store"),
        Err(nix_problem) => match pkg_config(&["--exists", "lix-expr"]) {
            Ok(_) => (true, "lix-expr", "lix-store"),
            Err(_) => return Err(format!("{nix_problem}; no lix-expr either")),
        },
    };
    let version = pkg_config(&["--modversion", expr])?;
    let cflags = pkg_config(&["--cflags", expr, store])?;
    let libs = pkg_config(&["--libs", expr, store])?;
    let mut include_dirs = Vec::new();
    let mut cxx_std = None;
    let mut cflags_rest = Vec::new();
    for flag in cflags.split_whitespace() {
        if let Some(dir) = flag.strip_prefix("-I") {
            include_dirs.push(PathBuf::from(dir));
        } else if flag.starts_with("-std=") {
            cxx_std = Some(flag.to_owned());
        } else {
            // -isystem DIR, -include FILE, -D...: passed on as given, in order.
            cflags_rest.push(flag.to_owned());
        }
    }
    check_headers(&include_dirs)?;
    let lib_dirs = libs.split_whitespace().filter_map(|f| f.strip_prefix("-L")).map(PathBuf::from).collect();
    let libs = libs.split_whitespace().filter_map(|f| f.strip_prefix("-l")).map(str::to_owned).collect();
    Ok(Nix { lix, version, include_dirs, lib_dirs, libs, cxx_std, cflags: cflags_rest })
}

/// pkg-config's word is not enough: Debian's nix-expr.pc names a directory it does not ship.
fn check_headers(dirs: &[PathBuf]) -> Result<(), String> {
    let found = dirs.iter().any(|d| ["eval.hh", "nix/expr/eval.hh", "lix/libexpr/eval.hh"].iter().any(|h| d.join(h).exists()));
    if found {
        Ok(())
    } else {
        Err(format!("no eval.hh in {}", dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")))
    }
}
