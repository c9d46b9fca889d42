//! The shared guest-side library of Apex adapters (an rlib, not a component).
//!
//! - [`types`]: the neutral types of `apex:gateway/types`, generated once here and reused by every
//!   adapter and by the router (`with` in their `wit_bindgen::generate!`), with serde derives so
//!   fixtures are plain JSON.
//! - [`Adapter`] / [`StreamDecode`]: what an adapter writes — its translation, nothing else.
//! - [`export_adapter_link!`]: generates the component glue, including delegation of every kind the
//!   adapter does not serve to the next link of the chain.
//! - [`sse`], [`http`], [`json`]: framing, request building, error classification and JSON
//!   helpers shared by adapters; [`body_edit`]: the one-pass edit of a forwarded JSON body.
//! - `fixtures` (native only) and `fixture_tests!`: the golden-case runner
//!   and the tests every adapter crate runs with it.

pub mod body_edit;
#[cfg(not(target_arch = "wasm32"))]
pub mod fixtures;
pub mod http;
pub mod json;
pub mod sse;

mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "apex:gateway/types-only",
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
    });
}

/// The neutral types (`apex:gateway/types`).
pub mod types {
    pub use crate::bindings::apex::gateway::types::*;
}

use types::{
    AccessToken, AdapterError, ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, ErrorKind,
    ForwardedBody, Forwarding, HttpRequest, KindInfo, Protocol, SettingProblem, StreamEvent,
    Target,
};

/// The context window a kind advertises unless it says otherwise: a conservative 128k tokens
/// (clients trim history to it).
pub const DEFAULT_CONTEXT_WINDOW: u32 = 128_000;

/// The most one streamed event (a server-sent event, an NDJSON line) may hold: 8 MiB. A longer one
/// is a malformed reply, so an upstream that never ends its event cannot make a decoder buffer
/// without bound.
pub const MAX_STREAM_EVENT_BYTES: usize = 8 * 1024 * 1024;

/// Decodes one streamed reply into neutral events.
pub trait StreamDecode {
    /// Feed the next bytes of the body; returns the events they complete.
    fn feed(&mut self, chunk: &[u8]) -> Result<Vec<StreamEvent>, AdapterError>;
    /// The body ended; returns the last events, or an error if the stream was cut short.
    fn finish(&mut self) -> Result<Vec<StreamEvent>, AdapterError>;
}

