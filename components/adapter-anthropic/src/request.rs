//! Neutral request → Anthropic Messages request (`POST {base_url}/messages`).

use std::borrow::Cow;

use apex_adapter_kit::http::{join_url, parse_data_url, post};
use apex_adapter_kit::invalid;
use apex_adapter_kit::json::object_or_empty as tool_input;
use apex_adapter_kit::json::tool_parameters;
use apex_adapter_kit::types::{
    AdapterError, ChatRequest, ContentPart, ErrorKind, HttpRequest, Image, Reasoning,
    ResponseFormat, Role, Target, Tool, ToolChoice, ToolResult, ToolResultPart,
};

use crate::wire::{self, Block, RawObject, ToolResultContent};

/// `anthropic-version` sent when the target names none.
pub const DEFAULT_API_VERSION: &str = "2023-06-01";
/// `max_tokens` is required by Anthropic: used when the neutral request has none.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// Build the upstream HTTP request for `request`.
pub fn build(target: &Target, request: &ChatRequest) -> Result<HttpRequest, AdapterError> {
    Ok(http_request(target, "messages", body_json(request)?))
}

/// The Messages body for `request`, serialized.
pub(crate) fn body_json(request: &ChatRequest) -> Result<Vec<u8>, AdapterError> {
    serde_json::to_vec(&body(request)?).map_err(invalid)
}

/// What Anthropic's `messages/count_tokens` takes of a Messages body (it refuses the rest).
const COUNT_FIELDS: &[&str] = &[
    "model",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "thinking",
];

/// The body asking for `request`'s input-token count: its Messages body, cut to [`COUNT_FIELDS`].
pub fn count_body(request: &ChatRequest) -> Result<Vec<u8>, AdapterError> {
    let body: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&body_json(request)?).map_err(invalid)?;
    let kept: serde_json::Map<String, serde_json::Value> = body
        .into_iter()
        .filter(|(name, _)| COUNT_FIELDS.contains(&name.as_str()))
        .collect();
    serde_json::to_vec(&kept).map_err(invalid)
}

