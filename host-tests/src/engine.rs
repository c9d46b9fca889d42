//! The wasmtime engine, the compiled-component cache, and guests' CPU budgets.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{
    Config, Engine, EngineWeak, InstanceAllocationStrategy, PoolingAllocationConfig, Store,
    UpdateDeadline,
};

/// Most linear-memory bytes one guest memory may use.
const MAX_MEMORY: usize = 512 << 20;

/// Concurrent instances of the app the pool holds unless told otherwise: one per connection the
/// local host accepts by default (`server::Limits::max_connections`).
pub const DEFAULT_MAX_INSTANCES: u32 = 1024;

/// What one instance of a composed app takes from the pooling allocator: its core instances
/// (router, adapters, and the glue and adapter modules between them), memories and tables.
/// Measured by instantiating the app once ([`crate::App::from_wasm`]), so the pool is sized from
/// the chain it actually runs, whatever adapters it holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InstanceNeeds {
    pub core_instances: u32,
    pub memories: u32,
    pub tables: u32,
}

/// Per-instance limits above any chain Apex composes: for measuring one, and for an engine that
/// several apps share.
pub const ANY_APP: InstanceNeeds = InstanceNeeds {
    core_instances: 256,
    memories: 64,
    tables: 64,
};

/// An engine whose pooling allocator holds `instances` concurrent instances of an app that needs
/// `needs` each (and `instances` async stacks, one per running request): [`crate::App`] runs no
/// more at once, so requests wait for an instance instead of failing in the allocator.
pub fn engine_for(needs: InstanceNeeds, instances: u32) -> Result<Engine> {
    let instances = instances.max(1);
    let total = |per_instance: u32| per_instance.max(1).saturating_mul(instances);
    build_engine(
        needs,
        instances,
        InstanceNeeds {
            core_instances: total(needs.core_instances),
            memories: total(needs.memories),
            tables: total(needs.tables),
        },
    )
}

/// An engine several apps share (the tests'): any chain fits, a few hundred instances in all.
pub fn new_engine() -> Result<Engine> {
    build_engine(
        ANY_APP,
        512,
        InstanceNeeds {
            core_instances: 4096,
            memories: 2048,
            tables: 4096,
        },
    )
}

/// Address space reserved for each guest memory when the system has room for it: all a 32-bit
/// wasm address can reach. Every load and store is then caught by guard pages instead of an
/// explicit bounds check in the guest's code (with a Spectre-safe select), which made small chats
/// take about a quarter less of the gateway's CPU. It is address space only, not memory: about 4
/// GiB per pooled memory, tens of TiB for the default pool.
const FULL_RESERVATION: u64 = 1 << 32;

fn build_engine(per_app: InstanceNeeds, instances: u32, total: InstanceNeeds) -> Result<Engine> {
    match build_engine_reserving(per_app, instances, total, FULL_RESERVATION) {
        Ok(engine) => Ok(engine),
        // A system with less address space (a `ulimit -v`, a smaller virtual address size):
        // reserve what a memory may grow to and let the guests check their bounds.
        Err(full) => {
            let engine = build_engine_reserving(per_app, instances, total, MAX_MEMORY as u64)
                .map_err(|e| e.context(format!("with 4 GiB per memory: {full:#}")))?;
            eprintln!(
                "apex: no room for 4 GiB of address space per guest memory ({full:#}); \
                 guests check their memory bounds instead (slower)"
            );
            Ok(engine)
        }
    }
}

fn build_engine_reserving(
    per_app: InstanceNeeds,
    instances: u32,
    total: InstanceNeeds,
    reservation: u64,
) -> Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(instances)
        .total_core_instances(total.core_instances)
        .total_memories(total.memories)
        .total_tables(total.tables)
        .total_stacks(instances)
        .max_core_instances_per_component(per_app.core_instances.max(1))
        .max_memories_per_component(per_app.memories.max(1))
        .max_tables_per_component(per_app.tables.max(1))
        .max_memory_size(MAX_MEMORY);
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.memory_reservation(reservation);
    config.memory_reservation_for_growth(0);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    // A store keeps its async stack for every call it makes, so a stack goes back to the pool only
    // when its instance is dropped (after a burst, or every `MAX_REQUESTS_PER_INSTANCE`). Zeroing
    // it then hands its pages back to the system: without it, each of the stacks a burst
    // touched stays resident (about 12 KiB each, 12 MiB after 1,000 at once).
    config.async_stack_zeroing(true);
    // Guests check the epoch, so a store can be stopped (see `meter_cpu`); every store of this
    // engine needs `meter_cpu` (or an epoch deadline of its own) before it runs.
    config.epoch_interruption(true);
    // `APEX_PERF_MAP=1`: name guest functions for `perf` (to profile the guests' share).
    if std::env::var_os("APEX_PERF_MAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    let engine = Engine::new(&config)?;
    start_ticking(&engine);
    Ok(engine)
}

