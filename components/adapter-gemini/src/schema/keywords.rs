//! One schema's keywords rewritten to the subset Gemini's `Schema` takes (see the module
//! documentation of `schema`): types, nullability, `anyOf`/`oneOf`, enums, formats, properties and
//! their order.

// BTreeSet, not HashSet: no random hash seed, so the adapter imports no capability.
use std::collections::BTreeSet;

use super::Cleaner;
use crate::json::{Json, Object};

/// Keywords copied as they are when their value has the right JSON type.
const STRING_KEYWORDS: &[&str] = &["title", "description", "pattern"];
const NUMBER_KEYWORDS: &[&str] = &[
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "minProperties",
    "maxProperties",
    "minimum",
    "maximum",
];

impl Cleaner<'_> {
    pub(super) fn keywords(&mut self, source: &Object) -> Object {
        let mut out = Object::new();
        let mut nullable = false;
        let mut any_of: Vec<Object> = Vec::new();
        // The JSON types of the `enum` / `const` values that are not strings.
        let mut enum_kinds: Vec<&'static str> = Vec::new();

        for (key, value) in source.iter() {
            match key {
                "type" => match value {
                    Json::String(kind) if kind == "null" => nullable = true,
                    Json::String(kind) => out.insert("type", Json::string(kind.as_str())),
                    Json::Array(kinds) => {
                        let kinds: Vec<&str> = kinds.iter().filter_map(Json::as_str).collect();
                        nullable |= kinds.contains(&"null");
                        let kinds: Vec<&str> = kinds.into_iter().filter(|k| *k != "null").collect();
                        match kinds.as_slice() {
                            [] => {}
                            [one] => out.insert("type", Json::string(*one)),
                            many => {
                                for kind in many {
                                    let mut member = Object::new();
                                    member.insert("type", Json::string(*kind));
                                    any_of.push(member);
                                }
                            }
                        }
                    }
                    _ => {}
                },
                "nullable" => {
                    if let Json::Bool(b) = value {
                        nullable |= *b;
                    }
                }
                "enum" | "const" => {
                    if key == "const" && source.contains_key("enum") {
                        continue;
                    }
                    let values = match value {
                        Json::Array(values) if key == "enum" => values.clone(),
                        other if key == "const" => vec![other.clone()],
                        _ => continue,
                    };
                    let mut strings = Vec::new();
                    for value in values {
                        match value {
                            Json::Null => nullable = true,
                            Json::String(s) => strings.push(Json::String(s)),
                            other => enum_kinds.push(json_type(&other)),
                        }
                    }
                    if !strings.is_empty() {
                        out.insert("enum", Json::Array(strings));
                    }
                }
                "items" | "prefixItems" => {
                    if key == "prefixItems" && source.contains_key("items") {
                        continue;
                    }
                    let items = match value {
                        Json::Array(members) => {
                            let mut cleaned: Vec<Object> = members
                                .iter()
                                .map(|m| self.node(m))
                                .filter(|m| !m.is_empty())
                                .collect();
                            if cleaned.len() == 1 {
                                cleaned.pop()
                            } else if cleaned.is_empty() {
                                None
                            } else {
                                let mut wrapper = Object::new();
                                wrapper.insert(
                                    "anyOf",
                                    Json::Array(cleaned.into_iter().map(Json::Object).collect()),
                                );
                                Some(wrapper)
                            }
                        }
                        Json::Object(_) => Some(self.node(value)),
                        _ => None,
                    };
                    if let Some(items) = items {
                        out.insert("items", Json::Object(items));
                    }
                }
                "properties" => {
                    if let Json::Object(properties) = value {
                        let cleaned: Object = properties
                            .iter()
                            .map(|(name, schema)| {
                                (name.to_string(), Json::Object(self.node(schema)))
                            })
                            .collect();
                        if !cleaned.is_empty() {
                            out.insert("properties", Json::Object(cleaned));
                        }
                    }
                }
                "required" | "propertyOrdering" => {
                    if let Json::Array(names) = value {
                        let names: Vec<Json> = names
                            .iter()
                            .filter(|n| n.as_str().is_some())
                            .cloned()
                            .collect();
                        out.insert(key, Json::Array(names));
                    }
                }
                "anyOf" | "oneOf" => {
                    if let Json::Array(members) = value {
                        for member in members {
                            if is_null_schema(member) {
                                nullable = true;
                                continue;
                            }
                            let cleaned = self.node(member);
                            if cleaned.is_empty() {
                                continue;
                            }
                            // A member that is only `nullable` (a `null` type in another spelling).
                            if cleaned.len() == 1
                                && cleaned.get("nullable") == Some(&Json::Bool(true))
                            {
                                nullable = true;
                                continue;
                            }
                            any_of.push(cleaned);
                        }
                    }
                }
                "format" => {
                    if let Json::String(format) = value {
                        out.insert("format", Json::string(format.as_str()));
                    }
                }
                key if STRING_KEYWORDS.contains(&key) && value.as_str().is_some() => {
                    out.insert(key, value.clone());
                }
                key if NUMBER_KEYWORDS.contains(&key) && matches!(value, Json::Number(_)) => {
                    out.insert(key, value.clone());
                }
                _ => {}
            }
        }

        match any_of.len() {
            0 => {}
            // One alternative left: it is the schema itself (the parent's own keywords win).
            1 => {
                if let Some(only) = any_of.pop() {
                    for (key, value) in only.iter() {
                        if key == "nullable" {
                            nullable |= *value == Json::Bool(true);
                        } else if !out.contains_key(key) {
                            out.insert(key, value.clone());
                        }
                    }
                }
            }
            _ => {
                out.remove("type");
                out.insert(
                    "anyOf",
                    Json::Array(any_of.into_iter().map(Json::Object).collect()),
                );
            }
        }

        // Gemini takes `enum` on strings only.
        let typed_other = out
            .get("type")
            .and_then(Json::as_str)
            .is_some_and(|kind| kind != "string");
        if typed_other || !enum_kinds.is_empty() {
            out.remove("enum");
        }
        if !out.contains_key("type") && !out.contains_key("anyOf") {
            let inferred = if out.contains_key("properties") {
                Some("object")
            } else if out.contains_key("items") {
                Some("array")
            } else if out.contains_key("enum") {
                Some("string")
            } else if let [first, rest @ ..] = enum_kinds.as_slice() {
                // The values' own type, when they agree (integers count as numbers).
                let kind = if rest.iter().all(|k| k == first) {
                    *first
                } else if enum_kinds
                    .iter()
                    .all(|k| matches!(*k, "integer" | "number"))
                {
                    "number"
                } else {
                    ""
                };
                (!kind.is_empty()).then_some(kind)
            } else {
                None
            };
            if let Some(kind) = inferred {
                out.insert("type", Json::string(kind));
            }
        }
        if nullable {
            out.insert("nullable", Json::Bool(true));
        }
        self.finish_keywords(&mut out);
        out
    }

    /// Checks that need the whole schema: `format` against `type`, `required` against
    /// `properties`, and the property order.
    fn finish_keywords(&self, out: &mut Object) {
        let kind = out
            .get("type")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string();
        if let Some(format) = out.get("format").and_then(Json::as_str) {
            let meaningful = match kind.as_str() {
                "string" => matches!(format, "enum" | "date-time"),
                "number" => matches!(format, "float" | "double"),
                "integer" => matches!(format, "int32" | "int64"),
                _ => false,
            };
            if !meaningful {
                out.remove("format");
            }
        }

        let names: Vec<String> = out
            .get("properties")
            .and_then(Json::as_object)
            .map(|p| p.keys().map(str::to_string).collect())
            .unwrap_or_default();
        if let Some(Json::Array(required)) = out.get("required") {
            let declared: BTreeSet<&str> = names.iter().map(String::as_str).collect();
            let kept: Vec<Json> = required
                .iter()
                .filter(|n| n.as_str().is_some_and(|n| declared.contains(n)))
                .cloned()
                .collect();
            if kept.is_empty() {
                out.remove("required");
            } else {
                out.insert("required", Json::Array(kept));
            }
        }
        if let Some(Json::Array(ordering)) = out.get("propertyOrdering") {
            if ordering.is_empty() || names.is_empty() {
                out.remove("propertyOrdering");
            }
        } else if self.order_properties && names.len() > 1 {
            out.insert(
                "propertyOrdering",
                Json::Array(names.into_iter().map(Json::String).collect()),
            );
        }
    }
}

/// The schema type of a JSON value that is not a string or null.
fn json_type(value: &Json) -> &'static str {
    match value {
        Json::Bool(_) => "boolean",
        Json::Number(n) if n.is_f64() => "number",
        Json::Number(_) => "integer",
        Json::Array(_) => "array",
        _ => "object",
    }
}

/// Whether `schema` only says "null".
fn is_null_schema(schema: &Json) -> bool {
    let Some(object) = schema.as_object() else {
        return false;
    };
    match object.get("type") {
        Some(Json::String(kind)) => kind == "null",
        Some(Json::Array(kinds)) => kinds.iter().all(|k| k.as_str() == Some("null")),
        _ => false,
    }
}
