//! Client protocols. Each surface converts its protocol to the neutral form and back; `dispatch`
//! runs any [`Surface`] through routing, forwarding, translation and failover.
//!
//! - `openai_chat`: `POST /v1/chat/completions`
//! - `anthropic_messages`: `POST /v1/messages` (and `count_tokens`)
//! - `responses`: `POST /v1/responses` (and the stored responses behind it)
//! - `models`: `GET /v1/models`
//! - `ollama`: the Ollama API (`POST /api/chat`, `POST /api/generate`, `GET /api/tags`,
//!   `POST /api/show`, `GET /api/ps`, `GET /api/version`)
//! - `embeddings`: embeddings on the OpenAI and Ollama surfaces (`POST /v1/embeddings`,
//!   `/api/embed`, `/api/embeddings`; Gemini's are in `gemini::embed`)
//! - `gemini`: Google's Gemini API (`POST /v1beta/models/{model}:generateContent`,
//!   `:streamGenerateContent`, `:countTokens`, `GET /v1beta/models`), also under `/v1/`
//!
//! Each protocol is a folder: `wire` (the body as clients send it), `request` (to the neutral
//! form), `render` (whole answers), `stream` (the stream format). Their cases — a client body and
//! its neutral request or error, a neutral answer and its bytes, neutral events and the stream
//! written — are data in `components/router/fixtures/<surface>/<case>/`, run by
//! `tests/surfaces.rs` (`APEX_BLESS=1` rewrites the expectations).

pub mod anthropic_messages;
pub mod embeddings;
pub mod forwarding;
pub mod function_tool;
pub mod gemini;
pub mod hosted_tools;
pub mod models;
pub mod ollama;
pub mod openai_chat;
pub mod reported_usage;
pub mod responses;
pub mod text_or_list;

use apex_adapter_kit::types::{ChatRequest, ChatResponse, Protocol, StreamEvent, Target};

use crate::config::Provider;
use crate::http::error::{ApiError, ErrorFormat};

/// What routing needs from a request body: checked up front for every request. The rest is
/// validated only when a target translates it (forwarding keeps fields the neutral form cannot hold).
#[derive(Debug, Clone, PartialEq)]
pub struct Routing {
    pub model: String,
    /// Where the model's value lies in the body routing was read from (its bytes, quotes
    /// included), when it was read in place: a forward puts the upstream model there without
    /// scanning the body again (see [`place_of`]).
    pub model_at: Option<std::ops::Range<usize>>,
    /// Whether the client's messages hold tool calls coming back, when routing read it (OpenAI
    /// chat: an assistant message with `tool_calls`); `None`: a byte search answers instead.
    pub tool_calls_back: Option<bool>,
    pub stream: bool,
    /// Whether an OpenAI client asked for usage in its stream (`stream_options.include_usage`).
    pub include_usage: bool,
    /// Request settings the surface repeats in its answers (the Responses object echoes them).
    pub echo: serde_json::Value,
    /// The hosted tools the request offers (see [`hosted_tools`]): kept when forwarded, dropped or
    /// refused when translated.
    pub hosted_tools: Vec<String>,
    /// Tools whose calls the surface renders in a form of its own.
    pub tool_names: ToolNames,
}

/// Tool names a surface renders calls of in a form of their own (the Responses API's namespaces
/// and custom tools, `responses::tools`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolNames {
    /// Namespaces whose flattened `<namespace>__<name>` calls are split back.
    pub namespaces: Vec<String>,
    /// Custom (freeform) tools, by flattened name: their calls carry text, not JSON arguments.
    pub freeform: Vec<String>,
}

impl Routing {
    pub fn new(model: String, stream: bool) -> Self {
        Self {
            model,
            model_at: None,
            tool_calls_back: None,
            stream,
            include_usage: false,
            echo: serde_json::Value::Null,
            hosted_tools: Vec::new(),
            tool_names: ToolNames::default(),
        }
    }
}

/// Where `text`, a string routing read from `body`, lies in it, quotes included: `None` when it
/// was not read in place (a string with escapes is decoded into a copy elsewhere).
pub fn place_of(body: &[u8], text: &str) -> Option<std::ops::Range<usize>> {
    let at = apex_adapter_kit::body_edit::place_in(body, text.as_bytes())?;
    Some(at.start.checked_sub(1)?..at.end + 1)
}

/// What a request's path says besides the route, for protocols that put request fields in the
/// URL: Gemini names the model there (`/v1beta/models/{model}:generateContent`), not in the body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PathParams<'a> {
    /// The model named by the path (as sent, `models/` prefix removed).
    pub model: Option<&'a str>,
}

/// A finished answer, for surfaces that keep state ([`Surface::record`]).
pub struct Completed<'a> {
    pub id: &'a str,
    pub created: u64,
    /// The model name the client asked for.
    pub model: &'a str,
    /// The gateway key's name.
    pub caller: &'a str,
    pub body: &'a [u8],
    pub routing: &'a Routing,
    pub response: &'a ChatResponse,
    /// How long stored state lives (`responses_ttl_secs`).
    pub ttl_secs: u64,
}

