//! The expiry sweep's key-value I/O (what expires and the paging are in `expiry`): run after a
//! request, at most every `expiry::INTERVAL_SECS` per store, on every host (Spin, `wasmtime
//! serve`, the local host), since none of them expires entries itself.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::platform::now_ms;
use crate::state::expiry::{self, SweepState};

/// Before this time (wall clock, seconds) this instance knows no sweep is due, so it does not
/// read the store's sweep state (an instance that serves many requests reads it once a minute).
static NOT_BEFORE: AtomicU64 = AtomicU64::new(0);

/// Sweep the store if a sweep is due. Failures are ignored: a later sweep tries again.
pub fn maybe_run() {
    let now_ms = now_ms();
    let now = now_ms / 1000;
    if now < NOT_BEFORE.load(Ordering::Relaxed) {
        return;
    }
    let Some(bucket) = crate::platform::store() else {
        return;
    };
    let state = bucket
        .get(expiry::STATE_KEY)
        .ok()
        .flatten()
        .and_then(|bytes| SweepState::decode(&bytes))
        .unwrap_or_default();
    if !state.is_due(now) {
        NOT_BEFORE.store(
            state
                .at
                .saturating_add(expiry::INTERVAL_SECS)
                .min(now + expiry::INTERVAL_SECS),
            Ordering::Relaxed,
        );
        return;
    }
    NOT_BEFORE.store(now + expiry::INTERVAL_SECS, Ordering::Relaxed);
    // Claim this round first, so instances that look meanwhile leave it to this one.
    let claim = SweepState {
        at: now,
        ..state.clone()
    };
    if bucket.set(expiry::STATE_KEY, &claim.encode()).is_err() {
        return;
    }
    let page = match bucket.list_keys(state.cursor.as_deref()) {
        Ok(page) => page,
        Err(_) => {
            // A cursor the host no longer takes: start again from the first page next time.
            let reset = SweepState {
                at: now,
                cursor: None,
                after: None,
            };
            let _ = bucket.set(expiry::STATE_KEY, &reset.encode());
            return;
        }
    };
    let batch = expiry::batch(page.keys, state.cursor, page.cursor, state.after);
    let mut read = 0;
    let mut bytes = 0usize;
    for key in &batch.examine {
        if bytes >= expiry::MAX_BYTES {
            break;
        }
        read += 1;
        let Ok(Some(value)) = bucket.get(key) else {
            continue;
        };
        bytes = bytes.saturating_add(value.len());
        if expiry::is_expired(key, &value, now_ms) {
            let _ = bucket.delete(key);
        }
    }
    let _ = bucket.set(expiry::STATE_KEY, &batch.state_after(read, now).encode());
}
