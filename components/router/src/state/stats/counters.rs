//! The counting itself: latency histograms and the counters of one alias, target or key.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Upper bounds of the latency buckets, in milliseconds; a last bucket holds everything slower.
pub const BUCKETS_MS: [u64; 13] = [
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
];

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
    pub(super) fn record(&mut self, error: Option<&str>, latency_ms: u64) {
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

    pub(super) fn merge(&mut self, other: &Counters) {
        self.requests = self.requests.saturating_add(other.requests);
        self.successes = self.successes.saturating_add(other.successes);
        for (kind, count) in &other.errors {
            let mine = self.errors.entry(kind.clone()).or_default();
            *mine = mine.saturating_add(*count);
        }
        self.latency.merge(&other.latency);
    }
}
