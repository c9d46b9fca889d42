//! Anthropic Messages reply → neutral response, or a classified error.

use apex_adapter_kit::http::{kind_for_status, malformed, upstream_error};
use apex_adapter_kit::types::{
    AdapterError, ChatResponse, ContentPart, ErrorKind, FinishReason, Thinking, ToolCall, Usage,
};
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct Message {
    /// `message` for a reply; anything else (or nothing) is not one.
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    id: String,
    #[serde(default)]
    model: String,
    /// Each block is decoded by its `type` (see [`content_part`]); unknown types are skipped.
    /// Always there in a message, possibly empty; `None` when absent or `null`.
    content: Option<Vec<Box<RawValue>>>,
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
        // Saturating: counts near u32::MAX (a provider's word) must not overflow the sum.
        let cached = u
            .cache_read_input_tokens
            .unwrap_or(0)
            .saturating_add(u.cache_creation_input_tokens.unwrap_or(0));
        Usage {
            input_tokens: u.input_tokens.unwrap_or(0).saturating_add(cached),
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
    // Anything else would pass for an empty answer: served, and maybe cached, as a success.
    match message.kind.as_deref() {
        Some("message") => {}
        Some(kind) if kind.len() <= 40 && kind.bytes().all(|b| b.is_ascii_graphic()) => {
            return Err(malformed(format!(
                "a reply of type `{kind}`, not `message`"
            )));
        }
        Some(_) => return Err(malformed("a reply whose `type` is not `message`")),
        None => return Err(malformed("the reply has no `type`: not a message")),
    }
    let blocks = message
        .content
        .ok_or_else(|| malformed("the message has no `content`"))?;
    let mut content = Vec::with_capacity(blocks.len());
    for block in &blocks {
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

/// `error` of an error body or of a stream `error` event: Anthropic's (`type`, `message`) or
/// Google's (`code`, `message`, `status`, `details`).
#[derive(Deserialize)]
pub(crate) struct ErrorDetail {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub message: Option<String>,
    /// Google's canonical status name (`RESOURCE_EXHAUSTED`, ...).
    pub status: Option<String>,
    /// Google's error details; only `RetryInfo` is read.
    #[serde(default)]
    pub details: Vec<Box<RawValue>>,
}

#[derive(Deserialize)]
struct RetryInfo {
    #[serde(rename = "@type")]
    kind: Option<String>,
    #[serde(rename = "retryDelay")]
    retry_delay: Option<String>,
}

/// The neutral kind for a Google canonical error status, when it says more than the HTTP status.
pub(crate) fn kind_for_google_status(status: &str, message: &str) -> Option<ErrorKind> {
    Some(match status {
        "UNAUTHENTICATED" | "PERMISSION_DENIED" => ErrorKind::Auth,
        "RESOURCE_EXHAUSTED" => ErrorKind::RateLimited,
        "NOT_FOUND" => ErrorKind::NotFound,
        // The same wording checks as Anthropic's invalid_request_error (prompt too long).
        "INVALID_ARGUMENT" => kind_for_error("invalid_request_error", message)?,
        "UNAVAILABLE" => ErrorKind::Overloaded,
        "INTERNAL" | "DEADLINE_EXCEEDED" => ErrorKind::Server,
        _ => return None,
    })
}

/// Milliseconds from a Google `RetryInfo` detail (`"retryDelay": "30s"`).
fn google_retry_ms(details: &[Box<RawValue>]) -> Option<u64> {
    details.iter().find_map(|raw| {
        let info: RetryInfo = serde_json::from_str(raw.get()).ok()?;
        if !info.kind?.ends_with("google.rpc.RetryInfo") {
            return None;
        }
        let secs: f64 = info.retry_delay?.trim().strip_suffix('s')?.parse().ok()?;
        (secs.is_finite() && secs >= 0.0).then_some((secs * 1000.0) as u64)
    })
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

/// Classify an error reply by Anthropic's error `type` or Google's error `status`, falling back to
/// the HTTP status.
pub fn error(status: u16, headers: &[(String, String)], body: &[u8]) -> AdapterError {
    // Google's front end (Vertex AI) may send a list of error bodies. (Not an untagged enum:
    // buffered content cannot hold the raw `details`.)
    let detail = if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        serde_json::from_slice::<Vec<ErrorBody>>(body)
            .ok()
            .and_then(|bodies| bodies.into_iter().find_map(|b| b.error))
    } else {
        serde_json::from_slice::<ErrorBody>(body)
            .ok()
            .and_then(|b| b.error)
    };
    let (error_type, message, google_status, details) = match detail {
        Some(detail) => (detail.kind, detail.message, detail.status, detail.details),
        None => (None, None, None, Vec::new()),
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
        .or_else(|| {
            google_status
                .as_deref()
                .and_then(|s| kind_for_google_status(s, &message))
        })
        .unwrap_or_else(|| kind_for_status(status));
    let mut error = upstream_error(kind, status, headers, message);
    if error.retry_after_ms.is_none() {
        error.retry_after_ms = google_retry_ms(&details);
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_message_with_content_is_an_answer() {
        let kind = |body: &str| parse(200, &[], body.as_bytes()).map_err(|e| e.kind);
        for body in [
            "{}",
            r#"{"type":"message","role":"assistant","stop_reason":"end_turn"}"#,
            r#"{"type":"message","content":null}"#,
            r#"{"content":[{"type":"text","text":"hi"}]}"#,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            r#"{"type":"completion","content":[]}"#,
            r#"{"type":null,"content":[]}"#,
        ] {
            assert_eq!(kind(body), Err(ErrorKind::MalformedReply), "{body}");
        }
        // An empty `content` is a message that says nothing, which Claude may do.
        let empty = parse(200, &[], br#"{"type":"message","content":[]}"#);
        assert!(empty.is_ok_and(|r| r.content.is_empty()));
        // Upstream text in the message is short and printable.
        let long = format!(r#"{{"type":"{}","content":[]}}"#, "x".repeat(41));
        assert_eq!(
            parse(200, &[], long.as_bytes()).map_err(|e| e.message),
            Err("malformed upstream reply: a reply whose `type` is not `message`".to_string())
        );
    }

    #[test]
    fn huge_usage_counts_saturate() {
        let body = format!(
            r#"{{"type":"message","content":[],"usage":{{"input_tokens":{max},"cache_read_input_tokens":{max},"cache_creation_input_tokens":1,"output_tokens":2}}}}"#,
            max = u32::MAX
        );
        let usage = parse(200, &[], body.as_bytes()).unwrap().usage.unwrap();
        assert_eq!(usage.input_tokens, u32::MAX);
        assert_eq!(usage.cache_read_tokens, Some(u32::MAX));
        assert_eq!(usage.output_tokens, 2);
    }

    #[test]
    fn google_shaped_errors_are_classified() {
        let cases = [
            (401, "UNAUTHENTICATED", ErrorKind::Auth),
            (403, "PERMISSION_DENIED", ErrorKind::Auth),
            (429, "RESOURCE_EXHAUSTED", ErrorKind::RateLimited),
            (404, "NOT_FOUND", ErrorKind::NotFound),
            (400, "INVALID_ARGUMENT", ErrorKind::InvalidRequest),
            (503, "UNAVAILABLE", ErrorKind::Overloaded),
            (500, "INTERNAL", ErrorKind::Server),
            // A status the body names otherwise wins over the HTTP status.
            (400, "RESOURCE_EXHAUSTED", ErrorKind::RateLimited),
            // Unknown statuses fall back to the HTTP status.
            (400, "FAILED_PRECONDITION", ErrorKind::InvalidRequest),
        ];
        for (code, status, kind) in cases {
            let body =
                format!(r#"{{"error":{{"code":{code},"message":"m","status":"{status}"}}}}"#);
            let error = error(code, &[], body.as_bytes());
            assert_eq!(
                (error.kind, error.message.as_str()),
                (kind, "m"),
                "{status}"
            );
            // The list form says the same.
            let list = format!("[{body}]");
            assert_eq!(
                super::error(code, &[], list.as_bytes()).kind,
                kind,
                "{status}"
            );
        }
        let body = br#"{"error":{"code":400,"message":"prompt is too long: 210000 tokens > 200000 maximum","status":"INVALID_ARGUMENT"}}"#;
        assert_eq!(error(400, &[], body).kind, ErrorKind::ContextTooLong);
    }

    #[test]
    fn google_retry_info_gives_the_delay_unless_a_header_does() {
        let body = br#"{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED","details":[
            {"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMIT_EXCEEDED"},
            {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.5s"}]}}"#;
        assert_eq!(error(429, &[], body).retry_after_ms, Some(1500));
        let headers = [("retry-after".to_string(), "7".to_string())];
        assert_eq!(error(429, &headers, body).retry_after_ms, Some(7000));
        let odd = br#"{"error":{"code":429,"message":"m","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"soon"}, 3]}}"#;
        let error = error(429, &[], odd);
        assert_eq!(
            (error.kind, error.retry_after_ms),
            (ErrorKind::RateLimited, None)
        );
    }
}
