//! CORS: allowed origins from config, preflight answers, headers for actual responses.

/// The `Access-Control-Allow-Origin` value for a request from `origin`, if it is allowed.
pub fn allow_origin(allowed: &[String], origin: Option<&str>) -> Option<String> {
    let origin = origin?;
    if allowed.iter().any(|a| a == "*") {
        return Some(origin.to_string());
    }
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(origin))
        .map(|_| origin.to_string())
}

/// Headers answering a preflight from an allowed origin.
pub fn preflight_headers(allow: &str, requested_headers: Option<&str>) -> Vec<(String, String)> {
    vec![
        ("access-control-allow-origin".into(), allow.to_string()),
        (
            "access-control-allow-methods".into(),
            "GET, POST, DELETE, OPTIONS".into(),
        ),
        (
            "access-control-allow-headers".into(),
            requested_headers
                .unwrap_or(
                    "authorization, content-type, x-api-key, anthropic-version, anthropic-beta",
                )
                .to_string(),
        ),
        ("access-control-max-age".into(), "86400".into()),
        ("vary".into(), "Origin".into()),
    ]
}

/// Headers added to an actual response for an allowed origin.
pub fn response_headers(allow: &str) -> Vec<(String, String)> {
    vec![
        ("access-control-allow-origin".into(), allow.to_string()),
        (
            "access-control-expose-headers".into(),
            "x-request-id, retry-after".into(),
        ),
        ("vary".into(), "Origin".into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_configured_origins_are_allowed() {
        let allowed = vec!["https://app.example".to_string()];
        assert_eq!(
            allow_origin(&allowed, Some("https://app.example")).as_deref(),
            Some("https://app.example")
        );
        assert_eq!(allow_origin(&allowed, Some("https://evil.example")), None);
        assert_eq!(allow_origin(&[], Some("https://app.example")), None);
        assert_eq!(
            allow_origin(&["*".to_string()], Some("https://x")).as_deref(),
            Some("https://x")
        );
        assert_eq!(allow_origin(&allowed, None), None);
    }
}
