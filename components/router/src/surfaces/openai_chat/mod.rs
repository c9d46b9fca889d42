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

use apex_adapter_kit::body_edit::IsName;
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
            tool_calls_back: Some(fields.messages.iter().any(|m| m.has_tool_calls)),
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
    messages: Vec<MessagePeek>,
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

/// A message as routing reads it: skipped, but for whether it has `tool_calls`. Any JSON value
/// is taken (a message that is not an object is refused when the request is translated).
struct MessagePeek {
    has_tool_calls: bool,
}

impl<'de> Deserialize<'de> for MessagePeek {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
        struct Peek;
        const SKIPPED: MessagePeek = MessagePeek {
            has_tool_calls: false,
        };

        impl<'de> Visitor<'de> for Peek {
            type Value = MessagePeek;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a message")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MessagePeek, A::Error> {
                let mut has_tool_calls = false;
                while let Some(is_it) = map.next_key_seed(IsName("tool_calls"))? {
                    has_tool_calls |= is_it;
                    map.next_value::<IgnoredAny>()?;
                }
                Ok(MessagePeek { has_tool_calls })
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MessagePeek, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(SKIPPED)
            }

            fn visit_str<E>(self, _: &str) -> Result<MessagePeek, E> {
                Ok(SKIPPED)
            }

            fn visit_bool<E>(self, _: bool) -> Result<MessagePeek, E> {
                Ok(SKIPPED)
            }

            fn visit_i64<E>(self, _: i64) -> Result<MessagePeek, E> {
                Ok(SKIPPED)
            }

            fn visit_u64<E>(self, _: u64) -> Result<MessagePeek, E> {
                Ok(SKIPPED)
            }

            fn visit_f64<E>(self, _: f64) -> Result<MessagePeek, E> {
                Ok(SKIPPED)
            }

            fn visit_unit<E>(self) -> Result<MessagePeek, E> {
                Ok(SKIPPED)
            }
        }

        deserializer.deserialize_any(Peek)
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
    fn routing_reads_whether_tool_calls_come_back() {
        let back = |body: &[u8]| {
            OpenAiChat::routing(body, PathParams::default())
                .unwrap()
                .tool_calls_back
        };
        let called = br#"{"model": "m", "messages": [{"role": "user", "content": "hi"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
            "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "42"}]}"#;
        assert_eq!(back(called), Some(true));
        // Named in text, or under another member: not a call coming back.
        let named =
            br#"{"model": "m", "messages": [{"role": "user", "content": "\"tool_calls\": []",
            "x": {"tool_calls": 1}}]}"#;
        assert_eq!(back(named), Some(false));
        // What is not a message object is left for translation to refuse, as before.
        assert_eq!(
            back(br#"{"model": "m", "messages": ["hi", 1, null, [2]]}"#),
            Some(false)
        );
        assert!(OpenAiChat::routing(br#"{"model": "m"}"#, PathParams::default()).is_err());
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
