//! [`load`]: the TOML text and the variables → a [`Config`], section by section; each problem is
//! a [`ConfigError`] naming where it is.

use std::collections::BTreeMap;

use apex_adapter_kit::types::{KindInfo, Protocol};

use super::capabilities::Capabilities;
use super::catalog::{self, CATALOG, CatalogEntry, DEFAULT_KIND};
use super::defaults::{
    DEFAULT_ALLOWED_FAILS, DEFAULT_AUTH_COOLDOWN_SECS, DEFAULT_CACHE_TTL_SECS,
    DEFAULT_COOLDOWN_SECS, DEFAULT_KEEPALIVE_SECS, DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_RETRY_WAIT_SECS, DEFAULT_RESPONSES_TTL_SECS, DEFAULT_RETRIES,
    DEFAULT_RETRY_BACKOFF_MS, ECHO_MODEL, LOG_VARIABLE, SINGLE_KEY_NAME, SINGLE_KEY_VARIABLE,
};
use super::error::ConfigError;
use super::file::{
    ConfigFile, GatewaySection, ModelSection, PatternSection, ProviderSection, TargetSpec,
};
use super::kinds::Kinds;
use super::types::{
    AliasPolicy, Config, DEFAULT_TIMEOUTS, Patience, Provider, Retries, Strategy, TargetRef,
    Timeouts,
};
use crate::http::auth::GatewayKey;
use crate::http::request_log::LogFormat;
use crate::routing::failure::FailureClass;

/// Build the config from its TOML text (`None`: defaults only) and a variable lookup, natively:
/// in the router's own tests with the kinds the native adapter crates describe, elsewhere
/// (fuzzing, host tests) with [`PlainKinds`](super::PlainKinds). The component uses
/// [`load_with`] and the adapter chain.
pub fn load(
    text: Option<&str>,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    #[cfg(test)]
    let kinds = super::native_kinds::NativeKinds;
    #[cfg(not(test))]
    let kinds = super::kinds::PlainKinds;
    load_with(text, var, &kinds)
}

/// Build the config from its TOML text (`None`: defaults only) and a variable lookup, asking
/// `kinds` what each provider's kind is, what base URL it defaults to and whether its keys are
/// usable.
pub fn load_with(
    text: Option<&str>,
    var: &dyn Fn(&str) -> Option<String>,
    kinds: &dyn Kinds,
) -> Result<Config, ConfigError> {
    let file: ConfigFile = match text.map(str::trim) {
        Some(text) if !text.is_empty() => toml::from_str(text).map_err(ConfigError::document)?,
        _ => ConfigFile::default(),
    };
    let vars = Variables(var);
    let gateway = file.gateway;

    let gateway_keys = gateway_keys(&gateway, &vars)?;
    let mut providers = BTreeMap::new();
    for (name, section) in file.providers {
        let provider = provider(name, section, &vars, kinds)?;
        providers.insert(provider.name.clone(), provider);
    }
    if gateway.auto_providers {
        auto_providers(&mut providers, &vars, kinds);
    }
    let mut models = catalog_aliases(&providers);
    let mut policies = BTreeMap::new();
    for (name, section) in file.models {
        let (targets, policy) = alias(&name, section, &providers)?;
        policies.insert(name.clone(), policy);
        models.insert(name, targets);
    }
    let model_patterns = model_patterns(file.model_patterns, &models, &providers)?;
    let timeouts = timeouts(&gateway)?;
    let key_names: Vec<&str> = match gateway_keys.is_empty() {
        true => vec![crate::http::auth::ANONYMOUS],
        false => gateway_keys.iter().map(|k| k.name.as_str()).collect(),
    };
    let limits = super::limits::key_limits(file.limits, &key_names)?;
    let prices = super::limits::prices(file.prices)?;
    // The variable wins when it names a format (the local host sets it from `--log`).
    let log = vars
        .get(LOG_VARIABLE)
        .and_then(|text| LogFormat::parse(&text))
        .or(gateway.log)
        .unwrap_or_default();

    let mut failover_on = gateway
        .failover_on
        .unwrap_or_else(|| FailureClass::DEFAULT_FAILOVER.to_vec());
    failover_on.sort();
    failover_on.dedup();

    Ok(Config {
        model_patterns,
        policies,
        failover_on,
        cooldown_secs: gateway.cooldown_secs.unwrap_or(DEFAULT_COOLDOWN_SECS),
        allowed_fails: gateway.allowed_fails.unwrap_or(DEFAULT_ALLOWED_FAILS),
        auth_cooldown_secs: gateway
            .auth_cooldown_secs
            .unwrap_or(DEFAULT_AUTH_COOLDOWN_SECS),
        stats: gateway.stats,
        keepalive_secs: gateway.keepalive_secs.unwrap_or(DEFAULT_KEEPALIVE_SECS),
        timeouts,
        responses_ttl_secs: positive(gateway.responses_ttl_secs, "responses_ttl_secs")?
            .unwrap_or(DEFAULT_RESPONSES_TTL_SECS),
        max_body_bytes: gateway.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
        max_concurrent_per_key: positive(gateway.max_concurrent_per_key, "max_concurrent_per_key")?,
        cors_origins: gateway.cors_origins,
        gateway_keys,
        admin_keys: gateway.admin_keys,
        allowed_hosts: gateway.allowed_hosts,
        providers,
        models,
        echo_model: gateway.echo_model,
        hosted_tools: gateway.hosted_tools,
        retries: Retries {
            count: gateway.retries.unwrap_or(DEFAULT_RETRIES),
            backoff_ms: gateway.retry_backoff_ms.unwrap_or(DEFAULT_RETRY_BACKOFF_MS),
            max_wait_ms: gateway
                .max_retry_wait_secs
                .unwrap_or(DEFAULT_MAX_RETRY_WAIT_SECS)
                .saturating_mul(1000),
        },
        log,
        limits,
        prices,
    })
}

