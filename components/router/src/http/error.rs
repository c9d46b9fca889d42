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
        }
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
}

fn pick(status: u16, default: u16, range: std::ops::Range<u16>) -> u16 {
    if range.contains(&status) {
        status
    } else {
        default
    }
}

/// What replaces a secret.
const REDACTED: &str = "[redacted]";
/// Secrets shorter than this are not scrubbed (they would match ordinary text).
const MIN_SECRET_BYTES: usize = 4;
/// How many layers of JSON string escaping `scrub` sees through: one for a JSON body, two for a
/// JSON document relayed inside another's string (an aggregator passing on a provider's error).
const ESCAPE_DEPTH: u8 = 2;

/// Remove every occurrence of `secrets` from `text` (upstreams sometimes echo keys back): written
/// literally or with JSON string escapes of any of its characters (`\u0061`, `\/`, surrogate
/// pairs), up to [`ESCAPE_DEPTH`] layers deep. The whole encoded span becomes `[redacted]`
/// (where the longest secret matches, when several do). The span widens over a backslash that
/// would otherwise be left escaping `[`, so a JSON body stays JSON.
///
/// One pass over `text`; only positions holding a secret's first character or a backslash are
/// looked at further. A secret without backslashes that matches at some layer matches at the
/// deepest one too (decoding only changes what follows a backslash), so only that layer is
/// followed; text without backslashes is matched literally.
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    let secrets: Vec<&str> = secrets
        .iter()
        .copied()
        .filter(|s| s.len() >= MIN_SECRET_BYTES)
        .collect();
    if secrets.is_empty() {
        return text.to_string();
    }
    let deepest = if text.contains('\\') { ESCAPE_DEPTH } else { 0 };
    let firsts: Vec<char> = secrets.iter().filter_map(|s| s.chars().next()).collect();
    let shallow = secrets.iter().any(|s| s.contains('\\'));
    // The end of the longest secret starting at `at` once decoded `depth` times.
    let longest_at = |at: usize, depth: u8| -> Option<usize> {
        if depth < deepest && !shallow {
            return None;
        }
        if depth == 0 {
            let rest = &text[at..];
            return secrets
                .iter()
                .filter(|s| rest.starts_with(**s))
                .map(|s| at + s.len())
                .max();
        }
        let (first, _) = decode(text, at, depth)?;
        secrets
            .iter()
            .filter(|s| s.starts_with(first) && (depth == deepest || s.contains('\\')))
            .filter_map(|s| match_at(text, at, depth, s))
            .max()
    };
    let mut out = String::with_capacity(text.len());
    // Where the text after the last redaction starts (it is copied to `out` as it is).
    let mut copied_from = 0;
    let mut at = 0;
    while let Some(c) = text[at..].chars().next() {
        let found = if c == '\\' || firsts.contains(&c) {
            (0..=deepest)
                .filter_map(|depth| longest_at(at, depth))
                .max()
        } else {
            None
        };
        match found {
            Some(end) => {
                out.push_str(&text[copied_from..at]);
                // A match starting right after an odd run of backslashes starts inside an escape
                // (`\\` + `\u0073...`): take that backslash too.
                let run = text[copied_from..at]
                    .bytes()
                    .rev()
                    .take_while(|b| *b == b'\\')
                    .count();
                if run % 2 == 1 {
                    out.pop();
                }
                out.push_str(REDACTED);
                copied_from = end;
                at = end;
            }
            None => at += c.len_utf8(),
        }
    }
    out.push_str(&text[copied_from..]);
    out
}

/// Where `secret` ends when `text` from byte `at`, decoded `depth` times as a JSON string,
/// starts with it.
fn match_at(text: &str, mut at: usize, depth: u8, secret: &str) -> Option<usize> {
    for expected in secret.chars() {
        let (c, next) = decode(text, at, depth)?;
        if c != expected {
            return None;
        }
        at = next;
    }
    Some(at)
}

/// The character at byte `at` of `text` decoded `depth` times as the contents of a JSON string,
/// and the byte after it. A backslash that starts no valid escape stands for itself.
fn decode(text: &str, at: usize, depth: u8) -> Option<(char, usize)> {
    let Some(inner) = depth.checked_sub(1) else {
        let c = text.get(at..)?.chars().next()?;
        return Some((c, at + c.len_utf8()));
    };
    let (c, after) = decode(text, at, inner)?;
    if c != '\\' {
        return Some((c, after));
    }
    Some(escape(text, after, inner).unwrap_or((c, after)))
}

