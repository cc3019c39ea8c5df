//! `builtins.fetchGitDate`: the fetchgit-date library inside the Nix evaluator, loaded with
//! `plugin-files`. The C++ shim (src/shim.cc, compiled by build.rs against one Nix release's
//! headers) registers the primop and calls [`fgd_fetch_git_date`] with the forced argument as
//! JSON and a table of callbacks into the evaluator's store and settings (src/abi.h); this
//! crate does all the work and answers with JSON (or a one-line error). Panics never cross
//! into C++: they become evaluation errors.
//!
//! Test hook: with `FETCHGIT_DATE_PLUGIN_TEST_PANIC` set in the evaluator's environment every
//! call panics (tests/plugin/behaviour.rs checks that this is an evaluation error and Nix
//! lives on). Nothing else reads it.

use std::ffi::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

mod args;
mod call;
mod host;

/// The environment variable that makes every call panic (tests only).
pub const TEST_PANIC_VAR: &str = "FETCHGIT_DATE_PLUGIN_TEST_PANIC";

extern "C" {
    /// shim.cc: registers the primop unless the running Nix is another release (idempotent).
    fn fgd_register();
}

/// Lix calls this after loading a plugin; Nix registers from the shim's static constructor.
/// Referencing the shim from here also makes the linker keep it (and that constructor) in the
/// cdylib.
#[no_mangle]
pub extern "C" fn nix_plugin_entry() {
    // SAFETY: `fgd_register` takes no arguments and catches nothing it could throw: it only
    // compares two strings and constructs a RegisterPrimOp, as every Nix plugin does at load.
    unsafe { fgd_register() }
}

/// Installs Nix's logger as the library's progress reporter (shim.cc, once, at registration).
#[no_mangle]
pub extern "C" fn fgd_plugin_loaded(
    start: host::ActivityStart,
    progress: host::ActivityProgress,
    stop: host::ActivityStop,
    warn: host::Warn,
    debug: host::Warn,
) {
    let _ = catch_unwind(|| {
        host::set_debug(debug);
        fetchgit_date::progress::set_reporter(Box::new(host::Logger { start, progress, stop, warn }))
    });
}

/// One call of `builtins.fetchGitDate` (abi.h). Returns 0 and writes the answer's JSON through
/// `set` into `out`, or 1 and writes the one-line error message.
///
/// # Safety
/// `host` must be the shim's table for this call; `args` must point to `len` readable bytes;
/// `set`/`out` must be the shim's string setter and a target it accepts.
#[no_mangle]
pub unsafe extern "C" fn fgd_fetch_git_date(host: *const host::Host, args: *const c_char, len: usize, set: host::SetString, out: *mut c_void) -> c_int {
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the caller passes this call's host table, alive until we return.
        let host = unsafe { host::HostCall::new(host) }?;
        // SAFETY: the caller passes `len` readable bytes.
        let bytes = unsafe { std::slice::from_raw_parts(args.cast::<u8>(), len) };
        let args = std::str::from_utf8(bytes).map_err(|_| "the arguments are not valid UTF-8".to_owned())?;
        call::fetch_git_date(&host, args)
    }));
    let (status, text) = match result {
        Ok(Ok(answer)) => (0, answer),
        Ok(Err(message)) => (1, message),
        Err(panic) => {
            let what = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
            (1, format!("internal error (a bug in fetchgit-date, please report it): {what}"))
        }
    };
    // SAFETY: `set` and `out` are the caller's setter and its target; `text` lives across the call.
    unsafe { set(out, text.as_ptr().cast(), text.len()) };
    status
}
