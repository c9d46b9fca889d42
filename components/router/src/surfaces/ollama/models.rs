//! The model endpoints Ollama clients probe first: `GET /api/tags`, `POST /api/show`,
//! `GET /api/ps`, `GET /api/version`. Model metadata is derived from the config only, so it is
//! stable: `digest` is the SHA-256 of the alias and its targets, `modified_at` is [`MODIFIED_AT`].

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::render::created_at;
use super::wire::model_name;
use crate::config::{Config, ECHO_MODEL, TargetRef};
use crate::http::error::ApiError;
use crate::surfaces::openai_chat::parse_json;

/// What `GET /api/version` reports: Ollama v0.12.6 (released 2025-10-24). Clients compare it
/// against minimums (VS Code Copilot's Ollama provider wants 0.6.4; `think` came in 0.9, streamed
/// tool calls in 0.8); a newer claim would invite clients to use endpoints the gateway lacks.
pub const OLLAMA_VERSION: &str = "0.12.6";

/// `modified_at` of every listed model: 2025-01-01T00:00:00Z. A constant, so listings stay
/// byte-identical across restarts and deploys (strict clients cache by digest and date), and a
/// real date rather than the epoch, so UIs don't show "56 years ago".
pub const MODIFIED_AT: u64 = 1_735_689_600;

/// How long `GET /api/ps` says a model stays loaded: Ollama's default `keep_alive` (5 minutes).
const KEEP_ALIVE_SECS: u64 = 300;

/// How an alias is listed: `name:tag`, with `latest` when it has no tag.
fn listed_name(alias: &str) -> String {
    if alias.contains(':') {
        alias.to_string()
    } else {
        format!("{alias}:latest")
    }
}

fn to_vec<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// What the model endpoints say about one servable model, from its first target.
struct Entry {
    /// The listed and requested name, without `:latest`.
    alias: String,
    /// The provider kind of the first target (`apex` for the built-in echo model): the model's
    /// `family` and `general.architecture`.
    kind: String,
    /// What the first target's kind says of its models (the echo model: 128k, neither).
    context_window: u32,
    vision: bool,
    thinking: bool,
    digest: String,
}

impl Entry {
    fn new(config: &Config, alias: &str, targets: &[TargetRef]) -> Self {
        let provider = targets
            .first()
            .and_then(|t| config.providers.get(&t.provider));
        let mut hasher = Sha256::new();
        hasher.update(alias.as_bytes());
        for target in targets {
            hasher.update(b"\n");
            hasher.update(target.provider.as_bytes());
            hasher.update(b"/");
            hasher.update(target.model.as_bytes());
        }
        let digest = crate::hex::lower(&hasher.finalize());
        Self {
            alias: alias.to_string(),
            kind: provider.map_or_else(|| "apex".to_string(), |p| p.kind.clone()),
            context_window: config.model_limits(alias).context_window,
            vision: provider.is_some_and(|p| p.vision),
            thinking: provider.is_some_and(|p| p.thinking),
            digest,
        }
    }

    fn echo(config: &Config) -> Self {
        Self::new(config, ECHO_MODEL, &[])
    }

    fn details(&self) -> Details<'_> {
        Details {
            parent_model: "",
            format: "gguf",
            family: &self.kind,
            families: vec![&self.kind],
            parameter_size: "",
            quantization_level: "",
        }
    }

    /// The context window advertised (`<arch>.context_length`, `context_length`): what the
    /// kind's adapter says its current models take (clients trim history to it).
    fn context_length(&self) -> u32 {
        self.context_window
    }

    /// `capabilities`: `completion` and `tools` always (every route takes tools); `vision` and
    /// `thinking` as the kind's adapter describes its models (by profile for OpenAI-compatible
    /// providers; neither for the echo model).
    fn capabilities(&self) -> Vec<&'static str> {
        let mut capabilities = vec!["completion", "tools"];
        if self.vision {
            capabilities.push("vision");
        }
        if self.thinking {
            capabilities.push("thinking");
        }
        capabilities
    }
}