/// What one event of a forwarded stream gave the client, for continuing the stream on another
/// provider when it is cut (`resume`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Answer text.
    pub text: String,
    /// The end of the answer (a finish reason).
    pub finish: bool,
    /// Something a continuation cannot pick up (a tool call, reasoning).
    pub other: bool,
    /// The provider's error event: the stream failed (its message).
    pub error: Option<String>,
    /// Token counts the event reports (running totals, in the neutral convention).
    pub usage: Option<crate::state::usage::Tokens>,
}

/// Renders neutral stream events in a client protocol.
pub trait StreamWriter {
    /// Append the bytes for `event` to `out`. Nothing is written before the first content (text,
    /// thinking, tool call or finish), so a failure right after the provider's start can still
    /// fail over.
    fn event(&mut self, event: &StreamEvent, out: &mut Vec<u8>);
    /// The end of a successful stream (after `finish`).
    fn done(&mut self, out: &mut Vec<u8>);
    /// A failure after the stream began.
    fn error(&mut self, error: &ApiError, out: &mut Vec<u8>);
}

/// One client protocol.
pub trait Surface {
    /// The protocol, for forwarding to providers that speak it.
    const PROTOCOL: Protocol;
    /// The path a forwarded request takes under the provider's base URL.
    const FORWARD_PATH: &'static str;
    /// Prefix of the response ids the gateway makes.
    const ID_PREFIX: &'static str;
    const ERRORS: ErrorFormat;
    /// Whether requests may be forwarded untouched to providers that speak `PROTOCOL`.
    const FORWARDS: bool = true;
    /// Whether a forwarded body names the model (the router puts the upstream one in); Gemini's
    /// names it in the path.
    const MODEL_IN_BODY: bool = true;
    /// Whether the stream format has a keepalive that clients ignore (see [`Surface::keepalive`]).
    const KEEPALIVE: bool = true;
    /// The content type of a stream.
    const STREAM_CONTENT_TYPE: &'static str = "text/event-stream";
    /// Whether finished answers are handed to [`Surface::record`] (streams are accumulated).
    const STORES: bool = false;
    /// Whether the protocol carries signed reasoning back to the gateway (Anthropic thinking
    /// blocks, Responses reasoning items). When it does not, the gateway keeps that reasoning for
    /// the tool calls it led to (`state::carry`).
    const CARRIES_REASONING: bool = false;
    /// Whether the ids of answers a provider made (forwarded requests) are kept with the
    /// provider and key that made them, so follow-ups can be sent to the same place.
    const PINS_IDS: bool = false;
    type Writer: StreamWriter + 'static;

    /// What routing needs, from the body and (for protocols that name the model in the URL) the
    /// path.
    fn routing(body: &[u8], path: PathParams) -> Result<Routing, ApiError>;
    /// The whole request in neutral form (validated; errors name the field).
    fn to_neutral(body: &[u8]) -> Result<ChatRequest, ApiError>;
    fn render(
        response: &ChatResponse,
        id: &str,
        model: &str,
        created: u64,
        routing: &Routing,
    ) -> Vec<u8>;
    fn writer(id: String, model: String, created: u64, routing: &Routing) -> Self::Writer;
    /// Bytes that keep a silent stream alive without meaning anything: an SSE comment by default.
    fn keepalive(out: &mut Vec<u8>) {
        out.extend_from_slice(b": keepalive\n\n");
    }

    /// The path (under the provider's base URL) of a request forwarded to upstream model `model`:
    /// by default [`Surface::FORWARD_PATH`].
    fn forward_path(_model: &str, _routing: &Routing) -> String {
        Self::FORWARD_PATH.to_string()
    }

    /// Whether this request may be forwarded untouched to `provider` (when it speaks `PROTOCOL`).
    fn forwards_to(_provider: &Provider, _body: &[u8]) -> bool {
        Self::FORWARDS
    }

    /// What to keep in the key-value store for a finished answer: `(key, value)`.
    fn record(_done: &Completed) -> Option<(String, Vec<u8>)> {
        None
    }

    /// The error for a model the gateway does not serve.
    fn model_not_found(model: &str) -> ApiError {
        ApiError::model_not_found(model)
    }

    /// What the `data` of one event of a forwarded stream in this protocol delivered (`None`: the
    /// gateway does not read this protocol's forwarded events). Read events tell a stream that
    /// ended before its finish from a complete one, and the text a continuation picks up.
    fn forwarded_event(_data: &[u8]) -> Option<Delivered> {
        None
    }

    /// The token counts of a whole forwarded answer in this protocol, read from its body without
    /// parsing the rest (`None`: none there, or the gateway does not read this protocol's).
    fn forwarded_usage(_body: &[u8]) -> Option<crate::state::usage::Tokens> {
        None
    }

    /// Whether a fresh [`Surface::writer`] can continue a forwarded stream of this protocol after
    /// a cut (its events stand alone), so that `resume` applies to forwarded streams too.
    const CONTINUES_FORWARDED: bool = false;

    /// Adjust a target for a forwarded request (protocol headers the client sent).
    fn forward_target(
        _target: &mut Target,
        _provider: &Provider,
        _client_headers: &[(String, String)],
    ) {
    }
}
