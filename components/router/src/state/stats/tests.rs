use serde_json::{Value, json};

use super::prometheus::{escape_label, seconds};
use super::*;
use crate::routing::failure::FailureClass;

const NOW: u64 = 1_700_000_000_000;

fn histogram(samples: &[(u64, usize)]) -> Histogram {
    let mut h = Histogram::default();
    for (ms, times) in samples {
        for _ in 0..*times {
            h.record(*ms);
        }
    }
    h
}

#[test]
fn percentiles_interpolate_inside_buckets() {
    let h = histogram(&[(3, 50), (20, 40), (700, 10)]);
    assert_eq!(h.count(), 100);
    assert_eq!(h.sum_ms, 50 * 3 + 40 * 20 + 10 * 700);
    assert_eq!(h.percentile(0.5), Some(5.0));
    assert_eq!(h.percentile(0.9), Some(25.0));
    assert_eq!(h.percentile(0.99), Some(950.0));
    assert_eq!(h.percentile(0.25), Some(2.5));
    assert_eq!(h.percentile(0.7), Some(17.5), "half-way through (10, 25]");
    assert_eq!(Histogram::default().percentile(0.5), None);
    // Slower than the last bound: the highest finite bound.
    assert_eq!(histogram(&[(90_000, 3)]).percentile(0.99), Some(60_000.0));
    // Bounds are inclusive (`le`).
    let edge = histogram(&[(5, 1), (6, 1)]);
    assert_eq!(&edge.buckets[..3], &[1, 1, 0]);
}

#[test]
fn seconds_are_exact_decimals() {
    let all: Vec<String> = BUCKETS_MS.iter().map(|ms| seconds(*ms)).collect();
    assert_eq!(
        all,
        vec![
            "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30",
            "60"
        ]
    );
    assert_eq!(seconds(0), "0");
    assert_eq!(seconds(61_234), "61.234");
}

fn sample() -> Stats {
    let mut stats = Stats::default();
    let attempt = |error, latency_ms, key_index| Event::Attempt {
        alias: "fast",
        provider: "openai",
        model: "gpt-4o-mini",
        key_index,
        error,
        latency_ms,
    };
    stats.record(&attempt(Some("rate-limited"), 40, 0));
    stats.record(&attempt(None, 300, 1));
    stats.record(&Event::Attempt {
        alias: "fast",
        provider: "groq",
        model: "llama",
        key_index: 0,
        error: None,
        latency_ms: 80,
    });
    let request = |error, cache| Event::Request {
        alias: "fast",
        error,
        latency_ms: 350,
        cache,
    };
    stats.record(&request(None, Some(CacheOutcome::Miss)));
    stats.record(&request(None, Some(CacheOutcome::Hit)));
    stats.record(&request(Some(ALL_COOLING), None));
    stats.record(&Event::Cooldown {
        subject: &Subject::key("openai", 0),
        cooldown: Cooldown {
            until_ms: NOW + 1_500,
            reason: FailureClass::RateLimited,
            strikes: 0,
            told: true,
            at_ms: 0,
        },
    });
    stats
}

#[test]
fn events_count_per_alias_target_and_key() {
    let stats = sample();
    let fast = &stats.aliases["fast"];
    assert_eq!(fast.client.requests, 3);
    assert_eq!(fast.client.successes, 2);
    assert_eq!(fast.client.errors[ALL_COOLING], 1);
    assert_eq!((fast.cache_hits, fast.cache_misses), (1, 1));
    let openai = &fast.targets["openai/gpt-4o-mini"];
    assert_eq!((openai.requests, openai.successes), (2, 1));
    assert_eq!(openai.errors["rate-limited"], 1);
    assert_eq!(stats.keys["openai#0"].errors["rate-limited"], 1);
    assert_eq!(stats.keys["openai#1"].successes, 1);
    assert_eq!(stats.keys["groq#0"].requests, 1);
    assert_eq!(
        stats.usage(),
        [
            ("groq/llama".to_string(), 1),
            ("openai/gpt-4o-mini".to_string(), 2)
        ]
        .into_iter()
        .collect()
    );
    assert_eq!(
        crate::routing::failure::kind_label(apex_adapter_kit::types::ErrorKind::MalformedReply),
        "malformed-reply"
    );
}

