#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! Chat completions through the composed app, against scripted upstreams that reply in each
//! provider's recorded wire shape.

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

fn gateway() -> Gateway {
    Gateway::new(&config(), VARS)
}

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
async fn echo_model_answers_without_any_provider() {
    let gw = Gateway::new("", &[]);
    let r = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "echo", "messages": [{"role": "user", "content": "grüezi 👋"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], "grüezi 👋");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert!(gw.upstream.requests().is_empty());
}

#[tokio::test]
async fn openai_upstream_is_forwarded_with_only_model_and_auth_rewritten() {
    let gw = gateway();
    let reply = r#"{"id":"chatcmpl-abc","object":"chat.completion","created":1,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Zürich\"}"}}],"refusal":null},"logprobs":null,"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":50,"completion_tokens":9,"total_tokens":59}}"#;
    gw.upstream.push(OPENAI, Reply::json(200, reply));
    let request = tool_request("gpt", false);
    // Raw text, so key order and number spelling are the client's own.
    let raw = format!(
        r#"{{"x_vendor_extension": {{"keep": [1.50, "é"]}}, {}"#,
        &request.to_string()[1..]
    );
    let r = gw
        .call("POST", "/v1/chat/completions", &[], raw.as_bytes())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.text(),
        reply,
        "a same-protocol reply passes through byte for byte"
    );

    let sent = &gw.upstream.requests()[0];
    assert_eq!(sent.url, "http://openai.test/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some("Bearer sk-oa-secret"));
    let mut expected = request.clone();
    expected["model"] = json!("gpt-4o-mini");
    expected["x_vendor_extension"] = json!({"keep": [1.50, "é"]});
    assert_eq!(
        sent.json(),
        expected,
        "everything but the model reaches the upstream unchanged"
    );
    let sent_text = String::from_utf8_lossy(&sent.body);
    assert_eq!(
        sent_text,
        raw.replace(r#""model":"gpt""#, r#""model":"gpt-4o-mini""#),
        "byte for byte but the model"
    );
}

#[tokio::test]
async fn openai_stream_is_piped_untouched() {
    let gw = gateway();
    let chunks = [
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Grüße\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
    ];
    gw.upstream.push(OPENAI, Reply::sse(chunks));
    let r = gw.post("/v1/chat/completions", &json!({"model": "gpt", "stream": true, "messages": [{"role": "user", "content": "hi"}]})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert_eq!(r.text(), chunks.concat());
}

#[tokio::test]
async fn azure_upstream_uses_deployment_url_and_api_key_header() {
    let gw = gateway();
    gw.upstream.push(AZURE, Reply::json(200, r#"{"id":"x","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"hallo"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#));
    let r = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "azgpt", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["choices"][0]["message"]["content"], "hallo");
    let sent = &gw.upstream.requests()[0];
    assert_eq!(
        sent.url,
        "http://azure.test/openai/deployments/gpt-4o-mini-dev/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(sent.header("api-key"), Some("az-secret"));
    assert_eq!(sent.header("authorization"), None);

    // A client-chosen deployment cannot steer the key to another path of the resource.
    gw.upstream.push(AZURE, Reply::json(200, r#"{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}"#));
    let sneaky = "az/dall-e-3/images/generations?api-version=2024-10-21#";
    let r = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": sneaky, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        gw.upstream.requests()[1].url,
        "http://azure.test/openai/deployments/dall-e-3%2Fimages%2Fgenerations%3Fapi-version%3D2024-10-21%23/chat/completions?api-version=2024-10-21"
    );
}

#[tokio::test]
async fn azure_stream() {
    let gw = gateway();
    gw.upstream.push(AZURE, Reply::sse(["data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"]));
    let r = gw.post("/v1/chat/completions", &json!({"model": "azgpt", "stream": true, "messages": [{"role": "user", "content": "hi"}]})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.sse_json()[0]["choices"][0]["delta"]["content"], "ok");
    assert!(
        gw.upstream.requests()[0]
            .url
            .contains("/openai/deployments/gpt-4o-mini-dev/chat/completions?api-version=")
    );
}

const ANTHROPIC_REPLY: &str = r#"{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"Morgen: sonnig ☀️"},{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{"city": "Zürich", "unit":"celsius","days":[1,2]}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":120,"output_tokens":40}}"#;

#[tokio::test]
async fn anthropic_upstream_translates_request_and_reply() {
    let gw = gateway();
    gw.upstream
        .push(ANTHROPIC, Reply::json(200, ANTHROPIC_REPLY));
    let r = gw
        .post("/v1/chat/completions", &tool_request("sonnet", false))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["model"], "sonnet");
    let message = &body["choices"][0]["message"];
    assert_eq!(message["content"], "Morgen: sonnig ☀️");
    assert_eq!(message["tool_calls"][0]["id"], "toolu_01");
    assert_eq!(message["tool_calls"][0]["function"]["name"], "get_weather");
    assert_eq!(
        message["tool_calls"][0]["function"]["arguments"], WEATHER_ARGS,
        "argument JSON exactly as the model produced it"
    );
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(body["usage"]["prompt_tokens"], 120);
    assert_eq!(body["usage"]["completion_tokens"], 40);

    let sent = &gw.upstream.requests()[0];
    assert_eq!(sent.url, "http://anthropic.test/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some("sk-ant-secret"));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    let upstream = sent.json();
    assert_eq!(upstream["model"], "claude-sonnet-4-5");
    assert_eq!(upstream["system"][0]["text"], "You are terse.");
    assert_eq!(upstream["max_tokens"], 256);
    assert_eq!(upstream["tools"][0]["input_schema"]["required"][0], "city");
    let messages = upstream["messages"].as_array().unwrap();
    assert_eq!(
        messages.len(),
        3,
        "user, assistant tool call, user with tool result + text: {upstream}"
    );
    assert_eq!(messages[0]["content"][0]["text"], "Wetter in Zürich? 天気");
    assert_eq!(messages[1]["content"][0]["type"], "tool_use");
    assert_eq!(
        messages[1]["content"][0]["input"],
        serde_json::from_str::<Value>(WEATHER_ARGS).unwrap()
    );
    assert_eq!(messages[2]["content"][0]["type"], "tool_result");
    assert_eq!(messages[2]["content"][0]["tool_use_id"], "call_1");
    assert_eq!(messages[2]["content"][1]["text"], "And tomorrow?");
}

fn anthropic_stream() -> Vec<String> {
    let events = [
        (
            "message_start",
            r#"{"type":"message_start","message":{"id":"msg_02","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":310,"output_tokens":1}}}"#,
        ),
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        ),
        ("ping", r#"{"type": "ping"}"#),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Ich schaue "}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"nach… 🌦"}}"#,
        ),
        (
            "content_block_stop",
            r#"{"type":"content_block_stop","index":0}"#,
        ),
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_02","name":"get_weather","input":{}}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Zür"}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"ich\", \"unit\":\"celsius\""}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":",\"days\":[1,2]}"}}"#,
        ),
        (
            "content_block_stop",
            r#"{"type":"content_block_stop","index":1}"#,
        ),
        (
            "message_delta",
            r#"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}"#,
        ),
        ("message_stop", r#"{"type":"message_stop"}"#),
    ];
    events
        .iter()
        .map(|(e, d)| format!("event: {e}\ndata: {d}\n\n"))
        .collect()
}

