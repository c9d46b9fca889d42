#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! The adapters' golden fixtures, run through the compiled adapter chain (`adapters.wasm`): the
//! same cases `cargo test -p apex-adapter-<kind>` runs natively.

use std::path::Path;

use apex_adapter_kit::fixtures::{Translate, run_all};
use apex_adapter_kit::types as neutral;
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasmtime::Store;
use wasmtime::component::Linker;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "apex:gateway/adapter-end",
        additional_derives: [serde::Serialize, serde::Deserialize],
        exports: { default: async },
    });
}

use bindings::AdapterEnd;

struct State {
    wasi: WasiCtx,
    table: wasmtime::component::ResourceTable,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Same WIT, two generated Rust types: convert through their (identical) serde form.
fn convert<A: Serialize, B: DeserializeOwned>(value: &A) -> B {
    serde_json::from_value(serde_json::to_value(value).expect("serialize"))
        .expect("same serde shape")
}

/// [`Translate`] over the compiled chain.
struct Compiled {
    runtime: tokio::runtime::Runtime,
    store: Store<State>,
    chain: AdapterEnd,
}

impl Compiled {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (engine, component) = crate::common::compiled(apex_host::components::ADAPTERS);
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
        let mut store = Store::new(
            &engine,
            State {
                wasi: WasiCtx::builder().build(),
                table: Default::default(),
            },
        );
        apex_host::engine::meter_cpu(&mut store, std::time::Duration::from_secs(600));
        let chain = runtime
            .block_on(AdapterEnd::instantiate_async(
                &mut store, &component, &linker,
            ))
            .unwrap();
        Self {
            runtime,
            store,
            chain,
        }
    }
}

impl Translate for Compiled {
    fn build_request(
        &mut self,
        target: &neutral::Target,
        request: &neutral::ChatRequest,
    ) -> Result<neutral::HttpRequest, neutral::AdapterError> {
        let adapter = self.chain.apex_gateway_adapter();
        let result = self
            .runtime
            .block_on(adapter.call_build_request(
                &mut self.store,
                &convert(target),
                &convert(request),
            ))
            .unwrap();
        result.map(|r| convert(&r)).map_err(|e| convert(&e))
    }

