//! Neutral request → Gemini request: `POST {base_url}/models/{model}:generateContent`, or
//! `:streamGenerateContent?alt=sse` for a stream.
//!
//! The conversation (messages → `contents`) is built in `contents.rs`; the body around it, the
//! generation config and the tools here.

mod contents;

use apex_adapter_kit::http::{join_url, path_segment, post};
use apex_adapter_kit::invalid;
use apex_adapter_kit::types::{
    AdapterError, ChatRequest, ErrorKind, HttpRequest, Reasoning, ResponseFormat, Target, Tool,
    ToolChoice,
};
use serde::Deserialize;

use crate::schema;
use crate::wire::{self, Content, RawObject};
use contents::conversation;

/// The media type assumed for an image that names none and whose kind cannot be told.
pub const DEFAULT_IMAGE_TYPE: &str = "image/jpeg";

/// Build the upstream HTTP request for `request`.
pub fn build(target: &Target, request: &ChatRequest) -> Result<HttpRequest, AdapterError> {
    let body = body(request)?;
    let bytes = serde_json::to_vec(&body).map_err(invalid)?;
    let method = if request.stream {
        "streamGenerateContent?alt=sse"
    } else {
        "generateContent"
    };
    let path = format!("{}:{method}", model_path(&request.model));
    Ok(http_request(target, &path, bytes))
}

/// The request asking Gemini to count `request`'s input tokens: `models/{model}:countTokens`
/// with the whole `generateContentRequest` (so system instruction and tools count too).
pub fn build_count(target: &Target, request: &ChatRequest) -> Result<HttpRequest, AdapterError> {
    let mut whole = body(request)?;
    let model = format!(
        "models/{}",
        request
            .model
            .strip_prefix("models/")
            .unwrap_or(&request.model)
    );
    whole.insert("model", &model).map_err(invalid)?;
    let mut count = RawObject::default();
    count
        .insert("generateContentRequest", &whole)
        .map_err(invalid)?;
    let bytes = serde_json::to_vec(&count).map_err(invalid)?;
    let path = format!("{}:countTokens", model_path(&request.model));
    Ok(http_request(target, &path, bytes))
}

/// Gemini's count: `{"totalTokens": N}`.
pub fn parse_count(
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<u32, AdapterError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Count {
        total_tokens: u32,
    }
    let count: Count =
        apex_adapter_kit::http::json_reply(status, headers, body, crate::error::from_reply)?;
    Ok(count.total_tokens)
}

/// The methods a forwarded Gemini API call may name, and the queries it may carry.
const FORWARDED_METHODS: &[&str] = &["generateContent", "streamGenerateContent", "countTokens"];
const FORWARDED_QUERIES: &[&str] = &["", "alt=sse"];

/// A Gemini API client's request, forwarded: `path` is `models/{model}:{method}[?alt=sse]` with
/// the upstream model (encoded here as one segment). The request has no body: the router sends the
/// client's as it is.
pub fn forward(target: &Target, path: &str) -> Result<HttpRequest, AdapterError> {
    let refused = || {
        apex_adapter_kit::error(
            ErrorKind::InvalidRequest,
            "A forwarded Gemini call must be `models/{model}:generateContent`, `:streamGenerateContent` or `:countTokens`.",
        )
    };
    let (call, query) = path.split_once('?').unwrap_or((path, ""));
    let model = call.strip_prefix("models/").ok_or_else(refused)?;
    let (model, method) = model.rsplit_once(':').ok_or_else(refused)?;
    if model.is_empty()
        || !FORWARDED_METHODS.contains(&method)
        || !FORWARDED_QUERIES.contains(&query)
    {
        return Err(refused());
    }
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    let path = format!("{}:{method}{query}", model_path(model));
    Ok(http_request(target, &path, Vec::new()))
}

/// The model's resource path: `models/{model}` with the name as one percent-encoded segment. A name
/// given as `models/x` keeps working (the prefix is not doubled), and `tunedModels/x` names a tuned
/// model.
pub fn model_path(model: &str) -> String {
    match model.strip_prefix("tunedModels/") {
        Some(tuned) => format!("tunedModels/{}", path_segment(tuned)),
        None => format!(
            "models/{}",
            path_segment(model.strip_prefix("models/").unwrap_or(model))
        ),
    }
}

