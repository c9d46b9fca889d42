#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! The Ollama API surface (`/api/*`, what IDE plugins speak) through the composed app: chat and
//! generate on translated providers (NDJSON streams by default), the model endpoints, key-in-path
//! auth, and errors as `{"error": ...}`.

use crate::common::{Gateway, Response};
use apex_host::outbound::Reply;
use serde_json::{Value, json};

const OPENAI: &str = "http://openai.test/v1";
const ANTHROPIC: &str = "http://anthropic.test/v1";

fn config(keys: bool) -> String {
    let gateway = if keys {
        "[gateway]\napi_keys = { ide = \"ide_key\" }\n"
    } else {
        ""
    };
    format!(
        r#"{gateway}
[providers.oa]
kind = "openai"
profile = "openai"
base_url = "{OPENAI}"
keys = ["oa_key"]

[providers.claude]
kind = "anthropic"
base_url = "{ANTHROPIC}"
keys = ["claude_key"]

[models.gpt]
targets = ["oa/gpt-4.1"]

[models.claude]
targets = ["claude/claude-sonnet-4-5"]
"#
    )
}

const VARS: &[(&str, &str)] = &[
    ("ide_key", "secret-ide-key"),
    ("oa_key", "sk-oa-secret"),
    ("claude_key", "sk-ant-secret"),
];

fn lines(r: &Response) -> Vec<Value> {
    r.text()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

fn openai_stream_with_call() -> Vec<String> {
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1",
                "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
        )
    };
    vec![
        chunk(
            json!({"role": "assistant", "content": "Moment, "}),
            Value::Null,
        ),
        chunk(json!({"content": "ich prüfe ☀️"}), Value::Null),
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_o1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":"}}]}),
            Value::Null,
        ),
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": " \"Zürich\"}"}}]}),
            Value::Null,
        ),
        chunk(json!({}), json!("tool_calls")),
        format!(
            "data: {}\n\n",
            json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1",
                "choices": [], "usage": {"prompt_tokens": 26, "completion_tokens": 12, "total_tokens": 38}})
        ),
        "data: [DONE]\n\n".to_string(),
    ]
}

