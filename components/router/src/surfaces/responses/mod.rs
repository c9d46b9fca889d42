//! The OpenAI Responses surface: `POST /v1/responses` (what Codex speaks) and the state behind
//! `previous_response_id`, `GET`/`DELETE /v1/responses/{id}` and `input_items`.
//!
//! - `wire.rs`: the request and its conversion to the neutral form
//! - `render.rs`: response objects, output items and the event stream
//! - `resource.rs`: `/v1/responses/{id}[/input_items|/cancel]` read strictly (what may be forwarded)
//! - here: the surface, and the stored record (pure: `responses_api` does the key-value I/O)
//!
//! Every provider is reached by translation, so a conversation continues on any provider kind: the
//! gateway keeps each stored response — its own input items, its output, and the id of the response
//! it continued — in the key-value store under its id, scoped to the gateway key that created it.
//! A `previous_response_id` is followed back record by record ([`walk`]) to rebuild the
//! conversation, so a chain of n turns stores each turn once.

pub mod render;
pub mod resource;
pub mod wire;

use apex_adapter_kit::types::{ChatRequest, ChatResponse, Protocol};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::http::error::{ApiError, ErrorFormat};
use crate::surfaces::openai_chat::parse_json;
use crate::surfaces::{Completed, Routing, Surface};

/// `POST /v1/responses`.
pub struct Responses;

impl Surface for Responses {
    const PROTOCOL: Protocol = Protocol::OpenaiResponses;
    /// Always translated: the gateway keeps the state, so chains work on every provider.
    const FORWARDS: bool = false;
    const FORWARD_PATH: &'static str = "responses";
    const ID_PREFIX: &'static str = "resp_";
    const ERRORS: ErrorFormat = ErrorFormat::OpenAi;
    const STORES: bool = true;
    const PINS_IDS: bool = true;
    type Writer = render::EventWriter;

    /// Natively only to providers configured so, and never for a conversation the gateway keeps.
    fn forwards_to(provider: &crate::config::Provider, body: &[u8]) -> bool {
        #[derive(Deserialize)]
        struct History {
            apex_history: Option<serde::de::IgnoredAny>,
        }
        provider.native_responses
            && serde_json::from_slice::<History>(body).is_ok_and(|h| h.apex_history.is_none())
    }

    fn routing(body: &[u8]) -> Result<Routing, ApiError> {
        let fields = parse_json::<RoutingFields>(body)?;
        Ok(Routing {
            model: fields.model.clone(),
            stream: fields.stream.unwrap_or(false),
            include_usage: true,
            echo: fields.echo(),
        })
    }

    fn to_neutral(body: &[u8]) -> Result<ChatRequest, ApiError> {
        wire::to_neutral(parse_json::<wire::WireRequest>(body)?)
    }

    fn render(
        response: &ChatResponse,
        id: &str,
        model: &str,
        created: u64,
        routing: &Routing,
    ) -> Vec<u8> {
        serde_json::to_vec(&render::render(response, id, model, created, routing))
            .unwrap_or_default()
    }

    fn writer(id: String, model: String, created: u64, routing: &Routing) -> render::EventWriter {
        render::EventWriter::new(id, model, created, routing)
    }

    fn record(done: &Completed) -> Option<(String, Vec<u8>)> {
        record(done, done.ttl_secs)
    }
}

/// The fields routing needs, and those the response object echoes back.
#[derive(Deserialize)]
struct RoutingFields {
    model: String,
    stream: Option<bool>,
    store: Option<bool>,
    instructions: Option<Box<RawValue>>,
    max_output_tokens: Option<u32>,
    parallel_tool_calls: Option<bool>,
    previous_response_id: Option<String>,
    reasoning: Option<Box<RawValue>>,
    temperature: Option<f64>,
    text: Option<Box<RawValue>>,
    tool_choice: Option<Box<RawValue>>,
    tools: Option<Box<RawValue>>,
    top_p: Option<f64>,
    truncation: Option<String>,
    user: Option<String>,
    metadata: Option<Box<RawValue>>,
}

fn raw_or(value: Option<&RawValue>, default: Value) -> Value {
    value
        .and_then(|raw| serde_json::from_str(raw.get()).ok())
        .unwrap_or(default)
}

