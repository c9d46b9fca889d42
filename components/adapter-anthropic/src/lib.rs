//! Adapter for the Anthropic Messages API.
//!
//! - `wire.rs`: request wire types, and the raw-JSON body object
//! - `request.rs`: neutral request → `POST {base_url}/messages`
//! - `response.rs`: message body or error body → neutral response or classified error
//! - `stream.rs`: Messages SSE events → neutral stream events
//! - `vertex.rs`: the Vertex AI variant of requests (URL, auth, body edits; `vertex/base_url.rs`:
//!   the base-URL check)
//!
//! Kinds:
//! - `anthropic`: `base_url` includes the version prefix (`https://api.anthropic.com/v1`); auth is
//!   `x-api-key`, the API version goes in `anthropic-version`.
//! - `vertex-anthropic`: Claude on Google Cloud Vertex AI. `base_url` names the project and the
//!   region: `https://{REGION}-aiplatform.googleapis.com/v1/projects/{PROJECT}/locations/{REGION}`
//!   (for the `global` region: `https://aiplatform.googleapis.com/v1/projects/{PROJECT}/locations/global`);
//!   the adapter appends `/publishers/anthropic/models/{model}:rawPredict` (`:streamRawPredict`
//!   for streams). `api_key` is an OAuth access token, sent as `Authorization: Bearer`. The body
//!   has no `model` and carries `"anthropic_version": "vertex-2023-10-16"` (or `api_version` when
//!   it starts with `vertex-`). Replies and streams are Anthropic's; errors may also come in
//!   Google's `{"error": {"code", "message", "status"}}` shape. The configured keys are
//!   service-account key files, exchanged for access tokens (`exchanges-credential`): the adapter
//!   checks them, signs the JWT and reads the token endpoint's reply; the router sends and caches.
//!   Without a `base_url`, the provider's `region` and `project` settings (or the project its key
//!   names) make one.
//!
//! Both kinds forward the Anthropic Messages protocol untouched and describe Claude's current
//! models: a 200k-token context, images, thinking.

pub mod request;
pub mod response;
pub mod stream;
pub mod vertex;
pub mod wire;

use apex_adapter_kit::Adapter;
use apex_adapter_kit::body_edit::{self, unedited};
use apex_adapter_kit::types::{
    AccessToken, AdapterError, ChatRequest, ChatResponse, ErrorKind, ForwardedBody, Forwarding,
    HttpRequest, KindInfo, Protocol, SettingProblem, Target,
};

/// The context window of Claude's current models, in tokens.
pub const CONTEXT_WINDOW: u32 = 200_000;

/// What the fixture cases must cover (see `tests/fixtures.rs`).
pub const CAPABILITIES: &[&str] = &[
    "text",
    "system",
    "multi-turn",
    "images",
    "tools",
    "tool-results",
    "tool-choice",
    "stop-sequences",
    "max-tokens",
    "usage",
    "thinking",
    "stream-text",
    "stream-tools",
    "stream-thinking",
    "errors",
    "unsupported",
];

/// The Anthropic Messages adapter.
pub struct Anthropic;

