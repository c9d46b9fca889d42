//! Gemini `streamGenerateContent?alt=sse` → neutral stream events.
//!
//! Each event's `data` is a whole `GenerateContentResponse` holding the next piece of the answer;
//! there is no end marker: the event with a `finishReason` is the last one. Text and thoughts come
//! in pieces, function calls whole (one `ToolCallStart` and one `ToolCallDelta` with all the
//! arguments). `usageMetadata` is cumulative, so the last one seen is reported, before `Finish`,
//! when the body ends.

use apex_adapter_kit::http::malformed;
use apex_adapter_kit::sse::SseDecode;
use apex_adapter_kit::types::{
    AdapterError, FinishReason, StreamEvent, StreamStart, ToolCallDelta, ToolCallStart, Usage,
};

use crate::error;
use crate::response::{Part, Reply, call_id, finish_reason};

/// Decoder state for one stream.
#[derive(Default)]
pub struct Decoder {
    started: bool,
    response_id: String,
    /// Function calls so far.
    calls: u32,
    /// The `finishReason` seen (or `ContentFilter` for a blocked prompt).
    finish: Option<Finish>,
    usage: Option<Usage>,
}

enum Finish {
    Reason(String),
    PromptBlocked,
}

impl Decoder {
    fn event(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), AdapterError> {
        let data = data.trim();
        if data.is_empty() || data == "[DONE]" {
            return Ok(());
        }
        let reply: Reply = serde_json::from_str(data).map_err(|e| {
            if e.is_eof() {
                malformed(format!("stream cut in the middle of an event: {e}"))
            } else {
                malformed(format!("stream event: {e}"))
            }
        })?;
        if let Some(detail) = reply.error {
            return Err(error::from_stream(detail));
        }
        if !self.started {
            self.started = true;
            self.response_id = reply.response_id.clone().unwrap_or_default();
            out.push(StreamEvent::Start(StreamStart {
                id: self.response_id.clone(),
                model: reply.model_version.clone().unwrap_or_default(),
            }));
        }
        if let Some(usage) = reply.usage_metadata {
            self.usage = Some(usage.into());
        }
        if reply.prompt_blocked() {
            self.finish = Some(Finish::PromptBlocked);
        }
        if let Some(candidate) = reply.candidate() {
            for part in candidate.parts() {
                self.part(part, out);
            }
            if let Some(reason) = candidate.finish_reason.as_ref().filter(|r| !r.is_empty()) {
                self.finish = Some(Finish::Reason(reason.clone()));
            }
        }
        Ok(())
    }

    /// The events of one part, with the signature convention of the crate docs: a thought's own
    /// signature follows its text; any other part's signature comes right before the part.
    fn part(&mut self, part: &Part, out: &mut Vec<StreamEvent>) {
        if part.thought {
            if let Some(text) = part.text.as_ref().filter(|t| !t.is_empty()) {
                out.push(StreamEvent::ThinkingDelta(text.clone()));
            }
            if let Some(signature) = part.signature() {
                out.push(StreamEvent::ThinkingSignature(signature.to_string()));
            }
            return;
        }
        if let Some(signature) = part.signature() {
            out.push(StreamEvent::ThinkingSignature(signature.to_string()));
        }
        if let Some(call) = &part.function_call {
            let index = self.calls;
            self.calls += 1;
            out.push(StreamEvent::ToolCallStart(ToolCallStart {
                index,
                id: call_id(call.id.as_deref(), &self.response_id, index),
                name: call.name.clone(),
            }));
            out.push(StreamEvent::ToolCallDelta(ToolCallDelta {
                index,
                arguments: call.arguments(),
            }));
        } else if let Some(text) = part.text.as_ref().filter(|t| !t.is_empty()) {
            out.push(StreamEvent::TextDelta(text.clone()));
        }
    }
}

impl SseDecode for Decoder {
    fn data(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), AdapterError> {
        self.event(data, out)
    }

    fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), AdapterError> {
        let reason = match self.finish.take() {
            Some(Finish::Reason(reason)) => finish_reason(&reason, self.calls > 0),
            Some(Finish::PromptBlocked) => FinishReason::ContentFilter,
            None => return Err(malformed("stream cut: it ended without a finishReason")),
        };
        if let Some(usage) = self.usage.take() {
            out.push(StreamEvent::Usage(usage));
        }
        out.push(StreamEvent::Finish(reason));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use apex_adapter_kit::sse::SseStream;
    use apex_adapter_kit::types::ErrorKind;

    fn decode(body: &str) -> Result<Vec<StreamEvent>, AdapterError> {
        apex_adapter_kit::decode_stream(SseStream::<Decoder>::default(), &[body.as_bytes()])
    }

    #[test]
    fn a_blocked_prompt_finishes_with_content_filter() {
        let events = decode(
            "data: {\"promptFeedback\": {\"blockReason\": \"PROHIBITED_CONTENT\"}, \"usageMetadata\": {\"promptTokenCount\": 7, \"totalTokenCount\": 7}, \"modelVersion\": \"gemini-2.5-flash\", \"responseId\": \"r1\"}\r\n\r\n",
        )
        .unwrap();
        assert_eq!(events.len(), 3, "{events:?}");
        assert_eq!(events[2], StreamEvent::Finish(FinishReason::ContentFilter));
    }

    #[test]
    fn an_empty_stream_is_cut() {
        let error = decode("").unwrap_err();
        assert_eq!(error.kind, ErrorKind::MalformedReply);
        assert!(error.message.contains("stream cut"), "{}", error.message);
    }

    #[test]
    fn whole_events_without_a_finish_reason_are_cut() {
        let error = decode(
            "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hi\"}],\"role\": \"model\"},\"index\": 0}]}\r\n\r\n",
        )
        .unwrap_err();
        assert_eq!(
            error.message,
            "malformed upstream reply: stream cut: it ended without a finishReason"
        );
    }

    #[test]
    fn a_thought_keeps_its_own_signature_after_its_text() {
        let events = decode(concat!(
            "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Plan\", \"thought\": true, \"thoughtSignature\": \"s1\"},",
            " {\"functionCall\": {\"name\": \"f\", \"args\": {}}, \"thoughtSignature\": \"s2\"}], \"role\": \"model\"},",
            " \"finishReason\": \"STOP\", \"index\": 0}], \"responseId\": \"r\"}\n\n",
        ))
        .unwrap();
        assert_eq!(
            events[1..5],
            [
                StreamEvent::ThinkingDelta("Plan".into()),
                StreamEvent::ThinkingSignature("s1".into()),
                StreamEvent::ThinkingSignature("s2".into()),
                StreamEvent::ToolCallStart(ToolCallStart {
                    index: 0,
                    id: "gemini-call-r-0".into(),
                    name: "f".into()
                }),
            ]
        );
        assert_eq!(
            events.last(),
            Some(&StreamEvent::Finish(FinishReason::ToolCalls))
        );
    }
}
