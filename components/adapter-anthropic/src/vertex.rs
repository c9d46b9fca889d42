//! Kind `vertex-anthropic`: Claude on Google Cloud Vertex AI.
//!
//! The Messages API with three differences (Anthropic's "Claude on Vertex AI" and Google's "Use
//! Claude models" pages):
//! - the model is in the URL, not the body:
//!   `{base_url}/publishers/anthropic/models/{model}:rawPredict`, or `:streamRawPredict` when the
//!   body asks for a stream;
//! - the body carries `"anthropic_version": "vertex-2023-10-16"` instead of the
//!   `anthropic-version` header;
//! - auth is `Authorization: Bearer <OAuth access token>` (`target.api_key`, obtained by the
//!   router from a service account), never `x-api-key`.
//!
//! Token counting is `POST {base_url}/publishers/anthropic/models/count-tokens:rawPredict`, whose
//! body keeps its `model`. Replies, streams and errors are Anthropic's, except that errors raised
//! by Google's front end come in Google's shape (see [`crate::response::error`]).
//!
//! The base URL is built from configured values (`{REGION}-aiplatform.googleapis.com/v1/projects/
//! {PROJECT}/locations/{REGION}`), so before any request it is checked to have exactly that shape
//! (see [`check_base_url`]): a region or project that is no location name or project id, and could
//! so move the host or the path, fails the request instead of reaching a URL.
//!
//! Keys are service-account key files: `service_account.rs` checks them (when the router loads its
//! configuration) and turns one into the request exchanging it for an access token (the router
//! sends it, caches the token and passes it back as `target.api_key`), as pure functions.
//!
//! `base_url.rs` holds the default base URL (from the `region` and `project` settings) and that
//! check. The body edits ([`body_edits`]) are made by `apex_adapter_kit::body_edit`: by the router
//! for a forwarded body, here for one this adapter builds.

mod base_url;
pub mod service_account;
#[cfg(test)]
mod tests;

use apex_adapter_kit::body_edit;
use apex_adapter_kit::http::{join_url, path_segment, post};
use apex_adapter_kit::invalid;
use apex_adapter_kit::types::{
    AdapterError, BodyEdit, ChatRequest, ErrorKind, ForwardedBody, Forwarding, HttpRequest, Target,
};

pub use base_url::{base_url, check_base_url, default_base_url};
pub use service_account::{ServiceAccount, exchange_request, exchange_response};

/// Whether `json` is a usable service-account key (the problem reads after the name of the
/// variable holding it).
pub fn check_credential(json: &str) -> Result<(), String> {
    ServiceAccount::parse(json)
        .map(|_| ())
        .map_err(|e| format!("is not a usable service-account key: {e}"))
}

/// The adapter kind.
pub const KIND: &str = "vertex-anthropic";

/// The `anthropic_version` Vertex AI requires, sent when the body and the target name none.
pub const VERTEX_VERSION: &str = "vertex-2023-10-16";

/// Build the upstream request for a neutral request: the Messages body, edited for Vertex.
pub fn build(target: &Target, request: &ChatRequest) -> Result<HttpRequest, AdapterError> {
    check_base_url(&target.base_url)?;
    let body = crate::request::body_json(request)?;
    let body = body_edit::edit(&body, None, &body_edits(target, true)).map_err(invalid)?;
    let url = model_url(target, &request.model, request.stream)?;
    Ok(http_request(target, url, body))
}

/// Forward a client's Anthropic Messages body: `messages` (or an empty path) goes to
/// `rawPredict` / `streamRawPredict`, `messages/count_tokens` to the `count-tokens` endpoint.
pub fn forward(
    target: &Target,
    path: &str,
    body: &ForwardedBody,
) -> Result<Forwarding, AdapterError> {
    check_base_url(&target.base_url)?;
    let (url, edits) = match path.trim_matches('/') {
        "" | "messages" => {
            let model = body
                .model
                .as_deref()
                .ok_or_else(|| invalid("the request body has no `model`"))?;
            let url = model_url(target, model, body.stream)?;
            (url, body_edits(target, true))
        }
        // This endpoint reads the model from the body: it stays.
        "messages/count_tokens" => (
            join_url(
                &target.base_url,
                "publishers/anthropic/models/count-tokens:rawPredict",
            ),
            body_edits(target, false),
        ),
        other => {
            return Err(apex_adapter_kit::error(
                ErrorKind::Unsupported,
                format!("Claude on Vertex AI has no endpoint for Anthropic path `{other}`"),
            ));
        }
    };
    Ok(Forwarding {
        request: http_request(target, url, Vec::new()),
        edits,
    })
}

/// A Messages body's changes for Vertex: `model` out (it goes in the URL) when `remove_model`,
/// and `anthropic_version` in, first, when the body has none.
fn body_edits(target: &Target, remove_model: bool) -> Vec<BodyEdit> {
    let version = serde_json::Value::from(version(target)).to_string();
    let add = BodyEdit::AddMissing(("anthropic_version".to_string(), version));
    if remove_model {
        vec![BodyEdit::Remove("model".to_string()), add]
    } else {
        vec![add]
    }
}

/// The body's `anthropic_version` when it has none: the target's when it is a Vertex version
/// (the router may pass on a client's first-party `anthropic-version`, which Vertex refuses).
fn version(target: &Target) -> &str {
    target
        .api_version
        .as_deref()
        .filter(|v| v.starts_with("vertex-"))
        .unwrap_or(VERTEX_VERSION)
}

/// `{base_url}/publishers/anthropic/models/{model}:rawPredict` (or `:streamRawPredict`).
fn model_url(target: &Target, model: &str, stream: bool) -> Result<String, AdapterError> {
    if model.is_empty() {
        return Err(invalid("the model name is empty"));
    }
    let method = if stream {
        "streamRawPredict"
    } else {
        "rawPredict"
    };
    Ok(join_url(
        &target.base_url,
        &format!(
            "publishers/anthropic/models/{}:{method}",
            model_segment(model)
        ),
    ))
}

/// The model as one path segment. `@` (legal in a path segment, RFC 3986 `pchar`) stays literal
/// as in Vertex's model IDs (`claude-sonnet-4-5@20250929`); everything that could add a segment,
/// a method suffix (`:`), a query or a fragment is percent-encoded.
fn model_segment(model: &str) -> String {
    // `path_segment` encodes `%` itself as `%25`, so `%40` in its output only ever stands for `@`.
    path_segment(model).replace("%40", "@")
}

fn http_request(target: &Target, url: String, body: Vec<u8>) -> HttpRequest {
    let headers = vec![
        (
            "authorization".to_string(),
            format!("Bearer {}", target.api_key),
        ),
        ("content-type".to_string(), "application/json".to_string()),
    ];
    // `anthropic-beta` travels as a header on Vertex too.
    post(target, url, headers, body)
}
