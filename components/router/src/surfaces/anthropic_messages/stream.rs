//! Neutral stream events as Anthropic's server-sent events.

use apex_adapter_kit::types::{StreamEvent, Usage};
use serde_json::{Value, json};

use super::render::{stop_reason, usage_json};
use crate::http::error::ApiError;
use crate::surfaces::StreamWriter;

/// The block being streamed.
#[derive(Clone, Copy, PartialEq)]
enum Open {
    Text,
    Thinking,
    /// A tool call (by its neutral index) and whether any argument bytes were sent.
    Tool(u32, bool),
}

/// Renders neutral stream events as Anthropic's server-sent events: `message_start`, then per
/// block `content_block_start` / `content_block_delta`s / `content_block_stop`, `message_delta`
/// (stop reason, usage) and `message_stop`.
pub struct EventWriter {
    id: String,
    model: String,
    started: bool,
    /// Index of the open block, and what it is.
    open: Option<(u32, Open)>,
    next_index: u32,
    usage: Option<Usage>,
}

impl EventWriter {
    pub fn new(id: String, model: String) -> Self {
        Self {
            id,
            model,
            started: false,
            open: None,
            next_index: 0,
            usage: None,
        }
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let message = json!({
            "type": "message_start",
            "message": {
                "id": self.id,
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": {"input_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 0},
            },
        });
        sse(out, "message_start", &message);
        sse(out, "ping", &json!({"type": "ping"}));
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if let Some((index, open)) = self.open.take() {
            if let Open::Tool(_, false) = open {
                // A call that streamed no arguments still has an input: `{}`.
                delta(
                    out,
                    index,
                    json!({"type": "input_json_delta", "partial_json": "{}"}),
                );
            }
            sse(
                out,
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            );
        }
    }

    /// Make sure a block of this sort is open, opening it with `block` when not; returns its index.
    fn ensure(&mut self, sort: Open, block: Value, out: &mut Vec<u8>) -> u32 {
        self.start(out);
        if let Some((index, open)) = self.open
            && open == sort
        {
            return index;
        }
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some((index, sort));
        sse(
            out,
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        );
        index
    }

    fn thinking_block(&mut self, out: &mut Vec<u8>) -> u32 {
        self.ensure(
            Open::Thinking,
            json!({"type": "thinking", "thinking": "", "signature": ""}),
            out,
        )
    }
}

fn delta(out: &mut Vec<u8>, index: u32, delta: Value) {
    sse(
        out,
        "content_block_delta",
        &json!({"type": "content_block_delta", "index": index, "delta": delta}),
    );
}

