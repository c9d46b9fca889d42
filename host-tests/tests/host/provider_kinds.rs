#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! Every translated provider kind through the composed app, from both client surfaces: a tool loop
//! request, streamed, reaches the provider in its own protocol and comes back intact (text with
//! non-ASCII characters, the tool call's name and argument JSON, usage, the finish reason).

use crate::common::{Gateway, Response};
use apex_host::outbound::Reply;
use serde_json::{Value, json};

const GEMINI: &str = "http://gemini.test/v1beta";
const COHERE: &str = "http://cohere.test/v2";
const OLLAMA: &str = "http://ollama.test";
const ANTHROPIC: &str = "http://anthropic.test/v1";

fn gateway() -> Gateway {
    let config = format!(
        r#"
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

[providers.claude]
kind = "anthropic"
base_url = "{ANTHROPIC}"
keys = ["claude_key"]

[models.gemini]
targets = ["gem/gemini-2.5-flash"]

[models.cohere]
targets = ["co/command-a-03-2025"]

[models.ollama]
targets = ["local/qwen3:8b"]

[models.claude]
targets = ["claude/claude-sonnet-4-5"]
"#
    );
    Gateway::new(
        &config,
        &[
            ("gem_key", "gm-secret"),
            ("co_key", "co-secret"),
            ("claude_key", "sk-ant-secret"),
        ],
    )
}

/// One provider kind: where it lives, what it streams back, what the client must see.
struct Kind {
    alias: &'static str,
    url: &'static str,
    /// The provider's stream, in its documented wire format.
    stream: Vec<String>,
    /// Text (or, for providers that plan tool use in reasoning, the reasoning) the client sees.
    text: &'static str,
    text_is_reasoning: bool,
    call_name: &'static str,
    /// The call's arguments as the client receives them: the provider's JSON text when it sends
    /// text (Cohere, Anthropic), its object written compactly in its own key order otherwise.
    arguments: &'static str,
    usage: (u64, u64),
}

