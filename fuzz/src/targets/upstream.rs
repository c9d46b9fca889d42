//! Upstream input: what providers send back, through every adapter's `parse_response` and stream
//! decoder, then through the router (accumulated, cached, rendered and streamed by every surface).

use apex_adapter_kit::sse::SseParser;
use apex_adapter_kit::types::{ChatRequest, StreamEvent};
use apex_router::http::error::{ApiError, ErrorFormat};
use apex_router::routing::accumulate::Accumulator;
use apex_router::state::cache::{self, CachedResponse};
use apex_router::surfaces::Routing;

use super::adapters::{self, KINDS};
use super::{Outcome, output};
use crate::rng::{Rng, hash};

/// The routing every rendering uses (a streaming client that asked for usage).
fn routing() -> Routing {
    let mut routing = Routing::new("fuzz-model".to_string(), true);
    routing.include_usage = true;
    routing
}

/// An HTTP-style input: the status on the first line, header lines up to a blank line, then the
/// body. A first line that is no number means status 200.
pub fn http(input: &[u8]) -> (u16, Vec<(String, String)>, &[u8]) {
    fn line(rest: &[u8]) -> (&[u8], &[u8]) {
        match rest.iter().position(|&b| b == b'\n') {
            Some(at) => {
                let line = &rest[..at];
                (line.strip_suffix(b"\r").unwrap_or(line), &rest[at + 1..])
            }
            None => (rest, &[]),
        }
    }
    let (first, mut rest) = line(input);
    let status = std::str::from_utf8(first)
        .ok()
        .and_then(|s| s.trim().parse::<u16>().ok())
        .unwrap_or(200);
    let mut headers = Vec::new();
    while !rest.is_empty() {
        let (header, after) = line(rest);
        rest = after;
        if header.is_empty() {
            break;
        }
        let header = String::from_utf8_lossy(header);
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    (status, headers, rest)
}

/// A reply through `adapter`'s `parse_response` (each of its kinds); an answer is rendered by every
/// surface, cached and replayed; an error becomes the client's error in every format.
fn response(adapter: &str, input: &[u8]) -> Outcome {
    let (status, headers, body) = http(input);
    let variant = hash(body);
    let routing = routing();
    let mut accepted = false;
    for kind in adapters::kinds_of(adapter) {
        match adapters::parse(kind, status, &headers, body) {
            Ok(response) => {
                accepted = true;
                output::render_some(&response, &routing, variant >> 16)?;
                let entry = CachedResponse::new(response.clone(), 1_700_000_000_000, 60);
                if cache::storable(&response)
                    && CachedResponse::decode(&entry.encode()).as_ref() != Some(&entry)
                {
                    return Err("a cached answer does not read back as it was".to_string());
                }
                output::stream_some(&cache::replay_events(&response), None, &routing, variant)?;
            }
            Err(error) => {
                let api = ApiError::from_upstream(&error);
                for format in [
                    ErrorFormat::OpenAi,
                    ErrorFormat::Anthropic,
                    ErrorFormat::Ollama,
                ] {
                    output::json(&api.body(format), "error body")?;
                }
            }
        }
    }
    // A non-2xx reply that parses anyway is classified by status (`dispatch::upstream_failure`).
    let kind = apex_adapter_kit::http::kind_for_status(status);
    let _ = apex_adapter_kit::http::upstream_error(kind, status, &headers, "upstream");
    if adapter == "openai" {
        let _ = apex_router::surfaces::responses::provider_response_id(body);
    }
    Ok(accepted)
}

pub fn openai_response(input: &[u8]) -> Outcome {
    response("openai", input)
}

pub fn anthropic_response(input: &[u8]) -> Outcome {
    response("anthropic", input)
}

pub fn gemini_response(input: &[u8]) -> Outcome {
    response("gemini", input)
}

pub fn cohere_response(input: &[u8]) -> Outcome {
    response("cohere", input)
}

pub fn ollama_response(input: &[u8]) -> Outcome {
    response("ollama", input)
}

/// Cuts of `input` into chunks, from its hash: pieces of mixed sizes, sometimes single bytes.
fn chunks(input: &[u8]) -> Vec<&[u8]> {
    let mut rng = Rng::new(hash(input));
    let single = input.len() <= 4096 && rng.one_in(4);
    let mut chunks = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let size = if single {
            1
        } else {
            rng.small(rest.len().min(512))
        };
        let (chunk, after) = rest.split_at(size.min(rest.len()));
        chunks.push(chunk);
        if rng.one_in(16) {
            chunks.push(&[]);
        }
        rest = after;
    }
    chunks
}

