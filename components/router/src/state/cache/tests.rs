use apex_adapter_kit::types::{
    ChatRequest, ChatResponse, ContentPart, FinishReason, JsonSchemaFormat, Message,
    ResponseFormat, Role, StreamEvent, StreamStart, Thinking, Tool, ToolCall, ToolCallDelta,
    ToolCallStart, ToolChoice, Usage,
};

use super::key::canonical_json_text;
use super::*;

fn user(text: &str) -> Message {
    Message {
        role: Role::User,
        content: vec![ContentPart::Text(text.into())],
        name: None,
    }
}

fn request() -> ChatRequest {
    let mut request = ChatRequest::new(
        "fast",
        vec![
            user("What is the weather?"),
            Message {
                role: Role::Assistant,
                content: vec![ContentPart::ToolCall(ToolCall {
                    id: "call_1".into(),
                    name: "weather".into(),
                    arguments: r#"{"city": "Paris", "days": 2}"#.into(),
                })],
                name: None,
            },
        ],
    );
    request.tools = vec![Tool {
        name: "weather".into(),
        description: Some("Forecast".into()),
        parameters: r#"{"type": "object", "properties": {"city": {"type": "string"}}}"#.into(),
        strict: None,
    }];
    request.tool_choice = Some(ToolChoice::Auto);
    request.temperature = Some(0.2);
    request.max_tokens = Some(100);
    request
}

fn key(request: &ChatRequest) -> String {
    cache_key("alice", request, "openai-chat")
}

