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
