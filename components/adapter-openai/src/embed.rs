//! Neutral embeddings request → `POST …/embeddings` (Azure: per deployment), and its reply.
//!
//! The body is OpenAI's: `{model, input, dimensions?, encoding_format: "float", user?}`, where
//! `input` is the list of texts or of token-id lists; the reply is
//! `{data: [{embedding, index}], model, usage: {prompt_tokens, total_tokens}}`.

use apex_adapter_kit::http::{json_reply, malformed};
use apex_adapter_kit::types::{
    AdapterError, EmbedInput, EmbedRequest, EmbedResponse, HttpRequest, Target,
};
use serde::{Deserialize, Serialize};

use crate::request::http_request;

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    input: Input<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<u32>,
    encoding_format: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Input<'a> {
    Texts(&'a [String]),
    Tokens(&'a [Vec<u32>]),
}

/// The upstream request for `request`.
pub fn build(target: &Target, request: &EmbedRequest) -> Result<HttpRequest, AdapterError> {
    let body = Body {
        model: &request.model,
        input: match &request.input {
            EmbedInput::Texts(texts) => Input::Texts(texts),
            EmbedInput::Tokens(tokens) => Input::Tokens(tokens),
        },
        dimensions: request.dimensions,
        encoding_format: "float",
        user: request.user.as_deref(),
    };
    let bytes = serde_json::to_vec(&body).map_err(apex_adapter_kit::invalid)?;
    Ok(http_request(target, "embeddings", &request.model, bytes))
}

#[derive(Deserialize)]
struct Reply {
    data: Vec<Datum>,
    #[serde(default)]
    model: String,
    usage: Option<ReplyUsage>,
}

#[derive(Deserialize)]
struct Datum {
    embedding: Vec<f32>,
    #[serde(default)]
    index: usize,
}

#[derive(Deserialize)]
struct ReplyUsage {
    #[serde(default)]
    prompt_tokens: u32,
}

/// The vectors in a reply of any status (errors classified as for chat).
pub fn parse(
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<EmbedResponse, AdapterError> {
    let mut reply: Reply = json_reply(status, headers, body, crate::response::error)?;
    // `index` says which input a vector belongs to; servers send them in order, but need not.
    reply.data.sort_by_key(|datum| datum.index);
    if reply.data.iter().enumerate().any(|(i, d)| d.index != i) {
        return Err(malformed("embedding indexes are not 0..n"));
    }
    Ok(EmbedResponse {
        model: reply.model,
        embeddings: reply.data.into_iter().map(|d| d.embedding).collect(),
        input_tokens: reply.usage.map(|u| u.prompt_tokens),
    })
}
