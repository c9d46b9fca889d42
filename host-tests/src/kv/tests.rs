#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use super::*;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("apex-kv-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn counters_add_up_across_threads_and_refuse_other_values() {
    let store = KvStore::in_memory();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for _ in 0..100 {
                    store.increment("default", "n", 1).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(store.increment("default", "n", -1).unwrap(), 799);
    assert_eq!(store.get("default", "n").unwrap(), b"799");
    store.set("default", "text", b"hello".to_vec());
    assert!(store.increment("default", "text", 1).is_err());
}

#[test]
fn data_survives_a_restart() {
    let dir = temp_dir("restart");
    let path = dir.join("kv.json");
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

#[test]
fn values_are_stored_compactly_and_old_files_still_load() {
    let dir = temp_dir("encoding");
    let path = dir.join("kv.json");
    let text = "hello ".repeat(500);
    let value = format!(r#"{{"id":"resp_1","output":[{{"text":"{text}"}}]}}"#).into_bytes();
    {
        let store = KvStore::open(path.clone()).unwrap();
        store.set("default", "apex:response:resp_1", value.clone());
        store.set("default", "bin", vec![0xff, 0x00, 0x10]);
        store.flush().unwrap();
    }
    let on_disk = std::fs::read(&path).unwrap();
    // The JSON text once, escaped: not a number per byte.
    assert!(
        on_disk.len() < value.len() + 200,
        "{} bytes on disk for {}",
        on_disk.len(),
        value.len()
    );
    let parsed: serde_json::Value = serde_json::from_slice(&on_disk).unwrap();
    assert_eq!(
        parsed["default"]["bin"],
        serde_json::json!({"hex": "ff0010"})
    );
    assert_eq!(
        KvStore::open(path.clone()).unwrap().get("default", "bin"),
        Some(vec![0xff, 0x00, 0x10])
    );
    // A file from before: values as arrays of bytes.
    std::fs::write(&path, br#"{"default":{"k":[104,105]}}"#).unwrap();
    let store = KvStore::open(path.clone()).unwrap();
    assert_eq!(store.get("default", "k"), Some(b"hi".to_vec()));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_damaged_file_is_moved_aside_and_the_last_good_copy_loaded() {
    let dir = temp_dir("damaged");
    let path = dir.join("kv.json");
    {
        let store = KvStore::open(path.clone()).unwrap();
        store.set("default", "kept", b"yes".to_vec());
        store.flush().unwrap();
    }
    // A start that reads it keeps the good copy.
    drop(KvStore::open(path.clone()).unwrap());
    for damage in [&b""[..], &b"{\"default\":{\"kept\":\"ye"[..]] {
        std::fs::write(&path, damage).unwrap();
        let store = KvStore::open(path.clone()).unwrap();
        assert_eq!(store.get("default", "kept"), Some(b"yes".to_vec()));
        let quarantined = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
            .count();
        assert!(quarantined >= 1, "the damaged file is kept for inspection");
        drop(store);
    }
    // Damaged with no good copy: an empty store, not a failed start.
    std::fs::remove_file(with_suffix(&path, ".bak")).unwrap();
    std::fs::write(&path, b"[1,2").unwrap();
    let store = KvStore::open(path.clone()).unwrap();
    assert_eq!(store.get("default", "kept"), None);
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[test]
fn files_are_private_and_temporary_names_unique() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("private").join("data");
    let _lock = DataDirLock::acquire(&dir).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    let path = dir.join("kv.json");
    // Two stores writing one file (what two processes did) never share a temporary file.
    let a = KvStore::open(path.clone()).unwrap();
    let b = KvStore::open(path.clone()).unwrap();
    let writers: Vec<_> = [a, b]
        .into_iter()
        .enumerate()
        .map(|(n, store)| {
            std::thread::spawn(move || {
                for i in 0..50 {
                    store.set("default", &format!("{n}-{i}"), vec![b'x'; 2000]);
                    store.flush().unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    assert_eq!(mode(&path), 0o600);
    let stray = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .count();
    assert_eq!(stray, 0, "no temporary file is left behind");
    assert!(decode(&std::fs::read(&path).unwrap()).is_ok(), "never torn");
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}

#[test]
fn a_second_process_cannot_take_the_data_folder() {
    let dir = temp_dir("lock");
    let first = DataDirLock::acquire(&dir).unwrap();
    let second = DataDirLock::acquire(&dir).err().map(|e| format!("{e:#}"));
    assert!(
        second
            .as_deref()
            .is_some_and(|m| m.contains("in use by another apex")),
        "{second:?}"
    );
    drop(first);
    assert!(
        DataDirLock::acquire(&dir).is_ok(),
        "free again once released"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_flush_copies_what_changed_not_the_whole_store() {
    let dir = temp_dir("incremental");
    let path = dir.join("kv.json");
    {
        let store = KvStore::open(path.clone()).unwrap();
        for i in 0..10_000 {
            store.set("default", &format!("key{i}"), b"value".to_vec());
        }
        store.flush().unwrap();
        let before = store.copied_by_flushes();
        assert!(before <= 10_000, "{before}");
        store.set("default", "key1", b"changed".to_vec());
        store.delete("default", "key2");
        store.increment("default", "n", 5).unwrap();
        store.delete("default", "never-there");
        store.append_changes().unwrap();
        assert_eq!(store.copied_by_flushes() - before, 3, "three keys changed");
        // The change went to the journal; the snapshot is as the full flush left it.
        let journal = std::fs::read_to_string(journal_path(&path)).unwrap();
        assert_eq!(journal.lines().count(), 3, "{journal}");
        assert!(
            journal.contains(r#"{"b":"default","k":"key2"}"#),
            "{journal}"
        );
        let snapshot = std::fs::read_to_string(&path).unwrap();
        assert!(snapshot.contains(r#""key2":"value""#));
        // The background flusher does not lock the store down in between: dropped here, the
        // store's last flush folds the journal in.
    }
    // Whoever drops the store last folds the journal in: this test, or the background flusher
    // when it held the store at that instant (then a moment later, on its thread).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while journal_path(&path).exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(!journal_path(&path).exists(), "folded into kv.json on exit");
    let store = KvStore::open(path.clone()).unwrap();
    assert_eq!(store.get("default", "key1"), Some(b"changed".to_vec()));
    assert_eq!(store.get("default", "key2"), None);
    assert_eq!(store.get("default", "key3"), Some(b"value".to_vec()));
    assert_eq!(store.get("default", "n"), Some(b"5".to_vec()));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_journal_is_replayed_at_start_and_its_torn_end_ignored() {
    let dir = temp_dir("journal");
    let path = dir.join("kv.json");
    std::fs::write(&path, r#"{"default":{"a":"1","b":"2"}}"#).unwrap();
    std::fs::write(
        journal_path(&path),
        "{\"b\":\"default\",\"k\":\"a\",\"v\":\"10\"}\n{\"b\":\"default\",\"k\":\"b\"}\n\
         {\"b\":\"x\",\"k\":\"bin\",\"v\":{\"hex\":\"00ff\"}}\n{\"b\":\"default\",\"k\":\"c\",\"v\":\"tor",
    )
    .unwrap();
    let store = KvStore::open(path.clone()).unwrap();
    assert_eq!(store.get("default", "a"), Some(b"10".to_vec()));
    assert_eq!(store.get("default", "b"), None, "deleted by the journal");
    assert_eq!(store.get("x", "bin"), Some(vec![0, 255]));
    assert_eq!(
        store.get("default", "c"),
        None,
        "the torn entry is not applied"
    );
    // Folded into the snapshot at once; the journal is gone.
    assert!(!journal_path(&path).exists());
    let snapshot = std::fs::read_to_string(&path).unwrap();
    assert!(snapshot.contains(r#""a":"10""#), "{snapshot}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The regression check for the stall found in the benchmark: requests' key-value operations
/// never wait on a flush, even one stuck on the disk. The journal is made a FIFO nobody reads, so
/// the flush blocks opening it until the test reads it.
#[cfg(unix)]
#[test]
fn requests_never_wait_on_a_flush() {
    use std::sync::mpsc;
    let dir = temp_dir("stuck-flush");
    let path = dir.join("kv.json");
    let store = KvStore::open(path.clone()).unwrap();
    for i in 0..1000 {
        store.set("default", &format!("old{i}"), b"x".to_vec());
    }
    store.flush().unwrap();
    let journal = journal_path(&path);
    let made = std::process::Command::new("mkfifo")
        .arg(&journal)
        .status()
        .unwrap();
    assert!(made.success());
    store.set("default", "first", b"1".to_vec());
    let copied = store.copied_by_flushes();
    let flusher = {
        let store = Arc::clone(&store);
        std::thread::spawn(move || store.append_changes())
    };
    // Wait until a flush has taken the change and is blocked on the journal.
    let waited = std::time::Instant::now();
    while store.copied_by_flushes() == copied {
        assert!(waited.elapsed() < Duration::from_secs(10), "no flush began");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Meanwhile, every operation a request makes completes.
    let (done, finished) = mpsc::channel();
    {
        let store = Arc::clone(&store);
        std::thread::spawn(move || {
            for i in 0..100 {
                store.set("default", &format!("during{i}"), b"y".to_vec());
                assert_eq!(store.get("default", "old7"), Some(b"x".to_vec()));
                store.increment("default", "count", 1).unwrap();
                store.delete("default", "old8");
                assert!(store.exists("default", "during0"));
            }
            assert!(store.keys("default").len() > 1000);
            done.send(()).unwrap();
        });
    }
    finished
        .recv_timeout(Duration::from_secs(10))
        .expect("a request waited on the flush");
    // The flush was stuck all along: reading the FIFO lets it write the change it took.
    let mut reader = std::fs::File::open(&journal).unwrap();
    let mut written = String::new();
    std::io::Read::read_to_string(&mut reader, &mut written).unwrap();
    assert!(written.contains(r#""k":"first""#), "{written}");
    let _ = flusher.join().unwrap();
    let _ = std::fs::remove_file(&journal);
}
