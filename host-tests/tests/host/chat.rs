#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! Chat completions through the composed app: what the request → answer scenarios
//! (`host-tests/scenarios/chat-*`) cannot hold as data: key rotation as the key-value store keeps
//! it, a hostile adapter (another composed app), and keepalives on a slow stream (timing).

use std::time::Duration;

use crate::common::Gateway;
use apex_host::outbound::Reply;
use serde_json::{Value, json};

const OPENAI: &str = "http://openai.test/v1";
const ANTHROPIC: &str = "http://anthropic.test/v1";
const AZURE: &str = "http://azure.test";

fn config() -> String {
    format!(
        r#"
[providers.oa]
kind = "openai"
profile = "openai"
base_url = "{OPENAI}"
keys = ["oa_key"]

[providers.claude]
kind = "anthropic"
base_url = "{ANTHROPIC}"
keys = ["claude_key"]

[providers.az]
kind = "azure"
base_url = "{AZURE}"
keys = ["az_key"]
api_version = "2024-10-21"

[models.gpt]
targets = ["oa/gpt-4o-mini"]

[models.sonnet]
targets = ["claude/claude-sonnet-4-5"]

[models.azgpt]
targets = ["az/gpt-4o-mini-dev"]
"#
    )
}

const VARS: &[(&str, &str)] = &[
    ("oa_key", "sk-oa-secret"),
    ("claude_key", "sk-ant-secret"),
    ("az_key", "az-secret"),
];

const WEATHER_ARGS: &str = r#"{"city": "Zürich", "unit":"celsius","days":[1,2]}"#;

fn tool_request(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "stream": stream,
        "stream_options": if stream { json!({"include_usage": true}) } else { Value::Null },
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Wetter in Zürich? 天気"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": WEATHER_ARGS}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\": 21}"},
            {"role": "user", "content": "And tomorrow?"}
        ],
        "tools": [{"type": "function", "function": {
            "name": "get_weather", "description": "Weather by city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
        "tool_choice": "auto",
        "max_tokens": 256
    })
}

#[tokio::test]
async fn keys_rotate_across_requests_through_the_key_value_store() {
    let config = format!(
        "[providers.multi]\nkind = \"openai\"\nbase_url = \"{OPENAI}\"\nkeys = [\"k1\", \"k2\"]\n[models.m]\ntargets = [\"multi/m\"]\n"
    );
    let gw = Gateway::new(&config, &[("k1", "key-one"), ("k2", "key-two")]);
    let ok = r#"{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}"#;
    for _ in 0..4 {
        gw.upstream.push(OPENAI, Reply::json(200, ok));
        let r = gw
            .post(
                "/v1/chat/completions",
                &json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}),
            )
            .await;
        assert_eq!(r.status, 200);
    }
    let keys: Vec<String> = gw
        .upstream
        .requests()
        .iter()
        .map(|r| r.header("authorization").unwrap().to_string())
        .collect();
    assert_eq!(
        keys,
        vec![
            "Bearer key-one",
            "Bearer key-two",
            "Bearer key-one",
            "Bearer key-two"
        ]
    );
    let stored: Vec<String> = gw.kv.keys("default");
    assert!(
        stored.contains(&"apex:rotation:multi".to_string()),
        "{stored:?}"
    );
    for key in stored {
        let value = String::from_utf8_lossy(&gw.kv.get("default", &key).unwrap()).into_owned();
        assert!(
            !value.contains("key-one") && !value.contains("key-two"),
            "no secret in the key-value store: {key} = {value}"
        );
    }
}

#[tokio::test]
async fn requests_an_adapter_builds_off_the_provider_origin_are_refused() {
    let config = "[providers.shady]\nkind = \"rogue\"\nbase_url = \"http://provider.test/v1\"\nkeys = [\"shady_key\"]\n[models.m]\ntargets = [\"shady/m\"]\n";
    let gw = Gateway::with_wasm(
        apex_host::components::TEST_ROGUE_APP,
        config,
        &[("shady_key", "sk-shady")],
    );
    gw.upstream.push("http://", Reply::json(200, "{}"));
    let r = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(r.status, 502, "{}", r.text());
    assert!(r.text().contains("outside provider"), "{}", r.text());
    assert!(!r.text().contains("sk-shady"));
    assert!(gw.upstream.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_request_whose_guest_never_stops_is_stopped_by_the_cpu_budget() {
    // The rogue adapter's `rogue-spin` kind loops forever building its request. The app meters
    // the guest's CPU time around each call into it; without that the request would never end.
    let config = "[providers.stuck]\nkind = \"rogue-spin\"\nbase_url = \"http://provider.test/v1\"\nkeys = [\"stuck_key\"]\n[models.m]\ntargets = [\"stuck/m\"]\n";
    let mut gw = Gateway::with_wasm(
        apex_host::components::TEST_ROGUE_APP,
        config,
        &[("stuck_key", "sk-stuck")],
    );
    gw.app.set_cpu_budget(Duration::from_millis(300));
    let request = hyper::Request::post("http://localhost/v1/chat/completions")
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}).to_string(),
        )))
        .unwrap();
    let started = std::time::Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(60), gw.app.handle(request))
        .await
        .expect("the budget must stop the guest");
    let error = outcome.expect_err("a stopped guest sets no response");
    assert!(format!("{error:?}").contains("CPU budget"), "{error:?}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(gw.upstream.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn slow_streams_get_keepalive_comments_and_forwarded_streams_stay_intact() {
    let config = format!("[gateway]\nkeepalive_secs = 1\n{}", config());
    let gw = Gateway::new(&config, VARS);
    let chunks = vec![
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hal\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
    ];
    gw.upstream.push(
        OPENAI,
        Reply::sse(chunks.clone())
            .delayed(Duration::from_millis(1500))
            .pause_before(1, Duration::from_millis(1500)),
    );
    let r = gw
        .post("/v1/chat/completions", &tool_request("gpt", true))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    assert!(text.starts_with(": keepalive\n\n"), "{text}");
    assert_eq!(
        text.replace(": keepalive\n\n", ""),
        chunks.concat(),
        "the provider's bytes, with keepalives only between events"
    );
    assert!(text.matches(": keepalive").count() >= 2, "{text}");
}
