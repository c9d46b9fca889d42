//! Neutral stream events as the Responses event stream (`response.created` …
//! `response.completed`, with `sequence_number`s).

use apex_adapter_kit::types::{StreamEvent, Usage};
use serde_json::{Value, json};

use super::render::{State, item_id, message_item, reasoning_item, response_object, status};
use super::tools;
use crate::http::error::ApiError;
use crate::surfaces::{Routing, StreamWriter};

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
        /// A custom tool's call: its text is sent whole when the call is complete (the provider
        /// streams JSON arguments around it).
        custom: bool,
    },
}

/// Renders neutral events as the Responses event stream.
pub struct EventWriter {
    id: String,
    model: String,
    created: u64,
    routing: Routing,
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
            Some(Open::Call { custom: true, .. }) => "ctc",
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
                custom,
            } => {
                let names = &self.routing.tool_names;
                let id = item_id(tools::call_prefix(&name, names), &self.id, index);
                let arguments = if arguments.is_empty() {
                    "{}".to_string()
                } else {
                    arguments
                };
                if custom {
                    let input = tools::custom_input(&arguments);
                    self.emit(
                        out,
                        "response.custom_tool_call_input.delta",
                        json!({"item_id": id, "output_index": index, "delta": input}),
                    );
                    self.emit(
                        out,
                        "response.custom_tool_call_input.done",
                        json!({"item_id": id, "output_index": index, "input": input}),
                    );
                } else {
                    self.emit(
                        out,
                        "response.function_call_arguments.done",
                        json!({
                            "item_id": id, "output_index": index, "arguments": arguments,
                        }),
                    );
                }
                let names = &self.routing.tool_names;
                tools::call_item(&id, &call_id, &name, &arguments, "completed", names)
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
                let names = &self.routing.tool_names;
                let custom = tools::call_prefix(&call.name, names) == "ctc";
                let id = item_id(tools::call_prefix(&call.name, names), &self.id, index);
                let mut item =
                    tools::call_item(&id, &call.id, &call.name, "", "in_progress", names);
                if custom {
                    item["input"] = json!("");
                }
                self.emit(
                    out,
                    "response.output_item.added",
                    json!({"output_index": index, "item": item}),
                );
                self.open = Some(Open::Call {
                    call_id: call.id.clone(),
                    name: call.name.clone(),
                    arguments: String::new(),
                    custom,
                });
            }
            StreamEvent::ToolCallDelta(delta) => {
                if delta.arguments.is_empty() {
                    return;
                }
                let id = self.open_id();
                let index = self.index();
                if let Some(Open::Call {
                    arguments, custom, ..
                }) = self.open.as_mut()
                {
                    arguments.push_str(&delta.arguments);
                    if *custom {
                        return;
                    }
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

/// What one forwarded Responses event (its `data`) delivered: text deltas, the end
/// (`response.completed`, `.incomplete`, `.failed`: the client reads each as the end), a failure
/// (`error`), or something else.
pub fn delivered(data: &[u8]) -> crate::surfaces::Delivered {
    #[derive(serde::Deserialize)]
    struct Event {
        #[serde(rename = "type")]
        kind: Option<String>,
        delta: Option<serde_json::Value>,
        message: Option<String>,
        response: Option<Response>,
    }
    #[derive(serde::Deserialize)]
    struct Response {
        usage: Option<crate::surfaces::reported_usage::ResponsesUsage>,
    }
    let mut delivered = crate::surfaces::Delivered::default();
    let Ok(event) = serde_json::from_slice::<Event>(data) else {
        return delivered;
    };
    match event.kind.as_deref() {
        Some("response.completed" | "response.incomplete" | "response.failed") => {
            delivered.finish = true;
            delivered.usage = event
                .response
                .as_ref()
                .and_then(|r| r.usage.as_ref())
                .map(|u| u.tokens());
        }
        Some("error") => {
            delivered.error = Some(
                event
                    .message
                    .unwrap_or_else(|| "The upstream provider reported an error.".to_string()),
            );
        }
        Some("response.output_text.delta") => {
            delivered.text = event
                .delta
                .and_then(|d| d.as_str().map(str::to_string))
                .unwrap_or_default();
        }
        Some(kind) if kind.ends_with(".delta") => delivered.other = true,
        _ => {}
    }
    delivered
}

#[cfg(test)]
mod tests {
    use super::delivered;

    #[test]
    fn forwarded_events_say_text_end_and_failure() {
        let text =
            delivered(br#"{"type":"response.output_text.delta","delta":"Hi","item_id":"m"}"#);
        assert_eq!(text.text, "Hi");
        assert!(
            delivered(br#"{"type":"response.function_call_arguments.delta","delta":"{"}"#).other
        );
        for end in [
            "response.completed",
            "response.incomplete",
            "response.failed",
        ] {
            assert!(
                delivered(format!(r#"{{"type":"{end}"}}"#).as_bytes()).finish,
                "{end}"
            );
        }
        let error = delivered(br#"{"type":"error","message":"boom","code":"server_error"}"#);
        assert_eq!(error.error.as_deref(), Some("boom"));
    }
}
