//! Cross-request state in the host's key-value store: cooldowns, round-robin counters, stats
//! shards and cached responses. Instances come and go (a host may make one per request), so
//! nothing here lives in instance memory. Writes are read-modify-write; under concurrent requests
//! a counter may lose an increment, which routing and stats tolerate (documented in the README).

use std::rc::Rc;

use crate::bindings::kv;
use crate::config::Config;
use crate::platform::{monotonic_ms, now_ms};
use crate::routing::health::{Cooldown, Health, Subject};
use crate::routing::targets::Attempt;
use crate::state::cache::{self, CachedEmbedding, CachedResponse};
use crate::state::stats::{self, Event, Stats};

fn bucket() -> Option<Rc<kv::Bucket>> {
    crate::platform::store()
}

fn get(bucket: &kv::Bucket, key: &str) -> Option<Vec<u8>> {
    bucket.get(key).ok().flatten()
}

/// The cooldowns that concern `attempts` (their keys and targets).
pub fn health(attempts: &[Attempt]) -> Health {
    let mut health = Health::default();
    let Some(bucket) = bucket() else {
        return health;
    };
    for subject in crate::routing::health::subjects(attempts) {
        if let Some(cooldown) = get(&bucket, &subject.kv_key()).and_then(|b| Cooldown::decode(&b)) {
            health.insert(&subject, cooldown);
        }
    }
    health
}

/// Bench `subject` until `cooldown.until_ms` (keeping a later bench already there).
pub fn bench(subject: &Subject, cooldown: Cooldown) {
    let Some(bucket) = bucket() else {
        return;
    };
    let key = subject.kv_key();
    let existing = get(&bucket, &key).and_then(|b| Cooldown::decode(&b));
    let _ = bucket.set(&key, &Cooldown::later(existing, cooldown).encode());
}

/// Forget `subject`'s strikes (a success ended its run of failures).
pub fn clear(subject: &Subject) {
    if let Some(bucket) = bucket() {
        let _ = bucket.delete(&subject.kv_key());
    }
}

/// The next value of a named counter (round-robin position), shared across instances.
pub fn next_counter(name: &str) -> u64 {
    let Some(bucket) = bucket() else {
        return 0;
    };
    let key = format!("apex:rr:{name}");
    let current = get(&bucket, &key)
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(0);
    let _ = bucket.set(&key, current.wrapping_add(1).to_string().as_bytes());
    current
}

/// A counter's value (0 when missing or unreadable), read without writing: hosts keep counters
/// in their own encoding — decimal text (Redis, the local host's file store, the shims), or 8
/// little-endian bytes (Spin's SQLite store) — and both are read here.
pub fn counter(key: &str) -> u64 {
    bucket()
        .and_then(|bucket| get(&bucket, key))
        .and_then(|bytes| crate::state::quota::decode_counter(&bytes))
        .map_or(0, |n| u64::try_from(n).unwrap_or(0))
}

/// Add `delta` to a counter shared across instances; its new value (never below 0). Atomic where
/// the host's `wasi:keyvalue/atomics` is (Spin, the local host); see `quota_store` for the bound
/// where it is not.
pub fn increment(key: &str, delta: i64) -> u64 {
    let Some(bucket) = bucket() else {
        return u64::try_from(delta).unwrap_or(0);
    };
    match crate::bindings::kv_atomics::increment(&bucket, key, delta) {
        Ok(value) => u64::try_from(value).unwrap_or(0),
        // A store without counters: read, then write.
        Err(_) => {
            let current = get(&bucket, key)
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|t| t.trim().parse::<i64>().ok())
                .unwrap_or(0);
            let next = current.saturating_add(delta).max(0);
            let _ = bucket.set(key, next.to_string().as_bytes());
            u64::try_from(next).unwrap_or(0)
        }
    }
}

/// How often an instance that serves many requests writes its stats (a fresh instance per
/// request — Spin's model — writes on its only request).
const STATS_FLUSH_MS: u64 = 1000;

/// Stats not yet written, by name, and when this instance last wrote them.
struct Pending {
    by_name: std::collections::BTreeMap<String, Stats>,
    flushed_at: Option<u64>,
}

static PENDING: std::sync::Mutex<Pending> = std::sync::Mutex::new(Pending {
    by_name: std::collections::BTreeMap::new(),
    flushed_at: None,
});

