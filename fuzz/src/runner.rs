//! The fuzz loop: seeds first, then mutants of seeds and of inputs the target accepted; every
//! execution under `catch_unwind` and the allocation meter. A crash is a panic, a failed property
//! (`Err` from the target) or a peak allocation over [`allocation_bound`]; its input is saved under
//! `<crash dir>/<target>/<hash>` with a command that replays it.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use crate::alloc;
use crate::mutate::Mutator;
use crate::rng::{Rng, hash};
use crate::targets::Target;

/// The most one execution may hold at its peak: 64 bytes per input byte plus 16 MiB.
pub fn allocation_bound(input_len: usize) -> usize {
    input_len.saturating_mul(64).saturating_add(16 << 20)
}

/// Past this much live memory in one execution the process saves the input and aborts rather than
/// exhaust the machine.
const CEILING: usize = 2 << 30;

/// Inputs the target accepted, kept to mutate further.
const POOL: usize = 512;

#[derive(Clone, Debug)]
pub struct Options {
    pub execs: u64,
    pub seed: u64,
    pub max_len: usize,
    pub crash_dir: PathBuf,
    /// An execution running longer than this is a hang: its input is saved and the process aborts.
    pub timeout: Duration,
    /// Print each new crash as it is found.
    pub verbose: bool,
    /// Write each input to `<crash dir>/<target>/current` before running it (to catch an input
    /// that kills the process, e.g. a stack overflow; slow).
    pub trace: bool,
}

impl Options {
    pub fn new(execs: u64) -> Self {
        Self {
            execs,
            seed: 1,
            max_len: 64 * 1024,
            crash_dir: default_crash_dir(),
            timeout: Duration::from_secs(30),
            verbose: false,
            trace: false,
        }
    }
}

/// `$CARGO_TARGET_DIR/fuzz-crashes`, else `<workspace>/target/fuzz-crashes`.
pub fn default_crash_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::seeds::workspace().join("target"))
        .join("fuzz-crashes")
}

/// What one execution did.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Accepted,
    Refused,
    Crash(String),
}

/// One distinct crash (by where it happened).
#[derive(Debug, Clone)]
pub struct Crash {
    pub reason: String,
    pub path: Option<PathBuf>,
    pub count: u64,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub target: &'static str,
    pub execs: u64,
    pub crashes: u64,
    pub accepted: u64,
    pub elapsed: Duration,
    /// The highest peak allocation of one execution, and its input's length.
    pub max_peak: usize,
    pub max_peak_len: usize,
    pub slowest: Duration,
    /// Distinct crashes, by signature.
    pub unique: BTreeMap<String, Crash>,
}

impl Report {
    pub fn execs_per_sec(&self) -> f64 {
        self.execs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The crashes, one paragraph each.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for crash in self.unique.values() {
            out.push_str(&format!(
                "[{}] {} execution(s): {}\n",
                self.target, crash.count, crash.reason
            ));
            if let Some(path) = &crash.path {
                out.push_str(&format!(
                    "  reproduce: {}\n",
                    reproduce_command(self.target, path)
                ));
            }
        }
        out
    }
}

pub fn reproduce_command(target: &str, path: &Path) -> String {
    format!(
        "cargo run --profile fuzz -p apex-fuzz -- --target {target} --reproduce {}",
        path.display()
    )
}

thread_local! {
    static IN_EXEC: Cell<bool> = const { Cell::new(false) };
    static PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    /// The running execution, for the allocation-ceiling hook.
    static CURRENT: RefCell<Option<Arc<Shared>>> = const { RefCell::new(None) };
}

/// Panics inside an execution are recorded, not printed; others go to the default hook.
fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_EXEC.with(Cell::get) {
                let message = info.to_string();
                PANIC.with(|p| *p.borrow_mut() = Some(message));
            } else {
                default(info);
            }
        }));
    });
}

/// The key crashes are grouped by: a panic's location, else the reason's first words.
fn signature(reason: &str) -> String {
    let first = reason.lines().next().unwrap_or_default();
    let cut: String = first.chars().take(90).collect();
    cut.chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect()
}

/// Run `input` through `target` once: its verdict, peak allocation and duration.
pub fn execute(target: &Target, input: &[u8]) -> (Verdict, usize, Duration) {
    install_panic_hook();
    PANIC.with(|p| p.borrow_mut().take());
    IN_EXEC.with(|f| f.set(true));
    alloc::start();
    let started = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    let took = started.elapsed();
    let peak = alloc::stop();
    IN_EXEC.with(|f| f.set(false));
    let verdict = match result {
        Ok(Ok(true)) => Verdict::Accepted,
        Ok(Ok(false)) => Verdict::Refused,
        Ok(Err(reason)) => Verdict::Crash(reason),
        Err(_) => Verdict::Crash(
            PANIC
                .with(|p| p.borrow_mut().take())
                .unwrap_or_else(|| "panicked".to_string()),
        ),
    };
    let bound = allocation_bound(input.len());
    let verdict = match verdict {
        Verdict::Crash(reason) => Verdict::Crash(reason),
        _ if peak > bound => Verdict::Crash(format!(
            "allocation: peak {peak} bytes for a {}-byte input (bound {bound})",
            input.len()
        )),
        verdict => verdict,
    };
    (verdict, peak, took)
}

/// What the watchdog and the allocation ceiling need to save the running input.
struct Shared {
    target: &'static str,
    dir: PathBuf,
    input: Mutex<Vec<u8>>,
    /// Milliseconds since `base` when the running execution started (`u64::MAX`: none).
    started: AtomicU64,
    base: Instant,
    done: AtomicBool,
}

