//! `--chaos`: failover under random provider failures.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::load::*;
use crate::processes::*;
use crate::scenarios::*;

/// One request: its status and how long it took (errors count as failures, not aborts).
pub async fn status_of(client: &HttpClient, base: &str, body: &[u8]) -> (u16, Duration) {
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
pub async fn batch(
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
pub async fn chaos(requests: usize) -> Result<()> {
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
