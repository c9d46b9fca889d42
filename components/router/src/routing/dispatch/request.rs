//! One client request as the dispatch stages see it: who asked, the body, what routing needs, the
//! headers every answer carries and the overall deadline. Nothing here changes once the attempts
//! begin.

use std::cell::OnceCell;
use std::marker::PhantomData;

use apex_adapter_kit::types::ChatRequest;

use crate::config::{Config, HostedTools, Patience, Provider};
use crate::http::Client;
use crate::http::error::ApiError;
use crate::platform::now_secs;
use crate::state::carry::{self, Carried, Reattached};
use crate::surfaces::{Routing, Surface, hosted_tools};

/// A cache entry to write when the answer completes.
pub struct CachePlan {
    pub key: String,
    pub ttl_secs: u64,
}

pub struct Request<'a, S: Surface> {
    pub config: &'a Config,
    /// The model name the client asked for (responses carry it back).
    pub alias: &'a str,
    pub body: &'a [u8],
    /// The request in neutral form, built the first time a target needs translation (forwarding
    /// never depends on it, so fields the neutral form cannot hold still reach same-protocol
    /// upstreams). A lazy parse, not a side channel.
    /// With it, what putting kept reasoning back did (`state::carry`).
    neutral: OnceCell<(Result<ChatRequest, ApiError>, Reattached)>,
    pub routing: Routing,
    pub client: &'a Client<'a>,
    /// Headers every answer carries (CORS, `x-apex-cache`).
    pub headers: Vec<(String, String)>,
    /// Where a finished answer is cached, when the alias caches (set by the plan).
    pub cache: Option<CachePlan>,
    /// Monotonic milliseconds by which the whole request must be done.
    pub total_deadline: u64,
    /// How the alias rides out provider faults (set by `chat` once the alias is known).
    pub patience: Patience,
    surface: PhantomData<S>,
}

impl<'a, S: Surface> Request<'a, S> {
    pub fn new(
        config: &'a Config,
        alias: &'a str,
        body: &'a [u8],
        routing: Routing,
        client: &'a Client<'a>,
        started_ms: u64,
    ) -> Self {
        Self {
            config,
            alias,
            body,
            neutral: OnceCell::new(),
            routing,
            client,
            headers: client.cors.to_vec(),
            cache: None,
            total_deadline: started_ms.saturating_add(config.timeouts.total.saturating_mul(1000)),
            patience: Patience::default(),
            surface: PhantomData,
        }
    }

    /// The request in neutral form (parsed and validated once), with the reasoning the gateway
    /// kept for its tool calls put back when the client's protocol cannot carry it.
    pub fn neutral(&self) -> Result<&ChatRequest, ApiError> {
        self.parsed().0.as_ref().map_err(Clone::clone)
    }

    fn parsed(&self) -> &(Result<ChatRequest, ApiError>, Reattached) {
        self.neutral.get_or_init(|| {
            let hosted = &self.routing.hosted_tools;
            if !hosted.is_empty() && self.config.hosted_tools == HostedTools::Reject {
                return (Err(hosted_tools::refused(hosted)), Reattached::default());
            }
            let mut request = S::to_neutral(self.body);
            let mut done = Reattached::default();
            if let Ok(request) = request.as_mut()
                && !S::CARRIES_REASONING
            {
                done = carry::reattach(request, |call_id| self.kept_reasoning(call_id));
            }
            (request, done)
        })
    }

    /// The reasoning kept for the answer whose first tool call is `call_id`, if the caller made it
    /// and it has not expired.
    fn kept_reasoning(&self, call_id: &str) -> Option<Carried> {
        let bucket = crate::platform::store()?;
        let key = carry::kv_key(self.client.caller, call_id);
        let bytes = bucket.get(&key).ok().flatten()?;
        Carried::decode(&bytes).filter(|kept| kept.expires_at > now_secs())
    }

    /// Whether tool calls came back whose kept reasoning was not found (expired, or made
    /// elsewhere). Parses the request only when it may hold tool calls.
    pub fn reasoning_missing(&self) -> bool {
        !S::CARRIES_REASONING
            && self
                .routing
                .tool_calls_back
                .unwrap_or_else(|| carry::may_hold_tool_calls(self.body))
            && self.parsed().1.missing > 0
    }

    pub fn writer(&self, id: String) -> S::Writer {
        S::writer(id, self.alias.to_string(), now_secs(), &self.routing)
    }

    /// Headers of a translated (or local) answer: those of every answer, and the hosted tools
    /// the provider went without.
    pub fn answer_headers(&self) -> Vec<(String, String)> {
        let mut headers = self.headers.clone();
        if !self.routing.hosted_tools.is_empty() {
            headers.push((
                hosted_tools::DROPPED_HEADER.to_string(),
                self.routing.hosted_tools.join(", "),
            ));
        }
        headers
    }

    /// Headers of the client's event stream (translated or local).
    pub fn stream_headers(&self) -> Vec<(String, String)> {
        crate::http::reply::stream_headers(S::STREAM_CONTENT_TYPE, &self.answer_headers())
    }

    /// Whether finished answers must be collected (to store or to cache them).
    pub fn keeps_answers(&self) -> bool {
        S::STORES || self.cache.is_some()
    }

    /// Whether translated answers of `provider` must be collected: to keep them, or to keep the
    /// reasoning the client's protocol cannot carry (only providers whose models reason have any).
    pub fn keeps_translated(&self, provider: &Provider) -> bool {
        self.keeps_answers() || (!S::CARRIES_REASONING && provider.thinking)
    }

    /// How long a streaming client may wait in silence before a keepalive (`None`: never).
    pub fn keepalive_ns(&self) -> Option<u64> {
        let secs = self.config.keepalive_secs;
        (self.routing.stream && S::KEEPALIVE && secs > 0).then(|| secs * 1_000_000_000)
    }
}
