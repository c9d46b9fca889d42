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

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::Config;
use crate::routing::health::{Cooldown, Health, Subject};

/// Upper bounds of the latency buckets, in milliseconds; a last bucket holds everything slower.
pub const BUCKETS_MS: [u64; 13] = [
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
];
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

/// Latencies in [`BUCKETS_MS`] buckets (not cumulative; the last one is `+Inf`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    pub buckets: Vec<u64>,
    pub sum_ms: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            buckets: vec![0; BUCKETS_MS.len() + 1],
            sum_ms: 0,
        }
    }
}

impl Histogram {
    pub fn record(&mut self, ms: u64) {
        self.buckets.resize(BUCKETS_MS.len() + 1, 0);
        let at = BUCKETS_MS
            .iter()
            .position(|bound| ms <= *bound)
            .unwrap_or(BUCKETS_MS.len());
        if let Some(bucket) = self.buckets.get_mut(at) {
            *bucket = bucket.saturating_add(1);
        }
        self.sum_ms = self.sum_ms.saturating_add(ms);
    }

    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    pub fn merge(&mut self, other: &Histogram) {
        self.buckets.resize(BUCKETS_MS.len() + 1, 0);
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine = mine.saturating_add(*theirs);
        }
        self.sum_ms = self.sum_ms.saturating_add(other.sum_ms);
    }

    /// The `q` quantile (0..=1) in milliseconds, interpolated linearly inside its bucket (as
    /// Prometheus' `histogram_quantile` does); in the `+Inf` bucket, the highest finite bound.
    /// `None` without samples.
    pub fn percentile(&self, q: f64) -> Option<f64> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * count as f64;
        let top = BUCKETS_MS[BUCKETS_MS.len() - 1] as f64;
        let mut before = 0u64;
        for (i, &n) in self.buckets.iter().enumerate() {
            if n > 0 && (before + n) as f64 >= rank {
                let lower = if i == 0 {
                    0.0
                } else {
                    BUCKETS_MS[i - 1] as f64
                };
                let Some(&upper) = BUCKETS_MS.get(i) else {
                    return Some(top);
                };
                let fraction = (rank - before as f64) / n as f64;
                return Some(lower + (upper as f64 - lower) * fraction);
            }
            before += n;
        }
        Some(top)
    }
}

/// Requests, outcomes and latency of one alias, target or key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub requests: u64,
    pub successes: u64,
    /// Failures by kind (`rate-limited`, `server`, `timeout`, ...).
    #[serde(default)]
    pub errors: BTreeMap<String, u64>,
    #[serde(default)]
    pub latency: Histogram,
}

impl Counters {
    fn record(&mut self, error: Option<&str>, latency_ms: u64) {
        self.requests = self.requests.saturating_add(1);
        match error {
            None => self.successes = self.successes.saturating_add(1),
            Some(kind) => {
                let count = self.errors.entry(kind.to_string()).or_default();
                *count = count.saturating_add(1);
            }
        }
        self.latency.record(latency_ms);
    }

    fn merge(&mut self, other: &Counters) {
        self.requests = self.requests.saturating_add(other.requests);
        self.successes = self.successes.saturating_add(other.successes);
        for (kind, count) in &other.errors {
            let mine = self.errors.entry(kind.clone()).or_default();
            *mine = mine.saturating_add(*count);
        }
        self.latency.merge(&other.latency);
    }

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

