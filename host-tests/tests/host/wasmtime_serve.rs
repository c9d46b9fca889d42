#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! `apex-wasmtime-serve.wasm` (the app behind the key-value/config shim) on a host linked the way
//! `wasmtime serve -S cli -S keyvalue -S config` links: WASI, wasi-http, and the
//! `wasmtime-wasi-keyvalue` / `wasmtime-wasi-config` implementations of the older drafts.

use std::sync::Arc;

use apex_host::outbound::{Hooks, Reply, Scripted};
use http_body_util::{BodyExt, Full};
use serde_json::json;
use wasmtime::Store;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_config::{WasiConfig, WasiConfigVariables};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};
use wasmtime_wasi_keyvalue::{WasiKeyValue, WasiKeyValueCtx, WasiKeyValueCtxBuilder};

struct ServeState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: Hooks,
    keyvalue: Arc<WasiKeyValueCtx>,
    config: Arc<WasiConfigVariables>,
}

impl WasiView for ServeState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for ServeState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

struct Serve {
    pre: ProxyPre<ServeState>,
    keyvalue: Arc<WasiKeyValueCtx>,
    config: Arc<WasiConfigVariables>,
    upstream: Arc<Scripted>,
}

impl Serve {
    fn new(vars: &[(&str, &str)]) -> Self {
        let (engine, component) =
            crate::common::compiled(apex_host::components::APEX_WASMTIME_SERVE);
        let mut linker: Linker<ServeState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).unwrap();
        wasmtime_wasi_keyvalue::add_to_linker(&mut linker, |s: &mut ServeState| {
            WasiKeyValue::new(&s.keyvalue, &mut s.table)
        })
        .unwrap();
        wasmtime_wasi_config::add_to_linker(&mut linker, |s: &mut ServeState| {
            WasiConfig::from(&*s.config)
        })
        .unwrap();
        let pre = ProxyPre::new(
            linker
                .instantiate_pre(&component)
                .expect("every import is one `wasmtime serve` provides"),
        )
        .unwrap();
        Serve {
            pre,
            // `wasmtime serve -S keyvalue` keeps no writes (each open copies the initial data), so
            // what the router can observe through the shim is what the store starts with.
            keyvalue: Arc::new(
                WasiKeyValueCtxBuilder::new()
                    .in_memory_data([("apex:rotation:multi", "1")])
                    .build(),
            ),
            config: Arc::new(
                vars.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            upstream: Scripted::new(),
        }
    }

    async fn post(&self, body: serde_json::Value) -> (u16, serde_json::Value) {
        let state = ServeState {
            wasi: WasiCtx::builder().build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: Hooks {
                outbound: Arc::new(Arc::clone(&self.upstream)),
            },
            keyvalue: Arc::clone(&self.keyvalue),
            config: Arc::clone(&self.config),
        };
        let mut store = Store::new(self.pre.engine(), state);
        let cpu = apex_host::engine::meter_cpu(&mut store, std::time::Duration::from_secs(60));
        let request = hyper::Request::post("http://localhost/v1/chat/completions")
            .header("content-type", "application/json")
            .body(Full::new(bytes::Bytes::from(body.to_string())))
            .unwrap();
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let req = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)
            .unwrap();
        let out = store
            .data_mut()
            .http()
            .new_response_outparam(sender)
            .unwrap();
        let pre = self.pre.clone();
        let task = tokio::spawn(async move {
            let proxy = cpu.metered(pre.instantiate_async(&mut store)).await?;
            cpu.metered(
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(store, req, out),
            )
            .await
        });
        let response = receiver.await.unwrap().unwrap();
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        task.await.unwrap().unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }
}

#[tokio::test]
async fn the_app_runs_on_wasmtime_serve_interfaces() {
    let config = "[providers.multi]\nkind = \"openai\"\nbase_url = \"http://up.test/v1\"\nkeys = [\"k1\", \"k2\"]\n[models.m]\ntargets = [\"multi/m\"]\n";
    let serve = Serve::new(&[
        ("apex_config", config),
        ("k1", "key-one"),
        ("k2", "key-two"),
    ]);

    let (status, body) = serve
        .post(json!({"model": "echo", "messages": [{"role": "user", "content": "grüezi"}]}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["choices"][0]["message"]["content"], "grüezi");

    // The rotation counter is read through the shim from wasmtime's key-value store: it says 1,
    // so the second key goes first. (Writes are lost by `wasmtime serve`'s store by design.)
    let ok = r#"{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}"#;
    for _ in 0..2 {
        serve.upstream.push("http://up.test", Reply::json(200, ok));
        let (status, body) = serve
            .post(json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let keys: Vec<String> = serve
        .upstream
        .requests()
        .iter()
        .map(|r| r.header("authorization").unwrap().to_string())
        .collect();
    assert_eq!(keys, vec!["Bearer key-two", "Bearer key-two"]);
}
