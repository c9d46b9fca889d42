//! `apex-conformance`: black-box HTTP checks of a running Apex, whatever hosts it (the `apex`
//! binary, `wasmtime serve`, `spin up`, a Workers runtime...). `.ci/hosts.sh` starts each host
//! and runs this against it.
//!
//! ```text
//! apex-conformance config --ok URL --down URL --limited URL
//!     prints the configuration (TOML) a host must run for the checks, with the base URLs of
//!     three `apex-fake-upstream`s: one that answers, one started with `--fail-status 503`, one
//!     with `--fail-status 429 --retry-after 120`. Gateway key: the variable `apex_api_key`;
//!     upstream key: the variable `conformance_upstream_key` (any value).
//! apex-conformance run --label NAME --base-url URL --key KEY [--ephemeral-kv REASON] --json FILE
//!     runs every check, prints one line per check, writes the results to FILE. With
//!     `--ephemeral-kv`, a check that needs the key-value store to keep writes and fails is
//!     reported `n/a: REASON` (the host is known not to keep them) rather than ✗.
//! apex-conformance after-restart --base-url URL --key KEY --json FILE [--ephemeral-kv REASON]
//!                                 [--from OTHER.json --check NAME]
//!     after the driver restarted the host: reads back the response stored by `run` (its id is
//!     in FILE) and adds the result to FILE. With `--from`, reads back the response another
//!     host's run stored (hosts sharing one store) and records it as check NAME.
//! apex-conformance unavailable --label NAME --reason TEXT --json FILE
//!     records a host that could not be started (every check ✗, with the reason).
//! apex-conformance table FILE...
//!     prints the check × host table; exits 1 if any check failed.
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Every check, in table order: (name, what it shows).
const CHECKS: &[(&str, &str)] = &[
    ("health", "GET /health"),
    (
        "models-auth",
        "GET /v1/models without the gateway key is 401",
    ),
    (
        "models",
        "GET /v1/models lists echo and the configured aliases",
    ),
    ("chat-echo", "/v1/chat/completions with echo"),
    (
        "chat-echo-stream",
        "the same streamed: SSE chunks, finish, [DONE]",
    ),
    ("messages-echo", "/v1/messages with echo"),
    (
        "messages-echo-stream",
        "the same streamed: Anthropic event grammar",
    ),
    ("responses-echo", "/v1/responses with echo"),
    (
        "responses-read-back",
        "GET /v1/responses/{id}: the stored response",
    ),
    ("ollama-chat", "/api/chat with echo: NDJSON, done last"),
    ("ollama-tags", "GET /api/tags"),
    ("upstream-chat", "chat through a scripted provider"),
    ("upstream-stream", "a stream through a scripted provider"),
    ("upstream-tool-call", "a tool call from a scripted provider"),
    (
        "messages-tool-call",
        "/v1/messages → OpenAI provider, translated tool_use",
    ),
    ("failover", "first provider 503 → second answers"),
    (
        "cooldown",
        "a 429 with Retry-After benches the key: in /stats",
    ),
    (
        "read-back-after-restart",
        "the stored response after the host restarted",
    ),
    (
        "redis-shared-with-apex",
        "a response `apex --kv redis://` stored, read through this host on the same Redis",
    ),
];

/// Checks only some hosts run (a blank cell elsewhere).
const OPTIONAL: &[&str] = &["redis-shared-with-apex"];

/// Checks that need the key-value store to keep writes between requests.
const NEEDS_KV: &[&str] = &[
    "responses-read-back",
    "cooldown",
    "read-back-after-restart",
    "redis-shared-with-apex",
];

/// The text of the scripted provider's plain answer.
const UPSTREAM_TEXT: &str = "Hello from the fake upstream.";

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum Outcome {
    Pass,
    Fail,
    NotApplicable,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
struct CheckResult {
    name: String,
    outcome: Outcome,
    detail: String,
}

#[derive(Serialize, Deserialize, Default, Debug)]
struct HostReport {
    label: String,
    base_url: String,
    /// Set when the host could not be started or reached at all.
    unavailable: Option<String>,
    stored_response_id: Option<String>,
    stored_response_text: Option<String>,
    checks: Vec<CheckResult>,
}

struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    key: String,
}

struct Reply {
    status: u16,
    headers: hyper::HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Result<Value> {
        serde_json::from_str(&self.body).with_context(|| {
            format!(
                "status {}, body not JSON: {}",
                self.status,
                short(&self.body)
            )
        })
    }