#[tokio::test]
async fn anthropic_stream_becomes_openai_chunks_with_tools_and_usage() {
    let gw = gateway();
    // Split the recorded stream at awkward places: mid-line and mid-UTF-8 are both possible.
    let whole = anthropic_stream().concat().into_bytes();
    let pieces: Vec<Vec<u8>> = whole.chunks(37).map(|c| c.to_vec()).collect();
    gw.upstream.push(ANTHROPIC, Reply::sse(pieces));
    let r = gw
        .post("/v1/chat/completions", &tool_request("sonnet", true))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().ends_with("data: [DONE]\n\n"));
    let chunks = r.sse_json();
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Ich schaue nach… 🌦");
    let starts: Vec<&Value> = chunks
        .iter()
        .filter(|c| c["choices"][0]["delta"]["tool_calls"][0]["id"].is_string())
        .collect();
    assert_eq!(starts.len(), 1);
    assert_eq!(
        starts[0]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"],
        "get_weather"
    );
    let arguments: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(arguments, WEATHER_ARGS);
    let finish: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
        .collect();
    assert_eq!(finish, vec!["tool_calls"]);
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(
        (
            usage["prompt_tokens"].as_u64(),
            usage["completion_tokens"].as_u64()
        ),
        (Some(310), Some(89))
    );
    assert!(chunks.iter().all(|c| c["model"] == "sonnet"));
    assert_eq!(gw.upstream.requests()[0].json()["stream"], true);
}

