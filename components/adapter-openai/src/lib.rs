//! Adapter for the OpenAI Chat Completions wire format, shared by every OpenAI-compatible provider.
//!
//! - `profile.rs`: per-provider quirks (data, not code)
//! - `request.rs`: neutral request → `POST …/chat/completions`
//! - `response.rs`: completion body or error body → neutral response or classified error
//! - `stream.rs`: `chat.completion.chunk` SSE → neutral stream events
//! - `embed.rs`: embeddings (`POST …/embeddings`)
//!
//! Kinds: `openai` (base URL + `Authorization: Bearer`) and `azure`
//! (`{endpoint}/openai/deployments/{model}/chat/completions?api-version=…` + `api-key`).

pub mod embed;
pub mod profile;
pub mod request;
pub mod response;
pub mod stream;

use apex_adapter_kit::Adapter;
use apex_adapter_kit::body_edit::unedited;
use apex_adapter_kit::types::{
    AdapterError, ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, ErrorKind, ForwardedBody,
    Forwarding, HttpRequest, KindInfo, Protocol, Target,
};

/// What this adapter translates; each has golden cases under `fixtures/` (checked by
/// `tests/fixtures.rs`).
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
    "reasoning",
    "stream-text",
    "stream-tools",
    "stream-usage",
    "azure",
    "errors",
    "embeddings",
];

/// The OpenAI-compatible adapter.
pub struct OpenAi;

impl Adapter for OpenAi {
    const KINDS: &'static [&'static str] = &["openai", "azure"];
    const NAME: &'static str = "OpenAI-compatible providers";
    type Decoder = apex_adapter_kit::sse::SseStream<stream::Decoder>;

    fn build_request(target: &Target, request: &ChatRequest) -> Result<HttpRequest, AdapterError> {
        request::build(target, request)
    }

    fn forward_request(
        target: &Target,
        protocol: Protocol,
        path: &str,
        body: &ForwardedBody,
    ) -> Result<Forwarding, AdapterError> {
        match protocol {
            Protocol::OpenaiChat | Protocol::OpenaiResponses => {
                // Only Azure's URL names the model (its deployment).
                let model = body.model.as_deref().unwrap_or_default();
                Ok(unedited(request::http_request(
                    target,
                    path,
                    model,
                    Vec::new(),
                )))
            }
            Protocol::AnthropicMessages | Protocol::GeminiGenerateContent => {
                Err(apex_adapter_kit::error(
                    ErrorKind::Unsupported,
                    format!(
                        "OpenAI-compatible providers do not speak the {} protocol",
                        apex_adapter_kit::protocol_name(protocol)
                    ),
                ))
            }
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

    /// Both kinds forward OpenAI Chat Completions and Responses bodies untouched; what the models
    /// take and return is the profile's.
    fn describe(_kind: &str, profile: &str) -> KindInfo {
        let profile = profile::profile(profile);
        KindInfo {
            forwards: vec![Protocol::OpenaiChat, Protocol::OpenaiResponses],
            vision: profile.vision,
            thinking: profile.thinking,
            embeddings: true,
            ..KindInfo::plain()
        }
    }
}

#[cfg(target_arch = "wasm32")]
apex_adapter_kit::export_adapter_link!(crate::OpenAi);

#[cfg(test)]
mod tests {
    use super::*;

    fn azure() -> Target {
        Target {
            kind: "azure".to_string(),
            profile: "azure".to_string(),
            base_url: "https://res.openai.azure.com".to_string(),
            api_key: "az".to_string(),
            api_version: Some("2025-04-01-preview".to_string()),
            headers: Vec::new(),
        }
    }

    fn naming(model: Option<&str>) -> ForwardedBody {
        ForwardedBody {
            model: model.map(str::to_string),
            stream: false,
        }
    }

    #[test]
    fn azure_serves_the_responses_api_per_resource() -> Result<(), AdapterError> {
        let body = naming(Some("gpt-4.1-dev"));
        let create =
            OpenAi::forward_request(&azure(), Protocol::OpenaiResponses, "responses", &body)?;
        assert_eq!(
            create.request.url,
            "https://res.openai.azure.com/openai/responses?api-version=2025-04-01-preview"
        );
        assert!(create.edits.is_empty() && create.request.body.is_empty());
        let page = OpenAi::forward_request(
            &azure(),
            Protocol::OpenaiResponses,
            "responses/resp_1/input_items?limit=5",
            &naming(None),
        )?;
        assert_eq!(
            page.request.url,
            "https://res.openai.azure.com/openai/responses/resp_1/input_items?limit=5&api-version=2025-04-01-preview"
        );
        let chat = OpenAi::forward_request(
            &azure(),
            Protocol::OpenaiChat,
            "chat/completions",
            &naming(Some("gpt-4o-mini-dev")),
        )?;
        assert_eq!(
            chat.request.url,
            "https://res.openai.azure.com/openai/deployments/gpt-4o-mini-dev/chat/completions?api-version=2025-04-01-preview"
        );
        Ok(())
    }
}
