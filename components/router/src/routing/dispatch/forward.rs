//! Delivery when the provider speaks the client's protocol: its reply reaches the client
//! untouched but for secrets (a stream byte for byte, keepalives only between complete events),
//! which are redacted from every body and every stream line (`http::redact`: a line is sent once
//! it is complete, so a key split across chunks is found too). When answers are kept (stored
//! responses, the cache), a decoder reads along what the client gets.

use apex_adapter_kit::types::Target;

use super::attempt::{Call, Cut, Report};
use super::sink::{Read, Sink};
use super::upstream::{MAX_UPSTREAM_BODY, forwarded_headers, transport_error};
use crate::bindings::adapter;
use crate::http::error::ApiError;
use crate::http::redact::Stream;
use crate::http::sse::{self as events, Events};
use crate::http::transport::{ClientResponse, UpstreamResponse};
use crate::platform::{now_secs, random_id};
use crate::routing::accumulate::Accumulator;
use crate::routing::failure::FailureClass;
use crate::state::usage::Tokens;
use crate::surfaces::Surface;

/// Remember the last two bytes sent: `\n\n` means the client is between events.
fn remember_tail(tail: &mut [u8; 2], bytes: &[u8]) {
    match bytes {
        [.., a, b] => *tail = [*a, *b],
        [b] => *tail = [tail[1], *b],
        [] => {}
    }
}

/// Decodes a forwarded stream alongside, when the answer is kept; gives up quietly on bytes it
/// cannot decode (the client still gets them).
struct ReadAlong {
    reader: Option<(adapter::StreamDecoder, Accumulator)>,
}

impl ReadAlong {
    fn new(kind: &str, keep: bool) -> Self {
        Self {
            reader: keep.then(|| (adapter::StreamDecoder::new(kind), Accumulator::default())),
        }
    }

    fn feed(&mut self, chunk: &[u8], end: bool) {
        if let Some((decoder, whole)) = self.reader.as_mut() {
            let events = if end {
                decoder.finish()
            } else {
                decoder.feed(chunk)
            };
            match events {
                Ok(events) => events.iter().for_each(|e| whole.push(e)),
                Err(_) => self.reader = None,
            }
        }
    }

    fn finish(self) -> Option<apex_adapter_kit::types::ChatResponse> {
        self.reader.and_then(|(_, whole)| whole.finish())
    }
}

impl<S: Surface> Call<'_, '_, S> {
    /// Keep the provider and key that made a forwarded answer's id (see [`super::after`]).
    fn pin(&self, bytes: &[u8]) -> bool {
        self.request.pin_id(self.attempt, bytes)
    }

    pub fn forward_body(&self, target: &Target, mut reply: UpstreamResponse, sink: Sink) -> Report {
        let request = self.request;
        match reply.read_all(MAX_UPSTREAM_BODY) {
            Ok(body) => {
                let redactor = &self.redactor;
                let headers =
                    forwarded_headers(&reply, &self.answered_by(request.headers.clone()), redactor);
                let body = redactor.bytes(&body);
                self.pin(&body);
                // Decoded only when answers are kept; the token counts are read alone.
                let kept = request
                    .keeps_answers()
                    .then(|| {
                        adapter::parse_response(&target.kind, reply.status, &reply.headers, &body)
                            .ok()
                    })
                    .flatten();
                if let Some(response) = &kept {
                    request.keep_answer(&response.id.clone(), now_secs(), response);
                }
                let usage = S::forwarded_usage(&body)
                    .or_else(|| kept.and_then(|r| r.usage).map(|u| Tokens::from(&u)));
                request.respond(sink, reply.status, headers, &body);
                Report::delivered().with_usage(usage)
            }
            Err(error) => self.transport_failed(&error, sink),
        }
    }

