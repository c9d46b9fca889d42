//! The plan for a request: a cached answer to replay, or the attempts worth making now (strategy
//! order, keys in rotation, a pinned provider for follow-ups, cooling keys and targets left out).

use apex_adapter_kit::types::ChatResponse;

use super::request::{CachePlan, Request};
use super::upstream::rotation;
use crate::config::{Alias, Config, Feature, Strategy};
use crate::http::error::ApiError;
use crate::platform::now_ms;
use crate::routing::capable;
use crate::routing::health::Health;
use crate::routing::strategy::{self, RoutingState};
use crate::routing::targets::{self, Attempt};
use crate::state::cache::{self};
use crate::state::shared;
use crate::state::stats;
use crate::surfaces::Surface;

/// Why no attempt can be made: the client's error, and the stats label when it is not the
/// error's own.
pub struct Refused {
    pub error: ApiError,
    pub label: Option<&'static str>,
}

impl From<ApiError> for Refused {
    fn from(error: ApiError) -> Self {
        Self { error, label: None }
    }
}

/// Look the request up in the cache (unless the client said `no-cache`); plan to cache the
/// answer (unless it said `no-store`). `Ok(Some)`: a fresh answer to replay. The request's
/// headers say which it was (`x-apex-cache`).
pub fn cache<S: Surface>(
    request: &mut Request<S>,
    served_as: &str,
    ttl_secs: u64,
) -> Result<Option<ChatResponse>, ApiError> {
    let control = cache::cache_control(request.client.headers);
    let mut neutral = request.neutral()?.clone();
    neutral.model = served_as.to_string();
    let key = cache::cache_key(request.client.caller, &neutral, "neutral");
    if control.read
        && let Some(hit) = shared::cached(&key, now_ms())
    {
        request
            .headers
            .push((cache::CACHE_HEADER.to_string(), "hit".to_string()));
        return Ok(Some(hit.response));
    }
    request
        .headers
        .push((cache::CACHE_HEADER.to_string(), "miss".to_string()));
    if control.write {
        request.cache = Some(CachePlan { key, ttl_secs });
    }
    Ok(None)
}

/// The attempts for alias `spec` (stats name `name`) worth making now, and the health they were
/// planned with. `pin`: only this provider and key may serve (a follow-up to its answer).
/// `needs`: what the request needs of a target (asked only when some target lacks something):
/// targets that cannot honour it are left out (`capable`).
pub fn attempts<'a>(
    config: &'a Config,
    spec: &'a Alias,
    name: &str,
    alias: &str,
    pin: Option<(&str, usize)>,
    needs: impl FnOnce() -> Vec<Feature>,
) -> Result<(Vec<Attempt<'a>>, Health), Refused> {
    let state = RoutingState {
        counter: match spec.strategy {
            Strategy::RoundRobin => shared::next_counter(name),
            _ => 0,
        },
        usage: match spec.strategy {
            Strategy::LeastUsed => shared::usage(name),
            _ => Default::default(),
        },
    };
    let seed = crate::platform::random_u64();
    let order = strategy::order(spec.strategy, &spec.targets, &state, seed);
    let mut attempts = targets::ordered_attempts(config, &spec.targets, &order, rotation)?;
    if !capable::all_capable(config, &spec.targets) {
        attempts = capable::keep(config, attempts, &needs(), alias)?;
    }
    if let Some((provider, key_index)) = pin {
        attempts.retain(|a| a.provider.name == provider && a.key_index == key_index);
        if attempts.is_empty() {
            return Err(ApiError::bad_request(format!(
                "The previous response was made by provider `{provider}`, which does not serve model `{alias}`."
            ))
            .param("previous_response_id")
            .into());
        }
    }
    let health = shared::health(&attempts);
    match health.plan(attempts, now_ms()) {
        Ok(attempts) => Ok((attempts, health)),
        Err(all) => Err(Refused {
            error: all.error(),
            label: Some(stats::ALL_COOLING),
        }),
    }
}
