//! The least a wasi:http@0.2 proxy component does: `GET /hello` answers `hello`; anything else is
//! read whole and sent, as a POST with the same path and body, to `FLOOR_UPSTREAM` (host:port),
//! whose answer is read whole and returned. Any failure is a 502.

use std::sync::OnceLock;

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    Fields, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingRequest, OutgoingResponse,
    ResponseOutparam, Scheme,
};
use wasip2::io::streams::InputStream;

wasip2::http::proxy::export!(Floor);

struct Floor;

/// The upstream's `host:port`, read once per instance.
fn upstream() -> &'static str {
    static UPSTREAM: OnceLock<String> = OnceLock::new();
    UPSTREAM.get_or_init(|| {
        wasip2::cli::environment::get_environment()
            .into_iter()
            .find(|(name, _)| name == "FLOOR_UPSTREAM")
            .map(|(_, value)| value)
            .unwrap_or_else(|| "127.0.0.1:8080".to_string())
    })
}

fn read_all(stream: &InputStream) -> Vec<u8> {
    let mut bytes = Vec::new();
    while let Ok(chunk) = stream.blocking_read(64 * 1024) {
        bytes.extend(chunk);
    }
    bytes
}

fn json_headers() -> Fields {
    let headers = Fields::new();
    let _ = headers.append("content-type", b"application/json");
    headers
}

/// Answers `status` with `body`.
fn reply(outparam: ResponseOutparam, status: u16, headers: Fields, body: &[u8]) {
    let response = OutgoingResponse::new(headers);
    let _ = response.set_status_code(status);
    let Ok(outgoing) = response.body() else {
        return;
    };
    ResponseOutparam::set(outparam, Ok(response));
    if let Ok(stream) = outgoing.write() {
        for chunk in body.chunks(4096) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                break;
            }
        }
    }
    let _ = OutgoingBody::finish(outgoing, None);
}

/// The upstream's answer to a POST of `body` to `path`.
fn forward(path: Option<String>, body: &[u8]) -> Option<Vec<u8>> {
    let request = OutgoingRequest::new(json_headers());
    request.set_method(&Method::Post).ok()?;
    request.set_scheme(Some(&Scheme::Http)).ok()?;
    request.set_authority(Some(upstream())).ok()?;
    request.set_path_with_query(path.as_deref()).ok()?;
    let outgoing = request.body().ok()?;
    {
        let stream = outgoing.write().ok()?;
        for chunk in body.chunks(4096) {
            stream.blocking_write_and_flush(chunk).ok()?;
        }
    }
    OutgoingBody::finish(outgoing, None).ok()?;
    let pending = outgoing_handler::handle(request, None).ok()?;
    let response = loop {
        if let Some(answer) = pending.get() {
            break answer.ok()?.ok()?;
        }
        pending.subscribe().block();
    };
    let incoming = response.consume().ok()?;
    let stream = incoming.stream().ok()?;
    let answer = read_all(&stream);
    drop(stream);
    IncomingBody::finish(incoming);
    Some(answer)
}

impl wasip2::exports::http::incoming_handler::Guest for Floor {
    fn handle(request: IncomingRequest, outparam: ResponseOutparam) {
        let path = request.path_with_query();
        if path.as_deref() == Some("/hello") {
            return reply(outparam, 200, Fields::new(), b"hello");
        }
        let Ok(incoming) = request.consume() else {
            return reply(outparam, 400, Fields::new(), b"no body");
        };
        let body = match incoming.stream() {
            Ok(stream) => read_all(&stream),
            Err(()) => Vec::new(),
        };
        IncomingBody::finish(incoming);
        match forward(path, &body) {
            Some(answer) => reply(outparam, 200, json_headers(), &answer),
            None => reply(outparam, 502, Fields::new(), b"upstream failed"),
        }
    }
}
