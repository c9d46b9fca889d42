//! Gemini `generateContent` request wire types, and [`RawObject`]: the top-level body and the
//! `generationConfig`, whose values stay JSON text so that verbatim pieces (tool arguments, tool
//! results, extras) are never re-encoded.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::value::RawValue;

pub use apex_adapter_kit::json::RawObject;

use crate::json::Json;

/// One entry of `contents` (or the `systemInstruction`, which has no role).
#[derive(Debug, Serialize)]
pub struct Content<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    pub parts: Vec<Part<'a>>,
}

/// A `Part`: one kind of data, plus the thought flags.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Part<'a> {
    #[serde(flatten)]
    pub data: Data<'a>,
    /// Whether this part is a thought summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thought: Option<bool>,
    /// The signature Gemini attached to this part, sent back untouched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thought_signature: Option<&'a str>,
}

impl<'a> Part<'a> {
    pub fn new(data: Data<'a>) -> Self {
        Self {
            data,
            thought: None,
            thought_signature: None,
        }
    }
}

/// The data of a part (`Part.data`, a union: exactly one field).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Data<'a> {
    Text(&'a str),
    InlineData(Blob<'a>),
    FileData(FileData<'a>),
    FunctionCall(FunctionCall<'a>),
    FunctionResponse(FunctionResponse<'a>),
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Blob<'a> {
    pub mime_type: Cow<'a, str>,
    pub data: Cow<'a, str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileData<'a> {
    pub mime_type: Cow<'a, str>,
    pub file_uri: &'a str,
}

#[derive(Debug, Serialize)]
pub struct FunctionCall<'a> {
    pub name: &'a str,
    /// The call's arguments (a JSON object), embedded verbatim.
    pub args: Box<RawValue>,
}

#[derive(Debug, Serialize)]
pub struct FunctionResponse<'a> {
    pub name: &'a str,
    /// The tool's result as a JSON object.
    pub response: Box<RawValue>,
}

/// One entry of `tools`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool<'a> {
    pub function_declarations: Vec<FunctionDeclaration<'a>>,
}

#[derive(Debug, Serialize)]
pub struct FunctionDeclaration<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    /// The cleaned schema (see `schema.rs`); absent for a function without arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Json>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolConfig<'a> {
    pub function_calling_config: FunctionCallingConfig<'a>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionCallingConfig<'a> {
    /// `AUTO`, `ANY` or `NONE`.
    pub mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_function_names: Option<Vec<&'a str>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThinkingConfig {
    pub thinking_budget: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_thoughts: Option<bool>,
}

/// `functionResponse.response` for a result that is not a JSON object.
#[derive(Debug, Serialize)]
pub struct ResultWrapper<'a> {
    pub result: &'a str,
}

/// `functionResponse.response` for a failed call.
#[derive(Debug, Serialize)]
pub struct ErrorWrapper<T> {
    pub error: T,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parts_serialize_as_one_data_field_plus_flags() {
        let mut part = Part::new(Data::FunctionCall(FunctionCall {
            name: "f",
            args: RawValue::from_string("{\"a\": 1}".to_string()).unwrap(),
        }));
        part.thought_signature = Some("sig");
        assert_eq!(
            serde_json::to_string(&part).unwrap(),
            r#"{"functionCall":{"name":"f","args":{"a": 1}},"thoughtSignature":"sig"}"#
        );
        let mut thought = Part::new(Data::Text("hmm"));
        thought.thought = Some(true);
        assert_eq!(
            serde_json::to_string(&thought).unwrap(),
            r#"{"text":"hmm","thought":true}"#
        );
        let image = Part::new(Data::InlineData(Blob {
            mime_type: "image/png".into(),
            data: "AAA=".into(),
        }));
        assert_eq!(
            serde_json::to_string(&image).unwrap(),
            r#"{"inlineData":{"mimeType":"image/png","data":"AAA="}}"#
        );
    }
}
