//! Neutral answers as Anthropic `message` objects.

use apex_adapter_kit::types::{ChatResponse, ContentPart, FinishReason, Usage};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

/// Anthropic's `stop_reason` for a neutral finish reason.
pub(super) fn stop_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop | FinishReason::Error => "end_turn",
        FinishReason::Length => "max_tokens",
        FinishReason::ToolCalls => "tool_use",
        FinishReason::ContentFilter => "refusal",
    }
}

/// Anthropic counts cached tokens apart from `input_tokens`; the neutral count includes them.
pub(super) fn usage_json(usage: &Usage) -> Value {
    let read = usage.cache_read_tokens.unwrap_or(0);
    let write = usage.cache_write_tokens.unwrap_or(0);
    json!({
        "input_tokens": usage.input_tokens.saturating_sub(read).saturating_sub(write),
        "cache_creation_input_tokens": write,
        "cache_read_input_tokens": read,
        "output_tokens": usage.output_tokens,
    })
}

/// Tool arguments as the `input` object: the model's JSON text when it is an object, else `{}`.
fn tool_input(arguments: &str) -> Box<RawValue> {
    let trimmed = arguments.trim();
    if trimmed.starts_with('{')
        && let Ok(raw) = serde_json::from_str::<Box<RawValue>>(trimmed)
    {
        return raw;
    }
    RawValue::from_string("{}".to_string()).unwrap_or_else(|_| Box::<RawValue>::default())
}

/// A content block of a rendered message.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum OutBlock<'a> {
    Text {
        text: &'a str,
    },
    Thinking {
        thinking: &'a str,
        signature: &'a str,
    },
    RedactedThinking {
        data: &'a str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: Box<RawValue>,
    },
}

fn out_block(part: &ContentPart) -> Option<OutBlock<'_>> {
    Some(match part {
        ContentPart::Text(text) if text.is_empty() => return None,
        ContentPart::Text(text) => OutBlock::Text { text },
        ContentPart::Thinking(thinking) => OutBlock::Thinking {
            thinking: &thinking.text,
            signature: thinking.signature.as_deref().unwrap_or(""),
        },
        ContentPart::RedactedThinking(data) => OutBlock::RedactedThinking { data },
        ContentPart::ToolCall(call) => OutBlock::ToolUse {
            id: &call.id,
            name: &call.name,
            input: tool_input(&call.arguments),
        },
        ContentPart::Image(_) | ContentPart::ToolResult(_) => return None,
    })
}

#[derive(Serialize)]
struct OutMessage<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: Vec<OutBlock<'a>>,
    stop_reason: &'static str,
    stop_sequence: Option<&'a str>,
    usage: Value,
}

/// A neutral response as an Anthropic `message` (tool inputs keep the model's exact JSON text).
pub fn render_response(response: &ChatResponse, id: &str, model: &str) -> Vec<u8> {
    let usage = response.usage.unwrap_or(Usage {
        input_tokens: 0,
        output_tokens: 0,
        cache_read_tokens: None,
        cache_write_tokens: None,
        reasoning_tokens: None,
    });
    let message = OutMessage {
        id,
        kind: "message",
        role: "assistant",
        model,
        content: response.content.iter().filter_map(out_block).collect(),
        stop_reason: stop_reason(response.finish_reason),
        stop_sequence: None,
        usage: usage_json(&usage),
    };
    serde_json::to_vec(&message).unwrap_or_default()
}
