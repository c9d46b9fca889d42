//! Cohere Chat API v2 server-sent events → neutral stream events.
//!
//! Each event's `data` is a JSON object whose `type` drives decoding (`message-start`,
//! `content-start`, `content-delta`, `content-end`, `tool-plan-delta`, `tool-call-start`,
//! `tool-call-delta`, `tool-call-end`, `citation-start`, `citation-end`, `message-end`). The SSE
//! `event:` name is not read: the reference's own example names events differently from their
//! `type`. Citations, `debug` events, event types added later and a trailing `[DONE]` are ignored.
//!
//! `tool-plan-delta` (the model's plan before its tool calls) is streamed as thinking, like the
//! `tool_plan` of a whole reply. Text and thinking deltas are told apart by the field they carry
//! (`text` or `thinking`). A stream that ends before `message-end` was cut short.

use apex_adapter_kit::http::malformed;
use apex_adapter_kit::sse::SseDecode;
use apex_adapter_kit::types::{
    AdapterError, StreamEvent, StreamStart, ToolCallDelta, ToolCallStart,
};
use serde::Deserialize;

use crate::response::{WireUsage, arguments, finish_reason};

#[derive(Deserialize)]
struct EventType {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct MessageStart {
    #[serde(default)]
    id: String,
}

/// `content-start` and `content-delta`: `delta.message.content` with `text` or `thinking`.
#[derive(Deserialize)]
struct ContentEvent {
    delta: Option<ContentDelta>,
}

#[derive(Deserialize)]
struct ContentDelta {
    message: Option<ContentMessage>,
}

#[derive(Deserialize)]
struct ContentMessage {
    content: Option<ContentPiece>,
}

#[derive(Deserialize)]
struct ContentPiece {
    text: Option<String>,
    thinking: Option<String>,
}

#[derive(Deserialize)]
struct ToolPlanEvent {
    delta: Option<ToolPlanDelta>,
}

#[derive(Deserialize)]
struct ToolPlanDelta {
    message: Option<ToolPlanMessage>,
}

#[derive(Deserialize)]
struct ToolPlanMessage {
    tool_plan: Option<String>,
}

/// `tool-call-start` and `tool-call-delta`: `delta.message.tool_calls` is one call (an object).
#[derive(Deserialize)]
struct ToolCallEvent {
    index: Option<u32>,
    delta: Option<ToolCallEventDelta>,
}

#[derive(Deserialize)]
struct ToolCallEventDelta {
    message: Option<ToolCallMessage>,
}

#[derive(Deserialize)]
struct ToolCallMessage {
    tool_calls: Option<ToolCallPiece>,
}

#[derive(Deserialize)]
struct ToolCallPiece {
    id: Option<String>,
    function: Option<FunctionPiece>,
}

#[derive(Deserialize)]
struct FunctionPiece {
    name: Option<String>,
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct ToolCallEnd {
    index: Option<u32>,
}

#[derive(Deserialize)]
struct MessageEnd {
    delta: Option<MessageEndDelta>,
}

#[derive(Deserialize)]
struct MessageEndDelta {
    finish_reason: Option<String>,
    usage: Option<WireUsage>,
    /// "An error message if an error occurred during the generation." The neutral stream has no
    /// place for it: the stream finishes with reason `error`.
    error: Option<String>,
}

/// A tool call of the answer being streamed.
struct Call {
    /// Cohere's `index` for it.
    upstream: Option<u32>,
    /// Whether some non-empty arguments were seen.
    has_arguments: bool,
}

/// Decoder state for one stream.
#[derive(Default)]
pub struct Decoder {
    started: bool,
    /// The answer's tool calls; a call's neutral index is its position here.
    calls: Vec<Call>,
    done: bool,
}

fn parse<'a, T: Deserialize<'a>>(data: &'a str, kind: &str) -> Result<T, AdapterError> {
    serde_json::from_str(data).map_err(|e| malformed(format!("`{kind}` event: {e}")))
}

impl Decoder {
    fn event(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), AdapterError> {
        let data = data.trim();
        if self.done || data.is_empty() || data == "[DONE]" {
            return Ok(());
        }
        let kind = parse::<EventType>(data, "stream")?.kind;
        if !self.started && kind != "message-start" && kind != "debug" {
            return Err(malformed(format!("`{kind}` event before message-start")));
        }
        match kind.as_str() {
            "message-start" => {
                let start: MessageStart = parse(data, &kind)?;
                if !self.started {
                    self.started = true;
                    // Cohere's stream names no model: the router fills it in.
                    out.push(StreamEvent::Start(StreamStart {
                        id: start.id,
                        model: String::new(),
                    }));
                }
            }
            "content-start" | "content-delta" => {
                let event: ContentEvent = parse(data, &kind)?;
                let piece = event.delta.and_then(|d| d.message).and_then(|m| m.content);
                if let Some(piece) = piece {
                    if let Some(thinking) = piece.thinking.filter(|t| !t.is_empty()) {
                        out.push(StreamEvent::ThinkingDelta(thinking));
                    }
                    if let Some(text) = piece.text.filter(|t| !t.is_empty()) {
                        out.push(StreamEvent::TextDelta(text));
                    }
                }
            }
            "tool-plan-delta" => {
                let event: ToolPlanEvent = parse(data, &kind)?;
                let plan = event
                    .delta
                    .and_then(|d| d.message)
                    .and_then(|m| m.tool_plan);
                if let Some(plan) = plan.filter(|p| !p.is_empty()) {
                    out.push(StreamEvent::ThinkingDelta(plan));
                }
            }
            "tool-call-start" => {
                let event: ToolCallEvent = parse(data, &kind)?;
                let call = event
                    .delta
                    .and_then(|d| d.message)
                    .and_then(|m| m.tool_calls)
                    .ok_or_else(|| malformed("`tool-call-start` event without a tool call"))?;
                let function = call.function;
                let (name, initial) = match function {
                    Some(f) => (f.name.unwrap_or_default(), f.arguments),
                    None => (String::new(), None),
                };
                let index = self.calls.len() as u32;
                let has_arguments = initial.as_ref().is_some_and(|a| !a.is_empty());
                self.calls.push(Call {
                    upstream: event.index,
                    has_arguments,
                });
                out.push(StreamEvent::ToolCallStart(ToolCallStart {
                    index,
                    id: call.id.unwrap_or_default(),
                    name,
                }));
                if let Some(arguments) = initial.filter(|a| !a.is_empty()) {
                    out.push(StreamEvent::ToolCallDelta(ToolCallDelta {
                        index,
                        arguments,
                    }));
                }
            }
            "tool-call-delta" => {
                let event: ToolCallEvent = parse(data, &kind)?;
                let arguments = event
                    .delta
                    .and_then(|d| d.message)
                    .and_then(|m| m.tool_calls)
                    .and_then(|c| c.function)
                    .and_then(|f| f.arguments);
                if let Some(arguments) = arguments.filter(|a| !a.is_empty()) {
                    let index = self.call(event.index, &kind)?;
                    if let Some(call) = self.calls.get_mut(index as usize) {
                        call.has_arguments = true;
                    }
                    out.push(StreamEvent::ToolCallDelta(ToolCallDelta {
                        index,
                        arguments,
                    }));
                }
            }
            "tool-call-end" => {
                let end: ToolCallEnd = parse(data, &kind)?;
                let index = self.call(end.index, &kind)?;
                // A call that streamed no arguments takes an empty object.
                if let Some(call) = self.calls.get_mut(index as usize)
                    && !call.has_arguments
                {
                    call.has_arguments = true;
                    out.push(StreamEvent::ToolCallDelta(ToolCallDelta {
                        index,
                        arguments: arguments(None),
                    }));
                }
            }
            "message-end" => {
                let end: MessageEnd = parse(data, &kind)?;
                self.done = true;
                let delta = end.delta;
                let (reason, usage, error) = match delta {
                    Some(d) => (d.finish_reason, d.usage, d.error),
                    None => (None, None, None),
                };
                if let Some(usage) = usage.and_then(|u| u.neutral()) {
                    out.push(StreamEvent::Usage(usage));
                }
                let reason = match reason {
                    Some(reason) => finish_reason(&reason),
                    None if error.is_some() => finish_reason("ERROR"),
                    None => finish_reason("COMPLETE"),
                };
                out.push(StreamEvent::Finish(reason));
            }
            // citation-start, citation-end, content-end, debug, and event types added later.
            _ => {}
        }
        Ok(())
    }

