//! Configuration: one TOML document (the `apex_config` variable), secrets by variable name, and a
//! catalog of well-known providers that environment keys switch on.
//!
//! ```toml
//! [gateway]
//! max_body_bytes = 10485760
//! cors_origins = ["https://app.example"]
//! api_keys = { alice = "apex_key_alice", ops = "apex_key_ops" }  # key name = variable holding the key
//! admin_keys = ["ops"]                         # may read /stats and /metrics
//! allowed_hosts = ["gateway.internal"]         # open gateway only: names besides localhost
//! max_concurrent_per_key = 32                  # requests in flight per key (default: no limit)
//!
//! [providers.openai]                           # catalog name: kind, base_url, keys default
//! keys = ["openai_api_key", "openai_api_key_2"]
//!
//! [providers.local]
//! kind = "openai"
//! base_url = "http://127.0.0.1:11434/v1"
//! keys = []
//!
//! [models.fast]
//! targets = ["groq/llama-3.3-70b-versatile", "openai/gpt-4o-mini"]
//!
//! [models.balanced]                            # spread load instead of strict failover
//! strategy = "weighted"                        # failover | round-robin | weighted | random | least-used
//! targets = [{ provider = "openai", model = "gpt-4o-mini", weight = 3 }, "groq/llama-3.3-70b-versatile"]
//! cache = true                                 # response cache, opt-in per alias
//! cache_ttl_secs = 3600                        # default 86400 (24 h)
//! ```
//!
//! Failover and cooldowns (`[gateway]`):
//!
//! ```toml
//! [gateway]
//! failover_on = ["rate-limited", "server", "overloaded", "timeout", "connect", "auth", "not-found", "malformed-reply"]
//! cooldown_secs = 30          # a 429/503/5xx/timeout without Retry-After benches a key or target this long (0: only on Retry-After)
//! auth_cooldown_secs = 600    # a 401/403 benches the key this long (0: only on Retry-After)
//! allowed_fails = 3           # 5xx/timeouts/connection errors in a row (no Retry-After) before a bench
//! stats = true                # GET /stats and GET /metrics
//! connect_timeout_secs = 10       # connecting to a provider
//! first_token_timeout_secs = 120  # from sending a request to the provider's first bytes
//! total_timeout_secs = 900        # a whole request, failover and streaming included
//! responses_ttl_secs = 2592000    # how long stored /v1/responses live (30 days)
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::http::auth::GatewayKey;
use crate::routing::failure::FailureClass;

/// The variable that holds the TOML config.
pub const CONFIG_VARIABLE: &str = "apex_config";
/// A single gateway key, named [`SINGLE_KEY_NAME`], for setups that need just one.
pub const SINGLE_KEY_VARIABLE: &str = "apex_api_key";
/// The name of the key in [`SINGLE_KEY_VARIABLE`] (a caller's name scopes its stored state, so
/// `gateway.api_keys` may not use it).
pub const SINGLE_KEY_NAME: &str = "default";
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
pub const DEFAULT_KEEPALIVE_SECS: u64 = 10;
/// How long a cached response stays fresh unless the alias says otherwise (24 h).
pub const DEFAULT_CACHE_TTL_SECS: u64 = 24 * 60 * 60;
/// How long a key or target cools down after a 429/503/5xx/timeout that named no Retry-After.
pub const DEFAULT_COOLDOWN_SECS: u64 = 30;
/// 5xx, timeouts and connection errors in a row before a target is benched.
pub const DEFAULT_ALLOWED_FAILS: u32 = 3;
/// How long a key the provider refused (401/403) stays out of rotation.
pub const DEFAULT_AUTH_COOLDOWN_SECS: u64 = 600;
/// Custom header values shorter than this are not treated as secrets (see [`Config::secrets`]).
pub const MIN_HEADER_SECRET_BYTES: usize = 8;
/// The built-in model that answers without any provider.
pub const ECHO_MODEL: &str = "echo";

/// A well-known provider: what `[providers.<name>]` defaults to, and what its key variable enables.
pub struct CatalogEntry {
    pub name: &'static str,
    pub kind: &'static str,
    pub base_url: &'static str,
    pub key_variable: &'static str,
    /// Aliases served by default when the provider is enabled.
    pub models: &'static [&'static str],
    /// Model-name prefixes this provider owns: a name that is no alias but starts with one is
    /// sent to it as `provider/name` (so `claude-sonnet-4-5-20250929` reaches Anthropic).
    pub prefixes: &'static [&'static str],
}

