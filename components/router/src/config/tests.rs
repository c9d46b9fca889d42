use std::collections::BTreeMap;

use super::*;
use crate::routing::failure::FailureClass;

fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

/// TEST ONLY: the host tests' service-account key (it belongs to no account).
const SERVICE_ACCOUNT: &str =
    include_str!("../../../../host-tests/tests/fixtures/vertex-test-service-account.json");

#[test]
fn vertex_providers_need_service_account_keys_and_build_their_url() {
    let text =
        "[providers.vx]\nkind = \"vertex-anthropic\"\nregion = \"us-east5\"\nkeys = [\"sa\"]";
    let error = load(Some(text), &vars(&[("sa", "{\"not\": \"a key\"}")]))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("providers.vx") && error.contains("`sa`"),
        "{error}"
    );
    assert!(
        error.contains("not a usable service-account key"),
        "{error}"
    );

    // The project is the key file's unless the section names one.
    let config = load(Some(text), &vars(&[("sa", SERVICE_ACCOUNT)])).unwrap();
    let vx = &config.providers["vx"];
    assert_eq!(
        vx.base_url,
        "https://us-east5-aiplatform.googleapis.com/v1/projects/apex-test-project/locations/us-east5"
    );
    assert!(vx.exchanges_credential);
    let global = format!("{text}\nproject = \"p1\"").replace("us-east5", "global");
    let config = load(Some(&global), &vars(&[("sa", SERVICE_ACCOUNT)])).unwrap();
    assert_eq!(
        config.providers["vx"].base_url,
        "https://aiplatform.googleapis.com/v1/projects/p1/locations/global"
    );

    let no_region = "[providers.vx]\nkind = \"vertex-anthropic\"\nkeys = [\"sa\"]";
    let error = load(Some(no_region), &vars(&[("sa", SERVICE_ACCOUNT)])).unwrap_err();
    assert_eq!(error.path, "providers.vx.region");
    assert_eq!(
        error.problem,
        "is required (e.g. \"us-east5\" or \"global\")"
    );
    let no_project = SERVICE_ACCOUNT.replace("\"project_id\"", "\"unused\"");
    let error = load(Some(text), &vars(&[("sa", &no_project)])).unwrap_err();
    assert_eq!(error.path, "providers.vx.project");
    assert_eq!(error.problem, "is required (the key file names none)");
    let error = load(
        Some("[providers.vx]\nkind = \"vertex-anthropic\"\nregion = \"us\"\nkeys = []"),
        &vars(&[]),
    )
    .unwrap_err();
    assert_eq!(error.path, "providers.vx.keys");
    // A base URL given is used as it is.
    let given = "[providers.vx]\nkind = \"vertex-anthropic\"\nbase_url = \"http://vertex.test/v1/projects/p/locations/r\"\nkeys = [\"sa\"]";
    let config = load(Some(given), &vars(&[("sa", SERVICE_ACCOUNT)])).unwrap();
    assert_eq!(
        config.providers["vx"].base_url,
        "http://vertex.test/v1/projects/p/locations/r"
    );
}

