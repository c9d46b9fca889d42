//! The token counts each client protocol's answers carry, read from forwarded events (the gateway
//! passes those on untouched but still counts what they cost), in the neutral convention: input
//! includes cached input.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::state::usage::Tokens;

/// Field `field` of a JSON object body as `U` (the other fields are skipped, not parsed).
pub fn from_body<U: DeserializeOwned>(body: &[u8], field: &str) -> Option<U> {
    let fields: BTreeMap<String, &RawValue> = serde_json::from_slice(body).ok()?;
    serde_json::from_str(fields.get(field)?.get()).ok()
}

#[derive(Deserialize, Default)]
struct Cached {
    cached_tokens: Option<u64>,
}

#[derive(Deserialize, Default)]
struct Reasoning {
    reasoning_tokens: Option<u64>,
}

/// Chat Completions' `usage`.
#[derive(Deserialize)]
pub struct ChatUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    prompt_tokens_details: Option<Cached>,
    completion_tokens_details: Option<Reasoning>,
}

impl ChatUsage {
    pub fn tokens(&self) -> Tokens {
        Tokens {
            input: self.prompt_tokens.unwrap_or(0),
            output: self.completion_tokens.unwrap_or(0),
            cache_read: self
                .prompt_tokens_details
                .as_ref()
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
            cache_write: 0,
            reasoning: self
                .completion_tokens_details
                .as_ref()
                .and_then(|d| d.reasoning_tokens)
                .unwrap_or(0),
        }
    }
}

/// The Responses API's `usage`.
#[derive(Deserialize)]
pub struct ResponsesUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    input_tokens_details: Option<Cached>,
    output_tokens_details: Option<Reasoning>,
}

impl ResponsesUsage {
    pub fn tokens(&self) -> Tokens {
        Tokens {
            input: self.input_tokens.unwrap_or(0),
            output: self.output_tokens.unwrap_or(0),
            cache_read: self
                .input_tokens_details
                .as_ref()
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
            cache_write: 0,
            reasoning: self
                .output_tokens_details
                .as_ref()
                .and_then(|d| d.reasoning_tokens)
                .unwrap_or(0),
        }
    }
}

/// Anthropic's `usage` (`message_start`'s message, `message_delta`): its `input_tokens` leaves
/// out cache reads and writes.
#[derive(Deserialize)]
pub struct AnthropicUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
}

impl AnthropicUsage {
    pub fn tokens(&self) -> Tokens {
        let cache_read = self.cache_read_input_tokens.unwrap_or(0);
        let cache_write = self.cache_creation_input_tokens.unwrap_or(0);
        Tokens {
            input: self
                .input_tokens
                .unwrap_or(0)
                .saturating_add(cache_read)
                .saturating_add(cache_write),
            output: self.output_tokens.unwrap_or(0),
            cache_read,
            cache_write,
            reasoning: 0,
        }
    }
}

/// Gemini's `usageMetadata`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeminiUsage {
    prompt_token_count: Option<u64>,
    tool_use_prompt_token_count: Option<u64>,
    candidates_token_count: Option<u64>,
    cached_content_token_count: Option<u64>,
    thoughts_token_count: Option<u64>,
}

impl GeminiUsage {
    /// Thoughts are output the caller pays for: counted with it.
    pub fn tokens(&self) -> Tokens {
        let thoughts = self.thoughts_token_count.unwrap_or(0);
        Tokens {
            input: self
                .prompt_token_count
                .unwrap_or(0)
                .saturating_add(self.tool_use_prompt_token_count.unwrap_or(0)),
            output: self
                .candidates_token_count
                .unwrap_or(0)
                .saturating_add(thoughts),
            cache_read: self.cached_content_token_count.unwrap_or(0),
            cache_write: 0,
            reasoning: thoughts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_protocol_reads_into_the_neutral_counts() {
        let chat: ChatUsage = serde_json::from_str(
            r#"{"prompt_tokens":20,"completion_tokens":7,"prompt_tokens_details":{"cached_tokens":16},"completion_tokens_details":{"reasoning_tokens":3}}"#,
        )
        .unwrap();
        assert_eq!(
            chat.tokens(),
            Tokens {
                input: 20,
                output: 7,
                cache_read: 16,
                cache_write: 0,
                reasoning: 3
            }
        );
        let anthropic: AnthropicUsage = serde_json::from_str(
            r#"{"input_tokens":4,"cache_read_input_tokens":10,"cache_creation_input_tokens":2,"output_tokens":1}"#,
        )
        .unwrap();
        assert_eq!(
            (anthropic.tokens().input, anthropic.tokens().cache_write),
            (16, 2)
        );
        let gemini: GeminiUsage = serde_json::from_str(
            r#"{"promptTokenCount":9,"candidatesTokenCount":5,"thoughtsTokenCount":4}"#,
        )
        .unwrap();
        assert_eq!((gemini.tokens().output, gemini.tokens().reasoning), (9, 4));
        let responses: ResponsesUsage =
            serde_json::from_str(r#"{"input_tokens":3,"output_tokens":2}"#).unwrap();
        assert_eq!(responses.tokens().total(), 5);
    }

    #[test]
    fn a_body_s_usage_is_read_alone() {
        let body = br#"{"id":"x","choices":[{"message":{"content":"a \"usage\" of text"}}],"usage":{"prompt_tokens":4,"completion_tokens":2}}"#;
        let usage: ChatUsage = from_body(body, "usage").unwrap();
        assert_eq!(usage.tokens().total(), 6);
        assert!(from_body::<ChatUsage>(br#"{"id":"x"}"#, "usage").is_none());
        assert!(from_body::<ChatUsage>(b"not json", "usage").is_none());
    }
}
