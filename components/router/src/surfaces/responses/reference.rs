//! `item_reference` input items (`{"type": "item_reference", "id": "fc_..."}`): a client that lets
//! the gateway store its responses (the AI SDK's Responses provider does by default) refers back to
//! earlier items by id instead of sending them again. The gateway made those ids itself — an item
//! id is a prefix, the stem of its response id and the item's index — so each one names the
//! stored response that holds it; the item is put in its place before the request is translated.

use serde_json::Value;

use crate::http::error::ApiError;

const ITEM_REFERENCE: &str = "item_reference";

/// Shortest and longest stem of a response id the gateway makes (`resp_` and 24 to 32 hex digits:
/// `platform::random_id`).
const STEM_LENGTHS: std::ops::RangeInclusive<usize> = 24..=32;

/// Whether `body` may hold item references (a cheap test before parsing).
pub fn may_hold_references(body: &[u8]) -> bool {
    memchr::memmem::find(body, ITEM_REFERENCE.as_bytes()).is_some()
}

/// The response ids that may hold the item `item_id` (`<prefix>_<stem><index>`, the index at least
/// two digits), most likely first.
pub fn responses_holding(item_id: &str) -> Vec<String> {
    let Some((_, rest)) = item_id.split_once('_') else {
        return Vec::new();
    };
    if !rest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Vec::new();
    }
    (2..=4)
        .filter_map(|digits| rest.len().checked_sub(digits))
        .filter(|stem| STEM_LENGTHS.contains(stem))
        .filter_map(|stem| rest.get(..stem))
        .map(|stem| format!("resp_{stem}"))
        .collect()
}

/// The error for a reference to an item the caller has not stored (unknown, expired, deleted, or
/// another gateway key's): OpenAI's wording.
pub fn not_found(id: &str) -> ApiError {
    ApiError::bad_request(format!(
        "Item with id '{id}' not found. Items are not persisted when `store` is set to false. Try again with `store` set to true, or remove this item from your input."
    ))
    .param("input")
}

/// `body` with each `item_reference` in `input` replaced by the item `find` returns for its id.
/// References `find` does not know are left in place (a provider with its own Responses API may
/// hold them; translating them is an error, [`not_found`]). `None`: nothing was replaced.
pub fn resolve(
    body: &[u8],
    mut find: impl FnMut(&str) -> Result<Option<Value>, ApiError>,
) -> Result<Option<Vec<u8>>, ApiError> {
    let Ok(mut request) = serde_json::from_slice::<Value>(body) else {
        // Not JSON: the surface reports it.
        return Ok(None);
    };
    let Some(items) = request.get_mut("input").and_then(Value::as_array_mut) else {
        return Ok(None);
    };
    let mut replaced = false;
    for item in items.iter_mut() {
        if item.get("type").and_then(Value::as_str) != Some(ITEM_REFERENCE) {
            continue;
        }
        let Some(id) = item.get("id").and_then(Value::as_str) else {
            continue;
        };
        if let Some(found) = find(id)? {
            *item = found;
            replaced = true;
        }
    }
    if !replaced {
        return Ok(None);
    }
    serde_json::to_vec(&request)
        .map(Some)
        .map_err(|e| ApiError::internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_item_id_names_the_responses_that_may_hold_it() {
        let stem = "0123456789abcdef01234567";
        assert_eq!(
            responses_holding(&format!("fc_{stem}02")),
            [format!("resp_{stem}")]
        );
        // A longer stem: the index may be two, three or four digits long.
        let stem = "0123456789abcdef0123456789";
        assert_eq!(
            responses_holding(&format!("rs_{stem}103")),
            [
                format!("resp_{stem}1"),
                format!("resp_{stem}"),
                format!("resp_{}", &stem[..25])
            ]
        );
        assert!(responses_holding("fc_short01").is_empty());
        assert!(responses_holding("call_not-hex-at-all-0123456789abcdef").is_empty());
        assert!(responses_holding("nounderscore").is_empty());
    }

    #[test]
    fn references_are_replaced_by_the_items_found() {
        let body = json!({"model": "m", "input": [
            {"type": "item_reference", "id": "fc_a"},
            {"type": "function_call_output", "call_id": "c1", "output": "42"},
            {"type": "item_reference", "id": "fc_unknown"},
        ]});
        let body = serde_json::to_vec(&body).unwrap();
        assert!(may_hold_references(&body));
        let resolved = resolve(&body, |id| {
            Ok((id == "fc_a").then(|| json!({"type": "function_call", "id": "fc_a", "call_id": "c1", "name": "f", "arguments": "{}"})))
        })
        .unwrap()
        .unwrap();
        let resolved: Value = serde_json::from_slice(&resolved).unwrap();
        assert_eq!(resolved["input"][0]["type"], "function_call");
        assert_eq!(resolved["input"][0]["call_id"], "c1");
        assert_eq!(resolved["input"][2]["type"], "item_reference");
    }

    #[test]
    fn nothing_to_replace_leaves_the_body_alone() {
        let body = br#"{"model":"m","input":[{"type":"item_reference","id":"x"}]}"#;
        assert_eq!(resolve(body, |_| Ok(None)).unwrap(), None);
        assert!(!may_hold_references(br#"{"model":"m","input":"hi"}"#));
        let failing = resolve(body, |id| Err(not_found(id))).unwrap_err();
        assert_eq!(failing.status, 400);
        assert!(failing.message.contains("'x' not found"));
    }
}
