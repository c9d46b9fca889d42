#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! Host scenarios as data: every folder under `host-tests/scenarios/` with an `apex.toml` is a case
//! (a gateway config, scripted upstream exchanges, requests and the answers expected), run through
//! the composed app. The format is described in `host-tests/scenarios/README.md`.
//!
//! `APEX_BLESS=1` rewrites the `expect.*` files (and the request bodies upstreams are expected to
//! receive) from what the gateway did, keeping the placeholders that still match;
//! `APEX_SCENARIO=text` runs only the cases whose name contains `text`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use apex_host::outbound::{Recorded, Reply};
use serde_json::Value;
use toml::Table;

use crate::common::{Gateway, Response};

/// Matches any value (a whole JSON value, or any run of characters within a string or line).
const ANY: &str = "<*>";
/// A header that must not be there.
const ABSENT: &str = "<absent>";

/// `APEX_BLESS`: unset (check), `raw` (rewrite expectations with exactly what was received), or
/// anything else (rewrite them, keeping the placeholders that still match).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bless {
    Off,
    Keep,
    Raw,
}

/// Values captured by `<$name>` placeholders, for the rest of the case.
type Binds = BTreeMap<String, Bound>;

/// A captured value: text, or a whole JSON value that is not a string (numbers, objects).
struct Bound {
    text: String,
    json: bool,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios() {
    let bless = match std::env::var("APEX_BLESS").as_deref() {
        Err(_) | Ok("" | "0") => Bless::Off,
        Ok("raw") => Bless::Raw,
        Ok(_) => Bless::Keep,
    };
    let only = std::env::var("APEX_SCENARIO").ok();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root())
        .expect("host-tests/scenarios")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("apex.toml").is_file())
        .filter(|p| only.as_deref().is_none_or(|o| name(p).contains(o)))
        .collect();
    cases.sort();
    assert!(
        !cases.is_empty(),
        "no scenario ran (APEX_SCENARIO={only:?}; cases are folders with an apex.toml in {})",
        root().display()
    );
    // Cases run concurrently, each on its own gateway; a case that panics is reported as failed.
    let runs: Vec<_> = cases
        .iter()
        .map(|case| {
            let case = case.clone();
            (
                name(&case),
                tokio::spawn(async move { run_case(&case, bless).await }),
            )
        })
        .collect();
    let mut failed: Vec<(String, Vec<String>)> = Vec::new();
    for (case, run) in runs {
        let failures = match run.await {
            Ok(failures) => failures,
            Err(e) => {
                let message = e.try_into_panic().ok().and_then(|p| {
                    p.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_string()))
                });
                vec![format!("panicked: {}", message.unwrap_or_default())]
            }
        };
        if !failures.is_empty() {
            failed.push((case, failures));
        }
    }
    failed.sort();
    if !failed.is_empty() {
        let mut report = format!("{} of {} scenarios failed:\n", failed.len(), cases.len());
        for (case, failures) in &failed {
            let _ = writeln!(report, "\n=== {case}");
            for failure in failures {
                let _ = writeln!(report, "{failure}");
            }
        }
        let _ = writeln!(
            report,
            "\n(if these answers are right, APEX_BLESS=1 rewrites the expectations from them)"
        );
        panic!("{report}");
    }
    eprintln!(
        "{} scenarios {}",
        cases.len(),
        if bless == Bless::Off {
            "passed"
        } else {
            "blessed"
        }
    );
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A file's bytes with the captured `<$name>` values put in.
fn read_bound(path: &Path, binds: &Binds) -> Vec<u8> {
    let bytes = read(path);
    match String::from_utf8(bytes) {
        Ok(text) => substitute(&text, binds).into_bytes(),
        Err(e) => e.into_bytes(),
    }
}

fn substitute(text: &str, binds: &Binds) -> String {
    let mut text = text.to_string();
    for (name, bound) in binds {
        if bound.json {
            // `"<$n>"` in a JSON file stands for the value itself, not a string.
            text = text.replace(&format!("\"<${name}>\""), &bound.text);
        }
        text = text.replace(&format!("<${name}>"), &bound.text);
    }
    text
}

