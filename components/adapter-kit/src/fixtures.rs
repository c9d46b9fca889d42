//! Golden fixture cases for adapters (native only).
//!
//! A case is a folder:
//! - `case.toml`: `description`, `capability`, the `[target]` (kind, profile, base_url, api_key,
//!   api_version), and for the reply `status` (default 200) and `headers` (a table).
//! - `input.json`: the neutral `ChatRequest` (or, with `call = "embed"` in `case.toml`, the
//!   neutral `EmbedRequest`: the case drives `build-embed-request` and `parse-embed-response`).
//! - `upstream-request.json`: the exact request expected: `{"method", "url", "headers", "body"}`;
//!   `headers` lists the headers that must be present with these values (names lowercase),
//!   `body` is compared as parsed JSON.
//! - `upstream-response.json` (a body, for `stream: false`) or `upstream-response.sse` (the raw
//!   stream body, for `stream: true`): what the provider replies, in its documented wire format.
//! - `output.json`: the expected neutral `ChatResponse` (`EmbedResponse`), or the list of
//!   `StreamEvent`s; or
//!   `error.json`: the expected `AdapterError`.
//!
//! The same runner drives a native adapter ([`Adapter`]) and a compiled component (the host-tests
//! implement [`Translate`] over wasmtime). `APEX_BLESS=1` rewrites expectations for review.
//!
//! The helpers ([`expect`], [`expect_bytes`], [`run_each`], [`bless`]) also drive the router's
//! surface cases (`components/router/fixtures/`).

use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::Adapter;
use crate::types::{
    AdapterError, ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, HttpRequest, StreamEvent,
    Target,
};

