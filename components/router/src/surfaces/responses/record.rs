//! The stored record of a response: what is kept, who may see it, and its input items.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::render;
use crate::http::error::ApiError;
use crate::surfaces::Completed;

/// Prefix of stored responses' keys.
pub const RECORD_PREFIX: &str = "apex:response:";

/// The key-value key of a stored response.
pub fn record_key(id: &str) -> String {
    format!("{RECORD_PREFIX}{id}")
}

/// The largest record stored (4 MiB of JSON). A larger one — a huge input or output — is not
/// stored: the client's answer is the same, but its id cannot be continued or fetched.
pub const MAX_RECORD_BYTES: usize = 4 * 1024 * 1024;

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
    pub(super) fn turn(&self) -> impl Iterator<Item = &Value> {
        self.input
            .iter()
            .chain(self.response["output"].as_array().into_iter().flatten())
    }

    /// The input or output item with id `id`.
    pub fn item(&self, id: &str) -> Option<&Value> {
        self.turn().find(|item| item["id"] == id)
    }
}

/// What following a `previous_response_id` chain needs of a stored record: who may see it until
/// when, the record before it, and its turn as JSON items kept as text (decoded no further).
#[derive(Deserialize)]
pub struct Link {
    pub owner: String,
    pub expires_at: u64,
    #[serde(default)]
    pub previous: Option<String>,
    #[serde(default)]
    input: Vec<Box<RawValue>>,
    #[serde(default)]
    response: LinkResponse,
    /// A first-layout record's whole conversation before it (see [`Record::history`]).
    #[serde(default)]
    pub history: Vec<Box<RawValue>>,
    /// The record as stored, to store again with a later expiry.
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

#[derive(Deserialize, Default)]
struct LinkResponse {
    #[serde(default)]
    output: Vec<Box<RawValue>>,
}

impl Link {
    /// The link of a stored record's `bytes` (whoever owns it).
    pub fn from_stored(bytes: Vec<u8>) -> Option<Link> {
        let mut link: Link = serde_json::from_slice(&bytes).ok()?;
        link.bytes = bytes;
        Some(link)
    }

    /// This turn as input items for a later one: its input, then its output.
    pub fn turn(&self) -> impl Iterator<Item = &RawValue> {
        self.input
            .iter()
            .chain(&self.response.output)
            .map(|item| &**item)
    }
}

/// A stored record's owner and expiry: what decides who sees it.
pub trait Owned {
    fn owner(&self) -> &str;
    fn expires_at(&self) -> u64;
}

impl Owned for Record {
    fn owner(&self) -> &str {
        &self.owner
    }
    fn expires_at(&self) -> u64 {
        self.expires_at
    }
}

impl Owned for Link {
    fn owner(&self) -> &str {
        &self.owner
    }
    fn expires_at(&self) -> u64 {
        self.expires_at
    }
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
pub fn visible<T: Owned + DeserializeOwned>(
    bytes: Option<&[u8]>,
    id: &str,
    caller: &str,
    now: u64,
) -> Result<T, ApiError> {
    let missing = || {
        ApiError::new(
            404,
            "invalid_request_error",
            format!("Response with id '{id}' not found."),
        )
        .param("response_id")
    };
    let record: T = bytes
        .and_then(|bytes| serde_json::from_slice(bytes).ok())
        .ok_or_else(missing)?;
    if record.owner() != caller || record.expires_at() <= now {
        return Err(missing());
    }
    Ok(record)
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

/// `DELETE /v1/responses/{id}`'s answer.
pub fn deleted(id: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"id": id, "object": "response", "deleted": true}))
        .unwrap_or_default()
}

#[cfg(test)]
pub(super) mod tests {
    use apex_adapter_kit::types::{ChatResponse, ContentPart, FinishReason};
    use serde_json::json;

    use super::*;
    use crate::surfaces::Surface;
    use crate::surfaces::responses::Responses;

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
    pub(in crate::surfaces::responses) fn stored(
        id: &str,
        body: &Value,
        text: &str,
    ) -> Option<(String, Vec<u8>)> {
        let body = serde_json::to_vec(body).unwrap();
        let routing = Responses::routing(&body, Default::default()).unwrap();
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

    pub(in crate::surfaces::responses) fn parsed(bytes: &[u8]) -> Record {
        serde_json::from_slice(bytes).unwrap()
    }

    pub(in crate::surfaces::responses) fn texts(items: &[Value]) -> Vec<String> {
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
}
