//! The key-value store behind `wasi:keyvalue/store`. [`KvBackend`] is what the host's
//! `wasi:keyvalue/store` implementation (`state.rs`) calls; it has two implementations:
//!
//! - [`KvStore`] (here): in memory, persisted to a JSON file by a background flusher (and on
//!   [`KvStore::flush`]), so state survives restarts of the local host; any bucket name;
//! - [`crate::redis::RedisKv`]: a Redis database, shared by every process given its URL, in the
//!   layout Spin's Redis key-value provider uses; the bucket `default` only.
//!
//! How the file is kept, so that requests never wait on the disk or on a copy of the store:
//! - requests change the data in memory and note which keys changed (under one short lock);
//! - a background thread (in the idle scheduling class on Linux, so it only takes CPU time requests
//!   leave) appends the changed keys' values every 200 ms to a journal (`kv.json.journal`, one JSON
//!   line per key, fsynced): under the lock it copies only those entries, never the whole store;
//! - once the journal outgrows the snapshot (`kv.json`), it is folded into it from the files alone:
//!   encoded and written to a temporary file with a unique name, fsynced, renamed over `kv.json`
//!   (fsync of the folder), then the journal is removed; replaying a journal twice changes nothing
//!   (it holds values, not deltas), so a crash between the two steps loses nothing;
//! - [`KvStore::flush`] (on exit) appends what is left and folds the journal in;
//! - at start the journal is replayed over the snapshot; a torn last line is ignored;
//! - values are kept as JSON strings when they are UTF-8 (what the router stores), as
//!   `{"hex": "..."}` otherwise; files written by older versions (values as byte arrays) still load;
//! - a `kv.json` that cannot be read is moved aside (`kv.json.corrupt-<unix time>`) with a log
//!   line, and the last good copy (`kv.json.bak`, written after each successful start) is loaded;
//! - files are created `0600`; the caller holds the data folder's lock ([`DataDirLock`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// What the lock guards: the data, and (for a store with a file) the keys changed since the last
/// flush, by bucket.
#[derive(Default)]
struct Guarded {
    data: Data,
    changed: BTreeMap<String, BTreeSet<String>>,
}

impl Guarded {
    /// Store `value` (allocating the names only for a new bucket or key); `noted`: remember the
    /// key as changed for the next flush.
    fn put(&mut self, bucket: &str, key: &str, value: Vec<u8>, noted: bool) {
        match self.data.get_mut(bucket) {
            Some(values) => match values.get_mut(key) {
                Some(slot) => *slot = value,
                None => {
                    values.insert(key.to_string(), value);
                }
            },
            None => {
                self.data.insert(
                    bucket.to_string(),
                    BTreeMap::from([(key.to_string(), value)]),
                );
            }
        }
        if noted {
            self.mark(bucket, key);
        }
    }

    fn mark(&mut self, bucket: &str, key: &str) {
        match self.changed.get_mut(bucket) {
            Some(keys) => {
                if !keys.contains(key) {
                    keys.insert(key.to_string());
                }
            }
            None => {
                self.changed
                    .insert(bucket.to_string(), BTreeSet::from([key.to_string()]));
            }
        }
    }
}

/// The file side: how much the journal holds, and how big the last snapshot was.
struct Files {
    journal_bytes: u64,
    snapshot_bytes: u64,
}

/// A journal this much larger than the snapshot (and at least [`MIN_COMPACT_BYTES`]) is folded
/// into the snapshot.
const COMPACT_RATIO: u64 = 2;
const MIN_COMPACT_BYTES: u64 = 4 << 20;
/// How often the background flusher appends what changed.
const FLUSH_EVERY: Duration = Duration::from_millis(200);

pub struct KvStore {
    path: Option<PathBuf>,
    guarded: Mutex<Guarded>,
    /// Serialises writers of the files (the flusher thread and explicit flushes).
    files: Mutex<Files>,
    /// Entries copied under the lock by flushes so far (what a flush costs requests).
    copied: AtomicU64,
}

impl KvStore {
    /// A store that lives only in memory.
    pub fn in_memory() -> Arc<Self> {
        Arc::new(Self {
            path: None,
            guarded: Mutex::default(),
            files: Mutex::new(Files {
                journal_bytes: 0,
                snapshot_bytes: 0,
            }),
            copied: AtomicU64::new(0),
        })
    }