/// What a fixture runner needs from an adapter, native or compiled.
pub trait Translate {
    fn build_request(
        &mut self,
        target: &Target,
        request: &ChatRequest,
    ) -> Result<HttpRequest, AdapterError>;
    fn parse_response(
        &mut self,
        kind: &str,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<ChatResponse, AdapterError>;
    /// Decode `chunks` as one stream: all events, or the first error.
    fn decode_stream(
        &mut self,
        kind: &str,
        chunks: &[&[u8]],
    ) -> Result<Vec<StreamEvent>, AdapterError>;
    fn build_embed_request(
        &mut self,
        target: &Target,
        request: &EmbedRequest,
    ) -> Result<HttpRequest, AdapterError>;
    fn parse_embed_response(
        &mut self,
        kind: &str,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<EmbedResponse, AdapterError>;
}

/// [`Translate`] for a native [`Adapter`].
pub struct Native<A>(std::marker::PhantomData<A>);

impl<A> Default for Native<A> {
    fn default() -> Self {
        Self(std::marker::PhantomData)
    }
}

impl<A: Adapter> Translate for Native<A> {
    fn build_request(
        &mut self,
        target: &Target,
        request: &ChatRequest,
    ) -> Result<HttpRequest, AdapterError> {
        A::build_request(target, request)
    }

    fn parse_response(
        &mut self,
        kind: &str,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<ChatResponse, AdapterError> {
        A::parse_response(kind, status, headers, body)
    }

    fn decode_stream(
        &mut self,
        kind: &str,
        chunks: &[&[u8]],
    ) -> Result<Vec<StreamEvent>, AdapterError> {
        crate::decode_stream(A::decoder(kind), chunks)
    }

    fn build_embed_request(
        &mut self,
        target: &Target,
        request: &EmbedRequest,
    ) -> Result<HttpRequest, AdapterError> {
        A::build_embed_request(target, request)
    }

    fn parse_embed_response(
        &mut self,
        kind: &str,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<EmbedResponse, AdapterError> {
        A::parse_embed_response(kind, status, headers, body)
    }
}

/// The neutral request of a case: a chat request, or an embeddings request (`call = "embed"`).
enum Input {
    Chat(Box<ChatRequest>),
    Embed(EmbedRequest),
}

#[derive(Deserialize)]
struct CaseFile {
    #[serde(default)]
    description: String,
    capability: String,
    target: CaseTarget,
    #[serde(default = "ok_status")]
    status: u16,
    #[serde(default)]
    headers: toml::Table,
    /// `embed` for an embeddings case; a chat case otherwise.
    #[serde(default)]
    call: Option<String>,
}

fn ok_status() -> u16 {
    200
}

#[derive(Deserialize)]
struct CaseTarget {
    kind: String,
    #[serde(default)]
    profile: String,
    base_url: String,
    #[serde(default = "test_key")]
    api_key: String,
    api_version: Option<String>,
}

fn test_key() -> String {
    "test-key".to_string()
}

/// One loaded case.
pub struct Case {
    pub name: String,
    pub dir: PathBuf,
    pub description: String,
    pub capability: String,
}

/// Every case folder under `dir`, sorted by name.
pub fn cases(dir: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return cases;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(text) = fs::read_to_string(path.join("case.toml")) else {
            continue;
        };
        let name = entry.file_name().to_string_lossy().into_owned();
        match toml::from_str::<CaseFile>(&text) {
            Ok(case) => cases.push(Case {
                name,
                dir: path,
                description: case.description,
                capability: case.capability,
            }),
            Err(e) => cases.push(Case {
                name: format!("{name} (case.toml: {e})"),
                dir: path,
                description: String::new(),
                capability: String::new(),
            }),
        }
    }
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

/// A file parsed as JSON; the error names the file.
pub fn read_json(path: &Path) -> Result<Value, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn to_value<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Whether expectations are rewritten (`APEX_BLESS=1`) instead of checked.
pub fn bless() -> bool {
    std::env::var_os("APEX_BLESS").is_some()
}

/// Check `actual` against the JSON in `path` (compared as parsed JSON); under [`bless`], write it
/// there instead. `Err` lists where the two differ.
pub fn expect(path: &Path, actual: Value, what: &str) -> Result<(), String> {
    if bless() {
        // Rewrite only what differs, so a bless leaves unchanged expectations byte for byte.
        if read_json(path).ok().as_ref() == Some(&actual) {
            return Ok(());
        }
        let text = serde_json::to_string_pretty(&actual).map_err(|e| e.to_string())? + "\n";
        return fs::write(path, text).map_err(|e| e.to_string());
    }
    let expected = read_json(path)?;
    if expected != actual {
        let mut diff = Vec::new();
        json_diff("", &expected, &actual, &mut diff);
        return Err(format!(
            "{what} differs ({}):\n{}\n  expected: {expected}\n  actual:   {actual}",
            path.file_name().unwrap_or_default().to_string_lossy(),
            diff.join("\n")
        ));
    }
    Ok(())
}

/// Check `actual` against the bytes of `path` exactly (a final newline in the file is not part of
/// them, so files end in one); under [`bless`], write it there instead. `Err` shows the first
/// differing line.
pub fn expect_bytes(path: &Path, actual: &[u8], what: &str) -> Result<(), String> {
    let read = |path: &Path| -> Result<Vec<u8>, String> {
        let mut bytes = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if bytes.last() == Some(&b'\n') && !actual.ends_with(b"\n") {
            bytes.pop();
        }
        Ok(bytes)
    };
    if bless() {
        if read(path).ok().as_deref() == Some(actual) {
            return Ok(());
        }
        let mut bytes = actual.to_vec();
        if !bytes.ends_with(b"\n") {
            bytes.push(b'\n');
        }
        return fs::write(path, bytes).map_err(|e| e.to_string());
    }
    let expected = read(path)?;
    if expected == actual {
        return Ok(());
    }
    let (expected, actual) = (
        String::from_utf8_lossy(&expected),
        String::from_utf8_lossy(actual),
    );
    let (want, got): (Vec<&str>, Vec<&str>) =
        (expected.split('\n').collect(), actual.split('\n').collect());
    let line = (0..want.len().max(got.len()))
        .find(|&i| want.get(i) != got.get(i))
        .unwrap_or(0);
    let show = |lines: &[&str]| {
        lines
            .get(line)
            .map_or("(none)".to_string(), |l| l.to_string())
    };
    let want_line = show(&want);
    let got_line = show(&got);
    let column = want_line
        .chars()
        .zip(got_line.chars())
        .take_while(|(a, b)| a == b)
        .count();
    Err(format!(
        "{what} differs ({}) at line {}, column {}:\n  - {want_line}\n  + {got_line}\n  ({} lines expected, {} written)",
        path.file_name().unwrap_or_default().to_string_lossy(),
        line + 1,
        column + 1,
        want.len(),
        got.len(),
    ))
}

/// Where `expected` and `actual` differ, as `path: expected → actual` lines (JSON paths).
pub fn json_diff(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => {
            for (key, value) in want {
                let at = format!("{path}.{key}");
                match got.get(key) {
                    Some(other) => json_diff(&at, value, other, out),
                    None => out.push(format!("  {at}: {value} → (missing)")),
                }
            }
            for (key, value) in got {
                if !want.contains_key(key) {
                    out.push(format!("  {path}.{key}: (missing) → {value}"));
                }
            }
        }
        (Value::Array(want), Value::Array(got)) => {
            for i in 0..want.len().max(got.len()) {
                let at = format!("{path}[{i}]");
                match (want.get(i), got.get(i)) {
                    (Some(a), Some(b)) => json_diff(&at, a, b, out),
                    (Some(a), None) => out.push(format!("  {at}: {a} → (missing)")),
                    (None, Some(b)) => out.push(format!("  {at}: (missing) → {b}")),
                    (None, None) => {}
                }
            }
        }
        _ if expected != actual => {
            let at = if path.is_empty() { "." } else { path };
            out.push(format!("  {at}: {expected} → {actual}"));
        }
        _ => {}
    }
}

/// Every folder under `dir` that holds a `case.toml`, sorted by name: `(name, folder)`.
pub fn case_dirs(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut dirs: Vec<(String, PathBuf)> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| {
            (
                entry.file_name().to_string_lossy().into_owned(),
                entry.path(),
            )
        })
        .filter(|(_, path)| path.join("case.toml").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// Run `run` on every case folder under `dir` ([`case_dirs`]); panics (this is test code) listing
/// each failing case by name with what differs, or when there is no case at all. Returns how
/// many cases ran.
#[allow(clippy::panic)]
pub fn run_each(dir: &Path, mut run: impl FnMut(&Path) -> Result<(), String>) -> usize {
    let cases = case_dirs(dir);
    assert!(
        !cases.is_empty(),
        "no fixture cases under {}",
        dir.display()
    );
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(name, path)| run(path).err().map(|why| format!("{name}: {why}")))
        .collect();
    if !failures.is_empty() {
        panic!(
            "{} of {} fixture cases under {} failed:\n{}",
            failures.len(),
            cases.len(),
            dir.display(),
            failures.join("\n")
        );
    }
    cases.len()
}

/// Split a stream body into uneven chunks, so framing across chunk borders is exercised.
fn chunked(body: &[u8]) -> Vec<&[u8]> {
    let mut chunks = Vec::new();
    let mut rest = body;
    let mut size = 1;
    while !rest.is_empty() {
        let take = size.min(rest.len());
        chunks.push(&rest[..take]);
        rest = &rest[take..];
        size = size * 3 % 97 + 1;
    }
    chunks
}

/// Run one case; `Err` says what differs.
pub fn run_case(translator: &mut dyn Translate, case_dir: &Path) -> Result<(), String> {
    let case: CaseFile =
        toml::from_str(&fs::read_to_string(case_dir.join("case.toml")).map_err(|e| e.to_string())?)
            .map_err(|e| format!("case.toml: {e}"))?;
    let input = read_json(&case_dir.join("input.json"))?;
    let request = match case.call.as_deref() {
        Some("embed") => {
            Input::Embed(serde_json::from_value(input).map_err(|e| format!("input.json: {e}"))?)
        }
        None | Some("chat") => {
            Input::Chat(serde_json::from_value(input).map_err(|e| format!("input.json: {e}"))?)
        }
        Some(other) => return Err(format!("case.toml: unknown call `{other}`")),
    };
    let target = Target {
        kind: case.target.kind.clone(),
        profile: case.target.profile.clone(),
        base_url: case.target.base_url.clone(),
        api_key: case.target.api_key.clone(),
        api_version: case.target.api_version.clone(),
        headers: Vec::new(),
    };

    let expected_request = case_dir.join("upstream-request.json");
    let built = match &request {
        Input::Chat(request) => translator.build_request(&target, request),
        Input::Embed(request) => translator.build_embed_request(&target, request),
    };
    match built {
        Ok(http) => {
            let body: Value = serde_json::from_slice(&http.body)
                .map_err(|e| format!("upstream body is not JSON: {e}"))?;
            let headers: serde_json::Map<String, Value> = http
                .headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), Value::String(v.clone())))
                .collect();
            if bless() {
                let actual = serde_json::json!({
                    "method": http.method, "url": http.url, "headers": headers, "body": body,
                });
                expect(&expected_request, actual, "upstream request")?;
            } else {
                let expected = read_json(&expected_request)?;
                let field = |name: &str| expected.get(name).cloned().unwrap_or(Value::Null);
                if field("method") != Value::String(http.method.clone()) {
                    return Err(format!(
                        "method: expected {}, got {}",
                        field("method"),
                        http.method
                    ));
                }
                if field("url") != Value::String(http.url.clone()) {
                    return Err(format!("url: expected {}, got {}", field("url"), http.url));
                }
                if let Value::Object(want) = field("headers") {
                    for (name, value) in want {
                        if headers.get(&name) != Some(&value) {
                            return Err(format!(
                                "header {name}: expected {value}, got {:?}",
                                headers.get(&name)
                            ));
                        }
                    }
                }
                if field("body") != body {
                    return Err(format!(
                        "upstream body differs\n  expected: {}\n  actual:   {body}",
                        field("body")
                    ));
                }
            }
        }
        Err(error) => {
            // A request the adapter refuses: the case expects that error and nothing else.
            return expect(
                &case_dir.join("error.json"),
                to_value(&error),
                "request error",
            );
        }
    }

