//! Golden fixture cases (`fixtures/<case>/`, format in `apex_adapter_kit::fixtures`).

use apex_adapter_anthropic::{Anthropic, CAPABILITIES};
use apex_adapter_kit::Adapter;
use apex_adapter_kit::types::{ChatRequest, ContentPart, Message, Role, Target, Tool, ToolCall};

apex_adapter_kit::fixture_tests!(Anthropic, CAPABILITIES);

fn target() -> Target {
    Target {
        kind: "anthropic".to_string(),
        profile: String::new(),
        base_url: "https://api.anthropic.com/v1".to_string(),
        api_key: "test-key".to_string(),
        api_version: None,
        headers: vec![(
            "anthropic-beta".to_string(),
            "prompt-caching-2024-07-31".to_string(),
        )],
    }
}

fn request(messages: Vec<Message>) -> ChatRequest {
    ChatRequest::new("claude-sonnet-4-5", messages)
}

/// Fixtures compare bodies as parsed JSON; JSON text from the client must also keep its bytes.
#[test]
fn arguments_schemas_and_extras_travel_verbatim() -> Result<(), String> {
    let arguments = r#"{"city": "Zürich",  "n": 1.50, "label": "\u6771\u4eac"}"#;
    let parameters =
        r#"{"type":"object","properties":{"zeta":{"type":"string"},"alpha":{"type":"integer"}}}"#;
    let extra = r#"{"service_tier": "auto", "context_management": {"edits": [ ]}}"#;
    let mut req = request(vec![
        Message {
            role: Role::User,
            content: vec![ContentPart::Text("weather?".to_string())],
            name: None,
        },
        Message {
            role: Role::Assistant,
            content: vec![ContentPart::ToolCall(ToolCall {
                id: "toolu_1".to_string(),
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
    let http = Anthropic::build_request(&target(), &req).map_err(|e| e.message)?;
    let body = String::from_utf8(http.body).map_err(|e| e.to_string())?;
    assert!(body.contains(&format!(r#""input":{arguments}"#)), "{body}");
    assert!(
        body.contains(&format!(r#""input_schema":{parameters}"#)),
        "{body}"
    );
    assert!(body.contains(r#""service_tier":"auto""#), "{body}");
    assert!(
        body.contains(r#""context_management":{"edits": [ ]}"#),
        "{body}"
    );
    Ok(())
}

#[test]
fn target_headers_are_appended() -> Result<(), String> {
    let http = Anthropic::build_request(&target(), &request(Vec::new())).map_err(|e| e.message)?;
    let names: Vec<&str> = http.headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "x-api-key",
            "anthropic-version",
            "content-type",
            "anthropic-beta"
        ]
    );
    Ok(())
}