/// How often the epoch advances.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Ticks since the ticker started: the coarse clock CPU time is measured with.
static TICKS: AtomicU64 = AtomicU64::new(0);

/// One thread for the process advances every live engine's epoch each [`EPOCH_TICK`].
fn start_ticking(engine: &Engine) {
    static ENGINES: OnceLock<Mutex<Vec<EngineWeak>>> = OnceLock::new();
    let mut started = false;
    let engines = ENGINES.get_or_init(|| {
        started = true;
        Mutex::default()
    });
    engines
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(engine.weak());
    if !started {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("apex-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                TICKS.fetch_add(1, Ordering::Relaxed);
                let mut engines = engines.lock().unwrap_or_else(|p| p.into_inner());
                engines.retain(|weak| match weak.upgrade() {
                    Some(engine) => {
                        engine.increment_epoch();
                        true
                    }
                    None => false,
                });
            }
        });
    if let Err(e) = spawned {
        eprintln!("apex: cannot start the epoch thread ({e}); guests will stop at once");
    }
}

/// A guest ran past its CPU budget for one request; its instance is discarded.
#[derive(Debug)]
pub struct CpuBudgetExceeded(pub Duration);

impl std::fmt::Display for CpuBudgetExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the guest ran past its CPU budget of {:?}", self.0)
    }
}

impl std::error::Error for CpuBudgetExceeded {}

/// The time one store's guest spends running (not waiting in host calls), in ticks.
///
/// A guest runs only while the future of a call into it is being polled (wasmtime runs it on a
/// fiber inside `poll`, and a host call that waits returns `Pending` from there), so the meter
/// counts the ticks that pass during those polls ([`CpuMeter::metered`]) — the guest's code and
/// the host's synchronous work for it, not its waits. (A call hook on every host call measured
/// the same, at a cost on each of the ~100 host calls a request makes.)
#[derive(Debug)]
pub struct CpuMeter {
    budget: Duration,
    spent: AtomicU64,
    /// The tick the current poll began at, plus one; 0 between polls.
    entered: AtomicU64,
}

impl CpuMeter {
    /// Start counting anew (a reused instance's next request).
    pub fn reset(&self) {
        self.spent.store(0, Ordering::Relaxed);
    }

    /// Guest time so far, whole ticks (a poll counts the tick boundaries it crossed, so short
    /// polls average out right).
    pub fn spent(&self) -> Duration {
        let now = TICKS.load(Ordering::Relaxed);
        let running = match self.entered.load(Ordering::Relaxed) {
            0 => 0,
            entered => now.saturating_sub(entered - 1),
        };
        EPOCH_TICK * (self.spent.load(Ordering::Relaxed) + running) as u32
    }

    /// `call` (a call into the guest of this meter's store) with its polls counted.
    pub fn metered<F: Future>(self: &Arc<Self>, call: F) -> Metered<F> {
        Metered {
            meter: Arc::clone(self),
            call,
        }
    }

    fn enter(&self) {
        self.entered
            .store(TICKS.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    fn leave(&self) {
        let entered = self.entered.swap(0, Ordering::Relaxed);
        if entered != 0 {
            let now = TICKS.load(Ordering::Relaxed);
            self.spent
                .fetch_add(now.saturating_sub(entered - 1), Ordering::Relaxed);
        }
    }
}

pin_project_lite::pin_project! {
    /// A call into a guest whose polls count towards its [`CpuMeter`].
    pub struct Metered<F> {
        meter: Arc<CpuMeter>,
        #[pin]
        call: F,
    }
}

impl<F: Future> Future for Metered<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        this.meter.enter();
        let result = this.call.poll(cx);
        this.meter.leave();
        result
    }
}