    /// The `GET /metrics` body (Prometheus text exposition format 0.0.4).
    pub fn render_prometheus(&self, now_ms: u64) -> String {
        let mut out = Prometheus::default();
        let aliases = &self.aliases;

        out.family(
            "apex_requests_total",
            "counter",
            "Client requests per alias.",
        );
        for (alias, s) in aliases {
            out.sample(
                "apex_requests_total",
                &[("alias", alias)],
                s.client.requests,
            );
        }
        out.family(
            "apex_errors_total",
            "counter",
            "Client requests that ended in an error, per alias and error kind.",
        );
        for (alias, s) in aliases {
            for (kind, n) in &s.client.errors {
                out.sample("apex_errors_total", &[("alias", alias), ("kind", kind)], *n);
            }
        }
        out.family(
            "apex_cache_hits_total",
            "counter",
            "Client requests answered from the response cache, per alias.",
        );
        for (alias, s) in aliases {
            out.sample("apex_cache_hits_total", &[("alias", alias)], s.cache_hits);
        }
        out.family(
            "apex_cache_misses_total",
            "counter",
            "Cacheable client requests the response cache could not answer, per alias.",
        );
        for (alias, s) in aliases {
            out.sample(
                "apex_cache_misses_total",
                &[("alias", alias)],
                s.cache_misses,
            );
        }
        out.family(
            "apex_request_duration_seconds",
            "histogram",
            "Client request duration per alias.",
        );
        for (alias, s) in aliases {
            out.histogram(
                "apex_request_duration_seconds",
                &[("alias", alias)],
                &s.client.latency,
            );
        }

        out.family(
            "apex_upstream_requests_total",
            "counter",
            "Upstream attempts per alias and target (provider/model).",
        );
        for (alias, s) in aliases {
            for (target, c) in &s.targets {
                let labels = [("alias", alias.as_str()), ("target", target.as_str())];
                out.sample("apex_upstream_requests_total", &labels, c.requests);
            }
        }
        out.family(
            "apex_upstream_errors_total",
            "counter",
            "Failed upstream attempts per alias, target and error kind.",
        );
        for (alias, s) in aliases {
            for (target, c) in &s.targets {
                for (kind, n) in &c.errors {
                    let labels = [
                        ("alias", alias.as_str()),
                        ("target", target),
                        ("kind", kind),
                    ];
                    out.sample("apex_upstream_errors_total", &labels, *n);
                }
            }
        }
        out.family(
            "apex_upstream_duration_seconds",
            "histogram",
            "Upstream attempt duration per alias and target.",
        );
        for (alias, s) in aliases {
            for (target, c) in &s.targets {
                let labels = [("alias", alias.as_str()), ("target", target.as_str())];
                out.histogram("apex_upstream_duration_seconds", &labels, &c.latency);
            }
        }

        let keys = self.key_subjects();
        out.family(
            "apex_key_requests_total",
            "counter",
            "Upstream attempts per provider key (by index, never its value).",
        );
        for (provider, index) in &keys {
            let label = Subject::key(provider, *index).label();
            let requests = self.keys.get(&label).map_or(0, |c| c.requests);
            let index = index.to_string();
            out.sample(
                "apex_key_requests_total",
                &[("provider", provider), ("key", &index)],
                requests,
            );
        }
        out.family(
            "apex_key_errors_total",
            "counter",
            "Failed upstream attempts per provider key and error kind.",
        );
        for (provider, index) in &keys {
            let label = Subject::key(provider, *index).label();
            let index = index.to_string();
            for (kind, n) in self
                .keys
                .get(&label)
                .map(|c| &c.errors)
                .into_iter()
                .flatten()
            {
                let labels = [
                    ("provider", provider.as_str()),
                    ("key", &index),
                    ("kind", kind),
                ];
                out.sample("apex_key_errors_total", &labels, *n);
            }
        }
        let remaining = |cooldown: Option<Cooldown>| {
            cooldown
                .filter(|c| c.is_active(now_ms))
                .map_or(0, |c| (c.until_ms - now_ms).div_ceil(1000))
        };
        out.family(
            "apex_key_cooldown_seconds",
            "gauge",
            "Seconds until a provider key is used again (0: in rotation).",
        );
        for (provider, index) in &keys {
            let secs = remaining(
                self.cooldowns
                    .active(&Subject::key(provider, *index), now_ms),
            );
            let index = index.to_string();
            out.sample(
                "apex_key_cooldown_seconds",
                &[("provider", provider), ("key", &index)],
                secs,
            );
        }
        out.family(
            "apex_target_cooldown_seconds",
            "gauge",
            "Seconds until a target (provider/model) is used again (0: in rotation).",
        );
        for (target, cooldown) in self.target_cooldowns() {
            out.sample(
                "apex_target_cooldown_seconds",
                &[("target", &target)],
                remaining(Some(cooldown)),
            );
        }
        out.text
    }
}

/// Prometheus text, written family by family.
#[derive(Default)]
struct Prometheus {
    text: String,
}

impl Prometheus {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (label, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{label}=\"{}\"", escape_label(value));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
    }

    /// `_bucket` lines (cumulative, `le` in seconds, ending with `+Inf`), `_sum` and `_count`.
    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], histogram: &Histogram) {
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0u64;
        for (i, bound) in BUCKETS_MS.iter().enumerate() {
            cumulative += histogram.buckets.get(i).copied().unwrap_or(0);
            let le = seconds(*bound);
            let mut with_le = labels.to_vec();
            with_le.push(("le", &le));
            self.sample(&bucket, &with_le, cumulative);
        }
        let mut with_le = labels.to_vec();
        with_le.push(("le", "+Inf"));
        self.sample(&bucket, &with_le, histogram.count());
        self.sample(&format!("{name}_sum"), labels, seconds(histogram.sum_ms));
        self.sample(&format!("{name}_count"), labels, histogram.count());
    }
}

