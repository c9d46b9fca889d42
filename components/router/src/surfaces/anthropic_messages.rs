//! The Anthropic Messages surface: `POST /v1/messages` (what Claude Code and the anthropic SDKs
//! send) and the local token estimate behind `POST /v1/messages/count_tokens`.
//!
//! Requests to Anthropic providers are forwarded untouched (see `forward_target` for the headers);
//! everything here is for translation to other providers and back.

use apex_adapter_kit::types::{
    ChatRequest, ChatResponse, ContentPart, FinishReason, Image, ImageSource, Message, Protocol,
    Reasoning, Role, StreamEvent, Target, Thinking, Tool, ToolCall, ToolChoice, ToolResult,
    ToolResultPart, Usage,
};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::config::Provider;
use crate::http::error::{ApiError, ErrorFormat};
use crate::surfaces::openai_chat::parse_json;
use crate::surfaces::text_or_list::{ListItem, TextOrList};
use crate::surfaces::{Routing, StreamWriter, Surface};

/// `POST /v1/messages`.
pub struct AnthropicMessages;

impl Surface for AnthropicMessages {
    const PROTOCOL: Protocol = Protocol::AnthropicMessages;
    const FORWARD_PATH: &'static str = "messages";
    const ID_PREFIX: &'static str = "msg_";
    const ERRORS: ErrorFormat = ErrorFormat::Anthropic;
    type Writer = EventWriter;

