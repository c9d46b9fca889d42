//! Reading OpenAI and Anthropic event streams back into text and finish reasons.

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

use crate::http::*;

/// One SSE event: its `event:` name (if any) and its data lines joined.
pub struct SseEvent {
    pub name: Option<String>,
    pub data: String,
}

/// Parses an SSE body; comment-only events (keepalives) are left out.
pub fn sse_events(body: &str) -> Result<Vec<SseEvent>> {
    let body = body.replace("\r\n", "\n");
    ensure!(
        body.ends_with("\n\n"),
        "the stream does not end with a blank line"
    );
    let mut events = Vec::new();
    for block in body.split("\n\n").filter(|b| !b.is_empty()) {
        let mut name = None;
        let mut data: Vec<&str> = Vec::new();
        for line in block.lines() {
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => name = Some(value.to_string()),
                "data" => data.push(value),
                "id" | "retry" => {}
                other => bail!("unknown SSE field `{other}` in {}", short(block)),
            }
        }
        if name.is_none() && data.is_empty() {
            continue;
        }
        events.push(SseEvent {
            name,
            data: data.join("\n"),
        });
    }
    Ok(events)
}

/// Checks an OpenAI chat stream's grammar; returns its text and finish reason.
pub fn openai_stream(reply: &Reply) -> Result<(String, String)> {
    ensure!(
        reply.content_type().starts_with("text/event-stream"),
        "content-type {:?}",
        reply.content_type()
    );
    let events = sse_events(&reply.body)?;
    let (last, chunks) = events.split_last().context("an empty stream")?;
    ensure!(
        last.data == "[DONE]",
        "the last event is not [DONE]: {}",
        short(&last.data)
    );
    ensure!(!chunks.is_empty(), "no chunks before [DONE]");
    let mut text = String::new();
    let mut finish: Option<String> = None;
    let mut id: Option<String> = None;
    for (n, event) in chunks.iter().enumerate() {
        ensure!(event.data != "[DONE]", "[DONE] before the end");
        let chunk: Value = serde_json::from_str(&event.data)
            .with_context(|| format!("chunk {n} is not JSON: {}", short(&event.data)))?;
        ensure!(
            chunk["object"] == "chat.completion.chunk",
            "chunk {n}: object {}",
            chunk["object"]
        );
        let chunk_id = chunk["id"].as_str().unwrap_or_default().to_string();
        match &id {
            None => id = Some(chunk_id),
            Some(first) => ensure!(*first == chunk_id, "chunk ids differ"),
        }
        let choices = chunk["choices"].as_array().context("no choices array")?;
        for choice in choices {
            if n == 0 {
                ensure!(
                    choice["delta"]["role"] == "assistant",
                    "the first chunk has no assistant role"
                );
            }
            if let Some(piece) = choice["delta"]["content"].as_str() {
                ensure!(
                    finish.is_none() || piece.is_empty(),
                    "content after the finish reason"
                );
                text.push_str(piece);
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                ensure!(finish.is_none(), "two finish reasons");
                finish = Some(reason.to_string());
            }
        }
    }
    let finish = finish.context("no finish_reason")?;
    Ok((text, finish))
}

/// Checks an Anthropic Messages stream's grammar; returns (text, tool inputs, stop reason).
pub fn anthropic_stream(reply: &Reply) -> Result<(String, String)> {
    ensure!(
        reply.content_type().starts_with("text/event-stream"),
        "content-type {:?}",
        reply.content_type()
    );
    let events: Vec<(String, Value)> = sse_events(&reply.body)?
        .into_iter()
        .map(|event| {
            let data: Value = serde_json::from_str(&event.data)
                .with_context(|| format!("event data is not JSON: {}", short(&event.data)))?;
            let name = event.name.context("an event without `event:`")?;
            ensure!(
                data["type"] == name.as_str(),
                "event `{name}` carries type {}",
                data["type"]
            );
            Ok((name, data))
        })
        .filter(|e| !matches!(e, Ok((name, _)) if name == "ping"))
        .collect::<Result<_>>()?;
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    ensure!(
        names.first() == Some(&"message_start"),
        "first event: {names:?}"
    );
    ensure!(
        names.last() == Some(&"message_stop"),
        "last event: {names:?}"
    );
    let mut text = String::new();
    let mut open: Option<u64> = None;
    let mut stop = None;
    let mut next_index = 0;
    for (name, data) in &events[1..events.len() - 1] {
        ensure!(stop.is_none(), "`{name}` after message_delta");
        match name.as_str() {
            "content_block_start" => {
                ensure!(open.is_none(), "a block opened inside another");
                let index = data["index"].as_u64().context("no index")?;
                ensure!(
                    index == next_index,
                    "block index {index}, expected {next_index}"
                );
                open = Some(index);
            }
            "content_block_delta" => {
                ensure!(open == data["index"].as_u64(), "a delta outside its block");
                if let Some(piece) = data["delta"]["text"].as_str() {
                    text.push_str(piece);
                }
            }
            "content_block_stop" => {
                ensure!(
                    open == data["index"].as_u64(),
                    "a stop for a block not open"
                );
                open = None;
                next_index += 1;
            }
            "message_delta" => {
                ensure!(open.is_none(), "message_delta inside a block");
                stop = Some(
                    data["delta"]["stop_reason"]
                        .as_str()
                        .context("message_delta without stop_reason")?
                        .to_string(),
                );
            }
            other => bail!("unexpected event `{other}`"),
        }
    }
    Ok((text, stop.context("no message_delta")?))
}
