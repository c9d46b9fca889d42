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
//!
//! Modules, one job each: `types` (the resolved [`Config`] and its parts), `file` (the file's
//! sections as written), `catalog` (the built-in providers, as data), `defaults` (names and
//! defaults), `kinds` ([`Kinds`]: what the configuration asks the adapters about their kinds —
//! the router knows none by name), `load` (file + variables → [`Config`]), `error`
//! ([`ConfigError`]: where, and what is wrong).

mod capabilities;
mod catalog;
mod defaults;
mod error;
mod file;
mod kinds;
mod limits;
mod load;
pub mod report;
mod types;

#[cfg(test)]
mod native_kinds;
#[cfg(test)]
mod tests;

pub use capabilities::{Capabilities, CapabilityOverrides, Feature, needed};
pub use catalog::{CATALOG, CatalogEntry, DEFAULT_KIND};
pub use defaults::*;
pub use error::ConfigError;
pub use kinds::{Kinds, PlainKinds};
pub use limits::{KeyLimits, Limits, Period};
pub use load::{load, load_with};

pub use types::{
    Alias, AliasPolicy, Config, DEFAULT_TIMEOUTS, ECHO_CONTEXT_WINDOW, HostedTools, ModelLimits,
    Patience, Provider, Retries, Strategy, TargetRef, Timeouts, glob,
};