impl RoutingFields {
    /// The request settings a response object repeats, with OpenAI's defaults.
    fn echo(&self) -> Value {
        let mut echo = Map::new();
        echo.insert(
            "instructions".into(),
            raw_or(self.instructions.as_deref(), Value::Null),
        );
        echo.insert("max_output_tokens".into(), json!(self.max_output_tokens));
        echo.insert(
            "metadata".into(),
            raw_or(self.metadata.as_deref(), json!({})),
        );
        echo.insert(
            "parallel_tool_calls".into(),
            json!(self.parallel_tool_calls.unwrap_or(true)),
        );
        echo.insert(
            "previous_response_id".into(),
            json!(self.previous_response_id),
        );
        echo.insert(
            "reasoning".into(),
            raw_or(
                self.reasoning.as_deref(),
                json!({"effort": null, "summary": null}),
            ),
        );
        echo.insert("store".into(), json!(self.store.unwrap_or(true)));
        echo.insert("temperature".into(), json!(self.temperature.unwrap_or(1.0)));
        echo.insert(
            "text".into(),
            raw_or(self.text.as_deref(), json!({"format": {"type": "text"}})),
        );
        echo.insert(
            "tool_choice".into(),
            raw_or(self.tool_choice.as_deref(), json!("auto")),
        );
        echo.insert("tools".into(), raw_or(self.tools.as_deref(), json!([])));
        echo.insert("top_p".into(), json!(self.top_p.unwrap_or(1.0)));
        echo.insert(
            "truncation".into(),
            json!(self.truncation.as_deref().unwrap_or("disabled")),
        );
        echo.insert("user".into(), json!(self.user));
        Value::Object(echo)
    }
}

/// Prefix of stored responses' keys.
pub const RECORD_PREFIX: &str = "apex:response:";

/// The key-value key of a stored response.
pub fn record_key(id: &str) -> String {
    format!("{RECORD_PREFIX}{id}")
}

/// The largest record stored (4 MiB of JSON). A larger one — a huge input or output — is not
/// stored: the client's answer is the same, but its id cannot be continued or fetched.
pub const MAX_RECORD_BYTES: usize = 4 * 1024 * 1024;

/// The most stored responses one `previous_response_id` chain may span (each is a read).
pub const MAX_CHAIN: usize = 1000;

/// A stored response.
#[derive(Serialize, Deserialize)]
pub struct Record {
    /// The name of the gateway key that created it (`anonymous` on an open gateway).
    pub owner: String,
    pub expires_at: u64,
    /// The response object, as the client received it.
    pub response: Value,
    /// This request's own input items (with ids), for `input_items`.
    pub input: Vec<Value>,
    /// The stored response this one continued (its `previous_response_id`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    /// Records of the first layout held the whole conversation before them here (and no
    /// `previous`); they are still read. Never written now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Value>,
}

impl Record {
    /// This turn as input items for a later one: its input, then its output.
    fn turn(&self) -> impl Iterator<Item = &Value> {
        self.input
            .iter()
            .chain(self.response["output"].as_array().into_iter().flatten())
    }
}

/// A `previous_response_id` chain that cannot be followed.
#[derive(Debug, Clone, PartialEq)]
pub enum ChainError {
    /// Response `id`, `depth` links back from the one named (0: that one), does not exist for
    /// this caller (never stored, deleted, expired, another key's).
    Missing { id: String, depth: usize },
    /// Longer than [`MAX_CHAIN`].
    TooLong,
    /// A link back to a record already walked (only a tampered store has one).
    Cycle { id: String },
    /// The store failed.
    Store(ApiError),
}

impl ChainError {
    /// The client's error for continuing from `first`.
    pub fn error(&self, first: &str) -> ApiError {
        let error = match self {
            ChainError::Missing { id, depth: 0 } => ApiError::new(
                404,
                "invalid_request_error",
                format!("Previous response with id '{id}' not found."),
            ),
            ChainError::Missing { id, .. } => ApiError::new(
                404,
                "invalid_request_error",
                format!(
                    "Previous response with id '{id}' not found: it is part of the conversation \
                     before '{first}' and was deleted, expired or never stored, so that \
                     conversation cannot be continued."
                ),
            ),
            ChainError::TooLong => ApiError::bad_request(format!(
                "The conversation before '{first}' is longer than {MAX_CHAIN} responses; start a \
                 new one (send the items you need as input)."
            )),
            ChainError::Cycle { id } => ApiError::bad_request(format!(
                "The conversation before '{first}' links back to '{id}' in a loop."
            )),
            ChainError::Store(error) => return error.clone(),
        };
        error
            .code("previous_response_not_found")
            .param("previous_response_id")
    }
}

