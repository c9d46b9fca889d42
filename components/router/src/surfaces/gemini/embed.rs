//! The Gemini API's embeddings: `POST …/models/{model}:embedContent` (`{content, taskType?,
//! title?, outputDimensionality?}` → `{embedding: {values}}`) and `:batchEmbedContents`
//! (`{requests: [{model, content, …}]}` → `{embeddings: [{values}]}`), what the google-genai
//! SDKs' `embed_content` calls. The text parts of one content are embedded as one text (joined by
//! newlines). `taskType` becomes the neutral task ([`task`]: Gemini's query-side types
//! `QUESTION_ANSWERING`, `FACT_VERIFICATION` and `CODE_RETRIEVAL_QUERY` are `query`); `title` is
//! not carried.

use apex_adapter_kit::types::{EmbedInput, EmbedResponse, EmbedTask};
use serde::{Deserialize, Serialize};

use super::not_found_for;
use crate::http::error::{ApiError, ErrorFormat};
use crate::surfaces::PathParams;
use crate::surfaces::embeddings::{EmbedSurface, Parsed, request};
use crate::surfaces::openai_chat::parse_json;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct One {
    content: Option<Content>,
    output_dimensionality: Option<u32>,
    task_type: Option<String>,
}

/// The neutral task of a Gemini `taskType` (`None`: unspecified, or one Apex does not know).
pub fn task(task_type: Option<&str>) -> Option<EmbedTask> {
    match task_type? {
        "RETRIEVAL_QUERY" | "QUESTION_ANSWERING" | "FACT_VERIFICATION" | "CODE_RETRIEVAL_QUERY" => {
            Some(EmbedTask::Query)
        }
        "RETRIEVAL_DOCUMENT" => Some(EmbedTask::Document),
        "SEMANTIC_SIMILARITY" => Some(EmbedTask::Similarity),
        "CLASSIFICATION" => Some(EmbedTask::Classification),
        "CLUSTERING" => Some(EmbedTask::Clustering),
        _ => None,
    }
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Deserialize)]
struct Part {
    text: Option<String>,
}

#[derive(Deserialize)]
struct Batch {
    #[serde(default)]
    requests: Vec<One>,
}

fn text(one: One, at: &str) -> Result<String, ApiError> {
    let Some(content) = one.content else {
        return Err(ApiError::bad_request(format!(
            "* {at}content: Required field is not set."
        )));
    };
    let texts: Vec<String> = content.parts.into_iter().filter_map(|p| p.text).collect();
    if texts.is_empty() {
        return Err(ApiError::bad_request(format!(
            "* {at}content.parts: contents must not be empty"
        )));
    }
    Ok(texts.join("\n"))
}

fn model(path: PathParams) -> String {
    path.model.unwrap_or_default().to_string()
}

/// `:embedContent`.
pub struct EmbedContent;

impl EmbedSurface for EmbedContent {
    const ERRORS: ErrorFormat = ErrorFormat::Google;
    type Options = ();

    fn parse(body: &[u8], path: PathParams) -> Result<Parsed<()>, ApiError> {
        let one: One = parse_json(body)?;
        let dimensions = one.output_dimensionality;
        let task = task(one.task_type.as_deref());
        let text = text(one, "")?;
        let mut request = request(EmbedInput::Texts(vec![text]), dimensions);
        request.task = task;
        Ok(Parsed {
            model: model(path),
            request,
            options: (),
        })
    }

    fn render(response: &EmbedResponse, _model: &str, _: &(), _: u64) -> Vec<u8> {
        #[derive(Serialize)]
        struct Answer<'a> {
            embedding: Values<'a>,
        }
        let values = response.embeddings.first().map_or(&[][..], Vec::as_slice);
        serde_json::to_vec(&Answer {
            embedding: Values { values },
        })
        .unwrap_or_default()
    }

    fn model_not_found(model: &str) -> ApiError {
        not_found_for(model, "embedContent")
    }
}

#[derive(Serialize)]
struct Values<'a> {
    values: &'a [f32],
}

/// `:batchEmbedContents`.
pub struct BatchEmbedContents;

impl EmbedSurface for BatchEmbedContents {
    const ERRORS: ErrorFormat = ErrorFormat::Google;
    type Options = ();

    fn parse(body: &[u8], path: PathParams) -> Result<Parsed<()>, ApiError> {
        let batch: Batch = parse_json(body)?;
        if batch.requests.is_empty() {
            return Err(ApiError::bad_request(
                "* BatchEmbedContentsRequest.requests: at least one request is required",
            ));
        }
        let first = batch.requests.first();
        let dimensions = first.and_then(|r| r.output_dimensionality);
        let task_type = first.and_then(|r| r.task_type.clone());
        if batch
            .requests
            .iter()
            .any(|r| r.output_dimensionality != dimensions || r.task_type != task_type)
        {
            return Err(ApiError::bad_request(
                "Every request of a batch must ask for the same outputDimensionality and taskType.",
            ));
        }
        let texts = batch
            .requests
            .into_iter()
            .enumerate()
            .map(|(i, one)| text(one, &format!("BatchEmbedContentsRequest.requests[{i}].")))
            .collect::<Result<_, _>>()?;
        let mut request = request(EmbedInput::Texts(texts), dimensions);
        request.task = task(task_type.as_deref());
        Ok(Parsed {
            model: model(path),
            request,
            options: (),
        })
    }

    fn render(response: &EmbedResponse, _model: &str, _: &(), _: u64) -> Vec<u8> {
        #[derive(Serialize)]
        struct Answer<'a> {
            embeddings: Vec<Values<'a>>,
        }
        let embeddings = response
            .embeddings
            .iter()
            .map(|values| Values { values })
            .collect();
        serde_json::to_vec(&Answer { embeddings }).unwrap_or_default()
    }

    fn model_not_found(model: &str) -> ApiError {
        not_found_for(model, "batchEmbedContents")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_reads_each_request() {
        let path = PathParams { model: Some("m") };
        let body = br#"{"requests":[{"model":"models/m","content":{"parts":[{"text":"a"},{"text":"b"}],"role":"user"},"outputDimensionality":4,"taskType":"QUESTION_ANSWERING"},{"model":"models/m","content":{"parts":[{"text":"c"}]},"outputDimensionality":4,"taskType":"QUESTION_ANSWERING"}]}"#;
        let parsed = BatchEmbedContents::parse(body, path).unwrap();
        assert_eq!(parsed.model, "m");
        assert_eq!(
            parsed.request.input,
            EmbedInput::Texts(vec!["a\nb".into(), "c".into()])
        );
        assert_eq!(parsed.request.dimensions, Some(4));
        assert_eq!(parsed.request.task, Some(EmbedTask::Query));
        let response = EmbedResponse {
            model: String::new(),
            embeddings: vec![vec![0.5], vec![1.0]],
            input_tokens: None,
        };
        assert_eq!(
            BatchEmbedContents::render(&response, "m", &(), 0),
            br#"{"embeddings":[{"values":[0.5]},{"values":[1.0]}]}"#
        );
        assert_eq!(
            EmbedContent::render(&response, "m", &(), 0),
            br#"{"embedding":{"values":[0.5]}}"#
        );
    }
}
