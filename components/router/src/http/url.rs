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

/// `scheme://host:port`, lowercased, with the default port made explicit.
pub fn origin(url: &str) -> Option<String> {
    let url = parse(url)?;
    let scheme = url.scheme.to_ascii_lowercase();
    let authority = url.authority.to_ascii_lowercase();
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
        && !authority.ends_with(']');
    let authority = if has_port {
        authority
    } else {
        format!("{authority}:{}", if scheme == "https" { 443 } else { 80 })
    };
    Some(format!("{scheme}://{authority}"))
}

/// Whether `url` stays on the origin of `base`.
pub fn same_origin(url: &str, base: &str) -> bool {
    matches!((origin(url), origin(base)), (Some(a), Some(b)) if a == b)
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
    }

    #[test]
    fn parts() {
        let url = parse("http://h:1/a/b?c=d").map(|u| (u.scheme, u.authority, u.path_and_query));
        assert_eq!(url, Some(("http", "h:1", "/a/b?c=d")));
        assert_eq!(parse("http://h").map(|u| u.path_and_query), Some("/"));
        assert!(parse("ftp://h/").is_none());
    }
}
