//! Neutral request → Cohere Chat API v2 request (`POST {base_url}/chat`).
//!
//! Conventions where the neutral form and Cohere differ (Cohere's reference is silent on each
//! unless said otherwise):
//! - `developer` messages become `system` messages; participant `name`s and `user` are dropped
//!   (Cohere has no such fields, and it rejects unknown fields with 422).
//! - A named `tool_choice` has no Cohere form: it becomes `REQUIRED` with only that tool in
//!   `tools`. `auto` is Cohere's default and is left out; without tools, `tool_choice` is left out.
//! - `parallel_tool_calls: false` has no Cohere form and is ignored: the model may still answer
//!   with several calls.
//! - `strict_tools` is request-wide: it is sent when every tool asks for `strict`.
//! - Tool results become `tool` messages whose content is a string (one text part) or a list of
//!   `text` parts; images in tool results cannot be expressed (`unsupported`), and `is_error` has
//!   no field (the result text is sent as is).
//! - Assistant reasoning goes back as `thinking` content parts; on a turn that calls tools it goes
//!   in `tool_plan` instead, Cohere's documented companion of `tool_calls` (its replies carry their
//!   tool plan there, and the adapter reads it as thinking). Signatures and Anthropic's redacted
//!   thinking have no Cohere form and are dropped.
//! - JSON schemas (tool parameters, `response_format`) travel verbatim. Cohere documents JSON
//!   Schema features it does not support in structured outputs (composition, numeric and length
//!   ranges, `additionalProperties`, ...) without saying they are rejected, so nothing is removed.

use std::borrow::Cow;

use apex_adapter_kit::http::{join_url, post};
use apex_adapter_kit::json::tool_parameters;
use apex_adapter_kit::types::{
    AdapterError, ChatRequest, ContentPart, HttpRequest, Image, ImageSource, Message, Reasoning,
    ResponseFormat, Role, Target, Tool, ToolChoice, ToolResult, ToolResultPart,
};
use apex_adapter_kit::{invalid, unsupported};
use serde_json::value::RawValue;

use crate::wire::{self, Content, Part, RawObject};

/// Build the upstream HTTP request for `request`.
pub fn build(target: &Target, request: &ChatRequest) -> Result<HttpRequest, AdapterError> {
    let body = body(request)?;
    let bytes = serde_json::to_vec(&body).map_err(invalid)?;
    Ok(http_request(target, bytes, request.stream))
}

/// The HTTP request carrying `body` to `{base_url}/chat` with this target's auth.
pub fn http_request(target: &Target, body: Vec<u8>, stream: bool) -> HttpRequest {
    let accept = if stream {
        "text/event-stream"
    } else {
        "application/json"
    };
    let headers = vec![
        (
            "authorization".to_string(),
            format!("Bearer {}", target.api_key),
        ),
        ("content-type".to_string(), "application/json".to_string()),
        ("accept".to_string(), accept.to_string()),
    ];
    post(target, join_url(&target.base_url, "chat"), headers, body)
}