    /// A store persisted at `path` (loaded, with its journal replayed, if it exists); what
    /// changes is appended to the journal every 200 ms by a background thread.
    pub fn open(path: PathBuf) -> Result<Arc<Self>> {
        let mut data = load(&path)?;
        let journal = journal_path(&path);
        let replayed = match std::fs::read(&journal) {
            Ok(bytes) => replay(&mut data, &bytes, &journal),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e).with_context(|| format!("reading {}", journal.display())),
        };
        let mut snapshot_bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if replayed > 0 {
            // Start from one file: the snapshot with the journal folded in.
            let bytes = encode(&data)?;
            write_atomically(&path, &bytes)?;
            snapshot_bytes = bytes.len() as u64;
            truncate(&journal)?;
        }
        let store = Arc::new(Self {
            path: Some(path),
            guarded: Mutex::new(Guarded {
                data,
                changed: BTreeMap::new(),
            }),
            files: Mutex::new(Files {
                journal_bytes: 0,
                snapshot_bytes,
            }),
            copied: AtomicU64::new(0),
        });
        let weak: Weak<Self> = Arc::downgrade(&store);
        std::thread::Builder::new()
            .name("apex-kv-flush".into())
            .spawn(move || {
                // The flusher runs when requests leave the CPU idle (on one core, a flush must
                // never delay a request).
                run_when_idle();
                while let Some(store) = weak.upgrade() {
                    if let Err(e) = store.append_changes() {
                        eprintln!("apex: key-value flush failed: {e:#}");
                    }
                    drop(store);
                    std::thread::sleep(FLUSH_EVERY);
                }
            })?;
        Ok(store)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Guarded> {
        self.guarded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn persisted(&self) -> bool {
        self.path.is_some()
    }

    pub fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.lock()
            .data
            .get(bucket)
            .and_then(|b| b.get(key))
            .cloned()
    }

    pub fn set(&self, bucket: &str, key: &str, value: Vec<u8>) {
        let persisted = self.persisted();
        self.lock().put(bucket, key, value, persisted);
    }

    pub fn delete(&self, bucket: &str, key: &str) {
        let mut guarded = self.lock();
        let removed = guarded
            .data
            .get_mut(bucket)
            .and_then(|b| b.remove(key))
            .is_some();
        if removed && self.persisted() {
            guarded.mark(bucket, key);
        }
    }

    pub fn exists(&self, bucket: &str, key: &str) -> bool {
        self.lock()
            .data
            .get(bucket)
            .is_some_and(|b| b.contains_key(key))
    }

    /// Add `delta` to a decimal counter under the lock (atomic within this process).
    pub fn increment(&self, bucket: &str, key: &str, delta: i64) -> Result<i64, KvError> {
        let mut guarded = self.lock();
        let current = match guarded.data.get(bucket).and_then(|b| b.get(key)) {
            Some(bytes) => std::str::from_utf8(bytes)
                .ok()
                .and_then(|text| text.trim().parse::<i64>().ok())
                .ok_or_else(|| KvError::Other(format!("`{key}` holds no counter")))?,
            None => 0,
        };
        let next = current.saturating_add(delta);
        let persisted = self.persisted();
        guarded.put(bucket, key, next.to_string().into_bytes(), persisted);
        Ok(next)
    }