pub const CATALOG: &[CatalogEntry] = &[
    CatalogEntry {
        name: "openai",
        kind: "openai",
        base_url: "https://api.openai.com/v1",
        key_variable: "openai_api_key",
        models: &[
            "gpt-4.1",
            "gpt-4.1-mini",
            "gpt-4o",
            "gpt-4o-mini",
            "o4-mini",
        ],
        prefixes: &["gpt-", "o1", "o3", "o4", "chatgpt-"],
    },
    CatalogEntry {
        name: "anthropic",
        kind: "anthropic",
        base_url: "https://api.anthropic.com/v1",
        key_variable: "anthropic_api_key",
        models: &["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"],
        prefixes: &["claude-"],
    },
    CatalogEntry {
        name: "deepseek",
        kind: "openai",
        base_url: "https://api.deepseek.com/v1",
        key_variable: "deepseek_api_key",
        models: &["deepseek-chat", "deepseek-reasoner"],
        prefixes: &["deepseek-"],
    },
    CatalogEntry {
        name: "groq",
        kind: "openai",
        base_url: "https://api.groq.com/openai/v1",
        key_variable: "groq_api_key",
        models: &[],
        prefixes: &[],
    },
    CatalogEntry {
        name: "openrouter",
        kind: "openai",
        base_url: "https://openrouter.ai/api/v1",
        key_variable: "openrouter_api_key",
        models: &[],
        prefixes: &[],
    },
    CatalogEntry {
        name: "mistral",
        kind: "openai",
        base_url: "https://api.mistral.ai/v1",
        key_variable: "mistral_api_key",
        models: &[],
        prefixes: &[],
    },
    CatalogEntry {
        name: "xai",
        kind: "openai",
        base_url: "https://api.x.ai/v1",
        key_variable: "xai_api_key",
        models: &[],
        prefixes: &[],
    },
    CatalogEntry {
        name: "moonshot",
        kind: "openai",
        base_url: "https://api.moonshot.ai/v1",
        key_variable: "moonshot_api_key",
        models: &[],
        prefixes: &[],
    },
    CatalogEntry {
        name: "together",
        kind: "openai",
        base_url: "https://api.together.xyz/v1",
        key_variable: "together_api_key",
        models: &[],
        prefixes: &[],
    },
    CatalogEntry {
        name: "fireworks",
        kind: "openai",
        base_url: "https://api.fireworks.ai/inference/v1",
        key_variable: "fireworks_api_key",
        models: &[],
        prefixes: &[],
    },
    CatalogEntry {
        name: "deepinfra",
        kind: "openai",
        base_url: "https://api.deepinfra.com/v1/openai",
        key_variable: "deepinfra_api_key",
        models: &[],
        prefixes: &[],
    },
    CatalogEntry {
        name: "cerebras",
        kind: "openai",
        base_url: "https://api.cerebras.ai/v1",
        key_variable: "cerebras_api_key",
        models: &[],
        prefixes: &[],
    },
    CatalogEntry {
        name: "yi",
        kind: "openai",
        base_url: "https://api.lingyiwanwu.com/v1",
        key_variable: "yi_api_key",
        models: &[],
        prefixes: &[],
    },
    CatalogEntry {
        name: "aliyun",
        kind: "openai",
        base_url: "https://dashscope.aliyuncs.com/compatible-mode/v1",
        key_variable: "dashscope_api_key",
        models: &[],
        prefixes: &[],
    },
    CatalogEntry {
        name: "gemini",
        kind: "gemini",
        base_url: "https://generativelanguage.googleapis.com/v1beta",
        key_variable: "gemini_api_key",
        models: &[
            "gemini-2.5-pro",
            "gemini-2.5-flash",
            "gemini-2.5-flash-lite",
        ],
        prefixes: &["gemini-"],
    },
    CatalogEntry {
        name: "cohere",
        kind: "cohere",
        base_url: "https://api.cohere.com/v2",
        key_variable: "cohere_api_key",
        models: &["command-a-03-2025"],
        prefixes: &["command-"],
    },
];

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    gateway: GatewaySection,
    #[serde(default)]
    providers: BTreeMap<String, ProviderSection>,
    #[serde(default)]
    models: BTreeMap<String, ModelSection>,
    #[serde(default)]
    model_patterns: Vec<PatternSection>,
}

