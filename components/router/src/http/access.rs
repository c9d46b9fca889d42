//! Who may use the gateway beyond its keys:
//!
//! - An **open gateway** (no `api_keys`) is meant for one machine. A web page the user visits must
//!   not be able to use it: not by DNS rebinding (a foreign name resolving to 127.0.0.1, seen in the
//!   `Host`), not by a cross-site request (a foreign `Origin`), not by a "simple" browser POST that
//!   needs no preflight (`text/plain`, forms). So it answers requests addressed to a loopback name
//!   or a configured `allowed_hosts` entry, from no origin, a loopback origin or a `cors_origins`
//!   origin, and takes only JSON bodies from browsers. curl and SDKs send no `Origin` and are
//!   unaffected.
//! - **Admin endpoints** (`/stats`, `/metrics`) show every tenant's traffic: only `admin_keys` may
//!   read them when the gateway has keys.

use crate::http::error::ApiError;

/// The host name of an authority (`Host` header): lowercased, without port or IPv6 brackets.
pub fn host_name(authority: &str) -> String {
    let authority = authority.trim();
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        authority.split(':').next().unwrap_or(authority)
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// Whether a host name is this machine: `localhost` (and `*.localhost`), `127.0.0.0/8`, `::1`.
pub fn is_loopback(host: &str) -> bool {
    if host == "localhost" || host.ends_with(".localhost") || host == "::1" {
        return true;
    }
    let octets: Vec<&str> = host.split('.').collect();
    octets.len() == 4
        && octets[0] == "127"
        && octets
            .iter()
            .all(|o| !o.is_empty() && o.len() <= 3 && o.parse::<u8>().is_ok())
}

/// Whether `origin` (`scheme://host[:port]`) is a page served from this machine.
fn is_loopback_origin(origin: &str) -> bool {
    origin
        .split_once("://")
        .is_some_and(|(_, authority)| is_loopback(&host_name(authority)))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    apex_adapter_kit::http::header(headers, name)
}

/// Whether a body of this content type could be sent by a browser without a CORS preflight.
fn is_simple_content_type(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return true;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "" | "text/plain" | "application/x-www-form-urlencoded" | "multipart/form-data"
    )
}

/// What an open gateway (no keys) answers: `Err` with a 403/415 for a request a web page could
/// have made on the user's behalf. `authority` is the request's `Host`.
pub fn check_open_gateway(
    authority: Option<&str>,
    headers: &[(String, String)],
    has_body: bool,
    allowed_hosts: &[String],
    cors_origins: &[String],
) -> Result<(), ApiError> {
    if let Some(authority) = authority {
        let host = host_name(authority);
        let allowed = is_loopback(&host)
            || allowed_hosts
                .iter()
                .any(|a| a == "*" || host_name(a) == host);
        if !allowed {
            return Err(ApiError::new(
                403,
                "permission_error",
                format!(
                    "This gateway has no API keys, so it only answers requests addressed to \
                     localhost (this one was addressed to `{host}`). Configure gateway.api_keys, \
                     or list the name in gateway.allowed_hosts."
                ),
            ));
        }
    }
    let origin = header(headers, "origin").filter(|o| !o.is_empty() && *o != "null");
    if let Some(origin) = origin
        && !is_loopback_origin(origin)
        && crate::http::cors::allow_origin(cors_origins, Some(origin)).is_none()
    {
        return Err(ApiError::new(
            403,
            "permission_error",
            "This gateway has no API keys and does not answer web pages from other origins. \
             Configure gateway.api_keys, or list the origin in gateway.cors_origins.",
        ));
    }
    let from_browser =
        header(headers, "origin").is_some() || header(headers, "sec-fetch-site").is_some();
    if from_browser && has_body && is_simple_content_type(header(headers, "content-type")) {
        return Err(ApiError::new(
            415,
            "invalid_request_error",
            "Send the body as JSON (content-type: application/json).",
        ));
    }
    Ok(())
}

/// Whether the key named `caller` may read admin endpoints. `admin_keys` names them; when it is
/// not set, a gateway with a single key treats that key as the operator's. An open gateway
/// (`keys == 0`) answers everyone that passed [`check_open_gateway`].
pub fn is_admin(caller: &str, admin_keys: Option<&[String]>, keys: usize) -> bool {
    match admin_keys {
        _ if keys == 0 => true,
        Some(admins) => admins.iter().any(|a| a == caller),
        None => keys == 1,
    }
}

