//! The key-value store behind `wasi:keyvalue/store`. [`KvBackend`] is what the host's
//! `wasi:keyvalue/store` implementation (`state.rs`) calls; it has two implementations:
//!
//! - [`KvStore`] (here): in memory, persisted to a JSON file by a background flusher (and on
//!   [`KvStore::flush`]), so state survives restarts of the local host; any bucket name;
//! - [`crate::redis::RedisKv`]: a Redis database, shared by every process given its URL, in the
//!   layout Spin's Redis key-value provider uses; the bucket `default` only.
//!
//! Durability of the file:
//! - each flush snapshots the data under the lock, then encodes and writes it outside the lock to a
//!   temporary file with a unique name, fsyncs it, renames it over `kv.json` and fsyncs the folder;
//! - values are kept as JSON strings when they are UTF-8 (what the router stores), as
//!   `{"hex": "..."}` otherwise; files written by older versions (values as byte arrays) still load;
//! - a `kv.json` that cannot be read is moved aside (`kv.json.corrupt-<unix time>`) with a log
//!   line, and the last good copy (`kv.json.bak`, written after each successful start) is loaded;
//! - files are created `0600`; the caller holds the data folder's lock ([`DataDirLock`]).

use std::collections::BTreeMap;
use std::fs::File;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// A failed key-value operation, as `wasi:keyvalue/store` reports it to the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvError {
    /// The backend has no bucket of that name.
    NoSuchStore,
    /// The backend failed (Redis unreachable, say); the message is for logs and the guest.
    Other(String),
}

/// What a [`KvBackend`] operation returns.
pub type KvFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, KvError>> + Send + 'a>>;

/// Where the guest's key-value data lives. Operations are async so that a networked backend
/// (Redis) never blocks the runtime's threads.
pub trait KvBackend: Send + Sync {
    /// Whether `bucket` may be opened.
    fn open(&self, bucket: &str) -> Result<(), KvError>;
    fn get<'a>(&'a self, bucket: &'a str, key: &'a str) -> KvFuture<'a, Option<Vec<u8>>>;
    fn set<'a>(&'a self, bucket: &'a str, key: &'a str, value: Vec<u8>) -> KvFuture<'a, ()>;
    fn delete<'a>(&'a self, bucket: &'a str, key: &'a str) -> KvFuture<'a, ()>;
    fn exists<'a>(&'a self, bucket: &'a str, key: &'a str) -> KvFuture<'a, bool>;
    /// Every key of `bucket`, sorted.
    fn keys<'a>(&'a self, bucket: &'a str) -> KvFuture<'a, Vec<String>>;
    /// Add `delta` to the counter `key` (kept as decimal text; missing: 0) in one step, so
    /// concurrent requests (and processes sharing Redis) never lose a count; the new value.
    fn increment<'a>(&'a self, bucket: &'a str, key: &'a str, delta: i64) -> KvFuture<'a, i64>;
    /// Makes every write so far durable (before the process exits).
    fn flush(&self) -> Result<()> {
        Ok(())
    }
}

/// Buckets by name, each a map of key → value.
type Data = BTreeMap<String, BTreeMap<String, Vec<u8>>>;

pub struct KvStore {
    path: Option<PathBuf>,
    data: Mutex<Data>,
    dirty: AtomicBool,
    /// Serialises writers of the file (the flusher thread and explicit flushes).
    writing: Mutex<()>,
}

impl KvStore {
    /// A store that lives only in memory.
    pub fn in_memory() -> Arc<Self> {
        Arc::new(Self {
            path: None,
            data: Mutex::new(Data::new()),
            dirty: AtomicBool::new(false),
            writing: Mutex::new(()),
        })
    }

