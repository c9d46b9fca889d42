//! The Gemini API surface, for what Gemini CLI, the google-genai SDKs, `@ai-sdk/google`,
//! `langchain-google-genai` and LiteLLM's `gemini/…` models speak:
//!
//! - `POST /v1beta/models/{model}:generateContent` ([`GenerateContent`])
//! - `POST /v1beta/models/{model}:streamGenerateContent?alt=sse` ([`StreamSse`]) and without
//!   `alt=sse` ([`StreamArray`]: one JSON array written as it grows)
//! - `POST /v1beta/models/{model}:countTokens`, `GET /v1beta/models`, `GET /v1beta/models/{model}`
//!
//! The same under `/v1/` (the google-genai SDKs use it when given a base URL). The model is in
//! the path ([`PathParams`]), not the body; `models/` is implied. Keys come as
//! `x-goog-api-key`, `?key=` or `Authorization: Bearer` (see `http::server`).
//!
//! Requests to `gemini` providers are forwarded untouched (the path's model replaced by the
//! upstream model); every other kind gets the translation. Google's hosted tools
//! (`googleSearch`, `codeExecution`, ...) only Gemini runs: a translation drops them and says so
//! in `x-apex-dropped-tools`.
//!
//! - `wire.rs`: the request body; `request.rs`: its neutral form; `schema.rs`: OpenAPI-subset
//!   schemas → JSON Schema
//! - `render.rs`: whole answers; `stream.rs`: SSE or JSON-array streams
//! - `models.rs`: the model list
//! - `embed.rs`: `:embedContent` and `:batchEmbedContents` (run by `routing::dispatch::embed`)

pub mod embed;
mod models;
mod render;
mod request;
mod schema;
mod stream;
mod wire;

use std::marker::PhantomData;

use apex_adapter_kit::types::{ChatRequest, ChatResponse, Protocol};
use serde::Deserialize;
use serde::de::IgnoredAny;

pub use models::{
    OUTPUT_TOKEN_LIMIT, get as get_model, list as list_models, not_found, not_found_for,
};
pub use render::render_response;
pub use schema::json_schema;
pub use stream::{ChunkWriter, Framing};

use crate::http::error::{ApiError, ErrorFormat};
use crate::surfaces::openai_chat::parse_json;
use crate::surfaces::{Delivered, PathParams, Routing, Surface};

/// How a generate call answers.
pub trait Mode {
    /// The method in the URL (`generateContent`, `streamGenerateContent`).
    const METHOD: &'static str;
    /// The query a forwarded request carries (`?alt=sse`).
    const QUERY: &'static str;
    /// `None`: a whole answer.
    const FRAMING: Option<Framing>;
    const CONTENT_TYPE: &'static str;
}

/// `:generateContent`.
pub struct Whole;
/// `:streamGenerateContent?alt=sse`.
pub struct Sse;
/// `:streamGenerateContent` (a JSON array).
pub struct Array;

impl Mode for Whole {
    const METHOD: &'static str = "generateContent";
    const QUERY: &'static str = "";
    const FRAMING: Option<Framing> = None;
    /// Unused (a whole answer never streams); its writer, for completeness, writes SSE.
    const CONTENT_TYPE: &'static str = "text/event-stream";
}

impl Mode for Sse {
    const METHOD: &'static str = "streamGenerateContent";
    const QUERY: &'static str = "?alt=sse";
    const FRAMING: Option<Framing> = Some(Framing::Sse);
    const CONTENT_TYPE: &'static str = "text/event-stream";
}

impl Mode for Array {
    const METHOD: &'static str = "streamGenerateContent";
    const QUERY: &'static str = "";
    const FRAMING: Option<Framing> = Some(Framing::JsonArray);
    const CONTENT_TYPE: &'static str = "application/json";
}

/// A Gemini generate call answered in mode `M`.
pub struct Gemini<M>(PhantomData<M>);

pub type GenerateContent = Gemini<Whole>;
pub type StreamSse = Gemini<Sse>;
pub type StreamArray = Gemini<Array>;

impl<M: Mode> Surface for Gemini<M> {
    const PROTOCOL: Protocol = Protocol::GeminiGenerateContent;
    /// Unused: [`Surface::forward_path`] names the model in the path.
    const FORWARD_PATH: &'static str = "";
    const MODEL_IN_BODY: bool = false;
    const ID_PREFIX: &'static str = "";
    const ERRORS: ErrorFormat = ErrorFormat::Google;
    /// Neither Google's SSE parsers nor a JSON array take a comment line.
    const KEEPALIVE: bool = false;
    const STREAM_CONTENT_TYPE: &'static str = M::CONTENT_TYPE;
    type Writer = ChunkWriter;

