//! The Ollama API surface, for clients that speak only Ollama (JetBrains AI Assistant, Continue,
//! Open WebUI, the `ollama` libraries): `POST /api/chat`, `POST /api/generate`, and the model
//! endpoints they probe first (`GET /api/tags`, `POST /api/show`, `GET /api/ps`,
//! `GET /api/version`).
//!
//! Ollama is not a provider protocol here, so nothing is forwarded: every request is translated.
//! Streams are NDJSON (one JSON object per line), `stream` defaults to `true`, and a failure after
//! the first line is a `{"error": "..."}` line.
//!
//! Conventions (documented for the clients that cache on them):
//! - Names: `<alias>:latest` when the alias has no tag; a trailing `:latest` is ignored on input
//!   ([`model_name`]).
//! - `created_at`: RFC 3339 UTC with six fractional digits, as in Ollama's docs
//!   (`2023-08-04T19:22:45.000000Z`); the gateway knows whole seconds only.
//! - Durations on the final line are 0: the surface has no timings (counts come from usage).
//! - Model metadata ([`tags`], [`show`], [`ps`]) is derived from the config only, so it is stable:
//!   `digest` is the SHA-256 of the alias and its targets, `modified_at` is [`MODIFIED_AT`].

use apex_adapter_kit::types::{
    ChatRequest, ChatResponse, ContentPart, FinishReason, Image, ImageSource, JsonSchemaFormat,
    Message, Protocol, Reasoning, ResponseFormat, Role, StreamEvent, Thinking, Tool, ToolCall,
    ToolResult, ToolResultPart, Usage,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::config::{Config, ECHO_MODEL, TargetRef};
use crate::http::error::{ApiError, ErrorFormat};
use crate::surfaces::openai_chat::parse_json;
use crate::surfaces::{Routing, StreamWriter, Surface};

/// What `GET /api/version` reports: Ollama v0.12.6 (released 2025-10-24). Clients compare it
/// against minimums (VS Code Copilot's Ollama provider wants 0.6.4; `think` came in 0.9, streamed
/// tool calls in 0.8); a newer claim would invite clients to use endpoints the gateway lacks.
pub const OLLAMA_VERSION: &str = "0.12.6";

/// `modified_at` of every listed model: 2025-01-01T00:00:00Z. A constant, so listings stay
/// byte-identical across restarts and deploys (strict clients cache by digest and date), and a
/// real date rather than the epoch, so UIs don't show "56 years ago".
pub const MODIFIED_AT: u64 = 1_735_689_600;

/// How long `GET /api/ps` says a model stays loaded: Ollama's default `keep_alive` (5 minutes).
const KEEP_ALIVE_SECS: u64 = 300;

/// `POST /api/chat`.
pub struct OllamaChat;

impl Surface for OllamaChat {
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
    type Writer = NdjsonWriter;

    fn model_not_found(model: &str) -> ApiError {
        not_found(model)
    }

    fn routing(body: &[u8]) -> Result<Routing, ApiError> {
        let fields = parse_json::<ChatRoutingFields>(body)?;
        Ok(Routing {
            model: model_name(&fields.model).to_string(),
            stream: fields.stream.unwrap_or(true),
            include_usage: true,
            echo: serde_json::Value::Null,
        })
    }

    fn to_neutral(body: &[u8]) -> Result<ChatRequest, ApiError> {
        chat_to_neutral(parse_json::<ChatWire>(body)?)
    }

    fn render(
        response: &ChatResponse,
        _id: &str,
        model: &str,
        created: u64,
        _routing: &Routing,
    ) -> Vec<u8> {
        render_chat(response, model, created)
    }

    fn writer(_id: String, model: String, created: u64, _routing: &Routing) -> NdjsonWriter {
        NdjsonWriter::chat(model, created)
    }
}

impl OllamaChat {
    /// Whether the body is Ollama's "load the model" call (no messages): it gets
    /// [`chat_load_reply`] at once instead of a provider round trip.
    pub fn is_load(body: &[u8]) -> bool {
        parse_json::<ChatRoutingFields>(body).is_ok_and(|f| f.messages.is_none_or(|m| m.is_empty()))
    }
}

/// `POST /api/generate`.
pub struct OllamaGenerate;

impl Surface for OllamaGenerate {
    /// Unused: [`Self::FORWARDS`] is `false`.
    const PROTOCOL: Protocol = Protocol::OpenaiChat;
    const FORWARDS: bool = false;
    const FORWARD_PATH: &'static str = "";
    const ID_PREFIX: &'static str = "";
    const ERRORS: ErrorFormat = ErrorFormat::Ollama;
    const STREAM_CONTENT_TYPE: &'static str = "application/x-ndjson";
    /// NDJSON has no line a client ignores.
    const KEEPALIVE: bool = false;
    type Writer = NdjsonWriter;

    fn model_not_found(model: &str) -> ApiError {
        not_found(model)
    }

    fn routing(body: &[u8]) -> Result<Routing, ApiError> {
        let fields = parse_json::<GenerateRoutingFields>(body)?;
        Ok(Routing {
            model: model_name(&fields.model).to_string(),
            stream: fields.stream.unwrap_or(true),
            include_usage: true,
            echo: serde_json::Value::Null,
        })
    }

    fn to_neutral(body: &[u8]) -> Result<ChatRequest, ApiError> {
        generate_to_neutral(parse_json::<GenerateWire>(body)?)
    }

    fn render(
        response: &ChatResponse,
        _id: &str,
        model: &str,
        created: u64,
        _routing: &Routing,
    ) -> Vec<u8> {
        render_generate(response, model, created)
    }

    fn writer(_id: String, model: String, created: u64, _routing: &Routing) -> NdjsonWriter {
        NdjsonWriter::generate(model, created)
    }
}

impl OllamaGenerate {
    /// Whether the body is Ollama's "load the model" call (an empty or absent `prompt`): it gets
    /// [`load_reply`] at once instead of a provider round trip.
    pub fn is_load(body: &[u8]) -> bool {
        parse_json::<GenerateRoutingFields>(body)
            .is_ok_and(|f| f.prompt.is_none_or(|p| p.is_empty()))
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

/// How an alias is listed: `name:tag`, with `latest` when it has no tag.
fn listed_name(alias: &str) -> String {
    if alias.contains(':') {
        alias.to_string()
    } else {
        format!("{alias}:latest")
    }
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct ChatRoutingFields {
    model: String,
    stream: Option<bool>,
    messages: Option<Vec<serde::de::IgnoredAny>>,
}

#[derive(Deserialize)]
struct GenerateRoutingFields {
    model: String,
    stream: Option<bool>,
    prompt: Option<String>,
}

/// `POST /api/chat`. `keep_alive`, `truncate`, `shift`, `logprobs` and unknown fields are accepted
/// and ignored.
#[derive(Deserialize)]
struct ChatWire {
    model: String,
    messages: Option<Vec<WireMessage>>,
    stream: Option<bool>,
    format: Option<Box<RawValue>>,
    tools: Option<Vec<WireTool>>,
    options: Option<WireOptions>,
    think: Option<Think>,
}

/// `POST /api/generate`. `template`, `context` and `keep_alive` are accepted and ignored.
#[derive(Deserialize)]
struct GenerateWire {
    model: String,
    prompt: Option<String>,
    suffix: Option<String>,
    system: Option<String>,
    images: Option<Vec<String>>,
    #[serde(default)]
    raw: bool,
    stream: Option<bool>,
    format: Option<Box<RawValue>>,
    options: Option<WireOptions>,
    think: Option<Think>,
}

#[derive(Deserialize)]
struct WireMessage {
    role: String,
    content: Option<String>,
    thinking: Option<String>,
    images: Option<Vec<String>>,
    tool_calls: Option<Vec<WireToolCall>>,
    tool_name: Option<String>,
    tool_call_id: Option<String>,
}

#[derive(Deserialize)]
struct WireToolCall {
    id: Option<String>,
    function: WireCallFunction,
}

#[derive(Deserialize)]
struct WireCallFunction {
    name: String,
    arguments: Option<Box<RawValue>>,
}

/// An OpenAI-style function tool (`type` is not checked, as Ollama doesn't).
#[derive(Deserialize)]
struct WireTool {
    function: WireToolFunction,
}

#[derive(Deserialize)]
struct WireToolFunction {
    name: String,
    description: Option<String>,
    parameters: Option<Box<RawValue>>,
}

/// The `options` the neutral form can carry. Runner and sampler settings it cannot (`num_ctx`,
/// `repeat_penalty`, `min_p`, `mirostat`, ...) are accepted and ignored. Integers are read as
/// numbers, as Ollama does (`100.0` is `100`).
#[derive(Deserialize)]
struct WireOptions {
    temperature: Option<f64>,
    top_p: Option<f64>,
    top_k: Option<f64>,
    num_predict: Option<f64>,
    stop: Option<Vec<String>>,
    seed: Option<f64>,
}

/// `think`: `true`/`false`, or an effort level.
enum Think {
    Bool(bool),
    Level(String),
}

impl<'de> Deserialize<'de> for Think {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Think;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("true, false, \"low\", \"medium\" or \"high\"")
            }
            fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<Think, E> {
                Ok(Think::Bool(value))
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Think, E> {
                match value {
                    "low" | "medium" | "high" => Ok(Think::Level(value.to_string())),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(value), &self)),
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

fn reasoning(think: Option<Think>) -> Option<Reasoning> {
    let effort = match think? {
        Think::Bool(false) => return None,
        Think::Bool(true) => "medium".to_string(),
        Think::Level(level) => level,
    };
    Some(Reasoning {
        effort: Some(effort),
        budget_tokens: None,
    })
}

/// `format`: `"json"`, a JSON schema object, or nothing (`""`, `null`).
fn response_format(format: Option<Box<RawValue>>) -> Result<Option<ResponseFormat>, ApiError> {
    let Some(raw) = format else {
        return Ok(None);
    };
    let text = raw.get().trim();
    if text.starts_with('{') {
        return Ok(Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
            name: "response".to_string(),
            schema: text.to_string(),
            strict: None,
        })));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Null) => Ok(None),
        Ok(Value::String(s)) if s.is_empty() => Ok(None),
        Ok(Value::String(s)) if s == "json" => Ok(Some(ResponseFormat::JsonObject)),
        _ => Err(ApiError::bad_request(format!(
            "`format` must be \"json\" or a JSON schema object, not `{text}`."
        ))
        .param("format")),
    }
}

/// A whole-number option, or `None` when absent or negative (Ollama's "no limit"/"random").
fn whole(value: Option<f64>, field: &str) -> Result<Option<u64>, ApiError> {
    match value {
        None => Ok(None),
        Some(v) if v < 0.0 => Ok(None),
        Some(v) if v.fract() == 0.0 && v <= i64::MAX as f64 => Ok(Some(v as u64)),
        Some(v) => Err(ApiError::bad_request(format!(
            "`options.{field}` must be a whole number, not {v}."
        ))
        .param("options")),
    }
}

/// The sampling settings the neutral form carries.
#[derive(Default)]
struct Sampling {
    temperature: Option<f64>,
    top_p: Option<f64>,
    top_k: Option<u32>,
    max_tokens: Option<u32>,
    stop: Vec<String>,
    seed: Option<i64>,
}

fn sampling(options: Option<WireOptions>) -> Result<Sampling, ApiError> {
    let Some(options) = options else {
        return Ok(Sampling::default());
    };
    let to_u32 = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    Ok(Sampling {
        temperature: options.temperature,
        top_p: options.top_p,
        // 0 turns top-k off in Ollama's samplers.
        top_k: whole(options.top_k, "top_k")?
            .filter(|&k| k > 0)
            .map(to_u32),
        // -1 (no limit) and -2 (fill the context) leave the provider's default.
        max_tokens: whole(options.num_predict, "num_predict")?
            .filter(|&n| n > 0)
            .map(to_u32),
        stop: options.stop.unwrap_or_default(),
        seed: whole(options.seed, "seed")?.and_then(|s| i64::try_from(s).ok()),
    })
}

/// One of a message's `images`: base64 (Ollama's form) or, leniently, a base64 `data:` URL.
fn image(data: String, at: &str) -> Result<Image, ApiError> {
    if let Some(rest) = data.strip_prefix("data:")
        && let Some((media_type, base64)) = rest.split_once(";base64,")
    {
        return Ok(Image {
            source: ImageSource::Base64(base64.to_string()),
            media_type: Some(media_type.to_string()).filter(|m| !m.is_empty()),
            detail: None,
        });
    }
    if data.is_empty() {
        return Err(ApiError::bad_request(format!("`{at}` is empty.")).param("images"));
    }
    Ok(Image {
        media_type: sniff_media_type(&data).map(str::to_string),
        source: ImageSource::Base64(data),
        detail: None,
    })
}

/// The image type from the magic bytes at the start of base64 data: PNG, JPEG, GIF or WebP.
pub fn sniff_media_type(base64: &str) -> Option<&'static str> {
    let mut bytes = Vec::with_capacity(12);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in base64.bytes().take(16) {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => break,
        };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        Some("image/webp")
    } else {
        None
    }
}

