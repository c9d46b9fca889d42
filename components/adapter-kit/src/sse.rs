//! Server-sent-events framing: bytes in, complete events out. Handles events split across chunks,
//! `\n`, `\r\n` and `\r` line ends, multi-line `data`, comments.

use crate::types::{AdapterError, StreamEvent};

/// One complete server-sent event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field, empty when absent.
    pub event: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// Incremental SSE parser.
#[derive(Debug, Default)]
pub struct SseParser {
    buffer: Vec<u8>,
    event: String,
    data: String,
    has_data: bool,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed bytes; returns the events they complete.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.buffer.extend_from_slice(chunk);
        let mut events = Vec::new();
        let mut start = 0;
        let mut i = 0;
        while i < self.buffer.len() {
            let byte = self.buffer[i];
            if byte == b'\n' || byte == b'\r' {
                // A lone `\r` at the end of the buffer may be the first half of `\r\n`: wait.
                if byte == b'\r' && i + 1 == self.buffer.len() {
                    break;
                }
                let line = String::from_utf8_lossy(&self.buffer[start..i]).into_owned();
                if byte == b'\r' && self.buffer.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
                if let Some(event) = self.line(&line) {
                    events.push(event);
                }
            }
            i += 1;
        }
        self.buffer.drain(..start);
        events
    }

    /// The body ended: a last event not followed by a blank line still counts.
    pub fn finish(&mut self) -> Option<SseEvent> {
        if !self.buffer.is_empty() {
            let line = String::from_utf8_lossy(&self.buffer).into_owned();
            self.buffer.clear();
            if let Some(event) = self.line(&line) {
                return Some(event);
            }
        }
        self.dispatch()
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.find(':') {
            Some(at) => {
                let value = &line[at + 1..];
                (&line[..at], value.strip_prefix(' ').unwrap_or(value))
            }
            None => (line, ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        if !self.has_data {
            self.event.clear();
            return None;
        }
        self.has_data = false;
        Some(SseEvent {
            event: std::mem::take(&mut self.event),
            data: std::mem::take(&mut self.data),
        })
    }
}

/// A stream decoder for a provider that frames its stream as server-sent events: it handles one
/// event's `data` at a time and says what the end of the body means. [`SseStream`] turns it into a
/// [`crate::StreamDecode`].
pub trait SseDecode {
    /// Handle the `data` of one event, appending the neutral events it completes.
    fn data(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), AdapterError>;
    /// The body ended after every event was handled: append the last events, or fail if the stream
    /// was cut short.
    fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), AdapterError>;
}

/// An [`SseDecode`] fed through an [`SseParser`]. When a fed chunk holds good events and then a
/// bad one, the good events are returned first and the error on the next call, so nothing the
/// provider already said is lost.
#[derive(Default)]
pub struct SseStream<D> {
    parser: SseParser,
    pub decoder: D,
    failed: Option<AdapterError>,
}

impl<D: SseDecode> SseStream<D> {
    fn settle(
        &mut self,
        out: Vec<StreamEvent>,
        result: Result<(), AdapterError>,
    ) -> Result<Vec<StreamEvent>, AdapterError> {
        match result {
            Ok(()) => Ok(out),
            Err(error) if out.is_empty() => Err(error),
            Err(error) => {
                self.failed = Some(error);
                Ok(out)
            }
        }
    }
}

impl<D: SseDecode> crate::StreamDecode for SseStream<D> {
    fn feed(&mut self, chunk: &[u8]) -> Result<Vec<StreamEvent>, AdapterError> {
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        let mut out = Vec::new();
        let mut result = Ok(());
        for event in self.parser.feed(chunk) {
            result = self.decoder.data(&event.data, &mut out);
            if result.is_err() {
                break;
            }
        }
        self.settle(out, result)
    }

    fn finish(&mut self) -> Result<Vec<StreamEvent>, AdapterError> {
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        let mut out = Vec::new();
        let mut result = Ok(());
        if let Some(event) = self.parser.finish() {
            result = self.decoder.data(&event.data, &mut out);
        }
        if result.is_ok() {
            result = self.decoder.end(&mut out);
        }
        // The last call: a failure here wins over the events before it.
        result.map(|()| out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StreamDecode;

    /// Events are `data` texts; `bad` fails; the end needs a `done`.
    #[derive(Default)]
    struct Echo {
        done: bool,
    }

    impl SseDecode for Echo {
        fn data(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), AdapterError> {
            match data {
                "bad" => Err(crate::error(crate::types::ErrorKind::Server, "bad event")),
                "done" => {
                    self.done = true;
                    Ok(())
                }
                text => {
                    out.push(StreamEvent::TextDelta(text.to_string()));
                    Ok(())
                }
            }
        }

        fn end(&mut self, _out: &mut Vec<StreamEvent>) -> Result<(), AdapterError> {
            if self.done {
                Ok(())
            } else {
                Err(crate::error(crate::types::ErrorKind::MalformedReply, "cut"))
            }
        }
    }

    #[test]
    fn events_before_an_error_in_the_same_chunk_are_kept() {
        let mut stream = SseStream::<Echo>::default();
        let first = stream.feed(b"data: a\n\ndata: bad\n\n").unwrap();
        assert_eq!(first, vec![StreamEvent::TextDelta("a".into())]);
        assert_eq!(
            stream.feed(b"data: b\n\n").unwrap_err().message,
            "bad event"
        );
        let mut cut = SseStream::<Echo>::default();
        assert_eq!(cut.feed(b"data: a\n\n").unwrap().len(), 1);
        assert_eq!(cut.finish().unwrap_err().message, "cut");
    }

    #[test]
    fn events_split_across_chunks_and_line_ends() {
        let mut parser = SseParser::new();
        let mut events = parser.feed(b"event: a\r");
        assert!(events.is_empty());
        events.extend(parser.feed(b"\ndata: {\"x\":\r\n\r\n: comment\n\ndata: one\ndata:two\n"));
        events.extend(parser.feed(b"\n"));
        assert_eq!(
            events,
            vec![
                SseEvent {
                    event: "a".into(),
                    data: "{\"x\":".into()
                },
                SseEvent {
                    event: String::new(),
                    data: "one\ntwo".into()
                },
            ]
        );
        assert_eq!(parser.finish(), None);
    }

    #[test]
    fn unterminated_last_event_is_delivered_on_finish() {
        let mut parser = SseParser::new();
        assert!(parser.feed(b"data: [DONE]").is_empty());
        assert_eq!(parser.finish().map(|e| e.data), Some("[DONE]".to_string()));
    }
}
