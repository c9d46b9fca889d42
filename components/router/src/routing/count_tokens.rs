//! `POST /v1/messages/count_tokens`: the provider's own count when it speaks Anthropic Messages,
//! otherwise the documented local estimate (`surfaces::anthropic_messages::estimate_tokens`).
//! [`gemini`]: the same for the Gemini API's `:countTokens`.

use apex_adapter_kit::types::{HttpRequest, Target};
use wasip2::http::types::ResponseOutparam;

use crate::bindings::adapter;
use crate::config::{Config, ECHO_MODEL};
use crate::http::Client;
use crate::http::error::{ApiError, ErrorFormat};
use crate::http::reply::json_headers;
use crate::http::reply::send_error;
use crate::http::transport;
use crate::routing::dispatch::upstream::{self, rotation, target};
use crate::routing::targets::{self, Attempt};
use crate::surfaces::Surface;

/// Says where a token count came from: `provider` (its counting endpoint) or `estimate` (the
/// gateway's documented estimate, for providers without one).
pub const COUNT_HEADER: &str = "x-apex-token-count";

/// The headers of a count from `source`.
fn count_headers(client: &Client, source: &str) -> Vec<(String, String)> {
    let mut headers = json_headers(client.cors);
    headers.push((COUNT_HEADER.to_string(), source.to_string()));
    headers
}

/// `POST /v1/messages/count_tokens`: the provider's own count when it speaks Anthropic Messages
/// (forwarded like a message), otherwise the documented local estimate. Never a 404 for a model
/// the gateway serves.
pub fn count_tokens(config: &Config, client: &Client, body: Vec<u8>, out: ResponseOutparam) {
    use crate::surfaces::anthropic_messages::{self, AnthropicMessages};
    let errors = AnthropicMessages::ERRORS;
    let routing = match AnthropicMessages::routing(&body, Default::default()).and_then(|routing| {
        targets::check_model_name(config, &routing.model)?;
        Ok(routing)
    }) {
        Ok(routing) => routing,
        Err(error) => return send_error(out, &error, errors, client.cors),
    };
    let served_as = config.route_name(&routing.model);
    let served_as: &str = &served_as;
    let targets = config.targets(served_as).unwrap_or_default();
    if targets.is_empty() && !(served_as == ECHO_MODEL && config.echo_model) {
        let error = ApiError::model_not_found(&routing.model);
        return send_error(out, &error, errors, client.cors);
    }
    let attempts = match targets::attempts(config, &targets, rotation) {
        Ok(attempts) => attempts,
        Err(error) => return send_error(out, &error, errors, client.cors),
    };
    let asked = ask(config, client, &attempts, out, |attempt, target| {
        AnthropicMessages::forward_target(target, attempt.provider, client.headers);
        let body = crate::surfaces::json::with_model(&body, attempt.model)
            .map_err(|e| ApiError::bad_request(format!("Invalid request body: {e}")))?;
        Ok(adapter::forward_request(
            target,
            AnthropicMessages::PROTOCOL,
            "messages/count_tokens",
            &body,
        )
        .ok())
    });
    let out = match asked {
        Asked::Answered => return,
        Asked::Refused(out, error) => return send_error(out, &error, errors, client.cors),
        Asked::Estimate(out) => out,
    };
    let request = match anthropic_messages::count_request(&body) {
        Ok(request) => request,
        Err(error) => return send_error(out, &error, errors, client.cors),
    };
    let count = anthropic_messages::estimate_tokens(&request);
    let reply = format!(r#"{{"input_tokens":{count}}}"#);
    transport::respond(
        out,
        200,
        count_headers(client, "estimate"),
        reply.as_bytes(),
    );
}

/// `POST …/models/{model}:countTokens` (the Gemini API): a `gemini` provider's own count (the
/// path's model, and a `generateContentRequest.model`, replaced by the upstream model), otherwise
/// the local estimate as `{"totalTokens": N}`. Never a 404 for a model the gateway serves.
pub fn gemini(config: &Config, client: &Client, model: &str, body: &[u8], out: ResponseOutparam) {
    use crate::surfaces::gemini;
    let errors = ErrorFormat::Google;
    if let Err(error) = targets::check_model_name(config, model) {
        return send_error(out, &error, errors, client.cors);
    }
    let served = config.route_name(model);
    let served: &str = &served;
    let targets = config.targets(served).unwrap_or_default();
    if targets.is_empty() && !(served == ECHO_MODEL && config.echo_model) {
        return send_error(out, &gemini::not_found(model), errors, client.cors);
    }
    let attempts = match targets::attempts(config, &targets, rotation) {
        Ok(attempts) => attempts,
        Err(error) => return send_error(out, &error, errors, client.cors),
    };
    let asked = ask(config, client, &attempts, out, |attempt, target| {
        let path = gemini::forward_path(attempt.model, "countTokens", "");
        let forwarded = gemini::count_body_for(body, attempt.model);
        Ok(adapter::forward_request(
            target,
            apex_adapter_kit::types::Protocol::GeminiGenerateContent,
            &path,
            &forwarded,
        )
        .ok())
    });
    let out = match asked {
        Asked::Answered => return,
        Asked::Refused(out, error) => return send_error(out, &error, errors, client.cors),
        Asked::Estimate(out) => out,
    };
    match gemini::count_request(body) {
        Ok(request) => {
            let count = crate::surfaces::anthropic_messages::estimate_tokens(&request);
            let reply = format!(r#"{{"totalTokens":{count}}}"#);
            transport::respond(
                out,
                200,
                count_headers(client, "estimate"),
                reply.as_bytes(),
            );
        }
        Err(error) => send_error(out, &error, errors, client.cors),
    }
}

/// What asking the providers for their count gave.
enum Asked {
    /// A provider answered; the client has it.
    Answered,
    /// The request is wrong (the client's error to send).
    Refused(ResponseOutparam, ApiError),
    /// No provider counts (no endpoint, or none answered): the estimate is due.
    Estimate(ResponseOutparam),
}

/// Ask each attempt's provider for its count, in turn: `request` builds the call (`None`: the
/// provider has no counting endpoint, so the estimate is due). Another key or provider is tried
/// after a 429, 5xx, 401/403 or a failed connection; a 404 (no endpoint) ends the asking.
fn ask(
    config: &Config,
    client: &Client,
    attempts: &[Attempt],
    out: ResponseOutparam,
    request: impl Fn(&Attempt, &mut Target) -> Result<Option<HttpRequest>, ApiError>,
) -> Asked {
    for attempt in attempts {
        let Ok(mut target) = target(attempt, &config.timeouts) else {
            continue;
        };
        let call = match request(attempt, &mut target) {
            Ok(Some(call)) if upstream::on_origin(&call, &target) => call,
            Ok(_) => break,
            Err(error) => return Asked::Refused(out, error),
        };
        let Ok(upstream::Buffered {
            status,
            body: reply,
            ..
        }) = upstream::call(&call, &config.timeouts)
        else {
            continue;
        };
        if status == 404 {
            break;
        }
        if status == 429 || status >= 500 || status == 401 || status == 403 {
            continue;
        }
        let reply = upstream::redactor(config, Some(&target.api_key)).bytes(&reply);
        transport::respond(out, status, count_headers(client, "provider"), &reply);
        return Asked::Answered;
    }
    Asked::Estimate(out)
}