/// The HTTP request carrying `body` to `path` (relative to the base URL) with this target's auth.
/// The key travels in a header, never in the URL, so no error page can echo it back.
pub fn http_request(target: &Target, path: &str, body: Vec<u8>) -> HttpRequest {
    let headers = vec![
        ("x-goog-api-key".to_string(), target.api_key.clone()),
        ("content-type".to_string(), "application/json".to_string()),
    ];
    post(target, join_url(&target.base_url, path), headers, body)
}

/// The part of `extra` merged one level down: its `generationConfig`.
#[derive(Deserialize)]
struct ExtraConfig {
    #[serde(rename = "generationConfig")]
    generation_config: Option<RawObject>,
}

fn body(request: &ChatRequest) -> Result<RawObject, AdapterError> {
    let (system, contents) = conversation(request)?;
    // One budget for inlining `$ref`s across every schema of the request.
    let schemas_len = request
        .tools
        .iter()
        .map(|t| t.parameters.len())
        .sum::<usize>()
        + match &request.response_format {
            Some(ResponseFormat::JsonSchema(format)) => format.schema.len(),
            _ => 0,
        };
    let mut budget = schema::InlineBudget::new(schemas_len);

    let mut body = RawObject::default();
    body.insert("contents", &contents).map_err(invalid)?;
    if !system.is_empty() {
        let instruction = Content {
            role: None,
            parts: system,
        };
        body.insert("systemInstruction", &instruction)
            .map_err(invalid)?;
    }
    if !request.tools.is_empty() {
        let declarations = request
            .tools
            .iter()
            .map(|tool| declaration(tool, &mut budget))
            .collect::<Result<Vec<_>, _>>()?;
        let tools = [wire::Tool {
            function_declarations: declarations,
        }];
        body.insert("tools", &tools).map_err(invalid)?;
        if let Some(choice) = &request.tool_choice {
            body.insert("toolConfig", &tool_config(choice))
                .map_err(invalid)?;
        }
    }

    let extra = request.extra.as_deref().unwrap_or_default();
    let mut config = generation_config(request, &mut budget)?;
    if let Some(config) = config.as_mut()
        && let Ok(ExtraConfig {
            generation_config: Some(more),
        }) = serde_json::from_str(extra)
    {
        // The client's extra settings join the ones built here (which win).
        config.merge_absent(more);
    }
    if let Some(config) = config {
        body.insert("generationConfig", &config).map_err(invalid)?;
    }
    // Only a JSON object can be merged; anything else is ignored, like the other adapters do.
    if let Ok(extra) = serde_json::from_str::<RawObject>(extra) {
        body.merge_absent(extra);
    }
    Ok(body)
}

/// `generationConfig` under construction: the fields, and whether any is set.
#[derive(Default)]
struct Config {
    fields: RawObject,
    any: bool,
}

impl Config {
    fn set<T: serde::Serialize + ?Sized>(
        &mut self,
        key: &str,
        value: &T,
    ) -> Result<(), AdapterError> {
        self.any = true;
        self.fields.insert(key, value).map_err(invalid)
    }
}

