#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! The pooled outbound client against a provider on loopback that stalls mid-body: the body must
//! fail after the idle timeout instead of holding the request (and its instance) forever.

use std::time::{Duration, Instant};

use apex_host::outbound::{Outbound, PooledClient};
use http_body_util::{BodyExt, Empty};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wasmtime_wasi_http::{Error, RequestOptions};

#[tokio::test]
async fn a_stalled_body_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buffer = [0u8; 4096];
        let _ = socket.read(&mut buffer).await;
        // Headers and the first bytes of a chunked body, then nothing more.
        socket
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n5\r\ndata:\r\n")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
    });

    let request = http::Request::post(format!("http://{address}/v1/chat/completions"))
        .body(Empty::new().map_err(|never| match never {}).boxed_unsync())
        .unwrap();
    let options = RequestOptions {
        connect_timeout: None,
        first_byte_timeout: Some(Duration::from_secs(5)),
        between_bytes_timeout: Some(Duration::from_millis(300)),
    };
    let response = PooledClient::new()
        .send(request, Some(options))
        .await
        .unwrap();
    let mut body = response.into_body();
    let started = Instant::now();
    let first = body.frame().await.unwrap().unwrap();
    assert_eq!(first.into_data().unwrap().as_ref(), b"data:");
    let stalled = body
        .frame()
        .await
        .expect("an error, not the end of the body");
    assert!(
        matches!(stalled, Err(Error::ConnectionReadTimeout)),
        "{stalled:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "timed out after the idle time, not later"
    );
}
