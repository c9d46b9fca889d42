//! Apex's wasmtime embedding.
//!
//! - [`components`]: the compiled guest components, embedded at build time
//! - [`engine`]: engine (pooling allocator) and the on-disk cache of compiled components
//! - [`state`]: per-request store data: WASI, wasi-http, key-value and config for the guest
//! - [`freed_memory`]: giving freed heap back to the system once traffic stops
//! - [`code_pages`]: keeping resident only the compiled code that runs
//! - [`kv`]: the key-value store (`wasi:keyvalue/store`), persisted to a file
//! - [`redis`]: the key-value store in Redis (several processes share it)
//! - [`outbound`]: the outbound HTTP hook: a pooled client, or scripted upstreams for tests
//! - [`app`]: the composed app, pre-instantiated, handling one HTTP request per instance
//! - [`server`]: the HTTP/1.1 server on a local address
//!
//! Used by the `apex` binary (local run), the conformance tests and the benchmark.

pub mod app;
pub mod code_pages;
pub mod components;
pub mod engine;
pub mod freed_memory;
pub mod kv;
pub mod outbound;
pub mod redis;
pub mod server;
pub mod state;

pub use app::App;
