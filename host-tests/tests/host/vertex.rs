#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! Anthropic on Vertex AI through the composed app: the service-account key is exchanged for an
//! access token (RS256 JWT assertion, decoded and checked here), the token is cached in the
//! key-value store (sealed: the store holds no token), and requests go to rawPredict with the
//! Vertex body. The key file is a test-only key made for these tests
//! (`fixtures/vertex-test-service-account.json`, also in the `vertex-*` scenarios' vars.toml);
//! its token URI is a scripted upstream. streamRawPredict and a refused exchange are scenarios.

use crate::common::Gateway;
use apex_host::outbound::Reply;
use serde_json::{Value, json};

const TOKEN_URI: &str = "http://localhost:9/token";
const VERTEX: &str = "http://vertex.test/v1/projects/apex-test-project/locations/us-east5";

fn service_account() -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/vertex-test-service-account.json"),
    )
    .unwrap()
}

fn gateway() -> Gateway {
    let config = format!(
        r#"
[providers.vx]
kind = "vertex-anthropic"
base_url = "{VERTEX}"
keys = ["vertex_sa"]

[models.vclaude]
targets = ["vx/claude-sonnet-4-5@20250929"]
"#
    );
    Gateway::new(&config, &[("vertex_sa", &service_account())])
}

fn token_reply() -> Reply {
    Reply::json(
        200,
        r#"{"access_token":"ya29.c.test-access-token","expires_in":3599,"token_type":"Bearer"}"#,
    )
}

fn message() -> Reply {
    Reply::json(
        200,
        json!({"id": "msg_vrtx_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "text", "text": "Grüße von Vertex"}], "stop_reason": "end_turn",
            "stop_sequence": null, "usage": {"input_tokens": 9, "output_tokens": 4}})
        .to_string(),
    )
}

fn decode_segment(segment: &str) -> Value {
    // base64url without padding.
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut count = 0;
    let mut bytes = Vec::new();
    for c in segment.bytes() {
        let value = alphabet.iter().position(|a| *a == c).unwrap() as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            bytes.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn openai_clients_reach_claude_on_vertex_with_a_cached_token() {
    let gw = gateway();
    gw.upstream.push(TOKEN_URI, token_reply());
    gw.upstream.push(VERTEX, message());
    gw.upstream.push(VERTEX, message());
    let request = json!({"model": "vclaude", "messages": [{"role": "user", "content": "Hallo"}], "max_tokens": 64});
    let r = gw.post("/v1/chat/completions", &request).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        "Grüße von Vertex"
    );

    let requests = gw.upstream.requests();
    let exchange = &requests[0];
    assert_eq!(exchange.url, TOKEN_URI);
    assert_eq!(
        exchange.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form = String::from_utf8(exchange.body.clone()).unwrap();
    assert!(form.starts_with(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion="
    ));
    let jwt = form.split("assertion=").nth(1).unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(decode_segment(parts[0])["alg"], "RS256");
    let claims = decode_segment(parts[1]);
    assert_eq!(
        claims["iss"],
        "apex-test@apex-test-project.iam.gserviceaccount.com"
    );
    assert_eq!(claims["aud"], TOKEN_URI);
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/cloud-platform"
    );
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        3600
    );

    let call = &requests[1];
    assert_eq!(
        call.url,
        format!("{VERTEX}/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict")
    );
    assert_eq!(
        call.header("authorization"),
        Some("Bearer ya29.c.test-access-token")
    );
    assert_eq!(call.header("x-api-key"), None);
    let body = call.json();
    assert_eq!(body["anthropic_version"], "vertex-2023-10-16");
    assert!(body.get("model").is_none(), "{body}");
    assert_eq!(body["messages"][0]["content"][0]["text"], "Hallo");

    // The token is reused from the key-value store: no second exchange.
    let r = gw.post("/v1/chat/completions", &request).await;
    assert_eq!(r.status, 200);
    let requests = gw.upstream.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests[2].url.starts_with(VERTEX));
    // Neither the private key nor the token is readable in the store (the token is sealed).
    let stored: Vec<String> = gw
        .kv
        .keys("default")
        .into_iter()
        .filter_map(|k| {
            gw.kv
                .get("default", &k)
                .map(|v| String::from_utf8_lossy(&v).into_owned())
        })
        .collect();
    assert!(stored.iter().all(|v| !v.contains("PRIVATE KEY")));
    assert!(
        stored
            .iter()
            .all(|v| !v.contains("ya29.c.test-access-token")),
        "{stored:?}"
    );
    assert!(
        stored.iter().any(|v| v.contains("\"sealed\"")),
        "the sealed token is cached: {stored:?}"
    );
}
