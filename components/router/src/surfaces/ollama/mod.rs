//! The Ollama API surface, for clients that speak only Ollama (JetBrains AI Assistant, Continue,
//! Open WebUI, the `ollama` libraries): `POST /api/chat`, `POST /api/generate`, and the model
//! endpoints they probe first (`GET /api/tags`, `POST /api/show`, `GET /api/ps`,
//! `GET /api/version`).
//!
//! Ollama is not a provider protocol here, so nothing is forwarded: every request is translated.
//! Streams are NDJSON (one JSON object per line), `stream` defaults to `true`, and a failure after
//! the first line is a `{"error": "..."}` line.
//!
//! Chat and generate are one surface, [`Ollama`], over an [`Endpoint`]: what differs is how a
//! request is read (messages or a prompt) and the shape of a reply object (`message` or
//! `response`).
//!
//! - `wire.rs`: the request bodies
//! - `request.rs`: their conversion to the neutral form
//! - `render.rs`: reply objects (whole replies, load replies)
//! - `stream.rs`: NDJSON streams
//! - `models.rs`: `tags`, `ps`, `show`, `version`
//!
//! Conventions (documented for the clients that cache on them):
//! - Names: `<alias>:latest` when the alias has no tag; a trailing `:latest` is ignored on input
//!   ([`model_name`]).
//! - `created_at`: RFC 3339 UTC with six fractional digits, as in Ollama's docs
//!   (`2023-08-04T19:22:45.000000Z`); the gateway knows whole seconds only.
//! - Durations on the final line are 0: the surface has no timings (counts come from usage).
//! - Model metadata ([`tags`], [`show`], [`ps`]) is derived from the config only, so it is stable:
//!   `digest` is the SHA-256 of the alias and its targets, `modified_at` is [`MODIFIED_AT`].

pub mod models;
mod render;
mod request;
mod stream;
mod wire;

use std::marker::PhantomData;

use apex_adapter_kit::types::{ChatRequest, ChatResponse, Protocol};

pub use models::{MODIFIED_AT, OLLAMA_VERSION, ps, show, tags, version};
pub use render::{Line, chat_load_reply, created_at, load_reply, render_chat, render_generate};
pub use request::sniff_media_type;
pub use stream::NdjsonWriter;

use crate::http::error::{ApiError, ErrorFormat};
use crate::surfaces::openai_chat::parse_json;
use crate::surfaces::{Routing, Surface};

/// What differs between `POST /api/chat` and `POST /api/generate`.
pub trait Endpoint {
    /// Whether replies carry tool calls (generate requests have no tools).
    const TOOL_CALLS: bool;
    /// What routing reads from a body.
    fn peek(body: &[u8]) -> Result<Peek, ApiError>;
    /// The whole request in neutral form.
    fn to_neutral(body: &[u8]) -> Result<ChatRequest, ApiError>;
    /// Append one reply object (no newline).
    fn write(line: Line, out: &mut Vec<u8>);
}

/// What routing reads from an Ollama body.
pub struct Peek {
    model: String,
    stream: Option<bool>,
    /// Ollama's "load the model" call: no messages, or no prompt.
    load: bool,
}

/// `POST /api/chat`: messages in, a `message` out.
pub struct Chat;

impl Endpoint for Chat {
    const TOOL_CALLS: bool = true;

    fn peek(body: &[u8]) -> Result<Peek, ApiError> {
        let fields = parse_json::<wire::ChatRoutingFields>(body)?;
        Ok(Peek {
            model: fields.model,
            stream: fields.stream,
            load: fields.messages.is_none_or(|m| m.is_empty()),
        })
    }

    fn to_neutral(body: &[u8]) -> Result<ChatRequest, ApiError> {
        request::chat_to_neutral(parse_json::<wire::ChatWire>(body)?)
    }

    fn write(line: Line, out: &mut Vec<u8>) {
        render::write_chat(line, out);
    }
}

/// `POST /api/generate`: a prompt in, a `response` out.
pub struct Generate;

impl Endpoint for Generate {
    const TOOL_CALLS: bool = false;

    fn peek(body: &[u8]) -> Result<Peek, ApiError> {
        let fields = parse_json::<wire::GenerateRoutingFields>(body)?;
        Ok(Peek {
            model: fields.model,
            stream: fields.stream,
            load: fields.prompt.is_none_or(|p| p.is_empty()),
        })
    }

    fn to_neutral(body: &[u8]) -> Result<ChatRequest, ApiError> {
        request::generate_to_neutral(parse_json::<wire::GenerateWire>(body)?)
    }

    fn write(line: Line, out: &mut Vec<u8>) {
        render::write_generate(line, out);
    }
}

/// An Ollama endpoint as a surface.
pub struct Ollama<E>(PhantomData<E>);

