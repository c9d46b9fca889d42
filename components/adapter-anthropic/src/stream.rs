//! Anthropic Messages server-sent events → neutral stream events.
//!
//! The event's JSON `type` drives decoding (it always equals the SSE `event:` name). Unknown event
//! and delta types are ignored, as Anthropic asks clients to do.

use apex_adapter_kit::http::malformed;
use apex_adapter_kit::sse::SseDecode;
use apex_adapter_kit::types::{
    AdapterError, ErrorKind, StreamEvent, StreamStart, ToolCallDelta, ToolCallStart, Usage,
};
use serde::Deserialize;

use crate::response::{
    ErrorDetail, WireUsage, finish_reason, kind_for_error, kind_for_google_status,
};

#[derive(Deserialize)]
struct EventType {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct MessageStart {
    message: StartMessage,
}

#[derive(Deserialize)]
struct StartMessage {
    #[serde(default)]
    id: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    usage: WireUsage,
}

#[derive(Deserialize)]
struct BlockStart {
    index: u32,
    content_block: StartBlock,
}

#[derive(Deserialize)]
struct StartBlock {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct BlockDelta {
    index: u32,
    delta: Delta,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
    partial_json: Option<String>,
    thinking: Option<String>,
    signature: Option<String>,
}

#[derive(Deserialize)]
struct BlockStop {
    index: u32,
}

#[derive(Deserialize)]
struct MessageDelta {
    delta: MessageDeltaBody,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct MessageDeltaBody {
    stop_reason: Option<String>,
}

#[derive(Deserialize)]
struct ErrorEvent {
    error: ErrorDetail,
}

/// A `tool_use` block of the message being streamed.
struct ToolBlock {
    /// The block's `index` in the message.
    block: u32,
    /// Its position among the message's tool calls.
    call: u32,
    /// Whether some non-empty `partial_json` was seen.
    has_arguments: bool,
}

/// Decoder state for one stream.
#[derive(Default)]
pub struct Decoder {
    started: bool,
    /// Usage announced by `message_start` (input and cache counts).
    start_usage: WireUsage,
    stop_reason: Option<String>,
    tools: Vec<ToolBlock>,
    done: bool,
}

fn parse<'a, T: Deserialize<'a>>(data: &'a str, kind: &str) -> Result<T, AdapterError> {
    serde_json::from_str(data).map_err(|e| malformed(format!("`{kind}` event: {e}")))
}

impl Decoder {
    fn event(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), AdapterError> {
        if self.done || data.trim().is_empty() {
            return Ok(());
        }
        let kind = parse::<EventType>(data, "stream")?.kind;
        if !self.started && kind != "message_start" && kind != "error" && kind != "ping" {
            return Err(malformed(format!("`{kind}` event before message_start")));
        }
        match kind.as_str() {
            "message_start" => {
                let start: MessageStart = parse(data, &kind)?;
                if !self.started {
                    self.started = true;
                    self.start_usage = start.message.usage;
                    out.push(StreamEvent::Start(StreamStart {
                        id: start.message.id,
                        model: start.message.model,
                    }));
                }
            }
            "content_block_start" => {
                let start: BlockStart = parse(data, &kind)?;
                if start.content_block.kind == "tool_use" {
                    let call = self.tools.len() as u32;
                    self.tools.push(ToolBlock {
                        block: start.index,
                        call,
                        has_arguments: false,
                    });
                    out.push(StreamEvent::ToolCallStart(ToolCallStart {
                        index: call,
                        id: start.content_block.id,
                        name: start.content_block.name,
                    }));
                }
            }
            "content_block_delta" => {
                let delta: BlockDelta = parse(data, &kind)?;
                self.delta(delta, out);
            }
            "content_block_stop" => {
                let stop: BlockStop = parse(data, &kind)?;
                // A call without arguments streams none (or only ""): its arguments are `{}`.
                if let Some(tool) = self.tools.iter_mut().find(|t| t.block == stop.index)
                    && !tool.has_arguments
                {
                    tool.has_arguments = true;
                    out.push(StreamEvent::ToolCallDelta(ToolCallDelta {
                        index: tool.call,
                        arguments: "{}".to_string(),
                    }));
                }
            }
            "message_delta" => {
                let delta: MessageDelta = parse(data, &kind)?;
                if delta.delta.stop_reason.is_some() {
                    self.stop_reason = delta.delta.stop_reason;
                }
                // message_delta counts are cumulative; input and cache counts, when it repeats
                // them, are the final ones.
                let late = delta.usage.unwrap_or_default();
                let start = self.start_usage;
                out.push(StreamEvent::Usage(Usage::from(WireUsage {
                    input_tokens: late.input_tokens.or(start.input_tokens),
                    output_tokens: late.output_tokens.or(start.output_tokens),
                    cache_read_input_tokens: late
                        .cache_read_input_tokens
                        .or(start.cache_read_input_tokens),
                    cache_creation_input_tokens: late
                        .cache_creation_input_tokens
                        .or(start.cache_creation_input_tokens),
                })));
            }
            "message_stop" => {
                self.done = true;
                let reason = self.stop_reason.as_deref().unwrap_or("end_turn");
                out.push(StreamEvent::Finish(finish_reason(reason)));
            }
            "error" => {
                let event: ErrorEvent = parse(data, &kind)?;
                let message = event
                    .error
                    .message
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| "upstream stream failed".to_string());
                let kind = event
                    .error
                    .kind
                    .as_deref()
                    .and_then(|t| kind_for_error(t, &message))
                    .or_else(|| {
                        event
                            .error
                            .status
                            .as_deref()
                            .and_then(|s| kind_for_google_status(s, &message))
                    })
                    .unwrap_or(ErrorKind::Server);
                return Err(apex_adapter_kit::error(kind, message));
            }
            // ping, and event types added later.
            _ => {}
        }
        Ok(())
    }

