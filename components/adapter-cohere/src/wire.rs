//! Cohere Chat API v2 request wire types (`POST /v2/chat`), as documented in the API reference
//! (<https://docs.cohere.com/reference/chat>), and [`RawObject`]: the top-level body, whose values
//! stay JSON text so that verbatim pieces (schemas, extras) are never re-encoded.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::value::RawValue;

pub use apex_adapter_kit::json::RawObject;

/// One entry of `messages`, tagged by `role`.
#[derive(Debug, Serialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Message<'a> {
    System {
        content: Content<'a>,
    },
    User {
        content: Content<'a>,
    },
    Assistant {
        #[serde(skip_serializing_if = "Option::is_none")]
        content: Option<Content<'a>>,
        /// "A chain-of-thought style reflection and plan that the model generates when working
        /// with Tools."
        #[serde(skip_serializing_if = "Option::is_none")]
        tool_plan: Option<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCall<'a>>,
    },
    Tool {
        tool_call_id: &'a str,
        content: Content<'a>,
    },
}

/// A message's `content`: every role takes a plain string or a list of typed parts.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Content<'a> {
    Text(&'a str),
    Parts(Vec<Part<'a>>),
}

/// A typed content part. Which role takes which part: user `text` and `image_url`; assistant
/// `text` and `thinking`; system and tool `text` (tool results also take `document`, unused here).
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part<'a> {
    Text { text: &'a str },
    ImageUrl { image_url: ImageUrl<'a> },
    Thinking { thinking: &'a str },
}

#[derive(Debug, Serialize)]
pub struct ImageUrl<'a> {
    /// "URL of an image. Can be either a base64 data URI or a web URL."
    pub url: Cow<'a, str>,
    /// `auto`, `low` or `high`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'a str>,
}

/// An assistant tool call. `arguments` is a JSON *string* holding the arguments' JSON text.
#[derive(Debug, Serialize)]
pub struct ToolCall<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: FunctionCall<'a>,
}

#[derive(Debug, Serialize)]
pub struct FunctionCall<'a> {
    pub name: &'a str,
    pub arguments: &'a str,
}

/// One entry of `tools`.
#[derive(Debug, Serialize)]
pub struct Tool<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: Function<'a>,
}

#[derive(Debug, Serialize)]
pub struct Function<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    /// The JSON schema, embedded verbatim.
    pub parameters: Box<RawValue>,
}

/// `response_format` for JSON output (`text` is the default and is left out).
#[derive(Debug, Serialize)]
pub struct ResponseFormat {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The JSON schema the output must follow, embedded verbatim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_schema: Option<Box<RawValue>>,
}

/// `thinking`: `{"type": "enabled" | "disabled", "token_budget"?: n}`.
#[derive(Debug, Serialize)]
pub struct Thinking {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_budget: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_serialize_as_documented() -> serde_json::Result<()> {
        let messages = vec![
            Message::User {
                content: Content::Parts(vec![
                    Part::Text { text: "look" },
                    Part::ImageUrl {
                        image_url: ImageUrl {
                            url: Cow::Borrowed("https://x/y.png"),
                            detail: Some("low"),
                        },
                    },
                ]),
            },
            Message::Assistant {
                content: None,
                tool_plan: Some("plan".to_string()),
                tool_calls: vec![ToolCall {
                    id: "c1",
                    kind: "function",
                    function: FunctionCall {
                        name: "f",
                        arguments: "{\"a\": 1}",
                    },
                }],
            },
            Message::Tool {
                tool_call_id: "c1",
                content: Content::Text("ok"),
            },
        ];
        assert_eq!(
            serde_json::to_string(&messages)?,
            concat!(
                r#"[{"role":"user","content":[{"type":"text","text":"look"},"#,
                r#"{"type":"image_url","image_url":{"url":"https://x/y.png","detail":"low"}}]},"#,
                r#"{"role":"assistant","tool_plan":"plan","tool_calls":[{"id":"c1","type":"function","#,
                r#""function":{"name":"f","arguments":"{\"a\": 1}"}}]},"#,
                r#"{"role":"tool","tool_call_id":"c1","content":"ok"}]"#
            )
        );
        Ok(())
    }
}