    fn ok(self) -> Result<Self> {
        ensure!(
            self.status == 200,
            "status {}: {}",
            self.status,
            short(&self.body)
        );
        Ok(self)
    }

    fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

fn short(text: &str) -> String {
    let mut end = text.len().min(300);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = if end < text.len() { " …" } else { "" };
    format!("{}{cut}", text[..end].replace('\n', "\\n"))
}

impl Http {
    fn new(base: &str, key: &str) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: base.trim_end_matches('/').to_string(),
            key: key.to_string(),
        }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        auth: bool,
    ) -> Result<Reply> {
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if auth && !self.key.is_empty() {
            request = request.header("authorization", format!("Bearer {}", self.key));
        }
        let body = match body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                Bytes::from(body.to_string())
            }
            None => Bytes::new(),
        };
        let request = request.body(Full::new(body))?;
        let exchange = async {
            let response = self.client.request(request).await?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, anyhow::Error>(Reply {
                status,
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            })
        };
        tokio::time::timeout(Duration::from_secs(60), exchange)
            .await
            .map_err(|_| anyhow!("{method} {path}: no answer within 60 s"))?
            .with_context(|| format!("{method} {path}"))
    }

    async fn get(&self, path: &str) -> Result<Reply> {
        self.send("GET", path, None, true).await
    }

    async fn post(&self, path: &str, body: Value) -> Result<Reply> {
        self.send("POST", path, Some(body), true).await
    }
}

/// One SSE event: its `event:` name (if any) and its data lines joined.
struct SseEvent {
    name: Option<String>,
    data: String,
}

/// Parses an SSE body; comment-only events (keepalives) are left out.
fn sse_events(body: &str) -> Result<Vec<SseEvent>> {
    let body = body.replace("\r\n", "\n");
    ensure!(
        body.ends_with("\n\n"),
        "the stream does not end with a blank line"
    );
    let mut events = Vec::new();
    for block in body.split("\n\n").filter(|b| !b.is_empty()) {
        let mut name = None;
        let mut data: Vec<&str> = Vec::new();
        for line in block.lines() {
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => name = Some(value.to_string()),
                "data" => data.push(value),
                "id" | "retry" => {}
                other => bail!("unknown SSE field `{other}` in {}", short(block)),
            }
        }
        if name.is_none() && data.is_empty() {
            continue;
        }
        events.push(SseEvent {
            name,
            data: data.join("\n"),
        });
    }
    Ok(events)
}

/// Checks an OpenAI chat stream's grammar; returns its text and finish reason.
fn openai_stream(reply: &Reply) -> Result<(String, String)> {
    ensure!(
        reply.content_type().starts_with("text/event-stream"),
        "content-type {:?}",
        reply.content_type()
    );
    let events = sse_events(&reply.body)?;
    let (last, chunks) = events.split_last().context("an empty stream")?;
    ensure!(
        last.data == "[DONE]",
        "the last event is not [DONE]: {}",
        short(&last.data)
    );
    ensure!(!chunks.is_empty(), "no chunks before [DONE]");
    let mut text = String::new();
    let mut finish: Option<String> = None;
    let mut id: Option<String> = None;
    for (n, event) in chunks.iter().enumerate() {
        ensure!(event.data != "[DONE]", "[DONE] before the end");
        let chunk: Value = serde_json::from_str(&event.data)
            .with_context(|| format!("chunk {n} is not JSON: {}", short(&event.data)))?;
        ensure!(
            chunk["object"] == "chat.completion.chunk",
            "chunk {n}: object {}",
            chunk["object"]
        );
        let chunk_id = chunk["id"].as_str().unwrap_or_default().to_string();
        match &id {
            None => id = Some(chunk_id),
            Some(first) => ensure!(*first == chunk_id, "chunk ids differ"),
        }
        let choices = chunk["choices"].as_array().context("no choices array")?;
        for choice in choices {
            if n == 0 {
                ensure!(
                    choice["delta"]["role"] == "assistant",
                    "the first chunk has no assistant role"
                );
            }
            if let Some(piece) = choice["delta"]["content"].as_str() {
                ensure!(
                    finish.is_none() || piece.is_empty(),
                    "content after the finish reason"
                );
                text.push_str(piece);
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                ensure!(finish.is_none(), "two finish reasons");
                finish = Some(reason.to_string());
            }
        }
    }
    let finish = finish.context("no finish_reason")?;
    Ok((text, finish))
}

