//! OpenAI Chat Completions reply → neutral response, or a classified error.

use apex_adapter_kit::http::{kind_for_status, malformed, upstream_error};
use apex_adapter_kit::types::{
    AdapterError, ChatResponse, ContentPart, ErrorKind, FinishReason, Thinking, ToolCall, Usage,
};
use serde::Deserialize;

/// A list that OpenAI-compatible servers may send as `null` (or leave out) when empty.
pub(crate) fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    id: String,
    #[serde(default)]
    model: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    choices: Vec<Choice>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Choice {
    message: ChoiceMessage,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    content: Option<String>,
    reasoning_content: Option<String>,
    refusal: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    tool_calls: Vec<WireToolCall>,
}

#[derive(Deserialize)]
struct WireToolCall {
    #[serde(default)]
    id: String,
    function: WireFunction,
}

#[derive(Deserialize)]
struct WireFunction {
    name: String,
    #[serde(default)]
    arguments: String,
}

/// Usage as OpenAI-compatible providers report it.
#[derive(Deserialize)]
pub(crate) struct WireUsage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
    prompt_tokens_details: Option<PromptDetails>,
    completion_tokens_details: Option<CompletionDetails>,
    /// DeepSeek reports cache hits here instead of `prompt_tokens_details.cached_tokens`.
    prompt_cache_hit_tokens: Option<u32>,
}

#[derive(Deserialize)]
struct PromptDetails {
    cached_tokens: Option<u32>,
}

#[derive(Deserialize)]
struct CompletionDetails {
    reasoning_tokens: Option<u32>,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Self {
        Usage {
            input_tokens: u.prompt_tokens,
            output_tokens: u.completion_tokens,
            cache_read_tokens: u
                .prompt_tokens_details
                .and_then(|d| d.cached_tokens)
                .or(u.prompt_cache_hit_tokens),
            cache_write_tokens: None,
            reasoning_tokens: u.completion_tokens_details.and_then(|d| d.reasoning_tokens),
        }
    }
}

/// The neutral finish reason for an OpenAI `finish_reason`.
pub(crate) fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
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
    let completion: Completion = serde_json::from_slice(body).map_err(malformed)?;
    let Some(choice) = completion.choices.into_iter().next() else {
        return Err(malformed("no choices"));
    };
    let message = choice.message;
    let mut content = Vec::new();
    if let Some(reasoning) = message.reasoning_content.filter(|r| !r.is_empty()) {
        content.push(ContentPart::Thinking(Thinking {
            text: reasoning,
            signature: None,
        }));
    }
    if let Some(text) = message.content.filter(|t| !t.is_empty()) {
        content.push(ContentPart::Text(text));
    } else if let Some(refusal) = message.refusal.filter(|t| !t.is_empty()) {
        content.push(ContentPart::Text(refusal));
    }
    let has_calls = !message.tool_calls.is_empty();
    for call in message.tool_calls {
        content.push(ContentPart::ToolCall(ToolCall {
            id: call.id,
            name: call.function.name,
            arguments: call.function.arguments,
        }));
    }
    let mut finish = finish_reason(choice.finish_reason.as_deref().unwrap_or("stop"));
    if has_calls && finish == FinishReason::Stop {
        finish = FinishReason::ToolCalls;
    }
    Ok(ChatResponse {
        id: completion.id,
        model: completion.model,
        content,
        finish_reason: finish,
        usage: completion.usage.map(Usage::from),
    })
}

#[derive(Deserialize)]
struct ErrorBody {
    error: Option<ErrorDetail>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: Option<String>,
    code: Option<serde_json::Value>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// Classify an error reply: by status, refined by OpenAI's documented error codes.
pub fn error(status: u16, headers: &[(String, String)], body: &[u8]) -> AdapterError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let (message, code, kind_name) = match parsed {
        Some(ErrorBody {
            error: Some(detail),
            ..
        }) => (
            detail.message,
            detail.code.and_then(|c| c.as_str().map(str::to_string)),
            detail.kind,
        ),
        Some(ErrorBody { message, .. }) => (message, None, None),
        None => (None, None, None),
    };
    let message = redact_key_echo(message.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() || text.len() > 500 {
            format!("upstream returned HTTP {status}")
        } else {
            text.to_string()
        }
    }));
    let kind = match (code.as_deref(), kind_name.as_deref()) {
        (Some("context_length_exceeded"), _) => ErrorKind::ContextTooLong,
        (Some("rate_limit_exceeded"), _) | (_, Some("rate_limit_exceeded")) if status == 429 => {
            ErrorKind::RateLimited
        }
        (Some("insufficient_quota"), _) => ErrorKind::RateLimited,
        _ => kind_for_status(status),
    };
    upstream_error(kind, status, headers, message)
}

/// OpenAI's 401 message echoes the key it was given ("Incorrect API key provided: sk-ab***cd."),
/// whole when it is short. Error messages reach the client, so the echo is cut out.
fn redact_key_echo(message: String) -> String {
    const MARK: &str = "API key provided: ";
    let Some(at) = message.find(MARK) else {
        return message;
    };
    let start = at + MARK.len();
    let rest = &message[start..];
    let token = &rest[..rest.find(char::is_whitespace).unwrap_or(rest.len())];
    let key_len = token.trim_end_matches(['.', ',', ';']).len();
    format!("{}[redacted]{}", &message[..start], &rest[key_len..])
}
