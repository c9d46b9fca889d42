//! An embeddings request through its targets, on the chat path's rails: the same plan (strategy
//! order, keys in rotation, cooling keys and targets left out), the same provider side
//! (`upstream`: target, origin check, buffered call, redaction) and the same bookkeeping
//! (`after::Tally`: cooldowns and stats), and the same retries of a target (`retry`). What
//! differs is the call: the adapter's `build-embed-request` / `parse-embed-response` instead of a
//! chat translation, and no stream.
//!
//! A target whose kind cannot embed (the adapter answers `unsupported`) is skipped without a
//! call; when no target can, the client gets a 400 naming embeddings
//! ([`cannot_embed`]). The `echo` model answers deterministic vectors (`routing::echo::embed`).
//! An alias that caches keeps the vectors (`state::cache::CachedEmbedding`), as chat answers.

use apex_adapter_kit::types::{AdapterError, EmbedRequest, EmbedResponse, ErrorKind};
use wasip2::http::types::ResponseOutparam;

use super::after::Tally;
use super::attempt::{MODEL_HEADER, Observed, PROVIDER_HEADER};
use super::plan;
use super::retry;
use super::upstream::{self, transport_error};
use crate::bindings::adapter;
use crate::config::{Config, ECHO_MODEL};
use crate::http::Client;
use crate::http::error::ApiError;
use crate::http::reply::{json_headers, send_error};
use crate::http::transport;
use crate::platform::{monotonic_ms, now_ms, now_secs};
use crate::routing::failure::{self, FailureClass};
use crate::routing::targets::{self, Attempt};
use crate::state::cache::{self, CachedEmbedding};
use crate::state::stats::{self, CacheOutcome};
use crate::state::usage::Tokens;
use crate::state::{quota_store, shared};
use crate::surfaces::PathParams;
use crate::surfaces::embeddings::{EmbedSurface, cannot_embed, input_count};

