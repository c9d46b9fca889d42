//! The composed app: pre-instantiated once; instances are reused for many requests, one request
//! at a time each (as `wasmtime serve` does), and discarded after a trap, after
//! [`MAX_REQUESTS_PER_INSTANCE`] requests, or once its memory grew past [`MAX_REUSED_MEMORY`]. The router keeps nothing per request in globals (only its
//! parsed configuration), so reuse is safe and saves instantiation and config parsing. Each request
//! has a guest CPU budget ([`App::set_cpu_budget`]).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use wasmtime::Store;
use wasmtime::component::Component;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::engine::{CpuBudgetExceeded, CpuMeter, meter_cpu};
use crate::kv::KvBackend;
use crate::outbound::{Hooks, Outbound};
use crate::state::{HostState, Variables, linker};

/// What the app runs with.
#[derive(Clone)]
pub struct AppConfig {
    /// The key-value store: [`crate::kv::KvStore`] (memory or file) or [`crate::redis::RedisKv`].
    pub kv: Arc<dyn KvBackend>,
    pub variables: Variables,
    pub outbound: Arc<dyn Outbound>,
    /// Where compiled machine code is cached (`None`: compile every start).
    pub cache_dir: Option<std::path::PathBuf>,
    /// Requests the app runs at once (one instance each); more wait up to [`App::set_instance_wait`] for
    /// one, then get a 503 with `Retry-After`. The instance pool is sized for exactly this many.
    pub max_instances: u32,
}

/// Requests one instance serves before it is replaced (bounds any slow leak in a guest).
pub const MAX_REQUESTS_PER_INSTANCE: u32 = 10_000;
/// An idle instance unused this long is dropped (its memory goes back to the system), down to
/// [`KEEP_WARM`]: after a burst, memory comes back to what steady traffic needs.
const IDLE_TTL: Duration = Duration::from_secs(5);
/// Idle instances kept however long they wait.
const KEEP_WARM: usize = 4;
/// Longest a request waits for an instance when all [`AppConfig::max_instances`] are busy, unless
/// [`App::set_instance_wait`] says otherwise.
pub const DEFAULT_INSTANCE_WAIT: Duration = Duration::from_secs(10);
/// An instance whose memory grew past this (a huge request, say) is not kept for reuse.
const MAX_REUSED_MEMORY: usize = 64 << 20;

/// Instantiation failed (typically: the pooling allocator is full). Answered with 503.
#[derive(Debug)]
pub struct Busy(pub String);

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no instance available: {}", self.0)
    }
}

impl std::error::Error for Busy {}

/// An instance with its store, between requests.
struct Worker {
    store: Store<HostState>,
    proxy: Proxy,
    served: u32,
    cpu: Arc<CpuMeter>,
    /// When it last went back to the idle list.
    idle_since: Instant,
}

/// Instances waiting for their next request; the most recently used last.
type IdleList = Arc<std::sync::Mutex<Vec<Worker>>>;

pub struct App {
    pre: ProxyPre<HostState>,
    kv: Arc<dyn KvBackend>,
    vars: Arc<Variables>,
    outbound: Arc<dyn Outbound>,
    idle: IdleList,
    /// One permit per instance that may run at once (the pool's size).
    running: Arc<tokio::sync::Semaphore>,
    instance_wait: Duration,
    cpu_budget: Duration,
    /// Environment variables the guest sees (`wasi:cli/environment`); none for Apex's own app.
    environment: Arc<[(String, String)]>,
}

/// Guest CPU time one request may use (see [`App::set_cpu_budget`]).
pub const DEFAULT_CPU_BUDGET: Duration = Duration::from_secs(10);

impl App {
    /// The composed app embedded in this binary.
    pub async fn new(config: AppConfig) -> Result<Self> {
        Self::from_wasm(crate::components::APEX, config).await
    }