fn read_toml(path: &Path, binds: &Binds) -> Table {
    let text = String::from_utf8(read_bound(path, binds)).unwrap();
    text.parse()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The one file `<stem>.<ext>` in `dir` other than `<stem>.toml`, if any.
fn body_file(dir: &Path, stem: &str) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .map(|e| e.unwrap().path())
        .filter(|p| {
            name(p)
                .strip_prefix(stem)
                .and_then(|rest| rest.strip_prefix('.'))
                .is_some_and(|ext| !ext.is_empty() && !ext.contains('.') && ext != "toml")
        })
        .collect();
    assert!(
        found.len() <= 1,
        "more than one {stem}.* body in {}",
        dir.display()
    );
    found.pop()
}

fn is_json_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "json")
}

fn str_table(table: Option<&toml::Value>, what: &str) -> Vec<(String, String)> {
    let Some(table) = table else {
        return Vec::new();
    };
    let table = table
        .as_table()
        .unwrap_or_else(|| panic!("{what} is not a table"));
    table
        .iter()
        .map(|(k, v)| {
            let v = v
                .as_str()
                .unwrap_or_else(|| panic!("{what}.{k} is not a string"));
            (k.clone(), v.to_string())
        })
        .collect()
}

/// The steps of a case: the case folder itself, or its sub-folders in name order.
fn steps(case: &Path) -> Vec<PathBuf> {
    if case.join("request.toml").is_file() {
        return vec![case.to_path_buf()];
    }
    let mut steps: Vec<PathBuf> = std::fs::read_dir(case)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("request.toml").is_file())
        .collect();
    steps.sort();
    assert!(!steps.is_empty(), "{}: no request.toml", case.display());
    steps
}

async fn run_case(case: &Path, bless: Bless) -> Vec<String> {
    let mut binds = Binds::new();
    let config = String::from_utf8(read(&case.join("apex.toml"))).unwrap();
    let vars_path = case.join("vars.toml");
    let vars: Vec<(String, String)> = if vars_path.is_file() {
        str_table(
            Some(&toml::Value::Table(read_toml(&vars_path, &binds))),
            "vars.toml",
        )
    } else {
        Vec::new()
    };
    let var_refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let gw = Gateway::new(&config, &var_refs);
    let mut failures = Vec::new();
    for step in steps(case) {
        let label = if step == case {
            String::new()
        } else {
            format!("[{}] ", name(&step))
        };
        for failure in run_step(&gw, &step, &vars, &mut binds, bless).await {
            failures.push(format!("{label}{failure}"));
        }
    }
    failures
}

/// What a scripted provider expects to receive.
struct Expected {
    label: String,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<PathBuf>,
    /// Where bless writes the body when there is no file yet (`NN.request`).
    stem: PathBuf,
}

