//! Just enough URL handling for the router: split absolute URLs, compare origins.

/// An absolute `http(s)` URL split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url<'a> {
    pub scheme: &'a str,
    pub authority: &'a str,
    /// Path and query, starting with `/`.
    pub path_and_query: &'a str,
}

pub fn parse(url: &str) -> Option<Url<'_>> {
    let (scheme, rest) = url.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let path = &rest[end..];
    let path = path.split('#').next().unwrap_or("");
    Some(Url {
        scheme,
        authority,
        path_and_query: if path.is_empty() { "/" } else { path },
    })
}

/// A URL's origin as its scheme, host and port (the scheme's default port when none is written),
/// borrowed from the URL (compared ignoring ASCII case).
fn origin_parts(url: &str) -> Option<(&str, &str, &str)> {
    let url = parse(url)?;
    let authority = url.authority;
    match authority.rsplit_once(':') {
        Some((host, port))
            if port.chars().all(|c| c.is_ascii_digit()) && !authority.ends_with(']') =>
        {
            Some((url.scheme, host, port))
        }
        _ => {
            let https = url.scheme.eq_ignore_ascii_case("https");
            Some((url.scheme, authority, if https { "443" } else { "80" }))
        }
    }
}

/// `scheme://host:port`, lowercased, with the default port made explicit.
pub fn origin(url: &str) -> Option<String> {
    let (scheme, host, port) = origin_parts(url)?;
    Some(format!(
        "{}://{}:{port}",
        scheme.to_ascii_lowercase(),
        host.to_ascii_lowercase()
    ))
}

/// Whether `url` stays on the origin of `base` (checked on every call to a provider, so without
/// building either origin).
pub fn same_origin(url: &str, base: &str) -> bool {
    match (origin_parts(url), origin_parts(base)) {
        (Some((scheme, host, port)), Some((base_scheme, base_host, base_port))) => {
            scheme.eq_ignore_ascii_case(base_scheme)
                && host.eq_ignore_ascii_case(base_host)
                && port == base_port
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert!(same_origin(
            "https://api.openai.com/v1/chat/completions",
            "https://API.openai.com:443/v1"
        ));
        assert!(!same_origin(
            "https://evil.example/v1",
            "https://api.openai.com/v1"
        ));
        assert!(!same_origin(
            "http://api.openai.com/v1",
            "https://api.openai.com/v1"
        ));
        assert!(!same_origin(
            "https://api.openai.com.evil.example/v1",
            "https://api.openai.com/v1"
        ));
        assert!(!same_origin(
            "https://user@evil.example/",
            "https://evil.example/"
        ));
        assert!(same_origin(
            "http://127.0.0.1:8080/x?y",
            "http://127.0.0.1:8080"
        ));
        assert!(!same_origin(
            "http://127.0.0.1:8081/x",
            "http://127.0.0.1:8080"
        ));
        // Default ports written out or not, IPv6 hosts with and without a port.
        assert!(same_origin("HTTP://h:80/x", "http://H"));
        assert!(!same_origin("http://h:443/x", "https://h"));
        assert!(same_origin("http://[::1]/x", "http://[::1]:80/"));
        assert!(!same_origin("http://[::1]:8081/x", "http://[::1]:8080"));
        assert!(!same_origin("http://h:/x", "http://h"));
        assert!(!same_origin("not a url", "not a url"));
    }

    #[test]
    fn origins_are_written_out() {
        assert_eq!(
            origin("HTTPS://API.example/v1").as_deref(),
            Some("https://api.example:443")
        );
        assert_eq!(
            origin("http://[::1]:8080/x").as_deref(),
            Some("http://[::1]:8080")
        );
        assert_eq!(origin("ftp://h/"), None);
    }

    #[test]
    fn parts() {
        let url = parse("http://h:1/a/b?c=d").map(|u| (u.scheme, u.authority, u.path_and_query));
        assert_eq!(url, Some(("http", "h:1", "/a/b?c=d")));
        assert_eq!(parse("http://h").map(|u| u.path_and_query), Some("/"));
        assert!(parse("ftp://h/").is_none());
    }
}
