//! Vertex AI requests: URLs, auth, body edits, and the base-URL check.

use super::*;
use apex_adapter_kit::types::Protocol;
use apex_adapter_kit::{Adapter, types::Message};

use crate::Anthropic;

const BASE: &str =
    "https://us-east5-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-east5";

fn target() -> Target {
    Target {
        kind: KIND.to_string(),
        profile: String::new(),
        base_url: format!("{BASE}/"),
        api_key: "ya29.token".to_string(),
        api_version: None,
        headers: vec![(
            "anthropic-beta".to_string(),
            "context-1m-2025-08-07".to_string(),
        )],
    }
}

/// What the router does with a client's body: reads its model and `stream`, asks the adapter how
/// to forward it, and makes the edits.
fn forward(path: &str, body: &str) -> Result<HttpRequest, AdapterError> {
    let read: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let field = |name: &str| read.as_ref().and_then(|v| v.get(name)).cloned();
    let facts = ForwardedBody {
        model: field("model").and_then(|m| m.as_str().map(str::to_string)),
        stream: field("stream") == Some(serde_json::Value::Bool(true)),
    };
    let forwarding =
        Anthropic::forward_request(&target(), Protocol::AnthropicMessages, path, &facts)?;
    body_edit::attach(forwarding, body.as_bytes(), None).map_err(invalid)
}

fn text(http: &HttpRequest) -> &str {
    std::str::from_utf8(&http.body).unwrap()
}