/// The variables as the config reads them: trimmed, and an empty one is unset.
struct Variables<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Variables<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|value| value.trim().to_string())
            .filter(|value| !value.is_empty())
    }
}

/// `gateway.api_keys` and the single key of [`SINGLE_KEY_VARIABLE`]; `gateway.admin_keys` must
/// name some of them.
fn gateway_keys(
    gateway: &GatewaySection,
    vars: &Variables,
) -> Result<Vec<GatewayKey>, ConfigError> {
    let mut keys = Vec::new();
    for (name, variable) in &gateway.api_keys {
        let path = format!("gateway.api_keys.{name}");
        if name == SINGLE_KEY_NAME {
            return Err(ConfigError::new(
                path,
                format!(
                    "the name `{SINGLE_KEY_NAME}` is reserved for the key in the `{SINGLE_KEY_VARIABLE}` variable; a configured key by that name would share its stored responses; choose another name"
                ),
            ));
        }
        let key = vars
            .get(variable)
            .ok_or_else(|| ConfigError::new(path, format!("variable `{variable}` is not set")))?;
        keys.push(GatewayKey::new(name.clone(), &key));
    }
    if let Some(key) = vars.get(SINGLE_KEY_VARIABLE) {
        keys.push(GatewayKey::new(SINGLE_KEY_NAME, &key));
    }
    for (i, name) in gateway.admin_keys.iter().flatten().enumerate() {
        if !keys.iter().any(|key| &key.name == name) {
            return Err(ConfigError::new(
                format!("gateway.admin_keys[{i}]"),
                format!(
                    "`{name}` names no gateway key (keys: gateway.api_keys, or `{SINGLE_KEY_NAME}` for {SINGLE_KEY_VARIABLE})"
                ),
            ));
        }
    }
    Ok(keys)
}

