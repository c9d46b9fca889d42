//! Request statistics as pure data: recorded from [`Event`]s, merged across stored documents,
//! rendered for `GET /stats` (JSON) and `GET /metrics` (Prometheus text format).
//!
//! Three levels: per alias (client requests, cache hits and misses), per alias and target
//! (`provider/model`: upstream attempts), per key (`provider#index`: attempts with that key, and
//! its cooldown). Keys only ever appear by provider and index, never by value. Direct
//! `provider/model` requests count under `provider/*`, as alias and as target ([`stats_name`]):
//! every name is one the config bounds, whatever models clients ask for.
//!
//! Storage (the router's side): a [`Stats`] document per alias and shard under
//! [`kv_key`]`(alias, shard)` = `apex:stats:<alias>:<shard>`, the shard drawn at random in
//! `0..SHARDS` per request, updated read-modify-write. Instances run concurrently and the store
//! has no transactions, so two requests updating the same document at once lose one update:
//! counters are approximate under load (sharding divides the chance of a collision by
//! [`SHARDS`]). `GET /stats` and `GET /metrics` read every shard of every alias, [`Stats::merge`]
//! them, and [`Stats::apply_health`] the live cooldown entries (see `health`).
//!
//! Modules: `counters` (histograms and counters), `render_json` (`GET /stats`), `prometheus`
//! (`GET /metrics`).

mod counters;
mod prometheus;
mod render_json;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use counters::{BUCKETS_MS, Counters, Histogram};

use crate::config::Config;
use crate::routing::health::{Cooldown, Health, Subject};

/// How many documents each alias's stats are spread over.
pub const SHARDS: u32 = 4;
/// Prefix of stats documents in the key-value store.
pub const KV_PREFIX: &str = "apex:stats:";

/// The key-value entry of one stats shard of `alias`.
pub fn kv_key(alias: &str, shard: u32) -> String {
    format!("{KV_PREFIX}{alias}:{}", shard % SHARDS)
}

/// The name a request's stats are kept under: a configured alias as itself; a direct
/// `provider/model` name (the client's own, or one a model-name prefix or a `[[model_patterns]]`
/// entry led to) as its provider's [`direct_group`], so clients cannot create documents, entries
/// or labels without bound; anything else (`echo`) as itself.
pub fn stats_name(config: &Config, served_as: &str) -> String {
    if config.models.contains_key(served_as) {
        return served_as.to_string();
    }
    match served_as.split_once('/') {
        Some((provider, _)) if config.providers.contains_key(provider) => direct_group(provider),
        _ => served_as.to_string(),
    }
}

/// The stats name of direct requests to `provider`: `provider/*`.
pub fn direct_group(provider: &str) -> String {
    format!("{provider}/*")
}

/// How an attempt's target is counted: `provider/model`, but `provider/*` under its provider's
/// [`direct_group`] (there the model is whatever the client asked for).
fn target_label(alias: &str, provider: &str, model: &str) -> String {
    if alias.strip_suffix("/*") == Some(provider) {
        alias.to_string()
    } else {
        format!("{provider}/{model}")
    }
}

/// The error label of a client request refused because every key and target was cooling down.
pub const ALL_COOLING: &str = "all-cooling";

/// One alias: its client requests, cache use, and attempts per target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasStats {
    /// Client requests (a cache hit counts; its latency is the gateway's).
    #[serde(default)]
    pub client: Counters,
    #[serde(default)]
    pub cache_hits: u64,
    #[serde(default)]
    pub cache_misses: u64,
    /// Upstream attempts by target (`provider/model`).
    #[serde(default)]
    pub targets: BTreeMap<String, Counters>,
}

/// Whether the cache answered a request (`None` in [`Event::Request`]: no cache involved).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    Hit,
    Miss,
}

/// Something to count.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A client request for `alias` ended: `error` is its failure kind (`None`: it succeeded),
    /// `latency_ms` the whole request as the gateway saw it.
    Request {
        alias: &'a str,
        error: Option<&'a str>,
        latency_ms: u64,
        cache: Option<CacheOutcome>,
    },
    /// One upstream attempt for `alias` on `provider/model` with key `key_index`.
    Attempt {
        alias: &'a str,
        provider: &'a str,
        model: &'a str,
        key_index: usize,
        error: Option<&'a str>,
        latency_ms: u64,
    },
    /// A key or target was benched.
    Cooldown {
        subject: &'a Subject,
        cooldown: Cooldown,
    },
}

