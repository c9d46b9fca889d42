//! `apex-bench`: what Apex adds on top of a provider, measured.
//!
//! Starts `apex-fake-upstream` and `apex` (release builds next to this binary; `apex` pinned to
//! CPU 0 with `taskset` when available, the load and the fake provider on the other CPUs), then for
//! each scenario and concurrency sends requests straight to the fake provider and through Apex and
//! reports latency percentiles, requests per second, time to first byte of streams, memory and
//! start-up time.
//!
//! ```text
//! cargo build --release -p apex-host --bins && target/release/apex-bench [--requests 2000] [--seconds 3]
//! target/release/apex-bench --chaos [--requests 3000]
//! target/release/apex-bench --gateway 'stats = false'     # extra [gateway] settings
//! ```
//!
//! `--chaos` runs the failover benchmark instead: three fake providers that each fail 30 % of
//! calls at random (503 or 500), behind one round-robin alias with three keys per provider; it
//! reports the share of requests the client saw succeed and the latency Apex added compared with
//! a healthy provider.

mod chaos;
mod load;
mod processes;
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
use crate::scenarios::*;

#[tokio::main]
async fn main() -> Result<()> {
    let mut seconds = 3.0;
    let mut max_requests = 20_000;
    let mut chaos_mode = false;
    // Extra `[gateway]` settings for the gateway under test (e.g. `stats = false`).
    let mut gateway_extra = String::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => seconds = args.next().context("--seconds N")?.parse()?,
            "--requests" => max_requests = args.next().context("--requests N")?.parse()?,
            "--chaos" => chaos_mode = true,
            "--gateway" => {
                gateway_extra.push_str(&args.next().context("--gateway 'key = value'")?);
                gateway_extra.push('\n');
            }
            other => bail!("unknown argument {other}"),
        }
    }
    if chaos_mode {
        let requests = if max_requests == 20_000 {
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
             [models.bench-anthropic]\ntargets = [\"fakeclaude/claude-sonnet-4-5\"]\n"
        ),
    )?;
    let env = [
        ("BENCH_GATEWAY_KEY", "bench-key".to_string()),
        ("BENCH_UPSTREAM_KEY", "sk-bench".to_string()),
    ];
    let apex_bin = sibling("apex")?;
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
        .pool_max_idle_per_host(256)
        .build(connector);

    // Start-up: the first start compiles the components into the cache; the second reuses them.
    let mut startup = Vec::new();
    for _ in 0..2 {
        let started = Instant::now();
        let (mut apex, addr) = spawn(&apex_bin, &apex_args, gateway_cpu, &env)?;
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

    let (mut apex, addr) = spawn(&apex_bin, &apex_args, gateway_cpu, &env)?;
    let apex_base = format!("http://{addr}");
    let fake_base = format!("http://{fake_addr}");
    one(
        &client,
        &apex_base,
        "/v1/chat/completions",
        &chat_body("echo", false, "hi"),
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_rss = rss_kib(apex.id(), "VmRSS:");

    println!(
        "Apex benchmark — {} CPUs, gateway pinned to CPU {}; {seconds} s per cell",
        cpu_count,
        gateway_cpu.unwrap_or("(not pinned)")
    );
    println!();
    println!(
        "| scenario | conc. | direct p50 ms | via Apex p50 ms | added p50 ms | direct p99 ms | via Apex p99 ms | added p99 ms | via Apex req/s | TTFB added ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let duration = Duration::from_secs_f64(seconds);
    for scenario in scenarios() {
        for concurrency in [1, 16, 64] {
            let direct = load(
                &client,
                &fake_base,
                &scenario.direct.0,
                &scenario.direct.1,
                concurrency,
                duration,
                max_requests,
            )
            .await?;
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
            let ttfb = if scenario.stream {
                format!("{:.3}", via.ttfb_p50 - direct.ttfb_p50)
            } else {
                "–".to_string()
            };
            println!(
                "| {} | {concurrency} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.0} | {ttfb} |",
                scenario.name,
                direct.p50,
                via.p50,
                via.p50 - direct.p50,
                direct.p99,
                via.p99,
                via.p99 - direct.p99,
                via.rps
            );
        }
    }
    let peak_rss = rss_kib(apex.id(), "VmHWM:");
    println!();
    println!(
        "memory: idle RSS {} MiB, peak RSS under load {} MiB",
        mib(idle_rss),
        mib(peak_rss)
    );
    println!(
        "start to first answered request: {:.0} ms cold (compiling components), {:.0} ms with compiled components cached",
        startup[0].as_secs_f64() * 1000.0,
        startup[1].as_secs_f64() * 1000.0
    );
    apex.kill()?;
    fake.kill()?;
    let _ = std::fs::remove_dir_all(&data);
    Ok(())
}

fn mib(kib: Option<u64>) -> String {
    kib.map(|k| format!("{:.1}", k as f64 / 1024.0))
        .unwrap_or_else(|| "?".into())
}
