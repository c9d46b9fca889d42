//! Neutral answers as Responses API objects: output items and the response object.

use apex_adapter_kit::types::{ChatResponse, ContentPart, FinishReason, Usage};
use serde_json::{Map, Value, json};

use super::tools;
use crate::surfaces::Routing;

/// The suffix of a response id (`resp_<suffix>`), shared by its items' ids.
fn suffix(id: &str) -> &str {
    id.strip_prefix("resp_").unwrap_or(id)
}

pub(super) fn item_id(prefix: &str, response_id: &str, index: usize) -> String {
    format!("{prefix}_{}{index:02}", suffix(response_id))
}

pub(super) fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({
        "id": id, "type": "message", "status": status, "role": "assistant",
        "content": if status == "in_progress" { json!([]) } else {
            json!([{"type": "output_text", "text": text, "annotations": [], "logprobs": []}])
        },
    })
}

pub(super) fn reasoning_item(id: &str, summary: &[String], signature: Option<&str>) -> Value {
    let mut item = json!({
        "id": id, "type": "reasoning",
        "summary": summary.iter().map(|text| json!({"type": "summary_text", "text": text})).collect::<Vec<_>>(),
    });
    if let Some(signature) = signature {
        item["encrypted_content"] = json!(signature);
    }
    item
}

/// OpenAI's usage object (`input_tokens` counts cached tokens too, like the neutral form).
pub fn usage_json(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": usage.cache_read_tokens.unwrap_or(0)},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens.unwrap_or(0)},
        "total_tokens": u64::from(usage.input_tokens) + u64::from(usage.output_tokens),
    })
}

/// The output items of a whole answer.
pub fn output_items(response: &ChatResponse, id: &str, routing: &Routing) -> Vec<Value> {
    let names = &routing.tool_names;
    let mut items = Vec::new();
    let mut text: Option<String> = None;
    let mut summary: Vec<String> = Vec::new();
    let mut signature: Option<String> = None;
    let mut reasoning = false;
    let flush_text = |items: &mut Vec<Value>, text: &mut Option<String>| {
        if let Some(text) = text.take() {
            let index = items.len();
            items.push(message_item(&item_id("msg", id, index), &text, "completed"));
        }
    };
    let flush_reasoning = |items: &mut Vec<Value>,
                           reasoning: &mut bool,
                           summary: &mut Vec<String>,
                           signature: &mut Option<String>| {
        if std::mem::take(reasoning) {
            let index = items.len();
            items.push(reasoning_item(
                &item_id("rs", id, index),
                summary,
                signature.as_deref(),
            ));
            summary.clear();
            *signature = None;
        }
    };
    for part in &response.content {
        match part {
            ContentPart::Thinking(thinking) => {
                flush_text(&mut items, &mut text);
                if reasoning && signature.is_some() {
                    // A signed block ends its reasoning item.
                    flush_reasoning(&mut items, &mut reasoning, &mut summary, &mut signature);
                }
                reasoning = true;
                if !thinking.text.is_empty() {
                    summary.push(thinking.text.clone());
                }
                if thinking.signature.is_some() {
                    signature.clone_from(&thinking.signature);
                }
            }
            ContentPart::Text(t) if t.is_empty() => {}
            ContentPart::Text(t) => {
                flush_reasoning(&mut items, &mut reasoning, &mut summary, &mut signature);
                text.get_or_insert_with(String::new).push_str(t);
            }
            ContentPart::ToolCall(call) => {
                flush_reasoning(&mut items, &mut reasoning, &mut summary, &mut signature);
                flush_text(&mut items, &mut text);
                let index = items.len();
                items.push(tools::call_item(
                    &item_id(tools::call_prefix(&call.name, names), id, index),
                    &call.id,
                    &call.name,
                    &call.arguments,
                    "completed",
                    names,
                ));
            }
            _ => {}
        }
    }
    flush_reasoning(&mut items, &mut reasoning, &mut summary, &mut signature);
    flush_text(&mut items, &mut text);
    items
}

/// `status` and `incomplete_details` for a finish reason.
pub(super) fn status(finish: FinishReason) -> (&'static str, Value) {
    match finish {
        FinishReason::Length => ("incomplete", json!({"reason": "max_output_tokens"})),
        FinishReason::ContentFilter => ("incomplete", json!({"reason": "content_filter"})),
        _ => ("completed", Value::Null),
    }
}

/// Where a response stands: what a response object reports besides the request's settings.
pub struct State<'a> {
    pub status: &'a str,
    pub output: Vec<Value>,
    pub usage: Option<&'a Usage>,
    /// `{code, message}` of a failed response.
    pub error: Value,
    /// `{reason}` of an incomplete one.
    pub incomplete: Value,
}

/// The response object: the request's echoed settings, then what happened.
pub fn response_object(
    id: &str,
    created: u64,
    model: &str,
    routing: &Routing,
    state: State,
) -> Value {
    let State {
        status,
        output,
        usage,
        error,
        incomplete,
    } = state;
    let mut object = Map::new();
    object.insert("id".into(), json!(id));
    object.insert("object".into(), json!("response"));
    object.insert("created_at".into(), json!(created));
    object.insert("status".into(), json!(status));
    object.insert("background".into(), json!(false));
    object.insert("error".into(), error);
    object.insert("incomplete_details".into(), incomplete);
    if let Value::Object(echo) = &routing.echo {
        for (key, value) in echo {
            object.insert(key.clone(), value.clone());
        }
    }
    object.insert("model".into(), json!(model));
    object.insert("output".into(), Value::Array(output));
    object.insert("usage".into(), usage.map_or(Value::Null, usage_json));
    Value::Object(object)
}

/// A whole answer as a response object.
pub fn render(
    response: &ChatResponse,
    id: &str,
    model: &str,
    created: u64,
    routing: &Routing,
) -> Value {
    let (status, incomplete) = status(response.finish_reason);
    response_object(
        id,
        created,
        model,
        routing,
        State {
            status,
            output: output_items(response, id, routing),
            usage: response.usage.as_ref(),
            error: Value::Null,
            incomplete,
        },
    )
}
