//! Client input: what the router's server and dispatch do with a request's bytes before anything
//! leaves the gateway, minus the I/O. Every error a parser returns for client input must be a 4xx.

use std::sync::OnceLock;

use apex_adapter_kit::types::{AdapterError, ErrorKind, Protocol};
use apex_router::config::{self, Config};
use apex_router::http::auth::{self, GatewayKey};
use apex_router::http::cors;
use apex_router::http::error::ApiError;
use apex_router::state::cache;
use apex_router::surfaces::anthropic_messages::{self, AnthropicMessages};
use apex_router::surfaces::ollama::{self, OllamaChat, OllamaGenerate};
use apex_router::surfaces::openai_chat::OpenAiChat;
use apex_router::surfaces::responses::{self, Link, Record, Responses, resource};
use apex_router::surfaces::{Completed, PathParams, Routing, Surface};
use serde_json::json;

use super::adapters::{self, KINDS};
use super::{Outcome, output};
use crate::rng::hash;

/// The configuration client requests are routed with: the README's complete example, every
/// variable set (so every catalog provider is enabled too).
const EXAMPLE: &str = include_str!("../../../apex.example.toml");

/// Added to the example: a provider with an `anthropic-beta` allow-list (globs).
const EXTRA: &str = r#"
[providers.claude-betas]
kind = "anthropic"
base_url = "https://api.anthropic.com/v1"
keys = ["claude_betas_key"]
anthropic_betas = ["prompt-caching-*", "*-2025-*", "exact-flag"]
"#;

fn variable(name: &str) -> Option<String> {
    Some(format!("fuzz-value-of-{name}"))
}

fn gateway_config() -> Result<&'static Config, String> {
    static CONFIG: OnceLock<Result<Config, config::ConfigError>> = OnceLock::new();
    CONFIG
        .get_or_init(|| config::load(Some(&format!("{EXAMPLE}\n{EXTRA}")), &variable))
        .as_ref()
        .map_err(|e| format!("harness: the example config does not load: {e}"))
}

/// A 4xx, or the failure this is.
pub fn client_error(error: &ApiError, what: &str) -> Result<(), String> {
    if (400..500).contains(&error.status) {
        Ok(())
    } else {
        Err(format!(
            "{what}: client input got HTTP {} ({}): {}",
            error.status, error.kind, error.message
        ))
    }
}

/// An adapter's refusal of a client's request, as the client would get it.
fn adapter_error(error: &AdapterError, what: &str) -> Result<(), String> {
    client_error(&ApiError::from_upstream(error), what)
}

fn same_origin(url: &str, base: &str, what: &str) -> Result<(), String> {
    if apex_router::http::url::same_origin(url, base) {
        Ok(())
    } else {
        Err(format!(
            "{what}: the request URL {url} left the provider's origin ({base}); the router would answer 502"
        ))
    }
}

/// Two provider kinds for this input (from its hash, so a saved input replays the same way).
fn kinds_for(variant: u64) -> [&'static str; 2] {
    let n = KINDS.len() as u64;
    [
        KINDS[(variant % n) as usize],
        KINDS[((variant >> 16) % n) as usize],
    ]
}