/// Every counter, serializable (the stored document and the merged view alike).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    #[serde(default)]
    pub aliases: BTreeMap<String, AliasStats>,
    /// Attempts per key, by `provider#index`.
    #[serde(default)]
    pub keys: BTreeMap<String, Counters>,
    /// Known cooldowns (recorded ones, then the live entries at render time).
    #[serde(default)]
    pub cooldowns: Health,
}

impl Stats {
    pub fn record(&mut self, event: &Event) {
        match *event {
            Event::Request {
                alias,
                error,
                latency_ms,
                cache,
            } => {
                let stats = self.aliases.entry(alias.to_string()).or_default();
                stats.client.record(error, latency_ms);
                match cache {
                    Some(CacheOutcome::Hit) => {
                        stats.cache_hits = stats.cache_hits.saturating_add(1)
                    }
                    Some(CacheOutcome::Miss) => {
                        stats.cache_misses = stats.cache_misses.saturating_add(1)
                    }
                    None => {}
                }
            }
            Event::Attempt {
                alias,
                provider,
                model,
                key_index,
                error,
                latency_ms,
            } => {
                self.aliases
                    .entry(alias.to_string())
                    .or_default()
                    .targets
                    .entry(target_label(alias, provider, model))
                    .or_default()
                    .record(error, latency_ms);
                self.keys
                    .entry(Subject::key(provider, key_index).label())
                    .or_default()
                    .record(error, latency_ms);
            }
            Event::Cooldown { subject, cooldown } => self.cooldowns.insert(subject, cooldown),
        }
    }

    /// Add `other`'s counters to these (cooldowns: the later one wins).
    pub fn merge(&mut self, other: &Stats) {
        for (alias, theirs) in &other.aliases {
            let mine = self.aliases.entry(alias.clone()).or_default();
            mine.client.merge(&theirs.client);
            mine.cache_hits = mine.cache_hits.saturating_add(theirs.cache_hits);
            mine.cache_misses = mine.cache_misses.saturating_add(theirs.cache_misses);
            for (target, counters) in &theirs.targets {
                mine.targets
                    .entry(target.clone())
                    .or_default()
                    .merge(counters);
            }
        }
        for (key, counters) in &other.keys {
            self.keys.entry(key.clone()).or_default().merge(counters);
        }
        self.apply_health(&other.cooldowns);
    }

    /// Take in the cooldown entries read from the store.
    pub fn apply_health(&mut self, health: &Health) {
        for (name, cooldown) in &health.entries {
            if let Some(subject) = Subject::from_kv_key(name) {
                self.cooldowns.insert(&subject, *cooldown);
            }
        }
    }

    /// Attempts per target (`provider/model`) over every alias: `least-used`'s counts.
    pub fn usage(&self) -> BTreeMap<String, u64> {
        let mut out: BTreeMap<String, u64> = BTreeMap::new();
        for alias in self.aliases.values() {
            for (target, counters) in &alias.targets {
                *out.entry(target.clone()).or_default() += counters.requests;
            }
        }
        out
    }

    /// Every key to show: those with attempts and those with a cooldown, as (provider, index).
    fn key_subjects(&self) -> Vec<(String, usize)> {
        let mut keys: Vec<(String, usize)> = self
            .keys
            .keys()
            .filter_map(|label| {
                let (provider, index) = label.rsplit_once('#')?;
                Some((provider.to_string(), index.parse().ok()?))
            })
            .chain(self.cooldowns.entries.keys().filter_map(|name| {
                match Subject::from_kv_key(name)? {
                    Subject::Key { provider, index } => Some((provider, index)),
                    Subject::Target { .. } => None,
                }
            }))
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// Every target with a cooldown entry, by `provider/model`.
    fn target_cooldowns(&self) -> BTreeMap<String, Cooldown> {
        self.cooldowns
            .entries
            .iter()
            .filter_map(|(name, cooldown)| match Subject::from_kv_key(name)? {
                subject @ Subject::Target { .. } => Some((subject.label(), *cooldown)),
                Subject::Key { .. } => None,
            })
            .collect()
    }
}