#[test]
fn forwarded_bodies_keep_every_byte_but_the_model() -> Result<(), AdapterError> {
    // Model first, odd spacing, escapes, a nested `model`, numbers kept as written.
    let http = forward(
        "messages",
        r#"  {"model" : "claude-sonnet-4-5@20250929" ,  "max_tokens": 5, "messages": [{"role":"user","content":"h\u00e9", "model": "inner"}], "x_new": {"a": [1.50, 2e3]}}
"#,
    )?;
    assert_eq!(
        text(&http),
        r#"  {"anthropic_version":"vertex-2023-10-16",  "max_tokens": 5, "messages": [{"role":"user","content":"h\u00e9", "model": "inner"}], "x_new": {"a": [1.50, 2e3]}}
"#
    );
    assert_eq!(
        http.url,
        format!("{BASE}/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict")
    );

    // Model in the middle, stream on.
    let http = forward(
        "",
        r#"{"max_tokens":5,"model":"claude-haiku-4-5@20251001","stream":true,"messages":[]}"#,
    )?;
    assert_eq!(
        text(&http),
        r#"{"anthropic_version":"vertex-2023-10-16","max_tokens":5,"stream":true,"messages":[]}"#
    );
    assert!(
        http.url
            .ends_with("claude-haiku-4-5@20251001:streamRawPredict")
    );

    // Model last; the client's own anthropic_version wins; `stream: false` is not a stream.
    let http = forward(
        "messages",
        r#"{"anthropic_version":"vertex-2099-01-01", "stream": false, "model":"m"}"#,
    )?;
    assert_eq!(
        text(&http),
        r#"{"anthropic_version":"vertex-2099-01-01", "stream": false}"#
    );
    assert!(http.url.ends_with("/models/m:rawPredict"));

    // Model alone.
    let http = forward("messages", r#"{ "model": "m" }"#)?;
    assert_eq!(text(&http), r#"{"anthropic_version":"vertex-2023-10-16" }"#);
    Ok(())
}

#[test]
fn auth_is_a_bearer_token_and_beta_headers_follow() -> Result<(), AdapterError> {
    let http = forward("messages", r#"{"model":"m","messages":[]}"#)?;
    let names: Vec<&str> = http.headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["authorization", "content-type", "anthropic-beta"]);
    assert_eq!(http.headers[0].1, "Bearer ya29.token");
    assert!(
        !http
            .headers
            .iter()
            .any(|(k, _)| k == "x-api-key" || k == "anthropic-version")
    );
    Ok(())
}

#[test]
fn count_tokens_keeps_the_model_in_the_body() -> Result<(), AdapterError> {
    let http = forward(
        "messages/count_tokens",
        r#"{"model": "claude-sonnet-4-5@20250929", "messages": []}"#,
    )?;
    assert_eq!(
        http.url,
        format!("{BASE}/publishers/anthropic/models/count-tokens:rawPredict")
    );
    assert_eq!(
        text(&http),
        r#"{"anthropic_version":"vertex-2023-10-16","model": "claude-sonnet-4-5@20250929", "messages": []}"#
    );
    Ok(())
}

#[test]
fn bad_bodies_and_paths_are_refused() {
    let kind = |path: &str, body: &str| forward(path, body).map_err(|e| e.kind).err();
    for body in [
        "[1]",
        "{",
        r#"{"model": 1}"#,
        r#"{"model": "a", "model": "b"}"#,
        r#"{"messages": []}"#,
        r#"{"model": ""}"#,
        r#"{"model": "m"} x"#,
    ] {
        assert_eq!(
            kind("messages", body),
            Some(ErrorKind::InvalidRequest),
            "{body}"
        );
    }
    assert_eq!(
        kind("messages/batches", r#"{"model":"m"}"#),
        Some(ErrorKind::Unsupported)
    );
    for protocol in [Protocol::OpenaiChat, Protocol::OpenaiResponses] {
        let facts = ForwardedBody {
            model: Some("m".to_string()),
            stream: false,
        };
        let result = Anthropic::forward_request(&target(), protocol, "messages", &facts);
        assert_eq!(
            result.map_err(|e| e.kind).err(),
            Some(ErrorKind::Unsupported)
        );
    }
}

/// The base URL a provider configured with a project and a region gets ([`base_url`]).
fn configured(project: &str, region: &str) -> Target {
    Target {
        base_url: base_url::base_url(project, region),
        ..target()
    }
}

#[test]
fn default_base_urls_come_from_the_region_and_the_project() {
    let settings = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        default_base_url(
            &settings(&[("region", "us-east5"), ("project", "p1")]),
            None
        ),
        Ok("https://us-east5-aiplatform.googleapis.com/v1/projects/p1/locations/us-east5".into())
    );
    assert_eq!(
        default_base_url(&settings(&[("region", "global"), ("project", "p1")]), None),
        Ok("https://aiplatform.googleapis.com/v1/projects/p1/locations/global".into())
    );
    let problem = default_base_url(&settings(&[("project", "p1")]), None).unwrap_err();
    assert_eq!(problem.setting, "region");
    assert_eq!(
        problem.problem,
        "is required (e.g. \"us-east5\" or \"global\")"
    );
    let problem = default_base_url(&settings(&[("region", "us")]), Some("{}")).unwrap_err();
    assert_eq!(problem.setting, "project");
    assert_eq!(problem.problem, "is required (the key file names none)");
}

#[test]
fn regions_and_projects_that_could_move_the_url_are_refused() {
    let bad_regions = [
        "evil.example#",
        "evil.example/",
        "evil.example?",
        "x@evil.example",
        "evil.example:443",
        "evil.example\\",
        "evil.example/v1/projects/my-proj/locations/us-east5",
        "us-east5/../..",
        "us-east5%2F..",
        "us east5",
        "US-EAST5",
        "-us",
        "",
    ];
    let bad_projects = [
        "p/../../x",
        "my-proj/locations/us-east5/x",
        "my-proj?alt=media",
        "my-proj#",
        "..",
        "my-proj%2F..",
        "My-Proj",
        "1-proj-starting-with-a-digit",
        "proj-",
        "short",
        "",
    ];
    let targets = bad_regions
        .iter()
        .map(|region| configured("my-proj", region))
        .chain(
            bad_projects
                .iter()
                .map(|project| configured(project, "us-east5")),
        );
    for target in targets {
        let request = ChatRequest::new("m", Vec::<Message>::new());
        let built = Anthropic::build_request(&target, &request);
        assert_eq!(
            built.map(|h| h.url).map_err(|e| e.kind),
            Err(ErrorKind::InvalidRequest),
            "{}",
            target.base_url
        );
        for path in ["messages", "messages/count_tokens"] {
            let facts = ForwardedBody {
                model: Some("m".to_string()),
                stream: false,
            };
            let forwarded =
                Anthropic::forward_request(&target, Protocol::AnthropicMessages, path, &facts);
            assert_eq!(
                forwarded.map(|f| f.request.url).map_err(|e| e.kind),
                Err(ErrorKind::InvalidRequest),
                "{} {path}",
                target.base_url
            );
        }
    }
}

#[test]
fn the_refusal_names_the_settings_not_their_values() {
    let request = ChatRequest::new("m", Vec::<Message>::new());
    let error = Anthropic::build_request(&configured("my-proj", "US-EAST5"), &request)
        .map(|h| h.url)
        .unwrap_err();
    assert_eq!(
        error.message,
        "the Vertex AI target's base URL names no location such as `us-east5` or `global` \
         (lowercase letters, digits and `-`); check the provider's `region` and `project` \
         (expected \
         `https://{REGION}-aiplatform.googleapis.com/v1/projects/{PROJECT}/locations/{REGION}`)"
    );
}

#[test]
fn usual_regions_and_projects_are_accepted() -> Result<(), AdapterError> {
    let request = ChatRequest::new("m", Vec::<Message>::new());
    for (project, region) in [
        ("my-proj", "us-east5"),
        ("apex-test-project", "global"),
        ("my-project-123456", "europe-west1"),
        ("example.com:my-project", "us"),
        ("123456789012", "asia-southeast1"),
    ] {
        let target = configured(project, region);
        let http = Anthropic::build_request(&target, &request)?;
        assert_eq!(
            http.url,
            format!(
                "{}/publishers/anthropic/models/m:rawPredict",
                target.base_url
            )
        );
    }
    for base_url in [
        format!("{BASE}/"),
        "http://vertex.test/v1/projects/apex-test-project/locations/us-east5".to_string(),
        "http://127.0.0.1:8080/v1beta1/projects/my-proj/locations/global".to_string(),
        "HTTPS://US-EAST5-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-east5"
            .to_string(),
        "http://[::1]:8080/v1/projects/my-proj/locations/us-east5".to_string(),
    ] {
        assert_eq!(check_base_url(&base_url), Ok(()), "{base_url}");
    }
    for base_url in [
        "ftp://h/v1/projects/my-proj/locations/us-east5",
        "https://h",
        "https://user@h/v1/projects/my-proj/locations/us-east5",
        "https://h:/v1/projects/my-proj/locations/us-east5",
        "https://h/v1/projects/my-proj/locations/us-east5?x=1",
        "https://h/v1/projects/my-proj/locations/us-east5#x",
        "https://h/v1/projects/my-proj/locations/us-east5//",
        "https://h/proxy/v1/projects/my-proj/locations/us-east5",
        "https://h/x/projects/my-proj/locations/us-east5",
        "https://h/v1/projects/my-proj/regions/us-east5",
    ] {
        assert_eq!(
            check_base_url(base_url).map_err(|e| e.kind),
            Err(ErrorKind::InvalidRequest),
            "{base_url}"
        );
    }
    Ok(())
}

#[test]
fn model_names_cannot_escape_their_segment() -> Result<(), AdapterError> {
    let http = forward("messages", r#"{"model":"../x:streamRawPredict?a=b#"}"#)?;
    assert_eq!(
        http.url,
        format!(
            "{BASE}/publishers/anthropic/models/..%2Fx%3AstreamRawPredict%3Fa%3Db%23:rawPredict"
        )
    );
    assert_eq!(model_segment("a%40b@c"), "a%2540b@c");
    Ok(())
}

#[test]
fn a_vertex_api_version_is_used_and_first_party_ones_ignored() -> Result<(), AdapterError> {
    let mut target = target();
    target.api_version = Some("2023-06-01".to_string());
    let request = ChatRequest::new("m", Vec::<Message>::new());
    let body: serde_json::Value =
        serde_json::from_slice(&Anthropic::build_request(&target, &request)?.body)
            .map_err(invalid)?;
    assert_eq!(body["anthropic_version"], VERTEX_VERSION);
    assert!(body.get("model").is_none());
    target.api_version = Some("vertex-2099-01-01".to_string());
    let body: serde_json::Value =
        serde_json::from_slice(&Anthropic::build_request(&target, &request)?.body)
            .map_err(invalid)?;
    assert_eq!(body["anthropic_version"], "vertex-2099-01-01");
    Ok(())
}

#[test]
fn extras_cannot_put_a_model_back() -> Result<(), AdapterError> {
    let mut request = ChatRequest::new("m", Vec::<Message>::new());
    request.extra = Some(r#"{"model":"other","anthropic_version":"vertex-x"}"#.to_string());
    let http = Anthropic::build_request(&target(), &request)?;
    let body: serde_json::Value = serde_json::from_slice(&http.body).map_err(invalid)?;
    assert!(body.get("model").is_none(), "{body}");
    // An extra `anthropic_version` is the client's explicit choice.
    assert_eq!(body["anthropic_version"], "vertex-x");
    assert!(http.url.ends_with("/models/m:rawPredict"));
    Ok(())
}
