//! Adapter for the Google Gemini API (`generateContent` / `streamGenerateContent`).
//!
//! - `wire.rs`: request wire types, and the raw-JSON body object
//! - `schema.rs`: JSON Schema → the OpenAPI subset Gemini's `Schema` accepts (`schema/references.rs`:
//!   `$ref` inlining and `allOf` merging; `schema/keywords.rs`: keyword rewriting)
//! - `request.rs`: neutral request → `POST {base_url}/models/{model}:generateContent`
//!   (`request/contents.rs`: messages → `contents`)
//! - `response.rs`: `GenerateContentResponse` → neutral response
//! - `error.rs`: Google error bodies → classified errors
//! - `stream.rs`: `streamGenerateContent?alt=sse` events → neutral stream events
//! - `json.rs`: an order-keeping JSON tree (for schemas)
//! - `embed.rs`: embeddings (`models/{model}:batchEmbedContents`)
//!
//! Kind: `gemini`. `base_url` includes the version (`https://generativelanguage.googleapis.com/v1beta`);
//! auth is the `x-goog-api-key` header. A model may be named `gemini-2.5-flash` or
//! `models/gemini-2.5-flash`.
//!
//! # Conventions
//!
//! **Thought signatures.** Gemini puts an opaque `thoughtSignature` on some parts of an answer
//! (the first function call of a step, a text part, a thought) and wants each back on the same part
//! in the next request. The neutral form has signatures on thinking parts only, so:
//! - In a response, a signature on a part that is not a thought becomes an empty thinking part
//!   `Thinking { text: "", signature: Some(sig) }` right before that part; a thought-summary part
//!   (`thought: true`) becomes `Thinking { text, signature }` with its own signature, if any.
//! - In a stream, likewise: `ThinkingSignature(sig)` right before the `ToolCallStart` or
//!   `TextDelta` of the part that carried it; a thought's `ThinkingDelta`s are followed by its own
//!   `ThinkingSignature`.
//! - In a request, an empty signed thinking part gives its signature to the next part of the same
//!   message (as `thoughtSignature`), or becomes an empty signed text part when nothing follows;
//!   a thinking part with text goes back as `{text, thought: true, thoughtSignature}` when signed
//!   and is dropped when not (Gemini reads nothing from unsigned thoughts).
//!
//! **Tool call ids.** Gemini's function calls have no id (a few versions send `functionCall.id`,
//! which is then used). The adapter names the `n`th call of a reply `gemini-call-{responseId}-{n}`
//! (`gemini-call-{n}` without a `responseId`): stable for a reply, unique in a conversation. Ids
//! are never sent to Gemini: a tool result names its function (the result's `name`, or the name
//! of the latest earlier call with the result's call id).
//!
//! **Usage.** `input-tokens` is `promptTokenCount` (cached tokens included) plus
//! `toolUsePromptTokenCount`; `output-tokens` is `candidatesTokenCount` plus `thoughtsTokenCount`
//! (reasoning counts as output, as OpenAI counts it), with `reasoning-tokens` the thoughts alone;
//! `cache-read-tokens` is `cachedContentTokenCount`.
//!
//! **Reasoning.** `budget-tokens` is sent as `thinkingBudget`; an effort maps to a budget (`none`
//! 0, `minimal` 512, `low` 1024, `medium` 8192, `high` 24576: values every Gemini 2.5 model
//! accepts), with `includeThoughts: true` so thought summaries come back as thinking.
//!
//! **Schemas** of tools and of JSON-schema response formats are rewritten to the subset Gemini
//! takes (see `schema.rs`).
//!
//! **Extras** are merged into the body's top level without overriding built fields, and an extra
//! `generationConfig` is merged into the built one the same way.
//!
//! Not expressed (Gemini has no such field): `parallel-tool-calls`, `user`, tool `strict`.

pub mod embed;
pub mod error;
pub mod json;
pub mod request;
pub mod response;
pub mod schema;
pub mod stream;
pub mod wire;

use apex_adapter_kit::Adapter;
use apex_adapter_kit::body_edit::unedited;
use apex_adapter_kit::types::{
    AdapterError, ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, ForwardedBody,
    Forwarding, HttpRequest, KindInfo, Protocol, Target,
};

/// The context window of Gemini's current models, in tokens.
pub const CONTEXT_WINDOW: u32 = 1_048_576;

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
    "schema-cleaning",
    "stop-sequences",
    "max-tokens",
    "usage",
    "thinking",
    "stream-text",
    "stream-tools",
    "stream-thinking",
    "content-filter",
    "errors",
    "unsupported",
    "embeddings",
];

/// The Gemini adapter.
pub struct Gemini;

