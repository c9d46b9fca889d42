//! Per-key limits and usage in the key-value store (the rules are `quota`): admission before a
//! request reaches a provider, counting after it, and `GET /usage`.
//!
//! Counters go up with the store's atomic increment where the host has one (`shared::increment`);
//! elsewhere by read-modify-write, where two instances counting the same entry at the same moment
//! may lose one count: a limit can then be passed by at most the requests admitted at that
//! moment, and usage can miss them.

use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::http::error::ApiError;
use crate::state::quota::{self, AFTER, Counted, DayUsage, Refusal, USAGE_FIELDS};
use crate::state::shared;
use crate::state::usage::Tokens;

/// Admit a request of gateway key `key` for `model` at `now_secs`, counting it against its
/// request limits; else the refusal (a 429 with Retry-After).
pub fn admit(config: &Config, key: &str, model: &str, now_secs: u64) -> Result<(), ApiError> {
    let applying = quota::applying(config, key, model);
    if applying.is_empty() {
        return Ok(());
    }
    let refuse = |refusal: Refusal| {
        crate::http::request_log::note(|entry| {
            entry.model = Some(model.to_string());
            entry.limited_by = Some(refusal.what.field());
        });
        let mut error = ApiError::new(429, "rate_limit_error", refusal.message(key, model))
            .code("rate_limit_exceeded");
        error.retry_after_secs = Some(refusal.retry_after_secs.max(1));
        error
    };
    // What was used already: tokens and cost, counted after earlier answers.
    for (scope, limits) in &applying {
        for what in AFTER {
            let Some(cap) = what.cap(limits) else {
                continue;
            };
            let (_, end) = what.window(limits, now_secs);
            let used = shared::counter(&quota::counter_key(key, scope, what, end));
            if used >= cap {
                return Err(refuse(Refusal {
                    what,
                    scope_is_alias: *scope != "*",
                    cap,
                    retry_after_secs: end.saturating_sub(now_secs),
                }));
            }
        }
    }
    // Then this request, against each request limit; a refusal takes back what it counted.
    let mut counted: Vec<String> = Vec::new();
    for (scope, limits) in &applying {
        let Some(cap) = Counted::Requests.cap(limits) else {
            continue;
        };
        let (_, end) = Counted::Requests.window(limits, now_secs);
        let entry = quota::counter_key(key, scope, Counted::Requests, end);
        let now = shared::increment(&entry, 1);
        if now > cap {
            shared::increment(&entry, -1);
            for entry in &counted {
                shared::increment(entry, -1);
            }
            return Err(refuse(Refusal {
                what: Counted::Requests,
                scope_is_alias: *scope != "*",
                cap,
                retry_after_secs: end.saturating_sub(now_secs),
            }));
        }
        counted.push(entry);
    }
    Ok(())
}

/// Count what a finished request of `key` for `model` used: its limits' token and cost
/// counters, and the key's usage of the day.
pub fn count(config: &Config, key: &str, model: &str, tokens: &Tokens, micro_usd: u64, now: u64) {
    for (scope, limits) in quota::applying(config, key, model) {
        for what in AFTER {
            let used = what.used(tokens, micro_usd);
            if what.cap(limits).is_none() || used == 0 {
                continue;
            }
            let (_, end) = what.window(limits, now);
            let delta = i64::try_from(used).unwrap_or(i64::MAX);
            shared::increment(&quota::counter_key(key, scope, what, end), delta);
        }
    }
    let used = DayUsage {
        requests: 1,
        tokens: *tokens,
        cost_micro_usd: micro_usd,
    };
    let usage_key = quota::usage_keys(key, (now / 86_400) as i64);
    for (field, value) in USAGE_FIELDS.iter().zip(used.values()) {
        if value > 0 {
            let delta = i64::try_from(value).unwrap_or(i64::MAX);
            shared::increment(&usage_key(field), delta);
        }
    }
}

/// `key`'s usage on UTC day `day`.
fn day_usage(key: &str, day: i64) -> DayUsage {
    let mut values = [0u64; 7];
    let usage_key = quota::usage_keys(key, day);
    for (value, field) in values.iter_mut().zip(USAGE_FIELDS) {
        *value = shared::counter(&usage_key(field));
    }
    DayUsage::from_values(values)
}

/// `GET /usage`: per gateway key, today's and this month's usage (UTC), and where each of its
/// limits stands.
pub fn report(config: &Config, now: u64) -> Vec<u8> {
    let today = (now / 86_400) as i64;
    let (month_start, _) = crate::time::month_bounds(now);
    let first_day = (month_start / 86_400) as i64;
    let mut names: Vec<&str> = config
        .gateway_keys
        .iter()
        .map(|k| k.name.as_str())
        .collect();
    if names.is_empty() {
        names.push(crate::http::auth::ANONYMOUS);
    }
    let mut keys = Map::new();
    for name in names {
        let mut month = DayUsage::default();
        let mut day_usage_today = DayUsage::default();
        for day in first_day..=today {
            let usage = day_usage(name, day);
            month.add(&usage);
            if day == today {
                day_usage_today = usage;
            }
        }
        let mut limits = Vec::new();
        if let Some(table) = quota::key_limits(config, name) {
            let scopes = table
                .all
                .iter()
                .map(|l| ("*", l))
                .chain(table.models.iter().map(|(alias, l)| (alias.as_str(), l)));
            for (scope, l) in scopes {
                for what in [Counted::Requests, AFTER[0], AFTER[1], AFTER[2]] {
                    let Some(cap) = what.cap(l) else {
                        continue;
                    };
                    let (start, end) = what.window(l, now);
                    let used = shared::counter(&quota::counter_key(name, scope, what, end));
                    // Dollar budgets in dollars; the rest as counts.
                    let amount = |n: u64| match what {
                        Counted::BudgetCost => json!(n as f64 / 1_000_000.0),
                        _ => json!(n),
                    };
                    limits.push(json!({
                        "model": if scope == "*" { Value::Null } else { json!(scope) },
                        "limit": what.field(),
                        "max": amount(cap),
                        "used": amount(used),
                        "window_start": start,
                        "resets_in_secs": end.saturating_sub(now),
                    }));
                }
            }
        }
        keys.insert(
            name.to_string(),
            json!({"today": day_usage_today.render(), "month": month.render(), "limits": limits}),
        );
    }
    let (year, month, day) = crate::time::civil_from_days(today);
    json!({
        "object": "usage",
        "date": format!("{year:04}-{month:02}-{day:02}"),
        "keys": keys,
    })
    .to_string()
    .into_bytes()
}
