//! Same-protocol forwarding: replace the `model` of a client body and keep everything else —
//! unknown fields, key order, whitespace, every other byte.

use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct ModelField<'a> {
    #[serde(borrow)]
    model: &'a RawValue,
}

/// `body` with its top-level `model` value replaced by `model`: the value's bytes are located in
/// one scan (other values are skipped, not decoded) and spliced, so the rest is copied verbatim.
pub fn with_model(body: &[u8], model: &str) -> Result<Vec<u8>, serde_json::Error> {
    // A struct also deserializes from an array (`[value]`): only objects are bodies.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(serde::de::Error::custom("the body is not a JSON object"));
    }
    let field: ModelField = serde_json::from_slice(body)?;
    let raw = field.model.get();
    // `raw` borrows from `body`: its position is the distance between the two pointers.
    let start = (raw.as_ptr() as usize).wrapping_sub(body.as_ptr() as usize);
    let end = start.saturating_add(raw.len());
    let (Some(before), Some(after)) = (body.get(..start), body.get(end..)) else {
        return Err(serde::de::Error::custom("model value outside the body"));
    };
    let mut out = Vec::with_capacity(body.len() + model.len());
    out.extend_from_slice(before);
    serde_json::to_writer(&mut out, model)?;
    out.extend_from_slice(after);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_model_changes() {
        let body = br#"{"z": 1, "model" : "alias",  "messages": [{"role":"user","content":"h\u00e9", "model": "inner"}], "x_new": {"a": [1.50, 2]}}"#;
        let out = String::from_utf8(with_model(body, "gpt-\"4o\"").unwrap()).unwrap();
        assert_eq!(
            out,
            r#"{"z": 1, "model" : "gpt-\"4o\"",  "messages": [{"role":"user","content":"h\u00e9", "model": "inner"}], "x_new": {"a": [1.50, 2]}}"#
        );
        assert!(with_model(b"[1]", "m").is_err());
        assert!(with_model(br#"{"messages": []}"#, "m").is_err());
        assert!(with_model(br#"{"model": 1, "model": 2}"#, "m").is_err());
    }
}
