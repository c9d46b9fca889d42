#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! The Anthropic Messages surface (`/v1/messages`, what Claude Code speaks) through the composed
//! app: forwarded to Anthropic providers, translated for every other kind, errors in Anthropic's
//! format.

use std::time::Duration;

use crate::common::{Gateway, Response};
use apex_host::outbound::Reply;
use serde_json::{Value, json};

const OPENAI: &str = "http://openai.test/v1";
const DEEPSEEK: &str = "http://deepseek.test/v1";
const ANTHROPIC: &str = "http://anthropic.test/v1";

fn config() -> String {
    format!(
        r#"
[gateway]
api_keys = {{ team = "team_key" }}

[providers.oa]
kind = "openai"
profile = "openai"
base_url = "{OPENAI}"
keys = ["oa_key"]

[providers.ds]
kind = "openai"
profile = "deepseek"
base_url = "{DEEPSEEK}"
keys = ["ds_key"]

[providers.claude]
kind = "anthropic"
base_url = "{ANTHROPIC}"
keys = ["claude_key"]
anthropic_betas = ["fine-grained-tool-streaming-*", "interleaved-thinking-2025-05-14"]

[models.gpt]
targets = ["oa/gpt-4.1"]

[models.reasoner]
targets = ["ds/deepseek-reasoner"]

[models.sonnet]
targets = ["claude/claude-sonnet-4-5"]

[models.sturdy]
targets = ["oa/gpt-4.1", "ds/deepseek-chat"]

[[model_patterns]]
pattern = "claude-*haiku*"
model = "gpt"

[[model_patterns]]
pattern = "claude-*"
model = "sonnet"
"#
    )
}

const VARS: &[(&str, &str)] = &[
    ("team_key", "apex-team-key"),
    ("oa_key", "sk-oa-secret"),
    ("ds_key", "sk-ds-secret"),
    ("claude_key", "sk-ant-secret"),
];

fn gateway() -> Gateway {
    Gateway::new(&config(), VARS)
}

const BASH_INPUT: &str = r#"{"command": "ls -la ~/Zürich", "timeout":5000}"#;

/// A Claude Code turn: system blocks with cache_control, a tool loop, thinking with a signature.
fn claude_code_request(model: &str, stream: bool) -> Value {
    let bash_input: Value = serde_json::from_str(BASH_INPUT).unwrap();
    json!({
        "model": model,
        "max_tokens": 32000,
        "stream": stream,
        "system": [
            {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Answer in the user's language."}
        ],
        "metadata": {"user_id": "user_1234"},
        "tools": [{
            "name": "Bash", "description": "Run a shell command",
            "input_schema": {"type": "object", "$schema": "http://json-schema.org/draft-07/schema#",
                "properties": {"command": {"type": "string"}, "timeout": {"type": "number"}},
                "required": ["command"], "additionalProperties": false}
        }],
        "tool_choice": {"type": "auto"},
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Was liegt in ~/Zürich? 天気", "cache_control": {"type": "ephemeral"}}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Ich schaue nach."},
                {"type": "tool_use", "id": "toolu_01", "name": "Bash", "input": bash_input}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "notes.txt\nplan.md"},
                {"type": "text", "text": "Und jetzt?"}
            ]}
        ]
    })
}

async fn post(gw: &Gateway, path: &str, body: &Value, extra: &[(&str, &str)]) -> Response {
    let mut headers = vec![
        ("content-type", "application/json"),
        ("x-api-key", "apex-team-key"),
        ("anthropic-version", "2023-06-01"),
    ];
    headers.extend_from_slice(extra);
    gw.call("POST", path, &headers, client_bytes(body).as_bytes())
        .await
}

/// The body as a client sends it, with the tool input in its exact (non-canonical) spelling.
fn client_bytes(body: &Value) -> String {
    let compact = serde_json::from_str::<Value>(BASH_INPUT)
        .unwrap()
        .to_string();
    body.to_string().replace(&compact, BASH_INPUT)
}