/// Anthropic's count: `{"input_tokens": N}`.
pub fn parse_count(
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<u32, AdapterError> {
    #[derive(serde::Deserialize)]
    struct Count {
        input_tokens: u32,
    }
    let count: Count =
        apex_adapter_kit::http::json_reply(status, headers, body, crate::response::error)?;
    Ok(count.input_tokens)
}

/// The HTTP request carrying `body` to `path` (relative to the base URL) with this target's auth.
pub fn http_request(target: &Target, path: &str, body: Vec<u8>) -> HttpRequest {
    let headers = vec![
        ("x-api-key".to_string(), target.api_key.clone()),
        (
            "anthropic-version".to_string(),
            target
                .api_version
                .clone()
                .unwrap_or_else(|| DEFAULT_API_VERSION.to_string()),
        ),
        ("content-type".to_string(), "application/json".to_string()),
    ];
    post(target, join_url(&target.base_url, path), headers, body)
}

fn body(request: &ChatRequest) -> Result<RawObject, AdapterError> {
    let output_config = output_config(request.response_format.as_ref())?;

    let (system, messages) = conversation(request);
    let budget = thinking_budget(request.reasoning.as_ref());
    let max_tokens = request.max_tokens.unwrap_or(match budget {
        // Thinking counts against max_tokens and its budget must stay below it.
        Some(budget) if budget >= DEFAULT_MAX_TOKENS => budget.saturating_add(DEFAULT_MAX_TOKENS),
        _ => DEFAULT_MAX_TOKENS,
    });
    // Anthropic wants 1024 <= budget < max_tokens. When the client's max_tokens leaves no room, or
    // the last assistant turn called tools without a signed thinking block (which Anthropic then
    // requires), thinking stays off rather than failing the request.
    let budget = budget
        .map(|b| b.min(max_tokens.saturating_sub(1)))
        .filter(|b| *b >= MIN_THINKING_BUDGET)
        .filter(|_| !unsigned_tool_turn(request));

    let mut body = RawObject::default();
    body.insert("model", &request.model).map_err(invalid)?;
    body.insert("max_tokens", &max_tokens).map_err(invalid)?;
    if !system.is_empty() {
        body.insert("system", &system).map_err(invalid)?;
    }
    body.insert("messages", &messages).map_err(invalid)?;

    if !request.tools.is_empty() {
        let tools = request
            .tools
            .iter()
            .map(tool)
            .collect::<Result<Vec<_>, _>>()?;
        body.insert("tools", &tools).map_err(invalid)?;
    }
    if let Some(choice) = tool_choice(request) {
        body.insert("tool_choice", &choice).map_err(invalid)?;
    }
    if !request.stop.is_empty() {
        body.insert("stop_sequences", &request.stop)
            .map_err(invalid)?;
    }
    if let Some(t) = request.temperature {
        body.insert("temperature", &t).map_err(invalid)?;
    }
    if let Some(p) = request.top_p {
        body.insert("top_p", &p).map_err(invalid)?;
    }
    if let Some(k) = request.top_k {
        body.insert("top_k", &k).map_err(invalid)?;
    }
    if let Some(budget_tokens) = budget {
        let thinking = wire::Thinking {
            kind: "enabled",
            budget_tokens,
        };
        body.insert("thinking", &thinking).map_err(invalid)?;
    }
    if let Some(output_config) = &output_config {
        body.insert("output_config", output_config)
            .map_err(invalid)?;
    }
    if let Some(user_id) = &request.user {
        body.insert("metadata", &wire::Metadata { user_id })
            .map_err(invalid)?;
    }
    if request.stream {
        body.insert("stream", &true).map_err(invalid)?;
    }
    if let Some(extra) = &request.extra {
        // Only a JSON object can be merged; anything else is ignored, like the other adapters do.
        if let Ok(extra) = serde_json::from_str::<RawObject>(extra) {
            body.merge_absent(extra);
        }
    }
    Ok(body)
}

/// Structured outputs: a JSON schema becomes `output_config.format` (Anthropic's structured
/// outputs). Anthropic has no schema-less JSON mode, so `json_object` is refused (the client gets
/// a 400 naming it, or another target serves it) rather than silently answered as free text.
fn output_config(
    format: Option<&ResponseFormat>,
) -> Result<Option<wire::OutputConfig>, AdapterError> {
    match format {
        None | Some(ResponseFormat::Text) => Ok(None),
        Some(ResponseFormat::JsonObject) => Err(apex_adapter_kit::error(
            ErrorKind::Unsupported,
            "response_format `json_object` is not supported for Anthropic targets: they only \
             take a JSON schema (send `json_schema`)",
        )),
        Some(ResponseFormat::JsonSchema(format)) => {
            let mut schema: serde_json::Value = serde_json::from_str(&format.schema)
                .map_err(|e| invalid(format!("response_format schema is not valid JSON: {e}")))?;
            close_objects(&mut schema);
            let schema = serde_json::value::to_raw_value(&schema).map_err(invalid)?;
            Ok(Some(wire::OutputConfig {
                format: wire::OutputFormat {
                    kind: "json_schema",
                    schema,
                },
            }))
        }
    }
}

/// Anthropic's structured outputs take only closed objects: every object schema that does not
/// say otherwise gets `"additionalProperties": false` (what OpenAI's strict mode also requires).
fn close_objects(schema: &mut serde_json::Value) {
    match schema {
        serde_json::Value::Object(map) => {
            let is_object = map.get("type").is_some_and(|t| {
                t == "object"
                    || t.as_array()
                        .is_some_and(|a| a.iter().any(|t| t == "object"))
            });
            if is_object && !map.contains_key("additionalProperties") {
                map.insert(
                    "additionalProperties".into(),
                    serde_json::Value::Bool(false),
                );
            }
            for value in map.values_mut() {
                close_objects(value);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

/// The `system` blocks and the `messages`, with consecutive turns of one role merged.
fn conversation(request: &ChatRequest) -> (Vec<Block<'_>>, Vec<wire::Message<'_>>) {
    let mut system = Vec::new();
    let mut messages: Vec<wire::Message> = Vec::new();
    for message in &request.messages {
        if matches!(message.role, Role::System | Role::Developer) {
            for part in &message.content {
                if let ContentPart::Text(text) = part
                    && !text.is_empty()
                {
                    system.push(Block::Text { text });
                }
            }
            continue;
        }
        let from_assistant = message.role == Role::Assistant;
        for part in &message.content {
            let Some((role, block)) = block(part, from_assistant) else {
                continue;
            };
            match messages.last_mut() {
                Some(last) if last.role == role => last.content.push(block),
                _ => messages.push(wire::Message {
                    role,
                    content: vec![block],
                }),
            }
        }
    }
    // Anthropic wants a user turn's tool results before anything else in it.
    for message in &mut messages {
        if message.role == "user" {
            message
                .content
                .sort_by_key(|block| !matches!(block, Block::ToolResult { .. }));
        }
    }
    (system, messages)
}

/// The turn (`user` / `assistant`) a content part belongs to and its block; `None` when Anthropic
/// cannot take it (empty text, an image from the assistant, thinking without a signature).
fn block(part: &ContentPart, from_assistant: bool) -> Option<(&'static str, Block<'_>)> {
    let own_role = if from_assistant { "assistant" } else { "user" };
    match part {
        ContentPart::Text(text) if text.is_empty() => None,
        ContentPart::Text(text) => Some((own_role, Block::Text { text })),
        ContentPart::Image(_) if from_assistant => None,
        ContentPart::Image(image) => Some(("user", image_block(image))),
        ContentPart::ToolCall(call) => Some((
            "assistant",
            Block::ToolUse {
                id: &call.id,
                name: &call.name,
                input: tool_input(&call.arguments),
            },
        )),
        ContentPart::ToolResult(result) => Some(("user", tool_result(result))),
        ContentPart::Thinking(thinking) => {
            // Anthropic rejects thinking blocks it did not sign.
            let signature = thinking.signature.as_deref().filter(|s| !s.is_empty())?;
            Some((
                "assistant",
                Block::Thinking {
                    thinking: &thinking.text,
                    signature,
                },
            ))
        }
        ContentPart::RedactedThinking(data) => {
            Some(("assistant", Block::RedactedThinking { data }))
        }
    }
}

fn image_block(image: &Image) -> Block<'_> {
    use apex_adapter_kit::types::ImageSource as Source;
    let source = match &image.source {
        Source::Url(url) => match parse_data_url(url) {
            Some((media_type, data)) => wire::ImageSource::Base64 {
                media_type: Cow::Owned(media_type),
                data: Cow::Owned(data),
            },
            None => wire::ImageSource::Url { url },
        },
        Source::Base64(data) => wire::ImageSource::Base64 {
            media_type: Cow::Borrowed(image.media_type.as_deref().unwrap_or("image/png")),
            data: Cow::Borrowed(data),
        },
    };
    Block::Image { source }
}

fn tool_result(result: &ToolResult) -> Block<'_> {
    let mut parts: Vec<Block> = result
        .content
        .iter()
        .filter_map(|part| match part {
            ToolResultPart::Text(text) if text.is_empty() => None,
            ToolResultPart::Text(text) => Some(Block::Text { text }),
            ToolResultPart::Image(image) => Some(image_block(image)),
        })
        .collect();
    let content = match parts.len() {
        0 => None,
        1 if matches!(parts[0], Block::Text { .. }) => match parts.pop() {
            Some(Block::Text { text }) => Some(ToolResultContent::Text(text)),
            _ => None,
        },
        _ => Some(ToolResultContent::Blocks(parts)),
    };
    Block::ToolResult {
        tool_use_id: &result.call_id,
        content,
        is_error: result.is_error,
    }
}

fn tool(tool: &Tool) -> Result<wire::Tool<'_>, AdapterError> {
    // `input_schema` is required: a tool without parameters takes an empty object.
    let input_schema = tool_parameters(tool)?;
    Ok(wire::Tool {
        name: &tool.name,
        description: tool.description.as_deref(),
        input_schema,
    })
}

fn tool_choice(request: &ChatRequest) -> Option<wire::ToolChoice<'_>> {
    let disable_parallel = request.parallel_tool_calls == Some(false) && !request.tools.is_empty();
    let (kind, name) = match &request.tool_choice {
        Some(ToolChoice::Auto) => ("auto", None),
        Some(ToolChoice::Required) => ("any", None),
        Some(ToolChoice::Named(name)) => ("tool", Some(name.as_str())),
        Some(ToolChoice::None) => ("none", None),
        None if disable_parallel => ("auto", None),
        None => return None,
    };
    Some(wire::ToolChoice {
        kind,
        name,
        // `none` takes no other field.
        disable_parallel_tool_use: (disable_parallel && kind != "none").then_some(true),
    })
}

/// The smallest thinking budget Anthropic accepts.
const MIN_THINKING_BUDGET: u32 = 1024;

/// Whether the last assistant turn called tools without a signed thinking block.
fn unsigned_tool_turn(request: &ChatRequest) -> bool {
    let Some(last) = request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == Role::Assistant)
    else {
        return false;
    };
    let calls = last
        .content
        .iter()
        .any(|p| matches!(p, ContentPart::ToolCall(_)));
    let signed = last.content.iter().any(|p| {
        matches!(p, ContentPart::Thinking(t) if t.signature.as_deref().is_some_and(|s| !s.is_empty()))
    });
    calls && !signed
}

