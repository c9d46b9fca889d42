//! A cached answer replayed as a neutral event stream, for clients that stream.

use apex_adapter_kit::types::{
    ChatResponse, ContentPart, StreamEvent, StreamStart, ToolCallDelta, ToolCallStart,
};

/// Text and thinking replay in pieces of at most this many characters.
pub const REPLAY_CHUNK_CHARS: usize = 64;

/// A cached answer as a neutral event stream, for any surface's stream writer: `start`, the
/// content in order (thinking deltas then its signature, text deltas in pieces of
/// [`REPLAY_CHUNK_CHARS`], each tool call as a start and one arguments delta), `usage`, `finish`.
/// Parts no stream event carries (redacted thinking, images, tool results) are left out.
pub fn replay_events(response: &ChatResponse) -> Vec<StreamEvent> {
    let mut events = vec![StreamEvent::Start(StreamStart {
        id: response.id.clone(),
        model: response.model.clone(),
    })];
    let mut calls = 0u32;
    for part in &response.content {
        match part {
            ContentPart::Text(text) => {
                events.extend(chunks(text).map(StreamEvent::TextDelta));
            }
            ContentPart::Thinking(thinking) => {
                events.extend(chunks(&thinking.text).map(StreamEvent::ThinkingDelta));
                if let Some(signature) = &thinking.signature {
                    events.push(StreamEvent::ThinkingSignature(signature.clone()));
                }
            }
            ContentPart::ToolCall(call) => {
                events.push(StreamEvent::ToolCallStart(ToolCallStart {
                    index: calls,
                    id: call.id.clone(),
                    name: call.name.clone(),
                }));
                if !call.arguments.is_empty() {
                    events.push(StreamEvent::ToolCallDelta(ToolCallDelta {
                        index: calls,
                        arguments: call.arguments.clone(),
                    }));
                }
                calls += 1;
            }
            ContentPart::RedactedThinking(_)
            | ContentPart::Image(_)
            | ContentPart::ToolResult(_) => {}
        }
    }
    if let Some(usage) = response.usage {
        events.push(StreamEvent::Usage(usage));
    }
    events.push(StreamEvent::Finish(response.finish_reason));
    events
}

/// `text` in pieces of at most [`REPLAY_CHUNK_CHARS`] characters (none for empty text).
fn chunks(text: &str) -> impl Iterator<Item = String> + '_ {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = rest
            .char_indices()
            .nth(REPLAY_CHUNK_CHARS)
            .map_or(rest.len(), |(at, _)| at);
        let (piece, tail) = rest.split_at(end);
        rest = tail;
        Some(piece.to_string())
    })
}