/// The step's upstream exchanges (`upstream/NN.toml`, in name order): what each provider expects,
/// and its reply queued for the URL's origin.
fn load_exchanges(step: &Path, binds: &Binds) -> (Vec<Expected>, Vec<(String, Reply)>) {
    let dir = step.join("upstream");
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    let mut expected = Vec::new();
    let mut replies = Vec::new();
    for file in files {
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let table = read_toml(&file, binds);
        let what = format!("upstream/{stem}.toml");
        let section = |name: &str| {
            table
                .get(name)
                .and_then(|r| r.as_table())
                .unwrap_or_else(|| panic!("{}: no [{name}]", file.display()))
        };
        let request = section("request");
        let url = request["url"].as_str().unwrap().to_string();
        let method = request
            .get("method")
            .and_then(|m| m.as_str())
            .unwrap_or("POST")
            .to_string();
        let headers = str_table(request.get("headers"), &format!("{what} request.headers"));
        let origin = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
        let reply = section("reply");
        let reply = if reply.get("refused").and_then(toml::Value::as_bool) == Some(true) {
            Reply::Refused
        } else {
            let status = reply["status"].as_integer().unwrap() as u16;
            let body_path = body_file(&dir, &format!("{stem}.reply"));
            let body = body_path
                .as_deref()
                .map(|p| read_bound(p, binds))
                .unwrap_or_default();
            let mut headers = str_table(reply.get("headers"), &format!("{what} reply.headers"));
            let by_extension =
                body_path
                    .as_deref()
                    .and_then(|p| match p.extension()?.to_str()? {
                        "json" => Some("application/json"),
                        "sse" => Some("text/event-stream"),
                        "ndjson" => Some("application/x-ndjson"),
                        _ => None,
                    });
            if let Some(content_type) = by_extension
                && !headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                headers.insert(0, ("content-type".into(), content_type.into()));
            }
            let size = reply
                .get("chunk_bytes")
                .and_then(toml::Value::as_integer)
                .map_or(body.len().max(1), |c| c as usize);
            let millis = |name: &str| {
                Duration::from_millis(
                    reply
                        .get(name)
                        .and_then(toml::Value::as_integer)
                        .unwrap_or(0) as u64,
                )
            };
            // `pause_ms` of silence before the byte at `pause_at_byte` (a stalled stream).
            let pause_at = reply
                .get("pause_at_byte")
                .and_then(toml::Value::as_integer)
                .map(|at| at as usize);
            let mut chunks = Vec::new();
            let mut offset = 0;
            for piece in body.chunks(size) {
                let end = offset + piece.len();
                match pause_at.filter(|at| (offset..end).contains(at)) {
                    Some(at) => {
                        let (before, after) = piece.split_at(at - offset);
                        if !before.is_empty() {
                            chunks.push((Duration::ZERO, bytes::Bytes::copy_from_slice(before)));
                        }
                        chunks.push((millis("pause_ms"), bytes::Bytes::copy_from_slice(after)));
                    }
                    None => chunks.push((Duration::ZERO, bytes::Bytes::copy_from_slice(piece))),
                }
                offset = end;
            }
            Reply::Http {
                status,
                headers,
                chunks,
                cut: reply.get("cut").and_then(toml::Value::as_bool) == Some(true),
                head_delay: millis("delay_ms"),
            }
        };
        replies.push((origin, reply));
        expected.push(Expected {
            label: format!("upstream/{stem}"),
            method,
            url,
            headers,
            body: body_file(&dir, &format!("{stem}.request")),
            stem: dir.join(format!("{stem}.request")),
        });
    }
    (expected, replies)
}

