//! Reasoning state a client's protocol cannot carry, kept for it.
//!
//! Providers sign their reasoning and want it back with the tool calls it led to: Gemini 3 rejects
//! a function call that comes back without its `thoughtSignature`, and Anthropic wants a turn's
//! signed thinking blocks before its `tool_use` when thinking is on. OpenAI Chat Completions and
//! the Ollama API have no place for either, so their clients send back bare tool calls. For those
//! surfaces the router keeps, for each translated answer with tool calls, the signed thinking
//! parts (and redacted thinking) that came before each call, under the first call's id and the
//! caller's name; when an assistant turn with that call id comes back, the parts go back in front
//! of their calls before the request is translated.
//!
//! Entry: `apex:carry:<caller>:<first tool-call id>` → [`Carried`] (JSON), expiring with stored
//! responses (`responses_ttl_secs`).

use std::collections::BTreeMap;

use apex_adapter_kit::types::{ChatRequest, ChatResponse, ContentPart, Role};
use serde::{Deserialize, Serialize};

/// Prefix of carried-state entries.
pub const KV_PREFIX: &str = "apex:carry:";
/// The response header that says some tool calls came back whose reasoning state was not found
/// (expired, or made elsewhere): the provider gets them as the client sent them (Gemini: with its
/// documented placeholder signature).
pub const MISSING_HEADER: &str = "x-apex-reasoning-state";
/// Tool-call ids longer than this are not looked up (they are not ones a provider made).
const MAX_ID_BYTES: usize = 256;

/// The kept state of one answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Carried {
    /// Wall-clock seconds after which the entry is gone.
    pub expires_at: u64,
    /// For each tool call of the answer, the reasoning parts that came right before it.
    pub before: BTreeMap<String, Vec<ContentPart>>,
}

impl Carried {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}

/// The entry key for the answer whose first tool call is `call_id`.
pub fn kv_key(caller: &str, call_id: &str) -> String {
    format!("{KV_PREFIX}{caller}:{call_id}")
}

/// Reasoning a client protocol without a place for it would lose.
fn is_reasoning(part: &ContentPart) -> bool {
    match part {
        ContentPart::Thinking(thinking) => {
            thinking.signature.as_deref().is_some_and(|s| !s.is_empty())
        }
        ContentPart::RedactedThinking(_) => true,
        _ => false,
    }
}

/// What to keep of `response`: `(first tool-call id, state)`, when a tool call follows reasoning.
pub fn collect(response: &ChatResponse, expires_at: u64) -> Option<(String, Carried)> {
    let mut first = None;
    let mut before = BTreeMap::new();
    let mut pending: Vec<ContentPart> = Vec::new();
    for part in &response.content {
        match part {
            ContentPart::ToolCall(call) => {
                first.get_or_insert_with(|| call.id.clone());
                if !pending.is_empty() {
                    before.insert(call.id.clone(), std::mem::take(&mut pending));
                }
            }
            part if is_reasoning(part) => pending.push(part.clone()),
            _ => {}
        }
    }
    let first = first?;
    (!before.is_empty()).then_some((first, Carried { expires_at, before }))
}

/// What putting reasoning back into a request did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reattached {
    /// Assistant turns whose reasoning went back in.
    pub restored: usize,
    /// Assistant turns with tool calls and no reasoning whose state was not found.
    pub missing: usize,
}

/// Put kept reasoning back in front of the tool calls of `request`'s assistant turns that have
/// none. `lookup(first call id)` gives an answer's kept state, if any.
pub fn reattach(
    request: &mut ChatRequest,
    mut lookup: impl FnMut(&str) -> Option<Carried>,
) -> Reattached {
    let mut done = Reattached::default();
    for message in &mut request.messages {
        if message.role != Role::Assistant || message.content.iter().any(is_reasoning) {
            continue;
        }
        let Some(first) = message.content.iter().find_map(|part| match part {
            ContentPart::ToolCall(call) if call.id.len() <= MAX_ID_BYTES => Some(call.id.clone()),
            _ => None,
        }) else {
            continue;
        };
        let Some(mut carried) = lookup(&first) else {
            done.missing += 1;
            continue;
        };
        let mut content = Vec::with_capacity(message.content.len() + carried.before.len());
        for part in message.content.drain(..) {
            if let ContentPart::ToolCall(call) = &part
                && let Some(reasoning) = carried.before.remove(&call.id)
            {
                content.extend(reasoning);
            }
            content.push(part);
        }
        message.content = content;
        done.restored += 1;
    }
    done
}

