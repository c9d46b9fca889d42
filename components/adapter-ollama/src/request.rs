//! Neutral request → Ollama request (`POST {base_url}/api/chat`).
//!
//! Mapping choices where Ollama has no direct equivalent:
//! - `tool_choice`: Ollama has none. `auto` sends the tools, `none` leaves them out; `required` and
//!   a named tool cannot be enforced and are refused as `unsupported`.
//! - `parallel_tool_calls` and `user`: Ollama has no such fields; they are ignored.
//! - `reasoning`: `think`. Ollama takes a level string (`low`/`medium`/`high`) only for gpt-oss
//!   models (others answer 400), so the effort becomes a level when the model name contains
//!   `gpt-oss` and `true` otherwise; effort `none` is `false`; a budget alone is `true`.
//! - images: Ollama takes base64 data only, so `http(s)` image URLs are refused as `unsupported`.
//! - `extra`: merged into the body for keys the adapter did not set; its `options` object is merged
//!   key by key into `options` (so `num_ctx` and friends pass through next to `temperature`).

use std::borrow::Cow;
use std::collections::BTreeMap;

use apex_adapter_kit::http::{join_url, parse_data_url, post};
use apex_adapter_kit::json::object_or_empty as arguments;
use apex_adapter_kit::json::tool_parameters;
use apex_adapter_kit::types::{
    AdapterError, ChatRequest, ContentPart, HttpRequest, Image, Message, Reasoning, ResponseFormat,
    Role, Target, Tool, ToolChoice, ToolResult, ToolResultPart,
};
use apex_adapter_kit::{invalid, unsupported};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::wire::{self, RawObject, Think};

/// The path of the chat endpoint, relative to the server root.
pub const CHAT_PATH: &str = "api/chat";

/// Build the upstream HTTP request for `request`.
pub fn build(target: &Target, request: &ChatRequest) -> Result<HttpRequest, AdapterError> {
    let body = body(request)?;
    let bytes = serde_json::to_vec(&body).map_err(invalid)?;
    Ok(http_request(target, bytes))
}

/// The server root for a configured base URL: a trailing `/`, and then a trailing `/v1` (the
/// OpenAI-compatible prefix people often configure for Ollama) or `/api`, are cut off.
pub fn server_root(base_url: &str) -> &str {
    let base = base_url.trim_end_matches('/');
    base.strip_suffix("/v1")
        .or_else(|| base.strip_suffix("/api"))
        .unwrap_or(base)
}

/// The HTTP request carrying `body` to the chat endpoint. `Authorization: Bearer` is sent only
/// when the target has a key: a local Ollama needs none, Ollama's cloud and proxies do.
pub fn http_request(target: &Target, body: Vec<u8>) -> HttpRequest {
    http_request_at(target, CHAT_PATH, body)
}

/// The HTTP request carrying `body` to `path` (relative to the server root), authenticated as
/// [`http_request`] says.
pub fn http_request_at(target: &Target, path: &str, body: Vec<u8>) -> HttpRequest {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    let key = target.api_key.trim();
    if !key.is_empty() {
        headers.push(("authorization".to_string(), format!("Bearer {key}")));
    }
    post(
        target,
        join_url(server_root(&target.base_url), path),
        headers,
        body,
    )
}

/// `options` of an `extra` object, when it is an object.
#[derive(Deserialize)]
struct ExtraOptions {
    options: Option<RawObject>,
}

fn body(request: &ChatRequest) -> Result<RawObject, AdapterError> {
    let send_tools = match &request.tool_choice {
        None | Some(ToolChoice::Auto) => true,
        Some(ToolChoice::None) => false,
        Some(ToolChoice::Required) => {
            return Err(unsupported(
                "tool_choice `required` is not supported for Ollama targets: Ollama cannot force \
                 a tool call (use `auto`)",
            ));
        }
        Some(ToolChoice::Named(name)) => {
            return Err(unsupported(format!(
                "tool_choice naming tool `{name}` is not supported for Ollama targets: Ollama \
                 cannot force a tool call (use `auto`)"
            )));
        }
    };

    let mut body = RawObject::default();
    body.insert("model", &request.model).map_err(invalid)?;
    body.insert("messages", &messages(&request.messages)?)
        .map_err(invalid)?;
    if send_tools && !request.tools.is_empty() {
        let tools = request
            .tools
            .iter()
            .map(tool)
            .collect::<Result<Vec<_>, _>>()?;
        body.insert("tools", &tools).map_err(invalid)?;
    }
    match &request.response_format {
        None | Some(ResponseFormat::Text) => {}
        Some(ResponseFormat::JsonObject) => body.insert("format", "json").map_err(invalid)?,
        Some(ResponseFormat::JsonSchema(format)) => {
            let schema = serde_json::from_str::<Box<RawValue>>(&format.schema).map_err(|e| {
                invalid(format!(
                    "response_format schema `{}` is not valid JSON: {e}",
                    format.name
                ))
            })?;
            body.insert_raw("format".to_string(), schema);
        }
    }

    // Only a JSON object can be merged; anything else is ignored, like the other adapters do.
    let extra = request
        .extra
        .as_deref()
        .and_then(|text| serde_json::from_str::<RawObject>(text).ok());
    let extra_options = request
        .extra
        .as_deref()
        .filter(|_| extra.is_some())
        .and_then(|text| serde_json::from_str::<ExtraOptions>(text).ok())
        .and_then(|e| e.options);
    if let Some(options) = options(request, extra_options)? {
        body.insert("options", &options).map_err(invalid)?;
    }
    if let Some(think) = think(request.reasoning.as_ref(), &request.model) {
        body.insert("think", &think).map_err(invalid)?;
    }
    // Ollama streams unless told otherwise: always say which.
    body.insert("stream", &request.stream).map_err(invalid)?;
    if let Some(extra) = extra {
        body.merge_absent(extra);
    }
    Ok(body)
}

