//! The adapters called natively by provider kind, as the composed chain would route them.

use apex_adapter_anthropic::Anthropic;
use apex_adapter_cohere::Cohere;
use apex_adapter_gemini::Gemini;
use apex_adapter_kit::types::{
    AdapterError, ChatRequest, ChatResponse, ForwardedBody, HttpRequest, Protocol, StreamEvent,
    Target,
};
use apex_adapter_kit::{Adapter, StreamDecode};
use apex_adapter_ollama::Ollama;
use apex_adapter_openai::OpenAi;

/// Every provider kind the adapters serve.
pub const KINDS: &[&str] = &[
    "openai",
    "azure",
    "anthropic",
    "vertex-anthropic",
    "gemini",
    "cohere",
    "ollama",
];

/// OpenAI-compatible profiles (quirks change the request the adapter builds).
const PROFILES: &[&str] = &[
    "openai",
    "deepseek",
    "groq",
    "mistral",
    "ollama",
    "openrouter",
    "xai",
    "yi",
    "aliyun",
    "",
];

/// A target of `kind` as configured providers make them; `variant` picks among profiles and
/// optional settings.
pub fn target(kind: &str, variant: u64) -> Target {
    let (base_url, profile, api_version) = match kind {
        "azure" => (
            "https://res.openai.azure.com",
            "azure",
            Some("2024-10-21".to_string()),
        ),
        "anthropic" => (
            "https://api.anthropic.com/v1",
            "",
            variant.is_multiple_of(2).then(|| "2023-06-01".to_string()),
        ),
        "vertex-anthropic" => (
            "https://us-east5-aiplatform.googleapis.com/v1/projects/p/locations/us-east5",
            "",
            None,
        ),
        "gemini" => ("https://generativelanguage.googleapis.com/v1beta", "", None),
        "cohere" => ("https://api.cohere.com/v2", "", None),
        "ollama" => ("http://127.0.0.1:11434", "", None),
        _ => (
            "https://api.openai.com/v1",
            PROFILES[(variant as usize) % PROFILES.len()],
            None,
        ),
    };
    Target {
        kind: kind.to_string(),
        profile: profile.to_string(),
        base_url: base_url.to_string(),
        api_key: "fuzz-upstream-key".to_string(),
        api_version,
        headers: Vec::new(),
    }
}

/// The kinds of one adapter crate, by its short name.
pub fn kinds_of(adapter: &str) -> &'static [&'static str] {
    match adapter {
        "openai" => &["openai", "azure"],
        "anthropic" => &["anthropic", "vertex-anthropic"],
        "gemini" => &["gemini"],
        "cohere" => &["cohere"],
        _ => &["ollama"],
    }
}

pub fn build(target: &Target, request: &ChatRequest) -> Result<HttpRequest, AdapterError> {
    match target.kind.as_str() {
        "openai" | "azure" => OpenAi::build_request(target, request),
        "anthropic" | "vertex-anthropic" => Anthropic::build_request(target, request),
        "gemini" => Gemini::build_request(target, request),
        "cohere" => Cohere::build_request(target, request),
        _ => Ollama::build_request(target, request),
    }
}

/// What the router does to forward a client's `body`: asks the target's adapter how, then puts
/// `model` in and makes the adapter's edits. `Ok(None)`: the body cannot be edited (the client's
/// 400).
pub fn forward(
    target: &Target,
    protocol: Protocol,
    path: &str,
    body: &[u8],
    model: Option<&str>,
    stream: bool,
) -> Result<Option<HttpRequest>, AdapterError> {
    let read = ForwardedBody {
        model: model.map(str::to_string),
        stream,
    };
    let forwarding = match target.kind.as_str() {
        "openai" | "azure" => OpenAi::forward_request(target, protocol, path, &read),
        "anthropic" | "vertex-anthropic" => {
            Anthropic::forward_request(target, protocol, path, &read)
        }
        "gemini" => Gemini::forward_request(target, protocol, path, &read),
        "cohere" => Cohere::forward_request(target, protocol, path, &read),
        _ => Ollama::forward_request(target, protocol, path, &read),
    }?;
    Ok(apex_router::surfaces::forwarding::request(
        forwarding,
        body,
        model,
        model_place(protocol, body),
    )
    .ok())
}

/// Where the client's model lies in `body`, as the protocol's routing read notes it (`None`: the
/// forward scans for it, as the router's does then).
fn model_place(protocol: Protocol, body: &[u8]) -> Option<std::ops::Range<usize>> {
    use apex_router::surfaces::anthropic_messages::AnthropicMessages;
    use apex_router::surfaces::openai_chat::OpenAiChat;
    use apex_router::surfaces::responses::Responses;
    use apex_router::surfaces::{PathParams, Surface};
    let routing = match protocol {
        Protocol::OpenaiChat => OpenAiChat::routing(body, PathParams::default()),
        Protocol::AnthropicMessages => AnthropicMessages::routing(body, PathParams::default()),
        Protocol::OpenaiResponses => Responses::routing(body, PathParams::default()),
        Protocol::GeminiGenerateContent => return None,
    };
    routing.ok()?.model_at
}

pub fn parse(
    kind: &str,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<ChatResponse, AdapterError> {
    match kind {
        "openai" | "azure" => OpenAi::parse_response(kind, status, headers, body),
        "anthropic" | "vertex-anthropic" => Anthropic::parse_response(kind, status, headers, body),
        "gemini" => Gemini::parse_response(kind, status, headers, body),
        "cohere" => Cohere::parse_response(kind, status, headers, body),
        _ => Ollama::parse_response(kind, status, headers, body),
    }
}

pub fn decoder(kind: &str) -> Box<dyn StreamDecode> {
    match kind {
        "openai" | "azure" => Box::new(OpenAi::decoder(kind)),
        "anthropic" | "vertex-anthropic" => Box::new(Anthropic::decoder(kind)),
        "gemini" => Box::new(Gemini::decoder(kind)),
        "cohere" => Box::new(Cohere::decoder(kind)),
        _ => Box::new(Ollama::decoder(kind)),
    }
}

/// A stream decoded from `chunks`: the events up to the first error, and that error.
pub fn decode(kind: &str, chunks: &[&[u8]]) -> (Vec<StreamEvent>, Option<AdapterError>) {
    let mut decoder = decoder(kind);
    let mut events = Vec::new();
    for chunk in chunks {
        match decoder.feed(chunk) {
            Ok(more) => events.extend(more),
            Err(error) => return (events, Some(error)),
        }
    }
    match decoder.finish() {
        Ok(more) => events.extend(more),
        Err(error) => return (events, Some(error)),
    }
    (events, None)
}
