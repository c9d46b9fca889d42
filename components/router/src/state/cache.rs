//! The response cache's pure parts: the key of a request, the stored entry, and the replay of a
//! cached answer as a stream.
//!
//! Key: hex SHA-256 over a version tag, the caller (the gateway key's name: callers never share
//! entries), the client surface, and the canonical text of the neutral request with `model` set
//! to the alias the client asked for. Canonical text: JSON with object keys sorted and no
//! whitespace; JSON carried as text (tool arguments, tool schemas, response schemas, `extra`) is
//! parsed and re-serialized the same way, so formatting and key order do not matter.
//!
//! What the key covers: model, messages, tools, tool choice, parallel tool calls, every sampling
//! parameter (max tokens, temperature, top-p, top-k, seed, stop), response format, reasoning,
//! `user` and `extra`. Not `stream`: the stored entry is the full neutral answer, which renders as
//! a JSON body or replays as a stream ([`replay_events`]), so a streamed request may be served
//! from a non-streamed one and the other way round. Not the credentials: the request carries none
//! (the caller's key name scopes the entry instead).
//!
//! Storage: `apex:cache:<key>` holds the JSON of a [`CachedResponse`]; a stale entry reads as a
//! miss and is overwritten by the next answer.

use apex_adapter_kit::types::{
    ChatRequest, ChatResponse, ContentPart, FinishReason, ResponseFormat, StreamEvent, StreamStart,
    ToolCallDelta, ToolCallStart,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The response header that says whether the cache answered: `hit` or `miss`.
pub const CACHE_HEADER: &str = "x-apex-cache";
/// Prefix of cache entries in the key-value store.
pub const KV_PREFIX: &str = "apex:cache:";
/// Bumped when the canonical form changes, so old entries are not misread.
const VERSION: &str = "apex-cache-v1";
/// Text and thinking replay in pieces of at most this many characters.
pub const REPLAY_CHUNK_CHARS: usize = 64;

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
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The key-value entry of a cache key.
pub fn kv_key(cache_key: &str) -> String {
    format!("{KV_PREFIX}{cache_key}")
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
    let mut out = String::new();
    write_canonical(&value, &mut out);
    out
}

/// JSON text in canonical form: `{"json":<value, keys sorted>,"numbers":[<number tokens as
/// written, sorted>]}`. The number tokens keep values that parsing would round (integers past
/// 2^64, decimals past f64 precision) from sharing a key. Text that is not JSON stays as it is
/// (it cannot equal a canonical form, which is JSON).
fn canonical_json_text(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(value) => {
            let mut numbers = number_tokens(text);
            numbers.sort();
            let mut out = String::from("{\"json\":");
            write_canonical(&value, &mut out);
            out.push_str(",\"numbers\":");
            write_canonical(
                &Value::Array(numbers.into_iter().map(Value::String).collect()),
                &mut out,
            );
            out.push('}');
            out
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

/// Compact JSON with object keys sorted (whatever order the map keeps).
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// What the client's `Cache-Control` allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheControl {
    /// May a cached answer be served? (`no-cache` and `no-store` say no.)
    pub read: bool,
    /// May the fresh answer be stored? (`no-store` says no.)
    pub write: bool,
}

/// The client's cache directives (`Cache-Control`, comma-separated, case-insensitive).
pub fn cache_control(headers: &[(String, String)]) -> CacheControl {
    let mut control = CacheControl {
        read: true,
        write: true,
    };
    let directives = headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("cache-control"))
        .flat_map(|(_, value)| value.split(','))
        .map(str::trim);
    for directive in directives {
        if directive.eq_ignore_ascii_case("no-cache") {
            control.read = false;
        } else if directive.eq_ignore_ascii_case("no-store") {
            control.read = false;
            control.write = false;
        }
    }
    control
}

/// Whether an answer is worth storing: complete ones only (not errors or filtered answers).
pub fn storable(response: &ChatResponse) -> bool {
    matches!(
        response.finish_reason,
        FinishReason::Stop | FinishReason::Length | FinishReason::ToolCalls
    )
}

/// A cache entry: the neutral answer and its freshness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedResponse {
    pub response: ChatResponse,
    /// Wall-clock milliseconds since the Unix epoch.
    pub stored_at_ms: u64,
    pub ttl_secs: u64,
}

