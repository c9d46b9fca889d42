//! [`Json`], a JSON tree that keeps object keys in document order (`serde_json::Value` sorts them,
//! which would reorder a schema's properties). Whitespace compaction is the kit's
//! `apex_adapter_kit::json::compact`.

// BTreeMap, not HashMap: std's hasher seeds itself from `wasi:random/insecure-seed`, and adapters
// import no capability (`adapter_fixtures.rs` checks the chain's imports).
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// A JSON value whose objects keep their keys in document order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Object),
}

impl Json {
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Json::Object(object) => Some(object),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(text) => Some(text),
            _ => None,
        }
    }

    pub fn string(text: impl Into<String>) -> Self {
        Json::String(text.into())
    }
}

/// The entries of a JSON object in document order. A repeated key keeps its last value, in the
/// place of its first occurrence.
#[derive(Debug, Clone, Default)]
pub struct Object {
    entries: Vec<(String, Json)>,
    /// Where each key is, once there are more than [`INDEXED`]: a search through the entries for
    /// every key would make a wide object (a client's schema with 100,000 properties) quadratic.
    index: Option<BTreeMap<String, usize>>,
}

/// Objects with more keys than this find them through an index.
const INDEXED: usize = 16;

impl PartialEq for Object {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl Object {
    pub fn new() -> Self {
        Self::default()
    }

    fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self.entries.iter().position(|(k, _)| k == key),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Json> {
        let at = self.position(key)?;
        self.entries.get(at).map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Set `key` to `value`, in place when the key exists, else at the end.
    pub fn insert(&mut self, key: impl Into<String>, value: Json) {
        let key = key.into();
        if let Some(at) = self.position(&key) {
            if let Some(slot) = self.entries.get_mut(at) {
                slot.1 = value;
            }
            return;
        }
        if let Some(index) = &mut self.index {
            index.insert(key.clone(), self.entries.len());
        }
        self.entries.push((key, value));
        if self.index.is_none() && self.entries.len() > INDEXED {
            self.reindex();
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Json> {
        let at = self.position(key)?;
        let (_, value) = self.entries.remove(at);
        if self.index.is_some() {
            self.reindex();
        }
        Some(value)
    }

    fn reindex(&mut self) {
        self.index = Some(
            self.entries
                .iter()
                .enumerate()
                .map(|(at, (key, _))| (key.clone(), at))
                .collect(),
        );
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Json)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl FromIterator<(String, Json)> for Object {
    fn from_iter<I: IntoIterator<Item = (String, Json)>>(iter: I) -> Self {
        let mut object = Object::new();
        for (key, value) in iter {
            object.insert(key, value);
        }
        object
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => serializer.serialize_unit(),
            Json::Bool(b) => serializer.serialize_bool(*b),
            Json::Number(n) => n.serialize(serializer),
            Json::String(s) => serializer.serialize_str(s),
            Json::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Object(object) => object.serialize(serializer),
        }
    }
}

impl Serialize for Object {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (key, value) in &self.entries {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct JsonVisitor;

        impl<'de> Visitor<'de> for JsonVisitor {
            type Value = Json;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
                Ok(Json::Bool(v))
            }

            fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
                Ok(Json::Number(v.into()))
            }

            fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
                Ok(Json::Number(v.into()))
            }

            fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
                // JSON text has no NaN or infinity, so this is never `Null` for parsed input.
                Ok(serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number))
            }

            fn visit_str<E>(self, v: &str) -> Result<Json, E> {
                Ok(Json::String(v.to_string()))
            }

            fn visit_string<E>(self, v: String) -> Result<Json, E> {
                Ok(Json::String(v))
            }

            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }

            fn visit_none<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::Array(items))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut object = Object::new();
                while let Some((key, value)) = map.next_entry::<String, Json>()? {
                    object.insert(key, value);
                }
                Ok(Json::Object(object))
            }
        }

        deserializer.deserialize_any(JsonVisitor)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn objects_keep_document_order() {
        let json: Json = serde_json::from_str(
            r#"{"zeta": 1, "alpha": [true, null, 1.5], "mid": {"b": "x", "a": -2}}"#,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&json).unwrap(),
            r#"{"zeta":1,"alpha":[true,null,1.5],"mid":{"b":"x","a":-2}}"#
        );
        let mut object = json.as_object().unwrap().clone();
        object.insert("alpha", Json::Null);
        object.insert("new", Json::string("n"));
        assert_eq!(object.remove("zeta"), Some(Json::Number(1.into())));
        assert_eq!(object.keys().collect::<Vec<_>>(), ["alpha", "mid", "new"]);
    }

    #[test]
    fn wide_objects_keep_order_and_last_values_in_linear_time() {
        // 200,000 keys, each twice: a search per key would take minutes.
        let mut text = String::from("{");
        for round in 0..2 {
            for i in 0..100_000 {
                text.push_str(&format!("\"k{i}\":{round},"));
            }
        }
        text.push_str("\"last\":true}");
        let json: Json = serde_json::from_str(&text).unwrap();
        let mut object = json.as_object().unwrap().clone();
        assert_eq!(object.len(), 100_001);
        assert_eq!(object.keys().nth(5), Some("k5"));
        assert_eq!(object.get("k99999"), Some(&Json::Number(1.into())));
        assert_eq!(object.remove("k0"), Some(Json::Number(1.into())));
        object.insert("k1", Json::Null);
        object.insert("k0", Json::Null);
        assert_eq!(object.keys().next(), Some("k1"));
        assert_eq!(object.keys().last(), Some("k0"));
        assert_eq!(object.get("k1"), Some(&Json::Null));
        assert_eq!(object.get("last"), Some(&Json::Bool(true)));
    }
}