/// Count `events` for `name`. They reach the key-value store at once on an instance's first
/// request and then at most every [`STATS_FLUSH_MS`] (so a reused instance does not rewrite a
/// stats document on every request); an instance discarded in between loses at most that much.
pub fn record(name: &str, events: &[Event]) {
    let Ok(mut pending) = PENDING.lock() else {
        return;
    };
    let doc = pending.by_name.entry(name.to_string()).or_default();
    for event in events {
        doc.record(event);
    }
    let now = monotonic_ms();
    let due = pending
        .flushed_at
        .is_none_or(|at| now.saturating_sub(at) >= STATS_FLUSH_MS);
    if due {
        pending.flushed_at = Some(now);
        let docs = std::mem::take(&mut pending.by_name);
        drop(pending);
        write_stats(docs);
    }
}

/// Write what this instance has not written yet (before answering `/stats`).
pub fn flush_stats() {
    let docs = match PENDING.lock() {
        Ok(mut pending) => {
            pending.flushed_at = Some(monotonic_ms());
            std::mem::take(&mut pending.by_name)
        }
        Err(_) => return,
    };
    write_stats(docs);
}

/// Merge `docs` into one shard each (read-modify-write), dropping cooldowns that have ended.
fn write_stats(docs: std::collections::BTreeMap<String, Stats>) {
    let Some(bucket) = bucket() else {
        return;
    };
    for (name, doc) in docs {
        let shard = (crate::platform::random_u64() % u64::from(stats::SHARDS)) as u32;
        let key = stats::kv_key(&name, shard);
        let mut stored: Stats = get(&bucket, &key)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        stored.merge(&doc);
        stored.cooldowns.forget_expired(now_ms());
        if let Ok(bytes) = serde_json::to_vec(&stored) {
            let _ = bucket.set(&key, &bytes);
        }
    }
}

/// Every alias's stats merged, with the live cooldowns of every configured key and target.
pub fn snapshot(config: &Config) -> Stats {
    flush_stats();
    let mut all = Stats::default();
    let Some(bucket) = bucket() else {
        return all;
    };
    let mut names: Vec<String> = config.models.keys().cloned().collect();
    names.extend(config.providers.keys().map(|p| stats::direct_group(p)));
    names.push(crate::config::ECHO_MODEL.to_string());
    for name in &names {
        for shard in 0..stats::SHARDS {
            if let Some(doc) = get(&bucket, &stats::kv_key(name, shard))
                .and_then(|b| serde_json::from_slice::<Stats>(&b).ok())
            {
                all.merge(&doc);
            }
        }
    }
    let mut health = Health::default();
    let mut subjects: Vec<Subject> = Vec::new();
    for provider in config.providers.values() {
        for index in 0..provider.keys.len().max(1) {
            subjects.push(Subject::key(&provider.name, index));
        }
    }
    for targets in config.models.values() {
        subjects.extend(targets.iter().map(Subject::target));
    }
    for subject in subjects {
        if let Some(cooldown) = get(&bucket, &subject.kv_key()).and_then(|b| Cooldown::decode(&b)) {
            health.insert(&subject, cooldown);
        }
    }
    all.apply_health(&health);
    all
}

/// A fresh cached answer for `key`.
pub fn cached(key: &str, now_ms: u64) -> Option<CachedResponse> {
    let bucket = bucket()?;
    get(&bucket, &cache::kv_key(key))
        .and_then(|b| CachedResponse::decode(&b))
        .filter(|entry| entry.is_fresh(now_ms))
}

/// Keep an answer for `key`.
pub fn cache(key: &str, entry: &CachedResponse) {
    if let Some(bucket) = bucket() {
        let _ = bucket.set(&cache::kv_key(key), &entry.encode());
    }
}

/// Fresh cached embeddings for `key` (`cache::embed_key`).
pub fn cached_embedding(key: &str, now_ms: u64) -> Option<CachedEmbedding> {
    let bucket = bucket()?;
    get(&bucket, &cache::kv_key(key))
        .and_then(|b| CachedEmbedding::decode(&b))
        .filter(|entry| entry.is_fresh(now_ms))
}

/// Keep embeddings for `key`.
pub fn cache_embedding(key: &str, entry: &CachedEmbedding) {
    if let Some(bucket) = bucket() {
        let _ = bucket.set(&cache::kv_key(key), &entry.encode());
    }
}

/// Usage counts per target (`provider/model`) for least-used routing.
pub fn usage(name: &str) -> std::collections::BTreeMap<String, u64> {
    let Some(bucket) = bucket() else {
        return Default::default();
    };
    let mut doc = Stats::default();
    for shard in 0..stats::SHARDS {
        if let Some(part) = get(&bucket, &stats::kv_key(name, shard))
            .and_then(|b| serde_json::from_slice::<Stats>(&b).ok())
        {
            doc.merge(&part);
        }
    }
    // Plus what this instance has counted but not written yet.
    if let Ok(pending) = PENDING.lock()
        && let Some(mine) = pending.by_name.get(name)
    {
        doc.merge(mine);
    }
    doc.usage()
}
