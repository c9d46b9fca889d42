//! Neutral answers as `chat.completion` objects.

use apex_adapter_kit::types::{ChatResponse, ContentPart, FinishReason, Usage};
use serde_json::{Map, Value, json};

pub(super) fn finish_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
        FinishReason::Error => "stop",
    }
}

pub(super) fn usage_json(usage: &Usage) -> Value {
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
