//! One chat request through its targets: forward when the provider speaks the client's protocol,
//! translate otherwise; fail over to the next key or target until a byte reaches the client.

use apex_adapter_kit::types::{
    AdapterError, ChatRequest, ChatResponse, ErrorKind, HttpRequest, StreamEvent, Target,
};
use wasip2::http::types::ResponseOutparam;

use crate::bindings::{adapter, kv};
use crate::config::{Config, ECHO_MODEL, Provider, Strategy, Timeouts};
use crate::http::Client;
use crate::http::error::{ApiError, scrub};
use crate::http::reply::{json_headers, send_error, stream_headers};
use crate::http::transport::{self, ClientResponse, TransportError, UpstreamResponse, Waited};
use crate::platform::{KV_STORE, monotonic_ms, now_secs, random_id};
use crate::routing::accumulate::Accumulator;
use crate::routing::failure::{self, FailureClass};
use crate::routing::health::{self, Cooldown, Subject};
use crate::routing::strategy::{self, RoutingState};
use crate::routing::targets::{self, Attempt};
use crate::state::cache::{self, CachedResponse};
use crate::state::shared;
use crate::state::stats::{self, CacheOutcome, Event};
use crate::surfaces::{Completed, Routing, StreamWriter, Surface};

/// Upstream bodies we buffer (non-streamed replies, error bodies) are bounded by this.
pub const MAX_UPSTREAM_BODY: usize = 64 * 1024 * 1024;

/// Next start index for a provider's keys: a counter in the key-value store, so rotation holds
/// across instances. Failures fall back to the first key.
pub fn rotation(provider: &Provider) -> usize {
    let Ok(bucket) = kv::open(KV_STORE) else {
        return 0;
    };
    let key = format!("apex:rotation:{}", provider.name);
    let current = bucket
        .get(&key)
        .ok()
        .flatten()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.parse::<u64>().ok())
        .unwrap_or(0);
    let _ = bucket.set(&key, (current.wrapping_add(1)).to_string().as_bytes());
    current as usize
}

pub fn target(attempt: &Attempt, timeouts: &Timeouts) -> Result<Target, AdapterError> {
    target_for(attempt.provider, attempt.key_index, timeouts)
}

/// The target for `provider`'s key `key_index` (its credential resolved).
pub fn target_for(
    provider: &Provider,
    key_index: usize,
    timeouts: &Timeouts,
) -> Result<Target, AdapterError> {
    Ok(Target {
        kind: provider.kind.clone(),
        profile: provider.profile.clone(),
        base_url: provider.base_url.clone(),
        api_key: crate::routing::credentials::for_key(provider, key_index, timeouts)?,
        api_version: provider.api_version.clone(),
        headers: provider.headers.clone(),
    })
}

fn transport_error(error: &TransportError) -> ApiError {
    if error.timeout {
        ApiError::new(504, "api_error", "The upstream provider timed out.").code("upstream_timeout")
    } else {
        ApiError::bad_gateway(format!(
            "Could not reach the upstream provider ({}).",
            error.message
        ))
    }
}

/// Headers for a forwarded reply: the provider's content type (a stream may come back as JSON when
/// a provider ignores `stream`), no caching, and CORS.
fn forwarded_headers(
    upstream: &UpstreamResponse,
    cors: &[(String, String)],
) -> Vec<(String, String)> {
    let content_type = apex_adapter_kit::http::header(&upstream.headers, "content-type")
        .unwrap_or("application/json");
    let mut headers = vec![
        ("content-type".to_string(), content_type.to_string()),
        ("cache-control".to_string(), "no-cache".to_string()),
    ];
    headers.extend_from_slice(cors);
    headers
}

fn remember_tail(tail: &mut [u8; 2], bytes: &[u8]) {
    match bytes {
        [.., a, b] => *tail = [*a, *b],
        [b] => *tail = [tail[1], *b],
        [] => {}
    }
}

/// Where the answer goes: nothing sent yet (status and headers still free), or an event stream
/// already committed to status 200 by keepalives while the provider was slow to start.
enum Sink {
    Pending(ResponseOutparam),
    Started(ClientResponse),
}

/// `Ok`: the client has its answer (or its error). `Err`: no content reached the client; the sink
/// comes back with the reason, for the next attempt.
type Outcome = Result<(), (ApiError, Sink)>;

