//! Same-protocol forwarding: the client's body with the upstream model put in and the adapter's
//! edits made, in one pass, every other byte kept (see `apex_adapter_kit::body_edit`).

use apex_adapter_kit::body_edit;
use apex_adapter_kit::types::{Forwarding, HttpRequest};

use crate::http::error::ApiError;

/// The request forwarding a client's `body` as `forwarding` (the adapter's answer) says, with the
/// upstream `model` put in for protocols whose body names it: where `model_at` says the client's
/// model is (`Routing::model_at`, read from this same body), else where a scan finds it. A body
/// that cannot be edited is the client's error.
pub fn request(
    forwarding: Forwarding,
    body: &[u8],
    model: Option<&str>,
    model_at: Option<std::ops::Range<usize>>,
) -> Result<HttpRequest, ApiError> {
    let model = model.map(|model| serde_json::Value::from(model).to_string());
    let replace = model.as_deref().map(|m| ("model", m));
    match (replace, model_at) {
        (Some(replace), Some(at)) => body_edit::attach_replacing_at(forwarding, body, replace, at),
        (replace, _) => body_edit::attach(forwarding, body, replace),
    }
    .map_err(|e| ApiError::bad_request(format!("Invalid request body: {e}")))
}
