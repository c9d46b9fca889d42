//! One attempt: a provider's key, asked in the client's protocol (forwarded) or in its own
//! (translated). It returns a [`Report`]: delivered, an error the client got, or a retryable
//! failure that left the client untouched, with what was observed for cooldowns and stats.

use apex_adapter_kit::types::{AdapterError, ErrorKind, ForwardedBody, HttpRequest, Target};

use super::request::Request;
use super::sink::{Clock, Sink};
use super::upstream::{self, transport_error};
use crate::bindings::adapter;
use crate::http::error::ApiError;
use crate::http::redact::Redactor;
use crate::http::reply::json_headers;
use crate::http::transport::{self, ClientResponse, TransportError, UpstreamResponse, Waited};
use crate::routing::failure::{self, FailureClass};
use crate::routing::targets::Attempt;
use crate::state::usage::Tokens;
use crate::surfaces::{StreamWriter, Surface, forwarding};

/// Names the provider that answered (its name in the config).
pub const PROVIDER_HEADER: &str = "x-apex-provider";
/// Names the model the provider was asked for.
pub const MODEL_HEADER: &str = "x-apex-model";

/// How an attempt ended, for the client.
pub enum Outcome {
    /// The client has its answer (or left before it was complete).
    Delivered,
    /// The client got an error; its stats label.
    ClientError(&'static str),
    /// Nothing but keepalives reached the client: the next attempt may answer, with the sink
    /// back and the reason (the client's error if no attempt is left).
    Retry(ApiError, Sink),
    /// A stream broke after the client got part of it, and the alias continues such streams
    /// (`resume`): the next candidate may continue it.
    Cut(Cut),
}

/// A stream cut after the client got part of it: what it has, to continue elsewhere.
pub struct Cut {
    /// What went wrong (the client's in-band error if nobody continues).
    pub error: ApiError,
    /// The client's stream, started.
    pub client: ClientResponse,
    /// Continues the client's stream (the one that wrote it, or a fresh one when its chunks
    /// stand alone).
    pub writer: Box<dyn StreamWriter>,
    /// The answer text the client has.
    pub text: String,
    /// Whether a continuation can pick it up (only text so far: no tool call, no reasoning).
    pub continuable: bool,
    /// The provider's own error event, already in the client's protocol: what the stream ends
    /// with if nobody continues it (else the writer's rendering of `error`).
    pub ending: Option<Vec<u8>>,
}

impl Cut {
    pub fn new(
        error: ApiError,
        client: ClientResponse,
        writer: impl StreamWriter + 'static,
        text: String,
        continuable: bool,
    ) -> Self {
        Self {
            error,
            client,
            writer: Box::new(writer),
            text,
            continuable,
            ending: None,
        }
    }

    /// End the client's stream with the in-band error; the stats label of that error.
    pub fn fail(mut self) -> &'static str {
        self.error.log();
        let mut bytes = self.ending.take().unwrap_or_default();
        if bytes.is_empty() {
            self.writer.error(&self.error, &mut bytes);
        }
        self.client.write(&bytes);
        self.client.finish();
        failure::client_label(&self.error)
    }
}

/// A provider failure seen in an attempt (for cooldowns and stats).
#[derive(Clone, Copy)]
pub struct Observed {
    pub class: FailureClass,
    pub retry_after_ms: Option<u64>,
    pub label: &'static str,
}

impl Observed {
    /// A failure of `class` with no instruction from the provider.
    pub fn of_class(class: FailureClass) -> Self {
        Self {
            class,
            retry_after_ms: None,
            label: class.as_str(),
        }
    }

    /// A failure an adapter classified (`None`: not the provider's fault).
    pub fn of_adapter(error: &AdapterError) -> Option<Self> {
        FailureClass::of(error.kind).map(|class| Self {
            class,
            retry_after_ms: error.retry_after_ms,
            label: failure::kind_label(error.kind),
        })
    }

    /// A connection failure or timeout.
    pub fn of_transport(error: &TransportError) -> Self {
        Self::of_class(FailureClass::transport(error.timeout))
    }
}

/// What one attempt returns.
pub struct Report {
    pub outcome: Outcome,
    pub observed: Option<Observed>,
    /// The tokens the provider reported for what it answered.
    pub usage: Option<Tokens>,
}

