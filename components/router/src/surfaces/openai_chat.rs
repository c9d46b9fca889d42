//! The OpenAI Chat Completions surface: `POST /v1/chat/completions`.

use apex_adapter_kit::types::{
    ChatRequest, ChatResponse, ContentPart, FinishReason, Image, ImageSource, JsonSchemaFormat,
    Message, Protocol, Reasoning, ResponseFormat, Role, StreamEvent, Thinking, Tool, ToolCall,
    ToolChoice, ToolResult, ToolResultPart, Usage,
};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::http::error::{ApiError, ErrorFormat};
use crate::surfaces::text_or_list::{ListItem, TextOrList};
use crate::surfaces::{Routing, StreamWriter, Surface};

/// `POST /v1/chat/completions`.
pub struct OpenAiChat;

impl Surface for OpenAiChat {
    const PROTOCOL: Protocol = Protocol::OpenaiChat;
    const FORWARD_PATH: &'static str = "chat/completions";
    const ID_PREFIX: &'static str = "chatcmpl-";
    const ERRORS: ErrorFormat = ErrorFormat::OpenAi;
    type Writer = ChunkWriter;

    fn routing(body: &[u8]) -> Result<Routing, ApiError> {
        let fields = parse_json::<RoutingFields>(body)?;
        Ok(Routing {
            stream: fields.stream(),
            include_usage: fields.include_usage(),
            model: fields.model,
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
}

#[derive(Deserialize)]
pub struct WireRequest {
    pub model: String,
    messages: Vec<WireMessage>,
    pub stream: Option<bool>,
    #[serde(default)]
    tools: Vec<WireTool>,
    tool_choice: Option<WireToolChoice>,
    parallel_tool_calls: Option<bool>,
    max_tokens: Option<u32>,
    max_completion_tokens: Option<u32>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    top_k: Option<u32>,
    stop: Option<Stop>,
    seed: Option<i64>,
    response_format: Option<WireResponseFormat>,
    reasoning_effort: Option<String>,
    user: Option<String>,
    n: Option<u32>,
}

#[derive(Deserialize)]
struct StreamOptions {
    include_usage: Option<bool>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Stop {
    One(String),
    Many(Vec<String>),
}

/// One message, any role (checked in [`to_neutral`], so errors name the field at fault).
#[derive(Deserialize)]
struct WireMessage {
    role: String,
    content: Option<Content>,
    name: Option<String>,
    tool_calls: Option<Vec<WireToolCall>>,
    tool_call_id: Option<String>,
    reasoning_content: Option<String>,
}

/// A string, or an array of content parts.
#[derive(Deserialize)]
#[serde(from = "TextOrList<Part>")]
enum Content {
    Text(String),
    Parts(Vec<Part>),
}

impl From<TextOrList<Part>> for Content {
    fn from(value: TextOrList<Part>) -> Self {
        match value {
            TextOrList::Text(text) => Content::Text(text),
            TextOrList::List(parts) => Content::Parts(parts),
        }
    }
}

impl ListItem for Part {
    const NAME: &'static str = "content parts";
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Part {
    Text { text: String },
    ImageUrl { image_url: ImageUrl },
    Refusal { refusal: String },
}

#[derive(Deserialize)]
struct ImageUrl {
    url: String,
    detail: Option<String>,
}

#[derive(Deserialize)]
struct WireToolCall {
    id: String,
    function: WireFunction,
}

#[derive(Deserialize)]
struct WireFunction {
    name: String,
    #[serde(default)]
    arguments: String,
}

#[derive(Deserialize)]
struct WireTool {
    function: WireToolFunction,
}

#[derive(Deserialize)]
struct WireToolFunction {
    name: String,
    description: Option<String>,
    parameters: Option<Box<RawValue>>,
    strict: Option<bool>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum WireToolChoice {
    Mode(String),
    Named { function: NamedFunction },
}

#[derive(Deserialize)]
struct NamedFunction {
    name: String,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireResponseFormat {
    Text,
    JsonObject,
    JsonSchema { json_schema: WireJsonSchema },
}

#[derive(Deserialize)]
struct WireJsonSchema {
    name: String,
    schema: Option<Box<RawValue>>,
    strict: Option<bool>,
}

/// What routing needs from a body: checked up front for every request. The rest is validated only
/// when a target translates it (forwarding keeps fields the neutral form cannot hold).
#[derive(Deserialize)]
pub struct RoutingFields {
    pub model: String,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    #[allow(dead_code)] // checked to be an array of objects, not used
    messages: Vec<serde::de::IgnoredAny>,
}

impl RoutingFields {
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

/// Parse a body, naming the field at fault when it does not fit.
pub fn parse_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize(&mut de) {
        Ok(value) => Ok(value),
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

fn text_of(content: Content, at: &str) -> Result<String, ApiError> {
    match content {
        Content::Text(text) => Ok(text),
        Content::Parts(parts) => {
            let mut text = String::new();
            for part in parts {
                match part {
                    Part::Text { text: t } | Part::Refusal { refusal: t } => text.push_str(&t),
                    Part::ImageUrl { .. } => {
                        return Err(ApiError::bad_request(format!(
                            "{at}: images are only allowed in user messages"
                        )));
                    }
                }
            }
            Ok(text)
        }
    }
}

fn parts_of(content: Content) -> Vec<ContentPart> {
    match content {
        Content::Text(text) => vec![ContentPart::Text(text)],
        Content::Parts(parts) => parts
            .into_iter()
            .map(|part| match part {
                Part::Text { text } | Part::Refusal { refusal: text } => ContentPart::Text(text),
                Part::ImageUrl { image_url } => ContentPart::Image(Image {
                    source: ImageSource::Url(image_url.url),
                    media_type: None,
                    detail: image_url.detail,
                }),
            })
            .collect(),
    }
}

/// Convert a parsed client request to the neutral form (the model is set later by routing).
pub fn to_neutral(request: WireRequest) -> Result<ChatRequest, ApiError> {
    if request.n.is_some_and(|n| n != 1) {
        return Err(ApiError::bad_request("Only `n: 1` is supported.").param("n"));
    }
    if request.messages.is_empty() {
        return Err(ApiError::bad_request("`messages` must not be empty.").param("messages"));
    }
    let mut messages = Vec::with_capacity(request.messages.len());
    for (i, message) in request.messages.into_iter().enumerate() {
        let at = format!("messages[{i}]");
        let content = message.content;
        let required = |content: Option<Content>| {
            content.ok_or_else(|| {
                ApiError::bad_request(format!("`{at}.content` is required.")).param("messages")
            })
        };
        messages.push(match message.role.as_str() {
            "system" | "developer" => Message {
                role: if message.role == "system" { Role::System } else { Role::Developer },
                content: vec![ContentPart::Text(text_of(required(content)?, &at)?)],
                name: message.name,
            },
            "user" => Message {
                role: Role::User,
                content: parts_of(required(content)?),
                name: message.name,
            },
            "assistant" => {
                let mut parts = Vec::new();
                if let Some(reasoning) = message.reasoning_content.filter(|r| !r.is_empty()) {
                    parts.push(ContentPart::Thinking(Thinking { text: reasoning, signature: None }));
                }
                if let Some(content) = content {
                    let text = text_of(content, &at)?;
                    if !text.is_empty() {
                        parts.push(ContentPart::Text(text));
                    }
                }
                for call in message.tool_calls.unwrap_or_default() {
                    parts.push(ContentPart::ToolCall(ToolCall {
                        id: call.id,
                        name: call.function.name,
                        arguments: call.function.arguments,
                    }));
                }
                Message { role: Role::Assistant, content: parts, name: message.name }
            }
            "tool" => {
                let call_id = message.tool_call_id.ok_or_else(|| {
                    ApiError::bad_request(format!("`{at}.tool_call_id` is required for tool messages.")).param("messages")
                })?;
                Message {
                    role: Role::Tool,
                    content: vec![ContentPart::ToolResult(ToolResult {
                        call_id,
                        name: None,
                        content: vec![ToolResultPart::Text(text_of(required(content)?, &at)?)],
                        is_error: false,
                    })],
                    name: None,
                }
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "`{at}.role` must be `system`, `developer`, `user`, `assistant` or `tool`, not `{other}`."
                ))
                .param("messages"));
            }
        });
    }
    let tools = request
        .tools
        .into_iter()
        .map(|tool| Tool {
            name: tool.function.name,
            description: tool.function.description,
            parameters: tool
                .function
                .parameters
                .map(|p| p.get().to_string())
                .unwrap_or_else(|| r#"{"type":"object","properties":{}}"#.to_string()),
            strict: tool.function.strict,
        })
        .collect();
    let tool_choice = match request.tool_choice {
        None => None,
        Some(WireToolChoice::Mode(mode)) => Some(match mode.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            other => {
                return Err(ApiError::bad_request(format!(
                    "`tool_choice` must be `auto`, `none`, `required` or a function, not `{other}`."
                ))
                .param("tool_choice"));
            }
        }),
        Some(WireToolChoice::Named { function }) => Some(ToolChoice::Named(function.name)),
    };
    let response_format = request.response_format.map(|format| match format {
        WireResponseFormat::Text => ResponseFormat::Text,
        WireResponseFormat::JsonObject => ResponseFormat::JsonObject,
        WireResponseFormat::JsonSchema { json_schema } => {
            ResponseFormat::JsonSchema(JsonSchemaFormat {
                name: json_schema.name,
                schema: json_schema
                    .schema
                    .map(|s| s.get().to_string())
                    .unwrap_or_else(|| "{}".to_string()),
                strict: json_schema.strict,
            })
        }
    });
    Ok(ChatRequest {
        model: request.model,
        messages,
        tools,
        tool_choice,
        parallel_tool_calls: request.parallel_tool_calls,
        max_tokens: request.max_completion_tokens.or(request.max_tokens),
        temperature: request.temperature,
        top_p: request.top_p,
        top_k: request.top_k,
        stop: match request.stop {
            None => Vec::new(),
            Some(Stop::One(s)) => vec![s],
            Some(Stop::Many(v)) => v,
        },
        seed: request.seed,
        response_format,
        reasoning: request.reasoning_effort.map(|effort| Reasoning {
            effort: Some(effort),
            budget_tokens: None,
        }),
        user: request.user,
        stream: request.stream.unwrap_or(false),
        extra: None,
    })
}

fn finish_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
        FinishReason::Error => "stop",
    }
}

fn usage_json(usage: &Usage) -> Value {
    let mut u = Map::new();
    u.insert("prompt_tokens".into(), json!(usage.input_tokens));
    u.insert("completion_tokens".into(), json!(usage.output_tokens));
    u.insert(
        "total_tokens".into(),
        // Summed in 64 bits: two u32 counts near the top (a provider's word) would overflow.
        json!(u64::from(usage.input_tokens) + u64::from(usage.output_tokens)),
    );
    if let Some(cached) = usage.cache_read_tokens {
        u.insert(
            "prompt_tokens_details".into(),
            json!({"cached_tokens": cached}),
        );
    }
    if let Some(reasoning) = usage.reasoning_tokens {
        u.insert(
            "completion_tokens_details".into(),
            json!({"reasoning_tokens": reasoning}),
        );
    }
    Value::Object(u)
}

/// A neutral response as an OpenAI `chat.completion`.
pub fn render_response(response: &ChatResponse, id: &str, model: &str, created: u64) -> Vec<u8> {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for part in &response.content {
        match part {
            ContentPart::Text(t) => text.push_str(t),
            ContentPart::Thinking(t) => reasoning.push_str(&t.text),
            ContentPart::ToolCall(call) => calls.push(json!({
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            })),
            _ => {}
        }
    }
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    message.insert(
        "content".into(),
        if text.is_empty() && !calls.is_empty() {
            Value::Null
        } else {
            Value::String(text)
        },
    );
    if !reasoning.is_empty() {
        message.insert("reasoning_content".into(), Value::String(reasoning));
    }
    if !calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    message.insert("refusal".into(), Value::Null);
    let mut body = json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason(response.finish_reason),
        }],
    });
    if let (Some(usage), Value::Object(map)) = (&response.usage, &mut body) {
        map.insert("usage".into(), usage_json(usage));
    }
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Renders neutral stream events as `chat.completion.chunk` server-sent events.
pub struct ChunkWriter {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    usage: Option<Usage>,
    started: bool,
}

impl ChunkWriter {
    pub fn new(id: String, model: String, created: u64, include_usage: bool) -> Self {
        Self {
            id,
            model,
            created,
            include_usage,
            usage: None,
            started: false,
        }
    }

