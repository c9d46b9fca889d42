//! `GET /stats`: the merged stats as JSON, with live cooldowns and latency percentiles, and what
//! the config serves (aliases and their targets, providers and how many keys each has; never a
//! key).

use serde_json::{Value, json};

use super::Stats;
use super::counters::Counters;
use crate::config::Config;
use crate::routing::health::{Cooldown, Subject};

impl Counters {
    fn to_json(&self) -> Value {
        let ms = |q: f64| self.latency.percentile(q).map(|v| v.round() as u64);
        let count = self.latency.count();
        json!({
            "requests": self.requests,
            "successes": self.successes,
            "errors": self.errors,
            "latency_ms": {
                "count": count,
                "mean": (count > 0).then(|| self.latency.sum_ms / count),
                "p50": ms(0.5),
                "p90": ms(0.9),
                "p95": ms(0.95),
                "p99": ms(0.99),
            },
        })
    }
}

impl Stats {
    /// The `GET /stats` body: [`Stats::to_json`] and, under `config`, [`configured`].
    pub fn render_json_for(&self, config: &Config, now_ms: u64) -> Vec<u8> {
        let mut body = self.to_json(now_ms);
        body["config"] = configured(config);
        serde_json::to_vec(&body).unwrap_or_default()
    }

    /// The counters alone as JSON bytes (see [`Stats::to_json`]).
    pub fn render_json(&self, now_ms: u64) -> Vec<u8> {
        serde_json::to_vec(&self.to_json(now_ms)).unwrap_or_default()
    }

    /// The counters: per alias (and its targets), per key, every live cooldown, and `total`, the
    /// client requests of every alias together (their percentiles from the merged histograms).
    pub fn to_json(&self, now_ms: u64) -> Value {
        let cooling = |cooldown: Option<Cooldown>| -> Value {
            match cooldown.filter(|c| c.is_active(now_ms)) {
                None => Value::Null,
                Some(c) => json!({
                    "reason": c.reason.as_str(),
                    "until_ms": c.until_ms,
                    "remaining_secs": (c.until_ms - now_ms).div_ceil(1000),
                }),
            }
        };
        let target_cooldowns = self.target_cooldowns();
        let mut aliases = serde_json::Map::new();
        for (alias, stats) in &self.aliases {
            let mut targets = serde_json::Map::new();
            for (target, counters) in &stats.targets {
                let mut entry = counters.to_json();
                entry["cooldown"] = cooling(target_cooldowns.get(target).copied());
                targets.insert(target.clone(), entry);
            }
            let mut entry = stats.client.to_json();
            entry["cache"] = json!({"hits": stats.cache_hits, "misses": stats.cache_misses});
            entry["targets"] = Value::Object(targets);
            aliases.insert(alias.clone(), entry);
        }
        let mut keys = serde_json::Map::new();
        for (provider, index) in self.key_subjects() {
            let subject = Subject::key(provider, index);
            let label = subject.label();
            let mut entry = self.keys.get(&label).cloned().unwrap_or_default().to_json();
            entry["cooldown"] = cooling(self.cooldowns.active(&subject, now_ms));
            keys.insert(label, entry);
        }
        let cooldowns: Vec<Value> = self
            .cooldowns
            .active_all(now_ms)
            .into_iter()
            .map(|(subject, c)| {
                let mut entry = cooling(Some(c));
                entry["subject"] = json!(subject.label());
                entry["kind"] = json!(match subject {
                    Subject::Key { .. } => "key",
                    Subject::Target { .. } => "target",
                });
                entry
            })
            .collect();
        let mut total = Counters::default();
        let (mut hits, mut misses) = (0u64, 0u64);
        for stats in self.aliases.values() {
            total.merge(&stats.client);
            hits = hits.saturating_add(stats.cache_hits);
            misses = misses.saturating_add(stats.cache_misses);
        }
        let mut total = total.to_json();
        total["cache"] = json!({"hits": hits, "misses": misses});
        json!({
            "now_ms": now_ms,
            "total": total,
            "aliases": aliases,
            "keys": keys,
            "cooldowns": cooldowns,
        })
    }
}

/// What the config serves, for people reading `/stats` (the status page): its routes
/// ([`crate::config::report::routes`]: no key, variable name, base URL or header) and whether
/// stats are recorded.
pub fn configured(config: &Config) -> Value {
    let mut routes = crate::config::report::routes(config);
    routes["recording"] = json!(config.stats);
    routes
}
