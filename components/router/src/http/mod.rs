//! The HTTP edge: the incoming handler and its route table, who may ask (gateway keys, CORS, an
//! open gateway's limits, per-key concurrency), errors in each client protocol, and the wire to
//! the client and to providers.
//!
//! - `server`: the `wasi:http/incoming-handler` export (config, CORS, auth, limits, body);
//!   `routes`: which path goes where; `google`: the Gemini API's routes
//! - `auth`, `cors`, `access` (an open gateway: local names, no foreign pages; the admin scope),
//!   `concurrency` (per-key in-flight slots)
//! - `error`: [`error::ApiError`] rendered in each protocol; `reply`: whole answers and headers
//! - `redact`: secrets out of every upstream-derived byte a client sees, in every encoding
//! - `sse`: a forwarded event stream cut into whole events, each checked before it is passed on
//! - `status_page`: the HTML status page (`GET /ui`; `GET /` for browsers), which reads `/stats`
//! - `transport`: outbound calls and the client response over `wasi:http`
//! - `url`: provider base URLs and same-origin checks

pub mod access;
pub mod auth;
mod client;
pub mod concurrency;
pub mod cors;
pub mod error;
pub mod redact;
pub mod request_log;
pub mod sse;
pub mod status_page;
pub mod url;

pub use client::Client;

#[cfg(target_arch = "wasm32")]
mod google;
#[cfg(target_arch = "wasm32")]
pub mod reply;
#[cfg(target_arch = "wasm32")]
mod routes;
#[cfg(target_arch = "wasm32")]
mod server;
#[cfg(target_arch = "wasm32")]
pub mod transport;
