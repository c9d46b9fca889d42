//! Values the gateway keeps in the key-value store but must not leave readable there (access
//! tokens): sealed with ChaCha20-Poly1305 under a key derived from a secret only the gateway's
//! configuration holds (the service-account key). Whoever reads the store (kv.json, Redis) sees
//! no usable token; a value moved to another key, or altered, does not open.
//!
//! No RNG is needed: the nonce is derived from the key and the plaintext (a repeated nonce then
//! only ever seals the same plaintext again, which reveals nothing new).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use sha2::{Digest, Sha256};

const NONCE_LEN: usize = 12;

fn key(secret: &str, context: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"apex sealed value v1\0");
    hasher.update((context.len() as u64).to_be_bytes());
    hasher.update(context.as_bytes());
    hasher.update(secret.as_bytes());
    hasher.finalize().into()
}

/// `plaintext` sealed for `context` (the key-value key it is stored under): nonce ‖ ciphertext.
pub fn seal(secret: &str, context: &str, plaintext: &[u8]) -> Vec<u8> {
    let key = key(secret, context);
    let mut hasher = Sha256::new();
    hasher.update(key);
    hasher.update(plaintext);
    let digest = hasher.finalize();
    let nonce_bytes = &digest[..NONCE_LEN];
    let payload = Payload {
        msg: plaintext,
        aad: context.as_bytes(),
    };
    let sealed = cipher(&key).and_then(|cipher| {
        let nonce = Nonce::try_from(nonce_bytes).ok()?;
        cipher.encrypt(&nonce, payload).ok()
    });
    match sealed {
        Some(ciphertext) => [nonce_bytes, &ciphertext].concat(),
        // Only for plaintexts beyond ChaCha20's 256 GiB limit: nothing is kept.
        None => Vec::new(),
    }
}

fn cipher(key: &[u8; 32]) -> Option<ChaCha20Poly1305> {
    ChaCha20Poly1305::new_from_slice(key).ok()
}

/// The plaintext of a value sealed with the same secret and context, if it is intact.
pub fn open(secret: &str, context: &str, sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE_LEN {
        return None;
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let payload = Payload {
        msg: ciphertext,
        aad: context.as_bytes(),
    };
    let nonce = Nonce::try_from(nonce).ok()?;
    cipher(&key(secret, context))?.decrypt(&nonce, payload).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_secret_and_context() {
        let token = b"ya29.c.secret-access-token";
        let sealed = seal("service-account-json", "apex:token:v#0", token);
        assert!(
            !sealed.windows(token.len()).any(|w| w == token),
            "the token is not readable in the sealed value"
        );
        assert_eq!(
            open("service-account-json", "apex:token:v#0", &sealed).as_deref(),
            Some(&token[..])
        );
        assert_eq!(open("another-key", "apex:token:v#0", &sealed), None);
        assert_eq!(
            open("service-account-json", "apex:token:v#1", &sealed),
            None
        );
        let mut altered = sealed.clone();
        if let Some(last) = altered.last_mut() {
            *last ^= 1;
        }
        assert_eq!(
            open("service-account-json", "apex:token:v#0", &altered),
            None
        );
        assert_eq!(
            open("service-account-json", "apex:token:v#0", b"short"),
            None
        );
    }
}
