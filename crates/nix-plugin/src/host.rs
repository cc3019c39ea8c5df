//! The C ABI of src/abi.h seen from Rust: the host table the shim passes with every call, and
//! safe wrappers over its callbacks. Nothing here unwinds into C++: callbacks that Rust
//! provides catch panics, and the shim's callbacks catch every C++ exception themselves.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// `FgdSetString`.
pub type SetString = unsafe extern "C" fn(target: *mut c_void, data: *const c_char, len: usize);
/// `FgdReadFn`.
pub type ReadFn = unsafe extern "C" fn(reader: *mut c_void, buf: *mut c_char, len: usize) -> isize;
type Status = unsafe extern "C" fn(ctx: *mut c_void, text: *const c_char, len: usize, set: SetString, out: *mut c_void) -> c_int;
type AddNar =
    unsafe extern "C" fn(ctx: *mut c_void, name: *const c_char, len: usize, read: ReadFn, reader: *mut c_void, set: SetString, out: *mut c_void) -> c_int;

/// `FgdHost`: what one call may use of the evaluator.
#[repr(C)]
pub struct Host {
    ctx: *mut c_void,
    nix_version: *const c_char,
    store_dir: *const c_char,
    pure_eval: c_int,
    restrict_eval: c_int,
    check_uri: Option<Status>,
    is_valid_path: Option<Status>,
    add_nar: Option<AddNar>,
}

/// `FgdActivityStart` and friends: Nix's logger, valid for the life of the process.
pub type ActivityStart = unsafe extern "C" fn(text: *const c_char, len: usize) -> u64;
/// `FgdActivityProgress`.
pub type ActivityProgress = unsafe extern "C" fn(id: u64, done: u64, expected: u64);
/// `FgdActivityStop`.
pub type ActivityStop = unsafe extern "C" fn(id: u64);
/// `FgdWarn` (also `FgdDebug`).
pub type Warn = unsafe extern "C" fn(text: *const c_char, len: usize);

static DEBUG: std::sync::OnceLock<Warn> = std::sync::OnceLock::new();

/// Sets where [`debug`] goes (Nix's logger at debug level), once at load.
pub fn set_debug(debug: Warn) {
    let _ = DEBUG.set(debug);
}

/// A line for `--debug`.
pub fn debug(message: &str) {
    if let Some(debug) = DEBUG.get() {
        // SAFETY: the shim's logger callbacks take any (pointer, length) and catch everything.
        unsafe { debug(message.as_ptr().cast(), message.len()) }
    }
}

/// Writes C++'s string into a Rust `String` (`target` is a `*mut String`).
pub unsafe extern "C" fn set_string(target: *mut c_void, data: *const c_char, len: usize) {
    let _ = catch_unwind(|| {
        // SAFETY: callers pass `target` = a live `&mut String` and `data` = `len` readable
        // bytes (abi.h's contract; every call site is in this file or lib.rs).
        let (target, bytes) = unsafe { (&mut *target.cast::<String>(), std::slice::from_raw_parts(data.cast::<u8>(), len)) };
        *target = String::from_utf8_lossy(bytes).into_owned();
    });
}

unsafe extern "C" fn read_into(reader: *mut c_void, buf: *mut c_char, len: usize) -> isize {
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `reader` is the `&mut &mut dyn Read` that `HostCall::add_nar` passed with this
        // function, alive for the whole add_nar call; Nix gives `buf` with `len` writable bytes.
        let (reader, buf) = unsafe { (&mut *reader.cast::<&mut dyn Read>(), std::slice::from_raw_parts_mut(buf.cast::<u8>(), len)) };
        loop {
            match reader.read(buf) {
                Ok(n) => return n as isize,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return -1,
            }
        }
    }))
    .unwrap_or(-1)
}

/// A call's host table, checked for null entries once.
pub struct HostCall<'a> {
    host: &'a Host,
}

