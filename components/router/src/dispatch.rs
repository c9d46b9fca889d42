//! One chat request through its targets: forward when the provider speaks the client's protocol,
//! translate otherwise; fail over to the next key or target until a byte reaches the client.

use apex_adapter_kit::types::{ChatRequest, ErrorKind, HttpRequest, Protocol, StreamEvent, Target};
use wasip2::http::types::ResponseOutparam;

use crate::bindings::{adapter, kv};
use crate::config::{Config, ECHO_MODEL, Provider};
use crate::error::{ApiError, scrub};
use crate::routing::{self, Attempt};
use crate::server::send_error;
use crate::surfaces::openai_chat::{self, ChunkWriter};
use crate::transport::{self, ClientResponse, TransportError, UpstreamResponse};

/// Upstream bodies we buffer (non-streamed replies, error bodies) are bounded by this.
const MAX_UPSTREAM_BODY: usize = 64 * 1024 * 1024;
const KV_STORE: &str = "default";

fn random_id(prefix: &str) -> String {
    let a = wasip2::random::random::get_random_u64();
    let b = wasip2::random::random::get_random_u64();
    format!("{prefix}{a:016x}{b:08x}")
}

fn now_secs() -> u64 {
    wasip2::clocks::wall_clock::now().seconds
}

/// Next start index for a provider's keys: a counter in the key-value store, so rotation holds
/// across instances. Failures fall back to the first key.
fn rotation(provider: &Provider) -> usize {
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

fn target(attempt: &Attempt) -> Target {
    let provider = attempt.provider;
    Target {
        kind: provider.kind.clone(),
        profile: provider.profile.clone(),
        base_url: provider.base_url.clone(),
        api_key: provider
            .keys
            .get(attempt.key_index)
            .cloned()
            .unwrap_or_default(),
        api_version: provider.api_version.clone(),
        headers: provider.headers.clone(),
    }
}

/// Whether another key or target may succeed where this one failed.
fn retryable(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::RateLimited
            | ErrorKind::Overloaded
            | ErrorKind::Server
            | ErrorKind::Auth
            | ErrorKind::NotFound
            | ErrorKind::MalformedReply
    )
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

fn sse_headers(cors: &[(String, String)]) -> Vec<(String, String)> {
    let mut headers = vec![
        ("content-type".to_string(), "text/event-stream".to_string()),
        ("cache-control".to_string(), "no-cache".to_string()),
    ];
    headers.extend_from_slice(cors);
    headers
}

fn json_headers(cors: &[(String, String)]) -> Vec<(String, String)> {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    headers.extend_from_slice(cors);
    headers
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

/// `Ok`: the client has its answer (or its error). `Err`: nothing reached the client; the
/// outparam comes back with the reason, for the next attempt.
type Outcome = Result<(), (ApiError, ResponseOutparam)>;

struct Chat<'a> {
    config: &'a Config,
    alias: &'a str,
    body: &'a [u8],
    /// The request in neutral form, built the first time a target needs translation (forwarding
    /// never depends on it, so fields the neutral form cannot hold still reach OpenAI upstreams).
    neutral: std::cell::OnceCell<Result<ChatRequest, ApiError>>,
    stream: bool,
    include_usage: bool,
    cors: &'a [(String, String)],
}

/// `POST /v1/chat/completions`.
pub fn chat_completions(
    config: &Config,
    _caller: &str,
    body: Vec<u8>,
    out: ResponseOutparam,
    cors: &[(String, String)],
) {
    // Only what routing needs; the full request is validated when a target translates it.
    let routing = match openai_chat::parse_json::<openai_chat::RoutingFields>(&body) {
        Ok(routing) => routing,
        Err(error) => return send_error(out, &error, cors),
    };
    let alias = routing.model.clone();
    let chat = Chat {
        config,
        alias: &alias,
        body: &body,
        neutral: std::cell::OnceCell::new(),
        stream: routing.stream(),
        include_usage: routing.include_usage(),
        cors,
    };

    let targets = match config.targets(&alias) {
        Some(targets) => targets,
        None if alias == ECHO_MODEL && config.echo_model => return chat.echo(out),
        None => return send_error(out, &ApiError::model_not_found(&alias), cors),
    };
    let attempts = match routing::attempts(config, &targets, rotation) {
        Ok(attempts) => attempts,
        Err(error) => return send_error(out, &error, cors),
    };
    let mut last = ApiError::bad_gateway("No upstream provider could be tried.");
    let mut out = out;
    for attempt in &attempts {
        match chat.attempt(attempt, out) {
            Ok(()) => return,
            Err((error, back)) => {
                last = error;
                out = back;
            }
        }
    }
    send_error(out, &last, cors);
}

impl Chat<'_> {
    /// The request in neutral form (parsed and validated once).
    fn neutral(&self) -> Result<&ChatRequest, ApiError> {
        self.neutral
            .get_or_init(|| {
                let wire = openai_chat::parse_json::<openai_chat::WireRequest>(self.body)?;
                openai_chat::to_neutral(wire)
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    fn echo(&self, out: ResponseOutparam) {
        let neutral = match self.neutral() {
            Ok(neutral) => neutral,
            Err(error) => return send_error(out, &error, self.cors),
        };
        let id = random_id("chatcmpl-");
        if self.stream {
            let mut writer = ChunkWriter::new(
                id.clone(),
                self.alias.to_string(),
                now_secs(),
                self.include_usage,
            );
            let mut bytes = Vec::new();
            for event in crate::echo::stream(neutral, &id) {
                writer.event(&event, &mut bytes);
            }
            ChunkWriter::done(&mut bytes);
            transport::respond(out, 200, sse_headers(self.cors), &bytes);
        } else {
            let response = crate::echo::respond(neutral, &id);
            let body = openai_chat::render_response(&response, &id, self.alias, now_secs());
            transport::respond(out, 200, json_headers(self.cors), &body);
        }
    }

    fn secrets(&self) -> Vec<&str> {
        self.config.secrets()
    }

    /// One attempt.
    fn attempt(&self, attempt: &Attempt, out: ResponseOutparam) -> Outcome {
        let target = target(attempt);
        // A request this target cannot take (unsupported feature, fields the translation cannot
        // carry) may still suit the next target: nothing was sent, so move on.
        let (request, forwarded) = match self.build(&target, attempt.model) {
            Ok(built) => built,
            Err(error) => return Err((error, out)),
        };
        if !crate::url::same_origin(&request.url, &target.base_url) {
            let error = ApiError::bad_gateway(format!(
                "Refused: the `{}` adapter built a request outside provider `{}`'s origin.",
                target.kind, attempt.provider.name
            ));
            send_error(out, &error, self.cors);
            return Ok(());
        }
        let upstream = match transport::send(&request) {
            Ok(upstream) => upstream,
            Err(error) => return Err((transport_error(&error), out)),
        };
        if !(200..300).contains(&upstream.status) {
            return self.upstream_failure(&target, upstream, forwarded, out);
        }
        match (forwarded, self.stream) {
            (true, true) => self.pipe(upstream, out),
            (true, false) => self.forward_body(upstream, out),
            (false, false) => self.translate_body(&target, upstream, out),
            (false, true) => self.translate_stream(&target, upstream, out),
        }
    }

    /// The upstream request: forwarded when the provider speaks OpenAI chat, translated otherwise.
    fn build(&self, target: &Target, model: &str) -> Result<(HttpRequest, bool), ApiError> {
        let body = crate::json::with_model(self.body, model)
            .map_err(|e| ApiError::bad_request(format!("Invalid request body: {e}")))?;
        match adapter::forward_request(target, Protocol::OpenaiChat, "chat/completions", &body) {
            Ok(request) => return Ok((request, true)),
            Err(error) if error.kind == ErrorKind::Unsupported => {}
            Err(error) => return Err(ApiError::from_upstream(&error)),
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
        out: ResponseOutparam,
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
        api_error.message = scrub(&api_error.message, &self.secrets());
        if retryable(error.kind) {
            return Err((api_error, out));
        }
        if forwarded && error.kind != ErrorKind::Auth {
            // Same protocol: the client gets the provider's own error body (secrets removed).
            let text = scrub(&String::from_utf8_lossy(&body), &self.secrets());
            transport::respond(
                out,
                upstream.status,
                json_headers(self.cors),
                text.as_bytes(),
            );
        } else {
            send_error(out, &api_error, self.cors);
        }
        Ok(())
    }

    fn forward_body(&self, mut upstream: UpstreamResponse, out: ResponseOutparam) -> Outcome {
        match upstream.read_all(MAX_UPSTREAM_BODY) {
            Ok(body) => {
                transport::respond(
                    out,
                    upstream.status,
                    forwarded_headers(&upstream, self.cors),
                    &body,
                );
                Ok(())
            }
            Err(error) => Err((transport_error(&error), out)),
        }
    }

    /// Same-protocol stream: bytes go to the client as they arrive, untouched.
    fn pipe(&self, mut upstream: UpstreamResponse, out: ResponseOutparam) -> Outcome {
        // Wait for the first bytes before committing, so a connection that dies at once fails over.
        let first = match upstream.read() {
            Ok(Some(chunk)) => chunk,
            Ok(None) => {
                return Err((
                    ApiError::bad_gateway("The upstream provider sent an empty reply."),
                    out,
                ));
            }
            Err(error) => return Err((transport_error(&error), out)),
        };
        let mut client = ClientResponse::start(
            out,
            upstream.status,
            &forwarded_headers(&upstream, self.cors),
        );
        if client.write(&first) {
            loop {
                match upstream.read() {
                    Ok(Some(chunk)) => {
                        if !client.write(&chunk) {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(error) => {
                        let mut bytes = Vec::new();
                        ChunkWriter::error(&transport_error(&error), &mut bytes);
                        client.write(&bytes);
                        break;
                    }
                }
            }
        }
        client.finish();
        Ok(())
    }

    fn translate_body(
        &self,
        target: &Target,
        mut upstream: UpstreamResponse,
        out: ResponseOutparam,
    ) -> Outcome {
        let body = match upstream.read_all(MAX_UPSTREAM_BODY) {
            Ok(body) => body,
            Err(error) => return Err((transport_error(&error), out)),
        };
        match adapter::parse_response(&target.kind, upstream.status, &upstream.headers, &body) {
            Ok(response) => {
                let id = random_id("chatcmpl-");
                let rendered = openai_chat::render_response(&response, &id, self.alias, now_secs());
                transport::respond(out, 200, json_headers(self.cors), &rendered);
            }
            Err(error) => {
                // A 2xx reply that does not parse: another target may do better.
                let mut api_error = ApiError::from_upstream(&error);
                api_error.message = scrub(&api_error.message, &self.secrets());
                return Err((api_error, out));
            }
        }
        Ok(())
    }

    /// Another protocol's stream, decoded to neutral events and rendered as OpenAI chunks. Nothing
    /// is sent until the first event decodes, so an early failure can still fail over.
    fn translate_stream(
        &self,
        target: &Target,
        mut upstream: UpstreamResponse,
        out: ResponseOutparam,
    ) -> Outcome {
        let decoder = adapter::StreamDecoder::new(&target.kind);
        let id = random_id("chatcmpl-");
        let mut writer =
            ChunkWriter::new(id, self.alias.to_string(), now_secs(), self.include_usage);
        let mut pending = Vec::new();
        let mut client: Option<ClientResponse> = None;
        let mut out = Some(out);
        let mut finished = false;
        loop {
            let step: Result<(Vec<StreamEvent>, bool), ApiError> = match upstream.read() {
                Ok(Some(chunk)) => decoder
                    .feed(&chunk)
                    .map(|events| (events, false))
                    .map_err(|e| ApiError::from_upstream(&e)),
                Ok(None) => decoder
                    .finish()
                    .map(|events| (events, true))
                    .map_err(|e| ApiError::from_upstream(&e)),
                // The answer is complete; a connection dropped after it changes nothing.
                Err(_) if finished => Ok((Vec::new(), true)),
                Err(error) => Err(transport_error(&error)),
            };
            let (events, end) = match step {
                Ok(step) => step,
                Err(mut error) => {
                    error.message = scrub(&error.message, &self.secrets());
                    match client.take() {
                        None => {
                            if let Some(out) = out.take() {
                                return Err((error, out));
                            }
                            return Ok(());
                        }
                        Some(mut client) => {
                            ChunkWriter::error(&error, &mut pending);
                            client.write(&pending);
                            client.finish();
                            return Ok(());
                        }
                    }
                }
            };
            for event in events.iter() {
                if matches!(event, StreamEvent::Finish(_)) {
                    finished = true;
                }
                writer.event(event, &mut pending);
            }
            if end && finished {
                ChunkWriter::done(&mut pending);
            }
            if !pending.is_empty() || end {
                if client.is_none()
                    && let Some(out) = out.take()
                {
                    client = Some(ClientResponse::start(out, 200, &sse_headers(self.cors)));
                }
                if let Some(client) = client.as_mut()
                    && !client.write(&pending)
                {
                    break;
                }
                pending.clear();
            }
            if end {
                break;
            }
        }
        if let Some(client) = client {
            client.finish();
        }
        Ok(())
    }
}