/// One provider family's translation. Pure: no I/O, no clock, no globals.
pub trait Adapter {
    /// The `target.kind` values this adapter serves.
    const KINDS: &'static [&'static str];
    /// Who this adapter's messages name as the provider (`"Gemini"`, `"The native Ollama
    /// adapter"`): the default [`Adapter::forward_request`] refusal starts with it.
    const NAME: &'static str;
    /// Ends the default [`Adapter::forward_request`] refusal (may be empty): a hint at what to use
    /// instead.
    const NOT_FORWARDED_HINT: &'static str = "";
    type Decoder: StreamDecode + Default;

    fn build_request(target: &Target, request: &ChatRequest) -> Result<HttpRequest, AdapterError>;

    /// How to forward a client body already in `protocol` (what the router read from it in
    /// `body`; the body stays with the router). By default the provider speaks none of the client
    /// protocols: `unsupported` ([`not_forwarded`]), so the router translates instead.
    fn forward_request(
        _target: &Target,
        protocol: Protocol,
        _path: &str,
        _body: &ForwardedBody,
    ) -> Result<Forwarding, AdapterError> {
        Err(not_forwarded(
            Self::NAME,
            protocol,
            Self::NOT_FORWARDED_HINT,
        ))
    }

    fn parse_response(
        kind: &str,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<ChatResponse, AdapterError>;

    /// Translate an embeddings request. By default the provider cannot embed: `unsupported`
    /// ([`no_embeddings`]), so the router moves on to the next target.
    fn build_embed_request(
        target: &Target,
        _request: &EmbedRequest,
    ) -> Result<HttpRequest, AdapterError> {
        Err(no_embeddings(Self::NAME, &target.kind))
    }

    /// The vectors in the reply to [`Adapter::build_embed_request`], or a classified error. By
    /// default: `unsupported` ([`no_embeddings`]).
    fn parse_embed_response(
        kind: &str,
        _status: u16,
        _headers: &[(String, String)],
        _body: &[u8],
    ) -> Result<EmbedResponse, AdapterError> {
        Err(no_embeddings(Self::NAME, kind))
    }

    /// The request asking the provider to count `request`'s input tokens. By default the provider
    /// has no counting endpoint: `unsupported` ([`no_count`]), and the router estimates.
    fn build_count_request(
        target: &Target,
        _request: &ChatRequest,
    ) -> Result<HttpRequest, AdapterError> {
        Err(no_count(Self::NAME, &target.kind))
    }

    /// The count in the reply to [`Adapter::build_count_request`], or a classified error. By
    /// default: `unsupported` ([`no_count`]).
    fn parse_count_response(
        kind: &str,
        _status: u16,
        _headers: &[(String, String)],
        _body: &[u8],
    ) -> Result<u32, AdapterError> {
        Err(no_count(Self::NAME, kind))
    }

    /// A decoder for a streamed reply of `kind`; by default a fresh [`Adapter::Decoder`],
    /// whatever the kind.
    fn decoder(_kind: &str) -> Self::Decoder {
        Self::Decoder::default()
    }

    /// Whether this adapter serves `kind`.
    fn serves(kind: &str) -> bool {
        Self::KINDS.contains(&kind)
    }

    /// What `kind` (one of [`Adapter::KINDS`]) is with provider `profile`; by default
    /// [`KindInfo::plain`]: it forwards no client protocol, its keys are sent as they are, its
    /// models take [`DEFAULT_CONTEXT_WINDOW`] tokens, no images, return no reasoning, and serve
    /// no embeddings.
    fn describe(_kind: &str, _profile: &str) -> KindInfo {
        KindInfo::plain()
    }

    /// The base URL of a provider of `kind` configured without one, from its `settings`
    /// (`region`, `project`, ...) and first credential. By default there is none:
    /// `base_url` "is required" ([`SettingProblem::base_url_required`]).
    fn default_base_url(
        _kind: &str,
        _settings: &[(String, String)],
        _credential: Option<&str>,
    ) -> Result<String, SettingProblem> {
        Err(SettingProblem::base_url_required())
    }

    /// Whether `credential` is usable as a key of `kind`: the problem reads after the name of the
    /// variable holding it, and never quotes it. By default every key is.
    fn check_credential(_kind: &str, _credential: &str) -> Result<(), String> {
        Ok(())
    }

    /// The request exchanging `credential` for an access token at `now_secs`, for kinds that
    /// describe `exchanges_credential`. By default: `unsupported` ([`no_exchange`]).
    fn exchange_request(
        kind: &str,
        _credential: &str,
        _now_secs: u64,
    ) -> Result<HttpRequest, AdapterError> {
        Err(no_exchange(kind))
    }

    /// The access token in the reply to [`Adapter::exchange_request`]. By default:
    /// `unsupported` ([`no_exchange`]).
    fn exchange_response(
        kind: &str,
        _status: u16,
        _body: &[u8],
    ) -> Result<AccessToken, AdapterError> {
        Err(no_exchange(kind))
    }
}

impl KindInfo {
    /// A kind that forwards no client protocol, sends its keys as they are, and whose models
    /// take [`DEFAULT_CONTEXT_WINDOW`] tokens, no images, return no reasoning, call tools and
    /// follow JSON schemas (a request the adapter cannot build is refused there), and serve no
    /// embeddings.
    pub fn plain() -> Self {
        Self {
            forwards: Vec::new(),
            exchanges_credential: false,
            context_window: DEFAULT_CONTEXT_WINDOW,
            vision: false,
            thinking: false,
            prefill: false,
            tools: true,
            json_schema: true,
            embeddings: false,
        }
    }

    /// Whether providers of this kind take `protocol` untouched.
    pub fn forwards(&self, protocol: Protocol) -> bool {
        self.forwards.contains(&protocol)
    }
}

impl SettingProblem {
    pub fn new(setting: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            setting: setting.into(),
            problem: problem.into(),
        }
    }

    /// What a kind with no default base URL answers: `base_url` "is required".
    pub fn base_url_required() -> Self {
        Self::new("base_url", "is required")
    }
}

/// Decode `chunks` as one whole stream with `decoder`: every event, or the first error.
pub fn decode_stream<D: StreamDecode>(
    mut decoder: D,
    chunks: &[&[u8]],
) -> Result<Vec<StreamEvent>, AdapterError> {
    let mut events = Vec::new();
    for chunk in chunks {
        events.extend(decoder.feed(chunk)?);
    }
    events.extend(decoder.finish()?);
    Ok(events)
}

impl types::ForwardedBody {
    /// A forwarded body naming `model`, not asking for a stream.
    pub fn naming(model: impl Into<String>) -> Self {
        Self {
            model: Some(model.into()),
            stream: false,
        }
    }
}

impl types::ChatRequest {
    /// A request for `model` with `messages` and every option unset.
    pub fn new(model: impl Into<String>, messages: Vec<types::Message>) -> Self {
        Self {
            model: model.into(),
            messages,
            tools: Vec::new(),
            tool_choice: None,
            parallel_tool_calls: None,
            max_tokens: None,
            temperature: None,
            top_p: None,
            top_k: None,
            stop: Vec::new(),
            seed: None,
            response_format: None,
            reasoning: None,
            user: None,
            stream: false,
            extra: None,
        }
    }
}

