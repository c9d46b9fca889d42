//! The composed app: pre-instantiated once; instances are reused for many requests, one request
//! at a time each (as `wasmtime serve` does), and discarded after a trap, after
//! [`MAX_REQUESTS_PER_INSTANCE`] requests, or once its memory grew past [`MAX_REUSED_MEMORY`]. The router keeps nothing per request in globals (only its
//! parsed configuration), so reuse is safe and saves instantiation and config parsing. Each request
//! has a guest CPU budget ([`App::set_cpu_budget`]).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow};
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
pub struct AppConfig {
    /// The key-value store: [`crate::kv::KvStore`] (memory or file) or [`crate::redis::RedisKv`].
    pub kv: Arc<dyn KvBackend>,
    pub variables: Variables,
    pub outbound: Arc<dyn Outbound>,
    /// Where compiled machine code is cached (`None`: compile every start).
    pub cache_dir: Option<std::path::PathBuf>,
}

/// Requests one instance serves before it is replaced (bounds any slow leak in a guest).
pub const MAX_REQUESTS_PER_INSTANCE: u32 = 10_000;
/// Idle instances kept for reuse.
const MAX_IDLE_INSTANCES: usize = 128;
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
}

pub struct App {
    pre: ProxyPre<HostState>,
    kv: Arc<dyn KvBackend>,
    vars: Arc<Variables>,
    outbound: Arc<dyn Outbound>,
    idle: Arc<std::sync::Mutex<Vec<Worker>>>,
    cpu_budget: Duration,
}

/// Guest CPU time one request may use (see [`App::set_cpu_budget`]).
pub const DEFAULT_CPU_BUDGET: Duration = Duration::from_secs(10);

impl App {
    /// The composed app embedded in this binary.
    pub fn new(config: AppConfig) -> Result<Self> {
        Self::from_wasm(crate::components::APEX, config)
    }

    pub fn from_wasm(wasm: &[u8], config: AppConfig) -> Result<Self> {
        let engine = crate::engine::new_engine()?;
        let component = crate::engine::load_component(&engine, wasm, config.cache_dir.as_deref())?;
        Self::from_component(&engine, &component, config)
    }

    pub fn from_component(
        engine: &wasmtime::Engine,
        component: &Component,
        config: AppConfig,
    ) -> Result<Self> {
        let linker = linker(engine)?;
        let pre = ProxyPre::new(linker.instantiate_pre(component)?)?;
        Ok(Self {
            pre,
            kv: config.kv,
            vars: Arc::new(config.variables),
            outbound: config.outbound,
            idle: Arc::default(),
            cpu_budget: DEFAULT_CPU_BUDGET,
        })
    }

    /// The guest CPU time one request may use (time waiting for the network or the client does
    /// not count); past it the request is stopped and its instance discarded.
    pub fn set_cpu_budget(&mut self, budget: Duration) {
        self.cpu_budget = budget;
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
        );
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|state| state);
        let cpu = meter_cpu(&mut store, self.cpu_budget);
        let proxy = self
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| Busy(format!("{e:?}")))?;
        Ok(Worker {
            store,
            proxy,
            served: 0,
            cpu,
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
                .proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut worker.store, req, out)
                .await;
            worker.served += 1;
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
                if idle.len() < MAX_IDLE_INSTANCES {
                    idle.push(worker);
                }
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
