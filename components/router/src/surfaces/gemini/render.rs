//! Neutral answers as `GenerateContentResponse` objects.
//!
//! - Text → `{"text"}`; a tool call → `{"functionCall": {"id", "name", "args"}}` with `args` an
//!   object (arguments that are not a JSON object are wrapped as `{"arguments": text}`).
//! - Thinking with text → `{"text", "thought": true, "thoughtSignature"?}`; an empty signed
//!   thinking part gives its signature to the next part (`thoughtSignature`), or becomes an empty
//!   signed thought when nothing follows. Redacted thinking has no place here (the gateway keeps
//!   it for the tool calls it led to).
//! - `finishReason`: stop and tool calls → `STOP`, length → `MAX_TOKENS`, content filter →
//!   `SAFETY`, error → `OTHER`.
//! - `usageMetadata`: `promptTokenCount` = input, `candidatesTokenCount` = output without
//!   reasoning, `thoughtsTokenCount` = reasoning, `cachedContentTokenCount` = cache reads.

use apex_adapter_kit::types::{
    ChatResponse, ContentPart, FinishReason, ImageSource, ToolCall, Usage,
};
use serde_json::{Map, Value, json};

pub fn finish_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop | FinishReason::ToolCalls => "STOP",
        FinishReason::Length => "MAX_TOKENS",
        FinishReason::ContentFilter => "SAFETY",
        FinishReason::Error => "OTHER",
    }
}

pub fn usage_metadata(usage: &Usage) -> Value {
    let reasoning = usage.reasoning_tokens.unwrap_or(0);
    let mut out = Map::new();
    out.insert("promptTokenCount".into(), json!(usage.input_tokens));
    out.insert(
        "candidatesTokenCount".into(),
        json!(usage.output_tokens.saturating_sub(reasoning)),
    );
    out.insert(
        "totalTokenCount".into(),
        json!(usage.input_tokens.saturating_add(usage.output_tokens)),
    );
    if let Some(cached) = usage.cache_read_tokens.filter(|n| *n > 0) {
        out.insert("cachedContentTokenCount".into(), json!(cached));
    }
    if reasoning > 0 {
        out.insert("thoughtsTokenCount".into(), json!(reasoning));
    }
    Value::Object(out)
}

/// A function-call part (its signature, if any, added by the caller).
pub fn function_call(call: &ToolCall) -> Value {
    let args = match serde_json::from_str::<Value>(&call.arguments) {
        Ok(Value::Object(args)) => Value::Object(args),
        Ok(_) | Err(_) if call.arguments.trim().is_empty() => json!({}),
        Ok(_) | Err(_) => json!({"arguments": call.arguments}),
    };
    json!({"functionCall": {"id": call.id, "name": call.name, "args": args}})
}

/// A thought part.
pub fn thought(text: &str, signature: Option<&str>) -> Value {
    let mut part = json!({"text": text, "thought": true});
    if let Some(signature) = signature {
        part["thoughtSignature"] = json!(signature);
    }
    part
}

/// `part` with `signature` (taken) as its `thoughtSignature`.
pub fn signed(mut part: Value, signature: &mut Option<String>) -> Value {
    if let Some(signature) = signature.take() {
        part["thoughtSignature"] = json!(signature);
    }
    part
}

/// The parts of an answer.
pub fn parts(content: &[ContentPart]) -> Vec<Value> {
    let mut parts = Vec::new();
    let mut signature: Option<String> = None;
    for part in content {
        match part {
            ContentPart::Text(text) => parts.push(signed(json!({"text": text}), &mut signature)),
            ContentPart::ToolCall(call) => parts.push(signed(function_call(call), &mut signature)),
            ContentPart::Thinking(thinking) if thinking.text.is_empty() => {
                if let Some(held) = signature.take() {
                    parts.push(thought("", Some(&held)));
                }
                signature = thinking.signature.clone();
            }
            ContentPart::Thinking(thinking) => {
                if let Some(held) = signature.take() {
                    parts.push(thought("", Some(&held)));
                }
                parts.push(thought(&thinking.text, thinking.signature.as_deref()));
            }
            ContentPart::Image(image) => {
                let (mime, data) = match &image.source {
                    ImageSource::Base64(data) => (image.media_type.as_deref(), data),
                    ImageSource::Url(_) => continue,
                };
                let part =
                    json!({"inlineData": {"mimeType": mime.unwrap_or("image/png"), "data": data}});
                parts.push(signed(part, &mut signature));
            }
            ContentPart::RedactedThinking(_) | ContentPart::ToolResult(_) => {}
        }
    }
    if let Some(held) = signature {
        parts.push(thought("", Some(&held)));
    }
    parts
}

/// A whole answer.
pub fn render_response(response: &ChatResponse, id: &str, model: &str) -> Vec<u8> {
    let mut body = json!({
        "candidates": [{
            "content": {"role": "model", "parts": parts(&response.content)},
            "finishReason": finish_reason(response.finish_reason),
            "index": 0,
        }],
    });
    if let Some(usage) = &response.usage {
        body["usageMetadata"] = usage_metadata(usage);
    }
    body["modelVersion"] = json!(model);
    body["responseId"] = json!(id);
    serde_json::to_vec(&body).unwrap_or_default()
}
