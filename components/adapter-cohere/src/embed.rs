//! Neutral embeddings request → `POST {base_url}/embed` (Embed API v2), and its reply.
//!
//! `{model, texts, input_type: "search_document", embedding_types: ["float"], output_dimension?}`
//! → `{embeddings: {float: [[…]]}, meta: {billed_units: {input_tokens}}}`. The input type is the
//! request's task (`query` → `search_query`, `classification`, `clustering`; `document` and
//! `similarity` → `search_document`), and `search_document` without one: what an OpenAI-style
//! embeddings call means (vectors to store and compare). Token-id inputs cannot be expressed
//! (`unsupported`).

use apex_adapter_kit::http::{join_url, json_reply, post};
use apex_adapter_kit::types::{
    AdapterError, EmbedInput, EmbedRequest, EmbedResponse, EmbedTask, HttpRequest, Target,
};
use serde::{Deserialize, Serialize};

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    texts: &'a [String],
    input_type: &'static str,
    embedding_types: [&'static str; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    output_dimension: Option<u32>,
}

/// The most texts one Embed call takes.
pub const MAX_TEXTS: usize = 96;

/// The upstream request for `request` (an invalid request past [`MAX_TEXTS`] texts, which Cohere
/// would refuse).
pub fn build(target: &Target, request: &EmbedRequest) -> Result<HttpRequest, AdapterError> {
    let EmbedInput::Texts(texts) = &request.input else {
        return Err(apex_adapter_kit::unsupported(
            "Cohere embeds text only: token-id inputs cannot be sent to it",
        ));
    };
    if texts.len() > MAX_TEXTS {
        return Err(apex_adapter_kit::invalid(format!(
            "Cohere embeds at most {MAX_TEXTS} texts per request ({} were sent).",
            texts.len()
        )));
    }
    let body = Body {
        model: &request.model,
        texts,
        input_type: match request.task {
            Some(EmbedTask::Query) => "search_query",
            Some(EmbedTask::Classification) => "classification",
            Some(EmbedTask::Clustering) => "clustering",
            Some(EmbedTask::Document | EmbedTask::Similarity) | None => "search_document",
        },
        embedding_types: ["float"],
        output_dimension: request.dimensions,
    };
    let bytes = serde_json::to_vec(&body).map_err(apex_adapter_kit::invalid)?;
    let headers = vec![
        (
            "authorization".to_string(),
            format!("Bearer {}", target.api_key),
        ),
        ("content-type".to_string(), "application/json".to_string()),
        ("accept".to_string(), "application/json".to_string()),
    ];
    Ok(post(
        target,
        join_url(&target.base_url, "embed"),
        headers,
        bytes,
    ))
}

#[derive(Deserialize)]
struct Reply {
    embeddings: ByType,
    meta: Option<Meta>,
}

#[derive(Deserialize)]
struct ByType {
    #[serde(default)]
    float: Vec<Vec<f32>>,
}

#[derive(Deserialize)]
struct Meta {
    billed_units: Option<Billed>,
}

#[derive(Deserialize)]
struct Billed {
    input_tokens: Option<f64>,
}

/// The vectors in a reply of any status (errors classified as for chat).
pub fn parse(
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<EmbedResponse, AdapterError> {
    let reply: Reply = json_reply(status, headers, body, crate::response::error)?;
    Ok(EmbedResponse {
        model: String::new(),
        embeddings: reply.embeddings.float,
        input_tokens: reply
            .meta
            .and_then(|m| m.billed_units)
            .and_then(|b| b.input_tokens)
            .map(|n| n as u32),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_texts_than_cohere_takes_are_refused_before_sending() {
        let target = Target {
            kind: "cohere".into(),
            profile: String::new(),
            base_url: "https://api.cohere.com/v2".into(),
            api_key: "k".into(),
            api_version: None,
            headers: Vec::new(),
        };
        let request = |n: usize| EmbedRequest {
            model: "embed-v4.0".into(),
            input: EmbedInput::Texts(vec!["x".into(); n]),
            dimensions: None,
            task: None,
            user: None,
        };
        assert!(build(&target, &request(MAX_TEXTS)).is_ok());
        let refused = build(&target, &request(MAX_TEXTS + 1)).unwrap_err();
        assert_eq!(
            refused.kind,
            apex_adapter_kit::types::ErrorKind::InvalidRequest
        );
    }
}
