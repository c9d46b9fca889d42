//! The resolved configuration and what it is made of: providers, aliases and their targets and
//! policies, timeouts; and the questions the router asks it (which targets serve a name, which
//! failures fail over, which secrets to scrub).

use std::collections::BTreeMap;

use apex_adapter_kit::types::Protocol;
use serde::{Deserialize, Serialize};

use super::catalog::CATALOG;
use super::defaults::{DEFAULT_CACHE_TTL_SECS, ECHO_MODEL, MIN_HEADER_SECRET_BYTES};
use super::error::ConfigError;
use crate::http::auth::GatewayKey;
use crate::routing::failure::FailureClass;

/// How an alias orders its targets for each request (`strategy = "..."` in `[models.<alias>]`).
/// Whatever the order, a failed attempt moves on to the next key, then the next target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// The targets as listed: the first one serves while it works (default).
    #[default]
    Failover,
    /// Each request starts one target further down the list (a counter shared by instances).
    RoundRobin,
    /// The first target is drawn at random in proportion to `weight`; the rest follow by weight.
    Weighted,
    /// A uniform random order for each request.
    Random,
    /// The target with the fewest recorded requests first; ties in list order.
    LeastUsed,
}

/// What happens to a client's hosted tools (tools the provider runs itself: OpenAI's `web_search`,
/// `file_search`, ...; Anthropic's server tools) when the request is translated for a provider that
/// cannot run them (`hosted_tools = "..."` in `[gateway]`). Forwarded requests keep them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostedTools {
    /// Map a tool to the provider's own equivalent where Apex knows one, else drop it (default).
    /// No mapping is implemented yet, so today this drops like `drop`.
    #[default]
    Map,
    /// Leave the tool out of the provider's request and name it in `x-apex-dropped-tools`.
    Drop,
    /// Refuse the request with a 400 naming the tool.
    Reject,
}

/// How an alias is served besides its targets (`[models.<alias>]`). Catalog aliases and direct
/// `provider/model` names get [`AliasPolicy::default`]: failover, no cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasPolicy {
    pub strategy: Strategy,
    /// Whether responses are cached (opt-in).
    pub cache: bool,
    /// How long a cached response stays fresh.
    pub cache_ttl_secs: u64,
    pub patience: Patience,
    /// What model listings advertise (`context_window`, `max_output_tokens`); `None`: what the
    /// first target's kind says, and no output limit.
    pub context_window: Option<u32>,
    pub max_output_tokens: Option<u32>,
}

impl Default for AliasPolicy {
    fn default() -> Self {
        Self {
            strategy: Strategy::Failover,
            cache: false,
            cache_ttl_secs: DEFAULT_CACHE_TTL_SECS,
            patience: Patience::default(),
            context_window: None,
            max_output_tokens: None,
        }
    }
}

/// The limits model listings advertise for a servable name, so agent clients compact and cap
/// their answers at the right size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelLimits {
    /// Tokens of context (input and output together).
    pub context_window: u32,
    /// Longest answer, when configured.
    pub max_output_tokens: Option<u32>,
}

/// The context advertised for the built-in `echo` model.
pub const ECHO_CONTEXT_WINDOW: u32 = 128_000;

/// How an alias rides out provider faults (`[models.<alias>]`); `None`: the `[gateway]` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Patience {
    /// Milliseconds from sending a request to the provider's first token (a stream's first
    /// chunk, a whole answer's status line) before the next candidate is tried.
    pub ttft_ms: Option<u64>,
    /// Longest silence between a stream's chunks once it has begun, in milliseconds.
    pub stall_ms: Option<u64>,
    /// Tries of the same target again (after a 429 within `max_retry_wait_secs`, a 5xx or a
    /// refused connection) before the next candidate.
    pub retries: Option<u32>,
    /// Whether a stream cut after it began is continued on the next candidate.
    pub resume: bool,
}

/// Everything about one servable name: its targets and its policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    pub targets: Vec<TargetRef>,
    pub strategy: Strategy,
    pub cache: bool,
    pub cache_ttl_secs: u64,
    pub patience: Patience,
}

