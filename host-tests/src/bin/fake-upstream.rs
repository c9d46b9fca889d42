//! `apex-fake-upstream`: a fast scripted LLM provider on loopback, for the SDK tests and the
//! benchmark. Answers in the providers' documented wire formats:
//!
//! - `POST …/chat/completions` (OpenAI): JSON, or an SSE stream of `--chunks` text chunks; a
//!   request with tools gets a `get_weather` tool call back.
//! - `POST …/messages` (Anthropic): JSON, or the Messages event stream; `…/messages/count_tokens`
//!   counts 12.
//! - `POST …/models/{model}:generateContent`, `:streamGenerateContent` (SSE with `?alt=sse`, else
//!   a JSON array) and `:countTokens` (Gemini): a request with function declarations whose last
//!   turn is not a function response gets a signed `get_weather` call. Like the real API it
//!   refuses (400, Google's error shape) unknown top-level fields, empty `contents`, roles other
//!   than `user`/`model`, empty `parts`, and a model turn whose first function call comes back
//!   without its `thoughtSignature` (Gemini 3); no `x-goog-api-key` is 403.
//!
//! `apex-fake-upstream [--listen 127.0.0.1:0] [--chunks 20] [--fail-rate 0.3]
//! [--fail-status 429 [--retry-after 120]]` prints `listening on ADDR`. With `--fail-rate R`, each
//! request fails with probability R: a 503 (`overloaded`) or a 500 (`server_error`) in the
//! provider's error format, half and half. With `--fail-status N`, every request fails with status
//! N (a provider that is down, or rate limited: `--retry-after` adds that header).
//! `GET /calls` answers `{"calls": N}`: the provider requests served so far (tests use it to see
//! whether a gateway skipped this provider).

use std::sync::Arc;

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

const TOOL_ARGS: &str = r#"{"city": "Zürich", "unit": "celsius"}"#;

struct Options {
    chunks: usize,
    /// Probability of answering with an error instead.
    fail_rate: f64,
    /// Answer every request with this status instead.
    fail_status: Option<u16>,
    /// `retry-after` seconds on those answers.
    retry_after: Option<u64>,
    /// Provider requests served (not counting `GET /calls`).
    calls: std::sync::atomic::AtomicU64,
    /// xorshift state for the failures.
    rng: std::sync::atomic::AtomicU64,
}

impl Options {
    /// A uniform draw in [0, 1).
    fn draw(&self) -> f64 {
        use std::sync::atomic::Ordering;
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.store(x, Ordering::Relaxed);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A scripted failure, or `None` to answer normally.
fn chaos(options: &Options) -> Option<hyper::Response<Full<Bytes>>> {
    if let Some(status) = options.fail_status {
        let kind = match status {
            429 => "rate_limit_exceeded",
            401 | 403 => "authentication_error",
            500..=599 => "server_error",
            _ => "invalid_request_error",
        };
        let mut response = json_response(
            json!({"error": {"message": format!("scripted failure {status}"), "type": kind, "param": null, "code": null}}),
        );
        *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
        if let Some(seconds) = options.retry_after {
            response
                .headers_mut()
                .insert("retry-after", hyper::header::HeaderValue::from(seconds));
        }
        return Some(response);
    }
    if options.fail_rate <= 0.0 || options.draw() >= options.fail_rate {
        return None;
    }
    let (status, kind) = if options.draw() < 0.5 {
        (503, "overloaded")
    } else {
        (500, "server_error")
    };
    let mut response = json_response(
        json!({"error": {"message": "chaos: scripted failure", "type": kind, "param": null, "code": null}}),
    );
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    Some(response)
}

fn sse(events: Vec<String>) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(Bytes::from(events.concat())));
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("text/event-stream"),
    );
    response
}