/// `options`: the sampling fields of the request, then the keys of `extra.options` not set by
/// them; `None` when there is nothing to send.
fn options(
    request: &ChatRequest,
    extra: Option<RawObject>,
) -> Result<Option<RawObject>, AdapterError> {
    let mut options = RawObject::default();
    let mut any = false;
    if let Some(n) = request.max_tokens {
        options.insert("num_predict", &n).map_err(invalid)?;
        any = true;
    }
    if let Some(t) = request.temperature {
        options.insert("temperature", &t).map_err(invalid)?;
        any = true;
    }
    if let Some(p) = request.top_p {
        options.insert("top_p", &p).map_err(invalid)?;
        any = true;
    }
    if let Some(k) = request.top_k {
        options.insert("top_k", &k).map_err(invalid)?;
        any = true;
    }
    if !request.stop.is_empty() {
        options.insert("stop", &request.stop).map_err(invalid)?;
        any = true;
    }
    if let Some(seed) = request.seed {
        options.insert("seed", &seed).map_err(invalid)?;
        any = true;
    }
    if let Some(extra) = extra {
        options.merge_absent(extra);
        any = true;
    }
    Ok(any.then_some(options))
}

/// `think` for the request's reasoning settings (see the module docs).
fn think(reasoning: Option<&Reasoning>, model: &str) -> Option<Think> {
    let reasoning = reasoning?;
    let level = match reasoning.effort.as_deref().map(str::to_ascii_lowercase) {
        Some(effort) => match effort.as_str() {
            "none" => return Some(Think::On(false)),
            "minimal" | "low" => Some("low"),
            "medium" => Some("medium"),
            "high" | "xhigh" => Some("high"),
            _ => None,
        },
        None => None,
    };
    let levelled = model.to_ascii_lowercase().contains("gpt-oss");
    Some(match level {
        Some(level) if levelled => Think::Level(level),
        _ => Think::On(true),
    })
}

/// The Ollama messages for the conversation, in order.
fn messages(messages: &[Message]) -> Result<Vec<wire::Message<'_>>, AdapterError> {
    // Tool names by call id, from the calls seen so far (a later call with the same id wins).
    let mut names: BTreeMap<&str, &str> = BTreeMap::new();
    let mut out = Vec::new();
    for message in messages {
        match message.role {
            Role::System | Role::Developer => {
                let mut system = wire::Message::new("system");
                fill(&mut system, &message.content)?;
                if !system.content.is_empty() || !system.images.is_empty() {
                    out.push(system);
                }
            }
            Role::Assistant => {
                let mut assistant = wire::Message::new("assistant");
                fill(&mut assistant, &message.content)?;
                for part in &message.content {
                    if let ContentPart::ToolCall(call) = part {
                        names.insert(&call.id, &call.name);
                        assistant.tool_calls.push(wire::ToolCall {
                            id: Some(call.id.as_str()).filter(|id| !id.is_empty()),
                            function: wire::Function {
                                name: &call.name,
                                arguments: arguments(&call.arguments),
                            },
                        });
                    }
                }
                let thinking = joined(message.content.iter().filter_map(|part| match part {
                    ContentPart::Thinking(thinking) => Some(thinking.text.as_str()),
                    _ => None,
                }));
                assistant.thinking = Some(thinking).filter(|t| !t.is_empty());
                if !assistant.content.is_empty()
                    || assistant.thinking.is_some()
                    || !assistant.images.is_empty()
                    || !assistant.tool_calls.is_empty()
                {
                    out.push(assistant);
                }
            }
            Role::User | Role::Tool => {
                // Tool results become `tool` messages, which must directly follow the assistant
                // turn: they go before the rest of the turn.
                for part in &message.content {
                    if let ContentPart::ToolResult(result) = part {
                        out.push(tool_message(result, &names)?);
                    }
                }
                let role = if message.role == Role::Tool {
                    "tool"
                } else {
                    "user"
                };
                let mut rest = wire::Message::new(role);
                fill(&mut rest, &message.content)?;
                if !rest.content.is_empty() || !rest.images.is_empty() {
                    out.push(rest);
                }
            }
        }
    }
    Ok(out)
}