#[test]
fn direct_requests_count_under_their_provider_not_the_clients_model() {
    let mut stats = Stats::default();
    let models: Vec<String> = (0..100).map(|i| format!("made-up-{i}")).collect();
    for model in &models {
        stats.record(&Event::Attempt {
            alias: "openai/*",
            provider: "openai",
            model,
            key_index: 0,
            error: Some("not-found"),
            latency_ms: 5,
        });
    }
    let direct = &stats.aliases["openai/*"];
    assert_eq!(direct.targets.keys().collect::<Vec<_>>(), ["openai/*"]);
    assert_eq!(direct.targets["openai/*"].errors["not-found"], 100);
    // A configured alias keeps its targets by model (the config chose them).
    stats.record(&Event::Attempt {
        alias: "fast",
        provider: "openai",
        model: "gpt-4o-mini",
        key_index: 0,
        error: None,
        latency_ms: 5,
    });
    assert!(
        stats.aliases["fast"]
            .targets
            .contains_key("openai/gpt-4o-mini")
    );
}

#[test]
fn stats_names_are_configured_aliases_or_a_providers_direct_group() {
    let text = "[providers.a]\nbase_url = \"http://a\"\nkeys = []\n\
                [models.m]\ntargets = [\"a/x\"]";
    let config = crate::config::load(Some(text), &|_| None).unwrap();
    assert_eq!(stats_name(&config, "m"), "m");
    assert_eq!(stats_name(&config, "a/x"), "a/*");
    assert_eq!(stats_name(&config, "a/anything/at:all"), "a/*");
    assert_eq!(stats_name(&config, "echo"), "echo");
    assert_eq!(direct_group("a"), "a/*");
}

#[test]
fn merge_adds_counters_and_keeps_the_later_cooldown() {
    let mut merged = sample();
    let mut other = sample();
    other.cooldowns = Health::default();
    other.record(&Event::Cooldown {
        subject: &Subject::key("openai", 0),
        cooldown: Cooldown {
            until_ms: NOW + 600_000,
            reason: FailureClass::Auth,
            strikes: 0,
            told: true,
            at_ms: 0,
        },
    });
    merged.merge(&other);
    let fast = &merged.aliases["fast"];
    assert_eq!(fast.client.requests, 6);
    assert_eq!(fast.client.latency.count(), 6);
    assert_eq!(fast.targets["openai/gpt-4o-mini"].errors["rate-limited"], 2);
    assert_eq!(merged.keys["groq#0"].requests, 2);
    assert_eq!(
        merged
            .cooldowns
            .active(&Subject::key("openai", 0), NOW)
            .map(|c| c.reason),
        Some(FailureClass::Auth)
    );
    // Stored documents round-trip.
    let json = serde_json::to_string(&merged).unwrap();
    assert_eq!(serde_json::from_str::<Stats>(&json).unwrap(), merged);
    assert_eq!(
        serde_json::from_str::<Stats>("{}").unwrap(),
        Stats::default()
    );
    assert_eq!(kv_key("fast", 6), "apex:stats:fast:2");
}

