//! Neutral stream events as a stream of `GenerateContentResponse` chunks: server-sent events
//! (`data: {...}\r\n\r\n`, with `?alt=sse`) or, without it, one JSON array written as it grows
//! (`[{...}\n,{...}\n]`).
//!
//! Each text or thought delta is a chunk of its own; function calls are whole parts, so their
//! argument deltas are held until the answer finishes; the last chunk carries them with
//! `finishReason` and `usageMetadata`. A failure after the stream began is Google's error object
//! as the last element (`data: {"error": {...}}` in SSE), which the google-genai SDKs raise.

use std::collections::BTreeMap;

use apex_adapter_kit::types::{StreamEvent, ToolCall, Usage};
use serde_json::{Value, json};

use super::render::{finish_reason, function_call, signed, thought, usage_metadata};
use crate::http::error::ApiError;
use crate::surfaces::StreamWriter;

/// How chunks are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `data: {...}\r\n\r\n`
    Sse,
    /// `[{...}\n,{...}\n]`
    JsonArray,
}

/// A function call whose arguments are still arriving.
struct PendingCall {
    call: ToolCall,
    signature: Option<String>,
}

pub struct ChunkWriter {
    id: String,
    model: String,
    framing: Framing,
    /// Whether a chunk was written (the array is open).
    started: bool,
    /// A signature for the next part.
    signature: Option<String>,
    /// Whether the last part written was a thought (a signature then closes it).
    in_thought: bool,
    calls: BTreeMap<u32, PendingCall>,
    usage: Option<Usage>,
}

impl ChunkWriter {
    pub fn new(id: String, model: String, framing: Framing) -> Self {
        Self {
            id,
            model,
            framing,
            started: false,
            signature: None,
            in_thought: false,
            calls: BTreeMap::new(),
            usage: None,
        }
    }

    fn write(&mut self, out: &mut Vec<u8>, value: &Value) {
        let json = serde_json::to_vec(value).unwrap_or_default();
        match self.framing {
            Framing::Sse => {
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(&json);
                out.extend_from_slice(b"\r\n\r\n");
            }
            Framing::JsonArray => {
                out.extend_from_slice(if self.started { b"\n," } else { b"[" });
                out.extend_from_slice(&json);
            }
        }
        self.started = true;
    }

    fn chunk(&mut self, out: &mut Vec<u8>, mut parts: Vec<Value>, finish: Option<&str>) {
        if parts.is_empty() {
            // Google's last chunk has an empty text part when nothing else is left.
            parts.push(json!({"text": ""}));
        }
        let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        if let Some(finish) = finish {
            candidate["finishReason"] = json!(finish);
        }
        let mut chunk = json!({"candidates": [candidate]});
        if finish.is_some()
            && let Some(usage) = &self.usage
        {
            chunk["usageMetadata"] = usage_metadata(usage);
        }
        chunk["modelVersion"] = json!(self.model);
        chunk["responseId"] = json!(self.id);
        self.write(out, &chunk);
    }

    /// The held function calls as parts, in order.
    fn calls(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.calls)
            .into_values()
            .map(|mut pending| signed(function_call(&pending.call), &mut pending.signature))
            .collect()
    }
}

impl StreamWriter for ChunkWriter {
    fn event(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        match event {
            StreamEvent::Start(_) => {}
            StreamEvent::TextDelta(text) => {
                let mut parts = self.calls();
                parts.push(signed(json!({"text": text}), &mut self.signature));
                self.in_thought = false;
                self.chunk(out, parts, None);
            }
            StreamEvent::ThinkingDelta(text) => {
                let mut parts = self.calls();
                if let Some(held) = self.signature.take() {
                    parts.push(thought("", Some(&held)));
                }
                parts.push(thought(text, None));
                self.in_thought = true;
                self.chunk(out, parts, None);
            }
            StreamEvent::ThinkingSignature(signature) if self.in_thought => {
                self.in_thought = false;
                self.chunk(out, vec![thought("", Some(signature))], None);
            }
            StreamEvent::ThinkingSignature(signature) => {
                self.signature = Some(signature.clone());
            }
            StreamEvent::ToolCallStart(start) => {
                self.in_thought = false;
                let signature = self.signature.take();
                self.calls.insert(
                    start.index,
                    PendingCall {
                        call: ToolCall {
                            id: start.id.clone(),
                            name: start.name.clone(),
                            arguments: String::new(),
                        },
                        signature,
                    },
                );
            }
            StreamEvent::ToolCallDelta(delta) => {
                if let Some(pending) = self.calls.get_mut(&delta.index) {
                    pending.call.arguments.push_str(&delta.arguments);
                }
            }
            StreamEvent::Usage(usage) => self.usage = Some(*usage),
            StreamEvent::Finish(reason) => {
                let mut parts = self.calls();
                if let Some(held) = self.signature.take() {
                    parts.push(thought("", Some(&held)));
                }
                self.chunk(out, parts, Some(finish_reason(*reason)));
            }
        }
    }

    fn done(&mut self, out: &mut Vec<u8>) {
        if self.framing == Framing::JsonArray {
            out.extend_from_slice(if self.started { b"\n]" } else { b"[]" });
        }
    }

    fn error(&mut self, error: &ApiError, out: &mut Vec<u8>) {
        let body: Value = serde_json::from_slice(&error.google_body()).unwrap_or_default();
        self.write(out, &body);
        if self.framing == Framing::JsonArray {
            out.extend_from_slice(b"\n]");
        }
    }
}

/// What one forwarded `GenerateContentResponse` (its `data`) delivered: its text, the end (a
/// candidate's `finishReason`), a failure (an `error` object), or something a continuation could
/// not pick up (function calls, thoughts).
pub fn delivered(data: &[u8]) -> crate::surfaces::Delivered {
    let mut delivered = crate::surfaces::Delivered::default();
    let Ok(chunk) = serde_json::from_slice::<serde_json::Value>(data) else {
        return delivered;
    };
    if let Some(error) = chunk.get("error") {
        delivered.error = Some(
            error["message"]
                .as_str()
                .unwrap_or("The upstream provider reported an error.")
                .to_string(),
        );
        return delivered;
    }
    delivered.usage = chunk
        .get("usageMetadata")
        .and_then(|u| {
            serde_json::from_value::<crate::surfaces::reported_usage::GeminiUsage>(u.clone()).ok()
        })
        .map(|u| u.tokens());
    for candidate in chunk["candidates"].as_array().into_iter().flatten() {
        for part in candidate["content"]["parts"]
            .as_array()
            .into_iter()
            .flatten()
        {
            match part["text"].as_str() {
                Some(text) if part["thought"] != true => delivered.text.push_str(text),
                _ => delivered.other = true,
            }
        }
        delivered.finish |= candidate
            .get("finishReason")
            .is_some_and(|reason| !reason.is_null());
    }
    delivered
}

#[cfg(test)]
mod tests {
    use super::delivered;

    #[test]
    fn forwarded_chunks_say_text_end_and_failure() {
        let text =
            delivered(br#"{"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"}}]}"#);
        assert_eq!(
            (text.text.as_str(), text.finish, text.other),
            ("Hi", false, false)
        );
        let last = delivered(br#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{}}}]},"finishReason":"STOP"}]}"#);
        assert!(last.finish && last.other);
        let error =
            delivered(br#"{"error":{"code":503,"message":"overloaded","status":"UNAVAILABLE"}}"#);
        assert_eq!(error.error.as_deref(), Some("overloaded"));
    }
}