#[tokio::test]
async fn anthropic_stream_failure_mid_way_ends_with_an_error_event() {
    let gw = gateway();
    let events = anthropic_stream();
    gw.upstream
        .push(ANTHROPIC, Reply::sse(events[..5].to_vec()).cut());
    let r = gw
        .post("/v1/chat/completions", &tool_request("sonnet", true))
        .await;
    assert_eq!(r.status, 200);
    let chunks = r.sse_json();
    assert!(
        chunks.last().unwrap()["error"]["message"].is_string(),
        "{}",
        r.text()
    );
    assert!(!r.text().contains("[DONE]"));
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Ich schaue nach… 🌦", "text sent once, not duplicated");
}

#[tokio::test]
async fn models_lists_every_alias() {
    let gw = gateway();
    let r = gw.call("GET", "/v1/models", &[], b"").await;
    assert_eq!(r.status, 200);
    let ids: Vec<String> = r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, vec!["echo", "azgpt", "gpt", "sonnet"]);
    assert_eq!(r.json()["object"], "list");
}

#[tokio::test]
async fn bad_input_gets_clear_openai_errors() {
    let gw = Gateway::new(
        &format!("[gateway]\nmax_body_bytes = 2000\n{}", config()),
        VARS,
    );
    let invalid = gw
        .call("POST", "/v1/chat/completions", &[], b"{\"model\": ")
        .await;
    assert_eq!(invalid.status, 400);
    assert!(
        invalid.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
    assert_eq!(invalid.json()["error"]["type"], "invalid_request_error");

    let wrong_type = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "gpt", "messages": "hi"}),
        )
        .await;
    assert_eq!(wrong_type.status, 400);
    assert!(
        wrong_type.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("messages"),
        "{}",
        wrong_type.text()
    );

    let missing = gw
        .post("/v1/chat/completions", &json!({"messages": []}))
        .await;
    assert_eq!(missing.status, 400);
    assert!(missing.text().contains("model"));

    let unknown = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "nope", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["error"]["code"], "model_not_found");

    let big = "x".repeat(3000);
    let too_large = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "gpt", "messages": [{"role": "user", "content": big}]}),
        )
        .await;
    assert_eq!(too_large.status, 413);
    assert_eq!(too_large.json()["error"]["code"], "request_too_large");

    let route = gw.call("GET", "/v1/nothing", &[], b"").await;
    assert_eq!(route.status, 404);
    assert!(
        gw.upstream.requests().is_empty(),
        "no bad request reached an upstream"
    );
}

