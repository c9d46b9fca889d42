//! The response cache's pure parts: the key of a request, the stored entry, and the replay of a
//! cached answer as a stream.
//!
//! Key: hex SHA-256 over a version tag, the caller (the gateway key's name: callers never share
//! entries), the client surface, and the canonical text of the neutral request with `model` set
//! to the alias the client asked for. Canonical text: JSON with object keys sorted and no
//! whitespace; JSON carried as text (tool arguments, tool schemas, response schemas, `extra`) is
//! parsed and re-serialized the same way, so formatting and key order do not matter.
//!
//! What the key covers: model, messages, tools, tool choice, parallel tool calls, every sampling
//! parameter (max tokens, temperature, top-p, top-k, seed, stop), response format, reasoning,
//! `user` and `extra`. Not `stream`: the stored entry is the full neutral answer, which renders as
//! a JSON body or replays as a stream ([`replay_events`]), so a streamed request may be served
//! from a non-streamed one and the other way round. Not the credentials: the request carries none
//! (the caller's key name scopes the entry instead).
//!
//! Storage: `apex:cache:<key>` holds the JSON of a [`CachedResponse`]; a stale entry reads as a
//! miss and is overwritten by the next answer.
//!
//! Modules: `key` (the canonical request and its hash), `entry` (what is stored), `replay` (a
//! stored answer as a stream), `embed` (cached embeddings: their key and entry).

mod embed;
mod entry;
mod key;
mod replay;

#[cfg(test)]
mod tests;

pub use embed::{CachedEmbedding, embed_key};
pub use entry::{CachedResponse, storable};
pub use key::{cache_key, canonical_request};
pub use replay::{REPLAY_CHUNK_CHARS, replay_events};

/// The response header that says whether the cache answered: `hit` or `miss`.
pub const CACHE_HEADER: &str = "x-apex-cache";
/// Prefix of cache entries in the key-value store.
pub const KV_PREFIX: &str = "apex:cache:";

/// The key-value entry of a cache key.
pub fn kv_key(cache_key: &str) -> String {
    format!("{KV_PREFIX}{cache_key}")
}

/// What the client's `Cache-Control` allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheControl {
    /// May a cached answer be served? (`no-cache` and `no-store` say no.)
    pub read: bool,
    /// May the fresh answer be stored? (`no-store` says no.)
    pub write: bool,
}

/// The client's cache directives (`Cache-Control`, comma-separated, case-insensitive).
pub fn cache_control(headers: &[(String, String)]) -> CacheControl {
    let mut control = CacheControl {
        read: true,
        write: true,
    };
    let directives = headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("cache-control"))
        .flat_map(|(_, value)| value.split(','))
        .map(str::trim);
    for directive in directives {
        if directive.eq_ignore_ascii_case("no-cache") {
            control.read = false;
        } else if directive.eq_ignore_ascii_case("no-store") {
            control.read = false;
            control.write = false;
        }
    }
    control
}
