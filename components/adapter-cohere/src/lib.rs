//! Adapter for the Cohere Chat API v2. (Skeleton: being written.)

use apex_adapter_kit::types::{
    AdapterError, ChatRequest, ChatResponse, ErrorKind, HttpRequest, Protocol, StreamEvent, Target,
};
use apex_adapter_kit::{Adapter, StreamDecode};

/// The Cohere adapter.
pub struct Cohere;

/// Placeholder decoder.
#[derive(Default)]
pub struct Decoder;

impl StreamDecode for Decoder {
    fn feed(&mut self, _chunk: &[u8]) -> Result<Vec<StreamEvent>, AdapterError> {
        Ok(Vec::new())
    }
    fn finish(&mut self) -> Result<Vec<StreamEvent>, AdapterError> {
        Ok(Vec::new())
    }
}

fn todo() -> AdapterError {
    apex_adapter_kit::error(
        ErrorKind::Unsupported,
        "the cohere adapter is not written yet",
    )
}

impl Adapter for Cohere {
    const KINDS: &'static [&'static str] = &["cohere"];
    type Decoder = Decoder;

    fn build_request(
        _target: &Target,
        _request: &ChatRequest,
    ) -> Result<HttpRequest, AdapterError> {
        Err(todo())
    }

    fn forward_request(
        _target: &Target,
        _protocol: Protocol,
        _path: &str,
        _body: Vec<u8>,
    ) -> Result<HttpRequest, AdapterError> {
        Err(todo())
    }

    fn parse_response(
        _kind: &str,
        _status: u16,
        _headers: &[(String, String)],
        _body: &[u8],
    ) -> Result<ChatResponse, AdapterError> {
        Err(todo())
    }

    fn decoder(_kind: &str) -> Self::Decoder {
        Decoder
    }
}

#[cfg(target_arch = "wasm32")]
apex_adapter_kit::export_adapter_link!(crate::Cohere);