/// `POST /api/chat`.
pub type OllamaChat = Ollama<Chat>;

/// `POST /api/generate`.
pub type OllamaGenerate = Ollama<Generate>;

impl<E: Endpoint> Surface for Ollama<E> {
    /// Unused: [`Self::FORWARDS`] is `false`.
    const PROTOCOL: Protocol = Protocol::OpenaiChat;
    const FORWARDS: bool = false;
    const FORWARD_PATH: &'static str = "";
    /// Ollama replies carry no ids.
    const ID_PREFIX: &'static str = "";
    const ERRORS: ErrorFormat = ErrorFormat::Ollama;
    const STREAM_CONTENT_TYPE: &'static str = "application/x-ndjson";
    /// NDJSON has no line a client ignores.
    const KEEPALIVE: bool = false;
    type Writer = NdjsonWriter<E>;

    fn model_not_found(model: &str) -> ApiError {
        not_found(model)
    }

    fn routing(body: &[u8]) -> Result<Routing, ApiError> {
        let peek = E::peek(body)?;
        Ok(Routing {
            model: model_name(&peek.model).to_string(),
            stream: peek.stream.unwrap_or(true),
            include_usage: true,
            echo: serde_json::Value::Null,
        })
    }

    fn to_neutral(body: &[u8]) -> Result<ChatRequest, ApiError> {
        E::to_neutral(body)
    }

    fn render(
        response: &ChatResponse,
        _id: &str,
        model: &str,
        created: u64,
        _routing: &Routing,
    ) -> Vec<u8> {
        render::render::<E>(response, model, created)
    }

    fn writer(_id: String, model: String, created: u64, _routing: &Routing) -> NdjsonWriter<E> {
        NdjsonWriter::new(model, created)
    }
}

impl<E: Endpoint> Ollama<E> {
    /// Whether the body is Ollama's "load the model" call (chat without messages, generate with an
    /// empty or absent `prompt`): it gets [`Ollama::load_reply`] at once instead of a provider
    /// round trip.
    pub fn is_load(body: &[u8]) -> bool {
        E::peek(body).is_ok_and(|peek| peek.load)
    }

    /// The answer to a load call: `done` at once, `done_reason` `load`.
    pub fn load_reply(model: &str, created: u64) -> Vec<u8> {
        render::load::<E>(model, created)
    }
}

/// Ollama's answer for a model it does not have.
fn not_found(model: &str) -> ApiError {
    ApiError::not_found(format!("model \"{model}\" not found, try pulling it first"))
}

/// The model a client asked for, without Ollama's default tag: `gpt-4o:latest` is `gpt-4o`.
/// Other tags are part of the name.
pub fn model_name(requested: &str) -> &str {
    requested.strip_suffix(":latest").unwrap_or(requested)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neither_endpoint_forwards_and_names_lose_latest() {
        assert_eq!(model_name("a:latest"), "a");
        assert_eq!(model_name("a:7b"), "a:7b");
        const { assert!(!<OllamaChat as Surface>::FORWARDS) };
        const { assert!(!<OllamaGenerate as Surface>::FORWARDS) };
        assert_eq!(OllamaChat::ERRORS, ErrorFormat::Ollama);
    }

    #[test]
    fn load_calls_are_recognised() {
        assert!(OllamaChat::is_load(br#"{"model":"m"}"#));
        assert!(OllamaChat::is_load(br#"{"model":"m","messages":[]}"#));
        assert!(!OllamaChat::is_load(
            br#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#
        ));
        assert!(OllamaGenerate::is_load(br#"{"model":"m"}"#));
        assert!(OllamaGenerate::is_load(
            br#"{"model":"m","prompt":"","keep_alive":0}"#
        ));
        assert!(!OllamaGenerate::is_load(br#"{"model":"m","prompt":"x"}"#));
        let reply: serde_json::Value = serde_json::from_slice(&load_reply("m", 0)).unwrap();
        assert_eq!(
            reply,
            serde_json::json!({"model":"m","created_at":"1970-01-01T00:00:00.000000Z","response":"","done":true,"done_reason":"load"})
        );
        assert_eq!(
            String::from_utf8(load_reply("m", 0)).unwrap(),
            r#"{"model":"m","created_at":"1970-01-01T00:00:00.000000Z","response":"","done":true,"done_reason":"load"}"#
        );
        assert_eq!(
            String::from_utf8(chat_load_reply("m", 0)).unwrap(),
            r#"{"model":"m","created_at":"1970-01-01T00:00:00.000000Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"load"}"#
        );
        assert_eq!(OllamaChat::load_reply("m", 0), chat_load_reply("m", 0));
        assert_eq!(OllamaGenerate::load_reply("m", 0), load_reply("m", 0));
    }
}
