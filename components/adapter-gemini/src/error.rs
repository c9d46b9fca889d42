//! Gemini error bodies → classified errors.
//!
//! Gemini answers errors with Google's standard body: `{"error": {"code": 429, "message": "...",
//! "status": "RESOURCE_EXHAUSTED", "details": [...]}}`, where `details` may hold an `ErrorInfo`
//! (`reason`, e.g. `API_KEY_INVALID`) and a `RetryInfo` (`retryDelay`, e.g. `"30s"`). The kind comes
//! from `status` and `details`; the message text decides only between invalid-request and
//! context-too-long, which Gemini reports with the same status.

use apex_adapter_kit::http::{kind_for_status, upstream_error};
use apex_adapter_kit::types::{AdapterError, ErrorKind};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct ErrorBody {
    error: Option<ErrorDetail>,
}

/// The `error` object of an error body or of a stream event.
#[derive(Deserialize, Default)]
pub struct ErrorDetail {
    pub code: Option<i64>,
    pub message: Option<String>,
    pub status: Option<String>,
    #[serde(default)]
    pub details: Vec<Value>,
}

impl ErrorDetail {
    /// The `reason`s of the `ErrorInfo` details.
    fn reasons(&self) -> impl Iterator<Item = &str> {
        self.details
            .iter()
            .filter(|d| detail_type(d).ends_with("google.rpc.ErrorInfo"))
            .filter_map(|d| d.get("reason").and_then(Value::as_str))
    }

    /// The `RetryInfo` delay, in milliseconds.
    fn retry_delay_ms(&self) -> Option<u64> {
        self.details
            .iter()
            .filter(|d| detail_type(d).ends_with("google.rpc.RetryInfo"))
            .filter_map(|d| d.get("retryDelay").and_then(Value::as_str))
            .find_map(duration_ms)
    }

    /// The neutral kind this error's `status` and `details` name, if they name one.
    fn kind(&self) -> Option<ErrorKind> {
        // A bad key is a 400 INVALID_ARGUMENT whose ErrorInfo says API_KEY_INVALID (and its
        // siblings: API_KEY_EXPIRED, API_KEY_SERVICE_BLOCKED, ...).
        if self.reasons().any(|r| r.starts_with("API_KEY_")) {
            return Some(ErrorKind::Auth);
        }
        Some(match self.status.as_deref()? {
            "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => {
                if context_too_long(self.message.as_deref().unwrap_or_default()) {
                    ErrorKind::ContextTooLong
                } else {
                    ErrorKind::InvalidRequest
                }
            }
            "UNAUTHENTICATED" | "PERMISSION_DENIED" => ErrorKind::Auth,
            "NOT_FOUND" => ErrorKind::NotFound,
            "RESOURCE_EXHAUSTED" => ErrorKind::RateLimited,
            "UNAVAILABLE" => ErrorKind::Overloaded,
            "INTERNAL" | "UNKNOWN" | "DATA_LOSS" | "DEADLINE_EXCEEDED" => ErrorKind::Server,
            _ => return None,
        })
    }
}

fn detail_type(detail: &Value) -> &str {
    detail
        .get("@type")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// A protobuf JSON duration (`"30s"`, `"1.5s"`) in milliseconds.
fn duration_ms(duration: &str) -> Option<u64> {
    let seconds: f64 = duration.trim().strip_suffix('s')?.parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| (seconds * 1000.0).round() as u64)
}

/// Whether an INVALID_ARGUMENT message says the prompt does not fit. Gemini gives this case no
/// status or reason of its own ("The input token count (1200293) exceeds the maximum number of
/// tokens allowed (1048576).", or a request body over the size limit), so only the text tells.
fn context_too_long(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    (message.contains("token count") && message.contains("exceeds the maximum"))
        || message.contains("payload size exceeds the limit")
}

