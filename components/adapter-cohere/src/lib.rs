//! Adapter for the Cohere Chat API v2 (<https://docs.cohere.com/reference/chat>).
//!
//! - `wire.rs`: request wire types, and the raw-JSON body object
//! - `request.rs`: neutral request → `POST {base_url}/chat`
//! - `response.rs`: reply body or error body → neutral response or classified error
//! - `stream.rs`: Chat v2 SSE events → neutral stream events
//! - `embed.rs`: embeddings (`POST {base_url}/embed`, Embed API v2)
//!
//! Kind: `cohere`. `base_url` includes the version prefix (`https://api.cohere.com/v2`); auth is
//! `Authorization: Bearer <key>`. Cohere speaks none of the client protocols, so nothing is
//! forwarded (its OpenAI-compatibility endpoint is served by the `openai` kind with a custom base
//! URL).

pub mod embed;
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

/// The Cohere Chat v2 adapter.
pub struct Cohere;

impl Adapter for Cohere {
    const KINDS: &'static [&'static str] = &["cohere"];
    const NAME: &'static str = "Cohere";
    type Decoder = apex_adapter_kit::sse::SseStream<stream::Decoder>;

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

    /// Command A's context; its vision model takes images; Cohere serves embeddings.
    fn describe(_kind: &str, _profile: &str) -> apex_adapter_kit::types::KindInfo {
        apex_adapter_kit::types::KindInfo {
            context_window: 256_000,
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
apex_adapter_kit::export_adapter_link!(crate::Cohere);

#[cfg(test)]
mod tests {
    use super::*;
    use apex_adapter_kit::types::Protocol;

    #[test]
    fn forwards_no_protocol() {
        let target = Target {
            kind: "cohere".to_string(),
            profile: String::new(),
            base_url: "https://api.cohere.com/v2".to_string(),
            api_key: "secret-key".to_string(),
            api_version: None,
            headers: Vec::new(),
        };
        for protocol in [
            Protocol::OpenaiChat,
            Protocol::AnthropicMessages,
            Protocol::OpenaiResponses,
        ] {
            let result = Cohere::forward_request(
                &target,
                protocol,
                "chat",
                &apex_adapter_kit::types::ForwardedBody::naming("m"),
            );
            let Err(error) = result else {
                panic!("forwarding {protocol:?} must fail");
            };
            assert_eq!(error.kind, apex_adapter_kit::types::ErrorKind::Unsupported);
            assert!(!error.message.contains("secret-key"));
        }
    }
}
