//! The Responses API request, as clients send it, and its conversion to the neutral form.

use apex_adapter_kit::types::{
    ChatRequest, ContentPart, Image, ImageSource, JsonSchemaFormat, Message, Reasoning,
    ResponseFormat, Role, Thinking, Tool, ToolCall, ToolChoice, ToolResult, ToolResultPart,
};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::http::error::ApiError;
use crate::surfaces::text_or_list::{ListItem, TextOrList};

/// Separates a namespace from a tool name when namespaced tools are flattened for providers
/// (which accept only `[A-Za-z0-9_-]` names).
pub const NAMESPACE_SEPARATOR: &str = "__";

#[derive(Deserialize)]
pub struct WireRequest {
    pub model: String,
    pub input: Option<Input>,
    pub instructions: Option<String>,
    pub tools: Option<Vec<WireTool>>,
    pub tool_choice: Option<WireToolChoice>,
    pub parallel_tool_calls: Option<bool>,
    pub text: Option<TextConfig>,
    pub reasoning: Option<ReasoningConfig>,
    pub max_output_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub stream: Option<bool>,
    pub store: Option<bool>,
    pub background: Option<bool>,
    pub previous_response_id: Option<String>,
    pub user: Option<String>,
    /// The earlier conversation, put here by the gateway from its store when the request names a
    /// `previous_response_id` (a client cannot gain anything by sending it: it is input like any).
    pub apex_history: Option<Vec<Box<RawValue>>>,
}

/// A string (one user message), or a list of items.
#[derive(Deserialize)]
#[serde(from = "TextOrList<WireItem>")]
pub enum Input {
    Text(String),
    Items(Vec<WireItem>),
}

impl From<TextOrList<WireItem>> for Input {
    fn from(value: TextOrList<WireItem>) -> Self {
        match value {
            TextOrList::Text(text) => Input::Text(text),
            TextOrList::List(items) => Input::Items(items),
        }
    }
}

impl ListItem for WireItem {
    const NAME: &'static str = "input items";
}

/// One input item, any type (checked when converting, so errors name the field).
#[derive(Deserialize)]
pub struct WireItem {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub role: Option<String>,
    pub content: Option<Content>,
    pub call_id: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub arguments: Option<String>,
    pub output: Option<Content>,
    pub summary: Option<Vec<WirePart>>,
    pub encrypted_content: Option<String>,
    pub id: Option<String>,
}

/// Message content or a tool output: a string, or a list of parts.
#[derive(Deserialize)]
#[serde(from = "TextOrList<WirePart>")]
pub enum Content {
    Text(String),
    Parts(Vec<WirePart>),
}

impl From<TextOrList<WirePart>> for Content {
    fn from(value: TextOrList<WirePart>) -> Self {
        match value {
            TextOrList::Text(text) => Content::Text(text),
            TextOrList::List(parts) => Content::Parts(parts),
        }
    }
}

impl ListItem for WirePart {
    const NAME: &'static str = "content parts";
}

#[derive(Deserialize)]
pub struct WirePart {
    #[serde(rename = "type")]
    pub kind: String,
    pub text: Option<String>,
    pub refusal: Option<String>,
    pub image_url: Option<String>,
    pub detail: Option<String>,
    pub file_id: Option<String>,
}

#[derive(Deserialize)]
pub struct WireTool {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub parameters: Option<Box<RawValue>>,
    pub strict: Option<bool>,
    /// The function tools of a `namespace` tool.
    pub tools: Option<Vec<WireTool>>,
}

/// `"auto"`, `"none"`, `"required"`, or `{"type": "function", "name": ...}`.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum WireToolChoice {
    Mode(String),
    Named {
        #[serde(rename = "type")]
        kind: String,
        name: Option<String>,
    },
}

#[derive(Deserialize)]
pub struct TextConfig {
    pub format: Option<WireFormat>,
}

#[derive(Deserialize)]
pub struct WireFormat {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: Option<String>,
    pub schema: Option<Box<RawValue>>,
    pub strict: Option<bool>,
}

#[derive(Deserialize)]
pub struct ReasoningConfig {
    pub effort: Option<String>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message)
}

fn required<T>(value: Option<T>, at: &str, field: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| invalid(format!("Missing required parameter: '{at}.{field}'.")))
}

/// A `tool_choice` that forces a tool the provider would have to run itself (OpenAI's hosted
/// tools): only OpenAI can.
fn hosted_tool(at: &str, kind: &str) -> ApiError {
    invalid(format!(
        "{at}: the built-in `{kind}` tool runs on OpenAI's servers; this model's provider cannot run it, so it cannot be forced. Force a function tool or use `auto`."
    ))
    .code("unsupported_tool")
}