#[tokio::test]
async fn gateway_keys_are_required_when_configured() {
    let config = format!(
        "[gateway]\napi_keys = {{ alice = \"apex_alice\", bob = \"apex_bob\" }}\n{}",
        config()
    );
    let mut vars = VARS.to_vec();
    vars.extend([("apex_alice", "key-alice"), ("apex_bob", "key-bob")]);
    let gw = Gateway::new(&config, &vars);
    let body = json!({"model": "echo", "messages": [{"role": "user", "content": "x"}]}).to_string();
    let none = gw
        .call("POST", "/v1/chat/completions", &[], body.as_bytes())
        .await;
    assert_eq!(none.status, 401);
    assert_eq!(none.json()["error"]["code"], "invalid_api_key");
    let wrong = gw
        .call(
            "POST",
            "/v1/chat/completions",
            &[("authorization", "Bearer key-carol")],
            body.as_bytes(),
        )
        .await;
    assert_eq!(wrong.status, 401);
    let models = gw.call("GET", "/v1/models", &[], b"").await;
    assert_eq!(models.status, 401);
    let bearer = gw
        .call(
            "POST",
            "/v1/chat/completions",
            &[("authorization", "Bearer key-alice")],
            body.as_bytes(),
        )
        .await;
    assert_eq!(bearer.status, 200);
    let x_api_key = gw
        .call(
            "POST",
            "/v1/chat/completions",
            &[("x-api-key", "key-bob")],
            body.as_bytes(),
        )
        .await;
    assert_eq!(x_api_key.status, 200);
    let health = gw.call("GET", "/health", &[], b"").await;
    assert_eq!(health.status, 200);
}

