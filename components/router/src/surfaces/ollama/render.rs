//! Ollama replies: `created_at`, `done_reason`, the final line's counts, tool calls with object
//! arguments, and the two reply shapes (`message` for chat, `response` for generate), written from
//! one [`Line`].

use apex_adapter_kit::types::{ChatResponse, ContentPart, FinishReason, ToolCall, Usage};
use serde::Serialize;
use serde_json::value::RawValue;

/// `created_at` for `secs` since the Unix epoch: RFC 3339 UTC with six fractional digits, as in
/// Ollama's docs (`2023-08-04T19:22:45.000000Z`; every RFC 3339 parser reads it, and so does
/// Python's `%f`, which nine digits would break).
pub fn created_at(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    let (year, month, day) = crate::time::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.000000Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Ollama's `done_reason`: `stop` or `length` (a turn that ends in tool calls is `stop`, as Ollama
/// reports it).
pub(super) fn done_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Length => "length",
        FinishReason::Stop
        | FinishReason::ToolCalls
        | FinishReason::ContentFilter
        | FinishReason::Error => "stop",
    }
}

/// The statistics of a final line. Durations (nanoseconds) are 0: the surface has no timings.
#[derive(Serialize, Default, Clone, Copy)]
pub(super) struct Metrics {
    total_duration: u64,
    load_duration: u64,
    prompt_eval_count: u32,
    prompt_eval_duration: u64,
    eval_count: u32,
    eval_duration: u64,
}

impl Metrics {
    pub(super) fn from_usage(usage: Option<&Usage>) -> Self {
        Self {
            prompt_eval_count: usage.map_or(0, |u| u.input_tokens),
            eval_count: usage.map_or(0, |u| u.output_tokens),
            ..Self::default()
        }
    }
}

#[derive(Serialize)]
struct OutFunction<'a> {
    index: u32,
    name: &'a str,
    arguments: Box<RawValue>,
}

/// A tool call as Ollama sends it: arguments as an object. `id` (newer Ollama versions send it)
/// lets clients answer with `tool_call_id`.
#[derive(Serialize)]
pub(super) struct OutToolCall<'a> {
    #[serde(skip_serializing_if = "is_empty")]
    id: &'a str,
    function: OutFunction<'a>,
}

pub(super) fn out_call<'a>(
    index: u32,
    id: &'a str,
    name: &'a str,
    arguments: &str,
) -> OutToolCall<'a> {
    OutToolCall {
        id,
        function: OutFunction {
            index,
            name,
            arguments: object(arguments),
        },
    }
}

/// Tool arguments as an object: the model's JSON text when it is one, else `{}`. Line breaks
/// become spaces: in valid JSON they are only whitespace between tokens, and one inside an NDJSON
/// line would cut it in two.
fn object(arguments: &str) -> Box<RawValue> {
    let trimmed = arguments.trim();
    if trimmed.starts_with('{')
        && let Ok(raw) = serde_json::from_str::<Box<RawValue>>(trimmed)
    {
        if !raw.get().contains(['\n', '\r']) {
            return raw;
        }
        let one_line = raw.get().replace(['\n', '\r'], " ");
        if let Ok(raw) = RawValue::from_string(one_line) {
            return raw;
        }
    }
    RawValue::from_string("{}".to_string()).unwrap_or_else(|_| Box::<RawValue>::default())
}

#[derive(Serialize)]
struct OutMessage<'a> {
    role: &'static str,
    content: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    thinking: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<OutToolCall<'a>>,
}

/// One reply object, whichever the endpoint: a whole reply, a stream line or the final line.
pub struct Line<'a> {
    pub(super) model: &'a str,
    pub(super) created_at: &'a str,
    pub(super) text: &'a str,
    pub(super) thinking: &'a str,
    /// Chat only: generate requests carry no tools.
    pub(super) tool_calls: Vec<OutToolCall<'a>>,
    pub(super) done: bool,
    pub(super) done_reason: Option<&'a str>,
    /// The statistics of a final line.
    pub(super) metrics: Option<Metrics>,
}

impl<'a> Line<'a> {
    /// A line that is not the last: text, thinking or tool calls.
    pub(super) fn part(model: &'a str, created_at: &'a str) -> Self {
        Self {
            model,
            created_at,
            text: "",
            thinking: "",
            tool_calls: Vec::new(),
            done: false,
            done_reason: None,
            metrics: None,
        }
    }

