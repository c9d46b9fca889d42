//! Changes to the top-level members of a JSON body, made in one pass with every other byte kept:
//! how the router forwards a client body (the upstream model put in, an adapter's
//! [`BodyEdit`]s made), and how adapters that edit their own bodies do it.

use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::types::{BodyEdit, Forwarding, HttpRequest};

/// A forwarding that sends the body as the router has it.
pub fn unedited(request: HttpRequest) -> Forwarding {
    Forwarding {
        request,
        edits: Vec::new(),
    }
}

/// The request `forwarding` describes, carrying `body` with `replace` (see [`edit`]) and the
/// forwarding's edits made: the body as it is when there is nothing to change.
pub fn attach(
    forwarding: Forwarding,
    body: &[u8],
    replace: Option<(&str, &str)>,
) -> Result<HttpRequest, String> {
    let Forwarding { mut request, edits } = forwarding;
    request.body = if replace.is_none() && edits.is_empty() {
        body.to_vec()
    } else {
        edit(body, replace, &edits)?
    };
    Ok(request)
}

/// Like [`attach`] with `replace` set to `(name, value)`, for a caller that already read the
/// body and knows where the member's current value lies (`at`, its bytes in `body`, quotes
/// included): with no other edit to make, the value is replaced there without scanning the body
/// again. A range that does not hold a JSON string in `body` is not trusted: the body is scanned.
pub fn attach_replacing_at(
    forwarding: Forwarding,
    body: &[u8],
    (name, value): (&str, &str),
    at: std::ops::Range<usize>,
) -> Result<HttpRequest, String> {
    let holds_a_string = at.end.saturating_sub(at.start) >= 2
        && body.get(at.start) == Some(&b'"')
        && body.get(at.end - 1) == Some(&b'"');
    if !forwarding.edits.is_empty() || !holds_a_string {
        return attach(forwarding, body, Some((name, value)));
    }
    check_json(name, value)?;
    let Forwarding { mut request, .. } = forwarding;
    request.body = spliced(body, at, value);
    Ok(request)
}

/// Where `part`, a slice of `body` (the very bytes, not equal ones elsewhere), lies in it.
pub fn place_in(body: &[u8], part: &[u8]) -> Option<std::ops::Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(body.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    // The same bytes, not equal ones: compare addresses, not contents.
    (body.get(start..end).map(<[u8]>::as_ptr) == Some(part.as_ptr())).then_some(start..end)
}

/// `body` with the bytes `at` replaced by `value`.
fn spliced(body: &[u8], at: std::ops::Range<usize>, value: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + value.len());
    out.extend_from_slice(&body[..at.start]);
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(&body[at.end..]);
    out
}

