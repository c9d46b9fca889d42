//! The built-in `echo` model: answers with the last user message (its first 16 KiB), so a fresh
//! gateway works with no provider configured. It streams word by word and reports usage, like a
//! real provider.

use apex_adapter_kit::types::{
    ChatRequest, ChatResponse, ContentPart, EmbedInput, EmbedRequest, EmbedResponse, FinishReason,
    Role, StreamEvent, StreamStart, Usage,
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

/// How long the `echo` model's vectors are unless the request asks for `dimensions`.
pub const ECHO_DIMENSIONS: u32 = 8;
/// The longest vector the `echo` model makes.
pub const MAX_ECHO_DIMENSIONS: u32 = 4096;

/// The `echo` model's embeddings: for each input a unit vector of [`ECHO_DIMENSIONS`] (or the
/// requested `dimensions`, at most [`MAX_ECHO_DIMENSIONS`]) derived from a hash of its bytes:
/// the same input always gets the same vector. Usage counts about 4 bytes of text (or one token
/// id) per token.
pub fn embed(request: &EmbedRequest) -> EmbedResponse {
    let length = request
        .dimensions
        .unwrap_or(ECHO_DIMENSIONS)
        .clamp(1, MAX_ECHO_DIMENSIONS);
    let inputs: Vec<(Vec<u8>, u32)> = match &request.input {
        EmbedInput::Texts(texts) => texts
            .iter()
            .map(|t| (t.as_bytes().to_vec(), (t.len() as u32).div_ceil(4).max(1)))
            .collect(),
        EmbedInput::Tokens(lists) => lists
            .iter()
            .map(|ids| {
                let bytes = ids.iter().flat_map(|id| id.to_le_bytes()).collect();
                (bytes, ids.len() as u32)
            })
            .collect(),
    };
    EmbedResponse {
        model: crate::config::ECHO_MODEL.to_string(),
        embeddings: inputs
            .iter()
            .map(|(bytes, _)| unit_vector(bytes, length))
            .collect(),
        input_tokens: Some(inputs.iter().map(|(_, tokens)| tokens).sum()),
    }
}

/// A unit vector of `length` from FNV-1a hashes of `bytes` (one per component).
fn unit_vector(bytes: &[u8], length: u32) -> Vec<f32> {
    let raw: Vec<f32> = (0..length)
        .map(|i| {
            let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(i);
            for byte in bytes {
                hash ^= u64::from(*byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
            // Top 24 bits → [-1, 1).
            ((hash >> 40) as f32 / (1u64 << 23) as f32) - 1.0
        })
        .collect();
    let norm = raw.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 {
        return raw;
    }
    raw.iter().map(|x| x / norm).collect()
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
