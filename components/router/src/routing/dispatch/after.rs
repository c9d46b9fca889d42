//! What follows an answer: the cache entry, the surface's stored response and a forwarded
//! answer's id pin (at the moment the answer is complete, before the client has its last byte,
//! so its next request can already use them); and, once the request is over, cooldowns and the
//! stats events of every attempt.

use apex_adapter_kit::types::ChatResponse;

use super::attempt::{Observed, Outcome, Report};
use super::request::Request;
use crate::config::Config;
use crate::http::request_log::{self, AttemptLine};
use crate::platform::{monotonic_ms, now_ms, now_secs};
use crate::routing::health::{self, Cooldown, Health, Subject};
use crate::routing::targets::Attempt;
use crate::state::cache::{self, CachedResponse};
use crate::state::carry;
use crate::state::shared;
use crate::state::stats::{CacheOutcome, Event};
use crate::state::usage::Tokens;
use crate::surfaces::responses::{Route, provider_response_id, route_key};
use crate::surfaces::{Completed, Surface};

impl<S: Surface> Request<'_, S> {
    /// A translated answer whose reasoning the client's protocol cannot carry: keep it for the
    /// tool calls it led to (`state::carry`), then keep the answer as any other.
    pub fn keep_translated(&self, id: &str, created: u64, response: &ChatResponse) {
        if !S::CARRIES_REASONING
            && let Some((first, kept)) = carry::collect(
                response,
                now_secs().saturating_add(self.config.responses_ttl_secs),
            )
            && let Some(bucket) = crate::platform::store()
        {
            let _ = bucket.set(&carry::kv_key(self.client.caller, &first), &kept.encode());
        }
        self.keep_answer(id, created, response);
    }

    /// A finished answer (`id` is the one the client saw): cached, and stored by the surface.
    pub fn keep_answer(&self, id: &str, created: u64, response: &ChatResponse) {
        if let Some(plan) = &self.cache
            && cache::storable(response)
        {
            let entry = CachedResponse::new(response.clone(), now_ms(), plan.ttl_secs);
            shared::cache(&plan.key, &entry);
        }
        if !S::STORES {
            return;
        }
        let done = Completed {
            id,
            created,
            model: self.alias,
            caller: self.client.caller,
            body: self.body,
            routing: &self.routing,
            response,
            ttl_secs: self.config.responses_ttl_secs,
        };
        if let Some((key, value)) = S::record(&done)
            && let Some(bucket) = crate::platform::store()
        {
            // A store failure must not fail an answer the client already has.
            let _ = bucket.set(&key, &value);
        }
    }

    /// Keep the provider and key of `attempt` for a forwarded answer's id, so follow-ups (GET,
    /// chains) go there. `true` once the id was found in `bytes` (or the surface pins none).
    pub fn pin_id(&self, attempt: &Attempt, bytes: &[u8]) -> bool {
        if !S::PINS_IDS {
            return true;
        }
        let Some(id) = provider_response_id(bytes) else {
            return false;
        };
        let route = Route {
            provider: attempt.provider.name.clone(),
            key_index: attempt.key_index,
            owner: self.client.caller.to_string(),
            expires_at: now_secs().saturating_add(self.config.responses_ttl_secs),
        };
        if let (Some(bucket), Ok(value)) = (crate::platform::store(), serde_json::to_vec(&route)) {
            let _ = bucket.set(&route_key(&id), &value);
        }
        true
    }
}

/// One attempt as stats count it.
struct AttemptEvent {
    provider: String,
    model: String,
    key_index: usize,
    error: Option<&'static str>,
    latency_ms: u64,
    usage: Option<Tokens>,
}

/// What a request did, gathered for cooldowns and stats.
#[derive(Default)]
pub struct Tally {
    attempts: Vec<AttemptEvent>,
    cooldowns: Vec<(Subject, Cooldown)>,
    pub cache: Option<CacheOutcome>,
    /// The tokens of an answer made without a provider (`echo`).
    pub local: Option<Tokens>,
}

impl Tally {
    /// After `attempt` (begun at monotonic `began_ms`) reported `report`: bench what failed, or
    /// end the runs of failures of a key and target that answered.
    pub fn after_attempt(
        &mut self,
        config: &Config,
        health: &mut Health,
        attempt: &Attempt,
        report: &Report,
        began_ms: u64,
    ) {
        let moved_on = matches!(report.outcome, Outcome::Retry(..));
        let seen = (report.observed, report.usage);
        self.after_call(config, health, attempt, seen, moved_on, began_ms);
    }