/// The escape after a backslash (`at` is just past it), `depth` the layer its characters are
/// read at.
fn escape(text: &str, at: usize, depth: u8) -> Option<(char, usize)> {
    let (c, after) = decode(text, at, depth)?;
    let simple = match c {
        '"' | '\\' | '/' => c,
        'b' => '\u{8}',
        'f' => '\u{c}',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'u' => {
            let (unit, after) = hex4(text, after, depth)?;
            if !(0xD800..0xDC00).contains(&unit) {
                return char::from_u32(unit).map(|c| (c, after));
            }
            // A high surrogate: its low half must follow as `\uXXXX`.
            let (backslash, next) = decode(text, after, depth)?;
            let (u, next) = decode(text, next, depth)?;
            if backslash != '\\' || u != 'u' {
                return None;
            }
            let (low, end) = hex4(text, next, depth)?;
            if !(0xDC00..0xE000).contains(&low) {
                return None;
            }
            let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
            return char::from_u32(code).map(|c| (c, end));
        }
        _ => return None,
    };
    Some((simple, after))
}

/// Four hex digits read at `depth`: their value and the byte after them.
fn hex4(text: &str, mut at: usize, depth: u8) -> Option<(u32, usize)> {
    let mut value = 0;
    for _ in 0..4 {
        let (c, next) = decode(text, at, depth)?;
        value = value * 16 + c.to_digit(16)?;
        at = next;
    }
    Some((value, at))
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
    }

    #[test]
    fn scrub_removes_secrets() {
        assert_eq!(
            scrub("bad key sk-abcdef given", &["sk-abcdef"]),
            "bad key [redacted] given"
        );
    }

    /// `text` decoded as the contents of a JSON string up to `levels` times (fewer when it stops
    /// being one).
    fn decoded(text: &str, levels: usize) -> String {
        let mut out = text.to_string();
        for _ in 0..levels {
            match serde_json::from_str::<String>(&format!("\"{out}\"")) {
                Ok(next) => out = next,
                Err(_) => break,
            }
        }
        out
    }

    #[test]
    fn scrub_sees_through_json_escapes() {
        let secret = "sk-abc/def+ghi";
        let cases = [
            // One character \u-escaped, in lower and upper case hex.
            r"key sk-\u0061bc/def+ghi given",
            r"key sk-abc/d\u0065f+ghi given",
            r"key \u0073k-abc/def+ghi given",
            r"key sk-abc/def+gh\u0069 given",
            r"key sk-abc/def\u002Bghi given",
            // Every character escaped.
            r"key \u0073\u006b\u002d\u0061\u0062\u0063\u002f\u0064\u0065\u0066\u002b\u0067\u0068\u0069 given",
            // The `\/` escape.
            r"key sk-abc\/def+ghi given",
            // A JSON string inside a JSON string (an upstream relaying another's error).
            r"key sk-\\u0061bc\\\/def+ghi given",
        ];
        for text in cases {
            let scrubbed = scrub(text, &[secret]);
            assert_eq!(scrubbed, "key [redacted] given", "{text}");
        }
        // Non-ASCII secrets: a \u escape, and a surrogate pair.
        assert_eq!(scrub(r"x cl\u00e9-1234 y", &["clé-1234"]), "x [redacted] y");
        assert_eq!(
            scrub(r"x k-\ud83d\ude00-1234 y", &["k-😀-1234"]),
            "x [redacted] y"
        );
        // Escapes that decode to something else, and near misses, stay as they are.
        for text in [
            r"key sk-\u0062bc/def+ghi given",
            r"key sk-abc/def+gh given",
            r"key sk-\u00zzbc/def+ghi given",
            r"key sk-\qabc/def+ghi given",
            "key sk-abc/def+gh\u{e9} given",
        ] {
            assert_eq!(scrub(text, &[secret]), text);
        }
    }

    #[test]
    fn scrubbed_json_stays_json_and_holds_no_secret() {
        let secret = "sk-abcdefgh";
        let bodies = [
            r#"{"error":{"message":"Incorrect API key provided: sk-\u0061bcdefgh."}}"#,
            r#"{"error":{"message":"raw: {\"key\": \"sk-\\u0061bcdefgh\"}"}}"#,
            r#"{"error":{"message":"odd \\\u0073k-abcdefgh and \\sk-abcdefgh"}}"#,
            r#"{"error":{"message":"three deep \\\\\\u0073k-abcdefgh"}}"#,
        ];
        for body in bodies {
            let scrubbed = scrub(body, &[secret]);
            let value: serde_json::Value =
                serde_json::from_str(&scrubbed).unwrap_or_else(|e| panic!("{scrubbed}: {e}"));
            let message = value["error"]["message"].as_str().unwrap();
            for levels in 0..3 {
                let text = decoded(&message.replace('"', ""), levels);
                assert!(!text.contains(secret), "{body} -> {scrubbed}");
            }
            assert!(scrubbed.contains("[redacted]"), "{body} -> {scrubbed}");
        }
    }

    #[test]
    fn scrub_takes_the_longest_secret_and_ignores_short_ones() {
        assert_eq!(
            scrub("a sk-abcd-long b", &["sk-abcd", "sk-abcd-long", "ab"]),
            "a [redacted] b"
        );
        assert_eq!(scrub("ab abc", &["ab", "abc"]), "ab abc");
        assert_eq!(scrub("", &["sk-abcdef"]), "");
        assert_eq!(scrub("trailing \\", &["sk-abcdef"]), "trailing \\");
    }
}