impl Adapter for Gemini {
    const KINDS: &'static [&'static str] = &["gemini"];
    const NAME: &'static str = "Gemini";
    type Decoder = apex_adapter_kit::sse::SseStream<stream::Decoder>;

    fn build_request(target: &Target, request: &ChatRequest) -> Result<HttpRequest, AdapterError> {
        request::build(target, request)
    }

    fn parse_response(
        _kind: &str,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<ChatResponse, AdapterError> {
        response::parse(status, headers, body)
    }

    /// Gemini API clients' requests, untouched but for the model in the path (see
    /// [`request::forward`]).
    fn forward_request(
        target: &Target,
        protocol: Protocol,
        path: &str,
        _body: &ForwardedBody,
    ) -> Result<Forwarding, AdapterError> {
        match protocol {
            Protocol::GeminiGenerateContent => request::forward(target, path).map(unedited),
            Protocol::OpenaiChat | Protocol::AnthropicMessages | Protocol::OpenaiResponses => {
                Err(apex_adapter_kit::unsupported(format!(
                    "Gemini speaks only its own generateContent protocol, not {}",
                    apex_adapter_kit::protocol_name(protocol)
                )))
            }
        }
    }

    /// Gemini forwards its own protocol; its current models take a 1M-token context, images,
    /// and return thought summaries.
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

    fn build_count_request(
        target: &Target,
        request: &ChatRequest,
    ) -> Result<HttpRequest, AdapterError> {
        request::build_count(target, request)
    }

    fn parse_count_response(
        _kind: &str,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<u32, AdapterError> {
        request::parse_count(status, headers, body)
    }

    fn describe(_kind: &str, _profile: &str) -> KindInfo {
        KindInfo {
            forwards: vec![Protocol::GeminiGenerateContent],
            context_window: CONTEXT_WINDOW,
            vision: true,
            thinking: true,
            embeddings: true,
            ..KindInfo::plain()
        }
    }
}

#[cfg(target_arch = "wasm32")]
apex_adapter_kit::export_adapter_link!(crate::Gemini);

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            kind: "gemini".to_string(),
            profile: String::new(),
            base_url: "https://generativelanguage.googleapis.com/v1beta/".to_string(),
            api_key: "k".to_string(),
            api_version: None,
            headers: Vec::new(),
        }
    }

    #[test]
    fn counting_asks_count_tokens_with_the_whole_request() {
        let request = ChatRequest::new(
            "gemini-2.5-flash",
            vec![apex_adapter_kit::types::Message {
                role: apex_adapter_kit::types::Role::User,
                content: vec![apex_adapter_kit::types::ContentPart::Text("hi".into())],
                name: None,
            }],
        );
        let http = Gemini::build_count_request(&target(), &request).unwrap();
        assert_eq!(
            http.url,
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:countTokens"
        );
        let body: serde_json::Value = serde_json::from_slice(&http.body).unwrap();
        let whole = &body["generateContentRequest"];
        assert_eq!(whole["model"], "models/gemini-2.5-flash");
        assert_eq!(whole["contents"][0]["parts"][0]["text"], "hi");
        assert_eq!(
            Gemini::parse_count_response("gemini", 200, &[], br#"{"totalTokens":7}"#),
            Ok(7)
        );
        assert!(Gemini::parse_count_response("gemini", 200, &[], b"{}").is_err());
    }

    #[test]
    fn gemini_clients_are_forwarded_with_the_model_in_the_path() -> Result<(), AdapterError> {
        let unnamed = ForwardedBody {
            model: None,
            stream: true,
        };
        let forwarded = Gemini::forward_request(
            &target(),
            Protocol::GeminiGenerateContent,
            "models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            &unnamed,
        )?;
        assert!(forwarded.edits.is_empty());
        let http = forwarded.request;
        assert_eq!(
            http.url,
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
        assert!(http.body.is_empty());
        assert!(
            http.headers
                .contains(&("x-goog-api-key".to_string(), "k".to_string()))
        );
        let http = Gemini::forward_request(
            &target(),
            Protocol::GeminiGenerateContent,
            "models/a/../b:countTokens",
            &unnamed,
        )?;
        assert_eq!(
            http.request.url,
            "https://generativelanguage.googleapis.com/v1beta/models/a%2F..%2Fb:countTokens"
        );
        for bad in [
            "models/m:deleteEverything",
            "models/m:generateContent?key=x",
            "files/x:generateContent",
            "models/m",
        ] {
            let result =
                Gemini::forward_request(&target(), Protocol::GeminiGenerateContent, bad, &unnamed);
            assert!(result.is_err(), "{bad}");
        }
        assert!(
            Gemini::describe("gemini", "")
                .forwards
                .contains(&Protocol::GeminiGenerateContent)
        );
        Ok(())
    }

    #[test]
    fn forwarding_is_unsupported_for_every_protocol() {
        for protocol in [
            Protocol::OpenaiChat,
            Protocol::AnthropicMessages,
            Protocol::OpenaiResponses,
        ] {
            let result = Gemini::forward_request(
                &target(),
                protocol,
                "chat/completions",
                &ForwardedBody::naming("m"),
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

    #[test]
    fn urls_name_the_model_once_and_stream_as_sse() -> Result<(), AdapterError> {
        let mut req = ChatRequest::new("models/gemini-2.5-flash", Vec::new());
        let http = Gemini::build_request(&target(), &req)?;
        assert_eq!(
            http.url,
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
        );
        req.model = "my model#1".to_string();
        req.stream = true;
        let http = Gemini::build_request(&target(), &req)?;
        assert_eq!(
            http.url,
            "https://generativelanguage.googleapis.com/v1beta/models/my%20model%231:streamGenerateContent?alt=sse"
        );
        Ok(())
    }
}
