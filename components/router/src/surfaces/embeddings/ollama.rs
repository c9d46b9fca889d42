//! The Ollama API's embeddings: `POST /api/embed` (`{model, input, dimensions?}` →
//! `{model, embeddings, total_duration, load_duration, prompt_eval_count}`) and the legacy
//! `POST /api/embeddings` (`{model, prompt}` → `{embedding}`). As Ollama does, an empty input
//! gets an empty answer (no provider is asked); `truncate`, `options` and `keep_alive` are
//! accepted and ignored (the provider decides).

use apex_adapter_kit::types::{EmbedInput, EmbedResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{EmbedSurface, Parsed};
use crate::http::error::{ApiError, ErrorFormat};
use crate::surfaces::PathParams;
use crate::surfaces::ollama::{OllamaChat, model_name};
use crate::surfaces::openai_chat::parse_json;

#[derive(Deserialize)]
struct EmbedBody {
    #[serde(default)]
    model: String,
    input: Option<Value>,
    dimensions: Option<u32>,
}

#[derive(Deserialize)]
struct LegacyBody {
    #[serde(default)]
    model: String,
    #[serde(default)]
    prompt: String,
}

fn model(requested: &str) -> Result<String, ApiError> {
    if requested.is_empty() {
        return Err(ApiError::bad_request("model is required"));
    }
    Ok(model_name(requested).to_string())
}

/// `POST /api/embed`.
pub struct OllamaEmbed;

impl EmbedSurface for OllamaEmbed {
    const ERRORS: ErrorFormat = ErrorFormat::Ollama;
    type Options = ();

    fn parse(body: &[u8], _path: PathParams) -> Result<Parsed<()>, ApiError> {
        let body: EmbedBody = parse_json(body)?;
        let model = model(&body.model)?;
        let texts = match body.input {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(text)) if text.is_empty() => Vec::new(),
            Some(Value::String(text)) => vec![text],
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(text) => Ok(text),
                    _ => Err(ApiError::bad_request("invalid input type")),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(ApiError::bad_request("invalid input type")),
        };
        Ok(Parsed {
            model,
            request: super::request(EmbedInput::Texts(texts), body.dimensions),
            options: (),
        })
    }

    fn render(response: &EmbedResponse, model: &str, _: &(), elapsed_ms: u64) -> Vec<u8> {
        #[derive(Serialize)]
        struct Answer<'a> {
            model: &'a str,
            embeddings: &'a [Vec<f32>],
            total_duration: u64,
            load_duration: u64,
            prompt_eval_count: u32,
        }
        let answer = Answer {
            model,
            embeddings: &response.embeddings,
            total_duration: elapsed_ms.saturating_mul(1_000_000),
            load_duration: 0,
            prompt_eval_count: response.input_tokens.unwrap_or(0),
        };
        serde_json::to_vec(&answer).unwrap_or_default()
    }

    fn model_not_found(model: &str) -> ApiError {
        <OllamaChat as crate::surfaces::Surface>::model_not_found(model)
    }
}

/// `POST /api/embeddings` (legacy: one prompt, one vector).
pub struct OllamaLegacyEmbeddings;

impl EmbedSurface for OllamaLegacyEmbeddings {
    const ERRORS: ErrorFormat = ErrorFormat::Ollama;
    type Options = ();

    fn parse(body: &[u8], _path: PathParams) -> Result<Parsed<()>, ApiError> {
        let body: LegacyBody = parse_json(body)?;
        let model = model(&body.model)?;
        let texts = if body.prompt.is_empty() {
            Vec::new()
        } else {
            vec![body.prompt]
        };
        Ok(Parsed {
            model,
            request: super::request(EmbedInput::Texts(texts), None),
            options: (),
        })
    }

    fn render(response: &EmbedResponse, _model: &str, _: &(), _: u64) -> Vec<u8> {
        #[derive(Serialize)]
        struct Answer<'a> {
            embedding: &'a [f32],
        }
        let embedding = response.embeddings.first().map_or(&[][..], Vec::as_slice);
        serde_json::to_vec(&Answer { embedding }).unwrap_or_default()
    }

    fn model_not_found(model: &str) -> ApiError {
        <OllamaChat as crate::surfaces::Surface>::model_not_found(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embed_takes_a_string_or_strings() {
        let one = OllamaEmbed::parse(
            br#"{"model":"m:latest","input":"hi"}"#,
            PathParams::default(),
        )
        .unwrap();
        assert_eq!(one.model, "m");
        assert_eq!(one.request.input, EmbedInput::Texts(vec!["hi".into()]));
        let none =
            OllamaEmbed::parse(br#"{"model":"m","input":[]}"#, PathParams::default()).unwrap();
        assert_eq!(none.request.input, EmbedInput::Texts(vec![]));
        let bad = OllamaEmbed::parse(br#"{"model":"m","input":[1]}"#, PathParams::default());
        assert_eq!(bad.unwrap_err().message, "invalid input type");
    }

    #[test]
    fn legacy_answers_one_vector() {
        let response = EmbedResponse {
            model: String::new(),
            embeddings: vec![vec![0.5, -1.0]],
            input_tokens: None,
        };
        let body = OllamaLegacyEmbeddings::render(&response, "m", &(), 0);
        assert_eq!(body, br#"{"embedding":[0.5,-1.0]}"#);
    }
}
