//! Sending load: one request, a timed run at a concurrency, latency percentiles.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use crate::scenarios::*;

pub struct Sample {
    pub total: Duration,
    pub first_byte: Duration,
}

pub async fn one(client: &HttpClient, base: &str, path: &str, body: &[u8]) -> Result<Sample> {
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

pub struct Run {
    pub p50: f64,
    pub p99: f64,
    pub ttfb_p50: f64,
    pub rps: f64,
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// `concurrency` workers send requests for `duration` (at most `max_requests` in all).
pub async fn load(
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
