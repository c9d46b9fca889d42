//! The effective configuration as data, for `GET /config` (admin) and `apex check`: aliases and
//! their targets, providers and which key variables are set, gateway keys and limits by name.
//! Never a key or any variable's value.

use serde_json::{Map, Value, json};

use super::catalog::CATALOG;
use super::types::Config;

/// The report of `config`.
pub fn render(config: &Config) -> Value {
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
    let mut models = Map::new();
    for (alias, targets) in &config.models {
        let policy = config.policy(alias);
        let targets: Vec<Value> = targets
            .iter()
            .map(|t| {
                json!({
                    "target": t.id(),
                    "weight": t.weight,
                    "provider_configured": config.providers.contains_key(&t.provider),
                })
            })
            .collect();
        models.insert(
            alias.clone(),
            json!({"strategy": policy.strategy, "cache": policy.cache, "targets": targets}),
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
    json!({
        "object": "config",
        "open_gateway": config.gateway_keys.is_empty(),
        "gateway_keys": gateway_keys,
        "echo_model": config.echo_model,
        "models": models,
        "model_patterns": config.model_patterns.iter().map(|(p, m)| json!({"pattern": p, "model": m})).collect::<Vec<_>>(),
        "providers": providers,
        "catalog_providers_off": off_catalog,
        "limits": limits,
        "prices": prices,
        "log": match config.log {
            crate::http::request_log::LogFormat::Text => "text",
            crate::http::request_log::LogFormat::Json => "json",
            crate::http::request_log::LogFormat::Off => "off",
        },
    })
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
            report["models"]["fast"]["targets"][0]["target"],
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