fn images(list: Option<Vec<String>>, at: &str) -> Result<Vec<Image>, ApiError> {
    list.unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(j, data)| image(data, &format!("{at}.images[{j}]")))
        .collect()
}

/// Tool-call arguments as JSON text: the object's exact bytes (or, leniently, the JSON text of an
/// OpenAI-style string); `{}` when absent.
fn arguments(raw: Option<Box<RawValue>>, at: &str) -> Result<String, ApiError> {
    let Some(raw) = raw else {
        return Ok("{}".to_string());
    };
    let text = raw.get();
    match text.trim_start().as_bytes().first() {
        Some(b'{') => Ok(text.to_string()),
        Some(b'n') => Ok("{}".to_string()),
        Some(b'"') => match serde_json::from_str::<String>(text) {
            Ok(inner) if inner.trim_start().starts_with('{') => Ok(inner),
            Ok(inner) if inner.trim().is_empty() => Ok("{}".to_string()),
            _ => Err(bad_arguments(at)),
        },
        _ => Err(bad_arguments(at)),
    }
}

fn bad_arguments(at: &str) -> ApiError {
    ApiError::bad_request(format!("`{at}.function.arguments` must be a JSON object."))
        .param("messages")
}

/// A tool call of an assistant message, for matching the tool messages that answer it.
struct Issued {
    id: String,
    name: String,
    /// Index of the assistant message that made the call.
    message: usize,
    answered: bool,
}

/// The call a tool message answers: its `tool_call_id`; else the first unanswered call named
/// `tool_name` (any name when it has none) of the latest assistant message with such a call (so
/// two calls of one tool are answered in order); else the tool name itself.
fn answered_call(
    issued: &mut [Issued],
    tool_call_id: Option<String>,
    tool_name: Option<&str>,
    at: &str,
) -> Result<(String, Option<String>), ApiError> {
    if let Some(id) = tool_call_id.filter(|id| !id.is_empty()) {
        let call = issued.iter_mut().find(|c| c.id == id && !c.answered);
        let name = call.map(|c| {
            c.answered = true;
            c.name.clone()
        });
        return Ok((id, tool_name.map(str::to_string).or(name)));
    }
    let open = |c: &Issued| !c.answered && tool_name.is_none_or(|n| c.name == n);
    let latest = issued.iter().filter(|c| open(c)).map(|c| c.message).max();
    if let Some(message) = latest
        && let Some(call) = issued.iter_mut().find(|c| c.message == message && open(c))
    {
        call.answered = true;
        return Ok((call.id.clone(), Some(call.name.clone())));
    }
    match tool_name {
        Some(name) => Ok((name.to_string(), Some(name.to_string()))),
        None => Err(ApiError::bad_request(format!(
            "`{at}`: a tool message needs `tool_name` or `tool_call_id` when no earlier call is unanswered."
        ))
        .param("messages")),
    }
}

fn message(role: Role, content: Vec<ContentPart>) -> Message {
    Message {
        role,
        content,
        name: None,
    }
}

fn chat_to_neutral(request: ChatWire) -> Result<ChatRequest, ApiError> {
    let wire_messages = request.messages.unwrap_or_default();
    if wire_messages.is_empty() {
        return Err(ApiError::bad_request("`messages` must not be empty.").param("messages"));
    }
    let mut messages = Vec::with_capacity(wire_messages.len());
    let mut issued: Vec<Issued> = Vec::new();
    for (i, wire) in wire_messages.into_iter().enumerate() {
        let at = format!("messages[{i}]");
        let content = wire.content.unwrap_or_default();
        let role = wire.role.to_ascii_lowercase();
        let pictures = images(wire.images, &at)?;
        if !pictures.is_empty() && !matches!(role.as_str(), "user" | "tool") {
            return Err(ApiError::bad_request(format!(
                "`{at}.images`: images are only allowed in user and tool messages."
            ))
            .param("messages"));
        }
        messages.push(match role.as_str() {
            "system" => message(Role::System, vec![ContentPart::Text(content)]),
            "user" => {
                let mut parts = Vec::with_capacity(pictures.len() + 1);
                if !content.is_empty() || pictures.is_empty() {
                    parts.push(ContentPart::Text(content));
                }
                parts.extend(pictures.into_iter().map(ContentPart::Image));
                message(Role::User, parts)
            }
            "assistant" => {
                let mut parts = Vec::new();
                if let Some(thinking) = wire.thinking.filter(|t| !t.is_empty()) {
                    parts.push(ContentPart::Thinking(Thinking {
                        text: thinking,
                        signature: None,
                    }));
                }
                if !content.is_empty() {
                    parts.push(ContentPart::Text(content));
                }
                for (j, call) in wire.tool_calls.unwrap_or_default().into_iter().enumerate() {
                    let id = call
                        .id
                        .filter(|id| !id.is_empty())
                        .unwrap_or_else(|| format!("call_{}", issued.len()));
                    let arguments =
                        arguments(call.function.arguments, &format!("{at}.tool_calls[{j}]"))?;
                    issued.push(Issued {
                        id: id.clone(),
                        name: call.function.name.clone(),
                        message: i,
                        answered: false,
                    });
                    parts.push(ContentPart::ToolCall(ToolCall {
                        id,
                        name: call.function.name,
                        arguments,
                    }));
                }
                message(Role::Assistant, parts)
            }
            "tool" => {
                let tool_name = wire.tool_name.filter(|n| !n.is_empty());
                let (call_id, name) =
                    answered_call(&mut issued, wire.tool_call_id, tool_name.as_deref(), &at)?;
                let mut result = vec![ToolResultPart::Text(content)];
                result.extend(pictures.into_iter().map(ToolResultPart::Image));
                message(
                    Role::Tool,
                    vec![ContentPart::ToolResult(ToolResult {
                        call_id,
                        name,
                        content: result,
                        is_error: false,
                    })],
                )
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "`{at}.role` must be `system`, `user`, `assistant` or `tool`, not `{other}`."
                ))
                .param("messages"));
            }
        });
    }
    let tools = request
        .tools
        .unwrap_or_default()
        .into_iter()
        .map(|tool| Tool {
            name: tool.function.name,
            description: tool.function.description,
            parameters: tool
                .function
                .parameters
                .map(|p| p.get().to_string())
                .unwrap_or_else(|| r#"{"type":"object","properties":{}}"#.to_string()),
            strict: None,
        })
        .collect();
    let sampling = sampling(request.options)?;
    Ok(ChatRequest {
        model: model_name(&request.model).to_string(),
        messages,
        tools,
        tool_choice: None,
        parallel_tool_calls: None,
        max_tokens: sampling.max_tokens,
        temperature: sampling.temperature,
        top_p: sampling.top_p,
        top_k: sampling.top_k,
        stop: sampling.stop,
        seed: sampling.seed,
        response_format: response_format(request.format)?,
        reasoning: reasoning(request.think),
        user: None,
        stream: request.stream.unwrap_or(true),
        extra: None,
    })
}