impl CachedResponse {
    pub fn new(response: ChatResponse, stored_at_ms: u64, ttl_secs: u64) -> Self {
        Self {
            response,
            stored_at_ms,
            ttl_secs,
        }
    }

    /// When it goes stale.
    pub fn expires_at_ms(&self) -> u64 {
        self.stored_at_ms
            .saturating_add(self.ttl_secs.saturating_mul(1000))
    }

    /// Whether it may still be served at `now_ms` (an entry stamped slightly in the future by an
    /// instance whose clock runs ahead counts as fresh).
    pub fn is_fresh(&self, now_ms: u64) -> bool {
        now_ms < self.expires_at_ms()
    }

    /// Whole seconds since it was stored (for an `Age` header).
    pub fn age_secs(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.stored_at_ms) / 1000
    }

    /// The entry value.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// An entry value (`None`: unreadable, treat as a miss).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}

/// A cached answer as a neutral event stream, for any surface's stream writer: `start`, the
/// content in order (thinking deltas then its signature, text deltas in pieces of
/// [`REPLAY_CHUNK_CHARS`], each tool call as a start and one arguments delta), `usage`, `finish`.
/// Parts no stream event carries (redacted thinking, images, tool results) are left out.
pub fn replay_events(response: &ChatResponse) -> Vec<StreamEvent> {
    let mut events = vec![StreamEvent::Start(StreamStart {
        id: response.id.clone(),
        model: response.model.clone(),
    })];
    let mut calls = 0u32;
    for part in &response.content {
        match part {
            ContentPart::Text(text) => {
                events.extend(chunks(text).map(StreamEvent::TextDelta));
            }
            ContentPart::Thinking(thinking) => {
                events.extend(chunks(&thinking.text).map(StreamEvent::ThinkingDelta));
                if let Some(signature) = &thinking.signature {
                    events.push(StreamEvent::ThinkingSignature(signature.clone()));
                }
            }
            ContentPart::ToolCall(call) => {
                events.push(StreamEvent::ToolCallStart(ToolCallStart {
                    index: calls,
                    id: call.id.clone(),
                    name: call.name.clone(),
                }));
                if !call.arguments.is_empty() {
                    events.push(StreamEvent::ToolCallDelta(ToolCallDelta {
                        index: calls,
                        arguments: call.arguments.clone(),
                    }));
                }
                calls += 1;
            }
            ContentPart::RedactedThinking(_)
            | ContentPart::Image(_)
            | ContentPart::ToolResult(_) => {}
        }
    }
    if let Some(usage) = response.usage {
        events.push(StreamEvent::Usage(usage));
    }
    events.push(StreamEvent::Finish(response.finish_reason));
    events
}

