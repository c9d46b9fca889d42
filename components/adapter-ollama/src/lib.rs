//! Adapter for the native Ollama API (`/api/chat`, NDJSON streaming).
//!
//! - `wire.rs`: request wire types, and the raw-JSON body object
//! - `request.rs`: neutral request → `POST {base_url}/api/chat`
//! - `response.rs`: reply body or error body → neutral response or classified error
//! - `ndjson.rs`: newline-delimited JSON framing
//! - `stream.rs`: NDJSON reply lines → neutral stream events
//! - `embed.rs`: embeddings (`POST {base_url}/api/embed`)
//!
//! Kind: `ollama`. `base_url` is the server root (`http://localhost:11434`); a trailing `/v1` (or
//! `/api`) is tolerated and cut off. Auth is `Authorization: Bearer`, sent only when the target
//! has a key (a local Ollama needs none; Ollama's cloud and authenticating proxies do).
//!
//! Ollama also serves OpenAI's protocol under `/v1`, but that is the `openai` adapter's job (with
//! the `ollama` profile): this one forwards no client protocol.

pub mod embed;
pub mod ndjson;
pub mod request;
pub mod response;
pub mod stream;
pub mod wire;

use apex_adapter_kit::Adapter;
use apex_adapter_kit::types::{
    AdapterError, ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, HttpRequest, Target,
};

/// What the fixture cases must cover (see `tests/fixtures.rs`).
pub const CAPABILITIES: &[&str] = &[
    "text",
    "system",
    "multi-turn",
    "images",
    "tools",
    "parallel-tools",
    "tool-results",
    "tool-choice",
    "json-mode",
    "stop-sequences",
    "max-tokens",
    "usage",
    "thinking",
    "stream-text",
    "stream-tools",
    "stream-thinking",
    "errors",
    "unsupported",
    "embeddings",
];

/// The native Ollama adapter.
pub struct Ollama;

impl Adapter for Ollama {
    const KINDS: &'static [&'static str] = &["ollama"];
    const NAME: &'static str = "The native Ollama adapter";
    const NOT_FORWARDED_HINT: &'static str =
        " (for Ollama's OpenAI-compatible API, use an `openai` target with the `ollama` profile)";
    type Decoder = stream::Decoder;

    fn build_request(target: &Target, request: &ChatRequest) -> Result<HttpRequest, AdapterError> {
        request::build(target, request)
    }

    fn build_embed_request(
        target: &Target,
        request: &EmbedRequest,
    ) -> Result<HttpRequest, AdapterError> {
        embed::build(target, request)
    }

    fn parse_embed_response(
        _kind: &str,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<EmbedResponse, AdapterError> {
        embed::parse(status, headers, body)
    }

    /// Ollama continues a conversation that ends with an assistant message, carries images
    /// (vision models take them; others answer with an error) and serves embeddings.
    fn describe(_kind: &str, _profile: &str) -> apex_adapter_kit::types::KindInfo {
        apex_adapter_kit::types::KindInfo {
            prefill: true,
            vision: true,
            embeddings: true,
            ..apex_adapter_kit::types::KindInfo::plain()
        }
    }

    fn parse_response(
        _kind: &str,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<ChatResponse, AdapterError> {
        response::parse(status, headers, body)
    }
}

#[cfg(target_arch = "wasm32")]
apex_adapter_kit::export_adapter_link!(crate::Ollama);

#[cfg(test)]
mod tests {
    use super::*;
    use apex_adapter_kit::types::Protocol;

    fn target() -> Target {
        Target {
            kind: "ollama".to_string(),
            profile: String::new(),
            base_url: "http://localhost:11434".to_string(),
            api_key: String::new(),
            api_version: None,
            headers: Vec::new(),
        }
    }

    #[test]
    fn forwards_no_protocol() {
        for protocol in [
            Protocol::OpenaiChat,
            Protocol::AnthropicMessages,
            Protocol::OpenaiResponses,
        ] {
            let result = Ollama::forward_request(
                &target(),
                protocol,
                "chat/completions",
                &apex_adapter_kit::types::ForwardedBody::naming("m"),
            );
            assert!(matches!(
                result,
                Err(AdapterError {
                    kind: apex_adapter_kit::types::ErrorKind::Unsupported,
                    ..
                })
            ));
        }
    }
}
