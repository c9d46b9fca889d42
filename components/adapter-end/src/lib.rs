//! The end of the adapter chain: every kind that reaches it is unknown.

#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "apex:gateway/adapter-end",
        with: { "apex:gateway/types@0.1.0": ::apex_adapter_kit::types },
    });

    use apex_adapter_kit::types::*;
    use apex_adapter_kit::unknown_kind;
    use exports::apex::gateway::adapter::{Guest, GuestStreamDecoder};

    struct End;

    impl Guest for End {
        type StreamDecoder = Decoder;

        fn kinds() -> Vec<String> {
            Vec::new()
        }

        fn build_request(
            target: Target,
            _request: ChatRequest,
        ) -> Result<HttpRequest, AdapterError> {
            Err(unknown_kind(&target.kind))
        }

        fn forward_request(
            target: Target,
            _protocol: Protocol,
            _path: String,
            _body: Vec<u8>,
        ) -> Result<HttpRequest, AdapterError> {
            Err(unknown_kind(&target.kind))
        }

        fn parse_response(
            kind: String,
            _status: u16,
            _headers: Vec<(String, String)>,
            _body: Vec<u8>,
        ) -> Result<ChatResponse, AdapterError> {
            Err(unknown_kind(&kind))
        }
    }

    struct Decoder(String);

    impl GuestStreamDecoder for Decoder {
        fn new(kind: String) -> Self {
            Decoder(kind)
        }

        fn feed(&self, _chunk: Vec<u8>) -> Result<Vec<StreamEvent>, AdapterError> {
            Err(unknown_kind(&self.0))
        }

        fn finish(&self) -> Result<Vec<StreamEvent>, AdapterError> {
            Err(unknown_kind(&self.0))
        }
    }

    export!(End);
}
