//! The fuzz targets: each a function of one input's bytes that must never panic. A target returns
//! `Ok(true)` when the input got past parsing (such inputs are kept to mutate further), `Ok(false)`
//! when it was refused as it should be, and `Err` when a property failed (a 5xx for client input,
//! malformed output, a result that depends on how a stream was cut): reported like a panic.

pub mod adapters;
pub mod client;
pub mod output;
pub mod upstream;

use crate::seeds;

pub type Outcome = Result<bool, String>;

/// One fuzz target.
pub struct Target {
    pub name: &'static str,
    pub about: &'static str,
    pub run: fn(&[u8]) -> Outcome,
    pub seeds: fn() -> Vec<Vec<u8>>,
}

/// Every target, client input first.
pub fn all() -> Vec<Target> {
    vec![
        Target {
            name: "openai-chat",
            about: "POST /v1/chat/completions: routing, the neutral request, forwarding, echo, translation to every adapter",
            run: client::openai_chat,
            seeds: seeds::openai_chat,
        },
        Target {
            name: "anthropic-messages",
            about: "POST /v1/messages: routing, the neutral request, forwarding, echo, translation to every adapter",
            run: client::anthropic_messages,
            seeds: seeds::anthropic_messages,
        },
        Target {
            name: "anthropic-count-tokens",
            about: "POST /v1/messages/count_tokens: routing, forwarding to Anthropic kinds, the local estimate",
            run: client::count_tokens,
            seeds: seeds::anthropic_messages,
        },
        Target {
            name: "responses-create",
            about: "POST /v1/responses: previous_response_id continuation, routing, wire.rs conversion, record, translation",
            run: client::responses_create,
            seeds: seeds::responses,
        },
        Target {
            name: "responses-resource",
            about: "/v1/responses/{id}[/input_items|/cancel] with any method, path and query (resource.rs), and the provider path",
            run: client::responses_resource,
            seeds: seeds::responses_resource,
        },
        Target {
            name: "responses-input-items",
            about: "GET /v1/responses/{id}/input_items: the query (limit, order, after, before) over a stored record",
            run: client::responses_input_items,
            seeds: seeds::responses_input_items,
        },
        Target {
            name: "gemini-generate",
            about: "POST /v1beta/models/{model}:generateContent and :streamGenerateContent (SSE, JSON array), countTokens: routing, the neutral request, forwarding, echo, translation",
            run: client::gemini_generate,
            seeds: seeds::gemini_generate,
        },
        Target {
            name: "ollama-chat",
            about: "POST /api/chat: load calls, routing, the neutral request, echo, translation",
            run: client::ollama_chat,
            seeds: seeds::ollama_chat,
        },
        Target {
            name: "ollama-generate",
            about: "POST /api/generate: load calls, routing, the neutral request, echo, translation",
            run: client::ollama_generate,
            seeds: seeds::ollama_generate,
        },
        Target {
            name: "ollama-show",
            about: "POST /api/show over the example config",
            run: client::ollama_show,
            seeds: seeds::ollama_show,
        },
        Target {
            name: "auth",
            about: "gateway keys from Authorization / x-api-key headers",
            run: client::auth,
            seeds: seeds::auth,
        },
        Target {
            name: "cors",
            about: "allowed origins, preflight and response headers",
            run: client::cors,
            seeds: seeds::cors,
        },
        Target {
            name: "config",
            about: "the TOML configuration (operator input): load, route names, /v1/models, /api/tags",
            run: client::config_text,
            seeds: seeds::config,
        },
        Target {
            name: "openai-response",
            about: "OpenAI-compatible / Azure parse_response on any status, headers and body; rendered by every surface",
            run: upstream::openai_response,
            seeds: || seeds::responses_of("openai"),
        },
        Target {
            name: "anthropic-response",
            about: "Anthropic / Vertex parse_response on any status, headers and body; rendered by every surface",
            run: upstream::anthropic_response,
            seeds: || seeds::responses_of("anthropic"),
        },
        Target {
            name: "gemini-response",
            about: "Gemini parse_response on any status, headers and body; rendered by every surface",
            run: upstream::gemini_response,
            seeds: || seeds::responses_of("gemini"),
        },
        Target {
            name: "cohere-response",
            about: "Cohere parse_response on any status, headers and body; rendered by every surface",
            run: upstream::cohere_response,
            seeds: || seeds::responses_of("cohere"),
        },
        Target {
            name: "ollama-response",
            about: "Ollama parse_response on any status, headers and body; rendered by every surface",
            run: upstream::ollama_response,
            seeds: || seeds::responses_of("ollama"),
        },
        Target {
            name: "openai-stream",
            about: "OpenAI-compatible SSE decoder, whole and in arbitrary chunks; written by every surface",
            run: upstream::openai_stream,
            seeds: || seeds::streams_of("openai"),
        },
        Target {
            name: "anthropic-stream",
            about: "Anthropic SSE decoder, whole and in arbitrary chunks; written by every surface",
            run: upstream::anthropic_stream,
            seeds: || seeds::streams_of("anthropic"),
        },
        Target {
            name: "gemini-stream",
            about: "Gemini SSE decoder, whole and in arbitrary chunks; written by every surface",
            run: upstream::gemini_stream,
            seeds: || seeds::streams_of("gemini"),
        },
        Target {
            name: "cohere-stream",
            about: "Cohere SSE decoder, whole and in arbitrary chunks; written by every surface",
            run: upstream::cohere_stream,
            seeds: || seeds::streams_of("cohere"),
        },
        Target {
            name: "ollama-stream",
            about: "Ollama NDJSON decoder, whole and in arbitrary chunks; written by every surface",
            run: upstream::ollama_stream,
            seeds: || seeds::streams_of("ollama"),
        },
        Target {
            name: "sse-framing",
            about: "the adapter kit's SSE parser: the same events however the body is cut",
            run: upstream::sse_framing,
            seeds: seeds::all_streams,
        },
        Target {
            name: "build-request",
            about: "any neutral request through every adapter's build_request (URLs stay on the provider's origin)",
            run: upstream::build_request,
            seeds: seeds::neutral_requests,
        },
    ]
}

/// The target called `name`.
pub fn find(name: &str) -> Option<Target> {
    all().into_iter().find(|t| t.name == name)
}