#[test]
fn json_shows_keys_by_index_with_cooldowns_and_percentiles() {
    let mut stats = sample();
    let mut health = Health::default();
    health.insert(
        &Subject::target(&crate::config::TargetRef::new("groq", "llama")),
        Cooldown {
            until_ms: NOW + 30_000,
            reason: FailureClass::Server,
            strikes: 0,
            told: true,
            at_ms: 0,
        },
    );
    health.insert(
        &Subject::key("anthropic", 2),
        Cooldown {
            until_ms: NOW + 600_000,
            reason: FailureClass::Auth,
            strikes: 0,
            told: true,
            at_ms: 0,
        },
    );
    stats.apply_health(&health);
    let body: Value = serde_json::from_slice(&stats.render_json(NOW)).unwrap();
    let fast = &body["aliases"]["fast"];
    assert_eq!(fast["requests"], 3);
    assert_eq!(fast["cache"], json!({"hits": 1, "misses": 1}));
    assert_eq!(
        fast["latency_ms"]["p50"], 375,
        "half-way through (250, 500]"
    );
    assert_eq!(fast["latency_ms"]["mean"], 350);
    let groq = &fast["targets"]["groq/llama"];
    assert_eq!(groq["cooldown"]["reason"], "server");
    assert_eq!(groq["cooldown"]["remaining_secs"], 30);
    assert_eq!(
        fast["targets"]["openai/gpt-4o-mini"]["cooldown"],
        Value::Null
    );
    assert_eq!(body["keys"]["openai#0"]["cooldown"]["remaining_secs"], 2);
    assert_eq!(body["keys"]["openai#1"]["cooldown"], Value::Null);
    // A key with a cooldown but no attempts is listed too: 401/403 shows.
    assert_eq!(body["keys"]["anthropic#2"]["requests"], 0);
    assert_eq!(body["keys"]["anthropic#2"]["cooldown"]["reason"], "auth");
    assert_eq!(body["cooldowns"].as_array().unwrap().len(), 3);
    // Later on, every cooldown has ended.
    let later: Value = serde_json::from_slice(&stats.render_json(NOW + 3_600_000)).unwrap();
    assert_eq!(later["keys"]["anthropic#2"]["cooldown"], Value::Null);
    assert_eq!(later["cooldowns"], json!([]));
}

#[test]
fn json_totals_every_alias_with_p95_and_cache() {
    let mut stats = sample();
    stats.record(&Event::Request {
        alias: "other",
        error: Some("server"),
        latency_ms: 20,
        cache: Some(CacheOutcome::Miss),
    });
    let body: Value = serde_json::from_slice(&stats.render_json(NOW)).unwrap();
    let total = &body["total"];
    assert_eq!(total["requests"], 4);
    assert_eq!(total["successes"], 2);
    assert_eq!(total["errors"], json!({ALL_COOLING: 1, "server": 1}));
    assert_eq!(total["cache"], json!({"hits": 1, "misses": 2}));
    assert_eq!(total["latency_ms"]["count"], 4);
    // Three samples in (250, 500], one in (10, 25]: the merged histogram's quantiles.
    assert_eq!(
        total["latency_ms"]["p50"], 333,
        "rank 2 of 4: a third into (250, 500]"
    );
    assert_eq!(total["latency_ms"]["p95"], 483);
    assert_eq!(total["latency_ms"]["p99"], 497);
    // p95 sits beside the percentiles that were there (p50, p90, p99) on every level.
    assert_eq!(body["aliases"]["fast"]["latency_ms"]["p95"], 488);
    assert!(body["keys"]["openai#1"]["latency_ms"]["p95"].is_u64());
    assert_eq!(Stats::default().to_json(NOW)["total"]["requests"], 0);
    assert_eq!(
        Stats::default().to_json(NOW)["total"]["latency_ms"]["p95"],
        Value::Null
    );
}

#[test]
fn json_for_a_config_names_aliases_targets_and_key_counts_never_keys() {
    let text = r#"
        [gateway]
        api_keys = { ops = "ops_key" }
        auto_providers = false

        [providers.primary]
        kind = "openai"
        base_url = "https://primary.example/v1"
        keys = ["primary_key_a", "primary_key_b"]
        headers = { "x-custom" = "header-secret-value" }

        [providers.local]
        kind = "ollama"
        base_url = "http://localhost:11434"
        keys = []

        [models.chat]
        strategy = "weighted"
        cache = true
        targets = ["primary/gpt-4o-mini", { provider = "local", model = "llama3", weight = 3 }]

        [[model_patterns]]
        pattern = "claude-*"
        model = "chat"
    "#;
    let secrets = [
        ("ops_key", "gateway-secret-0123456789"),
        ("primary_key_a", "sk-upstream-secret-aaaa"),
        ("primary_key_b", "sk-upstream-secret-bbbb"),
    ];
    let config = crate::config::load(Some(text), &|name| {
        secrets
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    })
    .unwrap();
    let bytes = sample().render_json_for(&config, NOW);
    let text = String::from_utf8(bytes.clone()).unwrap();
    for (variable, value) in secrets {
        assert!(!text.contains(value), "a key value in /stats: {text}");
        assert!(!text.contains(variable), "a key variable in /stats: {text}");
    }
    for hidden in ["header-secret-value", "primary.example", "localhost:11434"] {
        assert!(!text.contains(hidden), "{hidden} in /stats: {text}");
    }
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    let configured = &body["config"];
    assert_eq!(
        configured["aliases"]["chat"],
        json!({
            "strategy": "weighted",
            "cache": true,
            "targets": [
                {"target": "primary/gpt-4o-mini", "provider": "primary", "model": "gpt-4o-mini", "weight": 1},
                {"target": "local/llama3", "provider": "local", "model": "llama3", "weight": 3},
            ],
        })
    );
    assert_eq!(
        configured["providers"],
        json!({
            "primary": {"kind": "openai", "keys": 2},
            "local": {"kind": "ollama", "keys": 0},
        })
    );
    assert_eq!(
        configured["model_patterns"],
        json!([{"pattern": "claude-*", "model": "chat"}])
    );
    assert_eq!(configured["echo_model"], true);
    assert_eq!(configured["recording"], true);
    // Backwards compatible: everything `render_json` had is still there, unchanged.
    let mut without: Value = body.clone();
    without.as_object_mut().unwrap().remove("config");
    let plain: Value = serde_json::from_slice(&sample().render_json(NOW)).unwrap();
    assert_eq!(without, plain);
    for field in ["now_ms", "aliases", "keys", "cooldowns"] {
        assert!(body.get(field).is_some(), "{field}");
    }
}