    fn chunk(&self, out: &mut Vec<u8>, delta: Value, finish: Option<&str>) {
        let chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        sse(out, &chunk);
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            self.started = true;
            self.chunk(out, json!({"role": "assistant", "content": ""}), None);
        }
    }

    /// Append the SSE bytes for `event` to `out`.
    pub fn event(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        match event {
            // The role chunk waits for the first content: until then nothing has reached the
            // client, so a failure right after the provider's start can still fail over.
            StreamEvent::Start(_) => {}
            StreamEvent::TextDelta(text) => {
                self.start(out);
                self.chunk(out, json!({"content": text}), None);
            }
            StreamEvent::ThinkingDelta(text) => {
                self.start(out);
                self.chunk(out, json!({"reasoning_content": text}), None);
            }
            StreamEvent::ThinkingSignature(_) => {}
            StreamEvent::ToolCallStart(call) => {
                self.start(out);
                self.chunk(
                    out,
                    json!({"tool_calls": [{
                        "index": call.index,
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": ""},
                    }]}),
                    None,
                );
            }
            StreamEvent::ToolCallDelta(delta) => {
                self.start(out);
                self.chunk(
                    out,
                    json!({"tool_calls": [{"index": delta.index, "function": {"arguments": delta.arguments}}]}),
                    None,
                );
            }
            StreamEvent::Usage(usage) => self.usage = Some(*usage),
            StreamEvent::Finish(reason) => {
                self.start(out);
                self.chunk(out, json!({}), Some(finish_reason(*reason)));
                if self.include_usage {
                    let chunk = json!({
                        "id": self.id,
                        "object": "chat.completion.chunk",
                        "created": self.created,
                        "model": self.model,
                        "choices": [],
                        "usage": self.usage.as_ref().map(usage_json),
                    });
                    sse(out, &chunk);
                }
            }
        }
    }