fn generate_to_neutral(request: GenerateWire) -> Result<ChatRequest, ApiError> {
    if request.suffix.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(ApiError::bad_request(
            "`suffix` (fill-in-the-middle) is not supported by this gateway; send the text before the cursor as `prompt` only.",
        )
        .param("suffix"));
    }
    let prompt = request.prompt.unwrap_or_default();
    let pictures = images(request.images, "request")?;
    if prompt.is_empty() && pictures.is_empty() {
        return Err(ApiError::bad_request("`prompt` must not be empty.").param("prompt"));
    }
    let mut messages = Vec::with_capacity(2);
    // Raw prompts are already templated: no system prompt is added.
    if !request.raw
        && let Some(system) = request.system.filter(|s| !s.is_empty())
    {
        messages.push(message(Role::System, vec![ContentPart::Text(system)]));
    }
    let mut parts = Vec::with_capacity(pictures.len() + 1);
    if !prompt.is_empty() {
        parts.push(ContentPart::Text(prompt));
    }
    parts.extend(pictures.into_iter().map(ContentPart::Image));
    messages.push(message(Role::User, parts));
    let sampling = sampling(request.options)?;
    Ok(ChatRequest {
        model: model_name(&request.model).to_string(),
        messages,
        tools: Vec::new(),
        tool_choice: None,
        parallel_tool_calls: None,
        max_tokens: sampling.max_tokens,
        temperature: sampling.temperature,
        top_p: sampling.top_p,
        top_k: sampling.top_k,
        stop: sampling.stop,
        seed: sampling.seed,
        response_format: response_format(request.format)?,
        reasoning: reasoning(request.think),
        user: None,
        stream: request.stream.unwrap_or(true),
        extra: None,
    })
}

// ---------------------------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------------------------

/// `created_at` for `secs` since the Unix epoch: RFC 3339 UTC with six fractional digits, as in
/// Ollama's docs (`2023-08-04T19:22:45.000000Z`; every RFC 3339 parser reads it, and so does
/// Python's `%f`, which nine digits would break).
pub fn created_at(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.000000Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Year, month and day of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Ollama's `done_reason`: `stop` or `length` (a turn that ends in tool calls is `stop`, as Ollama
/// reports it).
fn done_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Length => "length",
        FinishReason::Stop
        | FinishReason::ToolCalls
        | FinishReason::ContentFilter
        | FinishReason::Error => "stop",
    }
}

/// The statistics of a final line. Durations (nanoseconds) are 0: the surface has no timings.
#[derive(Serialize, Default, Clone, Copy)]
struct Metrics {
    total_duration: u64,
    load_duration: u64,
    prompt_eval_count: u32,
    prompt_eval_duration: u64,
    eval_count: u32,
    eval_duration: u64,
}

impl Metrics {
    fn from_usage(usage: Option<&Usage>) -> Self {
        Self {
            prompt_eval_count: usage.map_or(0, |u| u.input_tokens),
            eval_count: usage.map_or(0, |u| u.output_tokens),
            ..Self::default()
        }
    }
}

#[derive(Serialize)]
struct OutFunction<'a> {
    index: u32,
    name: &'a str,
    arguments: Box<RawValue>,
}

/// A tool call as Ollama sends it: arguments as an object. `id` (newer Ollama versions send it)
/// lets clients answer with `tool_call_id`.
#[derive(Serialize)]
struct OutToolCall<'a> {
    #[serde(skip_serializing_if = "is_empty")]
    id: &'a str,
    function: OutFunction<'a>,
}

fn out_call<'a>(index: u32, id: &'a str, name: &'a str, arguments: &str) -> OutToolCall<'a> {
    OutToolCall {
        id,
        function: OutFunction {
            index,
            name,
            arguments: object(arguments),
        },
    }
}

/// Tool arguments as an object: the model's JSON text when it is one, else `{}`. Line breaks
/// become spaces: in valid JSON they are only whitespace between tokens, and one inside an NDJSON
/// line would cut it in two.
fn object(arguments: &str) -> Box<RawValue> {
    let trimmed = arguments.trim();
    if trimmed.starts_with('{')
        && let Ok(raw) = serde_json::from_str::<Box<RawValue>>(trimmed)
    {
        if !raw.get().contains(['\n', '\r']) {
            return raw;
        }
        let one_line = raw.get().replace(['\n', '\r'], " ");
        if let Ok(raw) = RawValue::from_string(one_line) {
            return raw;
        }
    }
    RawValue::from_string("{}".to_string()).unwrap_or_else(|_| Box::<RawValue>::default())
}

#[derive(Serialize)]
struct OutMessage<'a> {
    role: &'static str,
    content: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    thinking: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<OutToolCall<'a>>,
}

/// One `/api/chat` object, in Ollama's key order.
#[derive(Serialize)]
struct ChatLine<'a> {
    model: &'a str,
    created_at: &'a str,
    message: OutMessage<'a>,
    done: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    done_reason: Option<&'a str>,
    #[serde(flatten)]
    metrics: Option<Metrics>,
}

/// One `/api/generate` object, in Ollama's key order.
#[derive(Serialize)]
struct GenerateLine<'a> {
    model: &'a str,
    created_at: &'a str,
    response: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    thinking: &'a str,
    done: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    done_reason: Option<&'a str>,
    /// Deprecated in requests but still in Ollama's final replies; the gateway keeps no token
    /// context, so it is empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<[u32; 0]>,
    #[serde(flatten)]
    metrics: Option<Metrics>,
}

fn is_empty(text: &&str) -> bool {
    text.is_empty()
}

fn to_vec<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// Append `value` and a newline.
fn line<T: Serialize>(out: &mut Vec<u8>, value: &T) {
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.extend_from_slice(b"{}");
    }
    out.push(b'\n');
}

/// The text, thinking and tool calls of a response.
fn gather(response: &ChatResponse) -> (String, String, Vec<&ToolCall>) {
    let (mut text, mut thinking, mut calls) = (String::new(), String::new(), Vec::new());
    for part in &response.content {
        match part {
            ContentPart::Text(t) => text.push_str(t),
            ContentPart::Thinking(t) => thinking.push_str(&t.text),
            ContentPart::ToolCall(call) => calls.push(call),
            _ => {}
        }
    }
    (text, thinking, calls)
}

/// A neutral response as an `/api/chat` reply (`stream: false`).
pub fn render_chat(response: &ChatResponse, model: &str, created: u64) -> Vec<u8> {
    let (text, thinking, calls) = gather(response);
    let created_at = created_at(created);
    let tool_calls = calls
        .iter()
        .enumerate()
        .map(|(i, call)| out_call(i as u32, &call.id, &call.name, &call.arguments))
        .collect();
    to_vec(&ChatLine {
        model,
        created_at: &created_at,
        message: OutMessage {
            role: "assistant",
            content: &text,
            thinking: &thinking,
            tool_calls,
        },
        done: true,
        done_reason: Some(done_reason(response.finish_reason)),
        metrics: Some(Metrics::from_usage(response.usage.as_ref())),
    })
}