impl<'a> HostCall<'a> {
    /// # Safety
    /// `host` must be the table the shim passed to this call (abi.h), alive for `'a`.
    pub unsafe fn new(host: *const Host) -> Result<HostCall<'a>, String> {
        // SAFETY: per this function's contract, `host` is null or a valid table.
        let host = unsafe { host.as_ref() }.ok_or("internal error: no host table")?;
        if host.nix_version.is_null() || host.store_dir.is_null() || host.check_uri.is_none() || host.is_valid_path.is_none() || host.add_nar.is_none() {
            return Err("internal error: incomplete host table".into());
        }
        Ok(HostCall { host })
    }

    fn c_string(ptr: *const c_char) -> String {
        // SAFETY: checked non-null in `new`; the shim passes NUL-terminated strings that live
        // for the call (nixVersion and the store's storeDir).
        unsafe { CStr::from_ptr(ptr) }.to_string_lossy().into_owned()
    }

    /// `nix::nixVersion` of the running Nix.
    pub fn nix_version(&self) -> String {
        HostCall::c_string(self.host.nix_version)
    }

    /// The evaluator's store directory.
    pub fn store_dir(&self) -> String {
        HostCall::c_string(self.host.store_dir)
    }

    /// Whether `pure-eval` is on.
    pub fn pure_eval(&self) -> bool {
        self.host.pure_eval != 0
    }

    fn status(&self, f: Option<Status>, text: &str) -> Result<c_int, String> {
        let f = f.expect("checked in new");
        let mut message = String::new();
        // SAFETY: `f` is the shim's callback; `text` is valid for `len` bytes; `message` is a
        // live String that `set_string` may overwrite.
        let status = unsafe { f(self.host.ctx, text.as_ptr().cast(), text.len(), set_string, (&mut message as *mut String).cast()) };
        if status < 0 {
            Err(message)
        } else {
            Ok(status)
        }
    }

    /// `EvalState::checkURI`: refuses a URL that restrict-eval does not allow.
    pub fn check_uri(&self, uri: &str) -> Result<(), String> {
        self.status(self.host.check_uri, uri).map(drop)
    }

    /// Whether the evaluator's store has `path` (registering a temporary root first).
    pub fn is_valid_path(&self, path: &str) -> Result<bool, String> {
        self.status(self.host.is_valid_path, path).map(|status| status == 1)
    }

    /// Adds the NAR that `nar` streams as a store path named `name`; returns the path Nix made.
    pub fn add_nar(&self, name: &str, nar: &mut dyn Read) -> Result<String, String> {
        let f = self.host.add_nar.expect("checked in new");
        let mut reader: &mut dyn Read = nar;
        let mut out = String::new();
        // SAFETY: `reader` and `out` outlive this synchronous call; `read_into` expects exactly
        // a `*mut &mut dyn Read` and `set_string` a `*mut String`.
        let status = unsafe {
            f(
                self.host.ctx,
                name.as_ptr().cast(),
                name.len(),
                read_into,
                (&mut reader as *mut &mut dyn Read).cast(),
                set_string,
                (&mut out as *mut String).cast(),
            )
        };
        if status == 0 {
            Ok(out)
        } else {
            Err(out)
        }
    }
}

/// Nix's logger, as the shim handed it over at load time.
#[derive(Clone, Copy)]
pub struct Logger {
    /// Starts an activity.
    pub start: ActivityStart,
    /// Reports an activity's progress.
    pub progress: ActivityProgress,
    /// Ends an activity.
    pub stop: ActivityStop,
    /// Prints a warning.
    pub warn: Warn,
}

impl fetchgit_date::progress::Reporter for Logger {
    fn start(&self, title: &str) -> u64 {
        // SAFETY: the shim's callbacks take any (pointer, length) string and catch everything.
        unsafe { (self.start)(title.as_ptr().cast(), title.len()) }
    }
    fn update(&self, id: u64, bytes: u64, _objects: u64) {
        // SAFETY: as above; an unknown id is ignored by the shim.
        unsafe { (self.progress)(id, bytes, 0) }
    }
    fn stop(&self, id: u64) {
        // SAFETY: as above.
        unsafe { (self.stop)(id) }
    }
    fn warn(&self, message: &str) {
        let line = format!("fetchGitDate: {message}");
        // SAFETY: as above.
        unsafe { (self.warn)(line.as_ptr().cast(), line.len()) }
    }
}
