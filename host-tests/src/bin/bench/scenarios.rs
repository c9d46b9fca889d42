//! What is measured: request bodies and the scenarios (path, streaming, prompt).

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// Replaced by a different number in each request of a run (a cache miss every time).
pub const NONCE: &str = "NONCE";

pub struct Scenario {
    pub name: &'static str,
    /// Path and body through Apex.
    pub via_apex: (String, Vec<u8>),
    /// The equivalent request straight to the provider.
    pub direct: (String, Vec<u8>),
    pub stream: bool,
}

pub fn chat_body(model: &str, stream: bool, prompt: &str) -> Vec<u8> {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": prompt}]})
        .to_string()
        .into_bytes()
}

pub fn anthropic_body(model: &str, stream: bool, prompt: &str) -> Vec<u8> {
    json!({"model": model, "max_tokens": 4096, "stream": stream, "messages": [{"role": "user", "content": [{"type": "text", "text": prompt}]}]})
        .to_string()
        .into_bytes()
}

/// A `/v1/responses` request that continues `previous` (a stored chain).
pub fn responses_body(model: &str, previous: &str, prompt: &str) -> Vec<u8> {
    json!({"model": model, "input": prompt, "previous_response_id": previous})
        .to_string()
        .into_bytes()
}

/// The chat a provider gets for a chain of `turns` stored exchanges plus a new prompt: what
/// `/v1/responses` with `previous_response_id` costs to send straight to the provider.
pub fn chain_as_chat(model: &str, turns: usize, prompt: &str) -> Vec<u8> {
    let mut messages = Vec::new();
    for turn in 0..turns {
        messages.push(json!({"role": "user", "content": format!("turn {turn}")}));
        messages.push(json!({"role": "assistant", "content": "Hello from the fake upstream."}));
    }
    messages.push(json!({"role": "user", "content": prompt}));
    json!({"model": model, "stream": false, "messages": messages})
        .to_string()
        .into_bytes()
}

/// The scenarios; `chain` is the id of the 10th stored response of a `previous_response_id` chain
/// made through Apex before the run.
pub fn scenarios(chain: &str) -> Vec<Scenario> {
    let big: String = "lorem ipsum dolor sit amet ".repeat(100 * 1024 / 27);
    vec![
        Scenario {
            name: "small chat (forwarded)",
            via_apex: (
                "/v1/chat/completions".into(),
                chat_body("bench-openai", false, "hi"),
            ),
            direct: (
                "/v1/chat/completions".into(),
                chat_body("gpt-4o-mini", false, "hi"),
            ),
            stream: false,
        },
        Scenario {
            name: "20-chunk stream (pass-through)",
            via_apex: (
                "/v1/chat/completions".into(),
                chat_body("bench-openai", true, "hi"),
            ),
            direct: (
                "/v1/chat/completions".into(),
                chat_body("gpt-4o-mini", true, "hi"),
            ),
            stream: true,
        },
        Scenario {
            name: "20-chunk stream (OpenAI→Anthropic)",
            via_apex: (
                "/v1/chat/completions".into(),
                chat_body("bench-anthropic", true, "hi"),
            ),
            direct: (
                "/v1/messages".into(),
                anthropic_body("claude-sonnet-4-5", true, "hi"),
            ),
            stream: true,
        },
        Scenario {
            name: "small chat (cache on, every request a miss)",
            via_apex: (
                "/v1/chat/completions".into(),
                chat_body("bench-cached", false, &format!("hi {NONCE}")),
            ),
            direct: (
                "/v1/chat/completions".into(),
                chat_body("gpt-4o-mini", false, &format!("hi {NONCE}")),
            ),
            stream: false,
        },
        Scenario {
            name: "/v1/responses (stored chain of 10)",
            via_apex: (
                "/v1/responses".into(),
                responses_body("bench-openai", chain, "hi"),
            ),
            direct: (
                "/v1/chat/completions".into(),
                chain_as_chat("gpt-4o-mini", 10, "hi"),
            ),
            stream: false,
        },
        Scenario {
            name: "100 KB prompt (forwarded)",
            via_apex: (
                "/v1/chat/completions".into(),
                chat_body("bench-openai", false, &big),
            ),
            direct: (
                "/v1/chat/completions".into(),
                chat_body("gpt-4o-mini", false, &big),
            ),
            stream: false,
        },
    ]
}