/// A neutral response as an `/api/generate` reply (`stream: false`). Tool calls are dropped:
/// generate requests carry no tools.
pub fn render_generate(response: &ChatResponse, model: &str, created: u64) -> Vec<u8> {
    let (text, thinking, _) = gather(response);
    let created_at = created_at(created);
    to_vec(&GenerateLine {
        model,
        created_at: &created_at,
        response: &text,
        thinking: &thinking,
        done: true,
        done_reason: Some(done_reason(response.finish_reason)),
        context: Some([]),
        metrics: Some(Metrics::from_usage(response.usage.as_ref())),
    })
}

/// The answer to `/api/generate` without a prompt (Ollama's way to load a model):
/// `{"model","created_at","response":"","done":true,"done_reason":"load"}`.
pub fn load_reply(model: &str, created: u64) -> Vec<u8> {
    to_vec(&GenerateLine {
        model,
        created_at: &created_at(created),
        response: "",
        thinking: "",
        done: true,
        done_reason: Some("load"),
        context: None,
        metrics: None,
    })
}

/// The answer to `/api/chat` without messages (Ollama's way to load a model).
pub fn chat_load_reply(model: &str, created: u64) -> Vec<u8> {
    to_vec(&ChatLine {
        model,
        created_at: &created_at(created),
        message: OutMessage {
            role: "assistant",
            content: "",
            thinking: "",
            tool_calls: Vec::new(),
        },
        done: true,
        done_reason: Some("load"),
        metrics: None,
    })
}

// ---------------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Endpoint {
    Chat,
    Generate,
}

/// A tool call being streamed: Ollama sends each call whole, with object arguments.
struct PendingCall {
    index: u32,
    id: String,
    name: String,
    arguments: String,
}

/// Renders neutral stream events as Ollama's NDJSON: a `done: false` object per text or thinking
/// delta (`message` for chat, `response` for generate), one object per complete tool call (chat),
/// and a final `done: true` object with `done_reason` and the token counts. Nothing is written for
/// `start`, so an early failure can still fail over.
pub struct NdjsonWriter {
    endpoint: Endpoint,
    model: String,
    created_at: String,
    usage: Option<Usage>,
    /// Calls whose arguments are still arriving, in order.
    calls: Vec<PendingCall>,
    /// How many calls were sent (each call's `index`).
    sent_calls: u32,
}

impl NdjsonWriter {
    pub fn chat(model: String, created: u64) -> Self {
        Self::new(Endpoint::Chat, model, created)
    }

    pub fn generate(model: String, created: u64) -> Self {
        Self::new(Endpoint::Generate, model, created)
    }

    fn new(endpoint: Endpoint, model: String, created: u64) -> Self {
        Self {
            endpoint,
            model,
            created_at: created_at(created),
            usage: None,
            calls: Vec::new(),
            sent_calls: 0,
        }
    }

    fn delta(&self, out: &mut Vec<u8>, text: &str, thinking: &str) {
        match self.endpoint {
            Endpoint::Chat => line(
                out,
                &ChatLine {
                    model: &self.model,
                    created_at: &self.created_at,
                    message: OutMessage {
                        role: "assistant",
                        content: text,
                        thinking,
                        tool_calls: Vec::new(),
                    },
                    done: false,
                    done_reason: None,
                    metrics: None,
                },
            ),
            Endpoint::Generate => line(
                out,
                &GenerateLine {
                    model: &self.model,
                    created_at: &self.created_at,
                    response: text,
                    thinking,
                    done: false,
                    done_reason: None,
                    context: None,
                    metrics: None,
                },
            ),
        }
    }

    /// Send the buffered tool calls, one object each.
    fn flush_calls(&mut self, out: &mut Vec<u8>) {
        for call in std::mem::take(&mut self.calls) {
            if self.endpoint == Endpoint::Generate {
                continue;
            }
            let index = self.sent_calls;
            self.sent_calls += 1;
            line(
                out,
                &ChatLine {
                    model: &self.model,
                    created_at: &self.created_at,
                    message: OutMessage {
                        role: "assistant",
                        content: "",
                        thinking: "",
                        tool_calls: vec![out_call(index, &call.id, &call.name, &call.arguments)],
                    },
                    done: false,
                    done_reason: None,
                    metrics: None,
                },
            );
        }
    }

    fn finish(&mut self, reason: FinishReason, out: &mut Vec<u8>) {
        self.flush_calls(out);
        let metrics = Some(Metrics::from_usage(self.usage.as_ref()));
        let reason = Some(done_reason(reason));
        match self.endpoint {
            Endpoint::Chat => line(
                out,
                &ChatLine {
                    model: &self.model,
                    created_at: &self.created_at,
                    message: OutMessage {
                        role: "assistant",
                        content: "",
                        thinking: "",
                        tool_calls: Vec::new(),
                    },
                    done: true,
                    done_reason: reason,
                    metrics,
                },
            ),
            Endpoint::Generate => line(
                out,
                &GenerateLine {
                    model: &self.model,
                    created_at: &self.created_at,
                    response: "",
                    thinking: "",
                    done: true,
                    done_reason: reason,
                    context: Some([]),
                    metrics,
                },
            ),
        }
    }
}

impl StreamWriter for NdjsonWriter {
    fn event(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        match event {
            StreamEvent::Start(_) | StreamEvent::ThinkingSignature(_) => {}
            StreamEvent::TextDelta(text) => {
                if !text.is_empty() {
                    self.flush_calls(out);
                    self.delta(out, text, "");
                }
            }
            StreamEvent::ThinkingDelta(text) => {
                if !text.is_empty() {
                    self.flush_calls(out);
                    self.delta(out, "", text);
                }
            }
            StreamEvent::ToolCallStart(call) => self.calls.push(PendingCall {
                index: call.index,
                id: call.id.clone(),
                name: call.name.clone(),
                arguments: String::new(),
            }),
            StreamEvent::ToolCallDelta(delta) => {
                if let Some(call) = self.calls.iter_mut().find(|c| c.index == delta.index) {
                    call.arguments.push_str(&delta.arguments);
                }
            }
            StreamEvent::Usage(usage) => self.usage = Some(*usage),
            StreamEvent::Finish(reason) => self.finish(*reason, out),
        }
    }

    fn done(&mut self, _out: &mut Vec<u8>) {}

    /// A failure after the stream began: an `{"error": "..."}` line, as Ollama sends.
    fn error(&mut self, error: &ApiError, out: &mut Vec<u8>) {
        out.extend_from_slice(&error.body(ErrorFormat::Ollama));
        out.push(b'\n');
    }
}

// ---------------------------------------------------------------------------------------------
// Model endpoints
// ---------------------------------------------------------------------------------------------

/// What the model endpoints say about one servable model, from its first target.
struct Entry {
    /// The listed and requested name, without `:latest`.
    alias: String,
    /// The provider kind of the first target (`apex` for the built-in echo model): the model's
    /// `family` and `general.architecture`.
    kind: String,
    profile: String,
    digest: String,
}

impl Entry {
    fn new(config: &Config, alias: &str, targets: &[TargetRef]) -> Self {
        let provider = targets
            .first()
            .and_then(|t| config.providers.get(&t.provider));
        let mut hasher = Sha256::new();
        hasher.update(alias.as_bytes());
        for target in targets {
            hasher.update(b"\n");
            hasher.update(target.provider.as_bytes());
            hasher.update(b"/");
            hasher.update(target.model.as_bytes());
        }
        let digest = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Self {
            alias: alias.to_string(),
            kind: provider.map_or_else(|| "apex".to_string(), |p| p.kind.clone()),
            profile: provider.map_or_else(|| ECHO_MODEL.to_string(), |p| p.profile.clone()),
            digest,
        }
    }

    fn echo(config: &Config) -> Self {
        Self::new(config, ECHO_MODEL, &[])
    }

    fn details(&self) -> Details<'_> {
        Details {
            parent_model: "",
            format: "gguf",
            family: &self.kind,
            families: vec![&self.kind],
            parameter_size: "",
            quantization_level: "",
        }
    }

    /// The context window advertised (`<arch>.context_length`, `context_length`): what the
    /// provider family's current models take — Anthropic 200k, Gemini 1M — and a conservative
    /// 128k for the rest (clients trim history to it).
    fn context_length(&self) -> u32 {
        match self.kind.as_str() {
            "anthropic" => 200_000,
            "gemini" => 1_048_576,
            _ => 128_000,
        }
    }

    /// `capabilities`: `completion` and `tools` always (every route takes tools); `vision` for
    /// the kinds whose models take images (`openai` except the DeepSeek profile, `azure`,
    /// `anthropic`, `gemini`; not `cohere`, `ollama`, or the echo model); `thinking` where the
    /// provider returns reasoning text (`anthropic`, `gemini`, the `deepseek` profile).
    fn capabilities(&self) -> Vec<&'static str> {
        let mut capabilities = vec!["completion", "tools"];
        let (kind, profile) = (self.kind.as_str(), self.profile.as_str());
        if matches!(kind, "azure" | "anthropic" | "gemini")
            || (kind == "openai" && profile != "deepseek")
        {
            capabilities.push("vision");
        }
        if matches!(kind, "anthropic" | "gemini") || profile == "deepseek" {
            capabilities.push("thinking");
        }
        capabilities
    }
}

