//! Delivery when the provider speaks another protocol: its reply is decoded to the neutral form
//! and rendered in the client's. Nothing but keepalives is sent until the first content decodes,
//! so an early failure can still fail over.

use std::borrow::Cow;

use apex_adapter_kit::types::{AdapterError, StreamEvent, Target};

use super::attempt::{Call, Outcome, Report};
use super::sink::{Read, Sink};
use super::upstream::{MAX_UPSTREAM_BODY, transport_error};
use crate::bindings::adapter;
use crate::http::error::ApiError;
use crate::http::reply::json_headers;
use crate::http::transport::{TransportError, UpstreamResponse};
use crate::platform::{now_secs, random_id};
use crate::routing::accumulate::Accumulator;
use crate::routing::failure;
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
                    json_headers(&request.answer_headers()),
                    &rendered,
                );
                Report::delivered()
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
                    Read::ClientLeft => return Report::delivered(),
                    // The answer is complete; a connection dropped after it changes nothing.
                    Read::Failed(_) if finished => Ok((Vec::new(), true)),
                    Read::Failed(error) => Err(Failure::Transport(error)),
                };
            let (events, end) = match step {
                Ok(step) => step,
                Err(failure) => {
                    let Some(current) = sink.take() else {
                        return Report::delivered();
                    };
                    if !content {
                        return match &failure {
                            Failure::Adapter(error) => self.adapter_failed(error, current),
                            Failure::Transport(error) => self.transport_failed(error, current),
                        };
                    }
                    let mut error = match &failure {
                        Failure::Adapter(error) => ApiError::from_upstream(error),
                        Failure::Transport(error) => transport_error(error),
                    };
                    error.message = redactor.text(&error.message);
                    if let Sink::Started(mut client) = current {
                        writer.error(&error, &mut pending);
                        client.write(&pending);
                        client.finish();
                    }
                    return Outcome::ClientError(failure::client_label(&error)).into();
                }
            };
            for event in events.iter() {
                if matches!(event, StreamEvent::Finish(_)) {
                    finished = true;
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
            if !pending.is_empty() || end {
                // Whole events: a key the provider wrote into one is found (the model never saw
                // a key, so none is split across deltas).
                if let Cow::Owned(redacted) = redactor.bytes(&pending) {
                    pending = redacted;
                }
                let Some(current) = sink.take() else {
                    return Report::delivered();
                };
                let mut client = request.stream_to(current);
                content = true;
                if !client.write(&pending) {
                    client.finish();
                    return Report::delivered();
                }
                pending.clear();
                if end {
                    client.finish();
                    return Report::delivered();
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
        Report::delivered()
    }
}
