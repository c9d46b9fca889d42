use super::*;
use crate::state::usage::Tokens;

fn entry() -> Entry {
    Entry {
        time_ms: 1_796_552_103_120,
        began_ms: 1000,
        method: "POST".into(),
        path: "/v1/chat/completions".into(),
        surface: "openai-chat",
        key: Some("alice".into()),
        model: Some("fast".into()),
        attempts: vec![
            AttemptLine {
                provider: "groq".into(),
                model: "llama-3.3-70b".into(),
                key_index: 0,
                outcome: "rate-limited",
                latency_ms: 31,
            },
            AttemptLine {
                provider: "openai".into(),
                model: "gpt-4o-mini".into(),
                key_index: 1,
                outcome: "ok",
                latency_ms: 780,
            },
        ],
        status: Some(200),
        first_byte_ms: Some(1095),
        tokens: Some(Tokens {
            input: 12,
            output: 48,
            cache_read: 4,
            ..Tokens::default()
        }),
        cache: Some("miss"),
        error: None,
        limited_by: None,
    }
}

#[test]
fn a_text_line_has_every_field_in_order() {
    assert_eq!(
        render::text(&entry(), 1812),
        "2026-12-06T10:15:03.120Z POST /v1/chat/completions openai-chat key=alice model=fast \
         status=200 latency=812ms ttfb=95ms tokens_in=12 tokens_out=48 cache_read=4 cache=miss \
         attempts=groq/llama-3.3-70b#0:rate-limited:31ms,openai/gpt-4o-mini#1:ok:780ms"
    );
}

#[test]
fn a_json_line_has_every_field() {
    let line: serde_json::Value = serde_json::from_str(&render::json(&entry(), 1812)).unwrap();
    assert_eq!(line["time"], "2026-12-06T10:15:03.120Z");
    assert_eq!(line["key"], "alice");
    assert_eq!(line["latency_ms"], 812);
    assert_eq!(line["ttfb_ms"], 95);
    assert_eq!(line["tokens"]["input"], 12);
    assert_eq!(line["tokens"]["cache_read"], 4);
    assert_eq!(line["attempts"][0]["outcome"], "rate-limited");
    assert_eq!(line["attempts"][1]["key_index"], 1);
    assert_eq!(line["cache"], "miss");
}

#[test]
fn client_text_cannot_forge_fields_or_lines() {
    let mut forged = entry();
    forged.model = Some("x status=500\nfake line".into());
    forged.path = "/v1/a b".into();
    let line = render::text(&forged, 1812);
    assert!(!line.contains('\n'), "{line}");
    assert!(
        line.contains(r#"model="x status=500\nfake line""#),
        "{line}"
    );
    assert!(line.contains(r#" "/v1/a b" "#), "{line}");
    forged.model = Some("m".repeat(5000));
    assert!(render::text(&forged, 1812).len() < 1000);
}

#[test]
fn errors_are_logged_with_their_cause() {
    let mut failed = entry();
    failed.status = Some(429);
    failed.limited_by = Some("requests_per_minute");
    failed.error = Some(("rate_limit_error".into(), "Too many requests.".into()));
    let line = render::text(&failed, 1812);
    assert!(
        line.ends_with(
            r#"limit=requests_per_minute error=rate_limit_error message="Too many requests.""#
        ),
        "{line}"
    );
}

#[test]
fn the_cell_collects_one_request_at_a_time() {
    begin(entry());
    status(201);
    status(500);
    first_byte(1200);
    note(|e| e.cache = Some("hit"));
    let line = finish(1300, LogFormat::Json).unwrap();
    let line: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(line["status"], 200, "the first status stays");
    assert_eq!(line["ttfb_ms"], 95);
    assert_eq!(line["cache"], "hit");
    assert!(finish(1400, LogFormat::Text).is_none(), "taken once");
    begin(entry());
    assert!(finish(1400, LogFormat::Off).is_none());
    assert_eq!(LogFormat::parse(" JSON "), Some(LogFormat::Json));
    assert_eq!(surface_of("/api/chat", false), "ollama");
    assert_eq!(surface_of("/v1/messages/count_tokens", false), "anthropic");
}
