#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! The Responses surface (`/v1/responses`, what Codex speaks) through the composed app: response
//! objects and the event stream, state in the key-value store (chains on every provider kind,
//! `store: false`, per-key scoping, expiry, persistence), and the stored-response endpoints.

use crate::common::{Gateway, Response};
use apex_host::kv::KvStore;
use apex_host::outbound::Reply;
use serde_json::{Value, json};

const OPENAI: &str = "http://openai.test/v1";
const ANTHROPIC: &str = "http://anthropic.test/v1";
const GEMINI: &str = "http://gemini.test/v1beta";
const COHERE: &str = "http://cohere.test/v2";
const OLLAMA: &str = "http://ollama.test";

fn config() -> String {
    format!(
        r#"
[gateway]
api_keys = {{ alice = "alice_key", bob = "bob_key" }}

[providers.oa]
kind = "openai"
profile = "openai"
base_url = "{OPENAI}"
keys = ["oa_key"]

[providers.claude]
kind = "anthropic"
base_url = "{ANTHROPIC}"
keys = ["claude_key"]

[providers.gem]
kind = "gemini"
base_url = "{GEMINI}"
keys = ["gem_key"]

[providers.co]
kind = "cohere"
base_url = "{COHERE}"
keys = ["co_key"]

[providers.local]
kind = "ollama"
base_url = "{OLLAMA}"
keys = []

[models.gpt]
targets = ["oa/gpt-4.1"]

[models.claude]
targets = ["claude/claude-sonnet-4-5"]

[models.gemini]
targets = ["gem/gemini-2.5-flash"]

[models.cohere]
targets = ["co/command-a-03-2025"]

[models.ollama]
targets = ["local/qwen3:8b"]
"#
    )
}

const VARS: &[(&str, &str)] = &[
    ("alice_key", "key-of-alice"),
    ("bob_key", "key-of-bob"),
    ("oa_key", "sk-oa-secret"),
    ("claude_key", "sk-ant-secret"),
    ("gem_key", "gm-secret"),
    ("co_key", "co-secret"),
];

fn gateway() -> Gateway {
    Gateway::new(&config(), VARS)
}

async fn call(gw: &Gateway, method: &str, path: &str, key: &str, body: Option<&Value>) -> Response {
    let auth = format!("Bearer {key}");
    let text = body.map(Value::to_string).unwrap_or_default();
    gw.call(
        method,
        path,
        &[
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ],
        text.as_bytes(),
    )
    .await
}

async fn create(gw: &Gateway, body: &Value) -> Response {
    call(gw, "POST", "/v1/responses", "key-of-alice", Some(body)).await
}

fn openai_text(text: &str) -> String {
    json!({"id": "chatcmpl-7", "object": "chat.completion", "created": 1_700_000_000, "model": "gpt-4.1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": null},
            "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 31, "completion_tokens": 9, "total_tokens": 40,
            "prompt_tokens_details": {"cached_tokens": 8}}})
    .to_string()
}

fn openai_call() -> String {
    json!({"id": "chatcmpl-8", "object": "chat.completion", "created": 1_700_000_000, "model": "gpt-4.1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "refusal": null,
            "tool_calls": [{"id": "call_w1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\": \"Zürich\"}"}}]},
            "logprobs": null, "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52}})
    .to_string()
}

const WEATHER_TOOL: &str = r#"{"type": "function", "name": "get_weather", "description": "Weather by city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}"#;

fn tool() -> Value {
    serde_json::from_str(WEATHER_TOOL).unwrap()
}

#[tokio::test]
async fn a_response_object_with_echoed_settings() {
    let gw = gateway();
    gw.upstream
        .push(OPENAI, Reply::json(200, openai_text("Grüezi! 👋")));
    let r = create(
        &gw,
        &json!({"model": "gpt", "input": "Sag hallo", "instructions": "Antworte auf Schweizerdeutsch.",
            "temperature": 0.3, "max_output_tokens": 50, "metadata": {"ticket": "42"}, "user": "u-1"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert!(body["id"].as_str().unwrap().starts_with("resp_"));
    assert_eq!(body["object"], "response");
    assert_eq!(body["status"], "completed");
    assert_eq!(body["model"], "gpt");
    assert_eq!(body["instructions"], "Antworte auf Schweizerdeutsch.");
    assert_eq!(body["temperature"], 0.3);
    assert_eq!(body["max_output_tokens"], 50);
    assert_eq!(body["metadata"], json!({"ticket": "42"}));
    assert_eq!(body["store"], true);
    assert_eq!(body["tool_choice"], "auto");
    assert_eq!(body["text"], json!({"format": {"type": "text"}}));
    let output = body["output"].as_array().unwrap();
    assert_eq!(output.len(), 1);
    assert_eq!(output[0]["type"], "message");
    assert_eq!(output[0]["role"], "assistant");
    assert_eq!(output[0]["content"][0]["type"], "output_text");
    assert_eq!(output[0]["content"][0]["text"], "Grüezi! 👋");
    assert_eq!(body["usage"]["input_tokens"], 31);
    assert_eq!(body["usage"]["input_tokens_details"]["cached_tokens"], 8);
    assert_eq!(body["usage"]["output_tokens"], 9);
    assert_eq!(body["usage"]["total_tokens"], 40);

    let upstream = gw.upstream.requests()[0].json();
    assert_eq!(upstream["model"], "gpt-4.1");
    assert_eq!(
        upstream["messages"][0]["content"],
        "Antworte auf Schweizerdeutsch."
    );
    assert_eq!(upstream["messages"][1]["content"], "Sag hallo");
    assert_eq!(upstream["temperature"], 0.3);
    assert_eq!(upstream["max_completion_tokens"], 50);
    assert_eq!(upstream["user"], "u-1");

    // Stored, and readable by its owner.
    let id = body["id"].as_str().unwrap();
    let got = call(
        &gw,
        "GET",
        &format!("/v1/responses/{id}"),
        "key-of-alice",
        None,
    )
    .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json(), body);
}

fn openai_stream() -> Vec<String> {
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-9", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1",
                "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
        )
    };
    vec![
        chunk(json!({"role": "assistant", "content": ""}), Value::Null),
        chunk(json!({"content": "Ich schaue "}), Value::Null),
        chunk(json!({"content": "nach… ☀️"}), Value::Null),
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_s1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}),
            Value::Null,
        ),
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\": "}}]}),
            Value::Null,
        ),
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Zürich\"}"}}]}),
            Value::Null,
        ),
        chunk(json!({}), json!("tool_calls")),
        format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-9", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1",
                "choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}})
        ),
        "data: [DONE]\n\n".to_string(),
    ]
}

