//! Fetch progress on stderr: one line, rewritten in place, with each task's count (objects,
//! bytes) and the rate of the fastest-growing byte counter. Silent when disabled, so the same
//! value can be handed to gix whether or not stderr is a terminal. A process that has its own
//! display (the Nix plugin: Nix's logger) installs a [`Reporter`] instead of stderr.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Where progress goes instead of stderr, for the whole process.
pub trait Reporter: Send + Sync {
    /// A long operation begins; returns its id.
    fn start(&self, title: &str) -> u64;
    /// How far it is: bytes received (and objects, when known).
    fn update(&self, id: u64, bytes: u64, objects: u64);
    /// It ended.
    fn stop(&self, id: u64);
    /// Something the user should know, one line.
    fn warn(&self, message: &str);
}

static REPORTER: OnceLock<Box<dyn Reporter>> = OnceLock::new();

/// Sends all progress of this process to `reporter`; false if one was installed already.
pub fn set_reporter(reporter: Box<dyn Reporter>) -> bool {
    REPORTER.set(reporter).is_ok()
}

/// A warning, to the reporter if one is installed, else on stderr.
pub fn warn(message: &str) {
    match REPORTER.get() {
        Some(reporter) => reporter.warn(message),
        None => eprintln!("fetchgit-date: warning: {message}"),
    }
}
use std::time::{Duration, Instant};

use gix::progress::{Count, Id, MessageLevel, NestedProgress, Step, StepShared, Unit};

struct Task {
    name: String,
    counter: StepShared,
    bytes: bool,
}

struct Shared {
    enabled: bool,
    tasks: Mutex<Vec<Task>>,
    stop: AtomicBool,
    printer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// A progress tree that gix reports into; cheap to clone (all clones share one display).
#[derive(Clone)]
pub struct Progress {
    shared: Arc<Shared>,
    counter: StepShared,
    name: String,
}

impl Progress {
    /// A progress display, printing only when `enabled`.
    pub fn new(enabled: bool) -> Progress {
        Progress::titled(enabled, "fetching")
    }

    /// A progress display of an operation described by `title` (which the [`Reporter`] shows;
    /// the stderr line has counts only).
    pub fn titled(enabled: bool, title: &str) -> Progress {
        let shared = Arc::new(Shared { enabled, tasks: Mutex::new(Vec::new()), stop: AtomicBool::new(false), printer: Mutex::new(None) });
        if enabled {
            let printer_shared = Arc::clone(&shared);
            let title = title.to_owned();
            let handle = std::thread::spawn(move || {
                let started = Instant::now();
                let reporter = REPORTER.get();
                let id = reporter.map(|r| r.start(&title));
                while !printer_shared.stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(250));
                    match (reporter, id) {
                        (Some(reporter), Some(id)) => {
                            let (objects, bytes) = printer_shared.counts();
                            reporter.update(id, bytes as u64, objects as u64);
                        }
                        _ => eprint!("\r{}\x1b[K", printer_shared.line(started.elapsed())),
                    }
                }
                if let (Some(reporter), Some(id)) = (reporter, id) {
                    reporter.stop(id);
                }
            });
            *shared.printer.lock().expect("progress lock") = Some(handle);
        }
        Progress { shared, counter: Arc::new(AtomicUsize::new(0)), name: "fetch".into() }
    }

    /// Stops the display and ends its line.
    pub fn finish(&self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        let handle = self.shared.printer.lock().expect("progress lock").take();
        if let Some(handle) = handle {
            let _ = handle.join();
            if REPORTER.get().is_none() {
                eprintln!();
            }
        }
    }
}

impl Shared {
    /// (objects, bytes) received so far.
    fn counts(&self) -> (usize, usize) {
        let tasks = self.tasks.lock().expect("progress lock");
        let count = |names: &[&str]| tasks.iter().filter(|t| names.contains(&t.name.as_str())).map(|t| t.counter.load(Ordering::Relaxed)).max().unwrap_or(0);
        // gix names its tasks: "read pack" counts received bytes, "indexing" received objects.
        let bytes = count(&["read pack"]).max(tasks.iter().filter(|t| t.bytes).map(|t| t.counter.load(Ordering::Relaxed)).max().unwrap_or(0));
        (count(&["indexing", "Resolving"]), bytes)
    }

    fn line(&self, elapsed: Duration) -> String {
        let (objects, bytes) = self.counts();
        let rate = bytes as f64 / elapsed.as_secs_f64().max(0.001) / 1024.0;
        format!("fetchgit-date: {objects} objects, {} KiB received ({rate:.0} KiB/s)", bytes / 1024)
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Count for Progress {
    fn set(&self, step: Step) {
        self.counter.store(step, Ordering::Relaxed);
    }
    fn step(&self) -> Step {
        self.counter.load(Ordering::Relaxed)
    }
    fn inc_by(&self, step: Step) {
        self.counter.fetch_add(step, Ordering::Relaxed);
    }
    fn counter(&self) -> StepShared {
        Arc::clone(&self.counter)
    }
}

impl gix::progress::Progress for Progress {
    fn init(&mut self, _max: Option<Step>, unit: Option<Unit>) {
        if !self.shared.enabled {
            return;
        }
        let bytes = unit.is_some_and(|unit| unit.display(2048, None, None).to_string().contains('B'));
        let mut tasks = self.shared.tasks.lock().expect("progress lock");
        if !tasks.iter().any(|t| Arc::ptr_eq(&t.counter, &self.counter)) {
            tasks.push(Task { name: self.name.clone(), counter: Arc::clone(&self.counter), bytes });
        }
    }
    fn set_name(&mut self, name: String) {
        self.name = name;
    }
    fn name(&self) -> Option<String> {
        Some(self.name.clone())
    }
    fn id(&self) -> Id {
        *b"FGDP"
    }
    fn message(&self, _level: MessageLevel, _message: String) {}
}

impl NestedProgress for Progress {
    type SubProgress = Progress;
    fn add_child(&mut self, name: impl Into<String>) -> Progress {
        Progress { shared: Arc::clone(&self.shared), counter: Arc::new(AtomicUsize::new(0)), name: name.into() }
    }
    fn add_child_with_id(&mut self, name: impl Into<String>, _id: Id) -> Progress {
        self.add_child(name)
    }
}
