//! The end of the adapter chain: every kind that reaches it is unknown (`describe` answers
//! `none`; a default base URL is one it cannot give: `base_url` is required).

#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "apex:gateway/adapter-end",
        with: { "apex:gateway/types@0.3.0": ::apex_adapter_kit::types },
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

        fn describe(_kind: String, _profile: String) -> Option<KindInfo> {
            None
        }

        fn default_base_url(
            _kind: String,
            _settings: Vec<(String, String)>,
            _credential: Option<String>,
        ) -> Result<String, SettingProblem> {
            Err(SettingProblem::base_url_required())
        }

        fn check_credential(kind: String, _credential: String) -> Result<(), String> {
            Err(unknown_kind(&kind).message)
        }

        fn exchange_request(
            kind: String,
            _credential: String,
            _now_secs: u64,
        ) -> Result<HttpRequest, AdapterError> {
            Err(unknown_kind(&kind))
        }

        fn exchange_response(
            kind: String,
            _status: u16,
            _body: Vec<u8>,
        ) -> Result<AccessToken, AdapterError> {
            Err(unknown_kind(&kind))
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
            _body: ForwardedBody,
        ) -> Result<Forwarding, AdapterError> {
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

        fn build_embed_request(
            target: Target,
            _request: EmbedRequest,
        ) -> Result<HttpRequest, AdapterError> {
            Err(unknown_kind(&target.kind))
        }

        fn parse_embed_response(
            kind: String,
            _status: u16,
            _headers: Vec<(String, String)>,
            _body: Vec<u8>,
        ) -> Result<EmbedResponse, AdapterError> {
            Err(unknown_kind(&kind))
        }

        fn build_count_request(
            target: Target,
            _request: ChatRequest,
        ) -> Result<HttpRequest, AdapterError> {
            Err(unknown_kind(&target.kind))
        }

        fn parse_count_response(
            kind: String,
            _status: u16,
            _headers: Vec<(String, String)>,
            _body: Vec<u8>,
        ) -> Result<u32, AdapterError> {
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
