//! Neutral request → OpenAI Chat Completions request.

use apex_adapter_kit::http::{join_url, path_segment, post};
use apex_adapter_kit::types::{
    AdapterError, ChatRequest, ContentPart, ErrorKind, HttpRequest, Image, ImageSource, Message,
    ResponseFormat, Role, Target, ToolChoice, ToolResultPart,
};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::profile::{Profile, profile};

const AZURE_API_VERSION: &str = "2024-10-21";

/// Build the upstream HTTP request for `request`.
pub fn build(target: &Target, request: &ChatRequest) -> Result<HttpRequest, AdapterError> {
    let profile = profile(if target.kind == "azure" {
        "azure"
    } else {
        &target.profile
    });
    let body = body(request, profile)?;
    let bytes = serde_json::to_vec(&Node::Object(body))
        .map_err(|e| apex_adapter_kit::error(ErrorKind::InvalidRequest, e.to_string()))?;
    Ok(http_request(
        target,
        "chat/completions",
        &request.model,
        bytes,
    ))
}

/// The HTTP request carrying `body` to `path` (relative to the API root) with this target's auth.
/// On Azure the model names the deployment.
pub fn http_request(target: &Target, path: &str, model: &str, body: Vec<u8>) -> HttpRequest {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    let url = if target.kind == "azure" {
        headers.push(("api-key".to_string(), target.api_key.clone()));
        let version = target.api_version.as_deref().unwrap_or(AZURE_API_VERSION);
        // The Responses API is per resource (the model is in the body), chat per deployment.
        let path = if path.starts_with("responses") {
            format!("openai/{path}")
        } else {
            format!("openai/deployments/{}/{path}", path_segment(model))
        };
        let separator = if path.contains('?') { '&' } else { '?' };
        format!(
            "{}{separator}api-version={version}",
            join_url(&target.base_url, &path)
        )
    } else {
        // A provider without keys (a local server) gets no empty `Bearer`.
        if !target.api_key.is_empty() {
            headers.push((
                "authorization".to_string(),
                format!("Bearer {}", target.api_key),
            ));
        }
        join_url(&target.base_url, path)
    };
    post(target, url, headers, body)
}

/// A node of the upstream body: JSON built here, or JSON text from the client embedded verbatim
/// (schemas, extras), so nothing re-encodes it: key order and formatting reach the provider as sent.
enum Node {
    Json(Value),
    Raw(Box<RawValue>),
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
}

