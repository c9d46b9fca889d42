//! Schema cleaning: what each rewrite of `schema` gives.

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