/// The records of the chain ending at `first`, newest first, as `caller` may see them at `now`:
/// `fetch` reads a record's bytes by id. At most [`MAX_CHAIN`] records are read; a missing one, a
/// loop or a longer chain is an error.
pub fn walk(
    first: &str,
    caller: &str,
    now: u64,
    mut fetch: impl FnMut(&str) -> Result<Option<Vec<u8>>, ApiError>,
) -> Result<Vec<(String, Record)>, ChainError> {
    let mut chain: Vec<(String, Record)> = Vec::new();
    let mut next = Some(first.to_string());
    while let Some(id) = next.take() {
        if chain.iter().any(|(seen, _)| *seen == id) {
            return Err(ChainError::Cycle { id });
        }
        if chain.len() >= MAX_CHAIN {
            return Err(ChainError::TooLong);
        }
        let bytes = fetch(&id).map_err(ChainError::Store)?;
        let record =
            visible(bytes.as_deref(), &id, caller, now).map_err(|_| ChainError::Missing {
                id: id.clone(),
                depth: chain.len(),
            })?;
        next = record.previous.clone();
        chain.push((id, record));
    }
    Ok(chain)
}

/// The conversation a follow-up to `chain` (newest first, from [`walk`]) continues: every turn,
/// oldest first, each its input then its output.
pub fn conversation(chain: &[(String, Record)]) -> Vec<Value> {
    let mut items: Vec<Value> = chain
        .last()
        .map(|(_, oldest)| oldest.history.clone())
        .unwrap_or_default();
    for (_, record) in chain.iter().rev() {
        items.extend(record.turn().cloned());
    }
    items
}

/// The records of `chain` to store again with a later expiry, so a conversation lives as long as
/// its newest response: those expiring more than a tenth of `ttl_secs` before `now + ttl_secs`
/// (so a record is rewritten at most once per tenth of the TTL, not on every turn).
pub fn to_extend(chain: &[(String, Record)], now: u64, ttl_secs: u64) -> Vec<usize> {
    let wanted = now.saturating_add(ttl_secs);
    let slack = ttl_secs / 10;
    chain
        .iter()
        .enumerate()
        .filter(|(_, (_, record))| record.expires_at.saturating_add(slack) < wanted)
        .map(|(i, _)| i)
        .collect()
}

#[derive(Deserialize)]
struct StoredFields {
    store: Option<bool>,
    input: Option<Value>,
    previous_response_id: Option<String>,
    /// Present when the gateway continued a stored response (see [`continue_from`]).
    apex_history: Option<serde::de::IgnoredAny>,
}

/// This request's input as items, each with an id (as OpenAI lists them).
fn input_items(input: Option<Value>, response_id: &str) -> Vec<Value> {
    let items = match input {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) => vec![json!({
            "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": text}],
        })],
        Some(Value::Array(items)) => items,
        Some(other) => vec![other],
    };
    let stem = response_id.strip_prefix("resp_").unwrap_or(response_id);
    items
        .into_iter()
        .enumerate()
        .map(|(i, mut item)| {
            if let Value::Object(map) = &mut item {
                if !map.contains_key("type") {
                    map.insert("type".into(), json!("message"));
                }
                if !map.contains_key("id") {
                    map.insert("id".into(), json!(format!("in_{stem}{i:02}")));
                }
            }
            item
        })
        .collect()
}

/// What to store for a finished response: nothing when the client said `store: false`, or when
/// the record would be larger than [`MAX_RECORD_BYTES`].
pub fn record(done: &Completed, ttl_secs: u64) -> Option<(String, Vec<u8>)> {
    let fields: StoredFields = serde_json::from_slice(done.body).ok()?;
    if fields.store == Some(false) {
        return None;
    }
    let response = render::render(
        done.response,
        done.id,
        done.model,
        done.created,
        done.routing,
    );
    let record = Record {
        owner: done.caller.to_string(),
        expires_at: done.created.saturating_add(ttl_secs),
        response,
        input: input_items(fields.input, done.id),
        // Linked only when the gateway brought a stored conversation along (a natively made
        // previous response is not in this store).
        previous: fields
            .previous_response_id
            .filter(|id| !id.is_empty() && fields.apex_history.is_some()),
        history: Vec::new(),
    };
    let bytes = serde_json::to_vec(&record).ok()?;
    (bytes.len() <= MAX_RECORD_BYTES).then(|| (record_key(done.id), bytes))
}