/// One `[providers.<name>]` section, its catalog entry (if any) filling what it leaves out and
/// its kind's adapter (through `kinds`) describing the rest.
fn provider(
    name: String,
    section: ProviderSection,
    vars: &Variables,
    kinds: &dyn Kinds,
) -> Result<Provider, ConfigError> {
    let at = |field: &str| format!("providers.{name}.{field}");
    let entry = catalog::lookup(&name);
    let kind = section
        .kind
        .or_else(|| entry.map(|e| e.kind.to_string()))
        .unwrap_or_else(|| DEFAULT_KIND.to_string());
    let profile = section.profile.unwrap_or_else(|| name.clone());
    let described = kinds.describe(&kind, &profile);
    let variables = section.keys.unwrap_or_else(|| {
        entry
            .map(|e| vec![e.key_variable.to_string()])
            .unwrap_or_default()
    });
    // Each set variable with its value.
    let set: Vec<(&String, String)> = variables
        .iter()
        .filter_map(|v| vars.get(v).map(|value| (v, value)))
        .collect();
    if !variables.is_empty() && set.is_empty() {
        return Err(ConfigError::new(
            at("keys"),
            format!(
                "none of its key variables ({}) is set",
                variables.join(", ")
            ),
        ));
    }
    if let Some(info) = &described {
        if info.exchanges_credential && set.is_empty() {
            return Err(ConfigError::new(
                at("keys"),
                format!(
                    "must name variables holding credentials (kind `{kind}` exchanges them for access tokens)"
                ),
            ));
        }
        for (variable, key) in &set {
            kinds.check_credential(&kind, key).map_err(|problem| {
                ConfigError::new(at("keys"), format!("variable `{variable}` {problem}"))
            })?;
        }
    }
    let key_variables = variables
        .iter()
        .map(|v| (v.clone(), set.iter().any(|(name, _)| *name == v)))
        .collect();
    let keys: Vec<String> = set.into_iter().map(|(_, key)| key).collect();
    let base_url = match section.base_url {
        Some(url) => url,
        None => {
            let settings: Vec<(String, String)> =
                [("region", section.region), ("project", section.project)]
                    .into_iter()
                    .filter_map(|(setting, value)| value.map(|v| (setting.to_string(), v)))
                    .collect();
            match kinds.default_base_url(&kind, &settings, keys.first().map(String::as_str)) {
                Ok(url) => url,
                // No default from the kind: the catalog entry's, if any.
                Err(problem) if problem.setting == "base_url" => entry
                    .map(|e| e.base_url.to_string())
                    .ok_or_else(|| ConfigError::new(at("base_url"), problem.problem))?,
                Err(problem) => {
                    return Err(ConfigError::new(at(&problem.setting), problem.problem));
                }
            }
        }
    };
    if crate::http::url::parse(&base_url).is_none() {
        return Err(ConfigError::new(
            at("base_url"),
            format!("`{base_url}` is not an http(s) URL"),
        ));
    }
    let info = described.unwrap_or_else(KindInfo::plain);
    let capabilities = Capabilities::of_kind(&info).with(&section.capabilities);
    let native_responses = native_responses(section.responses.as_deref(), &kind, &info)
        .map_err(|problem| ConfigError::new(at("responses"), problem))?;
    Ok(Provider {
        native_responses,
        profile,
        name,
        kind,
        base_url,
        keys,
        key_variables,
        api_version: section.api_version,
        headers: section.headers.into_iter().collect(),
        anthropic_betas: section.anthropic_betas,
        forwards: info.forwards,
        exchanges_credential: info.exchanges_credential,
        context_window: info.context_window,
        vision: capabilities.images,
        thinking: capabilities.thinking,
        capabilities,
        prefill: section.prefill.unwrap_or(info.prefill),
    })
}

/// `responses = "gateway" | "native"`: whether `/v1/responses` is forwarded as it is, which needs
/// a kind that forwards the OpenAI Responses protocol.
fn native_responses(responses: Option<&str>, kind: &str, info: &KindInfo) -> Result<bool, String> {
    match responses {
        None | Some("gateway") => Ok(false),
        Some("native") if info.forwards(Protocol::OpenaiResponses) => Ok(true),
        Some("native") => Err(format!(
            "\"native\" needs a provider whose kind forwards the {} protocol; kind `{kind}` does not",
            apex_adapter_kit::protocol_name(Protocol::OpenaiResponses)
        )),
        Some(other) => Err(format!("must be \"gateway\" or \"native\", not `{other}`")),
    }
}

/// Catalog providers without a section whose key variable is set (`gateway.auto_providers`).
fn auto_providers(providers: &mut BTreeMap<String, Provider>, vars: &Variables, kinds: &dyn Kinds) {
    for entry in CATALOG {
        if providers.contains_key(entry.name) {
            continue;
        }
        if let Some(key) = vars.get(entry.key_variable) {
            providers.insert(entry.name.to_string(), catalog_provider(entry, key, kinds));
        }
    }
}

fn catalog_provider(entry: &CatalogEntry, key: String, kinds: &dyn Kinds) -> Provider {
    let info = kinds
        .describe(entry.kind, entry.name)
        .unwrap_or_else(KindInfo::plain);
    let capabilities = Capabilities::of_kind(&info);
    Provider {
        name: entry.name.to_string(),
        kind: entry.kind.to_string(),
        profile: entry.name.to_string(),
        base_url: entry.base_url.to_string(),
        keys: vec![key],
        key_variables: vec![(entry.key_variable.to_string(), true)],
        api_version: None,
        headers: Vec::new(),
        anthropic_betas: None,
        native_responses: false,
        forwards: info.forwards,
        exchanges_credential: info.exchanges_credential,
        context_window: info.context_window,
        vision: info.vision,
        thinking: info.thinking,
        capabilities,
        prefill: info.prefill,
    }
}

/// The default aliases of every enabled catalog provider.
fn catalog_aliases(providers: &BTreeMap<String, Provider>) -> BTreeMap<String, Vec<TargetRef>> {
    let mut models = BTreeMap::new();
    for provider in providers.values() {
        for model in catalog::lookup(&provider.name).map_or(&[][..], |entry| entry.models) {
            models.insert(
                model.to_string(),
                vec![TargetRef::new(provider.name.clone(), *model)],
            );
        }
    }
    models
}

