#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! What operators meet, with the `apex` binary as a process: one request-log line per request
//! with every field and no secret or prompt, and `apex check` on good and broken configs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Process, start_upstream};

fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("operators-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One HTTP/1.1 exchange: (status, headers and body as text).
fn http(address: &str, method: &str, path: &str, key: Option<&str>, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let auth = key.map_or(String::new(), |k| format!("authorization: Bearer {k}\r\n"));
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nhost: {address}\r\n{auth}content-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap();
    (status, reply)
}

const PROMPT: &str = "the secret prompt nobody may log";

#[test]
fn every_request_gets_one_log_line_with_its_fields_and_no_secret() {
    let (_ok_process, ok) = start_upstream(&[]);
    let (_limited_process, limited) =
        start_upstream(&["--fail-status", "429", "--retry-after", "300"]);
    let dir = temp_dir("log");
    let config = dir.join("apex.toml");
    std::fs::write(
        &config,
        format!(
            "[gateway]\nauto_providers = false\napi_keys = {{ alice = \"alice_key\" }}\n\n\
             [providers.ok]\nkind = \"openai\"\nbase_url = \"http://{ok}/v1\"\nkeys = [\"upstream_key\"]\n\n\
             [providers.limited]\nkind = \"openai\"\nbase_url = \"http://{limited}/v1\"\nkeys = [\"upstream_key\"]\n\n\
             [models.guarded]\ntargets = [\"limited/m\", \"ok/m\"]\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_apex"))
        .args(["--listen", "127.0.0.1:0", "--log", "json", "--data-dir"])
        .arg(dir.join("data"))
        .arg("--config")
        .arg(&config)
        .env("ALICE_KEY", "gateway-key-of-alice")
        .env("UPSTREAM_KEY", "sk-upstream-secret")
        .env_remove("APEX_API_KEY")
        .env_remove("APEX_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut apex = Process(child);
    let mut lines = BufReader::new(stdout).lines();
    let address = loop {
        let line = lines.next().expect("apex exited before listening").unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let log = std::thread::spawn(move || {
        let mut text = String::new();
        BufReader::new(stderr).read_to_string(&mut text).unwrap();
        text
    });

    let key = Some("gateway-key-of-alice");
    let chat = json!({"model": "guarded", "messages": [{"role": "user", "content": PROMPT}]});
    let (status, reply) = http(
        &address,
        "POST",
        "/v1/chat/completions",
        key,
        &chat.to_string(),
    );
    assert_eq!(status, 200, "{reply}");
    let (status, _) = http(
        &address,
        "POST",
        "/v1/chat/completions",
        None,
        &chat.to_string(),
    );
    assert_eq!(status, 401);
    let (status, _) = http(
        &address,
        "GET",
        "/v1/nothing-here?key=query-secret",
        key,
        "",
    );
    assert_eq!(status, 404);
    let (status, _) = http(&address, "DELETE", "/v1/models", key, "");
    assert_eq!(status, 405);
    let bad = json!({"model": "guarded", "messages": "not a list", "note": PROMPT});
    let (status, _) = http(
        &address,
        "POST",
        "/v1/chat/completions",
        key,
        &bad.to_string(),
    );
    assert_eq!(status, 400);
    let (status, _) = http(&address, "GET", "/health", None, "");
    assert_eq!(status, 200);

    let stopped = Command::new("kill")
        .args(["-TERM", &apex.0.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    apex.0.wait().unwrap();
    let log = log.join().unwrap();
    for secret in [
        "gateway-key-of-alice",
        "sk-upstream-secret",
        "query-secret",
        PROMPT,
    ] {
        assert!(!log.contains(secret), "the log shows `{secret}`:\n{log}");
    }
    let lines: Vec<Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .collect();
    assert_eq!(lines.len(), 5, "one line per request (not /health):\n{log}");

    let served = &lines[0];
    assert_eq!(served["method"], "POST");
    assert_eq!(served["path"], "/v1/chat/completions");
    assert_eq!(served["surface"], "openai-chat");
    assert_eq!(served["key"], "alice");
    assert_eq!(served["model"], "guarded");
    assert_eq!(served["status"], 200);
    assert!(served["time"].as_str().unwrap().ends_with('Z'));
    assert!(served["latency_ms"].as_u64().is_some());
    assert!(served["ttfb_ms"].as_u64().unwrap() <= served["latency_ms"].as_u64().unwrap());
    // The fake upstream reports 12 prompt tokens and one per chunk (3 by default).
    assert_eq!(served["tokens"]["input"], 12, "{served}");
    assert!(served["tokens"]["output"].as_u64().unwrap() > 0, "{served}");
    let attempts = served["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{served}");
    assert_eq!(attempts[0]["provider"], "limited");
    assert_eq!(attempts[0]["key_index"], 0);
    assert_eq!(
        attempts[0]["outcome"], "rate-limited",
        "the failover reason"
    );
    assert_eq!(attempts[1]["provider"], "ok");
    assert_eq!(attempts[1]["outcome"], "ok");

    assert_eq!(lines[1]["status"], 401);
    assert_eq!(lines[1]["key"], Value::Null);
    assert_eq!(lines[1]["error"]["type"], "invalid_api_key");
    assert_eq!(lines[2]["status"], 404);
    assert_eq!(lines[2]["path"], "/v1/nothing-here", "no query string");
    assert!(
        lines[2]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("No route")
    );
    assert_eq!(lines[3]["status"], 405);
    assert_eq!(lines[3]["method"], "DELETE");
    assert_eq!(lines[4]["status"], 400);
    assert_eq!(lines[4]["error"]["type"], "invalid_request_error");
}

fn check(config: &str, env: &[(&str, &str)]) -> (bool, String) {
    let dir = temp_dir(&format!("check-{}", config.len()));
    let path = dir.join("apex.toml");
    std::fs::write(&path, config).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_apex"));
    command.arg("check").arg("--config").arg(&path);
    for variable in [
        "APEX_API_KEY",
        "OPENAI_API_KEY",
        "GROQ_API_KEY",
        "ANTHROPIC_API_KEY",
    ] {
        command.env_remove(variable);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[test]
fn apex_check_prints_the_routes_of_a_good_config_and_the_problem_of_a_broken_one() {
    let good = "[gateway]\napi_keys = { ops = \"ops_key\" }\n\n\
                [providers.openai]\nkeys = [\"openai_api_key\", \"openai_api_key_2\"]\n\n\
                [models.fast]\ntargets = [\"openai/gpt-4o-mini\"]\n\n\
                [limits.ops]\nrequests_per_minute = 5\n";
    let (ok, text) = check(
        good,
        &[
            ("OPS_KEY", "sk-ops-value"),
            ("OPENAI_API_KEY", "sk-openai-value"),
        ],
    );
    assert!(ok, "{text}");
    assert!(text.contains("OK"), "{text}");
    assert!(
        text.contains("fast") && text.contains("openai/gpt-4o-mini"),
        "{text}"
    );
    assert!(text.contains("OPENAI_API_KEY set"), "{text}");
    assert!(text.contains("OPENAI_API_KEY_2 MISSING"), "{text}");
    assert!(
        text.contains("groq (GROQ_API_KEY)"),
        "built-in providers that are off: {text}"
    );
    assert!(text.contains("gateway keys: ops (admin)"), "{text}");
    assert!(
        !text.contains("sk-ops-value") && !text.contains("sk-openai-value"),
        "{text}"
    );

    // A limit naming no key: the gateway would not start.
    let (ok, text) = check(
        &good.replace("[limits.ops]", "[limits.nobody]"),
        &[("OPS_KEY", "k"), ("OPENAI_API_KEY", "sk-openai-value")],
    );
    assert!(!ok, "{text}");
    assert!(
        text.contains("NOT usable") && text.contains("limits.nobody"),
        "{text}"
    );
    // A gateway key whose variable is unset.
    let (ok, text) = check(good, &[("OPENAI_API_KEY", "sk-openai-value")]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("gateway.api_keys.ops") && text.contains("ops_key"),
        "{text}"
    );
    // Not TOML at all.
    let (ok, text) = check("[models.fast\n", &[]);
    assert!(!ok, "{text}");
}
