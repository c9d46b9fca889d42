#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! The Anthropic Messages surface (`/v1/messages`, what Claude Code speaks) through the composed
//! app: the timing cases (pings while a provider is slow, before the first token and between
//! events). Forwarding, translation and errors are scenarios (`host-tests/scenarios/messages-*`).

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
async fn pings_keep_a_slow_start_alive_and_failover_still_works() {
    // No cooldowns: the second request must try the slow provider again. One try per target:
    // this is about pings and failover, not same-target retries.
    let config = config().replace(
        "[gateway]\n",
        "[gateway]\nkeepalive_secs = 1\ncooldown_secs = 0\nretries = 0\n",
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