    pub fn keys(&self, bucket: &str) -> Vec<String> {
        self.lock()
            .data
            .get(bucket)
            .map(|b| b.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Entries flushes have copied under the lock so far: a flush copies what changed since the
    /// one before, never the whole store.
    pub fn copied_by_flushes(&self) -> u64 {
        self.copied.load(Ordering::Relaxed)
    }

    /// Append what changed since the last flush to the journal (and fold the journal into the
    /// snapshot once it has grown past the snapshot's size). Under the data lock this only copies
    /// the changed entries; encoding and the disk happen outside it.
    fn append_changes(&self) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        let changes = self.take_changes();
        if changes.is_empty() {
            return Ok(());
        }
        let journal = journal_path(path);
        let mut bytes = Vec::new();
        for (bucket, key, value) in &changes {
            let entry = JournalEntry {
                b: bucket,
                k: key,
                v: value.as_deref().map(StoredValue::of),
            };
            serde_json::to_writer(&mut bytes, &entry)?;
            bytes.push(b'\n');
        }
        if let Err(e) = append(&journal, &bytes) {
            // Keep them for the next flush.
            let mut guarded = self.lock();
            for (bucket, key, _) in &changes {
                guarded.mark(bucket, key);
            }
            return Err(e);
        }
        files.journal_bytes += bytes.len() as u64;
        if files.journal_bytes > MIN_COMPACT_BYTES.max(files.snapshot_bytes * COMPACT_RATIO) {
            compact(path, &mut files)?;
        }
        Ok(())
    }

    /// The changed entries' current values (`None`: deleted), and the changed set emptied.
    fn take_changes(&self) -> Vec<(String, String, Option<Vec<u8>>)> {
        let mut guarded = self.lock();
        let changed = std::mem::take(&mut guarded.changed);
        let mut changes = Vec::new();
        for (bucket, keys) in changed {
            let values = guarded.data.get(&bucket);
            for key in keys {
                let value = values.and_then(|v| v.get(&key)).cloned();
                changes.push((bucket.clone(), key, value));
            }
        }
        drop(guarded);
        self.copied
            .fetch_add(changes.len() as u64, Ordering::Relaxed);
        changes
    }

    /// Write every change to disk and fold the journal into the snapshot (returns once it is on
    /// disk): what the host does before it exits.
    pub fn flush(&self) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        self.append_changes()?;
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        if files.journal_bytes > 0 {
            compact(path, &mut files)?;
        }
        Ok(())
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

/// One line of the journal: a key's value after a change (`v` missing: deleted).
#[derive(Serialize, Deserialize)]
struct JournalEntry<S> {
    b: S,
    k: S,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    v: Option<StoredValue>,
}

/// Where the changes since the snapshot `path` are appended (`kv.json` → `kv.json.journal`).
fn journal_path(path: &Path) -> PathBuf {
    with_suffix(path, ".journal")
}

/// Apply a journal's entries to `data`; how many there were. A line that does not parse ends
/// the replay (a crash can tear the last append; the entries before it stand).
fn replay(data: &mut Data, bytes: &[u8], journal: &Path) -> usize {
    let mut applied = 0;
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let entry = serde_json::from_slice::<JournalEntry<String>>(line)
            .map_err(anyhow::Error::from)
            .and_then(|entry| {
                let value = entry.v.map(StoredValue::into_bytes).transpose()?;
                Ok((entry.b, entry.k, value))
            });
        match entry {
            Ok((bucket, key, Some(value))) => {
                data.entry(bucket).or_default().insert(key, value);
            }
            Ok((bucket, key, None)) => {
                if let Some(values) = data.get_mut(&bucket) {
                    values.remove(&key);
                }
            }
            Err(problem) => {
                eprintln!(
                    "apex: {} ends in an unreadable entry ({problem:#}); the entries before it \
                     are kept",
                    journal.display()
                );
                break;
            }
        }
        applied += 1;
    }
    applied
}

/// Append `bytes` to the journal (created `0600`) and make them durable.
fn append(journal: &Path, bytes: &[u8]) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(journal)
        .with_context(|| format!("opening {}", journal.display()))?;
    file.write_all(bytes)?;
    file.sync_data()?;
    Ok(())
}

/// Remove the journal once the snapshot holds it (replaying it again would change nothing: its
/// entries are values, not deltas).
fn truncate(journal: &Path) -> Result<()> {
    match std::fs::remove_file(journal) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", journal.display())),
    }
}

/// Fold the journal into the snapshot, from the files alone (the live data and its lock are not
/// touched).
fn compact(path: &Path, files: &mut Files) -> Result<()> {
    let mut data = match std::fs::read(path) {
        Ok(bytes) => decode(&bytes).with_context(|| format!("reading {}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Data::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let journal = journal_path(path);
    match std::fs::read(&journal) {
        Ok(bytes) => {
            replay(&mut data, &bytes, &journal);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", journal.display())),
    }
    let bytes = encode(&data)?;
    write_atomically(path, &bytes)?;
    truncate(&journal)?;
    files.journal_bytes = 0;
    files.snapshot_bytes = bytes.len() as u64;
    Ok(())
}

/// Lower the calling thread to the idle scheduling class: it runs only on CPU time nothing else
/// wants (Linux; elsewhere nothing changes).
fn run_when_idle() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: `sched_setscheduler` with pid 0 changes the calling thread's policy only; the
        // parameter is a valid, initialised struct that outlives the call.
        let _ = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
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
