//! JSON helpers shared by adapters and the router.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::types::{AdapterError, Tool};

/// A JSON object whose values are raw JSON text, kept in insertion order.
#[derive(Debug, Default)]
pub struct RawObject(Vec<(String, Box<RawValue>)>);

impl RawObject {
    /// Set `key` to `value` serialized (replacing an earlier value of the same key).
    pub fn insert<T: Serialize + ?Sized>(
        &mut self,
        key: &str,
        value: &T,
    ) -> serde_json::Result<()> {
        let raw = serde_json::value::to_raw_value(value)?;
        self.insert_raw(key.to_string(), raw);
        Ok(())
    }

    /// Set `key` to JSON text already validated.
    pub fn insert_raw(&mut self, key: String, value: Box<RawValue>) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// Add every entry of `other` whose key is not set yet.
    pub fn merge_absent(&mut self, other: RawObject) {
        for (key, value) in other.0 {
            if !self.contains_key(&key) {
                self.0.push((key, value));
            }
        }
    }
}

/// A tool's `parameters` schema as raw JSON, verbatim; a tool without parameters takes an empty
/// object schema (providers that require one refuse a tool without it). Invalid JSON is an
/// `invalid_request` naming the tool.
pub fn tool_parameters(tool: &Tool) -> Result<Box<RawValue>, AdapterError> {
    if tool.parameters.trim().is_empty() {
        RawValue::from_string(r#"{"type":"object","properties":{}}"#.to_string())
            .map_err(crate::invalid)
    } else {
        serde_json::from_str::<Box<RawValue>>(&tool.parameters).map_err(|e| {
            crate::invalid(format!(
                "tool `{}` has invalid parameters JSON: {e}",
                tool.name
            ))
        })
    }
}

/// Tool-call arguments as a JSON object, verbatim; `{}` when empty, invalid or not an object.
pub fn object_or_empty(text: &str) -> Box<RawValue> {
    match serde_json::from_str::<Box<RawValue>>(text) {
        Ok(raw) if raw.get().starts_with('{') => raw,
        _ => RawValue::from_string("{}".to_string()).unwrap_or_default(),
    }
}

/// Valid JSON `text` without the whitespace between tokens; strings, numbers and key order are
/// kept byte for byte.
pub fn compact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    out
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

impl<'de> Deserialize<'de> for RawObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;

        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = RawObject;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawObject, A::Error> {
                let mut object = RawObject::default();
                while let Some((key, value)) = map.next_entry::<String, Box<RawValue>>()? {
                    object.insert_raw(key, value);
                }
                Ok(object)
            }
        }

        deserializer.deserialize_map(ObjectVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_strips_whitespace_outside_strings_only() {
        let text = "{\n  \"a b\": \"x \\\" y\\\\\",\n  \"n\": 1.50,\n\t\"list\": [ 1 , 2 ]\r\n}";
        assert_eq!(compact(text), r#"{"a b":"x \" y\\","n":1.50,"list":[1,2]}"#);
        assert_eq!(compact("\"Zürich  \""), "\"Zürich  \"");
    }

    #[test]
    fn arguments_that_are_no_object_become_an_empty_one() {
        for text in ["", "  ", "{oops", "[1,2]", "null"] {
            assert_eq!(object_or_empty(text).get(), "{}", "{text:?}");
        }
        assert_eq!(object_or_empty(" {\"a\":1} ").get(), "{\"a\":1}");
    }
}
