//! Messages requests in neutral form: a user turn's `tool_result` blocks become tool messages,
//! blocks the neutral form cannot carry are `unsupported` (only an Anthropic provider takes them).

use apex_adapter_kit::types::{
    ChatRequest, ContentPart, Image, ImageSource, JsonSchemaFormat, Message, Reasoning,
    ResponseFormat, Role, Thinking, Tool, ToolCall, ToolChoice, ToolResult, ToolResultPart,
};

use super::wire::{TextOrBlocks, WireBlock, WireImageSource, WireRequest};
use crate::http::error::ApiError;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message)
}

/// A block type the neutral form cannot carry: only an Anthropic provider can take it, so the
/// error is `unsupported` (routing moves on to a target that forwards it).
fn only_on_anthropic(at: &str, kind: &str) -> ApiError {
    ApiError::bad_request(format!(
        "{at}: `{kind}` blocks can only be sent to Anthropic providers; this model's provider cannot take them."
    ))
    .code("unsupported")
}

fn required<T>(value: Option<T>, at: &str, field: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| invalid(format!("{at}.{field}: Field required")))
}

fn image(source: Option<WireImageSource>, at: &str) -> Result<Image, ApiError> {
    let source = required(source, at, "source")?;
    match source.kind.as_str() {
        "base64" => Ok(Image {
            source: ImageSource::Base64(required(source.data, at, "source.data")?),
            media_type: source.media_type,
            detail: None,
        }),
        "url" => Ok(Image {
            source: ImageSource::Url(required(source.url, at, "source.url")?),
            media_type: source.media_type,
            detail: None,
        }),
        other => Err(only_on_anthropic(&format!("{at}.source"), other)),
    }
}

fn tool_result(block: WireBlock, at: &str) -> Result<ToolResult, ApiError> {
    let call_id = required(block.tool_use_id, at, "tool_use_id")?;
    let content = match block.content {
        None => Vec::new(),
        Some(TextOrBlocks::Text(text)) => vec![ToolResultPart::Text(text)],
        Some(TextOrBlocks::Blocks(blocks)) => {
            let mut parts = Vec::with_capacity(blocks.len());
            for (i, inner) in blocks.into_iter().enumerate() {
                let at = format!("{at}.content[{i}]");
                parts.push(match inner.kind.as_str() {
                    "text" => ToolResultPart::Text(required(inner.text, &at, "text")?),
                    "image" => ToolResultPart::Image(image(inner.source, &at)?),
                    other => return Err(only_on_anthropic(&at, other)),
                });
            }
            parts
        }
    };
    Ok(ToolResult {
        call_id,
        name: None,
        content,
        is_error: block.is_error.unwrap_or(false),
    })
}

/// Convert one block of an assistant turn.
fn assistant_part(block: WireBlock, at: &str) -> Result<ContentPart, ApiError> {
    Ok(match block.kind.as_str() {
        "text" => ContentPart::Text(required(block.text, at, "text")?),
        "tool_use" => ContentPart::ToolCall(ToolCall {
            id: required(block.id, at, "id")?,
            name: required(block.name, at, "name")?,
            arguments: block
                .input
                .map(|input| input.get().to_string())
                .unwrap_or_else(|| "{}".to_string()),
        }),
        "thinking" => ContentPart::Thinking(Thinking {
            text: required(block.thinking, at, "thinking")?,
            signature: block.signature.filter(|s| !s.is_empty()),
        }),
        "redacted_thinking" => ContentPart::RedactedThinking(required(block.data, at, "data")?),
        "image" | "tool_result" => {
            return Err(invalid(format!(
                "{at}: `{}` blocks are only allowed in user messages",
                block.kind
            )));
        }
        other => return Err(only_on_anthropic(at, other)),
    })
}

/// Convert a user turn: text and images stay one user message; each `tool_result` becomes a tool
/// message, in order.
fn user_turn(content: TextOrBlocks, at: &str, out: &mut Vec<Message>) -> Result<(), ApiError> {
    let blocks = match content {
        TextOrBlocks::Text(text) => {
            out.push(message(Role::User, vec![ContentPart::Text(text)]));
            return Ok(());
        }
        TextOrBlocks::Blocks(blocks) => blocks,
    };
    let mut parts = Vec::new();
    for (i, block) in blocks.into_iter().enumerate() {
        let at = format!("{at}.content[{i}]");
        match block.kind.as_str() {
            "text" => parts.push(ContentPart::Text(required(block.text, &at, "text")?)),
            "image" => parts.push(ContentPart::Image(image(block.source, &at)?)),
            "tool_result" => {
                if !parts.is_empty() {
                    out.push(message(Role::User, std::mem::take(&mut parts)));
                }
                let result = tool_result(block, &at)?;
                out.push(message(Role::Tool, vec![ContentPart::ToolResult(result)]));
            }
            "tool_use" | "thinking" | "redacted_thinking" => {
                return Err(invalid(format!(
                    "{at}: `{}` blocks are only allowed in assistant messages",
                    block.kind
                )));
            }
            other => return Err(only_on_anthropic(&at, other)),
        }
    }
    if !parts.is_empty() {
        out.push(message(Role::User, parts));
    }
    Ok(())
}

fn message(role: Role, content: Vec<ContentPart>) -> Message {
    Message {
        role,
        content,
        name: None,
    }
}

