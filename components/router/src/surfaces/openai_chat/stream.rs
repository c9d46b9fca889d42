//! Neutral stream events as `chat.completion.chunk` server-sent events.

use apex_adapter_kit::types::{StreamEvent, Usage};
use serde::Serialize;
use serde_json::json;

use super::render::{finish_reason, usage_json};
use crate::http::error::ApiError;
use crate::surfaces::{Delivered, StreamWriter};

/// Renders neutral stream events as `chat.completion.chunk` server-sent events.
pub struct ChunkWriter {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    usage: Option<Usage>,
    started: bool,
}

impl ChunkWriter {
    pub fn new(id: String, model: String, created: u64, include_usage: bool) -> Self {
        Self {
            id,
            model,
            created,
            include_usage,
            usage: None,
            started: false,
        }
    }

    /// One chunk, written straight from typed fields (a chunk per token: no JSON tree built and
    /// dropped). Keys in alphabetical order, as the chunks have always been.
    fn chunk(&self, out: &mut Vec<u8>, delta: &impl Serialize, finish: Option<&str>) {
        #[derive(Serialize)]
        struct Chunk<'a, D> {
            choices: [Choice<'a, D>; 1],
            created: u64,
            id: &'a str,
            model: &'a str,
            object: &'static str,
        }
        #[derive(Serialize)]
        struct Choice<'a, D> {
            delta: D,
            finish_reason: Option<&'a str>,
            index: u32,
            /// Always `null`.
            logprobs: (),
        }
        let chunk = Chunk {
            choices: [Choice {
                delta,
                finish_reason: finish,
                index: 0,
                logprobs: (),
            }],
            created: self.created,
            id: &self.id,
            model: &self.model,
            object: "chat.completion.chunk",
        };
        sse(out, &chunk);
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            self.started = true;
            self.chunk(out, &json!({"role": "assistant", "content": ""}), None);
        }
    }

    /// Append the SSE bytes for `event` to `out`.
    pub fn event(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        match event {
            // The role chunk waits for the first content: until then nothing has reached the
            // client, so a failure right after the provider's start can still fail over.
            StreamEvent::Start(_) => {}
            StreamEvent::TextDelta(text) => {
                self.start(out);
                self.chunk(out, &Delta { content: text }, None);
            }
            StreamEvent::ThinkingDelta(text) => {
                self.start(out);
                self.chunk(
                    out,
                    &Reasoning {
                        reasoning_content: text,
                    },
                    None,
                );
            }
            StreamEvent::ThinkingSignature(_) => {}
            StreamEvent::ToolCallStart(call) => {
                self.start(out);
                self.chunk(
                    out,
                    &json!({"tool_calls": [{
                        "index": call.index,
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": ""},
                    }]}),
                    None,
                );
            }
            StreamEvent::ToolCallDelta(delta) => {
                self.start(out);
                self.chunk(
                    out,
                    &json!({"tool_calls": [{"index": delta.index, "function": {"arguments": delta.arguments}}]}),
                    None,
                );
            }
            StreamEvent::Usage(usage) => self.usage = Some(*usage),
            StreamEvent::Finish(reason) => {
                self.start(out);
                self.chunk(out, &json!({}), Some(finish_reason(*reason)));
                if self.include_usage {
                    let chunk = json!({
                        "id": self.id,
                        "object": "chat.completion.chunk",
                        "created": self.created,
                        "model": self.model,
                        "choices": [],
                        "usage": self.usage.as_ref().map(usage_json),
                    });
                    sse(out, &chunk);
                }
            }
        }
    }

    /// The end of a successful stream.
    pub fn done(out: &mut Vec<u8>) {
        out.extend_from_slice(b"data: [DONE]\n\n");
    }

    /// A failure after the stream began: an error event (what OpenAI sends), no `[DONE]`.
    pub fn error(error: &ApiError, out: &mut Vec<u8>) {
        let body = json!({"error": {"message": error.message, "type": error.kind, "param": null, "code": error.code}});
        sse(out, &body);
    }
}

impl StreamWriter for ChunkWriter {
    fn event(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        ChunkWriter::event(self, event, out);
    }

    fn done(&mut self, out: &mut Vec<u8>) {
        ChunkWriter::done(out);
    }

    fn error(&mut self, error: &ApiError, out: &mut Vec<u8>) {
        ChunkWriter::error(error, out);
    }
}

/// A text delta.
#[derive(Serialize)]
struct Delta<'a> {
    content: &'a str,
}

/// A reasoning delta (DeepSeek's and vLLM's `reasoning_content`).
#[derive(Serialize)]
struct Reasoning<'a> {
    reasoning_content: &'a str,
}

fn sse(out: &mut Vec<u8>, value: &impl Serialize) {
    out.extend_from_slice(b"data: ");
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.extend_from_slice(b"{}");
    }
    out.extend_from_slice(b"\n\n");
}

/// What one forwarded `chat.completion.chunk` (its `data`) delivered: its text, a finish
/// reason, or something a continuation cannot pick up (tool calls, reasoning).
pub fn delivered(data: &[u8]) -> Delivered {
    #[derive(serde::Deserialize)]
    struct Chunk {
        #[serde(default)]
        choices: Vec<Choice>,
        error: Option<ErrorBody>,
        usage: Option<crate::surfaces::reported_usage::ChatUsage>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        message: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Choice {
        delta: Option<Delta>,
        finish_reason: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Delta {
        content: Option<String>,
        tool_calls: Option<serde::de::IgnoredAny>,
        reasoning_content: Option<String>,
        reasoning: Option<String>,
    }
    let mut delivered = Delivered::default();
    let Ok(chunk) = serde_json::from_slice::<Chunk>(data) else {
        return delivered;
    };
    if let Some(error) = chunk.error {
        delivered.error = Some(
            error
                .message
                .unwrap_or_else(|| "The upstream provider reported an error.".to_string()),
        );
        return delivered;
    }
    delivered.usage = chunk.usage.as_ref().map(|u| u.tokens());
    for choice in chunk.choices {
        if let Some(delta) = choice.delta {
            let reasoning = [delta.reasoning_content, delta.reasoning]
                .iter()
                .flatten()
                .any(|r| !r.is_empty());
            delivered.other |= delta.tool_calls.is_some() || reasoning;
            delivered
                .text
                .push_str(delta.content.as_deref().unwrap_or_default());
        }
        delivered.finish |= choice.finish_reason.is_some();
    }
    delivered
}