    /// The neutral index of the call Cohere numbers `upstream` (the latest call when it gives no
    /// index).
    fn call(&self, upstream: Option<u32>, kind: &str) -> Result<u32, AdapterError> {
        let position = match upstream {
            Some(upstream) => self.calls.iter().position(|c| c.upstream == Some(upstream)),
            None => self.calls.len().checked_sub(1),
        };
        position
            .map(|p| p as u32)
            .ok_or_else(|| malformed(format!("`{kind}` event for a tool call never started")))
    }
}

impl SseDecode for Decoder {
    fn data(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), AdapterError> {
        self.event(data, out)
    }

    fn end(&mut self, _out: &mut Vec<StreamEvent>) -> Result<(), AdapterError> {
        if !self.done {
            return Err(malformed("stream ended before message-end"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apex_adapter_kit::sse::SseStream;
    use apex_adapter_kit::types::{ErrorKind, FinishReason};

    fn decode(body: &str) -> Result<Vec<StreamEvent>, AdapterError> {
        apex_adapter_kit::decode_stream(SseStream::<Decoder>::default(), &[body.as_bytes()])
    }

    #[test]
    fn content_before_message_start_is_malformed() {
        let result = decode(concat!(
            "event: content-delta\n",
            "data: {\"type\":\"content-delta\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"text\":\"x\"}}}}\n\n",
        ));
        assert!(matches!(
            result,
            Err(AdapterError {
                kind: ErrorKind::MalformedReply,
                ..
            })
        ));
    }

    #[test]
    fn message_end_error_without_reason_finishes_with_error() -> Result<(), AdapterError> {
        let events = decode(concat!(
            "data: {\"id\":\"m\",\"type\":\"message-start\",\"delta\":{\"message\":{\"role\":\"assistant\"}}}\n\n",
            "data: {\"type\":\"citation-start\",\"index\":0,\"delta\":{\"message\":{\"citations\":{}}}}\n\n",
            "data: {\"type\":\"some-future-event\"}\n\n",
            "data: {\"type\":\"message-end\",\"delta\":{\"error\":\"internal\"}}\n\n",
            "data: [DONE]\n\n",
        ))?;
        assert_eq!(
            events,
            [
                StreamEvent::Start(StreamStart {
                    id: "m".into(),
                    model: String::new()
                }),
                StreamEvent::Finish(FinishReason::Error),
            ]
        );
        Ok(())
    }

    #[test]
    fn tool_deltas_for_unknown_calls_are_malformed() {
        let result = decode(concat!(
            "data: {\"id\":\"m\",\"type\":\"message-start\"}\n\n",
            "data: {\"type\":\"tool-call-delta\",\"index\":3,\"delta\":{\"message\":{\"tool_calls\":{\"function\":{\"arguments\":\"{\"}}}}}\n\n",
        ));
        assert!(matches!(
            result,
            Err(AdapterError {
                kind: ErrorKind::MalformedReply,
                ..
            })
        ));
    }
}