/// Set `content` (the text parts, joined) and `images` of `message` from `parts`.
fn fill<'a>(message: &mut wire::Message<'a>, parts: &'a [ContentPart]) -> Result<(), AdapterError> {
    message.content = joined(parts.iter().filter_map(|part| match part {
        ContentPart::Text(text) => Some(text.as_str()),
        _ => None,
    }));
    for part in parts {
        if let ContentPart::Image(image) = part {
            message.images.push(image_data(image)?);
        }
    }
    Ok(())
}

/// Non-empty texts separated by a blank line, so separate blocks do not run together.
fn joined<'a>(texts: impl Iterator<Item = &'a str>) -> String {
    texts
        .filter(|text| !text.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// A `tool` message answering one call. The tool's name comes from the result, or else from the
/// earlier call with that id.
fn tool_message<'a>(
    result: &'a ToolResult,
    names: &BTreeMap<&str, &'a str>,
) -> Result<wire::Message<'a>, AdapterError> {
    let mut message = wire::Message::new("tool");
    message.content = joined(result.content.iter().filter_map(|part| match part {
        ToolResultPart::Text(text) => Some(text.as_str()),
        ToolResultPart::Image(_) => None,
    }));
    for part in &result.content {
        if let ToolResultPart::Image(image) = part {
            message.images.push(image_data(image)?);
        }
    }
    message.tool_name = result
        .name
        .as_deref()
        .filter(|name| !name.is_empty())
        .or_else(|| names.get(result.call_id.as_str()).copied());
    message.tool_call_id = Some(result.call_id.as_str()).filter(|id| !id.is_empty());
    Ok(message)
}

/// The base64 payload of an image: Ollama takes nothing else.
fn image_data(image: &Image) -> Result<Cow<'_, str>, AdapterError> {
    use apex_adapter_kit::types::ImageSource as Source;
    match &image.source {
        Source::Base64(data) => Ok(Cow::Borrowed(data)),
        Source::Url(url) => match parse_data_url(url) {
            Some((_, data)) => Ok(Cow::Owned(data)),
            None if url.starts_with("data:") => Err(unsupported(
                "image data URLs must be base64-encoded for Ollama targets",
            )),
            None => Err(unsupported(
                "image URLs are not supported for Ollama targets: Ollama accepts base64 image \
                 data only (send the image inline as a base64 `data:` URL)",
            )),
        },
    }
}

fn tool(tool: &Tool) -> Result<wire::Tool<'_>, AdapterError> {
    // A tool without parameters takes an empty object.
    let parameters = tool_parameters(tool)?;
    Ok(wire::Tool {
        kind: "function",
        function: wire::ToolFunction {
            name: &tool.name,
            description: tool.description.as_deref(),
            parameters,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_lose_slash_v1_and_api() {
        for base in [
            "http://localhost:11434",
            "http://localhost:11434/",
            "http://localhost:11434/v1",
            "http://localhost:11434/v1/",
            "http://localhost:11434/api",
        ] {
            assert_eq!(server_root(base), "http://localhost:11434", "{base}");
        }
        assert_eq!(
            server_root("https://proxy.example/ollama/v1"),
            "https://proxy.example/ollama"
        );
    }

    #[test]
    fn think_levels_only_for_gpt_oss() {
        let effort = |e: &str| Reasoning {
            effort: Some(e.to_string()),
            budget_tokens: None,
        };
        let json = |t: Option<Think>| serde_json::to_string(&t).unwrap_or_default();
        assert_eq!(
            json(think(Some(&effort("high")), "gpt-oss:20b")),
            r#""high""#
        );
        assert_eq!(json(think(Some(&effort("minimal")), "GPT-OSS")), r#""low""#);
        assert_eq!(json(think(Some(&effort("high")), "qwen3:8b")), "true");
        assert_eq!(json(think(Some(&effort("none")), "gpt-oss:20b")), "false");
        let budget = Reasoning {
            effort: None,
            budget_tokens: Some(2048),
        };
        assert_eq!(json(think(Some(&budget), "gpt-oss:20b")), "true");
        assert_eq!(json(think(None, "qwen3")), "null");
    }

    #[test]
    fn unusable_arguments_become_an_empty_object() {
        for text in ["", "  ", "{oops", "[1,2]", "null"] {
            assert_eq!(arguments(text).get(), "{}", "{text:?}");
        }
        assert_eq!(arguments(" {\"a\":1} ").get(), "{\"a\":1}");
    }

    #[test]
    fn extras_never_override_built_fields_but_fill_options() -> Result<(), AdapterError> {
        let mut req = ChatRequest::new("llama3.2", Vec::new());
        req.temperature = Some(0.5);
        req.stream = true;
        req.extra = Some(
            r#"{"model":"other","stream":false,"keep_alive":"10m","options":{"num_ctx":8192,"temperature":1}}"#
                .to_string(),
        );
        let body = serde_json::to_value(body(&req)?).map_err(invalid)?;
        assert_eq!(body["model"], "llama3.2");
        assert_eq!(body["stream"], true);
        assert_eq!(body["keep_alive"], "10m");
        assert_eq!(
            body["options"],
            serde_json::json!({"temperature": 0.5, "num_ctx": 8192})
        );
        Ok(())
    }
}
