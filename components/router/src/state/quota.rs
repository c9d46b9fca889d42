//! Per-key limits and usage, as pure rules: which limits apply to a request, the store entries
//! that count against them, and whether what was counted refuses the request. The counting itself
//! (the key-value store) is `quota_store`.
//!
//! Counters are fixed windows: `apex:limit:<key>:<scope>:<what>:<window end>` (`scope`: `*` for
//! all the key's requests, else the alias; `what`: `req`, `tok` per rate window, `btok`, `bcost`
//! per budget period), and usage per UTC day and month: `apex:usage:<key>:<period>:<field>`.
//! Entries end with the second their window ends, so the sweep can drop them after it.

use crate::config::{Config, KeyLimits, Limits};
use crate::state::usage::Tokens;

/// Prefix of limit counters.
pub const LIMIT_PREFIX: &str = "apex:limit:";
/// Prefix of usage counters.
pub const USAGE_PREFIX: &str = "apex:usage:";

/// One key's usage over a period: requests, the provider-reported tokens, and their cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DayUsage {
    #[serde(default)]
    pub requests: u64,
    #[serde(default)]
    pub tokens: Tokens,
    #[serde(default)]
    pub cost_micro_usd: u64,
}

/// The fields of [`DayUsage`], as its counters are named.
pub const USAGE_FIELDS: [&str; 7] = [
    "requests",
    "input",
    "output",
    "cache_read",
    "cache_write",
    "reasoning",
    "cost_micro_usd",
];

impl DayUsage {
    /// The counts, in [`USAGE_FIELDS`] order.
    pub fn values(&self) -> [u64; 7] {
        [
            self.requests,
            self.tokens.input,
            self.tokens.output,
            self.tokens.cache_read,
            self.tokens.cache_write,
            self.tokens.reasoning,
            self.cost_micro_usd,
        ]
    }

    /// Counts in [`USAGE_FIELDS`] order.
    pub fn from_values(v: [u64; 7]) -> Self {
        Self {
            requests: v[0],
            tokens: Tokens {
                input: v[1],
                output: v[2],
                cache_read: v[3],
                cache_write: v[4],
                reasoning: v[5],
            },
            cost_micro_usd: v[6],
        }
    }

    pub fn add(&mut self, other: &DayUsage) {
        self.requests = self.requests.saturating_add(other.requests);
        self.tokens.add(&other.tokens);
        self.cost_micro_usd = self.cost_micro_usd.saturating_add(other.cost_micro_usd);
    }

    /// As `GET /usage` shows it.
    pub fn render(&self) -> serde_json::Value {
        serde_json::json!({
            "requests": self.requests,
            "input_tokens": self.tokens.input,
            "output_tokens": self.tokens.output,
            "cache_read_tokens": self.tokens.cache_read,
            "cache_write_tokens": self.tokens.cache_write,
            "reasoning_tokens": self.tokens.reasoning,
            "cost_usd": self.cost_micro_usd as f64 / 1_000_000.0,
        })
    }
}

/// The limits of gateway key `key`: its own table, else `*`'s.
pub fn key_limits<'a>(config: &'a Config, key: &str) -> Option<&'a KeyLimits> {
    config.limits.get(key).or_else(|| config.limits.get("*"))
}

/// The limits that apply to a request of `key` for `model`: `(scope, limits)`.
pub fn applying<'a>(config: &'a Config, key: &str, model: &str) -> Vec<(&'a str, &'a Limits)> {
    let Some(table) = key_limits(config, key) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(all) = &table.all {
        out.push(("*", all));
    }
    if let Some((alias, limits)) = table.models.get_key_value(model) {
        out.push((alias.as_str(), limits));
    }
    out
}

/// What a counter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// Requests in the rate window.
    Requests,
    /// Tokens in the rate window.
    Tokens,
    /// Tokens in the budget period.
    BudgetTokens,
    /// Millionths of a dollar in the budget period.
    BudgetCost,
}

impl Counted {
    fn short(self) -> &'static str {
        match self {
            Self::Requests => "req",
            Self::Tokens => "tok",
            Self::BudgetTokens => "btok",
            Self::BudgetCost => "bcost",
        }
    }

    /// The config field that sets this limit (in refusals and the log).
    pub fn field(self) -> &'static str {
        match self {
            Self::Requests => "requests_per_minute",
            Self::Tokens => "tokens_per_minute",
            Self::BudgetTokens => "budget_tokens",
            Self::BudgetCost => "budget_usd",
        }
    }

    /// The limit `limits` sets on this, if any.
    pub fn cap(self, limits: &Limits) -> Option<u64> {
        match self {
            Self::Requests => limits.requests_per_window,
            Self::Tokens => limits.tokens_per_window,
            Self::BudgetTokens => limits.budget_tokens,
            Self::BudgetCost => limits.budget_micro_usd,
        }
    }

    /// The window `now_secs` falls in: `(start, end)`.
    pub fn window(self, limits: &Limits, now_secs: u64) -> (u64, u64) {
        match self {
            Self::Requests | Self::Tokens => {
                let len = limits.window_secs.max(1);
                let start = now_secs / len * len;
                (start, start.saturating_add(len))
            }
            Self::BudgetTokens | Self::BudgetCost => limits.budget_period.bounds(now_secs),
        }
    }

    /// How much of this a finished request used.
    pub fn used(self, tokens: &Tokens, micro_usd: u64) -> u64 {
        match self {
            Self::Requests => 0,
            Self::Tokens | Self::BudgetTokens => tokens.total(),
            Self::BudgetCost => micro_usd,
        }
    }
}

