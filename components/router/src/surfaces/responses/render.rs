//! Neutral answers as Responses API objects: output items, the response object, and the event
//! stream (`response.created` … `response.completed`, with `sequence_number`s).

use apex_adapter_kit::types::{ChatResponse, ContentPart, FinishReason, StreamEvent, Usage};
use serde_json::{Map, Value, json};

use super::wire::NAMESPACE_SEPARATOR;
use crate::http::error::ApiError;
use crate::surfaces::{Routing, StreamWriter};

/// The suffix of a response id (`resp_<suffix>`), shared by its items' ids.
fn suffix(id: &str) -> &str {
    id.strip_prefix("resp_").unwrap_or(id)
}

fn item_id(prefix: &str, response_id: &str, index: usize) -> String {
    format!("{prefix}_{}{index:02}", suffix(response_id))
}

/// The namespaces the request declared (their flattened tool names are split back on output).
fn namespaces(routing: &Routing) -> Vec<String> {
    routing.echo["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .filter(|t| t["type"] == "namespace")
                .filter_map(|t| t["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A `function_call` item; a flattened namespaced name is split back into `namespace` + `name`.
fn function_call(
    id: &str,
    call_id: &str,
    name: &str,
    arguments: &str,
    status: &str,
    spaces: &[String],
) -> Value {
    let mut item = json!({
        "id": id, "type": "function_call", "status": status,
        "call_id": call_id, "name": name, "arguments": arguments,
    });
    for space in spaces {
        if let Some(inner) = name
            .strip_prefix(space.as_str())
            .and_then(|rest| rest.strip_prefix(NAMESPACE_SEPARATOR))
        {
            item["name"] = json!(inner);
            item["namespace"] = json!(space);
        }
    }
    item
}

fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({
        "id": id, "type": "message", "status": status, "role": "assistant",
        "content": if status == "in_progress" { json!([]) } else {
            json!([{"type": "output_text", "text": text, "annotations": [], "logprobs": []}])
        },
    })
}

fn reasoning_item(id: &str, summary: &[String], signature: Option<&str>) -> Value {
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
    let spaces = namespaces(routing);
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
                items.push(function_call(
                    &item_id("fc", id, index),
                    &call.id,
                    &call.name,
                    &call.arguments,
                    "completed",
                    &spaces,
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
fn status(finish: FinishReason) -> (&'static str, Value) {
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

/// The item being streamed.
enum Open {
    Message {
        text: String,
    },
    Reasoning {
        summary: String,
        signature: Option<String>,
    },
    Call {
        call_id: String,
        name: String,
        arguments: String,
    },
}

/// Renders neutral events as the Responses event stream.
pub struct EventWriter {
    id: String,
    model: String,
    created: u64,
    routing: Routing,
    spaces: Vec<String>,
    sequence: u64,
    started: bool,
    /// Finished output items.
    done: Vec<Value>,
    open: Option<Open>,
    usage: Option<Usage>,
}

impl EventWriter {
    pub fn new(id: String, model: String, created: u64, routing: &Routing) -> Self {
        Self {
            spaces: namespaces(routing),
            id,
            model,
            created,
            routing: routing.clone(),
            sequence: 0,
            started: false,
            done: Vec::new(),
            open: None,
            usage: None,
        }
    }

    fn emit(&mut self, out: &mut Vec<u8>, kind: &str, mut data: Value) {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(self.sequence);
        self.sequence += 1;
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\ndata: ");
        if serde_json::to_writer(&mut *out, &data).is_err() {
            out.extend_from_slice(b"{}");
        }
        out.extend_from_slice(b"\n\n");
    }

    fn object(
        &self,
        status: &str,
        usage: Option<&Usage>,
        error: Value,
        incomplete: Value,
    ) -> Value {
        let state = State {
            status,
            output: self.done.clone(),
            usage,
            error,
            incomplete,
        };
        response_object(&self.id, self.created, &self.model, &self.routing, state)
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let object = self.object("in_progress", None, Value::Null, Value::Null);
        self.emit(out, "response.created", json!({"response": object}));
        let object = self.object("in_progress", None, Value::Null, Value::Null);
        self.emit(out, "response.in_progress", json!({"response": object}));
    }

    fn index(&self) -> usize {
        self.done.len()
    }

    fn open_id(&self) -> String {
        let prefix = match self.open {
            Some(Open::Message { .. }) => "msg",
            Some(Open::Reasoning { .. }) => "rs",
            Some(Open::Call { .. }) | None => "fc",
        };
        item_id(prefix, &self.id, self.index())
    }

    /// Close the open item with its `.done` events.
    fn close(&mut self, out: &mut Vec<u8>) {
        let Some(open) = self.open.take() else {
            return;
        };
        let index = self.index();
        let item = match open {
            Open::Message { text } => {
                let id = item_id("msg", &self.id, index);
                let part =
                    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []});
                self.emit(out, "response.output_text.done", json!({
                    "item_id": id, "output_index": index, "content_index": 0, "text": text, "logprobs": [],
                }));
                self.emit(
                    out,
                    "response.content_part.done",
                    json!({
                        "item_id": id, "output_index": index, "content_index": 0, "part": part,
                    }),
                );
                message_item(&id, &text, "completed")
            }
            Open::Reasoning { summary, signature } => {
                let id = item_id("rs", &self.id, index);
                let parts: Vec<String> = if summary.is_empty() {
                    Vec::new()
                } else {
                    vec![summary.clone()]
                };
                if !summary.is_empty() {
                    self.emit(out, "response.reasoning_summary_text.done", json!({
                        "item_id": id, "output_index": index, "summary_index": 0, "text": summary,
                    }));
                    self.emit(
                        out,
                        "response.reasoning_summary_part.done",
                        json!({
                            "item_id": id, "output_index": index, "summary_index": 0,
                            "part": {"type": "summary_text", "text": summary},
                        }),
                    );
                }
                reasoning_item(&id, &parts, signature.as_deref())
            }
            Open::Call {
                call_id,
                name,
                arguments,
            } => {
                let id = item_id("fc", &self.id, index);
                let arguments = if arguments.is_empty() {
                    "{}".to_string()
                } else {
                    arguments
                };
                self.emit(
                    out,
                    "response.function_call_arguments.done",
                    json!({
                        "item_id": id, "output_index": index, "arguments": arguments,
                    }),
                );
                function_call(&id, &call_id, &name, &arguments, "completed", &self.spaces)
            }
        };
        self.emit(
            out,
            "response.output_item.done",
            json!({"output_index": index, "item": item}),
        );
        self.done.push(item);
    }

    fn open_message(&mut self, out: &mut Vec<u8>) {
        if matches!(self.open, Some(Open::Message { .. })) {
            return;
        }
        self.close(out);
        let index = self.index();
        let id = item_id("msg", &self.id, index);
        self.emit(
            out,
            "response.output_item.added",
            json!({
                "output_index": index, "item": message_item(&id, "", "in_progress"),
            }),
        );
        self.emit(
            out,
            "response.content_part.added",
            json!({
                "item_id": id, "output_index": index, "content_index": 0,
                "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []},
            }),
        );
        self.open = Some(Open::Message {
            text: String::new(),
        });
    }

    fn open_reasoning(&mut self, out: &mut Vec<u8>) {
        if matches!(self.open, Some(Open::Reasoning { .. })) {
            return;
        }
        self.close(out);
        let index = self.index();
        let id = item_id("rs", &self.id, index);
        self.emit(
            out,
            "response.output_item.added",
            json!({
                "output_index": index, "item": reasoning_item(&id, &[], None),
            }),
        );
        self.open = Some(Open::Reasoning {
            summary: String::new(),
            signature: None,
        });
    }
}

impl StreamWriter for EventWriter {
    fn event(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        match event {
            // `response.created` waits for the first content, so an early failure can fail over.
            StreamEvent::Start(_) => {}
            StreamEvent::TextDelta(delta) => {
                if delta.is_empty() {
                    return;
                }
                self.start(out);
                self.open_message(out);
                let id = self.open_id();
                let index = self.index();
                if let Some(Open::Message { text }) = self.open.as_mut() {
                    text.push_str(delta);
                }
                self.emit(out, "response.output_text.delta", json!({
                    "item_id": id, "output_index": index, "content_index": 0, "delta": delta, "logprobs": [],
                }));
            }
            StreamEvent::ThinkingDelta(delta) => {
                self.start(out);
                if matches!(
                    self.open,
                    Some(Open::Reasoning {
                        signature: Some(_),
                        ..
                    })
                ) {
                    self.close(out);
                }
                self.open_reasoning(out);
                let id = self.open_id();
                let index = self.index();
                let first = matches!(&self.open, Some(Open::Reasoning { summary, .. }) if summary.is_empty());
                if first {
                    self.emit(
                        out,
                        "response.reasoning_summary_part.added",
                        json!({
                            "item_id": id, "output_index": index, "summary_index": 0,
                            "part": {"type": "summary_text", "text": ""},
                        }),
                    );
                }
                if let Some(Open::Reasoning { summary, .. }) = self.open.as_mut() {
                    summary.push_str(delta);
                }
                self.emit(
                    out,
                    "response.reasoning_summary_text.delta",
                    json!({
                        "item_id": id, "output_index": index, "summary_index": 0, "delta": delta,
                    }),
                );
            }
            StreamEvent::ThinkingSignature(sig) => {
                self.start(out);
                self.open_reasoning(out);
                if let Some(Open::Reasoning { signature, .. }) = self.open.as_mut() {
                    *signature = Some(sig.clone());
                }
            }
            StreamEvent::ToolCallStart(call) => {
                self.start(out);
                self.close(out);
                let index = self.index();
                let id = item_id("fc", &self.id, index);
                let item =
                    function_call(&id, &call.id, &call.name, "", "in_progress", &self.spaces);
                self.emit(
                    out,
                    "response.output_item.added",
                    json!({"output_index": index, "item": item}),
                );
                self.open = Some(Open::Call {
                    call_id: call.id.clone(),
                    name: call.name.clone(),
                    arguments: String::new(),
                });
            }
            StreamEvent::ToolCallDelta(delta) => {
                if delta.arguments.is_empty() {
                    return;
                }
                let id = self.open_id();
                let index = self.index();
                if let Some(Open::Call { arguments, .. }) = self.open.as_mut() {
                    arguments.push_str(&delta.arguments);
                    self.emit(
                        out,
                        "response.function_call_arguments.delta",
                        json!({
                            "item_id": id, "output_index": index, "delta": delta.arguments,
                        }),
                    );
                }
            }
            StreamEvent::Usage(usage) => self.usage = Some(*usage),
            StreamEvent::Finish(reason) => {
                self.start(out);
                self.close(out);
                let (state, incomplete) = status(*reason);
                let usage = self.usage;
                let object = self.object(state, usage.as_ref(), Value::Null, incomplete);
                let kind = if state == "completed" {
                    "response.completed"
                } else {
                    "response.incomplete"
                };
                self.emit(out, kind, json!({"response": object}));
            }
        }
    }

    fn done(&mut self, _out: &mut Vec<u8>) {}

    fn error(&mut self, error: &ApiError, out: &mut Vec<u8>) {
        self.start(out);
        let code = error.code.unwrap_or(if error.status >= 500 {
            "server_error"
        } else {
            "invalid_request"
        });
        let failure = json!({"code": code, "message": error.message});
        let object = self.object("failed", self.usage.as_ref(), failure, Value::Null);
        self.emit(out, "response.failed", json!({"response": object}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_usage_counts_add_up_without_overflow() {
        let usage = Usage {
            input_tokens: u32::MAX,
            output_tokens: 1,
            cache_read_tokens: None,
            cache_write_tokens: None,
            reasoning_tokens: None,
        };
        assert_eq!(
            usage_json(&usage)["total_tokens"],
            json!(u64::from(u32::MAX) + 1)
        );
    }
}
