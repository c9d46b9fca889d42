//! Cooldowns: keys and targets benched after failures, as pure data. The router does the I/O.
//!
//! Storage: one key-value entry per benched subject, its value the JSON of a [`Cooldown`]:
//!
//! - `apex:cool:key:<provider>#<key index>`: a key (429, 401/403);
//! - `apex:cool:target:<provider>/<model>`: a target (5xx, overload, timeout, connect, 404 of a
//!   model the config names — never of one a client made up, see [`subject_for`]).
//!
//! Instances run concurrently and the store has no transactions, so a single document of every
//! cooldown would lose updates (two instances benching two different keys at once: one write
//! wins). With one entry per subject, writers only race on the same subject, where either value
//! is right (keep the later expiry with [`Cooldown::later`] when the old value was read). Entries
//! outlive their expiry harmlessly (the store has no TTL): an expired entry
//! ([`Cooldown::expires_at_ms`]) reads as "usable", and the router's expiry sweep deletes it.
//!
//! Per request the router reads the entries of [`subjects`] into a [`Health`], calls
//! [`Health::plan`] to drop attempts whose key or target is cooling, and answers 429/503 with
//! Retry-After when none is left. After a failed attempt it writes [`cooldown`] for
//! [`subject_for`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{Config, TargetRef};
use crate::http::error::ApiError;
use crate::routing::failure::FailureClass;
use crate::routing::targets::Attempt;

/// Prefix of a key's cooldown entry.
pub const KEY_PREFIX: &str = "apex:cool:key:";
/// Prefix of a target's cooldown entry.
pub const TARGET_PREFIX: &str = "apex:cool:target:";
/// The longest cooldown a Retry-After can ask for (a day): a wild value cannot bench a key for
/// good.
pub const MAX_COOLDOWN_SECS: u64 = 24 * 60 * 60;
/// How long counted strikes are remembered after the last one (a failure a day ago and one now
/// are not "in a row").
pub const STRIKES_KEPT_MS: u64 = 24 * 60 * 60 * 1000;

/// Something that can cool down.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subject {
    /// Key `index` of `provider` (index 0 for a provider without keys).
    Key { provider: String, index: usize },
    /// An upstream model at a provider.
    Target { provider: String, model: String },
}

impl Subject {
    pub fn key(provider: impl Into<String>, index: usize) -> Self {
        Self::Key {
            provider: provider.into(),
            index,
        }
    }

    pub fn target(target: &TargetRef) -> Self {
        Self::Target {
            provider: target.provider.clone(),
            model: target.model.clone(),
        }
    }

    /// How stats show it: `provider#index` for a key (never its value), `provider/model` for a
    /// target.
    pub fn label(&self) -> String {
        match self {
            Self::Key { provider, index } => format!("{provider}#{index}"),
            Self::Target { provider, model } => format!("{provider}/{model}"),
        }
    }

    /// Its key-value entry name.
    pub fn kv_key(&self) -> String {
        // Built by hand: a few of these are made for every request.
        match self {
            Self::Key { provider, index } => {
                let index = index.to_string();
                [KEY_PREFIX, provider, "#", &index].concat()
            }
            Self::Target { provider, model } => [TARGET_PREFIX, provider, "/", model].concat(),
        }
    }

    /// The subject of an entry name (`None`: not a cooldown entry).
    pub fn from_kv_key(name: &str) -> Option<Self> {
        if let Some(rest) = name.strip_prefix(KEY_PREFIX) {
            // Provider names may hold `#`; the index is after the last one.
            let (provider, index) = rest.rsplit_once('#')?;
            let index = index.parse().ok()?;
            return (!provider.is_empty()).then(|| Self::key(provider, index));
        }
        let rest = name.strip_prefix(TARGET_PREFIX)?;
        // Provider names never hold `/` (`provider/model` names split at the first one).
        let (provider, model) = rest.split_once('/')?;
        (!provider.is_empty() && !model.is_empty()).then(|| Self::Target {
            provider: provider.to_string(),
            model: model.to_string(),
        })
    }
}