    /// The last line, with its reason and counts.
    pub(super) fn last(
        model: &'a str,
        created_at: &'a str,
        reason: &'a str,
        metrics: Option<Metrics>,
    ) -> Self {
        Self {
            done: true,
            done_reason: Some(reason),
            metrics,
            ..Self::part(model, created_at)
        }
    }
}

/// One `/api/chat` object, in Ollama's key order.
#[derive(Serialize)]
struct ChatLine<'a> {
    model: &'a str,
    created_at: &'a str,
    message: OutMessage<'a>,
    done: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    done_reason: Option<&'a str>,
    #[serde(flatten)]
    metrics: Option<Metrics>,
}

/// One `/api/generate` object, in Ollama's key order.
#[derive(Serialize)]
struct GenerateLine<'a> {
    model: &'a str,
    created_at: &'a str,
    response: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    thinking: &'a str,
    done: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    done_reason: Option<&'a str>,
    /// Deprecated in requests but still in Ollama's final replies; the gateway keeps no token
    /// context, so it is empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<[u32; 0]>,
    #[serde(flatten)]
    metrics: Option<Metrics>,
}

fn is_empty(text: &&str) -> bool {
    text.is_empty()
}

/// Append `value` as JSON (no newline).
fn write_json<T: Serialize>(out: &mut Vec<u8>, value: &T) {
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.extend_from_slice(b"{}");
    }
}

/// `/api/chat` objects: the line's text, thinking and tool calls as a `message`.
pub(super) fn write_chat(line: Line, out: &mut Vec<u8>) {
    write_json(
        out,
        &ChatLine {
            model: line.model,
            created_at: line.created_at,
            message: OutMessage {
                role: "assistant",
                content: line.text,
                thinking: line.thinking,
                tool_calls: line.tool_calls,
            },
            done: line.done,
            done_reason: line.done_reason,
            metrics: line.metrics,
        },
    );
}

/// `/api/generate` objects: the line's text as `response`; a final line with counts also has an
/// empty `context`. Tool calls are dropped.
pub(super) fn write_generate(line: Line, out: &mut Vec<u8>) {
    write_json(
        out,
        &GenerateLine {
            model: line.model,
            created_at: line.created_at,
            response: line.text,
            thinking: line.thinking,
            done: line.done,
            done_reason: line.done_reason,
            context: line.metrics.map(|_| []),
            metrics: line.metrics,
        },
    );
}

/// The text, thinking and tool calls of a response.
fn gather(response: &ChatResponse) -> (String, String, Vec<&ToolCall>) {
    let (mut text, mut thinking, mut calls) = (String::new(), String::new(), Vec::new());
    for part in &response.content {
        match part {
            ContentPart::Text(t) => text.push_str(t),
            ContentPart::Thinking(t) => thinking.push_str(&t.text),
            ContentPart::ToolCall(call) => calls.push(call),
            _ => {}
        }
    }
    (text, thinking, calls)
}

/// A neutral response as one reply object (`stream: false`), written by `write` (an endpoint's
/// [`super::endpoint::Endpoint::write`]).
pub fn render_with(
    write: fn(Line, &mut Vec<u8>),
    response: &ChatResponse,
    model: &str,
    created: u64,
) -> Vec<u8> {
    let (text, thinking, calls) = gather(response);
    let created_at = created_at(created);
    let reason = done_reason(response.finish_reason);
    let metrics = Some(Metrics::from_usage(response.usage.as_ref()));
    let mut line = Line::last(model, &created_at, reason, metrics);
    line.text = &text;
    line.thinking = &thinking;
    line.tool_calls = calls
        .iter()
        .enumerate()
        .map(|(i, call)| out_call(i as u32, &call.id, &call.name, &call.arguments))
        .collect();
    let mut out = Vec::new();
    write(line, &mut out);
    out
}

/// The answer to a request without messages or prompt (Ollama's way to load a model), written by
/// `write`: `done` at once, with `done_reason` `load` and no counts.
pub fn load_with(write: fn(Line, &mut Vec<u8>), model: &str, created: u64) -> Vec<u8> {
    let created_at = created_at(created);
    let mut out = Vec::new();
    write(Line::last(model, &created_at, "load", None), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339_utc() {
        assert_eq!(created_at(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(created_at(1_691_176_965), "2023-08-04T19:22:45.000000Z");
        assert_eq!(created_at(951_782_400), "2000-02-29T00:00:00.000000Z");
        assert_eq!(
            created_at(super::super::MODIFIED_AT),
            "2025-01-01T00:00:00.000000Z"
        );
        assert_eq!(created_at(4_102_444_799), "2099-12-31T23:59:59.000000Z");
    }
}
