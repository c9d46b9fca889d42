//! Delivery when the provider speaks another protocol: its reply is decoded to the neutral form
//! and rendered in the client's. Nothing but keepalives is sent until the first content decodes,
//! so an early failure can still fail over.

use std::borrow::Cow;

use apex_adapter_kit::types::{AdapterError, StreamEvent, Target};

use super::attempt::{Call, Cut, Outcome, Report};
use super::sink::{Read, Sink};
use super::upstream::{MAX_UPSTREAM_BODY, transport_error};
use crate::bindings::adapter;
use crate::http::error::ApiError;
use crate::http::reply::json_headers;
use crate::http::transport::{TransportError, UpstreamResponse};
use crate::platform::{now_secs, random_id};
use crate::routing::accumulate::Accumulator;
use crate::routing::failure::{self, FailureClass};
use crate::state::usage::Tokens;
use crate::surfaces::{StreamWriter, Surface};

/// Why a translated stream broke.
enum Failure {
    Adapter(AdapterError),
    Transport(TransportError),
}

impl<S: Surface> Call<'_, '_, S> {
    pub fn translate_body(
        &self,
        target: &Target,
        mut reply: UpstreamResponse,
        sink: Sink,
    ) -> Report {
        let request = self.request;
        let body = match reply.read_all(MAX_UPSTREAM_BODY) {
            Ok(body) => body,
            Err(error) => return self.transport_failed(&error, sink),
        };
        match adapter::parse_response(&target.kind, reply.status, &reply.headers, &body) {
            Ok(response) => {
                let id = random_id(S::ID_PREFIX);
                let created = now_secs();
                let rendered = S::render(&response, &id, request.alias, created, &request.routing);
                let rendered = self.redactor.bytes(&rendered).into_owned();
                // Kept before the client has it, so its next request can already use it.
                request.keep_translated(&id, created, &response);
                request.respond(
                    sink,
                    200,
                    json_headers(&self.answered_by(request.answer_headers())),
                    &rendered,
                );
                Report::delivered().with_usage(response.usage.as_ref().map(Tokens::from))
            }
            // A 2xx reply that does not parse (or an error inside one): another target may do
            // better.
            Err(error) => self.adapter_failed(&error, sink),
        }
    }

    /// Another protocol's stream, decoded to neutral events and rendered in the client's protocol.
    pub fn translate_stream(
        &mut self,
        target: &Target,
        mut reply: UpstreamResponse,
        sink: Sink,
    ) -> Report {
        let request = self.request;
        let redactor = &self.redactor;
        let decoder = adapter::StreamDecoder::new(&target.kind);
        let id = random_id(S::ID_PREFIX);
        let created = now_secs();
        let mut writer = S::writer(
            id.clone(),
            request.alias.to_string(),
            created,
            &request.routing,
        );
        // The whole answer, for surfaces that store it and aliases that cache.
        let mut whole = request
            .keeps_translated(self.attempt.provider)
            .then(Accumulator::default);
        let mut pending = Vec::new();
        // `Pending` or keepalive-`Started` until content flows; then `content` is set.
        let mut sink = Some(sink);
        let mut content = false;
        let mut finished = false;
        // What the client has, to continue a cut stream elsewhere (`resume`).
        let mut text = String::new();
        let mut tool_calls = false;
        // The provider's token counts, when its stream reports them.
        let mut usage: Option<Tokens> = None;
        loop {
            let step: Result<(Vec<StreamEvent>, bool), Failure> =
                match request.next_chunk(&mut self.clock, &mut reply, &mut sink, &|| true) {
                    Read::Chunk(chunk) => decoder
                        .feed(&chunk)
                        .map(|events| (events, false))
                        .map_err(Failure::Adapter),
                    Read::End => decoder
                        .finish()
                        .map(|events| (events, true))
                        .map_err(Failure::Adapter),
                    Read::ClientLeft => return Report::delivered().with_usage(usage),
                    // The answer is complete; a connection dropped after it changes nothing.
                    Read::Failed(_) if finished => Ok((Vec::new(), true)),
                    Read::Failed(error) => Err(Failure::Transport(error)),
                };
            let (events, end) = match step {
                Ok(step) => step,
                Err(failure) => {
                    let Some(current) = sink.take() else {
                        return Report::delivered().with_usage(usage);
                    };
                    if !content {
                        return match &failure {
                            Failure::Adapter(error) => self.adapter_failed(error, current),
                            Failure::Transport(error) => self.transport_failed(error, current),
                        };
                    }
                    let (mut error, class) = match &failure {
                        Failure::Adapter(error) => (
                            ApiError::from_upstream(error),
                            FailureClass::of(error.kind).unwrap_or(FailureClass::MalformedReply),
                        ),
                        Failure::Transport(error) => (
                            transport_error(error),
                            FailureClass::transport(error.timeout),
                        ),
                    };
                    error.message = redactor.text(&error.message);
                    let Sink::Started(client) = current else {
                        return Outcome::ClientError(failure::client_label(&error)).into();
                    };
                    return self.cut(Cut::new(error, client, writer, text, !tool_calls), class);
                }
            };
            for event in events.iter() {
                match event {
                    StreamEvent::Finish(_) => finished = true,
                    StreamEvent::TextDelta(delta) => text.push_str(delta),
                    StreamEvent::ToolCallStart(_) => tool_calls = true,
                    StreamEvent::Usage(counts) => {
                        usage.get_or_insert_default().update(&Tokens::from(counts))
                    }
                    _ => {}
                }
                writer.event(event, &mut pending);
                if let Some(whole) = whole.as_mut() {
                    whole.push(event);
                }
            }
            if end
                && finished
                && let Some(response) = whole.take().and_then(Accumulator::finish)
            {
                request.keep_translated(&id, created, &response);
            }
            if end && finished {
                writer.done(&mut pending);
            }
            // The stream ended before its finish: a truncated answer, never closed as complete.
            if end && !finished {
                let Some(current) = sink.take() else {
                    return Report::delivered().with_usage(usage);
                };
                let error = ApiError::bad_gateway(
                    "The upstream provider's stream ended before the answer was complete.",
                )
                .code("upstream_incomplete");
                if !content && pending.is_empty() {
                    return self.failed(
                        error,
                        FailureClass::MalformedReply,
                        None,
                        "malformed-reply",
                        current,
                    );
                }
                let mut client = request.stream_answer(current, &self.answered_by(Vec::new()));
                if let Cow::Owned(redacted) = redactor.bytes(&pending) {
                    pending = redacted;
                }
                client.write(&pending);
                let cut = Cut::new(error, client, writer, text, !tool_calls);
                return self.cut(cut, FailureClass::MalformedReply);
            }
            if !pending.is_empty() || end {
                // Whole events: a key the provider wrote into one is found (the model never saw
                // a key, so none is split across deltas).
                if let Cow::Owned(redacted) = redactor.bytes(&pending) {
                    pending = redacted;
                }
                let Some(current) = sink.take() else {
                    return Report::delivered().with_usage(usage);
                };
                let mut client = request.stream_answer(current, &self.answered_by(Vec::new()));
                content = true;
                if !client.write(&pending) {
                    client.finish();
                    return Report::delivered().with_usage(usage);
                }
                pending.clear();
                if end {
                    client.finish();
                    return Report::delivered().with_usage(usage);
                }
                sink = Some(Sink::Started(client));
            }
            if end {
                break;
            }
        }
        if let Some(Sink::Started(client)) = sink {
            client.finish();
        }
        Report::delivered().with_usage(usage)
    }
}
