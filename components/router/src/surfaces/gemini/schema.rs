//! Gemini's OpenAPI-subset `Schema` (`"type": "OBJECT"`, `nullable`, `propertyOrdering`, 64-bit
//! integers as strings) → JSON Schema, for providers that take JSON Schema.

use serde_json::{Map, Value, json};

/// Keywords whose values are integers (Google's JSON sends int64 as strings).
const INTEGER_KEYWORDS: &[&str] = &[
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "minProperties",
    "maxProperties",
];

/// `schema` as JSON Schema: types lowercase, `nullable: true` as a `null` type, Google-only
/// keywords dropped; everything else as it was.
pub fn json_schema(schema: &Value) -> Value {
    let Value::Object(map) = schema else {
        return schema.clone();
    };
    let nullable = map.get("nullable") == Some(&Value::Bool(true));
    let mut out = Map::with_capacity(map.len());
    for (key, value) in map {
        let converted = match key.as_str() {
            "nullable" | "propertyOrdering" => continue,
            "type" => match value.as_str().map(str::to_ascii_lowercase) {
                Some(t) if t == "type_unspecified" => continue,
                Some(t) if nullable => json!([t, "null"]),
                Some(t) => Value::String(t),
                None => value.clone(),
            },
            "properties" | "$defs" | "definitions" => match value {
                Value::Object(children) => Value::Object(
                    children
                        .iter()
                        .map(|(name, child)| (name.clone(), json_schema(child)))
                        .collect(),
                ),
                other => other.clone(),
            },
            "items" | "additionalProperties" | "not" => json_schema(value),
            "anyOf" | "oneOf" | "allOf" | "prefixItems" => match value {
                Value::Array(items) => Value::Array(items.iter().map(json_schema).collect()),
                other => other.clone(),
            },
            k if INTEGER_KEYWORDS.contains(&k) => match value.as_str().map(str::parse::<u64>) {
                Some(Ok(n)) => json!(n),
                _ => value.clone(),
            },
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_types_become_json_schema() {
        let schema = json!({
            "type": "OBJECT",
            "properties": {
                "city": {"type": "STRING", "description": "c"},
                "days": {"type": "ARRAY", "items": {"type": "INTEGER"}, "minItems": "1"},
                "unit": {"type": "STRING", "enum": ["C", "F"], "nullable": true},
                "any": {"anyOf": [{"type": "NUMBER"}, {"type": "BOOLEAN"}]},
            },
            "required": ["city"],
            "propertyOrdering": ["city", "days"],
        });
        assert_eq!(
            json_schema(&schema),
            json!({
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "c"},
                    "days": {"type": "array", "items": {"type": "integer"}, "minItems": 1},
                    "unit": {"type": ["string", "null"], "enum": ["C", "F"]},
                    "any": {"anyOf": [{"type": "number"}, {"type": "boolean"}]},
                },
                "required": ["city"],
            })
        );
    }
}
