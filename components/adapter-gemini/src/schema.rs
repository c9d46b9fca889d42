//! JSON Schema → the schema Gemini accepts for function `parameters` and `responseSchema`: a
//! subset of the OpenAPI 3.0 schema object (`Schema` in the Gemini API reference). Gemini refuses
//! a request whose schema has a field outside that subset, so the client's schema is rewritten:
//!
//! - Kept: `type`, `format` (see below), `title`, `description`, `nullable`, `enum`, `items`,
//!   `properties`, `required`, `minItems`, `maxItems`, `minLength`, `maxLength`, `pattern`,
//!   `minProperties`, `maxProperties`, `minimum`, `maximum`, `anyOf`, `propertyOrdering`.
//! - Dropped: everything else — `$schema`, `$id`, `$comment`, `$defs`/`definitions` (after
//!   inlining), `additionalProperties`, `default`, `examples`/`example`, `exclusiveMinimum`,
//!   `exclusiveMaximum`, `multipleOf`, `uniqueItems`, `not`, `if`/`then`/`else`,
//!   `patternProperties`, `strict`, ...
//! - Rewritten:
//!   - `"type": ["string", "null"]` → `"type": "string", "nullable": true`; several non-null types
//!     become an `anyOf` of one schema per type; `"type": "null"` alone → `"nullable": true`.
//!   - `oneOf` → `anyOf`; a `{"type": "null"}` member of `anyOf` → `"nullable": true`, and an
//!     `anyOf` left with one member is merged into its parent.
//!   - `allOf` → its members merged into the parent (properties and `required` united).
//!   - `const` → an `enum` of that one value.
//!   - `enum` is kept for strings only (Gemini's `enum` is a list of strings and is refused on
//!     other types): an enum of numbers or booleans is dropped, the schema keeping (or getting)
//!     the values' type; a `null` value becomes `"nullable": true`.
//!   - `$ref` to `#`, `#/$defs/<name>` or `#/definitions/<name>` → the definition, inlined (its
//!     sibling keywords win). A reference back into a definition being inlined (recursion) becomes
//!     `{"type": "object"}`; a reference that cannot be resolved is dropped. Schemas whose
//!     references would copy more than 256 KiB into a request (or twice the schemas' own size)
//!     are refused: definitions that each refer to the next twice would double a schema at every
//!     level.
//!   - `items` given as a list (tuples), or `prefixItems` → `items` of `anyOf` the member schemas.
//!   - `format` is kept only where Gemini gives it a meaning: `enum` and `date-time` for strings,
//!     `float` and `double` for numbers, `int32` and `int64` for integers.
//!   - A schema without `type` gets one from its shape: `properties` → `object`, `items` →
//!     `array`, `enum` → `string`.
//!   - Empty `properties` are dropped (Gemini refuses an empty properties map), and `required`
//!     keeps only names that `properties` declares.
//!   - For `responseSchema`, an object with several properties gets `propertyOrdering` in the
//!     client's order, since Gemini otherwise orders the output's keys alphabetically.

// BTreeSet, not HashSet: no random hash seed, so the adapter imports no capability.
use std::collections::BTreeSet;

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

/// The function `parameters` for a tool's JSON schema text; `None` when the tool takes no
/// arguments (Gemini refuses an object schema without properties, so `parameters` is omitted).
pub fn parameters(schema: &str, budget: &mut InlineBudget) -> serde_json::Result<Option<Json>> {
    clean(schema, false, budget)
}

/// The `responseSchema` for a JSON-schema response format; `None` when the schema says nothing
/// Gemini can use (then JSON mode alone applies).
pub fn response(schema: &str, budget: &mut InlineBudget) -> serde_json::Result<Option<Json>> {
    clean(schema, true, budget)
}

/// How many bytes (of JSON text) inlining `$ref`s may copy into the schemas of one request (its
/// tools and its response schema together): 256 KiB, or twice the schemas' own size when that is
/// more. Definitions that each refer to the next twice would otherwise double a schema at every
/// level (2 KB growing to gigabytes).
#[derive(Debug, Clone, Copy)]
pub struct InlineBudget {
    limit: usize,
    left: usize,
}

impl InlineBudget {
    /// The budget for schemas of `schemas_len` bytes in all.
    pub fn new(schemas_len: usize) -> Self {
        let limit = (256 << 10).max(schemas_len.saturating_mul(2));
        Self { limit, left: limit }
    }
}

