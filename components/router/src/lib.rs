//! Apex's router component. The folders are the architecture:
//!
//! - `http/`: the incoming handler, route table, auth, CORS, errors, the wire
//! - `surfaces/`: client protocols ⇄ the neutral form (`openai_chat`, `anthropic_messages`,
//!   `responses`, `ollama`, `models`)
//! - `routing/`: alias → targets → keys, their order and health, and the dispatch of a request
//!   through them (failover, translation or forwarding, streaming)
//! - `state/`: what is kept in the key-value store (cooldowns, stats, the cache, stored
//!   responses, expiry)
//! - `config/`: the TOML config, variables, the provider catalog
//! - `platform`: clocks, ids, the store handle, host variables, the log stream
//! - `output`: writing a whole buffer to a host output stream (bodies, the log line)
//! - `adapters`: the adapter chain answering the configuration's questions about kinds (the
//!   router knows no provider kind by name)
//!
//! Pure logic is plain Rust and tested natively; what touches WASI is compiled for wasm32 only
//! (`platform`, `bindings`, and the I/O modules each folder marks so).

pub mod config;
pub mod hex;
pub mod http;
pub mod routing;
pub mod state;
pub mod surfaces;
pub mod time;

#[cfg(target_arch = "wasm32")]
mod adapters;
#[cfg(target_arch = "wasm32")]
mod bindings;
#[cfg(target_arch = "wasm32")]
mod output;
#[cfg(target_arch = "wasm32")]
mod platform;
