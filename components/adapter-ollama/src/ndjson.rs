//! Newline-delimited JSON framing: bytes in, complete lines out. Handles lines split across
//! chunks, `\n` and `\r\n` line ends, blank lines, and a last line without a line end.
//!
//! Each fed byte is examined once, however the body is cut into chunks, and a line may hold at
//! most [`MAX_STREAM_EVENT_BYTES`]: past it the splitter fails with a malformed-reply error and
//! takes nothing more.

use apex_adapter_kit::MAX_STREAM_EVENT_BYTES;
use apex_adapter_kit::http::event_too_long;
use apex_adapter_kit::types::AdapterError;

/// Incremental NDJSON line splitter.
#[derive(Debug, Default)]
pub struct LineSplitter {
    /// The start of a line whose end has not arrived yet. Never holds a `\n`, so only new bytes
    /// are ever searched.
    partial: Vec<u8>,
    /// Bytes examined for line ends so far: each fed byte once.
    scanned: u64,
    /// A line outgrew the cap: the splitter fails from then on.
    overflowed: bool,
}

impl LineSplitter {
    /// Feed bytes, appending the non-blank lines they complete (without their line ends) to
    /// `lines`. Fails, and keeps failing, once a line is longer than [`MAX_STREAM_EVENT_BYTES`];
    /// the lines completed before it are in `lines`.
    pub fn feed(&mut self, chunk: &[u8], lines: &mut Vec<Vec<u8>>) -> Result<(), AdapterError> {
        if self.overflowed {
            return Err(event_too_long());
        }
        let mut rest = chunk;
        while let Some(at) = rest.iter().position(|b| *b == b'\n') {
            self.scanned += at as u64 + 1;
            let line = &rest[..at];
            rest = &rest[at + 1..];
            self.check(self.partial.len() + line.len())?;
            if self.partial.is_empty() {
                push_line(lines, line);
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(line);
                push_line(lines, &whole);
            }
        }
        self.scanned += rest.len() as u64;
        self.check(self.partial.len() + rest.len())?;
        self.partial.extend_from_slice(rest);
        Ok(())
    }

    /// The body ended: a last line not followed by a line end still counts.
    pub fn finish(&mut self) -> Result<Option<Vec<u8>>, AdapterError> {
        if self.overflowed {
            return Err(event_too_long());
        }
        let rest = std::mem::take(&mut self.partial);
        let mut lines = Vec::new();
        push_line(&mut lines, &rest);
        Ok(lines.pop())
    }

    /// Fail if a line of `len` bytes is longer than the cap; a failed splitter lets go of its
    /// buffer.
    fn check(&mut self, len: usize) -> Result<(), AdapterError> {
        if len <= MAX_STREAM_EVENT_BYTES {
            return Ok(());
        }
        self.overflowed = true;
        self.partial = Vec::new();
        Err(event_too_long())
    }
}

/// Add `line` (minus a trailing `\r`) unless it is blank.
fn push_line(lines: &mut Vec<Vec<u8>>, line: &[u8]) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if !line.iter().all(u8::is_ascii_whitespace) {
        lines.push(line.to_vec());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apex_adapter_kit::types::ErrorKind;

    /// The lines of `body` fed in `size`-byte chunks, the last one included.
    fn split_in_chunks(body: &[u8], size: usize) -> Vec<Vec<u8>> {
        let mut splitter = LineSplitter::default();
        let mut lines = Vec::new();
        for chunk in body.chunks(size) {
            splitter.feed(chunk, &mut lines).unwrap();
        }
        lines.extend(splitter.finish().unwrap());
        lines
    }

    #[test]
    fn lines_split_anywhere_are_joined() {
        let mut splitter = LineSplitter::default();
        let mut lines = Vec::new();
        for chunk in [
            &b"{\"a\""[..],
            b":1}\r",
            b"\n\n  \r\n{\"b\":",
            b"\"\xc3",
            b"\xa9\"}\n{\"c\":3}",
        ] {
            splitter.feed(chunk, &mut lines).unwrap();
        }
        assert_eq!(
            lines,
            vec![b"{\"a\":1}".to_vec(), "{\"b\":\"é\"}".as_bytes().to_vec()]
        );
        assert_eq!(splitter.finish().unwrap(), Some(b"{\"c\":3}".to_vec()));
        assert_eq!(splitter.finish().unwrap(), None);
    }

    #[test]
    fn every_cut_of_the_body_gives_the_same_lines() {
        let body = "{\"a\":\"caf\u{e9}\"}\r\n\r\n{\"b\":\"\u{1F600}\"}\n  \n{\"c\":\"\u{4e2d}\"}\r\n{\"d\":4}"
            .as_bytes();
        let whole = split_in_chunks(body, body.len());
        assert_eq!(
            whole,
            vec![
                "{\"a\":\"café\"}".as_bytes().to_vec(),
                "{\"b\":\"😀\"}".as_bytes().to_vec(),
                "{\"c\":\"中\"}".as_bytes().to_vec(),
                b"{\"d\":4}".to_vec(),
            ]
        );
        for size in 1..body.len() {
            assert_eq!(split_in_chunks(body, size), whole, "chunks of {size}");
        }
        for cut in 1..body.len() {
            let mut splitter = LineSplitter::default();
            let mut lines = Vec::new();
            splitter.feed(&body[..cut], &mut lines).unwrap();
            splitter.feed(&[], &mut lines).unwrap();
            splitter.feed(&body[cut..], &mut lines).unwrap();
            lines.extend(splitter.finish().unwrap());
            assert_eq!(lines, whole, "cut at {cut}");
        }
    }

    #[test]
    fn a_long_line_is_scanned_once_whatever_the_chunks() {
        let body = vec![b'a'; 4 * 1024 * 1024];
        for size in [1, 64] {
            let mut splitter = LineSplitter::default();
            let mut lines = Vec::new();
            for chunk in body.chunks(size) {
                splitter.feed(chunk, &mut lines).unwrap();
            }
            assert!(lines.is_empty());
            assert_eq!(splitter.scanned, body.len() as u64, "chunks of {size}");
            splitter.feed(b"\n", &mut lines).unwrap();
            assert_eq!(splitter.scanned, body.len() as u64 + 1);
            assert_eq!(lines.len(), 1);
            assert_eq!(lines[0].len(), body.len());
        }
    }

    #[test]
    fn a_line_as_long_as_the_cap_passes_and_a_longer_one_stops_the_splitter() {
        let mut body = vec![b'a'; MAX_STREAM_EVENT_BYTES];
        body.push(b'\n');
        assert_eq!(split_in_chunks(&body, 64 * 1024).len(), 1);

        let mut splitter = LineSplitter::default();
        let mut lines = Vec::new();
        let mut chunk = b"{\"a\":1}\n".to_vec();
        chunk.resize(MAX_STREAM_EVENT_BYTES + 16, b'x');
        let error = splitter.feed(&chunk, &mut lines).unwrap_err();
        assert_eq!(error.kind, ErrorKind::MalformedReply);
        assert_eq!(lines, vec![b"{\"a\":1}".to_vec()]);
        assert_eq!(splitter.partial.capacity(), 0);
        assert!(splitter.feed(b"\n{}\n", &mut lines).is_err());
        assert!(splitter.finish().is_err());
        assert_eq!(lines.len(), 1);
    }

    #[test]
    fn a_blank_tail_is_nothing() {
        let mut splitter = LineSplitter::default();
        let mut lines = Vec::new();
        splitter.feed(b"\r\n  ", &mut lines).unwrap();
        assert!(lines.is_empty());
        assert_eq!(splitter.finish().unwrap(), None);
    }
}
