//! The outbound HTTP hook: every request the guest sends goes through an [`Outbound`]. The local
//! host uses [`PooledClient`] (connection reuse, TLS); tests use [`Scripted`] upstreams.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Sends the guest's outbound requests.
pub trait Outbound: Send + Sync + 'static {
    fn send(
        &self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> BoxFuture<Result<http::Response<WasiBody>, Error>>;
}

/// The `WasiHttpHooks` of a store: forwards to its [`Outbound`].
pub struct Hooks {
    pub outbound: Arc<dyn Outbound>,
}

impl WasiHttpHooks for Hooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        http::Response<WasiBody>,
                        Box<dyn Future<Output = Result<(), Error>> + Send>,
                    ),
                    Error,
                >,
            > + Send,
    > {
        let send = self.outbound.send(request, options);
        Box::new(async move {
            let response = send.await?;
            Ok((
                response,
                Box::new(async { Ok(()) }) as Box<dyn Future<Output = Result<(), Error>> + Send>,
            ))
        })
    }
}

/// Idle connections kept for reuse per provider host. A burst opens one connection per request in
/// flight; past this many, those it leaves idle are closed instead of each holding its buffers
/// (about 30 KiB) for the idle timeout. Steady traffic keeps its connections busy, not idle.
const MAX_IDLE_PER_HOST: usize = 64;

/// Real outbound HTTP(S) with pooled keep-alive connections.
pub struct PooledClient {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, WasiBody>,
}

impl PooledClient {
    pub fn new() -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(MAX_IDLE_PER_HOST)
            .build(connector);
        Self { client }
    }
}

impl Default for PooledClient {
    fn default() -> Self {
        Self::new()
    }
}

/// A response body that fails when no bytes arrive for `idle` (wasmtime's default client does the
/// same; without it a stalled provider would hold a request and its instance forever).
struct IdleTimeoutBody {
    inner: hyper::body::Incoming,
    idle: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl http_body::Body for IdleTimeoutBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                let next = tokio::time::Instant::now() + self.idle;
                self.deadline.as_mut().reset(next);
                Poll::Ready(frame.map(|f| f.map_err(Error::Hyper)))
            }
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Error::ConnectionReadTimeout))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
}

impl Outbound for PooledClient {
    fn send(
        &self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> BoxFuture<Result<http::Response<WasiBody>, Error>> {
        let future = self.client.request(request);
        let first_byte = options
            .and_then(|o| o.first_byte_timeout)
            .unwrap_or(Duration::from_secs(600));
        let idle = options
            .and_then(|o| o.between_bytes_timeout)
            .unwrap_or(Duration::from_secs(600));
        Box::pin(async move {
            let response = match tokio::time::timeout(first_byte, future).await {
                Err(_) => return Err(Error::ConnectionReadTimeout),
                Ok(Err(e)) if e.is_connect() => return Err(Error::ConnectionRefused),
                Ok(Err(e)) => return Err(Error::InternalError(Some(e.to_string()))),
                Ok(Ok(response)) => response,
            };
            Ok(response.map(|inner| {
                let deadline = Box::pin(tokio::time::sleep(idle));
                IdleTimeoutBody {
                    inner,
                    idle,
                    deadline,
                }
                .boxed_unsync()
            }))
        })
    }
}

/// A request as an upstream received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        apex_adapter_kit::http::header(&self.headers, name)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// What a scripted upstream answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A status, headers and a body sent in chunks (each after its delay).
    Http {
        status: u16,
        headers: Vec<(String, String)>,
        chunks: Vec<(Duration, Bytes)>,
        cut: bool,
        /// How long the status line takes (a provider slow to start).
        head_delay: Duration,
    },
    /// The connection is refused.
    Refused,
}

impl Reply {
    pub fn json(status: u16, body: impl Into<Bytes>) -> Self {
        Reply::Http {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            chunks: vec![(Duration::ZERO, body.into())],
            cut: false,
            head_delay: Duration::ZERO,
        }
    }

