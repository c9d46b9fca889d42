//! Golden fixture cases (`fixtures/<case>/`, format in `apex_adapter_kit::fixtures`).

use apex_adapter_cohere::{CAPABILITIES, Cohere};
use apex_adapter_kit::Adapter;
use apex_adapter_kit::types::{
    ChatRequest, ContentPart, JsonSchemaFormat, Message, ResponseFormat, Role, Target, Tool,
    ToolCall,
};

apex_adapter_kit::fixture_tests!(Cohere, CAPABILITIES);

fn target() -> Target {
    Target {
        kind: "cohere".to_string(),
        profile: String::new(),
        base_url: "https://api.cohere.com/v2/".to_string(),
        api_key: "test-key".to_string(),
        api_version: None,
        headers: vec![("x-client-name".to_string(), "apex".to_string())],
    }
}

fn request(messages: Vec<Message>) -> ChatRequest {
    ChatRequest::new("command-a-03-2025", messages)
}

/// Fixtures compare bodies as parsed JSON; JSON text from the client must also keep its bytes.
#[test]
fn arguments_schemas_and_extras_travel_verbatim() -> Result<(), String> {
    let arguments = r#"{"city": "Zürich",  "n": 1.50, "label": "\u6771\u4eac"}"#;
    let parameters =
        r#"{"type":"object","properties":{"zeta":{"type":"string"},"alpha":{"type":"integer"}}}"#;
    let schema = r#"{"type": "object", "properties": {"b": {"type": "number"}, "a": {}}}"#;
    let extra = r#"{"safety_mode": "STRICT", "citation_options": {"mode": "OFF" }}"#;
    let mut req = request(vec![
        Message {
            role: Role::User,
            content: vec![ContentPart::Text("weather?".to_string())],
            name: None,
        },
        Message {
            role: Role::Assistant,
            content: vec![ContentPart::ToolCall(ToolCall {
                id: "lookup_1".to_string(),
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
    let http = Cohere::build_request(&target(), &req).map_err(|e| e.message)?;
    let body = String::from_utf8(http.body).map_err(|e| e.to_string())?;
    // The arguments text sits in a JSON string: decoded, it is the client's text exactly.
    let value: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    assert_eq!(
        value["messages"][1]["tool_calls"][0]["function"]["arguments"].as_str(),
        Some(arguments),
        "{body}"
    );
    assert!(
        body.contains(&format!(r#""parameters":{parameters}"#)),
        "{body}"
    );
    assert!(body.contains(r#""safety_mode":"STRICT""#), "{body}");
    assert!(
        body.contains(r#""citation_options":{"mode": "OFF" }"#),
        "{body}"
    );

    req.tools.clear();
    req.response_format = Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
        name: "thing".to_string(),
        schema: schema.to_string(),
        strict: None,
    }));
    let http = Cohere::build_request(&target(), &req).map_err(|e| e.message)?;
    let body = String::from_utf8(http.body).map_err(|e| e.to_string())?;
    assert!(
        body.contains(&format!(
            r#""response_format":{{"type":"json_object","json_schema":{schema}}}"#
        )),
        "{body}"
    );
    Ok(())
}

#[test]
fn target_headers_are_appended() -> Result<(), String> {
    let http = Cohere::build_request(&target(), &request(Vec::new())).map_err(|e| e.message)?;
    assert_eq!(http.url, "https://api.cohere.com/v2/chat");
    let names: Vec<&str> = http.headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        ["authorization", "content-type", "accept", "x-client-name"]
    );
    Ok(())
}
