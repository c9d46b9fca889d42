//! A `GenerateContentRequest` in neutral form.
//!
//! - Roles: `user` (or none, or the old `function`) → user; `model` → assistant.
//! - Thoughts: consecutive `thought: true` parts are one thinking part (their text joined, the
//!   last signature kept); a `thoughtSignature` on any other part of a model turn becomes an
//!   empty signed thinking part right before it (the Gemini adapter's convention, so a Gemini
//!   provider gets each signature back on its part).
//! - Function-call ids: a call without `id` is named `fc_{turn}_{n}`; a `functionResponse`
//!   without `id` answers the earliest unanswered call of that name (then the earliest
//!   unanswered call), so results always match their calls.
//! - Function results: `{"error": x}` alone is a failed call; `{"output": "text"}` or
//!   `{"result": "text"}` alone is that text; any other object is its JSON text.

use apex_adapter_kit::types::{
    ChatRequest, ContentPart, Image, ImageSource, JsonSchemaFormat, Message, Reasoning,
    ResponseFormat, Role, Thinking, Tool, ToolCall, ToolChoice, ToolResult, ToolResultPart,
};
use serde_json::Value;
use serde_json::value::RawValue;

use super::schema::json_schema;
use super::wire::{Content, FunctionResponse, GenerateRequest, GenerationConfig, Part, ToolConfig};
use crate::http::error::ApiError;
use crate::surfaces::function_tool;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message)
}

/// Convert a parsed request to the neutral form (the model is set by routing).
pub fn to_neutral(request: GenerateRequest, stream: bool) -> Result<ChatRequest, ApiError> {
    if request.contents.is_empty() {
        return Err(invalid(
            "* GenerateContentRequest.contents: contents is not specified",
        ));
    }
    let mut messages = Vec::with_capacity(request.contents.len() + 1);
    if let Some(system) = request.system_instruction {
        let mut parts = Vec::new();
        for (j, part) in system.parts.into_iter().enumerate() {
            match part.text {
                Some(text) => parts.push(ContentPart::Text(text)),
                None => {
                    return Err(invalid(format!(
                        "systemInstruction.parts[{j}]: only text is supported in a system instruction."
                    )));
                }
            }
        }
        if !parts.is_empty() {
            messages.push(message(Role::System, parts));
        }
    }
    let mut calls = Calls::default();
    for (i, content) in request.contents.into_iter().enumerate() {
        turn(i, content, &mut calls, &mut messages)?;
    }

    let mut tools = Vec::new();
    for (i, tool) in request.tools.into_iter().enumerate() {
        for (j, declaration) in tool.function_declarations.into_iter().enumerate() {
            if declaration.name.is_empty() {
                return Err(invalid(format!(
                    "tools[{i}].functionDeclarations[{j}].name: must not be empty."
                )));
            }
            let parameters = match (declaration.parameters_json_schema, declaration.parameters) {
                (Some(schema), _) => lowercase_types(&schema),
                (None, Some(schema)) => json_schema(&schema).to_string(),
                (None, None) => function_tool::parameters(None),
            };
            tools.push(Tool {
                name: declaration.name,
                description: declaration.description,
                parameters,
                strict: None,
            });
        }
    }
    let tool_choice = match request.tool_config {
        Some(config) => tool_choice(config, &tools)?,
        None => None,
    };

    let mut neutral = ChatRequest::new(String::new(), messages);
    neutral.tools = tools;
    neutral.tool_choice = tool_choice;
    neutral.stream = stream;
    generation(request.generation_config.unwrap_or_default(), &mut neutral)?;
    Ok(neutral)
}

fn message(role: Role, content: Vec<ContentPart>) -> Message {
    Message {
        role,
        content,
        name: None,
    }
}

/// The calls of the conversation so far that have no result yet: `(name, id)`.
#[derive(Default)]
struct Calls {
    open: Vec<(String, String)>,
}

impl Calls {
    /// The id a result answers: its own, else the earliest open call of its name, else the
    /// earliest open call.
    fn answer(&mut self, result: &FunctionResponse, fallback: String) -> String {
        let at = match &result.id {
            Some(id) => self.open.iter().position(|(_, open)| open == id),
            None => self
                .open
                .iter()
                .position(|(name, _)| *name == result.name)
                .or(if self.open.is_empty() { None } else { Some(0) }),
        };
        let found = at.map(|at| self.open.remove(at).1);
        match (&result.id, found) {
            (Some(id), _) => id.clone(),
            (None, Some(id)) => id,
            (None, None) => fallback,
        }
    }
}