/// Checks an Anthropic Messages stream's grammar; returns (text, tool inputs, stop reason).
fn anthropic_stream(reply: &Reply) -> Result<(String, String)> {
    ensure!(
        reply.content_type().starts_with("text/event-stream"),
        "content-type {:?}",
        reply.content_type()
    );
    let events: Vec<(String, Value)> = sse_events(&reply.body)?
        .into_iter()
        .map(|event| {
            let data: Value = serde_json::from_str(&event.data)
                .with_context(|| format!("event data is not JSON: {}", short(&event.data)))?;
            let name = event.name.context("an event without `event:`")?;
            ensure!(
                data["type"] == name.as_str(),
                "event `{name}` carries type {}",
                data["type"]
            );
            Ok((name, data))
        })
        .filter(|e| !matches!(e, Ok((name, _)) if name == "ping"))
        .collect::<Result<_>>()?;
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    ensure!(
        names.first() == Some(&"message_start"),
        "first event: {names:?}"
    );
    ensure!(
        names.last() == Some(&"message_stop"),
        "last event: {names:?}"
    );
    let mut text = String::new();
    let mut open: Option<u64> = None;
    let mut stop = None;
    let mut next_index = 0;
    for (name, data) in &events[1..events.len() - 1] {
        ensure!(stop.is_none(), "`{name}` after message_delta");
        match name.as_str() {
            "content_block_start" => {
                ensure!(open.is_none(), "a block opened inside another");
                let index = data["index"].as_u64().context("no index")?;
                ensure!(
                    index == next_index,
                    "block index {index}, expected {next_index}"
                );
                open = Some(index);
            }
            "content_block_delta" => {
                ensure!(open == data["index"].as_u64(), "a delta outside its block");
                if let Some(piece) = data["delta"]["text"].as_str() {
                    text.push_str(piece);
                }
            }
            "content_block_stop" => {
                ensure!(
                    open == data["index"].as_u64(),
                    "a stop for a block not open"
                );
                open = None;
                next_index += 1;
            }
            "message_delta" => {
                ensure!(open.is_none(), "message_delta inside a block");
                stop = Some(
                    data["delta"]["stop_reason"]
                        .as_str()
                        .context("message_delta without stop_reason")?
                        .to_string(),
                );
            }
            other => bail!("unexpected event `{other}`"),
        }
    }
    Ok((text, stop.context("no message_delta")?))
}

struct Suite {
    http: Http,
    ephemeral_kv: Option<String>,
    report: HostReport,
}

/// A distinct text per run, so an answer can only come from this run's request.
fn nonce() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{:x}-{}", nanos, std::process::id())
}

fn user(text: &str) -> Value {
    json!([{"role": "user", "content": text}])
}

