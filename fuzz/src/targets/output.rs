//! What the router sends clients, checked: every surface's rendered answer is JSON, every stream it
//! writes is well framed (SSE events whose data is JSON or `[DONE]`; NDJSON lines of JSON).

use apex_adapter_kit::sse::SseParser;
use apex_adapter_kit::types::{ChatResponse, StreamEvent};
use apex_router::http::error::ApiError;
use apex_router::surfaces::anthropic_messages::AnthropicMessages;
use apex_router::surfaces::gemini::{GenerateContent, StreamArray, StreamSse};
use apex_router::surfaces::ollama::{OllamaChat, OllamaGenerate};
use apex_router::surfaces::openai_chat::OpenAiChat;
use apex_router::surfaces::responses::Responses;
use apex_router::surfaces::{Routing, StreamWriter, Surface};

pub type Check = Result<(), String>;

pub fn json(bytes: &[u8], what: &str) -> Check {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        .map(|_| ())
        .map_err(|e| {
            format!(
                "{what} is not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
            )
        })
}

/// An SSE body: UTF-8, and every event's data JSON or `[DONE]`.
pub fn sse(bytes: &[u8], what: &str) -> Check {
    std::str::from_utf8(bytes).map_err(|e| format!("{what}: not UTF-8 ({e})"))?;
    let mut parser = SseParser::new();
    let mut events = Vec::new();
    parser
        .feed(bytes, &mut events)
        .map_err(|e| format!("{what}: {}", e.message))?;
    events.extend(
        parser
            .finish()
            .map_err(|e| format!("{what}: {}", e.message))?,
    );
    for event in events {
        if event.data != "[DONE]" {
            json(event.data.as_bytes(), &format!("{what}: an event's data"))?;
        }
    }
    Ok(())
}

/// An NDJSON body: every line JSON, the last one ended.
pub fn ndjson(bytes: &[u8], what: &str) -> Check {
    if !bytes.is_empty() && !bytes.ends_with(b"\n") {
        return Err(format!("{what}: the last NDJSON line is not ended"));
    }
    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        json(line, &format!("{what}: an NDJSON line"))?;
    }
    Ok(())
}

fn render_one<S: Surface>(response: &ChatResponse, routing: &Routing, what: &str) -> Check {
    json(
        &S::render(response, "id_1", &routing.model, 1_700_000_000, routing),
        what,
    )
}

/// Two of the six surfaces, picked by `variant` (an input's hash: over many inputs every surface
/// gets every kind of answer and stream).
fn two_surfaces(variant: u64) -> [u64; 2] {
    let first = variant % 6;
    [first, (first + 1 + (variant >> 8) % 5) % 6]
}

/// `response` rendered by two surfaces, picked by `variant`.
pub fn render_some(response: &ChatResponse, routing: &Routing, variant: u64) -> Check {
    for pick in two_surfaces(variant) {
        match pick {
            0 => render_one::<OpenAiChat>(response, routing, "openai-chat render")?,
            1 => render_one::<AnthropicMessages>(response, routing, "anthropic render")?,
            2 => render_one::<Responses>(response, routing, "responses render")?,
            3 => render_one::<OllamaChat>(response, routing, "ollama-chat render")?,
            4 => render_one::<GenerateContent>(response, routing, "gemini render")?,
            _ => render_one::<OllamaGenerate>(response, routing, "ollama-generate render")?,
        }
    }
    Ok(())
}

/// `events` written by surface `S`'s stream writer, ended by `done` or by `error`.
pub fn stream_one<S: Surface>(
    events: &[StreamEvent],
    error: Option<&ApiError>,
    routing: &Routing,
    what: &str,
) -> Check {
    let mut writer = S::writer(
        "id_1".to_string(),
        routing.model.clone(),
        1_700_000_000,
        routing,
    );
    let mut out = Vec::new();
    for event in events {
        writer.event(event, &mut out);
    }
    match error {
        Some(error) => writer.error(error, &mut out),
        None => writer.done(&mut out),
    }
    if S::KEEPALIVE {
        S::keepalive(&mut out);
    }
    match S::STREAM_CONTENT_TYPE {
        "application/x-ndjson" => ndjson(&out, what),
        // Gemini without `alt=sse`: the stream is one JSON array.
        "application/json" => json(&out, what),
        _ => sse(&out, what),
    }
}

/// `events` written by two surfaces' stream writers, picked by `variant`.
pub fn stream_some(
    events: &[StreamEvent],
    error: Option<&ApiError>,
    routing: &Routing,
    variant: u64,
) -> Check {
    for pick in two_surfaces(variant) {
        match pick {
            0 => stream_one::<OpenAiChat>(events, error, routing, "openai-chat stream")?,
            1 => stream_one::<AnthropicMessages>(events, error, routing, "anthropic stream")?,
            2 => stream_one::<Responses>(events, error, routing, "responses stream")?,
            3 => stream_one::<OllamaChat>(events, error, routing, "ollama-chat stream")?,
            4 if variant & 1 == 0 => {
                stream_one::<StreamSse>(events, error, routing, "gemini stream")?
            }
            4 => stream_one::<StreamArray>(events, error, routing, "gemini array stream")?,
            _ => stream_one::<OllamaGenerate>(events, error, routing, "ollama-generate stream")?,
        }
    }
    Ok(())
}