fn json_response(value: Value) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(Bytes::from(value.to_string())));
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn openai(request: &Value, options: &Options) -> hyper::Response<Full<Bytes>> {
    let model = request["model"].as_str().unwrap_or("fake").to_string();
    let tools = request["tools"].as_array().is_some_and(|t| !t.is_empty());
    let stream = request["stream"].as_bool().unwrap_or(false);
    let usage = json!({"prompt_tokens": 12, "completion_tokens": options.chunks, "total_tokens": 12 + options.chunks});
    if !stream {
        let message = if tools {
            json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_fake_1", "type": "function", "function": {"name": "get_weather", "arguments": TOOL_ARGS}}], "refusal": null})
        } else {
            json!({"role": "assistant", "content": "Hello from the fake upstream.", "refusal": null})
        };
        return json_response(json!({
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 1_700_000_000, "model": model,
            "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": if tools {"tool_calls"} else {"stop"}}],
            "usage": usage,
        }));
    }
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
                   "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
        )
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    if tools {
        events.push(chunk(json!({"tool_calls": [{"index": 0, "id": "call_fake_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}), Value::Null));
        let (a, b) = TOOL_ARGS.split_at(10);
        for piece in [a, b] {
            events.push(chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}),
                Value::Null,
            ));
        }
        events.push(chunk(json!({}), json!("tool_calls")));
    } else {
        for i in 0..options.chunks {
            events.push(chunk(json!({"content": format!("tok{i} ")}), Value::Null));
        }
        events.push(chunk(json!({}), json!("stop")));
    }
    if request["stream_options"]["include_usage"].as_bool() == Some(true) {
        events.push(format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model, "choices": [], "usage": usage})
        ));
    }
    events.push("data: [DONE]\n\n".to_string());
    sse(events)
}

/// The fake vector of input `i` (`dimensions` long, 3 by default).
fn fake_vector(i: usize, dimensions: Option<u64>) -> Vec<f32> {
    let length = dimensions.unwrap_or(3) as usize;
    (0..length)
        .map(|d| 0.25 * (i + 1) as f32 - 0.5 * d as f32)
        .collect()
}

