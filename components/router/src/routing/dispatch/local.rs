//! Answers made without a provider: the built-in `echo` model and cache hits, rendered (or
//! streamed) in the client's protocol.

use apex_adapter_kit::types::{ChatResponse, StreamEvent};
use wasip2::http::types::ResponseOutparam;

use super::request::Request;
use super::sink::Sink;
use super::upstream;
use crate::http::reply::json_headers;
use crate::http::transport;
use crate::platform::{now_secs, random_id};
use crate::state::cache;
use crate::state::usage::Tokens;
use crate::surfaces::{StreamWriter, Surface};

impl<S: Surface> Request<'_, S> {
    /// The `echo` model: the last user message back; the tokens it counts.
    pub fn echo(&self, out: ResponseOutparam) -> Option<Tokens> {
        let neutral = match self.neutral() {
            Ok(neutral) => neutral,
            Err(error) => {
                self.fail(Sink::Pending(out), &error);
                return None;
            }
        };
        let id = random_id(S::ID_PREFIX);
        let response = crate::routing::echo::respond(neutral, &id);
        let events = crate::routing::echo::stream(neutral, &id);
        self.answer_locally(out, id, &response, events);
        response.usage.as_ref().map(Tokens::from)
    }

    /// Answer from the cache: the stored answer rendered (or replayed as a stream).
    pub fn replay(&self, hit: &ChatResponse, out: ResponseOutparam) {
        let id = random_id(S::ID_PREFIX);
        self.answer_locally(out, id, hit, cache::replay_events(hit));
    }

    fn answer_locally(
        &self,
        out: ResponseOutparam,
        id: String,
        response: &ChatResponse,
        events: Vec<StreamEvent>,
    ) {
        let created = now_secs();
        // Kept before the client has it, so its next request can already use it.
        self.keep_answer(&id, created, response);
        // A cached answer is a provider's: redacted like one.
        let redactor = upstream::redactor(self.config, None);
        if self.routing.stream {
            let mut writer = S::writer(id, self.alias.to_string(), created, &self.routing);
            let mut bytes = Vec::new();
            for event in &events {
                writer.event(event, &mut bytes);
            }
            writer.done(&mut bytes);
            let bytes = redactor.bytes(&bytes);
            transport::respond(out, 200, self.stream_headers(), &bytes);
        } else {
            let body = S::render(response, &id, self.alias, created, &self.routing);
            let body = redactor.bytes(&body);
            transport::respond(out, 200, json_headers(&self.answer_headers()), &body);
        }
    }
}