    /// The end of a successful stream.
    pub fn done(out: &mut Vec<u8>) {
        out.extend_from_slice(b"data: [DONE]\n\n");
    }

    /// A failure after the stream began: an error event (what OpenAI sends), no `[DONE]`.
    pub fn error(error: &ApiError, out: &mut Vec<u8>) {
        let body = json!({"error": {"message": error.message, "type": error.kind, "param": null, "code": error.code}});
        sse(out, &body);
    }
}

impl StreamWriter for ChunkWriter {
    fn event(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        ChunkWriter::event(self, event, out);
    }

    fn done(&mut self, out: &mut Vec<u8>) {
        ChunkWriter::done(out);
    }

    fn error(&mut self, error: &ApiError, out: &mut Vec<u8>) {
        ChunkWriter::error(error, out);
    }
}

fn sse(out: &mut Vec<u8>, value: &Value) {
    out.extend_from_slice(b"data: ");
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.extend_from_slice(b"{}");
    }
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use apex_adapter_kit::types::{StreamStart, ToolCallDelta, ToolCallStart};

    #[test]
    fn full_request_converts() {
        let body = r#"{
            "model": "m", "stream": true, "stream_options": {"include_usage": true},
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "hi"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA==", "detail": "low"}}]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\": \"é\"}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "ok"}
            ],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            "tool_choice": "required", "stop": "END", "max_tokens": 9, "unknown_new_field": 1
        }"#;
        let routing: RoutingFields = parse_json(body.as_bytes()).unwrap();
        assert!(routing.stream() && routing.include_usage());
        let wire: WireRequest = parse_json(body.as_bytes()).unwrap();
        let neutral = to_neutral(wire).unwrap();
        assert_eq!(neutral.messages.len(), 4);
        assert_eq!(neutral.messages[2].role, Role::Assistant);
        assert_eq!(
            neutral.messages[2].content,
            vec![ContentPart::ToolCall(ToolCall {
                id: "c1".into(),
                name: "f".into(),
                arguments: "{\"a\": \"é\"}".into()
            })]
        );
        assert_eq!(neutral.tools[0].parameters, r#"{"type": "object"}"#);
        assert_eq!(neutral.tool_choice, Some(ToolChoice::Required));
        assert_eq!(neutral.stop, vec!["END".to_string()]);
        assert_eq!(neutral.max_tokens, Some(9));
        assert!(neutral.stream);
    }

    #[test]
    fn huge_usage_counts_add_up_without_overflow() {
        let usage = Usage {
            input_tokens: u32::MAX,
            output_tokens: u32::MAX,
            cache_read_tokens: None,
            cache_write_tokens: None,
            reasoning_tokens: None,
        };
        assert_eq!(
            usage_json(&usage)["total_tokens"],
            json!(2 * u64::from(u32::MAX))
        );
    }

    #[test]
    fn bad_input_names_the_field() {
        let err = parse_json::<WireRequest>(
            br#"{"model": "m", "messages": [{"role": "user", "content": 5}]}"#,
        )
        .err()
        .unwrap();
        assert_eq!(err.status, 400);
        assert!(
            err.message.contains("messages[0].content"),
            "{}",
            err.message
        );
        assert!(
            err.message
                .contains("a string or an array of content parts"),
            "{}",
            err.message
        );
        let bad_role = to_neutral(
            parse_json(br#"{"model": "m", "messages": [{"role": "wizard", "content": "x"}]}"#)
                .unwrap(),
        )
        .err()
        .unwrap();
        assert!(
            bad_role.message.contains("`messages[0].role`") && bad_role.message.contains("wizard"),
            "{}",
            bad_role.message
        );
        let no_id = to_neutral(
            parse_json(br#"{"model": "m", "messages": [{"role": "tool", "content": "x"}]}"#)
                .unwrap(),
        )
        .err()
        .unwrap();
        assert!(no_id.message.contains("tool_call_id"), "{}", no_id.message);
        let err = parse_json::<WireRequest>(b"{not json").err().unwrap();
        assert!(err.message.contains("not valid JSON"), "{}", err.message);
        let err = parse_json::<WireRequest>(br#"{"messages": []}"#)
            .err()
            .unwrap();
        assert!(err.message.contains("model"), "{}", err.message);
    }

    #[test]
    fn stream_grammar() {
        let mut writer = ChunkWriter::new("id1".into(), "alias".into(), 7, true);
        let mut out = Vec::new();
        for event in [
            StreamEvent::Start(StreamStart {
                id: "u".into(),
                model: "up".into(),
            }),
            StreamEvent::ToolCallStart(ToolCallStart {
                index: 0,
                id: "c".into(),
                name: "f".into(),
            }),
            StreamEvent::ToolCallDelta(ToolCallDelta {
                index: 0,
                arguments: "{\"a\":1}".into(),
            }),
            StreamEvent::Usage(Usage {
                input_tokens: 3,
                output_tokens: 4,
                cache_read_tokens: None,
                cache_write_tokens: None,
                reasoning_tokens: None,
            }),
            StreamEvent::Finish(FinishReason::ToolCalls),
        ] {
            writer.event(&event, &mut out);
        }
        ChunkWriter::done(&mut out);
        let text = String::from_utf8(out).unwrap();
        let chunks: Vec<Value> = text
            .split("\n\n")
            .filter_map(|e| e.strip_prefix("data: "))
            .filter(|d| *d != "[DONE]")
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        assert_eq!(chunks.len(), 5);
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(
            chunks[1]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"],
            "f"
        );
        assert_eq!(
            chunks[2]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
            "{\"a\":1}"
        );
        assert_eq!(chunks[3]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(chunks[4]["usage"]["total_tokens"], 7);
        assert!(text.ends_with("data: [DONE]\n\n"));
    }
}