fn kinds() -> Vec<Kind> {
    let gemini_chunk = |parts: Value, finish: Option<&str>, usage: Value| {
        let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
        if let Some(finish) = finish {
            candidate["finishReason"] = json!(finish);
        }
        format!(
            "data: {}\r\n\r\n",
            json!({"candidates": [candidate], "usageMetadata": usage,
                "modelVersion": "gemini-2.5-flash", "responseId": "mE1YaJ2xKsbUz7IP"})
        )
    };
    let cohere_event = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let ollama_line = |message: Value, done: bool| {
        let mut line = json!({"model": "qwen3:8b", "created_at": "2025-10-01T09:30:12.418377Z",
            "message": message, "done": done});
        if done {
            for (k, v) in [
                ("done_reason", json!("stop")),
                ("total_duration", json!(1_832_991_250u64)),
                ("load_duration", json!(27_153_792)),
                ("prompt_eval_count", json!(38)),
                ("prompt_eval_duration", json!(104_310_000)),
                ("eval_count", json!(27)),
                ("eval_duration", json!(1_700_000_000)),
            ] {
                line[k] = v;
            }
        }
        format!("{line}\n")
    };
    let anthropic_event = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    vec![
        Kind {
            alias: "gemini",
            url: "http://gemini.test/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            stream: vec![
                gemini_chunk(
                    json!([{"text": "Ich prüfe "}]),
                    None,
                    json!({"promptTokenCount": 51, "totalTokenCount": 51}),
                ),
                gemini_chunk(
                    json!([{"text": "das Wetter ☀️ 天気"}]),
                    None,
                    json!({"promptTokenCount": 51, "totalTokenCount": 51}),
                ),
                gemini_chunk(
                    json!([{"functionCall": {"name": "get_weather", "args": {"city": "Zürich", "days": [1, 2]}}}]),
                    Some("STOP"),
                    json!({"promptTokenCount": 51, "candidatesTokenCount": 19, "totalTokenCount": 70}),
                ),
            ],
            text: "Ich prüfe das Wetter ☀️ 天気",
            text_is_reasoning: false,
            call_name: "get_weather",
            arguments: r#"{"city":"Zürich","days":[1,2]}"#,
            usage: (51, 19),
        },
        Kind {
            alias: "cohere",
            url: "http://cohere.test/v2/chat",
            stream: vec![
                cohere_event(
                    "message-start",
                    json!({"id": "7a1c2f0e-5b4d-4c53-9d7e-0f1a2b3c4d5e", "type": "message-start",
                        "delta": {"message": {"role": "assistant", "content": [], "tool_plan": "",
                            "tool_calls": [], "citations": []}}}),
                ),
                cohere_event(
                    "tool-plan-delta",
                    json!({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "Ich prüfe "}}}),
                ),
                cohere_event(
                    "tool-plan-delta",
                    json!({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "das Wetter ☀️ 天気"}}}),
                ),
                cohere_event(
                    "tool-call-start",
                    json!({"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": {
                        "id": "get_weather_q8n2v7k1c0ds", "type": "function",
                        "function": {"name": "get_weather", "arguments": ""}}}}}),
                ),
                cohere_event(
                    "tool-call-delta",
                    json!({"type": "tool-call-delta", "index": 0, "delta": {"message": {"tool_calls": {
                        "function": {"arguments": "{\"city\": \"Zü"}}}}}),
                ),
                cohere_event(
                    "tool-call-delta",
                    json!({"type": "tool-call-delta", "index": 0, "delta": {"message": {"tool_calls": {
                        "function": {"arguments": "rich\", \"days\": [1, 2]}"}}}}}),
                ),
                cohere_event(
                    "tool-call-end",
                    json!({"type": "tool-call-end", "index": 0}),
                ),
                cohere_event(
                    "message-end",
                    json!({"type": "message-end", "delta": {"finish_reason": "TOOL_CALL", "usage": {
                        "billed_units": {"input_tokens": 37, "output_tokens": 21},
                        "tokens": {"input_tokens": 1012, "output_tokens": 54}}}}),
                ),
            ],
            text: "Ich prüfe das Wetter ☀️ 天気",
            text_is_reasoning: true,
            call_name: "get_weather",
            arguments: r#"{"city": "Zürich", "days": [1, 2]}"#,
            usage: (1012, 54),
        },
        Kind {
            alias: "ollama",
            url: "http://ollama.test/api/chat",
            stream: vec![
                ollama_line(json!({"role": "assistant", "content": "Ich prüfe "}), false),
                ollama_line(
                    json!({"role": "assistant", "content": "das Wetter ☀️ 天気"}),
                    false,
                ),
                ollama_line(
                    json!({"role": "assistant", "content": "", "tool_calls": [
                        {"function": {"name": "get_weather", "arguments": {"city": "Zürich", "days": [1, 2]}}}]}),
                    false,
                ),
                ollama_line(json!({"role": "assistant", "content": ""}), true),
            ],
            text: "Ich prüfe das Wetter ☀️ 天気",
            text_is_reasoning: false,
            call_name: "get_weather",
            arguments: r#"{"city":"Zürich","days":[1,2]}"#,
            usage: (38, 27),
        },
        Kind {
            alias: "claude",
            url: "http://anthropic.test/v1/messages",
            stream: vec![
                anthropic_event(
                    "message_start",
                    json!({"type": "message_start", "message": {"id": "msg_01A", "type": "message",
                        "role": "assistant", "model": "claude-sonnet-4-5", "content": [],
                        "stop_reason": null, "stop_sequence": null,
                        "usage": {"input_tokens": 88, "output_tokens": 1}}}),
                ),
                anthropic_event(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
                ),
                anthropic_event(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Ich prüfe das Wetter ☀️ 天気"}}),
                ),
                anthropic_event(
                    "content_block_stop",
                    json!({"type": "content_block_stop", "index": 0}),
                ),
                anthropic_event(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": 1, "content_block": {
                        "type": "tool_use", "id": "toolu_01B", "name": "get_weather", "input": {}}}),
                ),
                anthropic_event(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta",
                        "partial_json": "{\"city\": \"Zürich\", \"days\": [1, 2]}"}}),
                ),
                anthropic_event(
                    "content_block_stop",
                    json!({"type": "content_block_stop", "index": 1}),
                ),
                anthropic_event(
                    "message_delta",
                    json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null},
                        "usage": {"output_tokens": 33}}),
                ),
                anthropic_event("message_stop", json!({"type": "message_stop"})),
            ],
            text: "Ich prüfe das Wetter ☀️ 天気",
            text_is_reasoning: false,
            call_name: "get_weather",
            arguments: r#"{"city": "Zürich", "days": [1, 2]}"#,
            usage: (88, 33),
        },
    ]
}

const EARLIER_ARGS: &str = r#"{"city": "Genève", "days": [0]}"#;

fn openai_request(alias: &str) -> Value {
    json!({
        "model": alias, "stream": true, "stream_options": {"include_usage": true},
        "messages": [
            {"role": "system", "content": "Antworte kurz."},
            {"role": "user", "content": "Wetter in Genf?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": EARLIER_ARGS}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\": 18}"},
            {"role": "user", "content": "Und in Zürich?"}
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather by city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                "days": {"type": "array", "items": {"type": "integer"}}}, "required": ["city"]}}}],
        "tool_choice": "auto",
        "max_tokens": 300
    })
}

fn anthropic_request(alias: &str) -> Value {
    json!({
        "model": alias, "stream": true, "max_tokens": 300,
        "system": [{"type": "text", "text": "Antworte kurz.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": "Wetter in Genf?"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Genève", "days": [0]}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "{\"temp\": 18}"},
                {"type": "text", "text": "Und in Zürich?"}]}
        ],
        "tools": [{"name": "get_weather", "description": "Weather by city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"},
                "days": {"type": "array", "items": {"type": "integer"}}}, "required": ["city"]}}],
        "tool_choice": {"type": "auto"}
    })
}

