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

/// An [`SseDecode`] fed through an [`SseParser`].
#[derive(Default)]
pub struct SseStream<D> {
    parser: SseParser,
    pub decoder: D,
}

impl<D: SseDecode> crate::StreamDecode for SseStream<D> {
    fn feed(&mut self, chunk: &[u8]) -> Result<Vec<StreamEvent>, AdapterError> {
        let mut out = Vec::new();
        for event in self.parser.feed(chunk) {
            self.decoder.data(&event.data, &mut out)?;
        }
        Ok(out)
    }

    fn finish(&mut self) -> Result<Vec<StreamEvent>, AdapterError> {
        let mut out = Vec::new();
        if let Some(event) = self.parser.finish() {
            self.decoder.data(&event.data, &mut out)?;
        }
        self.decoder.end(&mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
