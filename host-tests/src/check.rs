//! `apex check --config FILE`: the config checked by the router component itself (in this
//! process, no server started), then its effective routes printed: aliases and their targets,
//! providers with which key variables are set and which are missing. Exit status 1 when the
//! gateway could not start with it.

use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use apex_host::App;
use apex_host::app::{AppConfig, variables_from_env};
use apex_host::kv::KvStore;
use apex_host::outbound::PooledClient;
use serde_json::Value;

/// A token only this process knows (the component answers `GET /config` to it).
fn fresh_token() -> String {
    (0..4).fold(String::new(), |mut token, i| {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(i);
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        let _ = write!(token, "{:016x}", hasher.finish());
        token
    })
}

/// Run the check; `Ok(true)` when the config is usable.
pub async fn run(config: Option<&Path>) -> Result<bool> {
    let mut variables = variables_from_env(config)?;
    let token = fresh_token();
    variables.insert("apex_check_token".to_string(), token.clone());
    // The check's own request is not an operator's: no log line for it.
    variables.insert("apex_log".to_string(), "off".to_string());
    let app = App::new(AppConfig {
        kv: KvStore::in_memory(),
        variables,
        outbound: Arc::new(PooledClient::new()),
        cache_dir: None,
        max_instances: 4,
    })
    .await?;
    let request = hyper::Request::get("http://localhost/config")
        .header("authorization", format!("Bearer {token}"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))?;
    let response = app.handle(request).await?;
    let status = response.status();
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .map_err(|e| anyhow!("reading the component's answer: {e}"))?
        .to_bytes();
    let answer: Value = serde_json::from_slice(&body).context("the component's answer")?;
    let place = config.map_or("the defaults".to_string(), |p| p.display().to_string());
    if !status.is_success() {
        let message = answer["error"]["message"]
            .as_str()
            .unwrap_or("the gateway cannot start with this config");
        println!("apex check: {place}: NOT usable\n  {message}");
        return Ok(false);
    }
    print!("{}", render(&place, &answer));
    Ok(true)
}

/// The environment variable of a config variable (`openai_api_key` → `OPENAI_API_KEY`).
fn env_name(variable: &str) -> String {
    variable.to_ascii_uppercase()
}

/// The report, for people.
fn render(place: &str, report: &Value) -> String {
    let mut out = format!("apex check: {place}: OK\n");
    let empty = serde_json::Map::new();
    let _ = writeln!(out, "\nmodels (alias -> targets):");
    for (alias, model) in report["aliases"].as_object().unwrap_or(&empty) {
        let targets: Vec<&str> = model["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["target"].as_str())
            .collect();
        let strategy = model["strategy"].as_str().unwrap_or("failover");
        let _ = writeln!(out, "  {alias:<24} {strategy:<12} {}", targets.join(", "));
    }
    if report["echo_model"] == true {
        let _ = writeln!(out, "  {:<24} {:<12} built in, no provider", "echo", "-");
    }
    let _ = writeln!(out, "\nproviders:");
    let mut missing = Vec::new();
    for (name, provider) in report["providers"].as_object().unwrap_or(&empty) {
        let keys: Vec<String> = provider["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|k| {
                let variable = env_name(k["variable"].as_str().unwrap_or("?"));
                if k["set"] == true {
                    format!("{variable} set")
                } else {
                    missing.push(variable.clone());
                    format!("{variable} MISSING")
                }
            })
            .collect();
        let keys = if keys.is_empty() {
            "no key".to_string()
        } else {
            keys.join(", ")
        };
        let _ = writeln!(
            out,
            "  {name:<16} {:<10} {}  [{keys}]",
            provider["kind"].as_str().unwrap_or("?"),
            provider["base_url"].as_str().unwrap_or("?"),
        );
    }
    let off: Vec<String> = report["catalog_providers_off"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            format!(
                "{} ({})",
                p["provider"].as_str().unwrap_or("?"),
                env_name(p["variable"].as_str().unwrap_or("?"))
            )
        })
        .collect();
    if !off.is_empty() {
        let _ = writeln!(
            out,
            "\nbuilt-in providers off (set the variable to switch one on):\n  {}",
            off.join(", ")
        );
    }
    let keys: Vec<String> = report["gateway_keys"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|k| {
            let name = k["name"].as_str().unwrap_or("?");
            if k["admin"] == true {
                format!("{name} (admin)")
            } else {
                name.to_string()
            }
        })
        .collect();
    if keys.is_empty() {
        let _ = writeln!(
            out,
            "\ngateway keys: none (an open gateway: local clients only)"
        );
    } else {
        let _ = writeln!(out, "\ngateway keys: {}", keys.join(", "));
    }
    let names = |field: &str| -> Vec<String> {
        report[field]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    };
    let limits = names("limits");
    if !limits.is_empty() {
        let _ = writeln!(out, "limits for: {}", limits.join(", "));
    }
    let prices = names("prices");
    if !prices.is_empty() {
        let _ = writeln!(out, "prices for: {}", prices.join(", "));
    }
    let _ = writeln!(
        out,
        "request log: {}",
        report["log"].as_str().unwrap_or("text")
    );
    if !missing.is_empty() {
        let _ = writeln!(
            out,
            "\nmissing key variables (their keys are skipped): {}",
            missing.join(", ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_report_lists_routes_and_missing_variables() {
        let report = serde_json::json!({
            "aliases": {"fast": {"strategy": "failover", "targets": [{"target": "groq/llama"}, {"target": "openai/gpt"}]}},
            "echo_model": true,
            "providers": {"openai": {"kind": "openai", "base_url": "https://api.openai.com/v1",
                "keys": [{"variable": "openai_api_key", "set": true}, {"variable": "openai_api_key_2", "set": false}]}},
            "catalog_providers_off": [{"provider": "groq", "variable": "groq_api_key"}],
            "gateway_keys": [{"name": "ops", "admin": true}],
            "limits": ["ops"], "prices": [], "log": "json"
        });
        let text = render("apex.toml", &report);
        assert!(text.contains("fast"), "{text}");
        assert!(text.contains("groq/llama, openai/gpt"), "{text}");
        assert!(
            text.contains("OPENAI_API_KEY set, OPENAI_API_KEY_2 MISSING"),
            "{text}"
        );
        assert!(text.contains("groq (GROQ_API_KEY)"), "{text}");
        assert!(text.contains("gateway keys: ops (admin)"), "{text}");
        assert!(text.contains("missing key variables (their keys are skipped): OPENAI_API_KEY_2"));
        assert_ne!(fresh_token(), fresh_token());
        assert_eq!(fresh_token().len(), 64);
    }
}