const WEATHER_TOOL: &str = r#"{"type": "function", "function": {"name": "get_weather",
    "description": "Weather in a city", "parameters": {"type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"type": "string"}}, "required": ["city"]}}}"#;

fn weather_tool() -> Result<Value> {
    Ok(serde_json::from_str(WEATHER_TOOL)?)
}

impl Suite {
    fn record(&mut self, name: &str, outcome: Result<String>) {
        let (outcome, detail) = match outcome {
            Ok(detail) => (Outcome::Pass, detail),
            Err(e) => match &self.ephemeral_kv {
                Some(reason) if NEEDS_KV.contains(&name) => {
                    (Outcome::NotApplicable, format!("{reason} (got: {e:#})"))
                }
                _ => (Outcome::Fail, format!("{e:#}")),
            },
        };
        let mark = match outcome {
            Outcome::Pass => "✓",
            Outcome::Fail => "✗",
            Outcome::NotApplicable => "n/a",
        };
        println!("  {mark:<3} {name:<24} {}", short(&detail));
        self.report.checks.push(CheckResult {
            name: name.to_string(),
            outcome,
            detail,
        });
    }

    async fn run(&mut self) {
        macro_rules! check {
            ($name:literal, $body:expr) => {{
                let outcome = $body.await;
                self.record($name, outcome);
            }};
        }
        check!("health", self.health());
        check!("models-auth", self.models_auth());
        check!("models", self.models());
        check!("chat-echo", self.chat_echo());
        check!("chat-echo-stream", self.chat_echo_stream());
        check!("messages-echo", self.messages_echo());
        check!("messages-echo-stream", self.messages_echo_stream());
        check!("responses-echo", self.responses_echo());
        check!("responses-read-back", self.responses_read_back());
        check!("ollama-chat", self.ollama_chat());
        check!("ollama-tags", self.ollama_tags());
        check!("upstream-chat", self.upstream_chat());
        check!("upstream-stream", self.upstream_stream());
        check!("upstream-tool-call", self.upstream_tool_call());
        check!("messages-tool-call", self.messages_tool_call());
        check!("failover", self.failover());
        check!("cooldown", self.cooldown());
    }

    async fn health(&self) -> Result<String> {
        let reply = self.http.send("GET", "/health", None, false).await?.ok()?;
        Ok(format!("200 {}", short(&reply.body)))
    }

    async fn models_auth(&self) -> Result<String> {
        let reply = self.http.send("GET", "/v1/models", None, false).await?;
        ensure!(
            reply.status == 401,
            "status {} without a key: {}",
            reply.status,
            short(&reply.body)
        );
        let error = reply.json()?;
        ensure!(
            error["error"]["message"].is_string(),
            "not an OpenAI error object: {error}"
        );
        let wrong = Http::new(&self.http.base, "sk-wrong-key");
        let reply = wrong.get("/v1/models").await?;
        ensure!(
            reply.status == 401,
            "status {} with a wrong key",
            reply.status
        );
        Ok("401 without a key and with a wrong one".into())
    }

    async fn models(&self) -> Result<String> {
        let models = self.http.get("/v1/models").await?.ok()?.json()?;
        let ids: Vec<&str> = models["data"]
            .as_array()
            .context("no data array")?
            .iter()
            .filter_map(|m| m["id"].as_str())
            .collect();
        for wanted in ["echo", "scripted", "failover", "cooldown"] {
            ensure!(ids.contains(&wanted), "{wanted} missing from {ids:?}");
        }
        Ok(format!("{} models", ids.len()))
    }

    async fn chat_echo(&self) -> Result<String> {
        let text = format!("conformance chat {}", nonce());
        let reply = self
            .http
            .post(
                "/v1/chat/completions",
                json!({"model": "echo", "messages": user(&text)}),
            )
            .await?
            .ok()?
            .json()?;
        ensure!(
            reply["object"] == "chat.completion",
            "object {}",
            reply["object"]
        );
        let answer = reply["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_default();
        ensure!(answer == text, "echo answered {answer:?}");
        ensure!(
            reply["choices"][0]["finish_reason"] == "stop",
            "finish {}",
            reply["choices"][0]["finish_reason"]
        );
        Ok("echoed".into())
    }

    async fn chat_echo_stream(&self) -> Result<String> {
        let text = format!("conformance stream {} with several words", nonce());
        let reply = self
            .http
            .post(
                "/v1/chat/completions",
                json!({"model": "echo", "messages": user(&text), "stream": true}),
            )
            .await?
            .ok()?;
        let (answer, finish) = openai_stream(&reply)?;
        ensure!(answer == text, "streamed {answer:?}");
        ensure!(finish == "stop", "finish {finish}");
        Ok(format!("{} events", sse_events(&reply.body)?.len()))
    }

    async fn messages_echo(&self) -> Result<String> {
        let text = format!("conformance messages {}", nonce());
        let reply = self
            .http
            .post(
                "/v1/messages",
                json!({"model": "echo", "max_tokens": 100, "messages": user(&text)}),
            )
            .await?
            .ok()?
            .json()?;
        ensure!(reply["type"] == "message", "type {}", reply["type"]);
        ensure!(reply["role"] == "assistant", "role {}", reply["role"]);
        let answer = reply["content"][0]["text"].as_str().unwrap_or_default();
        ensure!(answer == text, "echo answered {answer:?}");
        ensure!(
            reply["stop_reason"] == "end_turn",
            "stop_reason {}",
            reply["stop_reason"]
        );
        Ok("echoed".into())
    }

    async fn messages_echo_stream(&self) -> Result<String> {
        let text = format!("conformance messages stream {} with words", nonce());
        let reply = self
            .http
            .post(
                "/v1/messages",
                json!({"model": "echo", "max_tokens": 100, "messages": user(&text), "stream": true}),
            )
            .await?
            .ok()?;
        let (answer, stop) = anthropic_stream(&reply)?;
        ensure!(answer == text, "streamed {answer:?}");
        ensure!(stop == "end_turn", "stop_reason {stop}");
        Ok(format!("{} events", sse_events(&reply.body)?.len()))
    }

    async fn responses_echo(&mut self) -> Result<String> {
        let text = format!("conformance responses {}", nonce());
        let reply = self
            .http
            .post("/v1/responses", json!({"model": "echo", "input": text}))
            .await?
            .ok()?
            .json()?;
        ensure!(reply["object"] == "response", "object {}", reply["object"]);
        ensure!(reply["status"] == "completed", "status {}", reply["status"]);
        let answer = response_text(&reply);
        ensure!(answer == text, "echo answered {answer:?}");
        let id = reply["id"].as_str().context("no id")?.to_string();
        self.report.stored_response_id = Some(id.clone());
        self.report.stored_response_text = Some(text);
        Ok(id)
    }

    async fn responses_read_back(&self) -> Result<String> {
        read_back(&self.http, &self.report).await
    }

    async fn ollama_chat(&self) -> Result<String> {
        let text = format!("conformance ollama {} words", nonce());
        let reply = self
            .http
            .post(
                "/api/chat",
                json!({"model": "echo", "messages": user(&text)}),
            )
            .await?
            .ok()?;
        ensure!(
            reply.content_type().starts_with("application/x-ndjson"),
            "content-type {:?}",
            reply.content_type()
        );
        let lines: Vec<Value> = reply
            .body
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).with_context(|| format!("not JSON: {}", short(l))))
            .collect::<Result<_>>()?;
        let (last, rest) = lines.split_last().context("no lines")?;
        ensure!(last["done"] == true, "the last line is not done: {last}");
        ensure!(
            rest.iter().all(|l| l["done"] == false),
            "done before the end"
        );
        let answer: String = lines
            .iter()
            .filter_map(|l| l["message"]["content"].as_str())
            .collect();
        ensure!(answer == text, "streamed {answer:?}");
        Ok(format!("{} lines", lines.len()))
    }

    async fn ollama_tags(&self) -> Result<String> {
        let tags = self.http.get("/api/tags").await?.ok()?.json()?;
        let names: Vec<&str> = tags["models"]
            .as_array()
            .context("no models array")?
            .iter()
            .filter_map(|m| m["name"].as_str())
            .collect();
        ensure!(
            names.iter().any(|n| n.starts_with("echo")),
            "no echo in {names:?}"
        );
        Ok(format!("{} models", names.len()))
    }

    /// A plain chat with `model` answered with the scripted provider's text.
    async fn expect_upstream_answer(&self, model: &str) -> Result<()> {
        let reply = self
            .http
            .post(
                "/v1/chat/completions",
                json!({"model": model, "messages": user("hi")}),
            )
            .await?
            .ok()?
            .json()?;
        let answer = reply["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_default();
        ensure!(answer == UPSTREAM_TEXT, "answered {answer:?}");
        Ok(())
    }

    async fn upstream_chat(&self) -> Result<String> {
        self.expect_upstream_answer("scripted").await?;
        Ok("the provider's answer".into())
    }

    async fn upstream_stream(&self) -> Result<String> {
        let reply = self
            .http
            .post(
                "/v1/chat/completions",
                json!({"model": "scripted", "messages": user("hi"), "stream": true}),
            )
            .await?
            .ok()?;
        let (answer, finish) = openai_stream(&reply)?;
        ensure!(
            answer.starts_with("tok0 tok1 "),
            "streamed {}",
            short(&answer)
        );
        ensure!(finish == "stop", "finish {finish}");
        Ok(format!("{} chunks", answer.split_whitespace().count()))
    }

    async fn upstream_tool_call(&self) -> Result<String> {
        let reply = self
            .http
            .post(
                "/v1/chat/completions",
                json!({"model": "scripted", "messages": user("weather in Zürich?"), "tools": [weather_tool()?]}),
            )
            .await?
            .ok()?
            .json()?;
        let choice = &reply["choices"][0];
        ensure!(
            choice["finish_reason"] == "tool_calls",
            "finish {}",
            choice["finish_reason"]
        );
        let call = &choice["message"]["tool_calls"][0]["function"];
        ensure!(call["name"] == "get_weather", "called {}", call["name"]);
        let arguments: Value = serde_json::from_str(call["arguments"].as_str().unwrap_or_default())
            .context("arguments are not JSON")?;
        ensure!(arguments["city"] == "Zürich", "arguments {arguments}");
        Ok("get_weather(Zürich)".into())
    }

    async fn messages_tool_call(&self) -> Result<String> {
        let tool = json!({"name": "get_weather", "description": "Weather in a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}});
        let reply = self
            .http
            .post(
                "/v1/messages",
                json!({"model": "scripted", "max_tokens": 100, "messages": user("weather?"), "tools": [tool]}),
            )
            .await?
            .ok()?
            .json()?;
        ensure!(
            reply["stop_reason"] == "tool_use",
            "stop_reason {}",
            reply["stop_reason"]
        );
        let block = reply["content"]
            .as_array()
            .and_then(|c| c.iter().find(|b| b["type"] == "tool_use"))
            .context("no tool_use block")?;
        ensure!(block["name"] == "get_weather", "called {}", block["name"]);
        ensure!(
            block["input"]["city"] == "Zürich",
            "input {}",
            block["input"]
        );
        Ok("tool_use get_weather".into())
    }

    async fn failover(&self) -> Result<String> {
        self.expect_upstream_answer("failover").await?;
        Ok("503 from the first provider, answered by the second".into())
    }

    async fn cooldown(&self) -> Result<String> {
        self.expect_upstream_answer("cooldown").await?;
        let stats = self.http.get("/stats").await?.ok()?.json()?;
        let benched = stats["cooldowns"]
            .as_array()
            .context("no cooldowns array in /stats")?
            .iter()
            .find(|c| {
                c["subject"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("limited"))
            })
            .cloned()
            .with_context(|| {
                format!(
                    "no cooldown for `limited` in /stats: {}",
                    short(&stats["cooldowns"].to_string())
                )
            })?;
        ensure!(
            benched["reason"] == "rate-limited",
            "reason {}",
            benched["reason"]
        );
        let remaining = benched["remaining_secs"].as_u64().unwrap_or_default();
        ensure!(
            (1..=120).contains(&remaining),
            "remaining {remaining} s, the provider asked for 120"
        );
        Ok(format!("{} benched {remaining} s", benched["subject"]))
    }
}

fn response_text(response: &Value) -> String {
    response["output"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|item| item["content"].as_array().into_iter().flatten())
        .filter(|part| part["type"] == "output_text")
        .filter_map(|part| part["text"].as_str())
        .collect()
}

async fn read_back(http: &Http, report: &HostReport) -> Result<String> {
    let id = report
        .stored_response_id
        .as_deref()
        .context("no response was stored (responses-echo failed)")?;
    let reply = http
        .get(&format!("/v1/responses/{id}"))
        .await?
        .ok()?
        .json()?;
    ensure!(reply["id"] == id, "read back {}", reply["id"]);
    let text = response_text(&reply);
    ensure!(
        Some(text.as_str()) == report.stored_response_text.as_deref(),
        "read back text {text:?}"
    );
    Ok(format!("{id} read back"))
}

fn write_report(path: &Path, report: &HostReport) -> Result<()> {
    std::fs::write(path, serde_json::to_vec_pretty(report)?)
        .with_context(|| format!("writing {}", path.display()))
}

fn read_report(path: &Path) -> Result<HostReport> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))
}