/// OpenAI's `POST /embeddings`: refuses what the real API refuses (no model, an empty or mixed
/// input, an unknown encoding) and answers vectors in the encoding asked for.
fn openai_embeddings(request: &Value) -> hyper::Response<Full<Bytes>> {
    let refuse = |message: &str| {
        let mut response = json_response(
            json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}}),
        );
        *response.status_mut() = hyper::StatusCode::BAD_REQUEST;
        response
    };
    if !request["model"].is_string() {
        return refuse("you must provide a model parameter");
    }
    let count = match &request["input"] {
        Value::String(text) if !text.is_empty() => 1,
        Value::Array(items)
            if items
                .iter()
                .all(|i| i.as_str().is_some_and(|t| !t.is_empty())) =>
        {
            items.len()
        }
        Value::Array(items) if items.iter().all(Value::is_u64) => 1,
        Value::Array(items)
            if items.iter().all(|i| {
                i.as_array()
                    .is_some_and(|ids| !ids.is_empty() && ids.iter().all(Value::is_u64))
            }) =>
        {
            items.len()
        }
        _ => 0,
    };
    if count == 0 {
        return refuse(
            "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
        );
    }
    let base64 = match request.get("encoding_format").and_then(Value::as_str) {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return refuse(&format!(
                "'{other}' is not one of ['float', 'base64'] - 'encoding_format'"
            ));
        }
    };
    let dimensions = request["dimensions"].as_u64();
    let data: Vec<Value> = (0..count)
        .map(|i| {
            let vector = fake_vector(i, dimensions);
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!(standard_base64(&bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    let tokens = 3 * count;
    json_response(
        json!({"object": "list", "data": data, "model": request["model"], "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}),
    )
}

/// Standard base64 with padding.
fn standard_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, b| n << 8 | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Gemini's `batchEmbedContents`: every request names the model and has text parts; fields
/// the real API does not know are refused.
fn gemini_embeddings(model: &str, request: &Value) -> hyper::Response<Full<Bytes>> {
    const KNOWN: &[&str] = &[
        "model",
        "content",
        "taskType",
        "title",
        "outputDimensionality",
    ];
    let Some(requests) = request["requests"].as_array().filter(|r| !r.is_empty()) else {
        return google_error(
            400,
            "* BatchEmbedContentsRequest.requests: requests is not specified",
        );
    };
    let mut embeddings = Vec::new();
    for (i, one) in requests.iter().enumerate() {
        let Some(fields) = one.as_object() else {
            return google_error(400, "Invalid JSON payload received.");
        };
        if let Some(unknown) = fields.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return google_error(
                400,
                &format!(
                    "Invalid JSON payload received. Unknown name \"{unknown}\" at 'requests[{i}]': Cannot find field."
                ),
            );
        }
        if one["model"].as_str() != Some(&format!("models/{model}")) {
            return google_error(
                400,
                &format!(
                    "* BatchEmbedContentsRequest.requests[{i}].model: the model must be models/{model}"
                ),
            );
        }
        let parts = one["content"]["parts"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if parts.is_empty() || parts.iter().any(|p| !p["text"].is_string()) {
            return google_error(
                400,
                &format!(
                    "* BatchEmbedContentsRequest.requests[{i}].content.parts: contents.parts must not be empty."
                ),
            );
        }
        embeddings.push(json!({"values": fake_vector(i, one["outputDimensionality"].as_u64())}));
    }
    json_response(json!({"embeddings": embeddings}))
}

fn anthropic(request: &Value, options: &Options) -> hyper::Response<Full<Bytes>> {
    let model = request["model"].as_str().unwrap_or("fake").to_string();
    let tools = request["tools"].as_array().is_some_and(|t| !t.is_empty());
    let stream = request["stream"].as_bool().unwrap_or(false);
    if !stream {
        let content = if tools {
            json!([{"type": "tool_use", "id": "toolu_fake_1", "name": "get_weather", "input": serde_json::from_str::<Value>(TOOL_ARGS).unwrap_or_default()}])
        } else {
            json!([{"type": "text", "text": "Hello from the fake upstream."}])
        };
        return json_response(json!({
            "id": "msg_fake", "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": if tools {"tool_use"} else {"end_turn"}, "stop_sequence": null,
            "usage": {"input_tokens": 12, "output_tokens": options.chunks},
        }));
    }
    let event = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let mut events = vec![event(
        "message_start",
        json!({"type": "message_start", "message": {
        "id": "msg_fake", "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 12, "output_tokens": 1}}}),
    )];
    if tools {
        events.push(event("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_fake_1", "name": "get_weather", "input": {}}})));
        let (a, b) = TOOL_ARGS.split_at(10);
        for piece in [a, b] {
            events.push(event("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": piece}})));
        }
    } else {
        events.push(event("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})));
        for i in 0..options.chunks {
            events.push(event("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": format!("tok{i} ")}})));
        }
    }
    events.push(event(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    ));
    events.push(event("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": if tools {"tool_use"} else {"end_turn"}, "stop_sequence": null}, "usage": {"output_tokens": options.chunks}})));
    events.push(event("message_stop", json!({"type": "message_stop"})));
    sse(events)
}

/// A Google error object.
fn google_error(status: u16, message: &str) -> hyper::Response<Full<Bytes>> {
    let name = match status {
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        _ => "INVALID_ARGUMENT",
    };
    let mut response =
        json_response(json!({"error": {"code": status, "message": message, "status": name}}));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    response
}

