//! Token counts: `POST /v1/messages/count_tokens` (Anthropic) and the Gemini API's
//! `…:countTokens` ([`gemini`]). Each target is asked in turn: a provider that speaks the client's
//! protocol gets the body as it is (its answer comes back untouched); any other provider whose kind
//! has a counting endpoint (`build-count-request`: Anthropic, Vertex, Gemini) gets the request in
//! its own form and its count is answered in the client's shape. When no target counts, the
//! documented local estimate (`surfaces::anthropic_messages::estimate_tokens`) answers.
//! `x-apex-token-count` says which: `provider` or `estimate`.

use std::borrow::Cow;

use apex_adapter_kit::types::{
    ChatRequest, ErrorKind, ForwardedBody, HttpRequest, Protocol, Target,
};
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
use crate::surfaces::{Surface, forwarding};

/// Says where a token count came from: `provider` (its counting endpoint) or `estimate` (the
/// gateway's documented estimate, for providers without one).
pub const COUNT_HEADER: &str = "x-apex-token-count";

/// The headers of a count from `source`.
fn count_headers(client: &Client, source: &str) -> Vec<(String, String)> {
    let mut headers = json_headers(client.cors);
    headers.push((COUNT_HEADER.to_string(), source.to_string()));
    headers
}

/// A forwarded counting call for an upstream model: its path and body (the router puts the model in
/// a body that names it, see [`Counting::model_in_body`]).
type Forwarded<'b> = (String, Cow<'b, [u8]>);

/// One client protocol's counting call: how its body is forwarded, read and answered.
struct Counting<'b> {
    /// The client's protocol (a provider speaking it gets the body untouched).
    protocol: Protocol,
    /// The forwarded call for a target's `model`: its path and body.
    forward: &'b dyn Fn(&str) -> Forwarded<'b>,
    /// Whether the forwarded body names the model (Gemini's path does).
    model_in_body: bool,
    /// The request in neutral form (for providers asked in their own form).
    neutral: Result<ChatRequest, ApiError>,
    /// A count in the client's shape.
    render: fn(u32) -> String,
    errors: ErrorFormat,
}

/// `POST /v1/messages/count_tokens`. Never a 404 for a model the gateway serves.
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
    let forward = |_: &str| ("messages/count_tokens".to_string(), Cow::from(&body[..]));
    let counting = Counting {
        protocol: AnthropicMessages::PROTOCOL,
        forward: &forward,
        model_in_body: true,
        neutral: anthropic_messages::count_request(&body),
        render: |n| format!(r#"{{"input_tokens":{n}}}"#),
        errors,
    };
    let not_found = || ApiError::model_not_found(&routing.model);
    count(config, client, &routing.model, counting, not_found, out);
}