    fn parse_response(
        &mut self,
        kind: &str,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<neutral::ChatResponse, neutral::AdapterError> {
        let adapter = self.chain.apex_gateway_adapter();
        let result = self
            .runtime
            .block_on(adapter.call_parse_response(&mut self.store, kind, status, headers, body))
            .unwrap();
        result.map(|r| convert(&r)).map_err(|e| convert(&e))
    }

    fn decode_stream(
        &mut self,
        kind: &str,
        chunks: &[&[u8]],
    ) -> Result<Vec<neutral::StreamEvent>, neutral::AdapterError> {
        let adapter = self.chain.apex_gateway_adapter();
        let decoder_api = adapter.stream_decoder();
        let runtime = &self.runtime;
        let store = &mut self.store;
        let decoder = runtime
            .block_on(decoder_api.call_constructor(&mut *store, kind))
            .unwrap();
        let mut events = Vec::new();
        let mut outcome = Ok(());
        for chunk in chunks {
            match runtime
                .block_on(decoder_api.call_feed(&mut *store, decoder, chunk))
                .unwrap()
            {
                Ok(batch) => events.extend(batch.iter().map(convert)),
                Err(e) => {
                    outcome = Err(convert(&e));
                    break;
                }
            }
        }
        if outcome.is_ok() {
            match runtime
                .block_on(decoder_api.call_finish(&mut *store, decoder))
                .unwrap()
            {
                Ok(batch) => events.extend(batch.iter().map(convert)),
                Err(e) => outcome = Err(convert(&e)),
            }
        }
        runtime
            .block_on(decoder.resource_drop_async(&mut *store))
            .unwrap();
        outcome.map(|()| events)
    }

    fn build_embed_request(
        &mut self,
        target: &neutral::Target,
        request: &neutral::EmbedRequest,
    ) -> Result<neutral::HttpRequest, neutral::AdapterError> {
        let adapter = self.chain.apex_gateway_adapter();
        let result = self
            .runtime
            .block_on(adapter.call_build_embed_request(
                &mut self.store,
                &convert(target),
                &convert(request),
            ))
            .unwrap();
        result.map(|r| convert(&r)).map_err(|e| convert(&e))
    }

    fn parse_embed_response(
        &mut self,
        kind: &str,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<neutral::EmbedResponse, neutral::AdapterError> {
        let adapter = self.chain.apex_gateway_adapter();
        let result = self
            .runtime
            .block_on(adapter.call_parse_embed_response(
                &mut self.store,
                kind,
                status,
                headers,
                body,
            ))
            .unwrap();
        result.map(|r| convert(&r)).map_err(|e| convert(&e))
    }
}

fn fixtures(adapter: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("components")
        .join(adapter)
        .join("fixtures")
}

#[test]
fn openai_fixtures_through_the_compiled_chain() {
    let count = run_all(&mut Compiled::new(), &fixtures("adapter-openai"));
    assert!(count >= 40, "{count}");
}

#[test]
fn anthropic_fixtures_through_the_compiled_chain() {
    let count = run_all(&mut Compiled::new(), &fixtures("adapter-anthropic"));
    assert!(count >= 30, "{count}");
}

#[test]
fn gemini_fixtures_through_the_compiled_chain() {
    let count = run_all(&mut Compiled::new(), &fixtures("adapter-gemini"));
    assert!(count >= 25, "{count}");
}

#[test]
fn cohere_fixtures_through_the_compiled_chain() {
    let count = run_all(&mut Compiled::new(), &fixtures("adapter-cohere"));
    assert!(count >= 40, "{count}");
}

#[test]
fn ollama_fixtures_through_the_compiled_chain() {
    let count = run_all(&mut Compiled::new(), &fixtures("adapter-ollama"));
    assert!(count >= 30, "{count}");
}

#[test]
fn the_chain_reports_its_kinds_and_refuses_unknown_ones() {
    let mut compiled = Compiled::new();
    let adapter = compiled.chain.apex_gateway_adapter();
    let kinds = compiled
        .runtime
        .block_on(adapter.call_kinds(&mut compiled.store))
        .unwrap();
    assert_eq!(
        kinds,
        vec![
            "openai",
            "azure",
            "anthropic",
            "vertex-anthropic",
            "gemini",
            "cohere",
            "ollama"
        ]
    );
    let target = neutral::Target {
        kind: "nonesuch".into(),
        profile: String::new(),
        base_url: "http://x".into(),
        api_key: "k".into(),
        api_version: None,
        headers: vec![],
    };
    let request = neutral::ChatRequest::new("m", vec![]);
    let error = compiled.build_request(&target, &request).unwrap_err();
    assert_eq!(error.kind, neutral::ErrorKind::Unsupported);
    assert!(error.message.contains("nonesuch"));
}

/// Adapters are pure: no network, no clock, no key-value. What std links in for its own needs
/// (stdio, environment, exit) is all the chain may import, besides `apex:gateway/types`, an
/// interface of types only (no functions) that every host satisfies without providing anything.
#[test]
fn the_adapter_chain_imports_no_capability() {
    let (engine, component) = crate::common::compiled(apex_host::components::ADAPTERS);
    let imports: Vec<String> = component
        .component_type()
        .imports(&engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let allowed = ["wasi:cli/", "wasi:io/", "apex:gateway/types@"];
    for import in &imports {
        assert!(
            allowed.iter().any(|prefix| import.starts_with(prefix)),
            "the adapter chain imports {import}: {imports:?}"
        );
    }
    assert!(!imports.iter().any(|i| i.starts_with("wasi:http")
        || i.starts_with("wasi:sockets")
        || i.starts_with("wasi:keyvalue")));
}