fn body(request: &ChatRequest) -> Result<RawObject, AdapterError> {
    let (tools, tool_choice) = tools_and_choice(request)?;
    let response_format = response_format(request.response_format.as_ref())?;
    if response_format.is_some() && !tools.is_empty() {
        // "The parameter is not supported when used in combinations with the `documents` or
        // `tools` parameters."
        return Err(unsupported(
            "Cohere does not support response_format together with tools",
        ));
    }
    let messages = conversation(request)?;

    let mut body = RawObject::default();
    body.insert("model", &request.model).map_err(invalid)?;
    body.insert("messages", &messages).map_err(invalid)?;
    if !tools.is_empty() {
        let wire_tools = tools
            .iter()
            .map(|t| tool(t))
            .collect::<Result<Vec<_>, _>>()?;
        body.insert("tools", &wire_tools).map_err(invalid)?;
        if tools.iter().all(|t| t.strict == Some(true)) {
            body.insert("strict_tools", &true).map_err(invalid)?;
        }
    }
    if let Some(choice) = tool_choice {
        body.insert("tool_choice", choice).map_err(invalid)?;
    }
    if let Some(format) = &response_format {
        body.insert("response_format", format).map_err(invalid)?;
    }
    if let Some(max_tokens) = request.max_tokens {
        body.insert("max_tokens", &max_tokens).map_err(invalid)?;
    }
    if let Some(t) = request.temperature {
        body.insert("temperature", &t).map_err(invalid)?;
    }
    if let Some(p) = request.top_p {
        body.insert("p", &p).map_err(invalid)?;
    }
    if let Some(k) = request.top_k {
        body.insert("k", &k).map_err(invalid)?;
    }
    if !request.stop.is_empty() {
        body.insert("stop_sequences", &request.stop)
            .map_err(invalid)?;
    }
    if let Some(seed) = request.seed {
        body.insert("seed", &seed).map_err(invalid)?;
    }
    if let Some(thinking) = thinking(request.reasoning.as_ref()) {
        body.insert("thinking", &thinking).map_err(invalid)?;
    }
    // The reference marks `stream` as required: it is always sent.
    body.insert("stream", &request.stream).map_err(invalid)?;
    if let Some(extra) = &request.extra {
        // Only a JSON object can be merged; anything else is ignored, like the other adapters do.
        if let Ok(extra) = serde_json::from_str::<RawObject>(extra) {
            body.merge_absent(extra);
        }
    }
    Ok(body)
}

/// The tools to send and the `tool_choice` value.
fn tools_and_choice(
    request: &ChatRequest,
) -> Result<(Vec<&Tool>, Option<&'static str>), AdapterError> {
    let all: Vec<&Tool> = request.tools.iter().collect();
    if all.is_empty() {
        // `REQUIRED` needs tools, and `NONE` or a name mean nothing without them.
        return Ok((all, None));
    }
    Ok(match &request.tool_choice {
        None | Some(ToolChoice::Auto) => (all, None),
        Some(ToolChoice::None) => (all, Some("NONE")),
        Some(ToolChoice::Required) => (all, Some("REQUIRED")),
        Some(ToolChoice::Named(name)) => {
            let Some(tool) = request.tools.iter().find(|t| &t.name == name) else {
                return Err(invalid(format!(
                    "tool_choice names `{name}`, which is not among the request's tools"
                )));
            };
            (vec![tool], Some("REQUIRED"))
        }
    })
}

fn tool(tool: &Tool) -> Result<wire::Tool<'_>, AdapterError> {
    // `parameters` is required: a tool without parameters takes an empty object.
    let parameters = tool_parameters(tool)?;
    Ok(wire::Tool {
        kind: "function",
        function: wire::Function {
            name: &tool.name,
            description: tool.description.as_deref(),
            parameters,
        },
    })
}

/// `response_format` for JSON output. Cohere has one JSON type (`json_object`) with an optional
/// schema; the schema's `name` and `strict` have no Cohere field (a given schema is enforced).
fn response_format(
    format: Option<&ResponseFormat>,
) -> Result<Option<wire::ResponseFormat>, AdapterError> {
    let json_schema = match format {
        None | Some(ResponseFormat::Text) => return Ok(None),
        Some(ResponseFormat::JsonObject) => None,
        Some(ResponseFormat::JsonSchema(format)) if format.schema.trim().is_empty() => None,
        Some(ResponseFormat::JsonSchema(format)) => Some(
            serde_json::from_str::<Box<RawValue>>(&format.schema).map_err(|e| {
                invalid(format!(
                    "response_format schema `{}` is invalid JSON: {e}",
                    format.name
                ))
            })?,
        ),
    };
    Ok(Some(wire::ResponseFormat {
        kind: "json_object",
        json_schema,
    }))
}

