//! Which key-value entries expire, and the sweep that deletes them, as pure data: the router's
//! `sweep` module does the I/O.
//!
//! Every entry the router writes either carries its expiry in its value or is a bounded counter:
//!
//! | key | expires |
//! | --- | --- |
//! | `apex:response:<id>` (stored response) | `expires_at` (s): `responses_ttl_secs` after it was made (or last continued) |
//! | `apex:response-route:<id>` (native response's provider and key) | `expires_at` (s), as above |
//! | `apex:cache:<hash>` (cached answer) | `stored_at_ms` + `ttl_secs` |
//! | `apex:cool:key:…`, `apex:cool:target:…` (cooldowns) | `until_ms`; strikes a day after the last one ([`Cooldown::expires_at_ms`]) |
//! | `apex:token:<provider>#<i>` (access token exchanged for a credential) | `expires_at` (s) |
//! | `apex:carry:<caller>:<call id>` (reasoning kept for a client protocol without a place for it) | `expires_at` (s): `responses_ttl_secs` after the answer |
//! | `apex:stats:…`, `apex:rr:…`, `apex:rotation:…` | never: a few per configured alias or provider |
//! | `apex:sweep:last` ([`SweepState`]) | never: one entry |
//!
//! Expired entries already read as absent; the sweep only reclaims their space. It runs after a
//! request at most every [`INTERVAL_SECS`] per store (the time of the last one is kept in
//! [`STATE_KEY`]), lists the store's keys and reads at most [`MAX_EXAMINED`] entries with the
//! prefixes above (and at most [`MAX_BYTES`] of values), deleting those its value says are
//! expired; the next sweep goes on after the last key read (in key order, within the host's
//! page of keys). Entries it cannot parse, and keys with other prefixes, are left alone.

use serde::{Deserialize, Serialize};

use crate::routing::health::{self, Cooldown};

/// Where the sweep keeps its state (when it last ran, where it stopped).
pub const STATE_KEY: &str = "apex:sweep:last";
/// The least time between two sweeps of one store.
pub const INTERVAL_SECS: u64 = 60;
/// The most entries one sweep reads.
pub const MAX_EXAMINED: usize = 1000;
/// The most value bytes one sweep reads (it stops after the entry that crosses it).
pub const MAX_BYTES: usize = 16 * 1024 * 1024;

/// The kinds of entries that expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A stored response (`expires_at`, seconds).
    Response,
    /// A native response's route (`expires_at`, seconds).
    Route,
    /// A cached answer (`stored_at_ms` + `ttl_secs`).
    Cache,
    /// A key's or target's cooldown.
    Cooldown,
    /// A cached access token (`expires_at`, seconds).
    Token,
    /// Reasoning kept for a client protocol without a place for it (`expires_at`, seconds).
    Carried,
}

/// The kind of entry `key` names, if it is one that expires.
pub fn kind_of(key: &str) -> Option<Kind> {
    use crate::surfaces::responses::{RECORD_PREFIX, ROUTE_PREFIX};
    let kinds = [
        (RECORD_PREFIX, Kind::Response),
        (ROUTE_PREFIX, Kind::Route),
        (crate::state::cache::KV_PREFIX, Kind::Cache),
        (health::KEY_PREFIX, Kind::Cooldown),
        (health::TARGET_PREFIX, Kind::Cooldown),
        (crate::state::tokens::TOKEN_PREFIX, Kind::Token),
        (crate::state::carry::KV_PREFIX, Kind::Carried),
    ];
    kinds
        .iter()
        .find(|(prefix, _)| key.starts_with(prefix))
        .map(|(_, kind)| *kind)
}

/// Whether the entry `key` = `value` has expired at `now_ms` (wall clock, milliseconds since the
/// Unix epoch). `false` for keys that do not expire and values that cannot be read.
pub fn is_expired(key: &str, value: &[u8], now_ms: u64) -> bool {
    #[derive(Deserialize)]
    struct ExpiresAt {
        expires_at: u64,
    }
    #[derive(Deserialize)]
    struct Cached {
        stored_at_ms: u64,
        ttl_secs: u64,
    }
    let now_secs = now_ms / 1000;
    if key.starts_with(crate::state::quota::LIMIT_PREFIX)
        || key.starts_with(crate::state::quota::USAGE_PREFIX)
    {
        return crate::state::quota::expired(key, now_secs);
    }
    match kind_of(key) {
        None => false,
        Some(Kind::Response | Kind::Route | Kind::Token | Kind::Carried) => {
            serde_json::from_slice::<ExpiresAt>(value).is_ok_and(|v| v.expires_at <= now_secs)
        }
        Some(Kind::Cache) => serde_json::from_slice::<Cached>(value).is_ok_and(|v| {
            v.stored_at_ms
                .saturating_add(v.ttl_secs.saturating_mul(1000))
                <= now_ms
        }),
        Some(Kind::Cooldown) => {
            Cooldown::decode(value).is_some_and(|c| c.expires_at_ms() <= now_ms)
        }
    }
}