async fn run_step(
    gw: &Gateway,
    step: &Path,
    vars: &[(String, String)],
    binds: &mut Binds,
    bless: Bless,
) -> Vec<String> {
    let mut failures = Vec::new();
    let (exchanges, replies) = load_exchanges(step, binds);
    for (origin, reply) in replies {
        gw.upstream.push(&origin, reply);
    }
    let before = gw.upstream.requests().len();

    let request = read_toml(&step.join("request.toml"), binds);
    // `wait_ms`: time passes before this step (windows of limits, cooldowns end).
    if let Some(wait) = request.get("wait_ms").and_then(|w| w.as_integer()) {
        tokio::time::sleep(std::time::Duration::from_millis(wait.unsigned_abs())).await;
    }
    // `align_ms`: wait for the start of the next multiple of N ms of Unix time, so the steps
    // that follow fall in one fixed window of that length.
    if let Some(align) = request.get("align_ms").and_then(|w| w.as_integer()) {
        let align = u128::from(align.unsigned_abs().max(1));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        let left = (align - now % align) as u64;
        tokio::time::sleep(std::time::Duration::from_millis(left + 5)).await;
    }
    let method = request
        .get("method")
        .and_then(|m| m.as_str())
        .unwrap_or("GET");
    let path = request["path"].as_str().expect("request.toml: path");
    let headers = str_table(request.get("headers"), "request.headers");
    let header_refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let body = body_file(step, "request")
        .map(|p| read_bound(&p, binds))
        .unwrap_or_default();
    let response = gw.call(method, path, &header_refs, &body).await;

    // Every provider request is one of the step's exchanges, in order; none is left over.
    let received: Vec<Recorded> = gw.upstream.requests()[before..].to_vec();
    if received.len() != exchanges.len() {
        let urls: Vec<String> = received
            .iter()
            .map(|r| format!("{} {}", r.method, r.url))
            .collect();
        failures.push(format!(
            "upstream: expected {} request(s), received {}: {urls:?}",
            exchanges.len(),
            received.len()
        ));
    }
    for (exchange, got) in exchanges.iter().zip(&received) {
        check_upstream(exchange, got, binds, bless, &mut failures);
    }

    // The answer.
    let expect_path = step.join("expect.toml");
    let expect = if expect_path.is_file() {
        read_toml(&expect_path, binds)
    } else {
        Table::new()
    };
    let expect_body = body_file(step, "expect");
    let mut mismatches = Vec::new();
    let status = expect.get("status").and_then(toml::Value::as_integer);
    if status != Some(i64::from(response.status)) {
        mismatches.push(format!(
            "status: expected {}, got {}",
            status.map_or("(none)".into(), |s| s.to_string()),
            response.status
        ));
    }
    let expected_headers = str_table(expect.get("headers"), "expect.headers");
    check_headers(
        &expected_headers,
        |n| response.header(n).map(str::to_string),
        binds,
        &mut mismatches,
    );
    match &expect_body {
        Some(path) => compare_body(path, &response.body, binds, &mut mismatches),
        None if !response.body.is_empty() => {
            mismatches.push("body: expected none (there is no expect.* body file)".into());
        }
        None => {}
    }
    // Keys stay inside: no variable (provider or gateway key) shows in an answer.
    let shown_text = format!("{:?}\n{}", response.headers, response.text());
    for (var, value) in vars {
        if shown_text.contains(value.as_str()) {
            failures.push(format!(
                "the answer to {method} {path} shows the value of variable `{var}`"
            ));
        }
    }
    if bless != Bless::Off {
        bless_expect(
            step,
            &expected_headers,
            expect_body.as_deref(),
            &response,
            bless,
            binds,
        );
    } else if !mismatches.is_empty() {
        failures.push(format!(
            "answer to {method} {path}:\n  {}\n  --- the whole answer ({}, {}):\n{}",
            mismatches.join("\n  "),
            response.status,
            response.header("content-type").unwrap_or("no content-type"),
            indent(&shown(&response.body))
        ));
    }
    failures
}

fn check_upstream(
    exchange: &Expected,
    got: &Recorded,
    binds: &mut Binds,
    bless: Bless,
    failures: &mut Vec<String>,
) {
    let mut mismatches = Vec::new();
    if got.method != exchange.method {
        mismatches.push(format!(
            "method: expected {}, got {}",
            exchange.method, got.method
        ));
    }
    if !matches(&exchange.url, &got.url, binds) {
        mismatches.push(format!(
            "url: expected {}\n       got {}",
            exchange.url, got.url
        ));
    }
    check_headers(
        &exchange.headers,
        |n| got.header(n).map(str::to_string),
        binds,
        &mut mismatches,
    );
    let mut body_mismatches = Vec::new();
    match &exchange.body {
        Some(path) => compare_body(path, &got.body, binds, &mut body_mismatches),
        None if !got.body.is_empty() => {
            body_mismatches.push(format!(
                "body: expected none (there is no {}.* file)",
                name(&exchange.stem)
            ));
        }
        None => {}
    }
    if bless != Bless::Off {
        let path = exchange.body.clone().or_else(|| {
            (!got.body.is_empty()).then(|| {
                let json = serde_json::from_slice::<Value>(&got.body).is_ok();
                exchange
                    .stem
                    .with_extension(if json { "request.json" } else { "request.txt" })
            })
        });
        if let Some(path) = path {
            write_body(&path, &got.body, bless == Bless::Keep, binds);
        }
    }
    let body = if bless == Bless::Off && !body_mismatches.is_empty() {
        mismatches.extend(body_mismatches);
        format!(
            "\n  --- the whole request body:\n{}",
            indent(&shown(&got.body))
        )
    } else {
        String::new()
    };
    if !mismatches.is_empty() {
        failures.push(format!(
            "{} received {} {}:\n  {}{body}",
            exchange.label,
            got.method,
            got.url,
            mismatches.join("\n  "),
        ));
    }
}

