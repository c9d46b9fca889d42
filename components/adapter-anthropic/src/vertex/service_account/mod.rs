//! Google service-account OAuth, as pure functions: what turns a service-account key (the JSON
//! file Google Cloud issues) into an access token for Vertex AI. The router sends the request and
//! caches the token; this module has no I/O, no clock and no randomness.
//!
//! The flow (Google's "OAuth 2.0 for Server to Server Applications", RFC 7523):
//! 1. [`ServiceAccount::parse`] the key file.
//! 2. [`assertion`]: a JWT signed with the account's RSA key (RS256), valid one hour.
//! 3. `POST` [`token_request_body`] to `token_uri`, content type [`TOKEN_REQUEST_CONTENT_TYPE`]
//!    ([`exchange_request`] builds that request).
//! 4. [`parse_token_response`]: the access token and its lifetime in seconds
//!    ([`exchange_response`]); reuse it until shortly before it expires.
//!
//! No error message ever contains the private key, the assertion or a token.

use std::fmt;

use apex_adapter_kit::error;
use apex_adapter_kit::types::{AccessToken, AdapterError, ErrorKind, HttpRequest};
use base64ct::{Base64UrlUnpadded, Encoding};
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Google's OAuth token endpoint, when the key file names none.
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// The scope asked for: all of Google Cloud, Vertex AI included.
pub const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// How long an assertion is valid (Google's maximum).
pub const ASSERTION_LIFETIME_SECS: u64 = 3600;
/// The content type of [`token_request_body`].
pub const TOKEN_REQUEST_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";
/// The grant type of a JWT assertion (RFC 7523).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The parts of a service-account key the token exchange needs.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    pub client_email: String,
    /// PEM, PKCS#8 (`-----BEGIN PRIVATE KEY-----`), as in Google's key files.
    pub private_key: String,
    /// Where assertions are exchanged for tokens.
    pub token_uri: String,
    pub project_id: Option<String>,
}

/// Never prints the private key.
impl fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("private_key", &"<redacted>")
            .field("token_uri", &self.token_uri)
            .field("project_id", &self.project_id)
            .finish()
    }
}

#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: Option<String>,
    private_key: Option<String>,
    token_uri: Option<String>,
    project_id: Option<String>,
}

impl ServiceAccount {
    /// Parse a service-account key file (`"type": "service_account"`). The private key is checked
    /// here, so a bad key fails at configuration time rather than at the first request.
    pub fn parse(json: &str) -> Result<ServiceAccount, String> {
        // serde's messages may quote values: only the position is reported.
        let file: KeyFile = serde_json::from_str(json).map_err(|e| {
            let what = match e.classify() {
                serde_json::error::Category::Data => "has a field of the wrong type",
                _ => "is not valid JSON",
            };
            format!(
                "the service-account key {what} (line {}, column {})",
                e.line(),
                e.column()
            )
        })?;
        if let Some(kind) = file.kind.filter(|k| k != "service_account") {
            let named = !kind.is_empty()
                && kind.len() <= 40
                && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
            return Err(if named {
                format!("credentials of type `{kind}` are not a service-account key")
            } else {
                "the credentials are not a service-account key".to_string()
            });
        }
        let client_email = file
            .client_email
            .filter(|e| !e.trim().is_empty())
            .ok_or("the service-account key has no `client_email`")?;
        let private_key = file
            .private_key
            .filter(|k| !k.trim().is_empty())
            .ok_or("the service-account key has no `private_key`")?;
        signing_key(&private_key)?;
        let token_uri = file
            .token_uri
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_TOKEN_URI.to_string());
        if !secure_uri(&token_uri) {
            return Err(format!(
                "the service-account key's `token_uri` must be an https URL, not `{token_uri}`"
            ));
        }
        Ok(ServiceAccount {
            client_email,
            private_key,
            token_uri,
            project_id: file.project_id.filter(|p| !p.is_empty()),
        })
    }
}

