//! The key-value store behind `wasi:keyvalue/store`: in memory, persisted to a JSON file by a
//! background flusher (and on [`KvStore::flush`]), so state survives restarts of the local host.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use anyhow::{Context, Result};

/// Buckets by name, each a map of key → value.
type Data = BTreeMap<String, BTreeMap<String, Vec<u8>>>;

pub struct KvStore {
    path: Option<PathBuf>,
    data: Mutex<Data>,
    dirty: AtomicBool,
}

impl KvStore {
    /// A store that lives only in memory.
    pub fn in_memory() -> Arc<Self> {
        Arc::new(Self {
            path: None,
            data: Mutex::new(Data::new()),
            dirty: AtomicBool::new(false),
        })
    }

    /// A store persisted at `path` (loaded if it exists), flushed every 200 ms when changed.
    pub fn open(path: PathBuf) -> Result<Arc<Self>> {
        let data: Data = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("reading {}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Data::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let store = Arc::new(Self {
            path: Some(path),
            data: Mutex::new(data),
            dirty: AtomicBool::new(false),
        });
        let weak: Weak<Self> = Arc::downgrade(&store);
        std::thread::Builder::new()
            .name("apex-kv-flush".into())
            .spawn(move || {
                while let Some(store) = weak.upgrade() {
                    if let Err(e) = store.flush() {
                        eprintln!("apex: key-value flush failed: {e:#}");
                    }
                    drop(store);
                    std::thread::sleep(Duration::from_millis(200));
                }
            })?;
        Ok(store)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Data> {
        self.data
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.lock().get(bucket).and_then(|b| b.get(key)).cloned()
    }

    pub fn set(&self, bucket: &str, key: &str, value: Vec<u8>) {
        self.lock()
            .entry(bucket.to_string())
            .or_default()
            .insert(key.to_string(), value);
        self.dirty.store(true, Ordering::Release);
    }

    pub fn delete(&self, bucket: &str, key: &str) {
        if let Some(b) = self.lock().get_mut(bucket) {
            b.remove(key);
        }
        self.dirty.store(true, Ordering::Release);
    }

    pub fn exists(&self, bucket: &str, key: &str) -> bool {
        self.lock().get(bucket).is_some_and(|b| b.contains_key(key))
    }

    pub fn keys(&self, bucket: &str) -> Vec<String> {
        self.lock()
            .get(bucket)
            .map(|b| b.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Write the data to disk if it changed.
    pub fn flush(&self) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let bytes = serde_json::to_vec(&*self.lock())?;
        let tmp = path.with_extension("tmp");
        let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
        if written.is_err() {
            // Try again on the next flush.
            self.dirty.store(true, Ordering::Release);
        }
        Ok(written?)
    }
}

impl Drop for KvStore {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_survives_a_restart() {
        let dir = std::env::temp_dir().join(format!("apex-kv-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("kv.json");
        let _ = std::fs::remove_file(&path);
        {
            let store = KvStore::open(path.clone()).unwrap();
            store.set("default", "a", b"1".to_vec());
            store.set("other", "b", vec![0, 255]);
            store.delete("default", "missing");
            store.flush().unwrap();
        }
        let store = KvStore::open(path.clone()).unwrap();
        assert_eq!(store.get("default", "a"), Some(b"1".to_vec()));
        assert_eq!(store.get("other", "b"), Some(vec![0, 255]));
        assert!(!store.exists("default", "b"), "buckets are separate");
        assert_eq!(store.keys("default"), vec!["a".to_string()]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