#[test]
fn keys_are_hex_sha256_scoped_to_caller_and_surface() {
    let base = key(&request());
    assert_eq!(base.len(), 64);
    assert!(
        base.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(base, key(&request()), "deterministic");
    assert_ne!(base, cache_key("bob", &request(), "openai-chat"));
    assert_ne!(base, cache_key("alice", &request(), "anthropic-messages"));
    // Length prefixes: moving a character between caller and surface changes the key.
    assert_ne!(
        cache_key("ab", &request(), "c"),
        cache_key("a", &request(), "bc")
    );
    assert_eq!(kv_key(&base), format!("apex:cache:{base}"));
}

#[test]
fn stream_does_not_change_the_key() {
    let mut streamed = request();
    streamed.stream = true;
    assert_eq!(key(&streamed), key(&request()));
}

type Change = Box<dyn Fn(&mut ChatRequest)>;

#[test]
fn every_parameter_changes_the_key() {
    let base = key(&request());
    let changes: Vec<(&str, Change)> = vec![
        ("model", Box::new(|r| r.model = "smart".into())),
        ("message", Box::new(|r| r.messages.push(user("more")))),
        ("temperature", Box::new(|r| r.temperature = Some(0.3))),
        ("top_p", Box::new(|r| r.top_p = Some(0.9))),
        ("top_k", Box::new(|r| r.top_k = Some(40))),
        ("max_tokens", Box::new(|r| r.max_tokens = Some(101))),
        ("seed", Box::new(|r| r.seed = Some(7))),
        ("stop", Box::new(|r| r.stop = vec!["END".into()])),
        ("tools", Box::new(|r| r.tools.clear())),
        (
            "tool_choice",
            Box::new(|r| r.tool_choice = Some(ToolChoice::Required)),
        ),
        (
            "parallel",
            Box::new(|r| r.parallel_tool_calls = Some(false)),
        ),
        (
            "format",
            Box::new(|r| r.response_format = Some(ResponseFormat::JsonObject)),
        ),
        (
            "reasoning",
            Box::new(|r| {
                r.reasoning = Some(apex_adapter_kit::types::Reasoning {
                    effort: Some("high".into()),
                    budget_tokens: None,
                })
            }),
        ),
        ("user", Box::new(|r| r.user = Some("u1".into()))),
        ("extra", Box::new(|r| r.extra = Some(r#"{"x":1}"#.into()))),
        (
            "arguments",
            Box::new(|r| {
                if let ContentPart::ToolCall(call) = &mut r.messages[1].content[0] {
                    call.arguments = r#"{"city": "Lyon", "days": 2}"#.into();
                }
            }),
        ),
    ];
    for (name, change) in changes {
        let mut changed = request();
        change(&mut changed);
        assert_ne!(key(&changed), base, "{name}");
    }
}

#[test]
fn json_text_formatting_and_key_order_do_not_matter() {
    let mut reformatted = request();
    if let ContentPart::ToolCall(call) = &mut reformatted.messages[1].content[0] {
        call.arguments = "{\n  \"days\" : 2,\n  \"city\":\"Paris\"\n}".into();
    }
    reformatted.tools[0].parameters =
        r#"{"properties":{"city":{"type":"string"}},"type":"object"}"#.into();
    assert_eq!(key(&reformatted), key(&request()));

    let schema = |text: &str| {
        let mut r = request();
        r.response_format = Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
            name: "s".into(),
            schema: text.into(),
            strict: Some(true),
        }));
        key(&r)
    };
    assert_eq!(
        schema(r#"{"a": 1, "b": [true]}"#),
        schema(r#"{"b":[true],"a":1}"#)
    );
    assert_ne!(schema(r#"{"a": 1}"#), schema(r#"{"a": 2}"#));
}

#[test]
fn canonical_json_keeps_what_parsing_would_lose() {
    // Past u64 and f64 precision: parsed values collide, the number tokens do not.
    assert_ne!(
        canonical_json_text(r#"{"n": 123456789012345678901234567890}"#),
        canonical_json_text(r#"{"n": 123456789012345678901234567891}"#)
    );
    // A JSON string and the same text that is not JSON stay apart.
    assert_ne!(canonical_json_text(r#""hi""#), canonical_json_text("hi"));
    assert_eq!(canonical_json_text("not json {"), "not json {");
    assert_eq!(
        canonical_json_text(r#"{ "b": "x\"1", "a": [-1.5e3, 2] }"#),
        r#"{"json":{"a":[-1500.0,2],"b":"x\"1"},"numbers":["-1.5e3","2"]}"#
    );
    let text = canonical_request(&request());
    assert!(
        text.starts_with(r#"{"extra":null,"max_tokens":100,"messages":"#),
        "{text}"
    );
}

#[test]
fn cache_control_no_cache_skips_reading_no_store_skips_both() {
    let headers = |value: &str| vec![("Cache-Control".to_string(), value.to_string())];
    let both = CacheControl {
        read: true,
        write: true,
    };
    assert_eq!(cache_control(&[]), both);
    assert_eq!(cache_control(&headers("max-age=0")), both);
    assert_eq!(
        cache_control(&headers("max-age=0, No-Cache")),
        CacheControl {
            read: false,
            write: true
        }
    );
    assert_eq!(
        cache_control(&headers("no-store")),
        CacheControl {
            read: false,
            write: false
        }
    );
}

fn response() -> ChatResponse {
    ChatResponse {
        id: "resp_1".into(),
        model: "gpt-4o-mini".into(),
        content: vec![
            ContentPart::Thinking(Thinking {
                text: "Let me think.".into(),
                signature: Some("sig".into()),
            }),
            ContentPart::RedactedThinking("opaque".into()),
            ContentPart::Text("é".repeat(REPLAY_CHUNK_CHARS + 10)),
            ContentPart::ToolCall(ToolCall {
                id: "call_a".into(),
                name: "weather".into(),
                arguments: r#"{"city":"Paris"}"#.into(),
            }),
            ContentPart::ToolCall(ToolCall {
                id: "call_b".into(),
                name: "time".into(),
                arguments: String::new(),
            }),
        ],
        finish_reason: FinishReason::ToolCalls,
        usage: Some(Usage {
            input_tokens: 10,
            output_tokens: 5,
            cache_read_tokens: None,
            cache_write_tokens: None,
            reasoning_tokens: Some(3),
        }),
    }
}

#[test]
fn cached_answers_replay_as_a_stream() {
    let response = response();
    let events = replay_events(&response);
    let long = "é".repeat(REPLAY_CHUNK_CHARS + 10);
    let expected = vec![
        StreamEvent::Start(StreamStart {
            id: "resp_1".into(),
            model: "gpt-4o-mini".into(),
        }),
        StreamEvent::ThinkingDelta("Let me think.".into()),
        StreamEvent::ThinkingSignature("sig".into()),
        StreamEvent::TextDelta("é".repeat(REPLAY_CHUNK_CHARS)),
        StreamEvent::TextDelta("é".repeat(10)),
        StreamEvent::ToolCallStart(ToolCallStart {
            index: 0,
            id: "call_a".into(),
            name: "weather".into(),
        }),
        StreamEvent::ToolCallDelta(ToolCallDelta {
            index: 0,
            arguments: r#"{"city":"Paris"}"#.into(),
        }),
        StreamEvent::ToolCallStart(ToolCallStart {
            index: 1,
            id: "call_b".into(),
            name: "time".into(),
        }),
        StreamEvent::Usage(response.usage.unwrap()),
        StreamEvent::Finish(FinishReason::ToolCalls),
    ];
    assert_eq!(events, expected);
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, long);

    let empty = ChatResponse {
        content: vec![ContentPart::Text(String::new())],
        usage: None,
        finish_reason: FinishReason::Stop,
        ..response
    };
    assert_eq!(replay_events(&empty).len(), 2, "start and finish");
}

#[test]
fn entries_are_fresh_until_their_ttl() {
    let entry = CachedResponse::new(response(), 1_000_000, 60);
    assert!(entry.is_fresh(1_000_000));
    assert!(entry.is_fresh(1_059_999));
    assert!(!entry.is_fresh(1_060_000));
    assert!(
        entry.is_fresh(999_000),
        "another instance's clock runs ahead"
    );
    assert_eq!(entry.age_secs(1_059_999), 59);
    let bytes = entry.encode();
    assert_eq!(CachedResponse::decode(&bytes), Some(entry));
    assert_eq!(CachedResponse::decode(b"{}"), None);
    assert!(storable(&response()));
    let filtered = ChatResponse {
        finish_reason: FinishReason::ContentFilter,
        ..response()
    };
    assert!(!storable(&filtered));
}

/// A request with the text the canonical form has to escape: quotes, controls, non-ASCII, and
/// numbers as written.
fn awkward_request() -> ChatRequest {
    let mut request = request();
    request.messages.push(user(
        "a \"quoted\" line\nthen a tab\t, a bell \u{7}, é and 😀",
    ));
    request.extra =
        Some(r#"{"z": "é\"\n\u0001", "a": {"y": [1, 2.50, -0, 1e3]}, "": null}"#.into());
    request
}

#[test]
fn keys_stay_the_same_across_versions_of_the_code() {
    // Entries already in a store stay readable after an upgrade only while the canonical text and
    // the key of a request do not change: pinned here (computed by the first version).
    assert_eq!(
        canonical_request(&awkward_request()),
        r##"{"extra":"{\"json\":{\"\":null,\"a\":{\"y\":[1,2.5,-0.0,1000.0]},\"z\":\"é\\\"\\n\\u0001\"},\"numbers\":[\"-0\",\"1\",\"1e3\",\"2.50\"]}","max_tokens":100,"messages":[{"content":[{"Text":"What is the weather?"}],"name":null,"role":"User"},{"content":[{"ToolCall":{"arguments":"{\"json\":{\"city\":\"Paris\",\"days\":2},\"numbers\":[\"2\"]}","id":"call_1","name":"weather"}}],"name":null,"role":"Assistant"},{"content":[{"Text":"a \"quoted\" line\nthen a tab\t, a bell \u0007, é and 😀"}],"name":null,"role":"User"}],"model":"fast","parallel_tool_calls":null,"reasoning":null,"response_format":null,"seed":null,"stop":[],"stream":false,"temperature":0.2,"tool_choice":"Auto","tools":[{"description":"Forecast","name":"weather","parameters":"{\"json\":{\"properties\":{\"city\":{\"type\":\"string\"}},\"type\":\"object\"},\"numbers\":[]}","strict":null}],"top_k":null,"top_p":null,"user":null}"##
    );
    assert_eq!(
        key(&awkward_request()),
        "82f8ea12b6f72a18446023b9cecaca29b9b47bd18a3d471ea2ecfa067205c241"
    );
    assert_eq!(
        key(&request()),
        "01ae51e4efaaca0f08b459e1e1378ad545dcef4b1aa3059a9a2c6859df3f7179"
    );
}
