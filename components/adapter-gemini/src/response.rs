//! Gemini `GenerateContentResponse` → neutral response, or a classified error. The reply types
//! here also decode each event of a stream (`stream.rs`), which is one `GenerateContentResponse`.

use apex_adapter_kit::http::malformed;
use apex_adapter_kit::json::compact;
use apex_adapter_kit::types::{
    AdapterError, ChatResponse, ContentPart, FinishReason, Image, ImageSource, Thinking, ToolCall,
    Usage,
};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{self, ErrorDetail};

/// A `GenerateContentResponse` (or, in a stream, an `error` event).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reply {
    #[serde(default)]
    pub candidates: Vec<Candidate>,
    pub prompt_feedback: Option<PromptFeedback>,
    pub usage_metadata: Option<UsageMetadata>,
    pub model_version: Option<String>,
    pub response_id: Option<String>,
    /// Set instead of the rest when the reply is an error.
    pub error: Option<ErrorDetail>,
}

impl Reply {
    /// The candidate the answer is read from: index 0 (the only one, unless the client asked for
    /// more with `candidateCount`).
    pub fn candidate(&self) -> Option<&Candidate> {
        self.candidates
            .iter()
            .find(|c| c.index.unwrap_or(0) == 0)
            .or_else(|| self.candidates.first())
    }

    /// Whether the prompt itself was blocked (`promptFeedback.blockReason`).
    pub fn prompt_blocked(&self) -> bool {
        self.prompt_feedback
            .as_ref()
            .is_some_and(|f| f.block_reason.as_deref().is_some_and(|r| !r.is_empty()))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    pub content: Option<CandidateContent>,
    pub finish_reason: Option<String>,
    pub index: Option<u32>,
}

impl Candidate {
    pub fn parts(&self) -> &[Part] {
        self.content.as_ref().map_or(&[], |c| &c.parts)
    }
}

#[derive(Deserialize)]
pub struct CandidateContent {
    #[serde(default)]
    pub parts: Vec<Part>,
}

/// A `Part` of an answer. Kinds with no neutral form (executable code, its results) are skipped.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    pub text: Option<String>,
    #[serde(default)]
    pub thought: bool,
    pub thought_signature: Option<String>,
    pub function_call: Option<FunctionCall>,
    pub inline_data: Option<Blob>,
}

impl Part {
    /// The signature on this part, when there is one.
    pub fn signature(&self) -> Option<&str> {
        self.thought_signature.as_deref().filter(|s| !s.is_empty())
    }
}

#[derive(Deserialize)]
pub struct FunctionCall {
    /// Set by some Gemini versions; when absent the adapter makes one (see [`call_id`]).
    pub id: Option<String>,
    pub name: String,
    pub args: Option<Box<RawValue>>,
}

