//! `GET /v1/models` and `GET /v1/models/{id}`: every alias the gateway serves, in OpenAI's list
//! format, or Anthropic's when the client sends `anthropic-version` (the anthropic SDKs' `models`
//! calls). Each entry advertises the alias's context window and output limit
//! ([`Config::model_limits`]), so agent clients compact and cap their answers in time.

use serde_json::{Value, json};

use crate::config::{Config, ECHO_MODEL};
use crate::http::error::ApiError;

/// `created_at` of every listed model in Anthropic's shape (the listing is stable).
const CREATED_AT: &str = "2025-01-01T00:00:00Z";

/// Which shape a listing takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    OpenAi,
    Anthropic,
}

impl Shape {
    /// Anthropic's when the client sends `anthropic-version`, else OpenAI's.
    pub fn of(headers: &[(String, String)]) -> Self {
        match apex_adapter_kit::http::header(headers, "anthropic-version") {
            Some(_) => Self::Anthropic,
            None => Self::OpenAi,
        }
    }
}

/// Every servable name: `echo` first when enabled, then the aliases in name order.
fn names(config: &Config) -> Vec<&str> {
    let echo = (config.echo_model && !config.models.contains_key(ECHO_MODEL)).then_some(ECHO_MODEL);
    echo.into_iter()
        .chain(config.models.keys().map(String::as_str))
        .collect()
}

fn entry(config: &Config, name: &str, shape: Shape) -> Value {
    let limits = config.model_limits(name);
    let mut entry = match shape {
        Shape::OpenAi => {
            let owner = config
                .models
                .get(name)
                .and_then(|targets| targets.first())
                .map_or("apex", |t| t.provider.as_str());
            json!({"id": name, "object": "model", "created": 0, "owned_by": owner,
                   "context_length": limits.context_window})
        }
        Shape::Anthropic => json!({
            "type": "model", "id": name, "display_name": name, "created_at": CREATED_AT,
        }),
    };
    entry["context_window"] = json!(limits.context_window);
    if let Some(max) = limits.max_output_tokens {
        entry["max_output_tokens"] = json!(max);
    }
    entry
}

/// `GET /v1/models`.
pub fn render(config: &Config, shape: Shape) -> Vec<u8> {
    let names = names(config);
    let data: Vec<Value> = names.iter().map(|n| entry(config, n, shape)).collect();
    let list = match shape {
        Shape::OpenAi => json!({"object": "list", "data": data}),
        Shape::Anthropic => json!({
            "data": data, "has_more": false,
            "first_id": names.first(), "last_id": names.last(),
        }),
    };
    serde_json::to_vec(&list).unwrap_or_default()
}

/// `GET /v1/models/{id}`: one servable name, or a 404 naming it.
pub fn get(config: &Config, id: &str, shape: Shape) -> Result<Vec<u8>, ApiError> {
    if !names(config).contains(&id) {
        return Err(ApiError::model_not_found(id));
    }
    Ok(serde_json::to_vec(&entry(config, id, shape)).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        crate::config::load(
            Some(
                "[providers.claude]\nkind = \"anthropic\"\nbase_url = \"http://a.test/v1\"\nkeys = []\n\
                 [models.smart]\ntargets = [\"claude/claude-sonnet-4-5\"]\n\
                 [models.big]\ntargets = [\"claude/claude-sonnet-4-5\"]\ncontext_window = 1000000\nmax_output_tokens = 64000\n",
            ),
            &|_| None,
        )
        .unwrap()
    }

    #[test]
    fn listings_advertise_each_alias_s_limits_in_either_shape() {
        let config = config();
        let openai: Value = serde_json::from_slice(&render(&config, Shape::OpenAi)).unwrap();
        let ids: Vec<&str> = openai["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["echo", "big", "smart"]);
        let big = &openai["data"][1];
        assert_eq!(big["context_window"], 1_000_000);
        assert_eq!(big["context_length"], 1_000_000);
        assert_eq!(big["max_output_tokens"], 64_000);
        let smart = &openai["data"][2];
        assert_eq!(smart["owned_by"], "claude");
        assert_eq!(
            smart["context_window"],
            config.providers["claude"].context_window
        );
        assert!(smart.get("max_output_tokens").is_none());

        let anthropic: Value = serde_json::from_slice(&render(&config, Shape::Anthropic)).unwrap();
        assert_eq!(anthropic["has_more"], false);
        assert_eq!(anthropic["first_id"], "echo");
        assert_eq!(anthropic["last_id"], "smart");
        assert_eq!(anthropic["data"][1]["type"], "model");
        assert_eq!(anthropic["data"][1]["display_name"], "big");
        assert_eq!(anthropic["data"][1]["max_output_tokens"], 64_000);

        let one: Value =
            serde_json::from_slice(&get(&config, "big", Shape::Anthropic).unwrap()).unwrap();
        assert_eq!(one["id"], "big");
        assert_eq!(get(&config, "nope", Shape::OpenAi).unwrap_err().status, 404);
        let headers = vec![("anthropic-version".to_string(), "2023-06-01".to_string())];
        assert_eq!(Shape::of(&headers), Shape::Anthropic);
        assert_eq!(Shape::of(&[]), Shape::OpenAi);
    }
}
