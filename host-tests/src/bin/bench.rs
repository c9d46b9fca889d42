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

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

type HttpClient = Client<HttpConnector, Full<Bytes>>;

struct Scenario {
    name: &'static str,
    /// Path and body through Apex.
    via_apex: (String, Vec<u8>),
    /// The equivalent request straight to the provider.
    direct: (String, Vec<u8>),
    stream: bool,
}

fn chat_body(model: &str, stream: bool, prompt: &str) -> Vec<u8> {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": prompt}]})
        .to_string()
        .into_bytes()
}

fn anthropic_body(model: &str, stream: bool, prompt: &str) -> Vec<u8> {
    json!({"model": model, "max_tokens": 4096, "stream": stream, "messages": [{"role": "user", "content": [{"type": "text", "text": prompt}]}]})
        .to_string()
        .into_bytes()
}

fn scenarios() -> Vec<Scenario> {
    let big: String = "lorem ipsum dolor sit amet ".repeat(100 * 1024 / 27);
    vec![
        Scenario {
            name: "small chat (forwarded)",
            via_apex: (
                "/v1/chat/completions".into(),
                chat_body("bench-openai", false, "hi"),
            ),
            direct: (
                "/v1/chat/completions".into(),
                chat_body("gpt-4o-mini", false, "hi"),
            ),
            stream: false,
        },
        Scenario {
            name: "20-chunk stream (pass-through)",
            via_apex: (
                "/v1/chat/completions".into(),
                chat_body("bench-openai", true, "hi"),
            ),
            direct: (
                "/v1/chat/completions".into(),
                chat_body("gpt-4o-mini", true, "hi"),
            ),
            stream: true,
        },
        Scenario {
            name: "20-chunk stream (OpenAI→Anthropic)",
            via_apex: (
                "/v1/chat/completions".into(),
                chat_body("bench-anthropic", true, "hi"),
            ),
            direct: (
                "/v1/messages".into(),
                anthropic_body("claude-sonnet-4-5", true, "hi"),
            ),
            stream: true,
        },
        Scenario {
            name: "100 KB prompt (forwarded)",
            via_apex: (
                "/v1/chat/completions".into(),
                chat_body("bench-openai", false, &big),
            ),
            direct: (
                "/v1/chat/completions".into(),
                chat_body("gpt-4o-mini", false, &big),
            ),
            stream: false,
        },
    ]
}

struct Sample {
    total: Duration,
    first_byte: Duration,
}

async fn one(client: &HttpClient, base: &str, path: &str, body: &[u8]) -> Result<Sample> {
    let request = hyper::Request::post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .header("authorization", "Bearer bench-key")
        .body(Full::new(Bytes::copy_from_slice(body)))?;
    let start = Instant::now();
    let response = client.request(request).await?;
    if !response.status().is_success() {
        bail!("HTTP {}", response.status());
    }
    let mut body = response.into_body();
    let mut first_byte = None;
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        if first_byte.is_none() && frame.data_ref().is_some_and(|d| !d.is_empty()) {
            first_byte = Some(start.elapsed());
        }
    }
    let total = start.elapsed();
    Ok(Sample {
        total,
        first_byte: first_byte.unwrap_or(total),
    })
}

struct Run {
    p50: f64,
    p99: f64,
    ttfb_p50: f64,
    rps: f64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// `concurrency` workers send requests for `duration` (at most `max_requests` in all).
async fn load(
    client: &HttpClient,
    base: &str,
    path: &str,
    body: &[u8],
    concurrency: usize,
    duration: Duration,
    max_requests: usize,
) -> Result<Run> {
    // Warm up connections and caches.
    for _ in 0..concurrency.max(8) {
        one(client, base, path, body).await?;
    }
    let start = Instant::now();
    let deadline = start + duration;
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let (base, path, body) = (base.to_string(), path.to_string(), body.to_vec());
        let counter = Arc::clone(&counter);
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            while Instant::now() < deadline
                && counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < max_requests
            {
                samples.push(one(&client, &base, &path, &body).await?);
            }
            Ok::<_, anyhow::Error>(samples)
        }));
    }
    let mut samples = Vec::new();
    for task in tasks {
        samples.extend(task.await??);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mut totals: Vec<f64> = samples
        .iter()
        .map(|s| s.total.as_secs_f64() * 1000.0)
        .collect();
    let mut ttfb: Vec<f64> = samples
        .iter()
        .map(|s| s.first_byte.as_secs_f64() * 1000.0)
        .collect();
    totals.sort_by(f64::total_cmp);
    ttfb.sort_by(f64::total_cmp);
    Ok(Run {
        p50: percentile(&totals, 0.5),
        p99: percentile(&totals, 0.99),
        ttfb_p50: percentile(&ttfb, 0.5),
        rps: samples.len() as f64 / elapsed,
    })
}

