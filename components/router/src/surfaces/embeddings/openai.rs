//! `POST /v1/embeddings` (and `/embeddings`): OpenAI's embeddings API.
//!
//! Request: `{model, input, dimensions?, encoding_format?, user?}`, where `input` is a string, a
//! list of strings, a list of token ids or a list of token-id lists (at most 2048 inputs, none
//! empty). Answer: `{object: "list", data: [{object: "embedding", index, embedding}], model,
//! usage: {prompt_tokens, total_tokens}}`, each `embedding` a list of floats or, with
//! `encoding_format: "base64"` (what the official SDKs send by default), the base64 of its
//! little-endian `f32` bytes.

use apex_adapter_kit::types::{EmbedInput, EmbedResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{EmbedSurface, Parsed, base64_floats};
use crate::http::error::{ApiError, ErrorFormat};
use crate::surfaces::PathParams;
use crate::surfaces::openai_chat::parse_json;

/// The most inputs one request may hold (OpenAI's limit).
pub const MAX_INPUTS: usize = 2048;

/// How the vectors are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    #[default]
    Float,
    Base64,
}

#[derive(Deserialize)]
struct Body {
    model: Option<Value>,
    input: Option<Value>,
    dimensions: Option<Value>,
    encoding_format: Option<Value>,
    user: Option<String>,
}

pub struct OpenAiEmbeddings;

impl EmbedSurface for OpenAiEmbeddings {
    const ERRORS: ErrorFormat = ErrorFormat::OpenAi;
    type Options = Encoding;

    fn parse(body: &[u8], _path: PathParams) -> Result<Parsed<Encoding>, ApiError> {
        let body: Body = parse_json(body)?;
        let model = match body.model {
            Some(Value::String(model)) if !model.is_empty() => model,
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(ApiError::bad_request("you must provide a model parameter"));
            }
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "{} is not of type 'string' - 'model'",
                    python_repr(&other)
                ))
                .param("model"));
            }
        };
        let input = match body.input {
            None | Some(Value::Null) => {
                return Err(ApiError::bad_request("'input' is a required property").param("input"));
            }
            Some(value) => input(value)?,
        };
        let dimensions = match body.dimensions {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match n.as_u64() {
                Some(d) if (1..=u64::from(u32::MAX)).contains(&d) => Some(d as u32),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "Invalid value for 'dimensions' = {n}. Must be greater than or equal to 1."
                    ))
                    .param("dimensions"));
                }
            },
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "{} is not of type 'integer' - 'dimensions'",
                    python_repr(&other)
                ))
                .param("dimensions"));
            }
        };
        let encoding = match body.encoding_format {
            None | Some(Value::Null) => Encoding::Float,
            Some(Value::String(s)) if s == "float" => Encoding::Float,
            Some(Value::String(s)) if s == "base64" => Encoding::Base64,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "{} is not one of ['float', 'base64'] - 'encoding_format'",
                    python_repr(&other)
                ))
                .param("encoding_format"));
            }
        };
        let mut request = super::request(input, dimensions);
        request.user = body.user;
        Ok(Parsed {
            model,
            request,
            options: encoding,
        })
    }

    fn render(response: &EmbedResponse, model: &str, encoding: &Encoding, _: u64) -> Vec<u8> {
        #[derive(Serialize)]
        #[serde(untagged)]
        enum Vector<'a> {
            Float(&'a [f32]),
            Base64(String),
        }
        #[derive(Serialize)]
        struct Datum<'a> {
            object: &'static str,
            index: usize,
            embedding: Vector<'a>,
        }
        #[derive(Serialize)]
        struct Usage {
            prompt_tokens: u32,
            total_tokens: u32,
        }
        #[derive(Serialize)]
        struct Answer<'a> {
            object: &'static str,
            data: Vec<Datum<'a>>,
            model: &'a str,
            usage: Usage,
        }
        let tokens = response.input_tokens.unwrap_or(0);
        let answer = Answer {
            object: "list",
            data: response
                .embeddings
                .iter()
                .enumerate()
                .map(|(index, vector)| Datum {
                    object: "embedding",
                    index,
                    embedding: match encoding {
                        Encoding::Float => Vector::Float(vector),
                        Encoding::Base64 => Vector::Base64(base64_floats(vector)),
                    },
                })
                .collect(),
            model,
            usage: Usage {
                prompt_tokens: tokens,
                total_tokens: tokens,
            },
        };
        serde_json::to_vec(&answer).unwrap_or_default()
    }
}

/// A JSON value as OpenAI's validation messages quote it (Python's repr: `'text'`).
fn python_repr(value: &Value) -> String {
    match value {
        Value::String(text) => format!("'{text}'"),
        other => other.to_string(),
    }
}

/// The error OpenAI gives for an `input` it cannot take (an empty string or list, a list too long,
/// a mixed list, a wrong type).
fn invalid_input() -> ApiError {
    ApiError::bad_request(
        "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
    )
    .param("input")
}

