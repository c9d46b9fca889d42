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

mod endpoint;
pub mod models;
mod render;
mod request;
mod stream;
mod wire;

use std::marker::PhantomData;

use apex_adapter_kit::types::{ChatRequest, ChatResponse, Protocol};

pub use endpoint::{
    Chat, Endpoint, Generate, Peek, chat_load_reply, load_reply, render_chat, render_generate,
};
pub use models::{MODIFIED_AT, OLLAMA_VERSION, ps, show, tags, version};
pub use render::{Line, created_at};
pub use request::sniff_media_type;
pub use stream::NdjsonWriter;
pub use wire::model_name;

use crate::http::error::{ApiError, ErrorFormat};
use crate::surfaces::{PathParams, Routing, Surface};

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

    fn routing(body: &[u8], _path: PathParams) -> Result<Routing, ApiError> {
        let peek = E::peek(body)?;
        Ok(Routing {
            model: model_name(&peek.model).to_string(),
            model_at: None,
            tool_calls_back: None,
            stream: peek.stream.unwrap_or(true),
            include_usage: true,
            echo: serde_json::Value::Null,
            hosted_tools: Vec::new(),
            tool_names: Default::default(),
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
        render::render_with(E::write, response, model, created)
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
        render::load_with(E::write, model, created)
    }
}

/// Ollama's answer for a model it does not have.
fn not_found(model: &str) -> ApiError {
    ApiError::not_found(format!("model \"{model}\" not found, try pulling it first"))
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