/// `(event name, data)` of each server-sent event, checking that `type` repeats the name.
fn events(r: &Response) -> Vec<(String, Value)> {
    r.text()
        .split("\n\n")
        .filter(|frame| !frame.trim().is_empty())
        .map(|frame| {
            let name = frame
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .unwrap_or_else(|| panic!("no event name in {frame:?}"));
            let data = frame
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .unwrap_or_else(|| panic!("no data in {frame:?}"));
            let value: Value = serde_json::from_str(data).unwrap();
            assert_eq!(value["type"], name, "{frame}");
            (name.to_string(), value)
        })
        .collect()
}

/// Check the grammar: message_start, blocks opened/closed in index order with deltas only inside
/// the open block, message_delta, message_stop. Returns the blocks as (start, concatenated delta).
fn check_grammar(events: &[(String, Value)]) -> Vec<(Value, String)> {
    assert_eq!(events[0].0, "message_start");
    let mut blocks: Vec<(Value, String)> = Vec::new();
    let mut open: Option<u64> = None;
    let mut saw_delta = false;
    for (name, data) in &events[1..] {
        assert!(
            !saw_delta || name == "message_stop",
            "{name} after message_delta"
        );
        match name.as_str() {
            "ping" => {}
            "content_block_start" => {
                assert!(open.is_none(), "block opened inside another");
                let index = data["index"].as_u64().unwrap();
                assert_eq!(index as usize, blocks.len(), "indices count up from 0");
                open = Some(index);
                blocks.push((data["content_block"].clone(), String::new()));
            }
            "content_block_delta" => {
                assert_eq!(data["index"].as_u64(), open, "delta outside its block");
                let delta = &data["delta"];
                let piece = match delta["type"].as_str().unwrap() {
                    "text_delta" => delta["text"].as_str(),
                    "input_json_delta" => delta["partial_json"].as_str(),
                    "thinking_delta" => delta["thinking"].as_str(),
                    "signature_delta" => delta["signature"].as_str(),
                    other => panic!("unknown delta {other}"),
                }
                .unwrap();
                blocks.last_mut().unwrap().1.push_str(piece);
            }
            "content_block_stop" => {
                assert_eq!(data["index"].as_u64(), open);
                open = None;
            }
            "message_delta" => {
                assert!(open.is_none());
                saw_delta = true;
            }
            "message_stop" => assert!(saw_delta, "message_stop without message_delta"),
            other => panic!("unexpected event {other}"),
        }
    }
    assert_eq!(events.last().unwrap().0, "message_stop");
    blocks
}

fn openai_tool_stream() -> Vec<String> {
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-9", "object": "chat.completion.chunk", "created": 1700000000,
                "model": "gpt-4.1-2025-04-14", "system_fingerprint": "fp_1",
                "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
        )
    };
    vec![
        chunk(
            json!({"role": "assistant", "content": "", "refusal": null}),
            Value::Null,
        ),
        chunk(json!({"content": "Zwei Dateien – "}), Value::Null),
        chunk(json!({"content": "ich lese plan.md 📄"}), Value::Null),
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_Ab1", "type": "function", "function": {"name": "Bash", "arguments": ""}}]}),
            Value::Null,
        ),
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"command\": \"cat"}}]}),
            Value::Null,
        ),
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": " ~/Zürich/plan.md\"}"}}]}),
            Value::Null,
        ),
        chunk(json!({}), json!("tool_calls")),
        format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-9", "object": "chat.completion.chunk", "created": 1700000000,
                "model": "gpt-4.1-2025-04-14", "choices": [],
                "usage": {"prompt_tokens": 812, "completion_tokens": 41, "total_tokens": 853,
                    "prompt_tokens_details": {"cached_tokens": 512}}})
        ),
        "data: [DONE]\n\n".to_string(),
    ]
}

