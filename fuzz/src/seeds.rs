//! Seed corpora: the adapters' golden fixtures (request bodies in each provider's protocol, replies
//! and streams with their status and headers, neutral requests), the example config, and the
//! hand-written seeds under `fuzz/seeds/<target>/` (client requests the fixtures do not cover, and
//! inputs of fixed crashes, kept as regression seeds).

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The workspace root (the parent of this crate).
pub fn workspace() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

fn sorted_dir(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.sort();
    paths
}

/// The fixture case folders of an adapter (`openai`, `anthropic`, ...).
fn cases(adapter: &str) -> Vec<PathBuf> {
    sorted_dir(
        &workspace()
            .join("components")
            .join(format!("adapter-{adapter}"))
            .join("fixtures"),
    )
    .into_iter()
    .filter(|p| p.is_dir())
    .collect()
}

const ADAPTERS: &[&str] = &["openai", "anthropic", "gemini", "cohere", "ollama"];

/// The files of `fuzz/seeds/<name>/`.
fn local(name: &str) -> Vec<Vec<u8>> {
    sorted_dir(&workspace().join("fuzz").join("seeds").join(name))
        .into_iter()
        .filter(|p| p.is_file())
        .filter_map(|p| fs::read(p).ok())
        .collect()
}

fn nonempty(mut seeds: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    if seeds.is_empty() {
        seeds.push(b"{}".to_vec());
    }
    seeds
}

/// The bodies of an adapter's expected upstream requests: requests in that provider's protocol.
fn request_bodies(adapter: &str) -> Vec<Vec<u8>> {
    cases(adapter)
        .iter()
        .filter_map(|case| fs::read(case.join("upstream-request.json")).ok())
        .filter_map(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .filter_map(|request| serde_json::to_vec(&request["body"]).ok())
        .filter(|body| body.first() == Some(&b'{'))
        .collect()
}

pub fn openai_chat() -> Vec<Vec<u8>> {
    let mut seeds = request_bodies("openai");
    seeds.extend(local("openai-chat"));
    nonempty(seeds)
}

pub fn anthropic_messages() -> Vec<Vec<u8>> {
    let mut seeds = request_bodies("anthropic");
    seeds.extend(local("anthropic-messages"));
    nonempty(seeds)
}

pub fn ollama_chat() -> Vec<Vec<u8>> {
    let mut seeds = request_bodies("ollama");
    seeds.extend(local("ollama-chat"));
    nonempty(seeds)
}

pub fn gemini_generate() -> Vec<Vec<u8>> {
    let mut seeds = request_bodies("gemini");
    seeds.extend(local("gemini-generate"));
    nonempty(seeds)
}

pub fn ollama_generate() -> Vec<Vec<u8>> {
    nonempty(local("ollama-generate"))
}

pub fn ollama_show() -> Vec<Vec<u8>> {
    nonempty(local("ollama-show"))
}

pub fn responses() -> Vec<Vec<u8>> {
    nonempty(local("responses-create"))
}

pub fn responses_resource() -> Vec<Vec<u8>> {
    nonempty(local("responses-resource"))
}

pub fn responses_input_items() -> Vec<Vec<u8>> {
    nonempty(local("responses-input-items"))
}

pub fn auth() -> Vec<Vec<u8>> {
    nonempty(local("auth"))
}

pub fn cors() -> Vec<Vec<u8>> {
    nonempty(local("cors"))
}

/// The example config, hand-written configs, and every fixture's `case.toml` (TOML, if not a
/// config).
pub fn config() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = fs::read(workspace().join("apex.example.toml"))
        .into_iter()
        .collect();
    seeds.extend(local("config"));
    for adapter in ADAPTERS {
        seeds.extend(
            cases(adapter)
                .iter()
                .take(4)
                .filter_map(|case| fs::read(case.join("case.toml")).ok()),
        );
    }
    nonempty(seeds)
}

/// A case's reply as an HTTP-style input: status, headers, blank line, body.
fn reply(case: &Path) -> Option<Vec<u8>> {
    let body = fs::read(case.join("upstream-response.json"))
        .or_else(|_| fs::read(case.join("upstream-response.sse")))
        .ok()?;
    let meta: toml::Table = fs::read_to_string(case.join("case.toml"))
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_default();
    let status = meta
        .get("status")
        .and_then(toml::Value::as_integer)
        .unwrap_or(200);
    let mut out = format!("{status}\n").into_bytes();
    if let Some(headers) = meta.get("headers").and_then(toml::Value::as_table) {
        for (name, value) in headers {
            out.extend(format!("{name}: {}\n", value.as_str().unwrap_or_default()).bytes());
        }
    }
    out.push(b'\n');
    out.extend(body);
    Some(out)
}

/// Replies for `adapter`'s `parse_response`: every fixture's reply (streams included: a provider
/// may answer a plain request with anything).
pub fn responses_of(adapter: &str) -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = cases(adapter).iter().filter_map(|c| reply(c)).collect();
    seeds.extend(local(&format!("{adapter}-response")));
    nonempty(seeds)
}

/// Stream bodies for `adapter`'s decoder: its fixtures' streams, and a few plain bodies.
pub fn streams_of(adapter: &str) -> Vec<Vec<u8>> {
    let cases = cases(adapter);
    let mut seeds: Vec<Vec<u8>> = cases
        .iter()
        .filter_map(|case| fs::read(case.join("upstream-response.sse")).ok())
        .collect();
    seeds.extend(
        cases
            .iter()
            .filter_map(|case| fs::read(case.join("upstream-response.json")).ok())
            .take(4),
    );
    seeds.extend(local(&format!("{adapter}-stream")));
    nonempty(seeds)
}

/// Every adapter's streams (the SSE parser takes any).
pub fn all_streams() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for adapter in ADAPTERS {
        seeds.extend(
            cases(adapter)
                .iter()
                .filter_map(|case| fs::read(case.join("upstream-response.sse")).ok()),
        );
    }
    seeds.extend(local("sse-framing"));
    nonempty(seeds)
}

/// Every fixture's neutral request.
pub fn neutral_requests() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for adapter in ADAPTERS {
        seeds.extend(
            cases(adapter)
                .iter()
                .filter_map(|case| fs::read(case.join("input.json")).ok()),
        );
    }
    seeds.extend(local("build-request"));
    nonempty(seeds)
}
