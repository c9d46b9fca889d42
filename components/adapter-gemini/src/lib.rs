//! Adapter for the Google Gemini API (generateContent). (Skeleton: being written.)

use apex_adapter_kit::types::{
    AdapterError, ChatRequest, ChatResponse, ErrorKind, HttpRequest, Protocol, StreamEvent, Target,
};
use apex_adapter_kit::{Adapter, StreamDecode};

/// The Gemini adapter.
pub struct Gemini;

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
        "the gemini adapter is not written yet",
    )
}

impl Adapter for Gemini {
    const KINDS: &'static [&'static str] = &["gemini"];
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
apex_adapter_kit::export_adapter_link!(crate::Gemini);
