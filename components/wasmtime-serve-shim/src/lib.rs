//! Key-value and config for `wasmtime serve`: exports the drafts the router imports
//! (`wasi:keyvalue/store@0.2.0-draft2`, `wasi:config/store@0.2.0-draft-2024-09-27`) on top of
//! the drafts `wasmtime serve` implements (`@0.2.0-draft`, `@0.2.0-rc.1`). The shapes are the same
//! but for `list-keys` cursors (a string there, a number here). `wasmtime serve -S keyvalue` has one
//! in-memory store named `""`: every store name maps to it. Counters (`atomics.increment`) are
//! read and written as decimal text there (that store lives in one process's memory anyway);
//! compare-and-swap is not offered.

#[cfg(target_arch = "wasm32")]
mod component {
    // The repository's `wit/` first (the drafts the router imports, which the shim exports), then
    // this crate's `wit/` (the shim's world and the drafts `wasmtime serve` implements).
    wit_bindgen::generate!({
        path: ["../../wit", "wit"],
        world: "apex:wasmtime-serve-shim/shim",
        generate_all,
    });

    use exports::wasi::config0_2_0_draft_2024_09_27::store as config_out;
    use exports::wasi::keyvalue0_2_0_draft2::atomics as atomics_out;
    use exports::wasi::keyvalue0_2_0_draft2::store as kv_out;
    use wasi::config0_2_0_rc_1::store as config_in;
    use wasi::keyvalue0_2_0_draft::store as kv_in;

    struct Shim;

    fn kv_error(error: kv_in::Error) -> kv_out::Error {
        match error {
            kv_in::Error::NoSuchStore => kv_out::Error::NoSuchStore,
            kv_in::Error::AccessDenied => kv_out::Error::AccessDenied,
            kv_in::Error::Other(message) => kv_out::Error::Other(message),
        }
    }

    fn config_error(error: config_in::Error) -> config_out::Error {
        match error {
            config_in::Error::Upstream(message) => config_out::Error::Upstream(message),
            config_in::Error::Io(message) => config_out::Error::Io(message),
        }
    }

    pub struct Bucket(kv_in::Bucket);

    impl kv_out::Guest for Shim {
        type Bucket = Bucket;

        fn open(_identifier: String) -> Result<kv_out::Bucket, kv_out::Error> {
            let bucket = kv_in::open("").map_err(kv_error)?;
            Ok(kv_out::Bucket::new(Bucket(bucket)))
        }
    }

    impl kv_out::GuestBucket for Bucket {
        fn get(&self, key: String) -> Result<Option<Vec<u8>>, kv_out::Error> {
            self.0.get(&key).map_err(kv_error)
        }

        fn set(&self, key: String, value: Vec<u8>) -> Result<(), kv_out::Error> {
            self.0.set(&key, &value).map_err(kv_error)
        }

        fn delete(&self, key: String) -> Result<(), kv_out::Error> {
            self.0.delete(&key).map_err(kv_error)
        }

        fn exists(&self, key: String) -> Result<bool, kv_out::Error> {
            self.0.exists(&key).map_err(kv_error)
        }

        fn list_keys(&self, cursor: Option<String>) -> Result<kv_out::KeyResponse, kv_out::Error> {
            let cursor = match cursor {
                Some(text) => Some(
                    text.parse::<u64>()
                        .map_err(|_| kv_out::Error::Other(format!("invalid cursor `{text}`")))?,
                ),
                None => None,
            };
            let response = self.0.list_keys(cursor).map_err(kv_error)?;
            Ok(kv_out::KeyResponse {
                keys: response.keys,
                cursor: response.cursor.map(|c| c.to_string()),
            })
        }
    }

    /// Never made: `new` refuses.
    pub struct Cas;

    fn no_cas() -> kv_out::Error {
        kv_out::Error::Other("compare-and-swap is not offered under wasmtime serve".to_string())
    }

    impl atomics_out::Guest for Shim {
        type Cas = Cas;

        fn increment(
            bucket: kv_out::BucketBorrow<'_>,
            key: String,
            delta: i64,
        ) -> Result<i64, kv_out::Error> {
            let bucket = &bucket.get::<Bucket>().0;
            let current = match bucket.get(&key).map_err(kv_error)? {
                Some(bytes) => String::from_utf8(bytes)
                    .ok()
                    .and_then(|text| text.trim().parse::<i64>().ok())
                    .ok_or_else(|| kv_out::Error::Other(format!("`{key}` holds no counter")))?,
                None => 0,
            };
            let next = current.saturating_add(delta);
            bucket
                .set(&key, next.to_string().as_bytes())
                .map_err(kv_error)?;
            Ok(next)
        }

        fn swap(_cas: atomics_out::Cas, _value: Vec<u8>) -> Result<(), atomics_out::CasError> {
            Err(atomics_out::CasError::StoreError(no_cas()))
        }
    }

    impl atomics_out::GuestCas for Cas {
        fn new(
            _bucket: kv_out::BucketBorrow<'_>,
            _key: String,
        ) -> Result<atomics_out::Cas, kv_out::Error> {
            Err(no_cas())
        }

        fn current(&self) -> Result<Option<Vec<u8>>, kv_out::Error> {
            Err(no_cas())
        }
    }

    impl config_out::Guest for Shim {
        fn get(key: String) -> Result<Option<String>, config_out::Error> {
            config_in::get(&key).map_err(config_error)
        }

        fn get_all() -> Result<Vec<(String, String)>, config_out::Error> {
            config_in::get_all().map_err(config_error)
        }
    }

    export!(Shim);
}
