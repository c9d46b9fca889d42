//! A counting global allocator: per thread, the bytes live and the highest they reached since the
//! last [`start`], so one execution's peak allocation can be checked against its input's size.
//!
//! Counting is per thread (each fuzz loop runs on one thread; `cargo test` runs targets on several),
//! and only while a measurement is on: memory a thread frees that another thread allocated, or that
//! was allocated before [`start`], can only lower the count, never raise the peak.
//!
//! A hard ceiling ([`set_ceiling`]) guards the machine: an execution that goes past it would likely
//! exhaust memory before it returned, so the allocator calls the installed [`set_ceiling`] hook
//! (which saves the input) and aborts the process.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The allocator installed by this crate (`#[global_allocator]` in `lib.rs`).
pub struct Counting;

#[derive(Clone, Copy)]
struct Meter {
    on: bool,
    /// Bytes allocated minus bytes freed since `start` (may go below zero).
    live: i64,
    peak: i64,
    /// Abort past this many live bytes (0: no ceiling).
    ceiling: i64,
    /// Inside the ceiling hook: allocations pass through uncounted.
    tripped: bool,
}

const IDLE: Meter = Meter {
    on: false,
    live: 0,
    peak: 0,
    ceiling: 0,
    tripped: false,
};

thread_local! {
    // `const` and without a destructor: usable from inside the allocator at any time.
    static METER: Cell<Meter> = const { Cell::new(IDLE) };
    static HOOK: Cell<Option<fn(usize)>> = const { Cell::new(None) };
}

fn grew(bytes: usize) {
    let _ = METER.try_with(|cell| {
        let mut meter = cell.get();
        if !meter.on || meter.tripped {
            return;
        }
        meter.live = meter.live.saturating_add(bytes as i64);
        if meter.live > meter.peak {
            meter.peak = meter.live;
        }
        let over = meter.ceiling > 0 && meter.live > meter.ceiling;
        if over {
            meter.tripped = true;
        }
        cell.set(meter);
        if over {
            if let Some(hook) = HOOK.try_with(Cell::get).ok().flatten() {
                hook(meter.live.max(0) as usize);
            }
            std::process::abort();
        }
    });
}

fn shrank(bytes: usize) {
    let _ = METER.try_with(|cell| {
        let mut meter = cell.get();
        if meter.on && !meter.tripped {
            meter.live = meter.live.saturating_sub(bytes as i64);
            cell.set(meter);
        }
    });
}

// SAFETY: every call is forwarded unchanged to `System`; the counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        new
    }
}

/// Start measuring this thread's allocations from zero.
pub fn start() {
    let _ = METER.try_with(|cell| {
        let meter = cell.get();
        cell.set(Meter {
            on: true,
            live: 0,
            peak: 0,
            ..meter
        });
    });
}

/// Stop measuring; the peak of live bytes since [`start`].
pub fn stop() -> usize {
    METER
        .try_with(|cell| {
            let meter = cell.get();
            cell.set(Meter { on: false, ..meter });
            meter.peak.max(0) as usize
        })
        .unwrap_or(0)
}

/// Abort the process (after calling `hook` with the live bytes) when a measured execution on this
/// thread holds more than `bytes` (0: never).
pub fn set_ceiling(bytes: usize, hook: Option<fn(usize)>) {
    let _ = METER.try_with(|cell| {
        let meter = cell.get();
        cell.set(Meter {
            ceiling: i64::try_from(bytes).unwrap_or(i64::MAX),
            tripped: false,
            ..meter
        });
    });
    let _ = HOOK.try_with(|cell| cell.set(hook));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_of_one_measurement_is_counted() {
        start();
        let a = vec![0u8; 1 << 20];
        let b = vec![0u8; 1 << 19];
        drop(a);
        let c = vec![0u8; 1 << 10];
        let peak = stop();
        drop((b, c));
        assert!(peak >= (1 << 20) + (1 << 19), "{peak}");
        assert!(peak < (1 << 20) + (1 << 19) + (1 << 16), "{peak}");
        start();
        let peak = stop();
        assert!(peak < 1024, "{peak}");
    }
}
