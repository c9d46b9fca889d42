//! `previous_response_id` chains: the stored records behind a follow-up, the conversation they
//! make, and which of them to store again so the conversation lives as long as its newest turn.

use apex_adapter_kit::body_edit;
use apex_adapter_kit::types::BodyEdit;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::record::{Link, visible};
use crate::http::error::ApiError;

/// The most stored responses one `previous_response_id` chain may span (each is a read).
pub const MAX_CHAIN: usize = 1000;

/// A `previous_response_id` chain that cannot be followed.
#[derive(Debug, Clone, PartialEq)]
pub enum ChainError {
    /// Response `id`, `depth` links back from the one named (0: that one), does not exist for
    /// this caller (never stored, deleted, expired, another key's).
    Missing { id: String, depth: usize },
    /// Longer than [`MAX_CHAIN`].
    TooLong,
    /// A link back to a record already walked (only a tampered store has one).
    Cycle { id: String },
    /// The store failed.
    Store(ApiError),
}

impl ChainError {
    /// The client's error for continuing from `first`.
    pub fn error(&self, first: &str) -> ApiError {
        let error = match self {
            ChainError::Missing { id, depth: 0 } => ApiError::new(
                404,
                "invalid_request_error",
                format!("Previous response with id '{id}' not found."),
            ),
            ChainError::Missing { id, .. } => ApiError::new(
                404,
                "invalid_request_error",
                format!(
                    "Previous response with id '{id}' not found: it is part of the conversation \
                     before '{first}' and was deleted, expired or never stored, so that \
                     conversation cannot be continued."
                ),
            ),
            ChainError::TooLong => ApiError::bad_request(format!(
                "The conversation before '{first}' is longer than {MAX_CHAIN} responses; start a \
                 new one (send the items you need as input)."
            )),
            ChainError::Cycle { id } => ApiError::bad_request(format!(
                "The conversation before '{first}' links back to '{id}' in a loop."
            )),
            ChainError::Store(error) => return error.clone(),
        };
        error
            .code("previous_response_not_found")
            .param("previous_response_id")
    }
}

/// The records of the chain ending at `first`, newest first, as `caller` may see them at `now`:
/// `fetch` reads a record's bytes by id. At most [`MAX_CHAIN`] records are read; a missing one, a
/// loop or a longer chain is an error. Each record's items stay JSON text.
pub fn walk(
    first: &str,
    caller: &str,
    now: u64,
    mut fetch: impl FnMut(&str) -> Result<Option<Vec<u8>>, ApiError>,
) -> Result<Vec<(String, Link)>, ChainError> {
    let mut chain: Vec<(String, Link)> = Vec::new();
    let mut next = Some(first.to_string());
    while let Some(id) = next.take() {
        if chain.iter().any(|(seen, _)| *seen == id) {
            return Err(ChainError::Cycle { id });
        }
        if chain.len() >= MAX_CHAIN {
            return Err(ChainError::TooLong);
        }
        let bytes = fetch(&id).map_err(ChainError::Store)?;
        let mut link: Link =
            visible(bytes.as_deref(), &id, caller, now).map_err(|_| ChainError::Missing {
                id: id.clone(),
                depth: chain.len(),
            })?;
        link.bytes = bytes.unwrap_or_default();
        next = link.previous.clone();
        chain.push((id, link));
    }
    Ok(chain)
}

/// The conversation a follow-up to `chain` (newest first, from [`walk`]) continues: every turn,
/// oldest first, each its input then its output.
pub fn conversation(chain: &[(String, Link)]) -> Vec<&RawValue> {
    let mut items: Vec<&RawValue> = chain
        .last()
        .map(|(_, oldest)| oldest.history.iter().map(|item| &**item).collect())
        .unwrap_or_default();
    for (_, link) in chain.iter().rev() {
        items.extend(link.turn());
    }
    items
}

/// The records of `chain` to store again with a later expiry, so a conversation lives as long as
/// its newest response: those expiring more than a tenth of `ttl_secs` before `now + ttl_secs`
/// (so a record is rewritten at most once per tenth of the TTL, not on every turn).
pub fn to_extend(chain: &[(String, Link)], now: u64, ttl_secs: u64) -> Vec<usize> {
    let wanted = now.saturating_add(ttl_secs);
    let slack = ttl_secs / 10;
    chain
        .iter()
        .enumerate()
        .filter(|(_, (_, link))| link.expires_at.saturating_add(slack) < wanted)
        .map(|(i, _)| i)
        .collect()
}

