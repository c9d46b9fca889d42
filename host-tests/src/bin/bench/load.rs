//! Sending load: one request, a timed run at a concurrency, latency percentiles, failures.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use crate::processes::cpu_us;
use crate::scenarios::*;

pub struct Sample {
    pub total: Duration,
    pub first_byte: Duration,
}

/// What one request came to: its timings, or the status (or `0`: no answer) it failed with.
type Outcome = std::result::Result<Sample, u16>;

async fn send(client: &HttpClient, base: &str, path: &str, body: &[u8]) -> Outcome {
    let request = hyper::Request::post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .header("authorization", "Bearer bench-key")
        .body(Full::new(Bytes::copy_from_slice(body)))
        .map_err(|_| 0u16)?;
    let start = Instant::now();
    let response = client.request(request).await.map_err(|_| 0u16)?;
    let status = response.status();
    let mut body = response.into_body();
    let mut first_byte = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| 0u16)?;
        if first_byte.is_none() && frame.data_ref().is_some_and(|d| !d.is_empty()) {
            first_byte = Some(start.elapsed());
        }
    }
    if !status.is_success() {
        return Err(status.as_u16());
    }
    let total = start.elapsed();
    Ok(Sample {
        total,
        first_byte: first_byte.unwrap_or(total),
    })
}

/// One request that must succeed.
pub async fn one(client: &HttpClient, base: &str, path: &str, body: &[u8]) -> Result<Sample> {
    match send(client, base, path, body).await {
        Ok(sample) => Ok(sample),
        Err(0) => bail!("no answer"),
        Err(status) => bail!("HTTP {status}"),
    }
}

/// A timed run's numbers (milliseconds; `rps` counts answered requests).
pub struct Run {
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
    pub ttfb_p50: f64,
    pub ttfb_p99: f64,
    pub rps: f64,
    /// Requests sent, the warm-up's included.
    pub sent: usize,
    /// Microseconds of the gateway's CPU time per request sent, when measured.
    pub cpu_per_request: Option<f64>,
    /// Failed requests by status (`0`: no answer).
    pub failures: BTreeMap<u16, usize>,
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// Numbers for `NONCE`s, never the same twice in a process.
static NONCES: AtomicUsize = AtomicUsize::new(0);

/// `body` with its `NONCE` marker (if any) replaced by a new number: a request no cache has seen.
fn unique(body: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(body) {
        Ok(text) if text.contains(NONCE) => {
            let n = NONCES.fetch_add(1, Ordering::Relaxed);
            text.replace(NONCE, &format!("{}-{n}", std::process::id()))
                .into_bytes()
        }
        _ => body.to_vec(),
    }
}

/// `run` (a [`load`]), with the CPU time the process `pid` (the gateway) spent per request.
pub async fn measuring_cpu(pid: u32, run: impl Future<Output = Result<Run>>) -> Result<Run> {
    let before = cpu_us(pid);
    let mut run = run.await?;
    if let (Some(before), Some(after)) = (before, cpu_us(pid)) {
        run.cpu_per_request = Some((after - before) / run.sent.max(1) as f64);
    }
    Ok(run)
}

/// `concurrency` workers send requests for `duration` (at most `max_requests` in all), after a
/// warm-up; failures are counted, not fatal. A `NONCE` in `body` makes each request different.
pub async fn load(
    client: &HttpClient,
    base: &str,
    path: &str,
    body: &[u8],
    concurrency: usize,
    duration: Duration,
    max_requests: usize,
) -> Result<Run> {
    // Warm up connections and caches (one request per worker, all at once).
    let warm: Vec<_> = (0..concurrency)
        .map(|_| {
            let client = client.clone();
            let (base, path, body) = (base.to_string(), path.to_string(), body.to_vec());
            tokio::spawn(async move {
                let body = unique(&body);
                send(&client, &base, &path, &body).await.is_ok()
            })
        })
        .collect();
    for task in warm {
        task.await?;
    }
    let start = Instant::now();
    let deadline = start + duration;
    let counter = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let (base, path, body) = (base.to_string(), path.to_string(), body.to_vec());
        let counter = Arc::clone(&counter);
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            loop {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                if Instant::now() >= deadline || n >= max_requests {
                    break;
                }
                let body = unique(&body);
                outcomes.push(send(&client, &base, &path, &body).await);
            }
            outcomes
        }));
    }
    let mut samples = Vec::new();
    let mut failures = BTreeMap::new();
    for task in tasks {
        for outcome in task.await? {
            match outcome {
                Ok(sample) => samples.push(sample),
                Err(status) => *failures.entry(status).or_insert(0) += 1,
            }
        }
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
        p999: percentile(&totals, 0.999),
        ttfb_p50: percentile(&ttfb, 0.5),
        ttfb_p99: percentile(&ttfb, 0.99),
        rps: samples.len() as f64 / elapsed,
        sent: concurrency + samples.len() + failures.values().sum::<usize>(),
        cpu_per_request: None,
        failures,
    })
}
