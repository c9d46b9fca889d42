#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! Routing through the composed app with scripted upstreams: cooldowns that honour Retry-After
//! (kept in the key-value store), strategies and their distributions, timeouts, the per-key
//! concurrency limit, and `/stats` and `/metrics`. Failover, the cache and strikes are scenarios
//! (`host-tests/scenarios/routing-*`).

use std::time::Duration;

use crate::common::{Gateway, Response};
use apex_host::outbound::Reply;
use serde_json::{Value, json};

const A: &str = "http://a.test/v1";
const B: &str = "http://b.test/v1";
const C: &str = "http://c.test/v1";

fn config(extra: &str) -> String {
    format!(
        r#"
[gateway]
api_keys = {{ alice = "alice_key", bob = "bob_key" }}

[providers.a]
kind = "openai"
base_url = "{A}"
keys = ["a_key_1", "a_key_2"]

[providers.b]
kind = "openai"
base_url = "{B}"
keys = ["b_key"]

[providers.c]
kind = "openai"
base_url = "{C}"
keys = ["c_key"]

[models.chain]
targets = ["a/m1", "b/m2"]

[models.solo]
targets = ["a/m1"]

[models.rr]
strategy = "round-robin"
targets = ["a/m1", "b/m2", "c/m3"]

[models.weighted]
strategy = "weighted"
targets = [{{ provider = "a", model = "m1", weight = 3 }}, {{ provider = "b", model = "m2", weight = 1 }}]

[models.random]
strategy = "random"
targets = ["a/m1", "b/m2", "c/m3"]

[models.least]
strategy = "least-used"
targets = ["b/m2", "c/m3"]

[models.cached]
cache = true
targets = ["b/m2"]
{extra}"#
    )
}

const VARS: &[(&str, &str)] = &[
    ("alice_key", "key-alice"),
    ("bob_key", "key-bob"),
    ("a_key_1", "sk-a-one"),
    ("a_key_2", "sk-a-two"),
    ("b_key", "sk-b"),
    ("c_key", "sk-c"),
];

fn gateway(extra: &str) -> Gateway {
    Gateway::new(&config(extra), VARS)
}

fn ok(text: &str) -> Reply {
    Reply::json(
        200,
        json!({"id": "chatcmpl-r", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}})
        .to_string(),
    )
}

fn error(status: u16) -> Reply {
    Reply::json(
        status,
        json!({"error": {"message": format!("upstream says {status}"), "type": "server_error"}})
            .to_string(),
    )
}

async fn ask(gw: &Gateway, model: &str, key: &str) -> Response {
    ask_with(gw, model, key, &[], false).await
}

async fn ask_with(
    gw: &Gateway,
    model: &str,
    key: &str,
    headers: &[(&str, &str)],
    stream: bool,
) -> Response {
    let auth = format!("Bearer {key}");
    let mut all = vec![
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    all.extend_from_slice(headers);
    let body = json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "Grüß Gott"}], "temperature": 0.5});
    gw.call(
        "POST",
        "/v1/chat/completions",
        &all,
        body.to_string().as_bytes(),
    )
    .await
}

/// Which upstream key each request used, in order.
fn keys_used(gw: &Gateway) -> Vec<String> {
    gw.upstream
        .requests()
        .iter()
        .map(|r| {
            r.header("authorization")
                .unwrap_or("")
                .trim_start_matches("Bearer ")
                .to_string()
        })
        .collect()
}

