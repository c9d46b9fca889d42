//! Whole answers to the client: header sets and errors in the client's protocol.

use wasip2::http::types::ResponseOutparam;

use crate::http::error::{ApiError, ErrorFormat};
use crate::http::transport;

/// `content-type: application/json` and `extra` (CORS, ...).
pub fn json_headers(extra: &[(String, String)]) -> Vec<(String, String)> {
    with_type("application/json", extra)
}

/// Plain text and `extra`.
pub fn text_headers(extra: &[(String, String)]) -> Vec<(String, String)> {
    with_type("text/plain; charset=utf-8", extra)
}

/// An event stream (or NDJSON stream) of `content_type`: not to be cached.
pub fn stream_headers(content_type: &str, extra: &[(String, String)]) -> Vec<(String, String)> {
    let mut headers = with_type(content_type, &[]);
    headers.push(("cache-control".to_string(), "no-cache".to_string()));
    headers.extend_from_slice(extra);
    headers
}

pub fn with_type(content_type: &str, extra: &[(String, String)]) -> Vec<(String, String)> {
    let mut headers = vec![("content-type".to_string(), content_type.to_string())];
    headers.extend_from_slice(extra);
    headers
}

/// A 200 JSON answer.
pub fn json(out: ResponseOutparam, body: &[u8], extra: &[(String, String)]) {
    transport::respond(out, 200, json_headers(extra), body);
}

/// Send `error` in a client protocol's format.
pub fn send_error(
    out: ResponseOutparam,
    error: &ApiError,
    format: ErrorFormat,
    extra: &[(String, String)],
) {
    error.log();
    let mut headers = json_headers(extra);
    if let Some(secs) = error.retry_after_secs {
        headers.push(("retry-after".to_string(), secs.to_string()));
    }
    transport::respond(out, error.status, headers, &error.body(format));
}