/// One `[models.<name>]` section: its targets (on configured providers) and its policy.
fn alias(
    name: &str,
    section: ModelSection,
    providers: &BTreeMap<String, Provider>,
) -> Result<(Vec<TargetRef>, AliasPolicy), ConfigError> {
    let mut targets = Vec::new();
    for (i, spec) in section.targets.into_iter().enumerate() {
        let path = format!("models.{name}.targets[{i}]");
        let target = target(spec).map_err(|problem| ConfigError::new(&path, problem))?;
        if !providers.contains_key(&target.provider) {
            return Err(ConfigError::new(
                path,
                format!("provider `{}` is not configured", target.provider),
            ));
        }
        targets.push(target);
    }
    if targets.is_empty() {
        return Err(ConfigError::new(
            format!("models.{name}.targets"),
            "is empty (an alias needs a target)",
        ));
    }
    if section.strategy == Strategy::Weighted && targets.iter().all(|t| t.weight == 0) {
        return Err(ConfigError::new(
            format!("models.{name}.strategy"),
            "`weighted` needs a target with a weight above 0",
        ));
    }
    let cache_ttl_secs = section.cache_ttl_secs.unwrap_or(DEFAULT_CACHE_TTL_SECS);
    if cache_ttl_secs == 0 {
        return Err(ConfigError::new(
            format!("models.{name}.cache_ttl_secs"),
            "must be above 0 (use `cache = false` to turn the cache off)",
        ));
    }
    for (value, field) in [
        (section.ttft_ms, "ttft_ms"),
        (section.stall_ms, "stall_ms"),
        (section.context_window.map(u64::from), "context_window"),
        (
            section.max_output_tokens.map(u64::from),
            "max_output_tokens",
        ),
    ] {
        if value == Some(0) {
            return Err(ConfigError::new(
                format!("models.{name}.{field}"),
                "must be at least 1",
            ));
        }
    }
    let policy = AliasPolicy {
        strategy: section.strategy,
        cache: section.cache,
        cache_ttl_secs,
        patience: Patience {
            ttft_ms: section.ttft_ms,
            stall_ms: section.stall_ms,
            retries: section.retries,
            resume: section.resume,
        },
        context_window: section.context_window,
        max_output_tokens: section.max_output_tokens,
    };
    Ok((targets, policy))
}

/// A target as written: `"provider/model"`, or the table form with an optional weight.
fn target(spec: TargetSpec) -> Result<TargetRef, String> {
    match spec {
        TargetSpec::Full(full) => Ok(TargetRef {
            provider: full.provider,
            model: full.model,
            weight: full.weight.unwrap_or(1),
            capabilities: full.capabilities,
        }),
        TargetSpec::Short(text) => match text.split_once('/') {
            Some((provider, model)) if !provider.is_empty() && !model.is_empty() => {
                Ok(TargetRef::new(provider, model))
            }
            _ => Err(format!("target `{text}` must be `provider/model`")),
        },
    }
}

/// `[[model_patterns]]`, in order; each must lead to something servable.
fn model_patterns(
    sections: Vec<PatternSection>,
    models: &BTreeMap<String, Vec<TargetRef>>,
    providers: &BTreeMap<String, Provider>,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut patterns = Vec::new();
    for (i, section) in sections.into_iter().enumerate() {
        let known = models.contains_key(&section.model)
            || section.model == ECHO_MODEL
            || section
                .model
                .split_once('/')
                .is_some_and(|(p, m)| providers.contains_key(p) && !m.is_empty());
        if !known {
            return Err(ConfigError::new(
                format!("model_patterns[{i}].model"),
                format!(
                    "`{}` is not an alias, `provider/model` or `echo`",
                    section.model
                ),
            ));
        }
        patterns.push((section.pattern, section.model));
    }
    Ok(patterns)
}

fn timeouts(gateway: &GatewaySection) -> Result<Timeouts, ConfigError> {
    Ok(Timeouts {
        connect: positive(gateway.connect_timeout_secs, "connect_timeout_secs")?
            .unwrap_or(DEFAULT_TIMEOUTS.connect),
        first_token: positive(gateway.first_token_timeout_secs, "first_token_timeout_secs")?
            .unwrap_or(DEFAULT_TIMEOUTS.first_token),
        stall: positive(gateway.stall_timeout_secs, "stall_timeout_secs")?
            .unwrap_or(DEFAULT_TIMEOUTS.stall),
        total: positive(gateway.total_timeout_secs, "total_timeout_secs")?
            .unwrap_or(DEFAULT_TIMEOUTS.total),
    })
}

/// A `[gateway]` setting that must not be zero.
fn positive<T: Default + PartialEq>(
    value: Option<T>,
    name: &str,
) -> Result<Option<T>, ConfigError> {
    match value {
        Some(zero) if zero == T::default() => Err(ConfigError::new(
            format!("gateway.{name}"),
            "must be at least 1",
        )),
        value => Ok(value),
    }
}
