//! The credential a request carries upstream: the provider's key as configured, or — for Vertex
//! AI — an OAuth access token obtained with the configured service-account key (an RS256-signed
//! JWT exchanged at the key's `token_uri`) and cached in the key-value store until shortly before
//! it expires, so instances share it. The cached token is sealed (`sealed`) under a key derived from
//! the service-account key: the store never holds a usable token.

use apex_adapter_kit::types::{ErrorKind, HttpRequest};
use base64ct::{Base64, Encoding};
use serde::{Deserialize, Serialize};

use crate::config::{Provider, Timeouts, VERTEX_KIND};
use crate::http::transport;
use crate::routing::google_auth::{self, ServiceAccount};

/// A cached token is renewed this long before it expires.
const REFRESH_MARGIN_SECS: u64 = 60;

/// A cached token: sealed, with its expiry readable (for the expiry sweep).
#[derive(Serialize, Deserialize)]
struct CachedToken {
    /// base64 of `sealed::seal(service-account key, cache key, token)`.
    sealed: String,
    expires_at: u64,
}

/// Why no credential could be had: always the provider refusing the gateway's credentials
/// (`auth`), so the key is benched and the next one tried.
pub fn refused(message: String) -> apex_adapter_kit::types::AdapterError {
    apex_adapter_kit::error(ErrorKind::Auth, message)
}

/// The credential for `provider`'s key `index`.
pub fn for_key(
    provider: &Provider,
    index: usize,
    timeouts: &Timeouts,
) -> Result<String, apex_adapter_kit::types::AdapterError> {
    let key = provider.keys.get(index).cloned().unwrap_or_default();
    if provider.kind != VERTEX_KIND {
        return Ok(key);
    }
    let now = wasip2::clocks::wall_clock::now().seconds;
    let cache_key = format!("{}{}#{index}", google_auth::TOKEN_PREFIX, provider.name);
    let bucket = crate::platform::store();
    if let Some(cached) = bucket
        .as_ref()
        .and_then(|b| b.get(&cache_key).ok().flatten())
        .and_then(|bytes| serde_json::from_slice::<CachedToken>(&bytes).ok())
        .filter(|c| c.expires_at > now + REFRESH_MARGIN_SECS)
        .and_then(|c| Base64::decode_vec(&c.sealed).ok())
        .and_then(|sealed| crate::state::sealed::open(&key, &cache_key, &sealed))
        .and_then(|token| String::from_utf8(token).ok())
    {
        return Ok(cached);
    }
    let account = ServiceAccount::parse(&key)
        .map_err(|e| refused(format!("service-account key of `{}`: {e}", provider.name)))?;
    let assertion = google_auth::assertion(&account, now)
        .map_err(|e| refused(format!("signing for `{}`: {e}", provider.name)))?;
    let request = HttpRequest {
        method: "POST".to_string(),
        url: account.token_uri.clone(),
        headers: vec![(
            "content-type".to_string(),
            google_auth::TOKEN_REQUEST_CONTENT_TYPE.to_string(),
        )],
        body: google_auth::token_request_body(&assertion).into_bytes(),
    };
    let mut reply = transport::send(&request, timeouts).map_err(|e| {
        refused(format!(
            "token exchange for `{}`: {}",
            provider.name, e.message
        ))
    })?;
    let body = reply.read_all(64 * 1024).map_err(|e| {
        refused(format!(
            "token exchange for `{}`: {}",
            provider.name, e.message
        ))
    })?;
    let (token, lifetime) = google_auth::parse_token_response(reply.status, &body)
        .map_err(|e| refused(format!("token exchange for `{}`: {e}", provider.name)))?;
    if let Some(bucket) = bucket {
        let cached = CachedToken {
            sealed: Base64::encode_string(&crate::state::sealed::seal(
                &key,
                &cache_key,
                token.as_bytes(),
            )),
            expires_at: now.saturating_add(lifetime),
        };
        if let Ok(bytes) = serde_json::to_vec(&cached) {
            let _ = bucket.set(&cache_key, &bytes);
        }
    }
    Ok(token)
}
