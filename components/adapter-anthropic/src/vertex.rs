//! Kind `vertex-anthropic`: Claude on Google Cloud Vertex AI.
//!
//! The Messages API with three differences (Anthropic's "Claude on Vertex AI" and Google's "Use
//! Claude models" pages):
//! - the model is in the URL, not the body:
//!   `{base_url}/publishers/anthropic/models/{model}:rawPredict`, or `:streamRawPredict` when the
//!   body asks for a stream;
//! - the body carries `"anthropic_version": "vertex-2023-10-16"` instead of the
//!   `anthropic-version` header;
//! - auth is `Authorization: Bearer <OAuth access token>` (`target.api_key`, obtained by the
//!   router from a service account), never `x-api-key`.
//!
//! Token counting is `POST {base_url}/publishers/anthropic/models/count-tokens:rawPredict`, whose
//! body keeps its `model`. Replies, streams and errors are Anthropic's, except that errors raised
//! by Google's front end come in Google's shape (see [`crate::response::error`]).
//!
//! The base URL is built from configured values (`{REGION}-aiplatform.googleapis.com/v1/projects/
//! {PROJECT}/locations/{REGION}`), so before any request it is checked to have exactly that shape
//! (see [`check_base_url`]): a region or project that is no location name or project id, and could
//! so move the host or the path, fails the request instead of reaching a URL.

use apex_adapter_kit::http::{join_url, path_segment, post};
use apex_adapter_kit::invalid;
use apex_adapter_kit::types::{AdapterError, ChatRequest, ErrorKind, HttpRequest, Target};
use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use serde_json::value::RawValue;

/// The adapter kind.
pub const KIND: &str = "vertex-anthropic";

/// The `anthropic_version` Vertex AI requires, sent when the body and the target name none.
pub const VERTEX_VERSION: &str = "vertex-2023-10-16";

/// Build the upstream request for a neutral request: the Messages body, edited for Vertex.
pub fn build(target: &Target, request: &ChatRequest) -> Result<HttpRequest, AdapterError> {
    check_base_url(&target.base_url)?;
    let body = crate::request::body_json(request)?;
    let edited = edit_body(&body, true, version(target)).map_err(invalid)?;
    let url = model_url(target, &request.model, request.stream)?;
    Ok(http_request(target, url, edited.body))
}

/// Forward a client's Anthropic Messages body: `messages` (or an empty path) goes to
/// `rawPredict` / `streamRawPredict`, `messages/count_tokens` to the `count-tokens` endpoint.
pub fn forward(target: &Target, path: &str, body: &[u8]) -> Result<HttpRequest, AdapterError> {
    check_base_url(&target.base_url)?;
    match path.trim_matches('/') {
        "" | "messages" => {
            let edited = edit_body(body, true, version(target)).map_err(invalid)?;
            let model = edited
                .model
                .ok_or_else(|| invalid("the request body has no `model`"))?;
            let url = model_url(target, &model, edited.stream)?;
            Ok(http_request(target, url, edited.body))
        }
        "messages/count_tokens" => {
            // This endpoint reads the model from the body: it stays.
            let edited = edit_body(body, false, version(target)).map_err(invalid)?;
            let url = join_url(
                &target.base_url,
                "publishers/anthropic/models/count-tokens:rawPredict",
            );
            Ok(http_request(target, url, edited.body))
        }
        other => Err(apex_adapter_kit::error(
            ErrorKind::Unsupported,
            format!("Claude on Vertex AI has no endpoint for Anthropic path `{other}`"),
        )),
    }
}

/// Check that `base_url` is `{scheme}://{host}/{version}/projects/{PROJECT}/locations/{REGION}`
/// (one trailing `/` allowed): `http` or `https`, a host (and port) with no user info, a version
/// segment such as `v1` or `v1beta1`, a Google Cloud project id and a location name, and no
/// query, fragment or other segment. The router builds the host from the region as well
/// (`{REGION}-aiplatform.googleapis.com`): a region that passes here cannot have moved it, since
/// each character that could (`/`, `?`, `#`, `@`, `:`, `\`, `.`) is refused in the location.
pub fn check_base_url(base_url: &str) -> Result<(), AdapterError> {
    let config = |what: &str| {
        invalid(format!(
            "the Vertex AI target's base URL {what}; check the provider's `region` and \
             `project` (expected \
             `https://{{REGION}}-aiplatform.googleapis.com/v1/projects/{{PROJECT}}/locations/{{REGION}}`)"
        ))
    };
    let rest = ["https://", "http://"]
        .iter()
        .find_map(|scheme| {
            base_url
                .get(..scheme.len())
                .filter(|s| s.eq_ignore_ascii_case(scheme))
                .map(|_| &base_url[scheme.len()..])
        })
        .ok_or_else(|| config("is not an http(s) URL"))?;
    let (authority, path) = rest
        .find('/')
        .map(|at| rest.split_at(at))
        .ok_or_else(|| config("has no path"))?;
    if !is_authority(authority) {
        return Err(config("has an unusable host"));
    }
    let path = path.strip_suffix('/').unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let ["", version, "projects", project, "locations", region] = segments[..] else {
        return Err(config(
            "has a path other than `/v1/projects/{PROJECT}/locations/{REGION}`",
        ));
    };
    if !is_api_version(version) {
        return Err(config("has no API version such as `v1` before `/projects`"));
    }
    if !is_project(project) {
        return Err(config(
            "names no Google Cloud project id (lowercase letters, digits and `-`)",
        ));
    }
    if !is_label(region) {
        return Err(config(
            "names no location such as `us-east5` or `global` (lowercase letters, digits and `-`)",
        ));
    }
    Ok(())
}

