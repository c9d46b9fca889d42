//! Golden cases of the client surfaces: `fixtures/<surface>/<case>/`, one folder per case.
//!
//! - `case.toml`: `description` (what the case shows), and for rendering `id`, `model`,
//!   `created` (default `""`, `"m"`, 0) and `include_usage` (default false; with a
//!   `request.json` the routing of that request is used instead).
//! - `request.json`: a client body, used byte for byte (it may be invalid on purpose). Its neutral
//!   form is checked against `neutral.json` (a `ChatRequest`), or its error against `error.json`
//!   (`status`, `type`, `code`, `param`, `message`). `routing.json`, when present, checks what
//!   routing reads (`model`, `stream`, `include_usage`, `echo`, or `{"error": ...}`).
//! - `response.json`: a neutral `ChatResponse`, rendered and compared byte for byte with
//!   `rendered.json`.
//! - `events.json`: neutral `StreamEvent`s, plus `"done"` (the end of a successful stream) and
//!   `{"error": {status, type, code, message}}` (a failure after the stream began); the bytes
//!   written are compared with `rendered.sse`, `rendered.ndjson` or `rendered.array` (the
//!   surface's stream format: SSE, NDJSON, or Gemini's growing JSON array).
//!
//! `APEX_BLESS=1` rewrites the expectations for review. Every failing case is reported by name
//! with what differs; a surface without cases fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};

use apex_adapter_kit::fixtures::{bless, expect, expect_bytes, read_json, run_each};
use apex_adapter_kit::types::{ChatResponse, StreamEvent};
use apex_router::http::error::ApiError;
use apex_router::surfaces::anthropic_messages::AnthropicMessages;
use apex_router::surfaces::gemini::{GenerateContent, StreamArray};
use apex_router::surfaces::ollama::{OllamaChat, OllamaGenerate};
use apex_router::surfaces::openai_chat::OpenAiChat;
use apex_router::surfaces::responses::Responses;
use apex_router::surfaces::{PathParams, Routing, StreamWriter, Surface};
use serde::Deserialize;
use serde_json::{Value, json};

/// The surface folders under `fixtures/`.
const SURFACES: &[&str] = &[
    "anthropic_messages",
    "gemini_generate",
    "gemini_stream_array",
    "ollama_chat",
    "ollama_generate",
    "openai_chat",
    "responses",
];

/// The files a case may hold.
const FILES: &[&str] = &[
    "case.toml",
    "request.json",
    "routing.json",
    "neutral.json",
    "error.json",
    "response.json",
    "rendered.json",
    "events.json",
    "rendered.sse",
    "rendered.ndjson",
    "rendered.array",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    description: String,
    #[serde(default)]
    id: String,
    #[serde(default = "default_model")]
    model: String,
    #[serde(default)]
    created: u64,
    #[serde(default)]
    include_usage: bool,
}

fn default_model() -> String {
    "m".to_string()
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn error_json(error: &ApiError) -> Value {
    json!({
        "status": error.status,
        "type": error.kind,
        "code": error.code,
        "param": error.param,
        "message": error.message,
    })
}

fn routing_json(routing: &Result<Routing, ApiError>) -> Value {
    match routing {
        Ok(routing) => {
            let mut fields = json!({
                "model": routing.model,
                "stream": routing.stream,
                "include_usage": routing.include_usage,
                "echo": routing.echo,
            });
            if !routing.hosted_tools.is_empty() {
                fields["hosted_tools"] = json!(routing.hosted_tools);
            }
            fields
        }
        Err(error) => json!({ "error": error_json(error) }),
    }
}

fn leak(text: &str) -> &'static str {
    Box::leak(text.to_string().into_boxed_str())
}

/// One entry of `events.json`.
enum Step {
    Event(StreamEvent),
    Done,
    Error(ApiError),
}

fn step(value: Value) -> Result<Step, String> {
    if value == "done" {
        return Ok(Step::Done);
    }
    if let Some(error) = value.get("error") {
        let text = |key: &str| error.get(key).and_then(Value::as_str);
        let status = error.get("status").and_then(Value::as_u64).unwrap_or(500);
        let mut api = ApiError::new(
            u16::try_from(status).map_err(|e| e.to_string())?,
            leak(text("type").unwrap_or("api_error")),
            text("message").unwrap_or_default(),
        );
        if let Some(code) = text("code") {
            api = api.code(leak(code));
        }
        return Ok(Step::Error(api));
    }
    serde_json::from_value(value.clone())
        .map(Step::Event)
        .map_err(|e| format!("events.json: {value}: {e}"))
}