/// A stream body through `adapter`'s decoder, whole and cut into chunks (the same events and the
/// same error either way), then written by every surface and accumulated into an answer.
fn stream(adapter: &str, input: &[u8]) -> Outcome {
    let variant = hash(input);
    let kinds = adapters::kinds_of(adapter);
    let kind = kinds[(variant % kinds.len() as u64) as usize];
    let (events, error) = adapters::decode(kind, &[input]);
    let (cut_events, cut_error) = adapters::decode(kind, &chunks(input));
    let kind_of = |e: &Option<apex_adapter_kit::types::AdapterError>| e.as_ref().map(|e| e.kind);
    if events != cut_events || kind_of(&error) != kind_of(&cut_error) {
        return Err(format!(
            "{kind}: the result depends on how the stream is cut: whole {} events, error {:?}; cut {} events, error {:?}",
            events.len(),
            error.as_ref().map(|e| &e.message),
            cut_events.len(),
            cut_error.as_ref().map(|e| &e.message),
        ));
    }
    let routing = routing();
    let api_error = error.as_ref().map(ApiError::from_upstream);
    output::stream_some(&events, api_error.as_ref(), &routing, variant)?;
    let mut whole = Accumulator::default();
    events.iter().for_each(|event| whole.push(event));
    let finished = events.iter().any(|e| matches!(e, StreamEvent::Finish(_)));
    if error.is_none()
        && finished
        && let Some(response) = whole.finish()
    {
        output::render_some(&response, &routing, variant >> 16)?;
    }
    if adapter == "openai" {
        let _ = apex_router::surfaces::responses::provider_response_id(input);
    }
    Ok(error.is_none())
}

pub fn openai_stream(input: &[u8]) -> Outcome {
    stream("openai", input)
}

pub fn anthropic_stream(input: &[u8]) -> Outcome {
    stream("anthropic", input)
}

pub fn gemini_stream(input: &[u8]) -> Outcome {
    stream("gemini", input)
}

pub fn cohere_stream(input: &[u8]) -> Outcome {
    stream("cohere", input)
}

pub fn ollama_stream(input: &[u8]) -> Outcome {
    stream("ollama", input)
}

/// The kit's SSE parser: the same events (or the same failure) whole and cut.
pub fn sse_framing(input: &[u8]) -> Outcome {
    let parse = |chunks: &[&[u8]]| {
        let mut parser = SseParser::new();
        let mut events = Vec::new();
        for chunk in chunks {
            if parser.feed(chunk, &mut events).is_err() {
                return (events, true);
            }
        }
        match parser.finish() {
            Ok(last) => events.extend(last),
            Err(_) => return (events, true),
        }
        (events, false)
    };
    let whole = parse(&[input]);
    let cut = parse(&chunks(input));
    if whole != cut {
        return Err(format!(
            "SSE events depend on the cuts: {} whole, {} cut",
            whole.0.len(),
            cut.0.len()
        ));
    }
    Ok(!whole.0.is_empty())
}

/// Any neutral request through every adapter's `build_request`: no panic, and a built request
/// stays on the provider's origin.
pub fn build_request(input: &[u8]) -> Outcome {
    let Ok(request) = serde_json::from_slice::<ChatRequest>(input) else {
        return Ok(false);
    };
    let variant = hash(input);
    let mut built = false;
    for kind in KINDS {
        let target = adapters::target(kind, variant);
        if let Ok(http) = adapters::build(&target, &request) {
            built = true;
            if !apex_router::http::url::same_origin(&http.url, &target.base_url) {
                return Err(format!(
                    "{kind}: the request URL {} left the provider's origin",
                    http.url
                ));
            }
        }
    }
    Ok(built)
}