#[test]
fn providers_carry_what_their_adapter_describes() {
    use apex_adapter_kit::types::Protocol;
    let text = r#"
        [providers.anthropic]
        [providers.deepseek]
        [providers.local]
        base_url = "http://127.0.0.1:9/v1"
        keys = []
        responses = "native"
        [providers.g]
        kind = "gemini"
        base_url = "http://g.test"
        keys = []
        [providers.o]
        kind = "ollama"
        base_url = "http://o.test"
        keys = []
    "#;
    let config = load(Some(text), &|name| Some(format!("value-of-{name}"))).unwrap();
    let p = &config.providers;
    let facts = |name: &str| {
        let p = &p[name];
        (
            p.context_window,
            p.vision,
            p.thinking,
            p.exchanges_credential,
        )
    };
    assert_eq!(facts("anthropic"), (200_000, true, true, false));
    assert_eq!(facts("deepseek"), (128_000, false, true, false));
    assert_eq!(facts("local"), (128_000, true, false, false));
    assert_eq!(facts("g"), (1_048_576, true, true, false));
    assert_eq!(facts("o"), (128_000, true, false, false));
    assert!(
        !p["anthropic"].capabilities.embeddings,
        "Anthropic has no embeddings"
    );
    assert!(p["o"].capabilities.embeddings && p["o"].capabilities.tools);
    assert_eq!(p["local"].kind, DEFAULT_KIND, "no kind, not in the catalog");
    assert!(p["local"].native_responses);
    assert!(p["local"].forwards_protocol(Protocol::OpenaiResponses));
    assert!(p["anthropic"].forwards_protocol(Protocol::AnthropicMessages));
    assert!(!p["anthropic"].forwards_protocol(Protocol::OpenaiChat));
    assert_eq!(p["g"].forwards, [Protocol::GeminiGenerateContent]);
    assert!(
        config
            .check_kinds(&super::native_kinds::NativeKinds::kinds())
            .is_ok()
    );

    // Catalog providers switched on by their key variable are described too.
    let config = load(None, &vars(&[("gemini_api_key", "k")])).unwrap();
    assert_eq!(config.providers["gemini"].context_window, 1_048_576);

    // `responses = "native"` needs a kind forwarding the Responses protocol.
    let error = load(
        Some("[providers.x]\nkind = \"gemini\"\nbase_url = \"http://x\"\nkeys = []\nresponses = \"native\""),
        &vars(&[]),
    )
    .unwrap_err();
    assert!(error.problem.contains("OpenAI Responses"), "{error}");

    // Without adapter knowledge every kind is plain.
    let plain = load_with(
        Some(text.replace("responses = \"native\"", "").as_str()),
        &|n| Some(n.to_string()),
        &PlainKinds,
    )
    .unwrap();
    assert_eq!(plain.providers["anthropic"].context_window, 128_000);
    assert!(plain.providers["anthropic"].forwards.is_empty());
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
    let error = load(Some(bad), &vars(&[])).unwrap_err().to_string();
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
    let echoed = crate::http::redact::redact(
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
    let error = config.check_kinds(&known).unwrap_err().to_string();
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
    let missing = load(Some("[models.x]\ntargets = [\"nope/m\"]"), &vars(&[]))
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("provider `nope` is not configured"),
        "{missing}"
    );
    let unset = load(Some("[gateway]\napi_keys = { a = \"v\" }"), &vars(&[]))
        .unwrap_err()
        .to_string();
    assert!(unset.contains("variable `v` is not set"), "{unset}");
    let typo = load(Some("[gateway]\nmax_body = 1"), &vars(&[]))
        .unwrap_err()
        .to_string();
    assert!(typo.contains("max_body"), "{typo}");
    let no_key = load(Some("[providers.openai]"), &vars(&[]))
        .unwrap_err()
        .to_string();
    assert!(no_key.contains("openai_api_key"), "{no_key}");
}

#[test]
fn config_errors_say_where_the_problem_is() {
    let path = |text: &str| load(Some(text), &vars(&[])).unwrap_err().path;
    let two = "[providers.a]\nbase_url = \"http://a\"\nkeys = []\n";
    assert_eq!(
        path(&format!(
            "{two}[models.fast]\ntargets = [\"a/x\", \"nope/m\"]"
        )),
        "models.fast.targets[1]"
    );
    assert_eq!(
        path(&format!("{two}[models.fast]\ntargets = [\"no-slash\"]")),
        "models.fast.targets[0]"
    );
    assert_eq!(path("[providers.groq]"), "providers.groq.keys");
    assert_eq!(
        path("[providers.x]\nbase_url = \"ftp://x\"\nkeys = []"),
        "providers.x.base_url"
    );
    assert_eq!(
        path(
            "[providers.x]\nkeys = []\nresponses = \"native\"\nkind = \"gemini\"\nbase_url = \"http://x\""
        ),
        "providers.x.responses"
    );
    assert_eq!(
        path("[gateway]\nadmin_keys = [\"carol\"]"),
        "gateway.admin_keys[0]"
    );
    assert_eq!(
        path("[gateway]\ntotal_timeout_secs = 0"),
        "gateway.total_timeout_secs"
    );
    assert_eq!(
        path("[gateway]\nmax_concurrent_per_key = 0"),
        "gateway.max_concurrent_per_key"
    );
    assert_eq!(
        path("[[model_patterns]]\npattern = \"x\"\nmodel = \"y\""),
        "model_patterns[0].model"
    );
    // A document that is not the config's shape: the parser's message says the line.
    let error = load(Some("[gateway]\nstats = \"yes\""), &vars(&[])).unwrap_err();
    assert_eq!(error.path, "");
    assert!(error.to_string().starts_with("config: "), "{error}");
    assert!(error.to_string().contains("stats"), "{error}");
    let error = ConfigError::new(
        "models.fast.targets[1]",
        "provider `nope` is not configured",
    );
    assert_eq!(
        error.to_string(),
        "models.fast.targets[1]: provider `nope` is not configured"
    );
}