/// `generationConfig`, or `None` when the request sets nothing in it.
fn generation_config(
    request: &ChatRequest,
    budget: &mut schema::InlineBudget,
) -> Result<Option<RawObject>, AdapterError> {
    let mut config = Config::default();
    if !request.stop.is_empty() {
        config.set("stopSequences", &request.stop)?;
    }
    if let Some(max) = request.max_tokens {
        config.set("maxOutputTokens", &max)?;
    }
    if let Some(t) = request.temperature {
        config.set("temperature", &t)?;
    }
    if let Some(p) = request.top_p {
        config.set("topP", &p)?;
    }
    if let Some(k) = request.top_k {
        config.set("topK", &k)?;
    }
    if let Some(seed) = request.seed {
        config.set("seed", &seed)?;
    }
    match &request.response_format {
        None | Some(ResponseFormat::Text) => {}
        Some(ResponseFormat::JsonObject) => config.set("responseMimeType", "application/json")?,
        Some(ResponseFormat::JsonSchema(format)) => {
            config.set("responseMimeType", "application/json")?;
            // `responseSchema` (the OpenAPI subset, cleaned) rather than `responseJsonSchema`:
            // the latter takes JSON Schema but only on Gemini 2.5 and later, is documented as
            // supporting a subset of it with no word on what happens to the rest, and excludes
            // `responseSchema`; the cleaned subset works on every model, and tools need the same
            // cleaning anyway.
            let cleaned = schema::response(&format.schema, budget).map_err(|e| {
                apex_adapter_kit::error(
                    ErrorKind::InvalidRequest,
                    format!(
                        "response_format json_schema `{}` is not valid JSON: {e}",
                        format.name
                    ),
                )
            })?;
            if let Some(cleaned) = cleaned {
                config.set("responseSchema", &cleaned)?;
            }
        }
    }
    if let Some(budget) = thinking_budget(request.reasoning.as_ref()) {
        let thinking = wire::ThinkingConfig {
            thinking_budget: budget,
            // Thought summaries come back as `thought` parts; with no budget there are none.
            include_thoughts: (budget > 0).then_some(true),
        };
        config.set("thinkingConfig", &thinking)?;
    }
    Ok(config.any.then_some(config.fields))
}

/// `thinkingBudget`: explicit, or derived from an OpenAI-style effort. The effort budgets are
/// valid on every Gemini 2.5 model (Flash-Lite's minimum is 512, Flash's maximum 24576); `none`
/// asks for no thinking (budget 0), which models that always think refuse.
pub fn thinking_budget(reasoning: Option<&Reasoning>) -> Option<u32> {
    let reasoning = reasoning?;
    if let Some(budget) = reasoning.budget_tokens {
        return Some(budget);
    }
    match reasoning.effort.as_deref()? {
        "none" => Some(0),
        "minimal" => Some(512),
        "low" => Some(1024),
        "medium" => Some(8192),
        "high" | "xhigh" => Some(24576),
        _ => None,
    }
}

fn tool_config(choice: &ToolChoice) -> wire::ToolConfig<'_> {
    let (mode, allowed_function_names) = match choice {
        ToolChoice::Auto => ("AUTO", None),
        ToolChoice::None => ("NONE", None),
        ToolChoice::Required => ("ANY", None),
        ToolChoice::Named(name) => ("ANY", Some(vec![name.as_str()])),
    };
    wire::ToolConfig {
        function_calling_config: wire::FunctionCallingConfig {
            mode,
            allowed_function_names,
        },
    }
}

