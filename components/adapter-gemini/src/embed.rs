//! Neutral embeddings request → `POST {base_url}/models/{model}:batchEmbedContents`, and its
//! reply.
//!
//! One request per input text: `{requests: [{model: "models/{model}", content: {parts: [{text}]},
//! outputDimensionality?, taskType?}]}`; the reply is `{embeddings: [{values}]}` in request order.
//! The task is Gemini's `taskType` (`query` → `RETRIEVAL_QUERY`, `document` →
//! `RETRIEVAL_DOCUMENT`, `similarity` → `SEMANTIC_SIMILARITY`, `classification`, `clustering`).
//! Gemini reports no token count for embeddings. Token-id inputs cannot be expressed
//! (`unsupported`).

use apex_adapter_kit::http::json_reply;
use apex_adapter_kit::types::{
    AdapterError, EmbedInput, EmbedRequest, EmbedResponse, EmbedTask, HttpRequest, Target,
};
use serde::{Deserialize, Serialize};

use crate::request::{http_request, model_path};

#[derive(Serialize)]
struct Batch<'a> {
    requests: Vec<One<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct One<'a> {
    model: &'a str,
    content: Content<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_dimensionality: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    task_type: Option<&'static str>,
}

/// Gemini's `taskType` for a task.
pub fn task_type(task: EmbedTask) -> &'static str {
    match task {
        EmbedTask::Query => "RETRIEVAL_QUERY",
        EmbedTask::Document => "RETRIEVAL_DOCUMENT",
        EmbedTask::Similarity => "SEMANTIC_SIMILARITY",
        EmbedTask::Classification => "CLASSIFICATION",
        EmbedTask::Clustering => "CLUSTERING",
    }
}

#[derive(Serialize)]
struct Content<'a> {
    parts: [Part<'a>; 1],
}

#[derive(Serialize)]
struct Part<'a> {
    text: &'a str,
}

/// The most requests one `batchEmbedContents` call takes.
pub const MAX_BATCH: usize = 100;

/// The upstream request for `request` (an invalid request past [`MAX_BATCH`] texts, which Gemini
/// would refuse).
pub fn build(target: &Target, request: &EmbedRequest) -> Result<HttpRequest, AdapterError> {
    let EmbedInput::Texts(texts) = &request.input else {
        return Err(apex_adapter_kit::unsupported(
            "Gemini embeds text only: token-id inputs cannot be sent to it",
        ));
    };
    if texts.len() > MAX_BATCH {
        return Err(apex_adapter_kit::invalid(format!(
            "Gemini embeds at most {MAX_BATCH} texts per request ({} were sent).",
            texts.len()
        )));
    }
    let model = model_path(&request.model);
    let batch = Batch {
        requests: texts
            .iter()
            .map(|text| One {
                model: &model,
                content: Content {
                    parts: [Part { text }],
                },
                output_dimensionality: request.dimensions,
                task_type: request.task.map(task_type),
            })
            .collect(),
    };
    let bytes = serde_json::to_vec(&batch).map_err(apex_adapter_kit::invalid)?;
    let path = format!("{model}:batchEmbedContents");
    Ok(http_request(target, &path, bytes))
}

#[derive(Deserialize)]
struct Reply {
    #[serde(default)]
    embeddings: Vec<Values>,
}

#[derive(Deserialize)]
struct Values {
    #[serde(default)]
    values: Vec<f32>,
}

/// The vectors in a reply of any status (errors classified as for `generateContent`).
pub fn parse(
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<EmbedResponse, AdapterError> {
    let reply: Reply = json_reply(status, headers, body, crate::error::from_reply)?;
    Ok(EmbedResponse {
        model: String::new(),
        embeddings: reply.embeddings.into_iter().map(|e| e.values).collect(),
        input_tokens: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_past_the_limit_are_refused_before_sending() {
        let target = Target {
            kind: "gemini".into(),
            profile: String::new(),
            base_url: "https://generativelanguage.googleapis.com/v1beta".into(),
            api_key: "k".into(),
            api_version: None,
            headers: Vec::new(),
        };
        let request = |n: usize| EmbedRequest {
            model: "gemini-embedding-001".into(),
            input: EmbedInput::Texts(vec!["x".into(); n]),
            dimensions: None,
            task: None,
            user: None,
        };
        assert!(build(&target, &request(MAX_BATCH)).is_ok());
        let refused = build(&target, &request(MAX_BATCH + 1)).unwrap_err();
        assert_eq!(
            refused.kind,
            apex_adapter_kit::types::ErrorKind::InvalidRequest
        );
        assert!(refused.message.contains("at most 100 texts"));
    }
}