/// One chat request on surface `S`, as `dispatch::chat` handles it: routing (checked first for
/// every request), the route name, forwarding (the body with the model spliced, through the
/// adapter's `forward_request`), the neutral form, the cache key, the built-in `echo` answer
/// rendered and streamed, the stored record, and translation by two adapters.
fn surface<S: Surface>(body: &[u8]) -> Outcome {
    let config = gateway_config()?;
    // Surfaces that name the model in the path (Gemini) get one; the others ignore it.
    let path = PathParams {
        model: Some("gemini-fuzz"),
    };
    let routing = S::routing(body, path);
    let neutral = S::to_neutral(body);
    if let Err(error) = &routing {
        client_error(error, "routing")?;
    }
    if let Err(error) = &neutral {
        client_error(error, "to_neutral")?;
    }
    let Ok(routing) = routing else {
        return Ok(false);
    };
    let served = config.route_name(&routing.model);
    let _ = config.alias(&served);
    // With `provider/model`, the client picks the upstream model name.
    let model = match routing.model.split_once('/') {
        Some((_, upstream)) if !upstream.is_empty() => upstream,
        _ if routing.model.is_empty() => "m",
        _ => routing.model.as_str(),
    };
    let variant = hash(body);
    let kinds = kinds_for(variant);

    if S::FORWARDS || S::PINS_IDS {
        for provider in config.providers.values() {
            let _ = S::forwards_to(provider, body);
        }
        // A body whose model cannot be spliced gets a 400 (`Invalid request body`): `Ok(None)`.
        let path = S::forward_path(model, &routing);
        let named = S::MODEL_IN_BODY.then_some(model);
        for kind in kinds {
            let target = adapters::target(kind, variant);
            match adapters::forward(&target, S::PROTOCOL, &path, body, named, routing.stream) {
                Ok(Some(request)) => same_origin(&request.url, &target.base_url, "forward")?,
                Ok(None) => {}
                Err(error) if error.kind == ErrorKind::Unsupported => {}
                Err(error) => adapter_error(&error, "forward_request")?,
            }
        }
    }

    let Ok(mut request) = neutral else {
        return Ok(false);
    };
    let mut cached = request.clone();
    cached.model = served.to_string();
    let _ = cache::cache_key("alice", &cached, "neutral");

    // The built-in echo model answers requests routed to it (its whole stream is rendered at
    // once, each event naming the model the client asked for).
    if served == config::ECHO_MODEL && config.echo_model {
        let id = format!("{}fuzz0001", S::ID_PREFIX);
        let response = apex_router::routing::echo::respond(&request, &id);
        output::json(
            &S::render(&response, &id, &routing.model, 1_700_000_000, &routing),
            "echo render",
        )?;
        let events = apex_router::routing::echo::stream(&request, &id);
        output::stream_one::<S>(&events, None, &routing, "echo stream")?;
        if S::STORES {
            stored::<S>(body, &id, &routing, &response)?;
        }
    }

    // Translation: the neutral request through two adapters.
    request.model = model.to_string();
    for kind in kinds {
        let target = adapters::target(kind, variant);
        match adapters::build(&target, &request) {
            Ok(http) => same_origin(&http.url, &target.base_url, "build_request")?,
            Err(error) => adapter_error(&error, &format!("{kind} build_request"))?,
        }
    }
    Ok(true)
}

/// What a surface that keeps state stores for an answer must load back and be continued: the
/// follow-up request (`previous_response_id`) of an accepted request is accepted too.
fn stored<S: Surface>(
    body: &[u8],
    id: &str,
    routing: &Routing,
    response: &apex_adapter_kit::types::ChatResponse,
) -> Result<(), String> {
    let done = Completed {
        id,
        created: 1_700_000_000,
        model: &routing.model,
        caller: "alice",
        body,
        routing,
        response,
        ttl_secs: 3600,
    };
    let Some((_, value)) = S::record(&done) else {
        return Ok(());
    };
    let record: Record = responses::visible(Some(&value), id, "alice", 1_700_000_001)
        .map_err(|e| format!("a stored response does not load back: {}", e.message))?;
    let page = responses::input_items_page(&record, "limit=100&order=asc")
        .map_err(|e| format!("input_items of a stored response: {}", e.message))?;
    output::json(
        &serde_json::to_vec(&page).unwrap_or_default(),
        "input_items",
    )?;
    let next = json!({"model": routing.model, "input": "and then?", "previous_response_id": id});
    let next = serde_json::to_vec(&next).unwrap_or_default();
    let link = Link::from_stored(value).ok_or("a stored response does not load as a link")?;
    let chain = [(id.to_string(), link)];
    let continued = responses::continue_from(&next, &chain)
        .map_err(|e| format!("continue_from: {}", e.message))?;
    Responses::to_neutral(&continued).map_err(|e| {
        format!(
            "the follow-up of an accepted request is refused: HTTP {}: {}",
            e.status, e.message
        )
    })?;
    Ok(())
}

pub fn openai_chat(body: &[u8]) -> Outcome {
    surface::<OpenAiChat>(body)
}

pub fn anthropic_messages(body: &[u8]) -> Outcome {
    surface::<AnthropicMessages>(body)
}

/// `POST /v1beta/models/{model}:generateContent` and `:streamGenerateContent` (both framings),
/// plus the `countTokens` body and the hosted-tools header.
pub fn gemini_generate(body: &[u8]) -> Outcome {
    use apex_router::surfaces::gemini::{self, GenerateContent, StreamArray, StreamSse};
    let _ = gemini::hosted_tools(body);
    if let Err(error) = gemini::count_request(body) {
        client_error(&error, "count_request")?;
    }
    let whole = surface::<GenerateContent>(body)?;
    surface::<StreamSse>(body)?;
    surface::<StreamArray>(body)?;
    Ok(whole)
}