/// Every model the endpoints list: each alias (in name order), then `echo` when enabled.
/// `provider/model` names and `[[model_patterns]]` are servable but not listable.
fn entries(config: &Config) -> Vec<Entry> {
    let mut entries: Vec<Entry> = config
        .models
        .iter()
        .map(|(alias, targets)| Entry::new(config, alias, targets))
        .collect();
    if config.echo_model && !config.models.contains_key(ECHO_MODEL) {
        entries.push(Entry::echo(config));
    }
    entries
}

#[derive(Serialize)]
struct Details<'a> {
    parent_model: &'a str,
    format: &'a str,
    family: &'a str,
    families: Vec<&'a str>,
    parameter_size: &'a str,
    quantization_level: &'a str,
}

#[derive(Serialize)]
struct ListedModel<'a> {
    name: String,
    model: String,
    modified_at: String,
    size: u64,
    digest: &'a str,
    details: Details<'a>,
}

#[derive(Serialize)]
struct RunningModel<'a> {
    name: String,
    model: String,
    size: u64,
    digest: &'a str,
    details: Details<'a>,
    expires_at: String,
    size_vram: u64,
    context_length: u32,
}

#[derive(Serialize)]
struct ModelList<T> {
    models: Vec<T>,
}

/// `GET /api/tags`: every alias, as `<alias>:latest` (or its own tag), with stable digests and
/// dates. `_now_secs` is unused: listings must not change between calls.
pub fn tags(config: &Config, _now_secs: u64) -> Vec<u8> {
    let entries = entries(config);
    let models = entries
        .iter()
        .map(|entry| ListedModel {
            name: listed_name(&entry.alias),
            model: listed_name(&entry.alias),
            modified_at: created_at(MODIFIED_AT),
            size: 0,
            digest: &entry.digest,
            details: entry.details(),
        })
        .collect();
    to_vec(&ModelList { models })
}

/// `GET /api/ps`: the same models as [`tags`], each reported loaded until five minutes from now
/// (Ollama's default `keep_alive`). A gateway loads nothing, but every model answers without a
/// load delay, which is what "running" tells a client; and clients that pick or gate on running
/// models keep working.
pub fn ps(config: &Config, now_secs: u64) -> Vec<u8> {
    let entries = entries(config);
    let expires_at = created_at(now_secs.saturating_add(KEEP_ALIVE_SECS));
    let models = entries
        .iter()
        .map(|entry| RunningModel {
            name: listed_name(&entry.alias),
            model: listed_name(&entry.alias),
            size: 0,
            digest: &entry.digest,
            details: entry.details(),
            expires_at: expires_at.clone(),
            size_vram: 0,
            context_length: entry.context_length(),
        })
        .collect();
    to_vec(&ModelList { models })
}

/// `GET /api/version`.
pub fn version() -> Vec<u8> {
    #[derive(Serialize)]
    struct Version {
        version: &'static str,
    }
    to_vec(&Version {
        version: OLLAMA_VERSION,
    })
}

#[derive(Deserialize)]
struct ShowRequest {
    model: Option<String>,
    /// Deprecated in Ollama, still sent by older clients.
    name: Option<String>,
}

#[derive(Serialize)]
struct ShowReply<'a> {
    license: &'a str,
    modelfile: &'a str,
    parameters: &'a str,
    template: &'a str,
    details: Details<'a>,
    /// Sorted keys, as Go renders maps.
    model_info: std::collections::BTreeMap<String, Value>,
    capabilities: Vec<&'static str>,
    modified_at: String,
}

