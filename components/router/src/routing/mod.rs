//! One chat request through its targets.
//!
//! - `targets`: alias → targets → keys; `strategy`: their order (failover, round-robin, weighted,
//!   random, least-used); `health`: cooldowns, and which attempts are worth making now
//! - `dispatch`: plan, attempts, the client stream and what comes after an answer; embeddings
//!   (`dispatch::embed`) on the same plan and bookkeeping
//! - `accumulate`: a stream folded back into the whole answer; `echo`: the built-in `echo` model
//! - `stitch`: where the continuation of a cut stream joins what the client has (`resume`)
//! - `count_tokens`: Anthropic's token counting (the provider's, or a local estimate)
//! - `credentials`: access tokens for providers whose kind exchanges a credential first (the
//!   adapter signs and parses; this sends, and caches the token in the key-value store)

pub mod accumulate;
pub mod capable;
pub mod echo;
pub mod failure;
pub mod health;
pub mod stitch;
pub mod strategy;
pub mod targets;

#[cfg(target_arch = "wasm32")]
pub mod count_tokens;
#[cfg(target_arch = "wasm32")]
pub mod credentials;
#[cfg(target_arch = "wasm32")]
pub mod dispatch;