/// A bench: until when, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cooldown {
    /// Wall-clock milliseconds since the Unix epoch (0: not benched, only strikes counted).
    pub until_ms: u64,
    pub reason: FailureClass,
    /// Consecutive failures without a provider's instruction (see [`after_failure`]).
    #[serde(default)]
    pub strikes: u32,
    /// Whether the provider asked for it (a rate limit, a refused key, Retry-After) rather than
    /// the gateway inferring it from failures in a row.
    #[serde(default)]
    pub told: bool,
    /// When it was written (wall-clock milliseconds; 0 in entries written before this field).
    #[serde(default)]
    pub at_ms: u64,
}

impl Cooldown {
    /// When the entry means nothing any more and may be deleted: the end of its bench, and for
    /// counted strikes [`STRIKES_KEPT_MS`] after the last one.
    pub fn expires_at_ms(&self) -> u64 {
        if self.strikes == 0 {
            return self.until_ms;
        }
        self.until_ms
            .max(self.at_ms.saturating_add(STRIKES_KEPT_MS))
    }

    /// Whether it still holds at `now_ms`.
    pub fn is_active(&self, now_ms: u64) -> bool {
        is_cooling(now_ms, self.until_ms)
    }

    /// The entry value.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// An entry value (`None`: unreadable, treat as no cooldown).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }

    /// Of an existing cooldown and a new one, the one that ends later (a 429's short bench must
    /// not cut short an auth bench) — unless the existing one had lapsed when the new one was
    /// written: a bench that is over does not outweigh the failures counted after it.
    pub fn later(existing: Option<Cooldown>, new: Cooldown) -> Cooldown {
        match existing {
            Some(old)
                if old.until_ms > new.until_ms && (new.at_ms == 0 || old.is_active(new.at_ms)) =>
            {
                old
            }
            _ => new,
        }
    }
}

/// What a failure of `class` benches: the key for rate limits and refused credentials (they are
/// per key; a provider without keys has none, so its rate limit benches the target, not every
/// model it serves), the target for everything else (the provider or model is at fault) — except a 404
/// for a model the config does not name: a direct `provider/<model>` the client made up is the
/// client's mistake, and benching it would store an entry per invented name (`None`).
pub fn subject_for(class: FailureClass, attempt: &Attempt, config: &Config) -> Option<Subject> {
    match class {
        FailureClass::RateLimited if attempt.provider.keys.is_empty() => {
            Some(Subject::target(attempt.target))
        }
        FailureClass::RateLimited | FailureClass::Auth => {
            Some(Subject::key(&attempt.provider.name, attempt.key_index))
        }
        FailureClass::NotFound
            if !config.names_target(&attempt.target.provider, &attempt.target.model) =>
        {
            None
        }
        _ => Some(Subject::target(attempt.target)),
    }
}

/// How long a failure of `class` benches its subject, in milliseconds (`None`: not at all).
///
/// - `rate-limited`, `overloaded`, `server`, `timeout`, `connect`: the provider's Retry-After
///   when it sent one, else `cooldown_secs`;
/// - `auth`: `auth_cooldown_secs`, or a longer Retry-After;
/// - `not-found`: `cooldown_secs` (a missing model is not retried on every request; only models
///   the config names get here, see [`subject_for`]);
/// - `malformed-reply`, `context-too-long`: no bench (they depend on the request).
///
/// Never longer than [`MAX_COOLDOWN_SECS`].
pub fn cooldown_ms(
    class: FailureClass,
    retry_after_ms: Option<u64>,
    config: &Config,
) -> Option<u64> {
    let base = config.cooldown_secs.saturating_mul(1000);
    let ms = match class {
        FailureClass::RateLimited
        | FailureClass::Overloaded
        | FailureClass::Server
        | FailureClass::Timeout
        | FailureClass::Connect => retry_after_ms.unwrap_or(base),
        FailureClass::Auth => config
            .auth_cooldown_secs
            .saturating_mul(1000)
            .max(retry_after_ms.unwrap_or(0)),
        FailureClass::NotFound => base,
        FailureClass::MalformedReply | FailureClass::ContextTooLong => return None,
    };
    Some(ms.min(MAX_COOLDOWN_SECS * 1000)).filter(|ms| *ms > 0)
}