/// What the sweep keeps between runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepState {
    /// When the last sweep began (wall clock, seconds).
    pub at: u64,
    /// The host's cursor for the page of keys the next sweep reads (`None`: the first page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// The last key read in that page: the next sweep goes on after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

impl SweepState {
    /// The stored state (`None`: there is none, or it is unreadable: sweep from the start).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Whether a sweep is due at `now` (seconds): [`INTERVAL_SECS`] after the last, or when the
    /// last one claims to be far in the future (a clock that was wrong must not stop sweeps).
    pub fn is_due(&self, now: u64) -> bool {
        now >= self.at.saturating_add(INTERVAL_SECS) || self.at > now.saturating_add(INTERVAL_SECS)
    }
}

/// One sweep's work: the keys to read, in order, and how to go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Keys of entries that may expire, in key order, at most [`MAX_EXAMINED`].
    pub examine: Vec<String>,
    /// The cursor this page of keys was listed with.
    page: Option<String>,
    /// The host's cursor for the next page (`None`: this was the last).
    next_page: Option<String>,
    /// Whether this page has more keys after `examine`.
    more_in_page: bool,
    /// Where the last sweep stopped in this page.
    after: Option<String>,
}

/// The batch for a page of `keys` listed with cursor `page` (the host's `next_page` cursor after
/// it), going on after key `after` of that page.
pub fn batch(
    keys: Vec<String>,
    page: Option<String>,
    next_page: Option<String>,
    after: Option<String>,
) -> Batch {
    let mut examine: Vec<String> = keys
        .into_iter()
        .filter(|key| kind_of(key).is_some())
        .filter(|key| after.as_ref().is_none_or(|after| key > after))
        .collect();
    let more_in_page = examine.len() > MAX_EXAMINED;
    if more_in_page {
        examine.select_nth_unstable(MAX_EXAMINED);
        examine.truncate(MAX_EXAMINED);
    }
    examine.sort_unstable();
    Batch {
        examine,
        page,
        next_page,
        more_in_page,
        after,
    }
}

