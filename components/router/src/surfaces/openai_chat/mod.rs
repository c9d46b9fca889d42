//! The OpenAI Chat Completions surface: `POST /v1/chat/completions`.
//!
//! - `wire.rs`: the request as clients send it
//! - `request.rs`: its conversion to the neutral form
//! - `render.rs`: `chat.completion` objects
//! - `stream.rs`: `chat.completion.chunk` events
//! - here: the surface, what routing reads, and [`parse_json`] (shared by every surface)

mod render;
mod request;
mod stream;
mod wire;

use apex_adapter_kit::types::{ChatRequest, ChatResponse, Protocol};
use std::borrow::Cow;

use serde::Deserialize;

pub use render::render_response;
pub use request::to_neutral;
pub use stream::ChunkWriter;
pub use wire::WireRequest;

use crate::http::error::{ApiError, ErrorFormat};
use crate::surfaces::{Delivered, PathParams, Routing, Surface, place_of};

/// `POST /v1/chat/completions`.
pub struct OpenAiChat;

impl Surface for OpenAiChat {
    const PROTOCOL: Protocol = Protocol::OpenaiChat;
    const FORWARD_PATH: &'static str = "chat/completions";
    const ID_PREFIX: &'static str = "chatcmpl-";
    const ERRORS: ErrorFormat = ErrorFormat::OpenAi;
    type Writer = ChunkWriter;

    fn routing(body: &[u8], _path: PathParams) -> Result<Routing, ApiError> {
        let fields = parse_json::<RoutingFields>(body)?;
        Ok(Routing {
            stream: fields.stream(),
            include_usage: fields.include_usage(),
            hosted_tools: fields.hosted_tools(),
            tool_names: Default::default(),
            model_at: place_of(body, &fields.model),
            model: fields.model.into_owned(),
            echo: serde_json::Value::Null,
        })
    }

    fn to_neutral(body: &[u8]) -> Result<ChatRequest, ApiError> {
        to_neutral(parse_json::<WireRequest>(body)?)
    }

    fn render(
        response: &ChatResponse,
        id: &str,
        model: &str,
        created: u64,
        _routing: &Routing,
    ) -> Vec<u8> {
        render_response(response, id, model, created)
    }

    fn writer(id: String, model: String, created: u64, routing: &Routing) -> ChunkWriter {
        ChunkWriter::new(id, model, created, routing.include_usage)
    }

    /// What each forwarded chunk delivered.
    fn forwarded_event(data: &[u8]) -> Option<Delivered> {
        Some(stream::delivered(data))
    }

    fn forwarded_usage(body: &[u8]) -> Option<crate::state::usage::Tokens> {
        use crate::surfaces::reported_usage::{ChatUsage, from_body};
        from_body::<ChatUsage>(body, "usage").map(|u| u.tokens())
    }

    /// Chunks stand alone: a fresh writer's chunks continue any stream.
    const CONTINUES_FORWARDED: bool = true;
}

#[derive(Deserialize)]
struct StreamOptions {
    include_usage: Option<bool>,
}

/// What routing needs from a body: checked up front for every request. The rest is validated only
/// when a target translates it (forwarding keeps fields the neutral form cannot hold).
#[derive(Deserialize)]
pub struct RoutingFields<'a> {
    #[serde(borrow)]
    pub model: Cow<'a, str>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    #[allow(dead_code)] // checked to be an array of objects, not used
    messages: Vec<serde::de::IgnoredAny>,
    /// OpenAI's search models search the web when this is present (a hosted tool).
    web_search_options: Option<serde::de::IgnoredAny>,
}

impl RoutingFields<'_> {
    /// The hosted tools the request offers: web search, for OpenAI's search models.
    pub fn hosted_tools(&self) -> Vec<String> {
        match self.web_search_options {
            Some(_) => vec!["web_search".to_string()],
            None => Vec::new(),
        }
    }

    pub fn stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    /// Whether the client asked for usage in its stream.
    pub fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }
}

/// Parse a body (nothing but whitespace may follow the value), naming the field at fault when it
/// does not fit.
pub fn parse_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize(&mut de) {
        Ok(value) => match de.end() {
            Ok(()) => Ok(value),
            Err(trailing) => Err(ApiError::bad_request(format!(
                "Request body is not valid JSON: {trailing}"
            ))),
        },
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let message = if inner.is_syntax() || inner.is_eof() {
                format!("Request body is not valid JSON: {inner}")
            } else if path == "." {
                format!("Invalid request body: {inner}")
            } else {
                format!("Invalid request body at `{path}`: {inner}")
            };
            Err(ApiError::bad_request(message))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::surfaces::anthropic_messages::AnthropicMessages;
    use crate::surfaces::responses::Responses;

    fn model_text<S: Surface>(body: &[u8]) -> Option<&[u8]> {
        let routing = S::routing(body, PathParams::default()).unwrap();
        routing.model_at.map(|at| &body[at])
    }

    #[test]
    fn routing_notes_where_the_model_is() {
        let chat = br#"{"messages": [{"role": "user", "content": "\"model\": \"x\""}], "model" : "gpt-4o"}"#;
        assert_eq!(model_text::<OpenAiChat>(chat), Some(&br#""gpt-4o""#[..]));
        let messages =
            br#"{"model":"claude","max_tokens":5,"messages":[{"role":"user","content":"model"}]}"#;
        assert_eq!(
            model_text::<AnthropicMessages>(messages),
            Some(&br#""claude""#[..])
        );
        assert_eq!(
            model_text::<Responses>(br#"{"input":"model","model":"o3"}"#),
            Some(&br#""o3""#[..])
        );
        // Escaped: decoded into a copy, so no place (forwarding scans for it).
        let escaped = br#"{"model": "gpt-\u0034o", "messages": []}"#;
        let routing = OpenAiChat::routing(escaped, PathParams::default()).unwrap();
        assert_eq!((routing.model.as_str(), routing.model_at), ("gpt-4o", None));
    }

    #[test]
    fn a_body_with_anything_after_its_object_is_refused() {
        let error = parse_json::<RoutingFields>(br#"{"model": "m", "messages": []} {}"#)
            .err()
            .unwrap();
        assert_eq!(error.status, 400);
        assert!(
            error
                .message
                .starts_with("Request body is not valid JSON: trailing characters"),
            "{}",
            error.message
        );
        assert!(parse_json::<RoutingFields>(b"{\"model\": \"m\", \"messages\": []}\n ").is_ok());
    }
}
