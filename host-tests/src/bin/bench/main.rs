//! `apex-bench`: what Apex adds on top of a provider, measured.
//!
//! Starts `apex-fake-upstream` and `apex` (release builds next to this binary; `apex` pinned to
//! CPU 0 with `taskset` when available, the load and the fake provider on the other CPUs), then, in
//! one run:
//! - for each scenario at concurrency 1, 16 and 64, sends requests straight to the fake provider,
//!   through `apex-bare-proxy` (a plain hyper reverse proxy on the gateway's CPU: what any proxy
//!   adds on this machine) and through Apex: p50, p99 and p99.9 latency, requests per second,
//!   time to first byte, and the proxy's CPU time per request;
//! - through Apex at concurrency 1 to 64: the most requests per second whose p99 stays within 1, 5
//!   and 10 ms;
//! - 256 and 1024 concurrent requests and streams: failures by status (only a deliberate 503 with
//!   `Retry-After` is allowed) and peak memory;
//! - memory (RSS) idle, steady under load, at 256 and 1024, and recovered after the load;
//! - start-up time; then checks the numbers against the performance targets.
//!
//! ```text
//! cargo build --release -p apex-host --bins && target/release/apex-bench [--requests 20000] [--seconds 3]
//! target/release/apex-bench --only 'small chat'                # scenarios whose name has this
//! target/release/apex-bench --chaos [--requests 3000]
//! target/release/apex-bench --gateway 'stats = false'         # extra [gateway] settings
//! target/release/apex-bench --floor host-tests/bench/wasi-http-floor/target/wasm32-wasip2/release/wasi_http_floor_p2.wasm
//! ```
//!
//! `--floor FILE` adds a second baseline to every cell: `FILE`, a wasi:http 0.2 component that
//! forwards each request and does nothing else (`host-tests/bench/wasi-http-floor`, built on its
//! own), served by `apex-component-host` — Apex's host with that component in place of Apex's, on
//! the gateway's CPU: what any component costs on this host.
//!
//! `--chaos` runs the failover benchmark instead: three fake providers that each fail 30 % of
//! calls at random (503 or 500), behind one round-robin alias with three keys per provider; it
//! reports the share of requests the client saw succeed and the latency Apex added compared with
//! a healthy provider.

mod chaos;
mod load;
mod processes;
mod report;
mod scenarios;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::chaos::*;
use crate::load::*;
use crate::processes::*;
use crate::report::*;
use crate::scenarios::*;