    /// The app `wasm`, on an engine whose instance pool holds exactly
    /// [`AppConfig::max_instances`] instances of it: what one instance takes is measured first, by
    /// instantiating it once on a pool with room for any chain.
    pub async fn from_wasm(wasm: &'static [u8], config: AppConfig) -> Result<Self> {
        let cache = config.cache_dir.as_deref();
        let (needs, compiled) = {
            let probe = crate::engine::engine_for(crate::engine::ANY_APP, 1)?;
            let component = crate::engine::load_component(&probe, wasm, cache)?;
            let needs = Self::from_component(&probe, &component, config.clone())?
                .measure()
                .await?;
            // Compiled here: the cache has it (the pool's size is not part of its key).
            let compiled = match cache {
                Some(_) => None,
                None => Some(component.serialize()?),
            };
            (needs, compiled)
        };
        let engine = crate::engine::engine_for(needs, config.max_instances)?;
        let component = match cache {
            Some(dir) => {
                let (component, file) = crate::engine::load_cached(&engine, wasm, dir)?;
                // The probe's mappings are gone: the file's pages can be handed back.
                crate::code_pages::map_code_on_demand(&component, &file);
                component
            }
            // SAFETY: the bytes were serialized above by this process's wasmtime; `deserialize`
            // itself refuses them if the engines' settings differ (then: compiled again).
            None => {
                match unsafe { Component::deserialize(&engine, compiled.unwrap_or_default()) } {
                    Ok(component) => component,
                    Err(_) => Component::new(&engine, wasm)?,
                }
            }
        };
        let app = Self::from_component(&engine, &component, config)?;
        // Compiling leaves free heap behind, and the component's bytes are not read again.
        crate::freed_memory::give_back();
        crate::code_pages::release(wasm);
        Ok(app)
    }

    /// What one instance of this app takes from the engine's pool (instantiates one).
    pub async fn measure(&self) -> Result<crate::engine::InstanceNeeds> {
        let worker = self.worker().await?;
        let metrics = self
            .pre
            .engine()
            .pooling_allocator_metrics()
            .context("the engine has no instance pool")?;
        let needs = crate::engine::InstanceNeeds {
            core_instances: u32::try_from(metrics.core_instances())?,
            memories: u32::try_from(metrics.memories())?,
            tables: u32::try_from(metrics.tables())?,
        };
        drop(worker);
        Ok(needs)
    }

    pub fn from_component(
        engine: &wasmtime::Engine,
        component: &Component,
        config: AppConfig,
    ) -> Result<Self> {
        let linker = linker(engine)?;
        let pre = ProxyPre::new(linker.instantiate_pre(component)?)?;
        let idle: IdleList = Arc::default();
        drop_long_idle_instances(Arc::downgrade(&idle), engine.clone())?;
        Ok(Self {
            pre,
            kv: config.kv,
            vars: Arc::new(config.variables),
            outbound: config.outbound,
            idle,
            running: Arc::new(tokio::sync::Semaphore::new(
                config.max_instances.max(1) as usize
            )),
            instance_wait: DEFAULT_INSTANCE_WAIT,
            cpu_budget: DEFAULT_CPU_BUDGET,
            environment: Arc::new([]),
        })
    }

    /// The guest CPU time one request may use (time waiting for the network or the client does
    /// not count); past it the request is stopped and its instance discarded.
    pub fn set_cpu_budget(&mut self, budget: Duration) {
        self.cpu_budget = budget;
    }

    /// Environment variables the guest's instances see (for components other than Apex's router,
    /// which reads its settings through `wasi:config/store`).
    pub fn set_environment(&mut self, environment: Vec<(String, String)>) {
        self.environment = environment.into();
    }

    /// How long a request waits for an instance while every one is busy, before a 503.
    pub fn set_instance_wait(&mut self, wait: Duration) {
        self.instance_wait = wait;
    }

    pub fn kv(&self) -> &Arc<dyn KvBackend> {
        &self.kv
    }

