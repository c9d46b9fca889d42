//! Per-key limits (`[limits.<key name>]`, `"*"` for every key) and model prices (`[prices]`):
//! the sections as written and their checked form.
//!
//! ```toml
//! [limits.alice]
//! requests_per_minute = 60      # requests per window
//! tokens_per_minute = 100000    # input + output tokens per window (counted after each answer)
//! window_secs = 60              # the window of the two above (default: a minute)
//! budget_tokens = 5000000       # input + output tokens per budget period
//! budget_usd = 20.0             # cost per budget period, from [prices]
//! budget_period = "month"       # hour | day | week | month (calendar, UTC) | "<N>s"
//!
//! [limits.alice.models.smart]   # the same fields, for one alias only
//! requests_per_minute = 10
//!
//! [prices."openai/gpt-4o-mini"] # US dollars per million tokens
//! input = 0.15
//! output = 0.60
//! cache_read = 0.075            # default: input
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

use super::error::ConfigError;
use crate::state::usage::Price;

/// One `[limits.<key>]` table (or its `models.<alias>` part) as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct LimitSection {
    requests_per_minute: Option<u64>,
    tokens_per_minute: Option<u64>,
    window_secs: Option<u64>,
    budget_tokens: Option<u64>,
    budget_usd: Option<f64>,
    budget_period: Option<String>,
    #[serde(default)]
    models: BTreeMap<String, LimitSection>,
}

/// How long a budget lasts before it starts again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Hour,
    Day,
    /// Monday to Monday, UTC.
    Week,
    /// The calendar month, UTC.
    Month,
    /// Fixed windows of this many seconds since the Unix epoch.
    Secs(u64),
}

impl Period {
    fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "hour" => Some(Self::Hour),
            "day" => Some(Self::Day),
            "week" => Some(Self::Week),
            "month" => Some(Self::Month),
            other => other
                .strip_suffix('s')
                .and_then(|n| n.trim().parse::<u64>().ok())
                .filter(|n| *n > 0)
                .map(Self::Secs),
        }
    }

    /// The period `now_secs` falls in: its first second and the first second after it.
    pub fn bounds(self, now_secs: u64) -> (u64, u64) {
        let fixed = |len: u64, offset: u64| {
            let start = now_secs.saturating_sub(offset) / len * len + offset;
            let start = if start > now_secs {
                start.saturating_sub(len)
            } else {
                start
            };
            (start, start.saturating_add(len))
        };
        match self {
            Self::Hour => fixed(3600, 0),
            Self::Day => fixed(86_400, 0),
            // 1970-01-05 was a Monday.
            Self::Week => fixed(7 * 86_400, 4 * 86_400),
            Self::Month => crate::time::month_bounds(now_secs),
            Self::Secs(len) => fixed(len, 0),
        }
    }

    pub fn name(self) -> String {
        match self {
            Self::Hour => "hour".into(),
            Self::Day => "day".into(),
            Self::Week => "week".into(),
            Self::Month => "month".into(),
            Self::Secs(n) => format!("{n}s"),
        }
    }
}

/// One set of limits (a key's, or a key's for one alias). `None`: no such limit.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub requests_per_window: Option<u64>,
    pub tokens_per_window: Option<u64>,
    pub window_secs: u64,
    pub budget_tokens: Option<u64>,
    /// Millionths of a dollar.
    pub budget_micro_usd: Option<u64>,
    pub budget_period: Period,
}

/// A key's limits: over all its requests, and per alias.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KeyLimits {
    pub all: Option<Limits>,
    pub models: BTreeMap<String, Limits>,
}

