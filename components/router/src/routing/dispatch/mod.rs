//! One chat request through its targets, as stages that return values:
//!
//! 1. `plan`: a cached answer to replay, or the attempts worth making now, in order;
//! 2. `attempt`: one provider key, forwarded (`forward`) when it speaks the client's protocol,
//!    translated (`translate`) otherwise; it returns a report: delivered, an error the client
//!    got, or a failure to retry elsewhere while the client has seen nothing;
//! 3. `sink`: the client's side (a pending response or a started stream), deadlines, keepalives;
//! 4. `after`: the cache entry, stored response and id pin of an answer; cooldowns and stats.
//!
//! [`chat`] folds the attempts' reports. `local` answers without a provider (echo, cache hits);
//! `upstream` is the provider side shared with token counts and stored-response lookups.
//! `embed` runs an embeddings request through the same plan, provider side and bookkeeping.

mod after;
mod attempt;
pub mod embed;
mod forward;
mod local;
mod plan;
mod request;
mod resume;
mod retry;
mod sink;
mod translate;
pub mod upstream;

use wasip2::http::types::ResponseOutparam;

use crate::config::{Config, ECHO_MODEL};
use crate::http::Client;
use crate::http::error::ApiError;
use crate::http::reply::send_error;
use crate::platform::{monotonic_ms, now_secs};
use crate::routing::targets;
use crate::state::stats::{self, CacheOutcome};
use crate::state::{carry, quota_store};
use crate::surfaces::{PathParams, Surface};
use after::Tally;
use attempt::Outcome;
use request::Request;
use sink::Sink;

/// A chat request on surface `S` (`POST /v1/chat/completions`, `/v1/messages`, ...): cache,
/// strategy, cooldowns, then the attempts in order until one answers. `path`: what the URL says
/// (the model, for protocols that name it there).
pub fn chat<S: Surface>(
    config: &Config,
    client: &Client,
    body: Vec<u8>,
    path: PathParams,
    out: ResponseOutparam,
) {
    let started = monotonic_ms();
    // Only what routing needs; the full request is validated when a target translates it.
    let routing = match S::routing(&body, path).and_then(|routing| {
        targets::check_model_name(config, &routing.model)?;
        Ok(routing)
    }) {
        Ok(routing) => routing,
        Err(error) => return send_error(out, &error, S::ERRORS, client.cors),
    };
    let alias = routing.model.clone();
    if let Err(error) = quota_store::admit(config, client.caller, &alias, now_secs()) {
        return send_error(out, &error, S::ERRORS, client.cors);
    }
    let mut request = Request::<S>::new(config, &alias, &body, routing, client, started);

    let served_as = config.route_name(&alias);
    let served_as: &str = &served_as;
    let Some(spec) = config.alias(served_as) else {
        if served_as == ECHO_MODEL && config.echo_model {
            let mut tally = Tally::default();
            tally.local = request.echo(out);
            tally.finish(config, client.caller, &alias);
            return;
        }
        return send_error(out, &S::model_not_found(&alias), S::ERRORS, client.cors);
    };
    request.patience = spec.patience;
    if request.reasoning_missing() {
        request
            .headers
            .push((carry::MISSING_HEADER.to_string(), "missing".to_string()));
    }
    let name = stats::stats_name(config, served_as);
    let mut tally = Tally::default();

    // `None`: the client has its answer; else the label of the error it got.
    let client_error = 'answer: {
        if spec.cache {
            match plan::cache(&mut request, served_as, spec.cache_ttl_secs) {
                Ok(Some(hit)) => {
                    request.replay(&hit, out);
                    tally.cache = Some(CacheOutcome::Hit);
                    break 'answer None;
                }
                Ok(None) => tally.cache = Some(CacheOutcome::Miss),
                Err(error) => break 'answer Some(request.fail(Sink::Pending(out), &error)),
            }
        }
        // What the request needs of a target: read from the neutral form (a request that does not
        // parse needs nothing here; its translation refuses it).
        let needs = || {
            request
                .neutral()
                .map(crate::config::needed)
                .unwrap_or_default()
        };
        let (attempts, mut health) =
            match plan::attempts(config, &spec, &name, &alias, client.pin, needs) {
                Ok(planned) => planned,
                Err(refused) => {
                    let label = request.fail(Sink::Pending(out), &refused.error);
                    break 'answer Some(refused.label.unwrap_or(label));
                }
            };
        let mut last = ApiError::bad_gateway("No upstream provider could be tried.");
        // `None` once a cut stream holds the client's response.
        let mut sink = Some(Sink::Pending(out));
        // Tries of the target under way so far: another key of the same target is a retry too.
        let mut tries = 0;
        // A stream cut after the client got part of it, for the next candidate to continue.
        let mut cut: Option<attempt::Cut> = None;
        for (i, next) in attempts.iter().enumerate() {
            if let Some(open) = cut.take() {
                let began = monotonic_ms();
                let report = resume::resume(&request, next, open);
                tally.after_attempt(config, &mut health, next, &report, began);
                match report.outcome {
                    Outcome::Delivered => break 'answer None,
                    Outcome::ClientError(label) => break 'answer Some(label),
                    Outcome::Cut(open) => cut = Some(open),
                    // A continuation never hands back an unstarted answer.
                    Outcome::Retry(..) => break 'answer Some("error"),
                }
                continue;
            }
            if i > 0
                && attempts
                    .get(i - 1)
                    .is_some_and(|before| before.target == next.target)
            {
                tries += 1;
            } else {
                tries = 0;
            }
            // Another key of the same target comes next: that is the retry.
            let then_same_target = attempts
                .get(i + 1)
                .is_some_and(|then| then.target == next.target);
            // The same target again while `retry::wait` allows, then the next one.
            while let Some(current) = sink.take() {
                let began = monotonic_ms();
                let report = attempt::attempt(&request, next, current);
                tally.after_attempt(config, &mut health, next, &report, began);
                let observed = report.observed;
                match report.outcome {
                    Outcome::Delivered => break 'answer None,
                    Outcome::ClientError(label) => break 'answer Some(label),
                    Outcome::Retry(error, back) => {
                        last = error;
                        sink = Some(back);
                    }
                    Outcome::Cut(open) => {
                        cut = Some(open);
                        break;
                    }
                }
                let Some(wait) =
                    retry::wait(&request, tries, observed).filter(|_| !then_same_target)
                else {
                    break;
                };
                tries += 1;
                let Some(current) = sink.take() else {
                    break;
                };
                match request.pause(current, wait) {
                    Some(back) => sink = Some(back),
                    // The client left while we waited.
                    None => break 'answer None,
                }
            }
        }
        match (cut, sink) {
            (Some(open), _) => Some(open.fail()),
            (None, Some(current)) => Some(request.fail(current, &last)),
            (None, None) => None,
        }
    };

    tally.finish(config, client.caller, &alias);
    if config.stats {
        tally.record(&name, client_error, started);
    }
}