fn image(part: WirePart, at: &str) -> Result<ContentPart, ApiError> {
    if part.file_id.is_some() {
        return Err(invalid(format!(
            "{at}: images by `file_id` need OpenAI's file store; send `image_url` (an https or data: URL)."
        )));
    }
    Ok(ContentPart::Image(Image {
        source: ImageSource::Url(required(part.image_url, at, "image_url")?),
        media_type: None,
        detail: part.detail,
    }))
}

fn message_parts(content: Content, at: &str) -> Result<Vec<ContentPart>, ApiError> {
    match content {
        Content::Text(text) => Ok(vec![ContentPart::Text(text)]),
        Content::Parts(parts) => {
            let mut out = Vec::with_capacity(parts.len());
            for (i, part) in parts.into_iter().enumerate() {
                let at = format!("{at}[{i}]");
                out.push(match part.kind.as_str() {
                    "input_text" | "output_text" | "text" => {
                        ContentPart::Text(required(part.text, &at, "text")?)
                    }
                    "refusal" => ContentPart::Text(required(part.refusal, &at, "refusal")?),
                    "input_image" => image(part, &at)?,
                    other => {
                        return Err(invalid(format!(
                            "{at}.type: `{other}` content is not supported by this gateway's translation; use input_text or input_image."
                        )));
                    }
                });
            }
            Ok(out)
        }
    }
}

fn output_parts(content: Content, at: &str) -> Result<Vec<ToolResultPart>, ApiError> {
    Ok(message_parts(content, at)?
        .into_iter()
        .filter_map(|part| match part {
            ContentPart::Text(text) => Some(ToolResultPart::Text(text)),
            ContentPart::Image(image) => Some(ToolResultPart::Image(image)),
            _ => None,
        })
        .collect())
}

fn message(role: Role, content: Vec<ContentPart>) -> Message {
    Message {
        role,
        content,
        name: None,
    }
}

/// Append assistant content to the conversation: calls, reasoning and text of one turn stay in one
/// assistant message.
fn push_assistant(messages: &mut Vec<Message>, part: ContentPart) {
    match messages.last_mut() {
        Some(last) if last.role == Role::Assistant => last.content.push(part),
        _ => messages.push(message(Role::Assistant, vec![part])),
    }
}

/// Convert the input items, in order.
pub fn items_to_messages(
    items: Vec<WireItem>,
    at: &str,
    messages: &mut Vec<Message>,
) -> Result<(), ApiError> {
    for (i, item) in items.into_iter().enumerate() {
        let at = format!("{at}[{i}]");
        let kind = item.kind.as_deref().unwrap_or("message");
        match kind {
            "message" => {
                let role = required(item.role.as_deref(), &at, "role")?;
                let parts = message_parts(
                    required(item.content, &at, "content")?,
                    &format!("{at}.content"),
                )?;
                match role {
                    "user" => messages.push(message(Role::User, parts)),
                    "system" => messages.push(message(Role::System, parts)),
                    "developer" => messages.push(message(Role::Developer, parts)),
                    "assistant" => {
                        for part in parts {
                            push_assistant(messages, part);
                        }
                    }
                    other => {
                        return Err(invalid(format!(
                            "{at}.role: must be `user`, `assistant`, `system` or `developer`, not `{other}`."
                        )));
                    }
                }
            }
            "function_call" => {
                let name = required(item.name, &at, "name")?;
                let name = match item.namespace {
                    Some(namespace) => format!("{namespace}{NAMESPACE_SEPARATOR}{name}"),
                    None => name,
                };
                push_assistant(
                    messages,
                    ContentPart::ToolCall(ToolCall {
                        id: required(item.call_id, &at, "call_id")?,
                        name,
                        arguments: item.arguments.unwrap_or_default(),
                    }),
                );
            }
            "function_call_output" => {
                let output = required(item.output, &at, "output")?;
                messages.push(message(
                    Role::Tool,
                    vec![ContentPart::ToolResult(ToolResult {
                        call_id: required(item.call_id, &at, "call_id")?,
                        name: None,
                        content: output_parts(output, &format!("{at}.output"))?,
                        is_error: false,
                    })],
                ));
            }
            "reasoning" => {
                let text = item
                    .summary
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|part| part.text)
                    .collect::<Vec<_>>()
                    .join("\n\n");
                // A signature (Anthropic, Gemini) travels as `encrypted_content`.
                let signature = item.encrypted_content.filter(|s| !s.is_empty());
                if !text.is_empty() || signature.is_some() {
                    push_assistant(
                        messages,
                        ContentPart::Thinking(Thinking { text, signature }),
                    );
                }
            }
            // One the gateway could not find in its store (`state::responses` puts the items it
            // finds in place first).
            "item_reference" => {
                return Err(super::reference::not_found(&required(item.id, &at, "id")?));
            }
            other => {
                return Err(invalid(format!(
                    "{at}.type: `{other}` items are not supported by this gateway's translation (messages, function_call, function_call_output, reasoning and item_reference are)."
                )));
            }
        }
    }
    Ok(())
}