/// The `thinking` setting: an explicit budget, or one derived from an OpenAI-style effort. Cohere
/// documents no effort levels; its guidance is unlimited thinking (enabled without a budget),
/// used for `high`, and a budget of 0 or effort `none` turns thinking off. Without `reasoning`
/// the model's default applies (reasoning models think by default).
fn thinking(reasoning: Option<&Reasoning>) -> Option<wire::Thinking> {
    let reasoning = reasoning?;
    let enabled = |token_budget| wire::Thinking {
        kind: "enabled",
        token_budget,
    };
    let disabled = wire::Thinking {
        kind: "disabled",
        token_budget: None,
    };
    if let Some(budget) = reasoning.budget_tokens {
        // "must be set to a positive integer"
        return Some(if budget == 0 {
            disabled
        } else {
            enabled(Some(budget))
        });
    }
    match reasoning.effort.as_deref()? {
        "none" => Some(disabled),
        "minimal" | "low" => Some(enabled(Some(1024))),
        "medium" => Some(enabled(Some(4096))),
        "high" | "xhigh" => Some(enabled(None)),
        _ => None,
    }
}

/// The Cohere `messages`, one or more per neutral message, in order.
fn conversation(request: &ChatRequest) -> Result<Vec<wire::Message<'_>>, AdapterError> {
    let mut messages = Vec::with_capacity(request.messages.len());
    for message in &request.messages {
        match message.role {
            Role::System | Role::Developer => {
                let parts = message
                    .content
                    .iter()
                    .filter_map(|part| match part {
                        ContentPart::Text(text) if !text.is_empty() => Some(Part::Text { text }),
                        _ => None,
                    })
                    .collect();
                if let Some(content) = content(parts) {
                    messages.push(wire::Message::System { content });
                }
            }
            Role::Assistant => {
                if let Some(assistant) = assistant(message) {
                    messages.push(assistant);
                }
            }
            Role::User | Role::Tool => user(message, &mut messages)?,
        }
    }
    Ok(messages)
}

/// `parts` as a message content: a plain string for a lone text part.
fn content(mut parts: Vec<Part<'_>>) -> Option<Content<'_>> {
    match parts.as_slice() {
        [] => None,
        [Part::Text { .. }] => match parts.pop() {
            Some(Part::Text { text }) => Some(Content::Text(text)),
            _ => None,
        },
        _ => Some(Content::Parts(parts)),
    }
}

/// An assistant turn: text and thinking in `content`, tool calls in `tool_calls` (with the
/// thinking in `tool_plan`); `None` when nothing is left. Images have no assistant form.
fn assistant(message: &Message) -> Option<wire::Message<'_>> {
    let tool_calls: Vec<wire::ToolCall> = message
        .content
        .iter()
        .filter_map(|part| match part {
            ContentPart::ToolCall(call) => Some(wire::ToolCall {
                id: &call.id,
                kind: "function",
                function: wire::FunctionCall {
                    name: &call.name,
                    // A call without arguments takes an empty object.
                    arguments: if call.arguments.trim().is_empty() {
                        "{}"
                    } else {
                        &call.arguments
                    },
                },
            }),
            _ => None,
        })
        .collect();
    let with_calls = !tool_calls.is_empty();
    let mut plan: Vec<&str> = Vec::new();
    let mut parts = Vec::new();
    for part in &message.content {
        match part {
            ContentPart::Text(text) if !text.is_empty() => parts.push(Part::Text { text }),
            ContentPart::Thinking(thinking) if !thinking.text.is_empty() => {
                if with_calls {
                    plan.push(&thinking.text);
                } else {
                    parts.push(Part::Thinking {
                        thinking: &thinking.text,
                    });
                }
            }
            _ => {}
        }
    }
    let content = content(parts);
    let tool_plan = (!plan.is_empty()).then(|| plan.join("\n\n"));
    if content.is_none() && tool_plan.is_none() && tool_calls.is_empty() {
        return None;
    }
    Some(wire::Message::Assistant {
        content,
        tool_plan,
        tool_calls,
    })
}

