//! A cache entry: the neutral answer, when it was stored and how long it stays fresh.

use apex_adapter_kit::types::{ChatResponse, FinishReason};
use serde::{Deserialize, Serialize};

/// Whether an answer is worth storing: complete ones only (not errors or filtered answers).
pub fn storable(response: &ChatResponse) -> bool {
    matches!(
        response.finish_reason,
        FinishReason::Stop | FinishReason::Length | FinishReason::ToolCalls
    )
}

/// A cache entry: the neutral answer and its freshness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedResponse {
    pub response: ChatResponse,
    /// Wall-clock milliseconds since the Unix epoch.
    pub stored_at_ms: u64,
    pub ttl_secs: u64,
}

impl CachedResponse {
    pub fn new(response: ChatResponse, stored_at_ms: u64, ttl_secs: u64) -> Self {
        Self {
            response,
            stored_at_ms,
            ttl_secs,
        }
    }

    /// When it goes stale.
    pub fn expires_at_ms(&self) -> u64 {
        self.stored_at_ms
            .saturating_add(self.ttl_secs.saturating_mul(1000))
    }

    /// Whether it may still be served at `now_ms` (an entry stamped slightly in the future by an
    /// instance whose clock runs ahead counts as fresh).
    pub fn is_fresh(&self, now_ms: u64) -> bool {
        now_ms < self.expires_at_ms()
    }

    /// Whole seconds since it was stored (for an `Age` header).
    pub fn age_secs(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.stored_at_ms) / 1000
    }

    /// The entry value.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// An entry value (`None`: unreadable, treat as a miss).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}