fn clean(
    schema: &str,
    order_properties: bool,
    budget: &mut InlineBudget,
) -> serde_json::Result<Option<Json>> {
    let root: Json = serde_json::from_str(schema)?;
    let mut cleaner = Cleaner {
        root: &root,
        order_properties,
        expanding: Vec::new(),
        budget: budget.left,
        over_budget: false,
    };
    let cleaned = cleaner.node(&root);
    budget.left = cleaner.budget;
    if cleaner.over_budget {
        return Err(serde::de::Error::custom(format!(
            "the request's schemas grow past {} bytes once their `$ref`s are inlined",
            budget.limit
        )));
    }
    let empty_object = cleaned.get("type").and_then(Json::as_str) == Some("object")
        && !cleaned.contains_key("properties")
        && !cleaned.contains_key("anyOf");
    if cleaned.is_empty() || empty_object {
        return Ok(None);
    }
    Ok(Some(Json::Object(cleaned)))
}

struct Cleaner<'a> {
    root: &'a Json,
    order_properties: bool,
    /// The `$ref`s being inlined, innermost last: a reference to one of them is recursive.
    expanding: Vec<String>,
    /// Bytes of definitions that may still be inlined (see [`InlineBudget`]).
    budget: usize,
    /// The budget ran out: the schema is refused.
    over_budget: bool,
}

