//! Neutral request → OpenAI Chat Completions request.

use apex_adapter_kit::http::join_url;
use apex_adapter_kit::types::{
    AdapterError, ChatRequest, ContentPart, ErrorKind, HttpRequest, Image, ImageSource, Message,
    ResponseFormat, Role, Target, ToolChoice, ToolResultPart,
};
use serde_json::{Map, Value, json};

use crate::profile::{Profile, profile};

const AZURE_API_VERSION: &str = "2024-10-21";

/// Build the upstream HTTP request for `request`.
pub fn build(target: &Target, request: &ChatRequest) -> Result<HttpRequest, AdapterError> {
    let profile = profile(if target.kind == "azure" { "azure" } else { &target.profile });
    let body = body(request, profile)?;
    let bytes = serde_json::to_vec(&Value::Object(body))
        .map_err(|e| apex_adapter_kit::error(ErrorKind::InvalidRequest, e.to_string()))?;
    Ok(http_request(target, "chat/completions", &request.model, bytes))
}

/// The HTTP request carrying `body` to `path` (relative to the API root) with this target's auth.
/// On Azure the model names the deployment.
pub fn http_request(target: &Target, path: &str, model: &str, body: Vec<u8>) -> HttpRequest {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    let url = if target.kind == "azure" {
        headers.push(("api-key".to_string(), target.api_key.clone()));
        let version = target.api_version.as_deref().unwrap_or(AZURE_API_VERSION);
        format!(
            "{}?api-version={version}",
            join_url(&target.base_url, &format!("openai/deployments/{model}/{path}"))
        )
    } else {
        headers.push(("authorization".to_string(), format!("Bearer {}", target.api_key)));
        join_url(&target.base_url, path)
    };
    headers.extend(target.headers.iter().cloned());
    HttpRequest {
        method: "POST".to_string(),
        url,
        headers,
        body,
    }
}

