//! `chat.completion.chunk` server-sent events → neutral stream events.

use apex_adapter_kit::http::malformed;
use apex_adapter_kit::sse::SseDecode;
use apex_adapter_kit::types::{
    AdapterError, FinishReason, StreamEvent, StreamStart, ToolCallDelta, ToolCallStart, Usage,
};
use serde::Deserialize;

use crate::response::{WireUsage, finish_reason, null_as_empty};

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    id: String,
    #[serde(default)]
    model: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    choices: Vec<ChunkChoice>,
    usage: Option<WireUsage>,
    error: Option<ChunkError>,
}

#[derive(Deserialize)]
struct ChunkError {
    message: Option<String>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Delta,
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct Delta {
    content: Option<String>,
    reasoning_content: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    tool_calls: Vec<DeltaToolCall>,
}

#[derive(Deserialize)]
struct DeltaToolCall {
    #[serde(default)]
    index: u32,
    id: Option<String>,
    function: Option<DeltaFunction>,
}

#[derive(Deserialize)]
struct DeltaFunction {
    name: Option<String>,
    arguments: Option<String>,
}

/// Decoder state for one stream.
#[derive(Default)]
pub struct Decoder {
    started: bool,
    finish: Option<FinishReason>,
    /// Indexes of the tool calls already started (some servers repeat `id` and `name` on every
    /// delta of a call).
    started_calls: Vec<u32>,
    done: bool,
}

impl Decoder {
    fn event(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), AdapterError> {
        let data = data.trim();
        if data == "[DONE]" {
            self.close(out);
            return Ok(());
        }
        if data.is_empty() || self.done {
            return Ok(());
        }
        let chunk: Chunk = serde_json::from_str(data).map_err(malformed)?;
        if let Some(error) = chunk.error {
            return Err(apex_adapter_kit::error(
                apex_adapter_kit::types::ErrorKind::Server,
                error
                    .message
                    .unwrap_or_else(|| "upstream stream failed".to_string()),
            ));
        }
        if !self.started {
            // Azure opens with an annotation-only chunk (`prompt_filter_results`, empty `id` and
            // `model`, no choices): the stream starts with the first chunk that is the answer's.
            if chunk.id.is_empty() && chunk.choices.is_empty() && chunk.usage.is_none() {
                return Ok(());
            }
            self.started = true;
            out.push(StreamEvent::Start(StreamStart {
                id: chunk.id,
                model: chunk.model,
            }));
        }
        for choice in chunk.choices {
            let delta = choice.delta;
            if let Some(reasoning) = delta.reasoning_content.filter(|r| !r.is_empty()) {
                out.push(StreamEvent::ThinkingDelta(reasoning));
            }
            if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                out.push(StreamEvent::TextDelta(text));
            }
            for call in delta.tool_calls {
                let function = call.function;
                let (name, arguments) = match function {
                    Some(f) => (f.name, f.arguments),
                    None => (None, None),
                };
                if (call.id.is_some() || name.is_some())
                    && !self.started_calls.contains(&call.index)
                {
                    self.started_calls.push(call.index);
                    out.push(StreamEvent::ToolCallStart(ToolCallStart {
                        index: call.index,
                        id: call.id.unwrap_or_default(),
                        name: name.unwrap_or_default(),
                    }));
                }
                if let Some(arguments) = arguments.filter(|a| !a.is_empty()) {
                    out.push(StreamEvent::ToolCallDelta(ToolCallDelta {
                        index: call.index,
                        arguments,
                    }));
                }
            }
            if let Some(reason) = choice.finish_reason {
                self.finish = Some(finish_reason(&reason));
            }
        }
        if let Some(usage) = chunk.usage {
            out.push(StreamEvent::Usage(Usage::from(usage)));
        }
        Ok(())
    }

    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        if self.done {
            return;
        }
        self.done = true;
        let mut finish = self.finish.unwrap_or(FinishReason::Stop);
        if !self.started_calls.is_empty() && finish == FinishReason::Stop {
            finish = FinishReason::ToolCalls;
        }
        out.push(StreamEvent::Finish(finish));
    }
}

impl SseDecode for Decoder {
    fn data(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), AdapterError> {
        self.event(data, out)
    }

    fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), AdapterError> {
        if !self.done {
            if self.finish.is_none() {
                return Err(malformed("stream ended before a finish_reason or [DONE]"));
            }
            self.close(out);
        }
        Ok(())
    }
}