    /// After a call to `attempt`'s provider (begun at monotonic `began_ms`) that saw `observed`
    /// (`None`: no provider failure) and reported `usage`, and the request `moved_on` to the next
    /// attempt or not: what [`Tally::after_attempt`] does, for callers that are not chat attempts
    /// (embeddings).
    pub fn after_call(
        &mut self,
        config: &Config,
        health: &mut Health,
        attempt: &Attempt,
        (observed, usage): (Option<Observed>, Option<Tokens>),
        moved_on: bool,
        began_ms: u64,
    ) {
        self.attempts.push(AttemptEvent {
            provider: attempt.provider.name.clone(),
            model: attempt.model.to_string(),
            key_index: attempt.key_index,
            error: observed.map(|o| o.label),
            latency_ms: monotonic_ms().saturating_sub(began_ms),
            usage,
        });
        match observed {
            Some(observed) => self.bench(config, health, attempt, observed),
            None if !moved_on => {
                for subject in [
                    Subject::key(&attempt.provider.name, attempt.key_index),
                    Subject::target(attempt.target),
                ] {
                    if health
                        .entries
                        .get(&subject.kv_key())
                        .is_some_and(|e| e.strikes > 0 && e.until_ms == 0)
                    {
                        shared::clear(&subject);
                    }
                }
            }
            None => {}
        }
    }

    fn bench(&mut self, config: &Config, health: &mut Health, attempt: &Attempt, seen: Observed) {
        let Some(subject) = health::subject_for(seen.class, attempt, config) else {
            return;
        };
        let existing = health.entries.get(&subject.kv_key()).copied();
        let now = now_ms();
        if let Some(entry) =
            health::after_failure(existing, seen.class, seen.retry_after_ms, config, now)
        {
            shared::bench(&subject, entry);
            health.insert(&subject, entry);
            if entry.is_active(now) {
                self.cooldowns.push((subject, entry));
            }
        }
    }

    /// The tokens every attempt's provider reported (`None`: none reported any).
    pub fn tokens(&self) -> Option<Tokens> {
        self.attempts
            .iter()
            .filter_map(|a| a.usage)
            .chain(self.local)
            .reduce(|mut all, more| {
                all.add(&more);
                all
            })
    }

    /// What the attempts cost at the configured prices (`[prices]`), in millionths of a dollar.
    pub fn cost_micro_usd(&self, config: &Config) -> u64 {
        self.attempts
            .iter()
            .filter_map(|a| {
                let price = config.prices.get(&format!("{}/{}", a.provider, a.model))?;
                Some(price.micro_usd(a.usage.as_ref()?))
            })
            .fold(0, u64::saturating_add)
    }

    /// The request is over: its log line's details, and what it used counted against `key`'s
    /// limits and usage (when stats or limits are on).
    pub fn finish(&self, config: &Config, key: &str, model: &str) {
        self.log(model);
        if config.stats || !config.limits.is_empty() {
            let tokens = self.tokens().unwrap_or_default();
            let cost = self.cost_micro_usd(config);
            crate::state::quota_store::count(config, key, model, &tokens, cost, now_secs());
        }
    }

    /// Put the model, the attempts, the tokens and the cache in the request's log line.
    fn log(&self, model: &str) {
        let attempts = self
            .attempts
            .iter()
            .map(|a| AttemptLine {
                provider: a.provider.clone(),
                model: a.model.clone(),
                key_index: a.key_index,
                outcome: a.error.unwrap_or("ok"),
                latency_ms: a.latency_ms,
            })
            .collect();
        let tokens = self.tokens();
        let cache = self.cache.map(|c| match c {
            CacheOutcome::Hit => "hit",
            CacheOutcome::Miss => "miss",
        });
        request_log::note(|entry| {
            entry.model = Some(model.to_string());
            entry.attempts = attempts;
            entry.tokens = tokens;
            entry.cache = cache;
        });
    }

    /// Record the request's stats under alias `name`: its attempts, the cooldowns they caused,
    /// and the request (`error`: the label of the error the client got, if any).
    pub fn record(self, name: &str, error: Option<&'static str>, started_ms: u64) {
        let mut batch: Vec<Event> = self
            .attempts
            .iter()
            .map(|a| Event::Attempt {
                alias: name,
                provider: &a.provider,
                model: &a.model,
                key_index: a.key_index,
                error: a.error,
                latency_ms: a.latency_ms,
            })
            .collect();
        batch.extend(
            self.cooldowns
                .iter()
                .map(|(subject, cooldown)| Event::Cooldown {
                    subject,
                    cooldown: *cooldown,
                }),
        );
        batch.push(Event::Request {
            alias: name,
            error,
            latency_ms: monotonic_ms().saturating_sub(started_ms),
            cache: self.cache,
        });
        shared::record(name, &batch);
    }
}
