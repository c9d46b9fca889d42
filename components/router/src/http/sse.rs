//! Server-sent events of a forwarded stream, whole: the bytes are cut at event boundaries (a blank
//! line) so that an event is checked before the client gets it. An event whose data is not JSON
//! (nor `[DONE]`) is malformed and never passed on as if it were valid.

/// Splits a stream of bytes into whole events.
#[derive(Default)]
pub struct Events {
    pending: Vec<u8>,
}

impl Events {
    /// The events `bytes` completes, each with its terminating blank line.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        self.pending.extend_from_slice(bytes);
        let mut events = Vec::new();
        let mut start = 0;
        let mut i = 0;
        while i < self.pending.len() {
            // A blank line: `\n\n` or `\n\r\n`.
            let end = match &self.pending[i..] {
                [b'\n', b'\n', ..] => Some(i + 2),
                [b'\n', b'\r', b'\n', ..] => Some(i + 3),
                _ => None,
            };
            match end {
                Some(end) => {
                    events.push(self.pending[start..end].to_vec());
                    start = end;
                    i = end;
                }
                None => i += 1,
            }
        }
        self.pending.drain(..start);
        events
    }

    /// What is left when the stream ends (an event without its blank line).
    pub fn rest(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.pending)
    }
}

/// The `data` of an event (its data lines joined by `\n`), `None` when it has none (a comment, a
/// keepalive).
pub fn data(event: &[u8]) -> Option<Vec<u8>> {
    let mut data: Option<Vec<u8>> = None;
    for line in event.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(value) = line.strip_prefix(b"data:") {
            let value = value.strip_prefix(b" ").unwrap_or(value);
            match data.as_mut() {
                Some(joined) => {
                    joined.push(b'\n');
                    joined.extend_from_slice(value);
                }
                None => data = Some(value.to_vec()),
            }
        }
    }
    data
}

/// Whether an event's data is well formed: JSON, or the `[DONE]` sentinel.
pub fn well_formed(data: &[u8]) -> bool {
    data == b"[DONE]" || serde_json::from_slice::<serde::de::IgnoredAny>(data).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_come_out_whole_however_the_bytes_are_cut() {
        let stream = b"data: {\"a\":1}\n\nevent: x\r\ndata: {\"b\":2}\r\n\r\n: keepalive\n\ndata: [DONE]\n\n";
        for size in 1..stream.len() {
            let mut events = Events::default();
            let mut out = Vec::new();
            for piece in stream.chunks(size) {
                out.extend(events.push(piece));
            }
            assert_eq!(out.concat(), stream.to_vec(), "pieces of {size}");
            assert_eq!(out.len(), 4, "pieces of {size}");
            assert!(events.rest().is_empty());
        }
    }

    #[test]
    fn data_lines_are_joined_and_checked() {
        assert_eq!(
            data(b"event: x\ndata: {\"a\":\ndata: 1}\n\n").unwrap(),
            b"{\"a\":\n1}"
        );
        assert_eq!(data(b": keepalive\n\n"), None);
        assert!(well_formed(b"{\"a\":\n1}"));
        assert!(well_formed(b"[DONE]"));
        assert!(!well_formed(b"{\"choices\": [{\"delta\": {\"content\": "));
    }
}
