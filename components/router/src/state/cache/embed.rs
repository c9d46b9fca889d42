//! Cached embeddings: the vectors of an embeddings request, kept like a cached chat answer (same
//! `apex:cache:` entries, same `stored_at_ms` + `ttl_secs` freshness, so the expiry sweep
//! handles them) under a key of their own kind.
//!
//! Key: hex SHA-256 over a version tag of its own (no chat key can equal it), the caller, and the
//! JSON of the neutral request with `model` set to the alias the client asked for. Not the
//! surface: the vectors are the same whichever protocol renders them, so an answer to
//! `/v1/embeddings` serves `/api/embed` too.

use apex_adapter_kit::types::{EmbedRequest, EmbedResponse};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Bumped when the keyed form changes.
const VERSION: &str = "apex-cache-embed-v1";

/// The cache key of `request` (its `model` the alias) for `caller`: 64 hex digits.
pub fn embed_key(caller: &str, request: &EmbedRequest) -> String {
    let mut hasher = Sha256::new();
    for part in [VERSION, caller] {
        hasher.update(part.len().to_string().as_bytes());
        hasher.update(b":");
        hasher.update(part.as_bytes());
    }
    hasher.update(serde_json::to_vec(request).unwrap_or_default());
    crate::hex::lower(&hasher.finalize())
}

/// A cached embeddings answer and its freshness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedEmbedding {
    pub response: EmbedResponse,
    /// Wall-clock milliseconds since the Unix epoch.
    pub stored_at_ms: u64,
    pub ttl_secs: u64,
}

impl CachedEmbedding {
    /// Whether it may still be served at `now_ms`.
    pub fn is_fresh(&self, now_ms: u64) -> bool {
        now_ms
            < self
                .stored_at_ms
                .saturating_add(self.ttl_secs.saturating_mul(1000))
    }

    /// The entry value.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// An entry value (`None`: unreadable, or a chat answer: treat as a miss).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apex_adapter_kit::types::EmbedInput;

    fn request(text: &str) -> EmbedRequest {
        EmbedRequest {
            model: "alias".into(),
            input: EmbedInput::Texts(vec![text.into()]),
            dimensions: None,
            task: None,
            user: None,
        }
    }

    #[test]
    fn keys_depend_on_caller_and_request() {
        let key = embed_key("a", &request("x"));
        assert_eq!(key.len(), 64);
        assert_eq!(key, embed_key("a", &request("x")));
        assert_ne!(key, embed_key("b", &request("x")));
        assert_ne!(key, embed_key("a", &request("y")));
    }

    #[test]
    fn entries_round_trip_and_expire() {
        let entry = CachedEmbedding {
            response: EmbedResponse {
                model: "m".into(),
                embeddings: vec![vec![0.5]],
                input_tokens: Some(1),
            },
            stored_at_ms: 1_000,
            ttl_secs: 2,
        };
        assert_eq!(
            CachedEmbedding::decode(&entry.encode()),
            Some(entry.clone())
        );
        assert!(entry.is_fresh(2_999));
        assert!(!entry.is_fresh(3_000));
        // The expiry sweep reads the same fields.
        assert!(crate::state::expiry::is_expired(
            "apex:cache:k",
            &entry.encode(),
            3_000
        ));
    }
}