    let headers: Vec<(String, String)> = case
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map(str::to_string).unwrap_or_default(),
            )
        })
        .collect();
    let result = if let Input::Embed(_) = &request {
        let path = case_dir.join("upstream-response.json");
        let body = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        translator
            .parse_embed_response(&target.kind, case.status, &headers, &body)
            .map(|response| to_value(&response))
    } else if let Input::Chat(request) = &request
        && request.stream
        && (200..300).contains(&case.status)
    {
        let sse = case_dir.join("upstream-response.sse");
        let body = fs::read(&sse).map_err(|e| format!("{}: {e}", sse.display()))?;
        translator
            .decode_stream(&target.kind, &chunked(&body))
            .map(|events| to_value(&events))
    } else {
        let path = case_dir.join("upstream-response.json");
        let body = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        translator
            .parse_response(&target.kind, case.status, &headers, &body)
            .map(|response| to_value(&response))
    };
    match result {
        Ok(actual) => expect(&case_dir.join("output.json"), actual, "neutral output"),
        Err(error) => expect(&case_dir.join("error.json"), to_value(&error), "error"),
    }
}

/// Run every case under `dir`; panics (this is test code) listing each failing case.
#[allow(clippy::panic)]
pub fn run_all(translator: &mut dyn Translate, dir: &Path) -> usize {
    let cases = cases(dir);
    assert!(
        !cases.is_empty(),
        "no fixture cases under {}",
        dir.display()
    );
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(why) = run_case(translator, &case.dir) {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    if !failures.is_empty() {
        panic!(
            "{} of {} fixture cases failed:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
    }
    cases.len()
}

/// Fails when an adapter declares a capability no case covers.
#[allow(clippy::panic)]
pub fn check_coverage(dir: &Path, capabilities: &[&str]) {
    let cases = cases(dir);
    let missing: Vec<&str> = capabilities
        .iter()
        .copied()
        .filter(|cap| !cases.iter().any(|c| c.capability == *cap))
        .collect();
    if !missing.is_empty() {
        panic!(
            "capabilities without fixture cases in {}: {missing:?}",
            dir.display()
        );
    }
}

/// The golden-fixture tests of an adapter crate, for its `tests/*.rs`: `golden_cases` runs every
/// case under the crate's `fixtures/` through `$adapter` natively, and
/// `every_capability_has_a_case` fails when one of `$capabilities` has no case.
///
/// ```ignore
/// apex_adapter_kit::fixture_tests!(apex_adapter_gemini::Gemini, apex_adapter_gemini::CAPABILITIES);
/// ```
#[macro_export]
macro_rules! fixture_tests {
    ($adapter:ty, $capabilities:expr $(,)?) => {
        #[test]
        fn golden_cases() {
            let dir = ::std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
            let count = $crate::fixtures::run_all(
                &mut $crate::fixtures::Native::<$adapter>::default(),
                &dir,
            );
            assert!(count > 0);
        }

        #[test]
        fn every_capability_has_a_case() {
            let dir = ::std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
            $crate::fixtures::check_coverage(&dir, $capabilities);
        }
    };
}