/// The configuration the checks expect. It has no comma anywhere: `wasmtime serve` splits
/// `-S config-var=NAME=VALUE` at commas, so lists of targets are written as arrays of tables.
fn config(ok: &str, down: &str, limited: &str) -> String {
    let provider = |name: &str, url: &str| {
        format!(
            "[providers.{name}]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nkeys = [\"conformance_upstream_key\"]\n\n",
            url.trim_end_matches('/')
        )
    };
    let alias = |name: &str, providers: &[&str]| {
        let mut text = String::new();
        for provider in providers {
            text.push_str(&format!(
                "[[models.{name}.targets]]\nprovider = \"{provider}\"\nmodel = \"fake-model\"\n\n"
            ));
        }
        text
    };
    format!(
        "# apex-conformance: three scripted providers on loopback (no commas: see the source)\n\
         [gateway]\nauto_providers = false\ncooldown_secs = 30\n\n{}{}{}{}{}{}",
        provider("fake", ok),
        provider("down", down),
        provider("limited", limited),
        alias("scripted", &["fake"]),
        alias("failover", &["down", "fake"]),
        alias("cooldown", &["limited", "fake"]),
    )
}

/// `--name value` options.
fn options(args: &[String]) -> Result<BTreeMap<String, String>> {
    let mut options = BTreeMap::new();
    let mut it = args.iter();
    while let Some(name) = it.next() {
        let name = name
            .strip_prefix("--")
            .with_context(|| format!("unexpected argument `{name}`"))?;
        let value = it
            .next()
            .with_context(|| format!("--{name} needs a value"))?;
        options.insert(name.to_string(), value.clone());
    }
    Ok(options)
}