    async fn worker(&self) -> Result<Worker> {
        let reused = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        if let Some(worker) = reused {
            worker.cpu.reset();
            return Ok(worker);
        }
        let state = HostState::new(
            Hooks {
                outbound: Arc::clone(&self.outbound),
            },
            Arc::clone(&self.kv),
            Arc::clone(&self.vars),
            &self.environment,
        );
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|state| state);
        let cpu = meter_cpu(&mut store, self.cpu_budget);
        let proxy = cpu
            .metered(self.pre.instantiate_async(&mut store))
            .await
            .map_err(|e| Busy(format!("{e:?}")))?;
        Ok(Worker {
            store,
            proxy,
            served: 0,
            cpu,
            idle_since: Instant::now(),
        })
    }

    /// Handle one request. The response body keeps streaming after this returns, while the guest
    /// writes it; the instance goes back to the pool when the guest's handler returns.
    pub async fn handle<B>(
        &self,
        request: hyper::Request<B>,
    ) -> Result<hyper::Response<HyperOutgoingBody>>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        // Wait for a free instance (all of them serving requests: briefly, then a 503).
        let running = match tokio::time::timeout(
            self.instance_wait,
            Arc::clone(&self.running).acquire_owned(),
        )
        .await
        {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) | Err(_) => {
                return Err(Busy(format!(
                    "every instance stayed busy for {:?}",
                    self.instance_wait
                ))
                .into());
            }
        };
        let mut worker = self.worker().await?;
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let req = worker
            .store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)?;
        let out = worker
            .store
            .data_mut()
            .http()
            .new_response_outparam(sender)?;
        let idle = Arc::clone(&self.idle);
        let task = tokio::task::spawn(async move {
            let result = worker
                .cpu
                .metered(worker.proxy.wasi_http_incoming_handler().call_handle(
                    &mut worker.store,
                    req,
                    out,
                ))
                .await;
            worker.served += 1;
            drop(running);
            crate::freed_memory::note_release();
            if let Err(e) = &result
                && let Some(exceeded) = e.downcast_ref::<CpuBudgetExceeded>()
            {
                eprintln!("apex: a request was stopped: {exceeded}");
            }
            if result.is_ok()
                && worker.served < MAX_REQUESTS_PER_INSTANCE
                && worker.store.data().peak_memory <= MAX_REUSED_MEMORY
            {
                let mut idle = idle.lock().unwrap_or_else(|p| p.into_inner());
                // Every instance the pool holds may wait here: dropping one under load only to
                // make another for the next request costs more than it saves.
                worker.idle_since = Instant::now();
                idle.push(worker);
            }
            result
        });
        match receiver.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(code)) => Err(anyhow!("the app answered with an error code: {code:?}")),
            Err(_) => match task.await {
                Ok(Ok(())) => Err(anyhow!("the app never set a response")),
                Ok(Err(e)) => Err(anyhow!("the app failed: {e:?}")),
                Err(e) => Err(anyhow!("the app's task failed: {e}")),
            },
        }
    }
}

/// A thread that drops instances idle for longer than [`IDLE_TTL`] (the least recently used
/// first), keeping [`KEEP_WARM`], and gives freed heap back once traffic stops
/// ([`crate::freed_memory`]); it ends with the app.
/// `APEX_POOL_STATS=1` logs the pool's state after each drop (what memory stays resident).
fn drop_long_idle_instances(
    idle: std::sync::Weak<std::sync::Mutex<Vec<Worker>>>,
    engine: wasmtime::Engine,
) -> Result<()> {
    let log = std::env::var_os("APEX_POOL_STATS").is_some();
    std::thread::Builder::new()
        .name("apex-idle".into())
        .spawn(move || {
            let mut quiet_trim = crate::freed_memory::QuietTrim::default();
            loop {
                std::thread::sleep(IDLE_TTL / 5);
                let Some(idle) = idle.upgrade() else {
                    return;
                };
                let releases = crate::freed_memory::releases();
                let stale: Vec<Worker> = {
                    let mut idle = idle.lock().unwrap_or_else(|p| p.into_inner());
                    let removable = idle.len().saturating_sub(KEEP_WARM);
                    let stale = idle
                        .iter()
                        .take(removable)
                        .take_while(|w| w.idle_since.elapsed() >= IDLE_TTL)
                        .count();
                    idle.drain(..stale).collect()
                };
                if !stale.is_empty() {
                    let dropped = stale.len();
                    drop(stale);
                    crate::freed_memory::give_back();
                    quiet_trim.trimmed(releases);
                    if log && let Some(pool) = engine.pooling_allocator_metrics() {
                        eprintln!(
                            "apex: dropped {dropped} idle instances; pool: {} core instances, \
                             {} memories, {} stacks; resident while unused: memories {} KiB, \
                             tables {} KiB, stacks {:?} KiB",
                            pool.core_instances(),
                            pool.memories(),
                            pool.stacks(),
                            pool.unused_memory_bytes_resident() / 1024,
                            pool.unused_table_bytes_resident() / 1024,
                            pool.unused_stack_bytes_resident().map(|b| b / 1024),
                        );
                    }
                }
                if quiet_trim.due(releases) {
                    crate::freed_memory::give_back();
                }
            }
        })?;
    Ok(())
}

/// Variables for the app from the process environment: each variable's lowercased name
/// (`OPENAI_API_KEY` → `openai_api_key`), plus the config file's text as `apex_config`.
pub fn variables_from_env(config_file: Option<&Path>) -> Result<Variables> {
    let mut vars = Variables::new();
    for (name, value) in std::env::vars() {
        let lower = name.to_ascii_lowercase();
        if lower
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            vars.insert(lower, value);
        }
    }
    if let Some(path) = config_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow!("reading config {}: {e}", path.display()))?;
        vars.insert("apex_config".to_string(), text);
    }
    Ok(vars)
}
