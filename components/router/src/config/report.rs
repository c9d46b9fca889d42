//! The effective configuration as data: [`routes`] (aliases and their targets, providers' kinds)
//! for `/stats` readers, and [`render`] for `GET /config` (admin) and `apex check`, which adds which
//! key variables are set, gateway keys and limits by name. Never a key or any variable's value.

use serde_json::{Map, Value, json};

use super::catalog::CATALOG;
use super::types::Config;

/// What the config serves: each alias's strategy, cache switch and targets in order; each
/// provider's kind and how many keys it has (their labels are `provider#0` .. `provider#<keys - 1>`,
/// or `provider#0` alone for a provider without keys); the `[[model_patterns]]` entries; whether
/// `echo` is served. Key values, variable names, base URLs and headers are left out: `/stats` shows
/// this to its readers (the status page).
pub fn routes(config: &Config) -> Value {
    let aliases: Map<String, Value> = config
        .models
        .iter()
        .map(|(alias, targets)| {
            let policy = config.policy(alias);
            let targets: Vec<Value> = targets
                .iter()
                .map(|t| {
                    json!({
                        "target": t.id(),
                        "provider": t.provider,
                        "model": t.model,
                        "weight": t.weight,
                    })
                })
                .collect();
            let strategy = serde_json::to_value(policy.strategy).unwrap_or(Value::Null);
            let entry = json!({
                "strategy": strategy,
                "cache": policy.cache,
                "targets": targets,
            });
            (alias.clone(), entry)
        })
        .collect();
    let providers: Map<String, Value> = config
        .providers
        .iter()
        .map(|(name, provider)| {
            let entry = json!({"kind": provider.kind, "keys": provider.keys.len()});
            (name.clone(), entry)
        })
        .collect();
    let patterns: Vec<Value> = config
        .model_patterns
        .iter()
        .map(|(pattern, model)| json!({"pattern": pattern, "model": model}))
        .collect();
    json!({
        "aliases": aliases,
        "providers": providers,
        "model_patterns": patterns,
        "echo_model": config.echo_model,
    })
}

/// The report of `config` (`GET /config`, `apex check`): its [`routes`], with each provider's
/// base URL and key *variables* (set or not, never a value), the built-in providers that are off,
/// gateway key names, limits, prices and the log format.
pub fn render(config: &Config) -> Value {
    let mut report = routes(config);
    let mut providers = Map::new();
    for (name, provider) in &config.providers {
        let keys: Vec<Value> = provider
            .key_variables
            .iter()
            .map(|(variable, set)| json!({"variable": variable, "set": set}))
            .collect();
        providers.insert(
            name.clone(),
            json!({
                "kind": provider.kind,
                "base_url": provider.base_url,
                "keys": keys,
                "usable_keys": provider.keys.len(),
            }),
        );
    }
    let off_catalog: Vec<Value> = CATALOG
        .iter()
        .filter(|entry| !config.providers.contains_key(entry.name))
        .map(|entry| json!({"provider": entry.name, "variable": entry.key_variable}))
        .collect();
    let gateway_keys: Vec<Value> = config
        .gateway_keys
        .iter()
        .map(|key| {
            let admin = crate::http::access::is_admin(
                &key.name,
                config.admin_keys.as_deref(),
                config.gateway_keys.len(),
            );
            json!({"name": key.name, "admin": admin})
        })
        .collect();
    let limits: Vec<&String> = config.limits.keys().collect();
    let prices: Vec<&String> = config.prices.keys().collect();
    report["object"] = json!("config");
    report["open_gateway"] = json!(config.gateway_keys.is_empty());
    report["gateway_keys"] = json!(gateway_keys);
    report["providers"] = Value::Object(providers);
    report["catalog_providers_off"] = json!(off_catalog);
    report["limits"] = json!(limits);
    report["prices"] = json!(prices);
    report["log"] = json!(match config.log {
        crate::http::request_log::LogFormat::Text => "text",
        crate::http::request_log::LogFormat::Json => "json",
        crate::http::request_log::LogFormat::Off => "off",
    });
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_names_variables_never_their_values() {
        let config = crate::config::load(
            Some(
                r#"
[gateway]
api_keys = { ops = "ops_key" }
[providers.openai]
keys = ["openai_api_key", "openai_api_key_2"]
[models.fast]
targets = ["openai/gpt-4o-mini"]
"#,
            ),
            &|name| match name {
                "ops_key" => Some("sk-ops-secret".into()),
                "openai_api_key" => Some("sk-openai-secret".into()),
                _ => None,
            },
        )
        .unwrap();
        let report = render(&config);
        let text = report.to_string();
        assert!(!text.contains("secret"), "{text}");
        assert_eq!(
            report["providers"]["openai"]["keys"],
            json!([{"variable": "openai_api_key", "set": true}, {"variable": "openai_api_key_2", "set": false}])
        );
        assert_eq!(
            report["aliases"]["fast"]["targets"][0]["target"],
            "openai/gpt-4o-mini"
        );
        assert_eq!(
            report["gateway_keys"][0],
            json!({"name": "ops", "admin": true})
        );
        assert!(
            report["catalog_providers_off"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["provider"] == "groq")
        );
    }
}