fn chat_request(model: &str) -> Value {
    json!({
        "model": model,
        "messages": [
            {"role": "system", "content": "Sei kurz."},
            {"role": "user", "content": "Wetter in Zürich?", "images": ["iVBORw0KGgoAAAANSUhEUgAAAAE"]},
            {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Basel", "days": [1, 2]}}}]},
            {"role": "tool", "content": "{\"temp\": 18}", "tool_name": "get_weather"},
            {"role": "user", "content": "Und Zürich?"}
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
        "options": {"temperature": 0.2, "num_predict": 128, "top_k": 20, "stop": ["###"], "seed": 7, "num_ctx": 8192},
        "keep_alive": "5m"
    })
}

#[tokio::test]
async fn chat_streams_ndjson_by_default_with_object_arguments() {
    let gw = Gateway::new(&config(false), VARS);
    gw.upstream
        .push(OPENAI, Reply::sse(openai_stream_with_call()));
    let r = gw.post("/api/chat", &chat_request("gpt")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
    let lines = lines(&r);
    let text: String = lines
        .iter()
        .filter_map(|l| l["message"]["content"].as_str())
        .collect();
    assert_eq!(text, "Moment, ich prüfe ☀️");
    let calls: Vec<&Value> = lines
        .iter()
        .filter_map(|l| l["message"]["tool_calls"].as_array())
        .flatten()
        .collect();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    assert_eq!(calls[0]["function"]["arguments"], json!({"city": "Zürich"}));
    let last = lines.last().unwrap();
    assert_eq!(last["done"], true);
    assert_eq!(last["done_reason"], "stop");
    assert_eq!(last["prompt_eval_count"], 26);
    assert_eq!(last["eval_count"], 12);
    assert!(last["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(lines[..lines.len() - 1].iter().all(|l| l["done"] == false));
    assert!(lines.iter().all(|l| l["model"] == "gpt"));

    let upstream = gw.upstream.requests()[0].json();
    assert_eq!(upstream["stream"], true);
    assert_eq!(upstream["temperature"], 0.2);
    assert_eq!(upstream["max_completion_tokens"], 128);
    assert_eq!(upstream["seed"], 7);
    assert_eq!(upstream["stop"], json!(["###"]));
    let messages = upstream["messages"].as_array().unwrap();
    assert_eq!(messages[0]["content"], "Sei kurz.");
    assert_eq!(messages[1]["content"][1]["type"], "image_url");
    assert!(
        messages[1]["content"][1]["image_url"]["url"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
    let earlier = &messages[2]["tool_calls"][0];
    assert_eq!(
        earlier["function"]["arguments"], r#"{"city":"Basel","days":[1,2]}"#,
        "object arguments go upstream as the client's JSON text"
    );
    assert_eq!(messages[3]["role"], "tool");
    assert_eq!(messages[3]["tool_call_id"], earlier["id"]);
}

#[tokio::test]
async fn chat_and_generate_without_streaming() {
    let gw = Gateway::new(&config(false), VARS);
    let reply = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": "Hallo aus Zürich"}], "stop_reason": "max_tokens",
        "stop_sequence": null, "usage": {"input_tokens": 11, "output_tokens": 4}});
    gw.upstream
        .push(ANTHROPIC, Reply::json(200, reply.to_string()));
    let mut request = json!({"model": "claude:latest", "stream": false,
        "messages": [{"role": "user", "content": "Hallo"}], "think": false});
    let r = gw.post("/api/chat", &request).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body = r.json();
    assert_eq!(body["model"], "claude");
    assert_eq!(body["message"]["role"], "assistant");
    assert_eq!(body["message"]["content"], "Hallo aus Zürich");
    assert_eq!(body["done"], true);
    assert_eq!(body["done_reason"], "length");
    assert_eq!(body["prompt_eval_count"], 11);
    assert_eq!(body["eval_count"], 4);

    gw.upstream
        .push(ANTHROPIC, Reply::json(200, reply.to_string()));
    request = json!({"model": "claude", "prompt": "Sag hallo", "system": "Auf Deutsch.", "stream": false});
    let r = gw.post("/api/generate", &request).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["response"], "Hallo aus Zürich");
    assert_eq!(body["done"], true);
    let upstream = gw.upstream.requests()[1].json();
    assert_eq!(upstream["system"][0]["text"], "Auf Deutsch.");
    assert_eq!(upstream["messages"][0]["content"][0]["text"], "Sag hallo");
}

#[tokio::test]
async fn generate_streams_and_loads() {
    let gw = Gateway::new(&config(false), VARS);
    gw.upstream
        .push(OPENAI, Reply::sse(openai_stream_with_call()[..2].to_vec().into_iter().chain([
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4.1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n".to_string(),
            "data: [DONE]\n\n".to_string(),
        ])));
    let r = gw
        .post("/api/generate", &json!({"model": "gpt", "prompt": "Hi"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let lines = lines(&r);
    let text: String = lines
        .iter()
        .filter_map(|l| l["response"].as_str())
        .collect();
    assert_eq!(text, "Moment, ich prüfe ☀️");
    assert_eq!(lines.last().unwrap()["done"], true);

    // A load call (no prompt) answers at once, without a provider call.
    let r = gw.post("/api/generate", &json!({"model": "gpt"})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["done_reason"], "load");
    let r = gw
        .post("/api/chat", &json!({"model": "gpt", "messages": []}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["done"], true);
    let r = gw.post("/api/generate", &json!({"model": "nope"})).await;
    assert_eq!(r.status, 404);
    assert!(r.json()["error"].as_str().unwrap().contains("nope"));
    assert_eq!(gw.upstream.requests().len(), 1);
}

#[tokio::test]
async fn model_endpoints_describe_every_alias() {
    let gw = Gateway::new(&config(false), VARS);
    let tags = gw.call("GET", "/api/tags", &[], b"").await;
    assert_eq!(tags.status, 200);
    let models = tags.json()["models"].as_array().unwrap().clone();
    let names: Vec<&str> = models.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["claude:latest", "gpt:latest", "echo:latest"]);
    for model in &models {
        assert_eq!(model["digest"].as_str().unwrap().len(), 64);
        assert!(model["modified_at"].is_string());
        assert!(model["details"]["family"].is_string());
    }
    let again = gw.call("GET", "/api/tags", &[], b"").await;
    assert_eq!(again.body, tags.body, "stable digests and dates");

    let show = gw
        .post("/api/show", &json!({"model": "claude:latest"}))
        .await;
    assert_eq!(show.status, 200, "{}", show.text());
    let show = show.json();
    let capabilities: Vec<&str> = show["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for wanted in ["completion", "tools", "vision"] {
        assert!(capabilities.contains(&wanted), "{capabilities:?}");
    }
    assert!(show["model_info"].is_object());
    assert!(show["details"].is_object());
    assert!(show["template"].is_string() && show["parameters"].is_string());
    let missing = gw.post("/api/show", &json!({"model": "nope"})).await;
    assert_eq!(missing.status, 404);
    assert!(missing.json()["error"].is_string());

    let version = gw.call("GET", "/api/version", &[], b"").await;
    assert!(version.json()["version"].as_str().unwrap().contains('.'));
    let ps = gw.call("GET", "/api/ps", &[], b"").await;
    assert!(ps.json()["models"].is_array());
    let root = gw.call("GET", "/", &[], b"").await;
    assert_eq!(root.text(), "Ollama is running");
    let head = gw.call("HEAD", "/", &[], b"").await;
    assert_eq!(head.status, 200);
}

#[tokio::test]
async fn keys_in_headers_or_in_the_path() {
    let gw = Gateway::new(&config(true), VARS);
    let r = gw.call("GET", "/api/tags", &[], b"").await;
    assert_eq!(r.status, 401);
    assert!(r.json()["error"].is_string(), "Ollama's error shape");
    let r = gw
        .call(
            "GET",
            "/api/tags",
            &[("authorization", "Bearer secret-ide-key")],
            b"",
        )
        .await;
    assert_eq!(r.status, 200);
    let r = gw
        .call("GET", "/ollama/secret-ide-key/api/tags", &[], b"")
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = gw.call("GET", "/ollama/wrong/api/tags", &[], b"").await;
    assert_eq!(r.status, 401);
    // The OpenAI surface under the same prefix.
    let r = gw
        .call(
            "POST",
            "/ollama/secret-ide-key/v1/chat/completions",
            &[],
            br#"{"model":"echo","messages":[{"role":"user","content":"hi"}]}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["choices"][0]["message"]["content"], "hi");
}

#[tokio::test]
async fn errors_are_ollama_errors() {
    let gw = Gateway::new(&config(false), VARS);
    let r = gw
        .post(
            "/api/chat",
            &json!({"model": "nope", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(r.status, 404);
    assert!(r.json()["error"].as_str().unwrap().contains("nope"));
    let r = gw.call("POST", "/api/chat", &[], b"{oops").await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].is_string());
    let r = gw
        .post("/api/chat", &json!({"model": "gpt", "messages": [{"role": "user", "content": "x"}], "options": {"num_predict": "many"}}))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("num_predict"));
    gw.upstream.push(
        OPENAI,
        Reply::json(
            429,
            r#"{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}"#,
        )
        .with_header("retry-after", "3"),
    );
    let r = gw
        .post("/api/chat", &json!({"model": "gpt", "stream": false, "messages": [{"role": "user", "content": "x"}]}))
        .await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("3"));
    assert!(r.json()["error"].is_string());
    assert!(r.json().as_object().unwrap().len() == 1, "{}", r.text());
}
