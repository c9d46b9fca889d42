//! Writing a whole buffer to a host output stream: a request body to a provider, the response
//! to the client, the log line to stderr.

use wasip2::io::streams::{OutputStream, StreamError};

/// The most bytes `blocking-write-and-flush` takes in one call.
const WRITE_AND_FLUSH_MAX: usize = 4096;

/// Write all of `bytes` and flush. Up to 4096 bytes (a small reply, a stream event, a log line)
/// go in one host call; more in as few writes as the host permits (`check-write` says how much
/// it takes at once, usually far more), then a flush.
pub fn write_all(stream: &OutputStream, mut bytes: &[u8]) -> Result<(), StreamError> {
    if bytes.len() <= WRITE_AND_FLUSH_MAX {
        return stream.blocking_write_and_flush(bytes);
    }
    while !bytes.is_empty() {
        let permitted = stream.check_write()?;
        if permitted == 0 {
            stream.subscribe().block();
            continue;
        }
        let take = usize::try_from(permitted)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        stream.write(&bytes[..take])?;
        bytes = &bytes[take..];
    }
    stream.blocking_flush()
}
