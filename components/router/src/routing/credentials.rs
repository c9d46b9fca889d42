//! The credential a request carries upstream: the provider's key as configured, or — for a
//! provider whose kind `exchanges_credential` — an access token obtained with it. The adapter
//! builds the exchange request and reads its reply (`exchange-request`, `exchange-response`);
//! the router sends it and caches the token in the key-value store until shortly before it
//! expires, so instances share it, sealed (`state::tokens`): the store never holds a usable token.

use apex_adapter_kit::types::{AdapterError, ErrorKind};

use crate::bindings::adapter;
use crate::config::{Provider, Timeouts};
use crate::http::transport;
use crate::state::tokens;

/// The most of a token endpoint's reply that is read.
const MAX_REPLY_BYTES: usize = 64 * 1024;

/// Why no credential could be had: always the provider refusing the gateway's credentials
/// (`auth`), so the key is benched and the next one tried.
pub fn refused(message: String) -> AdapterError {
    apex_adapter_kit::error(ErrorKind::Auth, message)
}

/// The credential for `provider`'s key `index`.
pub fn for_key(
    provider: &Provider,
    index: usize,
    timeouts: &Timeouts,
) -> Result<String, AdapterError> {
    let key = provider.keys.get(index).cloned().unwrap_or_default();
    if !provider.exchanges_credential {
        return Ok(key);
    }
    let now = crate::platform::now_secs();
    let cache_key = tokens::cache_key(&provider.name, index);
    let bucket = crate::platform::store();
    if let Some(cached) = bucket
        .as_ref()
        .and_then(|b| b.get(&cache_key).ok().flatten())
        .and_then(|bytes| tokens::fresh(&bytes, &key, &cache_key, now))
    {
        return Ok(cached);
    }
    let failed =
        |message: &str| refused(format!("token exchange for `{}`: {message}", provider.name));
    let request =
        adapter::exchange_request(&provider.kind, &key, now).map_err(|e| failed(&e.message))?;
    let mut reply = transport::send(&request, timeouts).map_err(|e| failed(&e.message))?;
    let body = reply
        .read_all(MAX_REPLY_BYTES)
        .map_err(|e| failed(&e.message))?;
    let token = adapter::exchange_response(&provider.kind, reply.status, &body)
        .map_err(|e| failed(&e.message))?;
    if let Some(bucket) = bucket {
        let expires_at = now.saturating_add(token.expires_in_secs);
        if let Some(bytes) = tokens::entry(&key, &cache_key, &token.token, expires_at) {
            let _ = bucket.set(&cache_key, &bytes);
        }
    }
    Ok(token.token)
}
