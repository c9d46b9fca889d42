//! `/v1/responses/{id}[/input_items|/cancel]`: the request read strictly, before anything is looked
//! up or sent anywhere.
//!
//! A natively made response is reached at its provider with the gateway's upstream key, so what goes
//! there is rebuilt from the parsed parts only: the id as one path segment, a fixed sub-resource and
//! method, and the documented query keys. A client can never steer that key at another path of the
//! provider (`{id}/../../files`, `%2e%2e`, extra segments) or add parameters the endpoint does not
//! document.

use apex_adapter_kit::http::path_segment;

use crate::http::error::ApiError;

/// What a request on one stored response asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `GET /v1/responses/{id}`
    Retrieve,
    /// `DELETE /v1/responses/{id}`
    Delete,
    /// `GET /v1/responses/{id}/input_items`
    InputItems,
    /// `POST /v1/responses/{id}/cancel`
    Cancel,
}

impl Action {
    /// The HTTP method this action is sent with.
    pub fn method(self) -> &'static str {
        match self {
            Action::Retrieve | Action::InputItems => "GET",
            Action::Delete => "DELETE",
            Action::Cancel => "POST",
        }
    }

    /// The path below `responses/{id}`.
    fn suffix(self) -> &'static str {
        match self {
            Action::Retrieve | Action::Delete => "",
            Action::InputItems => "/input_items",
            Action::Cancel => "/cancel",
        }
    }

    /// The query keys OpenAI documents for this endpoint (the only ones forwarded).
    fn query_keys(self) -> &'static [&'static str] {
        match self {
            Action::Retrieve => &[
                "include",
                "include[]",
                "include_obfuscation",
                "starting_after",
                "stream",
            ],
            Action::InputItems => &["after", "before", "include", "include[]", "limit", "order"],
            Action::Delete | Action::Cancel => &[],
        }
    }
}

/// The longest response id accepted (OpenAI's are ~55 characters).
const MAX_ID_LEN: usize = 128;

/// One request on a stored response, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource<'a> {
    pub id: &'a str,
    pub action: Action,
}

/// Reads `rest` (the path after `/v1/responses/`) with `method`. An id is one segment of letters,
/// digits, `_` and `-` (what OpenAI and Apex hand out); anything else, or an unknown sub-path, is
/// a 404; a known path with the wrong method is a 405.
pub fn parse<'a>(method: &str, rest: &'a str) -> Result<Resource<'a>, ApiError> {
    let (id, sub) = match rest.split_once('/') {
        // `{id}/` names no resource.
        Some((id, sub)) if !sub.is_empty() => (id, sub),
        Some(_) => ("", ""),
        None => (rest, ""),
    };
    let id_ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let not_found = || ApiError::not_found(format!("No route for /v1/responses/{rest}."));
    if !id_ok {
        return Err(not_found());
    }
    let action = match (sub, method) {
        ("", "GET") => Action::Retrieve,
        ("", "DELETE") => Action::Delete,
        ("input_items", "GET") => Action::InputItems,
        ("cancel", "POST") => Action::Cancel,
        ("" | "input_items" | "cancel", _) => return Err(ApiError::method_not_allowed()),
        _ => return Err(not_found()),
    };
    Ok(Resource { id, action })
}

impl Resource<'_> {
    /// The path (relative to the provider's API root) to send this request to: `responses/{id}`,
    /// the action's suffix, and of `query` only the documented keys, each key and value decoded
    /// and encoded again.
    pub fn provider_path(&self, query: &str) -> String {
        let mut path = format!(
            "responses/{}{}",
            path_segment(self.id),
            self.action.suffix()
        );
        let allowed = self.action.query_keys();
        let mut separator = '?';
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = percent_decode(key);
            if !allowed.contains(&key.as_str()) {
                continue;
            }
            path.push(separator);
            path.push_str(&path_segment(&key));
            path.push('=');
            path.push_str(&path_segment(&percent_decode(value)));
            separator = '&';
        }
        path
    }
}

/// `text` with `%XX` sequences decoded and `+` read as a space (form encoding); invalid sequences
/// stay as they are, and bytes that are not UTF-8 become U+FFFD.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push((high * 16 + low) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_one_plain_segment() {
        assert_eq!(
            parse("GET", "resp_abc-1"),
            Ok(Resource {
                id: "resp_abc-1",
                action: Action::Retrieve
            })
        );
        for rest in [
            "resp_1/../../files",
            "resp_1/..%2f..%2ffiles",
            "%2e%2e",
            "..",
            "resp_1/input_items/../../../files",
            "resp_1/input_items/x",
            "resp_1/",
            "",
            "resp_1?x",
            "resp.1",
        ] {
            let error = parse("GET", rest).err();
            assert_eq!(error.map(|e| e.status), Some(404), "{rest}");
        }
        let long = "r".repeat(MAX_ID_LEN + 1);
        assert!(parse("GET", &long).is_err());
    }

    #[test]
    fn each_sub_resource_has_its_method() {
        let action = |method, rest| parse(method, rest).map(|r| r.action);
        assert_eq!(action("DELETE", "resp_1"), Ok(Action::Delete));
        assert_eq!(action("GET", "resp_1/input_items"), Ok(Action::InputItems));
        assert_eq!(action("POST", "resp_1/cancel"), Ok(Action::Cancel));
        for (method, rest) in [
            ("POST", "resp_1"),
            ("DELETE", "resp_1/input_items"),
            ("GET", "resp_1/cancel"),
            ("DELETE", "resp_1/cancel"),
        ] {
            let error = parse(method, rest).err();
            assert_eq!(error.map(|e| e.status), Some(405), "{method} {rest}");
        }
    }

    #[test]
    fn the_provider_path_keeps_only_documented_query_keys() {
        let path = |method, rest, query| {
            parse(method, rest)
                .map(|r| r.provider_path(query))
                .unwrap_or_default()
        };
        assert_eq!(path("GET", "resp_1", ""), "responses/resp_1");
        assert_eq!(
            path(
                "GET",
                "resp_1/input_items",
                "limit=2&order=asc&after=msg_1&purpose=fine-tune&x"
            ),
            "responses/resp_1/input_items?limit=2&order=asc&after=msg_1"
        );
        assert_eq!(
            path(
                "GET",
                "resp_1",
                "include%5B%5D=reasoning.encrypted_content&stream=true"
            ),
            "responses/resp_1?include%5B%5D=reasoning.encrypted_content&stream=true"
        );
        // Values cannot smuggle separators, segments or a second parameter.
        assert_eq!(
            path("GET", "resp_1/input_items", "after=a%26limit%3D1%2F..%2F#x"),
            "responses/resp_1/input_items?after=a%26limit%3D1%2F..%2F%23x"
        );
        assert_eq!(path("DELETE", "resp_1", "include=x"), "responses/resp_1");
        assert_eq!(
            path("POST", "resp_1/cancel", "a=b"),
            "responses/resp_1/cancel"
        );
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Fb+c"), "a/b c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%E2%9C%93"), "✓");
    }
}
