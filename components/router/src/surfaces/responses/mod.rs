//! The OpenAI Responses surface: `POST /v1/responses` (what Codex speaks) and the state behind
//! `previous_response_id`, `GET`/`DELETE /v1/responses/{id}` and `input_items`.
//!
//! - `wire.rs`: the request and its conversion to the neutral form
//! - `render.rs`: response objects and output items
//! - `stream.rs`: the event stream
//! - `record.rs`: the stored record of a response, and its input items
//! - `chain.rs`: `previous_response_id` chains followed back through the records
//! - `reference.rs`: `item_reference` input items resolved from the records
//! - `tools.rs`: namespaces, custom (freeform) tools and `additional_tools` items
//! - `route.rs`: where a natively made response lives
//! - `resource.rs`: `/v1/responses/{id}[/input_items|/cancel]` read strictly (what may be forwarded)
//! - here: the surface and the settings a response object echoes
//!
//! All of it is pure: `state::responses` does the key-value I/O.
//!
//! Every provider is reached by translation, so a conversation continues on any provider kind: the
//! gateway keeps each stored response — its own input items, its output, and the id of the response
//! it continued — in the key-value store under its id, scoped to the gateway key that created it.
//! A `previous_response_id` is followed back record by record ([`walk`]) to rebuild the
//! conversation, so a chain of n turns stores each turn once.

mod chain;
mod record;
pub mod reference;
pub mod render;
pub mod resource;
mod route;
pub mod stream;
pub mod tools;
pub mod wire;

use apex_adapter_kit::types::{ChatRequest, ChatResponse, Protocol};
use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

pub use chain::{
    ChainError, MAX_CHAIN, continue_from, conversation, extended, previous_id, to_extend, walk,
};
pub use record::{
    Link, MAX_RECORD_BYTES, RECORD_PREFIX, Record, deleted, input_items_page, record, record_key,
    visible,
};
pub use route::{ROUTE_PREFIX, Route, provider_response_id, route_key};

use crate::http::error::{ApiError, ErrorFormat};
use crate::surfaces::openai_chat::parse_json;
use crate::surfaces::{Completed, Delivered, PathParams, Routing, Surface, place_of};

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
    const CARRIES_REASONING: bool = true;
    type Writer = stream::EventWriter;

    /// What a forwarded (native) event delivered: `response.completed`, `.incomplete` and
    /// `.failed` end the stream, an `error` event fails it.
    fn forwarded_usage(body: &[u8]) -> Option<crate::state::usage::Tokens> {
        use crate::surfaces::reported_usage::{ResponsesUsage, from_body};
        from_body::<ResponsesUsage>(body, "usage").map(|u| u.tokens())
    }

    fn forwarded_event(data: &[u8]) -> Option<Delivered> {
        Some(stream::delivered(data))
    }

    /// Natively only to providers configured so, and never for a conversation the gateway keeps.
    fn forwards_to(provider: &crate::config::Provider, body: &[u8]) -> bool {
        #[derive(Deserialize)]
        struct History {
            apex_history: Option<serde::de::IgnoredAny>,
        }
        provider.native_responses
            && serde_json::from_slice::<History>(body).is_ok_and(|h| h.apex_history.is_none())
    }

    fn routing(body: &[u8], _path: PathParams) -> Result<Routing, ApiError> {
        let fields = parse_json::<RoutingFields>(body)?;
        Ok(Routing {
            model_at: place_of(body, &fields.model),
            tool_calls_back: None,
            model: fields.model.to_string(),
            stream: fields.stream.unwrap_or(false),
            include_usage: true,
            echo: fields.echo(),
            hosted_tools: crate::surfaces::hosted_tools::in_responses_tools(
                fields.tools.as_deref(),
            ),
            tool_names: tools::declared(fields.tools.as_deref(), fields.input.as_deref()),
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

    fn writer(id: String, model: String, created: u64, routing: &Routing) -> stream::EventWriter {
        stream::EventWriter::new(id, model, created, routing)
    }

    fn record(done: &Completed) -> Option<(String, Vec<u8>)> {
        record(done, done.ttl_secs)
    }
}

/// The fields routing needs, and those the response object echoes back.
#[derive(Deserialize)]
struct RoutingFields<'a> {
    #[serde(borrow)]
    model: Cow<'a, str>,
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
    /// Read for `additional_tools` items only (`tools::declared`).
    input: Option<Box<RawValue>>,
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

impl RoutingFields<'_> {
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