#[tokio::test]
async fn claude_code_stream_on_an_openai_provider() {
    let gw = gateway();
    let whole = openai_tool_stream().concat().into_bytes();
    gw.upstream
        .push(OPENAI, Reply::sse(whole.chunks(29).map(|c| c.to_vec())));
    let r = post(
        &gw,
        "/v1/messages",
        &claude_code_request("claude-3-5-haiku-20241022", true),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let events = events(&r);
    let blocks = check_grammar(&events);
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    assert_eq!(blocks[0].0["type"], "text");
    assert_eq!(blocks[0].1, "Zwei Dateien – ich lese plan.md 📄");
    assert_eq!(blocks[1].0["type"], "tool_use");
    assert_eq!(blocks[1].0["id"], "call_Ab1");
    assert_eq!(blocks[1].0["name"], "Bash");
    assert_eq!(blocks[1].1, r#"{"command": "cat ~/Zürich/plan.md"}"#);
    let start = &events[0].1["message"];
    assert_eq!(start["model"], "claude-3-5-haiku-20241022");
    assert!(start["id"].as_str().unwrap().starts_with("msg_"));
    let delta = &events[events.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(delta["usage"]["output_tokens"], 41);
    assert_eq!(delta["usage"]["input_tokens"], 300);
    assert_eq!(delta["usage"]["cache_read_input_tokens"], 512);

    // The pattern sent Claude Code's haiku to the `gpt` alias; the request was translated.
    let sent = &gw.upstream.requests()[0];
    assert_eq!(sent.url, "http://openai.test/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some("Bearer sk-oa-secret"));
    assert_eq!(sent.header("x-api-key"), None);
    let upstream = sent.json();
    assert_eq!(upstream["model"], "gpt-4.1");
    assert_eq!(upstream["stream"], true);
    let text = String::from_utf8_lossy(&sent.body);
    assert!(!text.contains("cache_control"), "{text}");
    let messages = upstream["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert_eq!(
        messages[0]["content"],
        "You are Claude Code, Anthropic's official CLI for Claude.\n\nAnswer in the user's language."
    );
    assert_eq!(messages[1]["content"], "Was liegt in ~/Zürich? 天気");
    assert_eq!(
        messages[2]["tool_calls"][0]["function"]["arguments"], BASH_INPUT,
        "tool input forwarded as the exact JSON text"
    );
    assert_eq!(messages[3]["role"], "tool");
    assert_eq!(messages[3]["tool_call_id"], "toolu_01");
    assert_eq!(messages[3]["content"], "notes.txt\nplan.md");
    assert_eq!(messages[4]["role"], "user");
    assert_eq!(upstream["tools"][0]["function"]["name"], "Bash");
    assert_eq!(upstream["tool_choice"], "auto");
    assert_eq!(upstream["user"], "user_1234");
}

#[tokio::test]
async fn non_streamed_reply_from_an_openai_provider() {
    let gw = gateway();
    let reply = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "gpt-4.1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "refusal": null,
            "tool_calls": [{"id": "call_x", "type": "function", "function": {"name": "Bash", "arguments": BASH_INPUT}}]},
            "logprobs": null, "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 90, "completion_tokens": 12, "total_tokens": 102}
    });
    gw.upstream
        .push(OPENAI, Reply::json(200, reply.to_string()));
    let r = post(&gw, "/v1/messages", &claude_code_request("gpt", false), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().contains(&format!(r#""input":{BASH_INPUT}"#)),
        "input keeps the model's bytes: {}",
        r.text()
    );
    let body = r.json();
    assert_eq!(body["type"], "message");
    assert_eq!(body["role"], "assistant");
    assert_eq!(body["model"], "gpt");
    assert_eq!(body["stop_reason"], "tool_use");
    assert_eq!(body["content"].as_array().unwrap().len(), 1);
    assert_eq!(body["content"][0]["type"], "tool_use");
    assert_eq!(body["content"][0]["id"], "call_x");
    assert_eq!(body["usage"]["input_tokens"], 90);
    assert_eq!(body["usage"]["output_tokens"], 12);
}

#[tokio::test]
async fn anthropic_providers_get_the_request_untouched() {
    let gw = gateway();
    let recorded = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01X\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":1}}}\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Let me see.\"}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQBCgIYAhIM1gbcDa9GJwZA2b3h\"}}\n\nevent: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    gw.upstream.push(ANTHROPIC, Reply::sse([recorded]));
    let mut request = claude_code_request("claude-sonnet-4-5-20250929", true);
    request["thinking"] = json!({"type": "enabled", "budget_tokens": 2048});
    request["context_management"] = json!({"edits": []}); // a field Apex does not know
    let body = client_bytes(&request);
    assert!(body.contains(BASH_INPUT));
    let r = gw
        .call(
            "POST",
            "/v1/messages",
            &[
                ("authorization", "Bearer apex-team-key"),
                ("anthropic-version", "2023-06-01"),
                (
                    "anthropic-beta",
                    "fine-grained-tool-streaming-2025-05-14, context-1m-2025-08-07,interleaved-thinking-2025-05-14",
                ),
            ],
            body.as_bytes(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), recorded, "the stream is piped byte for byte");

    let sent = &gw.upstream.requests()[0];
    assert_eq!(sent.url, "http://anthropic.test/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some("sk-ant-secret"));
    assert_eq!(
        sent.header("authorization"),
        None,
        "the gateway key stays here"
    );
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(
        sent.header("anthropic-beta"),
        Some("fine-grained-tool-streaming-2025-05-14,interleaved-thinking-2025-05-14"),
        "only allow-listed betas"
    );
    let expected = body.replace(
        r#""model":"claude-sonnet-4-5-20250929""#,
        r#""model":"claude-sonnet-4-5""#,
    );
    assert_eq!(
        String::from_utf8_lossy(&sent.body),
        expected,
        "only the model changes"
    );
}

fn deepseek_reasoning_stream() -> Vec<String> {
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "a1b2", "object": "chat.completion.chunk", "created": 1737000000,
                "model": "deepseek-reasoner", "system_fingerprint": "fp_x",
                "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
        )
    };
    vec![
        chunk(
            json!({"role": "assistant", "content": null, "reasoning_content": ""}),
            Value::Null,
        ),
        chunk(
            json!({"content": null, "reasoning_content": "Der Nutzer "}),
            Value::Null,
        ),
        chunk(
            json!({"content": null, "reasoning_content": "fragt."}),
            Value::Null,
        ),
        chunk(
            json!({"content": "Hallo!", "reasoning_content": null}),
            Value::Null,
        ),
        chunk(json!({"content": ""}), json!("stop")),
        format!(
            "data: {}\n\n",
            json!({"id": "a1b2", "object": "chat.completion.chunk", "created": 1737000000,
                "model": "deepseek-reasoner", "choices": [],
                "usage": {"prompt_tokens": 20, "completion_tokens": 30, "total_tokens": 50,
                    "completion_tokens_details": {"reasoning_tokens": 25}}})
        ),
        "data: [DONE]\n\n".to_string(),
    ]
}

#[tokio::test]
async fn deepseek_reasoning_becomes_thinking_blocks_and_back() {
    let gw = gateway();
    gw.upstream
        .push(DEEPSEEK, Reply::sse(deepseek_reasoning_stream()));
    let request = json!({
        "model": "reasoner", "max_tokens": 1024, "stream": true,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Begrüßung.", "signature": ""},
                {"type": "text", "text": "Hallo."}]},
            {"role": "user", "content": "Nochmal"}
        ]
    });
    let r = post(&gw, "/v1/messages", &request, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let events = events(&r);
    let blocks = check_grammar(&events);
    assert_eq!(blocks[0].0["type"], "thinking");
    assert_eq!(blocks[0].1, "Der Nutzer fragt.");
    assert_eq!(blocks[1].0["type"], "text");
    assert_eq!(blocks[1].1, "Hallo!");
    let delta = &events[events.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");

    let upstream = gw.upstream.requests()[0].json();
    assert_eq!(upstream["messages"][1]["reasoning_content"], "Begrüßung.");
    assert_eq!(upstream["messages"][1]["content"], "Hallo.");
}

#[tokio::test]
async fn errors_come_in_anthropics_format() {
    let gw = gateway();
    let check = |r: &Response, status: u16, kind: &str| {
        assert_eq!(r.status, status, "{}", r.text());
        let body = r.json();
        assert_eq!(body["type"], "error", "{body}");
        assert_eq!(body["error"]["type"], kind, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().len() > 5);
    };
    // No gateway key.
    let r = gw
        .call(
            "POST",
            "/v1/messages",
            &[],
            claude_code_request("gpt", false).to_string().as_bytes(),
        )
        .await;
    check(&r, 401, "authentication_error");
    // Not JSON; a missing field; an unknown model.
    let r = gw
        .call(
            "POST",
            "/v1/messages",
            &[("x-api-key", "apex-team-key")],
            b"{not json",
        )
        .await;
    check(&r, 400, "invalid_request_error");
    let mut request = claude_code_request("gpt", false);
    request.as_object_mut().unwrap().remove("max_tokens");
    let r = post(&gw, "/v1/messages", &request, &[]).await;
    check(&r, 400, "invalid_request_error");
    assert!(r.text().contains("max_tokens"));
    let r = post(
        &gw,
        "/v1/messages",
        &claude_code_request("no-such-model", false),
        &[],
    )
    .await;
    check(&r, 404, "not_found_error");
    // A document block cannot go to an OpenAI provider.
    let request = json!({"model": "gpt", "max_tokens": 10, "messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}}]}]});
    let r = post(&gw, "/v1/messages", &request, &[]).await;
    check(&r, 400, "invalid_request_error");
    assert!(gw.upstream.requests().is_empty());
    // A rate-limited provider: Anthropic's type, and Retry-After.
    gw.upstream.push(
        OPENAI,
        Reply::json(
            429,
            r#"{"error":{"message":"Rate limit reached for gpt-4.1 (key sk-oa-secret)","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#,
        )
        .with_header("retry-after", "7"),
    );
    let r = post(&gw, "/v1/messages", &claude_code_request("gpt", false), &[]).await;
    check(&r, 429, "rate_limit_error");
    assert_eq!(r.header("retry-after"), Some("7"));
    assert!(!r.text().contains("sk-oa-secret"));
    // Wrong method.
    let r = gw
        .call(
            "GET",
            "/v1/messages",
            &[("x-api-key", "apex-team-key")],
            b"",
        )
        .await;
    check(&r, 405, "invalid_request_error");
}

#[tokio::test]
async fn a_failure_mid_stream_ends_with_an_error_event() {
    let gw = gateway();
    let events_sent = openai_tool_stream();
    gw.upstream
        .push(OPENAI, Reply::sse(events_sent[..3].to_vec()).cut());
    let r = post(&gw, "/v1/messages", &claude_code_request("gpt", true), &[]).await;
    assert_eq!(r.status, 200);
    let events = events(&r);
    let (name, data) = events.last().unwrap();
    assert_eq!(name, "error", "{}", r.text());
    assert_eq!(data["error"]["type"], "api_error");
    let text: String = events
        .iter()
        .filter_map(|(_, d)| d["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "Zwei Dateien – ich lese plan.md 📄", "sent once");
    assert!(!events.iter().any(|(n, _)| n == "message_stop"));
}

#[tokio::test]
async fn count_tokens_asks_anthropic_and_estimates_elsewhere() {
    let gw = gateway();
    gw.upstream
        .push(ANTHROPIC, Reply::json(200, r#"{"input_tokens":2095}"#));
    let mut request = claude_code_request("claude-sonnet-4-5-20250929", false);
    request.as_object_mut().unwrap().remove("max_tokens");
    request.as_object_mut().unwrap().remove("stream");
    let r = post(&gw, "/v1/messages/count_tokens", &request, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"input_tokens": 2095}));
    let sent = &gw.upstream.requests()[0];
    assert_eq!(sent.url, "http://anthropic.test/v1/messages/count_tokens");
    assert_eq!(sent.json()["model"], "claude-sonnet-4-5");

    // An OpenAI provider has no counting endpoint: a local estimate, never a 404.
    request["model"] = json!("gpt");
    let r = post(&gw, "/v1/messages/count_tokens", &request, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let estimate = r.json()["input_tokens"].as_u64().unwrap();
    assert!((50..2000).contains(&estimate), "{estimate}");
    assert_eq!(gw.upstream.requests().len(), 1, "no upstream call");

    let r = post(
        &gw,
        "/v1/messages/count_tokens",
        &json!({"model": "nope", "messages": []}),
        &[],
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["type"], "not_found_error");
}

#[tokio::test]
async fn echo_answers_on_the_messages_surface_without_providers() {
    let gw = Gateway::new("", &[]);
    let request = json!({"model": "echo", "max_tokens": 100, "stream": true,
        "messages": [{"role": "user", "content": "Grüße aus Zürich"}]});
    let r = gw
        .call("POST", "/v1/messages", &[], request.to_string().as_bytes())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let events = events(&r);
    let blocks = check_grammar(&events);
    assert_eq!(blocks[0].1, "Grüße aus Zürich");
    let request = json!({"model": "echo", "max_tokens": 100,
        "messages": [{"role": "user", "content": "hallo"}]});
    let r = gw
        .call("POST", "/v1/messages", &[], request.to_string().as_bytes())
        .await;
    assert_eq!(r.json()["content"][0]["text"], "hallo");
    assert_eq!(r.json()["stop_reason"], "end_turn");
}

#[tokio::test]
async fn pings_keep_a_slow_start_alive_and_failover_still_works() {
    // No cooldowns: the second request must try the slow provider again.
    let config = config().replace(
        "[gateway]\n",
        "[gateway]\nkeepalive_secs = 1\ncooldown_secs = 0\n",
    );
    let gw = Gateway::new(&config, VARS);
    // The first provider thinks for 2.5 s and fails; the second answers.
    gw.upstream.push(
        OPENAI,
        Reply::json(
            503,
            r#"{"error":{"message":"overloaded","type":"server_error"}}"#,
        )
        .delayed(Duration::from_millis(2500)),
    );
    gw.upstream.push(DEEPSEEK, Reply::sse(openai_tool_stream()));
    let r = post(
        &gw,
        "/v1/messages",
        &claude_code_request("sturdy", true),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = events(&r);
    let pings = seen.iter().take_while(|(name, _)| name == "ping").count();
    assert!(pings >= 2, "pings while waiting: {}", r.text());
    let blocks = check_grammar(&seen[pings..]);
    assert_eq!(blocks[0].1, "Zwei Dateien – ich lese plan.md 📄");
    assert_eq!(gw.upstream.requests().len(), 2);

    // Everything fails after pings: the stream ends with an error event, not a status.
    gw.upstream.push(
        OPENAI,
        Reply::json(
            503,
            r#"{"error":{"message":"overloaded","type":"server_error"}}"#,
        )
        .delayed(Duration::from_millis(1500)),
    );
    gw.upstream.push(
        DEEPSEEK,
        Reply::json(500, r#"{"error":{"message":"boom","type":"server_error"}}"#),
    );
    let r = post(
        &gw,
        "/v1/messages",
        &claude_code_request("sturdy", true),
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    let seen = events(&r);
    assert_eq!(seen[0].0, "ping");
    let (name, data) = seen.last().unwrap();
    assert_eq!(name, "error", "{}", r.text());
    assert_eq!(data["error"]["type"], "api_error");
}

#[tokio::test]
async fn a_silent_provider_mid_stream_gets_pings_between_events() {
    let config = config().replace("[gateway]\n", "[gateway]\nkeepalive_secs = 1\n");
    let gw = Gateway::new(&config, VARS);
    let whole = openai_tool_stream();
    gw.upstream.push(
        OPENAI,
        Reply::sse(whole).pause_before(3, Duration::from_millis(2200)),
    );
    let r = post(&gw, "/v1/messages", &claude_code_request("gpt", true), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = events(&r);
    let blocks = check_grammar(&seen);
    assert!(
        seen.iter().filter(|(n, _)| n == "ping").count() >= 2,
        "{}",
        r.text()
    );
    assert_eq!(blocks[1].1, r#"{"command": "cat ~/Zürich/plan.md"}"#);
}
