//! What is measured: request bodies and the scenarios (path, streaming, prompt).

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

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

pub fn scenarios() -> Vec<Scenario> {
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