/// What the real Gemini API refuses in a `generateContent` body.
fn gemini_problem(request: &Value) -> Option<String> {
    const KNOWN: &[&str] = &[
        "contents",
        "systemInstruction",
        "system_instruction",
        "tools",
        "toolConfig",
        "tool_config",
        "generationConfig",
        "generation_config",
        "safetySettings",
        "safety_settings",
        "cachedContent",
        "labels",
        "model",
    ];
    let Some(body) = request.as_object() else {
        return Some("Invalid JSON payload received.".to_string());
    };
    if let Some(unknown) = body.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Some(format!(
            "Invalid JSON payload received. Unknown name \"{unknown}\": Cannot find field."
        ));
    }
    let contents = body.get("contents").and_then(Value::as_array);
    let Some(contents) = contents.filter(|c| !c.is_empty()) else {
        return Some("* GenerateContentRequest.contents: contents is not specified".to_string());
    };
    for content in contents {
        if !matches!(
            content.get("role").and_then(Value::as_str),
            None | Some("user" | "model")
        ) {
            return Some("Please use a valid role: user, model.".to_string());
        }
        let parts = content["parts"].as_array().cloned().unwrap_or_default();
        if parts.is_empty() {
            return Some(
                "* GenerateContentRequest.contents.parts: contents.parts must not be empty."
                    .to_string(),
            );
        }
        let first_call = parts.iter().find(|p| p.get("functionCall").is_some());
        if content["role"] == "model"
            && first_call.is_some_and(|p| p.get("thoughtSignature").is_none())
        {
            return Some(
                "Function call is missing a thought_signature in functionCall parts.".to_string(),
            );
        }
    }
    None
}

fn gemini(
    model: &str,
    method: &str,
    query: &str,
    goog_key: bool,
    request: &Value,
    options: &Options,
) -> hyper::Response<Full<Bytes>> {
    if !goog_key {
        return google_error(403, "Method doesn't allow unregistered callers.");
    }
    if method == "batchEmbedContents" {
        return gemini_embeddings(model, request);
    }
    let request = match method {
        "countTokens" => match request.get("generateContentRequest") {
            Some(whole) => whole,
            None => request,
        },
        _ => request,
    };
    if let Some(problem) = gemini_problem(request) {
        return google_error(400, &problem);
    }
    let usage = json!({"promptTokenCount": 12, "candidatesTokenCount": options.chunks, "totalTokenCount": 12 + options.chunks});
    let answered = request["contents"]
        .as_array()
        .and_then(|c| c.last())
        .and_then(|c| c["parts"].as_array())
        .is_some_and(|parts| parts.iter().any(|p| p.get("functionResponse").is_some()));
    let tools = request["tools"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t.get("functionDeclarations").is_some()));
    let chunk = |parts: Value, finish: Option<&str>| {
        let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        if let Some(finish) = finish {
            candidate["finishReason"] = json!(finish);
        }
        let mut chunk = json!({"candidates": [candidate], "modelVersion": model, "responseId": "fake-gemini-1"});
        if finish.is_some() {
            chunk["usageMetadata"] = usage.clone();
        }
        chunk
    };
    let call = json!([{"functionCall": {"name": "get_weather", "args": serde_json::from_str::<Value>(TOOL_ARGS).unwrap_or_default()}, "thoughtSignature": "ZmFrZS1zaWduYXR1cmU="}]);
    let chunks: Vec<Value> = match method {
        "countTokens" => return json_response(json!({"totalTokens": 12})),
        "generateContent" if tools && !answered => {
            return json_response(chunk(call, Some("STOP")));
        }
        "generateContent" => {
            return json_response(chunk(
                json!([{"text": "Hello from the fake upstream."}]),
                Some("STOP"),
            ));
        }
        "streamGenerateContent" if tools && !answered => vec![chunk(call, Some("STOP"))],
        "streamGenerateContent" => {
            let mut chunks: Vec<Value> = (0..options.chunks)
                .map(|i| chunk(json!([{"text": format!("tok{i} ")}]), None))
                .collect();
            chunks.push(chunk(json!([{"text": ""}]), Some("STOP")));
            chunks
        }
        other => return google_error(404, &format!("Method {other} not found.")),
    };
    if query.split('&').any(|p| p == "alt=sse") {
        return sse(chunks
            .iter()
            .map(|c| format!("data: {c}\r\n\r\n"))
            .collect());
    }
    let items: Vec<String> = chunks.iter().map(Value::to_string).collect();
    json_response_text(format!("[{}]", items.join("\n,")))
}