/// The stored record `link` with expiry `expires_at`, every other byte kept.
pub fn extended(link: &Link, expires_at: u64) -> Option<Vec<u8>> {
    let expiry = expires_at.to_string();
    body_edit::edit(&link.bytes, Some(("expires_at", &expiry)), &[]).ok()
}

/// The request body with the conversation of `chain` (the records behind `previous_response_id`,
/// newest first) put in front of its input (as `apex_history`); any `apex_history` the client
/// sent is replaced. The rest of the body and the stored items are copied as they are.
pub fn continue_from(body: &[u8], chain: &[(String, Link)]) -> Result<Vec<u8>, ApiError> {
    let items = conversation(chain);
    let mut history = String::with_capacity(items.iter().map(|item| item.get().len() + 1).sum());
    history.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            history.push(',');
        }
        history.push_str(item.get());
    }
    history.push(']');
    let edits = [
        BodyEdit::Remove(HISTORY.to_string()),
        BodyEdit::AddMissing((HISTORY.to_string(), history)),
    ];
    body_edit::edit(body, None, &edits)
        .map_err(|e| ApiError::bad_request(format!("Request body is not valid JSON: {e}")))
}

/// Where a continued request carries its stored conversation.
const HISTORY: &str = "apex_history";

/// `previous_response_id` of a request body, if any.
pub fn previous_id(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Previous {
        previous_response_id: Option<String>,
    }
    serde_json::from_slice::<Previous>(body)
        .ok()
        .and_then(|p| p.previous_response_id)
        .filter(|id| !id.is_empty())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::{Value, json};

    use super::*;
    use crate::surfaces::responses::record::record_key;
    use crate::surfaces::responses::record::tests::{parsed, stored, texts};

    /// A store of records: `(id, input text, output text, previous)`.
    fn store(turns: &[(&str, &str, &str, Option<&str>)]) -> BTreeMap<String, Vec<u8>> {
        turns
            .iter()
            .map(|(id, input, output, previous)| {
                let mut body = json!({"model": "gpt", "input": input});
                if let Some(previous) = previous {
                    body["previous_response_id"] = json!(previous);
                    body["apex_history"] = json!([]);
                }
                let (key, bytes) = stored(id, &body, output).unwrap();
                assert_eq!(key, record_key(id));
                (id.to_string(), bytes)
            })
            .collect()
    }

    fn walk_in(
        kv: &BTreeMap<String, Vec<u8>>,
        first: &str,
        caller: &str,
        now: u64,
    ) -> Result<Vec<(String, Link)>, ChainError> {
        walk(first, caller, now, |id| Ok(kv.get(id).cloned()))
    }

    fn decoded(items: &[&RawValue]) -> Vec<Value> {
        items
            .iter()
            .map(|item| serde_json::from_str(item.get()).unwrap())
            .collect()
    }

    #[test]
    fn a_chain_is_rebuilt_oldest_first() {
        let kv = store(&[
            ("r1", "q1", "a1", None),
            ("r2", "q2", "a2", Some("r1")),
            ("r3", "q3", "a3", Some("r2")),
        ]);
        let chain = walk_in(&kv, "r3", "alice", 1000).unwrap();
        let ids: Vec<&str> = chain.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["r3", "r2", "r1"]);
        assert_eq!(
            texts(&decoded(&conversation(&chain))),
            ["q1", "a1", "q2", "a2", "q3", "a3"]
        );
        let body = continue_from(br#"{"model":"gpt","input":"q4"}"#, &chain).unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            texts(body["apex_history"].as_array().unwrap()).len(),
            6,
            "{body}"
        );
    }

    #[test]
    fn a_first_layout_record_ends_the_walk_with_its_history() {
        let mut kv = store(&[("r3", "q3", "a3", Some("r2"))]);
        let legacy = json!({"owner": "alice", "expires_at": 2000,
            "response": {"output": [{"type": "message", "role": "assistant",
                "content": [{"type": "output_text", "text": "a2"}]}]},
            "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "q2"}]}],
            "history": [
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "q1"}]},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a1"}]}]});
        kv.insert("r2".into(), legacy.to_string().into_bytes());
        let chain = walk_in(&kv, "r3", "alice", 1000).unwrap();
        assert_eq!(chain.len(), 2);
        assert_eq!(
            texts(&decoded(&conversation(&chain))),
            ["q1", "a1", "q2", "a2", "q3", "a3"]
        );
    }

    #[test]
    fn a_broken_chain_names_the_missing_response() {
        let kv = store(&[
            ("r2", "q2", "a2", Some("r1")),
            ("r3", "q3", "a3", Some("r2")),
        ]);
        let error = walk_in(&kv, "r3", "alice", 1000).err().unwrap();
        assert_eq!(
            error,
            ChainError::Missing {
                id: "r1".into(),
                depth: 2
            }
        );
        let api = error.error("r3");
        assert_eq!(api.status, 404);
        assert_eq!(api.param, Some("previous_response_id"));
        assert!(api.message.contains("'r1'") && api.message.contains("'r3'"));
        // The first one missing, another key's, or expired: depth 0.
        for (first, caller, now) in [
            ("r9", "alice", 1000),
            ("r3", "bob", 1000),
            ("r3", "alice", 1060),
        ] {
            let error = walk_in(&kv, first, caller, now).err().unwrap();
            assert!(
                matches!(error, ChainError::Missing { depth: 0, .. }),
                "{first} {caller} {now}: {error:?}"
            );
        }
        // Another key's record in the middle of a chain is missing too.
        let mut mixed = kv.clone();
        let (_, bytes) = stored("r2", &json!({"model": "gpt", "input": "q2"}), "a2").unwrap();
        let mut bob = parsed(&bytes);
        bob.owner = "bob".into();
        mixed.insert("r2".into(), serde_json::to_vec(&bob).unwrap());
        assert_eq!(
            walk_in(&mixed, "r3", "alice", 1000).err(),
            Some(ChainError::Missing {
                id: "r2".into(),
                depth: 1
            })
        );
    }

    #[test]
    fn walks_are_bounded_and_loops_found() {
        let kv = store(&[("a", "qa", "aa", Some("b")), ("b", "qb", "ab", Some("a"))]);
        assert_eq!(
            walk_in(&kv, "a", "alice", 1000).err(),
            Some(ChainError::Cycle { id: "a".into() })
        );
        let ids: Vec<String> = (0..=MAX_CHAIN).map(|i| format!("r{i}")).collect();
        let turns: Vec<(&str, &str, &str, Option<&str>)> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                (
                    id.as_str(),
                    "q",
                    "a",
                    i.checked_sub(1).map(|p| ids[p].as_str()),
                )
            })
            .collect();
        let kv = store(&turns);
        let mut reads = 0;
        let error = walk(&ids[MAX_CHAIN], "alice", 1000, |id| {
            reads += 1;
            Ok(kv.get(id).cloned())
        })
        .err();
        assert_eq!(error, Some(ChainError::TooLong));
        assert_eq!(reads, MAX_CHAIN);
        assert_eq!(
            walk_in(&kv, &ids[MAX_CHAIN - 1], "alice", 1000)
                .map(|chain| chain.len())
                .ok(),
            Some(MAX_CHAIN)
        );
    }

    #[test]
    fn a_continued_body_keeps_its_bytes_and_replaces_a_client_history() {
        let kv = store(&[("r1", "q1", "a1", None)]);
        let chain = walk_in(&kv, "r1", "alice", 1000).unwrap();
        let body = br#"{ "model" : "gpt", "apex_history": ["forged"], "input": "q2", "x": 1.50 }"#;
        let out = String::from_utf8(continue_from(body, &chain).unwrap()).unwrap();
        assert!(
            out.ends_with(r#", "model" : "gpt", "input": "q2", "x": 1.50 }"#),
            "{out}"
        );
        let parsed: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            texts(parsed["apex_history"].as_array().unwrap()),
            ["q1", "a1"]
        );
        assert!(continue_from(b"[]", &chain).is_err());
    }

    #[test]
    fn an_extended_record_changes_only_its_expiry() {
        let kv = store(&[("r1", "q1", "a1", None)]);
        let chain = walk_in(&kv, "r1", "alice", 1000).unwrap();
        let (_, link) = &chain[0];
        let again = extended(link, 5000).unwrap();
        let mut before = parsed(&link.bytes);
        let after = parsed(&again);
        assert_eq!(after.expires_at, 5000);
        before.expires_at = 5000;
        assert_eq!(
            serde_json::to_value(&before).unwrap(),
            serde_json::to_value(&after).unwrap()
        );
    }

    #[test]
    fn records_expiring_well_before_a_new_turn_are_extended() {
        let kv = store(&[("r1", "q1", "a1", None), ("r2", "q2", "a2", Some("r1"))]);
        let chain = walk_in(&kv, "r2", "alice", 1000).unwrap();
        // Both expire at 1060; a new turn at 1000 with a 60 s TTL wants 1060: nothing to do.
        assert!(to_extend(&chain, 1000, 60).is_empty());
        // Within a tenth of the TTL: nothing either.
        assert!(to_extend(&chain, 1005, 60).is_empty());
        assert_eq!(to_extend(&chain, 1007, 60), [0, 1]);
    }
}