impl Shared {
    fn save_running(&self, why: &str) {
        let input = match self.input.lock() {
            Ok(input) => input.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        match save(&self.dir, self.target, &input) {
            Some(path) => eprintln!(
                "[{}] {why}; input saved: {}\n  reproduce: {}",
                self.target,
                path.display(),
                reproduce_command(self.target, &path)
            ),
            None => eprintln!("[{}] {why}; the input could not be saved", self.target),
        }
    }
}

fn on_ceiling(live: usize) {
    CURRENT.with(|current| {
        if let Some(shared) = current.borrow().as_ref() {
            shared.save_running(&format!(
                "allocation ceiling: one execution holds {live} bytes"
            ));
        }
    });
}

/// Save a crashing input as `<dir>/<target>/<hash>`.
pub fn save(dir: &Path, target: &str, input: &[u8]) -> Option<PathBuf> {
    let folder = dir.join(target);
    std::fs::create_dir_all(&folder).ok()?;
    let path = folder.join(format!("{:016x}", hash(input)));
    std::fs::write(&path, input).ok()?;
    Some(path)
}

/// Fuzz `target` for `options.execs` executions.
pub fn run(target: &Target, options: &Options) -> Report {
    install_panic_hook();
    let seeds: Vec<Vec<u8>> = (target.seeds)()
        .into_iter()
        .map(|mut s| {
            s.truncate(options.max_len);
            s
        })
        .collect();
    let mutator = Mutator::new(&seeds, options.max_len);
    let mut rng = Rng::new(options.seed ^ hash(target.name.as_bytes()));
    // Statics (the example config) are built before anything is measured.
    let _ = execute(target, b"");

    let shared = Arc::new(Shared {
        target: target.name,
        dir: options.crash_dir.clone(),
        input: Mutex::new(Vec::new()),
        started: AtomicU64::new(u64::MAX),
        base: Instant::now(),
        done: AtomicBool::new(false),
    });
    CURRENT.with(|c| *c.borrow_mut() = Some(shared.clone()));
    alloc::set_ceiling(CEILING, Some(on_ceiling));
    let watchdog = {
        let shared = shared.clone();
        let timeout = options.timeout;
        std::thread::spawn(move || {
            while !shared.done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                let started = shared.started.load(Ordering::Relaxed);
                let now = shared.base.elapsed().as_millis() as u64;
                if started != u64::MAX && now.saturating_sub(started) > timeout.as_millis() as u64 {
                    shared.save_running(&format!(
                        "timeout: one execution ran longer than {timeout:?}"
                    ));
                    std::process::abort();
                }
            }
        })
    };

    let mut report = Report {
        target: target.name,
        execs: 0,
        crashes: 0,
        accepted: 0,
        elapsed: Duration::ZERO,
        max_peak: 0,
        max_peak_len: 0,
        slowest: Duration::ZERO,
        unique: BTreeMap::new(),
    };
    let mut pool: Vec<Vec<u8>> = Vec::new();
    let trace_path = options.crash_dir.join(target.name).join("current");
    if options.trace {
        let _ = std::fs::create_dir_all(options.crash_dir.join(target.name));
    }
    let began = Instant::now();
    for i in 0..options.execs {
        let input = match seeds.get(i as usize) {
            Some(seed) => seed.clone(),
            None => {
                let kept = if rng.one_in(2) { rng.pick(&pool) } else { None };
                let mut input = match kept.or_else(|| rng.pick(&seeds)) {
                    Some(base) => base.clone(),
                    None => Vec::new(),
                };
                mutator.mutate(&mut rng, &mut input);
                input
            }
        };
        if let Ok(mut running) = shared.input.lock() {
            running.clear();
            running.extend_from_slice(&input);
        }
        if options.trace {
            let _ = std::fs::write(&trace_path, &input);
        }
        shared
            .started
            .store(shared.base.elapsed().as_millis() as u64, Ordering::Relaxed);
        let (verdict, peak, took) = execute(target, &input);
        shared.started.store(u64::MAX, Ordering::Relaxed);
        report.execs += 1;
        if peak > report.max_peak {
            report.max_peak = peak;
            report.max_peak_len = input.len();
        }
        report.slowest = report.slowest.max(took);
        match verdict {
            Verdict::Accepted => {
                report.accepted += 1;
                if pool.len() < POOL {
                    pool.push(input);
                } else if rng.one_in(4) {
                    let at = rng.below(POOL);
                    pool[at] = input;
                }
            }
            Verdict::Refused => {}
            Verdict::Crash(reason) => {
                report.crashes += 1;
                let key = signature(&reason);
                match report.unique.get_mut(&key) {
                    Some(crash) => crash.count += 1,
                    None => {
                        let path = save(&options.crash_dir, target.name, &input);
                        if options.verbose {
                            eprintln!("[{}] crash: {reason}", target.name);
                            if let Some(path) = &path {
                                eprintln!("  reproduce: {}", reproduce_command(target.name, path));
                            }
                        }
                        report.unique.insert(
                            key,
                            Crash {
                                reason,
                                path,
                                count: 1,
                            },
                        );
                    }
                }
            }
        }
    }
    report.elapsed = began.elapsed();
    shared.done.store(true, Ordering::Relaxed);
    let _ = watchdog.join();
    alloc::set_ceiling(0, None);
    CURRENT.with(|c| *c.borrow_mut() = None);
    report
}