fn limits(section: &LimitSection, path: &str) -> Result<Option<Limits>, ConfigError> {
    let zero = |value: Option<u64>, field: &str| match value {
        Some(0) => Err(ConfigError::new(
            format!("{path}.{field}"),
            "must be at least 1 (leave it out for no limit)",
        )),
        _ => Ok(value),
    };
    let requests = zero(section.requests_per_minute, "requests_per_minute")?;
    let tokens = zero(section.tokens_per_minute, "tokens_per_minute")?;
    let window_secs = zero(section.window_secs, "window_secs")?.unwrap_or(60);
    let budget_tokens = zero(section.budget_tokens, "budget_tokens")?;
    let budget_micro_usd = match section.budget_usd {
        Some(usd) if usd.is_finite() && usd > 0.0 => Some((usd * 1_000_000.0).round() as u64),
        Some(_) => {
            return Err(ConfigError::new(
                format!("{path}.budget_usd"),
                "must be a positive number of US dollars",
            ));
        }
        None => None,
    };
    let budget_period = match &section.budget_period {
        Some(text) => Period::parse(text).ok_or_else(|| {
            ConfigError::new(
                format!("{path}.budget_period"),
                format!("`{text}` is not hour, day, week, month or a number of seconds (`3600s`)"),
            )
        })?,
        None => Period::Month,
    };
    let any = requests.is_some()
        || tokens.is_some()
        || budget_tokens.is_some()
        || budget_micro_usd.is_some();
    Ok(any.then_some(Limits {
        requests_per_window: requests,
        tokens_per_window: tokens,
        window_secs,
        budget_tokens,
        budget_micro_usd,
        budget_period,
    }))
}

/// `[limits]`: each table names a gateway key (or `*`), each `models` entry a model name.
pub(super) fn key_limits(
    sections: BTreeMap<String, LimitSection>,
    key_names: &[&str],
) -> Result<BTreeMap<String, KeyLimits>, ConfigError> {
    let mut out = BTreeMap::new();
    for (name, section) in sections {
        let path = format!("limits.{name}");
        if name != "*" && !key_names.contains(&name.as_str()) {
            return Err(ConfigError::new(
                path,
                format!(
                    "`{name}` names no gateway key (keys: {}; `*` means every key)",
                    key_names.join(", ")
                ),
            ));
        }
        let mut key = KeyLimits {
            all: limits(&section, &path)?,
            models: BTreeMap::new(),
        };
        for (model, part) in &section.models {
            let part_path = format!("{path}.models.{model}");
            if !part.models.is_empty() {
                return Err(ConfigError::new(part_path, "limits nest one level only"));
            }
            if let Some(limits) = limits(part, &part_path)? {
                key.models.insert(model.clone(), limits);
            }
        }
        out.insert(name, key);
    }
    Ok(out)
}

/// `[prices]`: keyed by `provider/model`, non-negative numbers.
pub(super) fn prices(
    sections: BTreeMap<String, Price>,
) -> Result<BTreeMap<String, Price>, ConfigError> {
    for (target, price) in &sections {
        let numbers = [
            Some(price.input),
            Some(price.output),
            price.cache_read,
            price.cache_write,
        ];
        if !target.contains('/') {
            return Err(ConfigError::new(
                format!("prices.{target}"),
                "name a provider's model as `provider/model`",
            ));
        }
        if numbers.iter().flatten().any(|n| !n.is_finite() || *n < 0.0) {
            return Err(ConfigError::new(
                format!("prices.{target}"),
                "prices are US dollars per million tokens, zero or more",
            ));
        }
    }
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_start_and_end_on_their_boundaries() {
        // 2026-12-06T10:15:03Z, a Sunday.
        let now = 1_796_552_103;
        let (start, end) = Period::Day.bounds(now);
        assert_eq!((start % 86_400, end - start), (0, 86_400));
        let (start, end) = Period::Week.bounds(now);
        assert_eq!(
            crate::time::rfc3339_ms(start * 1000),
            "2026-11-30T00:00:00.000Z"
        );
        assert_eq!(end - start, 7 * 86_400);
        assert_eq!(Period::Secs(10).bounds(now), (1_796_552_100, 1_796_552_110));
        assert_eq!(Period::parse("3600s"), Some(Period::Secs(3600)));
        assert_eq!(Period::parse("0s"), None);
        assert_eq!(Period::parse("fortnight"), None);
    }
}
