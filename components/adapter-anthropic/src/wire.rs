//! Anthropic Messages request wire types, and [`RawObject`]: the top-level body, whose values stay
//! JSON text so that verbatim pieces (tool arguments, schemas, extras) are never re-encoded.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::value::RawValue;

pub use apex_adapter_kit::json::RawObject;

/// One entry of `messages`.
#[derive(Debug, Serialize)]
pub struct Message<'a> {
    pub role: &'static str,
    pub content: Vec<Block<'a>>,
}

/// A content block of a request message (or of `system`, text only).
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block<'a> {
    Text {
        text: &'a str,
    },
    Image {
        source: ImageSource<'a>,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        /// The call's arguments, embedded verbatim.
        input: Box<RawValue>,
    },
    ToolResult {
        tool_use_id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        content: Option<ToolResultContent<'a>>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        is_error: bool,
    },
    Thinking {
        thinking: &'a str,
        signature: &'a str,
    },
    RedactedThinking {
        data: &'a str,
    },
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImageSource<'a> {
    Base64 {
        media_type: Cow<'a, str>,
        data: Cow<'a, str>,
    },
    Url {
        url: &'a str,
    },
}

/// `tool_result.content`: a string, or text and image blocks.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ToolResultContent<'a> {
    Text(&'a str),
    Blocks(Vec<Block<'a>>),
}

#[derive(Debug, Serialize)]
pub struct Tool<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    /// The JSON schema, embedded verbatim.
    pub input_schema: Box<RawValue>,
}

#[derive(Debug, Serialize)]
pub struct ToolChoice<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_parallel_tool_use: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct Thinking {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub budget_tokens: u32,
}

/// `output_config` (structured outputs).
#[derive(Debug, Serialize)]
pub struct OutputConfig {
    pub format: OutputFormat,
}

#[derive(Debug, Serialize)]
pub struct OutputFormat {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub schema: Box<serde_json::value::RawValue>,
}

#[derive(Debug, Serialize)]
pub struct Metadata<'a> {
    pub user_id: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_object_keeps_order_and_text() -> serde_json::Result<()> {
        let mut extra: RawObject =
            serde_json::from_str(r#"{"b": 1.50, "a": {"x":"é"}, "model": "no"}"#)?;
        extra.insert("c", &true)?;
        let mut body = RawObject::default();
        body.insert("model", "m")?;
        body.merge_absent(extra);
        assert_eq!(
            serde_json::to_string(&body)?,
            r#"{"model":"m","b":1.50,"a":{"x":"é"},"c":true}"#
        );
        Ok(())
    }
}