/// A configured upstream provider, secrets resolved. (`Debug` shows how many keys, not the keys.)
#[derive(Clone)]
pub struct Provider {
    pub name: String,
    pub kind: String,
    pub profile: String,
    pub base_url: String,
    /// Resolved key values. Never logged, rendered or stored.
    pub keys: Vec<String>,
    /// The variables named for keys, and whether each is set (`GET /config`, `apex check`).
    pub key_variables: Vec<(String, bool)>,
    pub api_version: Option<String>,
    pub headers: Vec<(String, String)>,
    /// Allow-list of client `anthropic-beta` flags; `None` lets every flag through.
    pub anthropic_betas: Option<Vec<String>>,
    /// `/v1/responses` is forwarded to the provider's own Responses API.
    pub native_responses: bool,
    /// What its kind's adapter described (`describe` in the adapter interface), so the router
    /// asks the provider rather than its kind's name:
    /// client protocols it takes untouched,
    pub forwards: Vec<Protocol>,
    /// whether its keys are credentials exchanged for access tokens before use,
    pub exchanges_credential: bool,
    /// and what its current models take and return: context window in tokens, images,
    /// reasoning text.
    pub context_window: u32,
    pub vision: bool,
    pub thinking: bool,
    /// What its targets can do (its kind's description, then its `capabilities`).
    pub capabilities: super::capabilities::Capabilities,
    /// Whether it continues a conversation ending with an assistant message (from the kind;
    /// `prefill` in its section overrides).
    pub prefill: bool,
}

impl Provider {
    /// Whether the provider takes client bodies in `protocol` untouched.
    pub fn forwards_protocol(&self, protocol: Protocol) -> bool {
        self.forwards.contains(&protocol)
    }

    /// Whether a client's `anthropic-beta` flag may be forwarded to this provider.
    pub fn allows_beta(&self, flag: &str) -> bool {
        match &self.anthropic_betas {
            None => true,
            Some(allowed) => allowed.iter().any(|pattern| glob(pattern, flag)),
        }
    }
}

/// `*` matches any run of characters (none included); everything else matches itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return text.is_empty();
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("profile", &self.profile)
            .field("base_url", &self.base_url)
            .field("keys", &format_args!("[{} redacted]", self.keys.len()))
            .field("api_version", &self.api_version)
            .field("forwards", &self.forwards)
            .field("exchanges_credential", &self.exchanges_credential)
            .finish_non_exhaustive()
    }
}

/// One place an alias can be served from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRef {
    pub provider: String,
    pub model: String,
    /// Share of first picks under `strategy = "weighted"` (1 unless the table form says otherwise;
    /// 0: only after every weighted target). Other strategies ignore it.
    pub weight: u32,
    /// What this target does differently from its provider (`capabilities` in the table form).
    pub capabilities: super::capabilities::CapabilityOverrides,
}

