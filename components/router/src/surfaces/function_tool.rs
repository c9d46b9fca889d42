//! OpenAI-style function tools (`{"type": "function", "function": {...}}`), as Chat Completions
//! and Ollama clients send them, and the parameters schema every surface defaults the same way.

use apex_adapter_kit::types::Tool;
use serde::Deserialize;
use serde_json::value::RawValue;

/// A function tool (`type` is not checked: Ollama does not, and Chat Completions has no other).
#[derive(Deserialize)]
pub struct WireTool {
    pub function: WireToolFunction,
}

#[derive(Deserialize)]
pub struct WireToolFunction {
    pub name: String,
    pub description: Option<String>,
    pub parameters: Option<Box<RawValue>>,
    pub strict: Option<bool>,
}

impl WireTool {
    pub fn into_tool(self) -> Tool {
        Tool {
            name: self.function.name,
            description: self.function.description,
            parameters: parameters(self.function.parameters),
            strict: self.function.strict,
        }
    }
}

/// A tool's parameters schema as JSON text, byte for byte; none given: an object without
/// properties.
pub fn parameters(schema: Option<Box<RawValue>>) -> String {
    schema
        .map(|schema| schema.get().to_string())
        .unwrap_or_else(|| r#"{"type":"object","properties":{}}"#.to_string())
}
