//! A client's or the adapter's Messages body edited for Vertex AI: `model` taken out (it goes in
//! the URL), `anthropic_version` put in, every other byte kept.

use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use serde_json::value::RawValue;

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