/// `body` (a JSON object) with the value of the member `replace.0` set to the JSON text
/// `replace.1` (the member must be there), then `edits` made in order. Members are located in one
/// scan (values are skipped, not decoded) and the result is spliced from the body's own bytes:
/// unknown members, key order, whitespace and escapes stay as they were.
///
/// Refused: a body that is not a JSON object, a member named by a change that appears more than
/// once, a `replace` of a member the body lacks, and a value that is not JSON text.
pub fn edit(
    body: &[u8],
    replace: Option<(&str, &str)>,
    edits: &[BodyEdit],
) -> Result<Vec<u8>, String> {
    let open = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .filter(|at| body.get(*at) == Some(&b'{'))
        .ok_or("the body is not a JSON object")?;
    if let (Some((name, value)), []) = (replace, edits) {
        return replaced(body, name, value);
    }
    let Members(members) = serde_json::from_slice::<Members>(body)
        .map_err(|e| format!("the body is not valid JSON: {e}"))?;
    let values = spans(body, &members)?;
    let count = |name: &str| members.iter().filter(|(key, _)| key == name).count();

    let named = replace
        .iter()
        .map(|(name, _)| *name)
        .chain(edits.iter().map(edited_name));
    for name in named {
        if count(name) > 1 {
            return Err(format!("the body has more than one `{name}`"));
        }
    }
    if let Some((name, value)) = replace {
        if count(name) == 0 {
            return Err(format!("the body has no `{name}`"));
        }
        check_json(name, value)?;
    }
    let removed = |key: &str| {
        edits
            .iter()
            .any(|edit| matches!(edit, BodyEdit::Remove(name) if name == key))
    };
    // Added unless the body keeps a member of the name: a removed one is replaced.
    let mut added: Vec<(&str, &str)> = Vec::new();
    for edit in edits {
        if let BodyEdit::AddMissing((name, value)) = edit
            && (count(name) == 0 || removed(name))
            && !added.iter().any(|(n, _)| n == name)
        {
            check_json(name, value)?;
            added.push((name, value));
        }
    }

    let after_brace = open + 1;
    let mut out = Vec::with_capacity(body.len() + 64);
    out.extend_from_slice(&body[..after_brace]);
    for (n, (name, value)) in added.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, name).map_err(|e| e.to_string())?;
        out.push(b':');
        out.extend_from_slice(value.as_bytes());
    }
    let kept: Vec<usize> = (0..members.len())
        .filter(|i| !removed(&members[*i].0))
        .collect();
    if !added.is_empty() && !kept.is_empty() {
        out.push(b',');
    }
    // Member `i`'s bytes run from the end of the value before it (or the brace) to the end of its
    // own value, so each but the first starts with the comma that separates it.
    for (n, &i) in kept.iter().enumerate() {
        let from = if i == 0 { after_brace } else { values[i - 1].1 };
        let (start, end) = values[i];
        let mut head = &body[from..start];
        if i > 0 && n == 0 {
            // Now first: drop its comma (only whitespace precedes it).
            let comma = head
                .iter()
                .position(|b| *b == b',')
                .ok_or("malformed body")?;
            head = &head[comma + 1..];
        }
        out.extend_from_slice(head);
        match replace {
            Some((name, value)) if members[i].0 == name => out.extend_from_slice(value.as_bytes()),
            _ => out.extend_from_slice(&body[start..end]),
        }
    }
    let tail = values.last().map_or(after_brace, |(_, end)| *end);
    out.extend_from_slice(&body[tail..]);
    Ok(out)
}

/// `body` with the value of its member `name` set to `value`: the common forward (the model put
/// in), where only that member is located and every other value is skipped unread.
fn replaced(body: &[u8], name: &str, value: &str) -> Result<Vec<u8>, String> {
    check_json(name, value)?;
    let mut seed = Located { name, found: None };
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde::Deserializer::deserialize_map(&mut deserializer, &mut seed)
        .and_then(|()| deserializer.end())
        .map_err(|e| format!("the body is not valid JSON: {e}"))?;
    let raw = match seed.found {
        Some(Some(raw)) => raw.get().as_bytes(),
        Some(None) => return Err(format!("the body has more than one `{name}`")),
        None => return Err(format!("the body has no `{name}`")),
    };
    let at = place_in(body, raw).ok_or("could not locate a member of the body")?;
    Ok(spliced(body, at, value))
}

/// Finds the value of one top-level member, skipping the others: `found` is `Some(None)` when the
/// name appears more than once.
struct Located<'n, 'de> {
    name: &'n str,
    found: Option<Option<&'de RawValue>>,
}

impl<'de> Visitor<'de> for &mut Located<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(is_it) = map.next_key_seed(IsName(self.name))? {
            if is_it {
                let value: &'de RawValue = map.next_value()?;
                self.found = Some(match self.found {
                    None => Some(value),
                    Some(_) => None,
                });
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// A member name, read as a map key and compared with the one sought without being copied
/// (`map.next_key_seed(IsName("model"))`).
pub struct IsName<'n>(pub &'n str);

impl<'de> serde::de::DeserializeSeed<'de> for IsName<'_> {
    type Value = bool;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for IsName<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
}

fn edited_name(edit: &BodyEdit) -> &str {
    match edit {
        BodyEdit::Remove(name) | BodyEdit::AddMissing((name, _)) => name,
    }
}