    /// Same-protocol stream: bytes go to the client as they arrive. The first bytes are awaited
    /// before committing, so a connection that dies at once fails over. An event stream goes out
    /// event by event, each checked first: a malformed one is dropped, and when the protocol lets
    /// the gateway read what each event delivered ([`Surface::forwarded_event`]), a stream that
    /// breaks or ends before its finish is cut ([`Cut`]: continued elsewhere with `resume`, else
    /// an in-band error) — never closed as if complete.
    pub fn pipe(&mut self, target: &Target, mut reply: UpstreamResponse, sink: Sink) -> Report {
        let request = self.request;
        let redactor = &self.redactor;
        let mut redacting = Stream::new(redactor);
        let headers =
            forwarded_headers(&reply, &self.answered_by(request.headers.clone()), redactor);
        let is_sse = apex_adapter_kit::http::header(&reply.headers, "content-type")
            .is_some_and(|t| t.trim_start().starts_with("text/event-stream"));
        let mut gate = Gate {
            events: is_sse.then(Events::default),
            tracks: is_sse && S::forwarded_event(b"").is_some(),
            text: String::new(),
            finished: false,
            other: false,
            error: None,
            error_event: None,
            usage: None,
        };
        // Streams the gate cannot read are decoded along for their token counts too.
        let mut along = ReadAlong::new(&target.kind, request.keeps_answers() || !gate.tracks);
        let mut sink = Some(sink);
        let first = match request.next_chunk(&mut self.clock, &mut reply, &mut sink, &|| true) {
            Read::Chunk(chunk) => chunk,
            Read::End => {
                let error = ApiError::bad_gateway("The upstream provider sent an empty reply.")
                    .code("upstream_malformed_reply");
                return match sink {
                    Some(sink) => self.failed(
                        error,
                        FailureClass::MalformedReply,
                        None,
                        "malformed-reply",
                        sink,
                    ),
                    None => Report::delivered().with_usage(gate.usage),
                };
            }
            Read::ClientLeft => return Report::delivered().with_usage(gate.usage),
            Read::Failed(error) => {
                return match sink {
                    Some(sink) => self.transport_failed(&error, sink),
                    None => Report::delivered().with_usage(gate.usage),
                };
            }
        };
        let Some(sink) = sink else {
            return Report::delivered().with_usage(gate.usage);
        };
        let first = gate.pass::<S>(redacting.push(&first));
        let mut client = match sink {
            Sink::Pending(out) => ClientResponse::start(out, reply.status, &headers),
            Sink::Started(client) => client,
        };
        let mut tail = [0u8; 2];
        remember_tail(&mut tail, &first);
        along.feed(&first, false);
        // The provider's response id is in its first event (kept for follow-ups).
        let mut head = S::PINS_IDS.then(|| first.clone());
        if head.as_deref().is_some_and(|h| self.pin(h)) {
            head = None;
        }
        if !client.write(&first) {
            client.finish();
            return Report::delivered().with_usage(gate.usage);
        }
        let mut sink = Some(Sink::Started(client));
        let failure = loop {
            if let Some(failed) = gate.failed() {
                break Some(failed);
            }
            let boundary = gate.events.is_some() || tail == *b"\n\n";
            match request.next_chunk(&mut self.clock, &mut reply, &mut sink, &|| boundary) {
                Read::Chunk(chunk) => {
                    let chunk = gate.pass::<S>(redacting.push(&chunk));
                    remember_tail(&mut tail, &chunk);
                    along.feed(&chunk, false);
                    if let Some(buffer) = head.as_mut() {
                        buffer.extend_from_slice(&chunk);
                        if self.pin(buffer) || buffer.len() > 64 * 1024 {
                            head = None;
                        }
                    }
                    let Some(Sink::Started(client)) = sink.as_mut() else {
                        break None;
                    };
                    if !client.write(&chunk) {
                        break None;
                    }
                }
                Read::End => {
                    let mut rest = gate.pass::<S>(redacting.finish());
                    rest.extend(gate.rest());
                    along.feed(&rest, false);
                    if let Some(Sink::Started(client)) = sink.as_mut() {
                        client.write(&rest);
                    }
                    if let Some(failed) = gate.failed() {
                        break Some(failed);
                    }
                    if gate.tracks && !gate.finished {
                        break Some((ended_early(), FailureClass::MalformedReply));
                    }
                    along.feed(&[], true);
                    if let Some(response) = along.finish() {
                        if gate.usage.is_none() {
                            gate.usage = response.usage.as_ref().map(Tokens::from);
                        }
                        if request.keeps_answers() {
                            request.keep_answer(&response.id.clone(), now_secs(), &response);
                        }
                    }
                    break None;
                }
                Read::ClientLeft => break None,
                Read::Failed(error) => {
                    let rest = gate.pass::<S>(redacting.finish());
                    if let Some(Sink::Started(client)) = sink.as_mut() {
                        client.write(&rest);
                    }
                    let class = FailureClass::transport(error.timeout);
                    let mut error = transport_error(&error);
                    error.message = redactor.text(&error.message);
                    break Some((error, class));
                }
            }
        };
        let Some(Sink::Started(client)) = sink else {
            return Report::delivered().with_usage(gate.usage);
        };
        let Some((error, class)) = failure else {
            client.finish();
            return Report::delivered().with_usage(gate.usage);
        };
        let cut = Cut {
            error,
            client,
            writer: Box::new(request.writer(random_id(S::ID_PREFIX))),
            text: gate.text,
            continuable: S::CONTINUES_FORWARDED && gate.tracks && !gate.other,
            ending: gate.error_event,
        };
        self.cut(cut, class)
    }
}