/// Give `store`'s guest a CPU budget per request: time spent running guest code, counted in the
/// polls of the calls wrapped with [`CpuMeter::metered`] (waits in host calls, for the network
/// or the client, do not count). Past it the guest traps with [`CpuBudgetExceeded`]. The guest
/// also yields to other tasks at every epoch tick, so one busy guest cannot hold a worker thread.
pub fn meter_cpu<T: 'static>(store: &mut Store<T>, budget: Duration) -> Arc<CpuMeter> {
    let meter = Arc::new(CpuMeter {
        budget,
        spent: AtomicU64::new(0),
        entered: AtomicU64::new(0),
    });
    let checked = Arc::clone(&meter);
    store.epoch_deadline_callback(move |_| {
        if checked.spent() > checked.budget {
            return Err(CpuBudgetExceeded(checked.budget).into());
        }
        Ok(UpdateDeadline::Yield(1))
    });
    store.set_epoch_deadline(1);
    meter
}

/// Compile `wasm`, or load the machine code compiled earlier from `cache_dir`.
pub fn load_component(engine: &Engine, wasm: &[u8], cache_dir: Option<&Path>) -> Result<Component> {
    match cache_dir {
        None => Ok(Component::new(engine, wasm)?),
        Some(dir) => Ok(load_cached(engine, wasm, dir)?.0),
    }
}

