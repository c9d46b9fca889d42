//! Per-request store data and the host side of `wasi:keyvalue/store` and `wasi:config/store`.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker, Resource, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::kv::{KvBackend, KvError};
use crate::outbound::Hooks;

mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "apex:gateway/host-state",
        // Key-value calls may wait on the network (Redis): async, so they never block a thread.
        imports: {
            "wasi:keyvalue/store": async | trappable,
            "wasi:keyvalue/atomics": async | trappable,
            default: trappable,
        },
        with: {
            "wasi:keyvalue/store.bucket": super::Bucket,
            "wasi:keyvalue/atomics.cas": super::Cas,
        },
    });
}

use generated::wasi::config::store as config;
use generated::wasi::keyvalue::atomics;
use generated::wasi::keyvalue::store as keyvalue;

/// An open bucket: just its name; data lives in the shared [`KvBackend`].
pub struct Bucket {
    name: String,
}

/// A compare-and-swap handle: not offered (the router counts with `increment` only).
pub struct Cas;

/// Variables the guest reads through `wasi:config/store` (Spin's variables, here).
pub type Variables = BTreeMap<String, String>;

/// Everything a request's store holds.
pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: Hooks,
    kv: Arc<dyn KvBackend>,
    vars: Arc<Variables>,
    /// Largest linear memory any guest memory of this store asked for.
    pub peak_memory: usize,
}

/// Records memory growth, so the host can retire instances that grew large.
impl wasmtime::ResourceLimiter for HostState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.peak_memory = self.peak_memory.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

impl HostState {
    pub fn new(
        hooks: Hooks,
        kv: Arc<dyn KvBackend>,
        vars: Arc<Variables>,
        environment: &[(String, String)],
    ) -> Self {
        let wasi = WasiCtx::builder()
            .inherit_stderr()
            .envs(environment)
            .build();
        Self {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks,
            kv,
            vars,
            peak_memory: 0,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

fn guest_error(error: KvError) -> keyvalue::Error {
    match error {
        KvError::NoSuchStore => keyvalue::Error::NoSuchStore,
        KvError::Other(message) => keyvalue::Error::Other(message),
    }
}

impl keyvalue::Host for HostState {
    async fn open(
        &mut self,
        identifier: String,
    ) -> wasmtime::Result<Result<Resource<Bucket>, keyvalue::Error>> {
        if let Err(e) = self.kv.open(&identifier) {
            return Ok(Err(guest_error(e)));
        }
        Ok(Ok(self.table.push(Bucket { name: identifier })?))
    }
}

impl keyvalue::HostBucket for HostState {
    async fn get(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, keyvalue::Error>> {
        let name = &self.table.get(&bucket)?.name;
        Ok(self.kv.get(name, &key).await.map_err(guest_error))
    }

    async fn set(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), keyvalue::Error>> {
        let name = &self.table.get(&bucket)?.name;
        Ok(self.kv.set(name, &key, value).await.map_err(guest_error))
    }

    async fn delete(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<(), keyvalue::Error>> {
        let name = &self.table.get(&bucket)?.name;
        Ok(self.kv.delete(name, &key).await.map_err(guest_error))
    }

    async fn exists(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<bool, keyvalue::Error>> {
        let name = &self.table.get(&bucket)?.name;
        Ok(self.kv.exists(name, &key).await.map_err(guest_error))
    }

    async fn list_keys(
        &mut self,
        bucket: Resource<Bucket>,
        cursor: Option<String>,
    ) -> wasmtime::Result<Result<keyvalue::KeyResponse, keyvalue::Error>> {
        let name = &self.table.get(&bucket)?.name;
        let keys = match self.kv.keys(name).await {
            Ok(keys) => keys,
            Err(e) => return Ok(Err(guest_error(e))),
        };
        let keys = match cursor {
            Some(after) => keys.into_iter().filter(|k| *k > after).collect(),
            None => keys,
        };
        Ok(Ok(keyvalue::KeyResponse { keys, cursor: None }))
    }

    async fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

/// Counters for per-key limits: `increment` is atomic in both backends (the file store's lock,
/// Redis `INCRBY`); compare-and-swap is not offered.
impl atomics::Host for HostState {
    async fn increment(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        delta: i64,
    ) -> wasmtime::Result<Result<i64, keyvalue::Error>> {
        let name = &self.table.get(&bucket)?.name;
        Ok(self
            .kv
            .increment(name, &key, delta)
            .await
            .map_err(guest_error))
    }

    async fn swap(
        &mut self,
        cas: Resource<Cas>,
        _value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), atomics::CasError>> {
        self.table.delete(cas)?;
        Ok(Err(atomics::CasError::StoreError(keyvalue::Error::Other(
            "compare-and-swap is not offered by this host".to_string(),
        ))))
    }
}

impl atomics::HostCas for HostState {
    async fn new(
        &mut self,
        _bucket: Resource<Bucket>,
        _key: String,
    ) -> wasmtime::Result<Result<Resource<Cas>, keyvalue::Error>> {
        Ok(Err(keyvalue::Error::Other(
            "compare-and-swap is not offered by this host".to_string(),
        )))
    }

    async fn current(
        &mut self,
        _cas: Resource<Cas>,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, keyvalue::Error>> {
        Ok(Err(keyvalue::Error::Other(
            "compare-and-swap is not offered by this host".to_string(),
        )))
    }

    async fn drop(&mut self, cas: Resource<Cas>) -> wasmtime::Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}

impl config::Host for HostState {
    fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<String>, config::Error>> {
        Ok(Ok(self.vars.get(&key).cloned()))
    }

    fn get_all(&mut self) -> wasmtime::Result<Result<Vec<(String, String)>, config::Error>> {
        Ok(Ok(self
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()))
    }
}

/// A linker with everything the composed app imports.
pub fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    keyvalue::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
    atomics::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
    config::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
    Ok(linker)
}