fn sibling(name: &str) -> Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe.parent().context("binary dir")?.join(name);
    if !path.exists() {
        bail!(
            "{} not found: build with `cargo build --release -p apex-host --bins`",
            path.display()
        );
    }
    Ok(path)
}

fn has_taskset() -> bool {
    Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn spawn(
    program: &std::path::Path,
    args: &[&str],
    cpus: Option<&str>,
    env: &[(&str, String)],
) -> Result<(Child, String)> {
    let mut command = match cpus {
        Some(cpus) if has_taskset() => {
            let mut c = Command::new("taskset");
            c.args(["-c", cpus]).arg(program);
            c
        }
        _ => Command::new(program),
    };
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {}", program.display()))?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut reader = std::io::BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        if std::io::BufRead::read_line(&mut reader, &mut line)? == 0 {
            bail!("{} exited before listening", program.display());
        }
        if let Some(at) = line.find("listening on ") {
            let address = line[at + 13..]
                .trim()
                .trim_start_matches("http://")
                .to_string();
            // Keep draining stdout so the child never blocks on a full pipe.
            std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
            return Ok((child, address));
        }
    }
}

fn rss_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn cpus() -> (Option<&'static str>, Option<&'static str>) {
    let n = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    if n >= 2 {
        (Some("0"), Some("1-"))
    } else {
        (None, None)
    }
}

/// One request: its status and how long it took (errors count as failures, not aborts).
async fn status_of(client: &HttpClient, base: &str, body: &[u8]) -> (u16, Duration) {
    let start = Instant::now();
    let request = match hyper::Request::post(format!("{base}/v1/chat/completions"))
        .header("content-type", "application/json")
        .header("authorization", "Bearer bench-key")
        .body(Full::new(Bytes::copy_from_slice(body)))
    {
        Ok(request) => request,
        Err(_) => return (0, start.elapsed()),
    };
    match client.request(request).await {
        Ok(response) => {
            let status = response.status().as_u16();
            let _ = response.into_body().collect().await;
            (status, start.elapsed())
        }
        Err(_) => (0, start.elapsed()),
    }
}

/// `requests` requests at `concurrency`: statuses and latencies (ms, sorted).
async fn batch(
    client: &HttpClient,
    base: &str,
    body: &[u8],
    requests: usize,
    concurrency: usize,
) -> (Vec<u16>, Vec<f64>) {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, base, body, next) = (
            client.clone(),
            base.to_string(),
            body.to_vec(),
            Arc::clone(&next),
        );
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < requests {
                seen.push(status_of(&client, &base, &body).await);
            }
            seen
        }));
    }
    let mut statuses = Vec::new();
    let mut latencies = Vec::new();
    for task in tasks {
        for (status, took) in task.await.unwrap_or_default() {
            statuses.push(status);
            latencies.push(took.as_secs_f64() * 1000.0);
        }
    }
    latencies.sort_by(f64::total_cmp);
    (statuses, latencies)
}