/// The stored record `bytes` as `caller` may see it at `now`: another key's response, or an
/// expired one, does not exist.
pub fn visible(bytes: Option<&[u8]>, id: &str, caller: &str, now: u64) -> Result<Record, ApiError> {
    let missing = || {
        ApiError::new(
            404,
            "invalid_request_error",
            format!("Response with id '{id}' not found."),
        )
        .param("response_id")
    };
    let record: Record = bytes
        .and_then(|bytes| serde_json::from_slice(bytes).ok())
        .ok_or_else(missing)?;
    if record.owner != caller || record.expires_at <= now {
        return Err(missing());
    }
    Ok(record)
}

/// The request body with the conversation of `chain` (the records behind `previous_response_id`,
/// newest first) put in front of its input (as `apex_history`); any `apex_history` the client
/// sent is replaced.
pub fn continue_from(body: &[u8], chain: &[(String, Record)]) -> Result<Vec<u8>, ApiError> {
    let mut request: Map<String, Value> = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Request body is not valid JSON: {e}")))?;
    request.insert("apex_history".into(), Value::Array(conversation(chain)));
    serde_json::to_vec(&request).map_err(|e| ApiError::internal(e.to_string()))
}

/// `previous_response_id` of a request body, if any.
pub fn previous_id(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Previous {
        previous_response_id: Option<String>,
    }
    serde_json::from_slice::<Previous>(body)
        .ok()
        .and_then(|p| p.previous_response_id)
        .filter(|id| !id.is_empty())
}

/// `GET /v1/responses/{id}/input_items`: a page of this response's input items (`order` `desc` by
/// default, `limit` 1–100 (20), `after` / `before` item ids).
pub fn input_items_page(record: &Record, query: &str) -> Result<Value, ApiError> {
    let mut limit = 20usize;
    let mut descending = true;
    let mut after = None;
    let mut before = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "limit" => {
                limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| {
                        ApiError::bad_request("`limit` must be between 1 and 100.").param("limit")
                    })?;
            }
            "order" => {
                descending = match value {
                    "desc" => true,
                    "asc" => false,
                    _ => {
                        return Err(ApiError::bad_request("`order` must be `asc` or `desc`.")
                            .param("order"));
                    }
                }
            }
            "after" => after = Some(value.to_string()),
            "before" => before = Some(value.to_string()),
            _ => {}
        }
    }
    let mut items: Vec<&Value> = record.input.iter().collect();
    if descending {
        items.reverse();
    }
    let position = |id: &str| items.iter().position(|item| item["id"] == id);
    let start = match after.as_deref() {
        Some(id) => position(id).map_or(items.len(), |i| i + 1),
        None => 0,
    };
    let end = match before.as_deref() {
        Some(id) => position(id).unwrap_or(items.len()),
        None => items.len(),
    };
    let window: Vec<Value> = items
        .get(start..end.max(start))
        .unwrap_or_default()
        .iter()
        .take(limit)
        .map(|item| (*item).clone())
        .collect();
    let has_more = end.max(start) - start > window.len();
    Ok(json!({
        "object": "list",
        "first_id": window.first().map(|i| i["id"].clone()),
        "last_id": window.last().map(|i| i["id"].clone()),
        "has_more": has_more,
        "data": window,
    }))
}

/// Prefix of natively made responses' routes.
pub const ROUTE_PREFIX: &str = "apex:response-route:";

/// The key-value key of a natively made response's route.
pub fn route_key(id: &str) -> String {
    format!("{ROUTE_PREFIX}{id}")
}

/// Where a natively made response lives: its provider and key index (never the key), and the
/// gateway key that may use it.
#[derive(Serialize, Deserialize)]
pub struct Route {
    pub provider: String,
    pub key_index: usize,
    pub owner: String,
    pub expires_at: u64,
}