fn hosts(gw: &Gateway) -> Vec<String> {
    gw.upstream
        .requests()
        .iter()
        .map(|r| r.url.split('/').nth(2).unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn a_429_benches_its_key_until_retry_after() {
    let gw = gateway("");
    gw.upstream
        .push(A, error(429).with_header("retry-after", "120"));
    gw.upstream.push(A, ok("second key"));
    let r = ask(&gw, "solo", "key-alice").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let first = keys_used(&gw);
    assert_eq!(first.len(), 2);
    assert_ne!(first[0], first[1], "the other key served");
    // The next requests skip the benched key, whatever the rotation says.
    for _ in 0..3 {
        gw.upstream.push(A, ok("again"));
        let r = ask(&gw, "solo", "key-alice").await;
        assert_eq!(r.status, 200);
    }
    let used = keys_used(&gw);
    assert!(
        used[2..].iter().all(|k| *k == first[1]),
        "benched key {} used again: {used:?}",
        first[0]
    );
    // The bench is in the key-value store, with its expiry.
    let benched: Vec<String> = gw
        .kv
        .keys("default")
        .into_iter()
        .filter(|k| k.starts_with("apex:cool:key:"))
        .collect();
    assert_eq!(benched.len(), 1, "{benched:?}");
}

#[tokio::test]
async fn when_every_key_is_benched_the_client_gets_429_with_retry_after() {
    let gw = gateway("");
    gw.upstream
        .push(A, error(429).with_header("retry-after", "30"));
    gw.upstream
        .push(A, error(429).with_header("retry-after", "45"));
    let r = ask(&gw, "solo", "key-alice").await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.header("retry-after").is_some());
    assert_eq!(gw.upstream.requests().len(), 2, "every key tried");
    // Now both keys cool down: no upstream call, 429 with the soonest Retry-After.
    let r = ask(&gw, "solo", "key-alice").await;
    assert_eq!(r.status, 429, "{}", r.text());
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((25..=30).contains(&retry), "{retry}");
    assert_eq!(r.json()["error"]["type"], "rate_limit_error");
    assert_eq!(gw.upstream.requests().len(), 2);
}

#[tokio::test]
async fn a_400_goes_back_unchanged_and_is_not_retried() {
    let gw = gateway("");
    gw.upstream.push(
        A,
        Reply::json(
            400,
            r#"{"error":{"message":"Invalid value for temperature","type":"invalid_request_error","param":"temperature","code":null}}"#,
        ),
    );
    let r = ask(&gw, "chain", "key-alice").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["param"], "temperature");
    assert_eq!(gw.upstream.requests().len(), 1);
    // And it benches nothing.
    assert!(
        !gw.kv
            .keys("default")
            .iter()
            .any(|k| k.starts_with("apex:cool:"))
    );
}

#[tokio::test]
async fn round_robin_spreads_evenly() {
    let gw = gateway("");
    for url in [A, B, C] {
        for _ in 0..10 {
            gw.upstream.push(url, ok("rr"));
        }
    }
    for _ in 0..30 {
        assert_eq!(ask(&gw, "rr", "key-alice").await.status, 200);
    }
    let hosts = hosts(&gw);
    for host in ["a.test", "b.test", "c.test"] {
        assert_eq!(hosts.iter().filter(|h| *h == host).count(), 10, "{hosts:?}");
    }
}

#[tokio::test]
async fn weighted_follows_the_weights() {
    let gw = gateway("");
    let n = 400;
    for _ in 0..n {
        gw.upstream.push(A, ok("w"));
        gw.upstream.push(B, ok("w"));
    }
    for _ in 0..n {
        assert_eq!(ask(&gw, "weighted", "key-alice").await.status, 200);
    }
    let to_a = hosts(&gw).iter().filter(|h| *h == "a.test").count();
    // 3:1 → 300 of 400; ±30 is more than three standard deviations.
    assert!(
        (270..=330).contains(&to_a),
        "{to_a} of {n} went to the weight-3 target"
    );
}

#[tokio::test]
async fn random_and_least_used_reach_every_target() {
    let gw = gateway("");
    for url in [A, B, C] {
        for _ in 0..60 {
            gw.upstream.push(url, ok("x"));
        }
    }
    for _ in 0..60 {
        assert_eq!(ask(&gw, "random", "key-alice").await.status, 200);
    }
    let hosts_random = hosts(&gw);
    for host in ["a.test", "b.test", "c.test"] {
        let count = hosts_random.iter().filter(|h| *h == host).count();
        assert!((8..=35).contains(&count), "{host}: {count} of 60");
    }
    let before = hosts_random.len();
    for _ in 0..20 {
        assert_eq!(ask(&gw, "least", "key-alice").await.status, 200);
    }
    let least = &hosts(&gw)[before..];
    let to_b = least.iter().filter(|h| *h == "b.test").count();
    assert!(
        (8..=12).contains(&to_b),
        "least-used sent {to_b} of 20 to b: {least:?}"
    );
}

