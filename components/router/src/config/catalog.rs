//! The built-in provider catalog, as data: what `[providers.<name>]` defaults to, and which
//! providers a key variable in the environment switches on (with their default aliases); and the
//! kind of a section that names none. What a kind *is* is not here: the adapters describe it
//! ([`Kinds`](super::Kinds)).

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

/// One row of the table: a provider with no default aliases and no prefixes.
const fn provider(
    name: &'static str,
    kind: &'static str,
    base_url: &'static str,
    key_variable: &'static str,
) -> CatalogEntry {
    CatalogEntry {
        name,
        kind,
        base_url,
        key_variable,
        models: &[],
        prefixes: &[],
    }
}

impl CatalogEntry {
    const fn models(self, models: &'static [&'static str]) -> Self {
        Self { models, ..self }
    }

    const fn prefixes(self, prefixes: &'static [&'static str]) -> Self {
        Self { prefixes, ..self }
    }
}

/// The catalog. A provider listed here needs only its key variable (or `[providers.<name>]`
/// with nothing else) to be served; the README's Catalog table lists the same rows.
#[rustfmt::skip]
pub const CATALOG: &[CatalogEntry] = &[
    //       name          kind         base URL                                              key variable
    provider("openai",     "openai",    "https://api.openai.com/v1",                          "openai_api_key")
        .models(&["gpt-4.1", "gpt-4.1-mini", "gpt-4o", "gpt-4o-mini", "o4-mini"])
        .prefixes(&["gpt-", "o1", "o3", "o4", "chatgpt-"]),
    provider("anthropic",  "anthropic", "https://api.anthropic.com/v1",                       "anthropic_api_key")
        .models(&["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"])
        .prefixes(&["claude-"]),
    provider("deepseek",   "openai",    "https://api.deepseek.com/v1",                        "deepseek_api_key")
        .models(&["deepseek-chat", "deepseek-reasoner"])
        .prefixes(&["deepseek-"]),
    provider("groq",       "openai",    "https://api.groq.com/openai/v1",                     "groq_api_key"),
    provider("openrouter", "openai",    "https://openrouter.ai/api/v1",                       "openrouter_api_key"),
    provider("mistral",    "openai",    "https://api.mistral.ai/v1",                          "mistral_api_key"),
    provider("xai",        "openai",    "https://api.x.ai/v1",                                "xai_api_key"),
    provider("moonshot",   "openai",    "https://api.moonshot.ai/v1",                         "moonshot_api_key"),
    provider("together",   "openai",    "https://api.together.xyz/v1",                        "together_api_key"),
    provider("fireworks",  "openai",    "https://api.fireworks.ai/inference/v1",              "fireworks_api_key"),
    provider("deepinfra",  "openai",    "https://api.deepinfra.com/v1/openai",                "deepinfra_api_key"),
    provider("cerebras",   "openai",    "https://api.cerebras.ai/v1",                         "cerebras_api_key"),
    provider("yi",         "openai",    "https://api.lingyiwanwu.com/v1",                     "yi_api_key"),
    provider("aliyun",     "openai",    "https://dashscope.aliyuncs.com/compatible-mode/v1",  "dashscope_api_key"),
    provider("gemini",     "gemini",    "https://generativelanguage.googleapis.com/v1beta",   "gemini_api_key")
        .models(&["gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite"])
        .prefixes(&["gemini-"]),
    provider("cohere",     "cohere",    "https://api.cohere.com/v2",                          "cohere_api_key")
        .models(&["command-a-03-2025"])
        .prefixes(&["command-"]),
];

/// The adapter kind of a `[providers.<name>]` section that names none and is not in the catalog:
/// OpenAI-compatible, what most providers and local servers speak.
pub const DEFAULT_KIND: &str = "openai";

/// The catalog entry of a provider name.
pub fn lookup(name: &str) -> Option<&'static CatalogEntry> {
    CATALOG.iter().find(|entry| entry.name == name)
}