impl<'a> Cleaner<'a> {
    /// The definition `reference` points at, if it is a local reference this cleaner resolves
    /// and the inlining budget covers its size.
    fn inline(&mut self, reference: &str) -> Option<&'a Json> {
        let target = self.resolve(reference)?;
        match self.budget.checked_sub(size(target)) {
            Some(left) if !self.over_budget => {
                self.budget = left;
                Some(target)
            }
            _ => {
                self.over_budget = true;
                None
            }
        }
    }

    /// The definition `reference` points at, if it is a local reference this cleaner resolves.
    fn resolve(&self, reference: &str) -> Option<&'a Json> {
        if reference == "#" {
            return Some(self.root);
        }
        let root = self.root.as_object()?;
        for prefix in ["#/$defs/", "#/definitions/"] {
            if let Some(name) = reference.strip_prefix(prefix) {
                // JSON pointer escapes; a name with a further `/` points deeper, which is not
                // resolved.
                if name.contains('/') {
                    return None;
                }
                let name = name.replace("~1", "/").replace("~0", "~");
                let defs = root.get(prefix.trim_start_matches("#/").trim_end_matches('/'))?;
                return defs.as_object()?.get(&name);
            }
        }
        None
    }

    /// The cleaned form of one schema.
    fn node(&mut self, schema: &Json) -> Object {
        let Some(source) = schema.as_object() else {
            // `true`, `false` and non-schemas constrain nothing Gemini can express.
            return Object::new();
        };
        let mut source = source.clone();

        if let Some(reference) = source.remove("$ref") {
            let reference = reference.as_str().unwrap_or_default().to_string();
            if self.expanding.contains(&reference) {
                let mut out = Object::new();
                out.insert("type", Json::string("object"));
                if let Some(description) =
                    source.get("description").filter(|d| d.as_str().is_some())
                {
                    out.insert("description", description.clone());
                }
                return out;
            }
            if let Some(target) = self.inline(&reference) {
                // The definition, with the referring schema's own keywords on top.
                let mut merged = target.as_object().cloned().unwrap_or_default();
                for (key, value) in source.iter() {
                    merged.insert(key, value.clone());
                }
                self.expanding.push(reference);
                let out = self.node(&Json::Object(merged));
                self.expanding.pop();
                return out;
            }
        }

        if let Some(Json::Array(members)) = source.remove("allOf") {
            for member in &members {
                let member = match member
                    .as_object()
                    .and_then(|m| m.get("$ref"))
                    .and_then(Json::as_str)
                {
                    Some(reference) => self.inline(reference).cloned().unwrap_or(Json::Null),
                    None => member.clone(),
                };
                if let Some(member) = member.as_object() {
                    merge_into(&mut source, member);
                }
            }
        }

        self.keywords(&source)
    }

    fn keywords(&mut self, source: &Object) -> Object {
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

/// About the length of `json` as JSON text (what inlining it copies).
fn size(json: &Json) -> usize {
    match json {
        Json::Null | Json::Bool(_) | Json::Number(_) => 8,
        Json::String(text) => text.len() + 2,
        Json::Array(items) => items.iter().map(size).sum::<usize>() + 2,
        Json::Object(object) => {
            object
                .iter()
                .map(|(key, value)| key.len() + 4 + size(value))
                .sum::<usize>()
                + 2
        }
    }
}

/// Merge an `allOf` member into `target`: properties and `required` are united, other keywords
/// are taken when `target` lacks them.
fn merge_into(target: &mut Object, member: &Object) {
    for (key, value) in member.iter() {
        match (key, target.get(key), value) {
            ("properties", Some(Json::Object(mine)), Json::Object(theirs)) => {
                let mut merged = mine.clone();
                for (name, schema) in theirs.iter() {
                    if !merged.contains_key(name) {
                        merged.insert(name, schema.clone());
                    }
                }
                target.insert("properties", Json::Object(merged));
            }
            ("required", Some(Json::Array(mine)), Json::Array(theirs)) => {
                let mut merged = mine.clone();
                // Names only: anything else in `required` is dropped by `finish_keywords`.
                let mut seen: BTreeSet<&str> = mine.iter().filter_map(Json::as_str).collect();
                for name in theirs {
                    if let Some(text) = name.as_str()
                        && seen.insert(text)
                    {
                        merged.push(name.clone());
                    }
                }
                target.insert("required", Json::Array(merged));
            }
            (_, None, _) => target.insert(key, value.clone()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn params(schema: &str) -> String {
        parameters(schema, &mut InlineBudget::new(schema.len()))
            .unwrap()
            .map(|s| serde_json::to_string(&s).unwrap())
            .unwrap_or_default()
    }

    fn resp(schema: &str) -> String {
        response(schema, &mut InlineBudget::new(schema.len()))
            .unwrap()
            .map(|s| serde_json::to_string(&s).unwrap())
            .unwrap_or_default()
    }

    #[test]
    fn unsupported_keywords_are_dropped() {
        assert_eq!(
            params(
                r#"{"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"x","type":"object",
                "additionalProperties":false,"properties":{"n":{"type":"integer","default":3,
                "examples":[1],"exclusiveMinimum":0,"minimum":1,"maximum":9,"multipleOf":1}},
                "required":["n"],"strict":true}"#
            ),
            r#"{"type":"object","properties":{"n":{"type":"integer","minimum":1,"maximum":9}},"required":["n"]}"#
        );
    }

    #[test]
    fn type_lists_become_nullable_or_any_of() {
        assert_eq!(
            params(
                r#"{"type":"object","properties":{"a":{"type":["string","null"],"description":"d"}}}"#
            ),
            r#"{"type":"object","properties":{"a":{"type":"string","description":"d","nullable":true}}}"#
        );
        assert_eq!(
            params(r#"{"type":"object","properties":{"a":{"type":["string","integer"]}}}"#),
            r#"{"type":"object","properties":{"a":{"anyOf":[{"type":"string"},{"type":"integer"}]}}}"#
        );
        assert_eq!(
            params(
                r#"{"type":"object","properties":{"a":{"anyOf":[{"type":"number"},{"type":"null"}]}}}"#
            ),
            r#"{"type":"object","properties":{"a":{"type":"number","nullable":true}}}"#
        );
        assert_eq!(
            params(
                r#"{"type":"object","properties":{"a":{"oneOf":[{"type":"number"},{"type":"boolean"}]}}}"#
            ),
            r#"{"type":"object","properties":{"a":{"anyOf":[{"type":"number"},{"type":"boolean"}]}}}"#
        );
    }

    #[test]
    fn enums_are_for_strings_only() {
        assert_eq!(
            params(
                r#"{"type":"object","properties":{"k":{"const":"fixed"},"n":{"type":"integer","enum":[1,2,null]}}}"#
            ),
            r#"{"type":"object","properties":{"k":{"enum":["fixed"],"type":"string"},"n":{"type":"integer","nullable":true}}}"#
        );
        assert_eq!(
            params(
                r#"{"type":"object","properties":{"a":{"enum":[1,2.5]},"b":{"const":true},"c":{"type":"string","enum":["x",1]}}}"#
            ),
            r#"{"type":"object","properties":{"a":{"type":"number"},"b":{"type":"boolean"},"c":{"type":"string"}}}"#
        );
    }

    #[test]
    fn refs_are_inlined_and_recursion_is_cut() {
        let schema = r##"{"type":"object","$defs":{"Node":{"type":"object","properties":{
            "name":{"type":"string"},"child":{"$ref":"#/$defs/Node"}}}},
            "properties":{"root":{"$ref":"#/$defs/Node","description":"top"},
            "other":{"$ref":"#/definitions/Missing"}}}"##;
        assert_eq!(
            params(schema),
            r#"{"type":"object","properties":{"root":{"type":"object","properties":{"name":{"type":"string"},"child":{"type":"object"}},"description":"top"},"other":{}}}"#
        );
    }

    #[test]
    fn references_that_fan_out_are_refused_past_the_budget() {
        // Each definition refers to the next twice: inlined, 2^24 copies of the last.
        let mut defs = Vec::new();
        for i in 0..24 {
            defs.push(format!(
                r##""d{i}":{{"type":"object","properties":{{"a":{{"$ref":"#/$defs/d{next}"}},"b":{{"$ref":"#/$defs/d{next}"}}}}}}"##,
                next = i + 1
            ));
        }
        defs.push(r#""d24":{"type":"string"}"#.to_string());
        let schema = format!(
            r##"{{"$defs":{{{}}},"$ref":"#/$defs/d0"}}"##,
            defs.join(",")
        );
        let error = parameters(&schema, &mut InlineBudget::new(schema.len()))
            .unwrap_err()
            .to_string();
        assert!(error.contains("once their `$ref`s are inlined"), "{error}");
        // A few levels of the same fit.
        let small = r##"{"$defs":{"d0":{"type":"object","properties":{"a":{"$ref":"#/$defs/d1"},"b":{"$ref":"#/$defs/d1"}}},"d1":{"type":"string"}},"$ref":"#/$defs/d0"}"##;
        assert_eq!(
            params(small),
            r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}}}"#
        );
        // The budget is the request's: schemas that fit one by one may not fit together.
        let eight = format!(
            r##"{{"$defs":{{{}}},"$ref":"#/$defs/d16"}}"##,
            defs.join(",")
        );
        let mut budget = InlineBudget::new(eight.len());
        assert!(parameters(&eight, &mut budget).is_ok());
        let refused = (0..20).any(|_| parameters(&eight, &mut budget).is_err());
        assert!(refused, "the budget is shared");
    }

    #[test]
    fn all_of_members_are_merged() {
        assert_eq!(
            params(
                r#"{"allOf":[{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]},
                {"properties":{"b":{"type":"boolean"}},"required":["b"]}]}"#
            ),
            r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"boolean"}},"required":["a","b"]}"#
        );
    }

    #[test]
    fn formats_kept_only_where_gemini_uses_them() {
        assert_eq!(
            params(
                r#"{"type":"object","properties":{"u":{"type":"string","format":"uri"},
                "t":{"type":"string","format":"date-time"},"f":{"type":"number","format":"float"},
                "i":{"type":"integer","format":"double"}}}"#
            ),
            r#"{"type":"object","properties":{"u":{"type":"string"},"t":{"type":"string","format":"date-time"},"f":{"type":"number","format":"float"},"i":{"type":"integer"}}}"#
        );
    }

    #[test]
    fn shapes_without_type_and_empty_objects() {
        assert_eq!(params(r#"{"type":"object","properties":{}}"#), "");
        assert_eq!(params("{}"), "");
        assert_eq!(
            params(
                r#"{"properties":{"xs":{"items":{"type":"string"}},"o":{"type":"object","properties":{}}},"required":["xs","zz"]}"#
            ),
            r#"{"properties":{"xs":{"items":{"type":"string"},"type":"array"},"o":{"type":"object"}},"required":["xs"],"type":"object"}"#
        );
        assert_eq!(
            params(
                r#"{"type":"object","properties":{"pair":{"type":"array","prefixItems":[{"type":"string"},{"type":"number"}]}}}"#
            ),
            r#"{"type":"object","properties":{"pair":{"type":"array","items":{"anyOf":[{"type":"string"},{"type":"number"}]}}}}"#
        );
    }

    #[test]
    fn response_schemas_keep_the_property_order() {
        assert_eq!(
            resp(
                r#"{"type":"object","properties":{"zeta":{"type":"string"},"alpha":{"type":"object","properties":{"y":{"type":"string"},"x":{"type":"string"}}}}}"#
            ),
            r#"{"type":"object","properties":{"zeta":{"type":"string"},"alpha":{"type":"object","properties":{"y":{"type":"string"},"x":{"type":"string"}},"propertyOrdering":["y","x"]}},"propertyOrdering":["zeta","alpha"]}"#
        );
        assert_eq!(resp(r#"{"type":"object"}"#), "");
        assert!(response("{oops", &mut InlineBudget::new(5)).is_err());
    }
}