impl FunctionCall {
    /// The arguments as compact JSON text (key order and values as received); `{}` when absent.
    pub fn arguments(&self) -> String {
        self.args
            .as_ref()
            .map_or_else(|| "{}".to_string(), |args| compact(args.get()))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Blob {
    pub mime_type: Option<String>,
    pub data: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptFeedback {
    pub block_reason: Option<String>,
}

/// `usageMetadata`.
#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub struct UsageMetadata {
    pub prompt_token_count: Option<u32>,
    pub cached_content_token_count: Option<u32>,
    pub candidates_token_count: Option<u32>,
    pub tool_use_prompt_token_count: Option<u32>,
    pub thoughts_token_count: Option<u32>,
}

/// Gemini's `promptTokenCount` already includes cached tokens (`cachedContentTokenCount`), as the
/// neutral input count does; tokens of built-in tool results (`toolUsePromptTokenCount`) are input
/// too. Thinking is output: `candidatesTokenCount` leaves it out, the neutral output count includes
/// it (as OpenAI's does), with `reasoning-tokens` saying how much of it. So input + output is
/// Gemini's `totalTokenCount`.
impl From<UsageMetadata> for Usage {
    fn from(u: UsageMetadata) -> Self {
        Usage {
            input_tokens: u
                .prompt_token_count
                .unwrap_or(0)
                .saturating_add(u.tool_use_prompt_token_count.unwrap_or(0)),
            output_tokens: u
                .candidates_token_count
                .unwrap_or(0)
                .saturating_add(u.thoughts_token_count.unwrap_or(0)),
            cache_read_tokens: u.cached_content_token_count,
            cache_write_tokens: None,
            reasoning_tokens: u.thoughts_token_count,
        }
    }
}

/// The neutral finish reason for a Gemini `finishReason`; a `STOP` after function calls is a
/// tool-calls finish.
pub fn finish_reason(reason: &str, called_tools: bool) -> FinishReason {
    match reason {
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY"
        | "RECITATION"
        | "LANGUAGE"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => FinishReason::ContentFilter,
        "MALFORMED_FUNCTION_CALL"
        | "OTHER"
        | "UNEXPECTED_TOOL_CALL"
        | "TOO_MANY_TOOL_CALLS"
        | "MISSING_THOUGHT_SIGNATURE"
        | "MALFORMED_RESPONSE"
        | "IMAGE_OTHER"
        | "NO_IMAGE" => FinishReason::Error,
        // STOP, FINISH_REASON_UNSPECIFIED, and values added later.
        _ if called_tools => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    }
}

/// The id of the `n`th function call (from 0) of the reply `response_id`. Gemini's calls carry no
/// id (a few versions set `functionCall.id`, which is then used): the made-up one is stable for a
/// given reply, and unique across the replies of a conversation when Gemini sent a `responseId`.
pub fn call_id(upstream: Option<&str>, response_id: &str, n: u32) -> String {
    if let Some(id) = upstream.filter(|id| !id.is_empty()) {
        return id.to_string();
    }
    let response_id: String = response_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect();
    if response_id.is_empty() {
        format!("gemini-call-{n}")
    } else {
        format!("gemini-call-{response_id}-{n}")
    }
}

/// The neutral parts of an answer. A signature on a thought part stays with that thinking part; a
/// signature on any other part becomes an empty, signed thinking part right before it (see the
/// crate docs).
fn content(parts: &[Part], response_id: &str) -> Vec<ContentPart> {
    let mut content = Vec::with_capacity(parts.len());
    let mut calls = 0;
    for part in parts {
        if part.thought {
            let text = part.text.clone().unwrap_or_default();
            if !text.is_empty() || part.signature().is_some() {
                content.push(ContentPart::Thinking(Thinking {
                    text,
                    signature: part.signature().map(str::to_string),
                }));
            }
            continue;
        }
        if let Some(signature) = part.signature() {
            content.push(ContentPart::Thinking(Thinking {
                text: String::new(),
                signature: Some(signature.to_string()),
            }));
        }
        if let Some(call) = &part.function_call {
            content.push(ContentPart::ToolCall(ToolCall {
                id: call_id(call.id.as_deref(), response_id, calls),
                name: call.name.clone(),
                arguments: call.arguments(),
            }));
            calls += 1;
        } else if let Some(text) = part.text.as_ref().filter(|t| !t.is_empty()) {
            content.push(ContentPart::Text(text.clone()));
        } else if let Some(blob) = &part.inline_data {
            content.push(ContentPart::Image(Image {
                source: ImageSource::Base64(blob.data.clone()),
                media_type: blob.mime_type.clone(),
                detail: None,
            }));
        }
    }
    content
}

/// Parse a reply of any status.
pub fn parse(
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<ChatResponse, AdapterError> {
    if !(200..300).contains(&status) {
        return Err(error::from_reply(status, headers, body));
    }
    let reply: Reply = serde_json::from_slice(body).map_err(|e| {
        if e.is_eof() {
            malformed(format!("the reply was cut short: {e}"))
        } else {
            malformed(e)
        }
    })?;
    if reply.error.is_some() && reply.candidates.is_empty() {
        return Err(error::from_reply(status, headers, body));
    }
    let id = reply.response_id.clone().unwrap_or_default();
    let usage = reply.usage_metadata.map(Usage::from);
    let model = reply.model_version.clone().unwrap_or_default();
    let Some(candidate) = reply.candidate() else {
        if reply.prompt_blocked() {
            // The prompt was refused before any answer was generated.
            return Ok(ChatResponse {
                id,
                model,
                content: Vec::new(),
                finish_reason: FinishReason::ContentFilter,
                usage,
            });
        }
        return Err(malformed("the reply has no candidates"));
    };
    let content = content(candidate.parts(), &id);
    let called_tools = content
        .iter()
        .any(|p| matches!(p, ContentPart::ToolCall(_)));
    Ok(ChatResponse {
        id,
        model,
        content,
        finish_reason: finish_reason(
            candidate.finish_reason.as_deref().unwrap_or("STOP"),
            called_tools,
        ),
        usage,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn call_ids_are_stable_and_safe() {
        assert_eq!(call_id(None, "", 0), "gemini-call-0");
        assert_eq!(call_id(None, "rA1X/aK=", 2), "gemini-call-rA1XaK-2");
        assert_eq!(call_id(Some("abc"), "r", 2), "abc");
        assert_eq!(call_id(Some(""), "r", 1), "gemini-call-r-1");
    }

    #[test]
    fn finish_reasons() {
        assert_eq!(finish_reason("STOP", false), FinishReason::Stop);
        assert_eq!(finish_reason("STOP", true), FinishReason::ToolCalls);
        assert_eq!(finish_reason("MAX_TOKENS", true), FinishReason::Length);
        assert_eq!(finish_reason("SPII", false), FinishReason::ContentFilter);
        assert_eq!(
            finish_reason("MALFORMED_FUNCTION_CALL", false),
            FinishReason::Error
        );
        assert_eq!(finish_reason("SOMETHING_NEW", false), FinishReason::Stop);
    }

    #[test]
    fn an_error_body_with_a_success_status_is_classified() {
        let body = br#"{"error": {"code": 500, "message": "oops", "status": "INTERNAL"}}"#;
        let error = parse(200, &[], body).unwrap_err();
        assert_eq!(error.kind, apex_adapter_kit::types::ErrorKind::Server);
        let error = parse(200, &[], b"{}").unwrap_err();
        assert_eq!(
            error.kind,
            apex_adapter_kit::types::ErrorKind::MalformedReply
        );
    }
}
