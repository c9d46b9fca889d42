//! Gateway API keys: `Authorization: Bearer <key>`, `x-api-key: <key>` or `x-goog-api-key: <key>`
//! (Google's clients; they may also send `?key=`, read by the server for the Gemini routes only),
//! compared in constant time.

use sha2::{Digest, Sha256};

/// The caller's name on a gateway without keys.
pub const ANONYMOUS: &str = "anonymous";

/// One accepted gateway key.
#[derive(Debug, Clone)]
pub struct GatewayKey {
    pub name: String,
    digest: [u8; 32],
}

impl GatewayKey {
    pub fn new(name: impl Into<String>, key: &str) -> Self {
        Self {
            name: name.into(),
            digest: Sha256::digest(key.as_bytes()).into(),
        }
    }
}

/// The key presented by a request, from its headers.
pub fn presented_key(headers: &[(String, String)]) -> Option<&str> {
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("authorization") {
            let value = value.trim();
            // Compare bytes: slicing the text at 7 could split a multi-byte character.
            if value
                .as_bytes()
                .get(..7)
                .is_some_and(|b| b.eq_ignore_ascii_case(b"bearer "))
            {
                return value.get(7..).map(str::trim);
            }
        } else if name.eq_ignore_ascii_case("x-api-key")
            || name.eq_ignore_ascii_case("x-goog-api-key")
        {
            return Some(value.trim());
        }
    }
    None
}

/// The name of the key that matches `presented`. Compares digests, so timing reveals nothing about
/// the keys; every key is compared even after a match.
pub fn authenticate<'a>(keys: &'a [GatewayKey], presented: Option<&str>) -> Option<&'a str> {
    let presented = presented?;
    let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    let mut found = None;
    for key in keys {
        let mut diff = 0u8;
        for (a, b) in key.digest.iter().zip(digest.iter()) {
            diff |= a ^ b;
        }
        if diff == 0 && found.is_none() {
            found = Some(key.name.as_str());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn bearer_and_x_api_key_are_accepted() {
        let keys = vec![
            GatewayKey::new("alice", "k-alice"),
            GatewayKey::new("bob", "k-bob"),
        ];
        let bearer = headers(&[("Authorization", "Bearer k-bob")]);
        assert_eq!(authenticate(&keys, presented_key(&bearer)), Some("bob"));
        let x = headers(&[("x-api-key", "k-alice")]);
        assert_eq!(authenticate(&keys, presented_key(&x)), Some("alice"));
        let goog = headers(&[("X-Goog-Api-Key", "k-bob")]);
        assert_eq!(authenticate(&keys, presented_key(&goog)), Some("bob"));
        let wrong = headers(&[("authorization", "Bearer k-carol")]);
        assert_eq!(authenticate(&keys, presented_key(&wrong)), None);
        assert_eq!(authenticate(&keys, presented_key(&[])), None);
        let basic = headers(&[("authorization", "Basic k-bob")]);
        assert_eq!(authenticate(&keys, presented_key(&basic)), None);
        // A multi-byte character across byte 7 must not panic.
        let odd = headers(&[
            ("authorization", "Bearer\u{e9}x"),
            ("authorization", "Beare\u{e9}x"),
        ]);
        assert_eq!(presented_key(&odd[..1]), None);
        assert_eq!(presented_key(&odd[1..]), None);
    }
}
