//! `apex`: run the gateway locally.
//!
//! ```text
//! apex check [--config apex.toml]        check a config and print its routes, no server
//! apex [--listen 127.0.0.1:8787] [--config apex.toml] [--data-dir .apex] [--kv redis://HOST:PORT/DB]
//!      [--header-timeout 10] [--body-timeout 30] [--write-timeout 30] [--max-connections 1024]
//!      [--cpu-budget 10] [--max-instances 1024] [--instance-wait 10]
//! ```
//! Provider keys and other variables come from the environment (`OPENAI_API_KEY` is the variable
//! `openai_api_key`). The key-value store is kept in `<data-dir>/kv.json` (flushed on SIGTERM and
//! Ctrl-C; one process per data folder, held by `<data-dir>/lock`), or with `--kv redis://…` in a
//! Redis database that several processes share; compiled components are cached in
//! `<data-dir>/cache/`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use apex_host::app::{AppConfig, variables_from_env};
use apex_host::kv::{DataDirLock, KvBackend, KvStore};
use apex_host::outbound::PooledClient;
use apex_host::server::Limits;
use apex_host::{App, server};

struct Args {
    listen: String,
    config: Option<PathBuf>,
    data_dir: PathBuf,
    /// `redis://…`, or `None` for `<data-dir>/kv.json`.
    kv: Option<String>,
    limits: Limits,
    cpu_budget: Duration,
    /// `--max-instances`: requests run at once (more wait briefly for an instance, then 503).
    max_instances: u32,
    /// `--instance-wait`: how long a request waits for an instance while all are busy.
    instance_wait: Duration,
    /// `--log text|json|off`: the request log's format (the `apex_log` variable).
    log: Option<String>,
    /// `apex check`: check the config and print its routes instead of serving.
    check: bool,
}

mod check;

const USAGE: &str = "usage: apex [check] [--listen ADDR] [--log text|json|off] [--config FILE] [--data-dir DIR] [--kv redis://HOST:PORT/DB] \
[--header-timeout SECS] [--body-timeout SECS] [--write-timeout SECS] [--max-connections N] \
[--cpu-budget SECS] [--max-instances N] [--instance-wait SECS]";

fn args() -> Result<Args> {
    let mut args = Args {
        listen: std::env::var("APEX_LISTEN").unwrap_or_else(|_| "127.0.0.1:8787".to_string()),
        config: std::env::var_os("APEX_CONFIG").map(PathBuf::from),
        data_dir: std::env::var_os("APEX_DATA_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(".apex")),
        kv: std::env::var("APEX_KV").ok().filter(|v| !v.is_empty()),
        limits: Limits::default(),
        cpu_budget: apex_host::app::DEFAULT_CPU_BUDGET,
        max_instances: apex_host::engine::DEFAULT_MAX_INSTANCES,
        instance_wait: apex_host::app::DEFAULT_INSTANCE_WAIT,
        log: None,
        check: false,
    };
    let mut it = std::env::args().skip(1).peekable();
    if it.peek().is_some_and(|first| first == "check") {
        it.next();
        args.check = true;
    }
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .with_context(|| format!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--listen" => args.listen = value("--listen")?,
            "--config" => args.config = Some(PathBuf::from(value("--config")?)),
            "--data-dir" => args.data_dir = PathBuf::from(value("--data-dir")?),
            "--kv" => args.kv = Some(value("--kv")?),
            "--log" => {
                let format = value("--log")?;
                if !["text", "json", "off"].contains(&format.as_str()) {
                    bail!("--log takes text, json or off\n{USAGE}");
                }
                args.log = Some(format);
            }
            "--header-timeout" => args.limits.header_timeout = seconds(&value(&arg)?, &arg)?,
            "--body-timeout" => args.limits.body_idle_timeout = seconds(&value(&arg)?, &arg)?,
            "--write-timeout" => args.limits.write_timeout = seconds(&value(&arg)?, &arg)?,
            "--cpu-budget" => args.cpu_budget = seconds(&value(&arg)?, &arg)?,
            "--instance-wait" => args.instance_wait = seconds(&value(&arg)?, &arg)?,
            "--max-connections" => {
                args.limits.max_connections = value(&arg)?
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .with_context(|| {
                        format!("--max-connections needs a positive number\n{USAGE}")
                    })?
            }
            "--max-instances" => {
                args.max_instances = value(&arg)?
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .with_context(|| format!("--max-instances needs a positive number\n{USAGE}"))?
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument `{other}`\n{USAGE}"),
        }
    }
    Ok(args)
}

/// A positive number of seconds (fractions allowed).
fn seconds(text: &str, flag: &str) -> Result<Duration> {
    text.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
        .with_context(|| format!("{flag} needs a positive number of seconds\n{USAGE}"))
}

fn main() -> Result<()> {
    let args = args()?;
    if args.check {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let usable = runtime.block_on(check::run(args.config.as_deref()))?;
        std::process::exit(if usable { 0 } else { 1 });
    }
    // One worker per CPU this process may run on (`taskset` narrows it).
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    // On one CPU a current-thread runtime avoids cross-thread wake-ups (measured: +20 % req/s).
    let runtime = if workers == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()?
    };
    runtime.block_on(run(args))
}

