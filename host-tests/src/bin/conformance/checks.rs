//! The checks, and what a host run reports.

use std::path::Path;

use anyhow::{Context, Result, ensure};
use serde::{Deserialize, Serialize};

use crate::http::*;
use crate::suite::*;

/// Every check, in table order: (name, what it shows).
pub const CHECKS: &[(&str, &str)] = &[
    ("health", "GET /health"),
    (
        "models-auth",
        "GET /v1/models without the gateway key is 401",
    ),
    (
        "models",
        "GET /v1/models lists echo and the configured aliases",
    ),
    ("chat-echo", "/v1/chat/completions with echo"),
    (
        "chat-echo-stream",
        "the same streamed: SSE chunks, finish, [DONE]",
    ),
    ("messages-echo", "/v1/messages with echo"),
    (
        "messages-echo-stream",
        "the same streamed: Anthropic event grammar",
    ),
    ("responses-echo", "/v1/responses with echo"),
    (
        "responses-read-back",
        "GET /v1/responses/{id}: the stored response",
    ),
    ("ollama-chat", "/api/chat with echo: NDJSON, done last"),
    ("ollama-tags", "GET /api/tags"),
    ("upstream-chat", "chat through a scripted provider"),
    ("upstream-stream", "a stream through a scripted provider"),
    ("upstream-tool-call", "a tool call from a scripted provider"),
    (
        "messages-tool-call",
        "/v1/messages → OpenAI provider, translated tool_use",
    ),
    ("failover", "first provider 503 → second answers"),
    (
        "cooldown",
        "a 429 with Retry-After benches the key: in /stats",
    ),
    (
        "key-limit",
        "a key's per-model request limit: 429 with Retry-After (counted in the key-value store)",
    ),
    (
        "status-page",
        "GET /ui: the status page (HTML, CSP); /stats names aliases and targets",
    ),
    (
        "read-back-after-restart",
        "the stored response after the host restarted",
    ),
    (
        "redis-shared-with-apex",
        "a response `apex --kv redis://` stored, read through this host on the same Redis",
    ),
];

/// Checks only some hosts run (a blank cell elsewhere).
pub const OPTIONAL: &[&str] = &["redis-shared-with-apex"];

/// Checks that need the key-value store to keep writes between requests.
pub const NEEDS_KV: &[&str] = &[
    "responses-read-back",
    "cooldown",
    "key-limit",
    "read-back-after-restart",
    "redis-shared-with-apex",
];

/// The text of the scripted provider's plain answer.
pub const UPSTREAM_TEXT: &str = "Hello from the fake upstream.";

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Pass,
    Fail,
    NotApplicable,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct CheckResult {
    pub name: String,
    pub outcome: Outcome,
    pub detail: String,
}

#[derive(Serialize, Deserialize, Default, Debug)]
pub struct HostReport {
    pub label: String,
    pub base_url: String,
    /// Set when the host could not be started or reached at all.
    pub unavailable: Option<String>,
    pub stored_response_id: Option<String>,
    pub stored_response_text: Option<String>,
    pub checks: Vec<CheckResult>,
}

pub async fn read_back(http: &Http, report: &HostReport) -> Result<String> {
    let id = report
        .stored_response_id
        .as_deref()
        .context("no response was stored (responses-echo failed)")?;
    let reply = http
        .get(&format!("/v1/responses/{id}"))
        .await?
        .ok()?
        .json()?;
    ensure!(reply["id"] == id, "read back {}", reply["id"]);
    let text = response_text(&reply);
    ensure!(
        Some(text.as_str()) == report.stored_response_text.as_deref(),
        "read back text {text:?}"
    );
    Ok(format!("{id} read back"))
}

pub fn write_report(path: &Path, report: &HostReport) -> Result<()> {
    std::fs::write(path, serde_json::to_vec_pretty(report)?)
        .with_context(|| format!("writing {}", path.display()))
}

pub fn read_report(path: &Path) -> Result<HostReport> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))
}

pub fn table(paths: &[String]) -> Result<bool> {
    let reports: Vec<HostReport> = paths
        .iter()
        .map(|p| read_report(Path::new(p)))
        .collect::<Result<_>>()?;
    let mut notes: Vec<String> = Vec::new();
    let mut failed = false;
    // cells[check][host]
    let mut cells: Vec<Vec<String>> = Vec::new();
    for (check, _) in CHECKS {
        let mut row = Vec::new();
        for report in &reports {
            let result = report.checks.iter().find(|c| c.name == *check);
            let cell = match (&report.unavailable, result) {
                (Some(_), _) => {
                    failed = true;
                    "✗".to_string()
                }
                (None, None) if OPTIONAL.contains(check) => "–".to_string(),
                (None, None) => {
                    failed = true;
                    notes.push(format!("{} / {check}: not run", report.label));
                    "✗ not run".to_string()
                }
                (None, Some(result)) => match result.outcome {
                    Outcome::Pass => "✓".to_string(),
                    Outcome::Fail => {
                        failed = true;
                        notes.push(format!("{} / {check}: ✗ {}", report.label, result.detail));
                        "✗".to_string()
                    }
                    Outcome::NotApplicable => {
                        notes.push(format!(
                            "{} / {check}: n/a: {}",
                            report.label, result.detail
                        ));
                        let reason = result.detail.split(" (").next().unwrap_or_default();
                        format!("n/a: {reason}")
                    }
                },
            };
            row.push(cell);
        }
        cells.push(row);
    }
    let chars = |s: &str| s.chars().count();
    let first = CHECKS.iter().map(|(n, _)| n.len()).max().unwrap_or(10);
    let widths: Vec<usize> = reports
        .iter()
        .enumerate()
        .map(|(i, r)| {
            cells
                .iter()
                .map(|row| chars(&row[i]))
                .chain([chars(&r.label)])
                .max()
                .unwrap_or(1)
        })
        .collect();
    let pad = |text: &str, width: usize| format!("{text}{}", " ".repeat(width - chars(text)));
    let mut out = format!("| {} |", pad("check", first));
    for (report, width) in reports.iter().zip(&widths) {
        out.push_str(&format!(" {} |", pad(&report.label, *width)));
    }
    out.push_str(&format!("\n|{}|", "-".repeat(first + 2)));
    for width in &widths {
        out.push_str(&format!("{}|", "-".repeat(width + 2)));
    }
    out.push('\n');
    for ((check, _), row) in CHECKS.iter().zip(&cells) {
        out.push_str(&format!("| {} |", pad(check, first)));
        for (cell, width) in row.iter().zip(&widths) {
            out.push_str(&format!(" {} |", pad(cell, *width)));
        }
        out.push('\n');
    }
    for report in &reports {
        if let Some(reason) = &report.unavailable {
            notes.push(format!("{}: not available: {reason}", report.label));
        }
    }
    println!("{out}");
    for note in notes {
        println!("  {note}");
    }
    Ok(!failed)
}
