//! The guest components, built and composed by `build.rs`.

/// Router + adapter chain: the whole app.
pub const APEX: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/apex.wasm"));
/// The router alone.
pub const ROUTER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/router.wasm"));
/// The adapter chain `openai ▶ anthropic ▶ gemini ▶ cohere ▶ ollama ▶ end`.
pub const ADAPTERS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/adapters.wasm"));
pub const ADAPTER_OPENAI: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/adapter-openai.wasm"));
pub const ADAPTER_ANTHROPIC: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/adapter-anthropic.wasm"));
pub const ADAPTER_END: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/adapter-end.wasm"));

/// Test fixture: the router composed with a hostile adapter (kind `rogue`) that builds requests
/// outside the provider's origin.
#[doc(hidden)]
pub const TEST_ROGUE_APP: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/test-rogue-app.wasm"));

/// The app behind the key-value/config shim, for `wasmtime serve`.
pub const APEX_WASMTIME_SERVE: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/apex-wasmtime-serve.wasm"));