/// `(event name, data)` pairs, checking `type` and the increasing `sequence_number`.
fn events(r: &Response) -> Vec<(String, Value)> {
    let mut expected = 0;
    r.text()
        .split("\n\n")
        .filter(|f| !f.trim().is_empty() && !f.starts_with(':'))
        .map(|frame| {
            let name = frame
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .unwrap();
            let data: Value = serde_json::from_str(
                frame
                    .lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .unwrap(),
            )
            .unwrap();
            assert_eq!(data["type"], name);
            assert_eq!(data["sequence_number"], expected, "{frame}");
            expected += 1;
            (name.to_string(), data)
        })
        .collect()
}

#[tokio::test]
async fn the_event_stream_follows_openais_grammar() {
    let gw = gateway();
    let bytes = openai_stream().concat().into_bytes();
    gw.upstream
        .push(OPENAI, Reply::sse(bytes.chunks(17).map(<[u8]>::to_vec)));
    let r = create(
        &gw,
        &json!({"model": "gpt", "stream": true, "input": [{"role": "user", "content": [{"type": "input_text", "text": "Wetter?"}]}],
            "tools": [tool()], "tool_choice": "required"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let events = events(&r);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    assert_eq!(events[0].1["response"]["status"], "in_progress");
    let message_id = events[2].1["item"]["id"].as_str().unwrap().to_string();
    assert_eq!(events[4].1["item_id"], message_id.as_str());
    assert_eq!(events[6].1["text"], "Ich schaue nach… ☀️");
    assert_eq!(events[9].1["output_index"], 1);
    assert_eq!(events[9].1["item"]["call_id"], "call_s1");
    assert_eq!(events[12].1["arguments"], "{\"city\": \"Zürich\"}");
    let done = &events[14].1["response"];
    assert_eq!(done["status"], "completed");
    assert_eq!(done["tool_choice"], "required");
    assert_eq!(done["usage"]["input_tokens"], 50);
    assert_eq!(done["output"][1]["type"], "function_call");
    assert_eq!(done["output"][1]["name"], "get_weather");
    assert_eq!(done["output"][1]["arguments"], "{\"city\": \"Zürich\"}");
    assert_eq!(done["output"][0]["id"], message_id.as_str());

    // The streamed response was stored like a non-streamed one.
    let id = done["id"].as_str().unwrap();
    let got = call(
        &gw,
        "GET",
        &format!("/v1/responses/{id}"),
        "key-of-alice",
        None,
    )
    .await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.json()["output"], done["output"]);
    assert_eq!(gw.upstream.requests()[0].json()["tool_choice"], "required");
}

#[tokio::test]
async fn a_failure_mid_stream_ends_with_response_failed() {
    let gw = gateway();
    gw.upstream
        .push(OPENAI, Reply::sse(openai_stream()[..3].to_vec()).cut());
    let r = create(&gw, &json!({"model": "gpt", "stream": true, "input": "hi"})).await;
    assert_eq!(r.status, 200);
    let events = events(&r);
    let (name, data) = events.last().unwrap();
    assert_eq!(name, "response.failed", "{}", r.text());
    assert_eq!(data["response"]["status"], "failed");
    assert!(data["response"]["error"]["message"].is_string());
}

/// Each kind's replies for a three-turn chain: a tool call, then text, then text.
fn chain_replies(kind: &str) -> (&'static str, [String; 3]) {
    let text_of = |text: &str| {
        match kind {
        "gpt" => openai_text(text),
        "claude" => json!({"id": "msg_t", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 30, "output_tokens": 9}}).to_string(),
        "gemini" => json!({"candidates": [{"content": {"parts": [{"text": text}], "role": "model"},
            "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 30, "candidatesTokenCount": 9, "totalTokenCount": 39},
            "modelVersion": "gemini-2.5-flash", "responseId": "gT1"}).to_string(),
        "cohere" => json!({"id": "5f1c", "finish_reason": "COMPLETE",
            "message": {"role": "assistant", "content": [{"type": "text", "text": text}]},
            "usage": {"billed_units": {"input_tokens": 30, "output_tokens": 9},
                "tokens": {"input_tokens": 30, "output_tokens": 9}}}).to_string(),
        _ => json!({"model": "qwen3:8b", "created_at": "2025-10-01T09:30:12.418377Z",
            "message": {"role": "assistant", "content": text}, "done": true, "done_reason": "stop",
            "total_duration": 1, "load_duration": 1, "prompt_eval_count": 30, "prompt_eval_duration": 1,
            "eval_count": 9, "eval_duration": 1}).to_string(),
    }
    };
    let (url, call) = match kind {
        "gpt" => (OPENAI, openai_call()),
        "claude" => (
            ANTHROPIC,
            json!({"id": "msg_c", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
                "content": [{"type": "tool_use", "id": "toolu_w1", "name": "get_weather", "input": {"city": "Zürich"}}],
                "stop_reason": "tool_use", "stop_sequence": null, "usage": {"input_tokens": 20, "output_tokens": 7}})
            .to_string(),
        ),
        "gemini" => (
            GEMINI,
            json!({"candidates": [{"content": {"parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Zürich"}}}],
                "role": "model"}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": 20, "candidatesTokenCount": 7, "totalTokenCount": 27},
                "modelVersion": "gemini-2.5-flash", "responseId": "gC1"})
            .to_string(),
        ),
        "cohere" => (
            COHERE,
            json!({"id": "5f1b", "finish_reason": "TOOL_CALL",
                "message": {"role": "assistant", "tool_plan": "I will look up the weather.",
                    "tool_calls": [{"id": "get_weather_x1", "type": "function",
                        "function": {"name": "get_weather", "arguments": "{\"city\": \"Zürich\"}"}}]},
                "usage": {"billed_units": {"input_tokens": 20, "output_tokens": 7},
                    "tokens": {"input_tokens": 20, "output_tokens": 7}}})
            .to_string(),
        ),
        _ => (
            OLLAMA,
            json!({"model": "qwen3:8b", "created_at": "2025-10-01T09:30:12.418377Z",
                "message": {"role": "assistant", "content": "",
                    "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Zürich"}}}]},
                "done": true, "done_reason": "stop", "total_duration": 1, "load_duration": 1,
                "prompt_eval_count": 20, "prompt_eval_duration": 1, "eval_count": 7, "eval_duration": 1})
            .to_string(),
        ),
    };
    (
        url,
        [
            call,
            text_of("In Zürich sind es 21 °C."),
            text_of("Morgen wird es sonnig."),
        ],
    )
}