/// Write the expectation that matches `actual` and remove the other one (blessing), or fail when
/// the case expects the other outcome.
fn one_of(dir: &Path, wanted: &str, other: &str, actual: Value, what: &str) -> Result<(), String> {
    let other_path = dir.join(other);
    if other_path.exists() {
        if bless() {
            fs::remove_file(&other_path).map_err(|e| e.to_string())?;
        } else {
            return Err(format!(
                "{what}: the case expects {other}, but the surface gave what {wanted} holds: {actual}"
            ));
        }
    }
    expect(&dir.join(wanted), actual, what)
}

fn run_case<S: Surface>(dir: &Path) -> Result<(), String> {
    for entry in fs::read_dir(dir).map_err(|e| e.to_string())? {
        let name = entry.map_err(|e| e.to_string())?.file_name();
        let name = name.to_string_lossy();
        if !FILES.contains(&name.as_ref()) {
            return Err(format!("unknown file `{name}` (known: {FILES:?})"));
        }
    }
    let text = fs::read_to_string(dir.join("case.toml")).map_err(|e| e.to_string())?;
    let case: Case = toml::from_str(&text).map_err(|e| format!("case.toml: {e}"))?;
    if case.description.trim().is_empty() {
        return Err("case.toml: `description` is empty".to_string());
    }
    let mut checks = 0;

    let mut routing = Routing {
        model: case.model.clone(),
        model_at: None,
        tool_calls_back: None,
        stream: false,
        include_usage: case.include_usage,
        echo: Value::Null,
        hosted_tools: Vec::new(),
        tool_names: Default::default(),
    };
    let request = dir.join("request.json");
    if request.exists() {
        let body = fs::read(&request).map_err(|e| e.to_string())?;
        let routed = S::routing(
            &body,
            PathParams {
                model: Some(&case.model),
            },
        );
        if dir.join("routing.json").exists() {
            expect(&dir.join("routing.json"), routing_json(&routed), "routing")?;
            checks += 1;
        }
        if let Ok(routed) = routed {
            routing = routed;
        }
        match S::to_neutral(&body) {
            Ok(neutral) => {
                let neutral = serde_json::to_value(&neutral).map_err(|e| e.to_string())?;
                one_of(
                    dir,
                    "neutral.json",
                    "error.json",
                    neutral,
                    "neutral request",
                )?;
            }
            Err(error) => one_of(
                dir,
                "error.json",
                "neutral.json",
                error_json(&error),
                "request error",
            )?,
        }
        checks += 1;
    }

    let response = dir.join("response.json");
    if response.exists() {
        let response: ChatResponse = serde_json::from_value(read_json(&response)?)
            .map_err(|e| format!("response.json: {e}"))?;
        let body = S::render(&response, &case.id, &case.model, case.created, &routing);
        expect_bytes(&dir.join("rendered.json"), &body, "rendered body")?;
        checks += 1;
    }

    let events = dir.join("events.json");
    if events.exists() {
        let Value::Array(entries) = read_json(&events)? else {
            return Err("events.json: not a list".to_string());
        };
        let mut writer = S::writer(case.id.clone(), case.model.clone(), case.created, &routing);
        let mut out = Vec::new();
        for entry in entries {
            match step(entry)? {
                Step::Event(event) => writer.event(&event, &mut out),
                Step::Done => writer.done(&mut out),
                Step::Error(error) => writer.error(&error, &mut out),
            }
        }
        let file = match S::STREAM_CONTENT_TYPE {
            "application/x-ndjson" => "rendered.ndjson",
            "application/json" => "rendered.array",
            _ => "rendered.sse",
        };
        expect_bytes(&dir.join(file), &out, "stream")?;
        checks += 1;
    }

    if checks == 0 {
        return Err(
            "the case checks nothing (no request.json, response.json or events.json)".into(),
        );
    }
    Ok(())
}

fn run<S: Surface>(surface: &str) {
    let count = run_each(&fixtures().join(surface), run_case::<S>);
    eprintln!("{surface}: {count} cases");
}

#[test]
fn openai_chat_cases() {
    run::<OpenAiChat>("openai_chat");
}

#[test]
fn anthropic_messages_cases() {
    run::<AnthropicMessages>("anthropic_messages");
}

#[test]
fn responses_cases() {
    run::<Responses>("responses");
}

#[test]
fn gemini_generate_cases() {
    run::<GenerateContent>("gemini_generate");
}

#[test]
fn gemini_stream_array_cases() {
    run::<StreamArray>("gemini_stream_array");
}

#[test]
fn ollama_chat_cases() {
    run::<OllamaChat>("ollama_chat");
}

#[test]
fn ollama_generate_cases() {
    run::<OllamaGenerate>("ollama_generate");
}

/// A folder no test reads would be cases that silently never run.
#[test]
fn every_fixture_folder_is_a_surface() {
    let mut found: Vec<String> = fs::read_dir(fixtures())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    assert_eq!(found, SURFACES);
}
