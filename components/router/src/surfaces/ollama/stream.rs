//! Ollama streams: NDJSON, one reply object per line.

use std::marker::PhantomData;

use apex_adapter_kit::types::{FinishReason, StreamEvent, Usage};

use super::endpoint::Endpoint;
use super::render::{Line, Metrics, created_at, done_reason, out_call};
use crate::http::error::{ApiError, ErrorFormat};
use crate::surfaces::StreamWriter;

/// A tool call being streamed: Ollama sends each call whole, with object arguments.
struct PendingCall {
    index: u32,
    id: String,
    name: String,
    arguments: String,
}

/// Renders neutral stream events as Ollama's NDJSON for endpoint `E`: a `done: false` object per
/// text or thinking delta (`message` for chat, `response` for generate), one object per complete
/// tool call (chat), and a final `done: true` object with `done_reason` and the token counts.
/// Nothing is written for `start`, so an early failure can still fail over.
pub struct NdjsonWriter<E> {
    model: String,
    created_at: String,
    usage: Option<Usage>,
    /// Calls whose arguments are still arriving, in order.
    calls: Vec<PendingCall>,
    /// How many calls were sent (each call's `index`).
    sent_calls: u32,
    endpoint: PhantomData<E>,
}

impl<E: Endpoint> NdjsonWriter<E> {
    pub fn new(model: String, created: u64) -> Self {
        Self {
            model,
            created_at: created_at(created),
            usage: None,
            calls: Vec::new(),
            sent_calls: 0,
            endpoint: PhantomData,
        }
    }

    /// Append `line` and a newline.
    fn line(out: &mut Vec<u8>, line: Line) {
        E::write(line, out);
        out.push(b'\n');
    }

    fn delta(&self, out: &mut Vec<u8>, text: &str, thinking: &str) {
        let mut line = Line::part(&self.model, &self.created_at);
        line.text = text;
        line.thinking = thinking;
        Self::line(out, line);
    }

    /// Send the buffered tool calls, one object each (none for an endpoint without tools).
    fn flush_calls(&mut self, out: &mut Vec<u8>) {
        let calls = std::mem::take(&mut self.calls);
        if !E::TOOL_CALLS {
            return;
        }
        for call in calls {
            let index = self.sent_calls;
            self.sent_calls += 1;
            let mut line = Line::part(&self.model, &self.created_at);
            line.tool_calls = vec![out_call(index, &call.id, &call.name, &call.arguments)];
            Self::line(out, line);
        }
    }

    fn finish(&mut self, reason: FinishReason, out: &mut Vec<u8>) {
        self.flush_calls(out);
        let metrics = Some(Metrics::from_usage(self.usage.as_ref()));
        let line = Line::last(&self.model, &self.created_at, done_reason(reason), metrics);
        Self::line(out, line);
    }
}

impl<E: Endpoint> StreamWriter for NdjsonWriter<E> {
    fn event(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        match event {
            StreamEvent::Start(_) | StreamEvent::ThinkingSignature(_) => {}
            StreamEvent::TextDelta(text) => {
                if !text.is_empty() {
                    self.flush_calls(out);
                    self.delta(out, text, "");
                }
            }
            StreamEvent::ThinkingDelta(text) => {
                if !text.is_empty() {
                    self.flush_calls(out);
                    self.delta(out, "", text);
                }
            }
            StreamEvent::ToolCallStart(call) => self.calls.push(PendingCall {
                index: call.index,
                id: call.id.clone(),
                name: call.name.clone(),
                arguments: String::new(),
            }),
            StreamEvent::ToolCallDelta(delta) => {
                if let Some(call) = self.calls.iter_mut().find(|c| c.index == delta.index) {
                    call.arguments.push_str(&delta.arguments);
                }
            }
            StreamEvent::Usage(usage) => self.usage = Some(*usage),
            StreamEvent::Finish(reason) => self.finish(*reason, out),
        }
    }

    fn done(&mut self, _out: &mut Vec<u8>) {}

    /// A failure after the stream began: an `{"error": "..."}` line, as Ollama sends.
    fn error(&mut self, error: &ApiError, out: &mut Vec<u8>) {
        out.extend_from_slice(&error.body(ErrorFormat::Ollama));
        out.push(b'\n');
    }
}
