//! Responses a provider made natively (forwarded requests): where they live, so follow-ups go
//! to the same provider and key.

use serde::{Deserialize, Serialize};

/// Prefix of natively made responses' routes.
pub const ROUTE_PREFIX: &str = "apex:response-route:";

/// The key-value key of a natively made response's route.
pub fn route_key(id: &str) -> String {
    format!("{ROUTE_PREFIX}{id}")
}

/// Where a natively made response lives: its provider and key index (never the key), and the
/// gateway key that may use it.
#[derive(Serialize, Deserialize)]
pub struct Route {
    pub provider: String,
    pub key_index: usize,
    pub owner: String,
    pub expires_at: u64,
}

/// The id of a provider's response: a JSON body's `id`, or for a stream the `response.id` of
/// its first event (`response.created`), read from the first bytes.
pub fn provider_response_id(bytes: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Body {
        id: Option<String>,
        response: Option<Box<Body>>,
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let json = match text.trim_start().strip_prefix('{') {
        Some(_) => text.trim(),
        None => text
            .split("\n\n")
            .flat_map(str::lines)
            .find_map(|line| line.strip_prefix("data:"))?
            .trim(),
    };
    let body: Body = serde_json::from_str(json).ok()?;
    body.response.and_then(|r| r.id).or(body.id)
}
