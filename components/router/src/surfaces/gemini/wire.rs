//! A `GenerateContentRequest` as Gemini clients send it. Field names are camelCase on the wire;
//! the snake_case spellings the REST API also takes are accepted for the fields clients set at
//! the top (`system_instruction`, `generation_config`, ...). Fields the gateway does not read
//! (`safetySettings`, `cachedContent`, `labels`, ...) are ignored when translating; a forwarded
//! request keeps them.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use serde_json::value::RawValue;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateRequest {
    #[serde(default)]
    pub contents: Vec<Content>,
    #[serde(alias = "system_instruction")]
    pub system_instruction: Option<Content>,
    #[serde(default)]
    pub tools: Vec<Tool>,
    #[serde(alias = "tool_config")]
    pub tool_config: Option<ToolConfig>,
    #[serde(alias = "generation_config")]
    pub generation_config: Option<GenerationConfig>,
}

/// A `countTokens` body: `contents` alone, or a whole `generateContentRequest`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CountTokensRequest {
    #[serde(default)]
    pub contents: Vec<Content>,
    #[serde(alias = "generate_content_request")]
    pub generate_content_request: Option<GenerateRequest>,
}

/// One turn (or the system instruction, whose role is ignored).
#[derive(Debug, Deserialize)]
pub struct Content {
    pub role: Option<String>,
    #[serde(default)]
    pub parts: Vec<Part>,
}

/// A `Part`: one kind of data (the wire allows exactly one), plus the thought flags.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    pub text: Option<String>,
    #[serde(alias = "inline_data")]
    pub inline_data: Option<Blob>,
    #[serde(alias = "file_data")]
    pub file_data: Option<FileData>,
    #[serde(alias = "function_call")]
    pub function_call: Option<FunctionCall>,
    #[serde(alias = "function_response")]
    pub function_response: Option<FunctionResponse>,
    #[serde(alias = "executable_code")]
    pub executable_code: Option<IgnoredAny>,
    #[serde(alias = "code_execution_result")]
    pub code_execution_result: Option<IgnoredAny>,
    /// Whether the part is a thought summary.
    pub thought: Option<bool>,
    #[serde(alias = "thought_signature")]
    pub thought_signature: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Blob {
    #[serde(alias = "mime_type")]
    pub mime_type: Option<String>,
    pub data: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileData {
    #[serde(alias = "mime_type")]
    pub mime_type: Option<String>,
    #[serde(alias = "file_uri")]
    pub file_uri: String,
}

#[derive(Debug, Deserialize)]
pub struct FunctionCall {
    pub id: Option<String>,
    pub name: String,
    /// The arguments (a JSON object), kept as sent.
    pub args: Option<Box<RawValue>>,
}

#[derive(Debug, Deserialize)]
pub struct FunctionResponse {
    pub id: Option<String>,
    pub name: String,
    /// The result (a JSON object), kept as sent.
    pub response: Option<Box<RawValue>>,
}

/// One entry of `tools`: function declarations, or one of Google's hosted tools (every other key).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool {
    #[serde(default, alias = "function_declarations")]
    pub function_declarations: Vec<FunctionDeclaration>,
    /// `googleSearch`, `codeExecution`, `urlContext`, ...: tools only Gemini runs.
    #[serde(flatten)]
    pub hosted: BTreeMap<String, IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionDeclaration {
    pub name: String,
    pub description: Option<String>,
    /// An OpenAPI-subset schema (`"type": "OBJECT"`).
    pub parameters: Option<Value>,
    /// A JSON Schema, kept as sent.
    #[serde(alias = "parameters_json_schema")]
    pub parameters_json_schema: Option<Box<RawValue>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolConfig {
    #[serde(alias = "function_calling_config")]
    pub function_calling_config: Option<FunctionCallingConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionCallingConfig {
    /// `AUTO`, `ANY`, `NONE` (or `VALIDATED`, treated as `AUTO`).
    pub mode: Option<String>,
    #[serde(default, alias = "allowed_function_names")]
    pub allowed_function_names: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationConfig {
    pub temperature: Option<f64>,
    #[serde(alias = "top_p")]
    pub top_p: Option<f64>,
    /// An integer on the wire; some clients send `40.0`.
    #[serde(alias = "top_k")]
    pub top_k: Option<f64>,
    #[serde(alias = "max_output_tokens")]
    pub max_output_tokens: Option<u32>,
    #[serde(default, alias = "stop_sequences")]
    pub stop_sequences: Vec<String>,
    #[serde(alias = "candidate_count")]
    pub candidate_count: Option<u32>,
    pub seed: Option<i64>,
    #[serde(alias = "response_mime_type")]
    pub response_mime_type: Option<String>,
    /// An OpenAPI-subset schema.
    #[serde(alias = "response_schema")]
    pub response_schema: Option<Value>,
    /// A JSON Schema, kept as sent.
    #[serde(alias = "response_json_schema")]
    pub response_json_schema: Option<Box<RawValue>>,
    #[serde(alias = "thinking_config")]
    pub thinking_config: Option<ThinkingConfig>,
}

/// `includeThoughts` is not read: translated answers always carry the reasoning they have.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThinkingConfig {
    /// Tokens; `0` turns thinking off, `-1` lets the model decide.
    #[serde(alias = "thinking_budget")]
    pub thinking_budget: Option<i64>,
    /// `MINIMAL`, `LOW`, `MEDIUM`, `HIGH` (Gemini 3).
    #[serde(alias = "thinking_level")]
    pub thinking_level: Option<String>,
}

/// Google's hosted tool key (`googleSearch`) as a header name part (`google_search`).
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
