//! Server-sent-events framing: bytes in, complete events out. Handles events split across chunks,
//! `\n`, `\r\n` and `\r` line ends, multi-line `data`, comments.
//!
//! Each fed byte is examined once, however the body is cut into chunks, and what is held for the
//! event being read (its fields so far and its unfinished line) is capped at
//! [`MAX_STREAM_EVENT_BYTES`]: past it the parser fails with a malformed-reply error and takes
//! nothing more.

use crate::MAX_STREAM_EVENT_BYTES;
use crate::http::event_too_long;
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
    /// The start of a line whose end has not arrived yet. Never holds a line end, so only new
    /// bytes are ever searched.
    partial: Vec<u8>,
    /// The last chunk ended with a `\r` line end: a `\n` first in the next chunk belongs to it.
    after_cr: bool,
    event: String,
    data: String,
    has_data: bool,
    /// Bytes examined for line ends so far: each fed byte once.
    scanned: u64,
    /// The event being read outgrew the cap: the parser fails from then on.
    overflowed: bool,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed bytes, appending the events they complete to `out`. Fails, and keeps failing, once
    /// the event being read holds more than [`MAX_STREAM_EVENT_BYTES`]; the events completed
    /// before that point are in `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), AdapterError> {
        if self.overflowed {
            return Err(event_too_long());
        }
        let mut rest = chunk;
        if self.after_cr && !rest.is_empty() {
            self.after_cr = false;
            if let Some(tail) = rest.strip_prefix(b"\n") {
                self.scanned += 1;
                rest = tail;
            }
        }
        while let Some(at) = rest.iter().position(|b| matches!(b, b'\n' | b'\r')) {
            self.scanned += at as u64 + 1;
            let (line, end) = rest.split_at(at);
            rest = &end[1..];
            if end.first() == Some(&b'\r') {
                match rest.strip_prefix(b"\n") {
                    Some(tail) => {
                        self.scanned += 1;
                        rest = tail;
                    }
                    None => self.after_cr = rest.is_empty(),
                }
            }
            self.check(self.partial.len() + line.len())?;
            let event = if self.partial.is_empty() {
                self.line(line)
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(line);
                self.line(&whole)
            };
            out.extend(event);
        }
        self.scanned += rest.len() as u64;
        self.check(self.partial.len() + rest.len())?;
        self.partial.extend_from_slice(rest);
        Ok(())
    }

    /// The body ended: a last event not followed by a blank line still counts.
    pub fn finish(&mut self) -> Result<Option<SseEvent>, AdapterError> {
        if self.overflowed {
            return Err(event_too_long());
        }
        self.after_cr = false;
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            if let Some(event) = self.line(&line) {
                return Ok(Some(event));
            }
        }
        Ok(self.dispatch())
    }

    /// Fail if the event being read, with a line of `line` bytes, would hold more than the cap;
    /// a failed parser lets go of what it held.
    fn check(&mut self, line: usize) -> Result<(), AdapterError> {
        if line + self.data.len() + self.event.len() <= MAX_STREAM_EVENT_BYTES {
            return Ok(());
        }
        self.overflowed = true;
        self.partial = Vec::new();
        self.event = String::new();
        self.data = String::new();
        self.has_data = false;
        Err(event_too_long())
    }

    fn line(&mut self, line: &[u8]) -> Option<SseEvent> {
        let line = String::from_utf8_lossy(line);
        let line = line.as_ref();
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
        let mut events = Vec::new();
        let framed = self.parser.feed(chunk, &mut events);
        let mut out = Vec::new();
        let mut result = Ok(());
        for event in events {
            result = self.decoder.data(&event.data, &mut out);
            if result.is_err() {
                break;
            }
        }
        // A framing failure comes after the events completed before it.
        self.settle(out, result.and(framed))
    }

    fn finish(&mut self) -> Result<Vec<StreamEvent>, AdapterError> {
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        let mut out = Vec::new();
        let mut result = match self.parser.finish() {
            Ok(Some(event)) => self.decoder.data(&event.data, &mut out),
            Ok(None) => Ok(()),
            Err(error) => Err(error),
        };
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
    use crate::types::ErrorKind;

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

    /// Everything `body` parses to, fed in `size`-byte chunks.
    fn parse_in_chunks(body: &[u8], size: usize) -> Vec<SseEvent> {
        let mut parser = SseParser::new();
        let mut events = Vec::new();
        for chunk in body.chunks(size) {
            parser.feed(chunk, &mut events).unwrap();
        }
        events.extend(parser.finish().unwrap());
        events
    }

    #[test]
    fn events_split_across_chunks_and_line_ends() {
        let mut parser = SseParser::new();
        let mut events = Vec::new();
        parser.feed(b"event: a\r", &mut events).unwrap();
        assert!(events.is_empty());
        parser
            .feed(
                b"\ndata: {\"x\":\r\n\r\n: comment\n\ndata: one\ndata:two\n",
                &mut events,
            )
            .unwrap();
        parser.feed(b"\n", &mut events).unwrap();
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
        assert_eq!(parser.finish().unwrap(), None);
    }

    #[test]
    fn every_cut_of_the_body_gives_the_same_events() {
        let body = "event: é\r\ndata: caf\u{e9} \u{20ac}\r\ndata: \u{1F600}\r\n\r\n\
                    : keep-alive \u{e9}\n\ndata: a\rdata: b\r\rdata:\n\n\
                    id: 7\r\nevent: last\ndata: {\"t\":\"\u{4e2d}\"}"
            .as_bytes();
        let whole = parse_in_chunks(body, body.len());
        assert_eq!(
            whole,
            vec![
                SseEvent {
                    event: "é".into(),
                    data: "café €\n😀".into()
                },
                SseEvent {
                    event: String::new(),
                    data: "a\nb".into()
                },
                SseEvent {
                    event: String::new(),
                    data: String::new()
                },
                SseEvent {
                    event: "last".into(),
                    data: "{\"t\":\"中\"}".into()
                },
            ]
        );
        // Chunks of every size, and every cut in two: inside a line, inside a UTF-8 character,
        // between the `\r` and the `\n` of a line end.
        for size in 1..body.len() {
            assert_eq!(parse_in_chunks(body, size), whole, "chunks of {size}");
        }
        for cut in 1..body.len() {
            let mut parser = SseParser::new();
            let mut events = Vec::new();
            parser.feed(&body[..cut], &mut events).unwrap();
            parser.feed(&[], &mut events).unwrap();
            parser.feed(&body[cut..], &mut events).unwrap();
            events.extend(parser.finish().unwrap());
            assert_eq!(events, whole, "cut at {cut}");
        }
    }

    /// Feeds `body` in `size`-byte chunks; the events, or the first error.
    fn feed_in_chunks(
        stream: &mut SseStream<Echo>,
        body: &[u8],
        size: usize,
    ) -> Result<Vec<StreamEvent>, AdapterError> {
        let mut events = Vec::new();
        for chunk in body.chunks(size) {
            events.extend(stream.feed(chunk)?);
        }
        Ok(events)
    }

    #[test]
    fn a_long_line_is_scanned_once_whatever_the_chunks() {
        let mut body = b"data: ".to_vec();
        body.resize(4 * 1024 * 1024, b'a');
        for size in [1, 64] {
            let mut stream = SseStream::<Echo>::default();
            assert!(feed_in_chunks(&mut stream, &body, size).unwrap().is_empty());
            assert_eq!(stream.parser.scanned, body.len() as u64, "chunks of {size}");
            let events = stream.feed(b"\n\n").unwrap();
            assert_eq!(stream.parser.scanned, body.len() as u64 + 2);
            assert!(
                matches!(&events[..], [StreamEvent::TextDelta(text)] if text.len() == body.len() - 6)
            );
        }
    }

    #[test]
    fn an_event_as_long_as_the_cap_passes() {
        let mut body = b"data: ".to_vec();
        body.resize(MAX_STREAM_EVENT_BYTES, b'a');
        body.extend_from_slice(b"\n\n");
        let mut stream = SseStream::<Echo>::default();
        let events = feed_in_chunks(&mut stream, &body, 64 * 1024).unwrap();
        assert_eq!(events.len(), 1);
    }

    #[test]
    fn a_line_longer_than_the_cap_is_malformed() {
        let mut body = b"data: ".to_vec();
        body.resize(MAX_STREAM_EVENT_BYTES + 64 * 1024, b'a');
        let mut stream = SseStream::<Echo>::default();
        let error = feed_in_chunks(&mut stream, &body, 64 * 1024).unwrap_err();
        assert_eq!(error.kind, ErrorKind::MalformedReply);
        assert_eq!(
            error.message,
            "malformed upstream reply: a streamed event is longer than 8 MiB"
        );
    }

    #[test]
    fn an_event_of_many_short_lines_past_the_cap_is_malformed() {
        let mut line = b"data: ".to_vec();
        line.resize(1024, b'x');
        line.push(b'\n');
        let body = line.repeat(MAX_STREAM_EVENT_BYTES / 1024 + 64);
        let mut stream = SseStream::<Echo>::default();
        let error = feed_in_chunks(&mut stream, &body, 64 * 1024).unwrap_err();
        assert_eq!(error.kind, ErrorKind::MalformedReply);
        // Comment lines and unknown fields are dropped as they come: they hold nothing.
        let body = b": keep-alive\nid: 1\n".repeat(MAX_STREAM_EVENT_BYTES / 16 + 1024);
        let mut stream = SseStream::<Echo>::default();
        assert!(
            feed_in_chunks(&mut stream, &body, 64 * 1024)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn past_the_cap_the_parser_lets_go_and_stops() {
        let mut chunk = b"data: a\n\ndata: ".to_vec();
        chunk.resize(MAX_STREAM_EVENT_BYTES + 16, b'x');
        let mut stream = SseStream::<Echo>::default();
        // The event completed before the overflow is delivered, the error follows.
        let events = stream.feed(&chunk).unwrap();
        assert_eq!(events, vec![StreamEvent::TextDelta("a".into())]);
        for _ in 0..2 {
            assert_eq!(
                stream.feed(b"\n\ndata: b\n\n").unwrap_err().kind,
                ErrorKind::MalformedReply
            );
        }
        assert_eq!(stream.parser.partial.capacity(), 0);
        assert!(stream.parser.data.is_empty());
        assert_eq!(stream.finish().unwrap_err().kind, ErrorKind::MalformedReply);
    }

    #[test]
    fn unterminated_last_event_is_delivered_on_finish() {
        let mut parser = SseParser::new();
        let mut events = Vec::new();
        parser.feed(b"data: [DONE]", &mut events).unwrap();
        assert!(events.is_empty());
        assert_eq!(
            parser.finish().unwrap().map(|e| e.data),
            Some("[DONE]".to_string())
        );
    }
}