/// An embeddings request on surface `S` (`POST /v1/embeddings`, `/api/embed`, ...).
pub fn embed<S: EmbedSurface>(
    config: &Config,
    client: &Client,
    body: &[u8],
    path: PathParams,
    out: ResponseOutparam,
) {
    let started = monotonic_ms();
    let parsed = match S::parse(body, path).and_then(|parsed| {
        targets::check_model_name(config, &parsed.model)?;
        Ok(parsed)
    }) {
        Ok(parsed) => parsed,
        Err(error) => return send_error(out, &error, S::ERRORS, client.cors),
    };
    let alias = parsed.model.as_str();
    if let Err(error) = quota_store::admit(config, client.caller, alias, now_secs()) {
        return send_error(out, &error, S::ERRORS, client.cors);
    }
    let answer = |out, response: &EmbedResponse, headers: Vec<(String, String)>| {
        let elapsed = monotonic_ms().saturating_sub(started);
        let body = S::render(response, alias, &parsed.options, elapsed);
        transport::respond(out, 200, json_headers(&headers), &body);
    };
    let served_as = config.route_name(alias);
    let served_as: &str = &served_as;
    let Some(spec) = config.alias(served_as) else {
        if served_as == ECHO_MODEL && config.echo_model {
            let response = crate::routing::echo::embed(&parsed.request);
            answer(out, &response, client.cors.to_vec());
            let mut tally = Tally::default();
            tally.local = input_tokens(&response);
            tally.finish(config, client.caller, alias);
            return;
        }
        return send_error(out, &S::model_not_found(alias), S::ERRORS, client.cors);
    };
    let wanted = input_count(&parsed.request.input);
    if wanted == 0 {
        // Nothing to embed (Ollama answers an empty input with no vectors).
        let empty = EmbedResponse {
            model: String::new(),
            embeddings: Vec::new(),
            input_tokens: Some(0),
        };
        return answer(out, &empty, client.cors.to_vec());
    }
    let name = stats::stats_name(config, served_as);
    let mut tally = Tally::default();
    // Headers of the answer, and where to keep it when the alias caches.
    let mut headers = client.cors.to_vec();
    let mut keep: Option<(String, u64)> = None;
    if spec.cache {
        let control = cache::cache_control(client.headers);
        let mut keyed = parsed.request.clone();
        keyed.model = served_as.to_string();
        let key = cache::embed_key(client.caller, &keyed);
        if control.read
            && let Some(hit) = shared::cached_embedding(&key, now_ms())
        {
            headers.push((cache::CACHE_HEADER.to_string(), "hit".to_string()));
            answer(out, &hit.response, headers);
            tally.cache = Some(CacheOutcome::Hit);
            tally.finish(config, client.caller, alias);
            if config.stats {
                tally.record(&name, None, started);
            }
            return;
        }
        headers.push((cache::CACHE_HEADER.to_string(), "miss".to_string()));
        tally.cache = Some(CacheOutcome::Miss);
        if control.write {
            keep = Some((key, spec.cache_ttl_secs));
        }
    }
    let client_error = 'answer: {
        let embeddings = || vec![crate::config::Feature::Embeddings];
        let planned = plan::attempts(config, &spec, &name, alias, client.pin, embeddings);
        let (attempts, mut health) = match planned {
            Ok(planned) => planned,
            Err(refused) => {
                send_error(out, &refused.error, S::ERRORS, client.cors);
                break 'answer Some(
                    refused
                        .label
                        .unwrap_or_else(|| failure::client_label(&refused.error)),
                );
            }
        };
        // `None` while no target could take the request at all.
        let mut last: Option<ApiError> = None;
        // Tries of the target under way so far (another key of the same target is one too), and
        // how many the alias allows, as for chat (`retry`).
        let mut tries = 0;
        let allowed = spec.patience.retries.unwrap_or(config.retries.count);
        let deadline = started.saturating_add(config.timeouts.total.saturating_mul(1000));
        for (i, attempt) in attempts.iter().enumerate() {
            let same_as = |j: Option<usize>| {
                j.and_then(|j| attempts.get(j))
                    .is_some_and(|other| other.target == attempt.target)
            };
            tries = if same_as(i.checked_sub(1)) {
                tries + 1
            } else {
                0
            };
            // Another key of the same target comes next: that is the retry.
            let then_same_target = same_as(Some(i + 1));
            loop {
                let began = monotonic_ms();
                let (outcome, observed) = call(config, attempt, &parsed.request, wanted);
                let moved_on = !matches!(outcome, Called::Answered(_) | Called::Refused(_));
                if !matches!(outcome, Called::CannotEmbed) {
                    let usage = match &outcome {
                        Called::Answered(response) => input_tokens(response),
                        _ => None,
                    };
                    let seen = (observed, usage);
                    tally.after_call(config, &mut health, attempt, seen, moved_on, began);
                }
                match outcome {
                    Called::Answered(response) => {
                        if let Some((key, ttl_secs)) = keep.take() {
                            let entry = CachedEmbedding {
                                response: response.clone(),
                                stored_at_ms: now_ms(),
                                ttl_secs,
                            };
                            shared::cache_embedding(&key, &entry);
                        }
                        let mut headers = headers.clone();
                        headers.push((PROVIDER_HEADER.into(), attempt.provider.name.clone()));
                        headers.push((MODEL_HEADER.into(), attempt.model.to_string()));
                        answer(out, &response, headers);
                        break 'answer None;
                    }
                    Called::Refused(error) => {
                        send_error(out, &error, S::ERRORS, &headers);
                        break 'answer Some(failure::client_label(&error));
                    }
                    Called::Failed(error) => last = Some(error),
                    Called::CannotEmbed => break,
                }
                let Some(wait) = retry::wait_for(config, allowed, deadline, tries, observed)
                    .filter(|_| !then_same_target)
                else {
                    break;
                };
                tries += 1;
                crate::platform::sleep_ms(wait);
            }
        }
        let error = last.unwrap_or_else(|| cannot_embed(alias));
        send_error(out, &error, S::ERRORS, &headers);
        Some(failure::client_label(&error))
    };
    tally.finish(config, client.caller, alias);
    if config.stats {
        tally.record(&name, client_error, started);
    }
}