/// An error of the given kind with no upstream status.
pub fn error(kind: ErrorKind, message: impl Into<String>) -> AdapterError {
    AdapterError {
        kind,
        message: message.into(),
        status: None,
        retry_after_ms: None,
    }
}

/// An `invalid_request` error saying `e` (a request the provider cannot be sent).
pub fn invalid(e: impl std::fmt::Display) -> AdapterError {
    error(ErrorKind::InvalidRequest, e.to_string())
}

/// An `unsupported` error saying `message` (a request this provider cannot express).
pub fn unsupported(message: impl Into<String>) -> AdapterError {
    error(ErrorKind::Unsupported, message)
}

/// A client protocol's name, for messages.
pub fn protocol_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::OpenaiChat => "OpenAI Chat Completions",
        Protocol::AnthropicMessages => "Anthropic Messages",
        Protocol::OpenaiResponses => "OpenAI Responses",
        Protocol::GeminiGenerateContent => "Gemini generateContent",
    }
}

/// `forward_request`'s answer from an adapter whose provider speaks none of the client protocols:
/// `unsupported`, so the router translates instead. `hint` ends the message (may be empty).
pub fn not_forwarded(provider: &str, protocol: Protocol, hint: &str) -> AdapterError {
    error(
        ErrorKind::Unsupported,
        format!(
            "{provider} does not speak the {} protocol: requests are translated instead{hint}",
            protocol_name(protocol)
        ),
    )
}

/// The error of a credential exchange asked of a kind that sends its keys as they are.
pub fn no_exchange(kind: &str) -> AdapterError {
    error(
        ErrorKind::Unsupported,
        format!("provider kind `{kind}` sends its keys as they are: it exchanges no credential"),
    )
}

/// The error of a token count asked of a kind whose providers have no counting endpoint.
pub fn no_count(provider: &str, kind: &str) -> AdapterError {
    error(
        ErrorKind::Unsupported,
        format!("provider kind `{kind}` ({provider}) has no token-counting endpoint"),
    )
}

/// The error of an embeddings request to a kind whose providers cannot embed: `unsupported`.
pub fn no_embeddings(provider: &str, kind: &str) -> AdapterError {
    error(
        ErrorKind::Unsupported,
        format!("provider kind `{kind}` ({provider}) has no embeddings API"),
    )
}

/// The error the end of the chain gives for a kind nobody serves.
pub fn unknown_kind(kind: &str) -> AdapterError {
    error(
        ErrorKind::Unsupported,
        format!("no adapter in the chain serves provider kind `{kind}`"),
    )
}

