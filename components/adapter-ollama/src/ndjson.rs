//! Newline-delimited JSON framing: bytes in, complete lines out. Handles lines split across
//! chunks, `\n` and `\r\n` line ends, blank lines, and a last line without a line end.

/// Incremental NDJSON line splitter.
#[derive(Debug, Default)]
pub struct LineSplitter {
    buffer: Vec<u8>,
}

impl LineSplitter {
    /// Feed bytes; returns the non-blank lines they complete, without their line ends.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Vec<u8>> {
        // Only the new bytes can hold a line end: the buffer holds none.
        let old = self.buffer.len();
        self.buffer.extend_from_slice(chunk);
        let mut lines = Vec::new();
        let mut start = 0;
        for i in old..self.buffer.len() {
            if self.buffer[i] == b'\n' {
                push_line(&mut lines, &self.buffer[start..i]);
                start = i + 1;
            }
        }
        self.buffer.drain(..start);
        lines
    }

    /// The body ended: a last line not followed by a line end still counts.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        let rest = std::mem::take(&mut self.buffer);
        let mut lines = Vec::new();
        push_line(&mut lines, &rest);
        lines.pop()
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
            lines.extend(splitter.feed(chunk));
        }
        assert_eq!(
            lines,
            vec![b"{\"a\":1}".to_vec(), "{\"b\":\"é\"}".as_bytes().to_vec()]
        );
        assert_eq!(splitter.finish(), Some(b"{\"c\":3}".to_vec()));
        assert_eq!(splitter.finish(), None);
    }

    #[test]
    fn a_blank_tail_is_nothing() {
        let mut splitter = LineSplitter::default();
        assert!(splitter.feed(b"\r\n  ").is_empty());
        assert_eq!(splitter.finish(), None);
    }
}