    fn delta(&mut self, delta: BlockDelta, out: &mut Vec<StreamEvent>) {
        let d = delta.delta;
        match d.kind.as_str() {
            "text_delta" => {
                if let Some(text) = d.text.filter(|t| !t.is_empty()) {
                    out.push(StreamEvent::TextDelta(text));
                }
            }
            "input_json_delta" => {
                // Deltas of blocks that are not client tool calls (server tools) are dropped.
                if let Some(arguments) = d.partial_json.filter(|a| !a.is_empty())
                    && let Some(tool) = self.tools.iter_mut().find(|t| t.block == delta.index)
                {
                    tool.has_arguments = true;
                    out.push(StreamEvent::ToolCallDelta(ToolCallDelta {
                        index: tool.call,
                        arguments,
                    }));
                }
            }
            "thinking_delta" => {
                if let Some(thinking) = d.thinking.filter(|t| !t.is_empty()) {
                    out.push(StreamEvent::ThinkingDelta(thinking));
                }
            }
            "signature_delta" => {
                if let Some(signature) = d.signature.filter(|s| !s.is_empty()) {
                    out.push(StreamEvent::ThinkingSignature(signature));
                }
            }
            _ => {}
        }
    }
}

impl SseDecode for Decoder {
    fn data(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), AdapterError> {
        self.event(data, out)
    }

    fn end(&mut self, _out: &mut Vec<StreamEvent>) -> Result<(), AdapterError> {
        if !self.done {
            return Err(malformed("stream ended before message_stop"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apex_adapter_kit::sse::SseStream;

    fn decode(body: &str) -> Result<Vec<StreamEvent>, AdapterError> {
        apex_adapter_kit::decode_stream(SseStream::<Decoder>::default(), &[body.as_bytes()])
    }

    #[test]
    fn message_delta_usage_repeating_input_counts_wins() -> Result<(), AdapterError> {
        let events = decode(concat!(
            "event: message_start\n",
            "data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":",
            "{\"input_tokens\":10,\"cache_read_input_tokens\":3,\"output_tokens\":1}}}\n\n",
            "event: message_delta\n",
            "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\"},",
            "\"usage\":{\"input_tokens\":12,\"output_tokens\":7}}\n\n",
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        ))?;
        assert_eq!(
            events[1..],
            [
                StreamEvent::Usage(Usage {
                    input_tokens: 15,
                    output_tokens: 7,
                    cache_read_tokens: Some(3),
                    cache_write_tokens: None,
                    reasoning_tokens: None,
                }),
                StreamEvent::Finish(apex_adapter_kit::types::FinishReason::Length),
            ]
        );
        Ok(())
    }

    #[test]
    fn content_before_message_start_is_malformed() {
        let result = decode(concat!(
            "event: content_block_delta\n",
            "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n",
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
    fn a_stream_without_message_start_or_message_stop_is_malformed() {
        for body in [
            "",
            "event: ping\ndata: {\"type\":\"ping\"}\n\n",
            "data: {\"type\":\"message_stop\"}\n\n",
            "data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\"}}\n\n",
        ] {
            assert_eq!(
                decode(body).map_err(|e| e.kind).err(),
                Some(ErrorKind::MalformedReply),
                "{body}"
            );
        }
    }

    #[test]
    fn server_tool_blocks_and_unknown_events_are_ignored() -> Result<(), AdapterError> {
        let events = decode(concat!(
            "data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":{}}}\n\n",
            "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":",
            "{\"type\":\"server_tool_use\",\"id\":\"srvtoolu_1\",\"name\":\"web_search\",\"input\":{}}}\n\n",
            "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":",
            "{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"query\\\":\\\"x\\\"}\"}}\n\n",
            "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
            "data: {\"type\":\"some_future_event\",\"payload\":[1]}\n\n",
            "data: {\"type\":\"message_stop\"}\n\n",
        ))?;
        assert_eq!(events.len(), 2, "{events:?}");
        Ok(())
    }
}
