//! Serves the app over HTTP/1.1 on a local listener, with the limits that keep one client from
//! starving the others (see [`Limits`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::time::Sleep;

use crate::App;

/// How long a client may hold the gateway's resources without making progress.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// From the connection's start (or the end of the previous request) to the end of the next
    /// request's headers: a client that trickles or never finishes its headers is dropped.
    pub header_timeout: Duration,
    /// Longest wait for the next piece of a request body while the app reads it.
    pub body_idle_timeout: Duration,
    /// Longest a write to the client may stay blocked: a client that stops reading a stream is
    /// dropped, which ends the request and frees its instance.
    pub write_timeout: Duration,
    /// Open connections at most; more wait in the listen backlog until one closes. While all are
    /// taken, answers say `Connection: close`, so connections clients keep alive make room.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_idle_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

/// Raise this process's open-files limit to the most it may (children inherit it): each client
/// connection and each upstream connection takes a descriptor, and the usual soft limit of 1024
/// is below what `Limits::max_connections` plus the provider connections need.
pub fn raise_open_files_limit() {
    #[cfg(target_os = "linux")]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `getrlimit`/`setrlimit` read and write the struct passed, which lives on the
        // stack for the whole call.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0
                && limit.rlim_cur < limit.rlim_max
            {
                limit.rlim_cur = limit.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            }
        }
    }
}

/// Accept connections; each connection is served on its own task. A failed accept (out of file
/// descriptors, say) is logged and retried shortly: the connections already open keep being served.
pub async fn serve(app: Arc<App>, listener: TcpListener) -> anyhow::Result<()> {
    serve_with(app, listener, Limits::default()).await
}

/// [`serve`] with explicit limits.
pub async fn serve_with(
    app: Arc<App>,
    listener: TcpListener,
    limits: Limits,
) -> anyhow::Result<()> {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    // Set while every slot is taken: answers then say `Connection: close`, so clients holding
    // connections open make room for those waiting in the backlog (instead of until an idle one
    // times out), and never reuse a connection the gateway is about to close.
    let full = Arc::new(AtomicBool::new(false));
    loop {
        let slot = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                full.store(true, Ordering::Relaxed);
                Arc::clone(&slots).acquire_owned().await?
            }
        };
        // A slot for the next connection: not full.
        full.store(false, Ordering::Relaxed);
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                eprintln!("apex: accepting a connection failed ({e}); retrying");
                drop(slot);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = Arc::clone(&app);
        let full = Arc::clone(&full);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: hyper::Request<_>| {
                let app = Arc::clone(&app);
                let full = Arc::clone(&full);
                async move {
                    let request =
                        request.map(|body| IdleTimeoutBody::new(body, limits.body_idle_timeout));
                    match app.handle(request).await {
                        Ok(mut response) => {
                            if full.load(Ordering::Relaxed) {
                                response.headers_mut().insert(
                                    hyper::header::CONNECTION,
                                    hyper::header::HeaderValue::from_static("close"),
                                );
                            }
                            Ok::<_, std::convert::Infallible>(response)
                        }
                        Err(e) if e.downcast_ref::<crate::app::Busy>().is_some() => {
                            eprintln!("apex: {e:#}");
                            Ok(error_response(hyper::StatusCode::SERVICE_UNAVAILABLE, BUSY))
                        }
                        Err(e) => {
                            eprintln!("apex: request failed: {e:#}");
                            Ok(error_response(
                                hyper::StatusCode::INTERNAL_SERVER_ERROR,
                                INTERNAL,
                            ))
                        }
                    }
                }
            });
            let io = TokioIo::new(WriteDeadline::new(stream, limits.write_timeout));
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .keep_alive(true)
                .serve_connection(io, service)
                .await;
            drop(slot);
            crate::freed_memory::note_release();
        });
    }
}

/// A request body whose next frame must arrive within `timeout` of being asked for; after that
/// it fails with `ConnectionReadTimeout` (the app answers the client's mistake and moves on).
pub struct IdleTimeoutBody<B> {
    inner: B,
    timeout: Duration,
    timer: Option<Pin<Box<Sleep>>>,
}

impl<B> IdleTimeoutBody<B> {
    pub fn new(inner: B, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            timer: None,
        }
    }
}