#[tokio::test]
async fn chains_continue_on_every_provider_kind() {
    for kind in ["gpt", "claude", "gemini", "cohere", "ollama"] {
        let gw = gateway();
        let (url, replies) = chain_replies(kind);
        for reply in replies {
            gw.upstream.push(url, Reply::json(200, reply));
        }
        // Turn 1: the model calls the tool.
        let first = create(
            &gw,
            &json!({"model": kind, "instructions": "Be brief.", "input": "Wetter in Zürich?", "tools": [tool()]}),
        )
        .await;
        assert_eq!(first.status, 200, "{kind}: {}", first.text());
        let first = first.json();
        let call = first["output"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item["type"] == "function_call")
            .unwrap_or_else(|| panic!("{kind}: no function call in {first}"))
            .clone();
        assert_eq!(call["name"], "get_weather", "{kind}");
        let arguments: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(arguments, json!({"city": "Zürich"}), "{kind}");
        // Turn 2: the tool's output, continuing from turn 1.
        let second = create(
            &gw,
            &json!({"model": kind, "previous_response_id": first["id"], "tools": [tool()],
                "input": [{"type": "function_call_output", "call_id": call["call_id"], "output": "{\"temp\": 21}"}]}),
        )
        .await;
        assert_eq!(second.status, 200, "{kind}: {}", second.text());
        let second = second.json();
        assert_eq!(second["previous_response_id"], first["id"]);
        assert_eq!(
            second["output"][0]["content"][0]["text"],
            "In Zürich sind es 21 °C."
        );
        // Turn 3: a new question; the provider must see the whole conversation.
        let third = create(
            &gw,
            &json!({"model": kind, "previous_response_id": second["id"], "input": "Und morgen?", "tools": [tool()]}),
        )
        .await;
        assert_eq!(third.status, 200, "{kind}: {}", third.text());
        let requests = gw.upstream.requests();
        assert_eq!(requests.len(), 3, "{kind}");
        let last = requests[2].json().to_string();
        let mut position = 0;
        for needle in [
            "Wetter in Zürich?",
            "get_weather",
            "21",
            "In Zürich sind es 21 °C.",
            "Und morgen?",
        ] {
            let found = last[position..]
                .find(needle)
                .unwrap_or_else(|| panic!("{kind}: `{needle}` missing or out of order in {last}"));
            position += found + needle.len();
        }
        // Instructions are not carried over (as on OpenAI): turn 3 sent none.
        assert!(!last.contains("Be brief."), "{kind}: {last}");
        let second_request = requests[1].json().to_string();
        assert!(second_request.contains("Wetter in Zürich?"), "{kind}");
    }
}

#[tokio::test]
async fn store_false_keeps_nothing() {
    let gw = gateway();
    gw.upstream
        .push(OPENAI, Reply::json(200, openai_text("ok")));
    let r = create(&gw, &json!({"model": "gpt", "input": "hi", "store": false})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["store"], false);
    let id = r.json()["id"].as_str().unwrap().to_string();
    let got = call(
        &gw,
        "GET",
        &format!("/v1/responses/{id}"),
        "key-of-alice",
        None,
    )
    .await;
    assert_eq!(got.status, 404);
    assert!(
        !gw.kv.keys("default").iter().any(|k| k.contains("response")),
        "{:?}",
        gw.kv.keys("default")
    );
    let next = create(
        &gw,
        &json!({"model": "gpt", "input": "more", "previous_response_id": id}),
    )
    .await;
    assert_eq!(next.status, 404);
    assert_eq!(next.json()["error"]["param"], "previous_response_id");
}

