//! Neutral embeddings request → `POST {base_url}/api/embed`, and its reply.
//!
//! `{model, input: [texts], dimensions?}` → `{model, embeddings: [[…]], prompt_eval_count}`.
//! Token-id inputs cannot be expressed (`unsupported`).

use apex_adapter_kit::http::json_reply;
use apex_adapter_kit::types::{
    AdapterError, EmbedInput, EmbedRequest, EmbedResponse, HttpRequest, Target,
};
use serde::{Deserialize, Serialize};

use crate::request::http_request_at;

/// The path of the embeddings endpoint, relative to the server root.
pub const EMBED_PATH: &str = "api/embed";

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    input: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<u32>,
}

/// The upstream request for `request`.
pub fn build(target: &Target, request: &EmbedRequest) -> Result<HttpRequest, AdapterError> {
    let EmbedInput::Texts(texts) = &request.input else {
        return Err(apex_adapter_kit::unsupported(
            "Ollama embeds text only: token-id inputs cannot be sent to it",
        ));
    };
    let body = Body {
        model: &request.model,
        input: texts,
        dimensions: request.dimensions,
    };
    let bytes = serde_json::to_vec(&body).map_err(apex_adapter_kit::invalid)?;
    Ok(http_request_at(target, EMBED_PATH, bytes))
}

#[derive(Deserialize)]
struct Reply {
    #[serde(default)]
    model: String,
    embeddings: Vec<Vec<f32>>,
    prompt_eval_count: Option<u32>,
}

/// The vectors in a reply of any status (errors classified as for chat).
pub fn parse(
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<EmbedResponse, AdapterError> {
    let reply: Reply = json_reply(status, headers, body, crate::response::error)?;
    Ok(EmbedResponse {
        model: reply.model,
        embeddings: reply.embeddings,
        input_tokens: reply.prompt_eval_count,
    })
}
