//! `GET /stats`: the merged stats as JSON, with live cooldowns and latency percentiles.

use serde_json::{Value, json};

use super::Stats;
use super::counters::Counters;
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
                "p99": ms(0.99),
            },
        })
    }
}

impl Stats {
    /// The `GET /stats` body.
    pub fn render_json(&self, now_ms: u64) -> Vec<u8> {
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
        let body = json!({
            "now_ms": now_ms,
            "aliases": aliases,
            "keys": keys,
            "cooldowns": cooldowns,
        });
        serde_json::to_vec(&body).unwrap_or_default()
    }
}