/// The error for a stream that ended before its answer was complete.
fn ended_early() -> ApiError {
    ApiError::bad_gateway("The upstream provider's stream ended before the answer was complete.")
        .code("upstream_incomplete")
}

/// What a forwarded stream lets through: whole, well-formed events (for an event stream), and
/// what they delivered so far.
struct Gate {
    events: Option<Events>,
    /// Whether the events are read ([`Surface::forwarded_event`]).
    tracks: bool,
    text: String,
    finished: bool,
    other: bool,
    /// The provider's error event (held back: the stream failed): its message, and its bytes.
    error: Option<String>,
    error_event: Option<Vec<u8>>,
    /// The token counts the events reported.
    usage: Option<Tokens>,
}

impl Gate {
    /// The bytes of `bytes` to send now.
    fn pass<S: Surface>(&mut self, bytes: Vec<u8>) -> Vec<u8> {
        let Some(events) = self.events.as_mut() else {
            return bytes;
        };
        let mut out = Vec::with_capacity(bytes.len());
        for event in events.push(&bytes) {
            if self.error.is_some() {
                // Nothing after a failure.
                continue;
            }
            if let Some(data) = events::data(&event) {
                if !events::well_formed(&data) {
                    continue;
                }
                if self.tracks
                    && let Some(delivered) = S::forwarded_event(&data)
                {
                    if delivered.error.is_some() {
                        self.error = delivered.error;
                        self.error_event = Some(event);
                        continue;
                    }
                    self.text.push_str(&delivered.text);
                    if let Some(counts) = &delivered.usage {
                        self.usage.get_or_insert_default().update(counts);
                    }
                    self.finished |= delivered.finish;
                    self.other |= delivered.other;
                }
            }
            out.extend_from_slice(&event);
        }
        out
    }

    /// The provider's error event, as the failure of the stream.
    fn failed(&mut self) -> Option<(ApiError, FailureClass)> {
        let message = self.error.take()?;
        Some((ApiError::bad_gateway(message), FailureClass::Server))
    }

    /// An unfinished last event, when it is well formed.
    fn rest(&mut self) -> Vec<u8> {
        let Some(events) = self.events.as_mut() else {
            return Vec::new();
        };
        let rest = events.rest();
        match events::data(&rest) {
            Some(data) if !events::well_formed(&data) => Vec::new(),
            _ => rest,
        }
    }
}