/// Counted after the answer, from the provider's usage.
pub const AFTER: [Counted; 3] = [Counted::Tokens, Counted::BudgetTokens, Counted::BudgetCost];

/// The store entry counting `what` for `key` in `scope` during the window ending at `end`.
pub fn counter_key(key: &str, scope: &str, what: Counted, end: u64) -> String {
    format!("{LIMIT_PREFIX}{key}:{scope}:{}:{end}", what.short())
}

/// The counter of `key`'s usage `field` on UTC day `day` (days since 1970-01-01).
pub fn usage_key(key: &str, day: i64, field: &str) -> String {
    usage_keys(key, day)(field)
}

/// [`usage_key`] for each field of one key and day (the common part is made once).
pub fn usage_keys(key: &str, day: i64) -> impl Fn(&str) -> String {
    let (year, month, date) = crate::time::civil_from_days(day);
    let common = format!("{USAGE_PREFIX}{key}:{year:04}-{month:02}-{date:02}:");
    move |field| [common.as_str(), field].concat()
}

/// How long daily usage is kept (a little over a year: this month and last year's months).
pub const USAGE_KEPT_DAYS: i64 = 400;

/// Whether a limit counter or a usage entry is past keeping at `now_secs` (the sweep drops it):
/// limit counters once the window they name has ended, usage after [`USAGE_KEPT_DAYS`].
pub fn expired(key: &str, now_secs: u64) -> bool {
    if let Some(rest) = key.strip_prefix(LIMIT_PREFIX) {
        return rest
            .rsplit(':')
            .next()
            .and_then(|end| end.parse::<u64>().ok())
            .is_some_and(|end| end < now_secs);
    }
    if let Some(rest) = key.strip_prefix(USAGE_PREFIX) {
        let Some(date) = rest.rsplit(':').nth(1) else {
            return false;
        };
        let numbers: Vec<Option<i64>> = date.split('-').map(|n| n.parse().ok()).collect();
        let [Some(year), Some(month), Some(day)] = numbers[..] else {
            return false;
        };
        let days = crate::time::days_from_civil(year, month as u32, day as u32);
        return (now_secs / 86_400) as i64 - days > USAGE_KEPT_DAYS;
    }
    false
}

/// A counter's stored bytes (hosts keep counters in their own encoding): decimal text (Redis,
/// the local host, the shims), or 8 little-endian bytes (Spin's SQLite store).
pub fn decode_counter(bytes: &[u8]) -> Option<i64> {
    let text = bytes.iter().all(|b| b.is_ascii_digit() || *b == b'-');
    if text && !bytes.is_empty() {
        return std::str::from_utf8(bytes).ok()?.parse().ok();
    }
    let raw: [u8; 8] = bytes.try_into().ok()?;
    Some(i64::from_le_bytes(raw))
}

/// Millionths of a dollar as dollars: two decimals, more when needed (`$0.00003`).
pub fn dollars(micro: u64) -> String {
    let mut decimals = format!("{:06}", micro % 1_000_000);
    while decimals.len() > 2 && decimals.ends_with('0') {
        decimals.pop();
    }
    format!("{}.{decimals}", micro / 1_000_000)
}

/// A refusal: which limit, and the seconds until its window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub what: Counted,
    pub scope_is_alias: bool,
    pub cap: u64,
    pub retry_after_secs: u64,
}

impl Refusal {
    pub fn message(&self, key: &str, model: &str) -> String {
        let scope = if self.scope_is_alias {
            format!(" for model `{model}`")
        } else {
            String::new()
        };
        let what = match self.what {
            Counted::Requests => format!("its limit of {} requests per window", self.cap),
            Counted::Tokens => format!("its limit of {} tokens per window", self.cap),
            Counted::BudgetTokens => format!("its budget of {} tokens", self.cap),
            Counted::BudgetCost => format!("its budget of ${}", dollars(self.cap)),
        };
        format!(
            "Gateway key `{key}` has reached {what}{scope} ({}); retry in {} s.",
            self.what.field(),
            self.retry_after_secs
        )
    }
}

#[cfg(test)]
mod tests;
