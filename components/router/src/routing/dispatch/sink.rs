//! The client side of an attempt: where the answer goes (nothing sent yet, or an event stream
//! already started), the deadlines of the attempt under way and the keepalives that hold a
//! silent stream open.

use wasip2::http::types::ResponseOutparam;

use super::request::Request;
use crate::http::error::ApiError;
use crate::http::reply::send_error;
use crate::http::transport::{self, ClientResponse, TransportError, UpstreamResponse, Waited};
use crate::platform::monotonic_ms;
use crate::routing::failure;
use crate::surfaces::{StreamWriter, Surface};

/// Where the answer goes: nothing sent yet (status and headers still free), or an event stream
/// already committed to status 200 by keepalives while the provider was slow to start.
pub enum Sink {
    Pending(ResponseOutparam),
    Started(ClientResponse),
}

/// The deadlines of one attempt, in monotonic milliseconds.
pub struct Clock {
    /// The whole request's.
    total: u64,
    /// By when the provider must have sent its first bytes (until it has).
    first: u64,
    /// The longest silence between a stream's chunks once it has begun.
    stall_ms: u64,
    /// When the provider last sent something (`None`: not yet).
    last_bytes: Option<u64>,
    keepalive_ns: Option<u64>,
}

impl Clock {
    /// An attempt starting now, with the alias's (or gateway's) time to the first token.
    pub fn start<S: Surface>(request: &Request<S>) -> Self {
        let timeouts = &request.config.timeouts;
        let patience = request.patience;
        let ttft_ms = patience
            .ttft_ms
            .unwrap_or(timeouts.first_token.saturating_mul(1000));
        Self {
            total: request.total_deadline,
            first: monotonic_ms().saturating_add(ttft_ms),
            stall_ms: patience
                .stall_ms
                .unwrap_or(timeouts.stall.saturating_mul(1000)),
            last_bytes: None,
            keepalive_ns: request.keepalive_ns(),
        }
    }

    /// The provider has sent something: from now on the stall limit and the whole request's
    /// deadline apply.
    pub fn got_first_bytes(&mut self) {
        self.last_bytes = Some(monotonic_ms());
    }

    /// The deadline that applies now, in monotonic ms: the first bytes', then the next chunk's
    /// (stall), never past the whole request's.
    fn deadline(&self) -> u64 {
        match self.last_bytes {
            Some(last) => last.saturating_add(self.stall_ms).min(self.total),
            None => self.first.min(self.total),
        }
    }

    /// How long to wait before doing something (a keepalive, or giving up at the deadline):
    /// `(nanoseconds, whether it is the deadline)`.
    pub fn next_wake(&self) -> (u64, bool) {
        let left_ns = self
            .deadline()
            .saturating_sub(monotonic_ms())
            .saturating_mul(1_000_000);
        match self.keepalive_ns {
            Some(keepalive) if keepalive < left_ns => (keepalive, false),
            _ => (left_ns, true),
        }
    }

    pub fn deadline_error(&self) -> TransportError {
        let now = monotonic_ms();
        match self.last_bytes {
            _ if now >= self.total => {
                TransportError::deadline("the request took longer than total_timeout_secs")
            }
            Some(_) => TransportError::deadline(
                "the provider's stream went silent for longer than the stall limit (stall_ms, stall_timeout_secs)",
            ),
            None => TransportError::deadline(
                "no answer within the time to first token (ttft_ms, first_token_timeout_secs)",
            ),
        }
    }
}

/// What waiting for a provider's next bytes gave.
pub enum Read {
    Chunk(Vec<u8>),
    End,
    /// The client left while we waited.
    ClientLeft,
    Failed(TransportError),
}