    fn routing(body: &[u8]) -> Result<Routing, ApiError> {
        let fields = parse_json::<RoutingFields>(body)?;
        Ok(Routing {
            model: fields.model,
            stream: fields.stream.unwrap_or(false),
            include_usage: true,
            echo: Value::Null,
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
    if !matches!(
        target.kind.as_str(),
        "anthropic" | crate::config::VERTEX_KIND
    ) {
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
struct RoutingFields {
    model: String,
    stream: Option<bool>,
    #[allow(dead_code)] // checked to be an array, not used
    messages: Vec<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
pub struct WireRequest {
    model: String,
    max_tokens: Option<u32>,
    messages: Vec<WireMessage>,
    system: Option<TextOrBlocks>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    top_k: Option<u32>,
    stop_sequences: Option<Vec<String>>,
    stream: Option<bool>,
    metadata: Option<Metadata>,
    tools: Option<Vec<WireTool>>,
    tool_choice: Option<WireToolChoice>,
    thinking: Option<WireThinking>,
}

#[derive(Deserialize)]
struct Metadata {
    user_id: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage {
    role: String,
    content: TextOrBlocks,
}

/// One content block, any type (checked when converting, so errors name the field at fault).
/// Fields the neutral form has no place for (`cache_control`, `citations`) are ignored.
#[derive(Deserialize)]
struct WireBlock {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
    source: Option<WireImageSource>,
    id: Option<String>,
    name: Option<String>,
    input: Option<Box<RawValue>>,
    tool_use_id: Option<String>,
    content: Option<TextOrBlocks>,
    is_error: Option<bool>,
    thinking: Option<String>,
    signature: Option<String>,
    data: Option<String>,
}

#[derive(Deserialize)]
struct WireImageSource {
    #[serde(rename = "type")]
    kind: String,
    media_type: Option<String>,
    data: Option<String>,
    url: Option<String>,
}

#[derive(Deserialize)]
struct WireTool {
    #[serde(rename = "type")]
    kind: Option<String>,
    name: String,
    description: Option<String>,
    input_schema: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
struct WireToolChoice {
    #[serde(rename = "type")]
    kind: String,
    name: Option<String>,
    disable_parallel_tool_use: Option<bool>,
}

#[derive(Deserialize)]
struct WireThinking {
    #[serde(rename = "type")]
    kind: String,
    budget_tokens: Option<u32>,
}

/// A string, or an array of content blocks.
#[derive(Deserialize)]
#[serde(from = "TextOrList<WireBlock>")]
enum TextOrBlocks {
    Text(String),
    Blocks(Vec<WireBlock>),
}

impl From<TextOrList<WireBlock>> for TextOrBlocks {
    fn from(value: TextOrList<WireBlock>) -> Self {
        match value {
            TextOrList::Text(text) => TextOrBlocks::Text(text),
            TextOrList::List(blocks) => TextOrBlocks::Blocks(blocks),
        }
    }
}

impl ListItem for WireBlock {
    const NAME: &'static str = "content blocks";
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message)
}

/// A block type the neutral form cannot carry: only an Anthropic provider can take it, so the
/// error is `unsupported` (routing moves on to a target that forwards it).
fn only_on_anthropic(at: &str, kind: &str) -> ApiError {
    ApiError::bad_request(format!(
        "{at}: `{kind}` blocks can only be sent to Anthropic providers; this model's provider cannot take them."
    ))
    .code("unsupported")
}

fn required<T>(value: Option<T>, at: &str, field: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| invalid(format!("{at}.{field}: Field required")))
}

fn image(source: Option<WireImageSource>, at: &str) -> Result<Image, ApiError> {
    let source = required(source, at, "source")?;
    match source.kind.as_str() {
        "base64" => Ok(Image {
            source: ImageSource::Base64(required(source.data, at, "source.data")?),
            media_type: source.media_type,
            detail: None,
        }),
        "url" => Ok(Image {
            source: ImageSource::Url(required(source.url, at, "source.url")?),
            media_type: source.media_type,
            detail: None,
        }),
        other => Err(only_on_anthropic(&format!("{at}.source"), other)),
    }
}

fn tool_result(block: WireBlock, at: &str) -> Result<ToolResult, ApiError> {
    let call_id = required(block.tool_use_id, at, "tool_use_id")?;
    let content = match block.content {
        None => Vec::new(),
        Some(TextOrBlocks::Text(text)) => vec![ToolResultPart::Text(text)],
        Some(TextOrBlocks::Blocks(blocks)) => {
            let mut parts = Vec::with_capacity(blocks.len());
            for (i, inner) in blocks.into_iter().enumerate() {
                let at = format!("{at}.content[{i}]");
                parts.push(match inner.kind.as_str() {
                    "text" => ToolResultPart::Text(required(inner.text, &at, "text")?),
                    "image" => ToolResultPart::Image(image(inner.source, &at)?),
                    other => return Err(only_on_anthropic(&at, other)),
                });
            }
            parts
        }
    };
    Ok(ToolResult {
        call_id,
        name: None,
        content,
        is_error: block.is_error.unwrap_or(false),
    })
}

/// Convert one block of an assistant turn.
fn assistant_part(block: WireBlock, at: &str) -> Result<ContentPart, ApiError> {
    Ok(match block.kind.as_str() {
        "text" => ContentPart::Text(required(block.text, at, "text")?),
        "tool_use" => ContentPart::ToolCall(ToolCall {
            id: required(block.id, at, "id")?,
            name: required(block.name, at, "name")?,
            arguments: block
                .input
                .map(|input| input.get().to_string())
                .unwrap_or_else(|| "{}".to_string()),
        }),
        "thinking" => ContentPart::Thinking(Thinking {
            text: required(block.thinking, at, "thinking")?,
            signature: block.signature.filter(|s| !s.is_empty()),
        }),
        "redacted_thinking" => ContentPart::RedactedThinking(required(block.data, at, "data")?),
        "image" | "tool_result" => {
            return Err(invalid(format!(
                "{at}: `{}` blocks are only allowed in user messages",
                block.kind
            )));
        }
        other => return Err(only_on_anthropic(at, other)),
    })
}

/// Convert a user turn: text and images stay one user message; each `tool_result` becomes a tool
/// message, in order.
fn user_turn(content: TextOrBlocks, at: &str, out: &mut Vec<Message>) -> Result<(), ApiError> {
    let blocks = match content {
        TextOrBlocks::Text(text) => {
            out.push(message(Role::User, vec![ContentPart::Text(text)]));
            return Ok(());
        }
        TextOrBlocks::Blocks(blocks) => blocks,
    };
    let mut parts = Vec::new();
    for (i, block) in blocks.into_iter().enumerate() {
        let at = format!("{at}.content[{i}]");
        match block.kind.as_str() {
            "text" => parts.push(ContentPart::Text(required(block.text, &at, "text")?)),
            "image" => parts.push(ContentPart::Image(image(block.source, &at)?)),
            "tool_result" => {
                if !parts.is_empty() {
                    out.push(message(Role::User, std::mem::take(&mut parts)));
                }
                let result = tool_result(block, &at)?;
                out.push(message(Role::Tool, vec![ContentPart::ToolResult(result)]));
            }
            "tool_use" | "thinking" | "redacted_thinking" => {
                return Err(invalid(format!(
                    "{at}: `{}` blocks are only allowed in assistant messages",
                    block.kind
                )));
            }
            other => return Err(only_on_anthropic(&at, other)),
        }
    }
    if !parts.is_empty() {
        out.push(message(Role::User, parts));
    }
    Ok(())
}

fn message(role: Role, content: Vec<ContentPart>) -> Message {
    Message {
        role,
        content,
        name: None,
    }
}

/// The `system` prompt as one text (blocks joined by blank lines).
fn system_text(system: TextOrBlocks) -> Result<String, ApiError> {
    match system {
        TextOrBlocks::Text(text) => Ok(text),
        TextOrBlocks::Blocks(blocks) => {
            let mut texts = Vec::with_capacity(blocks.len());
            for (i, block) in blocks.into_iter().enumerate() {
                let at = format!("system[{i}]");
                if block.kind != "text" {
                    return Err(invalid(format!(
                        "{at}: system blocks must be `text`, not `{}`",
                        block.kind
                    )));
                }
                texts.push(required(block.text, &at, "text")?);
            }
            Ok(texts.join("\n\n"))
        }
    }
}

/// A `count_tokens` body (no `max_tokens`) in neutral form, for the local estimate.
pub fn count_request(body: &[u8]) -> Result<ChatRequest, ApiError> {
    to_neutral(parse_json::<WireRequest>(body)?, false)
}

/// Convert a parsed client request to the neutral form (the model is set later by routing).
pub fn to_neutral(request: WireRequest, needs_max_tokens: bool) -> Result<ChatRequest, ApiError> {
    let max_tokens = match request.max_tokens {
        None if needs_max_tokens => return Err(invalid("max_tokens: Field required")),
        max_tokens => max_tokens,
    };
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if let Some(system) = request.system {
        let text = system_text(system)?;
        if !text.is_empty() {
            messages.push(message(Role::System, vec![ContentPart::Text(text)]));
        }
    }
    for (i, wire) in request.messages.into_iter().enumerate() {
        let at = format!("messages[{i}]");
        match wire.role.as_str() {
            "user" => user_turn(wire.content, &at, &mut messages)?,
            "assistant" => {
                let parts = match wire.content {
                    TextOrBlocks::Text(text) => vec![ContentPart::Text(text)],
                    TextOrBlocks::Blocks(blocks) => {
                        let mut parts = Vec::with_capacity(blocks.len());
                        for (j, block) in blocks.into_iter().enumerate() {
                            parts.push(assistant_part(block, &format!("{at}.content[{j}]"))?);
                        }
                        parts
                    }
                };
                messages.push(message(Role::Assistant, parts));
            }
            other => {
                return Err(invalid(format!(
                    "{at}.role: Input should be 'user' or 'assistant', not `{other}`"
                )));
            }
        }
    }
    let mut tools = Vec::new();
    for (i, tool) in request.tools.unwrap_or_default().into_iter().enumerate() {
        if let Some(kind) = tool.kind.as_deref().filter(|k| *k != "custom") {
            return Err(only_on_anthropic(&format!("tools[{i}]"), kind));
        }
        tools.push(Tool {
            name: tool.name,
            description: tool.description,
            parameters: tool
                .input_schema
                .map(|schema| schema.get().to_string())
                .ok_or_else(|| invalid(format!("tools[{i}].input_schema: Field required")))?,
            strict: None,
        });
    }
    let mut parallel_tool_calls = None;
    let tool_choice = match request.tool_choice {
        None => None,
        Some(choice) => {
            if choice.disable_parallel_tool_use == Some(true) {
                parallel_tool_calls = Some(false);
            }
            Some(match choice.kind.as_str() {
                "auto" => ToolChoice::Auto,
                "any" => ToolChoice::Required,
                "none" => ToolChoice::None,
                "tool" => ToolChoice::Named(
                    choice
                        .name
                        .ok_or_else(|| invalid("tool_choice.name: Field required"))?,
                ),
                other => {
                    return Err(invalid(format!(
                        "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none', not `{other}`"
                    )));
                }
            })
        }
    };
    let reasoning = match request.thinking {
        None => None,
        Some(thinking) => match thinking.kind.as_str() {
            "enabled" => Some(Reasoning {
                effort: None,
                budget_tokens: Some(
                    thinking
                        .budget_tokens
                        .ok_or_else(|| invalid("thinking.budget_tokens: Field required"))?,
                ),
            }),
            "disabled" => None,
            // The provider picks its own budget.
            "adaptive" => Some(Reasoning {
                effort: Some("medium".to_string()),
                budget_tokens: None,
            }),
            other => {
                return Err(invalid(format!(
                    "thinking.type: Input should be 'enabled' or 'disabled', not `{other}`"
                )));
            }
        },
    };
    Ok(ChatRequest {
        model: request.model,
        messages,
        tools,
        tool_choice,
        parallel_tool_calls,
        max_tokens,
        temperature: request.temperature,
        top_p: request.top_p,
        top_k: request.top_k,
        stop: request.stop_sequences.unwrap_or_default(),
        seed: None,
        response_format: None,
        reasoning,
        user: request.metadata.and_then(|m| m.user_id),
        stream: request.stream.unwrap_or(false),
        extra: None,
    })
}

/// Anthropic's `stop_reason` for a neutral finish reason.
fn stop_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop | FinishReason::Error => "end_turn",
        FinishReason::Length => "max_tokens",
        FinishReason::ToolCalls => "tool_use",
        FinishReason::ContentFilter => "refusal",
    }
}

/// Anthropic counts cached tokens apart from `input_tokens`; the neutral count includes them.
fn usage_json(usage: &Usage) -> Value {
    let read = usage.cache_read_tokens.unwrap_or(0);
    let write = usage.cache_write_tokens.unwrap_or(0);
    json!({
        "input_tokens": usage.input_tokens.saturating_sub(read).saturating_sub(write),
        "cache_creation_input_tokens": write,
        "cache_read_input_tokens": read,
        "output_tokens": usage.output_tokens,
    })
}

/// Tool arguments as the `input` object: the model's JSON text when it is an object, else `{}`.
fn tool_input(arguments: &str) -> Box<RawValue> {
    let trimmed = arguments.trim();
    if trimmed.starts_with('{')
        && let Ok(raw) = serde_json::from_str::<Box<RawValue>>(trimmed)
    {
        return raw;
    }
    RawValue::from_string("{}".to_string()).unwrap_or_else(|_| Box::<RawValue>::default())
}

/// A content block of a rendered message.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum OutBlock<'a> {
    Text {
        text: &'a str,
    },
    Thinking {
        thinking: &'a str,
        signature: &'a str,
    },
    RedactedThinking {
        data: &'a str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: Box<RawValue>,
    },
}

fn out_block(part: &ContentPart) -> Option<OutBlock<'_>> {
    Some(match part {
        ContentPart::Text(text) if text.is_empty() => return None,
        ContentPart::Text(text) => OutBlock::Text { text },
        ContentPart::Thinking(thinking) => OutBlock::Thinking {
            thinking: &thinking.text,
            signature: thinking.signature.as_deref().unwrap_or(""),
        },
        ContentPart::RedactedThinking(data) => OutBlock::RedactedThinking { data },
        ContentPart::ToolCall(call) => OutBlock::ToolUse {
            id: &call.id,
            name: &call.name,
            input: tool_input(&call.arguments),
        },
        ContentPart::Image(_) | ContentPart::ToolResult(_) => return None,
    })
}

#[derive(Serialize)]
struct OutMessage<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: Vec<OutBlock<'a>>,
    stop_reason: &'static str,
    stop_sequence: Option<&'a str>,
    usage: Value,
}

/// A neutral response as an Anthropic `message` (tool inputs keep the model's exact JSON text).
pub fn render_response(response: &ChatResponse, id: &str, model: &str) -> Vec<u8> {
    let usage = response.usage.unwrap_or(Usage {
        input_tokens: 0,
        output_tokens: 0,
        cache_read_tokens: None,
        cache_write_tokens: None,
        reasoning_tokens: None,
    });
    let message = OutMessage {
        id,
        kind: "message",
        role: "assistant",
        model,
        content: response.content.iter().filter_map(out_block).collect(),
        stop_reason: stop_reason(response.finish_reason),
        stop_sequence: None,
        usage: usage_json(&usage),
    };
    serde_json::to_vec(&message).unwrap_or_default()
}

/// The block being streamed.
#[derive(Clone, Copy, PartialEq)]
enum Open {
    Text,
    Thinking,
    /// A tool call (by its neutral index) and whether any argument bytes were sent.
    Tool(u32, bool),
}

/// Renders neutral stream events as Anthropic's server-sent events: `message_start`, then per
/// block `content_block_start` / `content_block_delta`s / `content_block_stop`, `message_delta`
/// (stop reason, usage) and `message_stop`.
pub struct EventWriter {
    id: String,
    model: String,
    started: bool,
    /// Index of the open block, and what it is.
    open: Option<(u32, Open)>,
    next_index: u32,
    usage: Option<Usage>,
}

impl EventWriter {
    pub fn new(id: String, model: String) -> Self {
        Self {
            id,
            model,
            started: false,
            open: None,
            next_index: 0,
            usage: None,
        }
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let message = json!({
            "type": "message_start",
            "message": {
                "id": self.id,
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": {"input_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 0},
            },
        });
        sse(out, "message_start", &message);
        sse(out, "ping", &json!({"type": "ping"}));
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if let Some((index, open)) = self.open.take() {
            if let Open::Tool(_, false) = open {
                // A call that streamed no arguments still has an input: `{}`.
                delta(
                    out,
                    index,
                    json!({"type": "input_json_delta", "partial_json": "{}"}),
                );
            }
            sse(
                out,
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            );
        }
    }