#[tokio::test]
async fn cors_answers_preflight_for_configured_origins_only() {
    let gw = Gateway::new(
        &format!(
            "[gateway]\ncors_origins = [\"https://app.example\"]\n{}",
            config()
        ),
        VARS,
    );
    let preflight = gw
        .call(
            "OPTIONS",
            "/v1/chat/completions",
            &[
                ("origin", "https://app.example"),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "authorization, content-type",
                ),
            ],
            b"",
        )
        .await;
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        Some("authorization, content-type")
    );
    assert!(
        preflight
            .header("access-control-allow-methods")
            .unwrap()
            .contains("POST")
    );

    let foreign = gw
        .call(
            "OPTIONS",
            "/v1/chat/completions",
            &[("origin", "https://evil.example")],
            b"",
        )
        .await;
    assert_eq!(foreign.header("access-control-allow-origin"), None);

    let actual = gw
        .call(
            "GET",
            "/v1/models",
            &[("origin", "https://app.example")],
            b"",
        )
        .await;
    assert_eq!(
        actual.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let no_origin = gw.call("GET", "/v1/models", &[], b"").await;
    assert_eq!(no_origin.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn upstream_errors_keep_their_class_and_never_leak_keys() {
    let gw = gateway();
    // A 400 from a same-protocol upstream goes back as the provider wrote it (key scrubbed).
    gw.upstream.push(OPENAI, Reply::json(400, r#"{"error":{"message":"Invalid 'messages[0].role' for key sk-oa-secret","type":"invalid_request_error","param":"messages","code":null}}"#));
    let r = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "gpt", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["param"], "messages");
    assert!(!r.text().contains("sk-oa-secret"), "{}", r.text());

    // The gateway's provider key being refused is not the client's fault: 502, no key.
    gw.upstream.push(ANTHROPIC, Reply::json(401, r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key sk-ant-secret"}}"#));
    let r = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "sonnet", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(r.status, 502, "{}", r.text());
    assert!(!r.text().contains("sk-ant-secret"), "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "upstream_auth_failed");

    // The refused key is now benched (auth cooldown): nothing left to try, 503 with Retry-After.
    let r = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "sonnet", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.header("retry-after").is_some());

    // Rate limited with nothing else to try: 429 with Retry-After.
    let gw = gateway();
    gw.upstream.push(ANTHROPIC, Reply::json(429, r#"{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}"#).with_header("retry-after", "7"));
    let r = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "sonnet", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("7"));
}

#[tokio::test]
async fn failover_to_the_next_key_and_target_before_any_byte() {
    // No cooldowns here: every request tries every key and target again.
    let config = format!(
        r#"
[gateway]
cooldown_secs = 0
allowed_fails = 100
[providers.multi]
kind = "openai"
base_url = "{OPENAI}"
keys = ["k1", "k2"]
[providers.claude]
kind = "anthropic"
base_url = "{ANTHROPIC}"
keys = ["claude_key"]
[models.resilient]
targets = ["multi/m", "claude/claude-haiku-4-5"]
"#
    );
    let gw = Gateway::new(
        &config,
        &[("k1", "key-one"), ("k2", "key-two"), ("claude_key", "ck")],
    );
    gw.upstream.push(OPENAI, Reply::json(429, r#"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#));
    gw.upstream.push(
        OPENAI,
        Reply::json(
            503,
            r#"{"error":{"message":"overloaded","type":"server_error","param":null,"code":null}}"#,
        ),
    );
    gw.upstream
        .push(ANTHROPIC, Reply::json(200, ANTHROPIC_REPLY));
    let r = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "resilient", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        "Morgen: sonnig ☀️"
    );
    let sent = gw.upstream.requests();
    assert_eq!(sent.len(), 3);
    let keys: Vec<_> = sent[..2]
        .iter()
        .map(|s| s.header("authorization").unwrap().to_string())
        .collect();
    assert!(
        keys.contains(&"Bearer key-one".to_string())
            && keys.contains(&"Bearer key-two".to_string()),
        "{keys:?}"
    );
    assert_eq!(sent[2].header("x-api-key"), Some("ck"));

    // A 400 is the request's fault: not retried elsewhere.
    gw.upstream.push(OPENAI, Reply::json(400, r#"{"error":{"message":"bad","type":"invalid_request_error","param":null,"code":null}}"#));
    let r = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "resilient", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(gw.upstream.requests().len(), 4);

    // Connection refused everywhere: 502 after every attempt.
    gw.upstream.push(OPENAI, Reply::Refused);
    gw.upstream.push(OPENAI, Reply::Refused);
    gw.upstream.push(ANTHROPIC, Reply::Refused);
    let r = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "resilient", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(gw.upstream.requests().len(), 7);
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
async fn a_broken_config_is_reported_without_secrets() {
    let config =
        "[providers.x]\nkind = \"opneai\"\nbase_url = \"http://x.test/v1\"\nkeys = [\"x_key\"]\n";
    let gw = Gateway::new(config, &[("x_key", "sk-very-secret")]);
    let r = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "echo", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(r.status, 500);
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("kind `opneai`"), "{message}");
    assert!(!r.text().contains("sk-very-secret"));
}

#[tokio::test]
async fn failover_covers_unsupported_features_and_errors_right_after_stream_start() {
    let config = format!(
        "[providers.claude]\nkind = \"anthropic\"\nbase_url = \"{ANTHROPIC}\"\nkeys = [\"claude_key\"]\n\
         [providers.oa]\nkind = \"openai\"\nbase_url = \"{OPENAI}\"\nkeys = [\"oa_key\"]\n\
         [models.m]\ntargets = [\"claude/claude-haiku-4-5\", \"oa/gpt-4o-mini\"]\n"
    );
    let gw = Gateway::new(&config, VARS);

    // JSON schema output is not something the Anthropic target takes: the OpenAI target serves it.
    gw.upstream.push(OPENAI, Reply::json(200, r#"{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"{}"},"finish_reason":"stop"}]}"#));
    let schema =
        json!({"type": "json_schema", "json_schema": {"name": "o", "schema": {"type": "object"}}});
    let r = gw.post("/v1/chat/completions", &json!({"model": "m", "response_format": schema, "messages": [{"role": "user", "content": "x"}]})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        gw.upstream.requests().len(),
        1,
        "nothing was sent to the Anthropic target"
    );

    // Overloaded right after message_start: no content reached the client, so the next target serves.
    let overloaded = [
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_x\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-haiku-4-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n",
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
    ];
    gw.upstream.push(ANTHROPIC, Reply::sse(overloaded));
    gw.upstream.push(OPENAI, Reply::sse(["data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"served\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"]));
    let r = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let text: String = r
        .sse_json()
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "served");
    assert!(!r.text().contains("error"), "{}", r.text());
}

#[tokio::test]
async fn forwarding_keeps_what_the_neutral_form_cannot_hold() {
    let gw = gateway();
    let ok = r#"{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"a"},"finish_reason":"stop"},{"index":1,"message":{"role":"assistant","content":"b"},"finish_reason":"stop"}]}"#;
    gw.upstream.push(OPENAI, Reply::json(200, ok));
    let body = json!({"model": "gpt", "n": 2, "stream": null, "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}]});
    let r = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), ok);
    let sent = gw.upstream.requests()[0].json();
    assert_eq!(sent["n"], 2);
    assert_eq!(sent["messages"][0]["content"][0]["type"], "input_audio");

    // The same request to a translated target is refused with a clear 400.
    let r = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "sonnet", "n": 2, "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("n: 1"), "{}", r.text());
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

/// An open gateway (no keys) is for this machine: a web page elsewhere cannot use it, through a
/// rebound DNS name, a cross-site request, or a "simple" POST that needs no preflight.
#[tokio::test]
async fn an_open_gateway_answers_this_machine_not_web_pages() {
    let gw = Gateway::new(
        &format!(
            "[gateway]\ncors_origins = [\"https://app.example\"]\nallowed_hosts = [\"gateway.internal\"]\n{}",
            config()
        ),
        VARS,
    );
    let body = br#"{"model":"echo","messages":[{"role":"user","content":"hi"}]}"#;
    let post = |headers: Vec<(&'static str, &'static str)>| {
        let gw = &gw;
        async move {
            gw.call("POST", "/v1/chat/completions", &headers, body)
                .await
        }
    };
    // curl and SDKs: no Origin; `curl -d` sends a form content type and still works.
    let curl = post(vec![("content-type", "application/x-www-form-urlencoded")]).await;
    assert_eq!(curl.status, 200, "{}", curl.text());
    let named = post(vec![
        ("host", "gateway.internal:8787"),
        ("content-type", "application/json"),
    ])
    .await;
    assert_eq!(named.status, 200, "{}", named.text());
    // DNS rebinding: the browser addresses the attacker's name, which resolved to this machine.
    let rebound = post(vec![
        ("host", "attacker.example:8787"),
        ("content-type", "application/json"),
    ])
    .await;
    assert_eq!(rebound.status, 403, "{}", rebound.text());
    assert_eq!(rebound.json()["error"]["type"], "permission_error");
    // A page on another site (a text/plain POST needs no preflight).
    let csrf = post(vec![
        ("origin", "https://evil.example"),
        ("content-type", "text/plain;charset=UTF-8"),
    ])
    .await;
    assert_eq!(csrf.status, 403, "{}", csrf.text());
    let models = gw
        .call(
            "GET",
            "/v1/models",
            &[("origin", "https://evil.example")],
            b"",
        )
        .await;
    assert_eq!(models.status, 403);
    // Pages of this machine and configured origins: JSON only.
    let local_page = post(vec![
        ("origin", "http://localhost:3000"),
        ("content-type", "text/plain"),
    ])
    .await;
    assert_eq!(local_page.status, 415, "{}", local_page.text());
    let app = post(vec![
        ("origin", "https://app.example"),
        ("content-type", "application/json"),
    ])
    .await;
    assert_eq!(app.status, 200, "{}", app.text());
    // Ollama-format errors on the Ollama surface.
    let ollama = gw
        .call("GET", "/api/tags", &[("host", "attacker.example")], b"")
        .await;
    assert_eq!(ollama.status, 403);
    assert!(ollama.json()["error"].is_string(), "{}", ollama.text());
}
