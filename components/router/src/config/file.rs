//! The TOML file as written: its sections, deserialized (unknown fields refused) before
//! [`load`](fn@super::load) resolves them into a [`Config`](super::Config).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::types::{HostedTools, Strategy};
use crate::routing::failure::FailureClass;

/// The whole document; every section may be left out.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct ConfigFile {
    #[serde(default)]
    pub(super) gateway: GatewaySection,
    #[serde(default)]
    pub(super) providers: BTreeMap<String, ProviderSection>,
    #[serde(default)]
    pub(super) models: BTreeMap<String, ModelSection>,
    #[serde(default)]
    pub(super) model_patterns: Vec<PatternSection>,
    #[serde(default)]
    pub(super) limits: BTreeMap<String, super::limits::LimitSection>,
    #[serde(default)]
    pub(super) prices: BTreeMap<String, crate::state::usage::Price>,
}

/// `[[model_patterns]]`: model names matching `pattern` (`*` matches any run of characters) are
/// served by `model` (an alias, `provider/model`, or `echo`). First match wins.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PatternSection {
    pub(super) pattern: String,
    pub(super) model: String,
}

/// `[gateway]`: keys, limits, failover and cooldowns, timeouts.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GatewaySection {
    pub(super) max_body_bytes: Option<usize>,
    #[serde(default)]
    pub(super) cors_origins: Vec<String>,
    #[serde(default)]
    pub(super) api_keys: BTreeMap<String, String>,
    /// Key names that may read `/stats` and `/metrics`.
    pub(super) admin_keys: Option<Vec<String>>,
    /// Host names an open gateway (no keys) answers besides loopback ones.
    #[serde(default)]
    pub(super) allowed_hosts: Vec<String>,
    /// Requests in flight per gateway key at most.
    pub(super) max_concurrent_per_key: Option<u32>,
    #[serde(default = "yes")]
    pub(super) auto_providers: bool,
    #[serde(default = "yes")]
    pub(super) echo_model: bool,
    pub(super) keepalive_secs: Option<u64>,
    pub(super) failover_on: Option<Vec<FailureClass>>,
    pub(super) cooldown_secs: Option<u64>,
    pub(super) auth_cooldown_secs: Option<u64>,
    pub(super) allowed_fails: Option<u32>,
    #[serde(default = "yes")]
    pub(super) stats: bool,
    pub(super) connect_timeout_secs: Option<u64>,
    pub(super) first_token_timeout_secs: Option<u64>,
    pub(super) total_timeout_secs: Option<u64>,
    pub(super) responses_ttl_secs: Option<u64>,
    #[serde(default)]
    pub(super) hosted_tools: HostedTools,
    pub(super) stall_timeout_secs: Option<u64>,
    pub(super) retries: Option<u32>,
    pub(super) retry_backoff_ms: Option<u64>,
    pub(super) max_retry_wait_secs: Option<u64>,
    /// The request log: `text` (default), `json` or `off`.
    pub(super) log: Option<crate::http::request_log::LogFormat>,
}

impl Default for GatewaySection {
    fn default() -> Self {
        Self {
            connect_timeout_secs: None,
            first_token_timeout_secs: None,
            total_timeout_secs: None,
            responses_ttl_secs: None,
            keepalive_secs: None,
            failover_on: None,
            cooldown_secs: None,
            auth_cooldown_secs: None,
            allowed_fails: None,
            stats: true,
            max_body_bytes: None,
            cors_origins: Vec::new(),
            api_keys: BTreeMap::new(),
            admin_keys: None,
            allowed_hosts: Vec::new(),
            max_concurrent_per_key: None,
            auto_providers: true,
            echo_model: true,
            hosted_tools: HostedTools::default(),
            stall_timeout_secs: None,
            retries: None,
            retry_backoff_ms: None,
            max_retry_wait_secs: None,
            log: None,
        }
    }
}

fn yes() -> bool {
    true
}

/// `[providers.<name>]`: what is left out comes from the catalog entry of that name.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct ProviderSection {
    pub(super) kind: Option<String>,
    pub(super) profile: Option<String>,
    pub(super) base_url: Option<String>,
    pub(super) keys: Option<Vec<String>>,
    pub(super) api_version: Option<String>,
    #[serde(default)]
    pub(super) headers: BTreeMap<String, String>,
    /// `anthropic-beta` flags clients may pass through (`*` suffix allowed); unset: all of them.
    pub(super) anthropic_betas: Option<Vec<String>>,
    /// Vertex AI: the Google Cloud project (default: the service account's) and region.
    pub(super) project: Option<String>,
    pub(super) region: Option<String>,
    /// `/v1/responses` on this provider: `"gateway"` (translated, state kept by Apex; default)
    /// or `"native"` (forwarded to the provider's own Responses API; OpenAI and Azure).
    pub(super) responses: Option<String>,
    /// Whether the provider continues a trailing assistant message (default: its kind's).
    pub(super) prefill: Option<bool>,
    /// What its targets can do beyond or short of what its kind says.
    #[serde(default)]
    pub(super) capabilities: super::capabilities::CapabilityOverrides,
}

/// `[models.<alias>]`: targets and policy.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ModelSection {
    pub(super) targets: Vec<TargetSpec>,
    #[serde(default)]
    pub(super) strategy: Strategy,
    #[serde(default)]
    pub(super) cache: bool,
    pub(super) cache_ttl_secs: Option<u64>,
    pub(super) ttft_ms: Option<u64>,
    pub(super) stall_ms: Option<u64>,
    pub(super) retries: Option<u32>,
    #[serde(default)]
    pub(super) resume: bool,
    /// What model listings advertise for this alias.
    pub(super) context_window: Option<u32>,
    pub(super) max_output_tokens: Option<u32>,
}

/// A target: `"provider/model"`, or `{ provider, model, weight }`.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum TargetSpec {
    Short(String),
    Full(FullTarget),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FullTarget {
    pub(super) provider: String,
    pub(super) model: String,
    pub(super) weight: Option<u32>,
    /// What this target does differently from its provider.
    #[serde(default)]
    pub(super) capabilities: super::capabilities::CapabilityOverrides,
}