/// `https:`, or plain `http:` to this machine (a test token server): the assertion is a
/// credential and must not cross a network in clear.
fn secure_uri(uri: &str) -> bool {
    let lower = uri.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return true;
    }
    let Some(rest) = lower.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match host.rsplit_once(':') {
        Some((name, port)) if !name.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

fn signing_key(pem: &str) -> Result<SigningKey<Sha256>, String> {
    match RsaPrivateKey::from_pkcs8_pem(pem) {
        Ok(key) => Ok(SigningKey::<Sha256>::new(key)),
        Err(_) if pem.contains("BEGIN RSA PRIVATE KEY") => Err(
            "the service-account `private_key` is PKCS#1 (`BEGIN RSA PRIVATE KEY`): \
             convert it to PKCS#8 (`openssl pkcs8 -topk8 -nocrypt`)"
                .to_string(),
        ),
        Err(_) => {
            Err("the service-account `private_key` is not a PEM PKCS#8 RSA private key".to_string())
        }
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

/// The signed JWT to exchange for an access token: header `{"alg":"RS256","typ":"JWT"}`, claims
/// `iss` (the account), `scope`, `aud` (the token URI), `iat` = `now_secs`, `exp` one hour later.
/// Signing is RSASSA-PKCS1-v1_5 with SHA-256, deterministic: it needs no randomness.
pub fn assertion(sa: &ServiceAccount, now_secs: u64) -> Result<String, String> {
    let key = signing_key(&sa.private_key)?;
    let claims = Claims {
        iss: &sa.client_email,
        scope: SCOPE,
        aud: &sa.token_uri,
        iat: now_secs,
        exp: now_secs.saturating_add(ASSERTION_LIFETIME_SECS),
    };
    let claims = serde_json::to_vec(&claims).map_err(|e| e.to_string())?;
    let mut jwt = Base64UrlUnpadded::encode_string(br#"{"alg":"RS256","typ":"JWT"}"#);
    jwt.push('.');
    jwt.push_str(&Base64UrlUnpadded::encode_string(&claims));
    let signature = key
        .try_sign(jwt.as_bytes())
        .map_err(|_| "could not sign the service-account assertion".to_string())?;
    jwt.push('.');
    jwt.push_str(&Base64UrlUnpadded::encode_string(&signature.to_bytes()));
    Ok(jwt)
}

/// The form body that exchanges `assertion` for an access token.
pub fn token_request_body(assertion: &str) -> String {
    format!(
        "grant_type={}&assertion={}",
        form_encode(GRANT_TYPE),
        form_encode(assertion)
    )
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: Option<String>,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct TokenError {
    error: Option<String>,
    error_description: Option<String>,
}

/// The access token and its lifetime in seconds (3600 when the reply does not say) from the
/// token endpoint's reply, or why there is none.
pub fn parse_token_response(status: u16, body: &[u8]) -> Result<(String, u64), String> {
    if (200..300).contains(&status) {
        // A success body holds the token: never quote it.
        let reply: TokenReply = serde_json::from_slice(body)
            .map_err(|_| "malformed reply from the Google token endpoint".to_string())?;
        let token = reply
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or("the Google token endpoint's reply has no access_token")?;
        return Ok((token, reply.expires_in.unwrap_or(ASSERTION_LIFETIME_SECS)));
    }
    let prefix = format!("the Google token endpoint refused the service account (HTTP {status})");
    let Ok(reply) = serde_json::from_slice::<TokenError>(body) else {
        return Err(prefix);
    };
    let mut message = prefix;
    if let Some(error) = reply.error.as_deref().map(clean).filter(|e| !e.is_empty()) {
        message.push_str(": ");
        message.push_str(&error);
    }
    if let Some(description) = reply
        .error_description
        .as_deref()
        .map(clean)
        .filter(|d| !d.is_empty())
    {
        message.push_str(": ");
        message.push_str(&description);
    }
    if reply.error.as_deref() == Some("invalid_grant") {
        message.push_str(
            " (check that the key is not deleted or disabled and that the clock is right)",
        );
    }
    Err(message)
}

/// The request exchanging the service-account key `json` for an access token at `now_secs`;
/// an unusable key is an `auth` error (the key is broken).
pub fn exchange_request(json: &str, now_secs: u64) -> Result<HttpRequest, AdapterError> {
    let account = ServiceAccount::parse(json)
        .map_err(|e| error(ErrorKind::Auth, format!("the service-account key: {e}")))?;
    let assertion = assertion(&account, now_secs)
        .map_err(|e| error(ErrorKind::Auth, format!("signing: {e}")))?;
    Ok(HttpRequest {
        method: "POST".to_string(),
        url: account.token_uri,
        headers: vec![(
            "content-type".to_string(),
            TOKEN_REQUEST_CONTENT_TYPE.to_string(),
        )],
        body: token_request_body(&assertion).into_bytes(),
    })
}

/// The access token in the token endpoint's reply, or why there is none (`auth`).
pub fn exchange_response(status: u16, body: &[u8]) -> Result<AccessToken, AdapterError> {
    let (token, expires_in_secs) =
        parse_token_response(status, body).map_err(|e| error(ErrorKind::Auth, e))?;
    Ok(AccessToken {
        token,
        expires_in_secs,
    })
}

/// At most 300 characters, no control characters.
fn clean(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(300).collect()
}

#[cfg(test)]
mod tests;
