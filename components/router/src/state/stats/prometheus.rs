//! `GET /metrics`: the merged stats in the Prometheus text exposition format (0.0.4).

use std::fmt::Write;

use super::Stats;
use super::counters::{BUCKETS_MS, Histogram};
use crate::routing::health::{Cooldown, Subject};

impl Stats {
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
pub(super) fn seconds(ms: u64) -> String {
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
pub(super) fn escape_label(value: &str) -> String {
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
