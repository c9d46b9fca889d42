//! The wasmtime engine and compiled-component cache.

use std::path::Path;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Most linear-memory bytes one guest memory may use.
const MAX_MEMORY: usize = 512 << 20;

/// An engine with the pooling allocator sized for a few hundred concurrent requests.
pub fn new_engine() -> Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(512)
        .total_core_instances(4096)
        .total_memories(2048)
        .total_tables(4096)
        .max_memories_per_component(16)
        .max_memory_size(MAX_MEMORY);
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.memory_reservation(MAX_MEMORY as u64);
    config.memory_reservation_for_growth(0);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Ok(Engine::new(&config)?)
}

/// Compile `wasm`, or load the machine code compiled earlier from `cache_dir`.
pub fn load_component(engine: &Engine, wasm: &[u8], cache_dir: Option<&Path>) -> Result<Component> {
    let Some(dir) = cache_dir else {
        return Ok(Component::new(engine, wasm)?);
    };
    let mut hasher = Sha256::new();
    hasher.update(wasm);
    std::hash::Hash::hash(
        &engine.precompile_compatibility_hash(),
        &mut HashWriter(&mut hasher),
    );
    let digest = hasher.finalize();
    let name: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let path = dir.join(format!("{name}.cwasm"));
    if path.exists() {
        // SAFETY: the file was written by `Component::serialize` of this same engine configuration
        // (the name hashes the wasm and the engine's compatibility hash) into our own data dir.
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
            return Ok(component);
        }
    }
    let component = Component::new(engine, wasm)?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let bytes = component.serialize()?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, &path)?;
    Ok(component)
}

struct HashWriter<'a>(&'a mut Sha256);

impl std::hash::Hasher for HashWriter<'_> {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}