/// `POST /api/show` with `{"model"}` (or the older `{"name"}`): details, `model_info` (with the
/// context window clients size prompts by) and `capabilities` (clients enable tools, images and
/// thinking by them). Aliases, `provider/model` names and `[[model_patterns]]` names resolve as
/// they do for chat; anything else is a 404 `model '<name>' not found`, as Ollama answers.
pub fn show(config: &Config, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let request = parse_json::<ShowRequest>(body)?;
    let requested = request
        .model
        .filter(|m| !m.is_empty())
        .or(request.name.filter(|m| !m.is_empty()))
        .ok_or_else(|| ApiError::bad_request("model is required").param("model"))?;
    crate::routing::targets::check_model_name(config, &requested)?;
    let name = model_name(&requested);
    let served_as = config.route_name(name);
    let served_as: &str = &served_as;
    let entry = match config.targets(served_as) {
        Some(targets) => Entry::new(config, name, &targets),
        None if served_as == ECHO_MODEL && config.echo_model => Entry::echo(config),
        None => {
            return Err(ApiError::not_found(format!(
                "model '{requested}' not found"
            )));
        }
    };
    let mut model_info = std::collections::BTreeMap::new();
    model_info.insert(
        "general.architecture".to_string(),
        Value::String(entry.kind.clone()),
    );
    model_info.insert(
        "general.basename".to_string(),
        Value::String(entry.alias.clone()),
    );
    model_info.insert(
        format!("{}.context_length", entry.kind),
        Value::from(entry.context_length()),
    );
    Ok(to_vec(&ShowReply {
        license: "",
        modelfile: "",
        parameters: "",
        template: "{{ .Prompt }}",
        details: entry.details(),
        model_info,
        capabilities: entry.capabilities(),
        modified_at: created_at(MODIFIED_AT),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::error::ErrorFormat;

    fn load_config(text: &str) -> Config {
        crate::config::load(Some(text), &|name| Some(format!("value-of-{name}"))).unwrap()
    }

    const CONFIG: &str = r#"
        [providers.anthropic]
        [providers.local]
        kind = "openai"
        base_url = "http://127.0.0.1:9/v1"
        keys = []
        [providers.deepseek]
        [models.smart]
        targets = ["anthropic/claude-x", "local/m"]
        [models."fast:8b"]
        targets = ["local/small"]
        [[model_patterns]]
        pattern = "claude-*"
        model = "smart"
    "#;

    #[test]
    fn tags_list_aliases_with_stable_digests() {
        let config = load_config(CONFIG);
        let body = tags(&config, 1);
        assert_eq!(body, tags(&config, 2), "listings do not change");
        let value: Value = serde_json::from_slice(&body).unwrap();
        let models = value["models"].as_array().unwrap();
        let names: Vec<&str> = models.iter().map(|m| m["name"].as_str().unwrap()).collect();
        // Catalog aliases of the configured providers, then the config's, then echo.
        assert!(names.contains(&"smart:latest"), "{names:?}");
        assert!(names.contains(&"fast:8b"), "{names:?}");
        assert!(names.contains(&"claude-sonnet-4-5:latest"), "{names:?}");
        assert_eq!(names.last(), Some(&"echo:latest"));
        assert!(!names.iter().any(|n| n.contains('/')));
        let smart = models.iter().find(|m| m["name"] == "smart:latest").unwrap();
        assert_eq!(smart["model"], "smart:latest");
        assert_eq!(smart["modified_at"], "2025-01-01T00:00:00.000000Z");
        assert_eq!(smart["size"], 0);
        let digest = smart["digest"].as_str().unwrap();
        assert_eq!(digest.len(), 64);
        assert!(
            digest
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(
            smart["details"],
            serde_json::json!({"parent_model":"","format":"gguf","family":"anthropic",
                "families":["anthropic"],"parameter_size":"","quantization_level":""})
        );
        // The digest follows the targets.
        let moved =
            load_config(&CONFIG.replace(r#""anthropic/claude-x", "local/m""#, r#""local/m""#));
        let moved: Value = serde_json::from_slice(&tags(&moved, 0)).unwrap();
        let moved = moved["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == "smart:latest")
            .unwrap()
            .clone();
        assert_ne!(moved["digest"], smart["digest"]);
        assert_eq!(moved["details"]["family"], "openai");

        let no_echo =
            crate::config::load(Some("[gateway]\necho_model = false"), &|_| None).unwrap();
        assert_eq!(
            String::from_utf8(tags(&no_echo, 0)).unwrap(),
            r#"{"models":[]}"#
        );
    }

    #[test]
    fn ps_lists_models_as_loaded() {
        let config = load_config(CONFIG);
        let value: Value = serde_json::from_slice(&ps(&config, 0)).unwrap();
        let smart = value["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == "smart:latest")
            .unwrap();
        assert_eq!(smart["expires_at"], "1970-01-01T00:05:00.000000Z");
        assert_eq!(smart["size_vram"], 0);
        assert_eq!(smart["context_length"], 200_000);
        let keys: Vec<&String> = smart.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 8);
    }

    #[test]
    fn version_is_a_real_ollama_release() {
        assert_eq!(version(), br#"{"version":"0.12.6"}"#);
    }

    #[test]
    fn show_describes_capabilities() {
        let config = load_config(CONFIG);
        let show_json = |body: &str| -> Value {
            serde_json::from_slice(&show(&config, body.as_bytes()).unwrap()).unwrap()
        };
        let smart = show_json(r#"{"model":"smart:latest"}"#);
        assert_eq!(
            smart,
            serde_json::json!({
                "license": "", "modelfile": "", "parameters": "", "template": "{{ .Prompt }}",
                "details": {"parent_model":"","format":"gguf","family":"anthropic",
                    "families":["anthropic"],"parameter_size":"","quantization_level":""},
                "model_info": {"general.architecture": "anthropic", "general.basename": "smart",
                    "anthropic.context_length": 200000},
                "capabilities": ["completion", "tools", "vision", "thinking"],
                "modified_at": "2025-01-01T00:00:00.000000Z",
            })
        );
        let text = String::from_utf8(show(&config, br#"{"model":"smart"}"#).unwrap()).unwrap();
        assert!(text.starts_with(r#"{"license":"","modelfile":"","parameters":"","template""#));
        assert!(text.ends_with(r#""capabilities":["completion","tools","vision","thinking"],"modified_at":"2025-01-01T00:00:00.000000Z"}"#), "{text}");

        let caps = |body: &str| show_json(body)["capabilities"].clone();
        // The legacy `name` field, an alias on a local OpenAI-compatible server.
        assert_eq!(
            caps(r#"{"name":"fast:8b"}"#),
            serde_json::json!(["completion", "tools", "vision"])
        );
        assert_eq!(
            caps(r#"{"model":"deepseek-chat"}"#),
            serde_json::json!(["completion", "tools", "thinking"])
        );
        assert_eq!(
            caps(r#"{"model":"echo"}"#),
            serde_json::json!(["completion", "tools"])
        );
        // `provider/model` names and pattern names resolve as for chat.
        assert_eq!(
            show_json(r#"{"model":"local/anything"}"#)["details"]["family"],
            "openai"
        );
        assert_eq!(
            show_json(r#"{"model":"claude-opus-9"}"#)["model_info"]["general.basename"],
            "claude-opus-9"
        );

        let missing = show(&config, br#"{"model":"nope:7b"}"#).unwrap_err();
        assert_eq!(missing.status, 404);
        assert_eq!(missing.message, "model 'nope:7b' not found");
        assert_eq!(
            missing.body(ErrorFormat::Ollama),
            br#"{"error":"model 'nope:7b' not found"}"#
        );
        let empty = show(&config, b"{}").unwrap_err();
        assert_eq!(
            (empty.status, empty.message.as_str()),
            (400, "model is required")
        );
    }

    #[test]
    fn show_refuses_overlong_model_names() {
        let config = load_config(CONFIG);
        let name = format!("local/{}", "m".repeat(251));
        assert_eq!(name.len(), 257);
        let body = serde_json::json!({ "model": name }).to_string();
        let error = show(&config, body.as_bytes()).unwrap_err();
        assert_eq!((error.status, error.kind), (400, "invalid_request_error"));
        assert_eq!(error.param, Some("model"));
        assert!(error.message.len() < 200, "{}", error.message);
        let fits = serde_json::json!({ "model": &name[..256] }).to_string();
        assert!(show(&config, fits.as_bytes()).is_ok());
    }
}