/// Milliseconds as exact decimal seconds (`2500` → `2.5`, `5` → `0.005`, `1000` → `1`).
fn seconds(ms: u64) -> String {
    let (whole, frac) = (ms / 1000, ms % 1000);
    if frac == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{frac:03}")
            .trim_end_matches('0')
            .to_string()
    }
}

/// A label value escaped for the exposition format: `\` `"` and newlines as the format says
/// (`\\`, `\"`, `\n`). The format has no other escapes, yet a raw `\r`, NEL or line separator
/// ends the line for some readers: `\r` and `\t` become the visible text `\r` and `\t`, every
/// other control character (and U+2028, U+2029) the visible text `\uXXXX` (their backslash
/// escaped, so parsers read them as those characters).
fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\\\r"),
            '\t' => out.push_str("\\\\t"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') => {
                let _ = write!(out, "\\\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::failure::FailureClass;

    const NOW: u64 = 1_700_000_000_000;

    fn histogram(samples: &[(u64, usize)]) -> Histogram {
        let mut h = Histogram::default();
        for (ms, times) in samples {
            for _ in 0..*times {
                h.record(*ms);
            }
        }
        h
    }

    #[test]
    fn percentiles_interpolate_inside_buckets() {
        let h = histogram(&[(3, 50), (20, 40), (700, 10)]);
        assert_eq!(h.count(), 100);
        assert_eq!(h.sum_ms, 50 * 3 + 40 * 20 + 10 * 700);
        assert_eq!(h.percentile(0.5), Some(5.0));
        assert_eq!(h.percentile(0.9), Some(25.0));
        assert_eq!(h.percentile(0.99), Some(950.0));
        assert_eq!(h.percentile(0.25), Some(2.5));
        assert_eq!(h.percentile(0.7), Some(17.5), "half-way through (10, 25]");
        assert_eq!(Histogram::default().percentile(0.5), None);
        // Slower than the last bound: the highest finite bound.
        assert_eq!(histogram(&[(90_000, 3)]).percentile(0.99), Some(60_000.0));
        // Bounds are inclusive (`le`).
        let edge = histogram(&[(5, 1), (6, 1)]);
        assert_eq!(&edge.buckets[..3], &[1, 1, 0]);
    }

    #[test]
    fn seconds_are_exact_decimals() {
        let all: Vec<String> = BUCKETS_MS.iter().map(|ms| seconds(*ms)).collect();
        assert_eq!(
            all,
            vec![
                "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
                "30", "60"
            ]
        );
        assert_eq!(seconds(0), "0");
        assert_eq!(seconds(61_234), "61.234");
    }

    fn sample() -> Stats {
        let mut stats = Stats::default();
        let attempt = |error, latency_ms, key_index| Event::Attempt {
            alias: "fast",
            provider: "openai",
            model: "gpt-4o-mini",
            key_index,
            error,
            latency_ms,
        };
        stats.record(&attempt(Some("rate-limited"), 40, 0));
        stats.record(&attempt(None, 300, 1));
        stats.record(&Event::Attempt {
            alias: "fast",
            provider: "groq",
            model: "llama",
            key_index: 0,
            error: None,
            latency_ms: 80,
        });
        let request = |error, cache| Event::Request {
            alias: "fast",
            error,
            latency_ms: 350,
            cache,
        };
        stats.record(&request(None, Some(CacheOutcome::Miss)));
        stats.record(&request(None, Some(CacheOutcome::Hit)));
        stats.record(&request(Some(ALL_COOLING), None));
        stats.record(&Event::Cooldown {
            subject: &Subject::key("openai", 0),
            cooldown: Cooldown {
                until_ms: NOW + 1_500,
                reason: FailureClass::RateLimited,
                strikes: 0,
                told: true,
                at_ms: 0,
            },
        });
        stats
    }

    #[test]
    fn events_count_per_alias_target_and_key() {
        let stats = sample();
        let fast = &stats.aliases["fast"];
        assert_eq!(fast.client.requests, 3);
        assert_eq!(fast.client.successes, 2);
        assert_eq!(fast.client.errors[ALL_COOLING], 1);
        assert_eq!((fast.cache_hits, fast.cache_misses), (1, 1));
        let openai = &fast.targets["openai/gpt-4o-mini"];
        assert_eq!((openai.requests, openai.successes), (2, 1));
        assert_eq!(openai.errors["rate-limited"], 1);
        assert_eq!(stats.keys["openai#0"].errors["rate-limited"], 1);
        assert_eq!(stats.keys["openai#1"].successes, 1);
        assert_eq!(stats.keys["groq#0"].requests, 1);
        assert_eq!(
            stats.usage(),
            [
                ("groq/llama".to_string(), 1),
                ("openai/gpt-4o-mini".to_string(), 2)
            ]
            .into_iter()
            .collect()
        );
        assert_eq!(
            crate::routing::failure::kind_label(apex_adapter_kit::types::ErrorKind::MalformedReply),
            "malformed-reply"
        );
    }

    #[test]
    fn direct_requests_count_under_their_provider_not_the_clients_model() {
        let mut stats = Stats::default();
        let models: Vec<String> = (0..100).map(|i| format!("made-up-{i}")).collect();
        for model in &models {
            stats.record(&Event::Attempt {
                alias: "openai/*",
                provider: "openai",
                model,
                key_index: 0,
                error: Some("not-found"),
                latency_ms: 5,
            });
        }
        let direct = &stats.aliases["openai/*"];
        assert_eq!(direct.targets.keys().collect::<Vec<_>>(), ["openai/*"]);
        assert_eq!(direct.targets["openai/*"].errors["not-found"], 100);
        // A configured alias keeps its targets by model (the config chose them).
        stats.record(&Event::Attempt {
            alias: "fast",
            provider: "openai",
            model: "gpt-4o-mini",
            key_index: 0,
            error: None,
            latency_ms: 5,
        });
        assert!(
            stats.aliases["fast"]
                .targets
                .contains_key("openai/gpt-4o-mini")
        );
    }

    #[test]
    fn stats_names_are_configured_aliases_or_a_providers_direct_group() {
        let text = "[providers.a]\nbase_url = \"http://a\"\nkeys = []\n\
                    [models.m]\ntargets = [\"a/x\"]";
        let config = crate::config::load(Some(text), &|_| None).unwrap();
        assert_eq!(stats_name(&config, "m"), "m");
        assert_eq!(stats_name(&config, "a/x"), "a/*");
        assert_eq!(stats_name(&config, "a/anything/at:all"), "a/*");
        assert_eq!(stats_name(&config, "echo"), "echo");
        assert_eq!(direct_group("a"), "a/*");
    }

    #[test]
    fn merge_adds_counters_and_keeps_the_later_cooldown() {
        let mut merged = sample();
        let mut other = sample();
        other.cooldowns = Health::default();
        other.record(&Event::Cooldown {
            subject: &Subject::key("openai", 0),
            cooldown: Cooldown {
                until_ms: NOW + 600_000,
                reason: FailureClass::Auth,
                strikes: 0,
                told: true,
                at_ms: 0,
            },
        });
        merged.merge(&other);
        let fast = &merged.aliases["fast"];
        assert_eq!(fast.client.requests, 6);
        assert_eq!(fast.client.latency.count(), 6);
        assert_eq!(fast.targets["openai/gpt-4o-mini"].errors["rate-limited"], 2);
        assert_eq!(merged.keys["groq#0"].requests, 2);
        assert_eq!(
            merged
                .cooldowns
                .active(&Subject::key("openai", 0), NOW)
                .map(|c| c.reason),
            Some(FailureClass::Auth)
        );
        // Stored documents round-trip.
        let json = serde_json::to_string(&merged).unwrap();
        assert_eq!(serde_json::from_str::<Stats>(&json).unwrap(), merged);
        assert_eq!(
            serde_json::from_str::<Stats>("{}").unwrap(),
            Stats::default()
        );
        assert_eq!(kv_key("fast", 6), "apex:stats:fast:2");
    }

    #[test]
    fn json_shows_keys_by_index_with_cooldowns_and_percentiles() {
        let mut stats = sample();
        let mut health = Health::default();
        health.insert(
            &Subject::target(&crate::config::TargetRef::new("groq", "llama")),
            Cooldown {
                until_ms: NOW + 30_000,
                reason: FailureClass::Server,
                strikes: 0,
                told: true,
                at_ms: 0,
            },
        );
        health.insert(
            &Subject::key("anthropic", 2),
            Cooldown {
                until_ms: NOW + 600_000,
                reason: FailureClass::Auth,
                strikes: 0,
                told: true,
                at_ms: 0,
            },
        );
        stats.apply_health(&health);
        let body: Value = serde_json::from_slice(&stats.render_json(NOW)).unwrap();
        let fast = &body["aliases"]["fast"];
        assert_eq!(fast["requests"], 3);
        assert_eq!(fast["cache"], json!({"hits": 1, "misses": 1}));
        assert_eq!(
            fast["latency_ms"]["p50"], 375,
            "half-way through (250, 500]"
        );
        assert_eq!(fast["latency_ms"]["mean"], 350);
        let groq = &fast["targets"]["groq/llama"];
        assert_eq!(groq["cooldown"]["reason"], "server");
        assert_eq!(groq["cooldown"]["remaining_secs"], 30);
        assert_eq!(
            fast["targets"]["openai/gpt-4o-mini"]["cooldown"],
            Value::Null
        );
        assert_eq!(body["keys"]["openai#0"]["cooldown"]["remaining_secs"], 2);
        assert_eq!(body["keys"]["openai#1"]["cooldown"], Value::Null);
        // A key with a cooldown but no attempts is listed too: 401/403 shows.
        assert_eq!(body["keys"]["anthropic#2"]["requests"], 0);
        assert_eq!(body["keys"]["anthropic#2"]["cooldown"]["reason"], "auth");
        assert_eq!(body["cooldowns"].as_array().unwrap().len(), 3);
        // Later on, every cooldown has ended.
        let later: Value = serde_json::from_slice(&stats.render_json(NOW + 3_600_000)).unwrap();
        assert_eq!(later["keys"]["anthropic#2"]["cooldown"], Value::Null);
        assert_eq!(later["cooldowns"], json!([]));
    }

    #[test]
    fn label_values_never_break_the_line_format() {
        assert_eq!(escape_label("a\\b\"c\nd"), r#"a\\b\"c\nd"#);
        assert_eq!(escape_label("a\rb\tc"), r"a\\rb\\tc");
        assert_eq!(
            escape_label("x\u{0}\u{1b}\u{7f}\u{85}\u{2028}\u{2029}y"),
            r"x\\u0000\\u001b\\u007f\\u0085\\u2028\\u2029y"
        );
        assert_eq!(escape_label("caf\u{e9}/m\u{f6}del"), "caf\u{e9}/m\u{f6}del");
        let mut stats = Stats::default();
        stats.record(&Event::Request {
            alias: "a\rb\u{85}c\u{2028}d\u{b}e\u{c}f\u{1c}g",
            error: Some("server"),
            latency_ms: 1,
            cache: None,
        });
        let text = stats.render_prometheus(NOW);
        // Whatever a reader takes for a line break (`str::lines` splits on `\n` only; others
        // split on `\r`, NEL, U+2028...), every sample line is whole.
        for line in text
            .split(|c: char| c == '\n' || c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
        {
            assert!(
                line.is_empty() || line.starts_with("# ") || line.starts_with("apex_"),
                "broken line: {line:?}"
            );
            assert_eq!(line.matches('"').count() % 2, 0, "{line:?}");
        }
    }

    #[test]
    fn prometheus_text_line_by_line() {
        let mut stats = Stats::default();
        stats.record(&Event::Request {
            alias: "we\"ird\\al\nias",
            error: None,
            latency_ms: 7,
            cache: Some(CacheOutcome::Hit),
        });
        stats.record(&Event::Attempt {
            alias: "a",
            provider: "p",
            model: "m",
            key_index: 1,
            error: Some("server"),
            latency_ms: 2_600,
        });
        stats.record(&Event::Cooldown {
            subject: &Subject::key("p", 1),
            cooldown: Cooldown {
                until_ms: NOW + 4_200,
                reason: FailureClass::Server,
                strikes: 0,
                told: true,
                at_ms: 0,
            },
        });
        stats.record(&Event::Cooldown {
            subject: &Subject::target(&crate::config::TargetRef::new("p", "m")),
            cooldown: Cooldown {
                until_ms: NOW - 1,
                reason: FailureClass::Server,
                strikes: 0,
                told: true,
                at_ms: 0,
            },
        });
        let text = stats.render_prometheus(NOW);
        let alias = r#"alias="we\"ird\\al\nias""#;
        let buckets = |name: &str, labels: &str, counts: [u64; 14]| -> Vec<String> {
            let les = [
                "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
                "30", "60", "+Inf",
            ];
            les.iter()
                .zip(counts)
                .map(|(le, n)| format!("{name}_bucket{{{labels},le=\"{le}\"}} {n}"))
                .collect()
        };
        let mut expected: Vec<String> = vec![
            "# HELP apex_requests_total Client requests per alias.".into(),
            "# TYPE apex_requests_total counter".into(),
            "apex_requests_total{alias=\"a\"} 0".into(),
            format!("apex_requests_total{{{alias}}} 1"),
            "# HELP apex_errors_total Client requests that ended in an error, per alias and error kind.".into(),
            "# TYPE apex_errors_total counter".into(),
            "# HELP apex_cache_hits_total Client requests answered from the response cache, per alias.".into(),
            "# TYPE apex_cache_hits_total counter".into(),
            "apex_cache_hits_total{alias=\"a\"} 0".into(),
            format!("apex_cache_hits_total{{{alias}}} 1"),
            "# HELP apex_cache_misses_total Cacheable client requests the response cache could not answer, per alias.".into(),
            "# TYPE apex_cache_misses_total counter".into(),
            "apex_cache_misses_total{alias=\"a\"} 0".into(),
            format!("apex_cache_misses_total{{{alias}}} 0"),
            "# HELP apex_request_duration_seconds Client request duration per alias.".into(),
            "# TYPE apex_request_duration_seconds histogram".into(),
        ];
        expected.extend(buckets(
            "apex_request_duration_seconds",
            "alias=\"a\"",
            [0; 14],
        ));
        expected.extend([
            "apex_request_duration_seconds_sum{alias=\"a\"} 0".to_string(),
            "apex_request_duration_seconds_count{alias=\"a\"} 0".to_string(),
        ]);
        expected.extend(buckets(
            "apex_request_duration_seconds",
            alias,
            [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        ));
        expected.extend([
            format!("apex_request_duration_seconds_sum{{{alias}}} 0.007"),
            format!("apex_request_duration_seconds_count{{{alias}}} 1"),
            "# HELP apex_upstream_requests_total Upstream attempts per alias and target (provider/model).".into(),
            "# TYPE apex_upstream_requests_total counter".into(),
            "apex_upstream_requests_total{alias=\"a\",target=\"p/m\"} 1".into(),
            "# HELP apex_upstream_errors_total Failed upstream attempts per alias, target and error kind.".into(),
            "# TYPE apex_upstream_errors_total counter".into(),
            "apex_upstream_errors_total{alias=\"a\",target=\"p/m\",kind=\"server\"} 1".into(),
            "# HELP apex_upstream_duration_seconds Upstream attempt duration per alias and target.".into(),
            "# TYPE apex_upstream_duration_seconds histogram".into(),
        ]);
        expected.extend(buckets(
            "apex_upstream_duration_seconds",
            "alias=\"a\",target=\"p/m\"",
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1],
        ));
        expected.extend([
            "apex_upstream_duration_seconds_sum{alias=\"a\",target=\"p/m\"} 2.6".to_string(),
            "apex_upstream_duration_seconds_count{alias=\"a\",target=\"p/m\"} 1".into(),
            "# HELP apex_key_requests_total Upstream attempts per provider key (by index, never its value).".into(),
            "# TYPE apex_key_requests_total counter".into(),
            "apex_key_requests_total{provider=\"p\",key=\"1\"} 1".into(),
            "# HELP apex_key_errors_total Failed upstream attempts per provider key and error kind.".into(),
            "# TYPE apex_key_errors_total counter".into(),
            "apex_key_errors_total{provider=\"p\",key=\"1\",kind=\"server\"} 1".into(),
            "# HELP apex_key_cooldown_seconds Seconds until a provider key is used again (0: in rotation).".into(),
            "# TYPE apex_key_cooldown_seconds gauge".into(),
            "apex_key_cooldown_seconds{provider=\"p\",key=\"1\"} 5".into(),
            "# HELP apex_target_cooldown_seconds Seconds until a target (provider/model) is used again (0: in rotation).".into(),
            "# TYPE apex_target_cooldown_seconds gauge".into(),
            "apex_target_cooldown_seconds{target=\"p/m\"} 0".into(),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        for (i, (got, want)) in lines.iter().zip(&expected).enumerate() {
            assert_eq!(got, want, "line {i}");
        }
        assert_eq!(lines.len(), expected.len());
        assert!(text.ends_with('\n'));
    }
}
