//! The built-in `echo` model: answers with the last user message, so a fresh gateway works with no
//! provider configured. It streams word by word and reports usage, like a real provider.

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
    let answer = last_user_text(request);
    ChatResponse {
        id: id.to_string(),
        model: crate::config::ECHO_MODEL.to_string(),
        usage: Some(usage(request, &answer)),
        content: vec![ContentPart::Text(answer)],
        finish_reason: FinishReason::Stop,
    }
}

pub fn stream(request: &ChatRequest, id: &str) -> Vec<StreamEvent> {
    let answer = last_user_text(request);
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