/// The `system` prompt as one text (blocks joined by blank lines).
fn system_text(system: TextOrBlocks) -> Result<String, ApiError> {
    match system {
        TextOrBlocks::Text(text) => Ok(text),
        TextOrBlocks::Blocks(blocks) => {
            let mut texts = Vec::with_capacity(blocks.len());
            for (i, block) in blocks.into_iter().enumerate() {
                let at = format!("system[{i}]");
                if block.kind != "text" {
                    return Err(invalid(format!(
                        "{at}: system blocks must be `text`, not `{}`",
                        block.kind
                    )));
                }
                texts.push(required(block.text, &at, "text")?);
            }
            Ok(texts.join("\n\n"))
        }
    }
}

/// Convert a parsed client request to the neutral form (the model is set later by routing).
pub fn to_neutral(request: WireRequest, needs_max_tokens: bool) -> Result<ChatRequest, ApiError> {
    let max_tokens = match request.max_tokens {
        None if needs_max_tokens => return Err(invalid("max_tokens: Field required")),
        max_tokens => max_tokens,
    };
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if let Some(system) = request.system {
        let text = system_text(system)?;
        if !text.is_empty() {
            messages.push(message(Role::System, vec![ContentPart::Text(text)]));
        }
    }
    for (i, wire) in request.messages.into_iter().enumerate() {
        let at = format!("messages[{i}]");
        match wire.role.as_str() {
            "user" => user_turn(wire.content, &at, &mut messages)?,
            "assistant" => {
                let parts = match wire.content {
                    TextOrBlocks::Text(text) => vec![ContentPart::Text(text)],
                    TextOrBlocks::Blocks(blocks) => {
                        let mut parts = Vec::with_capacity(blocks.len());
                        for (j, block) in blocks.into_iter().enumerate() {
                            parts.push(assistant_part(block, &format!("{at}.content[{j}]"))?);
                        }
                        parts
                    }
                };
                messages.push(message(Role::Assistant, parts));
            }
            // A system message inside the conversation (what Claude Code sends with its
            // mid-conversation-system beta): kept at its position; adapters place it as their
            // provider can (a system message there, or with the system prompt).
            "system" => {
                let text = system_text(wire.content).map_err(|error| ApiError {
                    message: error
                        .message
                        .replacen("system", &format!("{at}.content"), 1),
                    ..error
                })?;
                if !text.is_empty() {
                    messages.push(message(Role::System, vec![ContentPart::Text(text)]));
                }
            }
            other => {
                return Err(invalid(format!(
                    "{at}.role: Input should be 'user' or 'assistant', not `{other}`"
                )));
            }
        }
    }
    let mut tools = Vec::new();
    for (i, tool) in request.tools.unwrap_or_default().into_iter().enumerate() {
        // Server tools are left out (`Routing::hosted_tools` says which).
        if tool.kind.as_deref().is_some_and(|k| k != "custom") {
            continue;
        }
        tools.push(Tool {
            name: tool.name,
            description: tool.description,
            parameters: tool
                .input_schema
                .map(|schema| schema.get().to_string())
                .ok_or_else(|| invalid(format!("tools[{i}].input_schema: Field required")))?,
            strict: None,
        });
    }
    let mut parallel_tool_calls = None;
    let tool_choice = match request.tool_choice {
        None => None,
        Some(choice) => {
            if choice.disable_parallel_tool_use == Some(true) {
                parallel_tool_calls = Some(false);
            }
            Some(match choice.kind.as_str() {
                "auto" => ToolChoice::Auto,
                "any" => ToolChoice::Required,
                "none" => ToolChoice::None,
                "tool" => ToolChoice::Named(
                    choice
                        .name
                        .ok_or_else(|| invalid("tool_choice.name: Field required"))?,
                ),
                other => {
                    return Err(invalid(format!(
                        "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none', not `{other}`"
                    )));
                }
            })
        }
    };
    let response_format = match request
        .output_config
        .and_then(|config| config.format)
        .map(|format| (format, "output_config.format"))
        .or_else(|| {
            request
                .output_format
                .map(|format| (format, "output_format"))
        }) {
        None => None,
        Some((format, at)) => match format.kind.as_str() {
            "json_schema" => Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
                name: "response".to_string(),
                schema: required(format.schema, at, "schema")?.get().to_string(),
                strict: Some(true),
            })),
            other => {
                return Err(invalid(format!(
                    "{at}.type: Input should be 'json_schema', not `{other}`"
                )));
            }
        },
    };
    let reasoning = match request.thinking {
        None => None,
        Some(thinking) => match thinking.kind.as_str() {
            "enabled" => Some(Reasoning {
                effort: None,
                budget_tokens: Some(
                    thinking
                        .budget_tokens
                        .ok_or_else(|| invalid("thinking.budget_tokens: Field required"))?,
                ),
            }),
            "disabled" => None,
            // The provider picks its own budget.
            "adaptive" => Some(Reasoning {
                effort: Some("medium".to_string()),
                budget_tokens: None,
            }),
            other => {
                return Err(invalid(format!(
                    "thinking.type: Input should be 'enabled' or 'disabled', not `{other}`"
                )));
            }
        },
    };
    Ok(ChatRequest {
        model: request.model,
        messages,
        tools,
        tool_choice,
        parallel_tool_calls,
        max_tokens,
        temperature: request.temperature,
        top_p: request.top_p,
        top_k: request.top_k,
        stop: request.stop_sequences.unwrap_or_default(),
        seed: None,
        response_format,
        reasoning,
        user: request.metadata.and_then(|m| m.user_id),
        stream: request.stream.unwrap_or(false),
        extra: None,
    })
}
