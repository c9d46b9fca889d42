//! Ollama `/api/chat` reply → neutral response, or a classified error.
//!
//! The same object shape is the whole reply (`"stream": false`) and each line of a stream; see
//! [`Reply`]. Ollama gives no ids:
//! - the response id is `ollama-` followed by the digits of `created_at` (deterministic, unique
//!   enough per reply; `ollama` alone when `created_at` is missing);
//! - a tool call keeps the `id` newer Ollama versions send, and is otherwise `call_{stamp}_{n}`
//!   (`stamp`: the same `created_at` digits; `n`: the call's position in the answer, from 0).

use apex_adapter_kit::http::{kind_for_status, malformed, upstream_error};
use apex_adapter_kit::json::compact;
use apex_adapter_kit::types::{
    AdapterError, ChatResponse, ContentPart, ErrorKind, FinishReason, Thinking, ToolCall, Usage,
};
use serde::Deserialize;
use serde_json::value::RawValue;

/// A list that may come as `null` (or be left out) when empty.
fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// A chat reply, or one line of a streamed one (`done: false` pieces, then a `done: true` line
/// with the counts); `error` alone when the server failed.
#[derive(Deserialize)]
pub(crate) struct Reply {
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub created_at: String,
    pub message: Option<ReplyMessage>,
    #[serde(default)]
    pub done: bool,
    pub done_reason: Option<String>,
    pub prompt_eval_count: Option<u32>,
    pub eval_count: Option<u32>,
    pub error: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct ReplyMessage {
    pub content: Option<String>,
    pub thinking: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub tool_calls: Vec<WireToolCall>,
}

#[derive(Deserialize)]
pub(crate) struct WireToolCall {
    /// Sent by newer Ollama versions only.
    pub id: Option<String>,
    pub function: WireFunction,
}

#[derive(Deserialize)]
pub(crate) struct WireFunction {
    pub name: String,
    /// A JSON object (some proxies send a JSON string holding one instead).
    pub arguments: Option<Box<RawValue>>,
}

impl WireToolCall {
    /// The neutral call, `n`-th of its answer.
    pub fn into_neutral(self, ids: &Ids, n: u32) -> ToolCall {
        ToolCall {
            id: self
                .id
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| ids.call(n)),
            name: self.function.name,
            arguments: arguments_text(self.function.arguments.as_deref()),
        }
    }
}

/// The ids of one reply, derived from its `created_at`.
pub(crate) struct Ids {
    stamp: String,
}

impl Ids {
    pub fn new(created_at: &str) -> Self {
        Self {
            stamp: created_at.chars().filter(char::is_ascii_digit).collect(),
        }
    }

    /// The response id.
    pub fn response(&self) -> String {
        if self.stamp.is_empty() {
            "ollama".to_string()
        } else {
            format!("ollama-{}", self.stamp)
        }
    }

    /// The id of the `n`-th tool call when Ollama gives none.
    pub fn call(&self, n: u32) -> String {
        if self.stamp.is_empty() {
            format!("call_{n}")
        } else {
            format!("call_{}_{n}", self.stamp)
        }
    }
}

/// The neutral arguments text: the object as received, with the whitespace between tokens
/// removed (key order, escapes and number spellings kept); `{}` when missing or `null`.
pub(crate) fn arguments_text(raw: Option<&RawValue>) -> String {
    let Some(raw) = raw else {
        return "{}".to_string();
    };
    let text = raw.get();
    if text.starts_with('"') {
        // A JSON string holding the arguments' JSON text.
        if let Ok(inner) = serde_json::from_str::<String>(text) {
            let inner = inner.trim();
            return if inner.is_empty() {
                "{}".to_string()
            } else {
                compact(inner)
            };
        }
    }
    if text == "null" {
        return "{}".to_string();
    }
    compact(text)
}

/// The neutral finish reason for a `done_reason`, given whether the answer called tools.
pub(crate) fn finish_reason(reason: Option<&str>, called_tools: bool) -> FinishReason {
    match reason {
        Some("length") => FinishReason::Length,
        _ if called_tools => FinishReason::ToolCalls,
        // stop, load, unload, and values added later.
        _ => FinishReason::Stop,
    }
}

