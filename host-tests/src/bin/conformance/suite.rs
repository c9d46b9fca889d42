//! The checks themselves, run against one host.

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};

use crate::checks::*;
use crate::http::*;
use crate::streams::*;

pub struct Suite {
    pub http: Http,
    pub ephemeral_kv: Option<String>,
    pub report: HostReport,
}

/// A distinct text per run, so an answer can only come from this run's request.
pub fn nonce() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{:x}-{}", nanos, std::process::id())
}

pub fn user(text: &str) -> Value {
    json!([{"role": "user", "content": text}])
}

pub const WEATHER_TOOL: &str = r#"{"type": "function", "function": {"name": "get_weather",
    "description": "Weather in a city", "parameters": {"type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"type": "string"}}, "required": ["city"]}}}"#;

pub fn weather_tool() -> Result<Value> {
    Ok(serde_json::from_str(WEATHER_TOOL)?)
}

impl Suite {
    pub fn record(&mut self, name: &str, outcome: Result<String>) {
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

    pub async fn run(&mut self) {
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
        check!("key-limit", self.key_limit());
        check!("status-page", self.status_page());
    }

    pub async fn health(&self) -> Result<String> {
        let reply = self.http.send("GET", "/health", None, false).await?.ok()?;
        Ok(format!("200 {}", short(&reply.body)))
    }

    pub async fn models_auth(&self) -> Result<String> {
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

    pub async fn models(&self) -> Result<String> {
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

    pub async fn chat_echo(&self) -> Result<String> {
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

    pub async fn chat_echo_stream(&self) -> Result<String> {
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

    pub async fn messages_echo(&self) -> Result<String> {
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

    pub async fn messages_echo_stream(&self) -> Result<String> {
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

    pub async fn responses_echo(&mut self) -> Result<String> {
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

    pub async fn responses_read_back(&self) -> Result<String> {
        read_back(&self.http, &self.report).await
    }

    pub async fn ollama_chat(&self) -> Result<String> {
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

    pub async fn ollama_tags(&self) -> Result<String> {
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
    pub async fn expect_upstream_answer(&self, model: &str) -> Result<()> {
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

    pub async fn upstream_chat(&self) -> Result<String> {
        self.expect_upstream_answer("scripted").await?;
        Ok("the provider's answer".into())
    }

    pub async fn upstream_stream(&self) -> Result<String> {
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

    pub async fn upstream_tool_call(&self) -> Result<String> {
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

    pub async fn messages_tool_call(&self) -> Result<String> {
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

    pub async fn failover(&self) -> Result<String> {
        self.expect_upstream_answer("failover").await?;
        Ok("503 from the first provider, answered by the second".into())
    }

    pub async fn cooldown(&self) -> Result<String> {
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

    /// The status page is served without a key (it holds no data), as HTML under a CSP, and
    /// `/stats` has what it shows beside the counters: the configured aliases and their targets.
    pub async fn status_page(&self) -> Result<String> {
        let page = self.http.send("GET", "/ui", None, false).await?.ok()?;
        ensure!(
            page.content_type().starts_with("text/html"),
            "content-type {}",
            page.content_type()
        );
        let csp = page
            .headers
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        ensure!(
            csp.contains("script-src 'sha256-"),
            "no script hash in the CSP: {csp:?}"
        );
        ensure!(
            page.body.contains("<title>Apex status</title>") && page.body.contains("'/stats'"),
            "not the status page: {}",
            short(&page.body)
        );
        let root = self.http.send("GET", "/", None, false).await?.ok()?;
        ensure!(
            root.body == "Ollama is running",
            "GET / without a browser Accept: {}",
            short(&root.body)
        );
        let stats = self.http.get("/stats").await?.ok()?.json()?;
        let targets = stats["config"]["aliases"]["failover"]["targets"]
            .as_array()
            .context("no config.aliases.failover.targets in /stats")?;
        ensure!(targets.len() == 2, "failover's targets: {targets:?}");
        // (A number once requests were counted; null on a host whose key-value store loses them.)
        ensure!(
            stats["total"]["latency_ms"].get("p95").is_some(),
            "no total p95 in /stats: {}",
            short(&stats["total"].to_string())
        );
        Ok(format!(
            "{} bytes of HTML; failover → {}",
            page.body.len(),
            targets
                .iter()
                .filter_map(|t| t["target"].as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

impl Suite {
    /// The gateway key may send `metered-echo` twice per window (counted in the host's
    /// key-value store with its atomic increment): a request past that gets a 429 with
    /// Retry-After, in OpenAI's error shape. A host sharing its store with an earlier row
    /// (spin-redis after apex-redis) finds the window already spent: fewer requests pass.
    pub async fn key_limit(&self) -> Result<String> {
        let mut accepted = 0;
        let refused = loop {
            let reply = self
                .http
                .post(
                    "/v1/chat/completions",
                    json!({"model": "metered-echo", "messages": user("count me")}),
                )
                .await?;
            if reply.status != 200 {
                break reply;
            }
            accepted += 1;
            ensure!(accepted <= 2, "a third request in the window was answered");
        };
        ensure!(
            refused.status == 429,
            "status {} {}",
            refused.status,
            short(&refused.body)
        );
        let retry_after = refused
            .headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .context("no numeric Retry-After")?;
        let error = refused.json()?;
        ensure!(
            error["error"]["code"] == "rate_limit_exceeded",
            "error {error}"
        );
        Ok(format!(
            "{accepted} answered, then 429 (retry after {retry_after} s)"
        ))
    }
}

pub fn response_text(response: &Value) -> String {
    response["output"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|item| item["content"].as_array().into_iter().flatten())
        .filter(|part| part["type"] == "output_text")
        .filter_map(|part| part["text"].as_str())
        .collect()
}
