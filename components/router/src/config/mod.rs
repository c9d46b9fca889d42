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
//! sections as written), `catalog` (the built-in providers, as data), `load` (file + variables →
//! [`Config`]), `error` ([`ConfigError`]: where, and what is wrong).

mod catalog;
mod error;
mod file;
mod load;
mod types;

#[cfg(test)]
mod tests;

pub use catalog::{CATALOG, CatalogEntry, VERTEX_KIND, vertex_base_url};
pub use error::ConfigError;
pub use load::load;
pub use types::{Alias, AliasPolicy, Config, Provider, Strategy, TargetRef, Timeouts, glob};

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

/// The timeouts `[gateway]` leaves unset.
pub const DEFAULT_TIMEOUTS: Timeouts = Timeouts {
    connect: 10,
    first_token: 120,
    total: 900,
};
/// How long stored `/v1/responses` live unless `gateway.responses_ttl_secs` says otherwise
/// (30 days).
pub const DEFAULT_RESPONSES_TTL_SECS: u64 = 30 * 24 * 3600;
