//! A request's entry as a log line: `key=value` text for people, or one JSON object.

use std::borrow::Cow;
use std::fmt::Write;

use serde_json::{Map, Value, json};

use super::Entry;
use crate::time::{push_rfc3339_ms, rfc3339_ms};

/// Longest client-chosen text (path, model name) a line carries.
const MAX_FIELD: usize = 200;

/// Client-chosen text, cut to [`MAX_FIELD`] characters.
fn bounded(text: &str) -> &str {
    match text.char_indices().nth(MAX_FIELD) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// A value for the text format: as is when it is a plain word, else a JSON string (so spaces,
/// quotes and control characters a client put in cannot forge fields or lines).
fn word(text: &str) -> Cow<'_, str> {
    let text = bounded(text);
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|c| c.is_ascii_graphic() && c != b'"' && c != b'\\' && c != b'=');
    if plain {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(Value::String(text.to_string()).to_string())
    }
}

fn latency(entry: &Entry, now_ms: u64) -> u64 {
    now_ms.saturating_sub(entry.began_ms)
}

fn ttfb(entry: &Entry) -> Option<u64> {
    entry
        .first_byte_ms
        .map(|at| at.saturating_sub(entry.began_ms))
}

pub fn text(entry: &Entry, now_ms: u64) -> String {
    // One buffer for the whole line (written on every request): no string per field.
    let mut line = String::with_capacity(256);
    push_rfc3339_ms(&mut line, entry.time_ms);
    for part in [&*word(&entry.method), &*word(&entry.path), entry.surface] {
        line.push(' ');
        line.push_str(part);
    }
    // Writing to a String cannot fail.
    let mut field = |name: &str, value: &dyn std::fmt::Display| {
        let _ = write!(line, " {name}={value}");
    };
    if let Some(key) = &entry.key {
        field("key", &word(key));
    }
    if let Some(model) = &entry.model {
        field("model", &word(model));
    }
    match entry.status {
        Some(status) => field("status", &status),
        None => field("status", &"-"),
    }
    field("latency", &Millis(latency(entry, now_ms)));
    if let Some(ttfb) = ttfb(entry) {
        field("ttfb", &Millis(ttfb));
    }
    if let Some(tokens) = &entry.tokens {
        field("tokens_in", &tokens.input);
        field("tokens_out", &tokens.output);
        for (name, count) in [
            ("cache_read", tokens.cache_read),
            ("cache_write", tokens.cache_write),
            ("reasoning", tokens.reasoning),
        ] {
            if count > 0 {
                field(name, &count);
            }
        }
    }
    if let Some(cache) = entry.cache {
        field("cache", &cache);
    }
    if !entry.attempts.is_empty() {
        field("attempts", &Attempts(&entry.attempts));
    }
    if let Some(limit) = entry.limited_by {
        field("limit", &limit);
    }
    if let Some((kind, message)) = &entry.error {
        field("error", &word(kind));
        field("message", &Value::String(bounded(message).to_string()));
    }
    line
}

/// A duration in the text format: `12ms`.
struct Millis(u64);

impl std::fmt::Display for Millis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

/// The attempts in the text format: `provider/model#key:outcome:12ms`, comma-separated (the
/// target quoted as a JSON string when it is not a plain word).
struct Attempts<'a>(&'a [super::AttemptLine]);

impl std::fmt::Display for Attempts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, a) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let target = format!("{}/{}", a.provider, a.model);
            write!(
                f,
                "{}#{}:{}:{}ms",
                word(&target),
                a.key_index,
                a.outcome,
                a.latency_ms
            )?;
        }
        Ok(())
    }
}

pub fn json(entry: &Entry, now_ms: u64) -> String {
    let mut line = Map::new();
    line.insert("time".into(), json!(rfc3339_ms(entry.time_ms)));
    line.insert("method".into(), json!(bounded(&entry.method)));
    line.insert("path".into(), json!(bounded(&entry.path)));
    line.insert("surface".into(), json!(entry.surface));
    line.insert("key".into(), json!(entry.key));
    line.insert("model".into(), json!(entry.model.as_deref().map(bounded)));
    line.insert("status".into(), json!(entry.status));
    line.insert("latency_ms".into(), json!(latency(entry, now_ms)));
    line.insert("ttfb_ms".into(), json!(ttfb(entry)));
    line.insert("tokens".into(), json!(entry.tokens));
    line.insert("cache".into(), json!(entry.cache));
    let attempts: Vec<Value> = entry
        .attempts
        .iter()
        .map(|a| {
            json!({
                "provider": a.provider,
                "model": bounded(&a.model),
                "key_index": a.key_index,
                "outcome": a.outcome,
                "latency_ms": a.latency_ms,
            })
        })
        .collect();
    line.insert("attempts".into(), Value::Array(attempts));
    if let Some(limit) = entry.limited_by {
        line.insert("limit".into(), json!(limit));
    }
    if let Some((kind, message)) = &entry.error {
        line.insert(
            "error".into(),
            json!({"type": kind, "message": bounded(message)}),
        );
    }
    Value::Object(line).to_string()
}
