//! Trying the same target again before the next candidate: after a 429 with a Retry-After the
//! gateway may wait for (`max_retry_wait_secs`), a 5xx, an overload or a refused connection — never after a timeout (a
//! silent provider only multiplies the wait), a refused key or any other 4xx (the same request
//! would fail the same way).

use super::attempt::Observed;
use super::request::Request;
use crate::config::Config;
use crate::platform::monotonic_ms;
use crate::routing::failure::FailureClass;
use crate::surfaces::Surface;

/// How long to wait before trying the target of a failed attempt again (`tries` made already),
/// or `None` to move on: no tries left, a failure a retry cannot mend, a Retry-After longer than
/// the gateway waits, or no time left before the request's deadline.
pub fn wait<S: Surface>(request: &Request<S>, tries: u32, seen: Option<Observed>) -> Option<u64> {
    let config = request.config;
    let allowed = request.patience.retries.unwrap_or(config.retries.count);
    wait_for(config, allowed, request.total_deadline, tries, seen)
}

/// [`wait`] for any caller: `allowed` tries of the same target, a request due by monotonic
/// `deadline_ms` (embeddings use it too).
pub fn wait_for(
    config: &Config,
    allowed: u32,
    deadline_ms: u64,
    tries: u32,
    seen: Option<Observed>,
) -> Option<u64> {
    let seen = seen?;
    if tries >= allowed {
        return None;
    }
    let backoff = || {
        config
            .retries
            .backoff_ms
            .saturating_mul(1u64 << tries.min(10))
    };
    let wait = match (seen.class, seen.retry_after_ms) {
        (_, Some(ms)) if ms > config.retries.max_wait_ms => return None,
        // A rate limit benches the key for `cooldown_secs` unless the provider says when to come
        // back: only then is the same key tried again.
        (FailureClass::RateLimited, None) => return None,
        (FailureClass::RateLimited | FailureClass::Overloaded | FailureClass::Server, Some(ms)) => {
            ms
        }
        (FailureClass::Overloaded | FailureClass::Server, None) => backoff(),
        (FailureClass::Connect, _) => backoff(),
        (
            FailureClass::Timeout
            | FailureClass::Auth
            | FailureClass::NotFound
            | FailureClass::MalformedReply
            | FailureClass::ContextTooLong,
            _,
        ) => return None,
    };
    // Leave room for the try itself.
    let room = deadline_ms.saturating_sub(monotonic_ms());
    (wait.saturating_mul(2) < room).then_some(wait)
}
