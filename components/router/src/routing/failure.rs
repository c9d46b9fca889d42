//! Failures in one place: the classes of upstream failure (`failover_on`, cooldowns) and the
//! labels stats count failures under.

use apex_adapter_kit::types::ErrorKind;
use serde::{Deserialize, Serialize};

use crate::http::error::ApiError;

/// Classes of upstream failure, for `failover_on` (which ones move on to the next key or target)
/// and for cooldowns (why a key or target is benched). Spelled in kebab-case in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureClass {
    /// HTTP 429: this key is over its rate limit.
    RateLimited,
    /// HTTP 5xx other than overload.
    Server,
    /// The provider says it is overloaded (503, Anthropic's 529).
    Overloaded,
    /// No reply in time.
    Timeout,
    /// The connection could not be made (DNS, refused, TLS).
    Connect,
    /// The provider refused the key (401/403).
    Auth,
    /// The provider does not know the model (404).
    NotFound,
    /// A reply the adapter could not understand.
    MalformedReply,
    /// The prompt does not fit this model's context: opt-in, for aliases whose later targets
    /// have a larger context window. Not in the default list.
    ContextTooLong,
}

impl FailureClass {
    /// The default `failover_on`: every class but `context-too-long`.
    pub const DEFAULT_FAILOVER: &[FailureClass] = &[
        FailureClass::RateLimited,
        FailureClass::Server,
        FailureClass::Overloaded,
        FailureClass::Timeout,
        FailureClass::Connect,
        FailureClass::Auth,
        FailureClass::NotFound,
        FailureClass::MalformedReply,
    ];

    /// The class of an adapter's error kind; `None` for failures that are the request's own
    /// (invalid request, unsupported feature): those never fail over.
    pub fn of(kind: ErrorKind) -> Option<FailureClass> {
        match kind {
            ErrorKind::RateLimited => Some(Self::RateLimited),
            ErrorKind::Server => Some(Self::Server),
            ErrorKind::Overloaded => Some(Self::Overloaded),
            ErrorKind::Auth => Some(Self::Auth),
            ErrorKind::NotFound => Some(Self::NotFound),
            ErrorKind::MalformedReply => Some(Self::MalformedReply),
            ErrorKind::ContextTooLong => Some(Self::ContextTooLong),
            ErrorKind::InvalidRequest | ErrorKind::Unsupported => None,
        }
    }

    /// The class of a transport failure (no HTTP reply at all).
    pub fn transport(timeout: bool) -> FailureClass {
        if timeout {
            Self::Timeout
        } else {
            Self::Connect
        }
    }

    /// The config spelling (`rate-limited`, `not-found`, ...), also used as a stats label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RateLimited => "rate-limited",
            Self::Server => "server",
            Self::Overloaded => "overloaded",
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::Auth => "auth",
            Self::NotFound => "not-found",
            Self::MalformedReply => "malformed-reply",
            Self::ContextTooLong => "context-too-long",
        }
    }
}

/// The stats label of an adapter error kind (its WIT name).
pub fn kind_label(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidRequest => "invalid-request",
        ErrorKind::Auth => "auth",
        ErrorKind::NotFound => "not-found",
        ErrorKind::RateLimited => "rate-limited",
        ErrorKind::ContextTooLong => "context-too-long",
        ErrorKind::Overloaded => "overloaded",
        ErrorKind::Server => "server",
        ErrorKind::MalformedReply => "malformed-reply",
        ErrorKind::Unsupported => "unsupported",
    }
}

/// A stats label for an error the client receives.
pub fn client_label(error: &ApiError) -> &'static str {
    match error.status {
        429 => "rate-limited",
        401 | 403 => "auth",
        404 => "not-found",
        400..=499 => "invalid-request",
        504 => "timeout",
        _ => "server",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_classes_map_from_error_kinds() {
        assert_eq!(
            FailureClass::of(ErrorKind::RateLimited),
            Some(FailureClass::RateLimited)
        );
        assert_eq!(FailureClass::of(ErrorKind::Auth), Some(FailureClass::Auth));
        assert_eq!(FailureClass::of(ErrorKind::InvalidRequest), None);
        assert_eq!(FailureClass::of(ErrorKind::Unsupported), None);
        assert_eq!(FailureClass::transport(true), FailureClass::Timeout);
        assert_eq!(FailureClass::transport(false), FailureClass::Connect);
        // The config spelling and serde agree.
        for class in FailureClass::DEFAULT_FAILOVER
            .iter()
            .chain([&FailureClass::ContextTooLong])
        {
            let json = serde_json::to_string(class).unwrap();
            assert_eq!(json, format!("\"{}\"", class.as_str()));
        }
    }
}
