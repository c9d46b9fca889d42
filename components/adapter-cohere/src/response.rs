//! Cohere Chat API v2 reply → neutral response, or a classified error.
//!
//! A reply is `{id, finish_reason, message: {role, content, tool_plan, tool_calls, citations},
//! usage: {billed_units, tokens, cached_tokens}, logprobs}`. Citations and logprobs have no
//! neutral form and are dropped. Cohere's reply names no model: `model` is read when present
//! (undocumented) and is empty otherwise, for the router to fill in.

use apex_adapter_kit::http::{kind_for_status, malformed, upstream_error};
use apex_adapter_kit::types::{
    AdapterError, ChatResponse, ContentPart, ErrorKind, FinishReason, Thinking, ToolCall, Usage,
};
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct Reply {
    #[serde(default)]
    id: String,
    model: Option<String>,
    finish_reason: Option<String>,
    message: ReplyMessage,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct ReplyMessage {
    /// Each item is decoded by its `type` (see [`content_part`]); unknown types are skipped.
    content: Option<Vec<Box<RawValue>>>,
    tool_plan: Option<String>,
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Deserialize)]
struct ItemType {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct TextItem {
    text: String,
}

#[derive(Deserialize)]
struct ThinkingItem {
    thinking: String,
}

#[derive(Deserialize)]
struct WireToolCall {
    id: String,
    function: WireFunction,
}

#[derive(Deserialize)]
struct WireFunction {
    name: String,
    /// The arguments' JSON text, inside a JSON string.
    arguments: Option<String>,
}

/// Usage as Cohere reports it (reply `usage` and `message-end` `delta.usage`). The reference types
/// every count as a JSON number (`format: double`), so they are read as floats.
#[derive(Deserialize, Default)]
pub(crate) struct WireUsage {
    billed_units: Option<Counts>,
    tokens: Option<Counts>,
    /// "The number of prompt tokens that hit the inference cache."
    cached_tokens: Option<f64>,
}

#[derive(Deserialize, Default)]
struct Counts {
    input_tokens: Option<f64>,
    output_tokens: Option<f64>,
}

fn count(value: f64) -> u32 {
    // `as` saturates (and maps NaN to 0): a count never wraps.
    value as u32
}

impl WireUsage {
    /// The neutral usage: `tokens` (everything the model read and wrote), each count falling back
    /// to `billed_units` (which leave out what Cohere adds to the prompt); `None` when neither is
    /// there. The reference does not say whether `tokens.input_tokens` includes `cached_tokens`;
    /// replies seen so far have `cached_tokens` <= `tokens.input_tokens`, so it is read as the
    /// cached part of the input, as the neutral convention wants.
    pub(crate) fn neutral(&self) -> Option<Usage> {
        if self.tokens.is_none() && self.billed_units.is_none() {
            return None;
        }
        let tokens = self.tokens.as_ref();
        let billed = self.billed_units.as_ref();
        let pick = |field: fn(&Counts) -> Option<f64>| {
            tokens
                .and_then(field)
                .or_else(|| billed.and_then(field))
                .map_or(0, count)
        };
        Some(Usage {
            input_tokens: pick(|c| c.input_tokens),
            output_tokens: pick(|c| c.output_tokens),
            cache_read_tokens: self.cached_tokens.map(count),
            cache_write_tokens: None,
            reasoning_tokens: None,
        })
    }
}

/// The neutral finish reason for a Cohere `finish_reason`.
pub(crate) fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "MAX_TOKENS" => FinishReason::Length,
        "TOOL_CALL" => FinishReason::ToolCalls,
        "ERROR" | "TIMEOUT" => FinishReason::Error,
        // COMPLETE, STOP_SEQUENCE, and values added later.
        _ => FinishReason::Stop,
    }
}

/// Tool-call arguments as received. Cohere has been seen answering `null` for a tool without
/// parameters (undocumented); that, and no arguments at all, become `{}`.
pub(crate) fn arguments(arguments: Option<String>) -> String {
    match arguments {
        Some(text) if !text.trim().is_empty() && text.trim() != "null" => text,
        _ => "{}".to_string(),
    }
}

fn parse_item<'a, T: Deserialize<'a>>(raw: &'a RawValue, kind: &str) -> Result<T, AdapterError> {
    serde_json::from_str(raw.get()).map_err(|e| malformed(format!("`{kind}` content item: {e}")))
}