/// The extended-thinking budget: explicit, or derived from an OpenAI-style effort.
fn thinking_budget(reasoning: Option<&Reasoning>) -> Option<u32> {
    let reasoning = reasoning?;
    if let Some(budget) = reasoning.budget_tokens {
        return Some(budget);
    }
    match reasoning.effort.as_deref()? {
        "minimal" | "low" => Some(1024),
        "medium" => Some(4096),
        "high" => Some(16384),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apex_adapter_kit::types::Message;

    fn request(messages: Vec<Message>) -> ChatRequest {
        ChatRequest::new("claude-sonnet-4-5", messages)
    }

    fn thinking_of(request: &ChatRequest) -> Option<serde_json::Value> {
        let target = apex_adapter_kit::types::Target {
            kind: "anthropic".into(),
            profile: String::new(),
            base_url: "https://api.anthropic.com/v1".into(),
            api_key: "k".into(),
            api_version: None,
            headers: vec![],
        };
        let http = build(&target, request).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&http.body).unwrap();
        body.get("thinking").cloned()
    }

    #[test]
    fn thinking_budget_fits_below_max_tokens_or_stays_off() {
        let user = Message {
            role: Role::User,
            content: vec![ContentPart::Text("hi".into())],
            name: None,
        };
        let mut req = request(vec![user.clone()]);
        req.reasoning = Some(Reasoning {
            effort: Some("high".into()),
            budget_tokens: None,
        });
        req.max_tokens = Some(8000);
        assert_eq!(thinking_of(&req).unwrap()["budget_tokens"], 7999);
        req.max_tokens = Some(1000);
        assert_eq!(thinking_of(&req), None, "no room for the minimum budget");

        // A tool loop whose assistant turn carries no signed thinking: thinking stays off.
        req.max_tokens = None;
        let call = Message {
            role: Role::Assistant,
            content: vec![ContentPart::ToolCall(apex_adapter_kit::types::ToolCall {
                id: "c".into(),
                name: "f".into(),
                arguments: "{}".into(),
            })],
            name: None,
        };
        req.messages = vec![user.clone(), call];
        assert_eq!(thinking_of(&req), None);
        req.messages = vec![user];
        assert!(thinking_of(&req).is_some());
    }

    #[test]
    fn unusable_arguments_become_an_empty_object() {
        for arguments in ["", "  ", "{oops", "[1,2]", "null"] {
            assert_eq!(tool_input(arguments).get(), "{}", "{arguments:?}");
        }
        assert_eq!(tool_input(" {\"a\":1} ").get(), "{\"a\":1}");
    }

    #[test]
    fn extras_never_override_built_fields() -> Result<(), AdapterError> {
        let mut req = request(Vec::new());
        req.extra = Some(r#"{"model":"other","service_tier":"auto"}"#.to_string());
        let body = serde_json::to_value(body(&req)?).map_err(invalid)?;
        assert_eq!(body["model"], "claude-sonnet-4-5");
        assert_eq!(body["service_tier"], "auto");
        Ok(())
    }
}
