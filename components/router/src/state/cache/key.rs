//! The cache key: a hash of the caller, the surface and the canonical text of the request.

use apex_adapter_kit::types::{ChatRequest, ContentPart, ResponseFormat};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Bumped when the canonical form changes, so old entries are not misread.
const VERSION: &str = "apex-cache-v1";

/// The cache key of `request` (its `model` the alias) for `caller` on `surface`: 64 hex digits.
pub fn cache_key(caller: &str, request: &ChatRequest, surface: &str) -> String {
    let mut hasher = Sha256::new();
    // Length-prefixed parts: no two (caller, surface) pairs hash the same preimage.
    for part in [VERSION, caller, surface] {
        hasher.update(part.len().to_string().as_bytes());
        hasher.update(b":");
        hasher.update(part.as_bytes());
    }
    hasher.update(canonical_request(request).as_bytes());
    crate::hex::lower(&hasher.finalize())
}

/// The canonical text of `request`, as hashed (without `stream`, which is set to `false`).
pub fn canonical_request(request: &ChatRequest) -> String {
    let mut request = request.clone();
    request.stream = false;
    for message in &mut request.messages {
        for part in &mut message.content {
            if let ContentPart::ToolCall(call) = part {
                call.arguments = canonical_json_text(&call.arguments);
            }
        }
    }
    for tool in &mut request.tools {
        tool.parameters = canonical_json_text(&tool.parameters);
    }
    if let Some(ResponseFormat::JsonSchema(format)) = &mut request.response_format {
        format.schema = canonical_json_text(&format.schema);
    }
    if let Some(extra) = &mut request.extra {
        *extra = canonical_json_text(extra);
    }
    let value = serde_json::to_value(&request).unwrap_or(Value::Null);
    let mut out = Vec::new();
    write_canonical(&value, &mut out);
    into_text(out)
}

/// Bytes [`write_canonical`] wrote (serde_json's output, so UTF-8) as text.
fn into_text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// JSON text in canonical form: `{"json":<value, keys sorted>,"numbers":[<number tokens as
/// written, sorted>]}`. The number tokens keep values that parsing would round (integers past
/// 2^64, decimals past f64 precision) from sharing a key. Text that is not JSON stays as it is
/// (it cannot equal a canonical form, which is JSON).
pub(super) fn canonical_json_text(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(value) => {
            let mut numbers = number_tokens(text);
            numbers.sort();
            let mut out = b"{\"json\":".to_vec();
            write_canonical(&value, &mut out);
            out.extend_from_slice(b",\"numbers\":");
            write_canonical(
                &Value::Array(numbers.into_iter().map(Value::String).collect()),
                &mut out,
            );
            out.push(b'}');
            into_text(out)
        }
        Err(_) => text.to_string(),
    }
}

/// The number tokens of valid JSON text, as written.
fn number_tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        chars.next();
                    }
                    '"' => break,
                    _ => {}
                }
            }
        } else if c == '-' || c.is_ascii_digit() {
            let mut token = String::from(c);
            while let Some(&next) = chars.peek() {
                if next.is_ascii_digit() || matches!(next, '.' | 'e' | 'E' | '+' | '-') {
                    token.push(next);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(token);
        }
    }
    out
}

/// Compact JSON with object keys sorted (whatever order the map keeps). Strings and scalars are
/// written by serde_json's own serializer, as `Value`'s `Display` writes them.
fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_scalar(key, out);
                out.push(b':');
                write_canonical(value, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => write_scalar(scalar, out),
    }
}

/// A string, number, boolean or null as compact JSON (writing to a `Vec` cannot fail).
fn write_scalar<T: serde::Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    let _ = serde_json::to_writer(&mut *out, value);
}
