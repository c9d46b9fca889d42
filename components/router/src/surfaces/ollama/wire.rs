//! The Ollama request bodies, as clients send them (`POST /api/chat`, `POST /api/generate`).

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::surfaces::function_tool::WireTool;

#[derive(Deserialize)]
pub(super) struct ChatRoutingFields {
    pub(super) model: String,
    pub(super) stream: Option<bool>,
    pub(super) messages: Option<Vec<serde::de::IgnoredAny>>,
}

#[derive(Deserialize)]
pub(super) struct GenerateRoutingFields {
    pub(super) model: String,
    pub(super) stream: Option<bool>,
    pub(super) prompt: Option<String>,
}

/// `POST /api/chat`. `keep_alive`, `truncate`, `shift`, `logprobs` and unknown fields are accepted
/// and ignored.
#[derive(Deserialize)]
pub(super) struct ChatWire {
    pub(super) model: String,
    pub(super) messages: Option<Vec<WireMessage>>,
    pub(super) stream: Option<bool>,
    pub(super) format: Option<Box<RawValue>>,
    pub(super) tools: Option<Vec<WireTool>>,
    pub(super) options: Option<WireOptions>,
    pub(super) think: Option<Think>,
}

/// `POST /api/generate`. `template`, `context` and `keep_alive` are accepted and ignored.
#[derive(Deserialize)]
pub(super) struct GenerateWire {
    pub(super) model: String,
    pub(super) prompt: Option<String>,
    pub(super) suffix: Option<String>,
    pub(super) system: Option<String>,
    pub(super) images: Option<Vec<String>>,
    #[serde(default)]
    pub(super) raw: bool,
    pub(super) stream: Option<bool>,
    pub(super) format: Option<Box<RawValue>>,
    pub(super) options: Option<WireOptions>,
    pub(super) think: Option<Think>,
}

#[derive(Deserialize)]
pub(super) struct WireMessage {
    pub(super) role: String,
    pub(super) content: Option<String>,
    pub(super) thinking: Option<String>,
    pub(super) images: Option<Vec<String>>,
    pub(super) tool_calls: Option<Vec<WireToolCall>>,
    pub(super) tool_name: Option<String>,
    pub(super) tool_call_id: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct WireToolCall {
    pub(super) id: Option<String>,
    pub(super) function: WireCallFunction,
}

#[derive(Deserialize)]
pub(super) struct WireCallFunction {
    pub(super) name: String,
    pub(super) arguments: Option<Box<RawValue>>,
}

/// The `options` the neutral form can carry. Runner and sampler settings it cannot (`num_ctx`,
/// `repeat_penalty`, `min_p`, `mirostat`, ...) are accepted and ignored. Integers are read as
/// numbers, as Ollama does (`100.0` is `100`).
#[derive(Deserialize)]
pub(super) struct WireOptions {
    pub(super) temperature: Option<f64>,
    pub(super) top_p: Option<f64>,
    pub(super) top_k: Option<f64>,
    pub(super) num_predict: Option<f64>,
    pub(super) stop: Option<Vec<String>>,
    pub(super) seed: Option<f64>,
}

/// `think`: `true`/`false`, or an effort level.
pub(super) enum Think {
    Bool(bool),
    Level(String),
}

impl<'de> Deserialize<'de> for Think {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Think;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("true, false, \"low\", \"medium\" or \"high\"")
            }
            fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<Think, E> {
                Ok(Think::Bool(value))
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Think, E> {
                match value {
                    "low" | "medium" | "high" => Ok(Think::Level(value.to_string())),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(value), &self)),
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// The model a client asked for, without Ollama's default tag: `gpt-4o:latest` is `gpt-4o`.
/// Other tags are part of the name.
pub fn model_name(requested: &str) -> &str {
    requested.strip_suffix(":latest").unwrap_or(requested)
}