#[tokio::test]
async fn responses_belong_to_the_key_that_made_them() {
    let gw = gateway();
    gw.upstream
        .push(OPENAI, Reply::json(200, openai_text("secret plan")));
    let r = create(&gw, &json!({"model": "gpt", "input": "plan"})).await;
    let id = r.json()["id"].as_str().unwrap().to_string();
    let path = format!("/v1/responses/{id}");
    let bob = call(&gw, "GET", &path, "key-of-bob", None).await;
    assert_eq!(bob.status, 404);
    assert_eq!(bob.json()["error"]["type"], "invalid_request_error");
    assert!(!bob.text().contains("secret plan"));
    let items = call(
        &gw,
        "GET",
        &format!("{path}/input_items"),
        "key-of-bob",
        None,
    )
    .await;
    assert_eq!(items.status, 404);
    let delete = call(&gw, "DELETE", &path, "key-of-bob", None).await;
    assert_eq!(delete.status, 404);
    let chained = call(
        &gw,
        "POST",
        "/v1/responses",
        "key-of-bob",
        Some(&json!({"model": "gpt", "input": "more", "previous_response_id": id})),
    )
    .await;
    assert_eq!(chained.status, 404);
    assert_eq!(gw.upstream.requests().len(), 1, "nothing sent for bob");
    // The record holds no secret: no gateway key, no provider key.
    let stored = String::from_utf8(
        gw.kv
            .get("default", &format!("apex:response:{id}"))
            .unwrap(),
    )
    .unwrap();
    for secret in ["key-of-alice", "sk-oa-secret"] {
        assert!(!stored.contains(secret));
    }
    assert_eq!(
        call(&gw, "GET", &path, "key-of-alice", None).await.status,
        200
    );
    let unknown = call(&gw, "GET", "/v1/responses/resp_nope", "key-of-alice", None).await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn get_delete_input_items_and_cancel() {
    let gw = gateway();
    gw.upstream
        .push(OPENAI, Reply::json(200, openai_text("fine")));
    let input = json!([
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "two"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "three"}]}
    ]);
    let r = create(&gw, &json!({"model": "gpt", "input": input})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let base = format!("/v1/responses/{id}");

    let page = call(
        &gw,
        "GET",
        &format!("{base}/input_items"),
        "key-of-alice",
        None,
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.text());
    let page = page.json();
    assert_eq!(page["object"], "list");
    let texts: Vec<String> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["content"].to_string())
        .collect();
    assert_eq!(texts.len(), 3);
    assert!(texts[0].contains("three"), "newest first: {texts:?}");
    assert_eq!(page["has_more"], false);
    let first = call(
        &gw,
        "GET",
        &format!("{base}/input_items?order=asc&limit=2"),
        "key-of-alice",
        None,
    )
    .await
    .json();
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    assert_eq!(first["has_more"], true);
    assert!(first["data"][0]["content"].to_string().contains("one"));
    let after = first["last_id"].as_str().unwrap();
    let rest = call(
        &gw,
        "GET",
        &format!("{base}/input_items?order=asc&after={after}"),
        "key-of-alice",
        None,
    )
    .await
    .json();
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert!(rest["data"][0]["content"].to_string().contains("three"));
    let bad = call(
        &gw,
        "GET",
        &format!("{base}/input_items?limit=0"),
        "key-of-alice",
        None,
    )
    .await;
    assert_eq!(bad.status, 400);

    let cancel = call(
        &gw,
        "POST",
        &format!("{base}/cancel"),
        "key-of-alice",
        Some(&json!({})),
    )
    .await;
    assert_eq!(cancel.status, 400);
    assert!(
        cancel.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("background")
    );

    let deleted = call(&gw, "DELETE", &base, "key-of-alice", None).await;
    assert_eq!(deleted.status, 200);
    assert_eq!(
        deleted.json(),
        json!({"id": id, "object": "response", "deleted": true})
    );
    assert_eq!(
        call(&gw, "GET", &base, "key-of-alice", None).await.status,
        404
    );
}

#[tokio::test]
async fn expired_responses_are_gone() {
    let gw = Gateway::new(
        &config().replace("[gateway]\n", "[gateway]\nresponses_ttl_secs = 120\n"),
        VARS,
    );
    gw.upstream
        .push(OPENAI, Reply::json(200, openai_text("short-lived")));
    let r = create(&gw, &json!({"model": "gpt", "input": "hi"})).await;
    let id = r.json()["id"].as_str().unwrap().to_string();
    let key = format!("apex:response:{id}");
    let mut record: Value = serde_json::from_slice(&gw.kv.get("default", &key).unwrap()).unwrap();
    let created = r.json()["created_at"].as_u64().unwrap();
    assert_eq!(
        record["expires_at"].as_u64().unwrap(),
        created + 120,
        "{record}"
    );
    record["expires_at"] = json!(created);
    gw.kv.set("default", &key, record.to_string().into_bytes());
    let got = call(
        &gw,
        "GET",
        &format!("/v1/responses/{id}"),
        "key-of-alice",
        None,
    )
    .await;
    assert_eq!(got.status, 404);
}