/// `POST …/models/{model}:countTokens` (the Gemini API). Never a 404 for a model the gateway
/// serves.
pub fn gemini(config: &Config, client: &Client, model: &str, body: &[u8], out: ResponseOutparam) {
    use crate::surfaces::gemini;
    let errors = ErrorFormat::Google;
    if let Err(error) = targets::check_model_name(config, model) {
        return send_error(out, &error, errors, client.cors);
    }
    let forward = |upstream: &str| {
        (
            gemini::forward_path(upstream, "countTokens", ""),
            Cow::from(gemini::count_body_for(body, upstream)),
        )
    };
    let counting = Counting {
        protocol: Protocol::GeminiGenerateContent,
        forward: &forward,
        model_in_body: false,
        neutral: gemini::count_request(body),
        render: |n| format!(r#"{{"totalTokens":{n}}}"#),
        errors,
    };
    count(
        config,
        client,
        model,
        counting,
        || gemini::not_found(model),
        out,
    );
}

/// Count `model`'s request: its targets in turn, then the estimate.
fn count(
    config: &Config,
    client: &Client,
    model: &str,
    counting: Counting,
    not_found: impl Fn() -> ApiError,
    out: ResponseOutparam,
) {
    let served = config.route_name(model);
    let served: &str = &served;
    let targets = config.targets(served).unwrap_or_default();
    if targets.is_empty() && !(served == ECHO_MODEL && config.echo_model) {
        return send_error(out, &not_found(), counting.errors, client.cors);
    }
    let attempts = match targets::attempts(config, &targets, rotation) {
        Ok(attempts) => attempts,
        Err(error) => return send_error(out, &error, counting.errors, client.cors),
    };
    let out = match ask(config, client, &attempts, &counting, out) {
        Asked::Answered => return,
        Asked::Refused(out, error) => return send_error(out, &error, counting.errors, client.cors),
        Asked::Estimate(out) => out,
    };
    match &counting.neutral {
        Ok(request) => {
            let estimate = crate::surfaces::anthropic_messages::estimate_tokens(request);
            let reply = (counting.render)(estimate);
            transport::respond(
                out,
                200,
                count_headers(client, "estimate"),
                reply.as_bytes(),
            );
        }
        Err(error) => send_error(out, error, counting.errors, client.cors),
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

/// How a target is asked.
enum Call {
    /// The client's body, forwarded: the provider's answer goes back untouched.
    Forwarded(HttpRequest),
    /// The provider's own counting request: its count is answered in the client's shape.
    Own(HttpRequest),
}

/// The call asking `attempt`'s provider (`None`: it cannot count).
fn call_for(
    attempt: &Attempt,
    target: &mut Target,
    client: &Client,
    counting: &Counting,
) -> Result<Option<Call>, ApiError> {
    if attempt.provider.forwards_protocol(counting.protocol) {
        if counting.protocol == Protocol::AnthropicMessages {
            use crate::surfaces::anthropic_messages::AnthropicMessages;
            AnthropicMessages::forward_target(target, attempt.provider, client.headers);
        }
        let (path, body) = (counting.forward)(attempt.model);
        let read = ForwardedBody {
            model: counting.model_in_body.then(|| attempt.model.to_string()),
            stream: false,
        };
        let Ok(forwarding) = adapter::forward_request(target, counting.protocol, &path, &read)
        else {
            return Ok(None);
        };
        return forwarding::request(forwarding, &body, read.model.as_deref(), None)
            .map(|request| Some(Call::Forwarded(request)));
    }
    let Ok(request) = &counting.neutral else {
        return Ok(None);
    };
    let mut request = request.clone();
    request.model = attempt.model.to_string();
    Ok(adapter::build_count_request(target, &request)
        .ok()
        .map(Call::Own))
}

/// Ask each attempt's provider for its count, in turn. Another key or provider is tried after a
/// 429, 5xx, 401/403 or a failed connection; a 404 (no endpoint) or a provider that cannot count
/// ends the asking.
fn ask(
    config: &Config,
    client: &Client,
    attempts: &[Attempt],
    counting: &Counting,
    out: ResponseOutparam,
) -> Asked {
    for attempt in attempts {
        let Ok(mut target) = target(attempt, &config.timeouts) else {
            continue;
        };
        let call = match call_for(attempt, &mut target, client, counting) {
            Ok(Some(call)) => call,
            Ok(None) => continue,
            Err(error) => return Asked::Refused(out, error),
        };
        let request = match &call {
            Call::Forwarded(request) | Call::Own(request) => request,
        };
        if !upstream::on_origin(request, &target) {
            continue;
        }
        let Ok(reply) = upstream::call(request, &config.timeouts) else {
            continue;
        };
        if reply.status == 404 {
            break;
        }
        if reply.status == 429 || reply.status >= 500 || reply.status == 401 || reply.status == 403
        {
            continue;
        }
        let redacted = upstream::redactor(config, Some(&target.api_key)).bytes(&reply.body);
        match call {
            Call::Forwarded(_) => {
                let headers = count_headers(client, "provider");
                transport::respond(out, reply.status, headers, &redacted);
                return Asked::Answered;
            }
            Call::Own(_) => {
                match adapter::parse_count_response(
                    &target.kind,
                    reply.status,
                    &reply.headers,
                    &redacted,
                ) {
                    Ok(n) => {
                        let body = (counting.render)(n);
                        let headers = count_headers(client, "provider");
                        transport::respond(out, 200, headers, body.as_bytes());
                        return Asked::Answered;
                    }
                    Err(error) if error.kind == ErrorKind::InvalidRequest => {
                        return Asked::Refused(out, ApiError::from_upstream(&error));
                    }
                    Err(_) => continue,
                }
            }
        }
    }
    Asked::Estimate(out)
}
