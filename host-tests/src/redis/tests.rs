#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use super::*;

#[test]
fn urls() {
    let url = RedisUrl::parse("redis://127.0.0.1:6390/2").unwrap();
    assert_eq!(url.address, "127.0.0.1:6390");
    assert_eq!(url.db, 2);
    assert_eq!(url.password, None);
    let url = RedisUrl::parse("redis://redis.internal").unwrap();
    assert_eq!((url.address.as_str(), url.db), ("redis.internal:6379", 0));
    let url = RedisUrl::parse("redis://:p%40ss@[::1]:7000/").unwrap();
    assert_eq!(url.address, "[::1]:7000");
    assert_eq!(url.password.as_deref(), Some("p@ss"));
    assert_eq!(url.username, None);
    let url = RedisUrl::parse("redis://apex:secret@h:1/3").unwrap();
    assert_eq!(url.username.as_deref(), Some("apex"));
    assert_eq!(url.password.as_deref(), Some("secret"));
    assert!(!url.display().contains("secret"));
    let url = RedisUrl::parse("redis://secret@h").unwrap();
    assert_eq!(
        (url.username, url.password.as_deref()),
        (None, Some("secret"))
    );
    assert_eq!(
        RedisUrl::parse("redis://[::1]").unwrap().address,
        "[::1]:6379"
    );
    for bad in ["http://h", "redis://", "redis://h/x", "rediss://u:pw@h"] {
        let error = format!("{:#}", RedisUrl::parse(bad).unwrap_err());
        assert!(!error.contains("pw"), "{error}");
    }
}

#[test]
fn commands_are_resp_arrays() {
    assert_eq!(
        encode(&command(&[b"SET", b"k", b"a\r\nb"])),
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n"
    );
}

/// A server that answers PING, then reads commands and never answers them.
async fn stalling_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        for _ in 0..4 {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let mut answered = false;
                for _ in 0..1000 {
                    match tokio::time::timeout(Duration::from_secs(30), socket.read(&mut buf)).await
                    {
                        Ok(Ok(n)) if n > 0 => {
                            if !answered && buf[..n].windows(4).any(|w| w == b"PING") {
                                answered = true;
                                let _ = socket.write_all(b"+PONG\r\n").await;
                            }
                        }
                        _ => return,
                    }
                }
            });
        }
    });
    address
}

#[tokio::test]
async fn a_stalled_server_fails_the_call_once_without_a_retry() {
    let address = stalling_server().await;
    let store = RedisKv::connect(&format!("redis://{address}/0"))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let result = store.get(STORE, "k").await;
    assert_eq!(
        result,
        Err(KvError::Other("key-value store unavailable".into()))
    );
    let took = started.elapsed();
    assert!(
        took >= COMMAND_TIMEOUT && took < COMMAND_TIMEOUT * 2,
        "{took:?}: one timeout, not a retry"
    );
}

#[tokio::test]
async fn replies_are_parsed() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        socket
            .write_all(b"+OK\r\n-ERR no\r\n:42\r\n$-1\r\n$5\r\nab\r\nc\r\n*2\r\n$1\r\n7\r\n*1\r\n$1\r\nk\r\n")
            .await
            .unwrap();
    });
    let stream = TcpStream::connect(address).await.unwrap();
    let mut stream = BufReader::new(stream);
    let mut replies = Vec::new();
    for _ in 0..6 {
        replies.push(read_reply(&mut stream, 0).await.unwrap());
    }
    assert_eq!(
        replies,
        vec![
            Reply::Status("OK".into()),
            Reply::Error("ERR no".into()),
            Reply::Integer(42),
            Reply::Bulk(None),
            Reply::Bulk(Some(b"ab\r\nc".to_vec())),
            Reply::Array(Some(vec![
                Reply::Bulk(Some(b"7".to_vec())),
                Reply::Array(Some(vec![Reply::Bulk(Some(b"k".to_vec()))])),
            ])),
        ]
    );
    assert!(read_reply(&mut stream, 0).await.is_err(), "closed");
    server.await.unwrap();
}
