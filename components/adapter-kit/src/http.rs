//! Helpers on the HTTP side of translation: headers, URLs, error classification by status.

use crate::types::{AdapterError, ErrorKind, HttpRequest, Target};

/// The value of header `name` (case-insensitive).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// A `POST` of `body` to `url` with `headers` (auth, content type), then the target's own headers
/// appended.
pub fn post(
    target: &Target,
    url: String,
    mut headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> HttpRequest {
    headers.extend(target.headers.iter().cloned());
    HttpRequest {
        method: "POST".to_string(),
        url,
        headers,
        body,
    }
}

/// `base` joined with `path` (exactly one `/` between them).
pub fn join_url(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// `text` as one URL path segment: everything but unreserved characters percent-encoded, so a
/// client-chosen name (an Azure deployment, say) can never add path segments, a query or a fragment.
pub fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    if out == "." || out == ".." {
        out = out.replace('.', "%2E");
    }
    out
}

/// Milliseconds to wait, from `retry-after-ms` or `retry-after` (seconds; HTTP dates are ignored).
pub fn retry_after_ms(headers: &[(String, String)]) -> Option<u64> {
    if let Some(ms) = header(headers, "retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
        return Some(ms.max(0.0) as u64);
    }
    let value = header(headers, "retry-after")?.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return Some((secs.max(0.0) * 1000.0) as u64);
    }
    // An HTTP-date: how far it is past the reply's own `Date` (no clock needed, and the two
    // come from the same server).
    let until = http_date_secs(value)?;
    let now = http_date_secs(header(headers, "date")?.trim())?;
    Some(until.saturating_sub(now).saturating_mul(1000))
}

/// Seconds since the Unix epoch of an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form
/// HTTP dates are sent in.
pub fn http_date_secs(date: &str) -> Option<u64> {
    let mut parts = date.split_whitespace();
    let _weekday = parts.next()?;
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: u64 = parts.next()?.parse().ok()?;
    let mut clock = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (hour, minute, second) = (clock.next()??, clock.next()??, clock.next()??);
    if parts.next()? != "GMT" || !(1..=31).contains(&day) || year < 1970 || hour > 23 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm, years from March).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let year_of_era = y - era * 400;
    let day_of_year = (153 * m + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = (era * 146_097 + day_of_era).checked_sub(719_468)?;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
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

/// How an adapter classifies a reply that is not a success: from its status, headers and body.
pub type Refusal = fn(u16, &[(String, String)], &[u8]) -> AdapterError;

/// A reply of any status read as `T`: a 2xx body parsed as JSON (else [`malformed`]), any other
/// status the adapter's own classified error (`refused`, from the status, headers and body).
pub fn json_reply<T: serde::de::DeserializeOwned>(
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
    refused: Refusal,
) -> Result<T, AdapterError> {
    if !(200..300).contains(&status) {
        return Err(refused(status, headers, body));
    }
    serde_json::from_slice(body).map_err(malformed)
}

/// A reply body that is not what the provider documents.
pub fn malformed(what: impl std::fmt::Display) -> AdapterError {
    crate::error(
        ErrorKind::MalformedReply,
        format!("malformed upstream reply: {what}"),
    )
}

/// The malformed-reply error for a streamed event longer than [`crate::MAX_STREAM_EVENT_BYTES`].
pub fn event_too_long() -> AdapterError {
    malformed(format!(
        "a streamed event is longer than {} MiB",
        crate::MAX_STREAM_EVENT_BYTES >> 20
    ))
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
        // An HTTP-date counts from the reply's own Date.
        let dated = vec![
            (
                "Date".to_string(),
                "Sun, 06 Dec 2026 07:00:00 GMT".to_string(),
            ),
            (
                "Retry-After".to_string(),
                "Sun, 06 Dec 2026 07:00:02 GMT".to_string(),
            ),
        ];
        assert_eq!(retry_after_ms(&dated), Some(2000));
        assert_eq!(retry_after_ms(&dated[1..]), None);
        assert_eq!(http_date_secs("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            http_date_secs("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            http_date_secs("Tue, 29 Feb 2028 12:00:00 GMT"),
            Some(1_835_438_400)
        );
        assert_eq!(http_date_secs("yesterday"), None);
    }

    #[test]
    fn path_segments_cannot_escape() {
        assert_eq!(path_segment("gpt-4o-mini_dev.1"), "gpt-4o-mini_dev.1");
        assert_eq!(
            path_segment("dall-e/images?x=1#"),
            "dall-e%2Fimages%3Fx%3D1%23"
        );
        assert_eq!(path_segment(".."), "%2E%2E");
        assert_eq!(path_segment("é"), "%C3%A9");
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