    /// A server-sent-events body, split into `chunks`.
    pub fn sse<I: IntoIterator<Item = B>, B: Into<Bytes>>(chunks: I) -> Self {
        Reply::Http {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            chunks: chunks
                .into_iter()
                .map(|c| (Duration::ZERO, c.into()))
                .collect(),
            cut: false,
            head_delay: Duration::ZERO,
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let Reply::Http { headers, .. } = &mut self {
            headers.push((name.to_string(), value.to_string()));
        }
        self
    }

    /// The status line comes after `delay`.
    pub fn delayed(mut self, delay: Duration) -> Self {
        if let Reply::Http { head_delay, .. } = &mut self {
            *head_delay = delay;
        }
        self
    }

    /// The chunk at `index` comes `delay` after the one before it.
    pub fn pause_before(mut self, index: usize, delay: Duration) -> Self {
        if let Reply::Http { chunks, .. } = &mut self
            && let Some(chunk) = chunks.get_mut(index)
        {
            chunk.0 = delay;
        }
        self
    }

    /// The body ends with a connection error instead of a clean end.
    pub fn cut(mut self) -> Self {
        if let Reply::Http { cut, .. } = &mut self {
            *cut = true;
        }
        self
    }
}

/// In-process upstreams for tests: replies queued per URL prefix, every request recorded.
#[derive(Default)]
pub struct Scripted {
    replies: Mutex<VecDeque<(String, Reply)>>,
    requests: Mutex<Vec<Recorded>>,
}

impl Scripted {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Answer the next request whose URL starts with `url_prefix` with `reply`.
    pub fn push(&self, url_prefix: &str, reply: Reply) {
        self.replies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back((url_prefix.to_string(), reply));
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn take(&self, url: &str) -> Option<Reply> {
        let mut replies = self.replies.lock().unwrap_or_else(|p| p.into_inner());
        let at = replies
            .iter()
            .position(|(prefix, _)| url.starts_with(prefix.as_str()))?;
        replies.remove(at).map(|(_, reply)| reply)
    }
}

/// A body fed from a channel.
struct ChannelBody(tokio::sync::mpsc::Receiver<Result<Bytes, Error>>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Error>>> {
        self.0
            .poll_recv(cx)
            .map(|item| item.map(|r| r.map(http_body::Frame::data)))
    }
}

impl Outbound for Arc<Scripted> {
    fn send(
        &self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
    ) -> BoxFuture<Result<http::Response<WasiBody>, Error>> {
        let this = Arc::clone(self);
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let body = body.collect().await?.to_bytes().to_vec();
            let url = parts.uri.to_string();
            let headers = parts
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            this.requests
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Recorded {
                    method: parts.method.to_string(),
                    url: url.clone(),
                    headers,
                    body,
                });
            let Some(reply) = this.take(&url) else {
                return Err(Error::ConnectionRefused);
            };
            let (status, headers, chunks, cut) = match reply {
                Reply::Refused => return Err(Error::ConnectionRefused),
                Reply::Http {
                    status,
                    headers,
                    chunks,
                    cut,
                    head_delay,
                } => {
                    if !head_delay.is_zero() {
                        tokio::time::sleep(head_delay).await;
                    }
                    (status, headers, chunks, cut)
                }
            };
            let (tx, rx) = tokio::sync::mpsc::channel(16);
            tokio::spawn(async move {
                for (delay, chunk) in chunks {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    if tx.send(Ok(chunk)).await.is_err() {
                        return;
                    }
                }
                if cut {
                    let _ = tx.send(Err(Error::ConnectionTerminated)).await;
                }
            });
            let mut response = http::Response::builder().status(status);
            for (name, value) in headers {
                response = response.header(name, value);
            }
            response
                .body(ChannelBody(rx).boxed_unsync())
                .map_err(|e| Error::InternalError(Some(e.to_string())))
        })
    }
}