/// The `error` of a reply body: a JSON object, or (as the non-SSE stream endpoint sends it) a list
/// holding one.
fn detail_of(body: &[u8]) -> Option<ErrorDetail> {
    // (A serde struct would also read a list, positionally: the first byte decides.)
    if body.trim_ascii_start().starts_with(b"[") {
        return serde_json::from_slice::<Vec<ErrorBody>>(body)
            .ok()?
            .into_iter()
            .next()?
            .error;
    }
    serde_json::from_slice::<ErrorBody>(body).ok()?.error
}

/// Classify an error reply by Gemini's `status` and `details`, falling back to the HTTP status.
pub fn from_reply(status: u16, headers: &[(String, String)], body: &[u8]) -> AdapterError {
    let detail = detail_of(body).unwrap_or_default();
    let message = detail
        .message
        .clone()
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| fallback_message(status, body));
    let kind = detail.kind().unwrap_or_else(|| kind_for_status(status));
    let mut error = upstream_error(kind, status, headers, message);
    if let Some(ms) = detail.retry_delay_ms() {
        error.retry_after_ms = Some(ms);
    }
    error
}

/// The message for a body without a Gemini error: its text when short and not a web page.
fn fallback_message(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() || text.len() > 500 || text.starts_with('<') {
        format!("upstream returned HTTP {status}")
    } else {
        text.to_string()
    }
}

/// The error an `error` event of a stream carries (the HTTP status was 2xx, so there is none).
pub fn from_stream(detail: ErrorDetail) -> AdapterError {
    let kind = detail
        .kind()
        .or_else(|| {
            detail
                .code
                .and_then(|code| u16::try_from(code).ok())
                .map(kind_for_status)
        })
        .unwrap_or(ErrorKind::Server);
    let mut error = apex_adapter_kit::error(
        kind,
        detail
            .message
            .clone()
            .filter(|m| !m.trim().is_empty())
            .unwrap_or_else(|| "upstream stream failed".to_string()),
    );
    error.retry_after_ms = detail.retry_delay_ms();
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_milliseconds() {
        assert_eq!(duration_ms("30s"), Some(30_000));
        assert_eq!(duration_ms("1.5s"), Some(1_500));
        assert_eq!(duration_ms("0.000340s"), Some(0));
        assert_eq!(duration_ms("30"), None);
        assert_eq!(duration_ms("-1s"), None);
    }

    #[test]
    fn a_list_wrapped_error_and_status_fallbacks() {
        let body = br#"[{"error": {"code": 404, "message": "gone", "status": "NOT_FOUND"}}]"#;
        let error = from_reply(404, &[], body);
        assert_eq!(
            (error.kind, error.message.as_str()),
            (ErrorKind::NotFound, "gone")
        );
        let error = from_reply(
            418,
            &[],
            br#"{"error": {"code": 418, "message": "odd", "status": "TEAPOT"}}"#,
        );
        assert_eq!(error.kind, ErrorKind::InvalidRequest);
        let error = from_reply(504, &[], b"");
        assert_eq!(
            (error.kind, error.message.as_str()),
            (ErrorKind::Server, "upstream returned HTTP 504")
        );
    }

    #[test]
    fn stream_errors_classify_by_status_then_code() {
        let detail = |json: &str| {
            serde_json::from_str::<ErrorBody>(json)
                .ok()
                .and_then(|b| b.error)
                .unwrap_or_default()
        };
        let error = from_stream(detail(
            r#"{"error": {"code": 503, "message": "busy", "status": "UNAVAILABLE"}}"#,
        ));
        assert_eq!((error.kind, error.status), (ErrorKind::Overloaded, None));
        let error = from_stream(detail(
            r#"{"error": {"code": 429, "message": "slow down"}}"#,
        ));
        assert_eq!(error.kind, ErrorKind::RateLimited);
        let error = from_stream(detail(r#"{"error": {}}"#));
        assert_eq!(
            (error.kind, error.message.as_str()),
            (ErrorKind::Server, "upstream stream failed")
        );
    }
}