    /// Make sure a block of this sort is open, opening it with `block` when not; returns its index.
    fn ensure(&mut self, sort: Open, block: Value, out: &mut Vec<u8>) -> u32 {
        self.start(out);
        if let Some((index, open)) = self.open
            && open == sort
        {
            return index;
        }
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some((index, sort));
        sse(
            out,
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        );
        index
    }

    fn thinking_block(&mut self, out: &mut Vec<u8>) -> u32 {
        self.ensure(
            Open::Thinking,
            json!({"type": "thinking", "thinking": "", "signature": ""}),
            out,
        )
    }
}

fn delta(out: &mut Vec<u8>, index: u32, delta: Value) {
    sse(
        out,
        "content_block_delta",
        &json!({"type": "content_block_delta", "index": index, "delta": delta}),
    );
}

impl StreamWriter for EventWriter {
    fn event(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        match event {
            // `message_start` waits for the first content, so an early failure can fail over.
            StreamEvent::Start(_) => {}
            StreamEvent::TextDelta(text) => {
                if text.is_empty() {
                    return;
                }
                let index = self.ensure(Open::Text, json!({"type": "text", "text": ""}), out);
                delta(out, index, json!({"type": "text_delta", "text": text}));
            }
            StreamEvent::ThinkingDelta(text) => {
                let index = self.thinking_block(out);
                delta(
                    out,
                    index,
                    json!({"type": "thinking_delta", "thinking": text}),
                );
            }
            StreamEvent::ThinkingSignature(signature) => {
                let index = self.thinking_block(out);
                delta(
                    out,
                    index,
                    json!({"type": "signature_delta", "signature": signature}),
                );
                // A signature ends its thinking block.
                self.close(out);
            }
            StreamEvent::ToolCallStart(call) => {
                self.start(out);
                self.close(out);
                let index = self.next_index;
                self.next_index += 1;
                self.open = Some((index, Open::Tool(call.index, false)));
                sse(
                    out,
                    "content_block_start",
                    &json!({"type": "content_block_start", "index": index, "content_block": {
                        "type": "tool_use", "id": call.id, "name": call.name, "input": {},
                    }}),
                );
            }
            StreamEvent::ToolCallDelta(call) => {
                if call.arguments.is_empty() {
                    return;
                }
                // Deltas belong to the open call; providers stream calls one after another.
                if let Some((index, Open::Tool(tool, _))) = self.open
                    && tool == call.index
                {
                    self.open = Some((index, Open::Tool(tool, true)));
                    delta(
                        out,
                        index,
                        json!({"type": "input_json_delta", "partial_json": call.arguments}),
                    );
                }
            }
            StreamEvent::Usage(usage) => self.usage = Some(*usage),
            StreamEvent::Finish(reason) => {
                self.start(out);
                self.close(out);
                let usage = self.usage.map(|u| usage_json(&u)).unwrap_or_else(
                    || json!({"input_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 0}),
                );
                sse(
                    out,
                    "message_delta",
                    &json!({
                        "type": "message_delta",
                        "delta": {"stop_reason": stop_reason(*reason), "stop_sequence": null},
                        "usage": usage,
                    }),
                );
                sse(out, "message_stop", &json!({"type": "message_stop"}));
            }
        }
    }

    fn done(&mut self, _out: &mut Vec<u8>) {}

    fn error(&mut self, error: &ApiError, out: &mut Vec<u8>) {
        let body = json!({
            "type": "error",
            "error": {"type": error.anthropic_type(), "message": error.message},
        });
        sse(out, "error", &body);
    }
}

/// One server-sent event with its `event:` name, as Anthropic frames them.
fn sse(out: &mut Vec<u8>, name: &str, value: &Value) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.extend_from_slice(b"{}");
    }
    out.extend_from_slice(b"\n\n");
}