/// One entry of `contents` as neutral messages (a user turn with function results becomes tool
/// messages for them, in order).
fn turn(
    i: usize,
    content: Content,
    calls: &mut Calls,
    out: &mut Vec<Message>,
) -> Result<(), ApiError> {
    let model = match content.role.as_deref() {
        None | Some("" | "user" | "function" | "tool") => false,
        Some("model") => true,
        Some(other) => {
            return Err(invalid(format!(
                "contents[{i}].role: must be `user` or `model`, not `{other}`."
            )));
        }
    };
    if content.parts.is_empty() {
        return Err(invalid(format!("contents[{i}].parts: must not be empty.")));
    }
    let mut parts: Vec<ContentPart> = Vec::new();
    let mut thought: Option<Thinking> = None;
    let mut n = 0;
    for (j, part) in content.parts.into_iter().enumerate() {
        let at = format!("contents[{i}].parts[{j}]");
        if model && part.thought == Some(true) {
            let current = thought.get_or_insert_with(|| Thinking {
                text: String::new(),
                signature: None,
            });
            current
                .text
                .push_str(part.text.as_deref().unwrap_or_default());
            if part.thought_signature.is_some() {
                current.signature = part.thought_signature;
            }
            continue;
        }
        if let Some(done) = thought.take() {
            parts.push(ContentPart::Thinking(done));
        }
        if model && let Some(signature) = part.thought_signature.clone() {
            parts.push(ContentPart::Thinking(Thinking {
                text: String::new(),
                signature: Some(signature),
            }));
        }
        let Part {
            text,
            inline_data,
            file_data,
            function_call,
            function_response,
            executable_code,
            code_execution_result,
            ..
        } = part;
        if let Some(text) = text {
            if !text.is_empty() {
                parts.push(ContentPart::Text(text));
            }
        } else if let Some(blob) = inline_data {
            parts.push(ContentPart::Image(image(
                &at,
                blob.mime_type,
                ImageSource::Base64(blob.data),
            )?));
        } else if let Some(file) = file_data {
            parts.push(ContentPart::Image(image(
                &at,
                file.mime_type,
                ImageSource::Url(file.file_uri),
            )?));
        } else if let Some(call) = function_call {
            if !model {
                return Err(invalid(format!(
                    "{at}.functionCall: function calls belong in `model` turns."
                )));
            }
            let id = call.id.unwrap_or_else(|| format!("fc_{i}_{n}"));
            n += 1;
            calls.open.push((call.name.clone(), id.clone()));
            parts.push(ContentPart::ToolCall(ToolCall {
                id,
                name: call.name,
                arguments: call
                    .args
                    .map(|args| args.get().to_string())
                    .unwrap_or_else(|| "{}".to_string()),
            }));
        } else if let Some(result) = function_response {
            if model {
                return Err(invalid(format!(
                    "{at}.functionResponse: function responses belong in `user` turns."
                )));
            }
            let call_id = calls.answer(&result, format!("fc_result_{i}_{j}"));
            if !parts.is_empty() {
                out.push(message(Role::User, std::mem::take(&mut parts)));
            }
            let (content, is_error) = result_content(result.response.as_deref());
            out.push(message(
                Role::Tool,
                vec![ContentPart::ToolResult(ToolResult {
                    call_id,
                    name: Some(result.name),
                    content: vec![ToolResultPart::Text(content)],
                    is_error,
                })],
            ));
        } else if executable_code.is_some() || code_execution_result.is_some() {
            // Code Gemini ran for its hosted code-execution tool: only Gemini reads it back.
        } else if model
            && parts
                .last()
                .is_some_and(|p| matches!(p, ContentPart::Thinking(_)))
        {
            // A part that carried only a signature.
        } else {
            return Err(invalid(format!(
                "{at}: a part needs `text`, `inlineData`, `fileData`, `functionCall` or `functionResponse`."
            )));
        }
    }
    if let Some(done) = thought.take() {
        parts.push(ContentPart::Thinking(done));
    }
    if !parts.is_empty() {
        out.push(message(
            if model { Role::Assistant } else { Role::User },
            parts,
        ));
    }
    Ok(())
}

/// An image part (other media cannot be translated).
fn image(at: &str, mime_type: Option<String>, source: ImageSource) -> Result<Image, ApiError> {
    if let Some(kind) = mime_type.as_deref()
        && !kind.starts_with("image/")
    {
        return Err(invalid(format!(
            "{at}: `{kind}` data can only be sent to Gemini models; other providers take images only."
        )));
    }
    Ok(Image {
        source,
        media_type: mime_type,
        detail: None,
    })
}

/// A function's `response` as tool-result text, and whether it reports a failure.
fn result_content(response: Option<&RawValue>) -> (String, bool) {
    let Some(raw) = response else {
        return (String::new(), false);
    };
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(raw.get())
        && map.len() == 1
        && let Some((key, value)) = map.iter().next()
    {
        let text = match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        match key.as_str() {
            "error" => return (text, true),
            "output" | "result" if value.is_string() => return (text, false),
            _ => {}
        }
    }
    (raw.get().to_string(), false)
}

