//! Same-protocol forwarding: replace the `model` of a client body and keep everything else —
//! unknown fields, key order, every value byte for byte.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;

/// A JSON object whose values are kept as raw text, in order.
pub struct RawObject(pub Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for RawObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawObject;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawObject, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, Box<RawValue>>()? {
                    entries.push(entry);
                }
                Ok(RawObject(entries))
            }
        }
        deserializer.deserialize_map(V)
    }
}

impl Serialize for RawObject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// `body` with its top-level `model` set to `model`.
pub fn with_model(body: &[u8], model: &str) -> Result<Vec<u8>, serde_json::Error> {
    let mut object: RawObject = serde_json::from_slice(body)?;
    let value = RawValue::from_string(serde_json::to_string(model)?)?;
    match object.0.iter_mut().find(|(key, _)| key == "model") {
        Some(entry) => entry.1 = value,
        None => object.0.insert(0, ("model".to_string(), value)),
    }
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
