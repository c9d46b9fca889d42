//! Golden fixture cases (`fixtures/<case>/`, format in `apex_adapter_kit::fixtures`). A stream
//! case's `upstream-response.sse` holds Ollama's raw NDJSON body: the runner feeds bytes as they
//! are, in uneven chunks.

use apex_adapter_kit::Adapter;
use apex_adapter_kit::types::{ChatRequest, ContentPart, Message, Role, Target, Tool, ToolCall};
use apex_adapter_ollama::{CAPABILITIES, Ollama};

apex_adapter_kit::fixture_tests!(Ollama, CAPABILITIES);

fn target(api_key: &str) -> Target {
    Target {
        kind: "ollama".to_string(),
        profile: String::new(),
        base_url: "http://localhost:11434/".to_string(),
        api_key: api_key.to_string(),
        api_version: None,
        headers: vec![("x-trace".to_string(), "abc".to_string())],
    }
}

fn request(messages: Vec<Message>) -> ChatRequest {
    ChatRequest::new("llama3.2", messages)
}

/// Fixtures compare bodies as parsed JSON; JSON text from the client must also keep its bytes.
#[test]
fn arguments_schemas_and_extras_travel_verbatim() -> Result<(), String> {
    let arguments = r#"{"city": "Zürich",  "n": 1.50, "label": "\u6771\u4eac"}"#;
    let parameters =
        r#"{"type":"object","properties":{"zeta":{"type":"string"},"alpha":{"type":"integer"}}}"#;
    let extra = r#"{"keep_alive": 1.50, "options": {"num_ctx": 8192, "mirostat": 0}}"#;
    let mut req = request(vec![
        Message {
            role: Role::User,
            content: vec![ContentPart::Text("weather?".to_string())],
            name: None,
        },
        Message {
            role: Role::Assistant,
            content: vec![ContentPart::ToolCall(ToolCall {
                id: "call_1".to_string(),
                name: "lookup".to_string(),
                arguments: arguments.to_string(),
            })],
            name: None,
        },
    ]);
    req.tools = vec![Tool {
        name: "lookup".to_string(),
        description: None,
        parameters: parameters.to_string(),
        strict: None,
    }];
    req.extra = Some(extra.to_string());
    let http = Ollama::build_request(&target(""), &req).map_err(|e| e.message)?;
    let body = String::from_utf8(http.body).map_err(|e| e.to_string())?;
    assert!(
        body.contains(&format!(r#""arguments":{arguments}"#)),
        "{body}"
    );
    assert!(
        body.contains(&format!(r#""parameters":{parameters}"#)),
        "{body}"
    );
    assert!(body.contains(r#""keep_alive":1.50"#), "{body}");
    assert!(
        body.contains(r#""options":{"num_ctx":8192,"mirostat":0}"#),
        "{body}"
    );
    assert!(body.contains(r#""stream":false"#), "{body}");
    Ok(())
}

#[test]
fn bearer_only_with_a_key_then_target_headers() -> Result<(), String> {
    let names = |key: &str| -> Result<Vec<String>, String> {
        let http =
            Ollama::build_request(&target(key), &request(Vec::new())).map_err(|e| e.message)?;
        assert_eq!(http.url, "http://localhost:11434/api/chat");
        Ok(http.headers.into_iter().map(|(k, _)| k).collect())
    };
    assert_eq!(names("")?, ["content-type", "x-trace"]);
    assert_eq!(names("  ")?, ["content-type", "x-trace"]);
    assert_eq!(names("k")?, ["content-type", "authorization", "x-trace"]);
    Ok(())
}
