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
//!
//! The work is split by job: `references.rs` inlines `$ref`s (within the request's
//! [`InlineBudget`]) and merges `allOf` members, `keywords.rs` rewrites one schema's keywords to
//! the subset above.

mod keywords;
mod references;
#[cfg(test)]
mod tests;

use crate::json::Json;

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