fn check_json(name: &str, value: &str) -> Result<(), String> {
    serde_json::from_str::<&RawValue>(value)
        .map(|_| ())
        .map_err(|_| format!("the new value of `{name}` is not JSON"))
}

/// Each member's value as a byte range of `body` (the values borrow from it).
fn spans(body: &[u8], members: &[(String, &RawValue)]) -> Result<Vec<(usize, usize)>, String> {
    members
        .iter()
        .map(|(_, raw)| {
            let text = raw.get().as_bytes();
            let start = (text.as_ptr() as usize).wrapping_sub(body.as_ptr() as usize);
            let end = start.saturating_add(text.len());
            // The same bytes, not equal ones: compare addresses, not contents.
            if body.get(start..end).map(<[u8]>::as_ptr) == Some(text.as_ptr()) {
                Ok((start, end))
            } else {
                Err("could not locate a member of the body".to_string())
            }
        })
        .collect()
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

    fn remove(name: &str) -> BodyEdit {
        BodyEdit::Remove(name.to_string())
    }

    fn add(name: &str, value: &str) -> BodyEdit {
        BodyEdit::AddMissing((name.to_string(), value.to_string()))
    }

    fn text(body: &str, replace: Option<(&str, &str)>, edits: &[BodyEdit]) -> String {
        String::from_utf8(edit(body.as_bytes(), replace, edits).unwrap()).unwrap()
    }

    #[test]
    fn a_replaced_value_is_the_only_change() {
        let body = r#"{"z": 1, "model" : "alias",  "messages": [{"role":"user","content":"h\u00e9", "model": "inner"}], "x_new": {"a": [1.50, 2]}}"#;
        assert_eq!(
            text(body, Some(("model", r#""gpt-\"4o\"""#)), &[]),
            r#"{"z": 1, "model" : "gpt-\"4o\"",  "messages": [{"role":"user","content":"h\u00e9", "model": "inner"}], "x_new": {"a": [1.50, 2]}}"#
        );
    }

    #[test]
    fn removed_members_take_one_comma_with_them() {
        let body = r#"{ "model": "m", "a": 1 , "b": [2], "c": {} }"#;
        assert_eq!(
            text(body, None, &[remove("model")]),
            r#"{ "a": 1 , "b": [2], "c": {} }"#
        );
        assert_eq!(
            text(body, None, &[remove("b")]),
            r#"{ "model": "m", "a": 1, "c": {} }"#
        );
        assert_eq!(
            text(body, None, &[remove("c")]),
            r#"{ "model": "m", "a": 1 , "b": [2] }"#
        );
        assert_eq!(
            text(body, None, &[remove("model"), remove("a")]),
            r#"{ "b": [2], "c": {} }"#
        );
        assert_eq!(
            text(
                body,
                None,
                &[remove("model"), remove("a"), remove("b"), remove("c")]
            ),
            "{ }"
        );
        let out = text(body, None, &[remove("a"), remove("c")]);
        assert_eq!(out, r#"{ "model": "m" , "b": [2] }"#);
        serde_json::from_str::<serde_json::Value>(&out).unwrap();
    }

    #[test]
    fn added_members_go_first_and_only_when_missing() {
        let version = add("anthropic_version", r#""vertex-2023-10-16""#);
        assert_eq!(
            text(
                r#"{"model":"m","max_tokens":5}"#,
                None,
                &[remove("model"), version.clone()]
            ),
            r#"{"anthropic_version":"vertex-2023-10-16","max_tokens":5}"#
        );
        assert_eq!(
            text(
                r#"{"model":"m"}"#,
                None,
                &[remove("model"), version.clone()]
            ),
            r#"{"anthropic_version":"vertex-2023-10-16"}"#
        );
        assert_eq!(
            text(" {} ", None, std::slice::from_ref(&version)),
            r#" {"anthropic_version":"vertex-2023-10-16"} "#
        );
        let has = r#"{"anthropic_version":"vertex-2099-01-01","a":1}"#;
        assert_eq!(text(has, None, std::slice::from_ref(&version)), has);
        // A removed member is replaced by an added one of the same name.
        assert_eq!(
            text(has, None, &[remove("anthropic_version"), version]),
            r#"{"anthropic_version":"vertex-2023-10-16","a":1}"#
        );
    }

    #[test]
    fn a_replacement_alone_locates_only_its_member() {
        // The same as through the general path (a no-op edit forces that one).
        let noop = [remove("absent")];
        for body in [
            r#"{"model":"a"}"#,
            r#" { "x": "mod\u0065l", "model" : "a" , "y": [{"model": 1}] } "#,
            r#"{"stream":true,"model":"a","messages":[]}"#,
        ] {
            let fast = text(body, Some(("model", r#""b""#)), &[]);
            assert_eq!(fast, text(body, Some(("model", r#""b""#)), &noop), "{body}");
            assert!(
                fast.contains(r#""b""#) && !fast.contains(r#""a""#),
                "{fast}"
            );
        }
    }

    #[test]
    fn a_replaced_and_removed_member_is_removed() {
        assert_eq!(
            text(
                r#"{"a":1,"model":"x"}"#,
                Some(("model", r#""y""#)),
                &[remove("model")]
            ),
            r#"{"a":1}"#
        );
    }

    #[test]
    fn what_cannot_be_edited_is_refused() {
        let model = Some(("model", r#""m""#));
        assert!(edit(b"[1]", model, &[]).is_err());
        assert!(edit(br#"{"messages": []}"#, model, &[]).is_err());
        assert!(edit(br#"{"model": 1, "model": 2}"#, model, &[]).is_err());
        assert!(edit(br#"{"model": 1, "model": 2}"#, None, &[remove("model")]).is_err());
        assert!(edit(br#"{"model": "a"} x"#, model, &[]).is_err());
        assert!(edit(br#"{"model": "a"}"#, Some(("model", "nope")), &[]).is_err());
        assert!(edit(br#"{"model": "a"}"#, None, &[add("v", "{")]).is_err());
        // Escaped names are the names they spell.
        assert!(edit(br#"{"model": 1, "mod\u0065l": 2}"#, model, &[]).is_err());
    }

    #[test]
    fn a_place_is_found_for_the_bodys_own_bytes_only() {
        let body = br#"{"model": "gpt"}"#;
        assert_eq!(place_in(body, &body[11..14]), Some(11..14));
        // Equal bytes elsewhere are not in the body.
        let copy = body[11..14].to_vec();
        assert_eq!(place_in(body, &copy), None);
    }

    #[test]
    fn a_known_place_is_replaced_without_a_scan_and_a_wrong_one_is_not_trusted() {
        let body = br#"{"messages": [{"content": "model"}], "model": "alias", "n": 1}"#;
        let start = body.windows(7).position(|w| w == br#""alias""#).unwrap();
        let at = start..start + 7;
        let request = || HttpRequest {
            method: "POST".to_string(),
            url: "http://u/v1".to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        };
        let with = |at: std::ops::Range<usize>, edits: Vec<BodyEdit>| {
            let forwarding = Forwarding {
                request: request(),
                edits,
            };
            attach_replacing_at(forwarding, body, ("model", r#""gpt-4o""#), at)
                .map(|r| String::from_utf8(r.body).unwrap())
        };
        let expected = r#"{"messages": [{"content": "model"}], "model": "gpt-4o", "n": 1}"#;
        assert_eq!(with(at.clone(), Vec::new()).unwrap(), expected);
        // Not a string there (or out of the body): located by a scan, same result.
        assert_eq!(with(3..15, Vec::new()).unwrap(), expected);
        assert_eq!(with(60..90, Vec::new()).unwrap(), expected);
        // With other edits the general path makes them all.
        assert_eq!(
            with(at.clone(), vec![remove("n")]).unwrap(),
            r#"{"messages": [{"content": "model"}], "model": "gpt-4o"}"#
        );
        // The new value must still be JSON text.
        let forwarding = Forwarding {
            request: request(),
            edits: Vec::new(),
        };
        assert!(attach_replacing_at(forwarding, body, ("model", "nope"), at).is_err());
    }
}
