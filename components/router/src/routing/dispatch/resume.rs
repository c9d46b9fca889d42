//! Continuing a stream that broke after the client got part of it (`resume = true` on the alias):
//! the next candidate is asked to continue from the text the client has — as an assistant prefill
//! (the last message), or, when it refuses a prefill (a 400), asked afresh — and its answer is
//! stitched into the same client stream without repeating a byte. An answer that does not begin
//! with the text already sent cannot be stitched: the client gets the in-band error instead, never
//! a truncated answer that looks complete.

use apex_adapter_kit::types::{ContentPart, ErrorKind, Message, Role, StreamEvent};

use super::attempt::{Cut, Observed, Outcome, Report};
use super::request::Request;
use super::sink::{Clock, Read, Sink};
use super::upstream;
use crate::bindings::adapter;
use crate::http::error::ApiError;
use crate::http::redact::Redactor;
use crate::http::transport::{self, TransportError, Waited};
use crate::routing::failure::FailureClass;
use crate::routing::stitch::Stitch;
use crate::routing::targets::Attempt;
use crate::surfaces::Surface;

/// Continue `cut` with `attempt`.
pub fn resume<S: Surface>(request: &Request<S>, attempt: &Attempt, cut: Cut) -> Report {
    let config = request.config;
    let target = match upstream::target(attempt, &config.timeouts) {
        Ok(target) => target,
        Err(error) => return back(cut, observed_adapter(&error)),
    };
    let Ok(neutral) = request.neutral() else {
        return Outcome::ClientError(cut.fail()).into();
    };
    let redactor = upstream::redactor(config, Some(&target.api_key));
    let mut cut = cut;
    // With the text as a prefill first where the provider continues one; afresh when it does not,
    // or refuses it.
    for prefill in [true, false] {
        if prefill && !attempt.provider.prefill {
            continue;
        }
        let mut continuation = neutral.clone();
        continuation.model = attempt.model.to_string();
        continuation.stream = true;
        if prefill && !cut.text.is_empty() {
            continuation.messages.push(Message {
                role: Role::Assistant,
                content: vec![ContentPart::Text(cut.text.clone())],
                name: None,
            });
        }
        let http = match adapter::build_request(&target, &continuation) {
            Ok(http) => http,
            Err(_) if prefill => continue,
            Err(error) => return back(cut, observed_adapter(&error)),
        };
        if !upstream::on_origin(&http, &target) {
            return back(cut, None);
        }
        let mut clock = Clock::start(request);
        let pending = match transport::start(&http, &config.timeouts) {
            Ok(pending) => pending,
            Err(error) => return back(cut, observed_transport(&error)),
        };
        let mut sink = Sink::Started(cut.client);
        let reply = loop {
            let (wake, is_deadline) = clock.next_wake();
            match pending.wait(Some(wake)) {
                Waited::Ready(Ok(reply)) => break Ok(reply),
                Waited::Ready(Err(error)) => break Err(error),
                Waited::TimedOut if is_deadline => break Err(clock.deadline_error()),
                Waited::TimedOut => match request.keepalive(sink) {
                    Some(next) => sink = next,
                    None => return Report::delivered(),
                },
            }
        };
        let Sink::Started(client) = sink else {
            return Report::delivered();
        };
        cut.client = client;
        let mut reply = match reply {
            Ok(reply) => reply,
            Err(error) => return back(cut, observed_transport(&error)),
        };
        if !(200..300).contains(&reply.status) {
            let (error, _) = upstream::refusal(&target.kind, &mut reply);
            // A refused prefill: ask again without one.
            if prefill && !cut.text.is_empty() && error.kind == ErrorKind::InvalidRequest {
                continue;
            }
            return back(cut, observed_adapter(&error));
        }
        let mut stitch = Stitch::new(&cut.text, prefill && !cut.text.is_empty());
        return stream(
            request,
            &target.kind,
            &redactor,
            &mut clock,
            reply,
            cut,
            &mut stitch,
        );
    }
    back(cut, None)
}

/// Read the continuation and write what follows the client's text.
fn stream<S: Surface>(
    request: &Request<S>,
    kind: &str,
    redactor: &Redactor,
    clock: &mut Clock,
    mut reply: transport::UpstreamResponse,
    mut cut: Cut,
    stitch: &mut Stitch,
) -> Report {
    let decoder = adapter::StreamDecoder::new(kind);
    let mut finished = false;
    let mut pending = Vec::new();
    loop {
        let mut sink = Some(Sink::Started(cut.client));
        let read = request.next_chunk(clock, &mut reply, &mut sink, &|| true);
        let Some(Sink::Started(client)) = sink else {
            return Report::delivered();
        };
        cut.client = client;
        let (events, end) = match read {
            Read::Chunk(chunk) => match decoder.feed(&chunk) {
                Ok(events) => (events, false),
                Err(error) => return broke(stitch, cut, observed_adapter(&error)),
            },
            Read::End => match decoder.finish() {
                Ok(events) => (events, true),
                Err(error) => return broke(stitch, cut, observed_adapter(&error)),
            },
            Read::ClientLeft => return Report::delivered(),
            Read::Failed(error) => return broke(stitch, cut, observed_transport(&error)),
        };
        for event in &events {
            match event {
                StreamEvent::Start(_)
                | StreamEvent::ThinkingDelta(_)
                | StreamEvent::ThinkingSignature(_) => {}
                StreamEvent::TextDelta(text) => match stitch.text(text) {
                    Ok(new) if new.is_empty() => {}
                    Ok(new) => cut.writer.event(&StreamEvent::TextDelta(new), &mut pending),
                    Err(error) => return unstitched(cut, pending, error),
                },
                StreamEvent::Finish(_) => {
                    if let Err(error) = stitch.end() {
                        return unstitched(cut, pending, error);
                    }
                    finished = true;
                    cut.writer.event(event, &mut pending);
                }
                _ => cut.writer.event(event, &mut pending),
            }
        }
        if end && finished {
            cut.writer.done(&mut pending);
        }
        if !pending.is_empty() {
            let bytes = redactor.bytes(&pending).into_owned();
            pending.clear();
            if !cut.client.write(&bytes) {
                cut.client.finish();
                return Report::delivered();
            }
        }
        if end {
            if finished {
                cut.client.finish();
                return Report::delivered();
            }
            let error = ApiError::bad_gateway(
                "The upstream provider's stream ended before the answer was complete.",
            )
            .code("upstream_incomplete");
            cut.error = error;
            let class = FailureClass::MalformedReply;
            return broke(stitch, cut, Some(Observed::of_class(class)));
        }
    }
}

/// The continuation broke too: the client now has more text; the next candidate may go on.
fn broke(stitch: &Stitch, mut cut: Cut, observed: Option<Observed>) -> Report {
    cut.text.push_str(stitch.written());
    back(cut, observed)
}

/// The answers cannot be stitched: the client's stream ends with the original failure.
fn unstitched(mut cut: Cut, pending: Vec<u8>, _why: ApiError) -> Report {
    cut.client.write(&pending);
    Outcome::ClientError(cut.fail()).into()
}

/// The cut goes back to the fold (the next candidate may continue it).
fn back(cut: Cut, observed: Option<Observed>) -> Report {
    Report {
        outcome: Outcome::Cut(cut),
        observed,
        usage: None,
    }
}

fn observed_adapter(error: &apex_adapter_kit::types::AdapterError) -> Option<Observed> {
    Observed::of_adapter(error)
}

fn observed_transport(error: &TransportError) -> Option<Observed> {
    Some(Observed::of_transport(error))
}