#[test]
fn label_values_never_break_the_line_format() {
    assert_eq!(escape_label("a\\b\"c\nd"), r#"a\\b\"c\nd"#);
    assert_eq!(escape_label("a\rb\tc"), r"a\\rb\\tc");
    assert_eq!(
        escape_label("x\u{0}\u{1b}\u{7f}\u{85}\u{2028}\u{2029}y"),
        r"x\\u0000\\u001b\\u007f\\u0085\\u2028\\u2029y"
    );
    assert_eq!(escape_label("caf\u{e9}/m\u{f6}del"), "caf\u{e9}/m\u{f6}del");
    let mut stats = Stats::default();
    stats.record(&Event::Request {
        alias: "a\rb\u{85}c\u{2028}d\u{b}e\u{c}f\u{1c}g",
        error: Some("server"),
        latency_ms: 1,
        cache: None,
    });
    let text = stats.render_prometheus(NOW);
    // Whatever a reader takes for a line break (`str::lines` splits on `\n` only; others
    // split on `\r`, NEL, U+2028...), every sample line is whole.
    for line in
        text.split(|c: char| c == '\n' || c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
    {
        assert!(
            line.is_empty() || line.starts_with("# ") || line.starts_with("apex_"),
            "broken line: {line:?}"
        );
        assert_eq!(line.matches('"').count() % 2, 0, "{line:?}");
    }
}

#[test]
fn prometheus_text_line_by_line() {
    let mut stats = Stats::default();
    stats.record(&Event::Request {
        alias: "we\"ird\\al\nias",
        error: None,
        latency_ms: 7,
        cache: Some(CacheOutcome::Hit),
    });
    stats.record(&Event::Attempt {
        alias: "a",
        provider: "p",
        model: "m",
        key_index: 1,
        error: Some("server"),
        latency_ms: 2_600,
    });
    stats.record(&Event::Cooldown {
        subject: &Subject::key("p", 1),
        cooldown: Cooldown {
            until_ms: NOW + 4_200,
            reason: FailureClass::Server,
            strikes: 0,
            told: true,
            at_ms: 0,
        },
    });
    stats.record(&Event::Cooldown {
        subject: &Subject::target(&crate::config::TargetRef::new("p", "m")),
        cooldown: Cooldown {
            until_ms: NOW - 1,
            reason: FailureClass::Server,
            strikes: 0,
            told: true,
            at_ms: 0,
        },
    });
    let text = stats.render_prometheus(NOW);
    let alias = r#"alias="we\"ird\\al\nias""#;
    let buckets = |name: &str, labels: &str, counts: [u64; 14]| -> Vec<String> {
        let les = [
            "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30",
            "60", "+Inf",
        ];
        les.iter()
            .zip(counts)
            .map(|(le, n)| format!("{name}_bucket{{{labels},le=\"{le}\"}} {n}"))
            .collect()
    };
    let mut expected: Vec<String> = vec![
        "# HELP apex_requests_total Client requests per alias.".into(),
        "# TYPE apex_requests_total counter".into(),
        "apex_requests_total{alias=\"a\"} 0".into(),
        format!("apex_requests_total{{{alias}}} 1"),
        "# HELP apex_errors_total Client requests that ended in an error, per alias and error kind.".into(),
        "# TYPE apex_errors_total counter".into(),
        "# HELP apex_cache_hits_total Client requests answered from the response cache, per alias.".into(),
        "# TYPE apex_cache_hits_total counter".into(),
        "apex_cache_hits_total{alias=\"a\"} 0".into(),
        format!("apex_cache_hits_total{{{alias}}} 1"),
        "# HELP apex_cache_misses_total Cacheable client requests the response cache could not answer, per alias.".into(),
        "# TYPE apex_cache_misses_total counter".into(),
        "apex_cache_misses_total{alias=\"a\"} 0".into(),
        format!("apex_cache_misses_total{{{alias}}} 0"),
        "# HELP apex_request_duration_seconds Client request duration per alias.".into(),
        "# TYPE apex_request_duration_seconds histogram".into(),
    ];
    expected.extend(buckets(
        "apex_request_duration_seconds",
        "alias=\"a\"",
        [0; 14],
    ));
    expected.extend([
        "apex_request_duration_seconds_sum{alias=\"a\"} 0".to_string(),
        "apex_request_duration_seconds_count{alias=\"a\"} 0".to_string(),
    ]);
    expected.extend(buckets(
        "apex_request_duration_seconds",
        alias,
        [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    ));
    expected.extend([
        format!("apex_request_duration_seconds_sum{{{alias}}} 0.007"),
        format!("apex_request_duration_seconds_count{{{alias}}} 1"),
        "# HELP apex_upstream_requests_total Upstream attempts per alias and target (provider/model).".into(),
        "# TYPE apex_upstream_requests_total counter".into(),
        "apex_upstream_requests_total{alias=\"a\",target=\"p/m\"} 1".into(),
        "# HELP apex_upstream_errors_total Failed upstream attempts per alias, target and error kind.".into(),
        "# TYPE apex_upstream_errors_total counter".into(),
        "apex_upstream_errors_total{alias=\"a\",target=\"p/m\",kind=\"server\"} 1".into(),
        "# HELP apex_upstream_duration_seconds Upstream attempt duration per alias and target.".into(),
        "# TYPE apex_upstream_duration_seconds histogram".into(),
    ]);
    expected.extend(buckets(
        "apex_upstream_duration_seconds",
        "alias=\"a\",target=\"p/m\"",
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1],
    ));
    expected.extend([
        "apex_upstream_duration_seconds_sum{alias=\"a\",target=\"p/m\"} 2.6".to_string(),
        "apex_upstream_duration_seconds_count{alias=\"a\",target=\"p/m\"} 1".into(),
        "# HELP apex_key_requests_total Upstream attempts per provider key (by index, never its value).".into(),
        "# TYPE apex_key_requests_total counter".into(),
        "apex_key_requests_total{provider=\"p\",key=\"1\"} 1".into(),
        "# HELP apex_key_errors_total Failed upstream attempts per provider key and error kind.".into(),
        "# TYPE apex_key_errors_total counter".into(),
        "apex_key_errors_total{provider=\"p\",key=\"1\",kind=\"server\"} 1".into(),
        "# HELP apex_key_cooldown_seconds Seconds until a provider key is used again (0: in rotation).".into(),
        "# TYPE apex_key_cooldown_seconds gauge".into(),
        "apex_key_cooldown_seconds{provider=\"p\",key=\"1\"} 5".into(),
        "# HELP apex_target_cooldown_seconds Seconds until a target (provider/model) is used again (0: in rotation).".into(),
        "# TYPE apex_target_cooldown_seconds gauge".into(),
        "apex_target_cooldown_seconds{target=\"p/m\"} 0".into(),
    ]);
    let lines: Vec<&str> = text.lines().collect();
    for (i, (got, want)) in lines.iter().zip(&expected).enumerate() {
        assert_eq!(got, want, "line {i}");
    }
    assert_eq!(lines.len(), expected.len());
    assert!(text.ends_with('\n'));
}