fn body(request: &ChatRequest, profile: Profile) -> Result<Map<String, Value>, AdapterError> {
    let mut body = Map::new();
    body.insert("model".into(), Value::String(request.model.clone()));
    let mut messages = Vec::with_capacity(request.messages.len());
    for message in &request.messages {
        push_message(&mut messages, message, profile);
    }
    body.insert("messages".into(), Value::Array(messages));

    if !request.tools.is_empty() {
        let mut tools = Vec::with_capacity(request.tools.len());
        for tool in &request.tools {
            let parameters: Value = serde_json::from_str(&tool.parameters).map_err(|e| {
                apex_adapter_kit::error(
                    ErrorKind::InvalidRequest,
                    format!("tool `{}` has invalid parameters JSON: {e}", tool.name),
                )
            })?;
            let mut function = Map::new();
            function.insert("name".into(), Value::String(tool.name.clone()));
            if let Some(description) = &tool.description {
                function.insert("description".into(), Value::String(description.clone()));
            }
            function.insert("parameters".into(), parameters);
            if let Some(strict) = tool.strict {
                function.insert("strict".into(), Value::Bool(strict));
            }
            tools.push(json!({"type": "function", "function": function}));
        }
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = &request.tool_choice {
        let value = match choice {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::None => json!("none"),
            ToolChoice::Required => json!("required"),
            ToolChoice::Named(name) => json!({"type": "function", "function": {"name": name}}),
        };
        body.insert("tool_choice".into(), value);
    }
    if let Some(parallel) = request.parallel_tool_calls {
        if !request.tools.is_empty() {
            body.insert("parallel_tool_calls".into(), Value::Bool(parallel));
        }
    }
    if let Some(max) = request.max_tokens {
        let field = if profile.max_completion_tokens { "max_completion_tokens" } else { "max_tokens" };
        body.insert(field.into(), json!(max));
    }
    if let Some(t) = request.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = request.top_p {
        body.insert("top_p".into(), json!(p));
    }
    if !request.stop.is_empty() {
        body.insert("stop".into(), json!(request.stop));
    }
    if let Some(seed) = request.seed {
        body.insert("seed".into(), json!(seed));
    }
    if let Some(format) = &request.response_format {
        let value = match format {
            ResponseFormat::Text => json!({"type": "text"}),
            ResponseFormat::JsonObject => json!({"type": "json_object"}),
            ResponseFormat::JsonSchema(schema) => {
                let parsed: Value = serde_json::from_str(&schema.schema).map_err(|e| {
                    apex_adapter_kit::error(
                        ErrorKind::InvalidRequest,
                        format!("response_format schema is not valid JSON: {e}"),
                    )
                })?;
                let mut inner = Map::new();
                inner.insert("name".into(), Value::String(schema.name.clone()));
                inner.insert("schema".into(), parsed);
                if let Some(strict) = schema.strict {
                    inner.insert("strict".into(), Value::Bool(strict));
                }
                json!({"type": "json_schema", "json_schema": inner})
            }
        };
        body.insert("response_format".into(), value);
    }
    if let Some(effort) = request.reasoning.as_ref().and_then(|r| r.effort.clone()) {
        if profile.reasoning_effort {
            body.insert("reasoning_effort".into(), Value::String(effort));
        }
    }
    if let Some(user) = &request.user {
        body.insert("user".into(), Value::String(user.clone()));
    }
    if request.stream {
        body.insert("stream".into(), Value::Bool(true));
        if profile.stream_usage {
            body.insert("stream_options".into(), json!({"include_usage": true}));
        }
    }
    if let Some(extra) = &request.extra {
        if let Ok(Value::Object(extra)) = serde_json::from_str::<Value>(extra) {
            for (key, value) in extra {
                body.entry(key).or_insert(value);
            }
        }
    }
    Ok(body)
}

fn image_url(image: &Image) -> Value {
    let url = match &image.source {
        ImageSource::Url(url) => url.clone(),
        ImageSource::Base64(data) => format!(
            "data:{};base64,{data}",
            image.media_type.as_deref().unwrap_or("image/png")
        ),
    };
    let mut inner = Map::new();
    inner.insert("url".into(), Value::String(url));
    if let Some(detail) = &image.detail {
        inner.insert("detail".into(), Value::String(detail.clone()));
    }
    json!({"type": "image_url", "image_url": inner})
}

fn joined_text(parts: &[ContentPart]) -> String {
    let mut text = String::new();
    for part in parts {
        if let ContentPart::Text(t) = part {
            text.push_str(t);
        }
    }
    text
}

fn tool_message(call_id: &str, content: &[ToolResultPart]) -> Value {
    let mut text = String::new();
    for part in content {
        match part {
            ToolResultPart::Text(t) => text.push_str(t),
            ToolResultPart::Image(_) => text.push_str("[image omitted: tool results carry text only here]"),
        }
    }
    json!({"role": "tool", "tool_call_id": call_id, "content": text})
}

fn push_message(out: &mut Vec<Value>, message: &Message, profile: Profile) {
    match message.role {
        Role::System | Role::Developer => {
            let role = if message.role == Role::Developer && profile.developer_role {
                "developer"
            } else {
                "system"
            };
            out.push(json!({"role": role, "content": joined_text(&message.content)}));
        }
        Role::User | Role::Tool => {
            // Tool results become `tool` messages, which must directly follow the assistant turn.
            let mut rest = Vec::new();
            for part in &message.content {
                match part {
                    ContentPart::ToolResult(result) => {
                        out.push(tool_message(&result.call_id, &result.content))
                    }
                    ContentPart::Text(_) | ContentPart::Image(_) => rest.push(part),
                    _ => {}
                }
            }
            if rest.is_empty() {
                return;
            }
            let content = if rest.iter().all(|p| matches!(p, ContentPart::Text(_))) {
                Value::String(rest.iter().filter_map(|p| match p {
                    ContentPart::Text(t) => Some(t.as_str()),
                    _ => None,
                }).collect::<Vec<_>>().join("\n\n"))
            } else {
                Value::Array(
                    rest.iter()
                        .map(|part| match part {
                            ContentPart::Image(image) => image_url(image),
                            ContentPart::Text(t) => json!({"type": "text", "text": t}),
                            _ => Value::Null,
                        })
                        .collect(),
                )
            };
            let mut m = Map::new();
            m.insert("role".into(), json!("user"));
            m.insert("content".into(), content);
            if let Some(name) = &message.name {
                m.insert("name".into(), Value::String(name.clone()));
            }
            out.push(Value::Object(m));
        }
        Role::Assistant => {
            let mut m = Map::new();
            m.insert("role".into(), json!("assistant"));
            let text = joined_text(&message.content);
            let mut calls = Vec::new();
            let mut reasoning = String::new();
            for part in &message.content {
                match part {
                    ContentPart::ToolCall(call) => calls.push(json!({
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.arguments},
                    })),
                    ContentPart::Thinking(thinking) => reasoning.push_str(&thinking.text),
                    _ => {}
                }
            }
            m.insert(
                "content".into(),
                if text.is_empty() && !calls.is_empty() { Value::Null } else { Value::String(text) },
            );
            if profile.reasoning_content && !reasoning.is_empty() {
                m.insert("reasoning_content".into(), Value::String(reasoning));
            }
            if !calls.is_empty() {
                m.insert("tool_calls".into(), Value::Array(calls));
            }
            if let Some(name) = &message.name {
                m.insert("name".into(), Value::String(name.clone()));
            }
            out.push(Value::Object(m));
        }
    }
}

/// The `model` field of a client body (empty when absent).
pub fn model_of(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Model {
        #[serde(default)]
        model: String,
    }
    serde_json::from_slice::<Model>(body).map(|m| m.model).unwrap_or_default()
}
