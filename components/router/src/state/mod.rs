//! What the gateway keeps in the host's key-value store, and the pure rules behind it.
//!
//! - `shared`: cooldowns, counters, stats and cache entries read and written
//! - `cache`: the response cache's keys and entries; `stats`: counters, latency histograms,
//!   `/stats` and `/metrics`
//! - `responses`: stored `/v1/responses` answers (`previous_response_id`, GET, DELETE, input
//!   items)
//! - `expiry`: which entries expire and the sweep's paging; `sweep`: its I/O
//! - `carry`: reasoning kept for client protocols without a place for it (thought signatures)
//! - `sealed`: secrets sealed before they are stored; `tokens`: cached access tokens, sealed

pub mod cache;
pub mod carry;
pub mod expiry;
pub mod quota;
pub mod sealed;
pub mod stats;
pub mod tokens;
pub mod usage;

#[cfg(target_arch = "wasm32")]
pub mod quota_store;
#[cfg(target_arch = "wasm32")]
pub mod responses;
#[cfg(target_arch = "wasm32")]
pub mod shared;
#[cfg(target_arch = "wasm32")]
pub mod sweep;