/// `[[model_patterns]]`: model names matching `pattern` (`*` matches any run of characters) are
/// served by `model` (an alias, `provider/model`, or `echo`). First match wins.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatternSection {
    pattern: String,
    model: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GatewaySection {
    max_body_bytes: Option<usize>,
    #[serde(default)]
    cors_origins: Vec<String>,
    #[serde(default)]
    api_keys: BTreeMap<String, String>,
    /// Key names that may read `/stats` and `/metrics`.
    admin_keys: Option<Vec<String>>,
    /// Host names an open gateway (no keys) answers besides loopback ones.
    #[serde(default)]
    allowed_hosts: Vec<String>,
    /// Requests in flight per gateway key at most.
    max_concurrent_per_key: Option<u32>,
    #[serde(default = "yes")]
    auto_providers: bool,
    #[serde(default = "yes")]
    echo_model: bool,
    keepalive_secs: Option<u64>,
    failover_on: Option<Vec<FailureClass>>,
    cooldown_secs: Option<u64>,
    auth_cooldown_secs: Option<u64>,
    allowed_fails: Option<u32>,
    #[serde(default = "yes")]
    stats: bool,
    connect_timeout_secs: Option<u64>,
    first_token_timeout_secs: Option<u64>,
    total_timeout_secs: Option<u64>,
    responses_ttl_secs: Option<u64>,
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
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ProviderSection {
    kind: Option<String>,
    profile: Option<String>,
    base_url: Option<String>,
    keys: Option<Vec<String>>,
    api_version: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// `anthropic-beta` flags clients may pass through (`*` suffix allowed); unset: all of them.
    anthropic_betas: Option<Vec<String>>,
    /// Vertex AI: the Google Cloud project (default: the service account's) and region.
    project: Option<String>,
    region: Option<String>,
    /// `/v1/responses` on this provider: `"gateway"` (translated, state kept by Apex; default)
    /// or `"native"` (forwarded to the provider's own Responses API; OpenAI and Azure).
    responses: Option<String>,
}

/// The kind whose keys are Google service-account key files (exchanged for access tokens).
pub const VERTEX_KIND: &str = "vertex-anthropic";

/// Vertex AI's API root for a project and region (`global` has no regional host).
pub fn vertex_base_url(project: &str, region: &str) -> String {
    let host = if region == "global" {
        "aiplatform.googleapis.com".to_string()
    } else {
        format!("{region}-aiplatform.googleapis.com")
    };
    format!("https://{host}/v1/projects/{project}/locations/{region}")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelSection {
    targets: Vec<TargetSpec>,
    #[serde(default)]
    strategy: Strategy,
    #[serde(default)]
    cache: bool,
    cache_ttl_secs: Option<u64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum TargetSpec {
    Short(String),
    Full(FullTarget),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FullTarget {
    provider: String,
    model: String,
    weight: Option<u32>,
}

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

/// How an alias is served besides its targets (`[models.<alias>]`). Catalog aliases and direct
/// `provider/model` names get [`AliasPolicy::default`]: failover, no cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasPolicy {
    pub strategy: Strategy,
    /// Whether responses are cached (opt-in).
    pub cache: bool,
    /// How long a cached response stays fresh.
    pub cache_ttl_secs: u64,
}

impl Default for AliasPolicy {
    fn default() -> Self {
        Self {
            strategy: Strategy::Failover,
            cache: false,
            cache_ttl_secs: DEFAULT_CACHE_TTL_SECS,
        }
    }
}

/// Everything about one servable name: its targets and its policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    pub targets: Vec<TargetRef>,
    pub strategy: Strategy,
    pub cache: bool,
    pub cache_ttl_secs: u64,
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
    pub api_version: Option<String>,
    pub headers: Vec<(String, String)>,
    /// Allow-list of client `anthropic-beta` flags; `None` lets every flag through.
    pub anthropic_betas: Option<Vec<String>>,
    /// `/v1/responses` is forwarded to the provider's own Responses API.
    pub native_responses: bool,
}

impl Provider {
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
}

impl TargetRef {
    /// A target with weight 1.
    pub fn new(provider: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            provider: provider.into(),
            model: model.into(),
            weight: 1,
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
}

/// How long the gateway waits for providers, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: u64,
    /// From sending a request to the provider's first bytes (its status line, then for streams
    /// the first chunk).
    pub first_token: u64,
    /// A whole client request: every attempt, and the stream to its end.
    pub total: u64,
}

pub const DEFAULT_TIMEOUTS: Timeouts = Timeouts {
    connect: 10,
    first_token: 120,
    total: 900,
};
pub const DEFAULT_RESPONSES_TTL_SECS: u64 = 30 * 24 * 3600;

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

    /// The targets and policy serving `model` (see [`Config::targets`]).
    pub fn alias(&self, model: &str) -> Option<Alias> {
        let targets = self.targets(model)?;
        let policy = self.policy(model);
        Some(Alias {
            targets,
            strategy: policy.strategy,
            cache: policy.cache,
            cache_ttl_secs: policy.cache_ttl_secs,
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
    pub fn check_kinds(&self, known: &[String]) -> Result<(), String> {
        for provider in self.providers.values() {
            if !known.contains(&provider.kind) {
                return Err(format!(
                    "providers.{}: kind `{}` is not served by the adapter chain (it serves: {})",
                    provider.name,
                    provider.kind,
                    known.join(", ")
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
    /// Vertex AI's access tokens are not here: they are obtained at run time
    /// (`credentials::for_key`), so `dispatch` adds the credential of the attempt under way.
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

fn catalog(name: &str) -> Option<&'static CatalogEntry> {
    CATALOG.iter().find(|entry| entry.name == name)
}

fn parse_target(spec: TargetSpec, alias: &str) -> Result<TargetRef, String> {
    match spec {
        TargetSpec::Full(full) => Ok(TargetRef {
            provider: full.provider,
            model: full.model,
            weight: full.weight.unwrap_or(1),
        }),
        TargetSpec::Short(text) => match text.split_once('/') {
            Some((provider, model)) if !provider.is_empty() && !model.is_empty() => {
                Ok(TargetRef::new(provider, model))
            }
            _ => Err(format!(
                "models.{alias}: target `{text}` must be `provider/model`"
            )),
        },
    }
}

/// A duration setting that must not be zero.
fn positive(value: Option<u64>, name: &str) -> Result<Option<u64>, String> {
    match value {
        Some(0) => Err(format!("gateway.{name} must be at least 1")),
        value => Ok(value),
    }
}

/// Build the config from its TOML text (`None`: defaults only) and a variable lookup.
pub fn load(text: Option<&str>, var: &dyn Fn(&str) -> Option<String>) -> Result<Config, String> {
    let file: ConfigFile = match text.map(str::trim) {
        Some(text) if !text.is_empty() => {
            toml::from_str(text).map_err(|e| format!("config: {e}"))?
        }
        _ => ConfigFile::default(),
    };
    let secret = |name: &str| {
        var(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };

    let mut gateway_keys = Vec::new();
    for (name, variable) in &file.gateway.api_keys {
        if name == SINGLE_KEY_NAME {
            return Err(format!(
                "gateway.api_keys.{SINGLE_KEY_NAME}: the name `{SINGLE_KEY_NAME}` is reserved for the key in the `{SINGLE_KEY_VARIABLE}` variable; a configured key by that name would share its stored responses; choose another name"
            ));
        }
        let key = secret(variable)
            .ok_or_else(|| format!("gateway.api_keys.{name}: variable `{variable}` is not set"))?;
        gateway_keys.push(GatewayKey::new(name.clone(), &key));
    }
    if let Some(key) = secret(SINGLE_KEY_VARIABLE) {
        gateway_keys.push(GatewayKey::new(SINGLE_KEY_NAME, &key));
    }
    for name in file.gateway.admin_keys.iter().flatten() {
        if !gateway_keys.iter().any(|key| &key.name == name) {
            return Err(format!(
                "gateway.admin_keys: `{name}` names no gateway key (keys: gateway.api_keys, or `{SINGLE_KEY_NAME}` for {SINGLE_KEY_VARIABLE})"
            ));
        }
    }

    let mut providers = BTreeMap::new();
    for (name, section) in file.providers {
        let entry = catalog(&name);
        let kind = section
            .kind
            .or_else(|| entry.map(|e| e.kind.to_string()))
            .unwrap_or_else(|| "openai".to_string());
        let variables = section.keys.unwrap_or_else(|| {
            entry
                .map(|e| vec![e.key_variable.to_string()])
                .unwrap_or_default()
        });
        let keys: Vec<String> = variables.iter().filter_map(|v| secret(v)).collect();
        if !variables.is_empty() && keys.is_empty() {
            return Err(format!(
                "providers.{name}: none of its key variables ({}) is set",
                variables.join(", ")
            ));
        }
        let mut project = section.project;
        if kind == VERTEX_KIND {
            if keys.is_empty() {
                return Err(format!(
                    "providers.{name}: `keys` must name variables holding service-account key files"
                ));
            }
            for (key, variable) in keys.iter().zip(&variables) {
                let account = crate::routing::google_auth::ServiceAccount::parse(key).map_err(|e| {
                    format!("providers.{name}: variable `{variable}` is not a usable service-account key: {e}")
                })?;
                if project.is_none() {
                    project = account.project_id;
                }
            }
        }
        let base_url = match (section.base_url, kind.as_str()) {
            (Some(url), _) => url,
            (None, VERTEX_KIND) => {
                let region = section.region.ok_or_else(|| {
                    format!(
                        "providers.{name}: `region` is required (e.g. \"us-east5\" or \"global\")"
                    )
                })?;
                let project = project.ok_or_else(|| {
                    format!("providers.{name}: `project` is required (the key file names none)")
                })?;
                vertex_base_url(&project, &region)
            }
            (None, _) => entry
                .map(|e| e.base_url.to_string())
                .ok_or_else(|| format!("providers.{name}: `base_url` is required"))?,
        };
        if crate::http::url::parse(&base_url).is_none() {
            return Err(format!(
                "providers.{name}: base_url `{base_url}` is not an http(s) URL"
            ));
        }
        let native_responses = match section.responses.as_deref() {
            None | Some("gateway") => false,
            Some("native") if matches!(kind.as_str(), "openai" | "azure") => true,
            Some("native") => {
                return Err(format!(
                    "providers.{name}: `responses = \"native\"` needs an OpenAI or Azure provider"
                ));
            }
            Some(other) => {
                return Err(format!(
                    "providers.{name}: `responses` must be \"gateway\" or \"native\", not `{other}`"
                ));
            }
        };
        providers.insert(
            name.clone(),
            Provider {
                native_responses,
                profile: section.profile.unwrap_or_else(|| name.clone()),
                name,
                kind,
                base_url,
                keys,
                api_version: section.api_version,
                headers: section.headers.into_iter().collect(),
                anthropic_betas: section.anthropic_betas,
            },
        );
    }

    let mut models = BTreeMap::new();
    let mut policies = BTreeMap::new();
    if file.gateway.auto_providers {
        for entry in CATALOG {
            if providers.contains_key(entry.name) {
                continue;
            }
            let Some(key) = secret(entry.key_variable) else {
                continue;
            };
            providers.insert(
                entry.name.to_string(),
                Provider {
                    name: entry.name.to_string(),
                    kind: entry.kind.to_string(),
                    profile: entry.name.to_string(),
                    base_url: entry.base_url.to_string(),
                    keys: vec![key],
                    api_version: None,
                    headers: Vec::new(),
                    anthropic_betas: None,
                    native_responses: false,
                },
            );
        }
    }
    for provider in providers.values() {
        if let Some(entry) = catalog(&provider.name) {
            for model in entry.models {
                models.insert(
                    model.to_string(),
                    vec![TargetRef::new(provider.name.clone(), *model)],
                );
            }
        }
    }
    for (alias, section) in file.models {
        let mut targets = Vec::new();
        for spec in section.targets {
            let target = parse_target(spec, &alias)?;
            if !providers.contains_key(&target.provider) {
                return Err(format!(
                    "models.{alias}: provider `{}` is not configured",
                    target.provider
                ));
            }
            targets.push(target);
        }
        if targets.is_empty() {
            return Err(format!("models.{alias}: `targets` is empty"));
        }
        if section.strategy == Strategy::Weighted && targets.iter().all(|t| t.weight == 0) {
            return Err(format!(
                "models.{alias}: strategy `weighted` needs a target with a weight above 0"
            ));
        }
        let cache_ttl_secs = section.cache_ttl_secs.unwrap_or(DEFAULT_CACHE_TTL_SECS);
        if cache_ttl_secs == 0 {
            return Err(format!(
                "models.{alias}: `cache_ttl_secs` must be above 0 (use `cache = false` to turn the cache off)"
            ));
        }
        policies.insert(
            alias.clone(),
            AliasPolicy {
                strategy: section.strategy,
                cache: section.cache,
                cache_ttl_secs,
            },
        );
        models.insert(alias, targets);
    }

    let mut model_patterns = Vec::new();
    for (i, section) in file.model_patterns.into_iter().enumerate() {
        let known = models.contains_key(&section.model)
            || section.model == ECHO_MODEL
            || section
                .model
                .split_once('/')
                .is_some_and(|(p, m)| providers.contains_key(p) && !m.is_empty());
        if !known {
            return Err(format!(
                "model_patterns[{i}]: model `{}` is not an alias, `provider/model` or `echo`",
                section.model
            ));
        }
        model_patterns.push((section.pattern, section.model));
    }

    let mut failover_on = file
        .gateway
        .failover_on
        .unwrap_or_else(|| FailureClass::DEFAULT_FAILOVER.to_vec());
    failover_on.sort();
    failover_on.dedup();

    Ok(Config {
        model_patterns,
        policies,
        failover_on,
        cooldown_secs: file.gateway.cooldown_secs.unwrap_or(DEFAULT_COOLDOWN_SECS),
        allowed_fails: file.gateway.allowed_fails.unwrap_or(DEFAULT_ALLOWED_FAILS),
        auth_cooldown_secs: file
            .gateway
            .auth_cooldown_secs
            .unwrap_or(DEFAULT_AUTH_COOLDOWN_SECS),
        stats: file.gateway.stats,
        keepalive_secs: file
            .gateway
            .keepalive_secs
            .unwrap_or(DEFAULT_KEEPALIVE_SECS),
        timeouts: Timeouts {
            connect: positive(file.gateway.connect_timeout_secs, "connect_timeout_secs")?
                .unwrap_or(DEFAULT_TIMEOUTS.connect),
            first_token: positive(
                file.gateway.first_token_timeout_secs,
                "first_token_timeout_secs",
            )?
            .unwrap_or(DEFAULT_TIMEOUTS.first_token),
            total: positive(file.gateway.total_timeout_secs, "total_timeout_secs")?
                .unwrap_or(DEFAULT_TIMEOUTS.total),
        },
        responses_ttl_secs: positive(file.gateway.responses_ttl_secs, "responses_ttl_secs")?
            .unwrap_or(DEFAULT_RESPONSES_TTL_SECS),
        max_body_bytes: file
            .gateway
            .max_body_bytes
            .unwrap_or(DEFAULT_MAX_BODY_BYTES),
        cors_origins: file.gateway.cors_origins,
        gateway_keys,
        admin_keys: file.gateway.admin_keys,
        allowed_hosts: file.gateway.allowed_hosts,
        max_concurrent_per_key: match file.gateway.max_concurrent_per_key {
            Some(0) => return Err("gateway.max_concurrent_per_key must be at least 1".into()),
            limit => limit,
        },
        providers,
        models,
        echo_model: file.gateway.echo_model,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn vertex_providers_need_service_account_keys_and_build_their_url() {
        let text =
            "[providers.vx]\nkind = \"vertex-anthropic\"\nregion = \"us-east5\"\nkeys = [\"sa\"]";
        let error = load(Some(text), &vars(&[("sa", "{\"not\": \"a key\"}")])).unwrap_err();
        assert!(
            error.contains("providers.vx") && error.contains("`sa`"),
            "{error}"
        );
        assert_eq!(
            vertex_base_url("p1", "us-east5"),
            "https://us-east5-aiplatform.googleapis.com/v1/projects/p1/locations/us-east5"
        );
        assert_eq!(
            vertex_base_url("p1", "global"),
            "https://aiplatform.googleapis.com/v1/projects/p1/locations/global"
        );
    }

    #[test]
    fn catalog_providers_own_their_model_name_prefixes() {
        let config = load(None, &vars(&[("anthropic_api_key", "sk-ant")])).unwrap();
        assert_eq!(
            config.route_name("claude-sonnet-4-5-20250929"),
            "anthropic/claude-sonnet-4-5-20250929"
        );
        assert_eq!(
            config.route_name("claude-sonnet-4-5"),
            "claude-sonnet-4-5",
            "an alias"
        );
        assert_eq!(
            config.route_name("gpt-4.1"),
            "gpt-4.1",
            "openai is not enabled"
        );
        assert!(
            config
                .targets(&config.route_name("claude-3-5-haiku-20241022"))
                .is_some()
        );
    }

    #[test]
    fn globs_match_runs_of_characters() {
        assert!(glob("claude-*haiku*", "claude-3-5-haiku-20241022"));
        assert!(glob("claude-*haiku*", "claude-haiku-4-5"));
        assert!(!glob("claude-*haiku*", "claude-sonnet-4-5"));
        assert!(glob("*", "anything"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exactly"));
        assert!(glob("a*b*c", "abc") && glob("a*b*c", "a-b-b-c") && !glob("a*b*c", "acb"));
        assert!(!glob("ab*ba", "aba"));
    }

    #[test]
    fn model_patterns_map_names_to_aliases_in_order() {
        let text = r#"
            [providers.local]
            base_url = "http://127.0.0.1:1/v1"
            keys = []
            anthropic_betas = ["fine-grained-tool-streaming-*"]
            [models.fast]
            targets = ["local/small"]
            [[model_patterns]]
            pattern = "claude-*haiku*"
            model = "fast"
            [[model_patterns]]
            pattern = "claude-*"
            model = "local/big"
        "#;
        let config = load(Some(text), &vars(&[])).unwrap();
        assert_eq!(config.route_name("claude-3-5-haiku-20241022"), "fast");
        assert_eq!(config.route_name("claude-opus-4-1"), "local/big");
        assert_eq!(config.route_name("fast"), "fast");
        assert_eq!(config.route_name("echo"), "echo");
        assert_eq!(config.route_name("gpt-4o"), "gpt-4o", "no openai provider");
        let local = &config.providers["local"];
        assert!(local.allows_beta("fine-grained-tool-streaming-2025-05-14"));
        assert!(!local.allows_beta("context-1m-2025-08-07"));

        let bad = "[[model_patterns]]\npattern = \"x*\"\nmodel = \"nowhere\"";
        let error = load(Some(bad), &vars(&[])).unwrap_err();
        assert!(error.contains("model_patterns[0]"), "{error}");
    }

    #[test]
    fn defaults_have_only_echo() {
        let config = load(None, &vars(&[])).unwrap();
        assert!(config.providers.is_empty());
        assert!(config.models.is_empty());
        assert!(config.echo_model);
        assert!(config.gateway_keys.is_empty());
    }

    #[test]
    fn environment_keys_enable_catalog_providers_and_their_models() {
        let config = load(
            None,
            &vars(&[("deepseek_api_key", "sk-d"), ("groq_api_key", " ")]),
        )
        .unwrap();
        assert_eq!(
            config.providers.keys().collect::<Vec<_>>(),
            vec!["deepseek"]
        );
        assert_eq!(config.providers["deepseek"].keys, vec!["sk-d".to_string()]);
        assert_eq!(
            config.targets("deepseek-chat"),
            Some(vec![TargetRef::new("deepseek", "deepseek-chat")])
        );
        assert_eq!(
            config
                .targets("deepseek/some-new-model")
                .map(|t| t[0].model.clone()),
            Some("some-new-model".into())
        );
        assert_eq!(config.targets("groq/x"), None);
    }

    #[test]
    fn file_config_with_secrets_by_variable() {
        let text = r#"
            [gateway]
            cors_origins = ["https://app.example"]
            api_keys = { alice = "key_alice" }
            [providers.local]
            base_url = "http://127.0.0.1:9/v1"
            keys = ["local_key_1", "local_key_2"]
            [providers.anthropic]
            [models.smart]
            targets = ["anthropic/claude-x", { provider = "local", model = "m" }]
        "#;
        let config = load(
            Some(text),
            &vars(&[
                ("key_alice", "a"),
                ("local_key_1", "k1"),
                ("local_key_2", "k2"),
                ("anthropic_api_key", "ak"),
            ]),
        )
        .unwrap();
        assert_eq!(config.gateway_keys.len(), 1);
        assert_eq!(config.providers["local"].kind, "openai");
        assert_eq!(
            config.providers["local"].keys,
            vec!["k1".to_string(), "k2".to_string()]
        );
        assert_eq!(
            config.providers["anthropic"].base_url,
            "https://api.anthropic.com/v1"
        );
        let smart = config.targets("smart").unwrap();
        assert_eq!(smart.len(), 2);
        assert_eq!(smart[1], TargetRef::new("local", "m"));
        assert_eq!(config.secrets().len(), 3);
    }

    #[test]
    fn secrets_include_custom_header_values() {
        let text = r#"
            [providers.gw]
            base_url = "http://gw.example/v1"
            keys = ["gw_key"]
            headers = { "cf-aig-authorization" = "Bearer cf-secret-token", "x-flag" = "true" }
        "#;
        let config = load(Some(text), &vars(&[("gw_key", "sk-gw-key")])).unwrap();
        let secrets = config.secrets();
        assert!(secrets.contains(&"sk-gw-key"), "{secrets:?}");
        assert!(secrets.contains(&"Bearer cf-secret-token"), "{secrets:?}");
        // Short values are flags and versions, not credentials: scrubbing them would mangle bodies.
        assert!(!secrets.contains(&"true"), "{secrets:?}");
        assert!(secrets.contains(&"cf-secret-token"), "{secrets:?}");
        let echoed = crate::http::error::scrub(
            r#"{"error":"bad header: Bearer cf-secret-token (cf-secret-token)","retry":true}"#,
            &secrets,
        );
        assert_eq!(
            echoed,
            r#"{"error":"bad header: [redacted] ([redacted])","retry":true}"#
        );
    }

    #[test]
    fn unknown_adapter_kinds_are_a_config_error() {
        let config = load(
            Some("[providers.x]\nkind = \"opneai\"\nbase_url = \"http://x\"\nkeys = []"),
            &vars(&[]),
        )
        .unwrap();
        let known = vec!["openai".to_string(), "anthropic".to_string()];
        let error = config.check_kinds(&known).unwrap_err();
        assert!(
            error.contains("`opneai`") && error.contains("openai, anthropic"),
            "{error}"
        );
        let fine = load(
            Some("[providers.x]\nbase_url = \"http://x\"\nkeys = []"),
            &vars(&[]),
        )
        .unwrap();
        assert!(fine.check_kinds(&known).is_ok());
    }

    #[test]
    fn config_errors_name_the_problem() {
        let missing = load(Some("[models.x]\ntargets = [\"nope/m\"]"), &vars(&[])).unwrap_err();
        assert!(
            missing.contains("provider `nope` is not configured"),
            "{missing}"
        );
        let unset = load(Some("[gateway]\napi_keys = { a = \"v\" }"), &vars(&[])).unwrap_err();
        assert!(unset.contains("variable `v` is not set"), "{unset}");
        let typo = load(Some("[gateway]\nmax_body = 1"), &vars(&[])).unwrap_err();
        assert!(typo.contains("max_body"), "{typo}");
        let no_key = load(Some("[providers.openai]"), &vars(&[])).unwrap_err();
        assert!(no_key.contains("openai_api_key"), "{no_key}");
    }

    #[test]
    fn a_configured_key_may_not_take_the_single_keys_name() {
        let text = "[gateway]\napi_keys = { default = \"team_key\", alice = \"alice_key\" }";
        for single in [None, Some("the-single-key")] {
            let mut pairs = vec![("team_key", "k-team"), ("alice_key", "k-alice")];
            pairs.extend(single.map(|key| ("apex_api_key", key)));
            let error = load(Some(text), &vars(&pairs)).unwrap_err();
            assert!(
                error.contains("gateway.api_keys.default")
                    && error.contains("reserved")
                    && error.contains("apex_api_key"),
                "{error}"
            );
        }
        // Another name is fine, and the single key is still called `default`.
        let text = "[gateway]\napi_keys = { team = \"team_key\" }";
        let config = load(
            Some(text),
            &vars(&[("team_key", "k-team"), ("apex_api_key", "k-single")]),
        )
        .unwrap();
        let names: Vec<&str> = config
            .gateway_keys
            .iter()
            .map(|k| k.name.as_str())
            .collect();
        assert_eq!(names, ["team", "default"]);
    }

    const TWO_PROVIDERS: &str = "[providers.a]\nbase_url = \"http://a\"\nkeys = []\n[providers.b]\nbase_url = \"http://b\"\nkeys = []\n";

    #[test]
    fn aliases_take_a_strategy_weights_and_a_cache() {
        let text = format!(
            "{TWO_PROVIDERS}[models.w]\nstrategy = \"weighted\"\ncache = true\ncache_ttl_secs = 60\n\
             targets = [{{ provider = \"a\", model = \"x\", weight = 3 }}, \"b/y\", {{ provider = \"b\", model = \"z\" }}]\n\
             [models.plain]\ntargets = [\"a/x\"]\n"
        );
        let config = load(Some(&text), &vars(&[])).unwrap();
        let w = config.alias("w").unwrap();
        assert_eq!(w.strategy, Strategy::Weighted);
        assert!(w.cache);
        assert_eq!(w.cache_ttl_secs, 60);
        let weights: Vec<u32> = w.targets.iter().map(|t| t.weight).collect();
        assert_eq!(
            weights,
            vec![3, 1, 1],
            "the string form and an omitted weight mean 1"
        );
        assert_eq!(w.targets[0].id(), "a/x");

        let plain = config.alias("plain").unwrap();
        assert_eq!(plain.strategy, Strategy::Failover);
        assert!(!plain.cache);
        assert_eq!(plain.cache_ttl_secs, DEFAULT_CACHE_TTL_SECS);
        // Direct `provider/model` names: targets and the default policy.
        let direct = config.alias("b/anything").unwrap();
        assert_eq!(direct.targets, vec![TargetRef::new("b", "anything")]);
        assert_eq!(config.policy("b/anything"), AliasPolicy::default());
        assert_eq!(config.alias("nowhere"), None);
    }

    #[test]
    fn every_strategy_spelling_parses() {
        for (name, strategy) in [
            ("failover", Strategy::Failover),
            ("round-robin", Strategy::RoundRobin),
            ("weighted", Strategy::Weighted),
            ("random", Strategy::Random),
            ("least-used", Strategy::LeastUsed),
        ] {
            let text =
                format!("{TWO_PROVIDERS}[models.m]\nstrategy = \"{name}\"\ntargets = [\"a/x\"]");
            let config = load(Some(&text), &vars(&[])).unwrap();
            assert_eq!(config.policy("m").strategy, strategy, "{name}");
        }
        let bad = format!("{TWO_PROVIDERS}[models.m]\nstrategy = \"fastest\"\ntargets = [\"a/x\"]");
        let error = load(Some(&bad), &vars(&[])).unwrap_err();
        assert!(error.contains("fastest"), "{error}");
    }

    #[test]
    fn alias_settings_are_checked() {
        let zero = format!(
            "{TWO_PROVIDERS}[models.m]\nstrategy = \"weighted\"\ntargets = [{{ provider = \"a\", model = \"x\", weight = 0 }}]"
        );
        let error = load(Some(&zero), &vars(&[])).unwrap_err();
        assert!(
            error.contains("models.m") && error.contains("weight"),
            "{error}"
        );
        // A zero weight next to a positive one is a standby target.
        let standby = format!(
            "{TWO_PROVIDERS}[models.m]\nstrategy = \"weighted\"\ntargets = [{{ provider = \"a\", model = \"x\", weight = 0 }}, \"b/y\"]"
        );
        assert!(load(Some(&standby), &vars(&[])).is_ok());
        let ttl = format!(
            "{TWO_PROVIDERS}[models.m]\ncache = true\ncache_ttl_secs = 0\ntargets = [\"a/x\"]"
        );
        let error = load(Some(&ttl), &vars(&[])).unwrap_err();
        assert!(error.contains("cache_ttl_secs"), "{error}");
        let typo = format!(
            "{TWO_PROVIDERS}[models.m]\ntargets = [{{ provider = \"a\", model = \"x\", wieght = 2 }}]"
        );
        assert!(
            load(Some(&typo), &vars(&[])).is_err(),
            "unknown target fields are refused"
        );
        let typo = format!("{TWO_PROVIDERS}[models.m]\ncahce = true\ntargets = [\"a/x\"]");
        let error = load(Some(&typo), &vars(&[])).unwrap_err();
        assert!(error.contains("cahce"), "{error}");
    }

    #[test]
    fn gateway_failover_and_cooldown_settings() {
        let defaults = load(None, &vars(&[])).unwrap();
        assert_eq!(defaults.failover_on.len(), 8);
        for class in FailureClass::DEFAULT_FAILOVER {
            assert!(defaults.fails_over(*class), "{class:?}");
        }
        assert!(!defaults.fails_over(FailureClass::ContextTooLong));
        assert_eq!(defaults.cooldown_secs, DEFAULT_COOLDOWN_SECS);
        assert_eq!(defaults.auth_cooldown_secs, DEFAULT_AUTH_COOLDOWN_SECS);
        assert!(defaults.stats);

        let text = "[gateway]\nfailover_on = [\"rate-limited\", \"timeout\", \"context-too-long\", \"timeout\"]\ncooldown_secs = 5\nauth_cooldown_secs = 3600\nstats = false";
        let config = load(Some(text), &vars(&[])).unwrap();
        assert_eq!(
            config.failover_on,
            vec![
                FailureClass::RateLimited,
                FailureClass::Timeout,
                FailureClass::ContextTooLong
            ]
        );
        assert!(!config.fails_over(FailureClass::Server));
        assert_eq!((config.cooldown_secs, config.auth_cooldown_secs), (5, 3600));
        assert!(!config.stats);

        let none = load(Some("[gateway]\nfailover_on = []"), &vars(&[])).unwrap();
        assert!(none.failover_on.is_empty());
        let bad = load(Some("[gateway]\nfailover_on = [\"429\"]"), &vars(&[])).unwrap_err();
        assert!(bad.contains("429"), "{bad}");
    }
}

#[cfg(test)]
mod example_tests {
    /// The documented example config stays valid.
    #[test]
    fn example_config_loads() {
        let text = include_str!("../../../../apex.example.toml");
        let config = super::load(Some(text), &|name| Some(format!("value-of-{name}"))).unwrap();
        assert_eq!(
            config.gateway_keys.len(),
            3,
            "alice, ci and the single-key variable"
        );
        assert_eq!(config.providers["openai"].keys.len(), 2);
        assert_eq!(config.providers["local"].keys.len(), 0);
        assert_eq!(config.providers["azure"].kind, "azure");
        assert_eq!(config.targets("smart").unwrap().len(), 2);
        assert_eq!(config.targets("fast").unwrap()[1].provider, "local");
        assert_eq!(
            config.alias("fast").unwrap().strategy,
            super::Strategy::Weighted
        );
        assert!(config.alias("faq").unwrap().cache);
        assert_eq!(config.route_name("claude-3-5-haiku-latest"), "fast");
        assert_eq!(config.providers["ollama"].kind, "ollama");
        assert_eq!(config.timeouts.first_token, 120);
        assert_eq!(
            config.cors_origins,
            vec!["http://localhost:3000".to_string()]
        );
    }
}
