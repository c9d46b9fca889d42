//! Apex's router component.
//!
//! - `server`: the `wasi:http/incoming-handler` export: CORS, auth, routes
//! - `surfaces/`: client protocols ⇄ neutral form (`openai_chat`, `anthropic_messages`,
//!   `responses`, `ollama`, `models`)
//! - `responses_api`: stored responses over the key-value store (`previous_response_id`, GET,
//!   DELETE, input items)
//! - `accumulate`: a stream folded back into the whole answer
//! - `config`: the TOML config, variables, provider defaults
//! - `routing`: alias → targets → keys; `strategy`: the order of targets (failover, round-robin,
//!   weighted, random, least-used); `health`: cooldowns; `cache_key`: the response cache's keys and
//!   entries; `stats`: counters, latency histograms, `/stats` and `/metrics`
//! - `shared_state`: those kept in the key-value store (cooldowns, counters, stats, cache)
//! - `expiry`: which stored entries expire, and the sweep's paging; `sweep`: its I/O, after a
//!   request, at most once a minute per store
//! - `dispatch`: one chat request through the targets: forward or translate, failover
//! - `count_tokens`: Anthropic's token counting (the provider's, or a local estimate)
//! - `transport`: outbound calls and the client response over `wasi:http`
//! - `echo`: the built-in `echo` model (works with no provider configured)
//! - `google_auth` (service-account JWTs) and `credentials` (access tokens cached in the
//!   key-value store, sealed by `sealed`): Vertex AI's OAuth
//! - `concurrency`: per-key in-flight request slots in the key-value store
//! - `access`: what an open gateway answers (local names, no foreign pages), and the admin scope
//! - `auth`, `cors`, `error`, `json`, `url`: one job each
//!
//! Pure logic (config, surfaces, auth, url, json) is plain Rust and tested natively; everything
//! that touches WASI lives in `server`, `transport`, `dispatch`, `sweep` and `bindings`.

pub mod access;
pub mod accumulate;
pub mod auth;
pub mod cache_key;
pub mod concurrency;
pub mod config;
pub mod cors;
pub mod echo;
pub mod error;
pub mod expiry;
pub mod google_auth;
pub mod health;
pub mod json;
pub mod routing;
pub mod sealed;
pub mod stats;
pub mod strategy;
pub mod surfaces;
pub mod url;

#[cfg(target_arch = "wasm32")]
mod bindings;
#[cfg(target_arch = "wasm32")]
mod count_tokens;
#[cfg(target_arch = "wasm32")]
mod credentials;
#[cfg(target_arch = "wasm32")]
mod dispatch;
#[cfg(target_arch = "wasm32")]
mod responses_api;
#[cfg(target_arch = "wasm32")]
mod server;
#[cfg(target_arch = "wasm32")]
mod shared_state;
#[cfg(target_arch = "wasm32")]
mod sweep;
#[cfg(target_arch = "wasm32")]
mod transport;