/// `host` or `host:port`: letters, digits, `-` and `.` (or an IPv6 literal in brackets), no user
/// info.
fn is_authority(authority: &str) -> bool {
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && !port.ends_with(']') => (host, Some(port)),
        _ => (authority, None),
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(ip) => {
            !ip.is_empty()
                && ip
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'))
        }
        None => {
            !host.is_empty()
                && host
                    .split('.')
                    .all(|label| is_label(&label.to_ascii_lowercase()))
        }
    };
    port_ok && host_ok
}

/// `v1`, `v1beta1`, `v2alpha`, ...
fn is_api_version(segment: &str) -> bool {
    let Some(rest) = segment.strip_prefix('v') else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0
        && rest[digits..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// A DNS label: 1 to 63 lowercase letters, digits and `-`, no `-` first or last.
fn is_label(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

/// A Google Cloud project id (6 to 30 lowercase letters, digits and `-`, a letter first, no `-`
/// last), optionally scoped by a domain (`example.com:my-project`), or a project number.
fn is_project(project: &str) -> bool {
    let (domain, id) = match project.split_once(':') {
        Some((domain, id)) => (Some(domain), id),
        None => (None, project),
    };
    let domain_ok = domain.is_none_or(|d| d.split('.').all(is_label));
    let number =
        domain.is_none() && (1..=20).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit());
    let id_ok = (6..=30).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && is_label(id);
    domain_ok && (number || id_ok)
}

/// The body's `anthropic_version` when it has none: the target's when it is a Vertex version
/// (the router may pass on a client's first-party `anthropic-version`, which Vertex refuses).
fn version(target: &Target) -> &str {
    target
        .api_version
        .as_deref()
        .filter(|v| v.starts_with("vertex-"))
        .unwrap_or(VERTEX_VERSION)
}

/// `{base_url}/publishers/anthropic/models/{model}:rawPredict` (or `:streamRawPredict`).
fn model_url(target: &Target, model: &str, stream: bool) -> Result<String, AdapterError> {
    if model.is_empty() {
        return Err(invalid("the model name is empty"));
    }
    let method = if stream {
        "streamRawPredict"
    } else {
        "rawPredict"
    };
    Ok(join_url(
        &target.base_url,
        &format!(
            "publishers/anthropic/models/{}:{method}",
            model_segment(model)
        ),
    ))
}

/// The model as one path segment. `@` (legal in a path segment, RFC 3986 `pchar`) stays literal
/// as in Vertex's model IDs (`claude-sonnet-4-5@20250929`); everything that could add a segment,
/// a method suffix (`:`), a query or a fragment is percent-encoded.
fn model_segment(model: &str) -> String {
    // `path_segment` encodes `%` itself as `%25`, so `%40` in its output only ever stands for `@`.
    path_segment(model).replace("%40", "@")
}

fn http_request(target: &Target, url: String, body: Vec<u8>) -> HttpRequest {
    let headers = vec![
        (
            "authorization".to_string(),
            format!("Bearer {}", target.api_key),
        ),
        ("content-type".to_string(), "application/json".to_string()),
    ];
    // `anthropic-beta` travels as a header on Vertex too.
    post(target, url, headers, body)
}

/// A Messages body edited for Vertex, and what the URL needs from it.
#[derive(Debug)]
pub struct VertexBody {
    pub body: Vec<u8>,
    /// The top-level `model`, when there was one.
    pub model: Option<String>,
    /// Whether the top-level `stream` is `true`.
    pub stream: bool,
}

/// `body` (a JSON object) with its top-level `model` member removed (when `remove_model`) and
/// `"anthropic_version": version` added first when it has none. Every other byte is kept: members
/// are located in one scan (values are skipped, not decoded) and the edit is a splice.
pub fn edit_body(body: &[u8], remove_model: bool, version: &str) -> Result<VertexBody, String> {
    let open = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .filter(|at| body[*at] == b'{')
        .ok_or("the request body is not a JSON object")?;
    let Members(members) = serde_json::from_slice::<Members>(body)
        .map_err(|e| format!("the request body is not valid JSON: {e}"))?;

    // Each member's value as a byte range of `body`: the values borrow from it.
    let mut spans = Vec::with_capacity(members.len());
    for (_, raw) in &members {
        let text = raw.get().as_bytes();
        let start = (text.as_ptr() as usize).wrapping_sub(body.as_ptr() as usize);
        let end = start.saturating_add(text.len());
        if body.get(start..end) != Some(text) {
            return Err("could not locate a member of the request body".to_string());
        }
        spans.push((start, end));
    }

    let model_at: Vec<usize> = members
        .iter()
        .enumerate()
        .filter(|(_, (key, _))| key == "model")
        .map(|(i, _)| i)
        .collect();
    if model_at.len() > 1 {
        return Err("the request body has more than one `model`".to_string());
    }
    let model = match model_at.first() {
        Some(&i) => Some(
            serde_json::from_str::<String>(members[i].1.get())
                .map_err(|_| "the request body's `model` is not a string".to_string())?,
        ),
        None => None,
    };
    let stream = members
        .iter()
        .any(|(key, raw)| key == "stream" && raw.get() == "true");
    let has_version = members.iter().any(|(key, _)| key == "anthropic_version");

    let after_brace = open + 1;
    // The bytes to cut: the model member and one comma next to it.
    let cut = match model_at.first() {
        Some(&i) if remove_model => Some(match i {
            0 => match spans.get(1) {
                // First of several: up to and including the comma after it (only whitespace
                // precedes that comma, so the first one found is it).
                Some(&(next_start, _)) => {
                    let (_, end) = spans[0];
                    let comma = body[end..next_start]
                        .iter()
                        .position(|b| *b == b',')
                        .ok_or("malformed request body")?;
                    (after_brace, end + comma + 1)
                }
                None => (after_brace, spans[0].1),
            },
            // After another member: from the end of the previous value (its comma included).
            i => (spans[i - 1].1, spans[i].1),
        }),
        _ => None,
    };
    let remaining = members.len() - usize::from(cut.is_some());

    let mut out = Vec::with_capacity(body.len() + version.len() + 24);
    out.extend_from_slice(&body[..after_brace]);
    if !has_version {
        out.extend_from_slice(b"\"anthropic_version\":");
        serde_json::to_writer(&mut out, version).map_err(|e| e.to_string())?;
        if remaining > 0 {
            out.push(b',');
        }
    }
    match cut {
        Some((start, end)) => {
            out.extend_from_slice(&body[after_brace..start]);
            out.extend_from_slice(&body[end..]);
        }
        None => out.extend_from_slice(&body[after_brace..]),
    }
    Ok(VertexBody {
        body: out,
        model,
        stream,
    })
}

/// The top-level members of a JSON object, values kept as the raw text they borrow from the body.
struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;

        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut members = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value: &'de RawValue = map.next_value()?;
                    members.push((key, value));
                }
                Ok(Members(members))
            }
        }

        deserializer.deserialize_map(MembersVisitor)
    }
}

#[cfg(test)]
mod tests {
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

    fn forward(path: &str, body: &str) -> Result<HttpRequest, AdapterError> {
        Anthropic::forward_request(
            &target(),
            Protocol::AnthropicMessages,
            path,
            body.as_bytes().to_vec(),
        )
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
            let result = Anthropic::forward_request(&target(), protocol, "messages", Vec::new());
            assert_eq!(
                result.map_err(|e| e.kind).err(),
                Some(ErrorKind::Unsupported)
            );
        }
    }

    /// The base URL the router builds for a project and a region (its `vertex_base_url`).
    fn configured(project: &str, region: &str) -> Target {
        let host = if region == "global" {
            "aiplatform.googleapis.com".to_string()
        } else {
            format!("{region}-aiplatform.googleapis.com")
        };
        Target {
            base_url: format!("https://{host}/v1/projects/{project}/locations/{region}"),
            ..target()
        }
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
                let forwarded = Anthropic::forward_request(
                    &target,
                    Protocol::AnthropicMessages,
                    path,
                    br#"{"model":"m","messages":[]}"#.to_vec(),
                );
                assert_eq!(
                    forwarded.map(|h| h.url).map_err(|e| e.kind),
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
}