    /// A store persisted at `path` (loaded if it exists), flushed every 200 ms when changed.
    pub fn open(path: PathBuf) -> Result<Arc<Self>> {
        let data = load(&path)?;
        let store = Arc::new(Self {
            path: Some(path),
            data: Mutex::new(data),
            dirty: AtomicBool::new(false),
            writing: Mutex::new(()),
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

    /// Add `delta` to a decimal counter under the lock (atomic within this process).
    pub fn increment(&self, bucket: &str, key: &str, delta: i64) -> Result<i64, KvError> {
        let mut data = self.lock();
        let values = data.entry(bucket.to_string()).or_default();
        let current = match values.get(key) {
            Some(bytes) => std::str::from_utf8(bytes)
                .ok()
                .and_then(|text| text.trim().parse::<i64>().ok())
                .ok_or_else(|| KvError::Other(format!("`{key}` holds no counter")))?,
            None => 0,
        };
        let next = current.saturating_add(delta);
        values.insert(key.to_string(), next.to_string().into_bytes());
        drop(data);
        self.dirty.store(true, Ordering::Release);
        Ok(next)
    }

    pub fn keys(&self, bucket: &str) -> Vec<String> {
        self.lock()
            .get(bucket)
            .map(|b| b.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Write the data to disk if it changed (returns once it is on disk).
    pub fn flush(&self) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let _writer = self
            .writing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        // Copy under the lock; encode and write outside it, so requests never wait on the disk.
        let snapshot = self.lock().clone();
        let written = encode(&snapshot).and_then(|bytes| write_atomically(path, &bytes));
        if written.is_err() {
            // Try again on the next flush.
            self.dirty.store(true, Ordering::Release);
        }
        written
    }
}

/// The file store answers at once: its data is in memory.
impl KvBackend for KvStore {
    fn open(&self, _bucket: &str) -> Result<(), KvError> {
        Ok(())
    }

    fn get<'a>(&'a self, bucket: &'a str, key: &'a str) -> KvFuture<'a, Option<Vec<u8>>> {
        let value = KvStore::get(self, bucket, key);
        Box::pin(std::future::ready(Ok(value)))
    }

    fn set<'a>(&'a self, bucket: &'a str, key: &'a str, value: Vec<u8>) -> KvFuture<'a, ()> {
        KvStore::set(self, bucket, key, value);
        Box::pin(std::future::ready(Ok(())))
    }

    fn delete<'a>(&'a self, bucket: &'a str, key: &'a str) -> KvFuture<'a, ()> {
        KvStore::delete(self, bucket, key);
        Box::pin(std::future::ready(Ok(())))
    }

    fn exists<'a>(&'a self, bucket: &'a str, key: &'a str) -> KvFuture<'a, bool> {
        let exists = KvStore::exists(self, bucket, key);
        Box::pin(std::future::ready(Ok(exists)))
    }

    fn keys<'a>(&'a self, bucket: &'a str) -> KvFuture<'a, Vec<String>> {
        let keys = KvStore::keys(self, bucket);
        Box::pin(std::future::ready(Ok(keys)))
    }

    fn increment<'a>(&'a self, bucket: &'a str, key: &'a str, delta: i64) -> KvFuture<'a, i64> {
        Box::pin(std::future::ready(KvStore::increment(
            self, bucket, key, delta,
        )))
    }

    fn flush(&self) -> Result<()> {
        KvStore::flush(self)
    }
}

impl Drop for KvStore {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            eprintln!("apex: key-value flush failed: {e:#}");
        }
    }
}

/// A value on disk: text when it is UTF-8, hex otherwise; byte arrays from older files.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum StoredValue {
    Text(String),
    Binary { hex: String },
    Legacy(Vec<u8>),
}

impl StoredValue {
    fn of(bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) => StoredValue::Text(text.to_string()),
            Err(_) => StoredValue::Binary {
                hex: bytes.iter().map(|b| format!("{b:02x}")).collect(),
            },
        }
    }

    fn into_bytes(self) -> Result<Vec<u8>> {
        match self {
            StoredValue::Text(text) => Ok(text.into_bytes()),
            StoredValue::Legacy(bytes) => Ok(bytes),
            StoredValue::Binary { hex } => {
                if hex.len() % 2 != 0 {
                    bail!("odd-length hex value");
                }
                (0..hex.len())
                    .step_by(2)
                    .map(|i| {
                        hex.get(i..i + 2)
                            .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                            .context("invalid hex value")
                    })
                    .collect()
            }
        }
    }
}

