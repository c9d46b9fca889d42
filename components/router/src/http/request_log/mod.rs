//! One log line per client request (`gateway.log`): when, what was asked, by which gateway key
//! (its name), for which model, each attempt's target and key index with how it ended, the status,
//! latency, time to first byte, tokens and the cache. Never a key, a query string or a prompt:
//! the line is built from names and numbers the gateway chose, and the one free text it carries,
//! the error message the client got, is the gateway's own (already redacted of secrets).
//!
//! The entry of the request being served lives in a thread-local cell: the incoming handler
//! [`begin`]s it, the parts that learn something [`note`] it (the transport the status and first
//! byte, dispatch the attempts and tokens), and the handler [`finish`]es and prints it. A
//! component instance serves one request at a time, and `begin` replaces whatever was left, so no
//! request sees another's entry.

mod render;

use std::cell::RefCell;

use crate::state::usage::Tokens;

/// How log lines are written (`gateway.log`, or the `apex_log` variable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `2026-12-06T10:15:03.120Z POST /v1/messages anthropic key=alice model=fast 200 ...`
    #[default]
    Text,
    /// One JSON object per line.
    Json,
    /// No request log.
    Off,
}

impl LogFormat {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "text" => Some(Self::Text),
            "json" => Some(Self::Json),
            "off" | "none" => Some(Self::Off),
            _ => None,
        }
    }
}

/// One upstream attempt: which target and key, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptLine {
    pub provider: String,
    pub model: String,
    pub key_index: usize,
    /// `ok`, or the failure's label (`rate-limited`, `timeout`, ...): the failover reason.
    pub outcome: &'static str,
    pub latency_ms: u64,
}

/// What is known of a request so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// Wall-clock milliseconds when it arrived.
    pub time_ms: u64,
    /// Monotonic milliseconds when it arrived (latencies are measured from here).
    pub began_ms: u64,
    pub method: String,
    /// The path without its query (a query may hold a key: `?key=`).
    pub path: String,
    /// Which API the path belongs to (`openai-chat`, `anthropic`, `responses`, `gemini`, ...).
    pub surface: &'static str,
    /// The gateway key's name (`anonymous` on an open gateway); `None` before authentication.
    pub key: Option<String>,
    /// The model the client asked for.
    pub model: Option<String>,
    pub attempts: Vec<AttemptLine>,
    pub status: Option<u16>,
    /// Monotonic milliseconds of the first body byte sent.
    pub first_byte_ms: Option<u64>,
    pub tokens: Option<Tokens>,
    /// `hit` or `miss` when the alias caches.
    pub cache: Option<&'static str>,
    /// The error the client got: its type and message.
    pub error: Option<(String, String)>,
    /// A limit that refused the request (`requests_per_minute`, ...).
    pub limited_by: Option<&'static str>,
}

thread_local! {
    static CURRENT: RefCell<Option<Entry>> = const { RefCell::new(None) };
}

/// A request arrived: start its entry (replacing anything left from the last one).
pub fn begin(entry: Entry) {
    CURRENT.with(|cell| *cell.borrow_mut() = Some(entry));
}

/// Add what `f` knows to the current request's entry (nothing when no request is logged).
pub fn note(f: impl FnOnce(&mut Entry)) {
    CURRENT.with(|cell| {
        if let Some(entry) = cell.borrow_mut().as_mut() {
            f(entry);
        }
    });
}

/// The response's status was sent.
pub fn status(status: u16) {
    note(|entry| {
        entry.status.get_or_insert(status);
    });
}

/// A body byte was sent at monotonic `now_ms` (the first one counts).
pub fn first_byte(now_ms: u64) {
    note(|entry| {
        entry.first_byte_ms.get_or_insert(now_ms);
    });
}

/// The request is over at monotonic `now_ms`: its line in `format` (`None`: nothing to log).
pub fn finish(now_ms: u64, format: LogFormat) -> Option<String> {
    let entry = CURRENT.with(|cell| cell.borrow_mut().take())?;
    match format {
        LogFormat::Off => None,
        LogFormat::Text => Some(render::text(&entry, now_ms)),
        LogFormat::Json => Some(render::json(&entry, now_ms)),
    }
}

/// The API a path belongs to, for the log (`gemini`: the caller has decided; the Gemini API's
/// paths are recognised by its router).
pub fn surface_of(path: &str, gemini: bool) -> &'static str {
    if gemini {
        return "gemini";
    }
    match path {
        "/v1/chat/completions" | "/chat/completions" => "openai-chat",
        "/v1/embeddings" | "/embeddings" => "embeddings",
        "/v1/models" | "/models" => "models",
        "/stats" | "/metrics" | "/usage" | "/config" | "/ui" => "admin",
        "/" | "/health" => "probe",
        _ if path.starts_with("/v1/messages") => "anthropic",
        _ if path.starts_with("/v1/responses") => "responses",
        _ if path.starts_with("/api/") => "ollama",
        _ => "other",
    }
}

#[cfg(test)]
mod tests;
