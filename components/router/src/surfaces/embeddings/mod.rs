//! Embeddings on the client surfaces: each reads a request into the neutral [`EmbedRequest`] and
//! renders the neutral [`EmbedResponse`] (`routing::dispatch::embed` runs it through the targets).
//!
//! - `openai`: `POST /v1/embeddings` (`float` and `base64` encodings)
//! - `ollama`: `POST /api/embed` and the legacy `POST /api/embeddings`
//! - the Gemini API's `:embedContent` and `:batchEmbedContents` are `surfaces::gemini::embed`

pub mod ollama;
pub mod openai;

use apex_adapter_kit::types::{EmbedInput, EmbedRequest, EmbedResponse};

use crate::http::error::{ApiError, ErrorFormat};
use crate::surfaces::PathParams;

/// An embeddings request as a surface read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<O> {
    /// The model the client named.
    pub model: String,
    /// What to embed (its `model` is set per target).
    pub request: EmbedRequest,
    /// How the answer is rendered (encoding, ...).
    pub options: O,
}

/// One client protocol's embeddings call.
pub trait EmbedSurface {
    const ERRORS: ErrorFormat;
    type Options;

    /// The request in `body` (and, for protocols that name the model in the URL, `path`);
    /// errors name the field, in the protocol's words.
    fn parse(body: &[u8], path: PathParams) -> Result<Parsed<Self::Options>, ApiError>;

    /// The client's answer: the vectors of `response`, for model `model` (as the client named
    /// it), made in `elapsed_ms`.
    fn render(
        response: &EmbedResponse,
        model: &str,
        options: &Self::Options,
        elapsed_ms: u64,
    ) -> Vec<u8>;

    /// The error for a model the gateway does not serve.
    fn model_not_found(model: &str) -> ApiError {
        ApiError::model_not_found(model)
    }
}

/// How many vectors `input` asks for.
pub fn input_count(input: &EmbedInput) -> usize {
    match input {
        EmbedInput::Texts(texts) => texts.len(),
        EmbedInput::Tokens(tokens) => tokens.len(),
    }
}

/// A request for `input` with every option unset (the model is set per target).
pub fn request(input: EmbedInput, dimensions: Option<u32>) -> EmbedRequest {
    EmbedRequest {
        model: String::new(),
        input,
        dimensions,
        task: None,
        user: None,
    }
}

/// `vector` as OpenAI's `base64` encoding: the little-endian bytes of each `f32`, standard
/// base64 with padding.
pub fn base64_floats(vector: &[f32]) -> String {
    use base64ct::Encoding;
    let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64ct::Base64::encode_string(&bytes)
}

/// The error of a model that none of whose targets can embed: a 400 naming embeddings.
pub fn cannot_embed(model: &str) -> ApiError {
    ApiError::bad_request(format!(
        "The model `{model}` does not support embeddings: none of its providers can create them."
    ))
    .param("model")
    .code("embeddings_not_supported")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_little_endian_f32() {
        // 1.0f32 = 0x3f800000 → bytes 00 00 80 3f.
        assert_eq!(base64_floats(&[1.0]), "AACAPw==");
        assert_eq!(base64_floats(&[]), "");
        assert_eq!(base64_floats(&[1.0, -2.0]), "AACAPwAAAMA=");
    }
}
