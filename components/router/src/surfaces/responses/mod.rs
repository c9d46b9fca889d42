//! The OpenAI Responses surface: `POST /v1/responses` (what Codex speaks) and the state behind
//! `previous_response_id`, `GET`/`DELETE /v1/responses/{id}` and `input_items`.
//!
//! - `wire.rs`: the request and its conversion to the neutral form
//! - `render.rs`: response objects, output items and the event stream
//! - `resource.rs`: `/v1/responses/{id}[/input_items|/cancel]` read strictly (what may be forwarded)
//! - here: the surface, and the stored record (pure: `responses_api` does the key-value I/O)
//!
//! Every provider is reached by translation, so a conversation continues on any provider kind: the
//! gateway keeps each stored response — its own input items, the conversation before it, and its
//! output — in the key-value store under its id, scoped to the gateway key that created it.

pub mod render;
pub mod resource;
pub mod wire;

use apex_adapter_kit::types::{ChatRequest, ChatResponse, Protocol};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::error::{ApiError, ErrorFormat};
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

/// The key-value key of a stored response.
pub fn record_key(id: &str) -> String {
    format!("apex:response:{id}")
}

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
    /// The conversation before this request (earlier inputs and outputs), as input items.
    pub history: Vec<Value>,
}

impl Record {
    /// The conversation a follow-up continues: everything before, this input, this output.
    pub fn conversation(&self) -> Vec<Value> {
        let mut items = self.history.clone();
        items.extend(self.input.iter().cloned());
        if let Some(output) = self.response["output"].as_array() {
            items.extend(output.iter().cloned());
        }
        items
    }
}

#[derive(Deserialize)]
struct StoredFields {
    store: Option<bool>,
    input: Option<Value>,
    apex_history: Option<Vec<Value>>,
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

/// What to store for a finished response: nothing when the client said `store: false`.
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
        history: fields.apex_history.unwrap_or_default(),
    };
    Some((record_key(done.id), serde_json::to_vec(&record).ok()?))
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

/// The request body with `previous_response_id`'s conversation put in front of its input (as
/// `apex_history`); any `apex_history` the client sent is replaced.
pub fn continue_from(body: &[u8], previous: &Record) -> Result<Vec<u8>, ApiError> {
    let mut request: Map<String, Value> = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Request body is not valid JSON: {e}")))?;
    request.insert("apex_history".into(), Value::Array(previous.conversation()));
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

/// The key-value key of a natively made response's route.
pub fn route_key(id: &str) -> String {
    format!("apex:response-route:{id}")
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