/// `POST /v1/messages/count_tokens` (`count_tokens.rs`): routing, the body forwarded to Anthropic
/// kinds, and the local estimate.
pub fn count_tokens(body: &[u8]) -> Outcome {
    let config = gateway_config()?;
    let routing = match AnthropicMessages::routing(body, PathParams::default()) {
        Ok(routing) => routing,
        Err(error) => {
            client_error(&error, "routing")?;
            return Ok(false);
        }
    };
    let served = config.route_name(&routing.model);
    let _ = config.targets(&served);
    for kind in ["anthropic", "vertex-anthropic"] {
        let target = adapters::target(kind, hash(body));
        if let Ok(Some(request)) = adapters::forward(
            &target,
            Protocol::AnthropicMessages,
            "messages/count_tokens",
            body,
            Some(&routing.model),
            false,
        ) {
            same_origin(&request.url, &target.base_url, "count_tokens forward")?;
        }
    }
    match anthropic_messages::count_request(body) {
        Ok(request) => {
            let _ = anthropic_messages::estimate_tokens(&request);
            Ok(true)
        }
        Err(error) => {
            client_error(&error, "count_request")?;
            Ok(false)
        }
    }
}

/// A stored response to continue from: the gateway's own shape, with the item types the
/// Responses surface stores.
fn previous() -> &'static [(String, Link)] {
    static CHAIN: OnceLock<Vec<(String, Link)>> = OnceLock::new();
    CHAIN.get_or_init(|| {
        link_of(&previous_record())
            .map(|link| ("resp_prev".to_string(), link))
            .into_iter()
            .collect()
    })
}

/// `record` as a chain walk reads it.
fn link_of(record: &Record) -> Option<Link> {
    Link::from_stored(serde_json::to_vec(record).ok()?)
}

/// The record of [`previous`], in the first layout (its conversation in `history`).
fn previous_record() -> Record {
    Record {
        owner: "alice".to_string(),
        expires_at: u64::MAX,
        response: json!({
            "id": "resp_prev", "object": "response", "status": "completed", "model": "m",
            "output": [
                {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "thinking"}],
                 "encrypted_content": "sig"},
                {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "lookup",
                 "arguments": "{\"q\":\"x\"}", "status": "completed"},
                {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
                 "content": [{"type": "output_text", "text": "hello", "annotations": []}]}
            ]
        }),
        input: vec![json!({"type": "message", "role": "user", "id": "in_prev00",
                   "content": [{"type": "input_text", "text": "hi"}]})],
        history: vec![
            json!({"type": "message", "role": "system", "content": "be brief"}),
            json!({"type": "function_call_output", "call_id": "call_0", "output": "42"}),
        ],
        previous: None,
    }
}

/// `POST /v1/responses` (`responses_api::create`): a `previous_response_id` brings a stored
/// conversation in front of the input, then the request runs like any chat request.
pub fn responses_create(body: &[u8]) -> Outcome {
    let continued;
    let body = match responses::previous_id(body) {
        Some(_) => match responses::continue_from(body, previous()) {
            Ok(with_history) => {
                continued = with_history;
                &continued[..]
            }
            Err(error) => {
                client_error(&error, "continue_from")?;
                return Ok(false);
            }
        },
        None => body,
    };
    let _ = responses::provider_response_id(body);
    surface::<Responses>(body)
}

/// Query keys OpenAI documents for the endpoints a resource request may be forwarded to.
const QUERY_KEYS: &[&str] = &[
    "include",
    "include%5B%5D",
    "include_obfuscation",
    "starting_after",
    "stream",
    "after",
    "before",
    "limit",
    "order",
];