impl Reply {
    /// Usage from the final counts; `None` when the reply has neither.
    pub fn usage(&self) -> Option<Usage> {
        if self.prompt_eval_count.is_none() && self.eval_count.is_none() {
            return None;
        }
        Some(Usage {
            input_tokens: self.prompt_eval_count.unwrap_or(0),
            output_tokens: self.eval_count.unwrap_or(0),
            cache_read_tokens: None,
            cache_write_tokens: None,
            reasoning_tokens: None,
        })
    }
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
    let mut reply: Reply = serde_json::from_slice(body).map_err(malformed)?;
    if let Some(message) = reply.error.take().filter(|m| !m.is_empty()) {
        // An error reported in a 2xx body.
        let kind = kind_for_message(&message).unwrap_or(ErrorKind::Server);
        return Err(upstream_error(kind, status, headers, message));
    }
    let usage = reply.usage();
    let ids = Ids::new(&reply.created_at);
    let mut content = Vec::new();
    let mut called_tools = false;
    if let Some(message) = reply.message {
        if let Some(text) = message.thinking.filter(|t| !t.is_empty()) {
            content.push(ContentPart::Thinking(Thinking {
                text,
                signature: None,
            }));
        }
        if let Some(text) = message.content.filter(|t| !t.is_empty()) {
            content.push(ContentPart::Text(text));
        }
        for (n, call) in message.tool_calls.into_iter().enumerate() {
            called_tools = true;
            content.push(ContentPart::ToolCall(call.into_neutral(&ids, n as u32)));
        }
    }
    Ok(ChatResponse {
        id: ids.response(),
        model: reply.model,
        content,
        finish_reason: finish_reason(reply.done_reason.as_deref(), called_tools),
        usage,
    })
}

#[derive(Deserialize)]
struct ErrorBody {
    error: Option<String>,
}

/// The neutral kind an Ollama error message means, when it says more than the status. Ollama's
/// errors carry no code, only text.
pub(crate) fn kind_for_message(message: &str) -> Option<ErrorKind> {
    let message = message.to_ascii_lowercase();
    if message.contains("context length")
        || message.contains("context window")
        || message.contains("prompt is too long")
    {
        return Some(ErrorKind::ContextTooLong);
    }
    if message.contains("model") && message.contains("not found") {
        return Some(ErrorKind::NotFound);
    }
    None
}

/// Classify an error reply: `{"error": "..."}` text refined by [`kind_for_message`] for 400s,
/// otherwise by status (404 a missing model, 500 a server failure, 503 overloaded, ...).
pub fn error(status: u16, headers: &[(String, String)], body: &[u8]) -> AdapterError {
    let message = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .and_then(|b| b.error)
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() || text.len() > 500 {
                format!("upstream returned HTTP {status}")
            } else {
                text.to_string()
            }
        });
    let kind = match kind_for_status(status) {
        ErrorKind::InvalidRequest => {
            kind_for_message(&message).unwrap_or(ErrorKind::InvalidRequest)
        }
        kind => kind,
    };
    upstream_error(kind, status, headers, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_keeps_strings_and_numbers() {
        assert_eq!(
            compact("{ \"a b\" : [1.50, \"x \\\" y\"],\n  \"c\":\t{} }"),
            r#"{"a b":[1.50,"x \" y"],"c":{}}"#
        );
    }

    #[test]
    fn arguments_text_tolerates_strings_and_null() -> serde_json::Result<()> {
        let raw = |t: &str| serde_json::from_str::<Box<RawValue>>(t);
        assert_eq!(arguments_text(None), "{}");
        assert_eq!(arguments_text(Some(&*raw("null")?)), "{}");
        assert_eq!(arguments_text(Some(&*raw(r#""""#)?)), "{}");
        assert_eq!(
            arguments_text(Some(&*raw(r#""{\"q\": \"x\"}""#)?)),
            r#"{"q":"x"}"#
        );
        assert_eq!(
            arguments_text(Some(&*raw(r#"{"z": 1, "a": "é"}"#)?)),
            r#"{"z":1,"a":"é"}"#
        );
        Ok(())
    }

    #[test]
    fn ids_come_from_created_at() {
        let ids = Ids::new("2025-07-07T20:32:53.844124Z");
        assert_eq!(ids.response(), "ollama-20250707203253844124");
        assert_eq!(ids.call(1), "call_20250707203253844124_1");
        let none = Ids::new("");
        assert_eq!(none.response(), "ollama");
        assert_eq!(none.call(0), "call_0");
    }

    #[test]
    fn context_errors_are_recognised_in_400s_only() {
        let e = error(
            400,
            &[],
            br#"{"error":"input length exceeds the context length"}"#,
        );
        assert_eq!(e.kind, ErrorKind::ContextTooLong);
        let e = error(
            500,
            &[],
            br#"{"error":"input length exceeds the context length"}"#,
        );
        assert_eq!(e.kind, ErrorKind::Server);
        let e = error(
            400,
            &[],
            br#"{"error":"\"llama3.2\" does not support tools"}"#,
        );
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
    }
}
