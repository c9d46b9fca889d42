//! Apex's integration tests, in one binary: wasmtime and the compiled components are linked and
//! built once, and the composed app is shared by every test (see `common`).

mod common;

mod adapter_fixtures;
mod anthropic_messages;
mod chat;
mod client_libs;
mod local_host;
mod openai_sdk;
mod operators;
mod outbound;
mod redis_kv;
mod responses;
mod routing;
mod scenarios;
mod spin_manifest;
mod vertex;
mod wasmtime_serve;