fn check_headers(
    expected: &[(String, String)],
    actual: impl Fn(&str) -> Option<String>,
    binds: &mut Binds,
    mismatches: &mut Vec<String>,
) {
    for (name, want) in expected {
        match (want.as_str(), actual(name)) {
            (ABSENT, None) => {}
            (ABSENT, Some(got)) => {
                mismatches.push(format!("header {name}: expected none, got {got:?}"));
            }
            (want, None) => {
                mismatches.push(format!("header {name}: expected {want:?}, got none"));
            }
            (want, Some(got)) => {
                if !matches(want, &got, binds) {
                    mismatches.push(format!("header {name}: expected {want:?}, got {got:?}"));
                }
            }
        }
    }
}

/// `.json` files compare structurally; any other file compares as text, line by line.
fn compare_body(path: &Path, actual: &[u8], binds: &mut Binds, mismatches: &mut Vec<String>) {
    let expected = read_bound(path, binds);
    let file = name(path);
    if is_json_file(path) {
        let expected: Value =
            serde_json::from_slice(&expected).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        match serde_json::from_slice::<Value>(actual) {
            Ok(actual) => {
                let mut diffs = Vec::new();
                json_diff("$", &expected, &actual, binds, &mut diffs);
                for diff in diffs {
                    mismatches.push(format!("{file}: {diff}"));
                }
            }
            Err(e) => mismatches.push(format!("{file}: the body is not JSON ({e})")),
        }
    } else if let Some(diff) = text_diff(
        &String::from_utf8_lossy(&expected),
        &String::from_utf8_lossy(actual),
        binds,
    ) {
        mismatches.push(format!("{file}: {diff}"));
    }
}

// --- placeholders ------------------------------------------------------------------------------

enum Token<'a> {
    Literal(&'a str),
    Any,
    Capture(&'a str),
}

fn tokens(pattern: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut rest = pattern;
    let mut literal_from = 0;
    let mut at = 0;
    while at < rest.len() {
        let tail = &rest[at..];
        let placeholder = if tail.starts_with(ANY) {
            Some((Token::Any, ANY.len()))
        } else if let Some(name) = tail.strip_prefix("<$").and_then(|t| t.split_once('>'))
            && !name.0.is_empty()
            && name
                .0
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            Some((Token::Capture(name.0), name.0.len() + 3))
        } else {
            None
        };
        match placeholder {
            Some((token, len)) => {
                if at > literal_from {
                    out.push(Token::Literal(&rest[literal_from..at]));
                }
                out.push(token);
                rest = &rest[at + len..];
                at = 0;
                literal_from = 0;
            }
            None => at += tail.chars().next().map_or(1, char::len_utf8),
        }
    }
    if !rest[literal_from..].is_empty() {
        out.push(Token::Literal(&rest[literal_from..]));
    }
    out
}

/// Whether `text` matches `pattern`: `<*>` matches any run of characters; `<$name>` does too the
/// first time and captures it (later it stands for what it captured).
fn matches(pattern: &str, text: &str, binds: &mut Binds) -> bool {
    let tokens = tokens(pattern);
    let mut captured = Vec::new();
    if match_tokens(&tokens, text, binds, &mut captured) {
        for (name, text) in captured {
            binds.entry(name).or_insert(Bound { text, json: false });
        }
        true
    } else {
        false
    }
}