fn required<'a>(options: &'a BTreeMap<String, String>, name: &str) -> Result<&'a str> {
    options
        .get(name)
        .map(String::as_str)
        .with_context(|| format!("--{name} is required"))
}

fn table(paths: &[String]) -> Result<bool> {
    let reports: Vec<HostReport> = paths
        .iter()
        .map(|p| read_report(Path::new(p)))
        .collect::<Result<_>>()?;
    let mut notes: Vec<String> = Vec::new();
    let mut failed = false;
    // cells[check][host]
    let mut cells: Vec<Vec<String>> = Vec::new();
    for (check, _) in CHECKS {
        let mut row = Vec::new();
        for report in &reports {
            let result = report.checks.iter().find(|c| c.name == *check);
            let cell = match (&report.unavailable, result) {
                (Some(_), _) => {
                    failed = true;
                    "✗".to_string()
                }
                (None, None) if OPTIONAL.contains(check) => "–".to_string(),
                (None, None) => {
                    failed = true;
                    notes.push(format!("{} / {check}: not run", report.label));
                    "✗ not run".to_string()
                }
                (None, Some(result)) => match result.outcome {
                    Outcome::Pass => "✓".to_string(),
                    Outcome::Fail => {
                        failed = true;
                        notes.push(format!("{} / {check}: ✗ {}", report.label, result.detail));
                        "✗".to_string()
                    }
                    Outcome::NotApplicable => {
                        notes.push(format!(
                            "{} / {check}: n/a: {}",
                            report.label, result.detail
                        ));
                        let reason = result.detail.split(" (").next().unwrap_or_default();
                        format!("n/a: {reason}")
                    }
                },
            };
            row.push(cell);
        }
        cells.push(row);
    }
    let chars = |s: &str| s.chars().count();
    let first = CHECKS.iter().map(|(n, _)| n.len()).max().unwrap_or(10);
    let widths: Vec<usize> = reports
        .iter()
        .enumerate()
        .map(|(i, r)| {
            cells
                .iter()
                .map(|row| chars(&row[i]))
                .chain([chars(&r.label)])
                .max()
                .unwrap_or(1)
        })
        .collect();
    let pad = |text: &str, width: usize| format!("{text}{}", " ".repeat(width - chars(text)));
    let mut out = format!("| {} |", pad("check", first));
    for (report, width) in reports.iter().zip(&widths) {
        out.push_str(&format!(" {} |", pad(&report.label, *width)));
    }
    out.push_str(&format!("\n|{}|", "-".repeat(first + 2)));
    for width in &widths {
        out.push_str(&format!("{}|", "-".repeat(width + 2)));
    }
    out.push('\n');
    for ((check, _), row) in CHECKS.iter().zip(&cells) {
        out.push_str(&format!("| {} |", pad(check, first)));
        for (cell, width) in row.iter().zip(&widths) {
            out.push_str(&format!(" {} |", pad(cell, *width)));
        }
        out.push('\n');
    }
    for report in &reports {
        if let Some(reason) = &report.unavailable {
            notes.push(format!("{}: not available: {reason}", report.label));
        }
    }
    println!("{out}");
    for note in notes {
        println!("  {note}");
    }
    Ok(!failed)
}