/// The input tokens an embedding answer reports, as the log, limits and usage count them.
fn input_tokens(response: &EmbedResponse) -> Option<Tokens> {
    response.input_tokens.map(|n| Tokens {
        input: u64::from(n),
        ..Tokens::default()
    })
}

/// How one call to a target went.
enum Called {
    /// The vectors, one per input.
    Answered(EmbedResponse),
    /// The client's error, final (the request's own fault, or a failure not failed over).
    Refused(ApiError),
    /// A failure the next target may make up for.
    Failed(ApiError),
    /// The target's kind cannot embed this request: nothing was sent.
    CannotEmbed,
}

/// Ask `attempt`'s provider for the vectors of `request` (`wanted` of them); what was observed
/// for cooldowns and stats.
fn call(
    config: &Config,
    attempt: &Attempt,
    request: &EmbedRequest,
    wanted: usize,
) -> (Called, Option<Observed>) {
    let target = match upstream::target(attempt, &config.timeouts) {
        Ok(target) => target,
        Err(error) => return classified(config, &error),
    };
    let redactor = upstream::redactor(config, Some(&target.api_key));
    let mut neutral = request.clone();
    neutral.model = attempt.model.to_string();
    let http = match adapter::build_embed_request(&target, &neutral) {
        Ok(http) => http,
        Err(error) if error.kind == ErrorKind::Unsupported => return (Called::CannotEmbed, None),
        Err(mut error) => {
            // A request this target cannot take may suit the next one: nothing was sent.
            error.message = redactor.text(&error.message);
            return (Called::Failed(ApiError::from_upstream(&error)), None);
        }
    };
    if !upstream::on_origin(&http, &target) {
        let error = ApiError::bad_gateway(format!(
            "Refused: the `{}` adapter built a request outside provider `{}`'s origin.",
            target.kind, attempt.provider.name
        ));
        return (Called::Refused(error), None);
    }
    let reply = match upstream::call(&http, &config.timeouts) {
        Ok(reply) => reply,
        Err(error) => {
            let class = FailureClass::transport(error.timeout);
            let mut api_error = transport_error(&error);
            api_error.message = redactor.text(&api_error.message);
            let observed = Observed::of_class(class);
            return (
                fail_over_or_refuse(config, class, api_error),
                Some(observed),
            );
        }
    };
    let parsed =
        adapter::parse_embed_response(&target.kind, reply.status, &reply.headers, &reply.body)
            .and_then(|response| {
                if response.embeddings.len() == wanted {
                    Ok(response)
                } else {
                    Err(apex_adapter_kit::http::malformed(format!(
                        "{} vectors for {wanted} inputs",
                        response.embeddings.len()
                    )))
                }
            });
    match parsed {
        Ok(response) => (Called::Answered(response), None),
        Err(mut error) => {
            error.message = redactor.text(&error.message);
            classified(config, &error)
        }
    }
}

/// A classified failure: failed over when its class is in `failover_on`, else the client's.
fn classified(config: &Config, error: &AdapterError) -> (Called, Option<Observed>) {
    let api_error = ApiError::from_upstream(error);
    match Observed::of_adapter(error) {
        Some(observed) => (
            fail_over_or_refuse(config, observed.class, api_error),
            Some(observed),
        ),
        None => (Called::Refused(api_error), None),
    }
}

fn fail_over_or_refuse(config: &Config, class: FailureClass, error: ApiError) -> Called {
    if config.fails_over(class) {
        Called::Failed(error)
    } else {
        Called::Refused(error)
    }
}