    fn routing(body: &[u8], path: PathParams) -> Result<Routing, ApiError> {
        #[derive(Deserialize)]
        struct Fields {
            #[allow(dead_code)] // checked to be an array
            contents: Option<Vec<IgnoredAny>>,
        }
        parse_json::<Fields>(body)?;
        let model = path
            .model
            .map(model_name)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| {
                ApiError::bad_request(
                    "The path names no model: use /v1beta/models/{model}:generateContent.",
                )
            })?;
        let mut routing = Routing::new(model.to_string(), M::FRAMING.is_some());
        routing.include_usage = true;
        routing.hosted_tools = hosted_tools(body);
        Ok(routing)
    }

    fn to_neutral(body: &[u8]) -> Result<ChatRequest, ApiError> {
        request::to_neutral(
            parse_json::<wire::GenerateRequest>(body)?,
            M::FRAMING.is_some(),
        )
    }

    fn render(
        response: &ChatResponse,
        id: &str,
        model: &str,
        _created: u64,
        _routing: &Routing,
    ) -> Vec<u8> {
        render_response(response, id, model)
    }

    fn writer(id: String, model: String, _created: u64, _routing: &Routing) -> ChunkWriter {
        ChunkWriter::new(id, model, M::FRAMING.unwrap_or(Framing::Sse))
    }

    fn model_not_found(model: &str) -> ApiError {
        not_found(model)
    }

    /// What a forwarded event delivered: a `finishReason` ends the answer, an `error` object
    /// fails it (read on server-sent events; a JSON array that breaks is no valid JSON anyway).
    fn forwarded_usage(body: &[u8]) -> Option<crate::state::usage::Tokens> {
        use crate::surfaces::reported_usage::{GeminiUsage, from_body};
        from_body::<GeminiUsage>(body, "usageMetadata").map(|u| u.tokens())
    }

    fn forwarded_event(data: &[u8]) -> Option<Delivered> {
        Some(stream::delivered(data))
    }

    /// The body untouched; the upstream model goes in the path.
    fn forward_path(model: &str, _routing: &Routing) -> String {
        forward_path(model, M::METHOD, M::QUERY)
    }
}

/// The path a forwarded call takes: `models/{model}:{method}{query}` (the adapter encodes the
/// model as one path segment).
pub fn forward_path(model: &str, method: &str, query: &str) -> String {
    format!("models/{}:{method}{query}", model_name(model))
}

/// A model name without Google's `models/` prefix.
pub fn model_name(model: &str) -> &str {
    model.strip_prefix("models/").unwrap_or(model)
}

/// Google's hosted tools in a body (`google_search`, `code_execution`, ...).
pub fn hosted_tools(body: &[u8]) -> Vec<String> {
    #[derive(Deserialize)]
    struct Tools {
        #[serde(default)]
        tools: Vec<wire::Tool>,
    }
    let Ok(tools) = serde_json::from_slice::<Tools>(body) else {
        return Vec::new();
    };
    let mut names: Vec<String> = tools
        .tools
        .iter()
        .flat_map(|tool| tool.hosted.keys())
        .map(|name| wire::snake_case(name))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// A `countTokens` body in neutral form (for the local estimate).
pub fn count_request(body: &[u8]) -> Result<ChatRequest, ApiError> {
    let request = parse_json::<wire::CountTokensRequest>(body)?;
    let request = match request.generate_content_request {
        Some(whole) => whole,
        None => wire::GenerateRequest {
            contents: request.contents,
            system_instruction: None,
            tools: Vec::new(),
            tool_config: None,
            generation_config: None,
        },
    };
    request::to_neutral(request, false)
}

/// A `countTokens` body for upstream model `model`: a `generateContentRequest.model` (which
/// names the alias) becomes `models/{model}`; any other body goes as it is.
pub fn count_body_for(body: &[u8], model: &str) -> Vec<u8> {
    let Ok(serde_json::Value::Object(mut whole)) = serde_json::from_slice(body) else {
        return body.to_vec();
    };
    match whole
        .get_mut("generateContentRequest")
        .and_then(|inner| inner.get_mut("model"))
    {
        Some(named) => *named = serde_json::Value::String(format!("models/{}", model_name(model))),
        None => return body.to_vec(),
    }
    serde_json::to_vec(&whole).unwrap_or_else(|_| body.to_vec())
}

/// A Gemini API call, read from the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call<'a> {
    /// `GET …/models`
    List,
    /// `GET …/models/{model}`
    Get(&'a str),
    /// `POST …/models/{model}:{method}`
    Method { model: &'a str, method: &'a str },
}

/// The Gemini call a path names (`/v1beta/models…`, or `/v1/models/{model}:{method}`; the
/// plain `/v1/models` list and `/v1/models/{model}` are Gemini calls only when `google` says the
/// client is a Google client). The model is still percent-encoded.
pub fn call(path: &str, google: bool) -> Option<Call<'_>> {
    let (rest, beta) = match path.strip_prefix("/v1beta/") {
        Some(rest) => (rest, true),
        None => (path.strip_prefix("/v1/")?, false),
    };
    if rest == "models" || rest == "models/" {
        return (beta || google).then_some(Call::List);
    }
    let named = rest.strip_prefix("models/")?;
    match named.rsplit_once(':') {
        Some((model, method))
            if !model.is_empty() && method.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            Some(Call::Method { model, method })
        }
        _ if beta || google => Some(Call::Get(named)),
        _ => None,
    }
}

