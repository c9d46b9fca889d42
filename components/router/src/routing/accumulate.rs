//! Neutral stream events folded back into the whole answer (what a stored or cached streamed
//! response needs).

use apex_adapter_kit::types::{
    ChatResponse, ContentPart, FinishReason, StreamEvent, Thinking, ToolCall, Usage,
};

/// Collects a stream's events into a [`ChatResponse`].
#[derive(Default)]
pub struct Accumulator {
    id: String,
    model: String,
    content: Vec<ContentPart>,
    /// Position in `content` of each tool call, by its stream index.
    calls: Vec<(u32, usize)>,
    usage: Option<Usage>,
    finish: Option<FinishReason>,
}

impl Accumulator {
    pub fn push(&mut self, event: &StreamEvent) {
        match event {
            StreamEvent::Start(start) => {
                self.id.clone_from(&start.id);
                self.model.clone_from(&start.model);
            }
            StreamEvent::TextDelta(text) => match self.content.last_mut() {
                Some(ContentPart::Text(current)) => current.push_str(text),
                _ => self.content.push(ContentPart::Text(text.clone())),
            },
            StreamEvent::ThinkingDelta(text) => match self.content.last_mut() {
                Some(ContentPart::Thinking(current)) if current.signature.is_none() => {
                    current.text.push_str(text);
                }
                _ => self.content.push(ContentPart::Thinking(Thinking {
                    text: text.clone(),
                    signature: None,
                })),
            },
            StreamEvent::ThinkingSignature(signature) => match self.content.last_mut() {
                Some(ContentPart::Thinking(current)) if current.signature.is_none() => {
                    current.signature = Some(signature.clone());
                }
                _ => self.content.push(ContentPart::Thinking(Thinking {
                    text: String::new(),
                    signature: Some(signature.clone()),
                })),
            },
            StreamEvent::ToolCallStart(call) => {
                self.calls.push((call.index, self.content.len()));
                self.content.push(ContentPart::ToolCall(ToolCall {
                    id: call.id.clone(),
                    name: call.name.clone(),
                    arguments: String::new(),
                }));
            }
            StreamEvent::ToolCallDelta(delta) => {
                let at = self
                    .calls
                    .iter()
                    .rev()
                    .find(|(index, _)| *index == delta.index)
                    .map(|(_, at)| *at);
                if let Some(ContentPart::ToolCall(call)) =
                    at.and_then(|at| self.content.get_mut(at))
                {
                    call.arguments.push_str(&delta.arguments);
                }
            }
            StreamEvent::Usage(usage) => self.usage = Some(*usage),
            StreamEvent::Finish(reason) => self.finish = Some(*reason),
        }
    }

    /// The whole answer, once the stream finished.
    pub fn finish(self) -> Option<ChatResponse> {
        Some(ChatResponse {
            id: self.id,
            model: self.model,
            content: self.content,
            finish_reason: self.finish?,
            usage: self.usage,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apex_adapter_kit::types::{StreamStart, ToolCallDelta, ToolCallStart};

    #[test]
    fn a_stream_folds_into_its_answer() {
        let mut acc = Accumulator::default();
        for event in [
            StreamEvent::Start(StreamStart {
                id: "u".into(),
                model: "m".into(),
            }),
            StreamEvent::ThinkingDelta("a".into()),
            StreamEvent::ThinkingDelta("b".into()),
            StreamEvent::ThinkingSignature("sig".into()),
            StreamEvent::TextDelta("Grü".into()),
            StreamEvent::TextDelta("ße".into()),
            StreamEvent::ToolCallStart(ToolCallStart {
                index: 0,
                id: "c0".into(),
                name: "f".into(),
            }),
            StreamEvent::ToolCallStart(ToolCallStart {
                index: 1,
                id: "c1".into(),
                name: "g".into(),
            }),
            StreamEvent::ToolCallDelta(ToolCallDelta {
                index: 0,
                arguments: "{}".into(),
            }),
            StreamEvent::ToolCallDelta(ToolCallDelta {
                index: 1,
                arguments: "{\"x\":1}".into(),
            }),
            StreamEvent::Finish(FinishReason::ToolCalls),
        ] {
            acc.push(&event);
        }
        let response = acc.finish().unwrap();
        assert_eq!(response.content.len(), 4);
        assert_eq!(
            response.content[0],
            ContentPart::Thinking(Thinking {
                text: "ab".into(),
                signature: Some("sig".into())
            })
        );
        assert_eq!(response.content[1], ContentPart::Text("Grüße".into()));
        assert!(
            matches!(&response.content[3], ContentPart::ToolCall(c) if c.arguments == "{\"x\":1}")
        );
        assert_eq!(response.finish_reason, FinishReason::ToolCalls);
        assert!(
            Accumulator::default().finish().is_none(),
            "no finish, no answer"
        );
    }
}
