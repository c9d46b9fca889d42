//! Variable names and the defaults of settings the config leaves unset.

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
/// Tries of the same target again after a 429 (within [`DEFAULT_MAX_RETRY_WAIT_SECS`]), a 5xx or
/// a refused connection, before the next candidate.
pub const DEFAULT_RETRIES: u32 = 1;
/// The wait before such a try when the provider named none (doubled for each further one).
pub const DEFAULT_RETRY_BACKOFF_MS: u64 = 250;
/// The longest Retry-After the gateway waits for before trying the same target again.
pub const DEFAULT_MAX_RETRY_WAIT_SECS: u64 = 5;
/// How long a key the provider refused (401/403) stays out of rotation.
pub const DEFAULT_AUTH_COOLDOWN_SECS: u64 = 600;
/// Custom header values shorter than this are not treated as secrets (see [`Config::secrets`]).
pub const MIN_HEADER_SECRET_BYTES: usize = 8;
/// The built-in model that answers without any provider.
pub const ECHO_MODEL: &str = "echo";

/// How long stored `/v1/responses` live unless `gateway.responses_ttl_secs` says otherwise
/// (30 days).
pub const DEFAULT_RESPONSES_TTL_SECS: u64 = 30 * 24 * 3600;

/// The variable that sets the request log's format (`text`, `json`, `off`) over `gateway.log`
/// (`APEX_LOG` in the local host's environment; `apex --log json`).
pub const LOG_VARIABLE: &str = "apex_log";