impl<S: Surface> Request<'_, S> {
    /// Report `error`: an error response, or an error event when the stream already started.
    /// Returns the stats label of the error the client got.
    pub fn fail(&self, sink: Sink, error: &ApiError) -> &'static str {
        match sink {
            Sink::Pending(out) => send_error(out, error, S::ERRORS, &self.headers),
            Sink::Started(mut client) => {
                error.log();
                let mut bytes = Vec::new();
                self.writer(String::new()).error(error, &mut bytes);
                client.write(&bytes);
                client.finish();
            }
        }
        failure::client_label(error)
    }

    /// A complete response (status and body), unless a stream already started.
    pub fn respond(&self, sink: Sink, status: u16, headers: Vec<(String, String)>, body: &[u8]) {
        match sink {
            Sink::Pending(out) => transport::respond(out, status, headers, body),
            Sink::Started(mut client) => {
                client.write(body);
                client.finish();
            }
        }
    }

    /// Wait `ms` before the next try, holding a started stream open with keepalives. `None`: the
    /// client left meanwhile.
    pub fn pause(&self, mut sink: Sink, ms: u64) -> Option<Sink> {
        let until = monotonic_ms().saturating_add(ms);
        loop {
            let left = until.saturating_sub(monotonic_ms());
            if left == 0 {
                return Some(sink);
            }
            let keepalive_ms = match (&sink, self.keepalive_ns()) {
                (Sink::Started(_), Some(ns)) => Some(ns / 1_000_000),
                _ => None,
            };
            match keepalive_ms {
                Some(every) if every < left => {
                    crate::platform::sleep_ms(every);
                    sink = self.keepalive(sink)?;
                }
                _ => crate::platform::sleep_ms(left),
            }
        }
    }

    /// The client's event stream with a provider's answer, started now (with `extra` headers) if
    /// it was not yet.
    pub fn stream_answer(&self, sink: Sink, extra: &[(String, String)]) -> ClientResponse {
        match sink {
            Sink::Pending(out) => {
                let mut headers = self.stream_headers();
                headers.extend_from_slice(extra);
                ClientResponse::start(out, 200, &headers)
            }
            Sink::Started(client) => client,
        }
    }

    /// The client's event stream, started now if it was not yet.
    pub fn stream_to(&self, sink: Sink) -> ClientResponse {
        match sink {
            Sink::Pending(out) => ClientResponse::start(out, 200, &self.stream_headers()),
            Sink::Started(client) => client,
        }
    }

    /// Send a keepalive on the event stream, starting it if needed. `None`: the client left.
    pub fn keepalive(&self, sink: Sink) -> Option<Sink> {
        let mut bytes = Vec::new();
        S::keepalive(&mut bytes);
        let mut client = self.stream_to(sink);
        if client.write(&bytes) {
            Some(Sink::Started(client))
        } else {
            client.finish();
            None
        }
    }

    /// The next bytes of a provider's stream, sending keepalives to the client while it is
    /// silent (only when `may_keepalive()`: a forwarded stream takes them between events only).
    /// `sink` is `None` afterwards when the client left.
    pub fn next_chunk(
        &self,
        clock: &mut Clock,
        upstream: &mut UpstreamResponse,
        sink: &mut Option<Sink>,
        may_keepalive: &dyn Fn() -> bool,
    ) -> Read {
        loop {
            let (wake, is_deadline) = clock.next_wake();
            match upstream.read_within(wake) {
                Waited::Ready(Ok(Some(chunk))) if chunk.is_empty() => continue,
                Waited::Ready(result) => {
                    clock.got_first_bytes();
                    return match result {
                        Ok(Some(chunk)) => Read::Chunk(chunk),
                        Ok(None) => Read::End,
                        Err(error) => Read::Failed(error),
                    };
                }
                Waited::TimedOut if is_deadline => return Read::Failed(clock.deadline_error()),
                Waited::TimedOut if may_keepalive() => {
                    let Some(current) = sink.take() else {
                        return Read::ClientLeft;
                    };
                    match self.keepalive(current) {
                        Some(next) => *sink = Some(next),
                        None => return Read::ClientLeft,
                    }
                }
                Waited::TimedOut => {}
            }
        }
    }
}