/// The upstream request carries the whole conversation in the provider's protocol.
fn check_upstream(kind: &Kind, gw: &Gateway) {
    let requests = gw.upstream.requests();
    let sent = requests.last().unwrap();
    assert_eq!(sent.url, kind.url);
    // Parsed and re-written, so escapes in the upstream body do not matter.
    let body = sent.json().to_string();
    for needle in [
        "Antworte kurz.",
        "Wetter in Genf?",
        "Genève",
        "Und in Zürich?",
        "temp",
    ] {
        assert!(
            body.contains(needle),
            "{}: {needle} missing upstream: {body}",
            kind.alias
        );
    }
    assert!(
        !body.contains("cache_control") || kind.alias == "claude",
        "{body}"
    );
    assert!(body.contains("get_weather"), "{body}");
}

fn openai_result(r: &Response, kind: &Kind) {
    assert_eq!(r.status, 200, "{}: {}", kind.alias, r.text());
    let chunks = r.sse_json();
    let field = if kind.text_is_reasoning {
        "reasoning_content"
    } else {
        "content"
    };
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"][field].as_str())
        .collect();
    assert_eq!(text, kind.text, "{}", kind.alias);
    let name: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["name"].as_str())
        .collect();
    assert_eq!(name, [kind.call_name], "{}", kind.alias);
    let arguments: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(arguments, kind.arguments, "{}", kind.alias);
    let finish: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
        .collect();
    assert_eq!(finish, ["tool_calls"], "{}", kind.alias);
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(
        (
            usage["prompt_tokens"].as_u64().unwrap(),
            usage["completion_tokens"].as_u64().unwrap()
        ),
        kind.usage,
        "{}",
        kind.alias
    );
    assert!(r.text().ends_with("data: [DONE]\n\n"));
}

fn anthropic_result(r: &Response, kind: &Kind) {
    assert_eq!(r.status, 200, "{}: {}", kind.alias, r.text());
    let mut text = String::new();
    let mut calls = Vec::new();
    let mut stop = None;
    let mut output = None;
    for frame in r.text().split("\n\n").filter(|f| !f.is_empty()) {
        let data: Value = serde_json::from_str(
            frame
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .unwrap(),
        )
        .unwrap();
        match data["type"].as_str().unwrap() {
            "content_block_start" if data["content_block"]["type"] == "tool_use" => {
                calls.push((data["content_block"]["name"].clone(), String::new()));
            }
            "content_block_delta" => {
                let delta = &data["delta"];
                let wanted = if kind.text_is_reasoning {
                    "thinking_delta"
                } else {
                    "text_delta"
                };
                if delta["type"] == wanted {
                    text.push_str(
                        delta["text"]
                            .as_str()
                            .or(delta["thinking"].as_str())
                            .unwrap(),
                    );
                }
                if delta["type"] == "input_json_delta" {
                    calls
                        .last_mut()
                        .unwrap()
                        .1
                        .push_str(delta["partial_json"].as_str().unwrap());
                }
            }
            "message_delta" => {
                stop = data["delta"]["stop_reason"].as_str().map(str::to_string);
                output = data["usage"]["output_tokens"].as_u64();
            }
            _ => {}
        }
    }
    assert_eq!(text, kind.text, "{}", kind.alias);
    assert_eq!(calls.len(), 1, "{}", kind.alias);
    assert_eq!(calls[0].0, kind.call_name);
    assert_eq!(calls[0].1, kind.arguments, "{}", kind.alias);
    assert_eq!(stop.as_deref(), Some("tool_use"), "{}", kind.alias);
    assert_eq!(output, Some(kind.usage.1), "{}", kind.alias);
}

#[tokio::test]
async fn openai_clients_reach_every_kind() {
    let gw = gateway();
    for kind in kinds() {
        let bytes = kind.stream.concat().into_bytes();
        // Awkward chunking: mid-line and mid-UTF-8.
        let pieces: Vec<Vec<u8>> = bytes.chunks(23).map(<[u8]>::to_vec).collect();
        gw.upstream.push(kind.url, Reply::sse(pieces));
        let r = gw
            .post("/v1/chat/completions", &openai_request(kind.alias))
            .await;
        openai_result(&r, &kind);
        check_upstream(&kind, &gw);
    }
}

#[tokio::test]
async fn anthropic_clients_reach_every_kind() {
    let gw = gateway();
    for kind in kinds() {
        let bytes = kind.stream.concat().into_bytes();
        let pieces: Vec<Vec<u8>> = bytes.chunks(31).map(<[u8]>::to_vec).collect();
        gw.upstream.push(kind.url, Reply::sse(pieces));
        let r = gw
            .post("/v1/messages", &anthropic_request(kind.alias))
            .await;
        anthropic_result(&r, &kind);
        check_upstream(&kind, &gw);
    }
}
