//! The Anthropic Messages surface: `POST /v1/messages` (what Claude Code and the anthropic SDKs
//! send) and the local token estimate behind `POST /v1/messages/count_tokens`.
//!
//! Requests to Anthropic providers are forwarded untouched (see `forward_target` for the headers);
//! everything else is for translation to other providers and back:
//!
//! - `wire.rs`: the request as clients send it
//! - `request.rs`: its conversion to the neutral form
//! - `render.rs`: `message` objects
//! - `stream.rs`: the event stream
//! - `estimate.rs`: the local `count_tokens` estimate

mod estimate;
mod render;
mod request;
mod stream;
mod wire;

use apex_adapter_kit::types::{ChatRequest, ChatResponse, Protocol, Target};
use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{Value, json};

pub use estimate::estimate_tokens;
pub use render::render_response;
pub use request::to_neutral;
pub use stream::EventWriter;
pub use wire::WireRequest;

use crate::config::Provider;
use crate::http::error::{ApiError, ErrorFormat};
use crate::surfaces::openai_chat::parse_json;
use crate::surfaces::{Delivered, PathParams, Routing, Surface, place_of};
use stream::sse;

/// `POST /v1/messages`.
pub struct AnthropicMessages;

impl Surface for AnthropicMessages {
    const PROTOCOL: Protocol = Protocol::AnthropicMessages;
    const FORWARD_PATH: &'static str = "messages";
    const ID_PREFIX: &'static str = "msg_";
    const ERRORS: ErrorFormat = ErrorFormat::Anthropic;
    const CARRIES_REASONING: bool = true;
    type Writer = EventWriter;

    /// What a forwarded event delivered: `message_stop` ends the answer, an `error` event fails
    /// it (the stream is not continued elsewhere: its content blocks are numbered).
    fn forwarded_usage(body: &[u8]) -> Option<crate::state::usage::Tokens> {
        use crate::surfaces::reported_usage::{AnthropicUsage, from_body};
        from_body::<AnthropicUsage>(body, "usage").map(|u| u.tokens())
    }

    fn forwarded_event(data: &[u8]) -> Option<Delivered> {
        Some(stream::delivered(data))
    }

    fn routing(body: &[u8], _path: PathParams) -> Result<Routing, ApiError> {
        let fields = parse_json::<RoutingFields>(body)?;
        Ok(Routing {
            model_at: place_of(body, &fields.model),
            tool_calls_back: None,
            model: fields.model.into_owned(),
            stream: fields.stream.unwrap_or(false),
            include_usage: true,
            echo: Value::Null,
            hosted_tools: crate::surfaces::hosted_tools::in_anthropic_tools(
                fields.tools.as_deref(),
            ),
            tool_names: Default::default(),
        })
    }

    fn to_neutral(body: &[u8]) -> Result<ChatRequest, ApiError> {
        to_neutral(parse_json::<WireRequest>(body)?, true)
    }

    fn render(
        response: &ChatResponse,
        id: &str,
        model: &str,
        _created: u64,
        _routing: &Routing,
    ) -> Vec<u8> {
        render_response(response, id, model)
    }

    fn writer(id: String, model: String, _created: u64, _routing: &Routing) -> EventWriter {
        EventWriter::new(id, model)
    }

    /// Anthropic's own keepalive event.
    fn keepalive(out: &mut Vec<u8>) {
        sse(out, "ping", &json!({"type": "ping"}));
    }

    fn forward_target(target: &mut Target, provider: &Provider, client: &[(String, String)]) {
        forward_headers(target, provider, client);
    }
}

/// The client's `anthropic-version` (when the provider does not pin one) and the `anthropic-beta`
/// flags the provider's allow-list lets through (all of them when it has none).
fn forward_headers(target: &mut Target, provider: &Provider, client: &[(String, String)]) {
    // Only Anthropic's own protocol has these headers; other kinds use api_version otherwise.
    if !provider.forwards_protocol(Protocol::AnthropicMessages) {
        return;
    }
    if target.api_version.is_none() {
        target.api_version =
            apex_adapter_kit::http::header(client, "anthropic-version").map(str::to_string);
    }
    let flags: Vec<&str> = client
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("anthropic-beta"))
        .flat_map(|(_, value)| value.split(','))
        .map(str::trim)
        .filter(|flag| !flag.is_empty())
        .filter(|flag| provider.allows_beta(flag))
        .collect();
    let configured = target
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("anthropic-beta"));
    if !flags.is_empty() && !configured {
        target
            .headers
            .push(("anthropic-beta".to_string(), flags.join(",")));
    }
}

#[derive(Deserialize)]
struct RoutingFields<'a> {
    #[serde(borrow)]
    model: Cow<'a, str>,
    stream: Option<bool>,
    #[allow(dead_code)] // checked to be an array, not used
    messages: Vec<serde::de::IgnoredAny>,
    tools: Option<Box<serde_json::value::RawValue>>,
}

/// A `count_tokens` body (no `max_tokens`) in neutral form, for the local estimate.
pub fn count_request(body: &[u8]) -> Result<ChatRequest, ApiError> {
    to_neutral(parse_json::<WireRequest>(body)?, false)
}