/// `/v1/responses/{rest}?{query}` with a method: `METHOD rest[?query]` on the input's first line.
pub fn responses_resource(input: &[u8]) -> Outcome {
    let text = String::from_utf8_lossy(input);
    let line = text.lines().next().unwrap_or("");
    let (method, target) = line.split_once(' ').unwrap_or(("GET", line));
    let (rest, query) = target.split_once('?').unwrap_or((target, ""));
    let parsed = match resource::parse(method, rest) {
        Ok(parsed) => parsed,
        Err(error) => {
            client_error(&error, "resource::parse")?;
            return Ok(false);
        }
    };
    if !parsed
        .id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(format!(
            "an id that is not one safe segment: {:?}",
            parsed.id
        ));
    }
    let path = parsed.provider_path(query);
    let (route, forwarded_query) = path.split_once('?').unwrap_or((&path, ""));
    let segments: Vec<&str> = route.split('/').collect();
    let shape_ok = match segments.as_slice() {
        ["responses", id] => *id == parsed.id,
        ["responses", id, sub] => *id == parsed.id && matches!(*sub, "input_items" | "cancel"),
        _ => false,
    };
    if !shape_ok || path.contains('#') {
        return Err(format!("provider path out of shape: {path}"));
    }
    for pair in forwarded_query.split('&').filter(|p| !p.is_empty()) {
        let key = pair.split_once('=').map_or(pair, |(k, _)| k);
        if !QUERY_KEYS.contains(&key) {
            return Err(format!("an undocumented query key is forwarded: {path}"));
        }
    }
    for kind in ["openai", "azure"] {
        let target = adapters::target(kind, 0);
        match adapters::forward(&target, Protocol::OpenaiResponses, &path, b"", None, false) {
            Ok(Some(request)) => same_origin(&request.url, &target.base_url, "resource forward")?,
            Ok(None) => return Err(format!("{kind} edits a resource call's empty body")),
            Err(error) => return Err(format!("{kind} refused a resource path: {}", error.message)),
        }
    }
    Ok(true)
}

/// `GET /v1/responses/{id}/input_items?{query}` over a stored record: the query on the input's
/// first line, the record (JSON) after it.
pub fn responses_input_items(input: &[u8]) -> Outcome {
    let (query, record) = match input.iter().position(|&b| b == b'\n') {
        Some(at) => (&input[..at], &input[at + 1..]),
        None => (input, &b""[..]),
    };
    let query = String::from_utf8_lossy(query);
    let record: Record = match serde_json::from_slice(record) {
        Ok(record) => record,
        Err(_) => previous_record(),
    };
    match responses::input_items_page(&record, &query) {
        Ok(page) => {
            let listed = page["data"].as_array().map_or(0, Vec::len);
            if listed > 100 || listed > record.input.len() {
                return Err(format!(
                    "a page of {listed} items (of {})",
                    record.input.len()
                ));
            }
            output::json(&serde_json::to_vec(&page).unwrap_or_default(), "page")?;
        }
        Err(error) => {
            client_error(&error, "input_items_page")?;
            return Ok(false);
        }
    }
    // A record Apex did not write (its `output` no list) is one a walk finds missing.
    let Some(link) = link_of(&record) else {
        return Ok(true);
    };
    let chain = [("resp_fuzz".to_string(), link)];
    let _ = responses::conversation(&chain);
    if let Ok(body) = responses::continue_from(br#"{"model":"m","input":"next"}"#, &chain) {
        let _ = Responses::to_neutral(&body);
    }
    Ok(true)
}

/// `server::ollama_load`: a load call's model name and reply.
fn ollama_load(body: &[u8], reply: fn(&str, u64) -> Vec<u8>) -> Result<(), String> {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let requested = value["model"]
        .as_str()
        .or(value["name"].as_str())
        .unwrap_or_default();
    let model = ollama::model_name(requested);
    let config = gateway_config()?;
    let _ = config.targets(&config.route_name(model));
    output::json(&reply(model, 1_700_000_000), "ollama load reply")
}

pub fn ollama_chat(body: &[u8]) -> Outcome {
    if OllamaChat::is_load(body) {
        ollama_load(body, ollama::chat_load_reply)?;
    }
    surface::<OllamaChat>(body)
}

pub fn ollama_generate(body: &[u8]) -> Outcome {
    if OllamaGenerate::is_load(body) {
        ollama_load(body, ollama::load_reply)?;
    }
    surface::<OllamaGenerate>(body)
}

pub fn ollama_show(body: &[u8]) -> Outcome {
    match ollama::show(gateway_config()?, body) {
        Ok(reply) => {
            output::json(&reply, "show")?;
            Ok(true)
        }
        Err(error) => {
            client_error(&error, "show")?;
            Ok(false)
        }
    }
}

/// Header lines (`name: value`) as the router gets them (values read as lossy UTF-8).
fn headers(lines: &[&str]) -> Vec<(String, String)> {
    lines
        .iter()
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_string(), value.to_string()))
        .collect()
}