fn tools(wire: Vec<WireTool>) -> Result<Vec<Tool>, ApiError> {
    let mut out = Vec::with_capacity(wire.len());
    for (i, tool) in wire.into_iter().enumerate() {
        let at = format!("tools[{i}]");
        match tool.kind.as_str() {
            "function" => out.push(function_tool(tool, &at, None)?),
            // Function tools grouped under a name: flattened as `<namespace>__<name>`.
            "namespace" => {
                let namespace = required(tool.name, &at, "name")?;
                for (j, inner) in tool.tools.unwrap_or_default().into_iter().enumerate() {
                    // Hosted tools are left out (`Routing::hosted_tools` says which).
                    if inner.kind == "function" {
                        let at = format!("{at}.tools[{j}]");
                        out.push(function_tool(inner, &at, Some(&namespace))?);
                    }
                }
            }
            // Hosted tools are left out (`Routing::hosted_tools` says which).
            _ => {}
        }
    }
    Ok(out)
}

fn function_tool(tool: WireTool, at: &str, namespace: Option<&str>) -> Result<Tool, ApiError> {
    let name = required(tool.name, at, "name")?;
    Ok(Tool {
        name: match namespace {
            Some(namespace) => format!("{namespace}{NAMESPACE_SEPARATOR}{name}"),
            None => name,
        },
        description: tool.description,
        parameters: crate::surfaces::function_tool::parameters(tool.parameters),
        strict: tool.strict,
    })
}

/// The whole request in neutral form.
pub fn to_neutral(request: WireRequest) -> Result<ChatRequest, ApiError> {
    if request.background == Some(true) {
        return Err(invalid(
            "Background mode is not offered by this gateway: send the request without `background`.",
        ));
    }
    let mut messages = Vec::new();
    if let Some(instructions) = request.instructions.filter(|i| !i.is_empty()) {
        messages.push(message(Role::System, vec![ContentPart::Text(instructions)]));
    }
    if let Some(history) = request.apex_history {
        let mut items = Vec::with_capacity(history.len());
        for (i, raw) in history.into_iter().enumerate() {
            // The gateway puts its stored conversation here, but a client may send the field
            // itself: an item that is none is the request's fault (400), not the gateway's.
            let item: WireItem = serde_json::from_str(raw.get()).map_err(|e| {
                invalid(format!(
                    "apex_history[{i}] (the conversation before previous_response_id) is not an input item: {e}"
                ))
            })?;
            items.push(item);
        }
        items_to_messages(items, "previous_response_id", &mut messages)?;
    }
    match request.input {
        None => {}
        Some(Input::Text(text)) => {
            messages.push(message(Role::User, vec![ContentPart::Text(text)]))
        }
        Some(Input::Items(items)) => items_to_messages(items, "input", &mut messages)?,
    }
    if !messages.iter().any(|m| m.role != Role::System) {
        return Err(invalid("Missing required parameter: 'input'."));
    }
    let tool_choice = match request.tool_choice {
        None => None,
        Some(WireToolChoice::Mode(mode)) => Some(match mode.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            other => {
                return Err(invalid(format!(
                    "tool_choice: must be `auto`, `none`, `required` or a function, not `{other}`."
                )));
            }
        }),
        Some(WireToolChoice::Named { kind, name }) => match kind.as_str() {
            "function" => Some(ToolChoice::Named(required(name, "tool_choice", "name")?)),
            other => return Err(hosted_tool("tool_choice", other)),
        },
    };
    let response_format = match request.text.and_then(|t| t.format) {
        None => None,
        Some(format) => Some(match format.kind.as_str() {
            "text" => ResponseFormat::Text,
            "json_object" => ResponseFormat::JsonObject,
            "json_schema" => ResponseFormat::JsonSchema(JsonSchemaFormat {
                name: format.name.unwrap_or_else(|| "response".to_string()),
                schema: required(format.schema, "text.format", "schema")?
                    .get()
                    .to_string(),
                strict: format.strict,
            }),
            other => {
                return Err(invalid(format!(
                    "text.format.type: must be `text`, `json_object` or `json_schema`, not `{other}`."
                )));
            }
        }),
    };
    Ok(ChatRequest {
        model: request.model,
        messages,
        tools: tools(request.tools.unwrap_or_default())?,
        tool_choice,
        parallel_tool_calls: request.parallel_tool_calls,
        max_tokens: request.max_output_tokens,
        temperature: request.temperature,
        top_p: request.top_p,
        top_k: None,
        stop: Vec::new(),
        seed: None,
        response_format,
        reasoning: request
            .reasoning
            .and_then(|r| r.effort)
            .map(|effort| Reasoning {
                effort: Some(effort),
                budget_tokens: None,
            }),
        user: request.user,
        stream: request.stream.unwrap_or(false),
        extra: None,
    })
}