#[tokio::main]
async fn main() -> Result<()> {
    let mut seconds = 3.0;
    let mut max_requests = 50_000;
    let mut chaos_mode = false;
    let mut only: Option<String> = None;
    // Extra `[gateway]` settings for the gateway under test (e.g. `stats = false`).
    let mut gateway_extra = String::new();
    // The wasi-http-floor component, for the least-component baseline.
    let mut floor_wasm: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => seconds = args.next().context("--seconds N")?.parse()?,
            "--requests" => max_requests = args.next().context("--requests N")?.parse()?,
            "--chaos" => chaos_mode = true,
            "--only" => only = Some(args.next().context("--only NAME")?),
            "--floor" => floor_wasm = Some(args.next().context("--floor FILE.wasm")?),
            "--gateway" => {
                gateway_extra.push_str(&args.next().context("--gateway 'key = value'")?);
                gateway_extra.push('\n');
            }
            other => bail!("unknown argument {other}"),
        }
    }
    apex_host::server::raise_open_files_limit();
    if chaos_mode {
        let requests = if max_requests == 50_000 {
            3000
        } else {
            max_requests
        };
        return chaos(requests).await;
    }
    let cpu_count = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let (gateway_cpu, other_cpus) = cpus();
    let other_cpus = other_cpus.map(|c| if c == "1-" { "1" } else { c });
    if let Some(cpus) = other_cpus {
        let _ = Command::new("taskset")
            .args(["-p", "-c", cpus, &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status();
    }

    let (mut fake, fake_addr) = spawn(
        &sibling("apex-fake-upstream")?,
        &["--listen", "127.0.0.1:0", "--chunks", "20"],
        other_cpus,
        &[],
    )?;
    let data = std::env::temp_dir().join(format!("apex-bench-{}", std::process::id()));
    std::fs::create_dir_all(&data)?;
    let config = data.join("apex.toml");
    std::fs::write(
        &config,
        format!(
            "[gateway]\napi_keys = {{ bench = \"bench_gateway_key\" }}\n{gateway_extra}\n\
             [providers.fake]\nkind = \"openai\"\nbase_url = \"http://{fake_addr}/v1\"\nkeys = [\"bench_upstream_key\"]\n\
             [providers.fakeclaude]\nkind = \"anthropic\"\nbase_url = \"http://{fake_addr}/v1\"\nkeys = [\"bench_upstream_key\"]\n\
             [models.bench-openai]\ntargets = [\"fake/gpt-4o-mini\"]\n\
             [models.bench-cached]\ntargets = [\"fake/gpt-4o-mini\"]\ncache = true\n\
             [models.bench-anthropic]\ntargets = [\"fakeclaude/claude-sonnet-4-5\"]\n"
        ),
    )?;
    let env = [
        ("BENCH_GATEWAY_KEY", "bench-key".to_string()),
        ("BENCH_UPSTREAM_KEY", "sk-bench".to_string()),
    ];
    let apex_bin = sibling("apex")?;
    // The request log goes to a file, as a service's log would (not to this terminal).
    let log = std::fs::File::create(data.join("apex.log"))?;
    let apex_args = [
        "--listen",
        "127.0.0.1:0",
        "--config",
        config.to_str().context("path")?,
        "--data-dir",
        data.to_str().context("path")?,
    ];

    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(2048)
        // Below the gateway's 10 s keep-alive (header) timeout: never reuse a connection the
        // server is closing.
        .pool_idle_timeout(Duration::from_secs(5))
        .pool_timer(hyper_util::rt::TokioTimer::new())
        .build(connector);

    // Start-up: the first start compiles the components into the cache; the second reuses them.
    let mut startup = Vec::new();
    for _ in 0..2 {
        let started = Instant::now();
        let (mut apex, addr) = spawn_logged(&apex_bin, &apex_args, gateway_cpu, &env, &log)?;
        let base = format!("http://{addr}");
        loop {
            if one(
                &client,
                &base,
                "/v1/chat/completions",
                &chat_body("echo", false, "hi"),
            )
            .await
            .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        startup.push(started.elapsed());
        apex.kill()?;
        apex.wait()?;
    }

    let (mut apex, addr) = spawn_logged(&apex_bin, &apex_args, gateway_cpu, &env, &log)?;
    let pid = apex.id();
    let apex_base = format!("http://{addr}");
    let fake_base = format!("http://{fake_addr}");
    // The baseline of what any proxy adds on this machine, on the gateway's CPU.
    let (mut bare, bare_addr) = spawn(
        &sibling("apex-bare-proxy")?,
        &["--listen", "127.0.0.1:0", "--upstream", &fake_base],
        gateway_cpu,
        &[],
    )?;
    let bare_pid = bare.id();
    let bare_base = format!("http://{bare_addr}");
    // What any component costs on Apex's host, on the gateway's CPU (with `--floor`).
    let mut least_component = match &floor_wasm {
        Some(wasm) => {
            let upstream = format!("FLOOR_UPSTREAM={fake_addr}");
            let (child, addr) = spawn(
                &sibling("apex-component-host")?,
                &[
                    "--listen",
                    "127.0.0.1:0",
                    "--wasm",
                    wasm,
                    "--env",
                    &upstream,
                ],
                gateway_cpu,
                &[],
            )?;
            let base = format!("http://{addr}");
            Some((child, base))
        }
        None => None,
    };
    one(
        &client,
        &apex_base,
        "/v1/chat/completions",
        &chat_body("echo", false, "hi"),
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut memory = Memory {
        idle: rss_kib(pid, "VmRSS:"),
        ..Memory::default()
    };
    let chain = stored_chain(&client, &apex_base, 10).await?;

    println!(
        "Apex benchmark — {} CPUs, gateway pinned to CPU {}; {seconds} s per cell",
        cpu_count,
        gateway_cpu.unwrap_or("(not pinned)")
    );
    println!();
    print_cell_header();
    let duration = Duration::from_secs_f64(seconds);
    let mut cells = Vec::new();
    let mut frontiers = Vec::new();
    let chosen: Vec<Scenario> = scenarios(&chain)
        .into_iter()
        .filter(|s| only.as_deref().is_none_or(|o| s.name.contains(o)))
        .collect();
    for scenario in &chosen {
        let mut frontier = Frontier::new(scenario.name);
        for concurrency in [1, 2, 4, 8, 16, 32, 64] {
            let table = matches!(concurrency, 1 | 16 | 64);
            let (direct, bare, least) = if table {
                let provider_request = |base| {
                    load(
                        &client,
                        base,
                        &scenario.direct.0,
                        &scenario.direct.1,
                        concurrency,
                        duration,
                        max_requests,
                    )
                };
                let direct = provider_request(&fake_base).await?;
                let bare = measuring_cpu(bare_pid, provider_request(&bare_base)).await?;
                let least = match &least_component {
                    Some((child, base)) => {
                        Some(measuring_cpu(child.id(), provider_request(base)).await?)
                    }
                    None => None,
                };
                (Some(direct), Some(bare), least)
            } else {
                (None, None, None)
            };
            let sampler = RssSampler::start(pid);
            let via = measuring_cpu(
                pid,
                load(
                    &client,
                    &apex_base,
                    &scenario.via_apex.0,
                    &scenario.via_apex.1,
                    concurrency,
                    duration,
                    max_requests,
                ),
            )
            .await?;
            memory.steady = memory.steady.max(sampler.stop().await);
            frontier.add(&via, concurrency);
            if let (Some(direct), Some(bare)) = (direct, bare) {
                let cell = Cell {
                    scenario: scenario.name,
                    stream: scenario.stream,
                    concurrency,
                    direct,
                    bare,
                    least,
                    via,
                };
                cell.print();
                cells.push(cell);
            }
        }
        frontiers.push(frontier);
    }
    println!();
    print_bare_proxy_cells(&cells);
    print_least_component_cells(&cells);
    println!();
    print_frontiers(&frontiers);
    bare.kill()?;
    bare.wait()?;
    if let Some((child, _)) = &mut least_component {
        child.kill()?;
        child.wait()?;
    }

    // Past what one core serves at once: only a deliberate 503 may fail a request. A fresh
    // process, so memory is the load's and not the data stored by the runs above.
    apex.kill()?;
    apex.wait()?;
    for stored in ["kv.json", "kv.json.journal", "kv.json.bak"] {
        let _ = std::fs::remove_file(data.join(stored));
    }
    let (mut apex, addr) = spawn_logged(&apex_bin, &apex_args, gateway_cpu, &env, &log)?;
    let pid = apex.id();
    let apex_base = format!("http://{addr}");
    let small = chat_body("bench-openai", false, "hi");
    one(&client, &apex_base, "/v1/chat/completions", &small).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    memory.idle_fresh = rss_kib(pid, "VmRSS:");
    // Warm: a second of small chats at concurrency 16.
    let sampler = RssSampler::start(pid);
    load(
        &client,
        &apex_base,
        "/v1/chat/completions",
        &small,
        16,
        Duration::from_secs(1),
        max_requests,
    )
    .await?;
    memory.warm = sampler.stop().await;
    println!();
    println!(
        "| many at once (via Apex) | conc. | req/s | p50 ms | p99 ms | failures by status | peak RSS MiB |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut crowds = Vec::new();
    let crowd_scenarios: Vec<&Scenario> = chosen
        .iter()
        .filter(|s| s.name.starts_with("small chat (forwarded)") || s.name.contains("pass-through"))
        .collect();
    // Every crowd of 256 before any of 1024: instances stay idle for 5 s after a crowd, so a
    // crowd of 256 right after one of 1024 would be charged the memory of the 1024's instances.
    for concurrency in [256, 1024] {
        for scenario in &crowd_scenarios {
            let sampler = RssSampler::start(pid);
            let via = load(
                &client,
                &apex_base,
                &scenario.via_apex.0,
                &scenario.via_apex.1,
                concurrency,
                duration,
                max_requests,
            )
            .await?;
            let peak = sampler.stop().await;
            if concurrency == 256 {
                memory.at_256 = memory.at_256.max(peak);
            } else {
                memory.at_1024 = memory.at_1024.max(peak);
            }
            println!(
                "| {} | {concurrency} | {:.0} | {:.3} | {:.3} | {:?} | {} |",
                scenario.name,
                via.rps,
                via.p50,
                via.p99,
                via.failures,
                mib(Some(peak))
            );
            crowds.push((scenario.name, concurrency, via));
        }
    }
    // Idle instances are dropped 5 s after their last request, idle connections after 10 s (the
    // keep-alive timeout); then memory should come back.
    tokio::time::sleep(Duration::from_secs(12)).await;
    memory.recovered = rss_kib(pid, "VmRSS:");
    memory.peak = rss_kib(pid, "VmHWM:");
    println!();
    memory.print();
    println!(
        "start to first answered request: {:.0} ms cold (compiling components), {:.0} ms with compiled components cached",
        startup[0].as_secs_f64() * 1000.0,
        startup[1].as_secs_f64() * 1000.0
    );
    println!();
    print_targets(&cells, &crowds, &memory);
    apex.kill()?;
    fake.kill()?;
    let _ = std::fs::remove_dir_all(&data);
    Ok(())
}

/// Make a chain of `turns` stored responses through Apex; the last one's id.
async fn stored_chain(client: &HttpClient, base: &str, turns: usize) -> Result<String> {
    let mut previous: Option<String> = None;
    for turn in 0..turns {
        let mut body =
            serde_json::json!({"model": "bench-openai", "input": format!("turn {turn}")});
        if let Some(id) = &previous {
            body["previous_response_id"] = serde_json::Value::String(id.clone());
        }
        let request = hyper::Request::post(format!("{base}/v1/responses"))
            .header("content-type", "application/json")
            .header("authorization", "Bearer bench-key")
            .body(http_body_util::Full::new(bytes::Bytes::from(
                body.to_string(),
            )))?;
        let response = client.request(request).await?;
        let status = response.status();
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await?
            .to_bytes();
        if !status.is_success() {
            bail!(
                "storing turn {turn}: HTTP {status}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        let answer: serde_json::Value = serde_json::from_slice(&bytes)?;
        previous = Some(answer["id"].as_str().context("response id")?.to_string());
    }
    previous.context("no turns")
}
