//! `apex-component-host`: any `wasi:http/proxy` component file, served by Apex's own host — the
//! same engine, instance pool and reuse, pooled outbound client and HTTP server as `apex`, with
//! another component in place of Apex's.
//!
//! `apex-bench --floor FILE` runs it with `host-tests/bench/wasi-http-floor`'s 0.2 component (one
//! that forwards each request and does nothing else): what any component costs on this host, so
//! the rest of what Apex adds is its router's and adapters' own work.
//!
//! `apex-component-host --wasm FILE [--listen 127.0.0.1:0] [--env NAME=VALUE]...` prints
//! `listening on ADDR`.

use std::sync::Arc;

use anyhow::{Context, Result};
use apex_host::app::AppConfig;
use apex_host::engine::DEFAULT_MAX_INSTANCES;
use apex_host::kv::KvStore;
use apex_host::outbound::PooledClient;
use apex_host::{App, server};

fn main() -> Result<()> {
    let mut listen = "127.0.0.1:0".to_string();
    let mut wasm = None;
    let mut environment = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().context("--listen needs a value")?,
            "--wasm" => wasm = Some(args.next().context("--wasm needs a file")?),
            "--env" => {
                let pair = args.next().context("--env needs NAME=VALUE")?;
                let (name, value) = pair.split_once('=').context("--env needs NAME=VALUE")?;
                environment.push((name.to_string(), value.to_string()));
            }
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let file = wasm.context("--wasm FILE is required")?;
    let bytes = std::fs::read(&file).with_context(|| format!("reading {file}"))?;
    // Read by the engine for as long as the process runs.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    // One thread, as `apex` runs when pinned to one CPU.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        server::raise_open_files_limit();
        let mut app = App::from_wasm(
            bytes,
            AppConfig {
                kv: KvStore::in_memory(),
                variables: Default::default(),
                outbound: Arc::new(PooledClient::new()),
                cache_dir: None,
                max_instances: DEFAULT_MAX_INSTANCES,
            },
        )
        .await?;
        app.set_environment(environment);
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        println!("listening on {}", listener.local_addr()?);
        server::serve(Arc::new(app), listener).await
    })
}