/// A user (or tool) turn: each tool result becomes a `tool` message, then the rest of the turn a
/// `user` message.
fn user<'a>(
    message: &'a Message,
    messages: &mut Vec<wire::Message<'a>>,
) -> Result<(), AdapterError> {
    let mut parts = Vec::new();
    for part in &message.content {
        match part {
            ContentPart::ToolResult(result) => messages.push(tool_result(result)?),
            ContentPart::Text(text) if !text.is_empty() => parts.push(Part::Text { text }),
            ContentPart::Image(image) => parts.push(Part::ImageUrl {
                image_url: image_url(image),
            }),
            // Calls and reasoning only exist in assistant turns.
            _ => {}
        }
    }
    if let Some(content) = content(parts) {
        messages.push(wire::Message::User { content });
    }
    Ok(())
}

fn tool_result(result: &ToolResult) -> Result<wire::Message<'_>, AdapterError> {
    let mut parts = Vec::with_capacity(result.content.len());
    for part in &result.content {
        match part {
            ToolResultPart::Text(text) if text.is_empty() => {}
            ToolResultPart::Text(text) => parts.push(Part::Text { text }),
            ToolResultPart::Image(_) => {
                return Err(unsupported(
                    "Cohere tool results take text only, not images",
                ));
            }
        }
    }
    Ok(wire::Message::Tool {
        tool_call_id: &result.call_id,
        // `content` is required: a result without content is an empty string.
        content: content(parts).unwrap_or(Content::Text("")),
    })
}

/// An image as Cohere's `image_url`: an http(s) or data URL as given, base64 bytes as a data URL.
fn image_url(image: &Image) -> wire::ImageUrl<'_> {
    let url = match &image.source {
        ImageSource::Url(url) => Cow::Borrowed(url.as_str()),
        ImageSource::Base64(data) => Cow::Owned(format!(
            "data:{};base64,{data}",
            image.media_type.as_deref().unwrap_or("image/png")
        )),
    };
    wire::ImageUrl {
        url,
        detail: image.detail.as_deref(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> ChatRequest {
        ChatRequest::new("command-a-03-2025", Vec::new())
    }

    #[test]
    fn extras_never_override_built_fields() -> Result<(), AdapterError> {
        let mut req = request();
        req.extra = Some(r#"{"model":"other","safety_mode":"STRICT"}"#.to_string());
        let body = serde_json::to_value(body(&req)?).map_err(invalid)?;
        assert_eq!(body["model"], "command-a-03-2025");
        assert_eq!(body["safety_mode"], "STRICT");
        assert_eq!(body["stream"], false);
        Ok(())
    }

    #[test]
    fn thinking_budgets_and_efforts() {
        let of = |effort: Option<&str>, budget: Option<u32>| {
            let reasoning = Reasoning {
                effort: effort.map(str::to_string),
                budget_tokens: budget,
            };
            thinking(Some(&reasoning)).map(|t| (t.kind, t.token_budget))
        };
        assert_eq!(of(None, Some(2048)), Some(("enabled", Some(2048))));
        assert_eq!(of(Some("high"), Some(0)), Some(("disabled", None)));
        assert_eq!(of(Some("none"), None), Some(("disabled", None)));
        assert_eq!(of(Some("low"), None), Some(("enabled", Some(1024))));
        assert_eq!(of(Some("high"), None), Some(("enabled", None)));
        assert_eq!(of(Some("turbo"), None), None);
        assert!(thinking(None).is_none());
    }

    #[test]
    fn lone_text_is_a_string_and_empty_turns_vanish() -> Result<(), AdapterError> {
        let mut req = request();
        req.messages = vec![
            Message {
                role: Role::User,
                content: vec![ContentPart::Text("hi".into())],
                name: Some("ada".into()),
            },
            Message {
                role: Role::Assistant,
                content: vec![ContentPart::Text(String::new())],
                name: None,
            },
        ];
        let body = serde_json::to_value(body(&req)?).map_err(invalid)?;
        assert_eq!(
            body["messages"],
            serde_json::json!([{"role": "user", "content": "hi"}])
        );
        Ok(())
    }
}