#[tokio::test]
async fn stored_responses_survive_a_restart() {
    let dir = std::env::temp_dir().join(format!("apex-responses-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let id = {
        let gw = Gateway::with_kv(&config(), VARS, KvStore::open(dir.join("kv.json")).unwrap());
        gw.upstream
            .push(OPENAI, Reply::json(200, openai_text("remember me")));
        let r = create(&gw, &json!({"model": "gpt", "input": "hi"})).await;
        assert_eq!(r.status, 200);
        gw.kv.flush().unwrap();
        r.json()["id"].as_str().unwrap().to_string()
    };
    let gw = Gateway::with_kv(&config(), VARS, KvStore::open(dir.join("kv.json")).unwrap());
    let got = call(
        &gw,
        "GET",
        &format!("/v1/responses/{id}"),
        "key-of-alice",
        None,
    )
    .await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.json()["output"][0]["content"][0]["text"], "remember me");
    gw.upstream
        .push(OPENAI, Reply::json(200, openai_text("still here")));
    let next = create(
        &gw,
        &json!({"model": "gpt", "input": "again", "previous_response_id": id}),
    )
    .await;
    assert_eq!(next.status, 200);
    assert!(
        gw.upstream.requests()[0]
            .json()
            .to_string()
            .contains("remember me")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn bad_requests_get_openai_errors() {
    let gw = gateway();
    let web = create(
        &gw,
        &json!({"model": "gpt", "input": "news?", "tools": [{"type": "web_search"}]}),
    )
    .await;
    assert_eq!(web.status, 400, "{}", web.text());
    assert_eq!(web.json()["error"]["code"], "unsupported_tool");
    assert!(
        web.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("web_search")
    );
    let background = create(
        &gw,
        &json!({"model": "gpt", "input": "x", "background": true}),
    )
    .await;
    assert_eq!(background.status, 400);
    let item = create(
        &gw,
        &json!({"model": "gpt", "input": [{"type": "function_call_output", "output": "x"}]}),
    )
    .await;
    assert_eq!(item.status, 400);
    assert!(item.text().contains("input[0].call_id"), "{}", item.text());
    let no_key = gw
        .call(
            "POST",
            "/v1/responses",
            &[],
            br#"{"model":"gpt","input":"x"}"#,
        )
        .await;
    assert_eq!(no_key.status, 401);
    assert!(gw.upstream.requests().is_empty());
}

#[tokio::test]
async fn namespaced_tools_are_flattened_and_split_back() {
    let gw = gateway();
    let reply = json!({"id": "chatcmpl-n", "object": "chat.completion", "created": 1, "model": "gpt-4.1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": null,
            "tool_calls": [{"id": "call_n", "type": "function", "function": {"name": "agents__spawn", "arguments": "{}"}}]},
            "finish_reason": "tool_calls"}]});
    gw.upstream
        .push(OPENAI, Reply::json(200, reply.to_string()));
    let r = create(
        &gw,
        &json!({"model": "gpt", "input": "go", "tools": [{"type": "namespace", "name": "agents", "description": "sub-agents",
            "tools": [{"type": "function", "name": "spawn", "parameters": {"type": "object", "properties": {}}}]}]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let call = &r.json()["output"][0];
    assert_eq!(call["name"], "spawn");
    assert_eq!(call["namespace"], "agents");
    assert_eq!(
        gw.upstream.requests()[0].json()["tools"][0]["function"]["name"],
        "agents__spawn"
    );
}

fn native_config() -> String {
    format!(
        r#"
[gateway]
api_keys = {{ alice = "alice_key", bob = "bob_key" }}

[providers.oa]
kind = "openai"
profile = "openai"
base_url = "{OPENAI}"
keys = ["oa_key", "oa_key_2"]
responses = "native"

[models.gpt]
targets = ["oa/gpt-4.1"]
"#
    )
}

fn native_reply(id: &str, text: &str) -> String {
    json!({"id": id, "object": "response", "created_at": 1_741_476_542, "status": "completed",
        "model": "gpt-4.1-2025-04-14", "output": [{"type": "message", "id": "msg_up", "status": "completed",
            "role": "assistant", "content": [{"type": "output_text", "text": text, "annotations": []}]}],
        "usage": {"input_tokens": 5, "output_tokens": 3, "total_tokens": 8}})
    .to_string()
}

#[tokio::test]
async fn native_providers_get_responses_forwarded_and_follow_ups_pinned() {
    let vars: Vec<(&str, &str)> = VARS
        .iter()
        .copied()
        .chain([("oa_key_2", "sk-oa-second")])
        .collect();
    let gw = Gateway::new(&native_config(), &vars);
    gw.upstream.push(
        OPENAI,
        Reply::json(200, native_reply("resp_up_1", "native hello")),
    );
    let body = json!({"model": "gpt", "input": "hi", "store": true, "reasoning": {"effort": "low"}, "new_field": [1, 2]});
    let r = create(&gw, &body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["id"],
        "resp_up_1",
        "the provider's own object, forwarded"
    );
    let first = &gw.upstream.requests()[0];
    assert_eq!(first.url, "http://openai.test/v1/responses");
    assert_eq!(first.json()["model"], "gpt-4.1");
    assert_eq!(first.json()["new_field"], json!([1, 2]));
    let key = first.header("authorization").unwrap().to_string();
    // The route is kept (provider and key index, never the key).
    let route = String::from_utf8(
        gw.kv
            .get("default", "apex:response-route:resp_up_1")
            .unwrap(),
    )
    .unwrap();
    assert!(route.contains("\"provider\":\"oa\""), "{route}");
    assert!(!route.contains("sk-oa"), "{route}");

    // A follow-up goes to the same provider and key, previous_response_id untouched.
    for _ in 0..2 {
        gw.upstream
            .push(OPENAI, Reply::json(200, native_reply("resp_up_2", "again")));
        let r = create(
            &gw,
            &json!({"model": "gpt", "input": "more", "previous_response_id": "resp_up_1"}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let sent = gw.upstream.requests().last().unwrap().clone();
        assert_eq!(
            sent.header("authorization").unwrap(),
            key,
            "pinned to the same key"
        );
        assert_eq!(sent.json()["previous_response_id"], "resp_up_1");
    }

    // GET and DELETE go to the provider with that key; another gateway key sees nothing.
    gw.upstream.push(
        OPENAI,
        Reply::json(200, native_reply("resp_up_1", "native hello")),
    );
    let got = call(&gw, "GET", "/v1/responses/resp_up_1", "key-of-alice", None).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.json()["id"], "resp_up_1");
    let sent = gw.upstream.requests().last().unwrap().clone();
    assert_eq!(sent.method, "GET");
    assert_eq!(sent.url, "http://openai.test/v1/responses/resp_up_1");
    assert_eq!(sent.header("authorization").unwrap(), key);
    let before = gw.upstream.requests().len();
    let bob = call(&gw, "GET", "/v1/responses/resp_up_1", "key-of-bob", None).await;
    assert_eq!(bob.status, 404);
    assert_eq!(gw.upstream.requests().len(), before);
    gw.upstream.push(
        OPENAI,
        Reply::json(
            200,
            r#"{"id":"resp_up_1","object":"response","deleted":true}"#,
        ),
    );
    let deleted = call(
        &gw,
        "DELETE",
        "/v1/responses/resp_up_1",
        "key-of-alice",
        None,
    )
    .await;
    assert_eq!(deleted.json()["deleted"], true);
    assert_eq!(gw.upstream.requests().last().unwrap().method, "DELETE");

    // Streams are piped; the id comes from the first event.
    let created = json!({"type": "response.created", "sequence_number": 0,
        "response": {"id": "resp_up_3", "object": "response", "status": "in_progress", "output": []}});
    let stream = format!(
        "event: response.created\ndata: {created}\n\nevent: response.completed\ndata: {}\n\n",
        json!({"type": "response.completed", "sequence_number": 1, "response": {"id": "resp_up_3", "status": "completed", "output": []}})
    );
    gw.upstream.push(OPENAI, Reply::sse([stream.clone()]));
    let r = create(
        &gw,
        &json!({"model": "gpt", "input": "stream", "stream": true}),
    )
    .await;
    assert_eq!(r.text(), stream);
    assert!(
        gw.kv
            .get("default", "apex:response-route:resp_up_3")
            .is_some()
    );
}

/// A natively made response is reached with the gateway's upstream key: a client must not steer
/// that key at any other path of the provider (dot segments, encoded or not, extra segments) or
/// add undocumented query parameters.
#[tokio::test]
async fn native_response_paths_cannot_leave_the_response() {
    let gw = Gateway::new(&native_config(), VARS);
    gw.upstream.push(
        OPENAI,
        Reply::json(200, native_reply("resp_up_1", "native hello")),
    );
    let r = create(&gw, &json!({"model": "gpt", "input": "hi"})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let sent_before = gw.upstream.requests().len();
    for (method, path) in [
        ("GET", "/v1/responses/resp_up_1/../../files?x=1"),
        ("GET", "/v1/responses/resp_up_1/%2e%2e/%2e%2e/files"),
        ("DELETE", "/v1/responses/resp_up_1/..%2F..%2Fbatches"),
        ("GET", "/v1/responses/resp_up_1/input_items/../../../usage"),
        ("GET", "/v1/responses/resp_up_1/cancel/x"),
        ("GET", "/v1/responses/resp_up_1/../resp_of_bob"),
        ("GET", "/v1/responses/%2e%2e/files"),
    ] {
        let r = call(&gw, method, path, "key-of-alice", None).await;
        assert_eq!(r.status, 404, "{method} {path}: {}", r.text());
        assert_eq!(r.json()["error"]["type"], "not_found_error", "{path}");
    }
    // Known sub-resources with the wrong method are refused here too.
    for (method, path) in [
        ("POST", "/v1/responses/resp_up_1"),
        ("DELETE", "/v1/responses/resp_up_1/input_items"),
        ("GET", "/v1/responses/resp_up_1/cancel"),
    ] {
        let r = call(&gw, method, path, "key-of-alice", None).await;
        assert_eq!(r.status, 405, "{method} {path}: {}", r.text());
    }
    assert_eq!(
        gw.upstream.requests().len(),
        sent_before,
        "nothing was sent to the provider"
    );

    // The documented forms still reach the provider, rebuilt from their parts.
    gw.upstream.push(
        OPENAI,
        Reply::json(200, r#"{"object":"list","data":[],"has_more":false}"#),
    );
    let r = call(
        &gw,
        "GET",
        "/v1/responses/resp_up_1/input_items?limit=2&purpose=batch&order=asc&after=a%26b",
        "key-of-alice",
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let sent = gw.upstream.requests().last().unwrap().clone();
    assert_eq!(sent.method, "GET");
    assert_eq!(
        sent.url,
        "http://openai.test/v1/responses/resp_up_1/input_items?limit=2&order=asc&after=a%26b"
    );
    gw.upstream.push(
        OPENAI,
        Reply::json(
            400,
            r#"{"error":{"message":"Only background responses can be cancelled.","type":"invalid_request_error","param":null,"code":null}}"#,
        ),
    );
    let r = call(
        &gw,
        "POST",
        "/v1/responses/resp_up_1/cancel?x=1",
        "key-of-alice",
        Some(&json!({"purpose": "ignored"})),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let sent = gw.upstream.requests().last().unwrap().clone();
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.url, "http://openai.test/v1/responses/resp_up_1/cancel");
    assert!(sent.body.is_empty(), "no client body is forwarded");
}

/// The stored record of response `id`, as bytes.
fn stored(gw: &Gateway, id: &str) -> Option<Vec<u8>> {
    gw.kv.get("default", &format!("apex:response:{id}"))
}

/// Records hold their own turn and a link to the one before: storage grows linearly with a
/// chain, not with its square, and the provider still gets the whole conversation in order.
#[tokio::test]
async fn a_long_chain_stores_each_turn_once() {
    let gw = gateway();
    const TURNS: usize = 30;
    let mut previous: Option<String> = None;
    let mut sizes = Vec::new();
    for turn in 1..=TURNS {
        gw.upstream.push(
            OPENAI,
            Reply::json(
                200,
                openai_text(&format!("answer {turn:02}: {}", "x".repeat(200))),
            ),
        );
        let mut body =
            json!({"model": "gpt", "input": format!("question {turn:02}: {}", "y".repeat(200))});
        if let Some(id) = &previous {
            body["previous_response_id"] = json!(id);
        }
        let r = create(&gw, &body).await;
        assert_eq!(r.status, 200, "turn {turn}: {}", r.text());
        let id = r.json()["id"].as_str().unwrap().to_string();
        sizes.push(stored(&gw, &id).expect("stored").len());
        previous = Some(id);
    }
    // Every record is about the size of the first continued one (ids and numbers aside).
    let second = sizes[1];
    for (turn, size) in sizes.iter().enumerate() {
        assert!(
            *size <= second + 64,
            "turn {}: record of {size} bytes, turn 2's was {second}: {sizes:?}",
            turn + 1
        );
    }
    let all: usize = gw
        .kv
        .keys("default")
        .iter()
        .filter(|k| k.starts_with("apex:response:"))
        .map(|k| gw.kv.get("default", k).unwrap().len())
        .sum();
    assert!(all <= TURNS * (second + 64), "{all} bytes in all");
    // The 30th request carried every earlier turn, in order.
    let last = gw.upstream.requests()[TURNS - 1].json().to_string();
    let mut position = 0;
    for turn in 1..=TURNS {
        for needle in [format!("question {turn:02}"), format!("answer {turn:02}")] {
            if turn == TURNS && needle.starts_with("answer") {
                continue;
            }
            let found = last[position..]
                .find(&needle)
                .unwrap_or_else(|| panic!("`{needle}` missing or out of order"));
            position += found + needle.len();
        }
    }
}

/// A response whose chain lost a record (deleted here; expired alike) cannot be continued: a
/// clear error naming `previous_response_id`, and nothing is sent upstream.
#[tokio::test]
async fn a_chain_with_a_missing_link_is_refused() {
    let gw = gateway();
    let mut ids: Vec<String> = Vec::new();
    for turn in 0..3 {
        gw.upstream.push(
            OPENAI,
            Reply::json(200, openai_text(&format!("reply {turn}"))),
        );
        let mut body = json!({"model": "gpt", "input": format!("turn {turn}")});
        if let Some(id) = ids.last() {
            body["previous_response_id"] = json!(id);
        }
        let r = create(&gw, &body).await;
        assert_eq!(r.status, 200, "{}", r.text());
        ids.push(r.json()["id"].as_str().unwrap().to_string());
    }
    let deleted = call(
        &gw,
        "DELETE",
        &format!("/v1/responses/{}", ids[0]),
        "key-of-alice",
        None,
    )
    .await;
    assert_eq!(deleted.status, 200);
    let sent = gw.upstream.requests().len();
    let r = create(
        &gw,
        &json!({"model": "gpt", "input": "more", "previous_response_id": ids[2]}),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text());
    let error = &r.json()["error"];
    assert_eq!(error["param"], "previous_response_id", "{error}");
    assert_eq!(error["type"], "invalid_request_error", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains(&ids[0]),
        "names the missing response: {error}"
    );
    assert_eq!(gw.upstream.requests().len(), sent, "nothing sent upstream");
    // The response itself is still there.
    let got = call(
        &gw,
        "GET",
        &format!("/v1/responses/{}", ids[2]),
        "key-of-alice",
        None,
    )
    .await;
    assert_eq!(got.status, 200);
}

/// A record over the size cap is not stored: the client's answer is the same, and the id cannot
/// be continued or fetched.
#[tokio::test]
async fn an_oversized_record_is_not_stored() {
    let gw = gateway();
    gw.upstream
        .push(OPENAI, Reply::json(200, openai_text("read it all")));
    let big = "z".repeat(4 * 1024 * 1024 + 1024);
    let r = create(&gw, &json!({"model": "gpt", "input": big})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let answer = r.json();
    assert_eq!(answer["output"][0]["content"][0]["text"], "read it all");
    assert_eq!(answer["status"], "completed");
    let id = answer["id"].as_str().unwrap().to_string();
    assert!(stored(&gw, &id).is_none(), "not stored");
    let next = create(
        &gw,
        &json!({"model": "gpt", "input": "and?", "previous_response_id": id}),
    )
    .await;
    assert_eq!(next.status, 404, "{}", next.text());
    assert_eq!(next.json()["error"]["param"], "previous_response_id");
    // A record under the cap is stored as before.
    gw.upstream
        .push(OPENAI, Reply::json(200, openai_text("ok")));
    let r = create(
        &gw,
        &json!({"model": "gpt", "input": "z".repeat(1024 * 1024)}),
    )
    .await;
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert!(stored(&gw, &id).is_some());
}

/// Waits (up to 10 s) until `done` holds for the store: the sweep runs after the response.
async fn eventually(kv: &KvStore, done: impl Fn(&KvStore) -> bool) -> bool {
    for _ in 0..200 {
        if done(kv) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    done(kv)
}

/// Stored responses, native routes, cache entries, cooldowns and access tokens past their expiry
/// are deleted by a later request's sweep; live entries, counters and other keys stay. A sweep runs
/// at most once a minute per store, and examines at most 1,000 entries, continuing next time.
#[tokio::test]
async fn expired_state_is_swept() {
    let kv = KvStore::in_memory();
    let gw = Gateway::with_kv(&config(), VARS, std::sync::Arc::clone(&kv));
    gw.upstream
        .push(OPENAI, Reply::json(200, openai_text("old")));
    let r = create(&gw, &json!({"model": "gpt", "input": "hi"})).await;
    let old = format!("apex:response:{}", r.json()["id"].as_str().unwrap());
    gw.upstream
        .push(OPENAI, Reply::json(200, openai_text("new")));
    let r = create(&gw, &json!({"model": "gpt", "input": "hi"})).await;
    let live = format!("apex:response:{}", r.json()["id"].as_str().unwrap());
    let mut record: Value = serde_json::from_slice(&kv.get("default", &old).unwrap()).unwrap();
    record["expires_at"] = json!(1);
    kv.set("default", &old, record.to_string().into_bytes());
    drop(gw);

    let far = 4_000_000_000u64;
    let expired = [
        (
            "apex:response-route:resp_gone",
            json!({"provider": "oa", "key_index": 0, "owner": "alice", "expires_at": 1}),
        ),
        (
            "apex:cache:gone",
            json!({"response": {}, "stored_at_ms": 1000, "ttl_secs": 60}),
        ),
        (
            "apex:cool:key:oa#0",
            json!({"until_ms": 1000, "reason": "rate-limited", "strikes": 0, "told": true}),
        ),
        (
            "apex:cool:target:oa/gone",
            json!({"until_ms": 1000, "reason": "server", "strikes": 0, "told": false}),
        ),
        ("apex:token:vx#0", json!({"token": "t", "expires_at": 1})),
        // Strikes from long ago (entries written before they carried a time).
        (
            "apex:cool:target:oa/flaky",
            json!({"until_ms": 0, "reason": "server", "strikes": 2, "told": false}),
        ),
    ];
    let kept = [
        (
            "apex:response-route:resp_live",
            json!({"provider": "oa", "key_index": 0, "owner": "alice", "expires_at": far}),
        ),
        (
            "apex:cache:live",
            json!({"response": {}, "stored_at_ms": far * 1000, "ttl_secs": 60}),
        ),
        (
            "apex:cool:key:oa#1",
            json!({"until_ms": far * 1000, "reason": "rate-limited", "strikes": 0, "told": true}),
        ),
        ("apex:token:vx#1", json!({"token": "t", "expires_at": far})),
        (
            "apex:cool:target:oa/recent",
            json!({"until_ms": 0, "reason": "server", "strikes": 1, "told": false, "at_ms": far * 1000}),
        ),
        ("apex:rr:gpt", json!(7)),
        ("apex:stats:gpt:0", json!({})),
        ("other-app:thing", json!({"expires_at": 1})),
    ];
    for (key, value) in expired.iter().chain(&kept) {
        kv.set("default", key, value.to_string().into_bytes());
    }
    // As if no sweep had run yet.
    kv.delete("default", "apex:sweep:last");

    let gw = Gateway::with_kv(&config(), VARS, std::sync::Arc::clone(&kv));
    assert_eq!(gw.call("GET", "/health", &[], b"").await.status, 200);
    let gone = |kv: &KvStore| {
        !kv.exists("default", &old) && expired.iter().all(|(key, _)| !kv.exists("default", key))
    };
    assert!(eventually(&kv, gone).await, "{:?}", kv.keys("default"));
    for key in kept.iter().map(|(key, _)| *key).chain([live.as_str()]) {
        assert!(kv.exists("default", key), "{key} kept");
    }
    assert!(kv.exists("default", "apex:sweep:last"));

    // Within the minute, another request sweeps nothing.
    kv.set(
        "default",
        "apex:cache:later",
        expired[1].1.to_string().into_bytes(),
    );
    let gw2 = Gateway::with_kv(&config(), VARS, std::sync::Arc::clone(&kv));
    assert_eq!(gw2.call("GET", "/health", &[], b"").await.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        kv.exists("default", "apex:cache:later"),
        "not swept again so soon"
    );
    drop((gw, gw2));

    // A large store is swept 1,000 entries at a time, each sweep going on from the last.
    kv.delete("default", "apex:cache:later");
    for i in 0..1500 {
        kv.set(
            "default",
            &format!("apex:cache:bulk{i:04}"),
            expired[1].1.to_string().into_bytes(),
        );
    }
    let bulk = |kv: &KvStore| {
        kv.keys("default")
            .iter()
            .filter(|k| k.starts_with("apex:cache:bulk"))
            .count()
    };
    for expected in [500, 0] {
        // Make the last sweep a minute old.
        let mut last: Value =
            serde_json::from_slice(&kv.get("default", "apex:sweep:last").unwrap()).unwrap();
        last["at"] = json!(1);
        kv.set("default", "apex:sweep:last", last.to_string().into_bytes());
        let gw = Gateway::with_kv(&config(), VARS, std::sync::Arc::clone(&kv));
        assert_eq!(gw.call("GET", "/health", &[], b"").await.status, 200);
        assert!(
            eventually(&kv, |kv| bulk(kv) <= expected).await,
            "{} left, {expected} expected",
            bulk(&kv)
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(bulk(&kv), expected, "1,000 examined per sweep");
    }
    assert!(kv.exists("default", "apex:cache:live"));
}