fn json_response_text(text: String) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(Bytes::from(text)));
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

async fn handle(
    request: hyper::Request<hyper::body::Incoming>,
    options: Arc<Options>,
) -> Result<hyper::Response<Full<Bytes>>> {
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or_default().to_string();
    let goog_key = request.headers().contains_key("x-goog-api-key");
    if path == "/calls" {
        let calls = options.calls.load(std::sync::atomic::Ordering::Relaxed);
        return Ok(json_response(json!({ "calls": calls })));
    }
    options
        .calls
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let body = request.into_body().collect().await?.to_bytes();
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Some(failure) = chaos(&options) {
        return Ok(failure);
    }
    if let Some((model, method)) = path
        .rsplit_once("/models/")
        .and_then(|(_, call)| call.rsplit_once(':'))
    {
        return Ok(gemini(model, method, &query, goog_key, &parsed, &options));
    }
    Ok(if path.ends_with("/chat/completions") {
        openai(&parsed, &options)
    } else if path.ends_with("/embeddings") {
        openai_embeddings(&parsed)
    } else if path.ends_with("/messages") {
        anthropic(&parsed, &options)
    } else if path.ends_with("/messages/count_tokens") {
        anthropic_count(&parsed)
    } else {
        let mut response = json_response(
            json!({"error": {"message": format!("no route {path}"), "type": "invalid_request_error"}}),
        );
        *response.status_mut() = hyper::StatusCode::NOT_FOUND;
        response
    })
}

/// Anthropic's `messages/count_tokens`: 12 tokens, for a body that holds only what the endpoint
/// takes (it refuses `max_tokens`, `stream` and the rest as extra inputs, as the real API does).
fn anthropic_count(request: &Value) -> hyper::Response<Full<Bytes>> {
    const TAKES: &[&str] = &[
        "model",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "thinking",
        "mcp_servers",
    ];
    let extra = request.as_object().and_then(|fields| {
        fields
            .keys()
            .find(|k| !TAKES.contains(&k.as_str()))
            .cloned()
    });
    if let Some(field) = extra {
        let mut response = json_response(
            json!({"type": "error", "error": {"type": "invalid_request_error", "message": format!("{field}: Extra inputs are not permitted")}}),
        );
        *response.status_mut() = hyper::StatusCode::BAD_REQUEST;
        return response;
    }
    json_response(json!({"input_tokens": 12}))
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut listen = "127.0.0.1:0".to_string();
    let mut chunks = 20;
    let mut fail_rate = 0.0;
    let mut fail_status = None;
    let mut retry_after = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().context("--listen needs a value")?,
            "--chunks" => chunks = args.next().context("--chunks needs a value")?.parse()?,
            "--fail-rate" => {
                fail_rate = args.next().context("--fail-rate needs a value")?.parse()?
            }
            "--fail-status" => {
                let status: u16 = args
                    .next()
                    .context("--fail-status needs a value")?
                    .parse()?;
                anyhow::ensure!(
                    (400..=599).contains(&status),
                    "--fail-status needs an error status (400-599)"
                );
                fail_status = Some(status);
            }
            "--retry-after" => {
                retry_after = Some(
                    args.next()
                        .context("--retry-after needs a value")?
                        .parse()?,
                )
            }
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("listening on {}", listener.local_addr()?);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    let options = Arc::new(Options {
        chunks,
        fail_rate,
        fail_status,
        retry_after,
        calls: std::sync::atomic::AtomicU64::new(0),
        rng: std::sync::atomic::AtomicU64::new(seed),
    });
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let options = Arc::clone(&options);
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |request| handle(request, Arc::clone(&options)));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
