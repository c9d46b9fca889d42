//! Errors the router returns to clients, rendered in the client's protocol.

use apex_adapter_kit::types::{AdapterError, ErrorKind};
use serde_json::json;

/// A failure to report to the client.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    /// OpenAI-style error type (`invalid_request_error`, `authentication_error`, ...).
    pub kind: &'static str,
    pub code: Option<&'static str>,
    pub param: Option<&'static str>,
    pub message: String,
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    /// Put this error, the one the client gets, in the request's log line.
    pub fn log(&self) {
        let kind = self.code.unwrap_or(self.kind).to_string();
        let message = self.message.clone();
        crate::http::request_log::note(|entry| entry.error = Some((kind, message)));
    }

    pub fn new(status: u16, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            code: None,
            param: None,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    pub fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub fn param(mut self, param: &'static str) -> Self {
        self.param = Some(param);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request_error", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            401,
            "authentication_error",
            "Missing or invalid API key: send `Authorization: Bearer <key>` or `x-api-key: <key>`.",
        )
        .code("invalid_api_key")
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not_found_error", message)
    }

    pub fn model_not_found(model: &str) -> Self {
        Self::new(
            404,
            "invalid_request_error",
            format!("The model `{model}` does not exist on this gateway. GET /v1/models lists the models you can use."),
        )
        .code("model_not_found")
        .param("model")
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "invalid_request_error",
            format!("Request body is larger than the limit of {limit} bytes."),
        )
        .code("request_too_large")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            "invalid_request_error",
            "Method not allowed on this path.",
        )
    }

    /// A WebSocket upgrade: the gateway speaks plain HTTP only.
    pub fn upgrade_required() -> Self {
        Self::new(
            426,
            "invalid_request_error",
            "WebSocket connections are not supported here; use HTTP requests.",
        )
        .code("websocket_not_supported")
    }

    pub fn bad_gateway(message: impl Into<String>) -> Self {
        Self::new(502, "api_error", message).code("upstream_error")
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "api_error", message)
    }

    /// The client-facing error for an upstream failure. Auth failures of the gateway's own provider
    /// keys are not the client's fault: they become 502, so a 401 always means the client's key.
    pub fn from_upstream(error: &AdapterError) -> Self {
        let status = error.status.unwrap_or(0);
        let (status, kind, code) = match error.kind {
            ErrorKind::InvalidRequest => {
                (pick(status, 400, 400..500), "invalid_request_error", None)
            }
            ErrorKind::NotFound => (404, "invalid_request_error", Some("model_not_found")),
            ErrorKind::ContextTooLong => (
                400,
                "invalid_request_error",
                Some("context_length_exceeded"),
            ),
            ErrorKind::RateLimited => (429, "rate_limit_error", Some("rate_limit_exceeded")),
            ErrorKind::Auth => (502, "api_error", Some("upstream_auth_failed")),
            ErrorKind::Overloaded => (503, "api_error", Some("upstream_overloaded")),
            ErrorKind::Server => (
                pick(status, 502, 500..600),
                "api_error",
                Some("upstream_error"),
            ),
            ErrorKind::MalformedReply => (502, "api_error", Some("upstream_malformed_reply")),
            ErrorKind::Unsupported => (400, "invalid_request_error", Some("unsupported")),
        };
        let message = if error.kind == ErrorKind::Auth {
            format!(
                "The upstream provider refused the gateway's credentials: {}",
                error.message
            )
        } else {
            error.message.clone()
        };
        Self {
            status,
            kind,
            code,
            param: None,
            message,
            retry_after_secs: error.retry_after_ms.map(|ms| ms.div_ceil(1000)),
        }
    }

    /// The error body in `format`.
    pub fn body(&self, format: ErrorFormat) -> Vec<u8> {
        match format {
            ErrorFormat::OpenAi => self.openai_body(),
            ErrorFormat::Anthropic => self.anthropic_body(),
            ErrorFormat::Ollama => {
                serde_json::to_vec(&json!({ "error": self.message })).unwrap_or_default()
            }
            ErrorFormat::Google => self.google_body(),
        }
    }

    /// Google's canonical status name for this error's HTTP status.
    pub fn google_status(&self) -> &'static str {
        match self.status {
            401 => "UNAUTHENTICATED",
            403 => "PERMISSION_DENIED",
            404 => "NOT_FOUND",
            409 => "ABORTED",
            412 | 426 => "FAILED_PRECONDITION",
            429 => "RESOURCE_EXHAUSTED",
            499 => "CANCELLED",
            501 => "UNIMPLEMENTED",
            502 | 503 => "UNAVAILABLE",
            504 => "DEADLINE_EXCEEDED",
            _ if self.status < 500 => "INVALID_ARGUMENT",
            _ => "INTERNAL",
        }
    }

    /// Google's error object (`google.rpc.Status` as the Gemini API sends it).
    pub fn google_body(&self) -> Vec<u8> {
        let body = json!({
            "error": {
                "code": self.status,
                "message": self.message,
                "status": self.google_status(),
            }
        });
        serde_json::to_vec(&body).unwrap_or_default()
    }

    /// Anthropic's error type for this error (their types are per status).
    pub fn anthropic_type(&self) -> &'static str {
        match self.status {
            400 | 405 | 422 => "invalid_request_error",
            401 => "authentication_error",
            402 => "billing_error",
            403 => "permission_error",
            404 => "not_found_error",
            413 => "request_too_large",
            429 => "rate_limit_error",
            503 | 529 if self.code == Some("upstream_overloaded") => "overloaded_error",
            504 => "timeout_error",
            _ if self.status < 500 => "invalid_request_error",
            _ => "api_error",
        }
    }

    /// Anthropic's error object.
    pub fn anthropic_body(&self) -> Vec<u8> {
        let body = json!({
            "type": "error",
            "error": {"type": self.anthropic_type(), "message": self.message},
        });
        serde_json::to_vec(&body).unwrap_or_default()
    }

    /// OpenAI's error object.
    pub fn openai_body(&self) -> Vec<u8> {
        let body = json!({
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        });
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

/// The error format of a client protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorFormat {
    /// `{"error": {"message", "type", "param", "code"}}`
    OpenAi,
    /// `{"type": "error", "error": {"type", "message"}}`
    Anthropic,
    /// `{"error": "message"}`
    Ollama,
    /// `{"error": {"code", "message", "status"}}` (the Gemini API)
    Google,
}

