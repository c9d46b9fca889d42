//! Golden fixture cases (`fixtures/<case>/`, format in `apex_adapter_kit::fixtures`).

use apex_adapter_kit::Adapter;
use apex_adapter_kit::types::{
    ChatRequest, ContentPart, JsonSchemaFormat, Message, ResponseFormat, Role, Target, Tool,
};
use apex_adapter_openai::{CAPABILITIES, OpenAi};

apex_adapter_kit::fixture_tests!(OpenAi, CAPABILITIES);

fn target(kind: &str, profile: &str, base_url: &str) -> Target {
    Target {
        kind: kind.to_string(),
        profile: profile.to_string(),
        base_url: base_url.to_string(),
        api_key: "test-key".to_string(),
        api_version: None,
        headers: Vec::new(),
    }
}

fn request(model: &str) -> ChatRequest {
    let hi = Message {
        role: Role::User,
        content: vec![ContentPart::Text("hi".to_string())],
        name: None,
    };
    ChatRequest::new(model, vec![hi])
}

/// The fixture runner checks headers that must be present; this checks one that must not be.
#[test]
fn azure_sends_api_key_and_no_authorization() -> Result<(), String> {
    let target = target("azure", "", "https://my-resource.openai.azure.com/");
    let http = OpenAi::build_request(&target, &request("gpt-4o-prod")).map_err(|e| e.message)?;
    let has = |name: &str| {
        http.headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(name))
    };
    assert!(has("api-key"));
    assert!(
        !has("authorization"),
        "azure request carries an Authorization header"
    );
    Ok(())
}

/// Fixtures compare bodies as parsed JSON; JSON text from the client must also keep its bytes
/// (key order, spacing), since with strict structured outputs the model follows the schema's
/// property order.
#[test]
fn schemas_and_extras_travel_verbatim() -> Result<(), String> {
    let parameters = r#"{"type":"object","properties":{"zeta":{"type":"string"},"alpha":{"type":"integer"}},"required":["zeta","alpha"]}"#;
    let schema = r#"{ "type": "object", "properties": { "title": {"type":"string"}, "author": {"type":"string"} } }"#;
    let extra = r#"{"logit_bias": {"50256": -100, "1000": 5}}"#;
    let mut req = request("gpt-4o");
    req.tools = vec![Tool {
        name: "lookup".to_string(),
        description: None,
        parameters: parameters.to_string(),
        strict: None,
    }];
    req.response_format = Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
        name: "book".to_string(),
        schema: schema.to_string(),
        strict: Some(true),
    }));
    req.extra = Some(extra.to_string());
    let http = OpenAi::build_request(
        &target("openai", "openai", "https://api.openai.com/v1"),
        &req,
    )
    .map_err(|e| e.message)?;
    let body = String::from_utf8(http.body).map_err(|e| e.to_string())?;
    assert!(
        body.contains(&format!(r#""parameters":{parameters}"#)),
        "{body}"
    );
    assert!(body.contains(&format!(r#""schema":{schema}"#)), "{body}");
    assert!(
        body.contains(r#""logit_bias":{"50256": -100, "1000": 5}"#),
        "{body}"
    );
    Ok(())
}
