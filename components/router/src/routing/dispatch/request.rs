//! One client request as the dispatch stages see it: who asked, the body, what routing needs, the
//! headers every answer carries and the overall deadline. Nothing here changes once the attempts
//! begin.

use std::cell::OnceCell;
use std::marker::PhantomData;

use apex_adapter_kit::types::ChatRequest;

use crate::config::Config;
use crate::http::Client;
use crate::http::error::ApiError;
use crate::platform::now_secs;
use crate::surfaces::{Routing, Surface};

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
    neutral: OnceCell<Result<ChatRequest, ApiError>>,
    pub routing: Routing,
    pub client: &'a Client<'a>,
    /// Headers every answer carries (CORS, `x-apex-cache`).
    pub headers: Vec<(String, String)>,
    /// Where a finished answer is cached, when the alias caches (set by the plan).
    pub cache: Option<CachePlan>,
    /// Monotonic milliseconds by which the whole request must be done.
    pub total_deadline: u64,
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
            surface: PhantomData,
        }
    }

    /// The request in neutral form (parsed and validated once).
    pub fn neutral(&self) -> Result<&ChatRequest, ApiError> {
        self.neutral
            .get_or_init(|| S::to_neutral(self.body))
            .as_ref()
            .map_err(Clone::clone)
    }

    pub fn writer(&self, id: String) -> S::Writer {
        S::writer(id, self.alias.to_string(), now_secs(), &self.routing)
    }

    /// Headers of the client's event stream.
    pub fn stream_headers(&self) -> Vec<(String, String)> {
        crate::http::reply::stream_headers(S::STREAM_CONTENT_TYPE, &self.headers)
    }

    /// Whether finished answers must be collected (to store or to cache them).
    pub fn keeps_answers(&self) -> bool {
        S::STORES || self.cache.is_some()
    }

    /// How long a streaming client may wait in silence before a keepalive (`None`: never).
    pub fn keepalive_ns(&self) -> Option<u64> {
        let secs = self.config.keepalive_secs;
        (self.routing.stream && S::KEEPALIVE && secs > 0).then(|| secs * 1_000_000_000)
    }
}