/// The local estimate `count_tokens` answers with when the provider has no counting endpoint:
/// about four bytes of text per token (the ratio OpenAI and Anthropic both quote for English),
/// over the system prompt, every message, tool definitions and tool arguments, plus a few tokens
/// of framing per message and tool. It is an estimate, stated as one in the README.
pub fn estimate_tokens(request: &ChatRequest) -> u32 {
    fn tokens(bytes: usize) -> u64 {
        (bytes as u64).div_ceil(4)
    }
    let mut total: u64 = 0;
    for message in &request.messages {
        total += 4;
        for part in &message.content {
            total += match part {
                ContentPart::Text(text) => tokens(text.len()),
                ContentPart::Thinking(thinking) => tokens(thinking.text.len()),
                ContentPart::ToolCall(call) => tokens(call.name.len() + call.arguments.len()) + 4,
                ContentPart::ToolResult(result) => {
                    result
                        .content
                        .iter()
                        .map(|part| match part {
                            ToolResultPart::Text(text) => tokens(text.len()),
                            // Anthropic's rule of thumb for a ~1000×1000 image.
                            ToolResultPart::Image(_) => 1600,
                        })
                        .sum::<u64>()
                        + 4
                }
                ContentPart::Image(_) => 1600,
                ContentPart::RedactedThinking(data) => tokens(data.len()),
            };
        }
    }
    for tool in &request.tools {
        total += 8 + tokens(
            tool.name.len()
                + tool.description.as_ref().map_or(0, String::len)
                + tool.parameters.len(),
        );
    }
    u32::try_from(total).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use apex_adapter_kit::types::{StreamStart, ToolCallDelta, ToolCallStart};

    const CLAUDE_CODE_TURN: &str = r#"{
        "model": "claude-sonnet-4-5-20250929", "max_tokens": 32000, "stream": true,
        "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
                   {"type": "text", "text": "Be brief."}],
        "metadata": {"user_id": "user_abc"},
        "thinking": {"type": "enabled", "budget_tokens": 4000},
        "tools": [{"name": "Bash", "description": "run", "input_schema": {"type":"object","properties":{"command":{"type":"string"}}}}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "list files", "cache_control": {"type": "ephemeral"}}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "use ls", "signature": "sig=="},
                {"type": "text", "text": "Running ls."},
                {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls -la  ~/Zürich"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "a.txt"}], "is_error": false},
                {"type": "text", "text": "and now?"}]}
        ]
    }"#;

    #[test]
    fn a_claude_code_turn_converts() {
        let neutral = AnthropicMessages::to_neutral(CLAUDE_CODE_TURN.as_bytes()).unwrap();
        assert_eq!(neutral.max_tokens, Some(32000));
        assert!(neutral.stream);
        assert_eq!(neutral.user.as_deref(), Some("user_abc"));
        assert_eq!(neutral.tool_choice, Some(ToolChoice::Required));
        assert_eq!(neutral.parallel_tool_calls, Some(false));
        assert_eq!(
            neutral.reasoning.as_ref().unwrap().budget_tokens,
            Some(4000)
        );
        let roles: Vec<Role> = neutral.messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [
                Role::System,
                Role::User,
                Role::Assistant,
                Role::Tool,
                Role::User
            ]
        );
        assert_eq!(
            neutral.messages[0].content,
            vec![ContentPart::Text(
                "You are Claude Code.\n\nBe brief.".into()
            )]
        );
        assert_eq!(
            neutral.messages[2].content[0],
            ContentPart::Thinking(Thinking {
                text: "use ls".into(),
                signature: Some("sig==".into())
            })
        );
        // Tool input travels as the client's exact JSON text.
        assert_eq!(
            neutral.messages[2].content[2],
            ContentPart::ToolCall(ToolCall {
                id: "toolu_1".into(),
                name: "Bash".into(),
                arguments: r#"{"command": "ls -la  ~/Zürich"}"#.into()
            })
        );
        assert_eq!(
            neutral.tools[0].parameters,
            r#"{"type":"object","properties":{"command":{"type":"string"}}}"#
        );
    }

    #[test]
    fn bad_input_is_named() {
        let missing = AnthropicMessages::to_neutral(
            br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#,
        )
        .unwrap_err();
        assert!(
            missing.message.contains("max_tokens"),
            "{}",
            missing.message
        );
        let role = AnthropicMessages::to_neutral(
            br#"{"model":"m","max_tokens":5,"messages":[{"role":"system","content":"hi"}]}"#,
        )
        .unwrap_err();
        assert!(
            role.message.contains("messages[0].role"),
            "{}",
            role.message
        );
        let document = AnthropicMessages::to_neutral(
            br#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"AA=="}}]}]}"#,
        )
        .unwrap_err();
        assert_eq!(document.status, 400);
        assert!(
            document.message.contains("document"),
            "{}",
            document.message
        );
        let content = AnthropicMessages::to_neutral(
            br#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":5}]}"#,
        )
        .unwrap_err();
        assert!(
            content.message.contains("messages[0].content"),
            "{}",
            content.message
        );
        let server_tool = AnthropicMessages::to_neutral(
            br#"{"model":"m","max_tokens":5,"messages":[],"tools":[{"type":"web_search_20250305","name":"web_search"}]}"#,
        )
        .unwrap_err();
        assert!(server_tool.message.contains("web_search_20250305"));
    }

    #[test]
    fn responses_render_as_messages() {
        let response = ChatResponse {
            id: "x".into(),
            model: "up".into(),
            content: vec![
                ContentPart::Thinking(Thinking {
                    text: "hmm".into(),
                    signature: None,
                }),
                ContentPart::Text("Zürich".into()),
                ContentPart::ToolCall(ToolCall {
                    id: "call_1".into(),
                    name: "f".into(),
                    arguments: r#"{"b": 1, "a": [ ]}"#.into(),
                }),
            ],
            finish_reason: FinishReason::ToolCalls,
            usage: Some(Usage {
                input_tokens: 100,
                output_tokens: 7,
                cache_read_tokens: Some(60),
                cache_write_tokens: None,
                reasoning_tokens: None,
            }),
        };
        let body = render_response(&response, "msg_1", "alias");
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(text.contains(r#""input":{"b": 1, "a": [ ]}"#), "{text}");
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["stop_reason"], "tool_use");
        assert_eq!(value["content"][0]["type"], "thinking");
        assert_eq!(value["content"][1]["text"], "Zürich");
        assert_eq!(value["usage"]["input_tokens"], 40);
        assert_eq!(value["usage"]["cache_read_input_tokens"], 60);
    }

    fn events(body: &[u8]) -> Vec<(String, Value)> {
        let text = String::from_utf8(body.to_vec()).unwrap();
        text.split("\n\n")
            .filter(|frame| !frame.is_empty())
            .map(|frame| {
                let mut lines = frame.lines();
                let name = lines.next().unwrap().strip_prefix("event: ").unwrap();
                let data = lines.next().unwrap().strip_prefix("data: ").unwrap();
                let value: Value = serde_json::from_str(data).unwrap();
                assert_eq!(value["type"], name);
                (name.to_string(), value)
            })
            .collect()
    }

    #[test]
    fn streams_follow_anthropics_event_grammar() {
        let mut writer = EventWriter::new("msg_1".into(), "alias".into());
        let mut out = Vec::new();
        let stream = [
            StreamEvent::Start(StreamStart {
                id: "u".into(),
                model: "m".into(),
            }),
            StreamEvent::ThinkingDelta("think".into()),
            StreamEvent::ThinkingSignature("sig".into()),
            StreamEvent::TextDelta("Hi ".into()),
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
            StreamEvent::ToolCallDelta(ToolCallDelta {
                index: 0,
                arguments: "1}".into(),
            }),
            StreamEvent::ToolCallStart(ToolCallStart {
                index: 1,
                id: "c1".into(),
                name: "g".into(),
            }),
            StreamEvent::Usage(Usage {
                input_tokens: 10,
                output_tokens: 5,
                cache_read_tokens: None,
                cache_write_tokens: None,
                reasoning_tokens: None,
            }),
            StreamEvent::Finish(FinishReason::ToolCalls),
        ];
        writer.event(&stream[0], &mut out);
        assert!(out.is_empty(), "nothing before the first content");
        for event in &stream[1..] {
            writer.event(event, &mut out);
        }
        let events = events(&out);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "ping",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ]
        );
        assert_eq!(events[2].1["content_block"]["type"], "thinking");
        assert_eq!(events[4].1["delta"]["type"], "signature_delta");
        assert_eq!(events[6].1["index"], 1);
        assert_eq!(events[8].1["delta"]["text"], "Zürich");
        assert_eq!(events[10].1["content_block"]["id"], "c0");
        assert_eq!(events[12].1["delta"]["partial_json"], "1}");
        assert_eq!(events[14].1["index"], 3);
        // A call that streamed no arguments gets `{}`.
        assert_eq!(events[15].1["delta"]["partial_json"], "{}");
        assert_eq!(events[17].1["delta"]["stop_reason"], "tool_use");
        assert_eq!(events[17].1["usage"]["output_tokens"], 5);
    }

    #[test]
    fn the_estimate_grows_with_the_prompt() {
        let small =
            count_request(br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#).unwrap();
        let large = AnthropicMessages::to_neutral(CLAUDE_CODE_TURN.as_bytes()).unwrap();
        let (small, large) = (estimate_tokens(&small), estimate_tokens(&large));
        assert!(small >= 1 && small < large, "{small} {large}");
    }
}
