//! Anthropic Messages reply → neutral response, or a classified error.

use apex_adapter_kit::http::{kind_for_status, malformed, upstream_error};
use apex_adapter_kit::types::{
    AdapterError, ChatResponse, ContentPart, ErrorKind, FinishReason, Thinking, ToolCall, Usage,
};
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    id: String,
    #[serde(default)]
    model: String,
    /// Each block is decoded by its `type` (see [`content_part`]); unknown types are skipped.
    #[serde(default)]
    content: Vec<Box<RawValue>>,
    stop_reason: Option<String>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct BlockType {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct TextBlock {
    text: String,
}

#[derive(Deserialize)]
struct ThinkingBlock {
    thinking: String,
    signature: Option<String>,
}

#[derive(Deserialize)]
struct RedactedThinkingBlock {
    data: String,
}

#[derive(Deserialize)]
struct ToolUseBlock {
    id: String,
    name: String,
    /// Kept as the exact JSON text received.
    input: Box<RawValue>,
}

/// Usage as Anthropic reports it (`message`, `message_start` and `message_delta`).
#[derive(Deserialize, Default, Clone, Copy)]
pub(crate) struct WireUsage {
    pub input_tokens: Option<u32>,
    pub output_tokens: Option<u32>,
    pub cache_read_input_tokens: Option<u32>,
    pub cache_creation_input_tokens: Option<u32>,
}

/// Anthropic's `input_tokens` leaves out cached tokens; the neutral count includes them (as
/// OpenAI's `prompt_tokens` does), with the cached parts also reported on their own.
impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Self {
        let cached =
            u.cache_read_input_tokens.unwrap_or(0) + u.cache_creation_input_tokens.unwrap_or(0);
        Usage {
            input_tokens: u.input_tokens.unwrap_or(0) + cached,
            output_tokens: u.output_tokens.unwrap_or(0),
            cache_read_tokens: u.cache_read_input_tokens,
            cache_write_tokens: u.cache_creation_input_tokens,
            reasoning_tokens: None,
        }
    }
}

/// The neutral finish reason for an Anthropic `stop_reason`.
pub(crate) fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        // end_turn, stop_sequence, pause_turn, and values added later.
        _ => FinishReason::Stop,
    }
}

fn parse_block<'a, T: Deserialize<'a>>(raw: &'a RawValue, kind: &str) -> Result<T, AdapterError> {
    serde_json::from_str(raw.get()).map_err(|e| malformed(format!("`{kind}` block: {e}")))
}

/// The neutral part for one content block; `None` for block types with no neutral form.
fn content_part(raw: &RawValue) -> Result<Option<ContentPart>, AdapterError> {
    let kind = parse_block::<BlockType>(raw, "content")?.kind;
    let part = match kind.as_str() {
        "text" => ContentPart::Text(parse_block::<TextBlock>(raw, &kind)?.text),
        "thinking" => {
            let block: ThinkingBlock = parse_block(raw, &kind)?;
            ContentPart::Thinking(Thinking {
                text: block.thinking,
                signature: block.signature,
            })
        }
        "redacted_thinking" => {
            ContentPart::RedactedThinking(parse_block::<RedactedThinkingBlock>(raw, &kind)?.data)
        }
        "tool_use" => {
            let block: ToolUseBlock = parse_block(raw, &kind)?;
            ContentPart::ToolCall(ToolCall {
                id: block.id,
                name: block.name,
                arguments: block.input.get().to_string(),
            })
        }
        _ => return Ok(None),
    };
    Ok(Some(part))
}

/// Parse a reply of any status.
pub fn parse(
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<ChatResponse, AdapterError> {
    if !(200..300).contains(&status) {
        return Err(error(status, headers, body));
    }
    let message: Message = serde_json::from_slice(body).map_err(malformed)?;
    let mut content = Vec::with_capacity(message.content.len());
    for block in &message.content {
        if let Some(part) = content_part(block)? {
            content.push(part);
        }
    }
    Ok(ChatResponse {
        id: message.id,
        model: message.model,
        content,
        finish_reason: finish_reason(message.stop_reason.as_deref().unwrap_or("end_turn")),
        usage: message.usage.map(Usage::from),
    })
}

#[derive(Deserialize)]
struct ErrorBody {
    error: Option<ErrorDetail>,
}

/// `error` of an error body or of a stream `error` event.
#[derive(Deserialize)]
pub(crate) struct ErrorDetail {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub message: Option<String>,
}

/// The neutral kind for an Anthropic error `type`, when it says more than the status.
pub(crate) fn kind_for_error(error_type: &str, message: &str) -> Option<ErrorKind> {
    Some(match error_type {
        "authentication_error" | "permission_error" | "billing_error" => ErrorKind::Auth,
        "not_found_error" => ErrorKind::NotFound,
        "rate_limit_error" => ErrorKind::RateLimited,
        "overloaded_error" => ErrorKind::Overloaded,
        "api_error" | "timeout_error" => ErrorKind::Server,
        "request_too_large" => ErrorKind::ContextTooLong,
        "invalid_request_error" => {
            let message = message.to_ascii_lowercase();
            if message.contains("prompt is too long") || message.contains("exceed context limit") {
                ErrorKind::ContextTooLong
            } else {
                ErrorKind::InvalidRequest
            }
        }
        _ => return None,
    })
}

/// Classify an error reply by Anthropic's error `type`, falling back to the status.
pub fn error(status: u16, headers: &[(String, String)], body: &[u8]) -> AdapterError {
    let detail = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .and_then(|b| b.error);
    let (error_type, message) = match detail {
        Some(detail) => (detail.kind, detail.message),
        None => (None, None),
    };
    let message = message.filter(|m| !m.is_empty()).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() || text.len() > 500 {
            format!("upstream returned HTTP {status}")
        } else {
            text.to_string()
        }
    });
    let kind = error_type
        .as_deref()
        .and_then(|t| kind_for_error(t, &message))
        .unwrap_or_else(|| kind_for_status(status));
    upstream_error(kind, status, headers, message)
}
