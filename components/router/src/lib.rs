//! Apex's router component.
//!
//! - `server`: the `wasi:http/incoming-handler` export: CORS, auth, routes
//! - `surfaces/`: client protocols ⇄ neutral form (`openai_chat`, `anthropic_messages`,
//!   `responses`, `ollama`, `models`)
//! - `responses_api`: stored responses over the key-value store (`previous_response_id`, GET,
//!   DELETE, input items)
//! - `accumulate`: a stream folded back into the whole answer
//! - `config`: the TOML config, variables, provider defaults
//! - `routing`: alias → targets → keys
//! - `dispatch`: one chat request through the targets: forward or translate, failover
//! - `count_tokens`: Anthropic's token counting (the provider's, or a local estimate)
//! - `transport`: outbound calls and the client response over `wasi:http`
//! - `echo`: the built-in `echo` model (works with no provider configured)
//! - `auth`, `cors`, `error`, `json`, `url`: one job each
//!
//! Pure logic (config, surfaces, auth, url, json) is plain Rust and tested natively; everything
//! that touches WASI lives in `server`, `transport`, `dispatch` and `bindings`.

pub mod accumulate;
pub mod auth;
pub mod config;
pub mod cors;
pub mod echo;
pub mod error;
pub mod json;
pub mod routing;
pub mod surfaces;
pub mod url;

#[cfg(target_arch = "wasm32")]
mod bindings;
#[cfg(target_arch = "wasm32")]
mod count_tokens;
#[cfg(target_arch = "wasm32")]
mod dispatch;
#[cfg(target_arch = "wasm32")]
mod responses_api;
#[cfg(target_arch = "wasm32")]
mod server;
#[cfg(target_arch = "wasm32")]
mod transport;