/// The neutral part for one content item; `None` for item types with no neutral form.
fn content_part(raw: &RawValue) -> Result<Option<ContentPart>, AdapterError> {
    let kind = parse_item::<ItemType>(raw, "message")?.kind;
    let part = match kind.as_str() {
        "text" => ContentPart::Text(parse_item::<TextItem>(raw, &kind)?.text),
        "thinking" => ContentPart::Thinking(Thinking {
            text: parse_item::<ThinkingItem>(raw, &kind)?.thinking,
            signature: None,
        }),
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
    let reply: Reply = serde_json::from_slice(body).map_err(malformed)?;
    let message = reply.message;
    let mut content = Vec::new();
    // The tool plan is the model's reasoning before its calls: it comes first, as thinking.
    if let Some(plan) = message.tool_plan.filter(|p| !p.is_empty()) {
        content.push(ContentPart::Thinking(Thinking {
            text: plan,
            signature: None,
        }));
    }
    for item in message.content.iter().flatten() {
        if let Some(part) = content_part(item)? {
            content.push(part);
        }
    }
    for call in message.tool_calls.into_iter().flatten() {
        content.push(ContentPart::ToolCall(ToolCall {
            id: call.id,
            name: call.function.name,
            arguments: arguments(call.function.arguments),
        }));
    }
    Ok(ChatResponse {
        id: reply.id,
        model: reply.model.unwrap_or_default(),
        content,
        finish_reason: finish_reason(reply.finish_reason.as_deref().unwrap_or("COMPLETE")),
        usage: reply.usage.and_then(|u| u.neutral()),
    })
}

/// Cohere's error body: `{"id"?: string, "message": string}` for every documented status.
#[derive(Deserialize)]
struct ErrorBody {
    message: Option<String>,
}

/// Whether a 400/422 message says the prompt does not fit. Cohere documents no error codes or
/// message texts; it has answered "too many tokens: ..." for prompts over the context length.
fn too_long(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("too many tokens") || message.contains("context length")
}

/// The neutral kind for a Cohere error status.
fn kind_for(status: u16, message: &str) -> ErrorKind {
    match status {
        400 | 413 | 422 if too_long(message) => ErrorKind::ContextTooLong,
        // Payment required: the key's account cannot pay (not in the v2 chat reference).
        402 => ErrorKind::Auth,
        // 422: unknown or malformed fields.
        422 => ErrorKind::InvalidRequest,
        // "a request or response contains a deny-listed token".
        498 => ErrorKind::InvalidRequest,
        // "a request is cancelled by the user": not the request's fault, so another provider may
        // take it.
        499 => ErrorKind::Server,
        // "the requested feature is not implemented".
        501 => ErrorKind::Unsupported,
        _ => kind_for_status(status),
    }
}

/// Classify an error reply by its status (and message, for context length).
pub fn error(status: u16, headers: &[(String, String)], body: &[u8]) -> AdapterError {
    let message = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .and_then(|b| b.message)
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| fallback_message(status, body));
    upstream_error(kind_for(status, &message), status, headers, message)
}

/// A message for an error body that is not Cohere's JSON: short plain text as is, an HTML page
/// (a proxy's, typically) or anything long only as the status.
fn fallback_message(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.starts_with('<') {
        format!("upstream returned HTTP {status} with an HTML page")
    } else if text.is_empty() || text.len() > 500 {
        format!("upstream returned HTTP {status}")
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_falls_back_to_billed_units_per_count() {
        let usage: WireUsage = serde_json::from_str(
            r#"{"billed_units":{"input_tokens":5,"output_tokens":7},"tokens":{"input_tokens":71.0}}"#,
        )
        .unwrap();
        let usage = usage.neutral().unwrap();
        assert_eq!((usage.input_tokens, usage.output_tokens), (71, 7));
        assert_eq!(usage.cache_read_tokens, None);
        assert!(WireUsage::default().neutral().is_none());
    }

    #[test]
    fn null_or_missing_arguments_are_an_empty_object() {
        assert_eq!(arguments(None), "{}");
        assert_eq!(arguments(Some("null".into())), "{}");
        assert_eq!(arguments(Some(" ".into())), "{}");
        assert_eq!(arguments(Some("{\"a\": 1}".into())), "{\"a\": 1}");
    }

    #[test]
    fn statuses_cohere_adds_are_classified() {
        assert_eq!(kind_for(498, "blocked"), ErrorKind::InvalidRequest);
        assert_eq!(kind_for(499, "cancelled"), ErrorKind::Server);
        assert_eq!(kind_for(501, "no"), ErrorKind::Unsupported);
        assert_eq!(kind_for(402, "pay"), ErrorKind::Auth);
        assert_eq!(kind_for(504, "slow"), ErrorKind::Server);
        assert_eq!(
            kind_for(422, "too many tokens: x"),
            ErrorKind::ContextTooLong
        );
    }
}