#[tokio::test]
async fn stats_and_metrics_show_requests_errors_and_cooldowns() {
    let gw = Gateway::new(
        &config("").replace("[gateway]\n", "[gateway]\nadmin_keys = [\"alice\"]\n"),
        VARS,
    );
    gw.upstream.push(A, error(401));
    gw.upstream.push(A, ok("second key works"));
    let r = ask(&gw, "solo", "key-alice").await;
    assert_eq!(r.status, 200, "{}", r.text());
    gw.upstream.push(A, ok("again"));
    assert_eq!(ask(&gw, "solo", "key-alice").await.status, 200);

    let stats = gw
        .call(
            "GET",
            "/stats",
            &[("authorization", "Bearer key-alice")],
            b"",
        )
        .await;
    assert_eq!(stats.status, 200, "{}", stats.text());
    let text = stats.text();
    for secret in ["sk-a-one", "sk-a-two", "key-alice"] {
        assert!(!text.contains(secret), "{secret} leaked into /stats");
    }
    let stats: Value = stats.json();
    let dump = stats.to_string();
    assert!(dump.contains("solo"), "{dump}");
    assert!(
        dump.contains("auth"),
        "the refused key shows as benched for auth: {dump}"
    );
    assert!(dump.contains("a#0") || dump.contains("a#1"), "{dump}");

    let metrics = gw
        .call(
            "GET",
            "/metrics",
            &[("authorization", "Bearer key-alice")],
            b"",
        )
        .await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let text = metrics.text();
    assert!(
        text.contains("# TYPE apex_requests_total counter"),
        "{text}"
    );
    let requests_line = text
        .lines()
        .find(|l| l.starts_with("apex_requests_total{") && l.contains("alias=\"solo\""))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(requests_line.ends_with(" 2"), "{requests_line}");
    assert!(
        text.contains("apex_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("apex_key_cooldown_seconds"), "{text}");
    let unauthenticated = gw.call("GET", "/metrics", &[], b"").await;
    assert_eq!(unauthenticated.status, 401);
    // Another tenant's key sees no gateway-wide numbers.
    for path in ["/stats", "/metrics"] {
        let tenant = gw
            .call("GET", path, &[("authorization", "Bearer key-bob")], b"")
            .await;
        assert_eq!(tenant.status, 403, "{path}: {}", tenant.text());
        assert_eq!(tenant.json()["error"]["type"], "permission_error");
    }
}

#[tokio::test]
async fn a_provider_slower_than_first_token_timeout_is_left_for_the_next() {
    let gw = Gateway::new(
        &config("").replace(
            "[gateway]\n",
            "[gateway]\nfirst_token_timeout_secs = 1\nallowed_fails = 1\n",
        ),
        VARS,
    );
    gw.upstream
        .push(A, ok("too late").delayed(Duration::from_millis(2500)));
    gw.upstream
        .push(A, ok("too late").delayed(Duration::from_millis(2500)));
    gw.upstream.push(B, ok("in time"));
    let started = std::time::Instant::now();
    let r = ask(&gw, "chain", "key-alice").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["choices"][0]["message"]["content"], "in time");
    assert!(
        started.elapsed() < Duration::from_millis(4000),
        "{:?}",
        started.elapsed()
    );
    // A timeout benches the target, so the next request goes straight to b.
    gw.upstream.push(B, ok("straight to b"));
    let r = ask(&gw, "chain", "key-alice").await;
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        "straight to b"
    );
    assert_eq!(hosts(&gw).last().map(String::as_str), Some("b.test"));
    assert_eq!(
        hosts(&gw),
        ["a.test", "a.test", "b.test", "b.test"],
        "both keys of a timed out once; then a was benched (allowed_fails = 1)"
    );
}

#[tokio::test]
async fn the_total_timeout_ends_a_stalled_request_with_504() {
    let gw = Gateway::new(
        &config("").replace(
            "[gateway]\n",
            "[gateway]\ntotal_timeout_secs = 1\nfailover_on = [\"rate-limited\"]\n",
        ),
        VARS,
    );
    gw.upstream
        .push(A, ok("never").delayed(Duration::from_millis(3000)));
    let r = ask(&gw, "solo", "key-alice").await;
    assert_eq!(r.status, 504, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "upstream_timeout");
}

#[tokio::test]
async fn each_key_has_at_most_max_concurrent_per_key_requests_in_flight() {
    let gw = Gateway::new(
        &config("").replace("[gateway]\n", "[gateway]\nmax_concurrent_per_key = 1\n"),
        VARS,
    );
    gw.upstream
        .push(A, ok("slow").delayed(Duration::from_millis(1500)));
    gw.upstream.push(A, ok("bob's"));
    gw.upstream.push(A, ok("alice again"));
    let first = ask(&gw, "solo", "key-alice");
    let others = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let second = ask(&gw, "solo", "key-alice").await;
        let bob = ask(&gw, "solo", "key-bob").await;
        (second, bob)
    };
    let (first, (second, bob)) = tokio::join!(first, others);
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(second.status, 429, "{}", second.text());
    assert_eq!(second.json()["error"]["type"], "rate_limit_error");
    assert_eq!(second.header("retry-after"), Some("1"));
    assert_eq!(
        bob.status,
        200,
        "another key has its own slots: {}",
        bob.text()
    );
    // The slot is free again once the first answer is complete.
    let again = ask(&gw, "solo", "key-alice").await;
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(
        gw.upstream.requests().len(),
        3,
        "the refused request reached no provider"
    );
    assert!(
        gw.kv
            .keys("default")
            .iter()
            .all(|k| !k.starts_with("apex:slot:")),
        "every slot was given back: {:?}",
        gw.kv.keys("default")
    );
}
