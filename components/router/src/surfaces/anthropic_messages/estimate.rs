//! The local token estimate behind `POST /v1/messages/count_tokens`.

use apex_adapter_kit::types::{ChatRequest, ContentPart, ToolResultPart};

/// The local estimate `count_tokens` answers with when the provider has no counting endpoint:
/// about four bytes of text per token (the ratio OpenAI and Anthropic both quote for English),
/// over the system prompt, every message, tool definitions and tool arguments, plus a few tokens
/// of framing per message and tool. It is an estimate, stated as one in the README.
pub fn estimate_tokens(request: &ChatRequest) -> u32 {
    fn tokens(bytes: usize) -> u64 {
        (bytes as u64).div_ceil(4)
    }
    let mut total: u64 = 0;
    for message in &request.messages {
        total += 4;
        for part in &message.content {
            total += match part {
                ContentPart::Text(text) => tokens(text.len()),
                ContentPart::Thinking(thinking) => tokens(thinking.text.len()),
                ContentPart::ToolCall(call) => tokens(call.name.len() + call.arguments.len()) + 4,
                ContentPart::ToolResult(result) => {
                    result
                        .content
                        .iter()
                        .map(|part| match part {
                            ToolResultPart::Text(text) => tokens(text.len()),
                            // Anthropic's rule of thumb for a ~1000×1000 image.
                            ToolResultPart::Image(_) => 1600,
                        })
                        .sum::<u64>()
                        + 4
                }
                ContentPart::Image(_) => 1600,
                ContentPart::RedactedThinking(data) => tokens(data.len()),
            };
        }
    }
    for tool in &request.tools {
        total += 8 + tokens(
            tool.name.len()
                + tool.description.as_ref().map_or(0, String::len)
                + tool.parameters.len(),
        );
    }
    u32::try_from(total).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surfaces::Surface;
    use crate::surfaces::anthropic_messages::{AnthropicMessages, count_request};

    /// The request of the fixture case `claude-code-turn`.
    const CLAUDE_CODE_TURN: &str =
        include_str!("../../../fixtures/anthropic_messages/claude-code-turn/request.json");

    #[test]
    fn the_estimate_grows_with_the_prompt() {
        let small =
            count_request(br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#).unwrap();
        let large = AnthropicMessages::to_neutral(CLAUDE_CODE_TURN.as_bytes()).unwrap();
        let (small, large) = (estimate_tokens(&small), estimate_tokens(&large));
        assert!(small >= 1 && small < large, "{small} {large}");
    }
}