async fn main_async(args: Vec<String>) -> Result<bool> {
    let (command, rest) = args.split_first().context(
        "usage: apex-conformance config|run|after-restart|unavailable|table ... (see the source's docs)",
    )?;
    match command.as_str() {
        "config" => {
            let o = options(rest)?;
            print!(
                "{}",
                config(
                    required(&o, "ok")?,
                    required(&o, "down")?,
                    required(&o, "limited")?
                )
            );
            Ok(true)
        }
        "run" => {
            let o = options(rest)?;
            let label = required(&o, "label")?.to_string();
            let base_url = required(&o, "base-url")?.to_string();
            let json = PathBuf::from(required(&o, "json")?);
            println!("== {label} ({base_url})");
            let mut suite = Suite {
                http: Http::new(&base_url, o.get("key").map(String::as_str).unwrap_or("")),
                ephemeral_kv: o.get("ephemeral-kv").cloned(),
                report: HostReport {
                    label,
                    base_url,
                    ..HostReport::default()
                },
            };
            suite.run().await;
            write_report(&json, &suite.report)?;
            Ok(suite
                .report
                .checks
                .iter()
                .all(|c| c.outcome != Outcome::Fail))
        }
        "after-restart" => {
            let o = options(rest)?;
            let json = PathBuf::from(required(&o, "json")?);
            let report = read_report(&json)?;
            let base_url = o
                .get("base-url")
                .cloned()
                .unwrap_or_else(|| report.base_url.clone());
            let mut suite = Suite {
                http: Http::new(&base_url, o.get("key").map(String::as_str).unwrap_or("")),
                ephemeral_kv: o.get("ephemeral-kv").cloned(),
                report,
            };
            let (check, outcome) = match o.get("from") {
                None => {
                    println!("== {} after a restart", suite.report.label);
                    let outcome = read_back(&suite.http, &suite.report).await;
                    ("read-back-after-restart".to_string(), outcome)
                }
                Some(from) => {
                    let check = required(&o, "check")?.to_string();
                    ensure!(
                        CHECKS.iter().any(|(name, _)| *name == check),
                        "unknown check {check}"
                    );
                    let other = read_report(Path::new(from))?;
                    println!("== {}: what {} stored", suite.report.label, other.label);
                    (check, read_back(&suite.http, &other).await)
                }
            };
            suite.record(&check, outcome);
            write_report(&json, &suite.report)?;
            Ok(suite
                .report
                .checks
                .iter()
                .all(|c| c.outcome != Outcome::Fail))
        }
        "unavailable" => {
            let o = options(rest)?;
            let report = HostReport {
                label: required(&o, "label")?.to_string(),
                unavailable: Some(required(&o, "reason")?.to_string()),
                ..HostReport::default()
            };
            write_report(Path::new(required(&o, "json")?), &report)?;
            Ok(true)
        }
        "table" => table(rest),
        other => bail!("unknown command `{other}`"),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if main_async(args).await? {
        Ok(())
    } else {
        std::process::exit(1)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn reply(body: &str) -> Reply {
        let mut headers = hyper::HeaderMap::new();
        headers.insert("content-type", "text/event-stream".parse().unwrap());
        Reply {
            status: 200,
            headers,
            body: body.to_string(),
        }
    }

    #[test]
    fn openai_stream_grammar() {
        let good = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n\
                    : keepalive\n\n\
                    data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\n\
                    data: [DONE]\n\n";
        assert_eq!(
            openai_stream(&reply(good)).unwrap(),
            ("hi".into(), "stop".into())
        );
        assert!(openai_stream(&reply(&good.replace("data: [DONE]\n\n", ""))).is_err());
        assert!(openai_stream(&reply(&good.replace("\"stop\"", "null"))).is_err());
    }

    #[test]
    fn anthropic_stream_grammar() {
        let event = |name: &str, data: &str| format!("event: {name}\ndata: {data}\n\n");
        let good = vec![
            event("message_start", r#"{"type":"message_start","message":{}}"#),
            event("ping", r#"{"type":"ping"}"#),
            event(
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            ),
            event(
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}"#,
            ),
            event(
                "content_block_stop",
                r#"{"type":"content_block_stop","index":0}"#,
            ),
            event(
                "message_delta",
                r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"}}"#,
            ),
            event("message_stop", r#"{"type":"message_stop"}"#),
        ];
        assert_eq!(
            anthropic_stream(&reply(&good.concat())).unwrap(),
            ("hi".into(), "end_turn".into())
        );
        let mut unclosed = good.clone();
        unclosed.remove(4);
        assert!(anthropic_stream(&reply(&unclosed.concat())).is_err());
        let mut unterminated = good.clone();
        unterminated.pop();
        assert!(anthropic_stream(&reply(&unterminated.concat())).is_err());
    }

    #[test]
    fn the_config_is_valid_toml() {
        let text = config(
            "http://127.0.0.1:1",
            "http://127.0.0.1:2/",
            "http://127.0.0.1:3",
        );
        assert!(
            !text.contains(','),
            "wasmtime serve splits config values at commas"
        );
        let parsed: toml::Table = text.parse().unwrap();
        assert_eq!(
            parsed["providers"]["down"]["base_url"].as_str(),
            Some("http://127.0.0.1:2/v1")
        );
    }
}
