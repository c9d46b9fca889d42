//! The status page: `GET /ui`, and `GET /` for a browser (an `Accept` naming `text/html`; every
//! other client still gets Ollama's `Ollama is running`). One self-contained HTML document
//! (`status_page.html`, inline CSS and JS, nothing fetched from elsewhere) that carries no data:
//! its script asks for the admin key (kept in the tab's `sessionStorage`) unless the gateway is
//! open, then reads `GET /stats` with it every few seconds and builds the page from it, text
//! only (`textContent`, never markup from data).
//!
//! The page is served without auth. The one thing it says about the gateway is whether it has
//! keys (`data-auth="open"` or `"key"` on `<body>`, so an open gateway's page does not first
//! fail a request to find out), which any request without a key learns anyway. Its
//! Content-Security-Policy allows only its own inline script and style (by SHA-256), requests to
//! its own origin, no frames around it and no form posts.

use std::sync::OnceLock;

use base64ct::Encoding;
use sha2::{Digest, Sha256};

/// The page as written; [`body`] fills in `data-auth`.
pub const PAGE: &str = include_str!("status_page.html");
/// The attribute [`body`] rewrites for an open gateway.
const AUTH_KEY: &str = "data-auth=\"key\"";
const AUTH_OPEN: &str = "data-auth=\"open\"";

/// Whether a request for `/` comes from a browser that wants a page (its `Accept` names
/// `text/html`); Ollama clients and curl do not.
pub fn wants_html(accept: Option<&str>) -> bool {
    accept.is_some_and(|accept| {
        accept.split(',').any(|range| {
            range
                .split(';')
                .next()
                .is_some_and(|media| media.trim().eq_ignore_ascii_case("text/html"))
        })
    })
}

/// The document: with `open` (the gateway has no keys) the script reads `/stats` without asking
/// for a key.
pub fn body(open: bool) -> Vec<u8> {
    if open {
        PAGE.replacen(AUTH_KEY, AUTH_OPEN, 1).into_bytes()
    } else {
        PAGE.as_bytes().to_vec()
    }
}

/// The response headers of the page.
pub fn headers() -> Vec<(String, String)> {
    [
        ("content-type", "text/html; charset=utf-8"),
        ("content-security-policy", csp()),
        ("cache-control", "no-store"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("vary", "accept"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value.to_string()))
    .collect()
}

/// The Content-Security-Policy: the page's own inline script and style (their hashes), requests
/// to its origin (`/stats`), `data:` images (the empty favicon) and nothing else.
fn csp() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        let hash = |tag| {
            inline(PAGE, tag)
                .map(|text| format!(" 'sha256-{}'", sha256_base64(text)))
                .unwrap_or_default()
        };
        format!(
            "default-src 'none'; script-src{}; style-src{}; connect-src 'self'; img-src data:; \
             base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            hash("script"),
            hash("style"),
        )
    })
}

/// The text inside the first `<tag>…</tag>` of `page` (what a CSP hash covers).
fn inline<'a>(page: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = page.find(&open)? + open.len();
    let end = start + page[start..].find(&format!("</{tag}>"))?;
    Some(&page[start..end])
}

fn sha256_base64(text: &str) -> String {
    base64ct::Base64::encode_string(&Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_get_the_page_other_clients_the_ollama_text() {
        let chrome = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8";
        assert!(wants_html(Some(chrome)));
        assert!(wants_html(Some("TEXT/HTML; charset=utf-8")));
        for other in [
            None,
            Some("*/*"),
            Some("application/json"),
            Some("text/plain"),
        ] {
            assert!(!wants_html(other), "{other:?}");
        }
        assert!(!wants_html(Some("text/htmlx")));
    }

    #[test]
    fn the_page_is_self_contained_and_builds_the_dom_from_text() {
        let page = PAGE.to_ascii_lowercase();
        // Works offline: nothing loaded from another origin, no CDN.
        for remote in [
            "http://",
            "https://",
            "src=\"//",
            "href=\"//",
            "@import",
            "url(",
        ] {
            assert!(!page.contains(remote), "{remote}");
        }
        // One inline script and one inline style; no external script, stylesheet or handler
        // attributes (the CSP would block them).
        assert_eq!(page.matches("<script").count(), 1);
        assert_eq!(page.matches("<style").count(), 1);
        assert!(!page.contains("<script src"));
        assert!(!page.contains("<link rel=\"stylesheet\""));
        assert!(!page.contains(" onclick=") && !page.contains(" onload="));
        // Data goes into the DOM as text only.
        for sink in [
            "innerhtml",
            "outerhtml",
            "insertadjacenthtml",
            "document.write",
            "eval(",
        ] {
            assert!(!page.contains(sink), "{sink}");
        }
        assert!(page.contains("textcontent"));
        // The key stays in the tab, and is sent only as a bearer token to /stats.
        assert!(page.contains("sessionstorage") && !page.contains("localstorage"));
        assert!(page.contains("authorization") && page.contains("'/stats'"));
    }

    #[test]
    fn the_csp_allows_exactly_the_inline_script_and_style() {
        let script = inline(PAGE, "script").unwrap();
        let style = inline(PAGE, "style").unwrap();
        assert!(script.contains("sessionStorage") && style.contains("font"));
        let csp = headers()
            .into_iter()
            .find(|(name, _)| name == "content-security-policy")
            .map(|(_, value)| value)
            .unwrap();
        assert!(csp.contains(&format!("script-src 'sha256-{}';", sha256_base64(script))));
        assert!(csp.contains(&format!("style-src 'sha256-{}';", sha256_base64(style))));
        assert!(csp.starts_with("default-src 'none'; "));
        assert!(csp.contains("connect-src 'self'") && csp.contains("frame-ancestors 'none'"));
        // A known digest: the hash is SHA-256 in standard base64, as CSP wants it.
        assert_eq!(
            sha256_base64("abc"),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
        assert_eq!(inline("<p><script>x</script>", "script"), Some("x"));
        assert_eq!(inline("<script>x", "script"), None);
    }

    #[test]
    fn an_open_gateway_page_reads_stats_without_a_key() {
        let keyed = String::from_utf8(body(false)).unwrap();
        let open = String::from_utf8(body(true)).unwrap();
        assert!(keyed.contains("<body data-auth=\"key\">"));
        assert!(open.contains("<body data-auth=\"open\">"));
        assert_eq!(open.replace(AUTH_OPEN, AUTH_KEY), keyed);
        // The hashed parts are the same in both.
        assert_eq!(inline(&open, "script"), inline(&keyed, "script"));
    }
}