impl Batch {
    /// The state to keep at `now` after the first `read` keys of `examine` were read: go on after
    /// the last of them, or with the next page when this one is done (from the first page again
    /// after the last).
    pub fn state_after(&self, read: usize, now: u64) -> SweepState {
        let done = read >= self.examine.len();
        if done && !self.more_in_page {
            return SweepState {
                at: now,
                cursor: self.next_page.clone(),
                after: None,
            };
        }
        let last = read
            .checked_sub(1)
            .and_then(|i| self.examine.get(i))
            .cloned()
            .or_else(|| self.after.clone());
        SweepState {
            at: now,
            cursor: self.page.clone(),
            after: last,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const NOW_MS: u64 = 1_700_000_000_000;
    const NOW: u64 = NOW_MS / 1000;

    #[test]
    fn every_kind_of_entry_says_when_it_expires() {
        let cases: &[(&str, String, bool)] = &[
            (
                "apex:response:resp_1",
                format!(r#"{{"owner":"a","expires_at":{NOW},"response":{{}},"input":[]}}"#),
                true,
            ),
            (
                "apex:response:resp_1",
                format!(r#"{{"owner":"a","expires_at":{}}}"#, NOW + 1),
                false,
            ),
            (
                "apex:response-route:resp_1",
                format!(
                    r#"{{"provider":"oa","key_index":0,"owner":"a","expires_at":{}}}"#,
                    NOW - 1
                ),
                true,
            ),
            (
                "apex:response-route:resp_1",
                format!(r#"{{"expires_at":{}}}"#, NOW + 60),
                false,
            ),
            (
                "apex:cache:ab12",
                format!(
                    r#"{{"response":{{}},"stored_at_ms":{},"ttl_secs":60}}"#,
                    NOW_MS - 60_000
                ),
                true,
            ),
            (
                "apex:cache:ab12",
                format!(
                    r#"{{"response":{{}},"stored_at_ms":{},"ttl_secs":60}}"#,
                    NOW_MS - 59_999
                ),
                false,
            ),
            (
                "apex:cool:key:oa#0",
                format!(r#"{{"until_ms":{NOW_MS},"reason":"rate-limited"}}"#),
                true,
            ),
            (
                "apex:cool:target:oa/m",
                format!(r#"{{"until_ms":{},"reason":"server"}}"#, NOW_MS + 1),
                false,
            ),
            (
                "apex:cool:target:oa/m",
                format!(r#"{{"until_ms":0,"reason":"server","strikes":1,"at_ms":{NOW_MS}}}"#),
                false,
            ),
            (
                "apex:cool:target:oa/m",
                format!(
                    r#"{{"until_ms":0,"reason":"server","strikes":1,"at_ms":{}}}"#,
                    NOW_MS - health::STRIKES_KEPT_MS
                ),
                true,
            ),
            (
                "apex:token:vx#0",
                format!(r#"{{"token":"t","expires_at":{NOW}}}"#),
                true,
            ),
            (
                "apex:token:vx#0",
                format!(r#"{{"token":"t","expires_at":{}}}"#, NOW + 1),
                false,
            ),
            // Never expire: counters, stats, the sweep's own state, other applications' keys.
            ("apex:rr:gpt", "7".into(), false),
            ("apex:rotation:oa", "7".into(), false),
            ("apex:stats:gpt:0", r#"{"expires_at":1}"#.into(), false),
            (STATE_KEY, r#"{"at":1,"expires_at":1}"#.into(), false),
            ("other:key", r#"{"expires_at":1}"#.into(), false),
            // Unreadable values are left alone.
            ("apex:response:resp_2", "garbage".into(), false),
            (
                "apex:cool:key:oa#1",
                r#"{"until_ms":1,"reason":"a-future-class"}"#.into(),
                false,
            ),
        ];
        for (key, value, expired) in cases {
            assert_eq!(
                is_expired(key, value.as_bytes(), NOW_MS),
                *expired,
                "{key} = {value}"
            );
        }
    }

    #[test]
    fn sweeps_are_due_a_minute_apart() {
        let state = SweepState {
            at: NOW,
            ..Default::default()
        };
        assert!(!state.is_due(NOW));
        assert!(!state.is_due(NOW + INTERVAL_SECS - 1));
        assert!(state.is_due(NOW + INTERVAL_SECS));
        assert!(SweepState::default().is_due(NOW), "never swept");
        // A time far ahead (a clock that was wrong) does not stop sweeps.
        let ahead = SweepState {
            at: NOW + 2 * INTERVAL_SECS,
            ..Default::default()
        };
        assert!(ahead.is_due(NOW));
        let bytes = SweepState {
            at: NOW,
            cursor: Some("c".into()),
            after: Some("k".into()),
        }
        .encode();
        assert_eq!(
            SweepState::decode(&bytes).unwrap().after.as_deref(),
            Some("k")
        );
        assert_eq!(SweepState::decode(b"junk"), None);
        assert_eq!(
            String::from_utf8(
                SweepState {
                    at: 5,
                    ..Default::default()
                }
                .encode()
            )
            .unwrap(),
            r#"{"at":5}"#
        );
    }

    fn keys(n: usize) -> Vec<String> {
        let mut keys: Vec<String> = (0..n).map(|i| format!("apex:cache:{i:05}")).collect();
        keys.extend(["apex:rr:x", "apex:stats:x:0", "other", STATE_KEY].map(String::from));
        // Hosts list in any order.
        keys.reverse();
        keys
    }

    #[test]
    fn a_sweep_reads_only_expiring_entries_a_thousand_at_a_time() {
        let first = batch(keys(2500), None, None, None);
        assert_eq!(first.examine.len(), MAX_EXAMINED);
        assert_eq!(first.examine[0], "apex:cache:00000");
        assert_eq!(first.examine[999], "apex:cache:00999");
        let state = first.state_after(MAX_EXAMINED, NOW);
        assert_eq!(
            state,
            SweepState {
                at: NOW,
                cursor: None,
                after: Some("apex:cache:00999".into())
            }
        );

        let second = batch(keys(2500), state.cursor, None, state.after);
        assert_eq!(second.examine[0], "apex:cache:01000");
        let state = second.state_after(MAX_EXAMINED, NOW);
        let third = batch(keys(2500), state.cursor, None, state.after);
        assert_eq!(third.examine.len(), 500);
        // The end of the last page: the next sweep starts over.
        assert_eq!(
            third.state_after(500, NOW),
            SweepState {
                at: NOW,
                ..Default::default()
            }
        );
        // Only the kinds that expire are read.
        let small = batch(keys(3), None, None, None);
        assert_eq!(
            small.examine,
            ["apex:cache:00000", "apex:cache:00001", "apex:cache:00002"]
        );
    }

    #[test]
    fn a_sweep_stopped_early_goes_on_after_the_last_key_read() {
        let page = batch(keys(10), None, None, None);
        assert_eq!(
            page.state_after(4, NOW).after.as_deref(),
            Some("apex:cache:00003")
        );
        // Nothing read: where the last one stopped.
        let later = batch(keys(10), None, None, Some("apex:cache:00005".into()));
        assert_eq!(later.examine.len(), 4);
        assert_eq!(
            later.state_after(0, NOW).after.as_deref(),
            Some("apex:cache:00005")
        );
    }

    #[test]
    fn pages_a_host_hands_out_are_followed() {
        // A host that pages: this page done, on to the next with the host's cursor.
        let page = batch(keys(5), Some("p2".into()), Some("p3".into()), None);
        assert_eq!(
            page.state_after(5, NOW),
            SweepState {
                at: NOW,
                cursor: Some("p3".into()),
                after: None
            }
        );
        // A page with more than a sweep can read: the same page again, after the last key read.
        let big = batch(keys(1200), Some("p2".into()), Some("p3".into()), None);
        assert_eq!(
            big.state_after(MAX_EXAMINED, NOW),
            SweepState {
                at: NOW,
                cursor: Some("p2".into()),
                after: Some("apex:cache:00999".into())
            }
        );
    }
}
