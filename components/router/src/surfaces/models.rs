//! `GET /v1/models`: every alias the gateway serves, in OpenAI's list format.

use serde_json::json;

use crate::config::{Config, ECHO_MODEL};

pub fn render(config: &Config) -> Vec<u8> {
    let mut data = Vec::new();
    if config.echo_model {
        data.push(json!({"id": ECHO_MODEL, "object": "model", "created": 0, "owned_by": "apex"}));
    }
    for (alias, targets) in &config.models {
        let owner = targets
            .first()
            .map(|t| t.provider.as_str())
            .unwrap_or("apex");
        data.push(json!({"id": alias, "object": "model", "created": 0, "owned_by": owner}));
    }
    serde_json::to_vec(&json!({"object": "list", "data": data})).unwrap_or_default()
}