impl Report {
    pub fn delivered() -> Self {
        Self::from(Outcome::Delivered)
    }

    pub fn with_usage(mut self, usage: Option<Tokens>) -> Self {
        self.usage = usage;
        self
    }
}

impl From<Outcome> for Report {
    fn from(outcome: Outcome) -> Self {
        Self {
            outcome,
            observed: None,
            usage: None,
        }
    }
}

/// The attempt under way: the request, which key it uses, its clock, and the redaction of what
/// it brings back (the config's secrets and the credential it sends), built once per attempt.
pub struct Call<'r, 'a, S: Surface> {
    pub request: &'r Request<'a, S>,
    pub attempt: &'r Attempt<'a>,
    pub clock: Clock,
    pub redactor: std::rc::Rc<Redactor>,
}

/// Make `attempt` for `request`, answering into `sink`.
pub fn attempt<'a, S: Surface>(
    request: &Request<'a, S>,
    attempt: &Attempt<'a>,
    sink: Sink,
) -> Report {
    let config = request.config;
    let target = upstream::target(attempt, &config.timeouts);
    let credential = target.as_ref().ok().map(|target| target.api_key.as_str());
    let mut call = Call {
        request,
        attempt,
        clock: Clock::start(request),
        redactor: upstream::redactor(config, credential),
    };
    let mut target = match target {
        Ok(target) => target,
        Err(error) => return call.adapter_failed(&error, sink),
    };
    S::forward_target(&mut target, attempt.provider, request.client.headers);
    // A request this target cannot take (unsupported feature, fields the translation cannot
    // carry) may still suit the next target: nothing was sent, so move on.
    let (http, forwarded) = match call.build(&target) {
        Ok(built) => built,
        Err(mut error) => {
            error.message = call.scrubbed(&error.message);
            return Outcome::Retry(error, sink).into();
        }
    };
    if !upstream::on_origin(&http, &target) {
        let error = ApiError::bad_gateway(format!(
            "Refused: the `{}` adapter built a request outside provider `{}`'s origin.",
            target.kind, attempt.provider.name
        ));
        return Outcome::ClientError(request.fail(sink, &error)).into();
    }
    call.clock = Clock::start(request);
    let pending = match transport::start(&http, &config.timeouts) {
        Ok(pending) => pending,
        Err(error) => return call.transport_failed(&error, sink),
    };
    let mut sink = sink;
    let reply = loop {
        let (wake, is_deadline) = call.clock.next_wake();
        match pending.wait(Some(wake)) {
            Waited::Ready(Ok(reply)) => break reply,
            Waited::Ready(Err(error)) => return call.transport_failed(&error, sink),
            Waited::TimedOut if is_deadline => {
                let error = call.clock.deadline_error();
                return call.transport_failed(&error, sink);
            }
            Waited::TimedOut => match request.keepalive(sink) {
                Some(next) => sink = next,
                None => return Report::delivered(),
            },
        }
    };
    // A non-streamed answer's status line is its first sign of life.
    if !request.routing.stream {
        call.clock.got_first_bytes();
    }
    if !(200..300).contains(&reply.status) {
        return call.upstream_failure(&target, reply, forwarded, sink);
    }
    match (forwarded, request.routing.stream) {
        (true, true) => call.pipe(&target, reply, sink),
        (true, false) => call.forward_body(&target, reply, sink),
        (false, false) => call.translate_body(&target, reply, sink),
        (false, true) => call.translate_stream(&target, reply, sink),
    }
}

impl<S: Surface> Call<'_, '_, S> {
    /// The upstream request: forwarded when the provider speaks the client's protocol, translated
    /// otherwise. `true` when forwarded.
    fn build(&self, target: &Target) -> Result<(HttpRequest, bool), ApiError> {
        let request = self.request;
        if S::forwards_to(self.attempt.provider, request.body) {
            let model = self.attempt.model;
            let path = S::forward_path(model, &request.routing);
            let read = ForwardedBody {
                model: S::MODEL_IN_BODY.then(|| model.to_string()),
                stream: request.routing.stream,
            };
            match adapter::forward_request(target, S::PROTOCOL, &path, &read) {
                Ok(forwarding) => {
                    let http = forwarding::request(
                        forwarding,
                        request.body,
                        read.model.as_deref(),
                        request.routing.model_at.clone(),
                    )?;
                    return Ok((http, true));
                }
                Err(error) if error.kind == ErrorKind::Unsupported => {}
                Err(error) => return Err(ApiError::from_upstream(&error)),
            }
        }
        let mut neutral = request.neutral()?.clone();
        neutral.model = self.attempt.model.to_string();
        adapter::build_request(target, &neutral)
            .map(|http| (http, false))
            .map_err(|error| ApiError::from_upstream(&error))
    }

