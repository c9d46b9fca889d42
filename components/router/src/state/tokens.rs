//! Cached access tokens (credentials exchanged for short-lived tokens, see
//! `routing::credentials`), as pure rules: where one is kept, how its entry is written and when it
//! is fresh. The entry holds the token sealed (`sealed`) under a key derived from the credential
//! it was obtained with, so the store never holds a usable token; its expiry stays readable for
//! the expiry sweep.

use base64ct::{Base64, Encoding};
use serde::{Deserialize, Serialize};

use super::sealed;

/// Prefix of the key-value entries caching access tokens (`<prefix><provider>#<key index>`, the
/// value `{"sealed", "expires_at"}`).
pub const TOKEN_PREFIX: &str = "apex:token:";

/// A cached token is renewed this long before it expires.
pub const REFRESH_MARGIN_SECS: u64 = 60;

/// A cached token: sealed, with its expiry readable (for the expiry sweep).
#[derive(Serialize, Deserialize)]
struct CachedToken {
    /// base64 of `sealed::seal(credential, cache key, token)`.
    sealed: String,
    expires_at: u64,
}

/// The key-value key of the token of `provider`'s key `index`.
pub fn cache_key(provider: &str, index: usize) -> String {
    format!("{TOKEN_PREFIX}{provider}#{index}")
}

/// The token in the entry `bytes` stored under `cache_key`, if it opens with `credential` and
/// is good for more than [`REFRESH_MARGIN_SECS`] after `now_secs`.
pub fn fresh(bytes: &[u8], credential: &str, cache_key: &str, now_secs: u64) -> Option<String> {
    let cached: CachedToken = serde_json::from_slice(bytes).ok()?;
    if cached.expires_at <= now_secs.saturating_add(REFRESH_MARGIN_SECS) {
        return None;
    }
    let sealed = Base64::decode_vec(&cached.sealed).ok()?;
    let token = sealed::open(credential, cache_key, &sealed)?;
    String::from_utf8(token).ok()
}

/// The entry keeping `token` (obtained with `credential`) under `cache_key` until `expires_at`.
pub fn entry(credential: &str, cache_key: &str, token: &str, expires_at: u64) -> Option<Vec<u8>> {
    let cached = CachedToken {
        sealed: Base64::encode_string(&sealed::seal(credential, cache_key, token.as_bytes())),
        expires_at,
    };
    serde_json::to_vec(&cached).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_keep_tokens_sealed_until_shortly_before_they_expire() {
        let key = cache_key("vx", 0);
        assert_eq!(key, "apex:token:vx#0");
        let bytes = entry("credential", &key, "ya29.secret", 1_000).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(!text.contains("ya29.secret"), "{text}");
        assert!(text.contains(r#""expires_at":1000"#), "{text}");
        assert_eq!(
            fresh(&bytes, "credential", &key, 1_000 - REFRESH_MARGIN_SECS - 1).as_deref(),
            Some("ya29.secret")
        );
        assert_eq!(
            fresh(&bytes, "credential", &key, 1_000 - REFRESH_MARGIN_SECS),
            None
        );
        assert_eq!(fresh(&bytes, "another", &key, 0), None);
        assert_eq!(fresh(&bytes, "credential", &cache_key("vx", 1), 0), None);
        assert_eq!(fresh(b"{}", "credential", &key, 0), None);
    }
}
