//! The least a wasi:http@0.2 proxy component does: `GET /hello` answers `hello`; anything else is
//! read whole and sent, as a POST with the same path and body, to `FLOOR_UPSTREAM` (host:port),
//! whose answer is relayed as it comes (each piece written once read, so a stream's first byte
//! is measurable). Any failure before the answer starts is a 502.

use std::sync::OnceLock;

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    Fields, IncomingBody, IncomingRequest, IncomingResponse, Method, OutgoingBody, OutgoingRequest,
    OutgoingResponse, ResponseOutparam, Scheme,
};
use wasip2::io::streams::{InputStream, OutputStream};

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

/// Writes `bytes`: at most 4096 in one `blocking-write-and-flush` call, more as the stream
/// permits (`check-write`, `write`), then one flush.
fn write(stream: &OutputStream, mut bytes: &[u8]) -> Option<()> {
    if bytes.len() <= 4096 {
        return stream.blocking_write_and_flush(bytes).ok();
    }
    while !bytes.is_empty() {
        let permitted = stream.check_write().ok()?;
        if permitted == 0 {
            stream.subscribe().block();
            continue;
        }
        let take = usize::try_from(permitted)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        stream.write(&bytes[..take]).ok()?;
        bytes = &bytes[take..];
    }
    stream.blocking_flush().ok()
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
        let _ = write(&stream, body);
    }
    let _ = OutgoingBody::finish(outgoing, None);
}

/// Answers with the upstream's answer, each piece written as soon as it is read.
fn relay(outparam: ResponseOutparam, answer: IncomingResponse) {
    let Ok(incoming) = answer.consume() else {
        return reply(outparam, 502, Fields::new(), b"upstream failed");
    };
    let Ok(from) = incoming.stream() else {
        return reply(outparam, 502, Fields::new(), b"upstream failed");
    };
    let response = OutgoingResponse::new(json_headers());
    let _ = response.set_status_code(answer.status());
    let Ok(outgoing) = response.body() else {
        return;
    };
    ResponseOutparam::set(outparam, Ok(response));
    if let Ok(to) = outgoing.write() {
        while let Ok(piece) = from.blocking_read(64 * 1024) {
            if write(&to, &piece).is_none() {
                break;
            }
        }
    }
    drop(from);
    IncomingBody::finish(incoming);
    let _ = OutgoingBody::finish(outgoing, None);
}

/// The upstream's answer (status and headers; its body still to read) to a POST of `body` to
/// `path`.
fn forward(path: Option<String>, body: &[u8]) -> Option<IncomingResponse> {
    let request = OutgoingRequest::new(json_headers());
    request.set_method(&Method::Post).ok()?;
    request.set_scheme(Some(&Scheme::Http)).ok()?;
    request.set_authority(Some(upstream())).ok()?;
    request.set_path_with_query(path.as_deref()).ok()?;
    let outgoing = request.body().ok()?;
    // Sent first: the host reads the body only once the request is under way, so a body larger
    // than the stream's buffer, written before, would never finish.
    let pending = outgoing_handler::handle(request, None).ok()?;
    write(&outgoing.write().ok()?, body)?;
    OutgoingBody::finish(outgoing, None).ok()?;
    loop {
        if let Some(answer) = pending.get() {
            return answer.ok()?.ok();
        }
        pending.subscribe().block();
    }
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
            Some(answer) => relay(outparam, answer),
            None => reply(outparam, 502, Fields::new(), b"upstream failed"),
        }
    }
}
