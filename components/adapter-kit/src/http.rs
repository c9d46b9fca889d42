//! Helpers on the HTTP side of translation: headers, URLs, error classification by status.

use crate::types::{AdapterError, ErrorKind};

/// The value of header `name` (case-insensitive).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// `base` joined with `path` (exactly one `/` between them).
pub fn join_url(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// Milliseconds to wait, from `retry-after-ms` or `retry-after` (seconds; HTTP dates are ignored).
pub fn retry_after_ms(headers: &[(String, String)]) -> Option<u64> {
    if let Some(ms) = header(headers, "retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
        return Some(ms.max(0.0) as u64);
    }
    header(headers, "retry-after")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|secs| (secs.max(0.0) * 1000.0) as u64)
}

/// The error kind an HTTP status means when the body says nothing more precise.
pub fn kind_for_status(status: u16) -> ErrorKind {
    match status {
        401 | 403 => ErrorKind::Auth,
        404 => ErrorKind::NotFound,
        408 => ErrorKind::Server,
        413 => ErrorKind::ContextTooLong,
        429 => ErrorKind::RateLimited,
        503 | 529 => ErrorKind::Overloaded,
        500..=599 => ErrorKind::Server,
        _ => ErrorKind::InvalidRequest,
    }
}

/// A classified upstream error.
pub fn upstream_error(
    kind: ErrorKind,
    status: u16,
    headers: &[(String, String)],
    message: impl Into<String>,
) -> AdapterError {
    AdapterError {
        kind,
        message: message.into(),
        status: Some(status),
        retry_after_ms: retry_after_ms(headers),
    }
}

/// A reply body that is not what the provider documents.
pub fn malformed(what: impl std::fmt::Display) -> AdapterError {
    crate::error(
        ErrorKind::MalformedReply,
        format!("malformed upstream reply: {what}"),
    )
}

/// Split a `data:` URL into (media type, base64 payload).
pub fn parse_data_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let media_type = meta.strip_suffix(";base64")?;
    Some((media_type.to_string(), data.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_prefers_milliseconds() {
        let headers = vec![
            ("Retry-After".to_string(), "7".to_string()),
            ("retry-after-ms".to_string(), "1500".to_string()),
        ];
        assert_eq!(retry_after_ms(&headers), Some(1500));
        assert_eq!(retry_after_ms(&headers[..1]), Some(7000));
        assert_eq!(retry_after_ms(&[]), None);
    }

    #[test]
    fn join_and_data_urls() {
        assert_eq!(join_url("http://h/v1/", "/chat"), "http://h/v1/chat");
        assert_eq!(
            parse_data_url("data:image/png;base64,AAA="),
            Some(("image/png".to_string(), "AAA=".to_string()))
        );
        assert_eq!(parse_data_url("https://x/y.png"), None);
    }
}