struct Chat<'a, S: Surface> {
    config: &'a Config,
    /// The model name the client asked for (responses carry it back).
    alias: &'a str,
    body: &'a [u8],
    /// The request in neutral form, built the first time a target needs translation (forwarding
    /// never depends on it, so fields the neutral form cannot hold still reach same-protocol
    /// upstreams).
    neutral: std::cell::OnceCell<Result<ChatRequest, ApiError>>,
    routing: Routing,
    client: &'a Client<'a>,
    /// Headers every answer carries (CORS, `x-apex-cache`).
    headers: Vec<(String, String)>,
    /// Where a finished answer is cached, when the alias caches.
    cache: Option<CachePlan>,
    /// The failure of the latest attempt, for cooldowns and stats.
    observed: std::cell::Cell<Option<Observed>>,
    /// The kind of the error the client got, if it got one.
    client_error: std::cell::Cell<Option<&'static str>>,
    /// The provider and key of the attempt under way.
    current: std::cell::RefCell<Option<(String, usize)>>,
    /// The credential that attempt sends: scrubbed like the config's secrets (a Vertex AI access
    /// token exists only at run time).
    credential: std::cell::RefCell<Option<String>>,
    /// Monotonic milliseconds by which the whole request must be done.
    total_deadline: u64,
    /// ... and by which the current attempt's provider must have sent its first bytes (until it
    /// has: `first_bytes`).
    first_deadline: std::cell::Cell<u64>,
    first_bytes: std::cell::Cell<bool>,
    surface: std::marker::PhantomData<S>,
}

/// A cache entry to write when the answer completes.
struct CachePlan {
    key: String,
    ttl_secs: u64,
}

/// What went wrong in one attempt.
#[derive(Clone, Copy)]
struct Observed {
    class: Option<FailureClass>,
    retry_after_ms: Option<u64>,
    label: &'static str,
}