#[test]
fn a_configured_key_may_not_take_the_single_keys_name() {
    let text = "[gateway]\napi_keys = { default = \"team_key\", alice = \"alice_key\" }";
    for single in [None, Some("the-single-key")] {
        let mut pairs = vec![("team_key", "k-team"), ("alice_key", "k-alice")];
        pairs.extend(single.map(|key| ("apex_api_key", key)));
        let error = load(Some(text), &vars(&pairs)).unwrap_err().to_string();
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
        let text = format!("{TWO_PROVIDERS}[models.m]\nstrategy = \"{name}\"\ntargets = [\"a/x\"]");
        let config = load(Some(&text), &vars(&[])).unwrap();
        assert_eq!(config.policy("m").strategy, strategy, "{name}");
    }
    let bad = format!("{TWO_PROVIDERS}[models.m]\nstrategy = \"fastest\"\ntargets = [\"a/x\"]");
    let error = load(Some(&bad), &vars(&[])).unwrap_err().to_string();
    assert!(error.contains("fastest"), "{error}");
}

#[test]
fn alias_settings_are_checked() {
    let zero = format!(
        "{TWO_PROVIDERS}[models.m]\nstrategy = \"weighted\"\ntargets = [{{ provider = \"a\", model = \"x\", weight = 0 }}]"
    );
    let error = load(Some(&zero), &vars(&[])).unwrap_err().to_string();
    assert!(
        error.contains("models.m") && error.contains("weight"),
        "{error}"
    );
    // A zero weight next to a positive one is a standby target.
    let standby = format!(
        "{TWO_PROVIDERS}[models.m]\nstrategy = \"weighted\"\ntargets = [{{ provider = \"a\", model = \"x\", weight = 0 }}, \"b/y\"]"
    );
    assert!(load(Some(&standby), &vars(&[])).is_ok());
    let ttl =
        format!("{TWO_PROVIDERS}[models.m]\ncache = true\ncache_ttl_secs = 0\ntargets = [\"a/x\"]");
    let error = load(Some(&ttl), &vars(&[])).unwrap_err().to_string();
    assert!(error.contains("cache_ttl_secs"), "{error}");
    let typo = format!(
        "{TWO_PROVIDERS}[models.m]\ntargets = [{{ provider = \"a\", model = \"x\", wieght = 2 }}]"
    );
    assert!(
        load(Some(&typo), &vars(&[])).is_err(),
        "unknown target fields are refused"
    );
    let typo = format!("{TWO_PROVIDERS}[models.m]\ncahce = true\ntargets = [\"a/x\"]");
    let error = load(Some(&typo), &vars(&[])).unwrap_err().to_string();
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
    let bad = load(Some("[gateway]\nfailover_on = [\"429\"]"), &vars(&[]))
        .unwrap_err()
        .to_string();
    assert!(bad.contains("429"), "{bad}");
}

/// The documented example config stays valid.
#[test]
fn example_config_loads() {
    let text = include_str!("../../../../apex.example.toml");
    let config = load(Some(text), &|name| Some(format!("value-of-{name}"))).unwrap();
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
    assert_eq!(config.alias("fast").unwrap().strategy, Strategy::Weighted);
    assert!(config.alias("faq").unwrap().cache);
    assert_eq!(config.route_name("claude-3-5-haiku-latest"), "fast");
    assert_eq!(config.providers["ollama"].kind, "ollama");
    assert_eq!(config.timeouts.first_token, 120);
    assert_eq!(
        config.cors_origins,
        vec!["http://localhost:3000".to_string()]
    );
}
