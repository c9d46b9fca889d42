//! The Messages request, as clients send it.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::surfaces::text_or_list::{ListItem, TextOrList};

#[derive(Deserialize)]
pub struct WireRequest {
    pub(super) model: String,
    pub(super) max_tokens: Option<u32>,
    pub(super) messages: Vec<WireMessage>,
    pub(super) system: Option<TextOrBlocks>,
    pub(super) temperature: Option<f64>,
    pub(super) top_p: Option<f64>,
    pub(super) top_k: Option<u32>,
    pub(super) stop_sequences: Option<Vec<String>>,
    pub(super) stream: Option<bool>,
    pub(super) metadata: Option<Metadata>,
    pub(super) tools: Option<Vec<WireTool>>,
    pub(super) tool_choice: Option<WireToolChoice>,
    pub(super) thinking: Option<WireThinking>,
    /// Structured outputs: `output_config.format`, or the beta's `output_format`.
    pub(super) output_config: Option<WireOutputConfig>,
    pub(super) output_format: Option<WireOutputFormat>,
}

#[derive(Deserialize)]
pub(super) struct WireOutputConfig {
    pub(super) format: Option<WireOutputFormat>,
}

#[derive(Deserialize)]
pub(super) struct WireOutputFormat {
    #[serde(rename = "type")]
    pub(super) kind: String,
    pub(super) schema: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
pub(super) struct Metadata {
    pub(super) user_id: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct WireMessage {
    pub(super) role: String,
    pub(super) content: TextOrBlocks,
}

/// One content block, any type (checked when converting, so errors name the field at fault).
/// Fields the neutral form has no place for (`cache_control`, `citations`) are ignored.
#[derive(Deserialize)]
pub(super) struct WireBlock {
    #[serde(rename = "type")]
    pub(super) kind: String,
    pub(super) text: Option<String>,
    pub(super) source: Option<WireImageSource>,
    pub(super) id: Option<String>,
    pub(super) name: Option<String>,
    pub(super) input: Option<Box<RawValue>>,
    pub(super) tool_use_id: Option<String>,
    pub(super) content: Option<TextOrBlocks>,
    pub(super) is_error: Option<bool>,
    pub(super) thinking: Option<String>,
    pub(super) signature: Option<String>,
    pub(super) data: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct WireImageSource {
    #[serde(rename = "type")]
    pub(super) kind: String,
    pub(super) media_type: Option<String>,
    pub(super) data: Option<String>,
    pub(super) url: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct WireTool {
    #[serde(rename = "type")]
    pub(super) kind: Option<String>,
    pub(super) name: String,
    pub(super) description: Option<String>,
    pub(super) input_schema: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
pub(super) struct WireToolChoice {
    #[serde(rename = "type")]
    pub(super) kind: String,
    pub(super) name: Option<String>,
    pub(super) disable_parallel_tool_use: Option<bool>,
}

#[derive(Deserialize)]
pub(super) struct WireThinking {
    #[serde(rename = "type")]
    pub(super) kind: String,
    pub(super) budget_tokens: Option<u32>,
}

/// A string, or an array of content blocks.
#[derive(Deserialize)]
#[serde(from = "TextOrList<WireBlock>")]
pub(super) enum TextOrBlocks {
    Text(String),
    Blocks(Vec<WireBlock>),
}

impl From<TextOrList<WireBlock>> for TextOrBlocks {
    fn from(value: TextOrList<WireBlock>) -> Self {
        match value {
            TextOrList::Text(text) => TextOrBlocks::Text(text),
            TextOrList::List(items) => TextOrBlocks::Blocks(items),
        }
    }
}

impl ListItem for WireBlock {
    const NAME: &'static str = "content blocks";
}
