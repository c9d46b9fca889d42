//! Same-protocol forwarding: replace the `model` of a client body and keep everything else —
//! unknown fields, key order, every value byte for byte.

use apex_adapter_kit::json::RawObject;
use serde_json::value::RawValue;

/// `body` with its top-level `model` set to `model`.
pub fn with_model(body: &[u8], model: &str) -> Result<Vec<u8>, serde_json::Error> {
    let mut object: RawObject = serde_json::from_slice(body)?;
    let value = RawValue::from_string(serde_json::to_string(model)?)?;
    object.insert_raw("model".to_string(), value);
    serde_json::to_vec(&object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_model_changes() {
        let body = br#"{"z": 1, "model": "alias", "messages": [{"role":"user","content":"h\u00e9"}], "x_new": {"a": [1.50, 2]}}"#;
        let out = String::from_utf8(with_model(body, "gpt-4o").unwrap()).unwrap();
        assert_eq!(
            out,
            r#"{"z":1,"model":"gpt-4o","messages":[{"role":"user","content":"h\u00e9"}],"x_new":{"a": [1.50, 2]}}"#
        );
        assert!(with_model(b"[1]", "m").is_err());
    }
}
