//! The conversation: neutral messages → Gemini's `systemInstruction` and `contents` (text,
//! images, function calls and responses, thought signatures; see the crate documentation).

use std::borrow::Cow;
use std::collections::BTreeMap;

use apex_adapter_kit::http::parse_data_url;
use apex_adapter_kit::invalid;
use apex_adapter_kit::json::object_or_empty as arguments;
use apex_adapter_kit::types::{
    AdapterError, ChatRequest, ContentPart, ErrorKind, Image, ImageSource, Role, ToolResult,
    ToolResultPart,
};
use serde_json::value::RawValue;

use super::DEFAULT_IMAGE_TYPE;
use crate::wire::{self, Content, Data, Part};

/// The `systemInstruction` parts and the `contents`, with consecutive turns of one role merged.
pub(super) fn conversation(
    request: &ChatRequest,
) -> Result<(Vec<Part<'_>>, Vec<Content<'_>>), AdapterError> {
    let mut system = Vec::new();
    let mut contents: Vec<Content> = Vec::new();
    // The name of each tool call seen so far, by call id (the latest call with an id wins).
    let mut call_names: BTreeMap<&str, &str> = BTreeMap::new();

    for message in &request.messages {
        if matches!(message.role, Role::System | Role::Developer) {
            for part in &message.content {
                if let ContentPart::Text(text) = part
                    && !text.is_empty()
                {
                    system.push(Part::new(Data::Text(text)));
                }
            }
            continue;
        }
        let from_assistant = message.role == Role::Assistant;
        let own_role = if from_assistant { "model" } else { "user" };
        // A signature from an empty thinking part, waiting for the part it belongs to.
        let mut pending: Option<&str> = None;
        for (index, part) in message.content.iter().enumerate() {
            let (role, mut parts) = match part {
                ContentPart::Text(text) if text.is_empty() => continue,
                ContentPart::Text(text) => (own_role, vec![Part::new(Data::Text(text))]),
                ContentPart::Image(image) => (own_role, vec![Part::new(image_data(image)?)]),
                ContentPart::ToolCall(call) => {
                    call_names.insert(&call.id, &call.name);
                    let call = wire::FunctionCall {
                        name: &call.name,
                        args: arguments(&call.arguments),
                    };
                    ("model", vec![Part::new(Data::FunctionCall(call))])
                }
                ContentPart::ToolResult(result) => ("user", tool_result(result, &call_names)?),
                ContentPart::Thinking(thinking) => {
                    if !from_assistant {
                        continue;
                    }
                    let Some(signature) = thinking.signature.as_deref().filter(|s| !s.is_empty())
                    else {
                        // Gemini reads nothing from unsigned thoughts.
                        continue;
                    };
                    // An empty thought carries the signature of the part that follows. So does a
                    // thought summary right before a function call: clients that fold a summary
                    // and the call's signature into one block (Anthropic thinking blocks) would
                    // otherwise move the signature off the call, which Gemini requires there.
                    let next_is_call = matches!(
                        message.content.get(index + 1),
                        Some(ContentPart::ToolCall(_))
                    );
                    if thinking.text.is_empty() || next_is_call {
                        if let Some(earlier) = pending.replace(signature) {
                            push(&mut contents, "model", vec![signature_part(earlier)]);
                        }
                        continue;
                    }
                    let mut thought = Part::new(Data::Text(&thinking.text));
                    thought.thought = Some(true);
                    thought.thought_signature = Some(signature);
                    ("model", vec![thought])
                }
                // Anthropic's opaque thinking means nothing to Gemini.
                ContentPart::RedactedThinking(_) => continue,
            };
            if let Some(signature) = pending.take() {
                match parts.first_mut() {
                    Some(first) if role == "model" && first.thought_signature.is_none() => {
                        first.thought_signature = Some(signature);
                    }
                    _ => push(&mut contents, "model", vec![signature_part(signature)]),
                }
            }
            push(&mut contents, role, parts);
        }
        if let Some(signature) = pending {
            // A signature with no part after it (Gemini sent it on an empty text part).
            push(&mut contents, "model", vec![signature_part(signature)]);
        }
    }

    if validates_signatures(&request.model) {
        for content in &mut contents {
            sign_first_call(content);
        }
    }

    // Function responses lead their turn, right after the calls they answer.
    for content in &mut contents {
        if content.role == Some("user") {
            content
                .parts
                .sort_by_key(|part| !matches!(part.data, Data::FunctionResponse(_)));
        }
    }
    Ok((system, contents))
}

/// Google's documented placeholder for a function call whose signature is gone (a conversation
/// that began on another model, or reasoning the gateway no longer has): the request passes, the
/// model's earlier reasoning is lost.
pub const PLACEHOLDER_SIGNATURE: &str = "skip_thought_signature_validator";

/// Whether `model` rejects a model turn whose first function call has no signature (Gemini 3 and
/// later; 1.x and 2.x models take unsigned calls).
fn validates_signatures(model: &str) -> bool {
    let name = model.rsplit('/').next().unwrap_or(model);
    !(name.starts_with("gemini-1") || name.starts_with("gemini-2"))
}

/// Give a model turn's first function call the placeholder signature when it has none.
fn sign_first_call(content: &mut Content<'_>) {
    if content.role != Some("model") {
        return;
    }
    if let Some(first) = content
        .parts
        .iter_mut()
        .find(|part| matches!(part.data, Data::FunctionCall(_)))
        && first.thought_signature.is_none()
    {
        first.thought_signature = Some(PLACEHOLDER_SIGNATURE);
    }
}

