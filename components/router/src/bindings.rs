//! Imports of the router besides WASI HTTP: key-value, config and the adapter chain.

wit_bindgen::generate!({
    path: "../../wit",
    world: "apex:gateway/router-imports",
    with: { "apex:gateway/types@0.3.0": ::apex_adapter_kit::types },
    generate_all,
});

pub use apex::gateway::adapter;
pub use wasi::config::store as config_store;
pub use wasi::keyvalue::atomics as kv_atomics;
pub use wasi::keyvalue::store as kv;