/// The failover benchmark (`--chaos`).
async fn chaos(requests: usize) -> Result<()> {
    let (gateway_cpu, other_cpus) = cpus();
    let other_cpus = other_cpus.map(|c| if c == "1-" { "1" } else { c });
    let fake = sibling("apex-fake-upstream")?;
    let mut children = Vec::new();
    let mut flaky = Vec::new();
    for _ in 0..3 {
        let (child, addr) = spawn(
            &fake,
            &["--listen", "127.0.0.1:0", "--fail-rate", "0.3"],
            other_cpus,
            &[],
        )?;
        children.push(child);
        flaky.push(addr);
    }
    let (child, healthy) = spawn(&fake, &["--listen", "127.0.0.1:0"], other_cpus, &[])?;
    children.push(child);
    let data = std::env::temp_dir().join(format!("apex-chaos-{}", std::process::id()));
    std::fs::create_dir_all(&data)?;
    let config = data.join("apex.toml");
    let mut text = String::from("[gateway]\napi_keys = { bench = \"bench_gateway_key\" }\n");
    for (i, addr) in flaky.iter().enumerate() {
        text.push_str(&format!(
            "[providers.flaky{i}]\nkind = \"openai\"\nbase_url = \"http://{addr}/v1\"\nkeys = [\"bench_upstream_key\", \"bench_upstream_key_2\", \"bench_upstream_key_3\"]\n"
        ));
    }
    text.push_str(&format!(
        "[providers.healthy]\nkind = \"openai\"\nbase_url = \"http://{healthy}/v1\"\nkeys = [\"bench_upstream_key\"]\n\
         [models.chaos]\nstrategy = \"round-robin\"\ntargets = [\"flaky0/gpt-4o-mini\", \"flaky1/gpt-4o-mini\", \"flaky2/gpt-4o-mini\"]\n\
         [models.steady]\ntargets = [\"healthy/gpt-4o-mini\"]\n"
    ));
    std::fs::write(&config, text)?;
    let env = [
        ("BENCH_GATEWAY_KEY", "bench-key".to_string()),
        ("BENCH_UPSTREAM_KEY", "sk-bench".to_string()),
        ("BENCH_UPSTREAM_KEY_2", "sk-bench-2".to_string()),
        ("BENCH_UPSTREAM_KEY_3", "sk-bench-3".to_string()),
    ];
    let (mut apex, addr) = spawn(
        &sibling("apex")?,
        &[
            "--listen",
            "127.0.0.1:0",
            "--config",
            config.to_str().context("path")?,
            "--data-dir",
            data.to_str().context("path")?,
        ],
        gateway_cpu,
        &env,
    )?;
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(256)
        .build(connector);
    let apex_base = format!("http://{addr}");
    let healthy_base = format!("http://{healthy}");
    let concurrency = 16;
    // Warm up (compiled components, connections).
    let _ = batch(
        &client,
        &apex_base,
        &chat_body("steady", false, "hi"),
        200,
        concurrency,
    )
    .await;
    let (_, direct) = batch(
        &client,
        &healthy_base,
        &chat_body("gpt-4o-mini", false, "hi"),
        requests,
        concurrency,
    )
    .await;
    let (_, steady) = batch(
        &client,
        &apex_base,
        &chat_body("steady", false, "hi"),
        requests,
        concurrency,
    )
    .await;
    let started = Instant::now();
    let (statuses, chaotic) = batch(
        &client,
        &apex_base,
        &chat_body("chaos", false, "hi"),
        requests,
        concurrency,
    )
    .await;
    let elapsed = started.elapsed().as_secs_f64();
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let mut failures: std::collections::BTreeMap<u16, usize> = Default::default();
    for status in statuses.iter().filter(|s| **s != 200) {
        *failures.entry(*status).or_default() += 1;
    }
    println!(
        "Apex chaos benchmark — 3 providers failing 30 % of calls at random (503/500), round-robin, 3 keys each; {requests} requests at concurrency {concurrency}"
    );
    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| client-visible success | {ok}/{} = {:.3} % |",
        statuses.len(),
        ok as f64 * 100.0 / statuses.len().max(1) as f64
    );
    println!("| failures by status | {failures:?} |");
    println!(
        "| p50 / p99 ms: healthy provider direct | {:.3} / {:.3} |",
        percentile(&direct, 0.5),
        percentile(&direct, 0.99)
    );
    println!(
        "| p50 / p99 ms: healthy provider via Apex | {:.3} / {:.3} |",
        percentile(&steady, 0.5),
        percentile(&steady, 0.99)
    );
    println!(
        "| p50 / p99 ms: flaky providers via Apex | {:.3} / {:.3} |",
        percentile(&chaotic, 0.5),
        percentile(&chaotic, 0.99)
    );
    println!(
        "| added p50 ms (chaos vs direct) | {:.3} |",
        percentile(&chaotic, 0.5) - percentile(&direct, 0.5)
    );
    println!(
        "| requests/s under chaos | {:.0} |",
        statuses.len() as f64 / elapsed
    );
    apex.kill()?;
    for mut child in children {
        let _ = child.kill();
    }
    let _ = std::fs::remove_dir_all(&data);
    Ok(())
}

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