fn match_tokens(
    tokens: &[Token<'_>],
    text: &str,
    binds: &Binds,
    captured: &mut Vec<(String, String)>,
) -> bool {
    let Some((first, rest)) = tokens.split_first() else {
        return text.is_empty();
    };
    let bound = match first {
        Token::Literal(literal) => Some(*literal),
        Token::Capture(name) => binds.get(*name).map(|b| b.text.as_str()),
        Token::Any => None,
    };
    if let Some(literal) = bound {
        return text
            .strip_prefix(literal)
            .is_some_and(|t| match_tokens(rest, t, binds, captured));
    }
    // A wildcard: try each place the text can go on from, shortest first.
    let candidates: Vec<usize> = match rest.first() {
        Some(Token::Literal(next)) => text.match_indices(next).map(|(i, _)| i).collect(),
        _ => text
            .char_indices()
            .map(|(i, _)| i)
            .chain([text.len()])
            .collect(),
    };
    for at in candidates {
        if match_tokens(rest, &text[at..], binds, captured) {
            if let Token::Capture(name) = first {
                captured.push(((*name).to_string(), text[..at].to_string()));
            }
            return true;
        }
    }
    false
}

fn json_diff(
    path: &str,
    expected: &Value,
    actual: &Value,
    binds: &mut Binds,
    out: &mut Vec<String>,
) {
    match (expected, actual) {
        (Value::String(e), _) if e == ANY => {}
        (Value::String(e), Value::String(a)) if e.contains('<') => {
            if !matches(e, a, binds) {
                out.push(format!("{path}: expected {expected}, got {actual}"));
            }
        }
        (Value::String(e), _) if capture_value(e, actual, binds) => {}
        (Value::Object(e), Value::Object(a)) => {
            for (key, value) in e {
                let at = format!("{path}.{key}");
                match a.get(key) {
                    Some(got) => json_diff(&at, value, got, binds, out),
                    None => out.push(format!("{at}: expected {value}, missing")),
                }
            }
            for (key, value) in a {
                if !e.contains_key(key) {
                    out.push(format!("{path}.{key}: not expected, got {value}"));
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            for (i, (want, got)) in e.iter().zip(a).enumerate() {
                json_diff(&format!("{path}[{i}]"), want, got, binds, out);
            }
            if e.len() != a.len() {
                let extra = if a.len() > e.len() {
                    format!(" (extra: {})", Value::Array(a[e.len()..].to_vec()))
                } else {
                    String::new()
                };
                out.push(format!(
                    "{path}: expected {} elements, got {}{extra}",
                    e.len(),
                    a.len()
                ));
            }
        }
        (Value::Number(e), Value::Number(a)) if e.as_f64() == a.as_f64() => {}
        _ if expected == actual => {}
        _ => out.push(format!("{path}: expected {expected}, got {actual}")),
    }
}

/// `"<$name>"` standing for a whole JSON value that is not a string: captures it (or compares it
/// with what it captured).
fn capture_value(pattern: &str, actual: &Value, binds: &mut Binds) -> bool {
    let [Token::Capture(name)] = tokens(pattern)[..] else {
        return false;
    };
    if actual.is_string() {
        return false;
    }
    let text = actual.to_string();
    match binds.get(name) {
        Some(bound) => bound.json && bound.text == text,
        None => {
            binds.insert(name.to_string(), Bound { text, json: true });
            true
        }
    }
}

/// Line by line, placeholders matching within a line.
fn text_diff(expected: &str, actual: &str, binds: &mut Binds) -> Option<String> {
    let want: Vec<&str> = expected.split('\n').collect();
    let got: Vec<&str> = actual.split('\n').collect();
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        if !matches(w, g, binds) {
            return Some(format!(
                "line {}:\n    expected {w:?}\n    got      {g:?}",
                i + 1
            ));
        }
    }
    (want.len() != got.len()).then(|| {
        let (what, lines) = if got.len() > want.len() {
            ("the body goes on with", &got[want.len()..])
        } else {
            ("the body ends before", &want[got.len()..])
        };
        let lines: Vec<&&str> = lines.iter().take(3).collect();
        format!(
            "{} lines expected, {} received; {what}: {lines:?}",
            want.len(),
            got.len()
        )
    })
}

fn shown(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    match serde_json::from_str::<Value>(&text) {
        Ok(value) => serde_json::to_string_pretty(&value).unwrap(),
        Err(_) => text.into_owned(),
    }
}

fn indent(text: &str) -> String {
    let mut lines: Vec<String> = text.lines().take(60).map(|l| format!("    {l}")).collect();
    if text.lines().count() > 60 {
        lines.push("    …".into());
    }
    lines.join("\n")
}

// --- bless -------------------------------------------------------------------------------------

/// Rewrites `expect.toml` (status; the headers it named, plus content-type and retry-after) and
/// the `expect.*` body from the answer.
fn bless_expect(
    step: &Path,
    old_headers: &[(String, String)],
    old_body: Option<&Path>,
    response: &Response,
    bless: Bless,
    binds: &mut Binds,
) {
    let path = step.join("expect.toml");
    let mut toml = String::new();
    // Leading comments stay.
    if let Ok(text) = std::fs::read_to_string(&path) {
        for line in text.lines().take_while(|l| l.starts_with('#')) {
            let _ = writeln!(toml, "{line}");
        }
    }
    let _ = writeln!(toml, "status = {}", response.status);
    let mut names: Vec<String> = old_headers.iter().map(|(k, _)| k.clone()).collect();
    for name in ["content-type", "retry-after"] {
        if response.header(name).is_some() && !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    if !names.is_empty() {
        let _ = writeln!(toml, "\n[headers]");
    }
    for name in names {
        let was = old_headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str());
        let value = match (response.header(&name), was) {
            (None, _) => ABSENT.to_string(),
            (Some(got), Some(was))
                if bless == Bless::Keep && was != ABSENT && matches(was, got, binds) =>
            {
                was.to_string()
            }
            (Some(got), _) => got.to_string(),
        };
        let _ = writeln!(toml, "{name} = {}", serde_json::to_string(&value).unwrap());
    }
    std::fs::write(&path, toml).unwrap();

    let content_type = response.header("content-type").unwrap_or("");
    let body_path = old_body.map(Path::to_path_buf).or_else(|| {
        (!response.body.is_empty()).then(|| {
            let ext = if content_type.contains("event-stream") {
                "sse"
            } else if content_type.contains("ndjson") {
                "ndjson"
            } else if serde_json::from_slice::<Value>(&response.body).is_ok() {
                "json"
            } else {
                "txt"
            };
            step.join(format!("expect.{ext}"))
        })
    });
    match body_path {
        Some(path) if response.body.is_empty() => {
            let _ = std::fs::remove_file(path);
        }
        Some(path) => write_body(&path, &response.body, bless == Bless::Keep, binds),
        None => {}
    }
}

/// Writes a received body to an expectation file, keeping the placeholders that still match
/// (unless `keep` is false: then the file gets what was received, placeholders and all replaced).
fn write_body(path: &Path, actual: &[u8], keep: bool, binds: &mut Binds) {
    let old = std::fs::read(path).ok().filter(|_| keep);
    if is_json_file(path)
        && let Ok(new) = serde_json::from_slice::<Value>(actual)
    {
        let merged = match old.and_then(|o| serde_json::from_slice::<Value>(&o).ok()) {
            Some(old) => keep_placeholders(&old, &new, binds),
            None => new,
        };
        let mut text = serde_json::to_string_pretty(&merged).unwrap();
        text.push('\n');
        std::fs::write(path, text).unwrap();
        return;
    }
    let actual = String::from_utf8_lossy(actual);
    let text = match old {
        Some(old) => {
            let old = String::from_utf8_lossy(&old).into_owned();
            let old_lines: Vec<&str> = old.split('\n').collect();
            actual
                .split('\n')
                .enumerate()
                .map(|(i, line)| match old_lines.get(i) {
                    Some(was) if matches(was, line, binds) => (*was).to_string(),
                    _ => line.to_string(),
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
        None => actual.into_owned(),
    };
    std::fs::write(path, text).unwrap();
}

fn keep_placeholders(old: &Value, new: &Value, binds: &mut Binds) -> Value {
    match (old, new) {
        (Value::String(o), _) if o == ANY => old.clone(),
        (Value::String(o), Value::String(n)) if o.contains('<') && matches(o, n, binds) => {
            old.clone()
        }
        (Value::String(o), _) if capture_value(o, new, binds) => old.clone(),
        (Value::Object(o), Value::Object(n)) => Value::Object(
            n.iter()
                .map(|(k, v)| {
                    let v = match o.get(k) {
                        Some(was) => keep_placeholders(was, v, binds),
                        None => v.clone(),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        (Value::Array(o), Value::Array(n)) => Value::Array(
            n.iter()
                .enumerate()
                .map(|(i, v)| match o.get(i) {
                    Some(was) => keep_placeholders(was, v, binds),
                    None => v.clone(),
                })
                .collect(),
        ),
        _ => new.clone(),
    }
}