fn declaration<'a>(
    tool: &'a Tool,
    budget: &mut schema::InlineBudget,
) -> Result<wire::FunctionDeclaration<'a>, AdapterError> {
    let parameters = if tool.parameters.trim().is_empty() {
        None
    } else {
        schema::parameters(&tool.parameters, budget).map_err(|e| {
            apex_adapter_kit::error(
                ErrorKind::InvalidRequest,
                format!("tool `{}` has invalid parameters JSON: {e}", tool.name),
            )
        })?
    };
    Ok(wire::FunctionDeclaration {
        name: &tool.name,
        description: tool.description.as_deref().filter(|d| !d.is_empty()),
        parameters,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::contents::{function_response, media_type_of_url, sniff_media_type};
    use super::*;
    use apex_adapter_kit::json::object_or_empty as arguments;
    use apex_adapter_kit::types::Message;
    use apex_adapter_kit::types::{ContentPart, Role};

    #[test]
    fn model_paths_are_one_segment() {
        assert_eq!(model_path("gemini-2.5-flash"), "models/gemini-2.5-flash");
        assert_eq!(
            model_path("models/gemini-2.5-flash"),
            "models/gemini-2.5-flash"
        );
        assert_eq!(model_path("x/../y?alt=1"), "models/x%2F..%2Fy%3Falt%3D1");
        assert_eq!(model_path("models/"), "models/");
        assert_eq!(model_path("tunedModels/my-model"), "tunedModels/my-model");
    }

    #[test]
    fn unusable_arguments_become_an_empty_object() {
        for text in ["", "  ", "{oops", "[1,2]", "null"] {
            assert_eq!(arguments(text).get(), "{}", "{text:?}");
        }
        assert_eq!(arguments(" {\"a\":1} ").get(), "{\"a\":1}");
    }

    #[test]
    fn function_responses_wrap_what_is_not_an_object() {
        let get = |text: &str, is_error: bool| {
            function_response(text, is_error).unwrap().get().to_string()
        };
        assert_eq!(get(" {\"t\": 1} ", false), "{\"t\": 1}");
        assert_eq!(get("[1]", false), r#"{"result":"[1]"}"#);
        assert_eq!(get("", false), r#"{"result":""}"#);
        assert_eq!(get("boom", true), r#"{"error":"boom"}"#);
        assert_eq!(get("{\"code\":7}", true), r#"{"error":{"code":7}}"#);
    }

    #[test]
    fn image_types_are_named_guessed_or_defaulted() {
        assert_eq!(
            media_type_of_url("https://x/a/cat.PNG?size=2#top"),
            Some("image/png")
        );
        assert_eq!(media_type_of_url("https://x/a.b/cat"), None);
        assert_eq!(
            sniff_media_type("iVBORw0KGgoAAAANSUhEUg"),
            Some("image/png")
        );
        assert_eq!(sniff_media_type("/9j/4AAQ"), Some("image/jpeg"));
        assert_eq!(sniff_media_type("AAAA"), None);
    }

    #[test]
    fn each_signature_lands_on_exactly_one_part() {
        use apex_adapter_kit::types::{Thinking, ToolCall};
        let thinking = |text: &str, sig: &str| {
            ContentPart::Thinking(Thinking {
                text: text.into(),
                signature: Some(sig.into()),
            })
        };
        let call = ContentPart::ToolCall(ToolCall {
            id: "c".into(),
            name: "f".into(),
            arguments: "{}".into(),
        });
        let parts_of = |content: Vec<ContentPart>| {
            let req = ChatRequest::new(
                "m",
                vec![Message {
                    role: Role::Assistant,
                    content,
                    name: None,
                }],
            );
            let built = serde_json::to_value(body(&req).unwrap()).unwrap();
            serde_json::to_string(&built["contents"][0]["parts"]).unwrap()
        };
        // A thought summary folded together with the call's signature (an Anthropic thinking
        // block): the signature still lands on the call.
        assert_eq!(
            parts_of(vec![thinking("", "s1"), thinking("t", "s2"), call.clone()]),
            r#"[{"text":"","thoughtSignature":"s1"},{"functionCall":{"args":{},"name":"f"},"thoughtSignature":"s2"}]"#
        );
        assert_eq!(
            parts_of(vec![thinking("", "s1"), thinking("", "s2"), call]),
            r#"[{"text":"","thoughtSignature":"s1"},{"functionCall":{"args":{},"name":"f"},"thoughtSignature":"s2"}]"#
        );
    }

    #[test]
    fn extras_never_override_built_fields() {
        let mut req = ChatRequest::new(
            "gemini-2.5-flash",
            vec![Message {
                role: Role::User,
                content: vec![ContentPart::Text("hi".into())],
                name: None,
            }],
        );
        req.max_tokens = Some(10);
        req.extra = Some(
            r#"{"contents":[],"safetySettings":[],"generationConfig":{"maxOutputTokens":99,"candidateCount":1}}"#
                .to_string(),
        );
        let built = serde_json::to_value(body(&req).unwrap()).unwrap();
        assert_eq!(built["contents"][0]["parts"][0]["text"], "hi");
        assert_eq!(built["safetySettings"], serde_json::json!([]));
        assert_eq!(
            built["generationConfig"],
            serde_json::json!({"maxOutputTokens": 10, "candidateCount": 1})
        );
        // With nothing built, the client's generationConfig goes through as it is.
        req.max_tokens = None;
        let built = serde_json::to_value(body(&req).unwrap()).unwrap();
        assert_eq!(
            built["generationConfig"],
            serde_json::json!({"maxOutputTokens": 99, "candidateCount": 1})
        );
    }
}