/// The answer for a key that may not read admin endpoints.
pub fn not_admin() -> ApiError {
    ApiError::new(
        403,
        "permission_error",
        "This key may not read gateway-wide statistics; use a key listed in gateway.admin_keys.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn host_names_and_loopback() {
        assert_eq!(host_name("LocalHost:8787"), "localhost");
        assert_eq!(host_name("[::1]:8787"), "::1");
        assert_eq!(host_name("example.com."), "example.com");
        for host in [
            "localhost",
            "app.localhost",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "evil.example",
            "localhost.evil.example",
            "127.0.0.1.evil.example",
            "128.0.0.1",
            "127.0.0.256",
            "0.0.0.0",
            "",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn an_open_gateway_answers_only_local_names() {
        let none = headers(&[("content-type", "application/json")]);
        let ok = |authority| check_open_gateway(Some(authority), &none, true, &[], &[]);
        assert!(ok("127.0.0.1:8787").is_ok());
        assert!(ok("localhost:8787").is_ok());
        assert!(ok("[::1]:8787").is_ok());
        // DNS rebinding: a foreign name that resolved to this machine.
        let error = ok("attacker.example:8787").err();
        assert_eq!(error.as_ref().map(|e| e.status), Some(403));
        assert!(
            error
                .map(|e| e.message)
                .is_some_and(|m| m.contains("allowed_hosts"))
        );
        let allowed = ["gateway.internal".to_string()];
        assert!(
            check_open_gateway(Some("Gateway.Internal:80"), &none, true, &allowed, &[]).is_ok()
        );
        assert!(check_open_gateway(Some("x.y"), &none, true, &["*".to_string()], &[]).is_ok());
    }

    #[test]
    fn an_open_gateway_refuses_foreign_pages() {
        let check = |pairs: &[(&str, &str)], has_body: bool| {
            check_open_gateway(
                Some("127.0.0.1:8787"),
                &headers(pairs),
                has_body,
                &[],
                &["https://app.example".to_string()],
            )
            .map_err(|e| e.status)
        };
        // curl, SDKs: no Origin; curl -d sends a form content type and still works.
        assert_eq!(
            check(
                &[("content-type", "application/x-www-form-urlencoded")],
                true
            ),
            Ok(())
        );
        assert_eq!(check(&[], true), Ok(()));
        // A page elsewhere, even with JSON (after a preflight it would be refused by CORS too).
        assert_eq!(
            check(
                &[
                    ("origin", "https://evil.example"),
                    ("content-type", "application/json")
                ],
                true
            ),
            Err(403)
        );
        // A simple cross-site POST (no preflight): text/plain from a page.
        assert_eq!(
            check(
                &[
                    ("origin", "https://evil.example"),
                    ("content-type", "text/plain")
                ],
                true
            ),
            Err(403)
        );
        // Local pages and configured origins may call it, with JSON.
        assert_eq!(
            check(
                &[
                    ("origin", "http://localhost:3000"),
                    ("content-type", "application/json")
                ],
                true
            ),
            Ok(())
        );
        assert_eq!(
            check(
                &[
                    ("origin", "https://app.example"),
                    ("content-type", "application/json; charset=utf-8")
                ],
                true
            ),
            Ok(())
        );
        assert_eq!(
            check(
                &[
                    ("origin", "http://localhost:3000"),
                    ("content-type", "text/plain;charset=UTF-8")
                ],
                true
            ),
            Err(415)
        );
        assert_eq!(
            check(&[("sec-fetch-site", "same-origin")], true),
            Err(415),
            "a browser form post without a content type"
        );
        assert_eq!(check(&[("origin", "http://127.0.0.1:8787")], false), Ok(()));
    }

    #[test]
    fn admin_scope() {
        let admins = ["ops".to_string()];
        assert!(is_admin("ops", Some(&admins), 3));
        assert!(!is_admin("alice", Some(&admins), 3));
        assert!(
            !is_admin("alice", None, 3),
            "no admin list: tenants see no stats"
        );
        assert!(
            is_admin("default", None, 1),
            "a single key is the operator's"
        );
        assert!(!is_admin("default", Some(&admins), 1));
        assert!(is_admin("anonymous", None, 0), "an open gateway");
    }
}
