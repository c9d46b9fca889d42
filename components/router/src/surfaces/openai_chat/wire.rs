//! The Chat Completions request, as clients send it.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::surfaces::function_tool::WireTool;

use crate::surfaces::text_or_list::{ListItem, TextOrList};

#[derive(Deserialize)]
pub struct WireRequest {
    pub model: String,
    pub(super) messages: Vec<WireMessage>,
    pub stream: Option<bool>,
    #[serde(default)]
    pub(super) tools: Vec<WireTool>,
    pub(super) tool_choice: Option<WireToolChoice>,
    pub(super) parallel_tool_calls: Option<bool>,
    pub(super) max_tokens: Option<u32>,
    pub(super) max_completion_tokens: Option<u32>,
    pub(super) temperature: Option<f64>,
    pub(super) top_p: Option<f64>,
    pub(super) top_k: Option<u32>,
    pub(super) stop: Option<Stop>,
    pub(super) seed: Option<i64>,
    pub(super) response_format: Option<WireResponseFormat>,
    pub(super) reasoning_effort: Option<String>,
    pub(super) user: Option<String>,
    pub(super) n: Option<u32>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Stop {
    One(String),
    Many(Vec<String>),
}

/// One message, any role (checked in [`to_neutral`], so errors name the field at fault).
#[derive(Deserialize)]
pub(super) struct WireMessage {
    pub(super) role: String,
    pub(super) content: Option<Content>,
    pub(super) name: Option<String>,
    pub(super) tool_calls: Option<Vec<WireToolCall>>,
    pub(super) tool_call_id: Option<String>,
    pub(super) reasoning_content: Option<String>,
}

/// A string, or an array of content parts.
#[derive(Deserialize)]
#[serde(from = "TextOrList<Part>")]
pub(super) enum Content {
    Text(String),
    Parts(Vec<Part>),
}

impl From<TextOrList<Part>> for Content {
    fn from(value: TextOrList<Part>) -> Self {
        match value {
            TextOrList::Text(text) => Content::Text(text),
            TextOrList::List(items) => Content::Parts(items),
        }
    }
}

impl ListItem for Part {
    const NAME: &'static str = "content parts";
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Part {
    Text { text: String },
    ImageUrl { image_url: ImageUrl },
    Refusal { refusal: String },
}

#[derive(Deserialize)]
pub(super) struct ImageUrl {
    pub(super) url: String,
    pub(super) detail: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct WireToolCall {
    pub(super) id: String,
    pub(super) function: WireFunction,
}

#[derive(Deserialize)]
pub(super) struct WireFunction {
    pub(super) name: String,
    #[serde(default)]
    pub(super) arguments: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum WireToolChoice {
    Mode(String),
    Named { function: NamedFunction },
}

#[derive(Deserialize)]
pub(super) struct NamedFunction {
    pub(super) name: String,
}

/// `response_format`: `{"type": "text" | "json_object" | "json_schema", "json_schema": {...}}`.
/// A plain struct, not a tagged enum: serde buffers a tagged enum's content, and the schema's
/// `RawValue` cannot be read back from that buffer.
#[derive(Deserialize)]
pub(super) struct WireResponseFormat {
    #[serde(rename = "type")]
    pub(super) kind: String,
    pub(super) json_schema: Option<WireJsonSchema>,
}

#[derive(Deserialize)]
pub(super) struct WireJsonSchema {
    pub(super) name: String,
    pub(super) schema: Option<Box<RawValue>>,
    pub(super) strict: Option<bool>,
}
