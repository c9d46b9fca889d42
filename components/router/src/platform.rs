//! What the router takes from the host besides HTTP: clocks, random ids, the key-value store's
//! name and variables, the log stream. Everything else reaches these through here, so no module
//! needs another one just for a clock or the store handle.

use std::cell::OnceCell;
use std::rc::Rc;

use crate::bindings::{config_store, kv};

/// The key-value store every piece of state lives in (the host maps it: a file, Redis, SQLite, a
/// Workers KV namespace).
pub const KV_STORE: &str = "default";

/// The key-value store, or `None` when the host has none to give. Opened once per instance and
/// shared: a request makes several store calls, and each open is a call into the host.
pub fn store() -> Option<Rc<kv::Bucket>> {
    thread_local! {
        static STORE: OnceCell<Option<Rc<kv::Bucket>>> = const { OnceCell::new() };
    }
    STORE.with(|store| {
        store
            .get_or_init(|| kv::open(KV_STORE).ok().map(Rc::new))
            .clone()
    })
}

/// Write one line (with its end) to the host's log: stderr, in one host call for lines up to
/// 4 KiB (`eprintln!` makes two writes, and the standard library three calls for each).
pub fn log_line(line: &[u8]) {
    thread_local! {
        static STDERR: wasip2::io::streams::OutputStream = wasip2::cli::stderr::get_stderr();
    }
    STDERR.with(|stderr| {
        let _ = crate::output::write_all(stderr, line);
    });
}

/// A variable from the host (Spin variables, the local host's environment).
pub fn variable(name: &str) -> Option<String> {
    config_store::get(name).ok().flatten()
}

/// A fresh id: `prefix` and 24 to 32 random hex digits (16 from one number, then the other
/// without leading zeros past 8; `surfaces::responses::reference` relies on that range).
pub fn random_id(prefix: &str) -> String {
    let a = wasip2::random::random::get_random_u64();
    let b = wasip2::random::random::get_random_u64();
    format!("{prefix}{a:016x}{b:08x}")
}

pub fn random_u64() -> u64 {
    wasip2::random::random::get_random_u64()
}

/// Wall-clock seconds (stored state's expiry, `created` fields).
pub fn now_secs() -> u64 {
    wasip2::clocks::wall_clock::now().seconds
}

/// Wall-clock milliseconds (cooldowns, stats windows, the cache).
pub fn now_ms() -> u64 {
    let now = wasip2::clocks::wall_clock::now();
    now.seconds
        .saturating_mul(1000)
        .saturating_add(u64::from(now.nanoseconds / 1_000_000))
}

/// Wait `ms` milliseconds.
pub fn sleep_ms(ms: u64) {
    wasip2::clocks::monotonic_clock::subscribe_duration(ms.saturating_mul(1_000_000)).block();
}

/// Milliseconds on the monotonic clock (latencies, deadlines).
pub fn monotonic_ms() -> u64 {
    wasip2::clocks::monotonic_clock::now() / 1_000_000
}
