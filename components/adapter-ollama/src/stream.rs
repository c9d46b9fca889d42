//! Ollama's streamed `/api/chat` reply (NDJSON: one [`Reply`] object per line) → neutral stream
//! events.
//!
//! The first line starts the stream; `message.thinking` and `message.content` pieces become
//! deltas; tool calls arrive whole, each becoming a start and one delta with all its arguments;
//! the `done: true` line carries the counts and the reason. A line `{"error": "..."}` fails the
//! stream, and so does a body that ends before the `done: true` line.

use apex_adapter_kit::StreamDecode;
use apex_adapter_kit::http::malformed;
use apex_adapter_kit::types::{
    AdapterError, ErrorKind, StreamEvent, StreamStart, ToolCallDelta, ToolCallStart,
};

use crate::ndjson::LineSplitter;
use crate::response::{Ids, Reply, finish_reason, kind_for_message};

/// Decoder for one stream. When a fed chunk holds good lines and then a bad one, the good lines'
/// events are returned first and the error on the next call, so nothing Ollama already said is
/// lost.
#[derive(Default)]
pub struct Decoder {
    lines: LineSplitter,
    state: State,
    failed: Option<AdapterError>,
}

/// What the lines so far said.
#[derive(Default)]
struct State {
    /// Set by the first line, which starts the stream.
    ids: Option<Ids>,
    /// Tool calls seen so far.
    calls: u32,
    /// Whether the `done: true` line came.
    done: bool,
}

impl State {
    fn line(&mut self, line: &[u8], out: &mut Vec<StreamEvent>) -> Result<(), AdapterError> {
        if self.done {
            return Ok(());
        }
        let mut reply: Reply =
            serde_json::from_slice(line).map_err(|e| malformed(format!("stream line: {e}")))?;
        if let Some(message) = reply.error.take().filter(|m| !m.is_empty()) {
            let kind = kind_for_message(&message).unwrap_or(ErrorKind::Server);
            return Err(apex_adapter_kit::error(kind, message));
        }
        let ids: &Ids = match &self.ids {
            Some(ids) => ids,
            None => {
                let ids = Ids::new(&reply.created_at);
                out.push(StreamEvent::Start(StreamStart {
                    id: ids.response(),
                    model: reply.model.clone(),
                }));
                self.ids.insert(ids)
            }
        };
        if let Some(message) = reply.message.as_ref() {
            if let Some(thinking) = message.thinking.as_ref().filter(|t| !t.is_empty()) {
                out.push(StreamEvent::ThinkingDelta(thinking.clone()));
            }
            if let Some(text) = message.content.as_ref().filter(|t| !t.is_empty()) {
                out.push(StreamEvent::TextDelta(text.clone()));
            }
        }
        let usage = reply.usage();
        let calls = reply.message.map(|m| m.tool_calls).unwrap_or_default();
        for call in calls {
            let index = self.calls;
            self.calls += 1;
            let call = call.into_neutral(ids, index);
            out.push(StreamEvent::ToolCallStart(ToolCallStart {
                index,
                id: call.id,
                name: call.name,
            }));
            out.push(StreamEvent::ToolCallDelta(ToolCallDelta {
                index,
                arguments: call.arguments,
            }));
        }
        if reply.done {
            self.done = true;
            if let Some(usage) = usage {
                out.push(StreamEvent::Usage(usage));
            }
            out.push(StreamEvent::Finish(finish_reason(
                reply.done_reason.as_deref(),
                self.calls > 0,
            )));
        }
        Ok(())
    }

    fn end(&self) -> Result<(), AdapterError> {
        if self.done {
            Ok(())
        } else {
            Err(malformed("stream ended before the final `done: true` line"))
        }
    }
}

impl StreamDecode for Decoder {
    fn feed(&mut self, chunk: &[u8]) -> Result<Vec<StreamEvent>, AdapterError> {
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        let mut lines = Vec::new();
        let framed = self.lines.feed(chunk, &mut lines);
        let mut out = Vec::new();
        let mut result = Ok(());
        for line in lines {
            result = self.state.line(&line, &mut out);
            if result.is_err() {
                break;
            }
        }
        // A framing failure comes after the lines completed before it.
        match result.and(framed) {
            Ok(()) => Ok(out),
            Err(error) if out.is_empty() => Err(error),
            Err(error) => {
                self.failed = Some(error);
                Ok(out)
            }
        }
    }

    fn finish(&mut self) -> Result<Vec<StreamEvent>, AdapterError> {
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        let mut out = Vec::new();
        if let Some(line) = self.lines.finish()? {
            self.state.line(&line, &mut out)?;
        }
        // The last call: a failure here wins over the events before it.
        self.state.end()?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apex_adapter_kit::types::FinishReason;

    #[test]
    fn events_before_a_bad_line_in_the_same_chunk_are_kept() {
        let mut decoder = Decoder::default();
        let first = decoder
            .feed(b"{\"model\":\"m\",\"message\":{\"content\":\"a\"},\"done\":false}\n{\"error\":\"boom\"}\n")
            .unwrap();
        assert_eq!(first.len(), 2, "{first:?}");
        let error = decoder.feed(b"").unwrap_err();
        assert_eq!(error.kind, ErrorKind::Server);
        assert_eq!(error.message, "boom");
    }

    #[test]
    fn a_final_line_without_newline_finishes() {
        let mut decoder = Decoder::default();
        assert!(
            decoder
                .feed(b"{\"model\":\"m\",\"done\":true,\"done_reason\":\"length\"}")
                .unwrap()
                .is_empty()
        );
        let events = decoder.finish().unwrap();
        assert_eq!(
            events,
            vec![
                StreamEvent::Start(StreamStart {
                    id: "ollama".into(),
                    model: "m".into()
                }),
                StreamEvent::Finish(FinishReason::Length),
            ]
        );
    }

    #[test]
    fn a_line_longer_than_the_cap_is_malformed() {
        let mut body = b"{\"model\":\"m\",\"message\":{\"content\":\"".to_vec();
        body.resize(apex_adapter_kit::MAX_STREAM_EVENT_BYTES + 64 * 1024, b'a');
        let mut decoder = Decoder::default();
        let error = body
            .chunks(64 * 1024)
            .try_for_each(|chunk| decoder.feed(chunk).map(drop))
            .unwrap_err();
        assert_eq!(error.kind, ErrorKind::MalformedReply);
        assert_eq!(
            error.message,
            "malformed upstream reply: a streamed event is longer than 8 MiB"
        );
        // It stops there: nothing more is taken.
        assert_eq!(
            decoder.feed(b"\"}}\n").unwrap_err().kind,
            ErrorKind::MalformedReply
        );
        assert_eq!(
            decoder.finish().unwrap_err().kind,
            ErrorKind::MalformedReply
        );
    }

    #[test]
    fn an_empty_body_is_malformed() {
        let mut decoder = Decoder::default();
        assert_eq!(
            decoder.finish().unwrap_err().kind,
            ErrorKind::MalformedReply
        );
    }

    #[test]
    fn lines_after_done_are_ignored() {
        let mut decoder = Decoder::default();
        let events = decoder
            .feed(b"{\"model\":\"m\",\"done\":true}\n{\"message\":{\"content\":\"late\"}}\n")
            .unwrap();
        assert_eq!(events.len(), 2);
        assert!(decoder.finish().unwrap().is_empty());
    }
}
