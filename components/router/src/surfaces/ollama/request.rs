//! Ollama requests in neutral form: messages (tool results matched to their calls), images,
//! `options`, `format` and `think`.

use apex_adapter_kit::types::{
    ChatRequest, ContentPart, Image, ImageSource, JsonSchemaFormat, Message, Reasoning,
    ResponseFormat, Role, Thinking, Tool, ToolCall, ToolResult, ToolResultPart,
};
use serde_json::Value;
use serde_json::value::RawValue;

use super::wire::model_name;
use super::wire::{ChatWire, GenerateWire, Think, WireOptions};
use crate::http::error::ApiError;

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

pub(super) fn chat_to_neutral(request: ChatWire) -> Result<ChatRequest, ApiError> {
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
        // Ollama has no strict mode.
        .map(|tool| Tool {
            strict: None,
            ..tool.into_tool()
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

pub(super) fn generate_to_neutral(request: GenerateWire) -> Result<ChatRequest, ApiError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    // A 1×1 PNG's first bytes, and JPEG, GIF, WebP headers.
    const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAE";
    const JPEG: &str = "/9j/4AAQSkZJRgABAQ";
    const GIF: &str = "R0lGODlhAQABAAAAACw=";
    const WEBP: &str = "UklGRiQAAABXRUJQVlA4IBgAAAA";

    #[test]
    fn image_types_are_sniffed() {
        assert_eq!(sniff_media_type(PNG), Some("image/png"));
        assert_eq!(sniff_media_type(JPEG), Some("image/jpeg"));
        assert_eq!(sniff_media_type(GIF), Some("image/gif"));
        assert_eq!(sniff_media_type(WEBP), Some("image/webp"));
        assert_eq!(sniff_media_type("AAAAAAAAAAAA"), None);
        assert_eq!(sniff_media_type("iV"), None);
    }
}