/// Every model the endpoints list: each alias (in name order), then `echo` when enabled.
/// `provider/model` names and `[[model_patterns]]` are servable but not listable.
fn entries(config: &Config) -> Vec<Entry> {
    let mut entries: Vec<Entry> = config
        .models
        .iter()
        .map(|(alias, targets)| Entry::new(config, alias, targets))
        .collect();
    if config.echo_model && !config.models.contains_key(ECHO_MODEL) {
        entries.push(Entry::echo(config));
    }
    entries
}

#[derive(Serialize)]
struct Details<'a> {
    parent_model: &'a str,
    format: &'a str,
    family: &'a str,
    families: Vec<&'a str>,
    parameter_size: &'a str,
    quantization_level: &'a str,
}

#[derive(Serialize)]
struct ListedModel<'a> {
    name: String,
    model: String,
    modified_at: String,
    size: u64,
    digest: &'a str,
    details: Details<'a>,
}

#[derive(Serialize)]
struct RunningModel<'a> {
    name: String,
    model: String,
    size: u64,
    digest: &'a str,
    details: Details<'a>,
    expires_at: String,
    size_vram: u64,
    context_length: u32,
}

#[derive(Serialize)]
struct ModelList<T> {
    models: Vec<T>,
}

/// `GET /api/tags`: every alias, as `<alias>:latest` (or its own tag), with stable digests and
/// dates. `_now_secs` is unused: listings must not change between calls.
pub fn tags(config: &Config, _now_secs: u64) -> Vec<u8> {
    let entries = entries(config);
    let models = entries
        .iter()
        .map(|entry| ListedModel {
            name: listed_name(&entry.alias),
            model: listed_name(&entry.alias),
            modified_at: created_at(MODIFIED_AT),
            size: 0,
            digest: &entry.digest,
            details: entry.details(),
        })
        .collect();
    to_vec(&ModelList { models })
}

/// `GET /api/ps`: the same models as [`tags`], each reported loaded until five minutes from now
/// (Ollama's default `keep_alive`). A gateway loads nothing, but every model answers without a
/// load delay, which is what "running" tells a client; and clients that pick or gate on running
/// models keep working.
pub fn ps(config: &Config, now_secs: u64) -> Vec<u8> {
    let entries = entries(config);
    let expires_at = created_at(now_secs.saturating_add(KEEP_ALIVE_SECS));
    let models = entries
        .iter()
        .map(|entry| RunningModel {
            name: listed_name(&entry.alias),
            model: listed_name(&entry.alias),
            size: 0,
            digest: &entry.digest,
            details: entry.details(),
            expires_at: expires_at.clone(),
            size_vram: 0,
            context_length: entry.context_length(),
        })
        .collect();
    to_vec(&ModelList { models })
}

/// `GET /api/version`.
pub fn version() -> Vec<u8> {
    #[derive(Serialize)]
    struct Version {
        version: &'static str,
    }
    to_vec(&Version {
        version: OLLAMA_VERSION,
    })
}

#[derive(Deserialize)]
struct ShowRequest {
    model: Option<String>,
    /// Deprecated in Ollama, still sent by older clients.
    name: Option<String>,
}

#[derive(Serialize)]
struct ShowReply<'a> {
    license: &'a str,
    modelfile: &'a str,
    parameters: &'a str,
    template: &'a str,
    details: Details<'a>,
    /// Sorted keys, as Go renders maps.
    model_info: std::collections::BTreeMap<String, Value>,
    capabilities: Vec<&'static str>,
    modified_at: String,
}

