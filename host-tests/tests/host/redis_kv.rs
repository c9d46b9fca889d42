#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! The Redis key-value store against a real `redis-server` (Debian package `redis-server`) on a
//! loopback port: the backend itself (databases, binary values, a Redis restart under a pooled
//! connection), and two `apex --kv redis://…` processes sharing a stored response and a cooldown,
//! with nothing lost or duplicated when either restarts (even killed with SIGKILL).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use apex_host::kv::{KvBackend, KvError};
use apex_host::redis::RedisKv;
use serde_json::{Value, json};

use crate::common::{Process, start_upstream};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("redis-kv-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `redis-server` on a loopback port, without persistence (the data lives as long as it runs).
struct Redis {
    process: Option<Process>,
    port: u16,
    dir: PathBuf,
}

impl Redis {
    /// `None` (with a loud note) when `redis-server` is not installed on a developer's machine,
    /// so the README's test command works there; in CI (`CI` set, `.ci/run` installs it) a missing
    /// server fails the test.
    fn start(name: &str) -> Option<Self> {
        let found = std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).any(|d| d.join("redis-server").is_file()))
            .unwrap_or(false);
        let missing = "redis-server is not installed: these tests need a real Redis (Debian \
                       package `redis-server`: apt-get install -y redis-server; .ci/run installs it)";
        if !found {
            assert!(std::env::var_os("CI").is_none(), "{missing}");
            eprintln!("NOT RUN: {missing}");
            return None;
        }
        let mut redis = Redis {
            process: None,
            port: free_port(),
            dir: temp_dir(name),
        };
        redis.restart();
        Some(redis)
    }

    fn url(&self, db: u32) -> String {
        format!("redis://127.0.0.1:{}/{db}", self.port)
    }

    fn stop(&mut self) {
        self.process = None;
    }

    /// (Re)starts the server on the same port; it is empty afterwards.
    fn restart(&mut self) {
        self.stop();
        let log = std::fs::File::create(self.dir.join("redis.log")).unwrap();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(&self.dir)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.process = Some(Process(child));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start: {}",
                std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn the_backend_stores_bytes_per_database_and_survives_a_redis_restart() {
    let Some(mut redis) = Redis::start("backend") else {
        return;
    };
    let rt = runtime();
    rt.block_on(async {
        let zero = RedisKv::connect(&redis.url(0)).await.unwrap();
        let one = RedisKv::connect(&redis.url(1)).await.unwrap();
        assert_eq!(zero.open("default"), Ok(()));
        assert_eq!(
            zero.open("other"),
            Err(KvError::NoSuchStore),
            "a Redis URL is the store `default` only (as a Spin runtime-config label)"
        );
        let binary = vec![0u8, 255, b'\r', b'\n', 7];
        zero.set("default", "apex:bin", binary.clone())
            .await
            .unwrap();
        zero.set("default", "apex:text", b"hello".to_vec())
            .await
            .unwrap();
        assert_eq!(zero.get("default", "apex:bin").await.unwrap(), Some(binary));
        assert_eq!(zero.get("default", "missing").await.unwrap(), None);
        assert!(zero.exists("default", "apex:text").await.unwrap());
        assert_eq!(
            zero.keys("default").await.unwrap(),
            vec!["apex:bin".to_string(), "apex:text".to_string()]
        );
        assert!(
            one.keys("default").await.unwrap().is_empty(),
            "databases are separate"
        );
        zero.delete("default", "apex:text").await.unwrap();
        zero.delete("default", "apex:text").await.unwrap();
        assert!(!zero.exists("default", "apex:text").await.unwrap());
        // Many keys: the listing pages through SCAN.
        for n in 0..2500 {
            one.set("default", &format!("k{n:04}"), vec![b'x'])
                .await
                .unwrap();
        }
        let keys = one.keys("default").await.unwrap();
        assert_eq!(keys.len(), 2500);
        assert!(
            keys.windows(2).all(|w| w[0] < w[1]),
            "sorted, no duplicates"
        );
    });

    // Redis restarts (empty: no persistence here): pooled connections are dead, the next command
    // reconnects instead of failing.
    let store = rt.block_on(RedisKv::connect(&redis.url(0))).unwrap();
    redis.restart();
    rt.block_on(async {
        assert_eq!(store.get("default", "apex:bin").await.unwrap(), None);
        store.set("default", "after", b"1".to_vec()).await.unwrap();
        assert_eq!(
            store.get("default", "after").await.unwrap(),
            Some(b"1".to_vec())
        );
    });
    // Redis gone: an error for the guest (a `wasi:keyvalue` error, without the address: clients
    // may see it), not a hang or a panic.
    redis.stop();
    let started = Instant::now();
    let failed = rt.block_on(store.get("default", "after"));
    assert!(
        matches!(&failed, Err(KvError::Other(m)) if m == "key-value store unavailable"),
        "{failed:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn a_wrong_url_stops_the_start() {
    let rt = runtime();
    let unused = free_port();
    for (url, expected) in [
        (format!("redis://127.0.0.1:{unused}/0"), "connecting"),
        ("http://127.0.0.1:1".to_string(), "not a Redis URL"),
    ] {
        let error = rt.block_on(RedisKv::connect(&url)).err().unwrap();
        assert!(format!("{error:#}").contains(expected), "{error:#}");
    }
}

// ---- two apex processes ----

struct Apex {
    process: Process,
    address: String,
}

fn start_apex(name: &str, redis_url: &str, config: &Path) -> Apex {
    // Each process has its own data folder (the compiled-code cache); the state is in Redis.
    let data = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("redis-kv-apex-{name}"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_apex"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .args(["--kv", redis_url, "--config"])
        .arg(config)
        .env("APEX_API_KEY", "gateway-key")
        .env("UPSTREAM_KEY", "upstream-key")
        .env_remove("APEX_KV")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let process = Process(child);
    let address = loop {
        let line = lines.next().expect("apex exited before listening").unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Apex { process, address }
}

/// One HTTP/1.1 exchange with the gateway key: (status, body as JSON or a string).
fn http(address: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer gateway-key\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {reply:?}"));
    let text = reply.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    let value = serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()));
    (status, value)
}

fn calls(upstream: &str) -> u64 {
    let (status, body) = http(upstream, "GET", "/calls", None);
    assert_eq!(status, 200);
    body["calls"].as_u64().unwrap()
}

fn store_response(apex: &Apex, text: &str) -> String {
    let (status, body) = http(
        &apex.address,
        "POST",
        "/v1/responses",
        Some(json!({"model": "echo", "input": text})),
    );
    assert_eq!(status, 200, "{body}");
    body["id"].as_str().unwrap().to_string()
}

fn read_response(apex: &Apex, id: &str) -> String {
    let (status, body) = http(&apex.address, "GET", &format!("/v1/responses/{id}"), None);
    assert_eq!(
        status, 200,
        "{id} not readable through {}: {body}",
        apex.address
    );
    body["output"][0]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_string()
}

fn limited_cooldown(apex: &Apex) -> Option<Value> {
    let (status, stats) = http(&apex.address, "GET", "/stats", None);
    assert_eq!(status, 200, "{stats}");
    stats["cooldowns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["subject"] == "limited#0")
        .cloned()
}

fn chat(apex: &Apex, model: &str) -> String {
    let (status, body) = http(
        &apex.address,
        "POST",
        "/v1/chat/completions",
        Some(json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})),
    );
    assert_eq!(status, 200, "{body}");
    body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn two_apex_processes_share_responses_and_cooldowns_across_restarts() {
    let Some(redis) = Redis::start("shared") else {
        return;
    };
    let url = redis.url(0);
    let (_ok_process, ok) = start_upstream(&[]);
    let (_limited_process, limited) =
        start_upstream(&["--fail-status", "429", "--retry-after", "300"]);
    let dir = temp_dir("shared-config");
    let config = dir.join("apex.toml");
    std::fs::write(
        &config,
        format!(
            "[gateway]\nauto_providers = false\n\n\
             [providers.ok]\nkind = \"openai\"\nbase_url = \"http://{ok}/v1\"\nkeys = [\"upstream_key\"]\n\n\
             [providers.limited]\nkind = \"openai\"\nbase_url = \"http://{limited}/v1\"\nkeys = [\"upstream_key\"]\n\n\
             [models.guarded]\ntargets = [\"limited/m\", \"ok/m\"]\n"
        ),
    )
    .unwrap();
    let mut a = start_apex("a", &url, &config);
    let mut b = start_apex("b", &url, &config);

    // A response stored through A is read through B.
    let first = store_response(&a, "stored through a");
    assert_eq!(read_response(&b, &first), "stored through a");

    // A meets the 429 and benches the key; B sees the cooldown and does not call that provider.
    assert_eq!(chat(&a, "guarded"), "Hello from the fake upstream.");
    assert_eq!(calls(&limited), 1);
    let cooldown = limited_cooldown(&b).expect("B sees the cooldown A recorded");
    assert_eq!(cooldown["reason"], "rate-limited");
    assert_eq!(chat(&b, "guarded"), "Hello from the fake upstream.");
    assert_eq!(calls(&limited), 1, "B skipped the key A benched");

    // B restarts (SIGTERM); meanwhile A keeps storing. Nothing is lost.
    let terminated = Command::new("kill")
        .args(["-TERM", &b.process.0.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    assert!(b.process.0.wait().unwrap().success(), "a clean exit");
    let during = store_response(&a, "stored while b was down");
    b = start_apex("b", &url, &config);
    assert_eq!(read_response(&b, &first), "stored through a");
    assert_eq!(read_response(&b, &during), "stored while b was down");
    let from_b = store_response(&b, "stored through b");

    // A is killed outright (SIGKILL: no flush, nothing buffered) and restarts.
    a.process.0.kill().unwrap();
    a.process.0.wait().unwrap();
    a = start_apex("a", &url, &config);
    for (id, text) in [
        (&first, "stored through a"),
        (&during, "stored while b was down"),
        (&from_b, "stored through b"),
    ] {
        assert_eq!(read_response(&a, id), text);
    }
    assert!(
        limited_cooldown(&a).is_some(),
        "the cooldown outlives both processes"
    );
    assert_eq!(chat(&a, "guarded"), "Hello from the fake upstream.");
    assert_eq!(calls(&limited), 1, "still benched after the restarts");

    // Exactly the three responses are in Redis, under the keys Spin's Redis store would use.
    let rt = runtime();
    let keys = rt.block_on(async {
        let store = RedisKv::connect(&url).await.unwrap();
        store.keys("default").await.unwrap()
    });
    let mut stored: Vec<&String> = keys
        .iter()
        .filter(|k| k.starts_with("apex:response:"))
        .collect();
    stored.sort();
    let mut expected: Vec<String> = [&first, &during, &from_b]
        .iter()
        .map(|id| format!("apex:response:{id}"))
        .collect();
    expected.sort();
    assert_eq!(stored, expected.iter().collect::<Vec<_>>(), "{keys:?}");
    drop(redis);
}

#[test]
fn two_apex_processes_share_a_key_s_request_limit() {
    let Some(redis) = Redis::start("limits") else {
        return;
    };
    let url = redis.url(1);
    let dir = temp_dir("limits-config");
    let config = dir.join("apex.toml");
    // `default` is the name of the APEX_API_KEY key; the window is long enough to hold the test.
    std::fs::write(
        &config,
        "[gateway]\nauto_providers = false\n\n\
         [limits.default]\nrequests_per_minute = 3\nwindow_secs = 3600\n",
    )
    .unwrap();
    let a = start_apex("limits-a", &url, &config);
    let b = start_apex("limits-b", &url, &config);
    let ask = |apex: &Apex| {
        http(
            &apex.address,
            "POST",
            "/v1/chat/completions",
            Some(json!({"model": "echo", "messages": [{"role": "user", "content": "hi"}]})),
        )
    };
    assert_eq!(ask(&a).0, 200);
    assert_eq!(ask(&b).0, 200);
    assert_eq!(ask(&a).0, 200);
    // The fourth request in the window, through either process, is refused.
    for apex in [&b, &a] {
        let (status, body) = ask(apex);
        assert_eq!(status, 429, "{body}");
        assert_eq!(body["error"]["code"], "rate_limit_exceeded", "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("requests_per_minute"),
            "{body}"
        );
    }
    let (status, usage) = http(&b.address, "GET", "/usage", None);
    assert_eq!(status, 200, "{usage}");
    assert_eq!(usage["keys"]["default"]["today"]["requests"], 3, "{usage}");
    let limit = &usage["keys"]["default"]["limits"][0];
    assert_eq!(
        (limit["max"].as_u64(), limit["used"].as_u64()),
        (Some(3), Some(3)),
        "{usage}"
    );
    drop(redis);
}