/// Exports the `apex:gateway/adapter-link` world for `$adapter` (a type implementing [`Adapter`]):
/// kinds it serves are translated by it, every other kind is delegated to the imported next link.
///
/// The invoking crate must depend on `wit-bindgen` and `apex-adapter-kit`, and live two directories
/// below the workspace root (`components/<name>`), where `wit/` is found.
#[macro_export]
macro_rules! export_adapter_link {
    ($adapter:ty) => {
        mod __apex_link {
            wit_bindgen::generate!({
                path: "../../wit",
                world: "apex:gateway/adapter-link",
                with: { "apex:gateway/types@0.3.0": ::apex_adapter_kit::types },
            });

            use ::apex_adapter_kit::types::*;
            use ::apex_adapter_kit::{Adapter as _, StreamDecode as _};
            use apex::gateway::adapter as next;
            use exports::apex::gateway::adapter::{Guest, GuestStreamDecoder};

            type This = super::__ApexAdapter;

            pub struct Link;

            impl Guest for Link {
                type StreamDecoder = Decoder;

                fn kinds() -> ::std::vec::Vec<::std::string::String> {
                    let mut kinds: ::std::vec::Vec<::std::string::String> =
                        <This>::KINDS.iter().map(|k| k.to_string()).collect();
                    kinds.extend(next::kinds());
                    kinds
                }

                fn describe(
                    kind: ::std::string::String,
                    profile: ::std::string::String,
                ) -> ::std::option::Option<KindInfo> {
                    if <This>::serves(&kind) {
                        ::std::option::Option::Some(<This>::describe(&kind, &profile))
                    } else {
                        next::describe(&kind, &profile)
                    }
                }

                fn default_base_url(
                    kind: ::std::string::String,
                    settings: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                    credential: ::std::option::Option<::std::string::String>,
                ) -> Result<::std::string::String, SettingProblem> {
                    if <This>::serves(&kind) {
                        <This>::default_base_url(&kind, &settings, credential.as_deref())
                    } else {
                        next::default_base_url(&kind, &settings, credential.as_deref())
                    }
                }

                fn check_credential(
                    kind: ::std::string::String,
                    credential: ::std::string::String,
                ) -> Result<(), ::std::string::String> {
                    if <This>::serves(&kind) {
                        <This>::check_credential(&kind, &credential)
                    } else {
                        next::check_credential(&kind, &credential)
                    }
                }

                fn exchange_request(
                    kind: ::std::string::String,
                    credential: ::std::string::String,
                    now_secs: u64,
                ) -> Result<HttpRequest, AdapterError> {
                    if <This>::serves(&kind) {
                        <This>::exchange_request(&kind, &credential, now_secs)
                    } else {
                        next::exchange_request(&kind, &credential, now_secs)
                    }
                }

                fn exchange_response(
                    kind: ::std::string::String,
                    status: u16,
                    body: ::std::vec::Vec<u8>,
                ) -> Result<AccessToken, AdapterError> {
                    if <This>::serves(&kind) {
                        <This>::exchange_response(&kind, status, &body)
                    } else {
                        next::exchange_response(&kind, status, &body)
                    }
                }

                fn build_request(target: Target, request: ChatRequest) -> Result<HttpRequest, AdapterError> {
                    if <This>::serves(&target.kind) {
                        <This>::build_request(&target, &request)
                    } else {
                        next::build_request(&target, &request)
                    }
                }

                fn forward_request(
                    target: Target,
                    protocol: Protocol,
                    path: ::std::string::String,
                    body: ForwardedBody,
                ) -> Result<Forwarding, AdapterError> {
                    if <This>::serves(&target.kind) {
                        <This>::forward_request(&target, protocol, &path, &body)
                    } else {
                        next::forward_request(&target, protocol, &path, &body)
                    }
                }

                fn parse_response(
                    kind: ::std::string::String,
                    status: u16,
                    headers: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                    body: ::std::vec::Vec<u8>,
                ) -> Result<ChatResponse, AdapterError> {
                    if <This>::serves(&kind) {
                        <This>::parse_response(&kind, status, &headers, &body)
                    } else {
                        next::parse_response(&kind, status, &headers, &body)
                    }
                }

                fn build_embed_request(target: Target, request: EmbedRequest) -> Result<HttpRequest, AdapterError> {
                    if <This>::serves(&target.kind) {
                        <This>::build_embed_request(&target, &request)
                    } else {
                        next::build_embed_request(&target, &request)
                    }
                }

                fn parse_embed_response(
                    kind: ::std::string::String,
                    status: u16,
                    headers: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                    body: ::std::vec::Vec<u8>,
                ) -> Result<EmbedResponse, AdapterError> {
                    if <This>::serves(&kind) {
                        <This>::parse_embed_response(&kind, status, &headers, &body)
                    } else {
                        next::parse_embed_response(&kind, status, &headers, &body)
                    }
                }

                fn build_count_request(target: Target, request: ChatRequest) -> Result<HttpRequest, AdapterError> {
                    if <This>::serves(&target.kind) {
                        <This>::build_count_request(&target, &request)
                    } else {
                        next::build_count_request(&target, &request)
                    }
                }

                fn parse_count_response(
                    kind: ::std::string::String,
                    status: u16,
                    headers: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                    body: ::std::vec::Vec<u8>,
                ) -> Result<u32, AdapterError> {
                    if <This>::serves(&kind) {
                        <This>::parse_count_response(&kind, status, &headers, &body)
                    } else {
                        next::parse_count_response(&kind, status, &headers, &body)
                    }
                }
            }

            enum Inner {
                Own(<This as ::apex_adapter_kit::Adapter>::Decoder),
                Next(next::StreamDecoder),
            }

            pub struct Decoder(::std::cell::RefCell<Inner>);

            impl GuestStreamDecoder for Decoder {
                fn new(kind: ::std::string::String) -> Self {
                    let inner = if <This>::serves(&kind) {
                        Inner::Own(<This>::decoder(&kind))
                    } else {
                        Inner::Next(next::StreamDecoder::new(&kind))
                    };
                    Decoder(::std::cell::RefCell::new(inner))
                }

                fn feed(&self, chunk: ::std::vec::Vec<u8>) -> Result<::std::vec::Vec<StreamEvent>, AdapterError> {
                    match &mut *self.0.borrow_mut() {
                        Inner::Own(decoder) => decoder.feed(&chunk),
                        Inner::Next(decoder) => decoder.feed(&chunk),
                    }
                }

                fn finish(&self) -> Result<::std::vec::Vec<StreamEvent>, AdapterError> {
                    match &mut *self.0.borrow_mut() {
                        Inner::Own(decoder) => decoder.finish(),
                        Inner::Next(decoder) => decoder.finish(),
                    }
                }
            }

            export!(Link);
        }

        type __ApexAdapter = $adapter;
    };
}