/// `POST /api/show` with `{"model"}` (or the older `{"name"}`): details, `model_info` (with the
/// context window clients size prompts by) and `capabilities` (clients enable tools, images and
/// thinking by them). Aliases, `provider/model` names and `[[model_patterns]]` names resolve as
/// they do for chat; anything else is a 404 `model '<name>' not found`, as Ollama answers.
pub fn show(config: &Config, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let request = parse_json::<ShowRequest>(body)?;
    let requested = request
        .model
        .filter(|m| !m.is_empty())
        .or(request.name.filter(|m| !m.is_empty()))
        .ok_or_else(|| ApiError::bad_request("model is required").param("model"))?;
    crate::routing::targets::check_model_name(&requested)?;
    let name = model_name(&requested);
    let served_as = config.route_name(name);
    let served_as: &str = &served_as;
    let entry = match config.targets(served_as) {
        Some(targets) => Entry::new(config, name, &targets),
        None if served_as == ECHO_MODEL && config.echo_model => Entry::echo(config),
        None => {
            return Err(ApiError::not_found(format!(
                "model '{requested}' not found"
            )));
        }
    };
    let mut model_info = std::collections::BTreeMap::new();
    model_info.insert(
        "general.architecture".to_string(),
        Value::String(entry.kind.clone()),
    );
    model_info.insert(
        "general.basename".to_string(),
        Value::String(entry.alias.clone()),
    );
    model_info.insert(
        format!("{}.context_length", entry.kind),
        Value::from(entry.context_length()),
    );
    Ok(to_vec(&ShowReply {
        license: "",
        modelfile: "",
        parameters: "",
        template: "{{ .Prompt }}",
        details: entry.details(),
        model_info,
        capabilities: entry.capabilities(),
        modified_at: created_at(MODIFIED_AT),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use apex_adapter_kit::types::{StreamStart, ToolCallDelta, ToolCallStart};

    fn usage(input: u32, output: u32) -> Usage {
        Usage {
            input_tokens: input,
            output_tokens: output,
            cache_read_tokens: None,
            cache_write_tokens: None,
            reasoning_tokens: None,
        }
    }

    fn lines(out: &[u8]) -> Vec<Value> {
        let text = std::str::from_utf8(out).unwrap();
        assert!(text.is_empty() || text.ends_with('\n'), "{text}");
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn load_config(text: &str) -> Config {
        crate::config::load(Some(text), &|name| Some(format!("value-of-{name}"))).unwrap()
    }

    const CONFIG: &str = r#"
        [providers.anthropic]
        [providers.local]
        kind = "openai"
        base_url = "http://127.0.0.1:9/v1"
        keys = []
        [providers.deepseek]
        [models.smart]
        targets = ["anthropic/claude-x", "local/m"]
        [models."fast:8b"]
        targets = ["local/small"]
        [[model_patterns]]
        pattern = "claude-*"
        model = "smart"
    "#;

    // A 1×1 PNG's first bytes, and JPEG, GIF, WebP headers.
    const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAE";
    const JPEG: &str = "/9j/4AAQSkZJRgABAQ";
    const GIF: &str = "R0lGODlhAQABAAAAACw=";
    const WEBP: &str = "UklGRiQAAABXRUJQVlA4IBgAAAA";

    #[test]
    fn chat_routing_defaults_to_streaming_and_strips_latest() {
        let routing = OllamaChat::routing(br#"{"model":"gpt-4o:latest","messages":[]}"#).unwrap();
        assert_eq!(routing.model, "gpt-4o");
        assert!(routing.stream && routing.include_usage);
        let routing =
            OllamaChat::routing(br#"{"model":"fast:8b","stream":false,"messages":[]}"#).unwrap();
        assert_eq!(routing.model, "fast:8b");
        assert!(!routing.stream);
        let routing = OllamaGenerate::routing(br#"{"model":"m","prompt":"hi"}"#).unwrap();
        assert!(routing.stream);
        let err = OllamaChat::routing(br#"{"messages":[]}"#).unwrap_err();
        assert!(err.message.contains("model"), "{}", err.message);
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
        let reply: Value = serde_json::from_slice(&load_reply("m", 0)).unwrap();
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
    }

    const CHAT: &str = r#"{
        "model": "smart:latest",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "what is here?", "images": ["iVBORw0KGgoAAAANSUhEUgAAAAE"]},
            {"role": "assistant", "content": "", "thinking": "look it up",
             "tool_calls": [
                {"function": {"index": 0, "name": "weather", "arguments": {"city": "Zürich",  "days": [1, 2]}}},
                {"function": {"name": "weather", "arguments": {"city": "Paris"}}},
                {"id": "own", "function": {"name": "clock", "arguments": {}}}
             ]},
            {"role": "tool", "tool_name": "weather", "content": "11C"},
            {"role": "tool", "tool_name": "weather", "content": "14C"},
            {"role": "tool", "tool_call_id": "own", "content": "noon"},
            {"role": "Assistant", "content": "done"},
            {"role": "tool", "tool_name": "ghost", "content": "?"}
        ],
        "tools": [{"type": "function", "function": {"name": "weather", "description": "d",
                   "parameters": {"type":"object","properties":{"city":{"type":"string"}}}}}],
        "format": {"type": "object", "properties": {"a": {"type": "integer"}}},
        "options": {"temperature": 0.2, "top_p": 0.9, "top_k": 40, "num_predict": 100.0,
                    "stop": ["END"], "seed": 7, "num_ctx": 8192, "repeat_penalty": 1.1},
        "think": "high",
        "keep_alive": "5m",
        "stream": false
    }"#;

    #[test]
    fn a_chat_request_converts() {
        let neutral = OllamaChat::to_neutral(CHAT.as_bytes()).unwrap();
        assert_eq!(neutral.model, "smart");
        assert!(!neutral.stream);
        let roles: Vec<Role> = neutral.messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [
                Role::System,
                Role::User,
                Role::Assistant,
                Role::Tool,
                Role::Tool,
                Role::Tool,
                Role::Assistant,
                Role::Tool
            ]
        );
        assert_eq!(
            neutral.messages[1].content,
            vec![
                ContentPart::Text("what is here?".into()),
                ContentPart::Image(Image {
                    source: ImageSource::Base64(PNG.into()),
                    media_type: Some("image/png".into()),
                    detail: None
                })
            ]
        );
        let assistant = &neutral.messages[2].content;
        assert_eq!(
            assistant[0],
            ContentPart::Thinking(Thinking {
                text: "look it up".into(),
                signature: None
            })
        );
        // Arguments keep the client's exact bytes; missing ids are generated in order.
        assert_eq!(
            assistant[1],
            ContentPart::ToolCall(ToolCall {
                id: "call_0".into(),
                name: "weather".into(),
                arguments: r#"{"city": "Zürich",  "days": [1, 2]}"#.into()
            })
        );
        assert_eq!(
            assistant[2],
            ContentPart::ToolCall(ToolCall {
                id: "call_1".into(),
                name: "weather".into(),
                arguments: r#"{"city": "Paris"}"#.into()
            })
        );
        assert_eq!(
            assistant[3],
            ContentPart::ToolCall(ToolCall {
                id: "own".into(),
                name: "clock".into(),
                arguments: "{}".into()
            })
        );
        let result = |i: usize| match &neutral.messages[i].content[0] {
            ContentPart::ToolResult(r) => r.clone(),
            other => panic!("{other:?}"),
        };
        // Results of one tool answer its calls in order.
        assert_eq!(
            (result(3).call_id, result(3).name),
            ("call_0".to_string(), Some("weather".to_string()))
        );
        assert_eq!(result(3).content, vec![ToolResultPart::Text("11C".into())]);
        assert_eq!(result(4).call_id, "call_1");
        assert_eq!(
            (result(5).call_id, result(5).name),
            ("own".to_string(), Some("clock".to_string()))
        );
        // Nothing left to answer: the tool name stands in for the id.
        assert_eq!(result(7).call_id, "ghost");
        assert_eq!(
            neutral.messages[6].content,
            vec![ContentPart::Text("done".into())]
        );

        assert_eq!(neutral.tools.len(), 1);
        assert_eq!(
            neutral.tools[0].parameters,
            r#"{"type":"object","properties":{"city":{"type":"string"}}}"#
        );
        assert_eq!(neutral.tools[0].description.as_deref(), Some("d"));
        assert_eq!(
            neutral.response_format,
            Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
                name: "response".into(),
                schema: r#"{"type": "object", "properties": {"a": {"type": "integer"}}}"#.into(),
                strict: None
            }))
        );
        assert_eq!(neutral.temperature, Some(0.2));
        assert_eq!(neutral.top_p, Some(0.9));
        assert_eq!(neutral.top_k, Some(40));
        assert_eq!(neutral.max_tokens, Some(100));
        assert_eq!(neutral.stop, vec!["END".to_string()]);
        assert_eq!(neutral.seed, Some(7));
        assert_eq!(
            neutral.reasoning,
            Some(Reasoning {
                effort: Some("high".into()),
                budget_tokens: None
            })
        );
    }

    fn chat(extra: &str) -> Result<ChatRequest, ApiError> {
        let body =
            format!(r#"{{"model":"m","messages":[{{"role":"user","content":"hi"}}]{extra}}}"#);
        OllamaChat::to_neutral(body.as_bytes())
    }

    #[test]
    fn think_format_and_options_variants() {
        let effort = |extra: &str| chat(extra).unwrap().reasoning.and_then(|r| r.effort);
        assert_eq!(effort(r#","think":true"#).as_deref(), Some("medium"));
        assert_eq!(effort(r#","think":"low""#).as_deref(), Some("low"));
        assert_eq!(effort(r#","think":false"#), None);
        assert_eq!(effort(""), None);
        let err = chat(r#","think":"max""#).unwrap_err();
        assert!(err.message.contains("think"), "{}", err.message);

        let format = |extra: &str| chat(extra).unwrap().response_format;
        assert_eq!(
            format(r#","format":"json""#),
            Some(ResponseFormat::JsonObject)
        );
        assert_eq!(format(r#","format":"""#), None);
        assert_eq!(format(r#","format":null"#), None);
        let err = chat(r#","format":"xml""#).unwrap_err();
        assert!(err.message.contains("`format`"), "{}", err.message);

        let neutral = chat(r#","options":{"num_predict":-1,"top_k":0,"seed":-1}"#).unwrap();
        assert_eq!(
            (neutral.max_tokens, neutral.top_k, neutral.seed),
            (None, None, None)
        );
        assert!(neutral.stream, "stream defaults to true");
        let err = chat(r#","options":{"num_predict":1.5}"#).unwrap_err();
        assert!(
            err.message.contains("options.num_predict"),
            "{}",
            err.message
        );
        let err = chat(r#","options":{"temperature":"hot"}"#).unwrap_err();
        assert!(
            err.message.contains("options.temperature"),
            "{}",
            err.message
        );
        let err = chat(r#","options":{"stop":"END"}"#).unwrap_err();
        assert!(err.message.contains("options.stop"), "{}", err.message);
    }

    #[test]
    fn bad_chat_input_names_the_field() {
        let bad = |body: &str| OllamaChat::to_neutral(body.as_bytes()).unwrap_err();
        let err = bad(r#"{"model":"m","messages":[{"role":"wizard","content":"x"}]}"#);
        assert!(err.message.contains("messages[0].role") && err.message.contains("wizard"));
        let err = bad(r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]}"#);
        assert!(
            err.message.contains("messages[0].content"),
            "{}",
            err.message
        );
        let err = bad(
            r#"{"model":"m","messages":[{"role":"assistant","content":"","tool_calls":[{"function":{"name":"f","arguments":[1]}}]}]}"#,
        );
        assert!(
            err.message
                .contains("messages[0].tool_calls[0].function.arguments"),
            "{}",
            err.message
        );
        let err =
            bad(r#"{"model":"m","messages":[{"role":"system","content":"x","images":["AAAA"]}]}"#);
        assert!(
            err.message.contains("messages[0].images"),
            "{}",
            err.message
        );
        let err = bad(r#"{"model":"m","messages":[{"role":"tool","content":"x"}]}"#);
        assert!(err.message.contains("tool_name"), "{}", err.message);
        let err = bad(r#"{"model":"m","messages":[]}"#);
        assert!(err.message.contains("messages"), "{}", err.message);
        assert_eq!(err.status, 400);
    }

    #[test]
    fn lenient_shapes_older_clients_send() {
        // A tool message with neither name nor id answers the next open call; string arguments
        // (an OpenAI habit) are taken as their JSON text.
        let body = r#"{"model":"m","messages":[
            {"role":"assistant","content":null,"tool_calls":[{"function":{"name":"f","arguments":"{\"a\":1}"}}]},
            {"role":"tool","content":"r"},
            {"role":"user","content":"","images":["data:image/jpeg;base64,/9j/4AAQ"]}]}"#;
        let neutral = OllamaChat::to_neutral(body.as_bytes()).unwrap();
        assert_eq!(
            neutral.messages[0].content,
            vec![ContentPart::ToolCall(ToolCall {
                id: "call_0".into(),
                name: "f".into(),
                arguments: r#"{"a":1}"#.into()
            })]
        );
        match &neutral.messages[1].content[0] {
            ContentPart::ToolResult(r) => assert_eq!(r.call_id, "call_0"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            neutral.messages[2].content,
            vec![ContentPart::Image(Image {
                source: ImageSource::Base64("/9j/4AAQ".into()),
                media_type: Some("image/jpeg".into()),
                detail: None
            })]
        );
    }

    #[test]
    fn image_types_are_sniffed() {
        assert_eq!(sniff_media_type(PNG), Some("image/png"));
        assert_eq!(sniff_media_type(JPEG), Some("image/jpeg"));
        assert_eq!(sniff_media_type(GIF), Some("image/gif"));
        assert_eq!(sniff_media_type(WEBP), Some("image/webp"));
        assert_eq!(sniff_media_type("AAAAAAAAAAAA"), None);
        assert_eq!(sniff_media_type("iV"), None);
    }

    #[test]
    fn a_generate_request_converts() {
        let body = r#"{"model":"m","prompt":"why?","system":"be brief","images":["R0lGODlhAQABAAAAACw="],
            "format":"json","options":{"num_predict":5},"think":true,"template":"{{ .Prompt }}",
            "context":[1,2,3],"keep_alive":0}"#;
        let neutral = OllamaGenerate::to_neutral(body.as_bytes()).unwrap();
        assert!(neutral.stream);
        assert_eq!(neutral.messages.len(), 2);
        assert_eq!(
            neutral.messages[0].content,
            vec![ContentPart::Text("be brief".into())]
        );
        assert_eq!(neutral.messages[1].role, Role::User);
        assert_eq!(neutral.messages[1].content.len(), 2);
        match &neutral.messages[1].content[1] {
            ContentPart::Image(image) => assert_eq!(image.media_type.as_deref(), Some("image/gif")),
            other => panic!("{other:?}"),
        }
        assert_eq!(neutral.response_format, Some(ResponseFormat::JsonObject));
        assert_eq!(neutral.max_tokens, Some(5));
        assert!(neutral.reasoning.is_some());

        let raw = OllamaGenerate::to_neutral(
            br#"{"model":"m","prompt":"[INST] hi [/INST]","system":"ignored","raw":true,"stream":false}"#,
        )
        .unwrap();
        assert!(!raw.stream);
        assert_eq!(raw.messages.len(), 1);
        assert_eq!(
            raw.messages[0].content,
            vec![ContentPart::Text("[INST] hi [/INST]".into())]
        );

        let ok = OllamaGenerate::to_neutral(br#"{"model":"m","prompt":"x","suffix":""}"#);
        assert!(ok.is_ok());
        let err =
            OllamaGenerate::to_neutral(br#"{"model":"m","prompt":"x","suffix":"y"}"#).unwrap_err();
        assert!(err.message.contains("`suffix`"), "{}", err.message);
        let err = OllamaGenerate::to_neutral(br#"{"model":"m","prompt":""}"#).unwrap_err();
        assert!(err.message.contains("`prompt`"), "{}", err.message);
        let err = OllamaGenerate::to_neutral(br#"{"model":"m","prompt":5}"#).unwrap_err();
        assert!(err.message.contains("prompt"), "{}", err.message);
    }

    #[test]
    fn dates_are_rfc3339_utc() {
        assert_eq!(created_at(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(created_at(1_691_176_965), "2023-08-04T19:22:45.000000Z");
        assert_eq!(created_at(951_782_400), "2000-02-29T00:00:00.000000Z");
        assert_eq!(created_at(MODIFIED_AT), "2025-01-01T00:00:00.000000Z");
        assert_eq!(created_at(4_102_444_799), "2099-12-31T23:59:59.000000Z");
    }

    fn response(content: Vec<ContentPart>, reason: FinishReason) -> ChatResponse {
        ChatResponse {
            id: "x".into(),
            model: "up".into(),
            content,
            finish_reason: reason,
            usage: Some(usage(26, 9)),
        }
    }

    #[test]
    fn chat_replies_render_in_ollamas_shape() {
        let reply = response(
            vec![
                ContentPart::Thinking(Thinking {
                    text: "hmm".into(),
                    signature: Some("sig".into()),
                }),
                ContentPart::Text("Zürich".into()),
                ContentPart::ToolCall(ToolCall {
                    id: "call_a".into(),
                    name: "f".into(),
                    arguments: r#"{"b": 1, "a": [ ]}"#.into(),
                }),
                ContentPart::ToolCall(ToolCall {
                    id: "call_b".into(),
                    name: "g".into(),
                    arguments: "not json".into(),
                }),
            ],
            FinishReason::ToolCalls,
        );
        let body = OllamaChat::render(
            &reply,
            "",
            "smart",
            1_691_176_965,
            &Routing::new(String::new(), false),
        );
        assert_eq!(
            String::from_utf8(body).unwrap(),
            concat!(
                r#"{"model":"smart","created_at":"2023-08-04T19:22:45.000000Z","#,
                r#""message":{"role":"assistant","content":"Zürich","thinking":"hmm","tool_calls":["#,
                r#"{"id":"call_a","function":{"index":0,"name":"f","arguments":{"b": 1, "a": [ ]}}},"#,
                r#"{"id":"call_b","function":{"index":1,"name":"g","arguments":{}}}]},"#,
                r#""done":true,"done_reason":"stop","total_duration":0,"load_duration":0,"#,
                r#""prompt_eval_count":26,"prompt_eval_duration":0,"eval_count":9,"eval_duration":0}"#
            )
        );
        let plain = response(vec![ContentPart::Text("hi".into())], FinishReason::Length);
        let value: Value = serde_json::from_slice(&OllamaChat::render(
            &plain,
            "",
            "m",
            0,
            &Routing::new(String::new(), false),
        ))
        .unwrap();
        assert_eq!(
            value["message"],
            serde_json::json!({"role":"assistant","content":"hi"})
        );
        assert_eq!(value["done_reason"], "length");
    }

    #[test]
    fn generate_replies_render_in_ollamas_shape() {
        let reply = response(
            vec![
                ContentPart::Thinking(Thinking {
                    text: "t".into(),
                    signature: None,
                }),
                ContentPart::Text("The sky".into()),
            ],
            FinishReason::Stop,
        );
        let body = OllamaGenerate::render(&reply, "", "m", 0, &Routing::new(String::new(), false));
        assert_eq!(
            String::from_utf8(body).unwrap(),
            concat!(
                r#"{"model":"m","created_at":"1970-01-01T00:00:00.000000Z","response":"The sky","#,
                r#""thinking":"t","done":true,"done_reason":"stop","context":[],"total_duration":0,"#,
                r#""load_duration":0,"prompt_eval_count":26,"prompt_eval_duration":0,"eval_count":9,"#,
                r#""eval_duration":0}"#
            )
        );
    }

    fn start() -> StreamEvent {
        StreamEvent::Start(StreamStart {
            id: "u".into(),
            model: "up".into(),
        })
    }

    #[test]
    fn chat_streams_are_ndjson_lines() {
        let mut writer = OllamaChat::writer(
            String::new(),
            "smart".into(),
            0,
            &Routing {
                echo: serde_json::Value::Null,
                model: "smart".into(),
                stream: true,
                include_usage: true,
            },
        );
        let mut out = Vec::new();
        writer.event(&start(), &mut out);
        writer.event(&StreamEvent::Usage(usage(1, 1)), &mut out);
        assert!(out.is_empty(), "nothing before the first content");
        for event in [
            StreamEvent::ThinkingDelta("plan".into()),
            StreamEvent::ThinkingSignature("sig".into()),
            StreamEvent::TextDelta("Hi ".into()),
            StreamEvent::TextDelta(String::new()),
            StreamEvent::TextDelta("Zürich".into()),
            StreamEvent::ToolCallStart(ToolCallStart {
                index: 0,
                id: "c0".into(),
                name: "f".into(),
            }),
            StreamEvent::ToolCallDelta(ToolCallDelta {
                index: 0,
                arguments: "{\"a\":".into(),
            }),
            StreamEvent::ToolCallStart(ToolCallStart {
                index: 1,
                id: "c1".into(),
                name: "g".into(),
            }),
            StreamEvent::ToolCallDelta(ToolCallDelta {
                index: 0,
                arguments: " 1}".into(),
            }),
            StreamEvent::Usage(usage(10, 5)),
            StreamEvent::Finish(FinishReason::ToolCalls),
        ] {
            writer.event(&event, &mut out);
        }
        writer.done(&mut out);
        let text = String::from_utf8(out.clone()).unwrap();
        let raw: Vec<&str> = text.lines().collect();
        assert_eq!(raw.len(), 6, "{text}");
        assert_eq!(
            raw[0],
            r#"{"model":"smart","created_at":"1970-01-01T00:00:00.000000Z","message":{"role":"assistant","content":"","thinking":"plan"},"done":false}"#
        );
        assert_eq!(
            raw[1],
            r#"{"model":"smart","created_at":"1970-01-01T00:00:00.000000Z","message":{"role":"assistant","content":"Hi "},"done":false}"#
        );
        // Each tool call is one line, its arguments an object with the model's bytes.
        assert_eq!(
            raw[3],
            r#"{"model":"smart","created_at":"1970-01-01T00:00:00.000000Z","message":{"role":"assistant","content":"","tool_calls":[{"id":"c0","function":{"index":0,"name":"f","arguments":{"a": 1}}}]},"done":false}"#
        );
        let lines = lines(&out);
        assert_eq!(lines[2]["message"]["content"], "Zürich");
        assert_eq!(
            lines[4]["message"]["tool_calls"][0],
            serde_json::json!({"id":"c1","function":{"index":1,"name":"g","arguments":{}}})
        );
        assert_eq!(
            raw[5],
            r#"{"model":"smart","created_at":"1970-01-01T00:00:00.000000Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":0,"load_duration":0,"prompt_eval_count":10,"prompt_eval_duration":0,"eval_count":5,"eval_duration":0}"#
        );
    }

    #[test]
    fn pretty_printed_arguments_stay_on_one_ndjson_line() {
        let mut writer = NdjsonWriter::chat("m".into(), 0);
        let mut out = Vec::new();
        for event in [
            StreamEvent::ToolCallStart(ToolCallStart {
                index: 0,
                id: "c0".into(),
                name: "f".into(),
            }),
            StreamEvent::ToolCallDelta(ToolCallDelta {
                index: 0,
                arguments: "{\r\n  \"a\": \"x\\ny\",\n  \"b\": [1,\r2]\n}".into(),
            }),
            StreamEvent::Finish(FinishReason::ToolCalls),
        ] {
            writer.event(&event, &mut out);
        }
        writer.done(&mut out);
        let lines = lines(&out);
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0]["message"]["tool_calls"][0]["function"]["arguments"],
            serde_json::json!({"a": "x\ny", "b": [1, 2]})
        );
    }

    #[test]
    fn tool_calls_are_sent_before_later_text() {
        let mut writer = NdjsonWriter::chat("m".into(), 0);
        let mut out = Vec::new();
        for event in [
            StreamEvent::ToolCallStart(ToolCallStart {
                index: 0,
                id: "c0".into(),
                name: "f".into(),
            }),
            StreamEvent::ToolCallDelta(ToolCallDelta {
                index: 0,
                arguments: "{}".into(),
            }),
            StreamEvent::TextDelta("after".into()),
            StreamEvent::Finish(FinishReason::Length),
        ] {
            writer.event(&event, &mut out);
        }
        let lines = lines(&out);
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[0]["message"]["tool_calls"][0]["function"]["name"],
            "f"
        );
        assert_eq!(lines[1]["message"]["content"], "after");
        assert_eq!(lines[2]["done_reason"], "length");
        assert_eq!(lines[2]["prompt_eval_count"], 0, "no usage: zero counts");
    }

    #[test]
    fn generate_streams_use_response() {
        let mut writer = OllamaGenerate::writer(
            String::new(),
            "m".into(),
            0,
            &Routing {
                echo: serde_json::Value::Null,
                model: "m".into(),
                stream: true,
                include_usage: true,
            },
        );
        let mut out = Vec::new();
        for event in [
            start(),
            StreamEvent::ThinkingDelta("t".into()),
            StreamEvent::TextDelta("The".into()),
            StreamEvent::Usage(usage(3, 4)),
            StreamEvent::Finish(FinishReason::Stop),
        ] {
            writer.event(&event, &mut out);
        }
        let text = String::from_utf8(out).unwrap();
        let raw: Vec<&str> = text.lines().collect();
        assert_eq!(
            raw,
            [
                r#"{"model":"m","created_at":"1970-01-01T00:00:00.000000Z","response":"","thinking":"t","done":false}"#,
                r#"{"model":"m","created_at":"1970-01-01T00:00:00.000000Z","response":"The","done":false}"#,
                r#"{"model":"m","created_at":"1970-01-01T00:00:00.000000Z","response":"","done":true,"done_reason":"stop","context":[],"total_duration":0,"load_duration":0,"prompt_eval_count":3,"prompt_eval_duration":0,"eval_count":4,"eval_duration":0}"#,
            ]
        );
    }

    #[test]
    fn stream_errors_are_error_lines() {
        let mut writer = NdjsonWriter::chat("m".into(), 0);
        let mut out = Vec::new();
        writer.event(&StreamEvent::TextDelta("a".into()), &mut out);
        writer.error(&ApiError::bad_gateway("upstream \"died\""), &mut out);
        let lines = lines(&out);
        assert_eq!(lines[1], serde_json::json!({"error": "upstream \"died\""}));
    }

    #[test]
    fn tags_list_aliases_with_stable_digests() {
        let config = load_config(CONFIG);
        let body = tags(&config, 1);
        assert_eq!(body, tags(&config, 2), "listings do not change");
        let value: Value = serde_json::from_slice(&body).unwrap();
        let models = value["models"].as_array().unwrap();
        let names: Vec<&str> = models.iter().map(|m| m["name"].as_str().unwrap()).collect();
        // Catalog aliases of the configured providers, then the config's, then echo.
        assert!(names.contains(&"smart:latest"), "{names:?}");
        assert!(names.contains(&"fast:8b"), "{names:?}");
        assert!(names.contains(&"claude-sonnet-4-5:latest"), "{names:?}");
        assert_eq!(names.last(), Some(&"echo:latest"));
        assert!(!names.iter().any(|n| n.contains('/')));
        let smart = models.iter().find(|m| m["name"] == "smart:latest").unwrap();
        assert_eq!(smart["model"], "smart:latest");
        assert_eq!(smart["modified_at"], "2025-01-01T00:00:00.000000Z");
        assert_eq!(smart["size"], 0);
        let digest = smart["digest"].as_str().unwrap();
        assert_eq!(digest.len(), 64);
        assert!(
            digest
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(
            smart["details"],
            serde_json::json!({"parent_model":"","format":"gguf","family":"anthropic",
                "families":["anthropic"],"parameter_size":"","quantization_level":""})
        );
        // The digest follows the targets.
        let moved =
            load_config(&CONFIG.replace(r#""anthropic/claude-x", "local/m""#, r#""local/m""#));
        let moved: Value = serde_json::from_slice(&tags(&moved, 0)).unwrap();
        let moved = moved["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == "smart:latest")
            .unwrap()
            .clone();
        assert_ne!(moved["digest"], smart["digest"]);
        assert_eq!(moved["details"]["family"], "openai");

        let no_echo =
            crate::config::load(Some("[gateway]\necho_model = false"), &|_| None).unwrap();
        assert_eq!(
            String::from_utf8(tags(&no_echo, 0)).unwrap(),
            r#"{"models":[]}"#
        );
    }

    #[test]
    fn ps_lists_models_as_loaded() {
        let config = load_config(CONFIG);
        let value: Value = serde_json::from_slice(&ps(&config, 0)).unwrap();
        let smart = value["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == "smart:latest")
            .unwrap();
        assert_eq!(smart["expires_at"], "1970-01-01T00:05:00.000000Z");
        assert_eq!(smart["size_vram"], 0);
        assert_eq!(smart["context_length"], 200_000);
        let keys: Vec<&String> = smart.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 8);
    }

    #[test]
    fn version_is_a_real_ollama_release() {
        assert_eq!(version(), br#"{"version":"0.12.6"}"#);
    }

    #[test]
    fn show_describes_capabilities() {
        let config = load_config(CONFIG);
        let show_json = |body: &str| -> Value {
            serde_json::from_slice(&show(&config, body.as_bytes()).unwrap()).unwrap()
        };
        let smart = show_json(r#"{"model":"smart:latest"}"#);
        assert_eq!(
            smart,
            serde_json::json!({
                "license": "", "modelfile": "", "parameters": "", "template": "{{ .Prompt }}",
                "details": {"parent_model":"","format":"gguf","family":"anthropic",
                    "families":["anthropic"],"parameter_size":"","quantization_level":""},
                "model_info": {"general.architecture": "anthropic", "general.basename": "smart",
                    "anthropic.context_length": 200000},
                "capabilities": ["completion", "tools", "vision", "thinking"],
                "modified_at": "2025-01-01T00:00:00.000000Z",
            })
        );
        let text = String::from_utf8(show(&config, br#"{"model":"smart"}"#).unwrap()).unwrap();
        assert!(text.starts_with(r#"{"license":"","modelfile":"","parameters":"","template""#));
        assert!(text.ends_with(r#""capabilities":["completion","tools","vision","thinking"],"modified_at":"2025-01-01T00:00:00.000000Z"}"#), "{text}");

        let caps = |body: &str| show_json(body)["capabilities"].clone();
        // The legacy `name` field, an alias on a local OpenAI-compatible server.
        assert_eq!(
            caps(r#"{"name":"fast:8b"}"#),
            serde_json::json!(["completion", "tools", "vision"])
        );
        assert_eq!(
            caps(r#"{"model":"deepseek-chat"}"#),
            serde_json::json!(["completion", "tools", "thinking"])
        );
        assert_eq!(
            caps(r#"{"model":"echo"}"#),
            serde_json::json!(["completion", "tools"])
        );
        // `provider/model` names and pattern names resolve as for chat.
        assert_eq!(
            show_json(r#"{"model":"local/anything"}"#)["details"]["family"],
            "openai"
        );
        assert_eq!(
            show_json(r#"{"model":"claude-opus-9"}"#)["model_info"]["general.basename"],
            "claude-opus-9"
        );

        let missing = show(&config, br#"{"model":"nope:7b"}"#).unwrap_err();
        assert_eq!(missing.status, 404);
        assert_eq!(missing.message, "model 'nope:7b' not found");
        assert_eq!(
            missing.body(ErrorFormat::Ollama),
            br#"{"error":"model 'nope:7b' not found"}"#
        );
        let empty = show(&config, b"{}").unwrap_err();
        assert_eq!(
            (empty.status, empty.message.as_str()),
            (400, "model is required")
        );
    }

    #[test]
    fn show_refuses_overlong_model_names() {
        let config = load_config(CONFIG);
        let name = format!("local/{}", "m".repeat(251));
        assert_eq!(name.len(), 257);
        let body = serde_json::json!({ "model": name }).to_string();
        let error = show(&config, body.as_bytes()).unwrap_err();
        assert_eq!((error.status, error.kind), (400, "invalid_request_error"));
        assert_eq!(error.param, Some("model"));
        assert!(error.message.len() < 200, "{}", error.message);
        let fits = serde_json::json!({ "model": &name[..256] }).to_string();
        assert!(show(&config, fits.as_bytes()).is_ok());
    }
}
