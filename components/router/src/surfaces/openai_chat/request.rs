//! Chat Completions requests in neutral form.

use apex_adapter_kit::types::{
    ChatRequest, ContentPart, Image, ImageSource, JsonSchemaFormat, Message, Reasoning,
    ResponseFormat, Role, Thinking, ToolCall, ToolChoice, ToolResult, ToolResultPart,
};

use super::wire::{Content, Part, Stop, WireRequest, WireResponseFormat, WireToolChoice};
use crate::http::error::ApiError;
use crate::surfaces::function_tool::WireTool;

fn text_of(content: Content, at: &str) -> Result<String, ApiError> {
    match content {
        Content::Text(text) => Ok(text),
        Content::Parts(parts) => {
            let mut text = String::new();
            for part in parts {
                match part {
                    Part::Text { text: t } | Part::Refusal { refusal: t } => text.push_str(&t),
                    Part::ImageUrl { .. } => {
                        return Err(ApiError::bad_request(format!(
                            "{at}: images are only allowed in user messages"
                        )));
                    }
                }
            }
            Ok(text)
        }
    }
}

fn parts_of(content: Content) -> Vec<ContentPart> {
    match content {
        Content::Text(text) => vec![ContentPart::Text(text)],
        Content::Parts(parts) => parts
            .into_iter()
            .map(|part| match part {
                Part::Text { text } | Part::Refusal { refusal: text } => ContentPart::Text(text),
                Part::ImageUrl { image_url } => ContentPart::Image(Image {
                    source: ImageSource::Url(image_url.url),
                    media_type: None,
                    detail: image_url.detail,
                }),
            })
            .collect(),
    }
}

/// Convert a parsed client request to the neutral form (the model is set later by routing).
pub fn to_neutral(request: WireRequest) -> Result<ChatRequest, ApiError> {
    if request.n.is_some_and(|n| n != 1) {
        return Err(ApiError::bad_request("Only `n: 1` is supported.").param("n"));
    }
    if request.messages.is_empty() {
        return Err(ApiError::bad_request("`messages` must not be empty.").param("messages"));
    }
    let mut messages = Vec::with_capacity(request.messages.len());
    for (i, message) in request.messages.into_iter().enumerate() {
        let at = format!("messages[{i}]");
        let content = message.content;
        let required = |content: Option<Content>| {
            content.ok_or_else(|| {
                ApiError::bad_request(format!("`{at}.content` is required.")).param("messages")
            })
        };
        messages.push(match message.role.as_str() {
            "system" | "developer" => Message {
                role: if message.role == "system" { Role::System } else { Role::Developer },
                content: vec![ContentPart::Text(text_of(required(content)?, &at)?)],
                name: message.name,
            },
            "user" => Message {
                role: Role::User,
                content: parts_of(required(content)?),
                name: message.name,
            },
            "assistant" => {
                let mut parts = Vec::new();
                if let Some(reasoning) = message.reasoning_content.filter(|r| !r.is_empty()) {
                    parts.push(ContentPart::Thinking(Thinking { text: reasoning, signature: None }));
                }
                if let Some(content) = content {
                    let text = text_of(content, &at)?;
                    if !text.is_empty() {
                        parts.push(ContentPart::Text(text));
                    }
                }
                for call in message.tool_calls.unwrap_or_default() {
                    parts.push(ContentPart::ToolCall(ToolCall {
                        id: call.id,
                        name: call.function.name,
                        arguments: call.function.arguments,
                    }));
                }
                Message { role: Role::Assistant, content: parts, name: message.name }
            }
            "tool" => {
                let call_id = message.tool_call_id.ok_or_else(|| {
                    ApiError::bad_request(format!("`{at}.tool_call_id` is required for tool messages.")).param("messages")
                })?;
                Message {
                    role: Role::Tool,
                    content: vec![ContentPart::ToolResult(ToolResult {
                        call_id,
                        name: None,
                        content: vec![ToolResultPart::Text(text_of(required(content)?, &at)?)],
                        is_error: false,
                    })],
                    name: None,
                }
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "`{at}.role` must be `system`, `developer`, `user`, `assistant` or `tool`, not `{other}`."
                ))
                .param("messages"));
            }
        });
    }
    let tools = request.tools.into_iter().map(WireTool::into_tool).collect();
    let tool_choice = match request.tool_choice {
        None => None,
        Some(WireToolChoice::Mode(mode)) => Some(match mode.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            other => {
                return Err(ApiError::bad_request(format!(
                    "`tool_choice` must be `auto`, `none`, `required` or a function, not `{other}`."
                ))
                .param("tool_choice"));
            }
        }),
        Some(WireToolChoice::Named { function }) => Some(ToolChoice::Named(function.name)),
    };
    let response_format = request.response_format.map(response_format).transpose()?;
    Ok(ChatRequest {
        model: request.model,
        messages,
        tools,
        tool_choice,
        parallel_tool_calls: request.parallel_tool_calls,
        max_tokens: request.max_completion_tokens.or(request.max_tokens),
        temperature: request.temperature,
        top_p: request.top_p,
        top_k: request.top_k,
        stop: match request.stop {
            None => Vec::new(),
            Some(Stop::One(s)) => vec![s],
            Some(Stop::Many(v)) => v,
        },
        seed: request.seed,
        response_format,
        reasoning: request.reasoning_effort.map(|effort| Reasoning {
            effort: Some(effort),
            budget_tokens: None,
        }),
        user: request.user,
        stream: request.stream.unwrap_or(false),
        extra: None,
    })
}

/// `response_format` in neutral form, with OpenAI's wording for what it refuses.
fn response_format(format: WireResponseFormat) -> Result<ResponseFormat, ApiError> {
    match format.kind.as_str() {
        "text" => Ok(ResponseFormat::Text),
        "json_object" => Ok(ResponseFormat::JsonObject),
        "json_schema" => {
            let json_schema = format.json_schema.ok_or_else(|| {
                ApiError::bad_request("Missing required parameter: 'response_format.json_schema'.")
                    .param("response_format.json_schema")
                    .code("missing_required_parameter")
            })?;
            Ok(ResponseFormat::JsonSchema(JsonSchemaFormat {
                name: json_schema.name,
                schema: json_schema
                    .schema
                    .map(|s| s.get().to_string())
                    .unwrap_or_else(|| "{}".to_string()),
                strict: json_schema.strict,
            }))
        }
        other => Err(ApiError::bad_request(format!(
            "Invalid value: '{other}'. Supported values are: 'text', 'json_object', and 'json_schema'."
        ))
        .param("response_format.type")
        .code("invalid_value")),
    }
}