/// Whether a client body may hold tool calls coming back (a cheap test before parsing it).
pub fn may_hold_tool_calls(body: &[u8]) -> bool {
    memchr::memmem::find(body, b"tool_calls").is_some()
}

#[cfg(test)]
mod tests {
    use apex_adapter_kit::types::{FinishReason, Message, Thinking, ToolCall};

    use super::*;

    fn call(id: &str) -> ContentPart {
        ContentPart::ToolCall(ToolCall {
            id: id.to_string(),
            name: "get_weather".to_string(),
            arguments: "{}".to_string(),
        })
    }

    fn signed(text: &str, signature: &str) -> ContentPart {
        ContentPart::Thinking(Thinking {
            text: text.to_string(),
            signature: Some(signature.to_string()),
        })
    }

    fn response(content: Vec<ContentPart>) -> ChatResponse {
        ChatResponse {
            id: "r".to_string(),
            model: "m".to_string(),
            content,
            finish_reason: FinishReason::ToolCalls,
            usage: None,
        }
    }

    #[test]
    fn reasoning_goes_back_before_each_call_it_preceded() {
        let answer = response(vec![
            signed("plan", "sig-1"),
            ContentPart::Text("Checking.".to_string()),
            call("a"),
            ContentPart::RedactedThinking("opaque".to_string()),
            call("b"),
            call("c"),
        ]);
        let (first, carried) = collect(&answer, 100).unwrap();
        assert_eq!(first, "a");
        assert_eq!(carried.before.len(), 2);
        let decoded = Carried::decode(&carried.encode()).unwrap();
        assert_eq!(decoded, carried);

        let bare = Message {
            role: Role::Assistant,
            content: vec![
                ContentPart::Text("Checking.".to_string()),
                call("a"),
                call("b"),
                call("c"),
            ],
            name: None,
        };
        let mut request = ChatRequest::new("m", vec![bare]);
        let done = reattach(&mut request, |id| (id == "a").then(|| decoded.clone()));
        assert_eq!(
            done,
            Reattached {
                restored: 1,
                missing: 0
            }
        );
        assert_eq!(
            request.messages[0].content,
            vec![
                ContentPart::Text("Checking.".to_string()),
                signed("plan", "sig-1"),
                call("a"),
                ContentPart::RedactedThinking("opaque".to_string()),
                call("b"),
                call("c"),
            ]
        );
    }

    #[test]
    fn nothing_is_kept_without_signed_reasoning_or_calls() {
        let unsigned = ContentPart::Thinking(Thinking {
            text: "plain".to_string(),
            signature: None,
        });
        assert!(collect(&response(vec![unsigned, call("a")]), 1).is_none());
        assert!(collect(&response(vec![signed("t", "s")]), 1).is_none());
    }

    #[test]
    fn turns_that_carry_reasoning_or_miss_it_are_told_apart() {
        let carrying = Message {
            role: Role::Assistant,
            content: vec![signed("t", "s"), call("a")],
            name: None,
        };
        let bare = Message {
            role: Role::Assistant,
            content: vec![call("x")],
            name: None,
        };
        let mut request = ChatRequest::new("m", vec![carrying.clone(), bare]);
        let done = reattach(&mut request, |_| None);
        assert_eq!(
            done,
            Reattached {
                restored: 0,
                missing: 1
            }
        );
        assert_eq!(request.messages[0], carrying);
        assert!(may_hold_tool_calls(br#"{"messages":[{"tool_calls":[]}]}"#));
        assert!(!may_hold_tool_calls(br#"{"messages":[]}"#));
    }
}
