//! Per-key concurrency: each gateway key may have at most `gateway.max_concurrent_per_key`
//! requests in flight, so one tenant cannot take every instance and connection.
//!
//! The count lives in the key-value store, so it holds across instances and, with a shared store
//! (Spin's Redis runtime config), across machines: a key has slots `apex:slot:<key name>:<n>`; a
//! request takes a free one (absent, or its lease expired) and deletes it when done. A lease lasts
//! as long as a request may (`total_timeout_secs`, plus a margin), so a slot whose request was
//! killed frees itself. Two requests racing for one slot each read back what they wrote; the
//! loser moves on to the next slot.

use serde::{Deserialize, Serialize};

/// A taken slot.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Lease {
    /// Who holds it (random per request).
    pub holder: u64,
    /// When the slot frees itself, in seconds since the epoch.
    pub expires_at: u64,
}

/// Seconds a lease outlives the longest request.
pub const LEASE_MARGIN_SECS: u64 = 60;

/// The key of slot `n` of the key named `caller`.
pub fn slot_key(caller: &str, n: u32) -> String {
    format!("apex:slot:{caller}:{n}")
}

/// Whether a slot holding `value` may be taken at `now`.
pub fn is_free(value: Option<&[u8]>, now: u64) -> bool {
    match value.map(serde_json::from_slice::<Lease>) {
        None => true,
        Some(Ok(lease)) => lease.expires_at <= now,
        // Unreadable: taken over rather than blocking a slot forever.
        Some(Err(_)) => true,
    }
}

/// Whether `value` is `lease` (the slot is ours after writing it).
pub fn holds(value: Option<&[u8]>, lease: &Lease) -> bool {
    value
        .and_then(|v| serde_json::from_slice::<Lease>(v).ok())
        .is_some_and(|found| &found == lease)
}

/// The answer when every slot of the key is taken.
pub fn too_many(limit: u32) -> crate::http::error::ApiError {
    let mut error = crate::http::error::ApiError::new(
        429,
        "rate_limit_error",
        format!(
            "This key already has {limit} requests in flight (the gateway's \
             max_concurrent_per_key); retry when one has finished."
        ),
    );
    error.retry_after_secs = Some(1);
    error
}

#[cfg(target_arch = "wasm32")]
pub use io::{Slot, acquire};

#[cfg(target_arch = "wasm32")]
mod io {
    use super::{LEASE_MARGIN_SECS, Lease, holds, is_free, slot_key};
    use crate::bindings::kv;
    use crate::platform::KV_STORE;

    /// A taken slot; dropping it frees the slot.
    pub struct Slot {
        key: String,
        lease: Lease,
    }

    impl Drop for Slot {
        fn drop(&mut self) {
            if let Ok(bucket) = kv::open(KV_STORE)
                && holds(bucket.get(&self.key).ok().flatten().as_deref(), &self.lease)
            {
                let _ = bucket.delete(&self.key);
            }
        }
    }

    /// A free slot of `caller` (one of `limit`), or `None` if all are taken. A store that cannot
    /// be reached does not stop requests.
    pub fn acquire(
        caller: &str,
        limit: u32,
        now: u64,
        max_request_secs: u64,
    ) -> Option<Option<Slot>> {
        let Some(bucket) = crate::platform::store() else {
            return Some(None);
        };
        let lease = Lease {
            holder: crate::platform::random_u64(),
            expires_at: now
                .saturating_add(max_request_secs)
                .saturating_add(LEASE_MARGIN_SECS),
        };
        let Ok(bytes) = serde_json::to_vec(&lease) else {
            return Some(None);
        };
        for n in 0..limit {
            let key = slot_key(caller, n);
            let Ok(value) = bucket.get(&key) else {
                return Some(None);
            };
            if !is_free(value.as_deref(), now) {
                continue;
            }
            if bucket.set(&key, &bytes).is_err() {
                return Some(None);
            }
            if holds(bucket.get(&key).ok().flatten().as_deref(), &lease) {
                return Some(Some(Slot { key, lease }));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_free_themselves_when_their_lease_ends() {
        let lease = Lease {
            holder: 7,
            expires_at: 1_000,
        };
        let bytes = serde_json::to_vec(&lease).unwrap_or_default();
        assert!(is_free(None, 500));
        assert!(!is_free(Some(&bytes), 999));
        assert!(is_free(Some(&bytes), 1_000));
        assert!(is_free(Some(b"garbage"), 0));
        assert!(holds(Some(&bytes), &lease));
        let other = Lease {
            holder: 8,
            expires_at: 1_000,
        };
        assert!(!holds(Some(&bytes), &other));
        assert!(!holds(None, &lease));
        assert_eq!(slot_key("alice", 3), "apex:slot:alice:3");
        assert_eq!(too_many(2).status, 429);
        assert_eq!(too_many(2).retry_after_secs, Some(1));
    }
}
