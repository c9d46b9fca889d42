//! Golden fixture cases (`fixtures/<case>/`, format in `apex_adapter_kit::fixtures`).

use apex_adapter_gemini::{CAPABILITIES, Gemini};
use apex_adapter_kit::Adapter;
use apex_adapter_kit::types::{
    ChatRequest, ContentPart, Message, Role, Target, ToolCall, ToolResult, ToolResultPart,
};

apex_adapter_kit::fixture_tests!(Gemini, CAPABILITIES);

fn target() -> Target {
    Target {
        kind: "gemini".to_string(),
        profile: String::new(),
        base_url: "https://generativelanguage.googleapis.com/v1beta".to_string(),
        api_key: "test-key".to_string(),
        api_version: None,
        headers: vec![("x-goog-user-project".to_string(), "apex-test".to_string())],
    }
}

fn message(role: Role, content: Vec<ContentPart>) -> Message {
    Message {
        role,
        content,
        name: None,
    }
}

/// Fixtures compare bodies as parsed JSON; JSON text from the client must also keep its bytes.
#[test]
fn arguments_results_and_extras_travel_verbatim() -> Result<(), String> {
    let arguments = r#"{"city": "Zürich",  "n": 1.50, "label": "\u6771\u4eac"}"#;
    let result = r#"{"temp_c": 21.50, "sky": "clear"}"#;
    let extra = r#"{"safetySettings": [ {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"} ], "cachedContent": "cachedContents/abc"}"#;
    let mut req = ChatRequest::new(
        "gemini-2.5-flash",
        vec![
            message(Role::User, vec![ContentPart::Text("weather?".to_string())]),
            message(
                Role::Assistant,
                vec![ContentPart::ToolCall(ToolCall {
                    id: "gemini-call-0".to_string(),
                    name: "lookup".to_string(),
                    arguments: arguments.to_string(),
                })],
            ),
            message(
                Role::Tool,
                vec![ContentPart::ToolResult(ToolResult {
                    call_id: "gemini-call-0".to_string(),
                    name: None,
                    content: vec![ToolResultPart::Text(result.to_string())],
                    is_error: false,
                })],
            ),
        ],
    );
    req.extra = Some(extra.to_string());
    let http = Gemini::build_request(&target(), &req).map_err(|e| e.message)?;
    let body = String::from_utf8(http.body).map_err(|e| e.to_string())?;
    assert!(body.contains(&format!(r#""args":{arguments}"#)), "{body}");
    assert!(
        body.contains(&format!(
            r#""functionResponse":{{"name":"lookup","response":{result}}}"#
        )),
        "{body}"
    );
    assert!(
        body.contains(r#""safetySettings":[ {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"} ]"#),
        "{body}"
    );
    Ok(())
}

#[test]
fn target_headers_are_appended() -> Result<(), String> {
    let req = ChatRequest::new(
        "gemini-2.5-flash",
        vec![message(
            Role::User,
            vec![ContentPart::Text("hi".to_string())],
        )],
    );
    let http = Gemini::build_request(&target(), &req).map_err(|e| e.message)?;
    let names: Vec<&str> = http.headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        ["x-goog-api-key", "content-type", "x-goog-user-project"]
    );
    assert!(
        !http.url.contains("test-key"),
        "the key stays out of the URL"
    );
    Ok(())
}