    /// `headers` and who answered: `x-apex-provider` (the provider's name in the config) and
    /// `x-apex-model` (the model it was asked for).
    pub fn answered_by(&self, mut headers: Vec<(String, String)>) -> Vec<(String, String)> {
        headers.push((PROVIDER_HEADER.into(), self.attempt.provider.name.clone()));
        headers.push((MODEL_HEADER.into(), self.attempt.model.to_string()));
        headers
    }

    /// `text` without the config's secrets and this attempt's credential.
    pub fn scrubbed(&self, text: &str) -> String {
        self.redactor.text(text)
    }

    /// A provider failure of `class`: the next attempt when the gateway fails over on it, else
    /// the client gets `error` now.
    pub fn failed(
        &self,
        error: ApiError,
        class: FailureClass,
        retry_after_ms: Option<u64>,
        label: &'static str,
        sink: Sink,
    ) -> Report {
        let outcome = if self.request.config.fails_over(class) {
            Outcome::Retry(error, sink)
        } else {
            Outcome::ClientError(self.request.fail(sink, &error))
        };
        Report {
            outcome,
            observed: Some(Observed {
                class,
                retry_after_ms,
                label,
            }),
            usage: None,
        }
    }

    /// A stream that broke after the client got part of it: continued on the next candidate when
    /// the alias says `resume` and the cut can be continued, else ended with an in-band error.
    pub fn cut(&self, cut: Cut, class: FailureClass) -> Report {
        let observed = Some(Observed::of_class(class));
        let outcome = if self.request.patience.resume && cut.continuable {
            Outcome::Cut(cut)
        } else {
            Outcome::ClientError(cut.fail())
        };
        Report {
            outcome,
            observed,
            usage: None,
        }
    }

    /// A connection failure or timeout.
    pub fn transport_failed(&self, error: &TransportError, sink: Sink) -> Report {
        let class = FailureClass::transport(error.timeout);
        let mut api_error = transport_error(error);
        api_error.message = self.scrubbed(&api_error.message);
        self.failed(api_error, class, None, class.as_str(), sink)
    }

    /// A failure the adapter classified.
    pub fn adapter_failed(&self, error: &AdapterError, sink: Sink) -> Report {
        let mut api_error = ApiError::from_upstream(error);
        api_error.message = self.scrubbed(&api_error.message);
        match FailureClass::of(error.kind) {
            Some(class) => self.failed(
                api_error,
                class,
                error.retry_after_ms,
                failure::kind_label(error.kind),
                sink,
            ),
            None => Outcome::ClientError(self.request.fail(sink, &api_error)).into(),
        }
    }

    /// A non-2xx reply: classified by the adapter; failed over, or given to the client (a
    /// forwarded request gets the provider's own error body, secrets removed).
    fn upstream_failure(
        &self,
        target: &Target,
        mut reply: UpstreamResponse,
        forwarded: bool,
        sink: Sink,
    ) -> Report {
        let (error, body) = upstream::refusal(&target.kind, &mut reply);
        let mut api_error = ApiError::from_upstream(&error);
        api_error.message = self.scrubbed(&api_error.message);
        let observed = Observed::of_adapter(&error);
        if let Some(seen) = observed
            && self.request.config.fails_over(seen.class)
        {
            return Report {
                outcome: Outcome::Retry(api_error, sink),
                observed,
                usage: None,
            };
        }
        match sink {
            Sink::Pending(out) if forwarded && error.kind != ErrorKind::Auth => {
                api_error.log();
                let body = self.redactor.bytes(&body).into_owned();
                transport::respond(
                    out,
                    reply.status,
                    json_headers(&self.request.headers),
                    &body,
                );
            }
            sink => {
                self.request.fail(sink, &api_error);
            }
        }
        Report {
            outcome: Outcome::ClientError(failure::kind_label(error.kind)),
            observed,
            usage: None,
        }
    }
}