fn pick(status: u16, default: u16, range: std::ops::Range<u16>) -> u16 {
    if range.contains(&status) {
        status
    } else {
        default
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(kind: ErrorKind, status: u16) -> AdapterError {
        AdapterError {
            kind,
            message: "m".into(),
            status: Some(status),
            retry_after_ms: Some(1500),
        }
    }

    #[test]
    fn upstream_errors_keep_their_class_but_auth_is_the_gateways_problem() {
        assert_eq!(
            ApiError::from_upstream(&upstream(ErrorKind::InvalidRequest, 422)).status,
            422
        );
        assert_eq!(
            ApiError::from_upstream(&upstream(ErrorKind::Auth, 401)).status,
            502
        );
        let limited = ApiError::from_upstream(&upstream(ErrorKind::RateLimited, 429));
        assert_eq!((limited.status, limited.retry_after_secs), (429, Some(2)));
        assert_eq!(
            ApiError::from_upstream(&upstream(ErrorKind::Server, 200)).status,
            502
        );
    }

    #[test]
    fn each_protocol_gets_its_own_error_shape() {
        let error = ApiError::from_upstream(&upstream(ErrorKind::Overloaded, 529));
        let anthropic: serde_json::Value =
            serde_json::from_slice(&error.body(ErrorFormat::Anthropic)).unwrap();
        assert_eq!(anthropic["type"], "error");
        assert_eq!(anthropic["error"]["type"], "overloaded_error");
        assert_eq!(anthropic["error"]["message"], "m");
        let unauthorized: serde_json::Value =
            serde_json::from_slice(&ApiError::unauthorized().body(ErrorFormat::Anthropic)).unwrap();
        assert_eq!(unauthorized["error"]["type"], "authentication_error");
        let ollama: serde_json::Value =
            serde_json::from_slice(&error.body(ErrorFormat::Ollama)).unwrap();
        assert_eq!(ollama, serde_json::json!({"error": "m"}));
        let openai: serde_json::Value =
            serde_json::from_slice(&error.body(ErrorFormat::OpenAi)).unwrap();
        assert_eq!(openai["error"]["code"], "upstream_overloaded");
        let google: serde_json::Value =
            serde_json::from_slice(&error.body(ErrorFormat::Google)).unwrap();
        assert_eq!(
            google,
            serde_json::json!({"error": {"code": 503, "message": "m", "status": "UNAVAILABLE"}})
        );
        let cases = [
            (400, "INVALID_ARGUMENT"),
            (401, "UNAUTHENTICATED"),
            (403, "PERMISSION_DENIED"),
            (404, "NOT_FOUND"),
            (429, "RESOURCE_EXHAUSTED"),
            (500, "INTERNAL"),
            (503, "UNAVAILABLE"),
        ];
        for (status, name) in cases {
            assert_eq!(ApiError::new(status, "t", "m").google_status(), name);
        }
    }
}