/// A chat request on surface `S` (`POST /v1/chat/completions`, `/v1/messages`, ...): cache,
/// strategy, cooldowns, then the attempts in order until one answers.
pub fn chat<S: Surface>(config: &Config, client: &Client, body: Vec<u8>, out: ResponseOutparam) {
    let started = monotonic_ms();
    // Only what routing needs; the full request is validated when a target translates it.
    let routing = match S::routing(&body).and_then(|routing| {
        targets::check_model_name(&routing.model)?;
        Ok(routing)
    }) {
        Ok(routing) => routing,
        Err(error) => return send_error(out, &error, S::ERRORS, client.cors),
    };
    let alias = routing.model.clone();
    let mut chat = Chat::<S> {
        config,
        alias: &alias,
        body: &body,
        neutral: std::cell::OnceCell::new(),
        routing,
        client,
        headers: client.cors.to_vec(),
        cache: None,
        observed: std::cell::Cell::new(None),
        client_error: std::cell::Cell::new(None),
        current: std::cell::RefCell::new(None),
        credential: std::cell::RefCell::new(None),
        total_deadline: started.saturating_add(config.timeouts.total.saturating_mul(1000)),
        first_deadline: std::cell::Cell::new(u64::MAX),
        first_bytes: std::cell::Cell::new(false),
        surface: std::marker::PhantomData,
    };

    let served_as = config.route_name(&alias);
    let served_as: &str = &served_as;
    let Some(spec) = config.alias(served_as) else {
        if served_as == ECHO_MODEL && config.echo_model {
            return chat.echo(out);
        }
        return send_error(out, &S::model_not_found(&alias), S::ERRORS, client.cors);
    };
    let name = stats::stats_name(config, served_as);
    let mut events: Vec<(String, String, usize, Option<&'static str>, u64)> = Vec::new();
    let mut cooldowns: Vec<(Subject, Cooldown)> = Vec::new();
    let mut cache_outcome = None;

    let answered = 'answer: {
        if spec.cache {
            match chat.plan_cache(served_as, spec.cache_ttl_secs) {
                Ok(Some(hit)) => {
                    chat.replay(&hit, out);
                    cache_outcome = Some(CacheOutcome::Hit);
                    break 'answer true;
                }
                Ok(None) => cache_outcome = Some(CacheOutcome::Miss),
                Err(error) => {
                    chat.fail(Sink::Pending(out), &error);
                    break 'answer false;
                }
            }
        }
        let state = RoutingState {
            counter: match spec.strategy {
                Strategy::RoundRobin => shared::next_counter(&name),
                _ => 0,
            },
            usage: match spec.strategy {
                Strategy::LeastUsed => shared::usage(&name),
                _ => Default::default(),
            },
        };
        let seed = wasip2::random::random::get_random_u64();
        let order = strategy::order(spec.strategy, &spec.targets, &state, seed);
        let mut attempts = match targets::ordered_attempts(config, &spec.targets, &order, rotation)
        {
            Ok(attempts) => attempts,
            Err(error) => {
                chat.fail(Sink::Pending(out), &error);
                break 'answer false;
            }
        };
        if let Some((provider, key_index)) = client.pin {
            attempts.retain(|a| a.provider.name == provider && a.key_index == key_index);
            if attempts.is_empty() {
                let error = ApiError::bad_request(format!(
                    "The previous response was made by provider `{provider}`, which does not serve model `{alias}`."
                ))
                .param("previous_response_id");
                chat.fail(Sink::Pending(out), &error);
                break 'answer false;
            }
        }
        let now = crate::platform::now_ms();
        let mut health = shared::health(&attempts);
        let attempts = match health.plan(attempts, now) {
            Ok(attempts) => attempts,
            Err(all) => {
                chat.fail(Sink::Pending(out), &all.error());
                chat.client_error.set(Some(stats::ALL_COOLING));
                break 'answer false;
            }
        };
        let mut last = ApiError::bad_gateway("No upstream provider could be tried.");
        let mut sink = Sink::Pending(out);
        for attempt in &attempts {
            chat.observed.set(None);
            let began = monotonic_ms();
            let outcome = chat.attempt(attempt, sink);
            let observed = chat.observed.take();
            events.push((
                attempt.provider.name.clone(),
                attempt.model.to_string(),
                attempt.key_index,
                observed.map(|o| o.label),
                monotonic_ms().saturating_sub(began),
            ));
            match observed {
                Some(Observed {
                    class: Some(class),
                    retry_after_ms,
                    ..
                }) => {
                    if let Some(subject) = health::subject_for(class, attempt, config) {
                        let existing = health.entries.get(&subject.kv_key()).copied();
                        let now = crate::platform::now_ms();
                        if let Some(entry) =
                            health::after_failure(existing, class, retry_after_ms, config, now)
                        {
                            shared::bench(&subject, entry);
                            health.insert(&subject, entry);
                            if entry.is_active(now) {
                                cooldowns.push((subject, entry));
                            }
                        }
                    }
                }
                // A success ends the runs of failures of its key and target.
                Some(_) => {}
                None if outcome.is_ok() => {
                    for subject in [
                        Subject::key(&attempt.provider.name, attempt.key_index),
                        Subject::target(attempt.target),
                    ] {
                        if health
                            .entries
                            .get(&subject.kv_key())
                            .is_some_and(|e| e.strikes > 0 && e.until_ms == 0)
                        {
                            shared::clear(&subject);
                        }
                    }
                }
                None => {}
            }
            match outcome {
                Ok(()) => break 'answer chat.client_error.get().is_none(),
                Err((error, back)) => {
                    last = error;
                    sink = back;
                }
            }
        }
        chat.fail(sink, &last);
        false
    };

    if config.stats {
        let mut batch: Vec<Event> = events
            .iter()
            .map(
                |(provider, model, key_index, error, latency_ms)| Event::Attempt {
                    alias: &name,
                    provider,
                    model,
                    key_index: *key_index,
                    error: *error,
                    latency_ms: *latency_ms,
                },
            )
            .collect();
        batch.extend(cooldowns.iter().map(|(subject, cooldown)| Event::Cooldown {
            subject,
            cooldown: *cooldown,
        }));
        batch.push(Event::Request {
            alias: &name,
            error: if answered {
                None
            } else {
                Some(chat.client_error.get().unwrap_or("server"))
            },
            latency_ms: monotonic_ms().saturating_sub(started),
            cache: cache_outcome,
        });
        shared::record(&name, &batch);
    }
}