impl Adapter for Anthropic {
    const KINDS: &'static [&'static str] = &["anthropic", vertex::KIND];
    const NAME: &'static str = "Anthropic";
    type Decoder = apex_adapter_kit::sse::SseStream<stream::Decoder>;

    fn build_request(target: &Target, request: &ChatRequest) -> Result<HttpRequest, AdapterError> {
        if target.kind == vertex::KIND {
            vertex::build(target, request)
        } else {
            request::build(target, request)
        }
    }

    fn forward_request(
        target: &Target,
        protocol: Protocol,
        path: &str,
        body: &ForwardedBody,
    ) -> Result<Forwarding, AdapterError> {
        match protocol {
            Protocol::AnthropicMessages if target.kind == vertex::KIND => {
                vertex::forward(target, path, body)
            }
            Protocol::AnthropicMessages => {
                let path = if path.trim_matches('/').is_empty() {
                    "messages"
                } else {
                    path
                };
                Ok(unedited(request::http_request(target, path, Vec::new())))
            }
            Protocol::OpenaiChat | Protocol::OpenaiResponses | Protocol::GeminiGenerateContent => {
                Err(apex_adapter_kit::error(
                    ErrorKind::Unsupported,
                    format!(
                        "Anthropic speaks only the Anthropic Messages protocol, not {}",
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

    /// `messages/count_tokens` (Vertex: `count-tokens:rawPredict`), with the Messages body cut
    /// to what counting takes.
    fn build_count_request(
        target: &Target,
        request: &ChatRequest,
    ) -> Result<HttpRequest, AdapterError> {
        let body = request::count_body(request)?;
        let counted = ForwardedBody {
            model: Some(request.model.clone()),
            stream: false,
        };
        let forwarding = Self::forward_request(
            target,
            Protocol::AnthropicMessages,
            "messages/count_tokens",
            &counted,
        )?;
        body_edit::attach(forwarding, &body, None).map_err(apex_adapter_kit::invalid)
    }

    fn parse_count_response(
        _kind: &str,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<u32, AdapterError> {
        request::parse_count(status, headers, body)
    }

    fn describe(kind: &str, _profile: &str) -> KindInfo {
        KindInfo {
            forwards: vec![Protocol::AnthropicMessages],
            exchanges_credential: kind == vertex::KIND,
            context_window: CONTEXT_WINDOW,
            vision: true,
            thinking: true,
            // Claude continues a trailing assistant message (newer models with thinking refuse
            // one with a 400; the router then asks afresh).
            prefill: true,
            tools: true,
            json_schema: true,
            // Anthropic has no embeddings API.
            embeddings: false,
        }
    }

    fn default_base_url(
        kind: &str,
        settings: &[(String, String)],
        credential: Option<&str>,
    ) -> Result<String, SettingProblem> {
        if kind == vertex::KIND {
            vertex::default_base_url(settings, credential)
        } else {
            Err(SettingProblem::base_url_required())
        }
    }

    fn check_credential(kind: &str, credential: &str) -> Result<(), String> {
        if kind == vertex::KIND {
            vertex::check_credential(credential)
        } else {
            Ok(())
        }
    }

    fn exchange_request(
        kind: &str,
        credential: &str,
        now_secs: u64,
    ) -> Result<HttpRequest, AdapterError> {
        if kind == vertex::KIND {
            vertex::exchange_request(credential, now_secs)
        } else {
            Err(apex_adapter_kit::no_exchange(kind))
        }
    }

    fn exchange_response(
        kind: &str,
        status: u16,
        body: &[u8],
    ) -> Result<AccessToken, AdapterError> {
        if kind == vertex::KIND {
            vertex::exchange_response(status, body)
        } else {
            Err(apex_adapter_kit::no_exchange(kind))
        }
    }
}

#[cfg(target_arch = "wasm32")]
apex_adapter_kit::export_adapter_link!(crate::Anthropic);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_sends_only_what_count_tokens_takes_and_reads_its_answer() {
        let mut request = ChatRequest::new(
            "claude-sonnet-4-5",
            vec![apex_adapter_kit::types::Message {
                role: apex_adapter_kit::types::Role::User,
                content: vec![apex_adapter_kit::types::ContentPart::Text("hi".into())],
                name: None,
            }],
        );
        request.max_tokens = Some(100);
        request.temperature = Some(0.5);
        let http = Anthropic::build_count_request(&target(), &request).unwrap();
        assert_eq!(
            http.url,
            "https://api.anthropic.com/v1/messages/count_tokens"
        );
        let body: serde_json::Value = serde_json::from_slice(&http.body).unwrap();
        let mut fields: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        fields.sort();
        assert_eq!(fields, ["messages", "model"]);
        assert_eq!(
            Anthropic::parse_count_response("anthropic", 200, &[], br#"{"input_tokens":42}"#),
            Ok(42)
        );
        let refused = Anthropic::parse_count_response(
            "anthropic",
            429,
            &[],
            br#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#,
        );
        assert_eq!(refused.unwrap_err().kind, ErrorKind::RateLimited);
    }

    fn target() -> Target {
        Target {
            kind: "anthropic".to_string(),
            profile: String::new(),
            base_url: "https://api.anthropic.com/v1/".to_string(),
            api_key: "k".to_string(),
            api_version: Some("2023-06-01".to_string()),
            headers: vec![("anthropic-beta".to_string(), "x".to_string())],
        }
    }

    fn naming(model: &str) -> ForwardedBody {
        ForwardedBody {
            model: Some(model.to_string()),
            stream: false,
        }
    }

    #[test]
    fn forwards_messages_bodies_unchanged() -> Result<(), AdapterError> {
        let forwarded = Anthropic::forward_request(
            &target(),
            Protocol::AnthropicMessages,
            "messages",
            &naming("m"),
        )?;
        assert!(forwarded.edits.is_empty());
        let http = forwarded.request;
        assert_eq!(http.url, "https://api.anthropic.com/v1/messages");
        assert!(http.body.is_empty());
        assert!(
            http.headers
                .contains(&("x-api-key".to_string(), "k".to_string()))
        );
        assert!(
            http.headers
                .contains(&("anthropic-beta".to_string(), "x".to_string()))
        );
        let http =
            Anthropic::forward_request(&target(), Protocol::AnthropicMessages, "", &naming("m"))?;
        assert_eq!(http.request.url, "https://api.anthropic.com/v1/messages");
        Ok(())
    }

    #[test]
    fn refuses_openai_protocols() {
        for protocol in [Protocol::OpenaiChat, Protocol::OpenaiResponses] {
            let result =
                Anthropic::forward_request(&target(), protocol, "chat/completions", &naming("m"));
            assert!(matches!(
                result,
                Err(AdapterError {
                    kind: ErrorKind::Unsupported,
                    ..
                })
            ));
        }
    }
}