/// Append `parts` to the last content when it has `role`, else as a new content.
fn push<'a>(contents: &mut Vec<Content<'a>>, role: &'static str, parts: Vec<Part<'a>>) {
    match contents.last_mut() {
        Some(last) if last.role == Some(role) => last.parts.extend(parts),
        _ => contents.push(Content {
            role: Some(role),
            parts,
        }),
    }
}

/// An empty text part carrying only a signature, as Gemini sends at the end of some answers.
fn signature_part(signature: &str) -> Part<'_> {
    let mut part = Part::new(Data::Text(""));
    part.thought_signature = Some(signature);
    part
}

fn image_data(image: &Image) -> Result<Data<'_>, AdapterError> {
    match &image.source {
        ImageSource::Base64(data) => Ok(Data::InlineData(wire::Blob {
            mime_type: Cow::Borrowed(
                image
                    .media_type
                    .as_deref()
                    .or_else(|| sniff_media_type(data))
                    .unwrap_or(DEFAULT_IMAGE_TYPE),
            ),
            data: Cow::Borrowed(data),
        })),
        ImageSource::Url(url) => {
            if let Some((media_type, data)) = parse_data_url(url) {
                return Ok(Data::InlineData(wire::Blob {
                    mime_type: Cow::Owned(media_type),
                    data: Cow::Owned(data),
                }));
            }
            let scheme = url
                .split(':')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            if scheme != "http" && scheme != "https" {
                return Err(apex_adapter_kit::error(
                    ErrorKind::Unsupported,
                    "Gemini takes images as base64 data, base64 `data:` URLs or http(s) URLs; \
                     this image URL is none of them",
                ));
            }
            let mime_type = image
                .media_type
                .as_deref()
                .or_else(|| media_type_of_url(url))
                .unwrap_or(DEFAULT_IMAGE_TYPE);
            Ok(Data::FileData(wire::FileData {
                mime_type: Cow::Borrowed(mime_type),
                file_uri: url,
            }))
        }
    }
}

/// The image type a URL's file extension names, if any.
pub(super) fn media_type_of_url(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let file = path.rsplit('/').next().unwrap_or_default();
    let (_, extension) = file.rsplit_once('.')?;
    Some(match extension.to_ascii_lowercase().as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "heic" => "image/heic",
        "heif" => "image/heif",
        _ => return None,
    })
}

/// The image type base64 data starts with (its magic bytes, base64-encoded), if known.
pub(super) fn sniff_media_type(data: &str) -> Option<&'static str> {
    [
        ("iVBORw0KGgo", "image/png"),
        ("/9j/", "image/jpeg"),
        ("R0lGOD", "image/gif"),
        ("UklGR", "image/webp"),
    ]
    .into_iter()
    .find(|(magic, _)| data.starts_with(magic))
    .map(|(_, media_type)| media_type)
}

/// The parts of a user turn answering one tool call: a `functionResponse`, then the result's images
/// as inline data (a function response itself holds JSON only).
fn tool_result<'a>(
    result: &'a ToolResult,
    call_names: &BTreeMap<&str, &'a str>,
) -> Result<Vec<Part<'a>>, AdapterError> {
    let name = match result.name.as_deref().filter(|n| !n.is_empty()) {
        Some(name) => name,
        None => call_names
            .get(result.call_id.as_str())
            .copied()
            .ok_or_else(|| {
                apex_adapter_kit::error(
                    ErrorKind::InvalidRequest,
                    format!(
                        "the tool result for call `{}` answers no earlier tool call, and Gemini \
                         needs the function's name",
                        result.call_id
                    ),
                )
            })?,
    };
    let text = result
        .content
        .iter()
        .filter_map(|part| match part {
            ToolResultPart::Text(text) => Some(text.as_str()),
            ToolResultPart::Image(_) => None,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let response = function_response(&text, result.is_error)?;
    let mut parts = vec![Part::new(Data::FunctionResponse(wire::FunctionResponse {
        name,
        response,
    }))];
    for part in &result.content {
        if let ToolResultPart::Image(image) = part {
            parts.push(Part::new(image_data(image)?));
        }
    }
    Ok(parts)
}

/// `functionResponse.response`: the result itself when it is a JSON object (verbatim), else
/// `{"result": text}`; a failed call's result goes under `error` instead.
pub(super) fn function_response(text: &str, is_error: bool) -> Result<Box<RawValue>, AdapterError> {
    let object = serde_json::from_str::<Box<RawValue>>(text.trim())
        .ok()
        .filter(|raw| raw.get().starts_with('{'));
    let response = match (is_error, object) {
        (false, Some(object)) => return Ok(object),
        (false, None) => serde_json::value::to_raw_value(&wire::ResultWrapper { result: text }),
        (true, Some(object)) => {
            serde_json::value::to_raw_value(&wire::ErrorWrapper { error: object })
        }
        (true, None) => serde_json::value::to_raw_value(&wire::ErrorWrapper { error: text }),
    };
    response.map_err(invalid)
}

#[cfg(test)]
mod tests {
    use super::validates_signatures;

    #[test]
    fn only_models_that_check_signatures_get_the_placeholder() {
        for model in [
            "gemini-3-pro-preview",
            "models/gemini-3.1-flash",
            "gemini-4-argon",
            "my-tuned-model",
        ] {
            assert!(validates_signatures(model), "{model}");
        }
        for model in [
            "gemini-2.5-flash",
            "models/gemini-2.0-flash",
            "gemini-1.5-pro",
        ] {
            assert!(!validates_signatures(model), "{model}");
        }
    }
}