/// The entry to keep after a failure of `class` at `now_ms`, given the entry there was.
///
/// A provider's own instruction benches at once: a rate limit, a refused key, any Retry-After.
/// Other failures (5xx, overload, timeouts, connection errors, a missing model) count as strikes,
/// and the subject is benched when they reach `allowed_fails` in a row — one flaky answer does
/// not take a provider out; a success clears the strikes ([`Cooldown::strikes`]). A failure within
/// `cooldown_secs` after a bench lapsed (the probe of a flapping provider) benches again at once.
pub fn after_failure(
    existing: Option<Cooldown>,
    class: FailureClass,
    retry_after_ms: Option<u64>,
    config: &Config,
    now_ms: u64,
) -> Option<Cooldown> {
    let immediate =
        retry_after_ms.is_some() || matches!(class, FailureClass::RateLimited | FailureClass::Auth);
    // The first try after a bench lapsed is a probe: when it fails, the subject is benched again
    // at once instead of being tried by every request until failures add up.
    let probe_failed = existing.is_some_and(|e| {
        e.until_ms > 0
            && !e.is_active(now_ms)
            && now_ms
                < e.until_ms
                    .saturating_add(config.cooldown_secs.saturating_mul(1000))
    });
    if immediate || probe_failed || config.allowed_fails <= 1 {
        return cooldown(class, retry_after_ms, config, now_ms);
    }
    cooldown_ms(class, None, config)?;
    let strikes = existing
        .filter(|e| !e.is_active(now_ms) && e.expires_at_ms() > now_ms)
        .map_or(0, |e| e.strikes)
        .saturating_add(1);
    if strikes >= config.allowed_fails {
        return cooldown(class, None, config, now_ms);
    }
    Some(Cooldown {
        until_ms: 0,
        reason: class,
        strikes,
        told: false,
        at_ms: now_ms,
    })
}

/// The cooldown to record for a failure at `now_ms` (see [`cooldown_ms`]).
pub fn cooldown(
    class: FailureClass,
    retry_after_ms: Option<u64>,
    config: &Config,
    now_ms: u64,
) -> Option<Cooldown> {
    cooldown_ms(class, retry_after_ms, config).map(|ms| Cooldown {
        until_ms: now_ms.saturating_add(ms),
        reason: class,
        strikes: 0,
        told: retry_after_ms.is_some()
            || matches!(class, FailureClass::RateLimited | FailureClass::Auth),
        at_ms: now_ms,
    })
}

/// Whether a bench until `until_ms` still holds at `now_ms`.
pub fn is_cooling(now_ms: u64, until_ms: u64) -> bool {
    now_ms < until_ms
}

/// Retry-After seconds for the soonest of `untils` (rounded up, at least 1); `None` when none is
/// in the future.
pub fn earliest_retry(now_ms: u64, untils: impl IntoIterator<Item = u64>) -> Option<u64> {
    untils
        .into_iter()
        .filter(|until| is_cooling(now_ms, *until))
        .min()
        .map(|until| (until - now_ms).div_ceil(1000).max(1))
}

/// The entries to read for `attempts`: each distinct key and target, in first-use order.
pub fn subjects(attempts: &[Attempt]) -> Vec<Subject> {
    let mut out: Vec<Subject> = Vec::new();
    for attempt in attempts {
        for subject in [
            Subject::key(&attempt.provider.name, attempt.key_index),
            Subject::target(attempt.target),
        ] {
            if !out.contains(&subject) {
                out.push(subject);
            }
        }
    }
    out
}

/// Every attempt is benched: the answer to give the client instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllCooling {
    /// 429 when every bench is a rate limit, else 503.
    pub status: u16,
    /// When the first attempt becomes usable again.
    pub retry_after_secs: u64,
    /// The reasons of the benches, for the message.
    pub reasons: Vec<FailureClass>,
}

impl AllCooling {
    /// The client error (429 or 503 with Retry-After).
    pub fn error(&self) -> ApiError {
        let reasons: Vec<&str> = self.reasons.iter().map(|r| r.as_str()).collect();
        let message = format!(
            "Every upstream for this model is cooling down after failures ({}). Retry in {} s.",
            reasons.join(", "),
            self.retry_after_secs
        );
        let mut error = if self.status == 429 {
            ApiError::new(429, "rate_limit_error", message).code("rate_limit_exceeded")
        } else {
            ApiError::new(503, "api_error", message).code("upstream_unavailable")
        };
        error.retry_after_secs = Some(self.retry_after_secs);
        error
    }
}