impl TargetRef {
    /// A target with weight 1.
    pub fn new(provider: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            provider: provider.into(),
            model: model.into(),
            weight: 1,
            capabilities: Default::default(),
        }
    }

    /// `provider/model`: how stats, cooldowns and least-used counts name this target.
    pub fn id(&self) -> String {
        format!("{}/{}", self.provider, self.model)
    }
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub max_body_bytes: usize,
    pub cors_origins: Vec<String>,
    pub gateway_keys: Vec<GatewayKey>,
    /// Key names that may read `/stats` and `/metrics` (`None`: a single key may; see `access`).
    pub admin_keys: Option<Vec<String>>,
    /// Host names an open gateway answers besides loopback ones (`*`: any).
    pub allowed_hosts: Vec<String>,
    /// Requests in flight per gateway key at most (`None`: no limit).
    pub max_concurrent_per_key: Option<u32>,
    pub providers: BTreeMap<String, Provider>,
    pub models: BTreeMap<String, Vec<TargetRef>>,
    /// Strategy and cache settings of the `[models.<alias>]` sections (other names: defaults).
    pub policies: BTreeMap<String, AliasPolicy>,
    /// Failure classes that move on to the next key or target (others go back to the client).
    pub failover_on: Vec<FailureClass>,
    /// Cooldown after a 429/503/5xx/timeout/connect failure without Retry-After.
    pub cooldown_secs: u64,
    /// Cooldown of a key the provider refused (401/403).
    pub auth_cooldown_secs: u64,
    /// Failures in a row (without Retry-After) before a target is benched.
    pub allowed_fails: u32,
    /// Whether the gateway records stats and serves `GET /stats` and `GET /metrics`.
    pub stats: bool,
    /// `(pattern, model)`, in order.
    pub model_patterns: Vec<(String, String)>,
    /// Seconds of upstream silence before a streaming client gets a keepalive (0: never).
    pub keepalive_secs: u64,
    pub timeouts: Timeouts,
    /// How long stored `/v1/responses` live.
    pub responses_ttl_secs: u64,
    pub echo_model: bool,
    pub hosted_tools: HostedTools,
    pub retries: Retries,
    /// How request log lines are written.
    pub log: crate::http::request_log::LogFormat,
    /// Limits by gateway key name (`*`: every key).
    pub limits: BTreeMap<String, super::limits::KeyLimits>,
    /// Prices by `provider/model`.
    pub prices: BTreeMap<String, crate::state::usage::Price>,
}

/// Tries of the same target before the next candidate (`[gateway]`; aliases may set `retries`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retries {
    /// How many times a target is tried again after a 429, a 5xx or a refused connection.
    pub count: u32,
    /// The wait before trying again when the provider gave no Retry-After (doubled each time).
    pub backoff_ms: u64,
    /// The longest Retry-After waited for; a longer one moves on to the next candidate at once.
    pub max_wait_ms: u64,
}

/// How long the gateway waits for providers, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: u64,
    /// From sending a request to the provider's first bytes (its status line, then for streams
    /// the first chunk).
    pub first_token: u64,
    /// The longest silence between a stream's chunks once it has begun (reasoning models pause
    /// for minutes; the client gets keepalives meanwhile).
    pub stall: u64,
    /// A whole client request: every attempt, and the stream to its end.
    pub total: u64,
}

impl Config {
    /// The model a requested name is served as: itself when it is an alias, `provider/model` or
    /// `echo`; else the first `[[model_patterns]]` entry it matches (Claude Code's model names,
    /// say); else `provider/name` for an enabled catalog provider owning its prefix (`claude-`,
    /// `gpt-`, `gemini-`, ...); else itself (and `targets` will not find it).
    pub fn route_name<'a>(&'a self, model: &'a str) -> std::borrow::Cow<'a, str> {
        if self.models.contains_key(model) || model == ECHO_MODEL || self.direct(model).is_some() {
            return model.into();
        }
        if let Some((_, target)) = self
            .model_patterns
            .iter()
            .find(|(pattern, _)| glob(pattern, model))
        {
            return target.as_str().into();
        }
        self.by_prefix(model).map_or(model.into(), Into::into)
    }

    /// For a name that is no alias: the enabled catalog provider whose model-name prefix it
    /// starts with, as `provider/name` (e.g. Claude Code's dated Claude names).
    pub fn by_prefix(&self, model: &str) -> Option<String> {
        CATALOG
            .iter()
            .filter(|entry| self.providers.contains_key(entry.name))
            .find(|entry| entry.prefixes.iter().any(|p| model.starts_with(p)))
            .map(|entry| format!("{}/{model}", entry.name))
    }

    fn direct(&self, model: &str) -> Option<TargetRef> {
        let (provider, upstream) = model.split_once('/')?;
        (self.providers.contains_key(provider) && !upstream.is_empty())
            .then(|| TargetRef::new(provider, upstream))
    }

    /// Whether the config itself names the upstream `provider`/`model`: a target of an alias
    /// (catalog defaults included) or the `provider/model` of a `[[model_patterns]]` entry — as
    /// opposed to a model a client typed in a direct `provider/model` name.
    pub fn names_target(&self, provider: &str, model: &str) -> bool {
        self.models
            .values()
            .flatten()
            .any(|t| t.provider == provider && t.model == model)
            || self
                .model_patterns
                .iter()
                .any(|(_, to)| to.split_once('/') == Some((provider, model)))
    }

