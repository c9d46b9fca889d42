//! The built-in `echo` model: answers with the last user message (its first 16 KiB), so a fresh
//! gateway works with no provider configured. It streams word by word and reports usage, like a
//! real provider.

use apex_adapter_kit::types::{
    ChatRequest, ChatResponse, ContentPart, FinishReason, Role, StreamEvent, StreamStart, Usage,
};

fn last_user_text(request: &ChatRequest) -> String {
    request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User)
        .map(|m| {
            m.content
                .iter()
                .filter_map(|p| match p {
                    ContentPart::Text(t) => Some(t.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// The echo answers at most this many bytes (it is a demo, not an amplifier).
const MAX_ANSWER_BYTES: usize = 16 * 1024;

fn capped(mut text: String) -> String {
    if text.len() > MAX_ANSWER_BYTES {
        let mut end = MAX_ANSWER_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

fn words(text: &str) -> u32 {
    text.split_whitespace().count() as u32
}

fn usage(request: &ChatRequest, answer: &str) -> Usage {
    let input: u32 = request
        .messages
        .iter()
        .flat_map(|m| m.content.iter())
        .map(|p| match p {
            ContentPart::Text(t) => words(t),
            _ => 1,
        })
        .sum();
    Usage {
        input_tokens: input,
        output_tokens: words(answer),
        cache_read_tokens: None,
        cache_write_tokens: None,
        reasoning_tokens: None,
    }
}

pub fn respond(request: &ChatRequest, id: &str) -> ChatResponse {
    let answer = capped(last_user_text(request));
    ChatResponse {
        id: id.to_string(),
        model: crate::config::ECHO_MODEL.to_string(),
        usage: Some(usage(request, &answer)),
        content: vec![ContentPart::Text(answer)],
        finish_reason: FinishReason::Stop,
    }
}

pub fn stream(request: &ChatRequest, id: &str) -> Vec<StreamEvent> {
    let answer = capped(last_user_text(request));
    let mut events = vec![StreamEvent::Start(StreamStart {
        id: id.to_string(),
        model: crate::config::ECHO_MODEL.to_string(),
    })];
    let mut piece = String::new();
    for c in answer.chars() {
        piece.push(c);
        if c.is_whitespace() {
            events.push(StreamEvent::TextDelta(std::mem::take(&mut piece)));
        }
    }
    if !piece.is_empty() {
        events.push(StreamEvent::TextDelta(piece));
    }
    events.push(StreamEvent::Usage(usage(request, &answer)));
    events.push(StreamEvent::Finish(FinishReason::Stop));
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use apex_adapter_kit::types::Message;

    #[test]
    fn answers_are_capped_at_a_char_boundary() {
        let long = "é".repeat(MAX_ANSWER_BYTES);
        let request = ChatRequest::new(
            "echo",
            vec![Message {
                role: Role::User,
                content: vec![ContentPart::Text(long)],
                name: None,
            }],
        );
        let ChatResponse { content, .. } = respond(&request, "id");
        let ContentPart::Text(text) = &content[0] else {
            panic!("text")
        };
        assert_eq!(text.len(), MAX_ANSWER_BYTES);
        let deltas = stream(&request, "id")
            .iter()
            .filter(|e| matches!(e, StreamEvent::TextDelta(_)))
            .count();
        assert_eq!(deltas, 1, "one word, capped");
    }
}