async fn run(args: Args) -> Result<()> {
    server::raise_open_files_limit();
    // The folder holds the compiled-code cache even when the key-value data is in Redis.
    let _data_dir = DataDirLock::acquire(&args.data_dir)?;
    let (kv, kv_place): (Arc<dyn KvBackend>, String) = match &args.kv {
        None => {
            let path = args.data_dir.join("kv.json");
            (KvStore::open(path.clone())?, path.display().to_string())
        }
        Some(url) => {
            let redis = apex_host::redis::RedisKv::connect(url).await?;
            let place = redis.url().display();
            (Arc::new(redis), place)
        }
    };
    let mut variables = variables_from_env(args.config.as_deref())?;
    // Only `apex check`'s own in-process component answers to a check token.
    variables.remove("apex_check_token");
    if let Some(format) = &args.log {
        variables.insert("apex_log".to_string(), format.clone());
    }
    let mut app = App::new(AppConfig {
        kv: Arc::clone(&kv),
        variables,
        outbound: Arc::new(PooledClient::new()),
        cache_dir: Some(args.data_dir.join("cache")),
        max_instances: args.max_instances,
    })
    .await?;
    app.set_cpu_budget(args.cpu_budget);
    app.set_instance_wait(args.instance_wait);
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr()?;
    println!("Apex listening on http://{address}");
    println!("  key-value store: {kv_place}");
    println!(
        "  try: curl http://{address}/v1/chat/completions -H 'content-type: application/json' \\"
    );
    println!(
        "         -d '{{\"model\":\"echo\",\"messages\":[{{\"role\":\"user\",\"content\":\"hello\"}}]}}'"
    );
    if !address.ip().is_loopback() && is_open(&app).await {
        eprintln!("{}", open_warning(&address));
    }
    let app = Arc::new(app);
    tokio::select! {
        result = server::serve_with(app, listener, args.limits) => result?,
        signal = shutdown_signal() => println!("Apex: {signal}, shutting down"),
    }
    // Everything a client was answered from is on disk before the process ends.
    kv.flush()?;
    Ok(())
}

/// Whether the gateway answers without a key (asks it, as a local client would).
async fn is_open(app: &App) -> bool {
    let request = hyper::Request::get("http://localhost/v1/models")
        .body(http_body_util::Full::new(bytes::Bytes::new()));
    match request {
        Ok(request) => app
            .handle(request)
            .await
            .is_ok_and(|response| response.status().is_success()),
        Err(_) => false,
    }
}

/// The warning for an open gateway on an address other machines can reach.
fn open_warning(address: &std::net::SocketAddr) -> String {
    format!(
        "\n  WARNING: Apex listens on {address}, reachable from other machines, and has no gateway\n  \
         API keys: anyone who can reach it may spend your provider keys. It answers only requests\n  \
         addressed to localhost (or gateway.allowed_hosts) for now. Set APEX_API_KEY or\n  \
         gateway.api_keys before exposing it, or listen on 127.0.0.1.\n"
    )
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (what `kill`, systemd and container runtimes send).
async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => tokio::select! {
                _ = tokio::signal::ctrl_c() => "interrupted",
                _ = terminate.recv() => "terminated",
            },
            Err(e) => {
                eprintln!("apex: cannot watch for SIGTERM ({e}); only Ctrl-C stops it cleanly");
                let _ = tokio::signal::ctrl_c().await;
                "interrupted"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "interrupted"
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_open_gateway_warning_names_the_address_and_the_fix() {
        let warning = open_warning(&"0.0.0.0:8787".parse().unwrap());
        assert!(warning.contains("0.0.0.0:8787"));
        assert!(warning.contains("APEX_API_KEY"));
    }
}