/// The cooldowns read for one request, by entry name. Serializable, for a stats snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub entries: BTreeMap<String, Cooldown>,
}

impl Health {
    /// Drop the entries that have expired at `now_ms` (a stats document keeps the cooldowns it
    /// saw; without this, one per benched target ever, made-up model names included).
    pub fn forget_expired(&mut self, now_ms: u64) {
        self.entries.retain(|_, c| c.expires_at_ms() > now_ms);
    }

    /// Record a cooldown (keeping the later one if there is one already).
    pub fn insert(&mut self, subject: &Subject, cooldown: Cooldown) {
        let name = subject.kv_key();
        let existing = self.entries.get(&name).copied();
        self.entries
            .insert(name, Cooldown::later(existing, cooldown));
    }

    /// The cooldown of `subject` if it still holds at `now_ms`.
    pub fn active(&self, subject: &Subject, now_ms: u64) -> Option<Cooldown> {
        self.entries
            .get(&subject.kv_key())
            .copied()
            .filter(|c| c.is_active(now_ms))
    }

    /// Every cooldown still holding at `now_ms`, with its subject.
    pub fn active_all(&self, now_ms: u64) -> Vec<(Subject, Cooldown)> {
        self.entries
            .iter()
            .filter(|(_, c)| c.is_active(now_ms))
            .filter_map(|(name, c)| Subject::from_kv_key(name).map(|s| (s, *c)))
            .collect()
    }

    /// When `attempt` is free of its benches.
    fn free_at(&self, attempt: &Attempt, now_ms: u64) -> u64 {
        self.blocking(attempt, now_ms)
            .iter()
            .map(|c| c.until_ms)
            .max()
            .unwrap_or(0)
    }

    /// The benches blocking `attempt` at `now_ms` (its key's and its target's).
    fn blocking(&self, attempt: &Attempt, now_ms: u64) -> Vec<Cooldown> {
        [
            Subject::key(&attempt.provider.name, attempt.key_index),
            Subject::target(attempt.target),
        ]
        .iter()
        .filter_map(|s| self.active(s, now_ms))
        .collect()
    }

    /// `attempts` in the order to try them: those free of benches first (in the given order),
    /// then those benched only by the gateway's inference (soonest free first); those the
    /// provider benched (rate limit, refused key, Retry-After) are left out. When that leaves
    /// none, the 429/503 to answer instead: Retry-After is when the first attempt is free.
    pub fn plan<'a>(
        &self,
        attempts: Vec<Attempt<'a>>,
        now_ms: u64,
    ) -> Result<Vec<Attempt<'a>>, AllCooling> {
        if attempts.is_empty() {
            return Ok(attempts);
        }
        let mut free_at = Vec::new();
        let mut reasons = Vec::new();
        let mut usable = Vec::new();
        let mut benched = Vec::new();
        for attempt in attempts {
            let blocking = self.blocking(&attempt, now_ms);
            match blocking.iter().map(|c| c.until_ms).max() {
                None => usable.push(attempt),
                Some(until) => {
                    free_at.push(until);
                    reasons.extend(blocking.iter().map(|c| c.reason));
                    let told = blocking.iter().any(|c| c.told);
                    benched.push((attempt, told));
                }
            }
        }
        // Benched only on the gateway's own inference (failures in a row): still tried, after
        // the others and soonest free first — a provider that asked for a pause is respected, a
        // flaky one is demoted, not taken out (it may be all that is left).
        let mut probes: Vec<Attempt<'a>> = benched
            .into_iter()
            .filter(|(_, told)| !told)
            .map(|(attempt, _)| attempt)
            .collect();
        probes.sort_by_key(|attempt| self.free_at(attempt, now_ms));
        if !usable.is_empty() || !probes.is_empty() {
            usable.extend(probes);
            return Ok(usable);
        }
        reasons.sort();
        reasons.dedup();
        let status = if reasons.iter().all(|r| *r == FailureClass::RateLimited) {
            429
        } else {
            503
        };
        Err(AllCooling {
            status,
            retry_after_secs: earliest_retry(now_ms, free_at).unwrap_or(1),
            reasons,
        })
    }
}

#[cfg(test)]
mod tests;