/// Gateway keys: the configured keys (comma-separated) on the first line, request headers after.
/// Whoever is let in presented exactly that key; whoever presents a key exactly is let in.
pub fn auth(input: &[u8]) -> Outcome {
    let text = String::from_utf8_lossy(input);
    let lines: Vec<&str> = text.split('\n').collect();
    let configured: Vec<&str> = lines[0].split(',').collect();
    let keys: Vec<GatewayKey> = configured
        .iter()
        .enumerate()
        .map(|(i, key)| GatewayKey::new(format!("k{i}"), key))
        .collect();
    let headers = headers(&lines[1..]);
    let presented = auth::presented_key(&headers);
    let who = auth::authenticate(&keys, presented);
    let expected = presented
        .and_then(|p| configured.iter().position(|k| *k == p))
        .map(|i| format!("k{i}"));
    if who != expected.as_deref() {
        return Err(format!(
            "presented {presented:?} authenticated as {who:?}, expected {expected:?}"
        ));
    }
    // Other request headers the router reads: `Cache-Control`, and the `anthropic-version` /
    // `anthropic-beta` a forwarded Messages request carries (matched against allow-lists).
    let _ = cache::cache_control(&headers);
    for provider in gateway_config()?.providers.values() {
        let mut target = adapters::target(&provider.kind, 0);
        AnthropicMessages::forward_target(&mut target, provider, &headers);
    }
    Ok(who.is_some())
}

/// CORS: allowed origins (comma-separated) on the first line, request headers after.
pub fn cors(input: &[u8]) -> Outcome {
    let text = String::from_utf8_lossy(input);
    let lines: Vec<&str> = text.split('\n').collect();
    let allowed: Vec<String> = lines[0]
        .split(',')
        .filter(|o| !o.is_empty())
        .map(str::to_string)
        .collect();
    let headers = headers(&lines[1..]);
    let origin = apex_adapter_kit::http::header(&headers, "origin");
    let allow = cors::allow_origin(&allowed, origin);
    let should = origin.is_some_and(|origin| {
        allowed
            .iter()
            .any(|a| a == "*" || a.eq_ignore_ascii_case(origin))
    });
    match (&allow, origin) {
        (Some(allow), Some(origin)) if should && allow == origin => {}
        (None, _) if !should => {}
        _ => {
            return Err(format!(
                "origin {origin:?} with {allowed:?}: allowed as {allow:?}"
            ));
        }
    }
    if let Some(allow) = &allow {
        let requested = apex_adapter_kit::http::header(&headers, "access-control-request-headers");
        let _ = cors::preflight_headers(allow, requested);
        let _ = cors::response_headers(allow);
    }
    Ok(allow.is_some())
}

/// The configuration (operator input, fuzzed too): loaded from TOML text, then what the router
/// derives from it for clients.
pub fn config_text(input: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(input) else {
        return Ok(false);
    };
    let Ok(config) = config::load(Some(text), &variable) else {
        return Ok(false);
    };
    let kinds: Vec<String> = KINDS.iter().map(|k| k.to_string()).collect();
    let _ = config.check_kinds(&kinds);
    let _ = config.secrets();
    for shape in [
        apex_router::surfaces::models::Shape::OpenAi,
        apex_router::surfaces::models::Shape::Anthropic,
    ] {
        output::json(
            &apex_router::surfaces::models::render(&config, shape),
            "/v1/models",
        )?;
    }
    output::json(&ollama::tags(&config, 1_700_000_000), "/api/tags")?;
    output::json(&ollama::ps(&config, 1_700_000_000), "/api/ps")?;
    let names: Vec<String> = config
        .models
        .keys()
        .cloned()
        .chain(
            config
                .model_patterns
                .iter()
                .map(|(p, _)| p.replace('*', "x")),
        )
        .chain(
            [
                "claude-3-5-haiku-20241022",
                "gpt-4o",
                "echo",
                "openai/x",
                "",
            ]
            .map(str::to_string),
        )
        .collect();
    for name in &names {
        let served = config.route_name(name);
        let _ = config.alias(&served);
        let _ = ollama::show(
            &config,
            &serde_json::to_vec(&json!({ "model": name })).unwrap_or_default(),
        );
    }
    for provider in config.providers.values() {
        let _ = provider.allows_beta("prompt-caching-2024-07-31");
        let _ = apex_router::http::url::origin(&provider.base_url);
    }
    Ok(true)
}
