//! Apex's router component.
//!
//! - `server`: the `wasi:http/incoming-handler` export: CORS, auth, routes
//! - `surfaces/`: client protocols ⇄ neutral form (`openai_chat`, `models`)
//! - `config`: the TOML config, variables, provider defaults
//! - `routing`: alias → targets → keys
//! - `dispatch`: one chat request through the targets: forward or translate, failover
//! - `transport`: outbound calls and the client response over `wasi:http`
//! - `echo`: the built-in `echo` model (works with no provider configured)
//! - `auth`, `cors`, `error`, `json`, `url`: one job each
//!
//! Pure logic (config, surfaces, auth, url, json) is plain Rust and tested natively; everything
//! that touches WASI lives in `server`, `transport`, `dispatch` and `bindings`.

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
mod dispatch;
#[cfg(target_arch = "wasm32")]
mod server;
#[cfg(target_arch = "wasm32")]
mod transport;
