//! Ollama `/api/chat` request wire types, and [`RawObject`]: the top-level body and its `options`,
//! whose values stay JSON text so that verbatim pieces (tool arguments, schemas, extras) are never
//! re-encoded.
//!
//! Field names are those of Ollama's API reference (`docs/api.md`, "Generate a chat completion")
//! and of its `api/types.go` (`Message`, `ToolCall`, `ToolCallFunction`).

use std::borrow::Cow;

use serde::Serialize;
use serde_json::value::RawValue;

pub use apex_adapter_kit::json::RawObject;

/// One entry of `messages`.
#[derive(Debug, Serialize)]
pub struct Message<'a> {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: &'static str,
    /// The message text (Ollama takes a plain string, never parts).
    pub content: String,
    /// The model's earlier reasoning, on assistant messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
    /// Base64 image data, without any `data:` prefix.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall<'a>>,
    /// On `tool` messages: the name of the tool that produced this result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<&'a str>,
    /// On `tool` messages: the id of the call answered (newer Ollama versions; older ones ignore it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<&'a str>,
}

impl Message<'_> {
    /// An empty message of `role`.
    pub fn new(role: &'static str) -> Self {
        Self {
            role,
            content: String::new(),
            thinking: None,
            images: Vec::new(),
            tool_calls: Vec::new(),
            tool_name: None,
            tool_call_id: None,
        }
    }
}

/// A call the assistant made, as sent back in the history.
#[derive(Debug, Serialize)]
pub struct ToolCall<'a> {
    /// The call's id (newer Ollama versions; older ones ignore it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    pub function: Function<'a>,
}

#[derive(Debug, Serialize)]
pub struct Function<'a> {
    pub name: &'a str,
    /// The arguments as a JSON object (not a string, unlike OpenAI), embedded verbatim.
    pub arguments: Box<RawValue>,
}

/// One entry of `tools`.
#[derive(Debug, Serialize)]
pub struct Tool<'a> {
    /// Always `function`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: ToolFunction<'a>,
}

#[derive(Debug, Serialize)]
pub struct ToolFunction<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    /// The JSON schema, embedded verbatim.
    pub parameters: Box<RawValue>,
}

/// `think`: a switch, or a level (`low`, `medium`, `high`) for models that take one (gpt-oss).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Think {
    On(bool),
    Level(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_fields_are_left_out() -> serde_json::Result<()> {
        let mut message = Message::new("user");
        message.content = "hi".to_string();
        assert_eq!(
            serde_json::to_string(&message)?,
            r#"{"role":"user","content":"hi"}"#
        );
        assert_eq!(serde_json::to_string(&Think::Level("low"))?, r#""low""#);
        assert_eq!(serde_json::to_string(&Think::On(true))?, "true");
        Ok(())
    }
}