/// `text` in pieces of at most [`REPLAY_CHUNK_CHARS`] characters (none for empty text).
fn chunks(text: &str) -> impl Iterator<Item = String> + '_ {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = rest
            .char_indices()
            .nth(REPLAY_CHUNK_CHARS)
            .map_or(rest.len(), |(at, _)| at);
        let (piece, tail) = rest.split_at(end);
        rest = tail;
        Some(piece.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use apex_adapter_kit::types::{
        JsonSchemaFormat, Message, Role, Thinking, Tool, ToolCall, ToolChoice, Usage,
    };

    fn user(text: &str) -> Message {
        Message {
            role: Role::User,
            content: vec![ContentPart::Text(text.into())],
            name: None,
        }
    }

    fn request() -> ChatRequest {
        let mut request = ChatRequest::new(
            "fast",
            vec![
                user("What is the weather?"),
                Message {
                    role: Role::Assistant,
                    content: vec![ContentPart::ToolCall(ToolCall {
                        id: "call_1".into(),
                        name: "weather".into(),
                        arguments: r#"{"city": "Paris", "days": 2}"#.into(),
                    })],
                    name: None,
                },
            ],
        );
        request.tools = vec![Tool {
            name: "weather".into(),
            description: Some("Forecast".into()),
            parameters: r#"{"type": "object", "properties": {"city": {"type": "string"}}}"#.into(),
            strict: None,
        }];
        request.tool_choice = Some(ToolChoice::Auto);
        request.temperature = Some(0.2);
        request.max_tokens = Some(100);
        request
    }

    fn key(request: &ChatRequest) -> String {
        cache_key("alice", request, "openai-chat")
    }

    #[test]
    fn keys_are_hex_sha256_scoped_to_caller_and_surface() {
        let base = key(&request());
        assert_eq!(base.len(), 64);
        assert!(
            base.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(base, key(&request()), "deterministic");
        assert_ne!(base, cache_key("bob", &request(), "openai-chat"));
        assert_ne!(base, cache_key("alice", &request(), "anthropic-messages"));
        // Length prefixes: moving a character between caller and surface changes the key.
        assert_ne!(
            cache_key("ab", &request(), "c"),
            cache_key("a", &request(), "bc")
        );
        assert_eq!(kv_key(&base), format!("apex:cache:{base}"));
    }

    #[test]
    fn stream_does_not_change_the_key() {
        let mut streamed = request();
        streamed.stream = true;
        assert_eq!(key(&streamed), key(&request()));
    }

    type Change = Box<dyn Fn(&mut ChatRequest)>;

    #[test]
    fn every_parameter_changes_the_key() {
        let base = key(&request());
        let changes: Vec<(&str, Change)> = vec![
            ("model", Box::new(|r| r.model = "smart".into())),
            ("message", Box::new(|r| r.messages.push(user("more")))),
            ("temperature", Box::new(|r| r.temperature = Some(0.3))),
            ("top_p", Box::new(|r| r.top_p = Some(0.9))),
            ("top_k", Box::new(|r| r.top_k = Some(40))),
            ("max_tokens", Box::new(|r| r.max_tokens = Some(101))),
            ("seed", Box::new(|r| r.seed = Some(7))),
            ("stop", Box::new(|r| r.stop = vec!["END".into()])),
            ("tools", Box::new(|r| r.tools.clear())),
            (
                "tool_choice",
                Box::new(|r| r.tool_choice = Some(ToolChoice::Required)),
            ),
            (
                "parallel",
                Box::new(|r| r.parallel_tool_calls = Some(false)),
            ),
            (
                "format",
                Box::new(|r| r.response_format = Some(ResponseFormat::JsonObject)),
            ),
            (
                "reasoning",
                Box::new(|r| {
                    r.reasoning = Some(apex_adapter_kit::types::Reasoning {
                        effort: Some("high".into()),
                        budget_tokens: None,
                    })
                }),
            ),
            ("user", Box::new(|r| r.user = Some("u1".into()))),
            ("extra", Box::new(|r| r.extra = Some(r#"{"x":1}"#.into()))),
            (
                "arguments",
                Box::new(|r| {
                    if let ContentPart::ToolCall(call) = &mut r.messages[1].content[0] {
                        call.arguments = r#"{"city": "Lyon", "days": 2}"#.into();
                    }
                }),
            ),
        ];
        for (name, change) in changes {
            let mut changed = request();
            change(&mut changed);
            assert_ne!(key(&changed), base, "{name}");
        }
    }

    #[test]
    fn json_text_formatting_and_key_order_do_not_matter() {
        let mut reformatted = request();
        if let ContentPart::ToolCall(call) = &mut reformatted.messages[1].content[0] {
            call.arguments = "{\n  \"days\" : 2,\n  \"city\":\"Paris\"\n}".into();
        }
        reformatted.tools[0].parameters =
            r#"{"properties":{"city":{"type":"string"}},"type":"object"}"#.into();
        assert_eq!(key(&reformatted), key(&request()));

        let schema = |text: &str| {
            let mut r = request();
            r.response_format = Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
                name: "s".into(),
                schema: text.into(),
                strict: Some(true),
            }));
            key(&r)
        };
        assert_eq!(
            schema(r#"{"a": 1, "b": [true]}"#),
            schema(r#"{"b":[true],"a":1}"#)
        );
        assert_ne!(schema(r#"{"a": 1}"#), schema(r#"{"a": 2}"#));
    }

    #[test]
    fn canonical_json_keeps_what_parsing_would_lose() {
        // Past u64 and f64 precision: parsed values collide, the number tokens do not.
        assert_ne!(
            canonical_json_text(r#"{"n": 123456789012345678901234567890}"#),
            canonical_json_text(r#"{"n": 123456789012345678901234567891}"#)
        );
        // A JSON string and the same text that is not JSON stay apart.
        assert_ne!(canonical_json_text(r#""hi""#), canonical_json_text("hi"));
        assert_eq!(canonical_json_text("not json {"), "not json {");
        assert_eq!(
            canonical_json_text(r#"{ "b": "x\"1", "a": [-1.5e3, 2] }"#),
            r#"{"json":{"a":[-1500.0,2],"b":"x\"1"},"numbers":["-1.5e3","2"]}"#
        );
        let text = canonical_request(&request());
        assert!(
            text.starts_with(r#"{"extra":null,"max_tokens":100,"messages":"#),
            "{text}"
        );
    }

    #[test]
    fn cache_control_no_cache_skips_reading_no_store_skips_both() {
        let headers = |value: &str| vec![("Cache-Control".to_string(), value.to_string())];
        let both = CacheControl {
            read: true,
            write: true,
        };
        assert_eq!(cache_control(&[]), both);
        assert_eq!(cache_control(&headers("max-age=0")), both);
        assert_eq!(
            cache_control(&headers("max-age=0, No-Cache")),
            CacheControl {
                read: false,
                write: true
            }
        );
        assert_eq!(
            cache_control(&headers("no-store")),
            CacheControl {
                read: false,
                write: false
            }
        );
    }

    fn response() -> ChatResponse {
        ChatResponse {
            id: "resp_1".into(),
            model: "gpt-4o-mini".into(),
            content: vec![
                ContentPart::Thinking(Thinking {
                    text: "Let me think.".into(),
                    signature: Some("sig".into()),
                }),
                ContentPart::RedactedThinking("opaque".into()),
                ContentPart::Text("é".repeat(REPLAY_CHUNK_CHARS + 10)),
                ContentPart::ToolCall(ToolCall {
                    id: "call_a".into(),
                    name: "weather".into(),
                    arguments: r#"{"city":"Paris"}"#.into(),
                }),
                ContentPart::ToolCall(ToolCall {
                    id: "call_b".into(),
                    name: "time".into(),
                    arguments: String::new(),
                }),
            ],
            finish_reason: FinishReason::ToolCalls,
            usage: Some(Usage {
                input_tokens: 10,
                output_tokens: 5,
                cache_read_tokens: None,
                cache_write_tokens: None,
                reasoning_tokens: Some(3),
            }),
        }
    }

    #[test]
    fn cached_answers_replay_as_a_stream() {
        let response = response();
        let events = replay_events(&response);
        let long = "é".repeat(REPLAY_CHUNK_CHARS + 10);
        let expected = vec![
            StreamEvent::Start(StreamStart {
                id: "resp_1".into(),
                model: "gpt-4o-mini".into(),
            }),
            StreamEvent::ThinkingDelta("Let me think.".into()),
            StreamEvent::ThinkingSignature("sig".into()),
            StreamEvent::TextDelta("é".repeat(REPLAY_CHUNK_CHARS)),
            StreamEvent::TextDelta("é".repeat(10)),
            StreamEvent::ToolCallStart(ToolCallStart {
                index: 0,
                id: "call_a".into(),
                name: "weather".into(),
            }),
            StreamEvent::ToolCallDelta(ToolCallDelta {
                index: 0,
                arguments: r#"{"city":"Paris"}"#.into(),
            }),
            StreamEvent::ToolCallStart(ToolCallStart {
                index: 1,
                id: "call_b".into(),
                name: "time".into(),
            }),
            StreamEvent::Usage(response.usage.unwrap()),
            StreamEvent::Finish(FinishReason::ToolCalls),
        ];
        assert_eq!(events, expected);
        let text: String = events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::TextDelta(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, long);

        let empty = ChatResponse {
            content: vec![ContentPart::Text(String::new())],
            usage: None,
            finish_reason: FinishReason::Stop,
            ..response
        };
        assert_eq!(replay_events(&empty).len(), 2, "start and finish");
    }

    #[test]
    fn entries_are_fresh_until_their_ttl() {
        let entry = CachedResponse::new(response(), 1_000_000, 60);
        assert!(entry.is_fresh(1_000_000));
        assert!(entry.is_fresh(1_059_999));
        assert!(!entry.is_fresh(1_060_000));
        assert!(
            entry.is_fresh(999_000),
            "another instance's clock runs ahead"
        );
        assert_eq!(entry.age_secs(1_059_999), 59);
        let bytes = entry.encode();
        assert_eq!(CachedResponse::decode(&bytes), Some(entry));
        assert_eq!(CachedResponse::decode(b"{}"), None);
        assert!(storable(&response()));
        let filtered = ChatResponse {
            finish_reason: FinishReason::ContentFilter,
            ..response()
        };
        assert!(!storable(&filtered));
    }
}