/// The id of a provider's response: a JSON body's `id`, or for a stream the `response.id` of
/// its first event (`response.created`), read from the first bytes.
pub fn provider_response_id(bytes: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Body {
        id: Option<String>,
        response: Option<Box<Body>>,
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let json = match text.trim_start().strip_prefix('{') {
        Some(_) => text.trim(),
        None => text
            .split("\n\n")
            .flat_map(str::lines)
            .find_map(|line| line.strip_prefix("data:"))?
            .trim(),
    };
    let body: Body = serde_json::from_str(json).ok()?;
    body.response.and_then(|r| r.id).or(body.id)
}

/// `DELETE /v1/responses/{id}`'s answer.
pub fn deleted(id: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"id": id, "object": "response", "deleted": true}))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::collections::BTreeMap;

    use apex_adapter_kit::types::{ContentPart, FinishReason};

    use super::*;

    fn answer(text: &str) -> ChatResponse {
        ChatResponse {
            id: "up".into(),
            model: "m".into(),
            content: vec![ContentPart::Text(text.into())],
            finish_reason: FinishReason::Stop,
            usage: None,
        }
    }

    /// The bytes `record` stores for `body` answered with `text`.
    fn stored(id: &str, body: &Value, text: &str) -> Option<(String, Vec<u8>)> {
        let body = serde_json::to_vec(body).unwrap();
        let routing = Responses::routing(&body).unwrap();
        let response = answer(text);
        let done = Completed {
            id,
            created: 1000,
            model: "gpt",
            caller: "alice",
            body: &body,
            routing: &routing,
            response: &response,
            ttl_secs: 60,
        };
        record(&done, 60)
    }

    fn parsed(bytes: &[u8]) -> Record {
        serde_json::from_slice(bytes).unwrap()
    }

    /// A store of records: `(id, input text, output text, previous)`.
    fn store(turns: &[(&str, &str, &str, Option<&str>)]) -> BTreeMap<String, Vec<u8>> {
        turns
            .iter()
            .map(|(id, input, output, previous)| {
                let mut body = json!({"model": "gpt", "input": input});
                if let Some(previous) = previous {
                    body["previous_response_id"] = json!(previous);
                    body["apex_history"] = json!([]);
                }
                let (key, bytes) = stored(id, &body, output).unwrap();
                assert_eq!(key, record_key(id));
                (id.to_string(), bytes)
            })
            .collect()
    }

    fn texts(items: &[Value]) -> Vec<String> {
        items
            .iter()
            .map(|item| {
                item["content"][0]["text"]
                    .as_str()
                    .unwrap_or("?")
                    .to_string()
            })
            .collect()
    }

    fn walk_in(
        kv: &BTreeMap<String, Vec<u8>>,
        first: &str,
        caller: &str,
        now: u64,
    ) -> Result<Vec<(String, Record)>, ChainError> {
        walk(first, caller, now, |id| Ok(kv.get(id).cloned()))
    }

    #[test]
    fn a_record_holds_its_own_turn_and_a_link() {
        let (_, bytes) = stored(
            "resp_2",
            &json!({"model": "gpt", "input": "two", "previous_response_id": "resp_1",
                "apex_history": [{"type": "message", "role": "user", "content": "one"}]}),
            "deux",
        )
        .unwrap();
        let record = parsed(&bytes);
        assert_eq!(record.previous.as_deref(), Some("resp_1"));
        assert_eq!(texts(&record.input), ["two"]);
        assert!(record.history.is_empty());
        let text = String::from_utf8(bytes).unwrap();
        assert!(!text.contains("one"), "no history in the record: {text}");
        assert!(!text.contains("\"history\""), "{text}");
        assert_eq!(record.expires_at, 1060);
        // Not linked when the gateway did not bring a stored conversation (a native previous id).
        let (_, bytes) = stored(
            "resp_3",
            &json!({"model": "gpt", "input": "x", "previous_response_id": "resp_up_1"}),
            "y",
        )
        .unwrap();
        assert_eq!(parsed(&bytes).previous, None);
        assert!(
            stored(
                "r",
                &json!({"model": "gpt", "input": "x", "store": false}),
                "y"
            )
            .is_none()
        );
    }

    #[test]
    fn records_over_the_cap_are_not_stored() {
        let input = "a".repeat(MAX_RECORD_BYTES);
        assert!(stored("resp_1", &json!({"model": "gpt", "input": input}), "ok").is_none());
        let output = "b".repeat(MAX_RECORD_BYTES);
        assert!(stored("resp_1", &json!({"model": "gpt", "input": "hi"}), &output).is_none());
        let input = "a".repeat(MAX_RECORD_BYTES - 4096);
        assert!(stored("resp_1", &json!({"model": "gpt", "input": input}), "ok").is_some());
    }

    #[test]
    fn a_chain_is_rebuilt_oldest_first() {
        let kv = store(&[
            ("r1", "q1", "a1", None),
            ("r2", "q2", "a2", Some("r1")),
            ("r3", "q3", "a3", Some("r2")),
        ]);
        let chain = walk_in(&kv, "r3", "alice", 1000).unwrap();
        let ids: Vec<&str> = chain.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["r3", "r2", "r1"]);
        assert_eq!(
            texts(&conversation(&chain)),
            ["q1", "a1", "q2", "a2", "q3", "a3"]
        );
        let body = continue_from(br#"{"model":"gpt","input":"q4"}"#, &chain).unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            texts(body["apex_history"].as_array().unwrap()).len(),
            6,
            "{body}"
        );
    }

    #[test]
    fn a_first_layout_record_ends_the_walk_with_its_history() {
        let mut kv = store(&[("r3", "q3", "a3", Some("r2"))]);
        let legacy = json!({"owner": "alice", "expires_at": 2000,
            "response": {"output": [{"type": "message", "role": "assistant",
                "content": [{"type": "output_text", "text": "a2"}]}]},
            "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "q2"}]}],
            "history": [
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "q1"}]},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a1"}]}]});
        kv.insert("r2".into(), legacy.to_string().into_bytes());
        let chain = walk_in(&kv, "r3", "alice", 1000).unwrap();
        assert_eq!(chain.len(), 2);
        assert_eq!(
            texts(&conversation(&chain)),
            ["q1", "a1", "q2", "a2", "q3", "a3"]
        );
    }

    #[test]
    fn a_broken_chain_names_the_missing_response() {
        let kv = store(&[
            ("r2", "q2", "a2", Some("r1")),
            ("r3", "q3", "a3", Some("r2")),
        ]);
        let error = walk_in(&kv, "r3", "alice", 1000).err().unwrap();
        assert_eq!(
            error,
            ChainError::Missing {
                id: "r1".into(),
                depth: 2
            }
        );
        let api = error.error("r3");
        assert_eq!(api.status, 404);
        assert_eq!(api.param, Some("previous_response_id"));
        assert!(api.message.contains("'r1'") && api.message.contains("'r3'"));
        // The first one missing, another key's, or expired: depth 0.
        for (first, caller, now) in [
            ("r9", "alice", 1000),
            ("r3", "bob", 1000),
            ("r3", "alice", 1060),
        ] {
            let error = walk_in(&kv, first, caller, now).err().unwrap();
            assert!(
                matches!(error, ChainError::Missing { depth: 0, .. }),
                "{first} {caller} {now}: {error:?}"
            );
        }
        // Another key's record in the middle of a chain is missing too.
        let mut mixed = kv.clone();
        let (_, bytes) = stored("r2", &json!({"model": "gpt", "input": "q2"}), "a2").unwrap();
        let mut bob = parsed(&bytes);
        bob.owner = "bob".into();
        mixed.insert("r2".into(), serde_json::to_vec(&bob).unwrap());
        assert_eq!(
            walk_in(&mixed, "r3", "alice", 1000).err(),
            Some(ChainError::Missing {
                id: "r2".into(),
                depth: 1
            })
        );
    }

    #[test]
    fn walks_are_bounded_and_loops_found() {
        let kv = store(&[("a", "qa", "aa", Some("b")), ("b", "qb", "ab", Some("a"))]);
        assert_eq!(
            walk_in(&kv, "a", "alice", 1000).err(),
            Some(ChainError::Cycle { id: "a".into() })
        );
        let ids: Vec<String> = (0..=MAX_CHAIN).map(|i| format!("r{i}")).collect();
        let turns: Vec<(&str, &str, &str, Option<&str>)> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                (
                    id.as_str(),
                    "q",
                    "a",
                    i.checked_sub(1).map(|p| ids[p].as_str()),
                )
            })
            .collect();
        let kv = store(&turns);
        let mut reads = 0;
        let error = walk(&ids[MAX_CHAIN], "alice", 1000, |id| {
            reads += 1;
            Ok(kv.get(id).cloned())
        })
        .err();
        assert_eq!(error, Some(ChainError::TooLong));
        assert_eq!(reads, MAX_CHAIN);
        assert_eq!(
            walk_in(&kv, &ids[MAX_CHAIN - 1], "alice", 1000)
                .map(|chain| chain.len())
                .ok(),
            Some(MAX_CHAIN)
        );
    }

    #[test]
    fn records_expiring_well_before_a_new_turn_are_extended() {
        let kv = store(&[("r1", "q1", "a1", None), ("r2", "q2", "a2", Some("r1"))]);
        let chain = walk_in(&kv, "r2", "alice", 1000).unwrap();
        // Both expire at 1060; a new turn at 1000 with a 60 s TTL wants 1060: nothing to do.
        assert!(to_extend(&chain, 1000, 60).is_empty());
        // Within a tenth of the TTL: nothing either.
        assert!(to_extend(&chain, 1005, 60).is_empty());
        assert_eq!(to_extend(&chain, 1007, 60), [0, 1]);
    }
}