type StoredData = BTreeMap<String, BTreeMap<String, StoredValue>>;

fn encode(data: &Data) -> Result<Vec<u8>> {
    let stored: BTreeMap<&str, BTreeMap<&str, StoredValue>> = data
        .iter()
        .map(|(bucket, entries)| {
            let entries = entries
                .iter()
                .map(|(key, value)| (key.as_str(), StoredValue::of(value)))
                .collect();
            (bucket.as_str(), entries)
        })
        .collect();
    Ok(serde_json::to_vec(&stored)?)
}

fn decode(bytes: &[u8]) -> Result<Data> {
    let stored: StoredData = serde_json::from_slice(bytes)?;
    stored
        .into_iter()
        .map(|(bucket, entries)| {
            let entries = entries
                .into_iter()
                .map(|(key, value)| Ok((key, value.into_bytes()?)))
                .collect::<Result<_>>()?;
            Ok((bucket, entries))
        })
        .collect()
}

/// `<path><suffix>` (`kv.json` → `kv.json.bak`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The data at `path`: empty if there is none; if the file is damaged, it is moved aside and the
/// last good copy is used instead.
fn load(path: &Path) -> Result<Data> {
    let backup = with_suffix(path, ".bak");
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A crash can only lose the main file between runs of other tools; use the backup.
            return match std::fs::read(&backup) {
                Ok(bytes) => {
                    decode(&bytes).with_context(|| format!("reading {}", backup.display()))
                }
                Err(_) => Ok(Data::new()),
            };
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    match decode(&bytes) {
        Ok(data) => {
            // The last good copy, for the day the main file is damaged.
            if let Err(e) = write_atomically(&backup, &bytes) {
                eprintln!("apex: could not write {}: {e:#}", backup.display());
            }
            Ok(data)
        }
        Err(problem) => {
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default();
            let quarantine = with_suffix(path, &format!(".corrupt-{stamp}"));
            std::fs::rename(path, &quarantine)
                .with_context(|| format!("moving the damaged {} aside", path.display()))?;
            let recovered = std::fs::read(&backup)
                .ok()
                .and_then(|bytes| decode(&bytes).ok());
            let outcome = match &recovered {
                Some(_) => format!("loaded the last good copy {}", backup.display()),
                None => "no good copy exists: starting with an empty store".to_string(),
            };
            eprintln!(
                "apex: the key-value file {} is damaged ({problem:#}); moved it to {}; {outcome}",
                path.display(),
                quarantine.display()
            );
            Ok(recovered.unwrap_or_default())
        }
    }
}

/// Unique temporary names, so two writers never share one.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Write `bytes` to `path` so that a crash leaves the old or the new file, never a torn one: a
/// unique temporary file (mode 0600), fsync, rename, fsync of the folder.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = with_suffix(
        path,
        &format!(
            ".{}-{}.tmp",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ),
    );
    let result = (|| -> Result<()> {
        let mut file = private_file(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("writing {}", path.display()))
}

/// A new file readable and writable by its owner only.
fn private_file(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// The data folder, created (mode 0700) and locked for this process: a second `apex` on the same
/// folder refuses to start instead of overwriting the first one's state. The lock lasts as long
/// as this value.
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    pub fn acquire(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("setting the mode of {}", dir.display()))?;
        }
        let path = dir.join("lock");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "the data folder {} is in use by another apex process; stop it, or give this one \
                 its own folder with --data-dir (or share state through Redis)",
                dir.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("locking {}", path.display()))
            }
        }
    }
}

#[cfg(test)]
mod tests;