/// Whether a request comes from a Google client: it sent `x-goog-api-key` or `?key=`.
pub fn is_google_client(headers: &[(String, String)], query: &str) -> bool {
    apex_adapter_kit::http::header(headers, "x-goog-api-key").is_some()
        || query_key(query).is_some()
}

/// The `key` query parameter (Google's API-key parameter), percent-decoded.
pub fn query_key(query: &str) -> Option<String> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("key="))
        .and_then(percent_decode)
        .filter(|key| !key.is_empty())
}

/// Whether the query asks for server-sent events (`alt=sse`).
pub fn wants_sse(query: &str) -> bool {
    query.split('&').any(|pair| pair == "alt=sse")
}

/// `%XX` escapes (and `+` in queries is left as is: keys and model names have none).
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_calls_and_models() {
        assert_eq!(call("/v1beta/models", false), Some(Call::List));
        assert_eq!(call("/v1/models", false), None);
        assert_eq!(call("/v1/models", true), Some(Call::List));
        assert_eq!(
            call(
                "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
                false
            ),
            Some(Call::Method {
                model: "gemini-2.5-flash",
                method: "streamGenerateContent"
            })
        );
        assert_eq!(
            call("/v1/models/p/x:generateContent", false),
            Some(Call::Method {
                model: "p/x",
                method: "generateContent"
            })
        );
        assert_eq!(call("/v1beta/models/g", false), Some(Call::Get("g")));
        assert_eq!(call("/v1/models/g", false), None);
        assert_eq!(call("/v1/chat/completions", true), None);
        assert_eq!(
            call("/v1beta/models/:generateContent", false),
            Some(Call::Get(":generateContent"))
        );
    }

    #[test]
    fn keys_and_alt_come_from_the_query() {
        assert_eq!(query_key("alt=sse&key=k%2B1"), Some("k+1".to_string()));
        assert_eq!(query_key("alt=sse"), None);
        assert_eq!(query_key("key="), None);
        assert!(wants_sse("key=a&alt=sse"));
        assert!(!wants_sse("alt=json"));
        assert_eq!(percent_decode("a%2"), None);
        assert_eq!(
            forward_path("models/gemini-2.5-pro", "streamGenerateContent", "?alt=sse"),
            "models/gemini-2.5-pro:streamGenerateContent?alt=sse"
        );
    }

    #[test]
    fn count_bodies_name_the_upstream_model() {
        let body = br#"{"generateContentRequest":{"model":"models/alias","contents":[]}}"#;
        assert_eq!(
            count_body_for(body, "gemini-2.5-pro"),
            br#"{"generateContentRequest":{"contents":[],"model":"models/gemini-2.5-pro"}}"#
                .to_vec()
        );
        let plain = br#"{"contents": []}"#;
        assert_eq!(count_body_for(plain, "m"), plain.to_vec());
    }

    #[test]
    fn hosted_tools_are_named_for_the_header() {
        let body =
            br#"{"tools":[{"googleSearch":{}},{"codeExecution":{},"functionDeclarations":[]}]}"#;
        assert_eq!(hosted_tools(body), vec!["code_execution", "google_search"]);
        assert!(hosted_tools(br#"{"contents":[]}"#).is_empty());
    }

    #[test]
    fn the_model_comes_from_the_path() {
        let path = PathParams {
            model: Some("models/m"),
        };
        let routing = StreamSse::routing(br#"{"contents":[]}"#, path).unwrap();
        assert_eq!((routing.model.as_str(), routing.stream), ("m", true));
        assert!(GenerateContent::routing(b"{}", PathParams::default()).is_err());
        assert!(GenerateContent::routing(b"[]", path).is_err());
    }
}