/// `toolConfig.functionCallingConfig` as a tool choice: `ANY` with one allowed name is that
/// tool; with several, any tool (the neutral form has no subset; every tool stays declared, as
/// earlier calls may name them).
fn tool_choice(config: ToolConfig, tools: &[Tool]) -> Result<Option<ToolChoice>, ApiError> {
    let Some(config) = config.function_calling_config else {
        return Ok(None);
    };
    let mode = config.mode.as_deref().unwrap_or("MODE_UNSPECIFIED");
    Ok(match mode {
        "MODE_UNSPECIFIED" => None,
        "AUTO" | "VALIDATED" => Some(ToolChoice::Auto),
        "NONE" => Some(ToolChoice::None),
        "ANY" => {
            let allowed = config.allowed_function_names;
            if allowed.is_empty() {
                Some(ToolChoice::Required)
            } else {
                if let Some(missing) = allowed
                    .iter()
                    .find(|n| !tools.iter().any(|t| &t.name == *n))
                {
                    return Err(invalid(format!(
                        "toolConfig.functionCallingConfig.allowedFunctionNames: `{missing}` is not a declared function."
                    )));
                }
                match allowed.as_slice() {
                    [only] => Some(ToolChoice::Named(only.clone())),
                    _ => Some(ToolChoice::Required),
                }
            }
        }
        other => {
            return Err(invalid(format!(
                "toolConfig.functionCallingConfig.mode: must be AUTO, ANY, NONE or VALIDATED, not `{other}`."
            )));
        }
    })
}

/// `generationConfig` onto the neutral request.
fn generation(config: GenerationConfig, neutral: &mut ChatRequest) -> Result<(), ApiError> {
    if config.candidate_count.is_some_and(|n| n != 1) {
        return Err(invalid(
            "generationConfig.candidateCount: only 1 candidate is supported by this gateway.",
        ));
    }
    neutral.temperature = config.temperature;
    neutral.top_p = config.top_p;
    neutral.top_k = match config.top_k {
        None => None,
        Some(k) if k.is_finite() && k >= 0.0 && k <= f64::from(u32::MAX) => Some(k as u32),
        Some(_) => {
            return Err(invalid(
                "generationConfig.topK: must be a non-negative integer.",
            ));
        }
    };
    neutral.max_tokens = config.max_output_tokens;
    neutral.stop = config.stop_sequences;
    neutral.seed = config.seed;
    let schema = match (config.response_json_schema, config.response_schema) {
        (Some(schema), _) => Some(lowercase_types(&schema)),
        (None, Some(schema)) => Some(json_schema(&schema).to_string()),
        (None, None) => None,
    };
    neutral.response_format = match (config.response_mime_type.as_deref(), schema) {
        (Some("application/json"), Some(schema)) => {
            Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
                name: "response".to_string(),
                schema,
                strict: None,
            }))
        }
        (Some("application/json"), None) => Some(ResponseFormat::JsonObject),
        (None | Some("text/plain"), None) => None,
        (None | Some("text/plain"), Some(_)) => {
            return Err(invalid(
                "generationConfig.responseSchema: needs responseMimeType `application/json`.",
            ));
        }
        (Some(other), _) => {
            return Err(invalid(format!(
                "generationConfig.responseMimeType: `{other}` is not supported; use `application/json` or `text/plain`."
            )));
        }
    };
    if let Some(thinking) = config.thinking_config {
        let effort = match thinking.thinking_level.as_deref() {
            Some(level) => Some(level.to_ascii_lowercase()),
            None if thinking.thinking_budget == Some(0) => Some("none".to_string()),
            None => None,
        };
        let budget = thinking
            .thinking_budget
            .filter(|b| *b > 0)
            .map(|b| u32::try_from(b).unwrap_or(u32::MAX));
        if effort.is_some() || budget.is_some() {
            neutral.reasoning = Some(Reasoning {
                effort,
                budget_tokens: budget,
            });
        }
    }
    Ok(())
}

/// A JSON Schema as Gemini takes it: Google's clients send OpenAPI-style type names there too
/// (Gemini CLI's `"type": "OBJECT"`), which Gemini accepts and JSON Schema providers refuse, so
/// they are lowercased like the rest of [`json_schema`]'s conversion (a proper JSON Schema passes
/// unchanged).
fn lowercase_types(schema: &RawValue) -> String {
    // Rewritten only when something changes: the client's key order (which orders a model's
    // output fields) stays as sent.
    match serde_json::from_str::<Value>(schema.get()) {
        Ok(value) => match json_schema(&value) {
            converted if converted != value => converted.to_string(),
            _ => schema.get().to_string(),
        },
        Err(_) => schema.get().to_string(),
    }
}
