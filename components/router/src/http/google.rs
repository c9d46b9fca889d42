//! The Gemini API routes (`surfaces::gemini`): generate and stream through dispatch, the model
//! list, `countTokens` (`routing::count_tokens::gemini`), and `embedContent` /
//! `batchEmbedContents` (`routing::dispatch::embed`).

use wasip2::http::types::{Method, ResponseOutparam};

use crate::config::Config;
use crate::http::Client;
use crate::http::error::{ApiError, ErrorFormat};
use crate::http::reply::{self, send_error};
use crate::routing::{count_tokens, dispatch, targets};
use crate::surfaces::PathParams;
use crate::surfaces::gemini::embed::{BatchEmbedContents, EmbedContent};
use crate::surfaces::gemini::{
    self, Call, GenerateContent, StreamArray, StreamSse, model_name, percent_decode,
};

const ERRORS: ErrorFormat = ErrorFormat::Google;

/// Answer a Gemini API `call`.
pub fn route(
    config: &Config,
    client: &Client,
    method: &Method,
    call: Call,
    query: &str,
    body: Vec<u8>,
    out: ResponseOutparam,
) {
    let cors = client.cors;
    let named = match call {
        Call::List => None,
        Call::Get(model) | Call::Method { model, .. } => match percent_decode(model) {
            Some(model) => Some(model_name(&model).to_string()),
            None => {
                let error = ApiError::bad_request("The model name in the path is not valid UTF-8.");
                return send_error(out, &error, ERRORS, cors);
            }
        },
    };
    let model = named.as_deref().unwrap_or_default();
    let path = PathParams { model: Some(model) };
    match (method, call) {
        (Method::Get | Method::Head, Call::List) => {
            reply::json(out, &gemini::list_models(config), cors)
        }
        (Method::Get | Method::Head, Call::Get(_)) => {
            match targets::check_model_name(config, model)
                .and_then(|()| gemini::get_model(config, model))
            {
                Ok(body) => reply::json(out, &body, cors),
                Err(error) => send_error(out, &error, ERRORS, cors),
            }
        }
        (Method::Post, Call::Method { method, .. }) => match method {
            "generateContent" => dispatch::chat::<GenerateContent>(config, client, body, path, out),
            "streamGenerateContent" if gemini::wants_sse(query) => {
                dispatch::chat::<StreamSse>(config, client, body, path, out)
            }
            "streamGenerateContent" => {
                dispatch::chat::<StreamArray>(config, client, body, path, out)
            }
            "countTokens" => count_tokens::gemini(config, client, model, &body, out),
            "embedContent" => {
                dispatch::embed::embed::<EmbedContent>(config, client, &body, path, out)
            }
            "batchEmbedContents" => {
                dispatch::embed::embed::<BatchEmbedContents>(config, client, &body, path, out)
            }
            other => {
                let error = ApiError::not_found(format!(
                    "Method `{other}` is not served by this gateway: use generateContent, streamGenerateContent, countTokens, embedContent or batchEmbedContents."
                ));
                send_error(out, &error, ERRORS, cors)
            }
        },
        _ => send_error(out, &ApiError::method_not_allowed(), ERRORS, cors),
    }
}