impl<B> Body for IdleTimeoutBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<wasmtime_wasi_http::Error>,
{
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            this.timer = None;
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let timeout = this.timeout;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        ready!(timer.as_mut().poll(cx));
        this.timer = None;
        Poll::Ready(Some(Err(wasmtime_wasi_http::Error::ConnectionReadTimeout)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A connection whose writes fail with `TimedOut` once one has been blocked for `timeout`.
pub struct WriteDeadline<S> {
    inner: S,
    timeout: Duration,
    blocked: Option<Pin<Box<Sleep>>>,
}

impl<S> WriteDeadline<S> {
    pub fn new(inner: S, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            blocked: None,
        }
    }

    /// `poll` on the inner stream, with the deadline running while it is pending.
    fn guard<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: impl FnOnce(Pin<&mut S>, &mut Context<'_>) -> Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>>
    where
        S: Unpin,
    {
        if let Poll::Ready(result) = poll(Pin::new(&mut self.inner), cx) {
            self.blocked = None;
            return Poll::Ready(result);
        }
        let timeout = self.timeout;
        let blocked = self
            .blocked
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        ready!(blocked.as_mut().poll(cx));
        Poll::Ready(Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the client stopped reading",
        )))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteDeadline<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.guard(cx, |inner, cx| inner.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.guard(cx, |inner, cx| inner.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.guard(cx, |inner, cx| inner.poll_flush(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

const INTERNAL: &[u8] =
    br#"{"error":{"message":"Internal gateway error.","type":"api_error","param":null,"code":null}}"#;
const BUSY: &[u8] = br#"{"error":{"message":"The gateway is at capacity; retry shortly.","type":"api_error","param":null,"code":"gateway_busy"}}"#;

fn error_response(
    status: hyper::StatusCode,
    body: &'static [u8],
) -> hyper::Response<wasmtime_wasi_http::p2::body::HyperOutgoingBody> {
    use http_body_util::{BodyExt, Full};
    let body = Full::new(bytes::Bytes::from_static(body))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = hyper::Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    if status == hyper::StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert("retry-after", hyper::header::HeaderValue::from_static("1"));
    }
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use http_body_util::BodyExt;
    use tokio::io::AsyncWriteExt;

    /// A request body fed from a channel, like a client sending at its own pace.
    struct Fed(tokio::sync::mpsc::Receiver<Bytes>);

    impl Body for Fed {
        type Data = Bytes;
        type Error = hyper::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
            self.0
                .poll_recv(cx)
                .map(|data| data.map(|d| Ok(Frame::data(d))))
        }
    }

    fn fed() -> (tokio::sync::mpsc::Sender<Bytes>, Fed) {
        let (sender, receiver) = tokio::sync::mpsc::channel(1);
        (sender, Fed(receiver))
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stops_arriving_times_out() {
        let (sender, body) = fed();
        let mut body = IdleTimeoutBody::new(body, Duration::from_secs(5));
        sender.send(Bytes::from_static(b"part")).await.unwrap();
        let first = body.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), "part");
        // Nothing more arrives: the wait ends with a read timeout, not never.
        let next = tokio::time::timeout(Duration::from_secs(60), body.frame())
            .await
            .expect("the body read must not wait forever");
        assert!(matches!(
            next,
            Some(Err(wasmtime_wasi_http::Error::ConnectionReadTimeout))
        ));
        drop(sender);
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_keeps_arriving_does_not() {
        let (sender, body) = fed();
        let mut body = IdleTimeoutBody::new(body, Duration::from_secs(5));
        let feeder = tokio::spawn(async move {
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_secs(3)).await;
                sender.send(Bytes::from_static(b"x")).await.unwrap();
            }
        });
        let mut received = 0;
        while let Some(frame) = body.frame().await {
            received += frame.unwrap().into_data().unwrap().len();
        }
        assert_eq!(received, 10, "30 s in all, never 5 s without data");
        feeder.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_reader_that_stops_reading_fails_the_write() {
        let (client, server) = tokio::io::duplex(1024);
        let mut server = WriteDeadline::new(server, Duration::from_secs(5));
        let chunk = [b'x'; 256];
        let outcome = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                server.write_all(&chunk).await?;
            }
            #[allow(unreachable_code)]
            Ok::<(), std::io::Error>(())
        })
        .await
        .expect("a blocked write must not wait forever");
        let error = outcome.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
        drop(client);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_but_reading_client_keeps_its_stream() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut server = WriteDeadline::new(server, Duration::from_secs(5));
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 64];
            let mut total = 0;
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                let n = tokio::io::AsyncReadExt::read(&mut client, &mut buf)
                    .await
                    .unwrap();
                if n == 0 {
                    return total;
                }
                total += n;
            }
        });
        for _ in 0..8 {
            server.write_all(&[b'y'; 64]).await.unwrap();
        }
        server.shutdown().await.unwrap();
        drop(server);
        assert_eq!(reader.await.unwrap(), 512);
    }
}