impl Serialize for Node {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Node::Json(value) => value.serialize(serializer),
            Node::Raw(raw) => raw.serialize(serializer),
            Node::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Node::Object(fields) => {
                let mut map = serializer.serialize_map(Some(fields.len()))?;
                for (key, value) in fields {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

fn field(key: &str, value: Value) -> (String, Node) {
    (key.to_string(), Node::Json(value))
}

/// Client JSON text, checked but kept byte for byte.
fn raw_json(text: &str, what: impl FnOnce() -> String) -> Result<Box<RawValue>, AdapterError> {
    RawValue::from_string(text.to_string())
        .map_err(|e| apex_adapter_kit::error(ErrorKind::InvalidRequest, format!("{}: {e}", what())))
}

fn body(request: &ChatRequest, profile: Profile) -> Result<Vec<(String, Node)>, AdapterError> {
    let mut body = Vec::new();
    body.push(field("model", Value::String(request.model.clone())));
    let mut messages = Vec::with_capacity(request.messages.len());
    for message in &request.messages {
        push_message(&mut messages, message, profile);
    }
    body.push(field("messages", Value::Array(messages)));

    if !request.tools.is_empty() {
        let mut tools = Vec::with_capacity(request.tools.len());
        for tool in &request.tools {
            let parameters = raw_json(&tool.parameters, || {
                format!("tool `{}` has invalid parameters JSON", tool.name)
            })?;
            let mut function = vec![field("name", Value::String(tool.name.clone()))];
            if let Some(description) = &tool.description {
                function.push(field("description", Value::String(description.clone())));
            }
            function.push(("parameters".to_string(), Node::Raw(parameters)));
            if let Some(strict) = tool.strict {
                function.push(field("strict", Value::Bool(strict)));
            }
            tools.push(Node::Object(vec![
                field("type", json!("function")),
                ("function".to_string(), Node::Object(function)),
            ]));
        }
        body.push(("tools".to_string(), Node::Array(tools)));
        // OpenAI refuses `tool_choice` and `parallel_tool_calls` without `tools`.
        if let Some(choice) = &request.tool_choice {
            let value = match choice {
                ToolChoice::Auto => json!("auto"),
                ToolChoice::None => json!("none"),
                ToolChoice::Required => json!("required"),
                ToolChoice::Named(name) => json!({"type": "function", "function": {"name": name}}),
            };
            body.push(field("tool_choice", value));
        }
        if let Some(parallel) = request.parallel_tool_calls {
            body.push(field("parallel_tool_calls", Value::Bool(parallel)));
        }
    }
    if let Some(max) = request.max_tokens {
        let name = if profile.max_completion_tokens {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        body.push(field(name, json!(max)));
    }
    if let Some(t) = request.temperature {
        body.push(field("temperature", json!(t)));
    }
    if let Some(p) = request.top_p {
        body.push(field("top_p", json!(p)));
    }
    if !request.stop.is_empty() {
        body.push(field("stop", json!(request.stop)));
    }
    if let Some(seed) = request.seed {
        body.push(field("seed", json!(seed)));
    }
    if let Some(format) = &request.response_format {
        let node = match format {
            ResponseFormat::Text => Node::Json(json!({"type": "text"})),
            ResponseFormat::JsonObject => Node::Json(json!({"type": "json_object"})),
            ResponseFormat::JsonSchema(schema) => {
                let parsed = raw_json(&schema.schema, || {
                    "response_format schema is not valid JSON".to_string()
                })?;
                let mut inner = vec![
                    field("name", Value::String(schema.name.clone())),
                    ("schema".to_string(), Node::Raw(parsed)),
                ];
                if let Some(strict) = schema.strict {
                    inner.push(field("strict", Value::Bool(strict)));
                }
                Node::Object(vec![
                    field("type", json!("json_schema")),
                    ("json_schema".to_string(), Node::Object(inner)),
                ])
            }
        };
        body.push(("response_format".to_string(), node));
    }
    if let Some(effort) = request.reasoning.as_ref().and_then(|r| r.effort.clone())
        && profile.reasoning_effort
    {
        body.push(field("reasoning_effort", Value::String(effort)));
    }
    if let Some(user) = &request.user {
        body.push(field("user", Value::String(user.clone())));
    }
    if request.stream {
        body.push(field("stream", Value::Bool(true)));
        if profile.stream_usage {
            body.push(field("stream_options", json!({"include_usage": true})));
        }
    }
    // Extras never override what the adapter set; their values travel verbatim.
    if let Some(extra) = &request.extra
        && let Ok(extra) =
            serde_json::from_str::<std::collections::BTreeMap<String, Box<RawValue>>>(extra)
    {
        for (key, value) in extra {
            if !body.iter().any(|(k, _)| *k == key) {
                body.push((key, Node::Raw(value)));
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

/// The text parts of a message as one string, separated by a blank line (as for user turns), so
/// separate blocks do not run together.
fn joined_text(parts: &[ContentPart]) -> String {
    parts
        .iter()
        .filter_map(|part| match part {
            ContentPart::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn tool_message(call_id: &str, content: &[ToolResultPart]) -> Value {
    let text = content
        .iter()
        .map(|part| match part {
            ToolResultPart::Text(t) => t.as_str(),
            ToolResultPart::Image(_) => "[image omitted: tool results carry text only here]",
        })
        .collect::<Vec<_>>()
        .join("\n\n");
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
                Value::String(
                    rest.iter()
                        .filter_map(|p| match p {
                            ContentPart::Text(t) => Some(t.as_str()),
                            _ => None,
                        })
                        .collect::<Vec<_>>()
                        .join("\n\n"),
                )
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
                if text.is_empty() && !calls.is_empty() {
                    Value::Null
                } else {
                    Value::String(text)
                },
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