    /// The strategy and cache settings of `model` (defaults for anything but a configured alias).
    pub fn policy(&self, model: &str) -> AliasPolicy {
        self.policies.get(model).cloned().unwrap_or_default()
    }

    /// The limits listings advertise for `model`: its `[models.<alias>]` settings, else what its
    /// first target's provider kind says (the echo model and unknown names: 128k).
    pub fn model_limits(&self, model: &str) -> ModelLimits {
        let policy = self.policy(model);
        let first = self
            .targets(model)
            .and_then(|targets| targets.into_iter().next())
            .and_then(|target| self.providers.get(&target.provider));
        ModelLimits {
            context_window: policy
                .context_window
                .or(first.map(|p| p.context_window))
                .unwrap_or(ECHO_CONTEXT_WINDOW),
            max_output_tokens: policy.max_output_tokens,
        }
    }

    /// What `target` can do: its provider's capabilities, changed by the target's own (none when
    /// its provider is unknown).
    pub fn capabilities(&self, target: &TargetRef) -> Option<super::capabilities::Capabilities> {
        let provider = self.providers.get(&target.provider)?;
        Some(provider.capabilities.with(&target.capabilities))
    }

    /// The targets and policy serving `model` (see [`Config::targets`]).
    pub fn alias(&self, model: &str) -> Option<Alias> {
        let targets = self.targets(model)?;
        let policy = self.policy(model);
        Some(Alias {
            targets,
            strategy: policy.strategy,
            cache: policy.cache,
            cache_ttl_secs: policy.cache_ttl_secs,
            patience: policy.patience,
        })
    }

    /// Whether a failure of this class moves on to the next key or target.
    pub fn fails_over(&self, class: FailureClass) -> bool {
        self.failover_on.contains(&class)
    }

    /// The targets serving `model`: an alias, or `provider/model` for any configured provider.
    pub fn targets(&self, model: &str) -> Option<Vec<TargetRef>> {
        if let Some(targets) = self.models.get(model) {
            return Some(targets.clone());
        }
        self.direct(model).map(|target| vec![target])
    }

    /// Fails when a provider names an adapter kind the composed chain does not serve.
    pub fn check_kinds(&self, known: &[String]) -> Result<(), ConfigError> {
        for provider in self.providers.values() {
            if !known.contains(&provider.kind) {
                return Err(ConfigError::new(
                    format!("providers.{}.kind", provider.name),
                    format!(
                        "adapter kind `{}` is not served by the adapter chain (it serves: {})",
                        provider.kind,
                        known.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Every secret in the config, for scrubbing: provider keys, and the values of providers'
    /// custom `headers` (a gateway's own authorization header, say) of at least
    /// [`MIN_HEADER_SECRET_BYTES`] — shorter ones are flags and versions (`true`, `v1`), and
    /// redacting those would mangle the bodies they appear in. A value `<scheme> <credential>`
    /// (`Bearer ...`) adds its credential alone too.
    ///
    /// Access tokens exchanged for credentials (providers whose kind `exchanges_credential`) are
    /// not here: they are obtained at run time (`credentials::for_key`), so `dispatch` adds the
    /// credential of the attempt under way.
    pub fn secrets(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for provider in self.providers.values() {
            out.extend(provider.keys.iter().map(String::as_str));
            for (_, value) in &provider.headers {
                let value = value.trim();
                if value.len() < MIN_HEADER_SECRET_BYTES {
                    continue;
                }
                out.push(value);
                if let Some((_, credential)) = value.split_once(char::is_whitespace) {
                    let credential = credential.trim();
                    if credential.len() >= MIN_HEADER_SECRET_BYTES {
                        out.push(credential);
                    }
                }
            }
        }
        out
    }
}

/// The timeouts `[gateway]` leaves unset.
pub const DEFAULT_TIMEOUTS: Timeouts = Timeouts {
    connect: 10,
    first_token: 120,
    stall: 300,
    total: 900,
};
