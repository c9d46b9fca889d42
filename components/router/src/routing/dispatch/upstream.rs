//! The provider side of an attempt, shared by every caller that talks to a provider (chat
//! attempts, token counts, stored-response lookups): the target for a key, buffered calls, and
//! what a failed call looks like to the client.

use std::rc::Rc;

use apex_adapter_kit::types::{AdapterError, HttpRequest, Target};

use crate::bindings::adapter;
use crate::config::{Config, Provider, Timeouts};
use crate::http::error::ApiError;
use crate::http::redact::Redactor;
use crate::http::transport::{self, TransportError, UpstreamResponse};
use crate::routing::targets::Attempt;

/// Upstream bodies we buffer (non-streamed replies, error bodies) are bounded by this.
pub const MAX_UPSTREAM_BODY: usize = 64 * 1024 * 1024;

/// Next start index for a provider's keys: a counter in the key-value store, so rotation holds
/// across instances. Failures fall back to the first key.
pub fn rotation(provider: &Provider) -> usize {
    let Some(bucket) = crate::platform::store() else {
        return 0;
    };
    let key = format!("apex:rotation:{}", provider.name);
    let current = bucket
        .get(&key)
        .ok()
        .flatten()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.parse::<u64>().ok())
        .unwrap_or(0);
    let _ = bucket.set(&key, (current.wrapping_add(1)).to_string().as_bytes());
    current as usize
}

pub fn target(attempt: &Attempt, timeouts: &Timeouts) -> Result<Target, AdapterError> {
    target_for(attempt.provider, attempt.key_index, timeouts)
}

/// The target for `provider`'s key `key_index` (its credential resolved).
pub fn target_for(
    provider: &Provider,
    key_index: usize,
    timeouts: &Timeouts,
) -> Result<Target, AdapterError> {
    Ok(Target {
        kind: provider.kind.clone(),
        profile: provider.profile.clone(),
        base_url: provider.base_url.clone(),
        api_key: crate::routing::credentials::for_key(provider, key_index, timeouts)?,
        api_version: provider.api_version.clone(),
        headers: provider.headers.clone(),
    })
}

/// Whether the request an adapter built stays on the provider's origin (a rogue adapter must
/// not send a key elsewhere).
pub fn on_origin(request: &HttpRequest, target: &Target) -> bool {
    crate::http::url::same_origin(&request.url, &target.base_url)
}

/// A whole reply, read into memory.
pub struct Buffered {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Send `request` and read the whole reply (bounded by [`MAX_UPSTREAM_BODY`]).
pub fn call(request: &HttpRequest, timeouts: &Timeouts) -> Result<Buffered, TransportError> {
    let mut upstream = transport::send(request, timeouts)?;
    let body = upstream.read_all(MAX_UPSTREAM_BODY)?;
    Ok(Buffered {
        status: upstream.status,
        headers: std::mem::take(&mut upstream.headers),
        body,
    })
}

/// The redactor for what a call with `credential` brings back: the config's secrets and
/// `credential` (an access token exists only at run time, so the config does not know it).
pub fn redactor(config: &Config, credential: Option<&str>) -> Rc<Redactor> {
    let mut secrets = config.secrets();
    secrets.extend(credential);
    crate::http::redact::kept(&secrets)
}

/// `text` without the config's secrets and `credential`, in any encoding (see `http::redact`).
pub fn scrubbed(config: &Config, credential: Option<&str>, text: &str) -> String {
    redactor(config, credential).text(text)
}

/// The client's error for a provider that could not be reached or timed out.
pub fn transport_error(error: &TransportError) -> ApiError {
    if error.timeout {
        ApiError::new(504, "api_error", "The upstream provider timed out.").code("upstream_timeout")
    } else {
        ApiError::bad_gateway(format!(
            "Could not reach the upstream provider ({}).",
            error.message
        ))
    }
}

/// Headers for a forwarded reply: the provider's content type (a stream may come back as JSON when
/// a provider ignores `stream`; redacted like the body), no caching, and `extra` (CORS, ...).
pub fn forwarded_headers(
    upstream: &UpstreamResponse,
    extra: &[(String, String)],
    redactor: &Redactor,
) -> Vec<(String, String)> {
    let content_type = apex_adapter_kit::http::header(&upstream.headers, "content-type")
        .unwrap_or("application/json");
    crate::http::reply::stream_headers(&redactor.text(content_type), extra)
}

/// A non-2xx reply as the adapter classifies it (or by its status when the adapter reads it as a
/// success), with its body.
pub fn refusal(kind: &str, reply: &mut UpstreamResponse) -> (AdapterError, Vec<u8>) {
    let body = reply.read_all(MAX_UPSTREAM_BODY).unwrap_or_default();
    let error = match adapter::parse_response(kind, reply.status, &reply.headers, &body) {
        Err(error) => error,
        Ok(_) => apex_adapter_kit::http::upstream_error(
            apex_adapter_kit::http::kind_for_status(reply.status),
            reply.status,
            &reply.headers,
            format!("upstream returned HTTP {}", reply.status),
        ),
    };
    (error, body)
}