/// Load the machine code compiled earlier into `dir`, or compile `wasm` and store it there; with
/// the file it is in.
pub fn load_cached(
    engine: &Engine,
    wasm: &[u8],
    dir: &Path,
) -> Result<(Component, std::path::PathBuf)> {
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
            return Ok((component, path));
        }
    }
    let component = Component::new(engine, wasm)?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let bytes = component.serialize()?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, &path)?;
    Ok((component, path))
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use wasmtime::{Linker, Module};

    /// `(module (import "host" "wait" (func)) (func (export "spin") (loop (br 0)))
    ///  (func (export "wait_often") (local i32) (loop (call 0) (local.set 0 (i32.add (local.get 0)
    ///  (i32.const 1))) (br_if 0 (i32.lt_u (local.get 0) (i32.const 20))))))`
    const GUEST: &[u8] = &[
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
        0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // types: () -> ()
        0x02, 0x0d, 0x01, 0x04, b'h', b'o', b's', b't', 0x04, b'w', b'a', b'i', b't', 0x00,
        0x00, // import host.wait
        0x03, 0x03, 0x02, 0x00, 0x00, // two functions of type 0
        0x07, 0x15, 0x02, 0x04, b's', b'p', b'i', b'n', 0x00, 0x01, 0x0a, b'w', b'a', b'i', b't',
        b'_', b'o', b'f', b't', b'e', b'n', 0x00, 0x02, // exports
        0x0a, 0x21, 0x02, // code: two bodies
        0x07, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b, // spin: loop br 0
        0x17, 0x01, 0x01, 0x7f, // wait_often: one i32 local
        0x03, 0x40, 0x10, 0x00, // loop, call wait
        0x20, 0x00, 0x41, 0x01, 0x6a, 0x21, 0x00, // local0 += 1
        0x20, 0x00, 0x41, 0x14, 0x49, 0x0d, 0x00, // br_if 0 (local0 < 20)
        0x0b, 0x0b,
    ];

    async fn run(export: &str, budget: Duration) -> (wasmtime::Result<()>, Arc<CpuMeter>) {
        let engine = new_engine().unwrap();
        let module = Module::new(&engine, GUEST).unwrap();
        let mut linker = Linker::new(&engine);
        linker
            .func_wrap_async("host", "wait", |_, (): ()| {
                Box::new(async {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                })
            })
            .unwrap();
        let mut store = Store::new(&engine, ());
        let meter = meter_cpu(&mut store, budget);
        let instance = linker.instantiate_async(&mut store, &module).await.unwrap();
        let func = instance
            .get_typed_func::<(), ()>(&mut store, export)
            .unwrap();
        let result = tokio::time::timeout(
            Duration::from_secs(60),
            meter.metered(func.call_async(&mut store, ())),
        )
        .await
        .expect("the budget must stop the guest");
        (result, meter)
    }

    #[tokio::test]
    async fn a_guest_that_never_stops_is_stopped_by_its_budget() {
        let (result, meter) = run("spin", Duration::from_millis(300)).await;
        let error = result.unwrap_err();
        assert!(
            error.downcast_ref::<CpuBudgetExceeded>().is_some(),
            "{error:?}"
        );
        assert!(meter.spent() >= Duration::from_millis(300));
    }

    #[tokio::test]
    async fn a_stack_back_in_the_pool_keeps_no_memory_resident() {
        // The pool `apex` runs with: a dropped instance's async stack goes back with its pages
        // returned to the system, not kept resident (after a burst, ~1,000 of them).
        let needs = InstanceNeeds {
            core_instances: 1,
            memories: 1,
            tables: 1,
        };
        let engine = engine_for(needs, 2).unwrap();
        let module = Module::new(&engine, GUEST).unwrap();
        let mut linker = Linker::new(&engine);
        linker
            .func_wrap_async("host", "wait", |_, (): ()| Box::new(async {}))
            .unwrap();
        let mut store = Store::new(&engine, ());
        meter_cpu(&mut store, Duration::from_secs(10));
        let instance = linker.instantiate_async(&mut store, &module).await.unwrap();
        let func = instance
            .get_typed_func::<(), ()>(&mut store, "wait_often")
            .unwrap();
        func.call_async(&mut store, ()).await.unwrap();
        drop(store);
        let pool = engine.pooling_allocator_metrics().unwrap();
        assert_eq!(
            pool.unused_warm_stacks(),
            1,
            "the stack was used and given back"
        );
        assert_eq!(pool.unused_stack_bytes_resident(), Some(0));
    }

    /// `(module (memory 1) (func (export "peek") (param i32) (result i32) (i32.load (local.get 0))))`
    const PEEK: &[u8] = &[
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
        0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f, // types: (i32) -> i32
        0x03, 0x02, 0x01, 0x00, // one function of type 0
        0x05, 0x03, 0x01, 0x00, 0x01, // one memory of one page
        0x07, 0x08, 0x01, 0x04, b'p', b'e', b'e', b'k', 0x00, 0x00, // export peek
        0x0a, 0x09, 0x01, 0x07, 0x00, 0x20, 0x00, 0x28, 0x02, 0x00, 0x0b, // i32.load
    ];

    #[tokio::test]
    async fn out_of_bounds_guest_loads_trap_with_either_reservation() {
        // With 4 GiB reserved the guest's code has no bounds checks: the guard pages must catch
        // every address past the memory, as the checks do with the smaller reservation.
        let one = InstanceNeeds {
            core_instances: 1,
            memories: 1,
            tables: 1,
        };
        for reservation in [FULL_RESERVATION, MAX_MEMORY as u64] {
            let engine = build_engine_reserving(one, 1, one, reservation).unwrap();
            let module = Module::new(&engine, PEEK).unwrap();
            let mut store = Store::new(&engine, ());
            meter_cpu(&mut store, Duration::from_secs(10));
            let instance = Linker::new(&engine)
                .instantiate_async(&mut store, &module)
                .await
                .unwrap();
            let peek = instance
                .get_typed_func::<u32, u32>(&mut store, "peek")
                .unwrap();
            assert_eq!(peek.call_async(&mut store, 65_532).await.unwrap(), 0);
            for address in [65_533, 65_536, 1 << 20, 0x7fff_ffff, u32::MAX - 3] {
                let error = peek.call_async(&mut store, address).await.unwrap_err();
                assert_eq!(
                    error.downcast_ref::<wasmtime::Trap>(),
                    Some(&wasmtime::Trap::MemoryOutOfBounds),
                    "reservation {reservation}, address {address}: {error:?}"
                );
            }
        }
    }

    #[tokio::test]
    async fn time_spent_waiting_in_the_host_does_not_count() {
        // 20 waits of 50 ms: a second of wall time, almost no guest time.
        let (result, meter) = run("wait_often", Duration::from_millis(300)).await;
        result.unwrap();
        assert!(
            meter.spent() < Duration::from_millis(300),
            "{:?}",
            meter.spent()
        );
    }
}
