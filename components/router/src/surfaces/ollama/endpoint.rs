//! What differs between `/api/chat` and `/api/generate`: the [`Endpoint`] trait and its two
//! implementations, and their whole replies.

use apex_adapter_kit::types::{ChatRequest, ChatResponse};

use super::render::{self, Line, load_with, render_with};
use super::{request, wire};
use crate::http::error::ApiError;
use crate::surfaces::openai_chat::parse_json;

/// What differs between `POST /api/chat` and `POST /api/generate`.
pub trait Endpoint: 'static {
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
    pub model: String,
    pub stream: Option<bool>,
    /// Ollama's "load the model" call: no messages, or no prompt.
    pub load: bool,
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

/// A neutral response as an `/api/chat` reply (`stream: false`).
pub fn render_chat(response: &ChatResponse, model: &str, created: u64) -> Vec<u8> {
    render_with(Chat::write, response, model, created)
}

/// A neutral response as an `/api/generate` reply (`stream: false`). Tool calls are dropped:
/// generate requests carry no tools.
pub fn render_generate(response: &ChatResponse, model: &str, created: u64) -> Vec<u8> {
    render_with(Generate::write, response, model, created)
}

/// The answer to `/api/generate` without a prompt (Ollama's way to load a model):
/// `{"model","created_at","response":"","done":true,"done_reason":"load"}`.
pub fn load_reply(model: &str, created: u64) -> Vec<u8> {
    load_with(Generate::write, model, created)
}

/// The answer to `/api/chat` without messages (Ollama's way to load a model).
pub fn chat_load_reply(model: &str, created: u64) -> Vec<u8> {
    load_with(Chat::write, model, created)
}