impl<S: Surface> Chat<'_, S> {
    /// The request in neutral form (parsed and validated once).
    fn neutral(&self) -> Result<&ChatRequest, ApiError> {
        self.neutral
            .get_or_init(|| S::to_neutral(self.body))
            .as_ref()
            .map_err(Clone::clone)
    }

    fn writer(&self, id: String) -> S::Writer {
        S::writer(id, self.alias.to_string(), now_secs(), &self.routing)
    }

    /// Report `error`: an error response, or an error event when the stream already started.
    fn fail(&self, sink: Sink, error: &ApiError) {
        if self.client_error.get().is_none() {
            self.client_error.set(Some(failure::client_label(error)));
        }
        match sink {
            Sink::Pending(out) => send_error(out, error, S::ERRORS, &self.headers),
            Sink::Started(mut client) => {
                let mut bytes = Vec::new();
                self.writer(String::new()).error(error, &mut bytes);
                client.write(&bytes);
                client.finish();
            }
        }
    }

    /// A complete response (status and body), unless a stream already started.
    fn respond(&self, sink: Sink, status: u16, headers: Vec<(String, String)>, body: &[u8]) {
        match sink {
            Sink::Pending(out) => transport::respond(out, status, headers, body),
            Sink::Started(mut client) => {
                client.write(body);
                client.finish();
            }
        }
    }

    /// The client's event stream, started now if it was not yet.
    fn stream_to(&self, sink: Sink, headers: &[(String, String)]) -> ClientResponse {
        match sink {
            Sink::Pending(out) => ClientResponse::start(out, 200, headers),
            Sink::Started(client) => client,
        }
    }

    /// Send a keepalive on the event stream, starting it if needed. `None`: the client left.
    fn keepalive(&self, sink: Sink) -> Option<Sink> {
        let mut bytes = Vec::new();
        S::keepalive(&mut bytes);
        let mut client =
            self.stream_to(sink, &stream_headers(S::STREAM_CONTENT_TYPE, &self.headers));
        if client.write(&bytes) {
            Some(Sink::Started(client))
        } else {
            client.finish();
            None
        }
    }

    /// How long a streaming client may wait in silence before a keepalive (`None`: never).
    fn keepalive_ns(&self) -> Option<u64> {
        let secs = self.config.keepalive_secs;
        (self.routing.stream && S::KEEPALIVE && secs > 0).then(|| secs * 1_000_000_000)
    }

    /// The deadline that applies now (first bytes, else the whole request), in monotonic ms.
    fn deadline(&self) -> u64 {
        if self.first_bytes.get() {
            self.total_deadline
        } else {
            self.first_deadline.get().min(self.total_deadline)
        }
    }

    /// How long to wait before doing something (a keepalive, or giving up at the deadline):
    /// `(nanoseconds, whether it is the deadline)`.
    fn next_wake(&self) -> (u64, bool) {
        let left_ns = self
            .deadline()
            .saturating_sub(monotonic_ms())
            .saturating_mul(1_000_000);
        match self.keepalive_ns() {
            Some(keepalive) if keepalive < left_ns => (keepalive, false),
            _ => (left_ns, true),
        }
    }

    fn deadline_error(&self) -> TransportError {
        if self.first_bytes.get() {
            TransportError::deadline("the request took longer than total_timeout_secs")
        } else {
            TransportError::deadline("no answer within first_token_timeout_secs")
        }
    }

    fn echo(&self, out: ResponseOutparam) {
        let neutral = match self.neutral() {
            Ok(neutral) => neutral,
            Err(error) => return self.fail(Sink::Pending(out), &error),
        };
        let id = random_id(S::ID_PREFIX);
        let created = now_secs();
        let response = crate::routing::echo::respond(neutral, &id);
        // Stored before the client has it, so its next request can already use it.
        self.finished(&id, created, &response);
        if self.routing.stream {
            let mut writer = self.writer(id.clone());
            let mut bytes = Vec::new();
            for event in crate::routing::echo::stream(neutral, &id) {
                writer.event(&event, &mut bytes);
            }
            writer.done(&mut bytes);
            transport::respond(
                out,
                200,
                stream_headers(S::STREAM_CONTENT_TYPE, &self.headers),
                &bytes,
            );
        } else {
            let body = S::render(&response, &id, self.alias, created, &self.routing);
            transport::respond(out, 200, json_headers(&self.headers), &body);
        }
    }

    /// Note a provider failure; `Err` to try the next attempt when the gateway fails over on
    /// this class, else the client gets `error` now.
    fn failed(
        &self,
        error: ApiError,
        class: FailureClass,
        retry_after_ms: Option<u64>,
        label: &'static str,
        sink: Sink,
    ) -> Outcome {
        self.observed.set(Some(Observed {
            class: Some(class),
            retry_after_ms,
            label,
        }));
        if self.config.fails_over(class) {
            return Err((error, sink));
        }
        self.fail(sink, &error);
        Ok(())
    }

    /// A connection failure or timeout.
    fn transport_failed(&self, error: &TransportError, sink: Sink) -> Outcome {
        let class = FailureClass::transport(error.timeout);
        self.failed(transport_error(error), class, None, class.as_str(), sink)
    }

    /// A failure the adapter classified.
    fn adapter_failed(&self, error: &AdapterError, sink: Sink) -> Outcome {
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
            None => {
                self.fail(sink, &api_error);
                Ok(())
            }
        }
    }

    /// Keep the provider and key that made a forwarded answer's id, so follow-ups (GET, chains)
    /// go there. `true` once the id was found in `bytes`.
    fn pin_id(&self, bytes: &[u8]) -> bool {
        if !S::PINS_IDS {
            return true;
        }
        let Some(id) = crate::surfaces::responses::provider_response_id(bytes) else {
            return false;
        };
        let Some((provider, key_index)) = self.current.borrow().clone() else {
            return true;
        };
        let route = crate::surfaces::responses::Route {
            provider,
            key_index,
            owner: self.client.caller.to_string(),
            expires_at: now_secs().saturating_add(self.config.responses_ttl_secs),
        };
        if let (Ok(bucket), Ok(value)) = (kv::open(KV_STORE), serde_json::to_vec(&route)) {
            let _ = bucket.set(&crate::surfaces::responses::route_key(&id), &value);
        }
        true
    }

    /// Whether finished answers must be collected (to store or to cache them).
    fn keeps_answers(&self) -> bool {
        S::STORES || self.cache.is_some()
    }

    /// A finished answer (`id` is the one the client saw): stored by the surface, cached.
    fn finished(&self, id: &str, created: u64, response: &ChatResponse) {
        if let Some(plan) = &self.cache
            && cache::storable(response)
        {
            let entry =
                CachedResponse::new(response.clone(), crate::platform::now_ms(), plan.ttl_secs);
            shared::cache(&plan.key, &entry);
        }
        if !S::STORES {
            return;
        }
        let done = Completed {
            id,
            created,
            model: self.alias,
            caller: self.client.caller,
            body: self.body,
            routing: &self.routing,
            response,
            ttl_secs: self.config.responses_ttl_secs,
        };
        if let Some((key, value)) = S::record(&done)
            && let Ok(bucket) = kv::open(KV_STORE)
        {
            // A store failure must not fail an answer the client already has.
            let _ = bucket.set(&key, &value);
        }
    }

    /// `text` without the config's secrets and the credential of the attempt under way.
    fn scrubbed(&self, text: &str) -> String {
        let credential = self.credential.borrow();
        let mut secrets = self.config.secrets();
        secrets.extend(credential.as_deref());
        scrub(text, &secrets)
    }

    /// One attempt.
    fn attempt(&self, attempt: &Attempt, sink: Sink) -> Outcome {
        let mut target = match target(attempt, &self.config.timeouts) {
            Ok(target) => target,
            Err(error) => return self.adapter_failed(&error, sink),
        };
        S::forward_target(&mut target, attempt.provider, self.client.headers);
        *self.current.borrow_mut() = Some((attempt.provider.name.clone(), attempt.key_index));
        *self.credential.borrow_mut() = Some(target.api_key.clone());
        // A request this target cannot take (unsupported feature, fields the translation cannot
        // carry) may still suit the next target: nothing was sent, so move on.
        let (request, forwarded) = match self.build(&target, attempt.provider, attempt.model) {
            Ok(built) => built,
            Err(error) => return Err((error, sink)),
        };
        if !crate::http::url::same_origin(&request.url, &target.base_url) {
            let error = ApiError::bad_gateway(format!(
                "Refused: the `{}` adapter built a request outside provider `{}`'s origin.",
                target.kind, attempt.provider.name
            ));
            self.fail(sink, &error);
            return Ok(());
        }
        self.first_bytes.set(false);
        self.first_deadline.set(
            monotonic_ms().saturating_add(self.config.timeouts.first_token.saturating_mul(1000)),
        );
        let pending = match transport::start(&request, &self.config.timeouts) {
            Ok(pending) => pending,
            Err(error) => return self.transport_failed(&error, sink),
        };
        let mut sink = sink;
        let upstream = loop {
            let (wake, is_deadline) = self.next_wake();
            match pending.wait(Some(wake)) {
                Waited::Ready(Ok(upstream)) => break upstream,
                Waited::Ready(Err(error)) => return self.transport_failed(&error, sink),
                Waited::TimedOut if is_deadline => {
                    return self.transport_failed(&self.deadline_error(), sink);
                }
                Waited::TimedOut => match self.keepalive(sink) {
                    Some(next) => sink = next,
                    None => return Ok(()),
                },
            }
        };
        // A non-streamed answer's status line is its first sign of life.
        if !self.routing.stream {
            self.first_bytes.set(true);
        }
        if !(200..300).contains(&upstream.status) {
            return self.upstream_failure(&target, upstream, forwarded, sink);
        }
        match (forwarded, self.routing.stream) {
            (true, true) => self.pipe(&target, upstream, sink),
            (true, false) => self.forward_body(&target, upstream, sink),
            (false, false) => self.translate_body(&target, upstream, sink),
            (false, true) => self.translate_stream(&target, upstream, sink),
        }
    }

    /// The upstream request: forwarded when the provider speaks the client's protocol, translated
    /// otherwise.
    fn build(
        &self,
        target: &Target,
        provider: &Provider,
        model: &str,
    ) -> Result<(HttpRequest, bool), ApiError> {
        if S::forwards_to(provider, self.body) {
            let body = crate::surfaces::json::with_model(self.body, model)
                .map_err(|e| ApiError::bad_request(format!("Invalid request body: {e}")))?;
            match adapter::forward_request(target, S::PROTOCOL, S::FORWARD_PATH, &body) {
                Ok(request) => return Ok((request, true)),
                Err(error) if error.kind == ErrorKind::Unsupported => {}
                Err(error) => return Err(ApiError::from_upstream(&error)),
            }
        }
        let mut neutral = self.neutral()?.clone();
        neutral.model = model.to_string();
        adapter::build_request(target, &neutral)
            .map(|request| (request, false))
            .map_err(|error| ApiError::from_upstream(&error))
    }

    fn upstream_failure(
        &self,
        target: &Target,
        mut upstream: UpstreamResponse,
        forwarded: bool,
        sink: Sink,
    ) -> Outcome {
        let body = upstream.read_all(MAX_UPSTREAM_BODY).unwrap_or_default();
        let error = match adapter::parse_response(
            &target.kind,
            upstream.status,
            &upstream.headers,
            &body,
        ) {
            Err(error) => error,
            Ok(_) => apex_adapter_kit::http::upstream_error(
                apex_adapter_kit::http::kind_for_status(upstream.status),
                upstream.status,
                &upstream.headers,
                format!("upstream returned HTTP {}", upstream.status),
            ),
        };
        let mut api_error = ApiError::from_upstream(&error);
        api_error.message = self.scrubbed(&api_error.message);
        if let Some(class) = FailureClass::of(error.kind) {
            self.observed.set(Some(Observed {
                class: Some(class),
                retry_after_ms: error.retry_after_ms,
                label: failure::kind_label(error.kind),
            }));
            if self.config.fails_over(class) {
                return Err((api_error, sink));
            }
        }
        self.client_error.set(Some(failure::kind_label(error.kind)));
        match sink {
            Sink::Pending(out) if forwarded && error.kind != ErrorKind::Auth => {
                // Same protocol: the client gets the provider's own error body (secrets removed).
                let text = self.scrubbed(&String::from_utf8_lossy(&body));
                transport::respond(
                    out,
                    upstream.status,
                    json_headers(&self.headers),
                    text.as_bytes(),
                );
            }
            sink => self.fail(sink, &api_error),
        }
        Ok(())
    }

    fn forward_body(&self, target: &Target, mut upstream: UpstreamResponse, sink: Sink) -> Outcome {
        match upstream.read_all(MAX_UPSTREAM_BODY) {
            Ok(body) => {
                let headers = forwarded_headers(&upstream, &self.headers);
                self.pin_id(&body);
                if self.keeps_answers()
                    && let Ok(response) = adapter::parse_response(
                        &target.kind,
                        upstream.status,
                        &upstream.headers,
                        &body,
                    )
                {
                    self.finished(&response.id.clone(), now_secs(), &response);
                }
                self.respond(sink, upstream.status, headers, &body);
                Ok(())
            }
            Err(error) => self.transport_failed(&error, sink),
        }
    }

    /// The next bytes of a provider's stream, sending keepalives to the client while it is
    /// silent. `Err(None)`: the client left.
    fn next_chunk(
        &self,
        upstream: &mut UpstreamResponse,
        sink: &mut Option<Sink>,
        may_keepalive: &dyn Fn() -> bool,
    ) -> Result<Option<Vec<u8>>, Option<TransportError>> {
        loop {
            let (wake, is_deadline) = self.next_wake();
            match upstream.read_within(wake) {
                Waited::Ready(Ok(Some(chunk))) if chunk.is_empty() => continue,
                Waited::Ready(result) => {
                    self.first_bytes.set(true);
                    return result.map_err(Some);
                }
                Waited::TimedOut if is_deadline => return Err(Some(self.deadline_error())),
                Waited::TimedOut if may_keepalive() => {
                    let Some(current) = sink.take() else {
                        return Err(None);
                    };
                    match self.keepalive(current) {
                        Some(next) => *sink = Some(next),
                        None => return Err(None),
                    }
                }
                Waited::TimedOut => {}
            }
        }
    }

    /// Same-protocol stream: bytes go to the client as they arrive, untouched (keepalives go only
    /// between complete events). When answers are kept, a decoder reads along.
    fn pipe(&self, target: &Target, mut upstream: UpstreamResponse, sink: Sink) -> Outcome {
        let headers = forwarded_headers(&upstream, &self.headers);
        let mut reader = self.keeps_answers().then(|| {
            (
                adapter::StreamDecoder::new(&target.kind),
                Accumulator::default(),
            )
        });
        let mut read_along = |chunk: &[u8], end: bool| {
            if let Some((decoder, whole)) = reader.as_mut() {
                let events = if end {
                    decoder.finish()
                } else {
                    decoder.feed(chunk)
                };
                match events {
                    Ok(events) => events.iter().for_each(|e| whole.push(e)),
                    Err(_) => reader = None,
                }
            }
        };
        let mut sink = Some(sink);
        // Wait for the first bytes before committing, so a connection that dies at once fails over.
        let first = match self.next_chunk(&mut upstream, &mut sink, &|| true) {
            Ok(Some(chunk)) => chunk,
            Ok(None) => {
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
                    None => Ok(()),
                };
            }
            Err(None) => return Ok(()),
            Err(Some(error)) => {
                return match sink {
                    Some(sink) => self.transport_failed(&error, sink),
                    None => Ok(()),
                };
            }
        };
        let Some(sink) = sink else { return Ok(()) };
        let mut client = match sink {
            Sink::Pending(out) => ClientResponse::start(out, upstream.status, &headers),
            Sink::Started(client) => client,
        };
        // The last two bytes sent: `\n\n` means the client is between events.
        let mut tail = [0u8; 2];
        remember_tail(&mut tail, &first);
        read_along(&first, false);
        // The provider's response id is in its first event (kept for follow-ups).
        let mut head = S::PINS_IDS.then(|| first.clone());
        if head.as_deref().is_some_and(|h| self.pin_id(h)) {
            head = None;
        }
        let mut complete = false;
        if client.write(&first) {
            let mut sink = Some(Sink::Started(client));
            loop {
                let boundary = tail == *b"\n\n";
                match self.next_chunk(&mut upstream, &mut sink, &|| boundary) {
                    Ok(Some(chunk)) => {
                        remember_tail(&mut tail, &chunk);
                        read_along(&chunk, false);
                        if let Some(buffer) = head.as_mut() {
                            buffer.extend_from_slice(&chunk);
                            if self.pin_id(buffer) || buffer.len() > 64 * 1024 {
                                head = None;
                            }
                        }
                        let Some(Sink::Started(client)) = sink.as_mut() else {
                            break;
                        };
                        if !client.write(&chunk) {
                            break;
                        }
                    }
                    Ok(None) => {
                        complete = true;
                        break;
                    }
                    Err(None) => break,
                    Err(Some(error)) => {
                        let mut bytes = Vec::new();
                        self.writer(String::new())
                            .error(&transport_error(&error), &mut bytes);
                        if let Some(Sink::Started(client)) = sink.as_mut() {
                            client.write(&bytes);
                        }
                        break;
                    }
                }
            }
            if let Some(Sink::Started(client)) = sink {
                client.finish();
            }
        } else {
            client.finish();
        }
        if complete {
            read_along(&[], true);
            if let Some(response) = reader.and_then(|(_, whole)| whole.finish()) {
                self.finished(&response.id.clone(), now_secs(), &response);
            }
        }
        Ok(())
    }

    fn translate_body(
        &self,
        target: &Target,
        mut upstream: UpstreamResponse,
        sink: Sink,
    ) -> Outcome {
        let body = match upstream.read_all(MAX_UPSTREAM_BODY) {
            Ok(body) => body,
            Err(error) => return self.transport_failed(&error, sink),
        };
        match adapter::parse_response(&target.kind, upstream.status, &upstream.headers, &body) {
            Ok(response) => {
                let id = random_id(S::ID_PREFIX);
                let created = now_secs();
                let rendered = S::render(&response, &id, self.alias, created, &self.routing);
                // Stored before the client has it, so its next request can already use it.
                self.finished(&id, created, &response);
                self.respond(sink, 200, json_headers(&self.headers), &rendered);
                Ok(())
            }
            // A 2xx reply that does not parse (or an error inside one): another target may do
            // better.
            Err(error) => self.adapter_failed(&error, sink),
        }
    }

    /// Another protocol's stream, decoded to neutral events and rendered in the client's protocol.
    /// Nothing but keepalives is sent until the first content decodes, so an early failure can
    /// still fail over.
    fn translate_stream(
        &self,
        target: &Target,
        mut upstream: UpstreamResponse,
        sink: Sink,
    ) -> Outcome {
        let decoder = adapter::StreamDecoder::new(&target.kind);
        let id = random_id(S::ID_PREFIX);
        let created = now_secs();
        let mut writer = S::writer(id.clone(), self.alias.to_string(), created, &self.routing);
        // The whole answer, for surfaces that store it and aliases that cache.
        let mut whole = self.keeps_answers().then(Accumulator::default);
        let mut pending = Vec::new();
        // `Pending` or keepalive-`Started` until content flows; then `content` is set.
        let mut sink = Some(sink);
        let mut content = false;
        let mut finished = false;
        loop {
            let step: Result<(Vec<StreamEvent>, bool), Failure> =
                match self.next_chunk(&mut upstream, &mut sink, &|| true) {
                    Ok(Some(chunk)) => decoder
                        .feed(&chunk)
                        .map(|events| (events, false))
                        .map_err(Failure::Adapter),
                    Ok(None) => decoder
                        .finish()
                        .map(|events| (events, true))
                        .map_err(Failure::Adapter),
                    Err(None) => return Ok(()),
                    // The answer is complete; a connection dropped after it changes nothing.
                    Err(Some(_)) if finished => Ok((Vec::new(), true)),
                    Err(Some(error)) => Err(Failure::Transport(error)),
                };
            let (events, end) = match step {
                Ok(step) => step,
                Err(failure) => {
                    let Some(current) = sink.take() else {
                        return Ok(());
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
                    error.message = self.scrubbed(&error.message);
                    self.client_error.set(Some(failure::client_label(&error)));
                    if let Sink::Started(mut client) = current {
                        writer.error(&error, &mut pending);
                        client.write(&pending);
                        client.finish();
                    }
                    return Ok(());
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
                self.finished(&id, created, &response);
            }
            if end && finished {
                writer.done(&mut pending);
            }
            if !pending.is_empty() || end {
                let Some(current) = sink.take() else {
                    return Ok(());
                };
                let mut client = self.stream_to(
                    current,
                    &stream_headers(S::STREAM_CONTENT_TYPE, &self.headers),
                );
                content = true;
                if !client.write(&pending) {
                    client.finish();
                    return Ok(());
                }
                pending.clear();
                if end {
                    client.finish();
                    return Ok(());
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
        Ok(())
    }

    /// Look the request up in the cache (unless the client said `no-cache`); plan to cache the
    /// answer (unless it said `no-store`). `Ok(Some)`: a fresh answer to replay.
    fn plan_cache(
        &mut self,
        served_as: &str,
        ttl_secs: u64,
    ) -> Result<Option<ChatResponse>, ApiError> {
        let control = cache::cache_control(self.client.headers);
        let mut request = self.neutral()?.clone();
        request.model = served_as.to_string();
        let key = cache::cache_key(self.client.caller, &request, "neutral");
        if control.read
            && let Some(hit) = shared::cached(&key, crate::platform::now_ms())
        {
            self.headers
                .push((cache::CACHE_HEADER.to_string(), "hit".to_string()));
            return Ok(Some(hit.response));
        }
        self.headers
            .push((cache::CACHE_HEADER.to_string(), "miss".to_string()));
        if control.write {
            self.cache = Some(CachePlan { key, ttl_secs });
        }
        Ok(None)
    }

    /// Answer from the cache: the stored answer rendered (or replayed as a stream) in the
    /// client's protocol.
    fn replay(&self, hit: &ChatResponse, out: ResponseOutparam) {
        let id = random_id(S::ID_PREFIX);
        let created = now_secs();
        self.finished(&id, created, hit);
        if self.routing.stream {
            let mut writer = S::writer(id.clone(), self.alias.to_string(), created, &self.routing);
            let mut bytes = Vec::new();
            for event in cache::replay_events(hit) {
                writer.event(&event, &mut bytes);
            }
            writer.done(&mut bytes);
            transport::respond(
                out,
                200,
                stream_headers(S::STREAM_CONTENT_TYPE, &self.headers),
                &bytes,
            );
        } else {
            let body = S::render(hit, &id, self.alias, created, &self.routing);
            transport::respond(out, 200, json_headers(&self.headers), &body);
        }
    }
}

/// Why a translated stream broke.
enum Failure {
    Adapter(AdapterError),
    Transport(TransportError),
}