/// `input` as texts or token-id lists.
fn input(value: Value) -> Result<EmbedInput, ApiError> {
    let items = match value {
        Value::String(text) if !text.is_empty() => return Ok(EmbedInput::Texts(vec![text])),
        Value::Array(items) if !items.is_empty() && items.len() <= MAX_INPUTS => items,
        _ => return Err(invalid_input()),
    };
    match items.first() {
        Some(Value::String(_)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(text) if !text.is_empty() => Ok(text),
                _ => Err(invalid_input()),
            })
            .collect::<Result<_, _>>()
            .map(EmbedInput::Texts),
        // One list of token ids.
        Some(Value::Number(_)) => Ok(EmbedInput::Tokens(vec![token_ids(&items)?])),
        Some(Value::Array(_)) => items
            .iter()
            .map(|item| match item {
                Value::Array(ids) if !ids.is_empty() => token_ids(ids),
                _ => Err(invalid_input()),
            })
            .collect::<Result<_, _>>()
            .map(EmbedInput::Tokens),
        _ => Err(invalid_input()),
    }
}

fn token_ids(items: &[Value]) -> Result<Vec<u32>, ApiError> {
    items
        .iter()
        .map(|item| {
            item.as_u64()
                .and_then(|id| u32::try_from(id).ok())
                .ok_or_else(invalid_input)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<Parsed<Encoding>, ApiError> {
        OpenAiEmbeddings::parse(body.as_bytes(), PathParams::default())
    }

    #[test]
    fn every_input_shape_is_read() {
        let one = parse(r#"{"model":"m","input":"hi"}"#).unwrap();
        assert_eq!(one.request.input, EmbedInput::Texts(vec!["hi".into()]));
        assert_eq!(one.options, Encoding::Float);
        let many =
            parse(r#"{"model":"m","input":["a","b"],"encoding_format":"base64","dimensions":8}"#)
                .unwrap();
        assert_eq!(
            many.request.input,
            EmbedInput::Texts(vec!["a".into(), "b".into()])
        );
        assert_eq!(many.options, Encoding::Base64);
        assert_eq!(many.request.dimensions, Some(8));
        let ids = parse(r#"{"model":"m","input":[1,2,3]}"#).unwrap();
        assert_eq!(ids.request.input, EmbedInput::Tokens(vec![vec![1, 2, 3]]));
        let lists = parse(r#"{"model":"m","input":[[1],[2,3]]}"#).unwrap();
        assert_eq!(
            lists.request.input,
            EmbedInput::Tokens(vec![vec![1], vec![2, 3]])
        );
    }

    #[test]
    fn bad_input_gets_openai_wording() {
        for body in [
            r#"{"model":"m","input":""}"#,
            r#"{"model":"m","input":[]}"#,
            r#"{"model":"m","input":["a",1]}"#,
            r#"{"model":"m","input":[[1],[]]}"#,
            r#"{"model":"m","input":[-1]}"#,
            r#"{"model":"m","input":{"a":1}}"#,
        ] {
            let error = parse(body).unwrap_err();
            assert_eq!(error.status, 400, "{body}");
            assert!(error.message.starts_with("'$.input' is invalid."), "{body}");
        }
        assert_eq!(
            parse(r#"{"model":"m"}"#).unwrap_err().message,
            "'input' is a required property"
        );
        assert_eq!(
            parse(r#"{"input":"x"}"#).unwrap_err().message,
            "you must provide a model parameter"
        );
        assert_eq!(
            parse(r#"{"model":"m","input":"x","encoding_format":"int8"}"#)
                .unwrap_err()
                .message,
            "'int8' is not one of ['float', 'base64'] - 'encoding_format'"
        );
    }

    #[test]
    fn answers_in_float_or_base64() {
        let response = EmbedResponse {
            model: "up".into(),
            embeddings: vec![vec![1.0, 0.5], vec![-2.0, 0.25]],
            input_tokens: Some(3),
        };
        let float: Value = serde_json::from_slice(&OpenAiEmbeddings::render(
            &response,
            "alias",
            &Encoding::Float,
            0,
        ))
        .unwrap();
        assert_eq!(
            float,
            serde_json::json!({"object":"list","model":"alias",
                "data":[{"object":"embedding","index":0,"embedding":[1.0,0.5]},
                        {"object":"embedding","index":1,"embedding":[-2.0,0.25]}],
                "usage":{"prompt_tokens":3,"total_tokens":3}})
        );
        let b64: Value = serde_json::from_slice(&OpenAiEmbeddings::render(
            &response,
            "alias",
            &Encoding::Base64,
            0,
        ))
        .unwrap();
        assert_eq!(b64["data"][0]["embedding"], "AACAPwAAAD8=");
    }
}