impl StreamWriter for EventWriter {
    fn event(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        match event {
            // `message_start` waits for the first content, so an early failure can fail over.
            StreamEvent::Start(_) => {}
            StreamEvent::TextDelta(text) => {
                if text.is_empty() {
                    return;
                }
                let index = self.ensure(Open::Text, json!({"type": "text", "text": ""}), out);
                delta(out, index, json!({"type": "text_delta", "text": text}));
            }
            StreamEvent::ThinkingDelta(text) => {
                let index = self.thinking_block(out);
                delta(
                    out,
                    index,
                    json!({"type": "thinking_delta", "thinking": text}),
                );
            }
            StreamEvent::ThinkingSignature(signature) => {
                let index = self.thinking_block(out);
                delta(
                    out,
                    index,
                    json!({"type": "signature_delta", "signature": signature}),
                );
                // A signature ends its thinking block.
                self.close(out);
            }
            StreamEvent::ToolCallStart(call) => {
                self.start(out);
                self.close(out);
                let index = self.next_index;
                self.next_index += 1;
                self.open = Some((index, Open::Tool(call.index, false)));
                sse(
                    out,
                    "content_block_start",
                    &json!({"type": "content_block_start", "index": index, "content_block": {
                        "type": "tool_use", "id": call.id, "name": call.name, "input": {},
                    }}),
                );
            }
            StreamEvent::ToolCallDelta(call) => {
                if call.arguments.is_empty() {
                    return;
                }
                // Deltas belong to the open call; providers stream calls one after another.
                if let Some((index, Open::Tool(tool, _))) = self.open
                    && tool == call.index
                {
                    self.open = Some((index, Open::Tool(tool, true)));
                    delta(
                        out,
                        index,
                        json!({"type": "input_json_delta", "partial_json": call.arguments}),
                    );
                }
            }
            StreamEvent::Usage(usage) => self.usage = Some(*usage),
            StreamEvent::Finish(reason) => {
                self.start(out);
                self.close(out);
                let usage = self.usage.map(|u| usage_json(&u)).unwrap_or_else(
                    || json!({"input_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 0}),
                );
                sse(
                    out,
                    "message_delta",
                    &json!({
                        "type": "message_delta",
                        "delta": {"stop_reason": stop_reason(*reason), "stop_sequence": null},
                        "usage": usage,
                    }),
                );
                sse(out, "message_stop", &json!({"type": "message_stop"}));
            }
        }
    }

    fn done(&mut self, _out: &mut Vec<u8>) {}

    fn error(&mut self, error: &ApiError, out: &mut Vec<u8>) {
        let body = json!({
            "type": "error",
            "error": {"type": error.anthropic_type(), "message": error.message},
        });
        sse(out, "error", &body);
    }
}

/// One server-sent event with its `event:` name, as Anthropic frames them.
pub(super) fn sse(out: &mut Vec<u8>, name: &str, value: &Value) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.extend_from_slice(b"{}");
    }
    out.extend_from_slice(b"\n\n");
}

/// What one forwarded Messages event (its `data`) delivered: text deltas, the end
/// (`message_stop`), a failure (`error`), or something else a continuation could not pick up.
pub fn delivered(data: &[u8]) -> crate::surfaces::Delivered {
    use crate::surfaces::reported_usage::AnthropicUsage;
    #[derive(serde::Deserialize)]
    struct Event {
        #[serde(rename = "type")]
        kind: Option<String>,
        delta: Option<Delta>,
        error: Option<ErrorBody>,
        /// `message_start`'s message carries the input counts.
        message: Option<Message>,
        /// `message_delta` carries the output count so far.
        usage: Option<AnthropicUsage>,
    }
    #[derive(serde::Deserialize)]
    struct Message {
        usage: Option<AnthropicUsage>,
    }
    #[derive(serde::Deserialize)]
    struct Delta {
        #[serde(rename = "type")]
        kind: Option<String>,
        text: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        message: Option<String>,
    }
    let mut delivered = crate::surfaces::Delivered::default();
    let Ok(event) = serde_json::from_slice::<Event>(data) else {
        return delivered;
    };
    delivered.usage = event
        .usage
        .as_ref()
        .or(event.message.as_ref().and_then(|m| m.usage.as_ref()))
        .map(AnthropicUsage::tokens);
    match event.kind.as_deref() {
        Some("message_stop") => delivered.finish = true,
        Some("error") => {
            delivered.error = Some(
                event
                    .error
                    .and_then(|e| e.message)
                    .unwrap_or_else(|| "The upstream provider reported an error.".to_string()),
            );
        }
        Some("content_block_delta") => match event.delta {
            Some(Delta {
                kind: Some(kind),
                text,
            }) if kind == "text_delta" => delivered.text = text.unwrap_or_default(),
            _ => delivered.other = true,
        },
        _ => {}
    }
    delivered
}

#[cfg(test)]
mod tests {
    use super::delivered;

    #[test]
    fn forwarded_events_say_text_end_and_failure() {
        let text = delivered(br#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#);
        assert_eq!(
            (text.text.as_str(), text.finish, text.other),
            ("Hi", false, false)
        );
        let tool = delivered(br#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{"}}"#);
        assert!(tool.other);
        assert!(delivered(br#"{"type":"message_stop"}"#).finish);
        let error = delivered(
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert_eq!(error.error.as_deref(), Some("Overloaded"));
        assert_eq!(delivered(br#"{"type":"ping"}"#), Default::default());
    }
}
