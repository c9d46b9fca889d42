//! `GET /v1beta/models` and `GET /v1beta/models/{model}`: the aliases the gateway serves, in
//! Google's `Model` shape (`name` is `models/<alias>`). Limits are the alias's
//! ([`Config::model_limits`]); without a configured output limit, `outputTokenLimit` is
//! [`OUTPUT_TOKEN_LIMIT`].

use serde_json::{Value, json};

use crate::config::{Config, ECHO_MODEL, TargetRef};
use crate::http::error::ApiError;

/// The output limit a listed model advertises when its alias configures none.
pub const OUTPUT_TOKEN_LIMIT: u32 = 65_536;

fn entry(config: &Config, alias: &str, targets: &[TargetRef]) -> Value {
    let provider = targets
        .first()
        .and_then(|t| config.providers.get(&t.provider));
    let limits = config.model_limits(alias);
    json!({
        "name": format!("models/{alias}"),
        "version": "001",
        "displayName": alias,
        "description": format!("`{alias}`, served by the Apex gateway."),
        "inputTokenLimit": limits.context_window,
        "outputTokenLimit": limits.max_output_tokens.unwrap_or(OUTPUT_TOKEN_LIMIT),
        "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
        "thinking": provider.is_some_and(|p| p.thinking),
    })
}

/// Every alias (in name order), then `echo` when enabled.
pub fn list(config: &Config) -> Vec<u8> {
    let mut models: Vec<Value> = config
        .models
        .iter()
        .map(|(alias, targets)| entry(config, alias, targets))
        .collect();
    if config.echo_model && !config.models.contains_key(ECHO_MODEL) {
        models.push(entry(config, ECHO_MODEL, &[]));
    }
    serde_json::to_vec(&json!({ "models": models })).unwrap_or_default()
}

/// One model, by alias (with or without `models/`).
pub fn get(config: &Config, model: &str) -> Result<Vec<u8>, ApiError> {
    let alias = model.strip_prefix("models/").unwrap_or(model);
    let found = match config.models.get(alias) {
        Some(targets) => entry(config, alias, targets),
        None if alias == ECHO_MODEL && config.echo_model => entry(config, alias, &[]),
        None => return Err(not_found(alias)),
    };
    Ok(serde_json::to_vec(&found).unwrap_or_default())
}

/// Google's answer for a model it does not have.
pub fn not_found(model: &str) -> ApiError {
    not_found_for(model, "generateContent")
}

/// Google's answer for a model it does not have, asked for `method`.
pub fn not_found_for(model: &str, method: &str) -> ApiError {
    ApiError::not_found(format!(
        "models/{model} is not found for API version v1beta, or is not supported for {method}. Call ListModels to see the list of available models and their supported methods."
    ))
}
